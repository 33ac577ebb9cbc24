-- Alerts per radio (keyed by the radio's store key, as automation is): the rules users set
-- and the alerts they fired (the newest 1,000 per radio are kept).
CREATE TABLE alert_rule (
    id          INTEGER PRIMARY KEY,
    radio       INTEGER NOT NULL,
    -- node_silent, battery_below, new_node, dm, keyword
    kind        TEXT NOT NULL,
    -- the node the rule watches (silent, battery) or hears from (dm, keyword); NULL: any
    node        INTEGER,
    minutes     INTEGER,
    percent     INTEGER,
    text        TEXT,
    -- http://host[:port]/path the alert is POSTed to as JSON; NULL: none
    webhook     TEXT,
    -- muted until this time (Unix ms); NULL: not muted
    muted_until INTEGER,
    created_ms  INTEGER NOT NULL
);
CREATE INDEX alert_rule_radio ON alert_rule (radio);

CREATE TABLE alert (
    id           INTEGER PRIMARY KEY,
    radio        INTEGER NOT NULL,
    -- the rule that fired it (it may be deleted since)
    rule         INTEGER,
    time_ms      INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    node         INTEGER NOT NULL,
    message      TEXT NOT NULL,
    acknowledged INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alert_radio ON alert (radio, id);
