-- A kept radio's virtual node: the TCP port where meshdeck serves the firmware's client API
-- for it (NULL: none), and whether its clients may send admin messages (off: read and chat).
ALTER TABLE kept_radio ADD COLUMN virtual_port INTEGER CHECK (virtual_port BETWEEN 1 AND 65535);
ALTER TABLE kept_radio ADD COLUMN virtual_admin INTEGER NOT NULL DEFAULT 0;
