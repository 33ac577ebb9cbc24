-- Text messages per radio (keyed by the radio's own node number), in and out.
CREATE TABLE message (
    id         INTEGER PRIMARY KEY,
    radio      INTEGER NOT NULL,            -- my node number
    packet_id  INTEGER NOT NULL,
    outgoing   INTEGER NOT NULL CHECK (outgoing IN (0, 1)),
    from_node  INTEGER NOT NULL,
    to_node    INTEGER NOT NULL,
    channel    INTEGER NOT NULL,
    -- 'ch:N' for a channel, '!xxxxxxxx' for a direct conversation with that node
    convo      TEXT    NOT NULL,
    text       TEXT    NOT NULL,
    at_ms      INTEGER NOT NULL,            -- Unix milliseconds
    state      TEXT    NOT NULL,            -- received | queued | sent | acked | failed | timeout
    error      TEXT
);
CREATE INDEX message_radio_convo ON message (radio, convo, id);
CREATE INDEX message_radio_time ON message (radio, at_ms);
CREATE INDEX message_radio_packet ON message (radio, packet_id);
