"""The pure parts of observation: local days and nights, per-batch aggregation, the rule."""

from datetime import UTC, datetime, timedelta

import pytest

from gateway.store.observations import (
    PresenceTally,
    ResidencyRule,
    RetentionCutoffs,
    inferences,
    is_night,
    local_day,
    observe,
)
from tests.gateway.observed_events import CARD, access, local, vehicle

NOW = datetime.now(UTC)


def at_local(hour: int, minute: int = 0) -> datetime:
    return local(NOW, 1, hour, minute)


class TestNight:
    """Night is 19:00 to 08:00 local time."""

    @pytest.mark.parametrize(
        ("hour", "minute", "night"),
        [
            (18, 59, False),
            (19, 0, True),
            (23, 59, True),
            (0, 0, True),
            (7, 59, True),
            (8, 0, False),
        ],
    )
    def test_the_edges(self, hour: int, minute: int, night: bool) -> None:
        """19:00 is night, 08:00 is not."""
        assert is_night(at_local(hour, minute)) is night

    def test_the_day_is_local(self) -> None:
        """01:00 local is still that local day, though UTC says the day before."""
        early = at_local(1)
        assert local_day(early) == early.date() + timedelta(days=1)


class TestObserve:
    """Per-batch aggregation: one row per table key."""

    def test_a_day_at_one_door_is_one_row(self) -> None:
        """Three openings of one door on one day aggregate to one row with night set."""
        seen = observe([access(1, at_local(12)), access(2, at_local(21)), access(3, at_local(9))])
        [row] = seen.presence
        assert (row.night, row.first_at, row.last_at) == (True, at_local(9), at_local(21))

    def test_a_gate_has_an_empty_place(self) -> None:
        """Gate events are placed at ('', '') even when the device names a building."""
        [row] = observe([access(1, at_local(12), building="B01", gate="North gate")]).presence
        assert (row.building, row.unit) == ("", "")

    def test_a_refused_card_adds_no_presence(self) -> None:
        """A denied attempt did not pass the door: only the granted opening makes presence."""
        refused = access(1, at_local(12)).model_copy(update={"result": "denied"})
        assert not observe([refused])
        [row] = observe([refused, access(2, at_local(13))]).presence
        assert row.first_at == at_local(13)

    def test_events_without_a_place_or_key_add_no_presence(self) -> None:
        """No building and no gate, or no subject key: nothing recorded."""
        unplaced = access(1, at_local(12), building=None, unit=None)
        unkeyed = access(2, at_local(12)).model_copy(update={"subject_key": None})
        assert not observe([unplaced, unkeyed])

    def test_plates_aggregate_per_plate_and_colour(self) -> None:
        """Two passes of one plate give one sighting spanning both."""
        [plate] = observe([vehicle(1, at_local(12)), vehicle(2, at_local(9))]).plates
        assert (plate.first_at, plate.last_at) == (at_local(9), at_local(12))


def tally(days: int, nights: int, ref: str | None = CARD) -> PresenceTally:
    return PresenceTally("yida", "s1:x", "B01", "U1", ref, days, nights, NOW, NOW)


class TestRule:
    """The default rule and its confidence."""

    def test_defaults_are_five_days_two_nights_in_fourteen(self) -> None:
        """The issue's defaults."""
        assert ResidencyRule() == ResidencyRule(window_days=14, min_days=5, min_night_days=2)

    @pytest.mark.parametrize(("days", "nights"), [(5, 2), (14, 14), (7, 3), (5, 5)])
    def test_confidence_is_in_zero_one(self, days: int, nights: int) -> None:
        """Every qualifying tally gets a confidence in (0, 1]."""
        assert 0 < ResidencyRule().confidence(days, nights) <= 1

    def test_more_evidence_is_more_confidence(self) -> None:
        """Every day and every night in the window gives 1.0, more than the minimum."""
        rule = ResidencyRule()
        assert rule.confidence(14, 14) == 1.0 > rule.confidence(5, 2)

    def test_the_window_starts_thirteen_days_before_today(self) -> None:
        """Fourteen local days, today included."""
        assert ResidencyRule().window_start(NOW) == local_day(NOW) - timedelta(days=13)

    def test_only_qualifying_tallies_of_unregistered_subjects_infer(self) -> None:
        """Below the days or nights: nothing; a registered resident of the unit: nothing; an
        unknown subject: inferred with the unit's single house."""
        rule = ResidencyRule()
        persons = {("yida", CARD): "p_owner"}
        registered = {("p_owner", "B01", "U1")}
        houses = {("yida", "B01", "U1"): "H1"}
        assert inferences([tally(4, 2), tally(6, 1)], rule, {}, set(), houses) == []
        assert inferences([tally(5, 2)], rule, persons, registered, houses) == []
        [found] = inferences([tally(5, 2, ref=None)], rule, persons, registered, houses)
        assert (found.house_code, found.person_id) == ("H1", None)


class TestRetentionCutoffs:
    """Cut-offs from now and the periods."""

    def test_cutoffs(self) -> None:
        """Events and derived rows before now - event days; audit before now - audit days."""
        cut = RetentionCutoffs.of(NOW, 180, 365)
        assert cut.events_before == NOW - timedelta(days=180)
        assert cut.day_before == local_day(NOW - timedelta(days=180))
        assert cut.audit_before == NOW - timedelta(days=365)
