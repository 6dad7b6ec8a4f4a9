"""The hourly flow rollup on both stores: it counts what the stored events say, newly stored
events only (a redelivery never counts twice), by UTC hour or China Standard Time day, within
the caller's scope, and migration 0014 fills it from events stored before it existed. It
holds counts only. Times are relative to the real now."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from gateway.store import Store, open_store
from gateway.store.flow import (
    HOUR,
    MEASURE_SQL,
    MEASURES,
    FlowBucket,
    FlowRow,
    bucket_start,
    hour_of,
    step_of,
)
from schemas.codes import AccessResult, Direction, VisitorAction
from schemas.events import (
    AccessEvent,
    BehaviourAlarm,
    DeviceEvent,
    DeviceStatusEvent,
    DoorStateEvent,
    FaceCapture,
    VehiclePass,
    VisitorEvent,
)
from tests.gateway.store.master_rows import MasterRows

DOOR = "43011200001320000001"
GATE = "43011200001320000013"
CAMERA = "43011200001310000021"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
INDEXES_0014 = ("persons_community", "tickets_grid", "tickets_status", "tickets_open")
_numbers = iter(range(1, 1_000_000))


def _base(community: str, at: datetime, device: str = DOOR) -> dict[str, object]:
    return {
        "event_id": f"flow-{next(_numbers):08d}",
        "community": community,
        "device_id": device,
        "occurred_at": at,
        "received_at": at + timedelta(seconds=1),
        "dialect": "hik-isapi",
    }


def passage(
    at: datetime,
    direction: Direction = "in",
    result: AccessResult = "granted",
    community: str = "yida",
) -> DeviceEvent:
    return AccessEvent.model_validate(
        _base(community, at)
        | {"direction": direction, "method": "card", "result": result, "vendor_code": "5/0x1"}
    )


def car(at: datetime, direction: Direction = "in", community: str = "yida") -> DeviceEvent:
    return VehiclePass.model_validate(
        _base(community, at, GATE) | {"plate_no": "湘A8K2C6", "direction": direction}
    )


def capture(at: datetime, community: str = "yida") -> DeviceEvent:
    return FaceCapture.model_validate(_base(community, at, CAMERA) | {"stranger": True})


def visitor(at: datetime, action: VisitorAction, community: str = "yida") -> DeviceEvent:
    return VisitorEvent.model_validate(
        _base(community, at, "visitor-cloud-yida")
        | {
            "action": action,
            "visit_id": "V1",
            "visitor_ref": "h1:" + "c" * 32,
            "name_masked": "张*",
            "phone_masked": "138****5678",
        }
    )


def alarm(at: datetime, community: str = "yida") -> DeviceEvent:
    return BehaviourAlarm.model_validate(
        _base(community, at, CAMERA) | {"alarm_type": "fire_lane_occupied"}
    )


def others(at: datetime) -> list[DeviceEvent]:
    """Events that count in no measure: a door sensor, a heartbeat."""
    return [
        DoorStateEvent.model_validate(
            _base("yida", at) | {"state": "forced_open", "vendor_code": "5/0x2"}
        ),
        DeviceStatusEvent.model_validate(_base("yida", at) | {"status": "heartbeat"}),
    ]


def mixed(at: datetime, community: str = "yida") -> list[DeviceEvent]:
    """One of everything the measures tell apart, in `at`'s hour."""
    return [
        passage(at, "in", community=community),
        passage(at, "in", community=community),
        passage(at, "out", community=community),
        passage(at, "in", "denied", community=community),
        passage(at, "unknown", community=community),
        car(at, "in", community=community),
        car(at, "out", community=community),
        car(at, "out", community=community),
        car(at, "unknown", community=community),
        capture(at, community=community),
        visitor(at, "registered", community=community),
        visitor(at, "checked_in", community=community),
        visitor(at, "checked_out", community=community),
        alarm(at, community=community),
        *(others(at) if community == "yida" else []),
    ]


MIXED = {
    "people_in": 2,
    "people_out": 1,
    "vehicles_in": 1,
    "vehicles_out": 2,
    "faces": 1,
    "visitors": 1,
    "alarms": 1,
}


def counts(**measures: int) -> tuple[int, ...]:
    return tuple(measures.get(m, 0) for m in MEASURES)


@pytest.fixture
def rows(database: str) -> MasterRows:
    return MasterRows(database)


@pytest.fixture
def hour() -> datetime:
    """An hour's first instant, a few hours ago."""
    return hour_of(datetime.now(UTC)) - timedelta(hours=5)


def as_utc(value: object) -> datetime:
    if isinstance(value, int):
        return _EPOCH + timedelta(microseconds=value)
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


def what_the_events_say(rows: MasterRows) -> list[FlowRow]:
    """The stored events counted per community and hour with the rollup's SQL definitions,
    in the store's order (hour, then community)."""
    if rows.sqlite:
        fields = {f: f"json_extract(body, '$.{f}')" for f in ("result", "direction", "action")}
    else:
        fields = {f: f"(body ->> '{f}')" for f in ("result", "direction", "action")}
    found: dict[tuple[str, datetime], Counter[str]] = {}
    for measure in MEASURES:
        condition = MEASURE_SQL[measure].format(**fields)
        for community, at in rows.sql(
            f"SELECT community, {rows.t('occurred_at')} FROM events WHERE {condition}"
        ):
            found.setdefault((str(community), hour_of(as_utc(at))), Counter())[measure] += 1
    order = sorted(found, key=lambda key: (key[1], key[0]))
    return [FlowRow(community, at, counts(**found[(community, at)])) for community, at in order]


async def flow(
    store: Store,
    since: datetime,
    until: datetime,
    bucket: FlowBucket = "hour",
    communities: frozenset[str] | None = None,
) -> list[FlowRow]:
    """The store's series as rows, one per community and bucket that counted something, by
    bucket then community; each series checked to hold one count per bucket."""
    step = step_of(bucket)
    size = (until - since) // step
    found = await store.flow(since, until, bucket, communities)
    assert [one.community for one in found] == sorted(one.community for one in found)
    assert all(len(series) == size for one in found for series in one.series)
    rows = [
        FlowRow(one.community, since + step * i, tuple(series[i] for series in one.series))
        for one in found
        for i in range(size)
        if any(series[i] for series in one.series)
    ]
    return sorted(rows, key=lambda row: (row.bucket, row.community))


async def rollup(store: Store, since: datetime, until: datetime) -> list[FlowRow]:
    return await flow(store, since, until)


class TestCounts:
    """Each batch's stored events are added to their community's hour."""

    async def test_a_mixed_batch_counts_each_measure_as_defined(
        self, store: Store, hour: datetime
    ) -> None:
        """Granted passages by direction, vehicle passes by direction, captures, check-ins and
        alarms count; denied or directionless passages, other visitor actions, door sensors
        and heartbeats do not."""
        await store.write_batch(mixed(hour + timedelta(minutes=10)), [])
        assert await rollup(store, hour, hour + timedelta(hours=1)) == [
            FlowRow("yida", hour, counts(**MIXED))
        ]

    async def test_the_rollup_equals_what_the_stored_events_say(
        self, store: Store, rows: MasterRows, hour: datetime
    ) -> None:
        """Several batches over three hours and two communities: the rollup equals counting
        the events table with the same definitions."""
        for offset in range(3):
            at = hour - timedelta(hours=offset, minutes=-offset * 7)
            await store.write_batch(mixed(at) + mixed(at, "jiaxin"), [])
        await store.write_batch([passage(hour), car(hour + timedelta(minutes=59), "out")], [])
        expected = what_the_events_say(rows)
        assert len(expected) == 6
        assert await rollup(store, hour - timedelta(hours=2), hour + timedelta(hours=1)) == expected

    async def test_an_hour_ends_at_its_last_microsecond(self, store: Store, hour: datetime) -> None:
        """An event at the hour's last microsecond is in it; one at the next hour's first
        instant is in the next."""
        end = hour + timedelta(hours=1)
        await store.write_batch([capture(end - timedelta(microseconds=1)), capture(end)], [])
        assert await rollup(store, hour, end + timedelta(hours=1)) == [
            FlowRow("yida", hour, counts(faces=1)),
            FlowRow("yida", end, counts(faces=1)),
        ]


class TestRedelivery:
    """Only events a batch newly stores count: redelivered ones never count twice."""

    async def test_a_batch_written_twice_counts_once(self, store: Store, hour: datetime) -> None:
        batch = mixed(hour)
        await store.write_batch(batch, [])
        await store.write_batch(batch, [])
        assert await rollup(store, hour, hour + timedelta(hours=1)) == [
            FlowRow("yida", hour, counts(**MIXED))
        ]

    async def test_a_batch_mixing_old_and_new_events_counts_the_new_ones(
        self, store: Store, rows: MasterRows, hour: datetime
    ) -> None:
        """A redelivered passage beside two new ones adds two."""
        first = passage(hour)
        await store.write_batch([first], [])
        await store.write_batch([first, passage(hour), passage(hour, "out")], [])
        assert await rollup(store, hour, hour + timedelta(hours=1)) == [
            FlowRow("yida", hour, counts(people_in=2, people_out=1))
        ]
        assert await rollup(store, hour, hour + timedelta(hours=1)) == what_the_events_say(rows)


class TestBuckets:
    """`day` buckets are China Standard Time days; a range is whole buckets."""

    async def test_days_are_china_standard_time_days(self, store: Store) -> None:
        """16:00 UTC is local midnight: 15:30 and 16:30 UTC fall in different local days."""
        midnight = bucket_start(datetime.now(UTC), "day") - timedelta(days=2)
        assert midnight.hour == 16
        before, after = midnight - timedelta(minutes=30), midnight + timedelta(minutes=30)
        await store.write_batch([passage(before), passage(after), passage(after, "out")], [])
        got = await flow(store, midnight - timedelta(days=1), midnight + timedelta(days=1), "day")
        assert got == [
            FlowRow("yida", midnight - timedelta(days=1), counts(people_in=1)),
            FlowRow("yida", midnight, counts(people_in=1, people_out=1)),
        ]

    async def test_a_day_sums_its_hours(self, store: Store, rows: MasterRows) -> None:
        midnight = bucket_start(datetime.now(UTC), "day") - timedelta(days=3)
        for hours in (0, 5, 23):
            await store.write_batch(mixed(midnight + timedelta(hours=hours, minutes=1)), [])
        got = await flow(store, midnight, midnight + timedelta(days=1), "day")
        assert got == [FlowRow("yida", midnight, counts(**{m: 3 * n for m, n in MIXED.items()}))]

    async def test_each_series_has_a_count_for_every_bucket_zeros_included(
        self, store: Store, hour: datetime
    ) -> None:
        """Hours without a counted event (no rollup row) are zeros in their place."""
        await store.write_batch([capture(hour), capture(hour + timedelta(hours=2))], [])
        [found] = await store.flow(hour - HOUR, hour + 4 * HOUR, "hour", None)
        assert found.series[MEASURES.index("faces")] == [0, 1, 0, 1, 0]
        assert found.series[MEASURES.index("people_in")] == [0] * 5

    async def test_hours_outside_the_range_are_left_out(self, store: Store, hour: datetime) -> None:
        await store.write_batch([capture(hour - timedelta(minutes=1)), capture(hour)], [])
        await store.write_batch([capture(hour + timedelta(hours=1))], [])
        assert await rollup(store, hour, hour + timedelta(hours=1)) == [
            FlowRow("yida", hour, counts(faces=1))
        ]


class TestScope:
    """The caller's scope is applied by the store, in SQL."""

    async def test_a_scope_sees_its_communities_only(self, store: Store, hour: datetime) -> None:
        await store.write_batch(
            [passage(hour), passage(hour, community="jiaxin"), car(hour, community="other")], []
        )
        until = hour + timedelta(hours=1)
        assert await flow(store, hour, until, "hour", frozenset({"jiaxin"})) == [
            FlowRow("jiaxin", hour, counts(people_in=1))
        ]
        scoped = await store.flow(hour, until, "hour", frozenset({"yida", "other"}))
        assert [row.community for row in scoped] == ["other", "yida"]
        assert await store.flow(hour, until, "hour", frozenset()) == []
        assert len(await flow(store, hour, until)) == 3


class TestBackfill:
    """Migration 0014 counts the events stored before the rollup existed."""

    async def test_the_migration_counts_what_the_batches_counted(
        self, database: str, rows: MasterRows, hour: datetime
    ) -> None:
        store = open_store(database)
        await store.open()
        try:
            await store.migrate()
            for offset in range(3):
                at = hour - timedelta(days=offset, minutes=-offset * 13)
                await store.write_batch(mixed(at) + mixed(at, "jiaxin"), [])
            since, until = hour - timedelta(days=3), hour + timedelta(hours=1)
            kept = await rollup(store, since, until)
            for dropped in ("TABLE flow_hourly", *(f"INDEX {name}" for name in INDEXES_0014)):
                rows.sql(f"DROP {dropped}")  # back to the schema before 0014
            rows.sql("DELETE FROM schema_migrations WHERE version = '0014_flow_hourly'")
            assert await store.migrate() == ["0014_flow_hourly"]
            assert await rollup(store, since, until) == kept
            assert kept == what_the_events_say(rows)
            assert len(kept) == 6
        finally:
            await store.close()


class TestPrivacy:
    """The rollup holds a community, an hour and counts: nothing about anyone."""

    async def test_the_rollup_has_no_column_but_community_hour_and_counts(
        self, store: Store, rows: MasterRows, hour: datetime
    ) -> None:
        await store.write_batch(mixed(hour), [])
        if rows.sqlite:
            names = [str(row[1]) for row in rows.sql("PRAGMA table_info(flow_hourly)")]
        else:
            names = [
                str(row[0])
                for row in rows.sql(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_name = 'flow_hourly' ORDER BY ordinal_position"
                )
            ]
        assert names == ["community", "hour_us" if rows.sqlite else "hour", *MEASURES]
        stored = rows.sql("SELECT * FROM flow_hourly")
        assert len(stored) == 1
        assert all(isinstance(value, int) for value in stored[0][2:])
