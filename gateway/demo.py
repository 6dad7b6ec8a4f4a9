"""`scgw demo`: the whole gateway in one process with nothing installed.

An embedded broker, a SQLite store under the data folder, the Yida Town simulator publishing
door events in real time, and the API. Secrets are generated once per data folder and kept
there (mode 0600), so restarts keep the same API key and, more importantly, the same ID hash
key: hashes made yesterday must still join with today's.
"""

import asyncio
import contextlib
import json
import logging
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

from gateway.api.app import create_app
from gateway.broker import Account, BrokerAccounts, EmbeddedBroker, embedded_broker
from gateway.config import Settings, load_config
from gateway.logs import configure_logging
from gateway.runtime import Secrets
from gateway.serve import api_server, serve, wait_started
from simulators.community import generate_community
from simulators.config_toml import community_config_toml
from simulators.publisher import publish
from simulators.yida_mix import HourlyRates, YidaTraffic

logger = logging.getLogger("scgw.demo")

LOOPBACK = "127.0.0.1"
GATEWAY_MQTT_USER = "scgw-gateway"
SIMULATOR_RETRY_S = 5


@dataclass(frozen=True, slots=True)
class DemoOptions:
    api_port: int
    mqtt_port: int
    data_dir: Path
    rate: float
    simulator: bool
    mqtt_host: str = LOOPBACK


def demo_secrets(data_dir: Path) -> Secrets:
    """Secrets from the environment if set, else generated once and kept in the data folder."""
    stored = _kept_secrets(data_dir, [])
    return Secrets(
        os.environ.get("SCGW_ADMIN_API_KEY", stored["admin_api_key"]),
        os.environ.get("SCGW_ID_HASH_KEY", stored["id_hash_key"]),
    )


def demo_broker_accounts(data_dir: Path, communities: Iterable[str]) -> BrokerAccounts:
    """The embedded broker's accounts: the gateway's, and one per community for its devices.

    Passwords are generated once and kept in the data folder with the other secrets, so a
    device configured yesterday still connects today.
    """
    codes = list(communities)
    users = [GATEWAY_MQTT_USER, *(device_mqtt_user(code) for code in codes)]
    passwords: dict[str, str] = _kept_secrets(data_dir, users)["mqtt_passwords"]
    return BrokerAccounts(
        gateway=Account(GATEWAY_MQTT_USER, passwords[GATEWAY_MQTT_USER]),
        communities={
            code: Account(device_mqtt_user(code), passwords[device_mqtt_user(code)])
            for code in codes
        },
    )


def device_mqtt_user(community: str) -> str:
    """The broker user name a community's devices publish with."""
    return f"{community}-devices"


def _kept_secrets(data_dir: Path, mqtt_users: list[str]) -> dict[str, Any]:
    """secrets.json's contents, after generating whatever is missing (and keeping it, 0600).

    Older data folders lack the MQTT passwords: they are added, the other keys are kept.
    """
    path = data_dir / "secrets.json"
    stored: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    before = json.dumps(stored, sort_keys=True)
    stored.setdefault("admin_api_key", secrets.token_urlsafe(24))
    stored.setdefault("id_hash_key", secrets.token_urlsafe(32))
    passwords = stored.setdefault("mqtt_passwords", {})
    for user in mqtt_users:
        passwords.setdefault(user, secrets.token_urlsafe(24))
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


def demo_config_path(data_dir: Path) -> Path:
    """The generated Yida Town configuration: its communities and every simulated device.

    Written at every start, so a data folder from an older version gets today's devices.
    """
    path = data_dir / "yida.toml"
    path.write_text(community_config_toml(generate_community()), encoding="utf-8")
    return path


async def run_demo(options: DemoOptions) -> int:
    options.data_dir.mkdir(parents=True, exist_ok=True)
    demo_keys = demo_secrets(options.data_dir)
    configure_logging("text", "INFO")
    config_path = demo_config_path(options.data_dir)
    config = load_config(config_path)
    accounts = demo_broker_accounts(options.data_dir, [c.code for c in config.communities])
    async with embedded_broker(accounts, options.mqtt_port, options.mqtt_host) as broker:
        settings = Settings(
            mqtt_url=broker.url(accounts.gateway),
            mqtt_protocol="3.1.1",
            mqtt_client_id="scgw-demo",
            database_url=f"sqlite:///{options.data_dir / 'scgw.db'}",
            api_host=LOOPBACK,
            api_port=options.api_port,
            config=config_path,
            log_format="text",
        )
        app = create_app(settings, config, demo_keys)
        server = api_server(app, settings.api_host, settings.api_port)
        tasks = [asyncio.create_task(_announce(server, options, demo_keys, broker, accounts))]
        if options.simulator:
            community = generate_community()
            simulator_url = broker.url(accounts.communities[community.code])
            tasks.append(asyncio.create_task(_simulate(server, simulator_url, options.rate)))
        try:
            return await serve(server)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def _announce(
    server: uvicorn.Server,
    options: DemoOptions,
    keys: Secrets,
    broker: EmbeddedBroker,
    accounts: BrokerAccounts,
) -> None:
    await wait_started(server)
    print(demo_banner(options, keys, broker, accounts), flush=True)


def demo_banner(
    options: DemoOptions, keys: Secrets, broker: EmbeddedBroker, accounts: BrokerAccounts
) -> str:
    """What to try first, with the API key and the broker accounts it needs."""
    base = f"http://{LOOPBACK}:{options.api_port}"
    mqtt = f"mqtt://{broker.host}:{broker.port}"
    gateway = accounts.gateway
    publishers = "\n".join(
        f"                  {code + ' devices':<14} {_user_and_password(account)}"
        f"  (publish under {code}/ only)"
        for code, account in accounts.communities.items()
    )
    example = ""
    if accounts.communities:
        code, account = next(iter(accounts.communities.items()))
        example = (
            f"\n                  try: mosquitto_pub -p {broker.port} -u {account.username}"
            f" -P '{account.password}' -t {code}/hik-isapi/X -m '{{}}'"
        )
    return f"""
  Smart-community gateway demo (Yida Town 亿达小镇) is running.

    API docs      {base}/docs
    Events        curl -H 'X-API-Key: {keys.admin_api_key}' '{base}/v1/events?limit=5'
    Dead letters  curl -H 'X-API-Key: {keys.admin_api_key}' '{base}/v1/dead-letters'
    Metrics       curl -H 'X-API-Key: {keys.admin_api_key}' {base}/metrics
    Health        {base}/healthz   {base}/readyz
    MQTT broker   {mqtt}  (no anonymous clients)
                  {"gateway":<14} {_user_and_password(gateway)}  (the only subscriber)
{publishers}{example}
    Data          {options.data_dir.resolve()}  (API key and MQTT passwords in secrets.json)

  Ctrl-C stops everything.
"""


def _user_and_password(account: Account) -> str:
    return f"user {account.username:<14} password {account.password}"


async def _simulate(server: uvicorn.Server, mqtt_url: str, rate: float) -> None:
    """Publish the whole community's traffic in real time, from now on, until cancelled.

    `rate` is door events per second; every other family but the heartbeats (which keep
    their real intervals) is scaled by the same factor from its hourly rate. The publisher
    holds each message until its event time has come, so the demo's events are never ahead
    of the present; after a broker hiccup it goes on where it stopped, catching up.
    """
    await wait_started(server)
    door_rate = HourlyRates().door_events / 3600
    factor = rate / door_rate if rate > 0 else 1.0
    traffic = YidaTraffic(
        generate_community(),
        7,
        datetime.now(UTC),
        None,
        HourlyRates().scaled(factor),
        power_on=True,  # the devices come online with the demo
    )
    records = traffic.records()
    while True:
        try:
            await publish(records, url=mqtt_url)
        except Exception as exc:  # the simulator is a guest: its failure must not stop the demo
            logger.warning(
                "simulator paused after %s; retrying in %ds", type(exc).__name__, SIMULATOR_RETRY_S
            )
        await asyncio.sleep(SIMULATOR_RETRY_S)
