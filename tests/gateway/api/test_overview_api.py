"""`GET /v1/overview` through a running gateway, on both stores: each figure from known seeded
events, devices and tickets, and equal to what the other endpoints say for the same data
(events, devices, tickets, community summaries, ticket indicators); a `community` filter
narrows every figure, and one naming no community of the caller's gives zeros.

The data is written as the gateway writes it (`write_batch`, `record_tickets`) at times
relative to an injected clock (`Runtime.clock`) that stands at the real now."""

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.store.observations import local_day
from gateway.store.residentfacts import day_start
from gateway.tickets import TicketDrafter
from schemas.codes import AccessResult, Direction
from schemas.devices import DeviceRegistration
from schemas.events import (
    AccessEvent,
    BehaviourAlarm,
    DeviceEvent,
    DeviceStatusEvent,
    VehiclePass,
)
from schemas.tickets import OPEN_STATUSES
from testkit.clocks import Clock
from testkit.harness import RunningGateway
from testkit.keys import create_key, key_client
from tests.gateway.api.pages import every
from tests.gateway.api.population_seed import Seeded
from tests.gateway.ticket_rules import RULES, finding

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
YIDA_DOOR = "43011200001320000001"
YIDA_CAMERA = "43011200001310000021"
YIDA_RAMP = "43011200001320000013"
YIDA_SPARE = "43011200001320000099"
YIDA_FACE = "43011200001320000050"
JIAXIN_RAMP = "43011200001320000113"
JIAXIN_GATE = "43011200001320000150"


@dataclass(frozen=True)
class World:
    """The seeded gateway and the clock its data was written against."""

    gateway: RunningGateway
    clock: Clock


_numbers = iter(range(1, 1_000_000))


def _id(prefix: str) -> str:
    return f"{prefix}-{next(_numbers):06d}"


def passage(
    at: datetime,
    direction: Direction = "in",
    result: AccessResult = "granted",
    community: str = "yida",
) -> AccessEvent:
    return AccessEvent(
        event_id=_id("acc"),
        community=community,
        device_id=YIDA_DOOR,
        occurred_at=at,
        received_at=at,
        dialect="hik-isapi",
        building="B01",
        unit="U1",
        direction=direction,
        method="card",
        result=result,
        vendor_code="5/0x1",
    )


def alarm(at: datetime) -> BehaviourAlarm:
    return BehaviourAlarm(
        event_id=_id("alm"),
        community="yida",
        device_id=YIDA_CAMERA,
        occurred_at=at,
        received_at=at,
        dialect="hik-isapi",
        alarm_type="fire_lane_occupied",
    )


def car(
    at: datetime,
    plate: str | None,
    direction: Direction,
    community: str = "yida",
) -> VehiclePass:
    return VehiclePass(
        event_id=_id("veh"),
        community=community,
        device_id=YIDA_RAMP if community == "yida" else JIAXIN_RAMP,
        occurred_at=at,
        received_at=at,
        dialect="hik-isapi",
        gate="North car park ramp",
        plate_no=plate,
        has_plate=plate is not None,
        plate_color="blue",
        direction=direction,
    )


def status(device_id: str, community: str, state: str, at: datetime) -> DeviceStatusEvent:
    return DeviceStatusEvent.model_validate(
        {
            "event_id": _id("sts"),
            "community": community,
            "device_id": device_id,
            "occurred_at": at,
            "received_at": at,
            "dialect": "hik-isapi",
            "status": state,
        }
    )


def device(device_id: str, community: str, kind: str) -> DeviceRegistration:
    return DeviceRegistration.model_validate(
        {"device_id": device_id, "kind": kind, "dialect": "hik-isapi", "community": community}
    )


def events_of(now: datetime) -> list[DeviceEvent]:
    """Passages today (and one yesterday), alarms at known minutes, cars in and out."""
    midnight = day_start(local_day(now))
    second = timedelta(seconds=1)
    return [
        # today: 3 granted in, 2 granted out; refused, unknown direction, yesterday, jiaxin
        passage(midnight + 1 * second, "in"),
        passage(midnight + 2 * second, "in"),
        passage(midnight + 3 * second, "in"),
        passage(midnight + 4 * second, "out"),
        passage(midnight + 5 * second, "out"),
        passage(midnight + 6 * second, "in", result="denied"),
        passage(midnight + 7 * second, "unknown"),
        passage(midnight - second, "in"),
        passage(midnight + 8 * second, "out", community="jiaxin"),
        # alarms: the current minute, 5 minutes ago (two), 59 minutes ago, 61 (outside)
        alarm(now),
        alarm(now - 5 * MINUTE),
        alarm(now - 5 * MINUTE),
        alarm(now - 59 * MINUTE),
        alarm(now - 61 * MINUTE),
        # cars: A in; B in then out; C in 10 days ago; D out then in; E in twice; no plate in;
        # H with no direction; J in at jiaxin
        car(now - 2 * HOUR, "湘A11111", "in"),
        car(now - 3 * HOUR, "湘A22222", "in"),
        car(now - HOUR, "湘A22222", "out"),
        car(now - 10 * DAY, "湘A33333", "in"),
        car(now - HOUR, "湘A44444", "out"),
        car(now - 30 * MINUTE, "湘A44444", "in"),
        car(now - 3 * HOUR, "湘A55555", "in"),
        car(now - HOUR, "湘A55555", "in"),
        car(now - HOUR, None, "in"),
        car(now - HOUR, "湘A66666", "unknown"),
        car(now - HOUR, "湘A77777", "in", community="jiaxin"),
        # devices: every one that sent an event is online; a face terminal and jiaxin's gate
        # said they went offline; the spare never said anything (unknown)
        status(YIDA_FACE, "yida", "offline", now - 2 * HOUR),
        status(JIAXIN_GATE, "jiaxin", "offline", now - 3 * HOUR),
    ]


@pytest.fixture(scope="module")
async def world(seeded: tuple[RunningGateway, Seeded]) -> AsyncIterator[World]:
    gateway, _ = seeded
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    gateway.runtime.clock = clock
    store = gateway.runtime.store
    await store.upsert_devices(
        [
            device(YIDA_DOOR, "yida", "door_controller"),
            device(YIDA_CAMERA, "yida", "camera"),
            device(YIDA_RAMP, "yida", "barrier_gate"),
            device(YIDA_SPARE, "yida", "barrier_gate"),
            device(YIDA_FACE, "yida", "face_terminal"),
            device(JIAXIN_RAMP, "jiaxin", "barrier_gate"),
            device(JIAXIN_GATE, "jiaxin", "barrier_gate"),
        ]
    )
    now = clock()
    await store.write_batch(events_of(now), [])
    runtime = gateway.runtime
    draft = TicketDrafter(runtime.responsibility, runtime.grids, RULES, runtime.devices.get).draft
    old = finding(
        "safety.door_forced", subject="door:1", building="B01", detected_at=now - 20 * DAY
    )
    await store.record_tickets([draft(old)], now - 20 * DAY)
    recent = [
        finding("fire.lane_occupied", subject="lane:1", gate="South gate", detected_at=now),
        finding("care.no_activity", subject="p:1", community="jiaxin", building="B01"),
        finding("care.no_activity", subject="p:2", building="B05"),  # no property unit
    ]
    await store.record_tickets([draft(f) for f in recent], now)
    yield World(gateway, clock)


async def get_overview(gateway: RunningGateway, **params: str) -> dict[str, Any]:
    response = await gateway.http.get("/v1/overview", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


class TestEventRate:
    """Events per minute by kind over the last hour: every minute listed, zeros included."""

    async def test_every_minute_of_the_hour_is_listed_with_every_kind(self, world: World) -> None:
        rate = (await get_overview(world.gateway))["event_rate"]
        now = world.clock()
        current = now.replace(second=0)
        assert len(rate["minutes"]) == 60
        assert at(rate["minutes"][-1]["at"]) == current
        assert at(rate["since"]) == current - 59 * MINUTE
        assert at(rate["until"]) == current + MINUTE
        assert [at(m["at"]) for m in rate["minutes"]] == [
            current - (59 - i) * MINUTE for i in range(60)
        ]
        assert all(set(m["by_kind"]) == set(rate["kinds"]) for m in rate["minutes"])
        assert all(m["total"] == sum(m["by_kind"].values()) for m in rate["minutes"])

    async def test_alarms_count_in_the_minute_they_occurred(self, world: World) -> None:
        rate = (await get_overview(world.gateway))["event_rate"]
        alarms = [m["by_kind"]["behaviour_alarm"] for m in rate["minutes"]]
        expected = [0] * 60
        expected[59], expected[54], expected[0] = 1, 2, 1
        assert alarms == expected

    async def test_counts_equal_the_events_endpoint(self, world: World) -> None:
        rate = (await get_overview(world.gateway))["event_rate"]
        events = await world.gateway.events(since=rate["since"], until=rate["until"])
        since = at(rate["since"])
        listed = Counter(
            (int((at(str(e["occurred_at"])) - since) // MINUTE), str(e["kind"])) for e in events
        )
        counted = Counter(
            {
                (i, kind): n
                for i, minute in enumerate(rate["minutes"])
                for kind, n in minute["by_kind"].items()
                if n
            }
        )
        assert counted == listed
        assert sum(m["total"] for m in rate["minutes"]) == len(events)


class TestPeopleToday:
    """Granted passages with a direction, today in China Standard Time."""

    async def test_granted_passages_in_and_out_today(self, world: World) -> None:
        people = (await get_overview(world.gateway))["people_today"]
        assert people["day"] == local_day(world.clock()).isoformat()
        assert at(people["since"]) == day_start(local_day(world.clock()))
        assert (people["entered"], people["exited"]) == (3, 3)
        yida = (await get_overview(world.gateway, community="yida"))["people_today"]
        assert (yida["entered"], yida["exited"]) == (3, 2)

    async def test_counts_equal_the_events_endpoint(self, world: World) -> None:
        people = (await get_overview(world.gateway))["people_today"]
        events = await world.gateway.events(
            kind="access", since=people["since"], until=people["until"]
        )
        granted = Counter(str(e["direction"]) for e in events if e["result"] == "granted")
        assert (people["entered"], people["exited"]) == (granted["in"], granted["out"])


class TestVehiclesPresent:
    """Plates whose last pass in the lookback was an entry."""

    async def test_entries_without_a_later_exit(self, world: World) -> None:
        assert (await get_overview(world.gateway))["vehicles_present"]["count"] == 4
        yida = await get_overview(world.gateway, community="yida")
        assert yida["vehicles_present"]["count"] == 3  # A, D, E (B left, C too long ago)

    async def test_count_equals_the_events_endpoint(self, world: World) -> None:
        present = (await get_overview(world.gateway))["vehicles_present"]
        passes = await world.gateway.events(
            kind="vehicle_pass", since=present["since"], until=(world.clock() + MINUTE).isoformat()
        )
        last: dict[tuple[str, str], str] = {}
        for event in sorted(passes, key=lambda e: (at(str(e["occurred_at"])), e["event_id"])):
            if event["plate_no"] and event["direction"] in ("in", "out"):
                last[(str(event["community"]), str(event["plate_no"]))] = str(event["direction"])
        assert present["count"] == sum(direction == "in" for direction in last.values())
        assert at(present["since"]) == world.clock() - 7 * DAY


class TestDevices:
    """Devices by status, and the offline list, as `/v1/devices?status=` lists them."""

    async def test_counts_and_offline_list(self, world: World) -> None:
        devices = (await get_overview(world.gateway))["devices"]
        assert (devices["online"], devices["offline"], devices["unknown"]) == (4, 2, 1)
        assert devices["offline_total"] == 2
        offline = [(d["device_id"], d["kind"], d["community"]) for d in devices["offline_devices"]]
        assert offline == [
            (YIDA_FACE, "face_terminal", "yida"),
            (JIAXIN_GATE, "barrier_gate", "jiaxin"),
        ]
        assert all(d["since"] is not None for d in devices["offline_devices"])

    async def test_equal_the_devices_endpoint(self, world: World) -> None:
        for community in (None, "yida", "jiaxin"):
            params = {} if community is None else {"community": community}
            devices = (await get_overview(world.gateway, **params))["devices"]
            for state in ("online", "offline", "unknown"):
                listed = await every(world.gateway.http, "/v1/devices", status=state, **params)
                assert devices[state] == len(listed), (community, state)
                if state == "offline":
                    assert [d["device_id"] for d in devices["offline_devices"]] == [
                        d["device_id"] for d in listed
                    ]
                    assert [d["since"] for d in devices["offline_devices"]] == [
                        d["status_since"] for d in listed
                    ]


class TestTickets:
    """Open tickets by category and grid, overdue ones counted and listed."""

    async def test_open_tickets_by_category_and_grid(self, world: World) -> None:
        tickets = (await get_overview(world.gateway))["tickets"]
        assert (tickets["open"], tickets["overdue"]) == (4, 1)
        categories = {c["code"]: (c["open"], c["overdue"]) for c in tickets["by_category"]}
        assert categories == {"safety": (1, 1), "fire_safety": (1, 0), "social_care": (2, 0)}
        assert tickets["by_category"][0]["code"] == "social_care"  # the most open first
        grids = {(g["community"], g["grid_code"]): g for g in tickets["by_grid"]}
        first = grids[("yida", "430112003001001")]
        assert (first["name"], first["open"], first["overdue"]) == ("亿达小镇第一网格", 1, 1)
        (late,) = tickets["overdue_tickets"]
        assert (late["category"], late["community"]) == ("safety", "yida")

    async def test_each_category_carries_its_names_from_the_responsibility_list(
        self, world: World
    ) -> None:
        tickets = (await get_overview(world.gateway))["tickets"]
        names = {c["code"]: (c["name"], c["name_en"]) for c in tickets["by_category"]}
        assert names == {
            "safety": ("安全隐患", "Safety hazard"),
            "fire_safety": ("消防安全", "Fire safety"),
            "social_care": ("社会救助", "Social assistance"),
        }

    async def test_equal_the_tickets_endpoint(self, world: World) -> None:
        for community in (None, "yida", "jiaxin"):
            params = {} if community is None else {"community": community}
            tickets = (await get_overview(world.gateway, **params))["tickets"]
            listed = [
                ticket
                for state in sorted(OPEN_STATUSES)
                for ticket in await every(world.gateway.http, "/v1/tickets", status=state, **params)
            ]
            assert tickets["open"] == len(listed)
            assert tickets["overdue"] == sum(t["overdue"] for t in listed)
            by_category = Counter(t["category"]["code"] for t in listed)
            assert {c["code"]: c["open"] for c in tickets["by_category"]} == by_category
            by_grid = Counter((t["community"], t["grid_code"]) for t in listed)
            assert {(g["community"], g["grid_code"]): g["open"] for g in tickets["by_grid"]} == (
                by_grid
            )
            late = {t["ticket_id"] for t in listed if t["overdue"]}
            assert {t["ticket_id"] for t in tickets["overdue_tickets"]} == late


class TestPopulation:
    """The 一标三实 summary, summed over the communities."""

    async def test_equals_the_community_summaries_summed(self, world: World) -> None:
        body = await get_overview(world.gateway)
        population = body["population"]
        codes = [c["code"] for c in body["communities"]]
        assert {"yida", "jiaxin"} <= set(codes)
        summaries = []
        for code in codes:
            response = await world.gateway.http.get(f"/v1/communities/{code}/summary")
            assert response.status_code == 200, response.text
            summaries.append(response.json())
        houses: Counter[str] = Counter()
        persons: Counter[str] = Counter()
        for summary in summaries:
            houses.update(summary["houses_by_usage"])
            persons.update(summary["persons_by_population_type"])
        assert population["houses_by_usage"] == dict(houses)
        assert population["persons_by_population_type"] == dict(persons)
        for field in ("current_visitors", "vehicles_registered", "vehicles_unregistered"):
            assert population[field] == sum(s[field] for s in summaries), field
        for field in ("registered", "observed"):
            assert population["occupancy"][field] == sum(s["occupancy"][field] for s in summaries)
        assert sum(houses.values()) > 0 and sum(persons.values()) > 0

    async def test_one_community_is_its_summary(self, world: World) -> None:
        population = (await get_overview(world.gateway, community="yida"))["population"]
        summary = (await world.gateway.http.get("/v1/communities/yida/summary")).json()
        assert population["houses_by_usage"] == summary["houses_by_usage"]
        assert population["persons_by_population_type"] == summary["persons_by_population_type"]
        assert population["occupancy"] == summary["occupancy"]


class TestIndicators:
    """The ticket indicators of the last 30 days, per community."""

    async def test_equal_the_stats_endpoint(self, world: World) -> None:
        indicators = (await get_overview(world.gateway))["indicators"]
        assert at(indicators["since"]) == world.clock() - 30 * DAY
        response = await world.gateway.http.get(
            "/v1/stats/tickets", params={"group_by": "community", "since": indicators["since"]}
        )
        assert response.status_code == 200, response.text
        assert indicators["rows"] == response.json()["data"]
        raised = {row["group"]: row["raised"] for row in indicators["rows"]}
        assert raised == {"yida": 3, "jiaxin": 1}
        yida = (await get_overview(world.gateway, community="yida"))["indicators"]
        assert [row["group"] for row in yida["rows"]] == ["yida"]


class TestScope:
    """A `community` filter narrows every figure; one naming no community gives zeros."""

    async def test_the_communities_are_named(self, world: World) -> None:
        body = await get_overview(world.gateway)
        names = {c["code"]: c["name"] for c in body["communities"]}
        assert names["yida"] == "亿达小镇" and names["jiaxin"] == "嘉新时代广场"
        yida = await get_overview(world.gateway, community="yida")
        assert yida["communities"] == [{"code": "yida", "name": "亿达小镇"}]

    async def test_an_unknown_community_gives_zero_figures_and_no_community(
        self, world: World
    ) -> None:
        body = await get_overview(world.gateway, community="elsewhere")
        assert body["communities"] == []
        assert all(m["total"] == 0 for m in body["event_rate"]["minutes"])
        assert (body["people_today"]["entered"], body["people_today"]["exited"]) == (0, 0)
        assert body["vehicles_present"]["count"] == 0
        devices = body["devices"]
        assert (devices["online"], devices["offline"], devices["unknown"]) == (0, 0, 0)
        assert devices["offline_devices"] == []
        tickets = body["tickets"]
        assert (tickets["open"], tickets["by_category"], tickets["by_grid"]) == (0, [], [])
        assert body["population"]["houses_by_usage"] == {}
        assert body["population"]["persons_by_population_type"] == {}
        assert body["indicators"]["rows"] == []

    async def test_an_unknown_community_reads_as_another_community_reads_for_a_scoped_key(
        self, world: World
    ) -> None:
        """Both are a filter naming no community of the caller's: the same empty answer
        (lists filtered by it are empty; only the one community summary answers 404)."""
        unknown = await get_overview(world.gateway, community="elsewhere")
        secret = await create_key(world.gateway, "property", ["yida"])
        async with key_client(world.gateway, secret) as client:
            response = await client.get("/v1/overview", params={"community": "jiaxin"})
        assert response.status_code == 200, response.text
        assert {**unknown, "at": None} == {**response.json(), "at": None}
        summary = await world.gateway.http.get("/v1/communities/elsewhere/summary")
        assert summary.status_code == 404
        houses = await world.gateway.http.get("/v1/houses", params={"community": "elsewhere"})
        assert houses.status_code == 200 and houses.json()["data"] == []

    async def test_jiaxin_sees_none_of_yidas_figures(self, world: World) -> None:
        body = await get_overview(world.gateway, community="jiaxin")
        assert sum(m["by_kind"]["behaviour_alarm"] for m in body["event_rate"]["minutes"]) == 0
        assert (body["people_today"]["entered"], body["people_today"]["exited"]) == (0, 1)
        assert body["vehicles_present"]["count"] == 1
        assert [d["device_id"] for d in body["devices"]["offline_devices"]] == [JIAXIN_GATE]
        assert {c["code"] for c in body["tickets"]["by_category"]} == {"social_care"}


class TestKeyScope:
    """A key sees the figures of its communities only, as every list it reads."""

    async def test_a_yida_property_key_sees_yidas_figures_only(self, world: World) -> None:
        secret = await create_key(world.gateway, "property", ["yida"])
        async with key_client(world.gateway, secret) as client:
            response = await client.get("/v1/overview")
            assert response.status_code == 200, response.text
            body = response.json()
            offline = await every(client, "/v1/devices", status="offline")
        yida = await get_overview(world.gateway, community="yida")
        assert body["communities"] == [{"code": "yida", "name": "亿达小镇"}]
        for figure in ("event_rate", "people_today", "vehicles_present", "devices", "population"):
            assert body[figure] == yida[figure], figure
        assert [d["device_id"] for d in body["devices"]["offline_devices"]] == [YIDA_FACE]
        assert [d["device_id"] for d in offline] == [YIDA_FACE]
        tickets = body["tickets"]  # the property company's: not the residents' committee's
        assert {c["code"] for c in tickets["by_category"]} == {"safety", "fire_safety"}
        assert (tickets["open"], tickets["overdue"]) == (2, 1)
        indicators = body["indicators"]
        async with key_client(world.gateway, secret) as client:
            stats = await client.get(
                "/v1/stats/tickets", params={"group_by": "community", "since": indicators["since"]}
            )
        assert stats.status_code == 200, stats.text
        assert indicators["rows"] == stats.json()["data"]
        assert [(row["group"], row["raised"]) for row in indicators["rows"]] == [("yida", 2)]

    async def test_a_yida_key_asking_for_jiaxin_gets_zero_figures(self, world: World) -> None:
        secret = await create_key(world.gateway, "property", ["yida"])
        async with key_client(world.gateway, secret) as client:
            response = await client.get("/v1/overview", params={"community": "jiaxin"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["communities"] == []
        assert all(m["total"] == 0 for m in body["event_rate"]["minutes"])
        assert (body["people_today"]["entered"], body["people_today"]["exited"]) == (0, 0)
        assert body["vehicles_present"]["count"] == 0
        assert body["devices"]["offline_devices"] == [] and body["devices"]["online"] == 0
        assert (body["tickets"]["open"], body["tickets"]["by_grid"]) == (0, [])
        assert body["population"]["persons_by_population_type"] == {}
        assert body["indicators"]["rows"] == []

    async def test_a_device_ops_key_may_not_read_the_overview(self, world: World) -> None:
        secret = await create_key(world.gateway, "device_ops")
        async with key_client(world.gateway, secret) as client:
            response = await client.get("/v1/overview")
        assert response.status_code == 403
        assert response.json()["error"]["details"] == {"needs": "overview:read"}


class TestAccess:
    async def test_a_key_is_required(self, world: World) -> None:
        response = await world.gateway.http.get("/v1/overview", headers={"X-API-Key": "wrong"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"

    async def test_a_malformed_community_is_refused(self, world: World) -> None:
        response = await world.gateway.http.get("/v1/overview", params={"community": "a b"})
        assert response.status_code in (400, 422)
        assert "error" in response.json()
