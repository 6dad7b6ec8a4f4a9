-- Governance tickets (issue 8): tickets, the occurrences behind them, their history, the
-- transactional outbox to the grid platform, the rules' per-community watermarks and the
-- government's vehicle watch-list.

-- One row per ticket. `is_open` is true while the status is one of the open ones
-- (schemas.tickets.OPEN_STATUSES); the partial unique index below holds one open ticket per
-- dedup key, and recording upserts on it (INSERT ... ON CONFLICT (dedup_key) WHERE is_open), so
-- two transactions recording the same key at the same instant make one ticket. Evidence is by
-- reference: at most 50 event ids listed (`evidence_count` counts all), at most 10 image URLs.
-- `outbox_seq` is the last outbox sequence number given to this ticket.
CREATE TABLE tickets (
    ticket_id          text        PRIMARY KEY,
    dedup_key          text        NOT NULL,
    is_open            boolean     NOT NULL,
    rule               text        NOT NULL,
    category           jsonb       NOT NULL,
    category_code      text        NOT NULL,
    severity           text        NOT NULL,
    community          text        NOT NULL,
    grid_code          text,
    location           jsonb       NOT NULL,
    responsible_units  jsonb       NOT NULL,
    title              text        NOT NULL,
    description        text        NOT NULL,
    summary_en         text        NOT NULL,
    event_ids          jsonb       NOT NULL,
    evidence_count     integer     NOT NULL,
    first_at           timestamptz NOT NULL,
    last_at            timestamptz NOT NULL,
    image_urls         jsonb       NOT NULL,
    occurrences        integer     NOT NULL,
    detected_at        timestamptz NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    sla_due_at         timestamptz NOT NULL,
    status             text        NOT NULL,
    forward            boolean     NOT NULL,
    platform_ticket_id text,
    accepted_at        timestamptz,
    closed_at          timestamptz,
    outbox_seq         integer     NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX tickets_open_dedup ON tickets (dedup_key) WHERE is_open;
CREATE INDEX tickets_created ON tickets (created_at DESC, ticket_id DESC);
CREATE INDEX tickets_community ON tickets (community, created_at DESC);

-- One row per (dedup key, occurrence): recording the same occurrence twice adds nothing, even
-- after its ticket closed. `ticket_id` is the ticket the occurrence went to.
CREATE TABLE ticket_occurrences (
    dedup_key      text        NOT NULL,
    occurrence_key text        NOT NULL,
    ticket_id      text,
    at             timestamptz NOT NULL,
    PRIMARY KEY (dedup_key, occurrence_key)
);

-- Every step of every ticket (from_status NULL: its creation).
CREATE TABLE ticket_history (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id   text        NOT NULL REFERENCES tickets (ticket_id),
    at          timestamptz NOT NULL,
    from_status text,
    to_status   text        NOT NULL,
    actor       text        NOT NULL,
    comment     text
);
CREATE INDEX ticket_history_ticket ON ticket_history (ticket_id, id);

-- The transactional outbox: messages for the grid platform, sent in `seq` order per ticket.
-- No body: the forwarder sends the ticket's state at send time.
CREATE TABLE outbox (
    ticket_id       text        NOT NULL REFERENCES tickets (ticket_id),
    seq             integer     NOT NULL,
    kind            text        NOT NULL,
    state           text        NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL,
    delivered_at    timestamptz,
    PRIMARY KEY (ticket_id, seq)
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_undelivered ON outbox (ticket_id, seq) WHERE state <> 'delivered';
CREATE INDEX outbox_created ON outbox (created_at DESC, ticket_id DESC, seq DESC);

-- Per community, the newest event time stored, each event's time capped at its arrival.
CREATE TABLE rule_watermarks (
    community  text        PRIMARY KEY,
    newest_at  timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- The government's vehicle watch-list (plates normalised by schemas.plates).
CREATE TABLE watchlist_vehicles (
    plate_no    text        PRIMARY KEY,
    plate_color text,
    reason      text        NOT NULL,
    until       timestamptz,
    added_at    timestamptz NOT NULL
);
