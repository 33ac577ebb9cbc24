-- Who a radio is. Stored data (messages, traceroutes, sweeps, automation) is keyed by a
-- radio key: the node number of the first radio that reported it, or 2^32 + n for a radio
-- at another address claiming a known node number (kept apart until an admin says they are
-- the same radio). One row per node number and address a radio was seen at.
CREATE TABLE radio_identity (
    id         INTEGER PRIMARY KEY,
    key        INTEGER NOT NULL,
    node_num   INTEGER NOT NULL,
    -- host:port; NULL for a radio whose data is older than this table.
    address    TEXT,
    public_key BLOB,
    created_ms INTEGER NOT NULL,
    UNIQUE (node_num, address)
);
CREATE INDEX radio_identity_key ON radio_identity (key);

-- The radios that have data already: each by its node number, at an address not known yet
-- (the first radio to report that number claims it).
INSERT INTO radio_identity (key, node_num, address, created_ms)
    SELECT radio, radio, NULL, 0 FROM (
        SELECT radio FROM message UNION SELECT radio FROM traceroute
        UNION SELECT radio FROM sweep UNION SELECT radio FROM automation
    );
