"""Publish simulated device messages to an MQTT broker, paced or flat out.

The demo, the end-to-end tests and the throughput/latency benchmarks all push simulator output
through a real broker with this one function. It counts a message only once the broker has
acknowledged it (QoS 1 PUBACK), keeps a fixed bound on messages in flight, consumes its input
lazily (so an endless stream is fine) and paces against a fixed schedule so the rate does not
drift.

Simulated traffic never comes from the future: a `SimMessage` is held until the wall clock
has reached its event time. A replay however accelerated (events planned in the past,
published flat out) ends at the present, and continues in real time if it catches up.
"""

import asyncio
import contextlib
import itertools
import os
import ssl
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

import aiomqtt

from simulators.traffic import SimMessage

DEFAULT_URL = "mqtt://127.0.0.1:1883"
_call_numbers = itertools.count(1)
MAX_IN_FLIGHT = 32
"""Unacknowledged publishes allowed per connection: enough to hide the round trip, bounded.

Measured against a local Mosquitto: throughput peaks near 32 and falls beyond it, because
aiomqtt and paho walk their pending-publish tables on every publish and acknowledgement.
"""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where and how to connect, as parsed from an `mqtt://` or `mqtts://` URL."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False


def parse_mqtt_url(url: str) -> BrokerAddress:
    """Parse `mqtt://[user[:pass]@]host[:port]` (`mqtts://` for TLS); ValueError if malformed.

    User and password are percent-decoded, so `p%40ss` means `p@ss`.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"mqtt", "mqtts"}:
        raise ValueError(f"unsupported MQTT URL scheme {parts.scheme!r} (use mqtt:// or mqtts://)")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"bad port in MQTT URL: {exc}") from None
    if not parts.hostname:
        raise ValueError("MQTT URL has no host")
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise ValueError("MQTT URL must not have a path, query or fragment")
    tls = parts.scheme == "mqtts"
    return BrokerAddress(
        host=parts.hostname,
        port=port if port is not None else (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        tls=tls,
    )


@dataclass(slots=True)
class PublishReport:
    """What a `publish` run did: acknowledged messages, elapsed time, optional send times.

    `seconds` runs from the first send to the last acknowledgement; connecting is excluded.
    """

    count: int
    seconds: float
    connections: int
    times: list[tuple[int, float]] | None = field(default=None, repr=False)
    """(message index, `time.time()` just before sending), when `record_times` was asked.

    Wall-clock epoch seconds, so a subscriber in another process can subtract its own
    receive time for end-to-end latency. Index is the message's position in the input.
    """

    @property
    def rate(self) -> float:
        """Acknowledged messages per second over the whole run."""
        return self.count / self.seconds if self.seconds > 0 else 0.0


class PublishError(Exception):
    """The broker refused or dropped us mid-run; `count` messages were acknowledged before."""

    def __init__(self, message: str, count: int) -> None:
        super().__init__(message)
        self.count = count


class _Lane:
    """One broker connection and its bound on unacknowledged publishes."""

    def __init__(self, client: aiomqtt.Client, max_in_flight: int) -> None:
        self.client = client
        self.slots = asyncio.Semaphore(max_in_flight)


def _client(address: BrokerAddress, identifier: str, max_in_flight: int) -> aiomqtt.Client:
    client = aiomqtt.Client(
        address.host,
        address.port,
        username=address.username,
        password=address.password,
        identifier=identifier,
        protocol=aiomqtt.ProtocolVersion.V311,
        clean_session=True,
        max_inflight_messages=max_in_flight,
        tls_context=ssl.create_default_context() if address.tls else None,
    )
    # aiomqtt warns above 10 pending publishes; we keep up to `max_in_flight` on purpose.
    client.pending_calls_threshold = max_in_flight + 1
    return client


Clock = Callable[[], datetime]
"""The wall clock: an aware `datetime` of now (injectable, for tests)."""


def _wall_clock() -> datetime:
    return datetime.now(UTC)


async def publish(
    messages: Iterable[tuple[str, bytes] | SimMessage],
    *,
    url: str = DEFAULT_URL,
    qos: int = 1,
    rate: float | None = None,
    connections: int = 1,
    progress: Callable[[int], None] | None = None,
    progress_interval: float = 1.0,
    record_times: bool = False,
    max_in_flight: int = MAX_IN_FLIGHT,
    client_id_prefix: str | None = None,
    clock: Clock = _wall_clock,
) -> PublishReport:
    """Publish every (topic, payload) and return once the broker has acknowledged them all.

    `rate` is messages per second over all connections (None: as fast as the broker takes
    them); message i is sent no earlier than start + i/rate, so pauses are caught up rather
    than accumulated. A `SimMessage` is also sent no earlier than its event time `at` by
    `clock`: simulated events never arrive ahead of the present. Topics are dealt round-robin
    to `connections` by first appearance, so each device's messages stay on one connection,
    in order. `progress` is called with the acknowledged count every `progress_interval`
    seconds and once at the end.
    Raises `PublishError` if a publish fails; `ValueError` for bad arguments.
    """
    if qos not in {0, 1, 2}:
        raise ValueError("qos must be 0, 1 or 2")
    if rate is not None and not rate > 0:
        raise ValueError("rate must be positive (or None for as fast as possible)")
    if connections < 1 or max_in_flight < 1:
        raise ValueError("connections and max_in_flight must be at least 1")
    address = parse_mqtt_url(url)
    run = _Run(
        address=address,
        # Unique per call: a broker disconnects the older of two clients sharing an id.
        prefix=client_id_prefix or f"scgw-sim-{os.getpid()}-{next(_call_numbers)}",
        qos=qos,
        rate=rate,
        connections=connections,
        max_in_flight=max_in_flight,
        times=[] if record_times else None,
        clock=clock,
    )
    try:
        seconds = await run.run(messages, progress, progress_interval)
    except aiomqtt.MqttError as exc:  # connecting, or disconnecting from a broker that left
        message = f"MQTT error after {run.acked} acknowledged messages: {exc}"
        raise PublishError(message, run.acked) from exc
    if run.failure is not None:
        raise PublishError(
            f"publish failed after {run.acked} acknowledged messages: {run.failure}", run.acked
        ) from run.failure
    if progress is not None:
        progress(run.acked)
    return PublishReport(run.acked, seconds, connections, run.times)


_TOPIC_MEMORY = 65_536
"""Topics remembered for connection assignment; beyond this, topics are hashed instead."""


@dataclass(slots=True)
class _Run:
    """The state of one `publish` call: counters shared by its sending tasks."""

    address: BrokerAddress
    prefix: str
    qos: int
    rate: float | None
    connections: int
    max_in_flight: int
    times: list[tuple[int, float]] | None
    clock: Clock = _wall_clock
    acked: int = 0
    failure: aiomqtt.MqttError | None = None

    async def run(
        self,
        messages: Iterable[tuple[str, bytes] | SimMessage],
        progress: Callable[[int], None] | None,
        progress_interval: float,
    ) -> float:
        """Connect, publish everything, wait for the last acknowledgement; elapsed seconds."""
        async with contextlib.AsyncExitStack() as stack:
            lanes: list[_Lane] = []
            for n in range(self.connections):
                client = _client(self.address, f"{self.prefix}-{n}", self.max_in_flight)
                await stack.enter_async_context(client)
                lanes.append(_Lane(client, self.max_in_flight))
            ticker = None
            if progress is not None:
                ticker = asyncio.create_task(self._tick(progress, progress_interval))
            try:
                return await self._pump(messages, lanes)
            finally:
                if ticker is not None:
                    ticker.cancel()

    async def _pump(
        self, messages: Iterable[tuple[str, bytes] | SimMessage], lanes: list[_Lane]
    ) -> float:
        loop = asyncio.get_running_loop()
        rate = self.rate
        lane_of: dict[str, _Lane] = {}
        tasks: set[asyncio.Task[None]] = set()
        started = loop.time()
        try:
            for index, item in enumerate(messages):
                if self.failure is not None:
                    break
                if isinstance(item, SimMessage):
                    await self._until_due(item.at)
                    topic, payload = item.topic, item.payload
                else:
                    topic, payload = item
                if rate is not None:
                    delay = started + index / rate - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                lane = lane_of.get(topic)
                if lane is None:
                    if len(lane_of) < _TOPIC_MEMORY:
                        lane = lane_of[topic] = lanes[len(lane_of) % len(lanes)]
                    else:
                        lane = lanes[zlib.crc32(topic.encode()) % len(lanes)]
                await lane.slots.acquire()
                task = asyncio.create_task(self._send(lane, index, topic, payload))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
        return loop.time() - started

    async def _until_due(self, at: datetime) -> None:
        """Wait until the clock has reached `at` (a sleep may end a little early: check again)."""
        while (wait := (at - self.clock()).total_seconds()) > 0:  # noqa: ASYNC110 - a deadline
            await asyncio.sleep(wait)

    async def _send(self, lane: _Lane, index: int, topic: str, payload: bytes) -> None:
        try:
            if self.times is not None:
                self.times.append((index, time.time()))
            await lane.client.publish(topic, payload, qos=self.qos)
            self.acked += 1
        except aiomqtt.MqttError as exc:
            if self.failure is None:
                self.failure = exc
        finally:
            lane.slots.release()

    async def _tick(self, progress: Callable[[int], None], interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            progress(self.acked)
