-- The embedded store mirrors the PostgreSQL schema; times are integer microseconds since the
-- Unix epoch (UTC) so they sort and compare exactly.
CREATE TABLE events (
    occurred_us INTEGER NOT NULL,
    event_id    TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    community   TEXT    NOT NULL,
    device_id   TEXT    NOT NULL,
    received_us INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    PRIMARY KEY (event_id, occurred_us)
) WITHOUT ROWID;

CREATE INDEX events_newest ON events (occurred_us DESC, event_id DESC);
CREATE INDEX events_kind_newest ON events (kind, occurred_us DESC, event_id DESC);
CREATE INDEX events_community_newest ON events (community, occurred_us DESC, event_id DESC);
CREATE INDEX events_device_newest ON events (device_id, occurred_us DESC, event_id DESC);

CREATE TABLE dead_letters (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    received_us     INTEGER NOT NULL,
    topic           TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    detail          TEXT    NOT NULL,
    payload_excerpt TEXT    NOT NULL,
    payload_bytes   INTEGER NOT NULL
);

CREATE INDEX dead_letters_reason ON dead_letters (reason, id DESC);
