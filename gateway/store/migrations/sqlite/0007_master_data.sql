-- Government-side models (issue 7); the PostgreSQL migration of the same number explains each
-- table. Times are integer microseconds since the epoch (UTC) as elsewhere in this store,
-- dates ISO `YYYY-MM-DD` text, lists and maps JSON text.

CREATE TABLE houses (
    house_code           TEXT    PRIMARY KEY,
    community            TEXT    NOT NULL,
    building             TEXT    NOT NULL,
    unit                 TEXT,
    floor                TEXT,
    room                 TEXT,
    area_m2              TEXT,
    usage                TEXT    NOT NULL,
    grid_code            TEXT,
    registered_occupants INTEGER NOT NULL DEFAULT 0,
    import_id            TEXT,
    created_us           INTEGER NOT NULL,
    updated_us           INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX houses_place ON houses (community, building, unit, house_code);
CREATE INDEX houses_grid ON houses (grid_code, house_code);

CREATE TABLE persons (
    person_id       TEXT    PRIMARY KEY,
    community       TEXT    NOT NULL,
    id_hash         TEXT    NOT NULL,
    id_type         TEXT,
    id_masked       TEXT,
    nationality     TEXT,
    name_masked     TEXT,
    name_ref        TEXT,
    name_sealed     BLOB,
    phone_masked    TEXT,
    phone_ref       TEXT,
    phone_sealed    BLOB,
    gender          TEXT    NOT NULL DEFAULT 'unknown',
    birth_year      INTEGER,
    ethnicity       TEXT,
    population_type TEXT    NOT NULL,
    tags            TEXT    NOT NULL DEFAULT '[]',
    visit_house     TEXT,
    visit_from_us   INTEGER,
    visit_until_us  INTEGER,
    import_id       TEXT,
    created_us      INTEGER NOT NULL,
    updated_us      INTEGER NOT NULL,
    UNIQUE (community, id_hash)
) WITHOUT ROWID;
CREATE INDEX persons_type ON persons (community, population_type, person_id);
CREATE INDEX persons_visit_until ON persons (visit_until_us) WHERE visit_until_us IS NOT NULL;

CREATE TABLE residencies (
    person_id  TEXT    NOT NULL REFERENCES persons (person_id) ON DELETE CASCADE,
    house_code TEXT    NOT NULL REFERENCES houses (house_code),
    relation   TEXT    NOT NULL,
    since      TEXT,
    until      TEXT,
    import_id  TEXT,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (person_id, house_code)
) WITHOUT ROWID;
CREATE INDEX residencies_house ON residencies (house_code);

CREATE TABLE credentials (
    community  TEXT    NOT NULL,
    ref        TEXT    NOT NULL,
    period     INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    person_id  TEXT    NOT NULL REFERENCES persons (person_id) ON DELETE CASCADE,
    since      TEXT,
    until      TEXT,
    import_id  TEXT,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (community, ref, period)
) WITHOUT ROWID;
CREATE INDEX credentials_person ON credentials (person_id);

CREATE TABLE vehicles (
    vehicle_id      TEXT    PRIMARY KEY,
    community       TEXT    NOT NULL,
    plate_no        TEXT    NOT NULL,
    plate_color     TEXT    NOT NULL,
    vehicle_type    TEXT,
    owner_person_id TEXT    REFERENCES persons (person_id) ON DELETE SET NULL,
    house_code      TEXT    REFERENCES houses (house_code),
    registered      INTEGER NOT NULL,
    until           TEXT,
    first_seen_us   INTEGER,
    last_seen_us    INTEGER,
    import_id       TEXT,
    created_us      INTEGER NOT NULL,
    updated_us      INTEGER NOT NULL,
    UNIQUE (community, plate_no, plate_color)
) WITHOUT ROWID;
CREATE INDEX vehicles_plate ON vehicles (plate_no);
CREATE INDEX vehicles_owner ON vehicles (owner_person_id);

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at_us     INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    community TEXT,
    records   TEXT    NOT NULL DEFAULT '[]',
    reason    TEXT,
    details   TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at_us);
