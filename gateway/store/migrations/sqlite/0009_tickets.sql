-- Governance tickets (issue 8); the PostgreSQL migration of the same number explains each
-- table. Times are integer microseconds since the epoch (UTC), booleans 0/1, JSON as text.
-- SQLite has one writer at a time; the partial unique index still holds one open ticket per
-- dedup key, and recording upserts on it as on PostgreSQL.

CREATE TABLE tickets (
    ticket_id          TEXT    PRIMARY KEY,
    dedup_key          TEXT    NOT NULL,
    is_open            INTEGER NOT NULL,
    rule               TEXT    NOT NULL,
    category           TEXT    NOT NULL,
    category_code      TEXT    NOT NULL,
    severity           TEXT    NOT NULL,
    community          TEXT    NOT NULL,
    grid_code          TEXT,
    location           TEXT    NOT NULL,
    responsible_units  TEXT    NOT NULL,
    title              TEXT    NOT NULL,
    description        TEXT    NOT NULL,
    summary_en         TEXT    NOT NULL,
    event_ids          TEXT    NOT NULL,
    evidence_count     INTEGER NOT NULL,
    first_us           INTEGER NOT NULL,
    last_us            INTEGER NOT NULL,
    image_urls         TEXT    NOT NULL,
    occurrences        INTEGER NOT NULL,
    detected_us        INTEGER NOT NULL,
    created_us         INTEGER NOT NULL,
    updated_us         INTEGER NOT NULL,
    sla_due_us         INTEGER NOT NULL,
    status             TEXT    NOT NULL,
    forward            INTEGER NOT NULL,
    platform_ticket_id TEXT,
    accepted_us        INTEGER,
    closed_us          INTEGER,
    outbox_seq         INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE UNIQUE INDEX tickets_open_dedup ON tickets (dedup_key) WHERE is_open;
CREATE INDEX tickets_created ON tickets (created_us DESC, ticket_id DESC);
CREATE INDEX tickets_community ON tickets (community, created_us DESC);

CREATE TABLE ticket_occurrences (
    dedup_key      TEXT    NOT NULL,
    occurrence_key TEXT    NOT NULL,
    ticket_id      TEXT,
    at_us          INTEGER NOT NULL,
    PRIMARY KEY (dedup_key, occurrence_key)
) WITHOUT ROWID;

CREATE TABLE ticket_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id   TEXT    NOT NULL REFERENCES tickets (ticket_id),
    at_us       INTEGER NOT NULL,
    from_status TEXT,
    to_status   TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    comment     TEXT
);
CREATE INDEX ticket_history_ticket ON ticket_history (ticket_id, id);

CREATE TABLE outbox (
    ticket_id          TEXT    NOT NULL REFERENCES tickets (ticket_id),
    seq                INTEGER NOT NULL,
    kind               TEXT    NOT NULL,
    state              TEXT    NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_us    INTEGER,
    last_error         TEXT,
    created_us         INTEGER NOT NULL,
    delivered_us       INTEGER,
    PRIMARY KEY (ticket_id, seq)
) WITHOUT ROWID;
CREATE INDEX outbox_due ON outbox (next_attempt_us) WHERE state = 'pending';
CREATE INDEX outbox_undelivered ON outbox (ticket_id, seq) WHERE state <> 'delivered';
CREATE INDEX outbox_created ON outbox (created_us DESC, ticket_id DESC, seq DESC);

CREATE TABLE rule_watermarks (
    community  TEXT    PRIMARY KEY,
    newest_us  INTEGER NOT NULL,
    updated_us INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE watchlist_vehicles (
    plate_no    TEXT    PRIMARY KEY,
    plate_color TEXT,
    reason      TEXT    NOT NULL,
    until_us    INTEGER,
    added_us    INTEGER NOT NULL
) WITHOUT ROWID;
