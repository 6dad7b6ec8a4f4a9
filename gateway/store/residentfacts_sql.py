"""The resident fact queries' SQL, written once for both backends (`ResidentFactStore`).

`:name` parameters and `{name}` placeholders for what differs: time columns (SQLite keeps
microseconds in `*_us`), reading a field of an event's JSON body, and a tag test on a person's
JSON tags. A `Dialect` (`gateway.store.masterdata_sql`) turns a statement into one backend's.
"""

from typing import Final

from gateway.store.masterdata_sql import Dialect

_BODY_FIELDS = (
    "subject_key",
    "building",
    "unit",
    "gate",
    "result",
    "plate_no",
    "plate_color",
    "direction",
    "image_url",
)


def _dialect(sqlite: bool) -> Dialect:
    columns = {
        "occurred": "occurred_us" if sqlite else "occurred_at",
        "first": "first_us" if sqlite else "first_at",
        "last": "last_us" if sqlite else "last_at",
        "created": "created_us" if sqlite else "created_at",
        "greatest": "max" if sqlite else "greatest",
        # SQLite's planner, without statistics, scans the community's presence by primary key
        # rather than look a credential up by ref: 1.7 s instead of 20 ms on a community.
        "by_ref": "INDEXED BY presence_ref" if sqlite else "",
        "has_tag": (
            "EXISTS (SELECT 1 FROM json_each(p.tags) WHERE json_each.value = :tag)"
            if sqlite
            else "p.tags ? :tag"
        ),
        "night": (
            "CAST(strftime('%H', occurred_us / 1000000 + 28800, 'unixepoch') AS INTEGER)"
            " NOT BETWEEN 8 AND 18"
            if sqlite
            else "extract(hour FROM occurred_at AT TIME ZONE 'Asia/Shanghai') NOT BETWEEN 8 AND 18"
        ),
        "local_day": (
            "date(occurred_us / 1000000 + 28800, 'unixepoch')"
            if sqlite
            else "(occurred_at AT TIME ZONE 'Asia/Shanghai')::date"
        ),
    }
    for field in _BODY_FIELDS:
        columns[f"b_{field}"] = (
            f"json_extract(body, '$.{field}')" if sqlite else f"(body ->> '{field}')"
        )
    return Dialect(columns, ":{}" if sqlite else "%({})s")


SQLITE: Final = _dialect(sqlite=True)
POSTGRES: Final = _dialect(sqlite=False)

VALID_ON_DAY = "(c.since IS NULL OR c.since <= pr.day) AND (c.until IS NULL OR c.until >= pr.day)"
"""A credential `c` valid on the day of the presence row `pr`."""

TAGGED_ACTIVITY = f"""
WITH tagged AS (
    SELECT p.person_id, r.house_code, h.building, h.unit, p.{{created}} AS created, r.since
    FROM persons p
    JOIN residencies r ON r.person_id = p.person_id
    JOIN houses h ON h.house_code = r.house_code
    WHERE p.community = :community AND {{has_tag}}
        AND (r.since IS NULL OR r.since <= :day) AND (r.until IS NULL OR r.until >= :day)
), refs AS (
    SELECT c.person_id, c.ref, c.since, c.until FROM credentials c
    WHERE c.community = :community AND c.person_id IN (SELECT person_id FROM tagged)
    UNION ALL
    SELECT p.person_id, p.id_hash, NULL, NULL FROM persons p
    WHERE p.person_id IN (SELECT person_id FROM tagged)
), seen AS (
    SELECT c.person_id,
        max(CASE WHEN pr.{{last}} <= :at THEN pr.{{last}} ELSE pr.{{first}} END) AS last_seen
    FROM refs c
    JOIN presence pr {{by_ref}} ON pr.community = :community AND pr.ref = c.ref
        AND pr.ref IS NOT NULL
        AND {VALID_ON_DAY}
    WHERE pr.{{first}} <= :at
    GROUP BY c.person_id
)
SELECT t.person_id, t.house_code, t.building, t.unit, t.created, t.since, s.last_seen
FROM tagged t LEFT JOIN seen s ON s.person_id = t.person_id
ORDER BY t.person_id, t.house_code
"""
# A row's sightings between its first and last are not kept: at or before `at` the last known
# one is `last` when that is not after `at`, else `first`. Rows of a day 48 hours back are whole
# days, so what a 48-hour or longer silence is measured from is exact.

UNRESOLVED = f"""
NOT EXISTS (SELECT 1 FROM credentials c WHERE c.community = pr.community AND c.ref = pr.ref
        AND {VALID_ON_DAY})
    AND NOT EXISTS (SELECT 1 FROM persons p WHERE p.community = pr.community
        AND p.id_hash = pr.ref)
"""

UNRESOLVED_PRESENCE = f"""
SELECT pr.subject_key, pr.day, pr.building, pr.unit, pr.{{first}}
FROM presence pr
WHERE pr.community = :community AND pr.day >= :first_day AND pr.day <= :last_day
    AND pr.ref IS NOT NULL AND {UNRESOLVED}
ORDER BY pr.subject_key, pr.day, pr.building, pr.unit
"""


def _ends(count: int) -> str:
    """A CTE `ends(end_day, start_day)` of `count` parameter pairs `:end_N`, `:start_N`."""
    rows = ", ".join(f"(:end_{n}, :start_{n})" for n in range(count))
    return f"ends(end_day, start_day) AS (VALUES {rows})"


def unit_users(ends: int) -> str:
    """Distinct users per (window end, unit door): the person a credential or ID hash
    resolves to on the day, else the subject. Each sighting is resolved once (MATERIALIZED),
    not once per window it falls in."""
    return f"""
WITH {_ends(ends)}, uses AS MATERIALIZED (
    SELECT DISTINCT pr.building, pr.unit, pr.day, coalesce(
        (SELECT min(c.person_id) FROM credentials c WHERE c.community = pr.community
            AND c.ref = pr.ref AND {VALID_ON_DAY}),
        (SELECT min(p.person_id) FROM persons p WHERE p.community = pr.community
            AND p.id_hash = pr.ref),
        pr.subject_key) AS user_id
    FROM presence pr
    WHERE pr.community = :community AND pr.unit <> '' AND pr.ref IS NOT NULL
        AND pr.day >= :first_day AND pr.day <= :last_day
)
SELECT e.end_day, u.building, u.unit, count(DISTINCT u.user_id)
FROM ends e JOIN uses u ON u.day >= e.start_day AND u.day <= e.end_day
GROUP BY e.end_day, u.building, u.unit
HAVING count(DISTINCT u.user_id) >= :min_users
"""


UNIT_OCCUPANTS = """
SELECT h.building, coalesce(h.unit, ''), sum({greatest}(h.registered_occupants, (
    SELECT count(*) FROM residencies r WHERE r.house_code = h.house_code
        AND (r.since IS NULL OR r.since <= :day) AND (r.until IS NULL OR r.until >= :day))))
FROM houses h WHERE h.community = :community
GROUP BY h.building, coalesce(h.unit, '')
"""


def house_users(ends: int) -> str:
    """Distinct registered residents per (window end, house) who used the house's unit door."""
    return f"""
WITH {_ends(ends)}, uses AS MATERIALIZED (
    SELECT pr.building, pr.unit, pr.day, c.person_id FROM presence pr
    JOIN credentials c ON c.community = pr.community AND c.ref = pr.ref AND {VALID_ON_DAY}
    WHERE pr.community = :community AND pr.unit <> ''
        AND pr.day >= :first_day AND pr.day <= :last_day
    UNION
    SELECT pr.building, pr.unit, pr.day, p.person_id FROM presence pr
    JOIN persons p ON p.community = pr.community AND p.id_hash = pr.ref
    WHERE pr.community = :community AND pr.unit <> ''
        AND pr.day >= :first_day AND pr.day <= :last_day
)
SELECT e.end_day, h.house_code, h.building, h.unit, h.registered_occupants,
    count(DISTINCT u.person_id)
FROM ends e
JOIN uses u ON u.day >= e.start_day AND u.day <= e.end_day
JOIN residencies r ON r.person_id = u.person_id AND (r.since IS NULL OR r.since <= u.day)
    AND (r.until IS NULL OR r.until >= u.day)
JOIN houses h ON h.house_code = r.house_code AND h.building = u.building AND h.unit = u.unit
GROUP BY e.end_day, h.house_code, h.building, h.unit, h.registered_occupants
HAVING count(DISTINCT u.person_id) >= :min_users
"""


HEAVY_DAYS = """
SELECT {b_subject_key}, {b_building}, {b_unit}, {local_day}, count(*)
FROM events
WHERE community = :community AND kind = 'access' AND {occurred} >= :since
    AND {occurred} < :until AND {b_result} = 'granted' AND {b_gate} IS NULL
    AND {b_building} IS NOT NULL AND {b_unit} IS NOT NULL AND {b_subject_key} IS NOT NULL
GROUP BY {b_subject_key}, {b_building}, {b_unit}, {local_day}
HAVING count(*) > :more_than
"""

VACANT_TIES = """
SELECT h.house_code, h.building, h.unit, c.ref, NULL FROM houses h
JOIN residencies r ON r.house_code = h.house_code
    AND (r.since IS NULL OR r.since <= :day) AND (r.until IS NULL OR r.until >= :day)
JOIN credentials c ON c.person_id = r.person_id AND c.community = h.community
WHERE h.community = :community AND h.usage = 'vacant' AND h.unit IS NOT NULL
UNION
SELECT h.house_code, h.building, h.unit, p.id_hash, NULL FROM houses h
JOIN residencies r ON r.house_code = h.house_code
    AND (r.since IS NULL OR r.since <= :day) AND (r.until IS NULL OR r.until >= :day)
JOIN persons p ON p.person_id = r.person_id
WHERE h.community = :community AND h.usage = 'vacant' AND h.unit IS NOT NULL
UNION
SELECT h.house_code, h.building, h.unit, NULL, i.subject_key FROM houses h
JOIN inferred_residencies i ON i.house_code = h.house_code AND i.until IS NULL
WHERE h.community = :community AND h.usage = 'vacant' AND h.unit IS NOT NULL
"""
"""What ties a subject to a vacant house: a credential or the ID hash of a person registered
there, or an inferred residency there."""


def subject_events(subjects: int) -> str:
    """Access and face events in [since, until) of `subjects` subject keys `:s_N`."""
    marks = ", ".join(f":s_{n}" for n in range(subjects))
    return f"""
SELECT event_id, {{occurred}}, {{b_subject_key}}, {{b_building}}, {{b_unit}} FROM events
WHERE {{b_subject_key}} IN ({marks}) AND community = :community
    AND kind IN ('access', 'face_capture') AND {{occurred}} >= :since AND {{occurred}} < :until
ORDER BY {{occurred}}, event_id
"""


OCCUPIED_ACTIVITY = f"""
WITH residents AS (
    SELECT h.house_code, h.building, h.unit, p.person_id, p.{{created}} AS created, r.since
    FROM houses h
    JOIN residencies r ON r.house_code = h.house_code
        AND (r.since IS NULL OR r.since <= :day) AND (r.until IS NULL OR r.until >= :day)
    JOIN persons p ON p.person_id = r.person_id
    WHERE h.community = :community AND h.usage <> 'vacant'
), observable AS (
    SELECT DISTINCT house_code FROM residents s
    WHERE EXISTS (SELECT 1 FROM credentials c WHERE c.person_id = s.person_id)
), seen AS (
    SELECT s.house_code,
        max(CASE WHEN pr.{{last}} <= :at THEN pr.{{last}} ELSE pr.{{first}} END) AS last_seen
    FROM residents s
    JOIN credentials c ON c.person_id = s.person_id
    JOIN presence pr {{by_ref}} ON pr.community = c.community AND pr.ref = c.ref
        AND pr.ref IS NOT NULL
        AND {VALID_ON_DAY}
    WHERE pr.day >= :first_day AND pr.{{first}} <= :at AND pr.{{last}} >= :since
    GROUP BY s.house_code
)
SELECT s.house_code, s.building, s.unit, s.created, s.since, seen.last_seen
FROM residents s LEFT JOIN seen ON seen.house_code = s.house_code
WHERE s.house_code IN (SELECT house_code FROM observable)
ORDER BY s.house_code
"""

NOT_REGISTERED = """NOT EXISTS (SELECT 1 FROM vehicles v WHERE v.community = :community
    AND v.plate_no = {plate} AND v.registered
    AND (v.plate_color = {colour} OR {colour} = 'unknown'))"""
"""No registered vehicle of the community has the plate, in its colour (any, when unknown)."""

NIGHT_ENTRIES = f"""
SELECT event_id, {{b_plate_no}}, {{b_plate_color}}, {{occurred}}, {{b_gate}}, device_id,
    {{b_image_url}}
FROM events
WHERE community = :community AND kind = 'vehicle_pass' AND {{occurred}} >= :since
    AND {{occurred}} < :until AND {{night}} AND {{b_direction}} = 'in'
    AND {{b_plate_no}} IS NOT NULL
    AND {NOT_REGISTERED.format(plate="{b_plate_no}", colour="{b_plate_color}")}
ORDER BY {{occurred}}, event_id
"""
"""Entries between 19:00 and 08:00 local (`gateway.store.observations.is_night`)."""

VEHICLE_ENTRIES = f"""
WITH passes AS (
    SELECT event_id, {{occurred}} AS pass_at, {{b_plate_no}} AS plate, {{b_plate_color}} AS colour,
        {{b_direction}} AS direction, {{b_gate}} AS gate, device_id, {{b_image_url}} AS image
    FROM events
    WHERE community = :community AND kind = 'vehicle_pass' AND {{occurred}} >= :since
        AND {{occurred}} <= :until AND {{b_plate_no}} IS NOT NULL
        AND {{b_direction}} IN ('in', 'out')
), ordered AS (
    SELECT passes.*, lead(pass_at) OVER (PARTITION BY plate ORDER BY pass_at, event_id) AS next_at
    FROM passes
)
SELECT o.event_id, o.plate, o.colour, o.pass_at, o.gate, o.device_id, o.image, o.next_at
FROM ordered o
WHERE o.direction = 'in' AND o.pass_at <= :entered_until
    AND {NOT_REGISTERED.format(plate="o.plate", colour="o.colour")}
ORDER BY o.pass_at, o.event_id
"""
