-- Kept radios (the original's persistent, named sessions): the server keeps them connected
-- with no browser open, and their history is recorded all the time. `id` is the 32-hex id
-- the API shows as `session_id`; `position` keeps the order they were created in.
CREATE TABLE kept_radio (
    position        INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL UNIQUE,
    host            TEXT    NOT NULL,
    port            INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    auto_connect    INTEGER NOT NULL DEFAULT 0,
    -- Whether it should be connected now (connect/disconnect), so a restart restores it.
    wanted          INTEGER NOT NULL DEFAULT 0,
    created_at_ms   INTEGER NOT NULL,
    last_connected_ms INTEGER,
    -- The radio's own node number once known (its automation is stored by it).
    radio           INTEGER,
    -- Automation fields sent with /update before the radio was ever connected (JSON).
    pending         TEXT
);

-- Browser sessions that hold state, so that with a fixed SECRET_KEY a restart keeps them:
-- the login and the radio they were attached to. Expired like live ones, by `seen_ms`.
CREATE TABLE browser_session (
    id       TEXT    PRIMARY KEY,
    user     TEXT,
    radio    TEXT,
    seen_ms  INTEGER NOT NULL
);
