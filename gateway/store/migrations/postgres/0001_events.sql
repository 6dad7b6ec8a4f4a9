-- Events: one hypertable for every kind; the kind-specific fields live in `body` (jsonb), the
-- columns the API filters on are real columns. The primary key includes the time column, as
-- TimescaleDB requires, and makes redelivered events (same id, same time) a no-op.
CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE events (
    occurred_at timestamptz NOT NULL,
    event_id    text        NOT NULL,
    kind        text        NOT NULL,
    community   text        NOT NULL,
    device_id   text        NOT NULL,
    received_at timestamptz NOT NULL,
    body        jsonb       NOT NULL,
    PRIMARY KEY (event_id, occurred_at)
);

SELECT create_hypertable('events', 'occurred_at', chunk_time_interval => interval '1 day');

CREATE INDEX events_newest ON events (occurred_at DESC, event_id DESC);
CREATE INDEX events_kind_newest ON events (kind, occurred_at DESC, event_id DESC);
CREATE INDEX events_community_newest ON events (community, occurred_at DESC, event_id DESC);
CREATE INDEX events_device_newest ON events (device_id, occurred_at DESC, event_id DESC);

-- Rejected messages, redacted and truncated before they get here.
CREATE TABLE dead_letters (
    id              bigserial   PRIMARY KEY,
    received_at     timestamptz NOT NULL,
    topic           text        NOT NULL,
    reason          text        NOT NULL,
    detail          text        NOT NULL,
    payload_excerpt text        NOT NULL,
    payload_bytes   integer     NOT NULL
);

CREATE INDEX dead_letters_reason ON dead_letters (reason, id DESC);
