-- Raw payloads of dead letters: sealed (AES-256-GCM, see gateway/raw_payloads.py) and kept only
-- when the operator turns it on (SCGW_DEAD_LETTER_RAW=encrypted), each with the time it must be
-- erased (integer microseconds since the Unix epoch, UTC). Both are NULL otherwise.
ALTER TABLE dead_letters ADD COLUMN raw_payload BLOB;
ALTER TABLE dead_letters ADD COLUMN raw_expires_us INTEGER;

CREATE INDEX dead_letters_raw_expiry ON dead_letters (raw_expires_us)
    WHERE raw_payload IS NOT NULL;
