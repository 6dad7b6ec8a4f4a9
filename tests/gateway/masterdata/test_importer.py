"""Specification of the importer (`gateway.masterdata.importer`) on both stores: exact counts
and lines, idempotency, store-level rejections, snapshots, explicit ends, the audit entry, and
no raw personal value anywhere in the database."""

import asyncio
import io
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import datetime

import pytest

from gateway.grids import GridMap
from gateway.masterdata.importer import EmptySnapshotError, Importer, ImportReport, Rejection
from gateway.masterdata.readers import open_table
from gateway.pii import ContactVault
from gateway.store import open_store
from gateway.store.masterdata import Dataset, PersonQuery, VehicleQuery
from gateway.store.postgres import PostgresStore
from gateway.store.sqlite import SqliteStore
from schemas.privacy import Pseudonymizer
from schemas.times import CHINA_STANDARD_TIME
from testkit.inspection import database_dump
from tests.gateway.masterdata.files import bad_check_digit, csv_bytes, id_number, json_bytes

KEY = "importer-test-hash-key-0123456789"
HOUSES: list[dict[str, object]] = [
    {"house_code": f"yida-1-1-{room}", "building": "B01", "unit": "1", "room": str(room)}
    for room in (101, 102, 201)
]
RESIDENTS: list[dict[str, object]] = [
    {
        "id_number": id_number(n),
        "name": name,
        "phone": f"1381234{n:04d}",
        "population_type": "registered",
        "house_code": f"yida-1-1-{room}",
        "relation": "owner",
        "tags": ["key_care"],
    }
    for n, name, room in ((11, "雷小琴", 101), (12, "欧阳锋锋", 102), (13, "张三", 201))
]
RESIDENT_COLUMNS = ("id_number", "name", "phone", "population_type", "house_code", "relation")


@pytest.fixture
async def store(database: str) -> AsyncIterator[SqliteStore | PostgresStore]:
    opened = open_store(database)
    assert isinstance(opened, SqliteStore | PostgresStore)
    await opened.open()
    await opened.migrate()
    yield opened
    await opened.close()


def importer(store: SqliteStore | PostgresStore, chunk_rows: int = 2) -> Importer:
    return Importer(
        store, GridMap.load(), Pseudonymizer(KEY), ContactVault(KEY), chunk_rows=chunk_rows
    )


async def run_json(
    store: SqliteStore | PostgresStore,
    dataset: Dataset,
    rows: Sequence[Mapping[str, object]],
    *,
    snapshot: bool = False,
) -> ImportReport:
    table = open_table(io.BytesIO(json_bytes(rows)), "json")
    return await importer(store).run("yida", dataset, table.rows(), snapshot=snapshot)


def counts(report: ImportReport) -> tuple[int, int, int, list[Rejection]]:
    return report.accepted, report.updated, report.unchanged, report.rejected


class TestImport:
    """Valid rows applied, bad rows rejected whole with their line, in input order."""

    async def test_counts_lines_and_idempotency(self, store: SqliteStore | PostgresStore) -> None:
        assert counts(await run_json(store, "houses", HOUSES)) == (3, 0, 0, [])
        rows = [
            RESIDENTS[0],
            {**RESIDENTS[1], "id_number": bad_check_digit(RESIDENTS[1]["id_number"])},  # type: ignore[arg-type]
            {**RESIDENTS[2], "house_code": "yida-9-9-999"},
            RESIDENTS[1],
        ]
        first = await run_json(store, "residents", rows)
        assert counts(first) == (
            2,
            0,
            0,
            [
                Rejection(2, "id_number", "fails the GB 11643 check digit"),
                Rejection(3, "house_code", "names no house of this community"),
            ],
        )
        again = await run_json(store, "residents", rows)
        assert (again.accepted, again.updated, again.unchanged, len(again.rejected)) == (0, 0, 2, 2)
        changed = await run_json(store, "residents", [{**RESIDENTS[0], "phone": "13900000000"}])
        assert counts(changed) == (0, 1, 0, [])

    async def test_a_csv_file_in_gbk(self, store: SqliteStore | PostgresStore) -> None:
        await run_json(store, "houses", HOUSES)
        data = csv_bytes(RESIDENT_COLUMNS, RESIDENTS, encoding="gbk")
        table = open_table(io.BytesIO(data), "csv")
        report = await importer(store).run("yida", "residents", table.rows())
        assert counts(report) == (3, 0, 0, [])
        page = await store.list_persons(PersonQuery(community="yida"))
        assert sorted(p.name_masked or "" for p in page.data) == ["张*", "欧**锋", "雷*琴"]

    async def test_missing_owners_are_rejected(self, store: SqliteStore | PostgresStore) -> None:
        await run_json(store, "houses", HOUSES)
        await run_json(store, "residents", RESIDENTS[:1])
        vehicles: list[dict[str, object]] = [
            {"plate_no": "湘A·8K2C6", "owner_id_number": RESIDENTS[0]["id_number"]},
            {"plate_no": "湘A12345", "owner_id_number": id_number(99)},
        ]
        report = await run_json(store, "vehicles", vehicles)
        assert counts(report) == (
            1,
            0,
            0,
            [Rejection(2, "owner_id_number", "names no resident of this community")],
        )
        page = await store.list_vehicles(VehicleQuery(community="yida"))
        assert [v.plate_no for v in page.data] == ["湘A8K2C6"]
        credentials: list[dict[str, object]] = [
            {"kind": "card", "value": "0012345678", "owner_id_number": id_number(98)},
            {"kind": "card", "value": "0012345679", "owner_id_number": RESIDENTS[0]["id_number"]},
        ]
        report = await run_json(store, "credentials", credentials)
        assert counts(report) == (
            1,
            0,
            0,
            [Rejection(1, "owner_id_number", "names no resident of this community")],
        )

    async def test_progress_reports_rows_read(self, store: SqliteStore | PostgresStore) -> None:
        seen: list[int] = []
        table = open_table(io.BytesIO(json_bytes(HOUSES)), "json")
        await importer(store).run("yida", "houses", table.rows(), progress=seen.append)
        assert seen == [2, 3]

    async def test_async_and_list_sources(self, store: SqliteStore | PostgresStore) -> None:
        async def numbered() -> AsyncIterator[tuple[int, dict[str, object]]]:
            for line, row in enumerate(HOUSES[:2], start=1):
                yield line, row

        assert counts(await importer(store).run("yida", "houses", numbered())) == (2, 0, 0, [])
        listed: list[tuple[int, dict[str, object]]] = [
            (1, HOUSES[0]),
            (2, HOUSES[2]),
            (3, {"building": "B01"}),
        ]
        report = await importer(store).run("yida", "houses", listed)
        assert counts(report) == (1, 0, 1, [Rejection(3, "house_code", "is required")])

    async def test_one_audit_entry_per_import(self, store: SqliteStore | PostgresStore) -> None:
        await run_json(store, "houses", [*HOUSES, {"house_code": "bad code", "building": "B01"}])
        page = await store.list_audit(10, None)
        [entry] = page.data
        assert (entry.action, entry.actor, entry.community, entry.records) == (
            "property.import",
            "admin",
            "yida",
            ("houses",),
        )
        assert entry.details == {
            "accepted": 3,
            "updated": 0,
            "unchanged": 0,
            "rejected": 1,
            "snapshot": 0,
            "ended": 0,
            "aborted": 0,
        }

    async def test_an_import_that_fails_halfway_is_audited(
        self, store: SqliteStore | PostgresStore
    ) -> None:
        def rows() -> Iterator[tuple[int, dict[str, object]]]:
            yield from enumerate(HOUSES, start=1)
            raise OSError("the upload broke off")

        with pytest.raises(OSError):
            await importer(store).run("yida", "houses", rows())
        [entry] = (await store.list_audit(10, None)).data
        assert entry.details is not None
        assert (entry.details["accepted"], entry.details["aborted"]) == (2, 1)


class TestConcurrency:
    """Imports of one community run one at a time, on both stores."""

    async def test_concurrent_imports_of_the_same_new_residents(
        self, store: SqliteStore | PostgresStore
    ) -> None:
        await run_json(store, "houses", HOUSES)
        reports = await asyncio.gather(*(run_json(store, "residents", RESIDENTS) for _ in range(3)))
        assert sorted(counts(report) for report in reports) == [
            (0, 0, 3, []),
            (0, 0, 3, []),
            (3, 0, 0, []),
        ]

    async def test_concurrent_snapshots_of_one_file_end_nothing(
        self, store: SqliteStore | PostgresStore
    ) -> None:
        await run_json(store, "houses", HOUSES)
        await run_json(store, "residents", RESIDENTS)
        runs = (run_json(store, "residents", RESIDENTS, snapshot=True) for _ in range(3))
        reports = await asyncio.gather(*runs)
        assert [report.ended for report in reports] == [0, 0, 0]
        assert await current_residents(store) == 3


class TestEmptySnapshot:
    """A snapshot without a valid row is refused and ends nothing."""

    async def test_refused(self, store: SqliteStore | PostgresStore) -> None:
        await run_json(store, "houses", HOUSES)
        await run_json(store, "residents", RESIDENTS)
        for rows in ([], [{**RESIDENTS[0], "id_number": "1"}]):
            with pytest.raises(EmptySnapshotError) as refused:
                await run_json(store, "residents", rows, snapshot=True)
            assert len(refused.value.report.rejected) == len(rows)
        assert await current_residents(store) == 3


class TestSnapshot:
    """A snapshot ends what the file no longer lists, and only when no row was rejected."""

    async def test_unlisted_residencies_end(self, store: SqliteStore | PostgresStore) -> None:
        await run_json(store, "houses", HOUSES)
        await run_json(store, "residents", RESIDENTS)
        bad = {**RESIDENTS[1], "id_number": "1"}
        refused = await run_json(store, "residents", [RESIDENTS[0], bad], snapshot=True)
        assert len(refused.rejected) == 1
        assert await current_residents(store) == 3
        ended = await run_json(store, "residents", RESIDENTS[:1], snapshot=True)
        assert counts(ended) == (0, 0, 1, [])
        entry = (await store.list_audit(10, None)).data
        assert {e.details["ended"] for e in entry if e.details.get("snapshot")} == {0, 2}


async def current_residents(store: SqliteStore | PostgresStore) -> int:
    """Residents whose registered residency is still open (until not yet set)."""
    page = await store.list_persons(PersonQuery(community="yida"))
    return sum(
        1
        for p in page.data
        if any(r.until is None and r.source == "property" for r in p.residencies)
    )


class TestEndResidencies:
    """Explicit ends keep the residency with its `until`; unknown ones are rejected."""

    async def test_ends(self, store: SqliteStore | PostgresStore) -> None:
        await run_json(store, "houses", HOUSES)
        await run_json(store, "residents", RESIDENTS)
        today = datetime.now(CHINA_STANDARD_TIME).date().isoformat()
        items: list[object] = [
            {"id_number": RESIDENTS[0]["id_number"], "house_code": "yida-1-1-101", "until": today},
            {"id_number": RESIDENTS[1]["id_number"], "house_code": "yida-1-1-201", "until": today},
            {"id_number": RESIDENTS[2]["id_number"], "house_code": "yida-1-1-201"},
            "not an object",
        ]
        report = await importer(store).end_residencies("yida", items)
        assert report.updated == 1
        assert [(r.line, r.field) for r in report.rejected] == [
            (2, "id_number"),
            (3, "until"),
            (4, "<row>"),
        ]
        assert await current_residents(store) == 2
        audit = (await store.list_audit(10, None)).data[0]
        assert (audit.action, audit.records) == ("property.residencies_end", ("yida-1-1-101",))


class TestPrivacy:
    """No raw ID number, name or phone of any imported row is in the database."""

    async def test_database_dump(self, store: SqliteStore | PostgresStore, database: str) -> None:
        await run_json(store, "houses", HOUSES)
        await run_json(store, "residents", RESIDENTS)
        await run_json(
            store,
            "credentials",
            [
                {"kind": "id_number", "value": r["id_number"], "owner_id_number": r["id_number"]}
                for r in RESIDENTS
            ],
        )
        dump = database_dump(database)
        assert "yida-1-1-101" in dump  # the dump holds the import
        for row in RESIDENTS:
            for field in ("id_number", "name", "phone"):
                assert str(row[field]) not in dump, field
