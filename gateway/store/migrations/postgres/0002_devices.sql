-- The device registry: what each device is and where it stands (registration), and what the
-- gateway observed of it (status, last seen, address). A plain table, not a hypertable: one
-- row per device, updated in the same transaction as each batch of its events.
CREATE TABLE devices (
    device_id       text        COLLATE "C" PRIMARY KEY,  -- byte order, as SQLite pages
    kind            text        NOT NULL,
    dialect         text        NOT NULL,
    community       text        NOT NULL,
    building        text,
    unit            text,
    gate            text,
    door            text,
    readers         jsonb       NOT NULL DEFAULT '{}',
    location        text,
    firmware        text,
    offline_after_s integer     NOT NULL CHECK (offline_after_s > 0),
    status          text        NOT NULL DEFAULT 'unknown'
                                CHECK (status IN ('unknown', 'online', 'offline')),
    status_since    timestamptz,
    last_seen       timestamptz,
    ip              text,
    registered_at   timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

CREATE INDEX devices_community ON devices (community, device_id);
CREATE INDEX devices_status ON devices (status, device_id);
