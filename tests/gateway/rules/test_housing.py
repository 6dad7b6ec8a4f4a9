"""Housing rules on both stores: suspected group rentals (a crowded house, a crowded unit door,
a card passed around) and houses used against their registration (a vacant one in use, an
occupied one silent for 30 days). Times relative to now."""

from datetime import UTC, datetime, timedelta

import pytest

from gateway.rules import housing
from gateway.rules.base import Finding
from gateway.store import Store
from gateway.store.observations import local_day
from gateway.store.residentfacts import day_end
from schemas.privacy import subject_key
from tests.gateway.observed_events import YIDA, local
from tests.gateway.rules.resident_world import World, card, occurrences, render
from tests.gateway.store.master_rows import MasterRows

RENTAL = dict(housing.RULES[0].thresholds)
VACANT = dict(housing.RULES[1].thresholds)
HOUSE = "yida-B01-U1-0302"
OTHER = "yida-B01-U1-0401"


@pytest.fixture
async def world(store: Store, database: str) -> World:
    opened = World(store, MasterRows(database), datetime.now(UTC))
    return opened


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


async def rental(world: World, watermark: datetime) -> list[Finding]:
    return await housing.group_rental(world.store, YIDA, watermark, RENTAL)


async def vacant(world: World, watermark: datetime) -> list[Finding]:
    return await housing.vacant_activity(world.store, YIDA, watermark, VACANT)


def day_ago(now: datetime, days: int) -> datetime:
    """The end of the local day `days` before today's."""
    return day_end(local_day(local(now, days, 12)))


class TestCrowdedHouse:
    """More registered residents using the door than the house declares + 3 (and 6) fires."""

    async def test_fires_when_the_sixth_resident_day_closes_once(
        self, world: World, now: datetime
    ) -> None:
        """Six residents of a house declaring 2, three seen 3 days ago and three yesterday: one
        finding at yesterday's close, placed at the house, the same later."""
        await world.house(HOUSE, occupants=2)
        for n in range(1, 7):
            await world.resident(n, HOUSE, cards=[n])
            await world.doors(n, [local(now, 3 if n <= 3 else 1, 8 + n)])
        closes = day_ago(now, 1)
        assert await rental(world, closes - timedelta(seconds=1)) == []
        [finding] = await rental(world, closes)
        assert (finding.subject, finding.occurrence, finding.detected_at) == (
            f"house:{HOUSE}",
            local_day(local(now, 1, 12)).isoformat(),
            closes,
        )
        assert finding.house_code == HOUSE
        assert "有6名登记居住人员" in render(housing.RULES[0], finding)
        assert occurrences(await rental(world, now)) == occurrences([finding])

    async def test_five_residents_give_nothing(self, world: World, now: datetime) -> None:
        """Five residents of a house declaring 2 are not more than 2 + 3."""
        await world.house(HOUSE, occupants=2)
        for n in range(1, 6):
            await world.resident(n, HOUSE, cards=[n])
            await world.doors(n, [local(now, 1, 8 + n)])
        assert await rental(world, now) == []


class TestCrowdedUnitDoor:
    """More users of a unit door than its houses' occupants + 3 (and 6) fires."""

    async def test_unregistered_users_fire_once(self, world: World, now: datetime) -> None:
        """A registered resident and six unknown cards at a door whose house holds one."""
        await world.house(HOUSE, occupants=1)
        await world.resident(1, HOUSE, cards=[1])
        await world.doors(1, [local(now, 2, 8)])
        for n in range(11, 17):
            await world.doors(n, [local(now, 2, 9)])
        [finding] = await rental(world, now)
        assert (finding.subject, finding.occurrence) == (
            "unit:B01:U1",
            local_day(local(now, 2, 9)).isoformat(),
        )
        assert finding.detected_at == day_ago(now, 2)
        assert "7 people used the unit door" in render(housing.RULES[0], finding)

    async def test_users_within_occupants_plus_3_give_nothing(
        self, world: World, now: datetime
    ) -> None:
        """Six users at a door whose houses hold 3 (declared) stay within 3 + 3."""
        await world.house(HOUSE, occupants=3)
        await world.resident(1, HOUSE, cards=[1])
        await world.doors(1, [local(now, 2, 8)])
        for n in range(11, 16):
            await world.doors(n, [local(now, 2, 9)])
        assert await rental(world, now) == []


class TestSharedCard:
    """One card opening a unit door more than 10 times a day on 3 days running fires."""

    async def test_eleven_openings_on_three_days_fire_once(
        self, world: World, now: datetime
    ) -> None:
        """The third heavy day's close is when it fires, keyed by the card's subject."""
        await world.house(HOUSE, occupants=2)
        await world.resident(1, HOUSE, cards=[1])
        for days in (3, 2, 1):
            await world.doors(1, [local(now, days, 7, m) for m in range(0, 55, 5)])
        closes = day_ago(now, 1)
        assert await rental(world, closes - timedelta(seconds=1)) == []
        [finding] = await rental(world, closes)
        assert (finding.subject, finding.occurrence, finding.detected_at) == (
            f"card:{subject_key(YIDA, card(1))}",
            local_day(local(now, 1, 7)).isoformat(),
            closes,
        )
        assert occurrences(await rental(world, now)) == occurrences([finding])
        assert "每天开启单元门均超过10次" in render(housing.RULES[0], finding)

    async def test_ten_a_day_or_a_broken_run_gives_nothing(
        self, world: World, now: datetime
    ) -> None:
        """Ten openings a day for three days, or eleven on two days with a gap, give nothing."""
        await world.house(HOUSE, occupants=2)
        await world.resident(1, HOUSE, cards=[1])
        await world.resident(2, HOUSE, cards=[2])
        for days in (3, 2, 1):
            await world.doors(1, [local(now, days, 7, m) for m in range(0, 50, 5)])
        for days in (4, 2, 1):
            await world.doors(2, [local(now, days, 7, m) for m in range(0, 55, 5)])
        assert await rental(world, now) == []


class TestVacantInUse:
    """A house registered vacant with 3 events of its people at its door in 3 days fires."""

    async def test_fires_when_the_third_event_day_closes_once(
        self, world: World, now: datetime
    ) -> None:
        """The owner's card at the unit door on three days: one finding with the events."""
        await world.house(HOUSE, usage="vacant")
        await world.resident(1, HOUSE, cards=[1])
        await world.doors(1, [local(now, days, 10) for days in (3, 2, 1)])
        closes = day_ago(now, 1)
        assert await vacant(world, closes - timedelta(seconds=1)) == []
        [finding] = await vacant(world, closes)
        assert (finding.subject, finding.occurrence, finding.detected_at) == (
            f"house:{HOUSE}",
            f"vacant:{local_day(local(now, 1, 10)).isoformat()}",
            closes,
        )
        assert len(finding.event_ids) == 3
        assert "登记为空置，但3天内有3次出入记录" in render(housing.RULES[1], finding)
        assert occurrences(await vacant(world, now)) == occurrences([finding])

    async def test_two_events_or_another_door_give_nothing(
        self, world: World, now: datetime
    ) -> None:
        """Two openings of its door, and openings of another building's door, give nothing."""
        await world.house(HOUSE, usage="vacant")
        await world.resident(1, HOUSE, cards=[1])
        await world.doors(1, [local(now, days, 10) for days in (2, 1)])
        await world.doors(1, [local(now, days, 11) for days in (3, 2, 1)], building="B02")
        assert await vacant(world, now) == []


class TestOccupiedSilent:
    """An occupied house whose residents are unseen for 30 days fires at last + 30 days."""

    async def test_fires_30_days_after_the_last_sighting_once(
        self, world: World, now: datetime
    ) -> None:
        """The only resident last seen 31 days ago: one finding at last + 30 days."""
        await world.house(HOUSE)
        await world.resident(1, HOUSE, cards=[1], registered=now - timedelta(days=60))
        last = now - timedelta(days=31)
        await world.doors(1, [last])
        deadline = last + timedelta(days=30)
        assert await vacant(world, deadline - timedelta(seconds=1)) == []
        [finding] = await vacant(world, deadline)
        assert (finding.subject, finding.occurrence, finding.detected_at) == (
            f"house:{HOUSE}",
            f"silent:{last.isoformat()}",
            deadline,
        )
        assert "30天无住户出入记录" in render(housing.RULES[1], finding)
        assert occurrences(await vacant(world, now)) == occurrences([finding])

    async def test_29_days_or_a_house_nobody_can_be_seen_in_gives_nothing(
        self, world: World, now: datetime
    ) -> None:
        """A resident seen 29 days ago, and a house whose resident holds no credential,
        registered 40 days ago, give nothing."""
        await world.house(HOUSE)
        await world.house(OTHER)
        await world.resident(1, HOUSE, cards=[1], registered=now - timedelta(days=60))
        await world.doors(1, [now - timedelta(days=29)])
        await world.resident(2, OTHER, registered=now - timedelta(days=40))
        assert await vacant(world, now) == []
