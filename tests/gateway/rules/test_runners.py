"""The rule runners in a running gateway (`gateway.rules.runners`, `gateway.runtime`): a forced
door published over MQTT becomes a ticket with its batch; with `SCGW_RULES=off` nothing runs."""

from datetime import UTC, datetime
from pathlib import Path

from gateway.store import open_store
from gateway.store.tickets import TicketQuery
from schemas.tickets import WatchlistEntry
from testkit.harness import (
    RunningGateway,
    gateway_settings,
    mosquitto_pub,
    running_gateway,
    wait_until,
)
from testkit.services import MosquittoService
from testkit.times import redate_fixture

FIXTURES = Path(__file__).parents[2] / "adapters" / "fixtures" / "hik_isapi"
CONTROLLER = "43011200001320000013"
TOPIC = f"yida/hik-isapi/{CONTROLLER}"
PLATE = "湘A12345"


def forced_door() -> bytes:
    return redate_fixture((FIXTURES / "door_forced_open.json").read_bytes(), datetime.now(UTC))


async def tickets(gateway: RunningGateway) -> list[str]:
    page = await gateway.runtime.store.list_tickets(TicketQuery(), datetime.now(UTC))
    return [ticket.rule for ticket in page.data]


class TestRuleRunners:
    async def test_a_forced_door_opens_a_ticket_with_its_batch(
        self, mosquitto: MosquittoService, database: str
    ) -> None:
        """The instant rules run on ingest; the watch-list is loaded from the store at start."""
        store = open_store(database)
        await store.open()
        await store.migrate()
        await store.put_watchlist(
            [WatchlistEntry(plate_no=PLATE, reason="协查")], datetime.now(UTC)
        )
        await store.close()
        async with running_gateway(gateway_settings(mosquitto.url, database)) as gateway:
            assert gateway.runtime.rules is not None
            assert set(gateway.runtime.watchlist.snapshot) == {PLATE}
            await mosquitto_pub(mosquitto.port, TOPIC, [forced_door()])

            async def ticketed() -> bool:
                return await tickets(gateway) == ["safety.door_forced"]

            await wait_until(ticketed, what="the forced door's ticket")

    async def test_rules_off_run_nothing(
        self, mosquitto: MosquittoService, sqlite_url: str
    ) -> None:
        """With `SCGW_RULES=off` the event is stored and no ticket opens."""
        settings = gateway_settings(mosquitto.url, sqlite_url, rules=False)
        async with running_gateway(settings) as gateway:
            assert gateway.runtime.rules is None
            await mosquitto_pub(mosquitto.port, TOPIC, [forced_door()])

            async def stored() -> bool:
                return len(await gateway.events(kind="door_state")) == 1

            await wait_until(stored, what="the forced door's event")
            assert await tickets(gateway) == []
