"""`GET /v1/outbox` and `POST /v1/outbox/{ticket_id}/retry`: the admin's view of what goes to
the grid platform, on a running gateway."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from gateway.store.tickets import TicketQuery
from testkit.harness import RunningGateway, gateway_settings, running_gateway, wait_until
from testkit.platform import PLATFORM_SECRET, PlatformReceiverProcess
from testkit.services import MosquittoService
from tests.gateway.store.ticket_drafts import draft

GATEWAY_SECRET = "the-gateway-has-another-secret-0123456789"


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[PlatformReceiverProcess]:
    process = PlatformReceiverProcess(tmp_path / "received.jsonl", secret=PLATFORM_SECRET)
    process.start()
    yield process
    process.stop()


async def ticket_id_of(gateway: RunningGateway, door: int, *, forward: bool = True) -> str:
    store = gateway.runtime.store
    now = datetime.now(UTC)
    key = f"safety.door_forced:yida:door-{door}"
    await store.record_tickets([draft(key, at=now - timedelta(minutes=5), forward=forward)], now)
    page = await store.list_tickets(TicketQuery(), now)
    (ticket,) = [t for t in page.data if t.dedup_key == key]
    return ticket.ticket_id


class TestOutboxWithoutPlatform:
    """Without SCGW_PLATFORM_URL the outbox says tickets are not forwarded."""

    async def test_list_says_forwarding_is_off(self, api: RunningGateway) -> None:
        """An empty page with `forwarding: false`; a local ticket queues nothing."""
        await ticket_id_of(api, 11, forward=False)
        answer = await api.http.get("/v1/outbox")
        assert answer.status_code == 200
        assert answer.json() == {"data": [], "next_cursor": None, "forwarding": False}

    async def test_retry_of_a_ticket_without_dead_rows_is_409(self, api: RunningGateway) -> None:
        """Nothing to retry is a conflict, an unknown ticket 404, a malformed id 422."""
        ticket_id = await ticket_id_of(api, 12, forward=False)
        answer = await api.http.post(f"/v1/outbox/{ticket_id}/retry")
        assert (answer.status_code, answer.json()["error"]["code"]) == (409, "not_dead")
        answer = await api.http.post(f"/v1/outbox/t-{'0' * 24}/retry")
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "not_found")
        assert (await api.http.post("/v1/outbox/t-123/retry")).status_code == 422

    async def test_a_state_outside_the_three_is_400(self, api: RunningGateway) -> None:
        """`state` is pending, delivered or dead; anything else is an invalid parameter."""
        answer = await api.http.get("/v1/outbox", params={"state": "lost"})
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid_parameter")

    async def test_the_outbox_is_for_key_holders(self, api: RunningGateway) -> None:
        """Without the key: 401."""
        async with httpx.AsyncClient(base_url=str(api.http.base_url)) as anonymous:
            assert (await anonymous.get("/v1/outbox")).status_code == 401
            assert (await anonymous.post(f"/v1/outbox/t-{'0' * 24}/retry")).status_code == 401


class TestOutboxWithPlatform:
    """A running gateway forwards; a wrong secret makes the row dead, visibly, until retried."""

    async def test_wrong_secret_dead_visible_then_retried_and_delivered(
        self, mosquitto: MosquittoService, sqlite_url: str, receiver: PlatformReceiverProcess
    ) -> None:
        """401s until dead (GET /v1/outbox?state=dead, metrics); the platform takes the
        gateway's secret; the admin's retry then delivers the ticket."""
        settings = gateway_settings(
            mosquitto.url,
            sqlite_url,
            platform_url=receiver.url,
            platform_secret=GATEWAY_SECRET,
            platform_max_attempts=2,
            forward_interval_s=0.1,
        )
        async with running_gateway(settings) as gateway:
            ticket_id = await ticket_id_of(gateway, 1)

            async def dead() -> list[dict[str, object]]:
                answer = await gateway.http.get("/v1/outbox", params={"state": "dead"})
                assert answer.status_code == 200
                rows: list[dict[str, object]] = answer.json()["data"]
                return rows

            await wait_until(dead, what="the row to go dead")
            (row,) = await dead()
            assert row["ticket_id"] == ticket_id and row["attempts"] == 2
            assert row["last_error"] == "HTTP 401 bad_signature"
            listing = (await gateway.http.get("/v1/outbox")).json()
            assert listing["forwarding"] is True
            metrics = (await gateway.http.get("/metrics")).text
            assert 'scgw_forward_attempts_total{result="refused"} 2.0' in metrics
            assert 'scgw_outbox_rows{state="dead"} 1.0' in metrics
            assert receiver.records() == []

            receiver.stop()  # the platform is given the gateway's secret
            receiver.secret = GATEWAY_SECRET
            receiver.start()
            answer = await gateway.http.post(f"/v1/outbox/{ticket_id}/retry")
            assert answer.status_code == 200
            assert answer.json() == {"ticket_id": ticket_id, "retried": 1}

            async def delivered() -> bool:
                answer = await gateway.http.get("/v1/outbox", params={"state": "delivered"})
                return len(answer.json()["data"]) == 1

            await wait_until(delivered, what="the row to be delivered")
            audit = (await gateway.http.get("/v1/audit")).json()["data"]
            assert [(a["action"], a["records"]) for a in audit[:1]] == [
                ("outbox.retry", [ticket_id])
            ]
        (record,) = receiver.records()
        assert record["body"]["ticket_id"] == ticket_id and not record["repeat"]
