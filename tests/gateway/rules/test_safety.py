"""Door safety rules (`gateway.rules.safety`): a forced door at once, a door left open when the
watermark passes its deadline."""

from datetime import UTC, datetime, timedelta

import pytest

from gateway.rules.base import InstantContext
from gateway.rules.catalog import default_catalog
from gateway.rules.safety import FORCED, HELD_OPEN, door_forced, door_held_open
from gateway.store import Store
from schemas.codes import DoorState
from tests.gateway.rules.rule_events import CALENDAR_ENDS, UNIT_DOOR, YIDA, door_state, texts

HOLD = {"minutes": 5.0}
MINUTE = timedelta(minutes=1)


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class TestDoorForced:
    def test_a_forced_door_is_a_finding(self, now: datetime) -> None:
        """`forced_open` fires at its own time, the door its subject, the event its occurrence."""
        event = door_state(1, now - MINUTE, "forced_open")
        finding = door_forced(event, {}, InstantContext())
        assert finding is not None
        assert (finding.rule, finding.subject, finding.occurrence) == (
            FORCED,
            f"{UNIT_DOOR}:1",
            event.event_id,
        )
        assert finding.detected_at == event.occurred_at
        assert finding.event_ids == (event.event_id,)
        assert (finding.building, finding.unit, finding.device_id) == ("B01", "U1", UNIT_DOOR)
        title, description, summary = texts(default_catalog()[FORCED], finding)
        assert title == "门被强行打开：亿达小镇 B01栋 U1单元"
        assert "（1）" in description and "forced open" in summary

    @pytest.mark.parametrize("state", ["opened", "closed", "held_open"])
    def test_other_states_are_not(self, now: datetime, state: DoorState) -> None:
        """Only `forced_open` counts."""
        assert door_forced(door_state(1, now, state), {}, InstantContext()) is None


class TestDoorHeldOpen:
    async def test_an_open_door_fires_once_its_deadline_is_passed(
        self, store: Store, now: datetime
    ) -> None:
        """Opened with no `closed` within 5 minutes: fires at open + 5 min, once the watermark
        is there, and not before."""
        opened = door_state(1, now - 20 * MINUTE, "opened")
        await store.write_batch([opened], [])
        before = await door_held_open(store, YIDA, opened.occurred_at + 4 * MINUTE, HOLD)
        assert before == []
        found = await door_held_open(store, YIDA, now, HOLD)
        assert [(f.rule, f.occurrence, f.detected_at) for f in found] == [
            (HELD_OPEN, opened.event_id, opened.occurred_at + 5 * MINUTE)
        ]
        assert found[0].subject == f"{UNIT_DOOR}:1"
        assert "5分钟" in texts(default_catalog()[HELD_OPEN], found[0])[1]

    async def test_a_door_closed_in_time_does_not(self, store: Store, now: datetime) -> None:
        """A `closed` within the 5 minutes ends the spell; one after it comes too late."""
        start = now - 60 * MINUTE
        await store.write_batch(
            [
                door_state(1, start, "opened"),
                door_state(2, start + 4 * MINUTE, "closed"),
                door_state(3, start + 10 * MINUTE, "opened"),
                door_state(4, start + 16 * MINUTE, "closed"),
            ],
            [],
        )
        found = await door_held_open(store, YIDA, now, HOLD)
        assert [f.occurrence for f in found] == ["door-000003"]

    async def test_repeated_alarms_are_one_spell(self, store: Store, now: datetime) -> None:
        """Held-open alarms repeated while the door stays open add no firing; a forced door
        is the other rule's, and doors are told apart."""
        start = now - 60 * MINUTE
        await store.write_batch(
            [
                door_state(1, start, "held_open"),
                door_state(2, start + 2 * MINUTE, "held_open"),
                door_state(3, start + 4 * MINUTE, "held_open"),
                door_state(4, start + 20 * MINUTE, "closed"),
                door_state(5, start, "forced_open", door="2"),
                door_state(6, start + MINUTE, "opened", door="3"),
            ],
            [],
        )
        found = await door_held_open(store, YIDA, now, HOLD)
        assert sorted((f.subject, f.occurrence) for f in found) == [
            (f"{UNIT_DOOR}:1", "door-000001"),
            (f"{UNIT_DOOR}:3", "door-000006"),
        ]

    async def test_a_forced_door_left_open_is_the_forced_ticket_only(
        self, store: Store, now: datetime
    ) -> None:
        """Held-open alarms after `forced_open` with no `closed` between continue the forced
        incident (no held-open spell); after a `closed`, an open spell is the rule's again."""
        start = now - 60 * MINUTE
        await store.write_batch(
            [
                door_state(1, start, "forced_open"),
                door_state(2, start + 6 * MINUTE, "held_open"),
                door_state(3, start + 7 * MINUTE, "held_open"),
                door_state(4, start + 20 * MINUTE, "closed"),
                door_state(5, start + 30 * MINUTE, "held_open"),
            ],
            [],
        )
        found = await door_held_open(store, YIDA, now, HOLD)
        assert [f.occurrence for f in found] == ["door-000005"]

    async def test_the_threshold_is_the_rules(self, store: Store, now: datetime) -> None:
        """With `minutes = 15`, a door closed after 10 minutes is fine."""
        start = now - 60 * MINUTE
        await store.write_batch(
            [door_state(1, start, "opened"), door_state(2, start + 10 * MINUTE, "closed")], []
        )
        assert await door_held_open(store, YIDA, now, {"minutes": 15.0}) == []
        assert len(await door_held_open(store, YIDA, now, HOLD)) == 1

    async def test_later_evaluations_find_the_same(self, store: Store, now: datetime) -> None:
        """Evaluated again an hour later the same spell gives the same occurrence and time;
        a day and more later it is out of the span (evaluated at the midnight between)."""
        opened = door_state(1, now - 3 * 60 * MINUTE, "opened")
        await store.write_batch([opened], [])
        first = await door_held_open(store, YIDA, now - 2 * 60 * MINUTE, HOLD)
        again = await door_held_open(store, YIDA, now, HOLD)
        assert first == again and len(first) == 1
        assert await door_held_open(store, YIDA, now + timedelta(days=2), HOLD) == []

    @pytest.mark.parametrize("watermark", CALENDAR_ENDS)
    async def test_the_calendar_ends_do_not_overflow(
        self, store: Store, now: datetime, watermark: datetime
    ) -> None:
        """Evaluated at year 1 or 9999 with the longest hold, the rule answers instead of
        raising."""
        await store.write_batch([door_state(1, now - 60 * MINUTE, "opened")], [])
        longest = {"minutes": 366 * 24 * 60.0}
        assert await door_held_open(store, YIDA, watermark, longest) == []
