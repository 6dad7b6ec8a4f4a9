-- Raw payloads of dead letters: sealed (AES-256-GCM, see gateway/raw_payloads.py) and kept only
-- when the operator turns it on (SCGW_DEAD_LETTER_RAW=encrypted), each with the time it must be
-- erased. Both are NULL otherwise.
ALTER TABLE dead_letters
    ADD COLUMN raw_payload    bytea,
    ADD COLUMN raw_expires_at timestamptz,
    ADD CONSTRAINT dead_letters_raw_expires
        CHECK ((raw_payload IS NULL) = (raw_expires_at IS NULL));

CREATE INDEX dead_letters_raw_expiry ON dead_letters (raw_expires_at)
    WHERE raw_payload IS NOT NULL;
