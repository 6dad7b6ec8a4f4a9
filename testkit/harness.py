"""Runs a real gateway inside the test's event loop: real broker, real store, real HTTP.

The API is served by uvicorn on a free port and read with httpx, exactly as a client would.
"""

import asyncio
import contextlib
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx

from gateway.api.app import create_app
from gateway.broker import Account, BrokerAccounts
from gateway.config import GatewayConfig, Settings
from gateway.runtime import Runtime, Secrets
from gateway.serve import api_server, wait_started
from testkit.services import free_port

ADMIN_KEY = "test-admin-key-0123456789abcdef"
HASH_KEY = "test-hash-key-0123456789abcdef01"
SECRETS = Secrets(ADMIN_KEY, HASH_KEY)
BROKER_ACCOUNTS = BrokerAccounts(
    gateway=Account("scgw-gateway", "test-gateway-password-0123"),
    relays={"yida": Account("yida-relay", "test-yida-password-0123")},
)
"""Accounts of the embedded broker in tests that run the demo's stack. The suites publish for
many devices, some of them deliberately unregistered or naming others, so they publish with a
relay account (anything under `yida/`) and leave the per-device binding to the broker's own
tests (tests/gateway/test_broker.py)."""
YIDA_DEVICES = BROKER_ACCOUNTS.relays["yida"]


@dataclass
class RunningGateway:
    """A started gateway: its runtime objects and an authenticated HTTP client."""

    runtime: Runtime
    http: httpx.AsyncClient

    async def events(self, **params: str | int) -> list[dict[str, object]]:
        """Every event the API returns for the filters, following cursors to the end."""
        found: list[dict[str, object]] = []
        cursor = None
        while True:
            query: dict[str, str | int] = {**params, "limit": 1000}
            if cursor:
                query["cursor"] = cursor
            response = await self.http.get("/v1/events", params=query)
            response.raise_for_status()
            page = response.json()
            found.extend(page["data"])
            cursor = page["next_cursor"]
            if cursor is None:
                return found

    async def dead_letters(self) -> list[dict[str, object]]:
        response = await self.http.get("/v1/dead-letters", params={"limit": 1000})
        response.raise_for_status()
        letters: list[dict[str, object]] = response.json()["data"]
        return letters


@contextlib.asynccontextmanager
async def running_gateway(
    settings: Settings, config: GatewayConfig | None = None
) -> AsyncIterator[RunningGateway]:
    """Start the whole gateway (store, ingest, API) and stop it at the end of the block."""
    app = create_app(settings, config or GatewayConfig(), SECRETS)
    server = api_server(app, "127.0.0.1", settings.api_port, settings.api_forwarded_allow_ips)
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            started = asyncio.create_task(wait_started(server))
            await asyncio.wait({serving, started}, return_when=asyncio.FIRST_COMPLETED)
            if not server.started:
                started.cancel()
                raise RuntimeError("the gateway did not start; see the log above")
            runtime: Runtime = app.state.runtime
            await runtime.ingest.subscribed.wait()
        base_url = f"http://127.0.0.1:{settings.api_port}"
        async with httpx.AsyncClient(base_url=base_url, headers={"X-API-Key": ADMIN_KEY}) as http:
            yield RunningGateway(runtime, http)
    finally:
        server.should_exit = True
        await serving


def gateway_settings(mqtt_url: str, database_url: str, **overrides: object) -> Settings:
    """Settings for a gateway under test: free API port, small fast batches."""
    values: dict[str, object] = {
        "mqtt_url": mqtt_url,
        "database_url": database_url,
        "api_port": free_port(),
        "mqtt_client_id": f"scgw-test-{uuid.uuid4().hex}",  # never an earlier test's session
        "batch_max_delay_ms": 20,
        "log_format": "text",
        **overrides,
    }
    return Settings.model_validate(values)


async def mosquitto_pub(
    port: int,
    topic: str,
    payloads: Iterable[bytes],
    *,
    qos: int = 1,
    account: Account | None = None,
    retain: bool = False,
) -> None:
    """Publish with the real `mosquitto_pub` client (a client we did not write), one per line.

    Asynchronous on purpose: the embedded broker runs in the test's own event loop.
    `account` logs in (the embedded broker refuses anonymous clients); `retain` asks the
    broker to keep the (last) message for the topic and replay it to new subscriptions.
    """
    lines = b"".join(payload.replace(b"\n", b" ") + b"\n" for payload in payloads)
    login = () if account is None else ("-u", account.username, "-P", account.password)
    process = await asyncio.create_subprocess_exec(
        *("mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), *login),
        *("-q", str(qos), "-t", topic, *(("-r",) if retain else ()), "-l"),
        stdin=subprocess.PIPE,
    )
    async with asyncio.timeout(120):
        await process.communicate(lines)
    if process.returncode != 0:
        raise AssertionError(f"mosquitto_pub exited with {process.returncode}")


async def clear_retained(port: int, topic: str, *, account: Account | None = None) -> None:
    """Remove the topic's retained message (an empty retained publish), so that later
    subscriptions to a shared broker get no replay of it."""
    login = () if account is None else ("-u", account.username, "-P", account.password)
    process = await asyncio.create_subprocess_exec(
        *("mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), *login),
        *("-q", "1", "-t", topic, "-r", "-n"),
    )
    async with asyncio.timeout(60):
        returncode = await process.wait()
    if returncode != 0:
        raise AssertionError(f"mosquitto_pub exited with {returncode}")


async def wait_until(
    condition: Callable[[], "asyncio.Future[bool] | bool"] | Callable[[], object],
    *,
    timeout_s: float = 30,
    what: str = "condition",
) -> None:
    """Poll an async or sync condition until true; fail with `what` after the timeout."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.1)


def write_file(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
