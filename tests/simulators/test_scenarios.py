"""The rules' scenarios, their ground truth, the clean traffic around them, and the report."""

import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from schemas.events import BehaviourAlarm, DoorStateEvent, VehiclePass
from schemas.times import CHINA_STANDARD_TIME as CST
from simulators.community import pilot_community
from simulators.masterdata import community_master_data
from simulators.scenario_report import compare, render
from simulators.scenario_traffic import (
    AcceleratedClock,
    clean_traffic,
    replay_end,
    scenario_traffic,
    without_residents,
)
from simulators.scenarios import SCENARIO_NAMES, SCENARIOS, ExpectedTicket, build_scenarios
from simulators.traffic import SimMessage
from simulators.yida_mix import HourlyRates, YidaTraffic
from tests.simulators.parsing import GatewayParser

END = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
RULES = (
    "care.no_activity",
    "population.unregistered_frequent",
    "housing.suspected_group_rental",
    "housing.vacant_activity",
    "vehicle.watchlist",
    "vehicle.long_stay",
    "vehicle.unregistered_frequent",
    "safety.door_forced",
    "safety.door_held_open",
    "fire.lane_occupied",
    "fire.ebike_in_elevator",
    "order.high_altitude_throw",
    "visitor.overstay",
    "device.offline",
)
"""The issue's rule table."""
PARSERS = {code: GatewayParser(pilot_community(code)) for code in ("yida", "jiaxin")}


def _ticket(expected: ExpectedTicket, detected_at: datetime, **location: str) -> dict[str, object]:
    return {
        "ticket_id": "t-" + "0" * 24,
        "rule": expected.rule,
        "community": expected.community,
        "location": {"address": "x", **location},
        "detected_at": detected_at.isoformat(),
    }


class TestCatalogue:
    """One scenario per rule, each with its one expected ticket."""

    def test_one_scenario_per_rule(self) -> None:
        """Every rule of the issue's table has exactly one scenario, and no scenario another."""
        assert sorted(spec.rule for spec in SCENARIOS) == sorted(RULES)
        assert len(set(SCENARIO_NAMES)) == len(SCENARIOS)

    def test_each_expects_one_ticket_of_its_rule(self) -> None:
        """Each scenario expects exactly one ticket, of its own rule, in its own community."""
        for scenario in build_scenarios(None, END):
            assert [(e.rule, e.community) for e in scenario.expected] == [
                (scenario.rule, scenario.community)
            ]

    def test_unknown_name_refused(self) -> None:
        """An unknown scenario name is a KeyError naming it."""
        with pytest.raises(KeyError, match="no-such"):
            build_scenarios(("no-such",), END)

    def test_naive_end_refused(self) -> None:
        """The end must be timezone-aware."""
        with pytest.raises(ValueError, match="aware"):
            build_scenarios(None, END.replace(tzinfo=None))

    def test_deterministic(self) -> None:
        """The same end and seed give the same messages and the same ground truth."""
        assert build_scenarios(None, END) == build_scenarios(None, END)


class TestMessages:
    """Scenario messages: in the past, parsed as claimed, numbered apart, timed as expected."""

    def test_all_before_end_and_plausible(self) -> None:
        """Every scenario message lies before the end and within 180 days of it."""
        for scenario in build_scenarios(None, END):
            for message in scenario.messages:
                assert END - timedelta(days=180) < message.at < END, scenario.name

    def test_parse_as_their_kinds(self) -> None:
        """The gateway's router and adapters read every message as the events it claims."""
        for scenario in build_scenarios(None, END):
            events = PARSERS[scenario.community].parse_all(scenario.messages)
            assert len(events) >= len(scenario.messages) or not scenario.messages

    def test_event_ids_unique(self) -> None:
        """No two scenario events share an event id (each scenario numbers from its own slot)."""
        ids = Counter(
            event.event_id
            for scenario in build_scenarios(None, END)
            for event in PARSERS[scenario.community].parse_all(scenario.messages)
        )
        assert [i for i, n in ids.items() if n > 1] == []

    def test_instant_triggers_at_expected_time(self) -> None:
        """An instantaneous rule's expected time is its triggering event's own time."""
        for name, kind in (
            ("forced-door", DoorStateEvent),
            ("blocked-fire-lane", BehaviourAlarm),
            ("ebike-in-elevator", BehaviourAlarm),
            ("high-altitude-throw", BehaviourAlarm),
            ("watchlisted-plate", VehiclePass),
        ):
            (scenario,) = build_scenarios((name,), END)
            (expected,) = scenario.expected
            assert expected.earliest == expected.latest
            events = PARSERS[scenario.community].parse_all(scenario.messages)
            assert any(isinstance(e, kind) and e.occurred_at == expected.earliest for e in events)

    def test_watermark_deadlines_leave_room_for_lateness(self) -> None:
        """A watermark rule's earliest detection lies at least the lateness (10 min) before the
        end, so the watermark of traffic ending at `end` has passed it."""
        for scenario in build_scenarios(None, END):
            for expected in scenario.expected:
                if expected.earliest is not None and expected.latest is not None:
                    assert expected.earliest <= END - timedelta(minutes=10), scenario.name
                    assert expected.latest <= END

    def test_fire_lane_has_a_doubtful_alarm(self) -> None:
        """The fire-lane story includes an alarm below 0.8 confidence that must raise nothing."""
        (scenario,) = build_scenarios(("blocked-fire-lane",), END)
        alarms = PARSERS["yida"].parse_all(scenario.messages)
        confidences = sorted(a.confidence or 0.0 for a in alarms if isinstance(a, BehaviourAlarm))
        assert confidences[0] < 0.8 <= confidences[1]

    def test_watchlisted_plate_is_listed_and_unregistered(self) -> None:
        """The watch-listed car's plate is on the scenario's watch-list and nobody's car."""
        (scenario,) = build_scenarios(("watchlisted-plate",), END)
        (plate,) = scenario.watchlist
        data = community_master_data(pilot_community("yida"))
        assert plate.plate_no not in data.registered_plates
        events = PARSERS["yida"].parse_all(scenario.messages)
        assert {e.plate_no for e in events if isinstance(e, VehiclePass)} == {plate.plate_no}

    def test_elderly_person_is_elderly_living_alone(self) -> None:
        """The care story is about a resident tagged elderly_living_alone, last seen 3 days ago."""
        (scenario,) = build_scenarios(("elderly-stops-going-out",), END)
        data = community_master_data(pilot_community("yida"))
        (ref,) = scenario.quiet_persons
        occupant = next(o for o in data.occupants if o.resident.person_ref == ref)
        assert "elderly_living_alone" in occupant.tags
        assert max(m.at for m in scenario.messages) == END - timedelta(days=3)

    def test_vacant_house_is_registered_vacant(self) -> None:
        """The vacant-house story's house is one the master data registers as vacant."""
        (scenario,) = build_scenarios(("vacant-house-activity",), END)
        (expected,) = scenario.expected
        data = community_master_data(pilot_community("jiaxin"))
        assert next(f.usage for f in data.houses if f.house.code == expected.house_code) == (
            "vacant"
        )


def _week(clean: bool, days: int = 2) -> list[SimMessage]:
    yida = pilot_community("yida")
    return list(clean_traffic(yida, 7, END, days=days, scale=0.5, clean=clean))


class TestCleanTraffic:
    """Clean traffic has none of the anomalies the rules look for, and keeps everyone seen."""

    def test_no_anomalies(self) -> None:
        """Clean traffic has no forced or held-open door, no behaviour alarm."""
        events = PARSERS["yida"].parse_all(_week(clean=True))
        states = {e.state for e in events if isinstance(e, DoorStateEvent)}
        assert states <= {"opened", "closed"}
        assert not any(isinstance(e, BehaviourAlarm) for e in events)

    def test_unclean_traffic_has_anomalies(self) -> None:
        """Without `clean` the same stretch has its anomalies (so the flag is what removes
        them)."""
        events = PARSERS["yida"].parse_all(_week(clean=False))
        assert any(isinstance(e, BehaviourAlarm) for e in events)

    def test_outside_cars_leave_and_come_by_day(self) -> None:
        """In clean traffic every outside car that comes in leaves again, and none comes in
        after 17:00 or before 08:00 local time."""
        data = community_master_data(pilot_community("yida"))
        events = PARSERS["yida"].parse_all(_week(clean=True))
        inside: Counter[str] = Counter()
        for event in events:
            if not isinstance(event, VehiclePass) or event.plate_no is None:
                continue
            if event.plate_no in data.registered_plates or event.dialect != "barrier-gate":
                continue
            if event.direction == "in":
                assert 8 <= event.occurred_at.astimezone(CST).hour < 17
                inside[event.plate_no] += 1
            else:
                inside[event.plate_no] -= 1
        assert {plate for plate, n in inside.items() if n > 0} <= _entered_last_two_hours(events)

    def test_in_order_and_before_end(self) -> None:
        """Clean traffic comes in event-time order, every message before the end."""
        records = _week(clean=True, days=1)
        assert all(a.at <= b.at for a, b in pairwise(records))
        assert records[-1].at < END

    def test_every_device_beats_near_the_end(self) -> None:
        """Every device sends a heartbeat in the last minutes before the end."""
        yida = pilot_community("yida")
        beats = {m.topic.rsplit("/", 1)[-1] for m in _week(True, 1) if m.dialect == "heartbeat"}
        assert beats == {d.device_id for d in yida.devices}

    def test_elderly_go_out_every_day(self) -> None:
        """Each elderly resident living alone uses their door on every day of the stretch."""
        data = community_master_data(pilot_community("yida"))
        elderly = {
            o.resident.employee_no for o in data.occupants if "elderly_living_alone" in o.tags
        }
        days: dict[str, set[object]] = {}
        for message in _week(clean=True, days=3):
            found = re.search(rb'"employeeNoString":"(\d+)"', message.payload)
            if found and found.group(1).decode() in elderly:
                day = message.at.astimezone(CST).date()
                days.setdefault(found.group(1).decode(), set()).add(day)
        assert set(days) == elderly
        assert all(len(d) >= 3 for d in days.values())


def _entered_last_two_hours(events: Sequence[object]) -> set[str]:
    return {
        e.plate_no
        for e in events
        if isinstance(e, VehiclePass)
        and e.plate_no
        and e.direction == "in"
        and e.occurred_at >= END - timedelta(hours=2)
    }


class TestInjection:
    """Scenarios in the clean traffic: their people and dead devices left out of the rest."""

    def test_quiet_person_only_in_their_story(self) -> None:
        """The elderly resident of the care story appears in no message but the story's."""
        (scenario,) = build_scenarios(("elderly-stops-going-out",), END)
        (ref,) = scenario.quiet_persons
        person = community_master_data(pilot_community("yida")).person(ref)
        story = set(scenario.messages)
        traffic = scenario_traffic([scenario], END, communities=("yida",), days=4, scale=0.5)
        mentions = [
            m
            for m in traffic
            if person.card_no.encode() in m.payload or person.id_number.encode() in m.payload
        ]
        assert mentions and set(mentions) <= story

    def test_dead_camera_silent_after_death(self) -> None:
        """The dying camera sends nothing after its death; the others keep beating."""
        (scenario,) = build_scenarios(("camera-dies",), END)
        ((device, died),) = scenario.dead_devices.items()
        traffic = list(scenario_traffic([scenario], END, communities=("yida",), days=2))
        assert not [m for m in traffic if m.topic.endswith(device) and m.at >= died]
        assert any(m.dialect == "heartbeat" for m in traffic)

    def test_both_communities_merged_in_order(self) -> None:
        """All scenarios in both communities' traffic: in order, all before the end, every
        scenario message present."""
        scenarios = build_scenarios(None, END)
        traffic = list(scenario_traffic(scenarios, END, days=7, scale=0.02))
        assert all(a.at <= b.at for a, b in pairwise(traffic))
        assert traffic[-1].at < END
        present = set(traffic)
        assert all(m in present for s in scenarios for m in s.messages)
        assert {m.topic.split("/", 1)[0] for m in traffic} == {"yida", "jiaxin"}

    def test_without_residents(self) -> None:
        """Taking residents out leaves the community's houses and devices as they were."""
        yida = pilot_community("yida")
        first = next(yida.residents())
        stripped = without_residents(yida, frozenset({first.person_ref}))
        assert first not in set(stripped.residents())
        assert len(list(stripped.residents())) == len(list(yida.residents())) - 1
        assert stripped.devices == yida.devices
        assert [h.code for h in stripped.houses()] == [h.code for h in yida.houses()]


class TestCleanFlag:
    """The clean flag removes anomalies and nothing else."""

    def test_same_traffic_but_anomalies(self) -> None:
        """`clean` only removes anomalies: the streams it does not touch (faces at the gates)
        are the same message for message."""
        yida = pilot_community("yida")
        start = END - timedelta(hours=6)
        dirty = YidaTraffic(yida, 7, start, timedelta(hours=6), HourlyRates(), clean=False)
        clean = YidaTraffic(yida, 7, start, timedelta(hours=6), HourlyRates(), clean=True)
        faces = [m for m in dirty.records() if b"FaceListObject" in m.payload]
        assert faces
        assert faces == [m for m in clean.records() if b"FaceListObject" in m.payload]


class TestReport:
    """Expected against produced tickets, per rule."""

    def test_expected_found_on_time(self) -> None:
        """A matching ticket detected within the bounds counts as produced on time."""
        (scenario,) = build_scenarios(("forced-door",), END)
        (expected,) = scenario.expected
        assert expected.earliest is not None
        ticket = _ticket(expected, expected.earliest, device_id=str(expected.device_id))
        (report,) = compare(scenario.expected, [ticket])
        assert (report.expected, report.produced, report.on_time, report.ok) == (1, 1, 1, True)

    def test_late_ticket_is_a_mismatch(self) -> None:
        """An instant rule's ticket detected a second after its trigger is not on time."""
        (scenario,) = build_scenarios(("forced-door",), END)
        (expected,) = scenario.expected
        assert expected.earliest is not None
        ticket = _ticket(expected, expected.earliest + timedelta(seconds=1))
        (report,) = compare(scenario.expected, [ticket])
        assert (report.matched, report.on_time, report.ok) == (1, 0, False)

    def test_wrong_place_and_twin_are_unexpected(self) -> None:
        """A ticket at another device does not match, and a second one is unexpected."""
        (scenario,) = build_scenarios(("forced-door",), END)
        (expected,) = scenario.expected
        assert expected.earliest is not None
        elsewhere = _ticket(expected, expected.earliest, device_id="43011200001320000099")
        twin = _ticket(expected, expected.earliest)
        (report,) = compare(scenario.expected, [elsewhere, twin, twin])
        assert (report.produced, report.matched, len(report.unexpected)) == (3, 1, 2)
        assert "unexpected" in render([report]) and not report.ok

    def test_clean_week_report(self) -> None:
        """With nothing expected, any ticket makes its rule a mismatch; none is all right."""
        assert compare([], []) == []
        (scenario,) = build_scenarios(("ebike-in-elevator",), END)
        (expected,) = scenario.expected
        (report,) = compare([], [_ticket(expected, END)])
        assert (report.expected, report.produced, report.ok) == (0, 1, False)

    def test_missing_ticket_reported(self) -> None:
        """An expected ticket with no match is listed as missing."""
        scenarios = build_scenarios(None, END)
        reports = compare([e for s in scenarios for e in s.expected], [])
        assert [r.rule for r in reports] == sorted(RULES)
        assert "missing" in render(reports) and not any(r.ok for r in reports)


class TestAcceleratedReplay:
    """An accelerated replay's clock never runs ahead of the wall clock."""

    def test_replay_never_ahead_of_wall_clock(self) -> None:
        """At speed X, the accelerated clock (started at the replay's first moment) never
        reaches a moment the wall clock has not, and reaches the end when the wall clock does."""
        now = datetime.now(UTC)
        span = timedelta(days=7)
        end = replay_end(now, span, 1000.0)
        assert end == now + span / 1000
        clock = AcceleratedClock(end - span, 1000.0)
        for wall_s in (0.0, 100.0, 604.8):
            # where the clock stands `wall_s` seconds after `now`
            event = clock.start + timedelta(seconds=wall_s * clock.speed)
            assert event <= now + timedelta(seconds=wall_s) + timedelta(microseconds=1)
        assert replay_end(now, span, None) == now

    def test_clock_runs_at_speed(self) -> None:
        """The clock starts at its start and does not run backwards."""
        start = datetime.now(UTC) - timedelta(days=1)
        clock = AcceleratedClock(start, 50.0)
        first = clock()
        assert start <= first <= clock()

    def test_speed_must_be_positive(self) -> None:
        """A zero speed is refused."""
        with pytest.raises(ValueError, match="positive"):
            AcceleratedClock(datetime.now(UTC), 0)
