-- API keys (issue 9): each key has a role, a community scope (`communities` NULL: every
-- community), an optional `pii` scope, an expiry and a last-used time. Only the SHA-256 of
-- the secret is stored (`secret_hash`, hex): the secret itself is shown once, at creation, and
-- a key is found by its id, which the secret carries (`scgw_<key_id>_<random>`). A revoked key
-- is kept (revoked_at set) so the audit log's actors and `scgw keys list` still name it.
CREATE TABLE api_keys (
    key_id       text        PRIMARY KEY,
    name         text        NOT NULL,
    role         text        NOT NULL,
    communities  text[],
    pii          boolean     NOT NULL DEFAULT false,
    secret_hash  text        NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_keys_created ON api_keys (created_at DESC, key_id DESC);
