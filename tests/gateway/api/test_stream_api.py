"""`GET /v1/stream` and `POST /v1/stream/tokens` on a real gateway fed over a real Mosquitto:
an event and the ticket a forced door raises arrive live; resuming with `Last-Event-ID` gets
exactly the missed messages, a foreign id a reset; heartbeats; stream tokens used once, within
their minute, only here; what each caller receives is its scope's and its role's; ids that
count nothing a scoped reader did not receive; a revoked or expired key's open stream ends
within the recheck interval."""

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from gateway.access import Caller, Role
from gateway.api.stream import admits, token_hash
from gateway.stream import StreamHub, StreamMessage
from schemas.tickets import ResponsibleUnit, TicketPublic, UnitType
from schemas.times import CHINA_STANDARD_TIME
from testkit.harness import (
    ADMIN_KEY,
    RunningGateway,
    gateway_settings,
    mosquitto_pub,
    running_gateway,
)
from testkit.keys import create_key, key_client
from testkit.services import MosquittoService
from tests.gateway.api.sse import Sse, SseReader, open_stream

HEARTBEAT_S = 0.5
RECHECK_S = 0.3
"""How often the module's gateway checks a stream's key again (`stream_recheck_s`)."""
CONTROLLER = "43011200001320000013"
WATCHLIST = "vehicle.watchlist"
QUIET = "streamtest"
"""A community nothing is published in but this module's own hub messages."""


@pytest.fixture(scope="module")
async def gateway(
    mosquitto: MosquittoService, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    database = tmp_path_factory.mktemp("stream") / "scgw.db"
    settings = gateway_settings(
        mosquitto.url,
        f"sqlite:///{database}",
        stream_heartbeat_s=HEARTBEAT_S,
        stream_recheck_s=RECHECK_S,
    )
    async with running_gateway(settings) as running:
        yield running


def forced_door(serial: int, at: datetime | None = None) -> bytes:
    """A hik-isapi controller's forced door (the instant rule `safety.door_forced`)."""
    when = (at or datetime.now(UTC)).astimezone(CHINA_STANDARD_TIME)
    return json.dumps(
        {
            "ipAddress": "10.1.2.3",
            "dateTime": when.isoformat(timespec="seconds"),
            "activePostCount": 1,
            "eventType": "AccessControllerEvent",
            "eventState": "active",
            "AccessControllerEvent": {
                "majorEventType": 5,
                "subEventType": 27,
                "doorNo": 2,
                "serialNo": serial,
            },
        }
    ).encode()


def anonymous(gateway: RunningGateway) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=str(gateway.http.base_url))


class TestTransport:
    async def test_the_stream_is_an_uncached_unbuffered_event_stream(
        self, gateway: RunningGateway
    ) -> None:
        async with open_stream(gateway.http) as stream:
            headers = stream.response.headers
            assert headers["content-type"].startswith("text/event-stream")
            assert headers["cache-control"] == "no-cache"
            assert headers["x-accel-buffering"] == "no"
            assert (await stream.next()).comment == "connected"

    async def test_a_heartbeat_comment_comes_at_every_interval(
        self, gateway: RunningGateway
    ) -> None:
        async with open_stream(gateway.http, {"community": QUIET}) as stream:
            await stream.next()
            assert (await stream.next(timeout_s=HEARTBEAT_S * 4)).comment == "heartbeat"
            assert (await stream.next(timeout_s=HEARTBEAT_S * 4)).comment == "heartbeat"

    async def test_without_a_key_the_stream_is_a_401_with_the_error_body(
        self, gateway: RunningGateway
    ) -> None:
        async with anonymous(gateway) as client:
            response = await client.get("/v1/stream")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"

    @pytest.mark.parametrize("kinds", ["tickets", "event,alarm", "", "event,"])
    async def test_an_unknown_kind_is_an_invalid_parameter(
        self, gateway: RunningGateway, kinds: str
    ) -> None:
        """Like every malformed query parameter of the API: 400 naming the parameter."""
        response = await gateway.http.get("/v1/stream", params={"kinds": kinds})
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "invalid_parameter"
        assert error["details"][0]["location"] == ["query", "kinds"]


class TestLive:
    async def test_an_event_published_over_mqtt_arrives_on_the_stream(
        self, gateway: RunningGateway, mosquitto: MosquittoService
    ) -> None:
        async with open_stream(gateway.http, {"kinds": "event"}) as stream:
            await mosquitto_pub(mosquitto.port, f"yida/hik-isapi/{CONTROLLER}", [forced_door(1)])
            message = await stream.message("event")
        event = message.json
        assert (event["kind"], event["community"], event["device_id"]) == (
            "door_state",
            "yida",
            CONTROLLER,
        )
        assert message.id is not None and message.id.startswith(gateway.runtime.stream.epoch)
        stored = await gateway.events(kind="door_state")
        assert event["event_id"] in {e["event_id"] for e in stored}

    async def test_the_ticket_a_forced_door_raises_arrives_on_the_stream(
        self, gateway: RunningGateway, mosquitto: MosquittoService
    ) -> None:
        async with open_stream(gateway.http, {"kinds": "ticket"}) as stream:
            await mosquitto_pub(mosquitto.port, f"yida/hik-isapi/{CONTROLLER}", [forced_door(2)])
            message = await stream.message("ticket")
        ticket = message.json
        assert (ticket["rule"], ticket["community"]) == ("safety.door_forced", "yida")
        listed = await gateway.http.get(f"/v1/tickets/{ticket['ticket_id']}")
        assert listed.status_code == 200

    async def test_a_ticket_transition_arrives_on_the_stream(
        self, gateway: RunningGateway, mosquitto: MosquittoService
    ) -> None:
        async with open_stream(gateway.http, {"kinds": "ticket"}) as stream:
            await mosquitto_pub(mosquitto.port, f"yida/hik-isapi/{CONTROLLER}", [forced_door(3)])
            ticket = (await stream.message("ticket")).json
            moved = await gateway.http.post(
                f"/v1/tickets/{ticket['ticket_id']}/transitions",
                json={"to": "dispatched", "actor": "网格员-07"},
            )
            assert moved.status_code == 200, moved.text
            while True:
                changed = (await stream.message("ticket")).json
                if changed["status"] == "dispatched":
                    break
        assert changed["ticket_id"] == ticket["ticket_id"]


class TestResume:
    async def test_resuming_with_last_event_id_gets_exactly_the_missed_messages(
        self, gateway: RunningGateway
    ) -> None:
        hub = gateway.runtime.stream
        params = {"community": QUIET}
        async with open_stream(gateway.http, params) as stream:
            sent = [hub.publish("event", QUIET, {"n": n}).id for n in range(2)]
            first = await stream.message()
            assert first.id == sent[0]
        missed = sent[1:] + [hub.publish("event", QUIET, {"n": n}).id for n in range(2, 4)]
        resume = {"Last-Event-ID": first.id}
        async with open_stream(gateway.http, params, resume) as stream:
            got = await stream.messages_until_quiet(HEARTBEAT_S * 4)
        assert [m.id for m in got] == missed
        assert [m.json["n"] for m in got] == [1, 2, 3]

    async def test_an_id_of_another_epoch_gets_a_reset_then_live_messages(
        self, gateway: RunningGateway
    ) -> None:
        hub = gateway.runtime.stream
        resume = {"Last-Event-ID": "0badc0de-12"}
        async with open_stream(gateway.http, {"community": QUIET}, resume) as stream:
            reset = await stream.message()
            live = hub.publish("event", QUIET, {"n": "live"})
            after = await stream.message()
        assert reset.event == "reset"
        assert reset.id is not None and reset.id.startswith(f"{hub.epoch}-")
        assert reset.id != hub.publish("event", QUIET, {}).id  # a mark, not the last message
        assert "reload" in reset.json["reason"]
        assert after.id == live.id


class TestTokens:
    async def test_a_token_opens_one_stream_and_only_once(self, gateway: RunningGateway) -> None:
        before = datetime.now(UTC)
        created = await gateway.http.post("/v1/stream/tokens")
        assert created.status_code == 201
        body = created.json()
        expires = datetime.fromisoformat(body["expires_at"])
        assert (
            before + timedelta(seconds=59) <= expires <= datetime.now(UTC) + timedelta(seconds=61)
        )
        assert ADMIN_KEY not in body["token"]
        async with anonymous(gateway) as client:
            async with open_stream(client, {"token": body["token"]}) as stream:
                assert (await stream.next()).comment == "connected"
            again = await client.get("/v1/stream", params={"token": body["token"]})
        assert again.status_code == 401
        assert again.json()["error"]["code"] == "unauthorized"

    async def test_a_token_expires_after_a_minute(self, gateway: RunningGateway) -> None:
        token = (await gateway.http.post("/v1/stream/tokens")).json()["token"]
        runtime = gateway.runtime
        clock = runtime.clock
        runtime.clock = lambda: clock() + timedelta(seconds=61)
        try:
            async with anonymous(gateway) as client:
                late = await client.get("/v1/stream", params={"token": token})
        finally:
            runtime.clock = clock
        assert late.status_code == 401

    async def test_a_token_is_no_key_anywhere_else(self, gateway: RunningGateway) -> None:
        token = (await gateway.http.post("/v1/stream/tokens")).json()["token"]
        async with anonymous(gateway) as client:
            as_key = await client.get("/v1/events", headers={"X-API-Key": token})
            in_query = await client.get("/v1/events", params={"token": token})
        assert as_key.status_code == 401
        assert in_query.status_code in (400, 401)

    async def test_no_token_reaches_the_gateway_s_logs(
        self, gateway: RunningGateway, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG, logger="gateway")
        token = (await gateway.http.post("/v1/stream/tokens")).json()["token"]
        async with anonymous(gateway) as client:
            async with open_stream(client, {"token": token}) as stream:
                await stream.next()
            refused = await client.get("/v1/stream", params={"token": token})
        assert refused.status_code == 401
        assert "stream token refused" in caplog.text
        assert token not in caplog.text
        assert token_hash(token) not in caplog.text

    async def test_a_token_needs_a_key(self, gateway: RunningGateway) -> None:
        async with anonymous(gateway) as client:
            refused = await client.post("/v1/stream/tokens")
        assert refused.status_code == 401

    async def test_an_unknown_token_is_a_401(self, gateway: RunningGateway) -> None:
        async with anonymous(gateway) as client:
            refused = await client.get("/v1/stream", params={"token": "sst_made-up"})
        assert refused.status_code == 401


def ticket_body(community: str, rule: str, units: tuple[UnitType, ...]) -> TicketPublic:
    now = datetime.now(UTC)
    return TicketPublic.model_validate(
        {
            "ticket_id": "t-" + "0" * 24,
            "dedup_key": f"{rule}:{community}:x",
            "rule": rule,
            "category": {"code": "safety", "name": "安全隐患"},
            "severity": "major",
            "community": community,
            "grid_code": None,
            "location": {"address": "1栋"},
            "responsible_units": [
                ResponsibleUnit(type=unit, name="单位").model_dump() for unit in units
            ],
            "title": "t",
            "description": "d",
            "summary_en": "s",
            "evidence": {"event_ids": [], "count": 0, "first_at": now, "last_at": now},
            "occurrences": 1,
            "detected_at": now,
            "created_at": now,
            "updated_at": now,
            "sla_due_at": now,
            "overdue": False,
            "status": "detected",
            "forward": False,
        }
    )


class TestScope:
    """Who receives what (`gateway.api.stream.admits`), message by message."""

    def messages(self) -> dict[str, StreamMessage]:
        hub = StreamHub(resume_max=100, queue_max=10)
        return {
            "yida event": hub.publish("event", "yida", {}),
            "jiaxin event": hub.publish("event", "jiaxin", {}),
            "yida device": hub.publish("device", "yida", {}),
            "jiaxin device": hub.publish("device", "jiaxin", {}),
            "yida property ticket": hub.publish(
                "ticket", "yida", ticket_body("yida", "safety.door_forced", ("property",))
            ),
            "jiaxin property ticket": hub.publish(
                "ticket", "jiaxin", ticket_body("jiaxin", "safety.door_forced", ("property",))
            ),
            "yida police ticket": hub.publish(
                "ticket", "yida", ticket_body("yida", "safety.door_forced", ("police_station",))
            ),
            "yida watch-list hit": hub.publish(
                "ticket",
                "yida",
                ticket_body("yida", WATCHLIST, ("property", "police_station")),
            ),
        }

    def received(
        self, caller: Caller, kinds: str = "ticket,event,device", community: str | None = None
    ) -> set[str]:
        admitted = admits(caller, frozenset(kinds.split(",")), community)
        return {name for name, message in self.messages().items() if admitted(message)}

    def test_a_yida_property_key_never_receives_a_jiaxin_message(self) -> None:
        yida = Caller("key_1", "亿达物业", Role.PROPERTY, frozenset({"yida"}))
        assert self.received(yida) == {"yida event", "yida device", "yida property ticket"}

    def test_a_community_outside_the_scope_gives_a_silent_stream(self) -> None:
        yida = Caller("key_1", "亿达物业", Role.PROPERTY, frozenset({"yida"}))
        assert self.received(yida, community="jiaxin") == set()

    def test_a_community_filter_narrows_an_unscoped_key(self) -> None:
        gov = Caller("key_2", "平台", Role.GOV)
        assert self.received(gov, community="jiaxin") == {
            "jiaxin event",
            "jiaxin device",
            "jiaxin property ticket",
        }

    def test_the_government_receives_every_ticket_including_watch_list_hits(self) -> None:
        gov = Caller("key_2", "平台", Role.GOV)
        assert len(self.received(gov, "ticket")) == 4

    def test_kinds_narrow_what_is_received(self) -> None:
        ops = Caller("key_3", "运维", Role.DEVICE_OPS)
        assert self.received(ops, "device") == {"yida device", "jiaxin device"}


async def key_id_named(gateway: RunningGateway, name: str) -> str:
    keys = (await gateway.http.get("/v1/keys", params={"limit": 100})).json()["data"]
    return str(next(key["key_id"] for key in keys if key["name"] == name))


async def until_yida_ticket(stream: SseReader) -> list[Sse]:
    """Every message up to and including the first yida ticket."""
    found: list[Sse] = []
    while not found or (found[-1].event, found[-1].json["community"]) != ("ticket", "yida"):
        found.append(await stream.message())
    return found


class TestIsolation:
    async def test_a_yida_property_key_never_receives_a_jiaxin_message(
        self, gateway: RunningGateway, mosquitto: MosquittoService
    ) -> None:
        """Read with the key in a header and with a stream token of the same key: the jiaxin
        door's event and ticket reach the admin's stream, not the property company's."""
        secret = await create_key(gateway, "property", ["yida"], name="亿达物业")
        async with key_client(gateway, secret) as yida:
            token = (await yida.post("/v1/stream/tokens")).json()["token"]
            async with (
                open_stream(gateway.http) as admin_stream,
                open_stream(yida) as header_stream,
                anonymous(gateway) as plain,
                open_stream(plain, {"token": token}) as token_stream,
            ):
                for community, serial in (("jiaxin", 20), ("yida", 21)):
                    topic = f"{community}/hik-isapi/{CONTROLLER}"
                    await mosquitto_pub(mosquitto.port, topic, [forced_door(serial)])
                admin = await until_yida_ticket(admin_stream)
                by_header = await until_yida_ticket(header_stream)
                by_token = await until_yida_ticket(token_stream)
        seen_by_admin = {(m.event, m.json["community"]) for m in admin}
        assert {("event", "jiaxin"), ("ticket", "jiaxin")} <= seen_by_admin
        for received in (by_header, by_token):
            assert {m.json["community"] for m in received} == {"yida"}
            assert {"event", "ticket"} <= {m.event for m in received}

    async def test_a_community_outside_the_scope_is_a_silent_stream_not_an_error(
        self, gateway: RunningGateway
    ) -> None:
        secret = await create_key(gateway, "property", ["yida"])
        async with (
            key_client(gateway, secret) as yida,
            open_stream(yida, {"community": "jiaxin"}) as stream,
        ):
            gateway.runtime.stream.publish("event", "jiaxin", {"n": 1})
            assert await stream.messages_until_quiet(HEARTBEAT_S * 4) == []

    async def test_a_kind_the_role_may_not_read_is_a_403(self, gateway: RunningGateway) -> None:
        secret = await create_key(gateway, "device_ops")
        async with key_client(gateway, secret) as ops:
            refused = await ops.get("/v1/stream", params={"kinds": "event,ticket"})
            async with open_stream(ops, {"community": QUIET}) as stream:
                gateway.runtime.stream.publish("ticket", QUIET, {"n": 1})
                event = gateway.runtime.stream.publish("event", QUIET, {"n": 2})
                got = await stream.message()
        assert refused.status_code == 403
        assert refused.json()["error"]["details"]["kinds"] == ["ticket"]
        assert got.id == event.id  # by default, the kinds the role may read

    async def test_a_token_of_a_key_revoked_meanwhile_is_refused(
        self, gateway: RunningGateway
    ) -> None:
        secret = await create_key(gateway, "property", ["yida"], name="revoked soon")
        async with key_client(gateway, secret) as yida:
            token = (await yida.post("/v1/stream/tokens")).json()["token"]
        key_id = await key_id_named(gateway, "revoked soon")
        assert (await gateway.http.delete(f"/v1/keys/{key_id}")).status_code == 200
        async with anonymous(gateway) as client:
            refused = await client.get("/v1/stream", params={"token": token})
        assert refused.status_code == 401


class TestShutdown:
    async def test_a_gateway_stops_promptly_with_a_stream_open(
        self, mosquitto: MosquittoService, sqlite_url: str
    ) -> None:
        """uvicorn waits for open responses before it stops; the streams end first."""
        settings = gateway_settings(mosquitto.url, sqlite_url, stream_heartbeat_s=HEARTBEAT_S)
        async with asyncio.timeout(15):
            async with running_gateway(settings) as running:
                client = httpx.AsyncClient(
                    base_url=str(running.http.base_url), headers={"X-API-Key": ADMIN_KEY}
                )
                opened = client.stream("GET", "/v1/stream")
                response = await opened.__aenter__()
                assert response.status_code == 200
            lines = [line async for line in response.aiter_lines()]
            await opened.__aexit__(None, None, None)
            await client.aclose()
        assert lines[0] == ": connected"


ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{16}")


class TestOpaqueIds:
    """Ids count nothing: a scoped reader cannot tell how many messages it did not receive."""

    async def test_a_scoped_reader_s_ids_are_a_subset_of_the_admin_s_and_carry_no_number(
        self, gateway: RunningGateway
    ) -> None:
        hub = gateway.runtime.stream
        secret = await create_key(gateway, "property", ["yida"], name="ids")
        async with (
            key_client(gateway, secret) as yida,
            open_stream(gateway.http, {"kinds": "event"}) as admin_stream,
            open_stream(yida, {"kinds": "event"}) as yida_stream,
        ):
            await admin_stream.next()
            await yida_stream.next()
            sent = [
                hub.publish("event", "yida" if n % 3 == 0 else "jiaxin", {"n": n}).id
                for n in range(30)
            ]
            end = hub.publish("event", "yida", {"n": "end"}).id
            admin = await until_id(admin_stream, end)
            scoped = await until_id(yida_stream, end)
        assert sent[0] in admin and sent[0] in scoped and sent[1] not in scoped
        assert set(scoped) < set(admin)
        assert len(scoped) == 11
        assert all(ID.fullmatch(message_id) for message_id in admin)
        tokens = [int(message_id.partition("-")[2], 16) for message_id in scoped]
        assert tokens != sorted(tokens) and tokens != sorted(tokens, reverse=True)

    async def test_a_scoped_reader_resuming_gets_exactly_the_missed_messages_it_may_see(
        self, gateway: RunningGateway
    ) -> None:
        hub = gateway.runtime.stream
        secret = await create_key(gateway, "property", ["yida"], name="resume")
        async with key_client(gateway, secret) as yida:
            async with open_stream(yida, {"kinds": "event"}) as stream:
                first = hub.publish("event", "yida", {"n": 0})
                assert (await stream.message()).id == first.id
            missed = [
                hub.publish("event", community, {"n": n})
                for n, community in enumerate(["jiaxin", "yida", "jiaxin", "yida"], start=1)
            ]
            resume = {"Last-Event-ID": first.id}
            async with open_stream(yida, {"kinds": "event"}, resume) as stream:
                got = await stream.messages_until_quiet(HEARTBEAT_S * 4)
        assert [m.id for m in got] == [missed[1].id, missed[3].id]
        assert [m.json["n"] for m in got] == [2, 4]


async def until_id(stream: SseReader, last: str) -> list[str]:
    """The ids of every message up to and including `last`."""
    ids: list[str] = []
    while not ids or ids[-1] != last:
        ids.append(str((await stream.message()).id))
    return ids


@contextlib.asynccontextmanager
async def yida_traffic(gateway: RunningGateway) -> AsyncIterator[None]:
    """A yida event every 10 ms while the block runs: a busy stream never falls quiet, so
    only the key checks between messages can end it (heartbeats never come)."""

    async def publish() -> None:
        n = 0
        while True:
            gateway.runtime.stream.publish("event", "yida", {"n": n})
            n += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(publish())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until_revoked(stream: SseReader) -> Sse:
    """Read until the `revoked` message (within a few key checks), then the stream's end."""
    async with asyncio.timeout(RECHECK_S * 6):
        while True:
            found = await stream.next()
            if found.event == "revoked":
                break
        with pytest.raises(AssertionError, match="the stream ended"):
            await stream.next()
    return found


class TestRevocation:
    """A stream outlives the request that opened it: it checks its key again every
    `stream_recheck_s` and ends once the key is revoked or expired."""

    async def test_revoking_a_key_ends_its_busy_stream_within_the_recheck_interval(
        self, gateway: RunningGateway
    ) -> None:
        secret = await create_key(gateway, "property", ["yida"], name="revoke busy")
        key_id = await key_id_named(gateway, "revoke busy")
        async with (
            key_client(gateway, secret) as yida,
            yida_traffic(gateway),
            open_stream(yida, {"kinds": "event"}) as stream,
        ):
            await stream.message("event")
            assert (await gateway.http.delete(f"/v1/keys/{key_id}")).status_code == 200
            revoked = await until_revoked(stream)
            again = await yida.get("/v1/stream")
        assert "revoked" in revoked.json["reason"]
        assert revoked.id is None
        assert again.status_code == 401

    async def test_a_stream_opened_with_a_token_ends_when_its_key_is_revoked(
        self, gateway: RunningGateway
    ) -> None:
        secret = await create_key(gateway, "property", ["yida"], name="revoke token")
        key_id = await key_id_named(gateway, "revoke token")
        async with key_client(gateway, secret) as yida:
            token = (await yida.post("/v1/stream/tokens")).json()["token"]
        async with (
            anonymous(gateway) as plain,
            open_stream(plain, {"token": token, "community": QUIET}) as stream,
        ):
            assert (await stream.next()).comment == "connected"
            assert (await gateway.http.delete(f"/v1/keys/{key_id}")).status_code == 200
            await until_revoked(stream)

    async def test_a_key_expiring_ends_its_stream(self, gateway: RunningGateway) -> None:
        expires_at = datetime.now(UTC) + timedelta(hours=1)
        secret = await create_key(gateway, "property", ["yida"], expires_at=expires_at)
        runtime = gateway.runtime
        clock = runtime.clock
        try:
            async with (
                key_client(gateway, secret) as yida,
                yida_traffic(gateway),
                open_stream(yida, {"kinds": "event"}) as stream,
            ):
                await stream.message("event")
                runtime.clock = lambda: clock() + timedelta(hours=2)
                await until_revoked(stream)
        finally:
            runtime.clock = clock

    async def test_a_quiet_stream_is_checked_too_and_lives_on_while_its_key_does(
        self, gateway: RunningGateway
    ) -> None:
        secret = await create_key(gateway, "property", ["yida"], name="quiet")
        key_id = await key_id_named(gateway, "quiet")
        async with (
            key_client(gateway, secret) as yida,
            open_stream(yida, {"community": QUIET}) as stream,
        ):
            assert (await stream.next()).comment == "connected"
            for _ in range(3):  # several checks pass: the key still works
                assert (await stream.next(HEARTBEAT_S * 4)).comment == "heartbeat"
            assert (await gateway.http.delete(f"/v1/keys/{key_id}")).status_code == 200
            await until_revoked(stream)
