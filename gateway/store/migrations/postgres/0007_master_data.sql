-- Government-side models (issue 7): houses, persons, residencies, credentials and vehicles from
-- property master data and from what the events add (vehicles only the gates know, visitor
-- records: population_type 'visitor'); and the audit log. No raw personal values anywhere:
-- ID numbers and credentials are keyed hashes, names and phones are masked, and sealed
-- (AES-GCM, `gateway.pii`) for the audited unmasked read. `import_id` marks which import last
-- listed a row, so a snapshot import can end what it no longer lists.

CREATE TABLE houses (
    house_code           text        PRIMARY KEY,
    community            text        NOT NULL,
    building             text        NOT NULL,
    unit                 text,
    floor                text,
    room                 text,
    area_m2              numeric(10, 2),
    usage                text        NOT NULL,
    grid_code            text,
    registered_occupants integer     NOT NULL DEFAULT 0,
    import_id            text,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);
CREATE INDEX houses_place ON houses (community, building, unit, house_code);
CREATE INDEX houses_grid ON houses (grid_code, house_code);

-- One record per person per community; visitors (population_type 'visitor') carry their visit.
CREATE TABLE persons (
    person_id       text        PRIMARY KEY,
    community       text        NOT NULL,
    id_hash         text        NOT NULL,
    id_type         text,
    id_masked       text,
    nationality     text,
    name_masked     text,
    name_ref        text,
    name_sealed     bytea,
    phone_masked    text,
    phone_ref       text,
    phone_sealed    bytea,
    gender          text        NOT NULL DEFAULT 'unknown',
    birth_year      integer,
    ethnicity       text,
    population_type text        NOT NULL,
    tags            jsonb       NOT NULL DEFAULT '[]',
    visit_house     text,
    visit_from      timestamptz,
    visit_until     timestamptz,
    import_id       text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (community, id_hash)
);
CREATE INDEX persons_type ON persons (community, population_type, person_id);
CREATE INDEX persons_visit_until ON persons (visit_until) WHERE visit_until IS NOT NULL;

-- Registered residencies (source 'property'); ended, never erased, so history stays answerable.
CREATE TABLE residencies (
    person_id  text        NOT NULL REFERENCES persons (person_id) ON DELETE CASCADE,
    house_code text        NOT NULL REFERENCES houses (house_code),
    relation   text        NOT NULL,
    since      date,
    until      date,
    import_id  text,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (person_id, house_code)
);
CREATE INDEX residencies_house ON residencies (house_code);

-- What devices know people by: `ref` is the keyed hash the adapters compute for a read.
-- One row per holder period of a credential (`period` 1, 2, ... in time order), so a card
-- handed to another person keeps resolving its earlier events to the earlier holder: the
-- handover ends the previous row the day before the new holder's `since`.
CREATE TABLE credentials (
    community  text        NOT NULL,
    ref        text        NOT NULL,
    period     integer     NOT NULL,
    kind       text        NOT NULL,
    person_id  text        NOT NULL REFERENCES persons (person_id) ON DELETE CASCADE,
    since      date,
    until      date,
    import_id  text,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (community, ref, period)
);
CREATE INDEX credentials_person ON credentials (person_id);

-- Registered vehicles come from imports; unregistered ones from the gates (first/last seen).
-- A registration a snapshot import no longer lists ends: `registered` false, `until` its day.
CREATE TABLE vehicles (
    vehicle_id      text        PRIMARY KEY,
    community       text        NOT NULL,
    plate_no        text        NOT NULL,
    plate_color     text        NOT NULL,
    vehicle_type    text,
    owner_person_id text        REFERENCES persons (person_id) ON DELETE SET NULL,
    house_code      text        REFERENCES houses (house_code),
    registered      boolean     NOT NULL,
    until           date,
    first_seen_at   timestamptz,
    last_seen_at    timestamptz,
    import_id       text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (community, plate_no, plate_color)
);
CREATE INDEX vehicles_plate ON vehicles (plate_no);
CREATE INDEX vehicles_owner ON vehicles (owner_person_id);

CREATE TABLE audit_log (
    id        bigserial   PRIMARY KEY,
    at        timestamptz NOT NULL,
    actor     text        NOT NULL,
    action    text        NOT NULL,
    community text,
    records   jsonb       NOT NULL DEFAULT '[]',
    reason    text,
    details   jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);
