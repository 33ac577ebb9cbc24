-- Node history per radio (keyed by the radio's own node number, as messages are): when each
-- node was first and last heard, its samples in three tiers (raw, hourly, daily), and the
-- changes of its names, role and hardware, and its positions. Values are integers in fixed
-- units (see `radio::observe::Metric`): a row costs a few dozen bytes.

CREATE TABLE node_seen (
    radio      INTEGER NOT NULL,
    node       INTEGER NOT NULL,
    first_ms   INTEGER NOT NULL,            -- Unix milliseconds
    last_ms    INTEGER NOT NULL,
    hourly_ms  INTEGER NOT NULL DEFAULT 0,  -- raw samples before this are rolled up by hour
    daily_ms   INTEGER NOT NULL DEFAULT 0,  -- hourly rows before this are rolled up by day
    PRIMARY KEY (radio, node)
) WITHOUT ROWID;

-- One row per packet heard from a node (the values it carried; NULL when not carried).
CREATE TABLE sample (
    radio       INTEGER NOT NULL,
    node        INTEGER NOT NULL,
    at_ms       INTEGER NOT NULL,
    battery     INTEGER,                    -- %
    voltage     INTEGER,                    -- mV
    chan_util   INTEGER,                    -- % × 100
    air_util    INTEGER,                    -- % × 100
    snr         INTEGER,                    -- dB × 100
    rssi        INTEGER,                    -- dBm
    hops        INTEGER,
    temperature INTEGER,                    -- °C × 100
    humidity    INTEGER,                    -- % × 100
    pressure    INTEGER,                    -- hPa × 10
    PRIMARY KEY (radio, node, at_ms)
) WITHOUT ROWID;

-- Roll-ups: tier 1 = an hour, tier 2 = a day; min, mean and max of each value in the bucket.
CREATE TABLE rollup (
    radio     INTEGER NOT NULL,
    node      INTEGER NOT NULL,
    tier      INTEGER NOT NULL CHECK (tier IN (1, 2)),
    bucket_ms INTEGER NOT NULL,             -- start of the hour or day
    n         INTEGER NOT NULL,             -- samples in the bucket
    battery_min INTEGER, battery_avg INTEGER, battery_max INTEGER,
    voltage_min INTEGER, voltage_avg INTEGER, voltage_max INTEGER,
    chan_util_min INTEGER, chan_util_avg INTEGER, chan_util_max INTEGER,
    air_util_min INTEGER, air_util_avg INTEGER, air_util_max INTEGER,
    snr_min INTEGER, snr_avg INTEGER, snr_max INTEGER,
    rssi_min INTEGER, rssi_avg INTEGER, rssi_max INTEGER,
    hops_min INTEGER, hops_avg INTEGER, hops_max INTEGER,
    temperature_min INTEGER, temperature_avg INTEGER, temperature_max INTEGER,
    humidity_min INTEGER, humidity_avg INTEGER, humidity_max INTEGER,
    pressure_min INTEGER, pressure_avg INTEGER, pressure_max INTEGER,
    PRIMARY KEY (radio, node, tier, bucket_ms)
) WITHOUT ROWID;

-- A row when a node's names change (the first one when it is first heard).
CREATE TABLE node_name (
    radio      INTEGER NOT NULL,
    node       INTEGER NOT NULL,
    at_ms      INTEGER NOT NULL,
    long_name  TEXT    NOT NULL,
    short_name TEXT    NOT NULL,
    PRIMARY KEY (radio, node, at_ms)
) WITHOUT ROWID;

-- A row when a node's role or hardware model changes.
CREATE TABLE node_role (
    radio    INTEGER NOT NULL,
    node     INTEGER NOT NULL,
    at_ms    INTEGER NOT NULL,
    role     INTEGER NOT NULL,
    hw_model INTEGER NOT NULL,
    PRIMARY KEY (radio, node, at_ms)
) WITHOUT ROWID;

-- A row when a node reports a position other than its last one.
CREATE TABLE node_position (
    radio INTEGER NOT NULL,
    node  INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    lat_i INTEGER NOT NULL,                 -- degrees × 1e7
    lon_i INTEGER NOT NULL,
    alt   INTEGER,                          -- metres
    PRIMARY KEY (radio, node, at_ms)
) WITHOUT ROWID;
