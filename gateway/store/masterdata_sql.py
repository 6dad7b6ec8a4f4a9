"""The master-data SQL both backends run, written once: `:name` parameters and `{column}`
names for the columns whose names differ (SQLite keeps times as `*_us` microseconds); a
`Dialect` turns a statement into one backend's. Values are the backend's own (dates as ISO
text or `date`, times as microseconds or `datetime`); the SQL is the same.
"""

import re
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Dialect:
    """One backend's column names and parameter style."""

    columns: dict[str, str]
    parameter: str

    def __call__(self, sql: str) -> str:
        named = sql.format(**self.columns)
        return re.sub(r"(?<!:):(\w+)", lambda m: self.parameter.format(m.group(1)), named)


SQLITE: Final = Dialect(
    {
        "created": "created_us",
        "updated": "updated_us",
        "last": "last_us",
        "visit_from": "visit_from_us",
        "visit_until": "visit_until_us",
    },
    ":{}",
)
POSTGRES: Final = Dialect(
    {
        "created": "created_at",
        "updated": "updated_at",
        "last": "last_at",
        "visit_from": "visit_from",
        "visit_until": "visit_until",
    },
    "%({})s",
)

UPSERT_HOUSE = """
INSERT INTO houses (house_code, community, building, unit, floor, room, area_m2, usage,
    grid_code, registered_occupants, import_id, {created}, {updated})
VALUES (:house_code, :community, :building, :unit, :floor, :room, :area_m2, :usage,
    :grid_code, :registered_occupants, :import_id, :now, :now)
ON CONFLICT (house_code) DO UPDATE SET
    building = excluded.building, unit = excluded.unit, floor = excluded.floor,
    room = excluded.room, area_m2 = excluded.area_m2, usage = excluded.usage,
    grid_code = excluded.grid_code, registered_occupants = excluded.registered_occupants,
    import_id = excluded.import_id, {updated} = excluded.{updated}
WHERE houses.community = excluded.community
"""
UPSERT_PERSON = """
INSERT INTO persons (person_id, community, id_hash, id_type, id_masked, nationality,
    name_masked, name_ref, name_sealed, phone_masked, phone_ref, phone_sealed, gender,
    birth_year, ethnicity, population_type, tags, import_id, {created}, {updated})
VALUES (:person_id, :community, :id_hash, :id_type, :id_masked, :nationality, :name_masked,
    :name_ref, :name_sealed, :phone_masked, :phone_ref, :phone_sealed, :gender, :birth_year,
    :ethnicity, :population_type, :tags, :import_id, :now, :now)
ON CONFLICT (community, id_hash) DO UPDATE SET
    id_type = excluded.id_type, id_masked = excluded.id_masked,
    nationality = excluded.nationality, name_masked = excluded.name_masked,
    name_ref = excluded.name_ref, name_sealed = excluded.name_sealed,
    phone_masked = excluded.phone_masked, phone_ref = excluded.phone_ref,
    phone_sealed = excluded.phone_sealed, gender = excluded.gender,
    birth_year = excluded.birth_year, ethnicity = excluded.ethnicity,
    population_type = excluded.population_type, tags = excluded.tags,
    import_id = excluded.import_id, {updated} = excluded.{updated}
"""
UPSERT_RESIDENCY = """
INSERT INTO residencies (person_id, house_code, relation, since, until, import_id, {updated})
VALUES (:person_id, :house_code, :relation, :since, NULL, :import_id, :now)
ON CONFLICT (person_id, house_code) DO UPDATE SET
    relation = excluded.relation, since = excluded.since, until = NULL,
    import_id = excluded.import_id, {updated} = excluded.{updated}
"""
UPSERT_VEHICLE = """
INSERT INTO vehicles (vehicle_id, community, plate_no, plate_color, vehicle_type,
    owner_person_id, house_code, registered, until, import_id, {created}, {updated})
VALUES (:vehicle_id, :community, :plate_no, :plate_color, :vehicle_type, :owner, :house_code,
    true, NULL, :import_id, :now, :now)
ON CONFLICT (vehicle_id) DO UPDATE SET
    plate_color = excluded.plate_color, vehicle_type = excluded.vehicle_type,
    owner_person_id = excluded.owner_person_id, house_code = excluded.house_code,
    registered = true, until = NULL, import_id = excluded.import_id,
    {updated} = excluded.{updated}
"""
UPSERT_CREDENTIAL = """
INSERT INTO credentials (community, ref, period, kind, person_id, since, until, import_id,
    {updated})
VALUES (:community, :ref, :period, :kind, :person_id, :since, :until, :import_id, :now)
ON CONFLICT (community, ref, period) DO UPDATE SET
    kind = excluded.kind, person_id = excluded.person_id, since = excluded.since,
    until = excluded.until, import_id = excluded.import_id, {updated} = excluded.{updated}
"""
# Snapshot ends: what the community has that the import did not list, and is not ended yet.
END_UNLISTED: Final[dict[str, str]] = {
    "residents": """
UPDATE residencies SET until = :until, {updated} = :now
WHERE (import_id IS NULL OR import_id <> :import_id) AND (until IS NULL OR until > :until)
    AND house_code IN (SELECT house_code FROM houses WHERE community = :community)""",
    "vehicles": """
UPDATE vehicles SET registered = false, until = :until, {updated} = :now
WHERE community = :community AND registered = true
    AND (import_id IS NULL OR import_id <> :import_id)""",
    "credentials": """
UPDATE credentials SET until = :until, {updated} = :now
WHERE community = :community AND (import_id IS NULL OR import_id <> :import_id)
    AND (until IS NULL OR until > :until)""",
}
_CURRENT = "(r.since IS NULL OR r.since <= :day) AND (r.until IS NULL OR r.until >= :day)"
_SEEN = """(EXISTS (SELECT 1 FROM presence pr WHERE pr.community = p.community
        AND pr.ref = p.id_hash AND pr.{last} >= :cutoff)
    OR EXISTS (SELECT 1 FROM credentials c JOIN presence pr
        ON pr.community = c.community AND pr.ref = c.ref
        WHERE c.person_id = p.person_id AND pr.{last} >= :cutoff
            AND (c.since IS NULL OR pr.day >= c.since)
            AND (c.until IS NULL OR pr.day <= c.until)))"""
SUMMARY_SQL: Final = {
    "houses": """
SELECT grid_code, building, NULL, usage, count(*) FROM houses WHERE community = :community
GROUP BY grid_code, building, usage""",
    "residents": f"""
SELECT h.grid_code, h.building, NULL, p.person_id, p.population_type
FROM residencies r JOIN houses h ON h.house_code = r.house_code
    JOIN persons p ON p.person_id = r.person_id
WHERE h.community = :community AND {_CURRENT} AND p.population_type <> 'visitor'
UNION
SELECT h.grid_code, i.building, NULL, p.person_id, p.population_type
FROM inferred_residencies i JOIN persons p ON p.person_id = i.person_id
    LEFT JOIN houses h ON h.house_code = i.house_code
WHERE i.community = :community AND i.until IS NULL AND p.population_type <> 'visitor'""",
    "visitors": """
SELECT h.grid_code, h.building, NULL, p.person_id
FROM persons p LEFT JOIN houses h ON h.house_code = p.visit_house
WHERE p.community = :community AND p.population_type = 'visitor'
    AND p.{visit_from} <= :at AND p.{visit_until} >= :at""",
    "vehicles": """
SELECT h.grid_code, h.building, NULL, v.registered, count(*)
FROM vehicles v LEFT JOIN houses h ON h.house_code = v.house_code
WHERE v.community = :community GROUP BY h.grid_code, h.building, v.registered""",
    "residencies": f"""
SELECT h.grid_code, h.building, NULL, count(*), sum(CASE WHEN {_SEEN} THEN 1 ELSE 0 END)
FROM residencies r JOIN houses h ON h.house_code = r.house_code
    JOIN persons p ON p.person_id = r.person_id
WHERE h.community = :community AND {_CURRENT} GROUP BY h.grid_code, h.building""",
    "inferred": """
SELECT h.grid_code, i.building, NULL, count(*)
FROM inferred_residencies i LEFT JOIN houses h ON h.house_code = i.house_code
WHERE i.community = :community AND i.until IS NULL GROUP BY h.grid_code, i.building""",
    "devices": """
SELECT NULL, building, gate, status, count(*) FROM devices WHERE community = :community
GROUP BY building, gate, status""",
}
"""One query per part of `Figures`, each row beginning with its place; `:name` parameters
(community, day, at, cutoff) and `{column}` names for the backend's time columns."""
