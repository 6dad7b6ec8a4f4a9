"""`care.no_activity` on both stores: an elderly resident living alone, silent for 48 hours
from their last door or face event (or from their registration). Times relative to now."""

from datetime import UTC, datetime, timedelta

import pytest

from gateway.rules import care
from gateway.rules.base import Finding
from gateway.store import Store
from gateway.store.observations import local_day
from tests.gateway.observed_events import YIDA, face
from tests.gateway.rules.resident_world import World, id_hash, occurrences, render
from tests.gateway.store.master_rows import MasterRows

HOUSE = "yida-B01-U1-0302"
HOURS = dict(care.RULES[0].thresholds)
QUIET = timedelta(hours=48)


@pytest.fixture
async def world(store: Store, database: str) -> World:
    opened = World(store, MasterRows(database), datetime.now(UTC))
    await opened.house(HOUSE)
    return opened


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


async def evaluate(world: World, watermark: datetime) -> list[Finding]:
    return await care.no_activity(world.store, YIDA, watermark, HOURS)


class TestNoActivity:
    """A tagged resident fires once per silent spell, when the watermark passes its end."""

    async def test_fires_48_hours_after_the_last_opening_once(
        self, world: World, now: datetime
    ) -> None:
        """Nothing a second before last + 48 h; at it one finding placed at the house, keyed by
        the last opening; later evaluations give the same occurrence."""
        person = await world.resident(1, HOUSE, tags=["elderly_living_alone"], cards=[1])
        last = now - timedelta(hours=60)
        await world.doors(1, [last - timedelta(days=1), last - timedelta(hours=3), last])
        assert await evaluate(world, last + QUIET - timedelta(seconds=1)) == []
        [finding] = await evaluate(world, last + QUIET)
        assert (finding.subject, finding.occurrence, finding.detected_at) == (
            person,
            last.isoformat(),
            last + QUIET,
        )
        assert (finding.house_code, finding.building, finding.unit) == (HOUSE, "B01", "U1")
        assert finding.facts["hours"] == 48
        assert "48小时" in render(care.RULES[0], finding)
        assert occurrences(await evaluate(world, now)) == occurrences([finding])

    async def test_a_face_capture_is_activity(self, world: World, now: datetime) -> None:
        """A capture matched to the person's ID hash after the last opening restarts the clock."""
        await world.resident(1, HOUSE, tags=["elderly_living_alone"], cards=[1])
        await world.doors(1, [now - timedelta(hours=70)])
        seen = now - timedelta(hours=47)
        await world.write([face(1, seen, ref=id_hash(1))])
        assert await evaluate(world, now) == []
        [finding] = await evaluate(world, seen + QUIET)
        assert finding.occurrence == seen.isoformat()

    async def test_never_seen_counts_from_registration(self, world: World, now: datetime) -> None:
        """A resident recorded three days ago and never seen fires 48 hours after that."""
        registered = now - timedelta(days=3)
        await world.resident(
            1, HOUSE, tags=["elderly_living_alone"], cards=[1], registered=registered
        )
        assert await evaluate(world, registered + QUIET - timedelta(seconds=1)) == []
        [finding] = await evaluate(world, registered + QUIET)
        assert (finding.occurrence, finding.detected_at) == (
            registered.isoformat(),
            registered + QUIET,
        )
        assert "never seen" in render(care.RULES[0], finding)

    async def test_47_hours_of_silence_or_no_tag_gives_nothing(
        self, world: World, now: datetime
    ) -> None:
        """Just under the threshold, or an untagged resident silent for days, gives nothing."""
        await world.resident(1, HOUSE, tags=["elderly_living_alone"], cards=[1])
        await world.resident(2, HOUSE, cards=[2])
        await world.doors(1, [now - timedelta(hours=47)])
        await world.doors(2, [now - timedelta(days=5)])
        assert await evaluate(world, now) == []

    async def test_a_new_silence_after_activity_is_a_new_occurrence(
        self, world: World, now: datetime
    ) -> None:
        """Seen again after one spell, then silent again: a second occurrence."""
        await world.resident(1, HOUSE, tags=["elderly_living_alone"], cards=[1])
        first, second = now - timedelta(hours=150), now - timedelta(hours=50)
        await world.doors(1, [first])
        before = occurrences(await evaluate(world, first + QUIET))
        await world.doors(1, [second])
        after = occurrences(await evaluate(world, now))
        assert len(before) == len(after) == 1
        assert before != after

    async def test_a_card_counts_only_while_the_person_holds_it(
        self, world: World, now: datetime
    ) -> None:
        """Openings with a card before it was handed to the person are its earlier holder's:
        the person, never seen, is silent from their registration."""
        registered = now - timedelta(days=5)
        await world.resident(2, HOUSE, cards=[1])
        await world.doors(1, [now - timedelta(days=4)])
        await world.resident(
            1,
            HOUSE,
            tags=["elderly_living_alone"],
            registered=registered,
            cards=[1],
            cards_since=local_day(now) - timedelta(days=1),
        )
        [finding] = await evaluate(world, now)
        assert finding.occurrence == registered.isoformat()
