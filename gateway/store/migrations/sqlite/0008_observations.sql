-- What the events add (issue 7); the PostgreSQL migration of the same number explains each
-- table. Times are integer microseconds since the epoch (UTC), days ISO text.

CREATE TABLE presence (
    community   TEXT    NOT NULL,
    subject_key TEXT    NOT NULL,
    building    TEXT    NOT NULL DEFAULT '',
    unit        TEXT    NOT NULL DEFAULT '',
    day         TEXT    NOT NULL,
    night       INTEGER NOT NULL,
    ref         TEXT,
    first_us    INTEGER NOT NULL,
    last_us     INTEGER NOT NULL,
    PRIMARY KEY (community, subject_key, building, unit, day)
) WITHOUT ROWID;
CREATE INDEX presence_day ON presence (day);
CREATE INDEX presence_ref ON presence (community, ref) WHERE ref IS NOT NULL;

CREATE TABLE inferred_residencies (
    community         TEXT    NOT NULL,
    subject_key       TEXT    NOT NULL,
    building          TEXT    NOT NULL,
    unit              TEXT    NOT NULL,
    house_code        TEXT,
    person_id         TEXT    REFERENCES persons (person_id) ON DELETE CASCADE,
    confidence        REAL    NOT NULL,
    days              INTEGER NOT NULL,
    night_days        INTEGER NOT NULL,
    evidence_from_us  INTEGER NOT NULL,
    evidence_until_us INTEGER NOT NULL,
    since             TEXT    NOT NULL,
    until             TEXT,
    updated_us        INTEGER NOT NULL,
    PRIMARY KEY (community, subject_key, building, unit)
) WITHOUT ROWID;
CREATE INDEX inferred_person ON inferred_residencies (person_id);

CREATE INDEX events_subject ON events (json_extract(body, '$.subject_key'))
    WHERE json_extract(body, '$.subject_key') IS NOT NULL;
