"""At-least-once delivery plus idempotent storage: SIGKILL loses nothing and doubles nothing.

20,000 QoS 1 door events go through Mosquitto while the gateway process is killed with
SIGKILL twice mid-stream and restarted with the same persistent MQTT session. Messages that
were received but not yet committed were never acknowledged, so the broker redelivers them;
events committed but not yet acknowledged come back too, and their ids are already stored.
"""

import asyncio
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from simulators.community import generate_community
from simulators.hik_isapi import HikDoorStream
from testkit.gateway_process import GatewayProcess
from testkit.services import MosquittoService, PostgresService

TOTAL_EVENTS = 20_000
KILL_AT = (3_000, 11_000)
PUBLISH_CHUNK = 250
PUBLISH_PAUSE_S = 0.1  # about 2,500 events/s: the stream lasts some 8 seconds


def stored(postgres: PostgresService, database: str, sql: str = "count(*)") -> int:
    return int(postgres.psql(f"SELECT {sql} FROM events", database))


async def publish_all(port: int, messages: list[tuple[str, bytes]]) -> None:
    """One real `mosquitto_pub` per device topic, fed line by line at a steady pace.

    Pacing spreads the stream over several seconds, so the kills land mid-stream however
    fast the machine is.
    """
    by_topic: dict[str, list[bytes]] = defaultdict(list)
    for topic, payload in messages:
        by_topic[topic].append(payload)
    publishers = {}
    for topic in by_topic:
        publishers[topic] = await asyncio.create_subprocess_exec(
            *("mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topic, "-l"),
            stdin=asyncio.subprocess.PIPE,
        )
    for start in range(0, len(messages), PUBLISH_CHUNK):
        for topic, payload in messages[start : start + PUBLISH_CHUNK]:
            stdin = publishers[topic].stdin
            assert stdin is not None
            stdin.write(payload + b"\n")
        await asyncio.gather(*(p.stdin.drain() for p in publishers.values() if p.stdin))
        await asyncio.sleep(PUBLISH_PAUSE_S)
    for process in publishers.values():
        assert process.stdin is not None
        process.stdin.close()
    codes = await asyncio.gather(*(process.wait() for process in publishers.values()))
    assert codes == [0] * len(publishers)


async def wait_for_count(
    postgres: PostgresService, database: str, at_least: int, timeout_s: float = 120
) -> int:
    deadline = time.monotonic() + timeout_s
    while (count := stored(postgres, database)) < at_least:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {count} events stored, waited for {at_least}")
        await asyncio.sleep(0.05)
    return count


class TestCrashSafety:
    """Killing the gateway mid-stream neither loses nor duplicates a single event."""

    async def test_sigkill_twice_mid_stream_stores_each_event_exactly_once(
        self, mosquitto: MosquittoService, postgres: PostgresService, pg_dsn: str, tmp_path: Path
    ) -> None:
        database = pg_dsn.rsplit("/", 1)[1]
        gateway = GatewayProcess(
            mosquitto.url, pg_dsn, tmp_path / "gateway.log", batch_max_rows="500"
        )
        start = datetime.now(UTC) - timedelta(hours=2)  # an hour of doors, all past
        messages = HikDoorStream(generate_community(), seed=11, start=start, events_per_hour=20_000)
        batch = messages.take(TOTAL_EVENTS)
        gateway.start()  # creates the persistent session before anything is published
        publishing = asyncio.create_task(publish_all(mosquitto.port, batch))
        try:
            for threshold in KILL_AT:
                count = await wait_for_count(postgres, database, threshold)
                gateway.kill()
                assert count < TOTAL_EVENTS, "the kill must land mid-stream"
                gateway.start()
            await publishing
            await wait_for_count(postgres, database, TOTAL_EVENTS)
            await asyncio.sleep(2)  # let any redelivery that is still due arrive
            assert stored(postgres, database) == TOTAL_EVENTS
            assert stored(postgres, database, "count(DISTINCT event_id)") == TOTAL_EVENTS
        finally:
            publishing.cancel()
            gateway.stop()
