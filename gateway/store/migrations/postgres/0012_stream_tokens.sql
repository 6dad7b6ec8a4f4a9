-- Stream tokens (issue 9): short-lived, single-use tokens for `GET /v1/stream?token=` (a client
-- that can only use EventSource cannot send a header). Only the SHA-256 of the token is kept;
-- redeeming deletes the row (DELETE ... RETURNING), so a token is used once across processes.
-- `key_id` is the key the token was issued to: the key is checked again at redemption.
CREATE TABLE stream_tokens (
    token_hash text        PRIMARY KEY,
    key_id     text        NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX stream_tokens_expires ON stream_tokens (expires_at);

-- Every process's stream polls the tickets changed since its last position, in
-- (updated_at, ticket_id) order.
CREATE INDEX tickets_updated ON tickets (updated_at, ticket_id);
