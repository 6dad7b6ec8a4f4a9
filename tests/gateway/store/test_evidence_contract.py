"""The `EvidenceStore` contract on both backends: a ticket's evidence events read back by id."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from gateway.store import Store, open_store
from tests.gateway.store.test_contract import access, door_state

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def store(database: str) -> AsyncIterator[Store]:
    opened = open_store(database)
    await opened.open()
    await opened.migrate()
    yield opened
    await opened.close()


class TestEventsById:
    """The events of the ids asked for come back oldest first; unknown ids are left out."""

    async def test_events_come_back_oldest_first(self, store: Store) -> None:
        later = access(1, NOW - timedelta(minutes=5))
        earlier = door_state(2, NOW - timedelta(hours=1))
        other = access(3, NOW - timedelta(minutes=30))
        await store.write_batch([later, earlier, other], [])
        found = await store.events_by_id([later.event_id, earlier.event_id, "no-such-event"])
        assert found == [earlier, later]

    async def test_a_repeated_id_comes_back_once(self, store: Store) -> None:
        event = access(4, NOW - timedelta(minutes=1))
        await store.write_batch([event], [])
        assert await store.events_by_id([event.event_id, event.event_id]) == [event]

    async def test_no_ids_no_events(self, store: Store) -> None:
        assert await store.events_by_id([]) == []
