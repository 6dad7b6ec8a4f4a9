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
from dataclasses import dataclass, field, replace
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


Login = tuple[str, str]
"""A broker user name and its password."""

LoginFor = Callable[[str], Login]
"""A topic's login, for brokers that bind each device's account to its own topics."""

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
    login_for: LoginFor | None = None,
    speed: float = 1.0,
) -> PublishReport:
    """Publish every (topic, payload) and return once the broker has acknowledged them all.

    `rate` is messages per second over all connections (None: as fast as the broker takes
    them); message i is sent no earlier than start + i/rate, so pauses are caught up rather
    than accumulated. A `SimMessage` is also sent no earlier than its event time `at` by
    `clock`: simulated events never arrive ahead of the present. Topics are dealt round-robin
    to `connections` by first appearance, so each device's messages stay on one connection,
    in order. `progress` is called with the acknowledged count every `progress_interval`
    seconds and once at the end.
    `speed` is how many seconds `clock` advances per wall second (an accelerated replay's
    clock, `simulators.scenario_traffic.AcceleratedClock`): a wait for a message's time is
    divided by it.
    `login_for`, instead of the URL's login and `connections`, gives each topic's login: each
    login gets a connection of its own, opened when its first message is due (and counted in
    `seconds`), for a broker where a device's account publishes only on its own topics.
    Raises `PublishError` if a publish fails; `ValueError` for bad arguments.
    """
    if qos not in {0, 1, 2}:
        raise ValueError("qos must be 0, 1 or 2")
    if rate is not None and not rate > 0:
        raise ValueError("rate must be positive (or None for as fast as possible)")
    if not speed > 0:
        raise ValueError("speed must be positive")
    if connections < 1 or max_in_flight < 1:
        raise ValueError("connections and max_in_flight must be at least 1")
    if login_for is not None and connections != 1:
        raise ValueError("login_for opens one connection per login: leave connections at 1")
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
        login_for=login_for,
        speed=speed,
    )
    try:
        seconds = await run.run(messages, progress, progress_interval)
    except aiomqtt.MqttError as exc:  # connecting, or disconnecting from a broker that left
        _cancellation_wins()
        message = f"MQTT error after {run.acked} acknowledged messages: {exc}"
        raise PublishError(message, run.acked) from exc
    _cancellation_wins()
    if run.failure is not None:
        raise PublishError(
            f"publish failed after {run.acked} acknowledged messages: {run.failure}", run.acked
        ) from run.failure
    if progress is not None:
        progress(run.acked)
    return PublishReport(run.acked, seconds, run.opened, run.times)


def _cancellation_wins() -> None:
    """Raise CancelledError if this task is being cancelled, whatever else went wrong.

    A connection that fails to close while a cancellation unwinds the run replaces the
    CancelledError with its MqttError (an exit callback's exception wins), and a failed send
    ends the run early: a caller that retries after errors (the demo's simulator) would then
    go on publishing after it was told to stop.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


_CONNECT_GRACE_S = 5.0
"""How long a cancelled run waits for a connect under way to finish (see `_Run._connect`)."""

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
    login_for: LoginFor | None = None
    speed: float = 1.0
    acked: int = 0
    opened: int = 0
    failure: aiomqtt.MqttError | None = None
    _by_login: dict[str, _Lane] = field(default_factory=dict)

    async def run(
        self,
        messages: Iterable[tuple[str, bytes] | SimMessage],
        progress: Callable[[int], None] | None,
        progress_interval: float,
    ) -> float:
        """Connect, publish everything, wait for the last acknowledgement; elapsed seconds."""
        async with contextlib.AsyncExitStack() as stack:
            lanes: list[_Lane] = []
            if self.login_for is None:
                for _ in range(self.connections):
                    lanes.append(await self._connect(stack, self.address))
            ticker = None
            if progress is not None:
                ticker = asyncio.create_task(self._tick(progress, progress_interval))
            try:
                return await self._pump(messages, lanes, stack)
            finally:
                if ticker is not None:
                    ticker.cancel()

    async def _connect(self, stack: contextlib.AsyncExitStack, address: BrokerAddress) -> _Lane:
        """Open one more connection, closed with `stack`.

        A cancellation waits for a connect under way (a few seconds at most) rather than
        interrupting it: aiomqtt's callbacks fail on a connect cancelled halfway, and the
        half-open connection would be left to the broker. Connections opened along the way
        (`login_for`) make this likely when a run is stopped soon after it started.
        """
        client = _client(address, f"{self.prefix}-{self.opened}", self.max_in_flight)
        connecting = asyncio.ensure_future(stack.enter_async_context(client))
        try:
            await asyncio.shield(connecting)
        except asyncio.CancelledError:
            done, _ = await asyncio.wait({connecting}, timeout=_CONNECT_GRACE_S)
            if not done:
                connecting.cancel()
            elif not connecting.cancelled():
                connecting.exception()  # retrieved: the cancellation is what we report
            raise
        self.opened += 1
        return _Lane(client, self.max_in_flight)

    async def _login_lane(self, stack: contextlib.AsyncExitStack, topic: str) -> _Lane:
        """The connection of `topic`'s login (`login_for`), opened on its first message."""
        assert self.login_for is not None
        username, password = self.login_for(topic)
        lane = self._by_login.get(username)
        if lane is None:
            address = replace(self.address, username=username, password=password)
            lane = self._by_login[username] = await self._connect(stack, address)
        return lane

    async def _lane(
        self,
        topic: str,
        lane_of: dict[str, _Lane],
        lanes: list[_Lane],
        stack: contextlib.AsyncExitStack,
    ) -> _Lane:
        """The connection for a topic not seen yet (or no longer remembered): its login's, or
        the next one round-robin; remembered in `lane_of` while it has room."""
        if self.login_for is not None:
            lane = await self._login_lane(stack, topic)
        elif len(lane_of) < _TOPIC_MEMORY:
            lane = lanes[len(lane_of) % len(lanes)]
        else:
            return lanes[zlib.crc32(topic.encode()) % len(lanes)]
        if len(lane_of) < _TOPIC_MEMORY:
            lane_of[topic] = lane
        return lane

    async def _pump(
        self,
        messages: Iterable[tuple[str, bytes] | SimMessage],
        lanes: list[_Lane],
        stack: contextlib.AsyncExitStack,
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
                lane = lane_of.get(topic) or await self._lane(topic, lane_of, lanes, stack)
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
            await asyncio.sleep(wait / self.speed)

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
