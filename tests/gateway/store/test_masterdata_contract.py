"""The `StoreStore` contract, run on SQLite and on PostgreSQL with TimescaleDB: imports
with exact outcomes, snapshot and explicit ends that keep history, the government reads with
their filters and cursors, the community summary, the audit log and erasure."""

import asyncio
import sqlite3
from base64 import urlsafe_b64encode
from collections.abc import AsyncIterator, Sequence
from contextlib import closing
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from gateway.errors import PayloadError
from gateway.grids import GridMap
from gateway.resolution import annotate
from gateway.store import Store, open_store
from gateway.store.base import EventQuery
from gateway.store.masterdata import (
    AuditEntry,
    CredentialMatch,
    HouseQuery,
    PersonQuery,
    RowRejected,
    VehicleQuery,
)
from gateway.store.micros import to_micros
from gateway.store.observations import local_day
from schemas.devices import DeviceRegistration
from schemas.events import AccessEvent, FaceCapture
from schemas.housing import HouseRecord, Occupancy
from schemas.population import CredentialRecord, PersonRecord, ResidencyEnd, ResidentRecord
from schemas.privacy import subject_key
from schemas.times import CHINA_STANDARD_TIME
from schemas.vehicles import VehicleRecord
from testkit.inspection import database_dump

YIDA = "yida"
JIAXIN = "jiaxin"
TAKEN = "cannot be used: the code is already registered"
"""Why a house code another community holds is refused: nothing names that community."""
TODAY = datetime.now(CHINA_STANDARD_TIME).date()
SEEN_ONLY = "v_" + "e" * 32


def sql(database: str, statement: str, values: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on a connection of our own, outside the store (`?` placeholders)."""
    if database.startswith("sqlite:///"):
        with closing(sqlite3.connect(database.removeprefix("sqlite:///"))) as lite, lite:
            return lite.execute(statement, values).fetchall()
    with psycopg.connect(database, autocommit=True) as pg:
        cursor = pg.execute(statement.replace("?", "%s").encode(), values)
        return cursor.fetchall() if cursor.description else []


def sqlite(database: str) -> bool:
    return database.startswith("sqlite:///")


def at(database: str, when: datetime) -> object:
    """A time as the store keeps it: microseconds on SQLite, timestamptz on PostgreSQL."""
    return to_micros(when) if sqlite(database) else when


def seen(
    database: str,
    subject: str,
    when: datetime,
    *,
    ref: str | None = None,
    community: str = YIDA,
    place: tuple[str, str] = ("B01", "U1"),
) -> None:
    """A presence row as the observation step writes it (helper C's table)."""
    times = "first_us, last_us" if sqlite(database) else "first_at, last_at"
    day = when.astimezone(CHINA_STANDARD_TIME).date()
    sql(
        database,
        f"INSERT INTO presence (community, subject_key, building, unit, day, night, ref, {times})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        # write_batch records the events' own presence (helper C): keep that row when it exists.
        " ON CONFLICT (community, subject_key, building, unit, day) DO NOTHING",
        (
            community,
            subject,
            *place,
            day.isoformat() if sqlite(database) else day,
            False,
            ref,
            at(database, when),
            at(database, when),
        ),
    )


def inferred(
    database: str,
    subject: str,
    *,
    person_id: str | None = None,
    house_code: str | None = "yida-1-1-301",
    place: tuple[str, str] = ("B01", "U1"),
) -> None:
    """A live inferred residency as housekeeping writes it (helper C's table)."""
    columns = (
        "evidence_from_us, evidence_until_us, updated_us"
        if sqlite(database)
        else "evidence_from, evidence_until, updated_at"
    )
    start = TODAY - timedelta(days=13)
    sql(
        database,
        "INSERT INTO inferred_residencies (community, subject_key, building, unit, house_code,"
        f" person_id, confidence, days, night_days, since, {columns})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            YIDA,
            subject,
            *place,
            house_code,
            person_id,
            0.8,
            7,
            3,
            start.isoformat() if sqlite(database) else start,
            at(database, now() - timedelta(days=13)),
            at(database, now() - timedelta(hours=1)),
            at(database, now()),
        ),
    )


def gate_seen(database: str, vehicle_id: str, community: str, plate: str, colour: str) -> None:
    """An unregistered vehicle as the gates' ingest records it (helper C's step)."""
    stamp = "created_us, updated_us" if sqlite(database) else "created_at, updated_at"
    sql(
        database,
        "INSERT INTO vehicles (vehicle_id, community, plate_no, plate_color, registered,"
        f" {stamp}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (vehicle_id, community, plate, colour, False, at(database, now()), at(database, now())),
    )


def now() -> datetime:
    return datetime.now(UTC)


def id_hash(number: int) -> str:
    """A stand-in for an ID number's keyed hash (the store never sees the number)."""
    return f"h1:{number:032x}"


def ref(number: int) -> str:
    """A stand-in for a card's keyed hash (another range than the ID hashes)."""
    return f"h1:{number + 1_000_000:032x}"


def house(code: str, building: str = "B01", **fields: Any) -> HouseRecord:
    values: dict[str, Any] = {
        "house_code": code,
        "building": building,
        "unit": "U1",
        "floor": "3",
        "room": "301",
        "area_m2": Decimal("89.50"),
        "usage": "self_occupied",
        "grid_code": "430112003001001",
        "registered_occupants": 2,
    }
    return HouseRecord.model_validate({**values, **fields})


def person(number: int, **fields: Any) -> PersonRecord:
    values: dict[str, Any] = {
        "id_hash": id_hash(number),
        "id_type": "resident_id_card",
        "id_masked": f"430112********{number:04d}",
        "name_masked": "张*",
        "name_ref": f"n1:{number:032x}",
        "name_sealed": b"sealed-name-" + bytes([number % 256]),
        "phone_masked": "138****5678",
        "phone_ref": f"t1:{number:032x}",
        "phone_sealed": b"sealed-phone",
        "gender": "male",
        "birth_year": 1980,
        "ethnicity": "01",
        "population_type": "registered",
        "tags": ("key_care",),
    }
    return PersonRecord.model_validate({**values, **fields})


def resident(
    number: int, code: str, *, relation: str = "owner", since: date | None = None, **fields: Any
) -> ResidentRecord:
    return ResidentRecord(
        person=person(number, **fields),
        house_code=code,
        relation=relation,
        since=since if since is not None else TODAY - timedelta(days=400),
    )


def credential(number: int, owner: int, **fields: Any) -> CredentialRecord:
    values: dict[str, Any] = {"kind": "card", "ref": ref(number), "owner_id_hash": id_hash(owner)}
    return CredentialRecord.model_validate({**values, **fields})


def vehicle(plate: str, owner: int | None = 1, **fields: Any) -> VehicleRecord:
    values: dict[str, Any] = {
        "plate_no": plate,
        "plate_color": "blue",
        "vehicle_type": "small_car",
        "owner_id_hash": None if owner is None else id_hash(owner),
        "house_code": "yida-1-1-301",
    }
    return VehicleRecord.model_validate({**values, **fields})


async def seed(store: Store) -> None:
    """Two houses in Yida Town, one in Jiaxin; residents 1 and 2 in the first Yida house."""
    await store.apply_houses(
        YIDA, [house("yida-1-1-301"), house("yida-4-1-101", "B04", grid_code=None)], now(), "i0"
    )
    await store.apply_houses(
        JIAXIN, [house("jiaxin-1-1-101", grid_code="430112001002001")], now(), "i0"
    )
    await store.apply_residents(
        YIDA,
        [resident(1, "yida-1-1-301"), resident(2, "yida-1-1-301", relation="spouse")],
        now(),
        "i0",
    )


class TestApplyHouses:
    """Houses upsert by house_code with exact outcomes; a code is one community's only."""

    async def test_new_changed_and_identical_rows_are_counted_apart(self, store: Store) -> None:
        first = await store.apply_houses(
            YIDA, [house("yida-1-1-301"), house("yida-1-1-302")], now(), "i1"
        )
        again = await store.apply_houses(
            YIDA,
            [house("yida-1-1-301"), house("yida-1-1-302", usage="rented"), house("yida-1-1-303")],
            now(),
            "i2",
        )

        assert first == ["accepted", "accepted"]
        assert again == ["unchanged", "updated", "accepted"]

    async def test_the_same_file_twice_changes_nothing(self, store: Store) -> None:
        rows = [house("yida-1-1-301", area_m2=Decimal("90")), house("yida-4-1-101", "B04")]
        await store.apply_houses(YIDA, rows, now(), "i1")

        assert await store.apply_houses(YIDA, rows, now(), "i2") == ["unchanged", "unchanged"]

    async def test_a_code_another_community_holds_is_rejected_and_left_alone(
        self, store: Store
    ) -> None:
        await store.apply_houses(JIAXIN, [house("shared-101", usage="office")], now(), "i1")

        outcome = await store.apply_houses(YIDA, [house("shared-101")], now(), "i2")
        mine = await store.apply_houses(JIAXIN, [house("shared-101", usage="office")], now(), "i3")

        assert outcome == [RowRejected("house_code", TAKEN)]
        assert mine == ["unchanged"]

    async def test_the_refusal_of_a_taken_code_neither_names_nor_confirms_its_community(
        self, store: Store
    ) -> None:
        """House codes are district-unique, so the refusal itself cannot be avoided; its words
        must not say that another community holds the code, nor which one."""
        await store.apply_houses(JIAXIN, [house("shared-102")], now(), "i1")

        (outcome,) = await store.apply_houses(YIDA, [house("shared-102")], now(), "i2")

        assert isinstance(outcome, RowRejected)
        assert "communit" not in outcome.reason
        assert JIAXIN not in outcome.reason

    async def test_a_chunk_of_two_thousand_rows_applies_in_one_call(self, store: Store) -> None:
        rows = [house(f"yida-9-{n:04d}") for n in range(2000)]

        first = await store.apply_houses(YIDA, rows, now(), "i1")
        again = await store.apply_houses(YIDA, rows, now(), "i2")

        assert (first.count("accepted"), again.count("unchanged")) == (2000, 2000)

    async def test_a_code_repeated_in_one_chunk_sees_the_earlier_row(self, store: Store) -> None:
        rows = [house("yida-1-1-301"), house("yida-1-1-301"), house("yida-1-1-301", room="302")]

        assert await store.apply_houses(YIDA, rows, now(), "i1") == [
            "accepted",
            "unchanged",
            "updated",
        ]


class TestApplyResidents:
    """Residents upsert the person by (community, id_hash) and the residency by (person, house)."""

    async def test_outcomes_compare_values_not_seals(self, store: Store) -> None:
        await seed(store)

        outcomes = await store.apply_residents(
            YIDA,
            [
                resident(1, "yida-1-1-301", name_sealed=b"another nonce, same name"),
                resident(2, "yida-1-1-301", relation="spouse", phone_ref="t1:changed-phone"),
                resident(3, "yida-1-1-301", relation="child"),
                resident(1, "yida-4-1-101"),
            ],
            now(),
            "i1",
        )

        assert outcomes == ["unchanged", "updated", "accepted", "accepted"]

    async def test_a_changed_relation_or_tag_is_an_update(self, store: Store) -> None:
        await seed(store)

        outcomes = await store.apply_residents(
            YIDA,
            [resident(1, "yida-1-1-301", relation="tenant"), resident(2, "yida-1-1-301", tags=())],
            now(),
            "i1",
        )

        assert outcomes == ["updated", "updated"]

    async def test_unknown_houses_and_other_communities_houses_are_rejected(
        self, store: Store
    ) -> None:
        await seed(store)

        outcomes = await store.apply_residents(
            YIDA,
            [resident(5, "nowhere-1"), resident(5, "jiaxin-1-1-101"), resident(5, "yida-4-1-101")],
            now(),
            "i1",
        )

        rejected = RowRejected("house_code", "names no house of this community")
        assert outcomes == [rejected, rejected, "accepted"]

    async def test_the_same_id_hash_in_another_community_is_another_record(
        self, store: Store
    ) -> None:
        await seed(store)

        outcomes = await store.apply_residents(JIAXIN, [resident(1, "jiaxin-1-1-101")], now(), "i1")

        assert outcomes == ["accepted"]


class TestVisitorBecomesResident:
    """A visitor record becomes the resident an import brings, keeping its person_id."""

    async def test_the_visitor_record_is_taken_over(self, store: Store, database: str) -> None:
        await seed(store)
        visitor(database, 7, "yida-1-1-301", now() - timedelta(days=3), now() - timedelta(days=2))

        outcome = await store.apply_residents(
            YIDA, [resident(7, "yida-4-1-101", population_type="floating")], now(), "i1"
        )
        found = await store.get_person(f"p_{7:032x}")

        assert outcome == ["accepted"]
        assert found is not None
        assert (found.population_type, found.id_masked) == ("floating", "430112********0007")
        assert [r.house_code for r in found.residencies] == ["yida-4-1-101"]


class TestApplyVehicles:
    """Vehicles upsert by (community, plate, colour) as registered; owners and houses must exist."""

    async def test_outcomes_and_store_level_rejections(self, store: Store) -> None:
        await seed(store)
        await store.apply_vehicles(YIDA, [vehicle("湘A8K2C6")], now(), "i1")

        outcomes = await store.apply_vehicles(
            YIDA,
            [
                vehicle("湘A8K2C6"),
                vehicle("湘A8K2C6", plate_color="green"),
                vehicle("湘A12345", owner=2, vehicle_type="suv"),
                vehicle("湘A99999", owner=9),
                vehicle("湘A77777", house_code="jiaxin-1-1-101"),
                vehicle("湘A66666", owner=None, house_code=None),
            ],
            now(),
            "i2",
        )

        assert outcomes == [
            "unchanged",
            "accepted",
            "accepted",
            RowRejected("owner_id_number", "names no resident of this community"),
            RowRejected("house_code", "names no house of this community"),
            "accepted",
        ]
        changed = await store.apply_vehicles(YIDA, [vehicle("湘A12345", owner=1)], now(), "i3")
        assert changed == ["updated"]

    async def test_an_owner_of_another_community_is_unknown_here(self, store: Store) -> None:
        await seed(store)

        outcomes = await store.apply_vehicles(
            JIAXIN, [vehicle("湘A8K2C6", house_code="jiaxin-1-1-101")], now(), "i1"
        )

        assert outcomes == [RowRejected("owner_id_number", "names no resident of this community")]


class TestApplyCredentials:
    """Credentials upsert by (community, ref); their holder must be a resident of the community."""

    async def test_outcomes_and_unknown_owner(self, store: Store) -> None:
        await seed(store)
        await store.apply_credentials(YIDA, [credential(1, 1), credential(2, 2)], now(), "i1")

        outcomes = await store.apply_credentials(
            YIDA,
            [
                credential(1, 1),
                credential(2, 2, until=TODAY + timedelta(days=30)),
                credential(3, 1, kind="employee_no"),
                credential(4, 7),
            ],
            now(),
            "i2",
        )

        assert outcomes == [
            "unchanged",
            "updated",
            "accepted",
            RowRejected("owner_id_number", "names no resident of this community"),
        ]

    async def test_a_card_passing_to_another_holder_is_an_update(self, store: Store) -> None:
        await seed(store)
        await store.apply_credentials(YIDA, [credential(1, 1)], now(), "i1")

        assert await store.apply_credentials(YIDA, [credential(1, 2)], now(), "i2") == ["updated"]


def holders(matches: Sequence[CredentialMatch]) -> list[tuple[str, date | None, date | None]]:
    return sorted(((m.person_id, m.since, m.until) for m in matches), key=lambda h: h[0])


class TestHolderHistory:
    """A card handed to another person keeps its earlier holder for the earlier days."""

    async def test_a_handover_without_since_starts_today(self, store: Store) -> None:
        """The first holder's row ends yesterday; the new holder's starts today; last week's
        event still resolves to the first holder."""
        await seed(store)
        first, second = await person_of(store, YIDA, 1), await person_of(store, YIDA, 2)
        await store.apply_credentials(YIDA, [credential(1, 1)], now(), "i1")
        await store.apply_credentials(YIDA, [credential(1, 2)], now(), "i2")

        matches = await store.resolve_refs([(YIDA, ref(1))])
        assert holders(matches) == sorted(
            [(first, None, TODAY - timedelta(days=1)), (second, TODAY, None)]
        )
        old, new = door(24 * 7, ref(1), None), door(0, ref(1), None)
        annotated = annotate([old, new], matches, [])
        assert [e.person_id for e in annotated if isinstance(e, AccessEvent)] == [first, second]

    async def test_a_handover_with_since_ends_the_holder_the_day_before(self, store: Store) -> None:
        """A dated handover ends the previous holder the day before it."""
        await seed(store)
        first, second = await person_of(store, YIDA, 1), await person_of(store, YIDA, 2)
        start = TODAY - timedelta(days=3)
        await store.apply_credentials(YIDA, [credential(1, 1)], now(), "i1")
        await store.apply_credentials(YIDA, [credential(1, 2, since=start)], now(), "i2")
        assert holders(await store.resolve_refs([(YIDA, ref(1))])) == sorted(
            [(first, None, start - timedelta(days=1)), (second, start, None)]
        )

    async def test_the_same_holder_reimported_updates_its_own_row(self, store: Store) -> None:
        """Re-importing the new holder leaves both rows; identical is unchanged, a changed
        until updates the holder's row only."""
        await seed(store)
        await store.apply_credentials(YIDA, [credential(1, 1)], now(), "i1")
        await store.apply_credentials(YIDA, [credential(1, 2)], now(), "i2")
        assert await store.apply_credentials(YIDA, [credential(1, 2)], now(), "i3") == ["unchanged"]
        until = TODAY + timedelta(days=9)
        assert await store.apply_credentials(
            YIDA, [credential(1, 2, until=until)], now(), "i4"
        ) == ["updated"]
        second = await person_of(store, YIDA, 2)
        rows = holders(await store.resolve_refs([(YIDA, ref(1))]))
        assert len(rows) == 2
        assert (second, TODAY, until) in rows

    async def test_a_card_given_to_the_wrong_person_is_corrected_the_same_day(
        self, store: Store
    ) -> None:
        """Naming another holder from the day the current holder's row began replaces them:
        the earlier holder keeps the days before, and nobody keeps the wrong hand-over."""
        await seed(store)
        await store.apply_residents(YIDA, [resident(3, "yida-1-1-301")], now(), "i0")
        first, second, third = [await person_of(store, YIDA, n) for n in (1, 2, 3)]
        await store.apply_credentials(YIDA, [credential(1, 1)], now(), "i1")
        await store.apply_credentials(YIDA, [credential(1, 2)], now(), "i2")  # the wrong one
        assert await store.apply_credentials(YIDA, [credential(1, 3)], now(), "i3") == ["updated"]
        assert holders(await store.resolve_refs([(YIDA, ref(1))])) == sorted(
            [(first, None, TODAY - timedelta(days=1)), (third, TODAY, None)]
        )
        assert second not in {
            match.person_id for match in await store.resolve_refs([(YIDA, ref(1))])
        }

    async def test_a_since_before_the_previous_holders_is_rejected(self, store: Store) -> None:
        """A handover dated before the current holder began is refused, nothing written."""
        await seed(store)
        begun = TODAY - timedelta(days=5)
        await store.apply_credentials(YIDA, [credential(1, 1, since=begun)], now(), "i1")
        outcome = await store.apply_credentials(
            YIDA, [credential(1, 2, since=begun - timedelta(days=1))], now(), "i2"
        )
        assert outcome == [RowRejected("since", "is not after the previous holder's since")]
        first = await person_of(store, YIDA, 1)
        assert holders(await store.resolve_refs([(YIDA, ref(1))])) == [(first, begun, None)]

    async def test_a_snapshot_ends_only_the_unlisted_holder_rows(self, store: Store) -> None:
        """A snapshot listing the new holder keeps the old holder's ended row as it was."""
        await seed(store)
        first, second = await person_of(store, YIDA, 1), await person_of(store, YIDA, 2)
        await store.apply_credentials(YIDA, [credential(1, 1), credential(2, 1)], now(), "i1")
        await store.apply_credentials(YIDA, [credential(1, 2)], now(), "i2")
        ended = await store.end_unlisted(YIDA, "credentials", "i2", TODAY)
        assert ended == 1  # card 2; card 1's first holder had ended already
        assert holders(await store.resolve_refs([(YIDA, ref(1))])) == sorted(
            [(first, None, TODAY - timedelta(days=1)), (second, TODAY, None)]
        )


class TestIdempotency:
    """Every dataset sent twice is unchanged row for row."""

    async def test_each_file_twice(self, store: Store) -> None:
        await seed(store)
        residents = [resident(n, "yida-4-1-101", relation="tenant") for n in range(3, 6)]
        vehicles = [vehicle("湘A8K2C6"), vehicle("湘A12345", owner=None, house_code=None)]
        credentials = [credential(1, 1), credential(2, 2, since=TODAY - timedelta(days=9))]
        files: list[tuple[Any, Sequence[Any]]] = [
            (store.apply_residents, residents),
            (store.apply_vehicles, vehicles),
            (store.apply_credentials, credentials),
        ]

        for apply, rows in files:
            assert set(await apply(YIDA, rows, now(), "i1")) == {"accepted"}
            assert set(await apply(YIDA, rows, now(), "i2")) == {"unchanged"}


class TestSnapshot:
    """A snapshot import ends what the community has and the import no longer lists."""

    async def test_unlisted_residencies_credentials_and_vehicles_end(self, store: Store) -> None:
        await seed(store)
        await store.apply_credentials(YIDA, [credential(1, 1), credential(2, 2)], now(), "i0")
        await store.apply_vehicles(YIDA, [vehicle("湘A8K2C6"), vehicle("湘A12345")], now(), "i0")
        await store.apply_residents(JIAXIN, [resident(1, "jiaxin-1-1-101")], now(), "j0")

        await store.apply_residents(YIDA, [resident(1, "yida-1-1-301")], now(), "s1")
        await store.apply_credentials(YIDA, [credential(1, 1)], now(), "s1")
        await store.apply_vehicles(YIDA, [vehicle("湘A8K2C6")], now(), "s1")
        ended = [
            await store.end_unlisted(YIDA, dataset, "s1", TODAY)
            for dataset in ("residents", "credentials", "vehicles", "houses")
        ]
        repeated = await store.end_unlisted(YIDA, "residents", "s1", TODAY)

        assert ended == [1, 1, 1, 0]
        assert repeated == 0
        listed_again = await store.apply_residents(
            YIDA,
            [resident(2, "yida-1-1-301", relation="spouse")],
            now(),
            "s2",
        )
        assert listed_again == ["updated"]  # the ended residency reopens
        assert await store.apply_residents(
            JIAXIN, [resident(1, "jiaxin-1-1-101")], now(), "j1"
        ) == ["unchanged"]


class TestEndResidencies:
    """Ending a residency keeps it, with its last day; unknown ones are rejected."""

    async def test_end_outcomes(self, store: Store) -> None:
        await seed(store)
        last_day = TODAY - timedelta(days=1)

        outcomes = await store.end_residencies(
            YIDA,
            [
                ResidencyEnd(id_hash=id_hash(1), house_code="yida-1-1-301", until=last_day),
                ResidencyEnd(id_hash=id_hash(1), house_code="yida-4-1-101", until=last_day),
                ResidencyEnd(id_hash=id_hash(9), house_code="yida-1-1-301", until=last_day),
                ResidencyEnd(
                    id_hash=id_hash(2),
                    house_code="yida-1-1-301",
                    until=TODAY - timedelta(days=1000),
                ),
            ],
            now(),
        )
        again = await store.end_residencies(
            YIDA,
            [ResidencyEnd(id_hash=id_hash(1), house_code="yida-1-1-301", until=last_day)],
            now(),
        )

        unknown = RowRejected("id_number", "names no registered residency of that house")
        assert outcomes == [
            "updated",
            unknown,
            unknown,
            RowRejected("until", "is before the residency began"),
        ]
        assert again == ["unchanged"]


async def person_of(store: Store, community: str, number: int) -> str:
    """The person_id the community's record of ID number `number` got."""
    page = await store.list_persons(PersonQuery(community=community, limit=1000))
    ids = [p.person_id for p in page.data if p.id_masked == f"430112********{number:04d}"]
    assert len(ids) == 1
    return ids[0]


async def all_pages(fetch: Any, limit: int) -> list[list[str]]:
    """Every page's keys, following `next_cursor` to the end."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        page = await fetch(limit, cursor)
        pages.append([_key(item) for item in page.data])
        cursor = page.next_cursor
        if cursor is None:
            return pages


def _key(item: Any) -> str:
    for name in ("person_id", "house_code", "vehicle_id"):
        if hasattr(item, name):
            return str(getattr(item, name))
    return str(item.id)


class TestPersons:
    """Persons read masked, per community, with every residency they had."""

    async def test_a_person_reads_masked_with_residencies(self, store: Store) -> None:
        await seed(store)
        person_id = await person_of(store, YIDA, 1)

        found = await store.get_person(person_id)

        assert found is not None
        assert (found.community, found.id_masked, found.name_masked, found.phone_masked) == (
            YIDA,
            "430112********0001",
            "张*",
            "138****5678",
        )
        assert (found.name, found.phone, found.tags, found.gender) == (
            None,
            None,
            ["key_care"],
            "male",
        )
        assert [(r.house_code, r.relation, r.source, r.until) for r in found.residencies] == [
            ("yida-1-1-301", "owner", "property", None)
        ]
        assert await store.get_person("p_" + "0" * 32) is None

    async def test_the_same_id_hash_in_two_communities_is_never_visible_across(
        self, store: Store
    ) -> None:
        await seed(store)
        await store.apply_residents(JIAXIN, [resident(1, "jiaxin-1-1-101")], now(), "j1")

        yida = await store.list_persons(PersonQuery(community=YIDA))
        jiaxin = await store.list_persons(PersonQuery(community=JIAXIN))

        assert len(yida.data) == 2
        assert len(jiaxin.data) == 1
        assert jiaxin.data[0].person_id not in {p.person_id for p in yida.data}
        assert [r.house_code for r in jiaxin.data[0].residencies] == ["jiaxin-1-1-101"]

    async def test_an_ended_residency_stays_answerable_but_no_longer_places_the_person(
        self, store: Store
    ) -> None:
        await seed(store)
        moved_in = TODAY - timedelta(days=250)
        moved_out = TODAY - timedelta(days=200)
        await store.apply_residents(
            YIDA, [resident(3, "yida-4-1-101", since=moved_in)], now(), "i1"
        )
        await store.end_residencies(
            YIDA,
            [ResidencyEnd(id_hash=id_hash(3), house_code="yida-4-1-101", until=moved_out)],
            now(),
        )
        person_id = await person_of(store, YIDA, 3)

        found = await store.get_person(person_id)
        in_b04 = await store.list_persons(PersonQuery(building="B04"))

        assert found is not None
        assert [(r.house_code, r.since, r.until) for r in found.residencies] == [
            ("yida-4-1-101", moved_in, moved_out)
        ]
        assert in_b04.data == []

    async def test_filters_by_type_tag_building_and_grid(self, store: Store, database: str) -> None:
        await seed(store)
        await store.apply_residents(
            YIDA,
            [
                resident(
                    3, "yida-4-1-101", population_type="floating", tags=("elderly_living_alone",)
                ),
                resident(4, "yida-4-1-101", population_type="floating", tags=()),
            ],
            now(),
            "i1",
        )
        await store.apply_residents(
            JIAXIN, [resident(5, "jiaxin-1-1-101", population_type="floating")], now(), "j1"
        )
        lodger = await person_of(store, YIDA, 4)
        inferred(database, subject_key(YIDA, ref(40)), person_id=lodger, house_code=None)

        async def masks(**filters: Any) -> list[str]:
            page = await store.list_persons(PersonQuery(**filters))
            return sorted(str(p.id_masked)[-4:] for p in page.data)

        assert await masks(population_type="floating") == ["0003", "0004", "0005"]
        assert await masks(community=YIDA, population_type="floating") == ["0003", "0004"]
        assert await masks(tag="key_care") == ["0001", "0002", "0005"]
        assert await masks(tag="elderly_living_alone") == ["0003"]
        assert await masks(building="B04") == ["0003", "0004"]
        assert await masks(building="B01") == ["0001", "0002", "0004", "0005"]
        assert await masks(community=YIDA, building="B01") == ["0001", "0002", "0004"]
        assert await masks(grid="430112003001001") == ["0001", "0002"]
        assert await masks(grid="430112001002001") == ["0005"]
        found = await store.get_person(lodger)
        assert found is not None
        assert [(r.source, r.building, r.unit, r.confidence) for r in found.residencies] == [
            ("property", None, None, None),
            ("inferred", "B01", "U1", 0.8),
        ]

    async def test_pages_cover_everyone_once_in_a_stable_order(self, store: Store) -> None:
        await seed(store)
        await store.apply_residents(
            YIDA, [resident(n, "yida-4-1-101") for n in range(3, 8)], now(), "i1"
        )

        async def fetch(limit: int, cursor: str | None) -> Any:
            return await store.list_persons(PersonQuery(community=YIDA, limit=limit, cursor=cursor))

        pages = await all_pages(fetch, 3)
        everyone = [key for page in pages for key in page]

        assert [len(page) for page in pages] == [3, 3, 1]
        assert everyone == sorted(everyone)
        assert len(set(everyone)) == 7
        assert await all_pages(fetch, 3) == pages

    async def test_a_place_lists_a_person_once_however_many_ways_they_live_there(
        self, store: Store, database: str
    ) -> None:
        await seed(store)
        await store.apply_houses(YIDA, [house("yida-1-2-302")], now(), "i1")
        await store.apply_residents(YIDA, [resident(1, "yida-1-2-302")], now(), "i1")
        owner = await person_of(store, YIDA, 1)
        inferred(database, subject_key(YIDA, ref(41)), person_id=owner)

        async def keys(**filters: Any) -> list[str]:
            page = await store.list_persons(PersonQuery(**filters))
            return [p.person_id for p in page.data]

        both = sorted([owner, await person_of(store, YIDA, 2)])
        assert await keys(grid="430112003001001") == both
        assert await keys(building="B01", community=YIDA) == both
        assert await keys(building="B01", grid="430112003001001") == both

    async def test_pages_of_a_place_cover_everyone_once_within_the_scope(
        self, store: Store
    ) -> None:
        await seed(store)
        await store.apply_houses(JIAXIN, [house("jiaxin-1-1-102")], now(), "j1")
        await store.apply_residents(
            YIDA, [resident(n, "yida-1-1-301") for n in range(3, 8)], now(), "i1"
        )
        await store.apply_residents(JIAXIN, [resident(9, "jiaxin-1-1-102")], now(), "j1")

        def fetch(**filters: Any) -> Any:
            async def page(limit: int, cursor: str | None) -> Any:
                return await store.list_persons(PersonQuery(limit=limit, cursor=cursor, **filters))

            return page

        grid = await all_pages(fetch(grid="430112003001001"), 2)
        yida = await all_pages(fetch(grid="430112003001001", communities=frozenset({YIDA})), 2)
        nowhere = await all_pages(fetch(building="B01", communities=frozenset()), 2)
        everyone = [key for page in grid for key in page]

        assert [len(page) for page in grid] == [2, 2, 2, 2]
        assert everyone == sorted(everyone)
        assert len(set(everyone)) == 8
        assert await person_of(store, JIAXIN, 9) in everyone
        assert sorted(key for page in yida for key in page) == sorted(
            set(everyone) - {await person_of(store, JIAXIN, 9)}
        )
        assert nowhere == [[]]

    async def test_edited_or_foreign_cursors_are_refused(self, store: Store) -> None:
        await seed(store)
        first = await store.list_persons(PersonQuery(limit=1))
        assert first.next_cursor is not None
        edited = urlsafe_b64encode(b"person|p_' OR 1=1 --").decode()
        house_cursor = urlsafe_b64encode(b"house|yida-1-1-301").decode()

        for cursor in (edited, house_cursor, first.next_cursor[:-2], "not base64!"):
            with pytest.raises(PayloadError) as refused:
                await store.list_persons(PersonQuery(cursor=cursor))
            assert refused.value.reason == "bad_cursor"

    async def test_sealed_contacts_are_the_stored_seals(self, store: Store) -> None:
        await seed(store)
        person_id = await person_of(store, YIDA, 1)

        contacts = await store.sealed_contacts([person_id, "p_" + "0" * 32])

        assert [(c.person_id, c.name_sealed, c.phone_sealed) for c in contacts] == [
            (person_id, b"sealed-name-\x01", b"sealed-phone")
        ]


class TestHouses:
    """Houses read with their occupants, who of them were seen lately, and the last activity."""

    async def test_a_card_seen_counts_for_its_holder_of_that_day(
        self, store: Store, database: str
    ) -> None:
        """A card seen before it passed to a resident of another house makes its earlier
        holder observed, not the new one."""
        await seed(store)
        await store.apply_residents(YIDA, [resident(4, "yida-4-1-101")], now(), "i1")
        await store.apply_credentials(YIDA, [credential(1, 1)], now(), "i1")
        await store.apply_credentials(YIDA, [credential(1, 4)], now(), "i2")
        seen(database, subject_key(YIDA, ref(1)), now() - timedelta(days=2), ref=ref(1))
        since = now() - timedelta(days=14)

        earlier = await store.get_house("yida-1-1-301", since)
        later = await store.get_house("yida-4-1-101", since)

        assert earlier is not None and later is not None
        assert (earlier.observed_occupants, later.observed_occupants) == (1, 0)
        assert later.last_activity_at is None

    async def test_occupants_observed_and_last_activity(self, store: Store, database: str) -> None:
        await seed(store)
        await store.apply_residents(
            YIDA, [resident(3, "yida-1-1-301", relation="child")], now(), "i1"
        )
        await store.apply_credentials(YIDA, [credential(1, 1)], now(), "i1")
        await store.end_residencies(
            YIDA,
            [
                ResidencyEnd(
                    id_hash=id_hash(3), house_code="yida-1-1-301", until=TODAY - timedelta(days=1)
                )
            ],
            now(),
        )
        card_seen = now() - timedelta(days=2)
        lodger_seen = now() - timedelta(hours=3)
        seen(database, subject_key(YIDA, ref(1)), card_seen, ref=ref(1))
        seen(database, subject_key(YIDA, id_hash(2)), now() - timedelta(days=30), ref=id_hash(2))
        seen(
            database,
            subject_key(YIDA, id_hash(2)),
            now() - timedelta(hours=1),
            ref=id_hash(2),
            community=JIAXIN,
        )
        lodger = subject_key(YIDA, "track:cam-1:77")
        seen(database, lodger, lodger_seen)
        inferred(database, lodger)

        found = await store.get_house("yida-1-1-301", now() - timedelta(days=14))

        assert found is not None
        assert [(o.relation, o.source, o.subject_key) for o in found.occupants] == [
            (o.relation, "property", None) for o in found.occupants[:2]
        ] + [(None, "inferred", lodger)]
        assert sorted(str(o.relation) for o in found.occupants[:2]) == ["owner", "spouse"]
        assert found.observed_occupants == 2
        assert found.last_activity_at == lodger_seen
        assert (found.registered_occupants, found.usage, found.area_m2) == (
            2,
            "self_occupied",
            89.5,
        )
        assert await store.get_house("nowhere", now()) is None

    async def test_filters_and_pages(self, store: Store) -> None:
        await store.apply_houses(
            YIDA,
            [house(f"yida-1-1-{n}", usage="rented" if n % 2 else "vacant") for n in range(301, 306)]
            + [house("yida-4-1-101", "B04", grid_code="430112003001002")],
            now(),
            "i1",
        )
        await store.apply_houses(
            JIAXIN, [house("jiaxin-1-1-101", grid_code="430112001002001")], now(), "j1"
        )

        async def codes(**filters: Any) -> list[str]:
            page = await store.list_houses(HouseQuery(**filters), now())
            return [h.house_code for h in page.data]

        async def fetch(limit: int, cursor: str | None) -> Any:
            return await store.list_houses(
                HouseQuery(community=YIDA, limit=limit, cursor=cursor), now()
            )

        assert await codes(usage="vacant") == ["yida-1-1-302", "yida-1-1-304"]
        assert await codes(building="B04") == ["yida-4-1-101"]
        assert await codes(grid="430112001002001") == ["jiaxin-1-1-101"]
        assert await codes(community=JIAXIN) == ["jiaxin-1-1-101"]
        assert await all_pages(fetch, 4) == [
            ["yida-1-1-301", "yida-1-1-302", "yida-1-1-303", "yida-1-1-304"],
            ["yida-1-1-305", "yida-4-1-101"],
        ]


class TestVehicles:
    """Vehicles read by plate in every colour, registered or only seen at the gates."""

    async def test_plate_filter_finds_every_colour(self, store: Store, database: str) -> None:
        await seed(store)
        await store.apply_vehicles(
            YIDA,
            [
                vehicle("湘A8K2C6"),
                vehicle("湘A8K2C6", plate_color="green"),
                vehicle("湘A12345", owner=2),
            ],
            now(),
            "i1",
        )
        gate_seen(database, SEEN_ONLY, JIAXIN, "湘A8K2C6", "yellow")

        everywhere = await store.list_vehicles(VehicleQuery(plate_no="湘A8K2C6"))
        unregistered = await store.list_vehicles(VehicleQuery(registered=False))
        yida = await store.list_vehicles(VehicleQuery(community=YIDA, registered=True))
        one = await store.get_vehicle(yida.data[0].vehicle_id)

        assert sorted(v.plate_color for v in everywhere.data) == ["blue", "green", "yellow"]
        assert [(v.community, v.registered) for v in unregistered.data] == [(JIAXIN, False)]
        assert len(yida.data) == 3
        assert one == yida.data[0]
        assert one.owner_person_id is not None and one.house_code == "yida-1-1-301"
        assert await store.get_vehicle("v_" + "0" * 32) is None

    async def test_an_unregistered_record_becomes_the_imported_vehicle(
        self, store: Store, database: str
    ) -> None:
        await seed(store)
        gate_seen(database, SEEN_ONLY, YIDA, "湘A8K2C6", "unknown")

        outcome = await store.apply_vehicles(YIDA, [vehicle("湘A8K2C6")], now(), "i1")
        found = await store.get_vehicle(SEEN_ONLY)

        assert outcome == ["updated"]
        assert found is not None
        assert (found.plate_color, found.registered) == ("blue", True)


def visitor(
    database: str, number: int, host: str, valid_from: datetime, valid_until: datetime
) -> None:
    """A visitor record as the visitor step writes it (helper C's step)."""
    visit = "visit_from_us, visit_until_us" if sqlite(database) else "visit_from, visit_until"
    stamp = "created_us, updated_us" if sqlite(database) else "created_at, updated_at"
    sql(
        database,
        "INSERT INTO persons (person_id, community, id_hash, population_type, visit_house,"
        f" {visit}, {stamp}) VALUES (?, ?, ?, 'visitor', ?, ?, ?, ?, ?)",
        (
            f"p_{number:032x}",
            YIDA,
            id_hash(number),
            host,
            at(database, valid_from),
            at(database, valid_until),
            at(database, now()),
            at(database, now()),
        ),
    )


def device(device_id: str, **place: str) -> DeviceRegistration:
    return DeviceRegistration.model_validate(
        {"device_id": device_id, "dialect": "hik-isapi", "community": YIDA, **place}
    )


class TestCommunitySummary:
    """The summary counts the community's master data and observations, and each grid's."""

    async def test_figures_of_the_community_and_its_grids(
        self, store: Store, database: str
    ) -> None:
        await seed(store)
        await store.apply_houses(YIDA, [house("yida-1-1-302", usage="rented")], now(), "i1")
        await store.apply_residents(
            YIDA,
            [
                resident(3, "yida-4-1-101", population_type="floating"),
                resident(4, "yida-1-1-302", population_type="floating"),
            ],
            now(),
            "i1",
        )
        await store.end_residencies(
            YIDA,
            [
                ResidencyEnd(
                    id_hash=id_hash(4), house_code="yida-1-1-302", until=TODAY - timedelta(days=3)
                )
            ],
            now(),
        )
        await store.apply_residents(JIAXIN, [resident(5, "jiaxin-1-1-101")], now(), "j1")
        await store.apply_credentials(YIDA, [credential(1, 1)], now(), "i1")
        await store.apply_vehicles(
            YIDA, [vehicle("湘A8K2C6"), vehicle("湘A12345", owner=2)], now(), "i1"
        )
        gate_seen(database, SEEN_ONLY, YIDA, "湘B00001", "blue")
        visitor(
            database, 90, "yida-1-1-301", now() - timedelta(hours=1), now() + timedelta(hours=3)
        )
        visitor(database, 91, "yida-1-1-301", now() - timedelta(days=2), now() - timedelta(days=1))
        seen(database, subject_key(YIDA, ref(1)), now() - timedelta(days=2), ref=ref(1))
        seen(database, subject_key(YIDA, id_hash(2)), now() - timedelta(days=30), ref=id_hash(2))
        seen(database, subject_key(YIDA, id_hash(3)), now() - timedelta(hours=2), ref=id_hash(3))
        inferred(database, subject_key(YIDA, "track:cam-1:77"))
        await store.upsert_devices(
            [
                device("43011200001320000001", building="B01", unit="U1"),
                device("43011200001320000013", gate="South gate"),
                device("43011200001320000099"),
            ]
        )
        sql(
            database,
            "UPDATE devices SET status = 'online' WHERE device_id = '43011200001320000001'",
        )
        sql(
            database,
            "UPDATE devices SET status = 'offline' WHERE device_id = '43011200001320000099'",
        )
        community = GridMap.load().community(YIDA)
        assert community is not None

        summary = await store.community_summary(YIDA, now(), 14, community.grids)

        assert summary is not None
        assert (summary.community, summary.observed_window_days) == (YIDA, 14)
        assert summary.houses_by_usage == {"rented": 1, "self_occupied": 2}
        assert summary.persons_by_population_type == {"floating": 1, "registered": 2}
        assert summary.current_visitors == 1
        assert (summary.vehicles_registered, summary.vehicles_unregistered) == (2, 1)
        assert summary.occupancy == Occupancy(registered=3, observed=3)
        assert (summary.devices_online, summary.devices_offline, summary.devices_unknown) == (
            1,
            1,
            1,
        )
        first, second = summary.grids
        assert (first.grid_code, first.name) == ("430112003001001", "亿达小镇第一网格")
        assert first.houses_by_usage == {"rented": 1, "self_occupied": 1}
        assert first.persons_by_population_type == {"registered": 2}
        assert (first.current_visitors, first.vehicles_registered, first.vehicles_unregistered) == (
            1,
            2,
            0,
        )
        assert first.occupancy == Occupancy(registered=2, observed=2)
        assert (first.devices_online, first.devices_unknown) == (1, 0)
        assert second.grid_code == "430112003001002"
        assert second.houses_by_usage == {"self_occupied": 1}
        assert second.persons_by_population_type == {"floating": 1}
        assert (second.current_visitors, second.vehicles_registered) == (0, 0)
        assert second.occupancy == Occupancy(registered=1, observed=1)
        assert (second.devices_online, second.devices_unknown) == (0, 1)

    async def test_a_community_without_data_has_no_summary(self, store: Store) -> None:
        await seed(store)

        assert await store.community_summary("nowhere", now(), 14, ()) is None


class TestAudit:
    """Audit entries are kept as written and read newest first, page by page."""

    async def test_entries_round_trip_and_page(self, store: Store) -> None:
        written = [
            AuditEntry(
                at=now() - timedelta(minutes=10 - n),
                actor="admin",
                action="person.unmask",
                community=YIDA,
                records=(f"p_{n:032x}",),
                reason="case 2026-17",
                details={"rows": n},
            )
            for n in range(5)
        ]
        ids = [await store.write_audit(entry) for entry in written]

        async def fetch(limit: int, cursor: str | None) -> Any:
            return await store.list_audit(limit, cursor)

        pages = await all_pages(fetch, 2)
        first = await store.list_audit(1, None)

        assert pages == [
            [str(i) for i in ids[::-1][:2]],
            [str(i) for i in ids[::-1][2:4]],
            [str(ids[0])],
        ]
        assert first.data == [replace(written[4], id=ids[4])]
        with pytest.raises(PayloadError):
            await store.list_audit(2, urlsafe_b64encode(b"audit|0").decode())


def door(number: int, credential: str | None, key: str | None) -> AccessEvent:
    when = now() - timedelta(hours=number)
    return AccessEvent(
        event_id=f"evt-{number:06d}",
        community=YIDA,
        device_id="43011200001320000001",
        occurred_at=when,
        received_at=when + timedelta(seconds=1),
        dialect="hik-isapi",
        building="B01",
        unit="U1",
        direction="in",
        method="card",
        result="granted",
        credential=credential,
        subject_key=key,
        vendor_code="5/0x1",
    )


def face(number: int, matched: str, key: str) -> FaceCapture:
    when = now() - timedelta(hours=number)
    return FaceCapture(
        event_id=f"face-{number:06d}",
        community=YIDA,
        device_id="43011200001310000001",
        occurred_at=when,
        received_at=when + timedelta(seconds=1),
        dialect="hik-isapi",
        matched_person_ref=matched,
        subject_key=key,
    )


class TestErasure:
    """Erasing a person removes them and what links events to them, and nothing else."""

    async def test_erasure_removes_exactly_the_person(self, store: Store, database: str) -> None:
        await seed(store)
        await store.apply_credentials(YIDA, [credential(1, 1), credential(2, 2)], now(), "i1")
        await store.apply_vehicles(YIDA, [vehicle("湘A8K2C6")], now(), "i1")
        await store.apply_residents(JIAXIN, [resident(1, "jiaxin-1-1-101")], now(), "j1")
        erased = await person_of(store, YIDA, 1)
        kept = await person_of(store, YIDA, 2)
        twin = await person_of(store, JIAXIN, 1)
        mine, theirs = subject_key(YIDA, ref(1)), subject_key(YIDA, ref(2))
        by_id = subject_key(YIDA, id_hash(1))
        await store.write_batch(
            [
                door(1, ref(1), mine),
                face(2, id_hash(1), by_id),
                door(3, ref(2), theirs),
            ],
            [],
        )
        seen(database, mine, now() - timedelta(hours=1), ref=ref(1))
        seen(database, by_id, now() - timedelta(hours=2), ref=id_hash(1))
        seen(database, theirs, now() - timedelta(hours=3), ref=ref(2))
        inferred(
            database, subject_key(YIDA, id_hash(1)), person_id=erased, house_code="yida-4-1-101"
        )
        audit = AuditEntry(
            at=now(),
            actor="admin",
            action="person.erase",
            community=YIDA,
            records=(erased,),
            reason="PIPL request",
        )

        assert await store.erase_person(erased, audit) is True

        assert await store.get_person(erased) is None
        assert await store.get_person(kept) is not None
        assert await store.get_person(twin) is not None
        events = {e.event_id: e for e in (await store.list_events(EventQuery())).data}
        assert len(events) == 3
        stripped = events["evt-000001"]
        assert isinstance(stripped, AccessEvent)
        assert (stripped.credential, stripped.subject_key, stripped.building) == (None, None, "B01")
        matched = events["face-000002"]
        assert isinstance(matched, FaceCapture)
        assert (matched.matched_person_ref, matched.subject_key) == (None, None)
        other = events["evt-000003"]
        assert isinstance(other, AccessEvent)
        assert (other.credential, other.subject_key) == (ref(2), theirs)
        assert sql(database, "SELECT subject_key FROM presence") == [(theirs,)]
        assert sql(database, "SELECT count(*) FROM inferred_residencies") == [(0,)]
        assert sql(database, "SELECT count(*) FROM credentials") == [(1,)]
        assert sql(database, "SELECT count(*) FROM residencies") == [(2,)]
        vehicles = await store.list_vehicles(VehicleQuery())
        assert [(v.plate_no, v.owner_person_id) for v in vehicles.data] == [("湘A8K2C6", None)]
        entries = await store.list_audit(10, None)
        assert [(e.action, e.records, e.reason) for e in entries.data] == [
            ("person.erase", (erased,), "PIPL request")
        ]
        assert await store.erase_person(erased, audit) is False
        assert len((await store.list_audit(10, None)).data) == 1

    async def test_erasure_keeps_what_another_holder_of_the_card_left(
        self, store: Store, database: str
    ) -> None:
        """Erasing a card's second holder strips the card's events and presence from their
        holding on, and leaves the first holder's earlier ones linked."""
        await seed(store)
        await store.apply_credentials(YIDA, [credential(1, 1)], now(), "i1")
        await store.apply_credentials(YIDA, [credential(1, 2)], now(), "i2")
        erased = await person_of(store, YIDA, 2)
        key = subject_key(YIDA, ref(1))
        earlier, later = door(24 * 7, ref(1), key), door(0, ref(1), key)
        await store.write_batch([earlier, later], [])
        audit = AuditEntry(
            at=now(), actor="admin", action="person.erase", community=YIDA, records=(erased,)
        )

        assert await store.erase_person(erased, audit) is True

        events = {e.event_id: e for e in (await store.list_events(EventQuery())).data}
        kept, stripped = events[earlier.event_id], events[later.event_id]
        assert isinstance(kept, AccessEvent) and isinstance(stripped, AccessEvent)
        assert (kept.credential, kept.subject_key) == (ref(1), key)
        assert (stripped.credential, stripped.subject_key) == (None, None)
        days = [str(d) for (d,) in sql(database, "SELECT day FROM presence")]
        assert days == [str(local_day(earlier.occurred_at))]
        first = await person_of(store, YIDA, 1)
        assert holders(await store.resolve_refs([(YIDA, ref(1))])) == [
            (first, None, TODAY - timedelta(days=1))
        ]

    async def test_nothing_of_the_erased_person_stays_in_the_files(
        self, store: Store, database: str
    ) -> None:
        """After erasure, no masked name, ID mask, hash, card ref or subject key of the person
        is left in the database: rows, and for SQLite the raw file and its WAL."""
        await seed(store)
        await store.apply_residents(
            YIDA, [resident(7, "yida-4-1-101", name_masked="欧**锋")], now(), "i1"
        )
        await store.apply_credentials(YIDA, [credential(7, 7)], now(), "i1")
        erased = await person_of(store, YIDA, 7)
        keys = [subject_key(YIDA, ref(7)), subject_key(YIDA, id_hash(7))]
        await store.write_batch([door(1, ref(7), keys[0]), face(2, id_hash(7), keys[1])], [])
        seen(database, keys[0], now() - timedelta(hours=1), ref=ref(7))
        audit = AuditEntry(
            at=now(), actor="admin", action="person.erase", community=YIDA, records=(erased,)
        )
        assert await store.erase_person(erased, audit) is True
        dump = database_dump(database)
        planted = ["欧**锋", "430112********0007", id_hash(7), ref(7), *keys]
        assert [value for value in planted if value in dump] == []
        assert "张*" in dump  # the other residents are still there: the dump reads the data


@pytest.fixture
async def rival_stores(pg_dsn: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores on one PostgreSQL database: two gateways importing at once."""
    first, second = open_store(pg_dsn), open_store(pg_dsn)
    await first.open()
    await first.migrate()
    await second.open()
    yield first, second
    await first.close()
    await second.close()


class TestConcurrentImports:
    """Concurrent imports on PostgreSQL: no error, and each outcome says what was written."""

    async def test_the_same_new_residents_imported_twice_at_once(
        self, rival_stores: tuple[Store, Store]
    ) -> None:
        """One import inserts each resident, the other finds them unchanged; nothing fails."""
        first, second = rival_stores
        await seed(first)
        for round_no in range(4):
            numbers = range(100 + 200 * round_no, 300 + 200 * round_no)
            rows = [resident(n, "yida-4-1-101") for n in numbers]
            outcomes = await asyncio.gather(
                first.apply_residents(YIDA, rows, now(), f"a{round_no}"),
                second.apply_residents(YIDA, rows, now(), f"b{round_no}"),
            )
            assert sorted({tuple(set(o)) for o in outcomes}) == [("accepted",), ("unchanged",)]
        page = await first.list_persons(PersonQuery(community=YIDA, limit=1000))
        assert len(page.data) == 2 + 4 * 200

    async def test_a_house_code_two_communities_take_at_once(
        self, rival_stores: tuple[Store, Store], pg_dsn: str
    ) -> None:
        """Exactly one community gets each new code; the other's row is rejected, never
        reported accepted."""
        first, second = rival_stores
        for round_no in range(4):
            codes = [f"x-{round_no}-{n}" for n in range(200)]
            yida, jiaxin = await asyncio.gather(
                first.apply_houses(YIDA, [house(c) for c in codes], now(), f"y{round_no}"),
                second.apply_houses(
                    JIAXIN,
                    [house(c, grid_code="430112001002001") for c in codes],
                    now(),
                    f"j{round_no}",
                ),
            )
            elsewhere = RowRejected("house_code", TAKEN)
            winners = {YIDA: set(yida) == {"accepted"}, JIAXIN: set(jiaxin) == {"accepted"}}
            assert sorted(winners.values()) == [False, True]
            loser = jiaxin if winners[YIDA] else yida
            assert set(loser) == {elsewhere}
            held = sql(
                pg_dsn, "SELECT DISTINCT community FROM houses WHERE house_code = ANY(?)", [codes]
            )
            assert held == [(YIDA if winners[YIDA] else JIAXIN,)]

    async def test_one_communitys_import_does_not_wait_for_anothers(
        self, rival_stores: tuple[Store, Store], pg_dsn: str
    ) -> None:
        """Jiaxin's houses are written while a Yida import is held up mid-transaction (by a
        row lock of our own on one of Yida's houses); Yida's then finishes as well."""
        first, second = rival_stores
        await first.apply_houses(YIDA, [house("y-held")], now(), "y0")
        async with await psycopg.AsyncConnection.connect(pg_dsn) as holder:
            await holder.execute(b"SELECT 1 FROM houses WHERE house_code = 'y-held' FOR UPDATE")
            held_up = asyncio.create_task(
                first.apply_houses(YIDA, [house("y-held", building="B02")], now(), "y1")
            )
            for _ in range(6000):  # until Yida's import holds its lock (a minute at most)
                if sql(
                    pg_dsn,
                    "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND pid <> pg_backend_pid()",
                ):
                    break
                await asyncio.sleep(0.01)
            else:
                pytest.fail("the Yida import never took its lock")
            jiaxin = await second.apply_houses(
                JIAXIN, [house("j-free", grid_code="430112001002001")], now(), "j1"
            )
            assert jiaxin == ["accepted"]
            assert not held_up.done()
            await holder.rollback()
            assert await held_up == ["updated"]
