-- Automation settings per radio (keyed by the radio's own node number), as JSON documents.
CREATE TABLE automation (
    radio     INTEGER PRIMARY KEY,
    responder TEXT,
    beacon    TEXT,
    filter    TEXT
);
