-- What the events add to the government-side models (issue 7): presence at doors, from which
-- residencies are inferred, and the index erasure uses to strip a person's events.

-- Who was seen at which door, one row per subject, place and local (China Standard Time) day;
-- `night` when at least one sighting fell between 19:00 and 08:00. `ref` is the credential or
-- ID hash the subject key came from (NULL for a camera's stranger track), to resolve it later.
CREATE TABLE presence (
    community   text        NOT NULL,
    subject_key text        NOT NULL,
    building    text        NOT NULL DEFAULT '',
    unit        text        NOT NULL DEFAULT '',
    day         date        NOT NULL,
    night       boolean     NOT NULL,
    ref         text,
    first_at    timestamptz NOT NULL,
    last_at     timestamptz NOT NULL,
    PRIMARY KEY (community, subject_key, building, unit, day)
) WITH (fillfactor = 70);  -- room on each page, so moving last_at is a HOT update (no index writes)
CREATE INDEX presence_day ON presence (day);
CREATE INDEX presence_ref ON presence (community, ref) WHERE ref IS NOT NULL;

-- Residencies inferred from repeated use of one unit door; never registered ones.
CREATE TABLE inferred_residencies (
    community      text             NOT NULL,
    subject_key    text             NOT NULL,
    building       text             NOT NULL,
    unit           text             NOT NULL,
    house_code     text,
    person_id      text             REFERENCES persons (person_id) ON DELETE CASCADE,
    confidence     double precision NOT NULL,
    days           integer          NOT NULL,
    night_days     integer          NOT NULL,
    evidence_from  timestamptz      NOT NULL,
    evidence_until timestamptz      NOT NULL,
    since          date             NOT NULL,
    until          date,
    updated_at     timestamptz      NOT NULL,
    PRIMARY KEY (community, subject_key, building, unit)
);
CREATE INDEX inferred_person ON inferred_residencies (person_id);

-- Erasure strips a person's events of their credential hash and subject key (a subject key is
-- already per community, so the community is not indexed). Only events with
-- a subject key are indexed (every access event's body has the key, null when unkeyed); a query
-- `body ->> 'subject_key' = ...` implies the predicate, so the planner uses the index.
CREATE INDEX events_subject ON events ((body ->> 'subject_key'))
    WHERE (body ->> 'subject_key') IS NOT NULL;
