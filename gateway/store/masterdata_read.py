"""The government reads of master data, shared by every backend: list filters, opaque keyset
cursors, and the assembly of public models from rows a backend has already decoded (dates as
`date`, times as aware `datetime`, tags as lists).

Lists are in key order (person_id, house_code, vehicle_id; audit newest first), so a cursor
stays correct while rows are added. Person and vehicle ids are random, so that order reveals
nothing.
"""

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, TypeVar

from gateway.errors import PayloadError
from gateway.store.base import Page
from gateway.store.masterdata import HouseQuery, PersonQuery, VehicleQuery
from gateway.store.scope import scope_clause
from schemas.housing import HousePublic, OccupantPublic
from schemas.population import PersonPublic, ResidencyPublic, VisitPublic
from schemas.times import CHINA_STANDARD_TIME
from schemas.vehicles import VehiclePublic

T = TypeVar("T")

_KEY_PATTERNS: Final = {
    "person": re.compile(r"p_[0-9a-f]{32}"),
    "house": re.compile(r"[0-9A-Za-z][0-9A-Za-z_.\-]{0,63}"),
    "vehicle": re.compile(r"v_[0-9a-f]{32}"),
    "audit": re.compile(r"[1-9][0-9]{0,18}"),
}


def local_day(at: datetime) -> date:
    """The China Standard Time day of `at`: the day `since`/`until` dates are counted in."""
    return at.astimezone(CHINA_STANDARD_TIME).date()


def encode_cursor(kind: str, key: str) -> str:
    """An opaque cursor: the last key of a page, tagged with what it pages."""
    return base64.urlsafe_b64encode(f"{kind}|{key}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, token: str) -> str:
    """The key a cursor of `kind` holds; anything else (another list's cursor, an edited one)
    is refused as `bad_cursor`."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        tag, key = raw.split("|", 1)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise PayloadError("bad_cursor", "the cursor is not one this API issued") from None
    if tag != kind or not _KEY_PATTERNS[kind].fullmatch(key):
        raise PayloadError("bad_cursor", "the cursor is not one this API issued")
    return key


def page_of(items: list[T], limit: int, kind: str, key: Callable[[T], str]) -> Page[T]:
    """Cut a `limit + 1` fetch into a page; the extra row only proves there is a next one."""
    if len(items) <= limit:
        return Page[T](data=items, next_cursor=None)
    return Page[T](data=items[:limit], next_cursor=encode_cursor(kind, key(items[limit - 1])))


@dataclass
class Where:
    """A WHERE clause under construction, in one backend's placeholder style."""

    placeholder: str
    clauses: list[str]
    params: list[object]

    def add(self, clause: str, *values: object) -> None:
        self.clauses.append(clause.replace("?", self.placeholder))
        self.params.extend(values)

    def sql(self) -> str:
        return f"WHERE {' AND '.join(self.clauses)}" if self.clauses else ""

    def scope(self, column: str, communities: frozenset[str] | None) -> None:
        """Keep `column` within the caller's scope (`gateway.store.scope`)."""
        scoped = scope_clause(column, communities, self.placeholder)
        if scoped is not None:
            self.clauses.append(scoped[0])
            self.params.extend(scoped[1])


def one_where(
    column: str, key: str, communities: frozenset[str] | None, placeholder: str, scoped: str
) -> Where:
    """The record whose `column` is `key`, if its `scoped` community column is within the
    caller's scope. The scope is in the query, not checked after it: another community's
    record is then not read at all, so it costs what a missing one does and its existence
    shows in no answer's timing."""
    where = Where(placeholder, [], [])
    where.add(f"{column} = ?", key)
    where.scope(scoped, communities)
    return where


def person_where(query: PersonQuery, placeholder: str, tag_clause: str, today: object) -> Where:
    """Filters of a person list. `tag_clause` tests `p.tags` for one tag (one `?`); grid and
    building match a person's current registered residencies and live inferred ones.

    The place filter is a semi-join driven from the place: the houses of the grid (or of the
    building) and their residencies give the candidate persons, by index, instead of testing
    every person in key order for a residency there. A house, its residencies and inferred
    residencies and their persons all belong to one community (imports refuse a house of
    another community, inference pairs only a community's own houses and credentials), so the
    community filter and the scope also restrict the houses, which lets a building be found
    through the (community, building) index rather than in every community."""
    where = Where(placeholder, [], [])
    if query.cursor is not None:
        where.add("p.person_id > ?", decode_cursor("person", query.cursor))
    if query.community is not None:
        where.add("p.community = ?", query.community)
    where.scope("p.community", query.communities)
    if query.population_type is not None:
        where.add("p.population_type = ?", query.population_type)
    if query.tag is not None:
        where.add(tag_clause, query.tag)
    if query.grid is not None or query.building is not None:
        registered = Where(placeholder, [], [])
        inferred = Where(placeholder, [], [])
        if query.community is not None:
            registered.add("h.community = ?", query.community)
            inferred.add("i.community = ?", query.community)
        registered.scope("h.community", query.communities)
        inferred.scope("i.community", query.communities)
        if query.building is not None:
            registered.add("h.building = ?", query.building)
            inferred.add("i.building = ?", query.building)
        if query.grid is not None:
            registered.add("h.grid_code = ?", query.grid)
            inferred.add("h.grid_code = ?", query.grid)
        registered.add("(r.until IS NULL OR r.until >= ?)", today)
        inferred.add("i.until IS NULL")
        houses = (
            " JOIN houses h ON h.house_code = i.house_code AND h.community = i.community"
            if query.grid is not None
            else ""
        )
        where.add(
            "p.person_id IN (SELECT r.person_id FROM houses h"
            f" JOIN residencies r ON r.house_code = h.house_code {registered.sql()}"
            f" UNION ALL SELECT i.person_id FROM inferred_residencies i{houses}"
            f" {inferred.sql()})",
            *registered.params,
            *inferred.params,
        )
    return where


def house_where(query: HouseQuery, placeholder: str) -> Where:
    where = Where(placeholder, [], [])
    if query.cursor is not None:
        where.add("house_code > ?", decode_cursor("house", query.cursor))
    for column, value in (
        ("community", query.community),
        ("grid_code", query.grid),
        ("building", query.building),
        ("usage", query.usage),
    ):
        if value is not None:
            where.add(f"{column} = ?", value)
    where.scope("community", query.communities)
    return where


def vehicle_where(query: VehicleQuery, placeholder: str, registered: object) -> Where:
    """`registered` is the backend's spelling of the filter's value (1/0 or true/false)."""
    where = Where(placeholder, [], [])
    if query.cursor is not None:
        where.add("vehicle_id > ?", decode_cursor("vehicle", query.cursor))
    if query.community is not None:
        where.add("community = ?", query.community)
    where.scope("community", query.communities)
    if query.plate_no is not None:
        where.add("plate_no = ?", query.plate_no)
    if query.registered is not None:
        where.add("registered = ?", registered)
    return where


def audit_where(cursor: str | None, communities: frozenset[str] | None, placeholder: str) -> Where:
    """Filters of the audit list: after `cursor`, within the caller's scope (an entry of no
    community, a watch-list change, is only in an unrestricted scope)."""
    where = Where(placeholder, [], [])
    if cursor is not None:
        where.add("id < ?", int(decode_cursor("audit", cursor)))
    where.scope("community", communities)
    return where


def residency(row: Mapping[str, Any]) -> ResidencyPublic:
    """A `residencies` row (registered) or an `inferred_residencies` row (with confidence)."""
    inferred = row.get("confidence") is not None
    return ResidencyPublic(
        house_code=row["house_code"],
        building=row.get("building"),
        unit=row.get("unit"),
        relation=row.get("relation"),
        source="inferred" if inferred else "property",
        since=row["since"],
        until=row["until"],
        confidence=row.get("confidence"),
        evidence_from=row.get("evidence_from"),
        evidence_until=row.get("evidence_until"),
    )


def person_public(row: Mapping[str, Any], residencies: Sequence[ResidencyPublic]) -> PersonPublic:
    """A `persons` row as read; `visit` only for a person with a visit on record."""
    visit = None
    if row["visit_house"] is not None or row["visit_from"] is not None:
        visit = VisitPublic(
            host_house=row["visit_house"],
            valid_from=row["visit_from"],
            valid_until=row["visit_until"],
        )
    return PersonPublic(
        person_id=row["person_id"],
        community=row["community"],
        id_type=row["id_type"],
        id_masked=row["id_masked"],
        name_masked=row["name_masked"],
        phone_masked=row["phone_masked"],
        nationality=row["nationality"],
        gender=row["gender"],
        birth_year=row["birth_year"],
        ethnicity=row["ethnicity"],
        population_type=row["population_type"],
        tags=list(row["tags"]),
        residencies=list(residencies),
        visit=visit,
        updated_at=row["updated_at"],
    )


def persons_with_residencies(
    rows: Sequence[Mapping[str, Any]], residencies: Iterable[Mapping[str, Any]]
) -> list[PersonPublic]:
    """Persons in row order, each with their residencies, registered first, oldest first."""
    by_person: dict[str, list[ResidencyPublic]] = {row["person_id"]: [] for row in rows}
    for found in residencies:
        by_person[found["person_id"]].append(residency(found))
    for lived in by_person.values():
        lived.sort(key=lambda r: (r.source != "property", r.since or date.min, r.house_code or ""))
    return [person_public(row, by_person[row["person_id"]]) for row in rows]


def houses_with_occupants(
    rows: Sequence[Mapping[str, Any]],
    occupants: Iterable[Mapping[str, Any]],
    last_seen: Mapping[str, datetime],
    observed_since: datetime,
) -> list[HousePublic]:
    """Houses with their current occupants: registered ones (`last_seen` by person_id) count as
    observed when seen since `observed_since`, live inferred ones always do (their evidence is
    recent by definition). `last_activity_at` is the newest sighting of any occupant; inferred
    occupants' sightings are looked up by `subject_key` in `last_seen`."""
    found: dict[str, list[tuple[OccupantPublic, datetime | None]]] = {
        row["house_code"]: [] for row in rows
    }
    for occupant in occupants:
        inferred = occupant.get("confidence") is not None
        key = occupant["subject_key"] if inferred else occupant["person_id"]
        found[occupant["house_code"]].append(
            (
                OccupantPublic(
                    person_id=occupant["person_id"],
                    subject_key=occupant["subject_key"] if inferred else None,
                    name_masked=occupant["name_masked"],
                    relation=occupant.get("relation"),
                    source="inferred" if inferred else "property",
                    confidence=occupant.get("confidence"),
                ),
                last_seen.get(key),
            )
        )
    houses = []
    for row in rows:
        living = found[row["house_code"]]
        seen = [at for _, at in living if at is not None]
        houses.append(
            HousePublic(
                **row,
                occupants=[occupant for occupant, _ in living],
                observed_occupants=sum(
                    1
                    for occupant, at in living
                    if occupant.source == "inferred" or (at is not None and at >= observed_since)
                ),
                last_activity_at=max(seen, default=None),
            )
        )
    return houses


def vehicle_public(row: Mapping[str, Any]) -> VehiclePublic:
    return VehiclePublic(**{**row, "registered": bool(row["registered"])})
