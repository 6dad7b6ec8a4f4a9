"""The `EvidenceStore` contract on both backends: a ticket's evidence events read back by id."""

from datetime import UTC, datetime, timedelta

from gateway.store import Store
from tests.gateway.store.test_contract import access, door_state

NOW = datetime.now(UTC).replace(microsecond=0)


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
