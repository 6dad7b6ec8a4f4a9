"""`GET /v1/stats/flow` through a running gateway, on both stores: the counts equal what
`/v1/events` lists for the same hours (also after messages are delivered twice through
Mosquitto), days are China Standard Time days summing their hours, a key sees its communities
only, bad parameters are 400s, and the answer names no one.

Events are written as the gateway writes them (`write_batch`), or published through the real
broker, at times relative to an injected clock that stands at the real now."""

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.store.flow import MEASURES, bucket_start, hour_of
from schemas.codes import AccessResult, Direction, VisitorAction
from schemas.events import (
    AccessEvent,
    BehaviourAlarm,
    DeviceEvent,
    FaceCapture,
    VehiclePass,
    VisitorEvent,
)
from simulators.community import generate_community
from simulators.hik_isapi import HikDoorStream
from testkit.clocks import Clock
from testkit.harness import (
    RunningGateway,
    gateway_settings,
    mosquitto_pub,
    running_gateway,
    wait_until,
)
from testkit.keys import create_key, key_client
from testkit.services import MosquittoService
from tests.gateway.store.test_flow_contract import MIXED

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
DOOR = "43011200001320000001"
RAMP = "43011200001320000013"
CAMERA = "43011200001310000021"
CREDENTIAL = "h1:" + "a" * 32
VISITOR = "h1:" + "c" * 32
PLATE = "湘A8K2C6"


@dataclass(frozen=True)
class World:
    gateway: RunningGateway
    clock: Clock
    mosquitto: MosquittoService


_numbers = iter(range(1, 1_000_000))


def _base(community: str, at: datetime, device: str) -> dict[str, object]:
    return {
        "event_id": f"flowapi-{next(_numbers):06d}",
        "community": community,
        "device_id": device,
        "occurred_at": at,
        "received_at": at,
        "dialect": "hik-isapi",
    }


def passage(
    at: datetime, direction: Direction, community: str, result: AccessResult = "granted"
) -> DeviceEvent:
    return AccessEvent.model_validate(
        _base(community, at, DOOR)
        | {
            "direction": direction,
            "method": "card",
            "result": result,
            "vendor_code": "5/0x1",
            "credential": CREDENTIAL,
        }
    )


def car(at: datetime, direction: Direction, community: str) -> DeviceEvent:
    return VehiclePass.model_validate(
        _base(community, at, RAMP) | {"plate_no": PLATE, "direction": direction}
    )


def visit(at: datetime, action: VisitorAction, community: str) -> DeviceEvent:
    return VisitorEvent.model_validate(
        _base(community, at, f"visitor-cloud-{community}")
        | {"action": action, "visit_id": "V1", "visitor_ref": VISITOR, "name_masked": "张*"}
    )


def mixed(at: datetime, community: str) -> list[DeviceEvent]:
    """As `tests.gateway.store.test_flow_contract.mixed`: `MIXED` counts in `at`'s hour."""
    return [
        passage(at, "in", community),
        passage(at, "in", community),
        passage(at, "out", community),
        passage(at, "in", community, "denied"),
        passage(at, "unknown", community),
        car(at, "in", community),
        car(at, "out", community),
        car(at, "out", community),
        car(at, "unknown", community),
        FaceCapture.model_validate(_base(community, at, CAMERA) | {"stranger": True}),
        visit(at, "registered", community),
        visit(at, "checked_in", community),
        visit(at, "checked_out", community),
        BehaviourAlarm.model_validate(
            _base(community, at, CAMERA) | {"alarm_type": "fire_lane_occupied"}
        ),
    ]


@pytest.fixture(scope="module")
async def world(mosquitto: MosquittoService, module_database: str) -> AsyncIterator[World]:
    async with running_gateway(gateway_settings(mosquitto.url, module_database)) as gateway:
        clock = Clock(datetime.now(UTC).replace(microsecond=0))
        gateway.runtime.clock = clock
        now = clock()
        await gateway.runtime.store.write_batch(
            [
                *mixed(now - 3 * HOUR, "yida"),
                *mixed(now - 3 * HOUR, "jiaxin"),
                *mixed(now - 27 * HOUR, "yida"),
                *mixed(now - 20 * DAY, "yida"),
            ],
            [],
        )
        yield World(gateway, clock, mosquitto)


async def get_flow(gateway: RunningGateway, **params: str) -> dict[str, Any]:
    response = await gateway.http.get("/v1/stats/flow", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def rows_of(flow: dict[str, Any]) -> list[dict[str, Any]]:
    """The series as rows, one per community and bucket that counted something, ordered by
    bucket then community (as `what_the_events_say` gives them)."""
    rows = [
        {"community": series["community"], "bucket": bucket} | {m: series[m][i] for m in MEASURES}
        for series in flow["communities"]
        for i, bucket in enumerate(flow["buckets"])
        if any(series[m][i] for m in MEASURES)
    ]
    return sorted(rows, key=lambda row: (row["bucket"], row["community"]))


def measure(event: dict[str, object]) -> str | None:
    """An event as `/v1/events` lists it, in the measure it counts in (the API's definition:
    `FlowCounts`' field descriptions)."""
    kind, direction = event["kind"], event.get("direction")
    if kind == "access" and event["result"] == "granted" and direction in ("in", "out"):
        return f"people_{direction}"
    if kind == "vehicle_pass" and direction in ("in", "out"):
        return f"vehicles_{direction}"
    if kind == "visitor" and event["action"] == "checked_in":
        return "visitors"
    return {"face_capture": "faces", "behaviour_alarm": "alarms"}.get(str(kind))


async def what_the_events_say(gateway: RunningGateway, since: str, until: str) -> list[Any]:
    """`/v1/events` over [since, until) counted per community and hour, as the flow lists."""
    found: dict[tuple[datetime, str], Counter[str]] = {}
    for event in await gateway.events(since=since, until=until):
        counted = measure(event)
        if counted is not None:
            hour = hour_of(datetime.fromisoformat(str(event["occurred_at"])))
            found.setdefault((hour, str(event["community"])), Counter())[counted] += 1
    return [
        {"community": community, "bucket": hour.isoformat()}
        | {m: found[(hour, community)][m] for m in MEASURES}
        for hour, community in sorted(found)
    ]


class TestCounts:
    """The hourly counts are what the stored events say."""

    async def test_the_counts_equal_what_the_events_endpoint_lists(self, world: World) -> None:
        flow = await get_flow(world.gateway, since=(world.clock() - 8 * DAY).isoformat())
        expected = await what_the_events_say(world.gateway, flow["since"], flow["until"])
        assert rows_of(flow) == expected
        yida = [row for row in rows_of(flow) if row["community"] == "yida"]
        assert [{m: row[m] for m in MEASURES} for row in yida] == [MIXED, MIXED]

    async def test_messages_delivered_twice_through_the_broker_count_once(
        self, world: World
    ) -> None:
        """A device's burst published twice (a redelivery after a lost acknowledgement): the
        second copy is stored as duplicates and adds nothing."""
        start = world.clock() - 2 * DAY
        stream = HikDoorStream(generate_community(), seed=5, start=start, events_per_hour=2_000)
        messages = stream.take(300)
        metrics = world.gateway.runtime.metrics.registry

        def seen() -> float:
            stored = metrics.get_sample_value("scgw_events_stored_total") or 0.0
            return stored + (metrics.get_sample_value("scgw_events_duplicate_total") or 0.0)

        for _ in range(2):
            before = seen()
            for topic in dict.fromkeys(topic for topic, _ in messages):
                await mosquitto_pub(
                    world.mosquitto.port, topic, [p for t, p in messages if t == topic]
                )
            await wait_until(
                lambda before=before: seen() >= before + len(messages),
                timeout_s=60,
                what="every published message written",
            )
        since = hour_of(start).isoformat()
        until = (hour_of(start) + 3 * HOUR).isoformat()
        flow = await get_flow(world.gateway, since=since, until=until)
        assert rows_of(flow) == await what_the_events_say(world.gateway, since, until)
        counted = sum(row[m] for row in rows_of(flow) for m in ("people_in", "people_out"))
        assert 0 < counted < len(messages)


class TestBuckets:
    """Hours are UTC hours, days China Standard Time days; the range is widened to whole
    buckets and said back."""

    async def test_by_default_the_last_seven_days_up_to_the_current_hour(
        self, world: World
    ) -> None:
        flow = await get_flow(world.gateway)
        end = hour_of(world.clock()) + HOUR
        assert (flow["bucket"], flow["since"], flow["until"]) == (
            "hour",
            (end - 7 * DAY).isoformat(),
            end.isoformat(),
        )
        assert flow["next_cursor"] is None
        assert len(flow["buckets"]) == 7 * 24
        assert all(len(series[m]) == 7 * 24 for series in flow["communities"] for m in MEASURES)

    async def test_a_range_is_widened_to_whole_days(self, world: World) -> None:
        flow = await get_flow(
            world.gateway,
            bucket="day",
            since="2026-05-01T10:30:00+08:00",
            until="2026-05-03T00:00:00+08:00",
        )
        assert (flow["since"], flow["until"]) == (
            "2026-04-30T16:00:00+00:00",
            "2026-05-02T16:00:00+00:00",
        )
        assert flow["buckets"] == ["2026-04-30T16:00:00+00:00", "2026-05-01T16:00:00+00:00"]

    async def test_a_day_is_the_sum_of_its_hours(self, world: World) -> None:
        since = bucket_start(world.clock() - 3 * DAY, "day").isoformat()
        hours = await get_flow(world.gateway, since=since)
        days = await get_flow(world.gateway, since=since, bucket="day")
        summed: dict[tuple[str, str], Counter[str]] = {}
        for row in rows_of(hours):
            day = bucket_start(datetime.fromisoformat(row["bucket"]), "day").isoformat()
            summed.setdefault((day, row["community"]), Counter()).update(
                {m: row[m] for m in MEASURES}
            )
        assert rows_of(days) == [
            {"community": community, "bucket": day}
            | {m: summed[(day, community)][m] for m in MEASURES}
            for day, community in sorted(summed)
        ]
        assert all(
            datetime.fromisoformat(row["bucket"]).astimezone(UTC).hour == 16
            for row in rows_of(days)
        )


class TestScope:
    """A key sees its communities' counts; the community filter narrows within them."""

    async def test_a_scoped_key_sees_its_community_only(self, world: World) -> None:
        secret = await create_key(world.gateway, "property", ["jiaxin"])
        async with key_client(world.gateway, secret) as client:
            mine = (await client.get("/v1/stats/flow")).json()
            other = (await client.get("/v1/stats/flow", params={"community": "yida"})).json()
        assert [series["community"] for series in mine["communities"]] == ["jiaxin"]
        assert other["communities"] == []

    async def test_an_unscoped_key_may_narrow_to_one_community(self, world: World) -> None:
        everyone = await get_flow(world.gateway)
        yida = await get_flow(world.gateway, community="yida")
        assert [series["community"] for series in everyone["communities"]] == ["jiaxin", "yida"]
        assert yida["communities"] == everyone["communities"][1:]

    async def test_a_key_without_the_dashboard_permission_is_refused(self, world: World) -> None:
        secret = await create_key(world.gateway, "device_ops")
        async with key_client(world.gateway, secret) as client:
            response = await client.get("/v1/stats/flow")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"


class TestBadParameters:
    """What cannot be answered as asked is a 400 in the one error body."""

    @pytest.mark.parametrize(
        ("params", "code"),
        [
            ({"bucket": "week"}, "invalid_parameter"),
            ({"since": "2026-05-02T00:00:00Z", "until": "2026-05-01T00:00:00Z"}, "bad_time_range"),
            ({"since": "2026-05-01"}, "invalid_parameter"),
            ({"since": "2026-05-01T00:00:00"}, "invalid_parameter"),  # no offset
            ({"until": "9999-12-31T23:30:00Z"}, "invalid_parameter"),  # past the last hour
            ({"since": "0001-01-01T00:00:00+08:00"}, "invalid_parameter"),  # before the first
            (
                {"since": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:00.000001Z"},
                "range_too_long",  # widened to the next hour: 31 days and one hour
            ),
            ((("community", "yida"), ("community", "jiaxin")), "repeated_parameter"),
            ({"since": "2026-01-01T00:00:00Z", "until": "2026-02-01T01:00:00Z"}, "range_too_long"),
            (
                {"bucket": "day", "since": "2025-01-01T00:00:00Z", "until": "2026-01-03T00:00:00Z"},
                "range_too_long",
            ),
            ({"community": "no such/community"}, "invalid_parameter"),
            ({"group_by": "grid"}, "unknown_parameter"),
        ],
    )
    async def test_is_refused(
        self, world: World, params: dict[str, str] | tuple[tuple[str, str], ...], code: str
    ) -> None:
        response = await world.gateway.http.get("/v1/stats/flow", params=params)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == code

    async def test_thirty_one_days_of_hours_is_the_most_answered(self, world: World) -> None:
        flow = await get_flow(
            world.gateway, since="2026-01-01T00:00:00Z", until="2026-02-01T00:00:00Z"
        )
        assert flow["communities"] == []
        assert len(flow["buckets"]) == 31 * 24


class TestPrivacy:
    """The answer holds communities, buckets and counts: no one is named."""

    async def test_no_series_names_a_person_a_credential_a_plate_or_a_device(
        self, world: World
    ) -> None:
        response = await world.gateway.http.get(
            "/v1/stats/flow", params={"since": (world.clock() - 30 * DAY).isoformat()}
        )
        body = response.json()
        assert set(body) == {"bucket", "since", "until", "buckets", "communities", "next_cursor"}
        assert body["communities"]
        assert all(set(series) == {"community", *MEASURES} for series in body["communities"])
        for value in (CREDENTIAL, VISITOR, PLATE, DOOR, RAMP, CAMERA, "flowapi-", "张"):
            assert value not in response.text
