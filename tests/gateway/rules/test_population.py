"""`population.unregistered_frequent` on both stores: a credential nobody registered, used at
the doors on 3 local days in 7, reported once per episode when the day it began closes."""

from datetime import UTC, datetime, timedelta

import pytest

from gateway.rules import population
from gateway.rules.base import Finding
from gateway.store import Store
from gateway.store.observations import local_day
from gateway.store.residentfacts import day_end
from schemas.privacy import subject_key
from tests.gateway.observed_events import YIDA, face, local
from tests.gateway.rules.resident_world import World, card, occurrences, render
from tests.gateway.store.master_rows import MasterRows

THRESHOLDS = dict(population.RULES[0].thresholds)
HOUSE = "yida-B01-U1-0302"


@pytest.fixture
async def world(store: Store, database: str) -> World:
    opened = World(store, MasterRows(database), datetime.now(UTC))
    await opened.house(HOUSE)
    return opened


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


async def evaluate(world: World, watermark: datetime) -> list[Finding]:
    return await population.unregistered_frequent(world.store, YIDA, watermark, THRESHOLDS)


class TestUnregisteredFrequent:
    """Unresolved subjects on 3 days of 7 fire once, when the third day closes."""

    async def test_fires_when_the_third_day_closes_once(self, world: World, now: datetime) -> None:
        """Openings 5, 3 and 1 days ago: nothing a second before yesterday closes, one finding
        at its close keyed by the day, the same on later evaluations."""
        await world.doors(9, [local(now, days, 9) for days in (5, 3, 1)])
        third = local_day(local(now, 1, 9))
        assert await evaluate(world, day_end(third) - timedelta(seconds=1)) == []
        [finding] = await evaluate(world, day_end(third))
        assert (finding.subject, finding.occurrence, finding.detected_at) == (
            subject_key(YIDA, card(9)),
            third.isoformat(),
            day_end(third),
        )
        assert (finding.building, finding.unit, finding.facts["days"]) == ("B01", "U1", 3)
        assert "7天内有3天" in render(population.RULES[0], finding)
        assert (finding.first_at, finding.last_at) == (local(now, 5, 9), local(now, 1, 9))
        assert len(finding.event_ids) == 3
        assert occurrences(await evaluate(world, now)) == occurrences([finding])

    async def test_a_run_of_days_is_one_episode(self, world: World, now: datetime) -> None:
        """Seen every day for six days, evaluated at every day's close: one occurrence."""
        await world.doors(9, [local(now, days, 9) for days in range(6, 0, -1)])
        found: set[tuple[str, str]] = set()
        for days in range(6, 0, -1):
            found |= occurrences(await evaluate(world, day_end(local_day(local(now, days, 9)))))
        assert found == {
            (
                f"population.unregistered_frequent:{YIDA}:{subject_key(YIDA, card(9))}",
                local_day(local(now, 4, 9)).isoformat(),
            )
        }

    async def test_gates_count_and_place_the_finding_in_the_community(
        self, world: World, now: datetime
    ) -> None:
        """A card used only at a pedestrian gate counts; the finding names no unit."""
        times = [local(now, days, 9) for days in (4, 3, 2)]
        await world.doors(9, times, building=None, unit=None, gate="North gate")
        [finding] = await evaluate(world, now)
        assert (finding.building, finding.unit) == (None, None)

    async def test_two_days_or_days_spread_over_more_than_a_week_give_nothing(
        self, world: World, now: datetime
    ) -> None:
        """Two days in a week, or three days 8 days apart at the ends, stay under the threshold."""
        await world.doors(9, [local(now, days, 9) for days in (3, 1)])
        await world.doors(8, [local(now, days, 9) for days in (9, 5, 1)])
        assert await evaluate(world, now) == []

    async def test_a_registered_resident_or_a_stranger_track_never_fires(
        self, world: World, now: datetime
    ) -> None:
        """A resident's card used every day, and a camera's stranger track seen on three days,
        give nothing."""
        await world.resident(1, HOUSE, cards=[1])
        await world.doors(1, [local(now, days, 9) for days in range(6, 0, -1)])
        await world.write([face(n, local(now, n, 9), track="T1") for n in (4, 3, 2)])
        assert await evaluate(world, now) == []
