-- Users of an installation with login. When this table has a row, every page and API needs
-- a logged-in user. Passwords are argon2 hashes (PHC strings).
CREATE TABLE user (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    role       TEXT    NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    hash       TEXT    NOT NULL,
    created_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
