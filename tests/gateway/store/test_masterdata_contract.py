"""The `MasterDataStore` contract, run on SQLite and on PostgreSQL with TimescaleDB: imports
with exact outcomes, snapshot and explicit ends that keep history, the government reads with
their filters and cursors, the community summary, the audit log and erasure."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from gateway.store import open_store
from gateway.store.masterdata import RowRejected
from gateway.store.postgres import PostgresStore
from gateway.store.sqlite import SqliteStore
from schemas.housing import HouseRecord
from schemas.population import CredentialRecord, PersonRecord, ResidencyEnd, ResidentRecord
from schemas.times import CHINA_STANDARD_TIME
from schemas.vehicles import VehicleRecord

YIDA = "yida"
JIAXIN = "jiaxin"
TODAY = datetime.now(CHINA_STANDARD_TIME).date()

MasterData = SqliteStore | PostgresStore


@pytest.fixture
async def store(database: str) -> AsyncIterator[MasterData]:
    opened = open_store(database)
    assert isinstance(opened, SqliteStore | PostgresStore)
    await opened.open()
    await opened.migrate()
    yield opened
    await opened.close()


def now() -> datetime:
    return datetime.now(UTC)


def id_hash(number: int) -> str:
    """A stand-in for an ID number's keyed hash (the store never sees the number)."""
    return f"h1:{number:032x}"


def ref(number: int) -> str:
    return f"c1:{number:032x}"


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


async def seed(store: MasterData) -> None:
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

    async def test_new_changed_and_identical_rows_are_counted_apart(
        self, store: MasterData
    ) -> None:
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

    async def test_the_same_file_twice_changes_nothing(self, store: MasterData) -> None:
        rows = [house("yida-1-1-301", area_m2=Decimal("90")), house("yida-4-1-101", "B04")]
        await store.apply_houses(YIDA, rows, now(), "i1")

        assert await store.apply_houses(YIDA, rows, now(), "i2") == ["unchanged", "unchanged"]

    async def test_a_code_another_community_holds_is_rejected_and_left_alone(
        self, store: MasterData
    ) -> None:
        await store.apply_houses(JIAXIN, [house("shared-101", usage="office")], now(), "i1")

        outcome = await store.apply_houses(YIDA, [house("shared-101")], now(), "i2")
        mine = await store.apply_houses(JIAXIN, [house("shared-101", usage="office")], now(), "i3")

        assert outcome == [RowRejected("house_code", "is held by another community")]
        assert mine == ["unchanged"]

    async def test_a_code_repeated_in_one_chunk_sees_the_earlier_row(
        self, store: MasterData
    ) -> None:
        rows = [house("yida-1-1-301"), house("yida-1-1-301"), house("yida-1-1-301", room="302")]

        assert await store.apply_houses(YIDA, rows, now(), "i1") == [
            "accepted",
            "unchanged",
            "updated",
        ]


class TestApplyResidents:
    """Residents upsert the person by (community, id_hash) and the residency by (person, house)."""

    async def test_outcomes_compare_values_not_seals(self, store: MasterData) -> None:
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

    async def test_a_changed_relation_or_tag_is_an_update(self, store: MasterData) -> None:
        await seed(store)

        outcomes = await store.apply_residents(
            YIDA,
            [resident(1, "yida-1-1-301", relation="tenant"), resident(2, "yida-1-1-301", tags=())],
            now(),
            "i1",
        )

        assert outcomes == ["updated", "updated"]

    async def test_unknown_houses_and_other_communities_houses_are_rejected(
        self, store: MasterData
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
        self, store: MasterData
    ) -> None:
        await seed(store)

        outcomes = await store.apply_residents(JIAXIN, [resident(1, "jiaxin-1-1-101")], now(), "i1")

        assert outcomes == ["accepted"]


class TestApplyVehicles:
    """Vehicles upsert by (community, plate, colour) as registered; owners and houses must exist."""

    async def test_outcomes_and_store_level_rejections(self, store: MasterData) -> None:
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

    async def test_an_owner_of_another_community_is_unknown_here(self, store: MasterData) -> None:
        await seed(store)

        outcomes = await store.apply_vehicles(
            JIAXIN, [vehicle("湘A8K2C6", house_code="jiaxin-1-1-101")], now(), "i1"
        )

        assert outcomes == [RowRejected("owner_id_number", "names no resident of this community")]


class TestApplyCredentials:
    """Credentials upsert by (community, ref); their holder must be a resident of the community."""

    async def test_outcomes_and_unknown_owner(self, store: MasterData) -> None:
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

    async def test_a_card_passing_to_another_holder_is_an_update(self, store: MasterData) -> None:
        await seed(store)
        await store.apply_credentials(YIDA, [credential(1, 1)], now(), "i1")

        assert await store.apply_credentials(YIDA, [credential(1, 2)], now(), "i2") == ["updated"]


class TestSnapshot:
    """A snapshot import ends what the community has and the import no longer lists."""

    async def test_unlisted_residencies_credentials_and_vehicles_end(
        self, store: MasterData
    ) -> None:
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

    async def test_end_outcomes(self, store: MasterData) -> None:
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
