-- Stream tokens (issue 9); the PostgreSQL migration of the same number explains them. Times
-- are integer microseconds since the epoch (UTC).
CREATE TABLE stream_tokens (
    token_hash TEXT    PRIMARY KEY,
    key_id     TEXT    NOT NULL,
    expires_us INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX stream_tokens_expires ON stream_tokens (expires_us);

CREATE INDEX tickets_updated ON tickets (updated_us, ticket_id);
