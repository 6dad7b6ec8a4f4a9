"""Vehicle rules on both stores: a watch-listed plate (instant), a non-resident car left in the
car park, a non-resident plate coming on many nights. Times are relative to the real now."""

from datetime import UTC, datetime, timedelta

import pytest

from gateway.rules import vehicles
from gateway.rules.base import InstantContext
from gateway.rules.windows import night_end
from gateway.store import Store
from gateway.store.observations import local_day
from schemas.tickets import WatchlistEntry
from tests.gateway.observed_events import YIDA, local, vehicle
from tests.gateway.rules.resident_world import World, occurrences, render
from tests.gateway.store.master_rows import MasterRows

PLATE = "湘A8K2C6"
RESIDENT = "湘A12345"
LONG_STAY = dict(vehicles.RULES[1].thresholds)
FREQUENT = dict(vehicles.RULES[2].thresholds)


@pytest.fixture
async def world(store: Store, database: str) -> World:
    opened = World(store, MasterRows(database), datetime.now(UTC))
    return opened


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


def listed(plate_color: str | None = None, until: datetime | None = None) -> InstantContext:
    entry = WatchlistEntry(plate_no=PLATE, plate_color=plate_color, reason="布控", until=until)
    return InstantContext(watchlist={PLATE: entry})


class TestWatchlist:
    """A pass of a listed plate fires at once, per event, while the entry holds."""

    def test_a_listed_plate_fires_on_its_pass(self, now: datetime) -> None:
        """The finding is the pass: its event, time, gate and picture, keyed by the plate."""
        picture = "https://img.example.com/1.jpg"
        event = vehicle(1, now, "blue", PLATE, "in").model_copy(update={"image_url": picture})
        finding = vehicles.watchlist(event, {}, listed(plate_color="blue"))
        assert finding is not None
        assert (finding.dedup_key, finding.occurrence) == (
            f"vehicle.watchlist:{YIDA}:{PLATE}",
            event.event_id,
        )
        assert (finding.detected_at, finding.event_ids, finding.gate) == (
            now,
            (event.event_id,),
            "North car park ramp",
        )
        assert finding.image_urls == (picture,)
        assert f"布控名单车辆{PLATE}于亿达小镇1栋1单元驶入" in render(vehicles.RULES[0], finding)

    def test_the_same_pass_gives_the_same_occurrence(self, now: datetime) -> None:
        """Evaluating one pass twice gives one occurrence (the store records it once)."""
        event = vehicle(1, now, "blue", PLATE, "in")
        first = vehicles.watchlist(event, {}, listed())
        again = vehicles.watchlist(event, {}, listed())
        assert first == again

    def test_another_colour_or_an_expired_entry_or_another_plate_does_not_fire(
        self, now: datetime
    ) -> None:
        """A yellow pass of a plate listed blue, a pass at the entry's expiry, and an unlisted
        plate give nothing."""
        assert (
            vehicles.watchlist(
                vehicle(1, now, "yellow", PLATE, "in"), {}, listed(plate_color="blue")
            )
            is None
        )
        assert (
            vehicles.watchlist(vehicle(2, now, "blue", PLATE, "in"), {}, listed(until=now)) is None
        )
        assert vehicles.watchlist(vehicle(3, now, "blue", RESIDENT, "in"), {}, listed()) is None

    def test_an_unknown_colour_matches_and_an_unexpired_entry_holds(self, now: datetime) -> None:
        """A pass whose colour the camera did not read matches the listed colour."""
        event = vehicle(1, now, "unknown", PLATE, "out")
        context = listed(plate_color="blue", until=now + timedelta(seconds=1))
        assert vehicles.watchlist(event, {}, context) is not None


class TestLongStay:
    """A non-resident entry with no later pass of the plate for 72 hours fires at entry + 72 h."""

    async def test_fires_when_the_watermark_passes_entry_plus_72_hours_once(
        self, world: World, now: datetime
    ) -> None:
        """Nothing a second before the deadline; one finding at it, the same one later."""
        entered = now - timedelta(hours=80)
        [event_id] = await world.passes(PLATE, [entered])
        deadline = entered + timedelta(hours=72)
        assert (
            await vehicles.long_stay(world.store, YIDA, deadline - timedelta(seconds=1), LONG_STAY)
            == []
        )
        [finding] = await vehicles.long_stay(world.store, YIDA, deadline, LONG_STAY)
        assert (finding.subject, finding.occurrence, finding.detected_at) == (
            PLATE,
            event_id,
            deadline,
        )
        assert finding.event_ids == (event_id,)
        assert f"{PLATE} entered" in render(vehicles.RULES[1], finding)
        later = await vehicles.long_stay(
            world.store, YIDA, deadline + timedelta(hours=20), LONG_STAY
        )
        assert occurrences(later) == occurrences([finding])

    async def test_an_exit_within_72_hours_ends_the_stay(self, world: World, now: datetime) -> None:
        """Leaving 71 hours after entering gives nothing; so does re-entering (it left unseen)."""
        entered = now - timedelta(hours=90)
        await world.passes(PLATE, [entered])
        await world.passes(PLATE, [entered + timedelta(hours=71)], direction="out")
        await world.passes("湘B99999", [entered, entered + timedelta(hours=70)])
        assert await vehicles.long_stay(world.store, YIDA, now, LONG_STAY) == []

    async def test_a_registered_car_never_fires(self, world: World, now: datetime) -> None:
        """A resident's car parked for a week is not a long stay."""
        await world.car(RESIDENT)
        await world.passes(RESIDENT, [now - timedelta(days=4)])
        assert await vehicles.long_stay(world.store, YIDA, now, LONG_STAY) == []


class TestUnregisteredFrequent:
    """A non-resident plate entering on 4 nights of 7 fires when the 4th night closes."""

    async def test_fires_when_the_fourth_night_closes_once(
        self, world: World, now: datetime
    ) -> None:
        """Entries at 22:00 on four nights: nothing before 08:00 after the fourth, one finding
        at it, and no other occurrence on later evaluations."""
        nights = [local(now, days, 22) for days in (6, 5, 4, 3)]
        await world.passes(PLATE, nights)
        fourth = local_day(nights[-1])
        closes = night_end(fourth)
        assert (
            await vehicles.unregistered_frequent(
                world.store, YIDA, closes - timedelta(seconds=1), FREQUENT
            )
            == []
        )
        [finding] = await vehicles.unregistered_frequent(world.store, YIDA, closes, FREQUENT)
        assert (finding.subject, finding.occurrence, finding.detected_at) == (
            PLATE,
            fourth.isoformat(),
            closes,
        )
        assert "7晚内有4晚" in render(vehicles.RULES[2], finding)
        assert len(finding.event_ids) == 4
        for days in (1, 2, 3):
            later = await vehicles.unregistered_frequent(
                world.store, YIDA, closes + timedelta(days=days), FREQUENT
            )
            assert set(occurrences(later)) <= set(occurrences([finding]))

    async def test_small_hours_belong_to_the_night_before(
        self, world: World, now: datetime
    ) -> None:
        """Entries at 02:00 count for the night that began the evening before."""
        await world.passes(PLATE, [local(now, days, 2) for days in (5, 4, 3, 2)])
        fourth_night = local_day(local(now, 3, 12))
        [finding] = await vehicles.unregistered_frequent(
            world.store, YIDA, night_end(fourth_night), FREQUENT
        )
        assert finding.occurrence == fourth_night.isoformat()

    async def test_three_nights_or_daytime_entries_give_nothing(
        self, world: World, now: datetime
    ) -> None:
        """Three nights of entries, and daytime entries on other days, stay under the threshold."""
        await world.passes(PLATE, [local(now, days, 22) for days in (6, 5, 4)])
        await world.passes(PLATE, [local(now, days, 12) for days in (3, 2)])
        assert await vehicles.unregistered_frequent(world.store, YIDA, now, FREQUENT) == []

    async def test_a_registered_car_never_fires(self, world: World, now: datetime) -> None:
        """A resident's car coming home every night is not a frequent visitor."""
        await world.car(RESIDENT)
        await world.passes(RESIDENT, [local(now, days, 22) for days in range(7, 1, -1)])
        assert await vehicles.unregistered_frequent(world.store, YIDA, now, FREQUENT) == []
