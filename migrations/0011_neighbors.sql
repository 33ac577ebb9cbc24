-- Who hears whom: the latest NeighborInfo report of each node, per radio (keyed by the
-- radio's key, as the other history tables are). `neighbors` is a JSON array of
-- [node number, SNR in dB or null], at most 16 of them.
CREATE TABLE neighbor_report (
    radio      INTEGER NOT NULL,
    node       INTEGER NOT NULL,
    at_ms      INTEGER NOT NULL,
    interval_s INTEGER NOT NULL,
    neighbors  TEXT    NOT NULL,
    PRIMARY KEY (radio, node)
) WITHOUT ROWID;
CREATE INDEX neighbor_report_radio_at ON neighbor_report (radio, at_ms);

-- The map reads every node's positions of the last day: by radio and time.
CREATE INDEX node_position_radio_at ON node_position (radio, at_ms);
