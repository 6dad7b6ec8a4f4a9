-- API keys (issue 9); the PostgreSQL migration of the same number explains the table. Only the
-- SHA-256 of the secret is stored. `communities` is a JSON array of community codes, NULL for
-- every community. Times are integer microseconds since the epoch (UTC).

CREATE TABLE api_keys (
    key_id          TEXT    PRIMARY KEY,
    name            TEXT    NOT NULL,
    role            TEXT    NOT NULL,
    communities     TEXT,
    pii             INTEGER NOT NULL DEFAULT 0,
    secret_hash     TEXT    NOT NULL,
    created_us      INTEGER NOT NULL,
    expires_us      INTEGER,
    revoked_us      INTEGER,
    last_used_us    INTEGER
) WITHOUT ROWID;

CREATE INDEX api_keys_created ON api_keys (created_us DESC, key_id DESC);
