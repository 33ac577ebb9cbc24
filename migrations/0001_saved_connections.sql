-- Saved radio connections, private to their owner (a browser's owner cookie or a user).
CREATE TABLE saved_connection (
    id         INTEGER PRIMARY KEY,
    owner      TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    host       TEXT    NOT NULL,
    port       INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    created_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    UNIQUE (owner, name)
);
CREATE INDEX saved_connection_owner ON saved_connection (owner);
