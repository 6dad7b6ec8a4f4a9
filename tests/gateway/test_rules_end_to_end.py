"""Every rule on its scenario, end to end: the simulators publish a week of both pilot
communities to Mosquitto, a real gateway stores it in PostgreSQL + TimescaleDB, and the rules
turn each scenario into its one ticket, at the right event time; a clean week gives none.

The rule engine and the silent-device watch run on the test's cue instead of their timers
(both intervals are an hour): once everything published is stored, the engine evaluates the
watermark rules (the replayed week is caught up at each local midnight, as after a restart)
and a `DeviceWatch` over the gateway's store and registry checks with its clock 90 s after
the week's end. The dying camera's registry entry says it is offline after 60 s; every other
device beat in the last minutes of the week and is within its kind's allowance. Evaluating
again adds nothing: rule state is the stored events and the tickets' occurrences.
"""

import asyncio
import json
import re
import sys
import urllib.request
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.config import GatewayConfig, load_config
from gateway.device_status import DeviceWatch
from gateway.masterdata.importer import Importer
from schemas.privacy import Pseudonymizer
from simulators.community import Vehicle, pilot_community
from simulators.config_toml import communities_config_toml
from simulators.hik_isapi import Minor
from simulators.masterdata import DATASETS, community_master_data
from simulators.publisher import publish
from simulators.scenario_messages import Emitter
from simulators.scenario_report import Ticket, compare, fetch_tickets, put_watchlist
from simulators.scenario_traffic import scenario_traffic
from simulators.scenarios import SCENARIOS, Scenario, WatchlistPlate, build_scenarios
from simulators.traffic import SimMessage
from testkit.gateway_process import GatewayProcess
from testkit.harness import (
    ADMIN_KEY,
    HASH_KEY,
    RunningGateway,
    gateway_settings,
    mosquitto_pub,
    running_gateway,
    wait_until,
    write_file,
)
from testkit.inspection import holds_value
from testkit.platform import PLATFORM_SECRET, PlatformReceiverProcess
from testkit.services import MosquittoService, PostgresService

PILOTS = ("yida", "jiaxin")
SCALE = 0.05
"""The week's normal traffic at a twentieth of a real community's: about 16,000 messages."""
DEAD_OFFLINE_AFTER_S = 60
WATCH_AFTER_END = timedelta(seconds=90)
HOUR_S = 3600.0


@dataclass
class Week:
    """A replayed week and the tickets the gateway made of it (and of a second evaluation)."""

    gateway: RunningGateway
    end: datetime
    scenarios: tuple[Scenario, ...]
    published: int
    tickets: list[Ticket]
    again: list[Ticket]
    platform: PlatformReceiverProcess

    def of_rule(self, rule: str) -> list[Ticket]:
        return [t for t in self.tickets if t["rule"] == rule]


def pilot_config(tmp: Any, scenarios: Sequence[Scenario]) -> GatewayConfig:
    """Both pilot communities' registry; a dying camera is offline after 60 s of silence."""
    communities = [pilot_community(code) for code in PILOTS]
    config = load_config(write_file(tmp / "pilot.toml", communities_config_toml(communities)))
    dead = {device for s in scenarios for device in s.dead_devices}
    devices = [
        d.model_copy(update={"offline_after_s": DEAD_OFFLINE_AFTER_S}) if d.device_id in dead else d
        for d in config.devices
    ]
    return config.model_copy(update={"devices": devices})


async def replay_week(
    mosquitto: MosquittoService,
    dsn: str,
    tmp: Any,
    scenarios: tuple[Scenario, ...],
    platform: PlatformReceiverProcess,
) -> AsyncIterator[Week]:
    """Import the master data, put the scenarios' plates on the watch-list, publish the week
    ending now, wait until it is stored, evaluate the rules and check the devices; the
    gateway forwards to the reference grid platform."""
    settings = gateway_settings(
        mosquitto.url,
        dsn,
        rules_interval_s=HOUR_S,
        device_check_interval_s=HOUR_S,
        platform_url=platform.url,
        platform_secret=PLATFORM_SECRET,
    )
    listening = datetime.now(UTC)
    async with running_gateway(settings, pilot_config(tmp, scenarios)) as gateway:
        runtime = gateway.runtime
        assert runtime.contacts is not None and runtime.rules is not None
        importer = Importer(runtime.store, runtime.grids, Pseudonymizer(HASH_KEY), runtime.contacts)
        for code in PILOTS:
            data = community_master_data(pilot_community(code))
            for dataset in DATASETS:
                report = await importer.run(code, dataset, data.numbered(dataset))
                assert report.rejected == [], (code, dataset, report.rejected[:3])
        await put_watchlist(gateway.http, scenarios)

        end = datetime.now(UTC).replace(microsecond=0)
        week = list(scenario_traffic(scenarios, end, scale=SCALE))
        events = sum(len(m.kinds) for m in week)
        await publish(week, url=mosquitto.url, connections=4)
        registry = runtime.metrics.registry

        def stored() -> float:
            return registry.get_sample_value("scgw_events_stored_total") or 0

        await wait_until(lambda: stored() >= events, timeout_s=300, what="the week stored")
        assert await gateway.dead_letters() == []

        watch = DeviceWatch(
            runtime.store,
            runtime.devices,
            interval_s=HOUR_S,
            listening_since=listening,
            on_offline=runtime.rules.offline,
        )

        async def evaluate() -> list[Ticket]:
            await runtime.rules.engine.run_once(datetime.now(UTC))  # type: ignore[union-attr]
            await watch.check(now=end + WATCH_AFTER_END)
            return await fetch_tickets(gateway.http, PILOTS)

        tickets = await evaluate()
        again = await evaluate()
        yield Week(gateway, end, scenarios, events, tickets, again, platform)


@pytest.fixture(scope="module")
def scenario_dsn(postgres: PostgresService) -> Iterator[str]:
    yield postgres.create_database("rules_scenarios")
    postgres.drop_database("rules_scenarios")


@pytest.fixture(scope="module")
def clean_dsn(postgres: PostgresService) -> Iterator[str]:
    yield postgres.create_database("rules_clean_week")
    postgres.drop_database("rules_clean_week")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformReceiverProcess]:
    """The reference grid platform the module's gateways forward to."""
    receiver = PlatformReceiverProcess(tmp_path_factory.mktemp("platform") / "received.jsonl")
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
async def scenario_week(
    mosquitto: MosquittoService,
    scenario_dsn: str,
    platform: PlatformReceiverProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Week]:
    """Every scenario in a clean week of both pilot communities."""
    scenarios = build_scenarios(None, datetime.now(UTC))
    tmp = tmp_path_factory.mktemp("rules-scenarios")
    async for week in replay_week(mosquitto, scenario_dsn, tmp, scenarios, platform):
        yield week


@pytest.fixture(scope="module")
async def clean_week(
    mosquitto: MosquittoService,
    clean_dsn: str,
    platform: PlatformReceiverProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Week]:
    """A clean week of both pilot communities, no scenario in it."""
    tmp = tmp_path_factory.mktemp("rules-clean")
    async for week in replay_week(mosquitto, clean_dsn, tmp, (), platform):
        yield week


def _ticket_key(ticket: Ticket) -> tuple[object, ...]:
    evidence = ticket["evidence"]
    return (ticket["ticket_id"], ticket["occurrences"], evidence["count"], ticket["detected_at"])


class TestEachRuleOnItsScenario:
    """Each rule fires on its scenario once, at the right event time, and on nothing else."""

    @pytest.mark.parametrize("rule", [spec.rule for spec in SCENARIOS])
    async def test_one_ticket_on_time(self, scenario_week: Week, rule: str) -> None:
        """The rule's one ticket is its scenario's, detected within the expected bounds."""
        (expected,) = [e for s in scenario_week.scenarios for e in s.expected if e.rule == rule]
        tickets = scenario_week.of_rule(rule)
        assert len(tickets) == 1, [(t["dedup_key"], t["summary_en"]) for t in tickets]
        (ticket,) = tickets
        assert expected.matches(ticket), ticket["location"]
        assert expected.on_time(datetime.fromisoformat(ticket["detected_at"])), (
            ticket["detected_at"],
            expected.earliest,
            expected.latest,
        )

    async def test_the_report_is_all_right(self, scenario_week: Week) -> None:
        """The scenarios' report: every rule expected once and produced once, on time."""
        expected = [e for s in scenario_week.scenarios for e in s.expected]
        reports = compare(expected, scenario_week.tickets)
        assert [(r.rule, r.expected, r.produced, r.on_time) for r in reports] == [
            (spec.rule, 1, 1, 1) for spec in sorted(SCENARIOS, key=lambda spec: spec.rule)
        ]

    async def test_evaluating_again_adds_nothing(self, scenario_week: Week) -> None:
        """A second evaluation of the same week changes no ticket and opens none."""
        assert sorted(map(_ticket_key, scenario_week.again)) == sorted(
            map(_ticket_key, scenario_week.tickets)
        )

    async def test_repeats_add_evidence_to_the_one_ticket(self, scenario_week: Week) -> None:
        """The watch-listed car's four vehicle events (gate and camera, in and out) and the
        fire lane's two alarms are occurrences of one ticket each."""
        (plate,) = scenario_week.of_rule("vehicle.watchlist")
        assert (plate["occurrences"], plate["evidence"]["count"]) == (4, 4)
        (lane,) = scenario_week.of_rule("fire.lane_occupied")
        assert (lane["occurrences"], lane["evidence"]["count"]) == (2, 2)

    async def test_tickets_are_placed_and_routed(self, scenario_week: Week) -> None:
        """Every ticket names its community's grid when the map places it, and a unit."""
        for ticket in scenario_week.tickets:
            assert ticket["community"] in PILOTS
            assert ticket["responsible_units"], ticket["rule"]
            assert ticket["title"] and ticket["summary_en"]

    async def test_no_resident_is_named_in_a_ticket_or_at_the_platform(
        self, scenario_week: Week
    ) -> None:
        """No resident's name, ID number or phone reaches a ticket or the grid platform."""
        records = scenario_week.platform.records()
        sent = [json.dumps(record, ensure_ascii=False) for record in records]
        blob = "\n".join([json.dumps(scenario_week.tickets, ensure_ascii=False), *sent])
        assert scenario_week.tickets and sent  # there is something to search
        for code in PILOTS:
            for resident in pilot_community(code).residents():
                for value in (resident.name, resident.id_number, resident.phone):
                    assert not holds_value(value, blob), f"a {code} resident's data in a ticket"

    async def test_sent_to_the_platform_but_device_offline(self, scenario_week: Week) -> None:
        """Every ticket reaches the reference grid platform once, but the dead camera's, which
        stays with the property."""
        local = {t["ticket_id"] for t in scenario_week.tickets if not t["forward"]}
        assert [t["rule"] for t in scenario_week.tickets if not t["forward"]] == ["device.offline"]
        sent = {t["ticket_id"] for t in scenario_week.tickets} - local

        def received() -> list[str]:
            records = scenario_week.platform.records()
            return [
                r["body"]["ticket_id"]
                for r in records
                if r["kind"] == "ticket" and not r.get("repeat")
            ]

        await wait_until(lambda: sent <= set(received()), timeout_s=60, what="tickets sent")
        mine = [ticket for ticket in received() if ticket in sent | local]
        assert sorted(mine) == sorted(sent)


class TestCleanWeek:
    """A clean week of both pilot communities raises nothing."""

    async def test_no_ticket(self, clean_week: Week) -> None:
        """No rule fires on a clean week, however often it is evaluated."""
        assert Counter(t["rule"] for t in clean_week.tickets) == Counter()
        assert clean_week.again == []

    async def test_the_week_was_there_to_judge(self, clean_week: Week) -> None:
        """The rules had the whole week: both communities' watermarks reached its end."""
        newest = await clean_week.gateway.runtime.store.watermarks()
        assert set(newest) == set(PILOTS)
        assert all(at >= clean_week.end - timedelta(minutes=5) for at in newest.values())
        assert clean_week.published > 10_000


@pytest.fixture
def shared_dsn(postgres: PostgresService) -> Iterator[str]:
    yield postgres.create_database("rules_shared_burst")
    postgres.drop_database("rules_shared_burst")


def _stored(process: GatewayProcess) -> float:
    """`scgw_events_stored_total` of one gateway process."""
    for line in process.get("/metrics").decode().splitlines():
        if line.startswith("scgw_events_stored_total "):
            return float(line.split()[1])
    return 0.0


BURST = 60
"""Identical triggers in a burst: forced-open events at one door, or a watch-listed car's
vehicle events (30 passes, each a barrier read and a capture)."""


def burst(trigger: str, end: datetime) -> tuple[str, list[SimMessage], list[WatchlistPlate]]:
    """The rule a burst of `trigger` must fire, its messages, and the watch-list it needs."""
    emit = Emitter(pilot_community("yida"), 0)
    if trigger == "forced-door":
        door = emit.unit_door("B02", "U2")
        forced = [
            emit.door_event(door, end + timedelta(milliseconds=n), Minor.DOOR_FORCED_OPEN)
            for n in range(BURST)
        ]
        return "safety.door_forced", forced, []
    (story,) = build_scenarios(("watchlisted-plate",), end)
    (plate,) = story.watchlist
    car = Vehicle(plate.plate_no, False, "K33", 1, owner="", house="")
    passes = [
        message
        for n in range(BURST // 2)
        for message in emit.car_pass(car, end + timedelta(seconds=2 * n), ("in", "out")[n % 2])
    ]
    return "vehicle.watchlist", passes, [plate]


class TestDedupUnderConcurrency:
    """Two gateway processes on one MQTT v5 shared subscription and one database: a burst of
    identical triggers makes one ticket with every occurrence counted."""

    @pytest.mark.parametrize("trigger", ["forced-door", "watchlisted-plate"])
    async def test_a_burst_makes_one_ticket(
        self, mosquitto: MosquittoService, shared_dsn: str, tmp_path: Path, trigger: str
    ) -> None:
        """60 identical triggers published at once with mosquitto_pub, split between the two
        processes: one ticket, its occurrences and evidence counting all 60, the same through
        either process's API."""
        path = write_file(
            tmp_path / "pilot.toml",
            communities_config_toml([pilot_community(code) for code in PILOTS]),
        )
        # A group of its own: a stopped process's session stays subscribed for a while.
        group = {"mqtt_shared_group": f"burst-{uuid.uuid4().hex[:8]}", "config": str(path)}
        first = GatewayProcess(mosquitto.url, shared_dsn, tmp_path / "first.log", **group)
        second = GatewayProcess(mosquitto.url, shared_dsn, tmp_path / "second.log", **group)
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
        rule, messages, plates = burst(trigger, start)
        first.start()
        try:
            if plates:  # through the first; the second loads the watch-list at its start
                put_watchlist_through(first, [plate.body() for plate in plates])
            second.start()
            await asyncio.gather(
                *(
                    mosquitto_pub(
                        mosquitto.port, topic, [m.payload for m in messages if m.topic == topic]
                    )
                    for topic in dict.fromkeys(m.topic for m in messages)
                )
            )

            def all_stored() -> bool:
                return _stored(first) + _stored(second) >= BURST

            await wait_until(all_stored, timeout_s=120, what="the burst stored")
            assert _stored(first) > 0 and _stored(second) > 0  # both processes had a share
            listed = first.get_json("/v1/tickets?limit=100")["data"]
            assert [t["rule"] for t in listed] == [rule]
            (ticket,) = listed
            assert (ticket["occurrences"], ticket["evidence"]["count"]) == (BURST, BURST)
            assert second.get_json("/v1/tickets?limit=100")["data"] == listed
        finally:
            second.stop()
            first.stop()


def put_watchlist_through(process: GatewayProcess, plates: list[dict[str, str]]) -> None:
    """PUT the watch-list through one process's API (audited, as an operator would)."""
    request = urllib.request.Request(
        process.url("/v1/watchlist/vehicles"),
        data=json.dumps(plates).encode(),
        method="PUT",
        headers={"X-API-Key": ADMIN_KEY, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


class TestScenarioCommand:
    """`scgw simulate --scenario` against a running gateway: it publishes, waits and reports."""

    async def test_forced_door_reported_as_expected(
        self, mosquitto: MosquittoService, sqlite_url: str, tmp_path: Path
    ) -> None:
        """One day of clean traffic with the forced door in it: the report shows the rule's
        one ticket, on time, and the command exits 0."""
        settings = gateway_settings(mosquitto.url, sqlite_url)
        async with running_gateway(settings, pilot_config(tmp_path, ())):
            process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "gateway.cli", "simulate", "--scenario", "forced-door"),
                *("--clean", "--days", "1", "--scale", "0.02", "--wait", "60"),
                *("--url", mosquitto.url, "--api-url", f"http://127.0.0.1:{settings.api_port}"),
                *("--api-key", ADMIN_KEY, "--data-dir", str(tmp_path / "no-demo")),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            async with asyncio.timeout(240):
                out, err = await process.communicate()
        report = out.decode()
        assert process.returncode == 0, (report, err.decode()[-2000:])
        assert re.search(r"^safety\.door_forced\s+1\s+1\s+1\s+ok$", report, re.MULTILINE), report
        assert "total: 1 expected, 1 produced" in report
