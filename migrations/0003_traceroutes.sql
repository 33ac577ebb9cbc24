-- Finished traceroutes per radio (keyed by the radio's own node number), and RF sweeps.
CREATE TABLE sweep (
    id         INTEGER PRIMARY KEY,
    radio      INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    ended_ms   INTEGER,
    total      INTEGER NOT NULL,
    stopped    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sweep_radio ON sweep (radio, id);

CREATE TABLE traceroute (
    id          INTEGER PRIMARY KEY,
    radio       INTEGER NOT NULL,
    dest        INTEGER NOT NULL,
    sweep_id    INTEGER REFERENCES sweep (id) ON DELETE CASCADE,
    status      TEXT    NOT NULL,          -- complete | timeout | cancelled | error
    hop_limit   INTEGER NOT NULL,
    route       TEXT    NOT NULL,          -- JSON array of node numbers
    route_back  TEXT    NOT NULL,
    snr_towards TEXT    NOT NULL,          -- JSON array of dB or null
    snr_back    TEXT    NOT NULL,
    error       TEXT,
    sent_ms     INTEGER,
    done_ms     INTEGER NOT NULL
);
CREATE INDEX traceroute_radio_dest ON traceroute (radio, dest, id);
CREATE INDEX traceroute_sweep ON traceroute (sweep_id);
