"""Outages are waited out, not turned into losses: a broker restart and a database that
stops accepting connections both end with every event stored."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.config import GatewayConfig
from simulators.community import generate_community
from simulators.hik_isapi import HikDoorStream
from simulators.publisher import publish
from testkit.harness import RunningGateway, gateway_settings, running_gateway, wait_until
from testkit.services import MosquittoService, PostgresService, start_mosquitto


def door_messages(count: int, seed: int) -> list[tuple[str, bytes]]:
    start = datetime.now(UTC) - timedelta(hours=1)  # a few minutes of doors, all past
    return HikDoorStream(generate_community(), seed=seed, start=start).take(count)


class TestBrokerRestart:
    """After the broker restarts, the gateway reconnects, resubscribes and ingests again."""

    async def test_ingest_resumes_after_the_broker_comes_back(
        self, tmp_path: Path, sqlite_url: str
    ) -> None:
        broker = start_mosquitto(tmp_path / "broker")
        try:
            settings = gateway_settings(broker.url, sqlite_url)
            async with running_gateway(settings, GatewayConfig()) as gateway:
                await publish(door_messages(10, seed=1), url=broker.url)
                await wait_until(lambda: _count(gateway) == 10, what="10 events before")
                broker.stop()
                await wait_until(lambda: not gateway.runtime.ingest.is_connected, what="loss")
                broker = start_mosquitto(tmp_path / "broker-again", port=broker.port)
                await wait_until(lambda: gateway.runtime.ingest.is_connected, what="reconnection")
                await publish(door_messages(10, seed=2), url=broker.url)
                await wait_until(lambda: _count(gateway) == 20, what="10 events after")
        finally:
            broker.stop()


class TestDatabaseOutage:
    """While the database refuses connections, batches wait unacknowledged and then land."""

    async def test_events_published_during_the_outage_are_stored_afterwards(
        self, mosquitto: MosquittoService, postgres: PostgresService, pg_dsn: str
    ) -> None:
        database = pg_dsn.rsplit("/", 1)[1]
        settings = gateway_settings(mosquitto.url, pg_dsn)
        async with running_gateway(settings, GatewayConfig()) as gateway:
            await publish(door_messages(10, seed=3), url=mosquitto.url)
            await wait_until(lambda: _count(gateway) == 10, what="10 events before")
            postgres.psql(f"ALTER DATABASE {database} WITH ALLOW_CONNECTIONS false")
            postgres.psql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                f" WHERE datname = '{database}'"
            )
            await publish(door_messages(25, seed=4), url=mosquitto.url)
            retries = gateway.runtime.metrics.registry
            await wait_until(
                lambda: (retries.get_sample_value("scgw_store_retries_total") or 0) > 0,
                what="the gateway to meet the outage",
            )
            postgres.psql(f"ALTER DATABASE {database} WITH ALLOW_CONNECTIONS true")
            await wait_until(lambda: _count(gateway) == 35, timeout_s=120, what="35 events")
            letters = await gateway.dead_letters()
        assert letters == []


def _count(gateway: RunningGateway) -> int:
    """Events committed so far, from the gateway's own counter of inserted rows."""
    registry = gateway.runtime.metrics.registry
    return int(registry.get_sample_value("scgw_events_stored_total") or 0)
