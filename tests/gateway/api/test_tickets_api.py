"""Tickets through a running gateway's HTTP API, on both stores: the list and its filters, one
ticket with history and evidence, the grid closed loop (happy paths, illegal moves, a lost race,
history kept, overdue flagged) and the indicators against a hand-computed fixture.

Tickets are recorded as the rule runners record them (`TicketDrafter` → `record_tickets`), at
times of an injected clock (`Runtime.clock`) that starts now."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from gateway.rules.base import Finding
from gateway.tickets import TicketDrafter
from testkit.clocks import Clock
from testkit.harness import RunningGateway, gateway_settings, running_gateway
from testkit.services import MosquittoService, free_port
from tests.gateway.api.pages import every
from tests.gateway.observed_events import access
from tests.gateway.ticket_rules import RULES, finding

UNIT_DOOR = "43011200001320000005"
YIDA_FIRST = "430112003001001"
YIDA_SECOND = "430112003001002"
HOUR = timedelta(hours=1)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def gateway(
    mosquitto: MosquittoService, database: str, clock: Clock
) -> AsyncIterator[RunningGateway]:
    """A gateway on each store in turn, fresh for one test, on the test's clock."""
    async with running_gateway(gateway_settings(mosquitto.url, database)) as running:
        running.runtime.clock = clock
        yield running


def drafter(gateway: RunningGateway) -> TicketDrafter:
    runtime = gateway.runtime
    return TicketDrafter(runtime.responsibility, runtime.grids, RULES, runtime.devices.get)


async def record(gateway: RunningGateway, clock: Clock, *findings: Finding) -> list[str]:
    """Record the findings' tickets at the clock's time; their ids, in the findings' order."""
    draft = drafter(gateway).draft
    await gateway.runtime.store.record_tickets([draft(f) for f in findings], clock())
    tickets = await every(gateway.http, "/v1/tickets", limit=100)
    ids = {ticket["dedup_key"]: ticket["ticket_id"] for ticket in tickets}
    return [ids[f.dedup_key] for f in findings]


async def move(gateway: RunningGateway, ticket_id: str, to: str, **body: Any) -> dict[str, Any]:
    """Post a transition that must succeed; the ticket it answers."""
    response = await post(gateway, ticket_id, to, **body)
    assert response.status_code == 200, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def post(gateway: RunningGateway, ticket_id: str, to: str, **body: Any) -> Any:
    payload = {"to": to, "actor": "网格员-07", **body}
    return await gateway.http.post(f"/v1/tickets/{ticket_id}/transitions", json=payload)


async def report(gateway: RunningGateway, clock: Clock, ticket_id: str) -> None:
    """The forwarder's part: the platform acknowledged the ticket's `create` row."""
    store = gateway.runtime.store
    rows = [row for row in await store.due_outbox(clock(), 100) if row.ticket_id == ticket_id]
    assert [row.kind for row in rows] == ["create"]
    await store.outbox_delivered(rows[0], clock(), f"P-{ticket_id[-6:]}")


async def ticket(gateway: RunningGateway, ticket_id: str) -> dict[str, Any]:
    response = await gateway.http.get(f"/v1/tickets/{ticket_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def steps(body: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    return [(s["from_status"], s["to_status"], s["actor"]) for s in body["history"]]


class TestList:
    """`GET /v1/tickets` lists tickets newest first, filtered, paged, and says where they go."""

    async def test_filters_select_tickets(self, gateway: RunningGateway, clock: Clock) -> None:
        door, fire, care = await record(
            gateway,
            clock,
            finding("safety.door_forced", building="B01", detected_at=clock() - 3 * HOUR),
            finding("fire.lane_occupied", gate="South gate", detected_at=clock() - HOUR),
            finding("care.no_activity", community="jiaxin", building="B01"),
        )

        async def listed(**params: Any) -> set[str]:
            return {t["ticket_id"] for t in await every(gateway.http, "/v1/tickets", **params)}

        assert await listed() == {door, fire, care}
        assert await listed(rule="fire.lane_occupied") == {fire}
        assert await listed(category="social_care") == {care}
        assert await listed(grid=YIDA_FIRST) == {door}
        assert await listed(community="yida") == {door, fire}
        assert await listed(unit="property") == {door, fire}
        assert await listed(status="detected") == {door, fire, care}
        assert await listed(status="closed") == set()
        since = (clock() - 2 * HOUR).isoformat()
        assert await listed(since=since) == {fire, care}

    async def test_without_a_platform_url_tickets_stay_local(self, gateway: RunningGateway) -> None:
        response = await gateway.http.get("/v1/tickets")
        assert response.status_code == 200
        assert response.json()["platform"] == {
            "forwarding": False,
            "message": "SCGW_PLATFORM_URL is not set: tickets stay local (detected → dispatched"
            " → handled → closed), none is sent",
        }

    async def test_a_listed_ticket_carries_its_draft(
        self, gateway: RunningGateway, clock: Clock
    ) -> None:
        (door,) = await record(gateway, clock, finding(building="B03", unit="U2"))
        (listed,) = (await gateway.http.get("/v1/tickets")).json()["data"]
        assert listed["ticket_id"] == door
        assert listed["category"]["name"] == "安全隐患"
        assert listed["location"]["address"] == "亿达小镇 B03栋 U2单元"
        assert listed["responsible_units"] == [
            {"type": "property", "code": None, "name": "亿达小镇物业服务中心"}
        ]
        assert (listed["status"], listed["overdue"], listed["history"]) == ("detected", False, None)

    async def test_unknown_and_malformed_parameters_are_refused(
        self, gateway: RunningGateway
    ) -> None:
        unknown = await gateway.http.get("/v1/tickets", params={"colour": "red"})
        assert unknown.status_code == 400
        assert unknown.json()["error"]["code"] == "unknown_parameter"
        for params in ({"status": "lost"}, {"grid": "12"}, {"since": "yesterday"}):
            response = await gateway.http.get("/v1/tickets", params=params)
            assert response.status_code == 400, params
            assert response.json()["error"]["code"] == "invalid_parameter"


class TestPlatformField:
    """With `SCGW_PLATFORM_URL` set, the list says tickets are forwarded, never showing the URL."""

    async def test_a_forwarding_gateway_says_so(
        self, mosquitto: MosquittoService, tmp_path: Path
    ) -> None:
        url = f"http://127.0.0.1:{free_port()}/platform-api"
        settings = gateway_settings(
            mosquitto.url,
            f"sqlite:///{tmp_path / 'scgw.db'}",
            platform_url=url,
            platform_secret="platform-secret-0123456789abcdefghijk",
        )
        async with running_gateway(settings) as forwarding:
            response = await forwarding.http.get("/v1/tickets")
        assert response.status_code == 200
        platform = response.json()["platform"]
        assert platform["forwarding"] is True
        assert "127.0.0.1" not in platform["message"] and "platform-api" not in platform["message"]


class TestOneTicket:
    """`GET /v1/tickets/{ticket_id}` adds the history and the evidence events."""

    async def test_history_and_evidence_events(self, gateway: RunningGateway, clock: Clock) -> None:
        events = [access(1, clock() - 2 * HOUR), access(2, clock() - HOUR)]
        await gateway.runtime.store.write_batch(events, [])
        ids = tuple(event.event_id for event in reversed(events))
        (door,) = await record(gateway, clock, finding(event_ids=(*ids, "removed-since")))
        body = await ticket(gateway, door)
        assert [event["event_id"] for event in body["events"]] == [e.event_id for e in events]
        assert steps(body) == [(None, "detected", "gateway")]
        assert body["evidence"]["count"] == 3

    async def test_an_unknown_ticket_is_404(self, gateway: RunningGateway) -> None:
        response = await gateway.http.get(f"/v1/tickets/t-{'0' * 24}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    async def test_a_malformed_id_is_422(self, gateway: RunningGateway) -> None:
        response = await gateway.http.get("/v1/tickets/T-123")
        assert response.status_code == 422
        assert response.json()["error"]["details"][0]["location"] == ["path", "ticket_id"]


class TestClosedLoop:
    """Status comes back through the API along the grid closed loop, every step kept."""

    async def test_the_forwarded_happy_path(self, gateway: RunningGateway, clock: Clock) -> None:
        (door,) = await record(gateway, clock, finding(building="B01"))
        await report(gateway, clock, door)
        for to in ("accepted", "dispatched", "handled"):
            clock.now += HOUR
            await move(gateway, door, to)
        clock.now += HOUR
        closed = await move(gateway, door, "closed", comment="已修复门锁")
        assert closed["status"] == "closed"
        assert closed["platform_ticket_id"] == f"P-{door[-6:]}"
        assert steps(closed) == [
            (None, "detected", "gateway"),
            ("detected", "reported", "platform"),
            ("reported", "accepted", "网格员-07"),
            ("accepted", "dispatched", "网格员-07"),
            ("dispatched", "handled", "网格员-07"),
            ("handled", "closed", "网格员-07"),
        ]
        assert closed["history"][-1]["comment"] == "已修复门锁"
        assert closed["history"][-1]["at"] == clock().isoformat()

    async def test_the_platform_accepts_before_its_id_reaches_the_gateway(
        self, gateway: RunningGateway, clock: Clock
    ) -> None:
        """Accepting a ticket still `detected` keeps the implied `reported` step; the late
        acknowledgement then records the platform id and leaves the status alone."""
        (door,) = await record(gateway, clock, finding(building="B01"))
        accepted = await move(gateway, door, "accepted", comment="自动受理")
        assert accepted["status"] == "accepted"
        await report(gateway, clock, door)
        body = await ticket(gateway, door)
        assert (body["status"], body["platform_ticket_id"]) == ("accepted", f"P-{door[-6:]}")
        assert steps(body) == [
            (None, "detected", "gateway"),
            ("detected", "reported", "platform"),
            ("reported", "accepted", "网格员-07"),
        ]

    @pytest.mark.parametrize(
        "body", [{"actor": "网格员\u0000-07"}, {"comment": "已受理\u0000"}, {"comment": "a\u202eb"}]
    )
    async def test_control_characters_are_refused(
        self, gateway: RunningGateway, clock: Clock, body: dict[str, str]
    ) -> None:
        """A NUL or a bidi override in `actor` or `comment` is 422 on both stores, and the
        ticket does not move."""
        (door,) = await record(gateway, clock, finding())
        response = await post(gateway, door, "cancelled", **body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "validation_failed"
        assert (await ticket(gateway, door))["status"] == "detected"

    async def test_the_local_happy_path(self, gateway: RunningGateway, clock: Clock) -> None:
        (offline,) = await record(gateway, clock, finding("device.offline", device_id=UNIT_DOOR))
        for to in ("dispatched", "handled", "closed"):
            await move(gateway, offline, to)
        body = await ticket(gateway, offline)
        assert body["forward"] is False and body["platform_ticket_id"] is None
        assert [step[1] for step in steps(body)] == ["detected", "dispatched", "handled", "closed"]

    async def test_an_illegal_move_is_409_naming_the_legal_ones(
        self, gateway: RunningGateway, clock: Clock
    ) -> None:
        (door,) = await record(gateway, clock, finding())
        response = await post(gateway, door, "dispatched")
        assert response.status_code == 409
        assert response.json()["error"] == {
            "code": "illegal_transition",
            "message": "a ticket in detected cannot go to dispatched for this caller;"
            " see details.allowed",
            "details": {
                "status": "detected",
                "to": "dispatched",
                "allowed": ["accepted", "rejected", "false_alarm", "cancelled"],
            },
        }
        assert steps(await ticket(gateway, door)) == [(None, "detected", "gateway")]

    async def test_a_final_status_allows_nothing(
        self, gateway: RunningGateway, clock: Clock
    ) -> None:
        (door,) = await record(gateway, clock, finding())
        await move(gateway, door, "cancelled")
        response = await post(gateway, door, "dispatched")
        assert response.status_code == 409
        assert response.json()["error"]["details"]["allowed"] == []
        assert [step[1] for step in steps(await ticket(gateway, door))] == [
            "detected",
            "cancelled",
        ]

    async def test_of_two_identical_moves_one_wins(
        self, gateway: RunningGateway, clock: Clock
    ) -> None:
        (offline,) = await record(gateway, clock, finding("device.offline", device_id=UNIT_DOOR))
        first, second = await asyncio.gather(
            post(gateway, offline, "dispatched"), post(gateway, offline, "dispatched")
        )
        assert sorted([first.status_code, second.status_code]) == [200, 409]
        loser = first if first.status_code == 409 else second
        assert loser.json()["error"]["details"]["status"] == "dispatched"
        assert [step[1] for step in steps(await ticket(gateway, offline))] == [
            "detected",
            "dispatched",
        ]

    async def test_personal_numbers_in_a_comment_are_redacted(
        self, gateway: RunningGateway, clock: Clock
    ) -> None:
        (door,) = await record(gateway, clock, finding())
        moved = await move(gateway, door, "cancelled", comment="业主电话13812345678已联系")
        assert moved["history"][-1]["comment"] == "业主电话<redacted>已联系"

    async def test_unknown_tickets_and_statuses_are_refused(self, gateway: RunningGateway) -> None:
        unknown = await post(gateway, f"t-{'a' * 24}", "accepted")
        assert unknown.status_code == 404
        (door,) = await record(gateway, Clock(datetime.now(UTC)), finding())
        bad = await post(gateway, door, "lost")
        assert bad.status_code == 422
        assert bad.json()["error"]["details"][0]["location"] == ["body", "to"]


class TestOverdue:
    """A ticket still open past its SLA is flagged overdue, and found by `overdue=true`."""

    async def test_overdue_follows_the_clock_and_closure(
        self, gateway: RunningGateway, clock: Clock
    ) -> None:
        door, offline = await record(
            gateway,
            clock,
            finding(building="B01"),  # safety: 4 h
            finding("device.offline", device_id=UNIT_DOOR),  # device operations: 24 h
        )
        await move(gateway, offline, "dispatched")
        clock.now += 5 * HOUR
        overdue = await every(gateway.http, "/v1/tickets", overdue="true")
        assert [t["ticket_id"] for t in overdue] == [door]
        assert (await ticket(gateway, door))["overdue"] is True
        in_time = await every(gateway.http, "/v1/tickets", overdue="false")
        assert [t["ticket_id"] for t in in_time] == [offline]
        await move(gateway, door, "cancelled")
        assert (await ticket(gateway, door))["overdue"] is False


class TestIndicators:
    """`GET /v1/stats/tickets` matches indicators computed by hand for a fixture."""

    @pytest.fixture
    async def fixture(self, gateway: RunningGateway, clock: Clock) -> datetime:
        """Five tickets raised at one instant T: safety A (closed after 3 h, in its 4 h),
        safety B (closed after 6 h, late), safety C (a false alarm), fire D (left detected),
        and a local device ticket E (closed after 2 h, in its 24 h). T is returned."""
        start = clock()
        a, b, c, _d, e = await record(
            gateway,
            clock,
            finding(subject="a", building="B01"),
            finding(subject="b", building="B02"),
            finding(subject="c", building="B04"),
            finding("fire.lane_occupied", subject="d", gate="South gate"),
            finding("device.offline", subject="e", device_id=UNIT_DOOR),
        )
        for forwarded in (a, b, c):
            await report(gateway, clock, forwarded)
        clock.now = start + HOUR
        for accepted in (a, b):
            await move(gateway, accepted, "accepted")
            await move(gateway, accepted, "dispatched")
        await move(gateway, c, "false_alarm")
        await move(gateway, e, "dispatched")
        await move(gateway, e, "handled")
        clock.now = start + 2 * HOUR
        await move(gateway, e, "closed")
        clock.now = start + 3 * HOUR
        await move(gateway, a, "handled")
        await move(gateway, a, "closed")
        clock.now = start + 6 * HOUR
        await move(gateway, b, "handled")
        await move(gateway, b, "closed")
        return start

    async def stats(self, gateway: RunningGateway, **params: str) -> list[dict[str, Any]]:
        response = await gateway.http.get("/v1/stats/tickets", params=params)
        assert response.status_code == 200, response.text
        assert response.json()["next_cursor"] is None
        rows: list[dict[str, Any]] = response.json()["data"]
        return rows

    async def test_per_category(self, gateway: RunningGateway, fixture: datetime) -> None:
        rows = {row["group"]: row for row in await self.stats(gateway, group_by="category")}
        assert set(rows) == {"safety", "fire_safety", "device_operations"}
        safety = rows["safety"]
        assert (safety["raised"], safety["accepted"], safety["closed"]) == (3, 2, 2)
        assert safety["closure_rate"] == pytest.approx(2 / 3)
        assert safety["on_time_rate"] == pytest.approx(1 / 2)
        assert safety["mean_hours_to_close"] == pytest.approx(4.5)
        assert safety["p90_hours_to_close"] == pytest.approx(3 + 0.9 * (6 - 3))
        assert safety["false_alarm_rate"] == pytest.approx(1 / 3)
        fire = rows["fire_safety"]
        assert (fire["raised"], fire["closed"], fire["closure_rate"]) == (1, 0, 0.0)
        # D, left open past its 4 h, is late already: 0 of 1 on time
        assert (fire["on_time_rate"], fire["mean_hours_to_close"]) == (0.0, None)
        device = rows["device_operations"]
        assert (device["closed"], device["on_time_rate"], device["p90_hours_to_close"]) == (
            1,
            1.0,
            pytest.approx(2.0),
        )

    async def test_per_unit(self, gateway: RunningGateway, fixture: datetime) -> None:
        rows = {row["group"]: row for row in await self.stats(gateway, group_by="unit")}
        assert set(rows) == {"property", "grid"}
        owned = rows["property"]
        assert (owned["raised"], owned["accepted"], owned["closed"]) == (5, 2, 3)
        assert owned["on_time_rate"] == pytest.approx(2 / 4)  # A, E of A, B, E and D (open, late)
        assert owned["mean_hours_to_close"] == pytest.approx((2 + 3 + 6) / 3)
        assert owned["p90_hours_to_close"] == pytest.approx(3 + 0.8 * (6 - 3))
        assert owned["false_alarm_rate"] == pytest.approx(1 / 5)
        assert (rows["grid"]["raised"], rows["grid"]["closed"]) == (1, 0)

    async def test_per_grid_and_community(self, gateway: RunningGateway, fixture: datetime) -> None:
        grids = {row["group"]: row["raised"] for row in await self.stats(gateway, group_by="grid")}
        assert grids == {YIDA_FIRST: 2, YIDA_SECOND: 2, "none": 1}  # E's device is unplaced
        communities = await self.stats(gateway, group_by="community")
        assert [(row["group"], row["raised"]) for row in communities] == [("yida", 5)]

    async def test_a_time_range_selects_by_creation(
        self, gateway: RunningGateway, fixture: datetime
    ) -> None:
        later = (fixture + timedelta(seconds=1)).isoformat()
        assert await self.stats(gateway, group_by="community", since=later) == []
        rows = await self.stats(gateway, group_by="community", until=later)
        assert [row["raised"] for row in rows] == [5]
        earlier = (fixture - HOUR).isoformat()
        params = {"group_by": "grid", "since": later, "until": earlier}
        backwards = await gateway.http.get("/v1/stats/tickets", params=params)
        assert backwards.status_code == 400
        assert backwards.json()["error"]["code"] == "bad_time_range"

    async def test_per_month(self, gateway: RunningGateway, fixture: datetime) -> None:
        rows = await self.stats(gateway, group_by="community", bucket="month")
        cst = timezone(timedelta(hours=8))  # China Standard Time months
        local = fixture.astimezone(cst).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        month = local.astimezone(UTC)
        assert [(row["group"], row["bucket"], row["raised"]) for row in rows] == [
            ("yida", month.isoformat(), 5)
        ]
