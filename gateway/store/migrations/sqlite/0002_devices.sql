-- The device registry: what each device is and where it stands (registration), and what the
-- gateway observed of it (status, last seen, address). Times are integer microseconds since
-- the Unix epoch (UTC), as in the events table; `readers` is a JSON object.
CREATE TABLE devices (
    device_id       TEXT    PRIMARY KEY,
    kind            TEXT    NOT NULL,
    dialect         TEXT    NOT NULL,
    community       TEXT    NOT NULL,
    building        TEXT,
    unit            TEXT,
    gate            TEXT,
    door            TEXT,
    readers         TEXT    NOT NULL DEFAULT '{}',
    location        TEXT,
    firmware        TEXT,
    offline_after_s INTEGER NOT NULL CHECK (offline_after_s > 0),
    status          TEXT    NOT NULL DEFAULT 'unknown'
                            CHECK (status IN ('unknown', 'online', 'offline')),
    status_since_us INTEGER,
    last_seen_us    INTEGER,
    ip              TEXT,
    registered_us   INTEGER NOT NULL,
    updated_us      INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX devices_community ON devices (community, device_id);
CREATE INDEX devices_status ON devices (status, device_id);
