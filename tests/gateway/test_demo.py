"""The demo's secrets, banner and broker: device accounts made once per data folder, shown,
and used by the simulator, one connection per device, in a real `scgw demo` process."""

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import pytest

from gateway.broker import EmbeddedBroker
from gateway.config import load_config
from gateway.demo import (
    DemoOptions,
    demo_access,
    demo_banner,
    demo_broker_accounts,
    demo_communities,
    demo_config_path,
    demo_database_url,
    demo_scenarios,
    demo_secrets,
    demo_traffic,
    device_login,
    device_password,
)
from schemas.devices import DeviceRegistration
from schemas.times import CHINA_STANDARD_TIME
from simulators.community import pilot_community
from simulators.masterdata import community_master_data
from simulators.scenarios import Scenario
from simulators.traffic import SimMessage
from testkit.services import free_port

DOOR = DeviceRegistration(device_id="43011200001320000001", dialect="hik-isapi", community="yida")
CAMERA = DeviceRegistration(
    device_id="cam-jiaxin-01", dialect="gat1400", community="jiaxin", kind="camera"
)


def options(data_dir: Path) -> DemoOptions:
    return DemoOptions(18080, 11883, data_dir, 5.0, simulator=False)


class TestDemoBrokerAccounts:
    """The gateway's password is generated once per data folder; each registered device gets
    an account named by its id, with a password derived from one kept secret."""

    def test_accounts_are_generated_once_and_kept_private(self, tmp_path: Path) -> None:
        """A second start gets the same passwords; secrets.json is readable by its owner only."""
        first = demo_broker_accounts(tmp_path, [DOOR, CAMERA])
        again = demo_broker_accounts(tmp_path, [DOOR, CAMERA])
        assert again == first
        assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600

    def test_every_device_gets_its_own_account_bound_to_its_topics(self, tmp_path: Path) -> None:
        """User name = device id; distinct passwords; topics from its community and dialect."""
        accounts = demo_broker_accounts(tmp_path, [DOOR, CAMERA])
        door, camera = accounts.devices
        assert door.device_id == DOOR.device_id and camera.device_id == CAMERA.device_id
        assert camera.topics == ("jiaxin/gat1400/cam-jiaxin-01", "jiaxin/status/cam-jiaxin-01")
        users = [accounts.gateway, door.account, camera.account]
        assert len({u.password for u in users}) == 3
        assert all(len(u.password) >= 32 for u in users)
        assert not accounts.relays

    def test_device_passwords_are_derived_not_stored(self, tmp_path: Path) -> None:
        """secrets.json holds no device password; `device_password` gives the account's."""
        accounts = demo_broker_accounts(tmp_path, [DOOR])
        stored = (tmp_path / "secrets.json").read_text()
        assert accounts.devices[0].account.password not in stored
        assert device_password(tmp_path, DOOR.device_id) == accounts.devices[0].account.password

    def test_another_data_folder_gives_other_passwords(self, tmp_path: Path) -> None:
        """The derivation is keyed by the folder's own secret, not by the device id alone."""
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        here = device_password(tmp_path / "a", DOOR.device_id)
        assert device_password(tmp_path / "b", DOOR.device_id) != here

    def test_an_older_data_folder_keeps_its_keys_and_gains_secrets(self, tmp_path: Path) -> None:
        """A secrets.json from before the broker had accounts keeps its API and hash keys."""
        path = tmp_path / "secrets.json"
        path.write_text(json.dumps({"admin_api_key": "old-admin", "id_hash_key": "old-hash"}))
        path.chmod(0o600)
        accounts = demo_broker_accounts(tmp_path, [DOOR])
        keys = demo_secrets(tmp_path)
        assert (keys.admin_api_key, keys.id_hash_key) == ("old-admin", "old-hash")
        stored = json.loads(path.read_text())
        assert stored["mqtt_passwords"]["scgw-gateway"] == accounts.gateway.password
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_a_new_device_adds_an_account_and_keeps_the_others(self, tmp_path: Path) -> None:
        """Registering another device leaves existing passwords unchanged."""
        before = demo_broker_accounts(tmp_path, [DOOR])
        after = demo_broker_accounts(tmp_path, [DOOR, CAMERA])
        assert after.gateway == before.gateway
        assert after.devices[0] == before.devices[0]

    def test_the_simulator_logs_in_as_the_topics_device(self, tmp_path: Path) -> None:
        """A message's login is the account of the device its topic names, status included."""
        accounts = demo_broker_accounts(tmp_path, [DOOR, CAMERA])
        login = device_login(accounts)
        door = accounts.devices[0].account
        assert login(f"yida/hik-isapi/{DOOR.device_id}") == (door.username, door.password)
        assert login(f"yida/status/{DOOR.device_id}") == (door.username, door.password)


class TestDemoCommunities:
    """The demo carries both pilot communities: their devices, their history, their traffic."""

    def test_config_registers_both_communities(self, tmp_path: Path) -> None:
        """The generated configuration registers every device of Yida Town and Jiaxin."""
        config = load_config(demo_config_path(tmp_path))
        assert [c.code for c in config.communities] == ["jiaxin", "yida"]
        expected = sum(len(c.devices) for c in demo_communities())
        assert len(config.devices) == expected
        assert {d.community for d in config.devices} == {"jiaxin", "yida"}

    def test_history_first_then_live_traffic_of_both(self) -> None:
        """Two weeks of past events come first, in time order, then the live streams."""
        now = datetime.now(UTC).replace(microsecond=0)
        past, live = _history_and_live(now, demo_scenarios(now))
        assert [r.at for r in past] == sorted(r.at for r in past)
        first_day = past[0].at.astimezone(CHINA_STANDARD_TIME).date()
        assert (now.astimezone(CHINA_STANDARD_TIME).date() - first_day).days == 13
        assert live and all(r.at >= now for r in live)
        for part in (past, live):
            assert {r.topic.split("/", 1)[0] for r in part} == {"jiaxin", "yida"}

    def test_every_scenario_in_the_history(self) -> None:
        """Every rule's scenario is told in the past week, whole, before the live traffic."""
        now = datetime.now(UTC).replace(microsecond=0)
        scenarios = demo_scenarios(now)
        assert len({s.rule for s in scenarios}) == len(scenarios) >= 14
        past, _ = _history_and_live(now, scenarios)
        told = set(past)
        assert all(m in told for s in scenarios for m in s.messages)
        assert all(s.watchlist for s in scenarios if s.rule == "vehicle.watchlist")

    def test_scenario_people_and_dead_devices_stay_out_of_the_rest(self) -> None:
        """The elderly resident who stopped going out appears only in their story, history and
        live traffic alike; the dead camera sends nothing live."""
        now = datetime.now(UTC).replace(microsecond=0)
        scenarios = demo_scenarios(now)
        past, live = _history_and_live(now, scenarios, live_count=20_000)
        story = {m for s in scenarios for m in s.messages}
        data = community_master_data(pilot_community("yida"))
        (ref,) = {ref for s in scenarios for ref in s.quiet_persons}
        card = data.person(ref).card_no.encode()
        assert all(m in story for m in (*past, *live) if card in m.payload)
        dead = {device for s in scenarios for device in s.dead_devices}
        assert dead and not [m for m in live if m.topic.rsplit("/", 1)[-1] in dead]


def _history_and_live(
    now: datetime, scenarios: tuple[Scenario, ...], live_count: int = 500
) -> tuple[list[SimMessage], list[SimMessage]]:
    """The demo's past messages, and the first `live_count` live ones after them."""
    records = demo_traffic(demo_communities(), 5.0, now, scenarios)
    past: list[SimMessage] = []
    for record in records:
        if record.at >= now:
            return past, [record, *islice(records, live_count - 1)]
        past.append(record)
    raise AssertionError("the demo's traffic ended")


class TestDemoAccess:
    """`scgw simulate --scenario` reads a demo's data folder for its API key and logins."""

    def test_key_and_device_logins(self, tmp_path: Path) -> None:
        """The admin key and each device's login are the demo's own."""
        demo_broker_accounts(tmp_path, [DOOR])
        access = demo_access(tmp_path)
        assert access is not None
        assert access.api_key == demo_secrets(tmp_path).admin_api_key
        login = access.login_for(f"yida/hik-isapi/{DOOR.device_id}")
        assert login == (DOOR.device_id, device_password(tmp_path, DOOR.device_id))

    def test_not_a_demo_folder(self, tmp_path: Path) -> None:
        """A folder without demo secrets gives nothing, and nothing is written to it."""
        assert demo_access(tmp_path) is None
        assert list(tmp_path.iterdir()) == []


class TestDemoBanner:
    """The banner shows the API key and the broker logins, with a publish that works."""

    def test_banner_shows_the_logins_and_a_device_publishing_as_itself(
        self, tmp_path: Path
    ) -> None:
        """The gateway's login and one device's appear, with a mosquitto_pub on its own topic."""
        accounts = demo_broker_accounts(tmp_path, [CAMERA, DOOR])
        keys = demo_secrets(tmp_path)
        broker = EmbeddedBroker("127.0.0.1", 11883)
        banner = demo_banner(options(tmp_path), keys, broker, accounts)
        door = accounts.devices[1]  # a door controller is the example, wherever it is listed
        assert keys.admin_api_key in banner
        assert accounts.gateway.username in banner and accounts.gateway.password in banner
        expected = (
            f"mosquitto_pub -p 11883 -u {door.device_id} -P '{door.account.password}'"
            f" -t yida/hik-isapi/{door.device_id}"
        )
        assert expected in banner
        assert "--device-password ID" in banner
        assert "mqtt://127.0.0.1:11883" in banner

    def test_banner_says_where_the_tickets_are(self, tmp_path: Path) -> None:
        """The banner names the tickets endpoint and where the platform's copy goes."""
        accounts = demo_broker_accounts(tmp_path, [DOOR])
        keys = demo_secrets(tmp_path)
        broker = EmbeddedBroker("127.0.0.1", 11883)
        with_platform = replace(options(tmp_path), platform_port=18081)
        banner = demo_banner(with_platform, keys, broker, accounts)
        assert "http://127.0.0.1:18080/v1/tickets" in banner
        assert "http://127.0.0.1:18081" in banner
        assert str(tmp_path / "platform-received.jsonl") in banner
        assert "tickets stay local" in demo_banner(options(tmp_path), keys, broker, accounts)

    def test_banner_opens_with_the_dashboard_and_a_scoped_key_command(self, tmp_path: Path) -> None:
        """The dashboard and its sign-in key come first; the key command names the demo's own
        database by absolute path, so it works from any folder."""
        accounts = demo_broker_accounts(tmp_path, [DOOR])
        keys = demo_secrets(tmp_path)
        broker = EmbeddedBroker("127.0.0.1", 11883)
        lines = demo_banner(options(tmp_path), keys, broker, accounts).splitlines()
        dashboard = (
            "Dashboard     http://127.0.0.1:18080/"
            f"  (sign in with the API key: {keys.admin_api_key})"
        )
        assert lines[3].strip() == dashboard
        create = (
            "Keys          scgw keys create --role property --community yida --name 亿达物业"
            f" --database-url sqlite:///{tmp_path.resolve() / 'scgw.db'}"
        )
        assert lines[4].strip() == create
        assert demo_database_url(Path("data")) == f"sqlite:///{Path.cwd() / 'data' / 'scgw.db'}"


def scgw(*args: str, data_dir: Path) -> subprocess.Popen[str]:
    """`scgw` as a separate process, its output to a file in the data folder."""
    data_dir.mkdir(exist_ok=True)
    log = (data_dir / "demo.log").open("w")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", *args, "--data-dir", str(data_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    finally:
        log.close()


def log_of(data_dir: Path) -> str:
    return (data_dir / "demo.log").read_text(encoding="utf-8", errors="replace")


@dataclass(frozen=True)
class RunningDemo:
    """A `scgw demo` process and how to reach it."""

    process: subprocess.Popen[str]
    data_dir: Path
    api_port: int
    mqtt_port: int

    def wait_for(self, condition: Callable[[], bool], what: str, timeout_s: float = 90) -> None:
        """Poll until `condition` holds; fail with the demo's log if it exits or times out."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert self.process.poll() is None, log_of(self.data_dir)
            assert time.monotonic() < deadline, f"no {what}: {log_of(self.data_dir)}"
            time.sleep(0.2)

    def get(self, path: str) -> str:
        """GET `path` from the demo's API with its admin key."""
        key = json.loads((self.data_dir / "secrets.json").read_text())["admin_api_key"]
        url = f"http://127.0.0.1:{self.api_port}{path}"
        request = urllib.request.Request(url, headers={"X-API-Key": key})
        with urllib.request.urlopen(request, timeout=10) as response:
            body: str = response.read().decode()
            return body

    def refused_publishes(self) -> float:
        """`scgw_broker_refused_total{action="publish"}` from the demo's /metrics."""
        pattern = r'^scgw_broker_refused_total\{action="publish"\} (\S+)$'
        match = re.search(pattern, self.get("/metrics"), re.MULTILINE)
        assert match is not None, "the broker's refusals are not in /metrics"
        return float(match.group(1))


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[RunningDemo]:
    """A running `scgw demo` with its simulator, stopped with Ctrl-C (SIGINT) at the end."""
    api_port, mqtt_port = free_port(), free_port()
    data_dir = tmp_path / "data"
    process = scgw(
        *("demo", "--api-port", str(api_port), "--mqtt-port", str(mqtt_port), "--rate", "20"),
        *("--platform-port", str(free_port())),
        data_dir=data_dir,
    )
    running = RunningDemo(process, data_dir, api_port, mqtt_port)
    try:
        running.wait_for(lambda: "Ctrl-C stops everything" in log_of(data_dir), "banner")
        yield running
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


class TestDemoProcess:
    """`scgw demo` end to end: the simulator's devices publish as themselves, a device posing
    as another is refused and counted in /metrics, and a taken MQTT port is one sentence."""

    def test_simulated_devices_publish_with_their_own_accounts(self, demo: RunningDemo) -> None:
        """Events of several dialects are stored, each device on its own login; none refused."""

        def dialects() -> set[str]:
            page = json.loads(demo.get("/v1/events?limit=500"))
            return {event["dialect"] for event in page["data"]}

        demo.wait_for(lambda: len(dialects()) >= 2, "events of two dialects")
        assert demo.refused_publishes() == 0

    def test_master_data_is_there_at_once(self, demo: RunningDemo) -> None:
        """When the banner shows, both communities' master data is imported: the summaries'
        figures are the generator's ground truth."""
        for code in ("yida", "jiaxin"):
            truth = community_master_data(pilot_community(code)).counts()
            summary = json.loads(demo.get(f"/v1/communities/{code}/summary"))
            assert summary["houses_by_usage"] == truth.houses_by_usage
            assert summary["persons_by_population_type"] == truth.persons_by_population_type
            assert summary["vehicles_registered"] == truth.vehicles_registered
            assert summary["occupancy"]["registered"] == truth.registered_occupancy
        persons = json.loads(demo.get("/v1/persons?community=jiaxin&limit=5"))
        assert len(persons["data"]) == 5
        assert "imported the pilot master data" in log_of(demo.data_dir)

    def test_tickets_of_eight_rules_within_two_minutes(self, demo: RunningDemo) -> None:
        """The scenarios' week turns into tickets of at least eight rules within two minutes,
        in the API and at the reference grid platform, which prints a line per ticket."""

        def api_rules() -> set[str]:
            return {t["rule"] for t in json.loads(demo.get("/v1/tickets?limit=500"))["data"]}

        def platform_rules() -> set[str]:
            received = demo.data_dir / "platform-received.jsonl"
            if not received.exists():
                return set()
            lines = received.read_text(encoding="utf-8").splitlines()
            return {
                json.loads(line)["body"]["rule"] for line in lines if '"kind": "ticket"' in line
            }

        demo.wait_for(lambda: len(api_rules()) >= 8, "tickets of eight rules", timeout_s=120)
        demo.wait_for(lambda: len(platform_rules()) >= 8, "eight rules at the platform", 120)
        assert platform_rules() <= api_rules()
        assert "ticket gp-" in log_of(demo.data_dir)

    def test_a_device_posing_as_another_is_refused_and_counted(self, demo: RunningDemo) -> None:
        """The issue's reproduction: a device's login on another device's topics is refused."""
        own, other = "43011200001320000001", "43011200001320000002"
        client = ("mosquitto_pub", "-p", str(demo.mqtt_port), "-q", "1", "-m", "{}")
        login = ("-u", own, "-P", device_password(demo.data_dir, own))
        for topic in (f"yida/hik-isapi/{other}", f"yida/status/{other}"):
            done = subprocess.run(
                [*client, *login, "-t", topic],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert done.returncode == 0, done.stderr  # amqtt acknowledges, then drops
        demo.wait_for(lambda: demo.refused_publishes() == 2, "two refusals in /metrics")
        assert f"embedded broker refused publish by user '{own}'" in log_of(demo.data_dir)

    @pytest.mark.parametrize(
        ("option", "refusal"),
        [
            ("--mqtt-port", "embedded broker cannot listen on"),
            ("--platform-port", "the reference grid platform cannot listen on"),
        ],
    )
    def test_a_taken_port_is_one_sentence_without_a_traceback(
        self, tmp_path: Path, option: str, refusal: str
    ) -> None:
        """A port already in use stops the demo with one sentence naming the option that
        changes it; amqtt's own traceback for its port is silenced."""
        ports = {"--mqtt-port": str(free_port()), "--platform-port": str(free_port())}
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            taken = holder.getsockname()[1]
            ports[option] = str(taken)
            process = scgw(
                *("demo", "--api-port", str(free_port()), "--no-simulator"),
                *(item for pair in ports.items() for item in pair),
                data_dir=tmp_path / "data",
            )
            process.wait(timeout=60)
        output = log_of(tmp_path / "data")
        assert process.returncode == 1
        assert f"{refusal} 127.0.0.1:{taken}" in output
        assert option in output and "Traceback" not in output


def children_of(pid: int) -> list[int]:
    """The processes `pid` started (Linux's /proc), still running or not yet reaped."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def gone(pid: int, timeout_s: float = 30) -> bool:
    """Whether `pid` has ended and been reaped within `timeout_s` (an orphan lives on)."""
    deadline = time.monotonic() + timeout_s
    while Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


class TestDemoStops:
    """SIGTERM (`kill`) stops the demo as Ctrl-C does: the platform receiver with it."""

    @pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
    def test_the_receiver_child_ends_with_the_demo(
        self, tmp_path: Path, stop: signal.Signals
    ) -> None:
        data_dir = tmp_path / "data"
        process = scgw(
            *("demo", "--api-port", str(free_port()), "--mqtt-port", str(free_port())),
            *("--platform-port", str(free_port()), "--no-simulator"),
            data_dir=data_dir,
        )
        running = RunningDemo(process, data_dir, 0, 0)
        try:
            running.wait_for(lambda: "Ctrl-C stops everything" in log_of(data_dir), "banner")
            (receiver,) = children_of(process.pid)
            process.send_signal(stop)
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        if not gone(receiver):
            os.kill(receiver, signal.SIGKILL)
            pytest.fail(f"the receiver {receiver} outlived the demo ({stop.name})")
        assert "Traceback" not in log_of(data_dir)
