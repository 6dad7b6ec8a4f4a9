"""`scgw demo`: the whole gateway in one process with nothing installed.

An embedded broker, a SQLite store under the data folder, the simulators of both pilot
communities (Yida Town and Jiaxin Times Square) publishing their devices' traffic in real time,
and the API. At start the communities' property master data (houses, residents, vehicles,
credentials) is imported through the same importer as `PUT /v1/property/...`, so persons,
houses, vehicles and the community summary are there at once; the simulators then publish the
last two weeks of life behind two unit doors of each community (so an unregistered tenant can
be inferred) and a week of both communities with every rule's scenario in it (an elderly
resident who stops going out, a watch-listed plate, a forced door, ...: `simulators.scenarios`),
all in the past and published at once, before the live traffic; the rules turn the scenarios
into tickets within a minute or two. The reference grid platform (`scgw platform-receiver`)
runs beside the gateway, which forwards the tickets to it: it prints a line per ticket. Secrets
are generated once per data folder and kept there (mode 0600), so restarts keep the same API
key and, more importantly, the same ID hash key: hashes made yesterday must still join with
today's.
"""

import asyncio
import base64
import contextlib
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from gateway.api.app import create_app
from gateway.broker import Account, BrokerAccounts, DeviceAccount, EmbeddedBroker, embedded_broker
from gateway.config import Settings, load_config
from gateway.errors import GatewayError
from gateway.logs import configure_logging
from gateway.masterdata.importer import Importer
from gateway.runtime import Runtime, Secrets
from gateway.serve import api_server, listening_socket, serve, wait_started
from schemas.devices import DeviceRegistration
from schemas.privacy import Pseudonymizer
from simulators.community import HIK_DIALECT, PILOT_LAYOUTS, Community, pilot_community
from simulators.config_toml import communities_config_toml
from simulators.masterdata import DATASETS, community_master_data
from simulators.publisher import Login, publish
from simulators.residency import ResidencyScenario
from simulators.scenario_cli import DemoAccess
from simulators.scenario_report import put_watchlist
from simulators.scenario_traffic import scenario_traffic, without_residents
from simulators.scenarios import Scenario, build_scenarios
from simulators.traffic import SimMessage
from simulators.yida_mix import HourlyRates, YidaTraffic

logger = logging.getLogger("scgw.demo")

LOOPBACK = "127.0.0.1"
GATEWAY_MQTT_USER = "scgw-gateway"
DEVICE_SECRET = "mqtt_device_secret"
"""secrets.json's key for the secret every device's broker password is derived from."""
SIMULATOR_RETRY_S = 5
DEMO_SEED = 7
"""The simulators' seed: the demo's people, devices and traffic are always the same."""
DEMO_CONFIG = "pilot.toml"
DEMO_HOUSEKEEPING_S = 60.0
"""The demo's housekeeping interval: a newcomer sees the tenant inferred within a minute."""
DEMO_SCENARIO_SCALE = 0.05
"""The scenarios' week's normal traffic against a real community's density: about 16,000
messages, stored in well under a minute, so the tickets come within two."""
DEMO_RULES_INTERVAL_S = 10.0
"""The demo's watermark-rule interval: the scenarios' tickets appear seconds after their week."""
PLATFORM_SECRET = "platform_secret"
"""secrets.json's key for the secret shared with the reference grid platform."""
RECEIVED_FILE = "platform-received.jsonl"
"""What the reference grid platform received, in the data folder."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    api_port: int
    mqtt_port: int
    data_dir: Path
    rate: float
    simulator: bool
    mqtt_host: str = LOOPBACK
    platform_port: int | None = None
    """Where the reference grid platform listens (None: no platform, tickets stay local)."""


def demo_secrets(data_dir: Path) -> Secrets:
    """Secrets from the environment if set, else generated once and kept in the data folder."""
    stored = _kept_secrets(data_dir)
    return Secrets(
        os.environ.get("SCGW_ADMIN_API_KEY", stored["admin_api_key"]),
        os.environ.get("SCGW_ID_HASH_KEY", stored["id_hash_key"]),
    )


def demo_broker_accounts(data_dir: Path, devices: Iterable[DeviceRegistration]) -> BrokerAccounts:
    """The embedded broker's accounts: the gateway's, and one per registered device.

    A device's user name is its device id, and it may publish only on its own topics (see
    `gateway.broker`). The gateway's password is generated once and kept in the data folder
    with the other secrets; device passwords are derived from one kept secret
    (`device_password`), so a device configured yesterday still connects today, and a new
    device needs nothing stored.
    """
    stored = _kept_secrets(data_dir)
    secret = stored[DEVICE_SECRET]
    return BrokerAccounts(
        gateway=Account(GATEWAY_MQTT_USER, stored["mqtt_passwords"][GATEWAY_MQTT_USER]),
        devices=[
            DeviceAccount(
                Account(device.device_id, _derived_password(secret, device.device_id)),
                device.community,
                device.dialect,
            )
            for device in devices
        ],
    )


def device_password(data_dir: Path, device_id: str) -> str:
    """The embedded broker's password for `device_id` (user name: the device id itself)."""
    return _derived_password(_kept_secrets(data_dir)[DEVICE_SECRET], device_id)


def demo_access(data_dir: Path) -> DemoAccess | None:
    """What `scgw simulate --scenario` needs of a demo's data folder: the admin API key and
    each device's broker login (user: the topic's last level, the device id); None when the
    folder holds no demo secrets. Reads only: nothing is generated here."""
    path = data_dir / "secrets.json"
    if not path.is_file():
        return None
    stored = json.loads(path.read_text(encoding="utf-8"))
    key, secret = stored.get("admin_api_key"), stored.get(DEVICE_SECRET)
    if not isinstance(key, str) or not isinstance(secret, str):
        return None

    def login(topic: str) -> Login:
        device_id = topic.rsplit("/", 1)[-1]
        return device_id, _derived_password(secret, device_id)

    return DemoAccess(key, login)


def _derived_password(secret: str, device_id: str) -> str:
    """HMAC-SHA256(secret, device id), 192 bits of it as 32 URL-safe characters."""
    digest = hmac.new(secret.encode(), device_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode("ascii")


def _kept_secrets(data_dir: Path) -> dict[str, Any]:
    """secrets.json's contents, after generating whatever is missing (and keeping it, 0600).

    Older data folders lack the MQTT secrets: they are added, the other keys are kept.
    """
    path = data_dir / "secrets.json"
    stored: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    before = json.dumps(stored, sort_keys=True)
    stored.setdefault("admin_api_key", secrets.token_urlsafe(24))
    stored.setdefault("id_hash_key", secrets.token_urlsafe(32))
    stored.setdefault("mqtt_passwords", {}).setdefault(GATEWAY_MQTT_USER, secrets.token_urlsafe(24))
    stored.setdefault(DEVICE_SECRET, secrets.token_urlsafe(32))
    stored.setdefault(PLATFORM_SECRET, secrets.token_urlsafe(32))
    if json.dumps(stored, sort_keys=True) != before:
        _write_private(path, stored)
    return stored


def _write_private(path: Path, content: dict[str, Any]) -> None:
    """Replace `path` with `content` as JSON, readable by this user only, all or nothing."""
    staging = path.with_name(f".{path.name}.new")
    staging.unlink(missing_ok=True)
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(content, handle, indent=2)
    os.replace(staging, path)


def demo_database_url(data_dir: Path) -> str:
    """The demo's SQLite store, by absolute path: `scgw keys --database-url` works from any
    folder with it (a relative one would quietly name another, empty database)."""
    return f"sqlite:///{(data_dir / 'scgw.db').resolve()}"


def demo_communities() -> list[Community]:
    """The pilot communities the demo simulates, in code order."""
    return [pilot_community(code, DEMO_SEED) for code in sorted(PILOT_LAYOUTS)]


def demo_config_path(data_dir: Path) -> Path:
    """The generated configuration of both pilot communities and every simulated device.

    Written at every start, so a data folder from an older version gets today's devices.
    """
    path = data_dir / DEMO_CONFIG
    path.write_text(communities_config_toml(demo_communities()), encoding="utf-8")
    return path


async def import_master_data(
    runtime: Runtime, communities: Iterable[Community], *, actor: str = "demo"
) -> dict[str, dict[str, int]]:
    """Import each community's simulated master data through the importer, dataset by
    dataset in dependency order (houses first); return the counts per community and dataset.

    At a restart the same rows come again and count as unchanged: nothing is duplicated.
    """
    if runtime.contacts is None:
        raise RuntimeError("the runtime has no contact vault")
    importer = Importer(
        runtime.store,
        runtime.grids,
        Pseudonymizer(runtime.secrets.id_hash_key),
        runtime.contacts,
    )
    counts: dict[str, dict[str, int]] = {}
    for community in communities:
        data = community_master_data(community, DEMO_SEED)
        for dataset in DATASETS:
            report = await importer.run(
                community.code, dataset, data.numbered(dataset), actor=actor
            )
            counts.setdefault(community.code, {})[dataset] = (
                report.accepted + report.updated + report.unchanged
            )
            if report.rejected:
                logger.warning(
                    "demo import of %s %s: %d rows rejected",
                    community.code,
                    dataset,
                    len(report.rejected),
                )
    return counts


async def run_demo(options: DemoOptions) -> int:
    """Run the demo until Ctrl-C or SIGTERM, which stop it alike: the receiver child included."""
    with _sigterm_as_interrupt():
        return await _run_demo(options)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt while the demo runs, as Ctrl-C does.

    uvicorn stops on SIGTERM and then raises the signal again, once its own handler is gone:
    with the default action the process died there, before the `finally` that stops the
    platform receiver, which lived on. As an interrupt it unwinds through every `finally`.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


async def _run_demo(options: DemoOptions) -> int:
    options.data_dir.mkdir(parents=True, exist_ok=True)
    demo_keys = demo_secrets(options.data_dir)
    configure_logging("text", "INFO")
    config_path = demo_config_path(options.data_dir)
    config = load_config(config_path)
    accounts = demo_broker_accounts(options.data_dir, config.devices)
    async with embedded_broker(accounts, options.mqtt_port, options.mqtt_host) as broker:
        settings = Settings(
            mqtt_url=broker.url(accounts.gateway),
            mqtt_protocol="3.1.1",
            mqtt_client_id="scgw-demo",
            database_url=demo_database_url(options.data_dir),
            api_host=LOOPBACK,
            api_port=options.api_port,
            config=config_path,
            log_format="text",
            # Infer residencies soon after the simulated history is stored, not in 10 minutes.
            housekeeping_interval_s=DEMO_HOUSEKEEPING_S,
            rules_interval_s=DEMO_RULES_INTERVAL_S,
            **_platform_settings(options),
        )
        receiver = await _start_receiver(options)
        app = create_app(settings, config, demo_keys)
        server = api_server(
            app, settings.api_host, settings.api_port, settings.api_forwarded_allow_ips
        )
        tasks = [asyncio.create_task(_announce(server, app, options, demo_keys, broker, accounts))]
        if options.simulator:
            tasks.append(
                asyncio.create_task(
                    _simulate(server, broker, accounts, options.rate, demo_keys.admin_api_key)
                )
            )
        try:
            return await serve(server)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if receiver is not None:
                receiver.terminate()
                await receiver.wait()


def _platform_settings(options: DemoOptions) -> dict[str, Any]:
    """The gateway's platform client settings: the reference receiver's URL and secret."""
    if options.platform_port is None:
        return {}
    return {
        "platform_url": f"http://{LOOPBACK}:{options.platform_port}",
        "platform_secret": _kept_secrets(options.data_dir)[PLATFORM_SECRET],
    }


async def _start_receiver(options: DemoOptions) -> asyncio.subprocess.Process | None:
    """`scgw platform-receiver` as a child process printing to the demo's own output (a line
    per ticket), keeping what it receives in the data folder; the secret goes by environment,
    not by command line, where any user could read it. A port already taken stops the demo
    with one sentence naming the option, as for the API's and the broker's ports."""
    if options.platform_port is None:
        return None
    try:
        listening_socket(LOOPBACK, options.platform_port).close()
    except GatewayError:
        raise GatewayError(
            f"the reference grid platform cannot listen on {LOOPBACK}:{options.platform_port};"
            " choose another port with --platform-port (0: no platform, tickets stay local)"
        ) from None
    # The platform client logs every request at INFO through httpx: the receiver's own line
    # per ticket says it better.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    secret = _kept_secrets(options.data_dir)[PLATFORM_SECRET]
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "platform-receiver",
        "--port",
        str(options.platform_port),
        "--out",
        str(options.data_dir / RECEIVED_FILE),
        env={**os.environ, "SCGW_PLATFORM_SECRET": secret},
    )


async def _announce(
    server: uvicorn.Server,
    app: FastAPI,
    options: DemoOptions,
    keys: Secrets,
    broker: EmbeddedBroker,
    accounts: BrokerAccounts,
) -> None:
    await wait_started(server)
    # The broker shares this process: its refusals are served with the gateway's metrics.
    runtime: Runtime = app.state.runtime
    runtime.metrics.registry.register(broker.metrics.registry)
    started = time.monotonic()
    counts = await import_master_data(runtime, demo_communities())
    logger.info(
        "imported the pilot master data in %.1f s: %s",
        time.monotonic() - started,
        "; ".join(
            f"{code} " + ", ".join(f"{n} {dataset}" for dataset, n in datasets.items())
            for code, datasets in counts.items()
        ),
    )
    print(demo_banner(options, keys, broker, accounts), flush=True)


def demo_banner(
    options: DemoOptions, keys: Secrets, broker: EmbeddedBroker, accounts: BrokerAccounts
) -> str:
    """What to try first, with the API key and the broker accounts it needs."""
    base = f"http://{LOOPBACK}:{options.api_port}"
    mqtt = f"mqtt://{broker.host}:{broker.port}"
    gateway = accounts.gateway
    devices = ""
    if accounts.devices:
        device = next(
            (d for d in accounts.devices if d.dialect == HIK_DIALECT), accounts.devices[0]
        )
        user, password = device.device_id, device.account.password
        pad = " " * 18
        devices = (
            f"\n{pad}{'devices':<14} user = device id; each publishes on its own topics only,"
            f"\n{pad}{'':<14} {{community}}/{{dialect}}/{{id}} and {{community}}/status/{{id}}"
            f"\n{pad}{'e.g.':<14} {_user_and_password(device.account)}"
            f"\n{pad}try: mosquitto_pub -p {broker.port} -u {user} -P '{password}'"
            f" -t {device.topics[0]} -m '{{}}'"
            f"\n{pad}any device's password: scgw demo --data-dir {options.data_dir}"
            " --device-password ID"
        )
    key = f"-H 'X-API-Key: {keys.admin_api_key}'"
    create_key = (
        "scgw keys create --role property --community yida --name 亿达物业"
        f" --database-url {demo_database_url(options.data_dir)}"
    )
    platform = "none (tickets stay local)"
    if options.platform_port is not None:
        platform = (
            f"reference receiver on http://{LOOPBACK}:{options.platform_port}: a line per"
            f" ticket above;\n{'':<18}all it received: {options.data_dir / RECEIVED_FILE}"
        )
    return f"""
  Smart-community gateway demo (Yida Town 亿达小镇, Jiaxin Times Square 嘉新时代广场) is running.

    Dashboard     {base}/  (sign in with the API key: {keys.admin_api_key})
    Keys          {create_key}
                  (a key that sees Yida Town alone; also: scgw keys list, scgw keys revoke)
    API docs      {base}/docs
    Events        curl {key} '{base}/v1/events?limit=5'
    Summary       curl {key} {base}/v1/communities/yida/summary
    Persons       curl {key} '{base}/v1/persons?community=yida&limit=5'
    Houses        curl {key} '{base}/v1/houses?community=jiaxin&limit=5'
    Vehicles      curl {key} '{base}/v1/vehicles?registered=false'
    Master data   scgw simulate masterdata --format csv --out DIR  (files to try scgw import)
    Tickets       curl {key} '{base}/v1/tickets?limit=20'
                  (the rules' scenarios of the past week: tickets of eight rules and more
                  within two minutes; a camera's device.offline after its five minutes)
    Platform      {platform}
    Scenarios     scgw simulate --scenario all --clean  (tells them again: expected vs produced)
    Dead letters  curl -H 'X-API-Key: {keys.admin_api_key}' '{base}/v1/dead-letters'
    Metrics       curl -H 'X-API-Key: {keys.admin_api_key}' {base}/metrics
    Health        {base}/healthz   {base}/readyz
    MQTT broker   {mqtt}  (no anonymous clients)
                  {"gateway":<14} {_user_and_password(gateway)}  (the only subscriber){devices}
    Data          {options.data_dir.resolve()}  (API key and MQTT secrets in secrets.json)

  Ctrl-C stops everything.
"""


def _user_and_password(account: Account) -> str:
    return f"user {account.username:<14} password {account.password}"


def device_login(accounts: BrokerAccounts) -> Callable[[str], Login]:
    """The login a simulated message's topic is published with: its device's own account
    (the device id is the topic's last level, `{community}/{dialect}/{device_id}`)."""

    def login(topic: str) -> Login:
        account = accounts.device(topic.rsplit("/", 1)[-1]).account
        return account.username, account.password

    return login


def demo_scenarios(now: datetime) -> tuple[Scenario, ...]:
    """Every rule's scenario, told in the week before `now`."""
    return build_scenarios(None, now, DEMO_SEED)


def demo_traffic(
    communities: Iterable[Community],
    rate: float,
    now: datetime,
    scenarios: Sequence[Scenario] = (),
) -> Iterator[SimMessage]:
    """What the demo publishes: the last two weeks behind two unit doors of each community
    (`ResidencyScenario`) and the last week of every community with the `scenarios` in it
    (`scenario_traffic`, clean otherwise), all in the past, so published at once; then every
    community's live traffic from `now` on, merged in event-time order.

    The scenarios' people and dead devices stay out of the live traffic and the history: the
    elderly resident who stopped going out does not come back. `rate` is door events per
    second per community; every other family but the heartbeats (which keep their real
    intervals) is scaled by the same factor from its hourly rate.
    """
    pilot = list(communities)
    quiet = frozenset().union(*(s.quiet_persons for s in scenarios))
    dead = {device for s in scenarios for device in s.dead_devices}
    door_rate = HourlyRates().door_events / 3600
    factor = rate / door_rate if rate > 0 else 1.0
    residency = (
        ResidencyScenario(community_master_data(c, DEMO_SEED), now, seed=DEMO_SEED).sightings()
        for c in pilot
    )
    history = heapq.merge(
        *([s.message for s in sightings if s.person_ref not in quiet] for sightings in residency),
        scenario_traffic(
            scenarios,
            now,
            seed=DEMO_SEED,
            communities=[c.code for c in pilot],
            scale=DEMO_SCENARIO_SCALE,
        ),
        key=lambda record: record.at,
    )
    live = heapq.merge(
        *(
            YidaTraffic(
                without_residents(community, quiet),
                DEMO_SEED,
                now,
                None,
                HourlyRates().scaled(factor),
                power_on=True,  # the devices come online with the demo
            ).records()
            for community in pilot
        ),
        key=lambda record: record.at,
    )
    alive = (record for record in live if record.topic.rsplit("/", 1)[-1] not in dead)
    return itertools.chain(history, alive)


async def _simulate(
    server: uvicorn.Server,
    broker: EmbeddedBroker,
    accounts: BrokerAccounts,
    rate: float,
    api_key: str,
) -> None:
    """Publish the pilot communities' traffic (`demo_traffic`, the scenarios' week first, their
    plates put on the watch-list before it) until cancelled.

    Each device publishes over a connection of its own, with its own account, as a real one
    would: the broker lets it speak only for itself. The publisher holds each message until
    its event time has come, so the demo's events are never ahead of the present; after a
    broker hiccup it goes on where it stopped, catching up.
    """
    await wait_started(server)
    now = datetime.now(UTC).replace(microsecond=0)
    scenarios = demo_scenarios(now)
    config = server.config
    api = f"http://{config.host}:{config.port}"
    async with httpx.AsyncClient(base_url=api, headers={"X-API-Key": api_key}) as client:
        try:  # audited, and the instant rules reload it, before the cars drive in
            await put_watchlist(client, scenarios)
        except httpx.HTTPError as exc:
            logger.warning("demo watch-list not set: %s", exc)
    records = demo_traffic(demo_communities(), rate, now, scenarios)
    while True:
        try:
            await publish(records, url=broker.url(), login_for=device_login(accounts))
        except Exception as exc:  # the simulator is a guest: its failure must not stop the demo
            logger.warning(
                "simulator paused after %s; retrying in %ds", type(exc).__name__, SIMULATOR_RETRY_S
            )
        await asyncio.sleep(SIMULATOR_RETRY_S)
