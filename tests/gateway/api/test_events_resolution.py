"""`GET /v1/events` resolves at read time: person_id from the credentials valid on each event's
day, vehicle_registered from the vehicles, whatever arrived after the events; on both stores."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from schemas.privacy import subject_key
from testkit.harness import RunningGateway, gateway_settings, running_gateway
from testkit.services import MosquittoService
from tests.gateway.observed_events import CARD, ID_HASH, YIDA, access, vehicle
from tests.gateway.store.master_rows import MasterRows


@pytest.fixture
async def gateway(mosquitto: MosquittoService, database: str) -> AsyncIterator[RunningGateway]:
    async with running_gateway(gateway_settings(mosquitto.url, database)) as running:
        yield running


async def by_id(gateway: RunningGateway, kind: str) -> dict[str, dict[str, object]]:
    return {str(e["event_id"]): e for e in await gateway.events(kind=kind)}


class TestEventResolution:
    """Events carry person_id, subject_key and vehicle_registered as the data stands now."""

    async def test_a_credential_imported_after_the_events_resolves_them(
        self, gateway: RunningGateway, database: str
    ) -> None:
        """Last week's openings are anonymous until the card is imported, then resolve to its
        holder, within its validity; erasing the person un-resolves them at once."""
        now = datetime.now(UTC)
        week_ago, yesterday = now - timedelta(days=7), now - timedelta(days=1)
        await gateway.runtime.store.write_batch([access(1, week_ago), access(2, yesterday)], [])
        before = await by_id(gateway, "access")
        assert [e["person_id"] for e in before.values()] == [None, None]
        assert {e["subject_key"] for e in before.values()} == {subject_key(YIDA, CARD)}

        rows = MasterRows(database)
        rows.person(YIDA, "p_holder", ID_HASH)
        rows.credential(YIDA, CARD, "p_holder", since=(now - timedelta(days=3)).date())
        after = await by_id(gateway, "access")
        assert (after["acc-000001"]["person_id"], after["acc-000002"]["person_id"]) == (
            None,
            "p_holder",
        )

        rows.sql("DELETE FROM credentials")
        rows.sql("DELETE FROM persons")
        erased = await by_id(gateway, "access")
        assert erased["acc-000002"]["person_id"] is None

    async def test_vehicle_passes_carry_vehicle_registered(
        self, gateway: RunningGateway, database: str
    ) -> None:
        """A pass of a plate imported as registered afterwards reads as registered."""
        now = datetime.now(UTC)
        await gateway.runtime.store.write_batch([vehicle(1, now - timedelta(hours=2))], [])
        assert (await by_id(gateway, "vehicle_pass"))["veh-000001"]["vehicle_registered"] is False
        MasterRows(database).sql("UPDATE vehicles SET registered = true")
        assert (await by_id(gateway, "vehicle_pass"))["veh-000001"]["vehicle_registered"] is True

    async def test_the_stored_body_holds_no_read_time_field(
        self, gateway: RunningGateway, database: str
    ) -> None:
        """person_id and vehicle_registered are never written to the events table."""
        now = datetime.now(UTC)
        await gateway.runtime.store.write_batch([access(1, now - timedelta(hours=1))], [])
        rows = MasterRows(database)
        rows.person(YIDA, "p_holder", ID_HASH)
        rows.credential(YIDA, CARD, "p_holder")
        await gateway.events()
        [(body,)] = rows.sql("SELECT body FROM events")
        assert "p_holder" not in str(body)
