-- How a received text was heard, as the original's message list shows it: signal (none over
-- MQTT), the header's hop fields and whether it came through MQTT. NULL for texts we sent
-- and for texts stored before this migration.
ALTER TABLE message ADD COLUMN snr REAL;
ALTER TABLE message ADD COLUMN rssi INTEGER;
ALTER TABLE message ADD COLUMN hop_start INTEGER;
ALTER TABLE message ADD COLUMN hop_limit INTEGER;
ALTER TABLE message ADD COLUMN via_mqtt INTEGER;
