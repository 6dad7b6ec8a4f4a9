"""A publisher that sustains tens of thousands of QoS 1 messages a second from one process.

`simulators.publisher.publish` runs each message as an asyncio task through aiomqtt: right for
the demo and the tests (a few hundred a second, TLS, per-device logins), but its cost per
message (a task, paho's bookkeeping, ~100 µs) caps a process near 9k msg/s. The district's
benchmarks offer up to 20k msg/s on a 2-core machine that also runs the broker, the database
and the gateway, so this publisher does the least a QoS 1 publisher can: one socket, MQTT
3.1.1, PUBLISH packets encoded straight into one buffer and written with one `sendall` per
tick, PUBACKs counted as they come (Mosquitto acknowledges in order), a bounded window of
unacknowledged messages, and a pace kept against a fixed schedule (message i no earlier than
start + i/rate: a late tick catches up rather than accumulates). No task, no callback, no
object per message.

A message given with its event time (`Timed`) is held until the wall clock has reached it:
simulated events never come from the future.
"""

import select
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from simulators.publisher import BrokerAddress, PublishError

Timed = tuple[float, str, bytes]
"""(event time as epoch seconds, topic, payload)."""

TICK_S: Final = 0.002
"""How often the pace is checked: at 20k msg/s, about 40 messages a write."""
MAX_IN_FLIGHT: Final = 2_000
"""Unacknowledged messages allowed: hides the round trip, bounds the broker's queue for us."""
KEEPALIVE_S: Final = 60
_CONNECT_TIMEOUT_S: Final = 10.0
_DRAIN_TIMEOUT_S: Final = 30.0
_MAX_PACKET_ID: Final = 65_535


@dataclass(frozen=True, slots=True)
class FastReport:
    """What one connection published: acknowledged messages and the seconds from the first
    write to the last acknowledgement."""

    count: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


def _varint(length: int) -> bytes:
    out = bytearray()
    while True:
        length, digit = length >> 7, length & 0x7F
        out.append(digit | (0x80 if length else 0))
        if not length:
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def connect_packet(client_id: str, username: str | None, password: str | None) -> bytes:
    """MQTT 3.1.1 CONNECT, clean session, with an optional login."""
    flags = 0x02
    body = bytearray(_string("MQTT") + b"\x04")
    payload = bytearray(_string(client_id))
    if username is not None:
        flags |= 0x80
        payload += _string(username)
        if password is not None:
            flags |= 0x40
            payload += _string(password)
    body += bytes([flags]) + KEEPALIVE_S.to_bytes(2, "big") + payload
    return b"\x10" + _varint(len(body)) + bytes(body)


class _Connection:
    """One MQTT connection's socket, what it has sent and what the broker has acknowledged."""

    def __init__(self, address: BrokerAddress, client_id: str, qos: int) -> None:
        raw = socket.create_connection((address.host, address.port), timeout=_CONNECT_TIMEOUT_S)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock: socket.socket = raw
        if address.tls:
            sock = ssl.create_default_context().wrap_socket(raw, server_hostname=address.host)
        self.sock = sock
        self.qos = qos
        self.buffer = bytearray()
        self.acked = 0
        self.sent = 0
        self.last_write = time.monotonic()
        self._topics: dict[str, bytes] = {}
        self._packet_id = 0
        sock.sendall(connect_packet(client_id, address.username, address.password))
        self._await_connack()
        sock.settimeout(None)
        sock.setblocking(False)

    def _await_connack(self) -> None:
        data = b""
        while len(data) < 4:
            chunk = self.sock.recv(4 - len(data))
            if not chunk:
                raise PublishError("the broker closed the connection before CONNACK", 0)
            data += chunk
        if data[0] != 0x20 or data[3] != 0:
            raise PublishError(f"the broker refused the connection (CONNACK code {data[3]})", 0)

    def publish_packet(self, topic: str, payload: bytes) -> bytes:
        head = self._topics.get(topic)
        if head is None:
            head = self._topics[topic] = _string(topic)
        if self.qos == 0:
            return b"\x30" + _varint(len(head) + len(payload)) + head + payload
        self._packet_id = self._packet_id % _MAX_PACKET_ID + 1
        fixed = 0x32 if self.qos == 1 else 0x34
        return (
            bytes([fixed])
            + _varint(len(head) + 2 + len(payload))
            + head
            + self._packet_id.to_bytes(2, "big")
            + payload
        )

    def write(self, packets: list[bytes], count: int) -> None:
        """Send the packets of `count` messages, blocking until the kernel took them all."""
        data = b"".join(packets)
        self.sock.setblocking(True)
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise PublishError(f"the broker connection failed: {exc}", self.acked) from exc
        finally:
            self.sock.setblocking(False)
        self.sent += count
        if self.qos == 0:
            self.acked = self.sent
        self.last_write = time.monotonic()

    def read(self, timeout: float) -> None:
        """Count the acknowledgements that arrive within `timeout` seconds (0: what is there)."""
        readable, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not readable:
            return
        try:
            chunk = self.sock.recv(65_536)
        except (BlockingIOError, ssl.SSLWantReadError):
            return
        except OSError as exc:
            raise PublishError(f"the broker connection failed: {exc}", self.acked) from exc
        if not chunk:
            raise PublishError("the broker closed the connection", self.acked)
        self.buffer += chunk
        self._parse()

    def _parse(self) -> None:
        buffer = self.buffer
        position = 0
        size = len(buffer)
        while position + 2 <= size:
            kind = buffer[position] >> 4
            length = 0
            shift = 0
            cursor = position + 1
            while True:
                if cursor >= size:
                    del buffer[:position]
                    return
                digit = buffer[cursor]
                length |= (digit & 0x7F) << shift
                cursor += 1
                if not digit & 0x80:
                    break
                shift += 7
                if shift > 21:
                    raise PublishError("malformed packet from the broker", self.acked)
            end = cursor + length
            if end > size:
                break
            if kind in (4, 5):  # PUBACK (QoS 1), PUBREC (QoS 2: counted, not completed)
                self.acked += 1
                if kind == 5:
                    self.sock.send(b"\x62\x02" + bytes(buffer[cursor : cursor + 2]))
            position = end
        del buffer[:position]

    def ping_if_idle(self) -> None:
        if time.monotonic() - self.last_write > KEEPALIVE_S / 2:
            self.write([b"\xc0\x00"], 0)

    def close(self) -> None:
        try:
            self.sock.setblocking(True)
            self.sock.sendall(b"\xe0\x00")
        except OSError:
            pass
        finally:
            self.sock.close()


def publish_fast(
    messages: Iterable[Timed | tuple[str, bytes]],
    address: BrokerAddress,
    *,
    client_id: str,
    rate: float | None = None,
    qos: int = 1,
    max_in_flight: int = MAX_IN_FLIGHT,
    progress: Callable[[int], None] | None = None,
    progress_interval: float = 1.0,
    wall_clock: Callable[[], float] = time.time,
) -> FastReport:
    """Publish every message on one connection; return once the broker acknowledged them all.

    `rate` is messages per second (None: as fast as the window allows). A `Timed` message is
    held until `wall_clock()` reaches its event time. `progress` gets the acknowledged count
    every `progress_interval` seconds and at the end. `PublishError` when the broker refuses
    or drops the connection (its `count`: what was acknowledged before).
    """
    if qos not in (0, 1, 2):
        raise ValueError("qos must be 0, 1 or 2")
    if rate is not None and not rate > 0:
        raise ValueError("rate must be positive (or None for as fast as possible)")
    if max_in_flight < 1:
        raise ValueError("max_in_flight must be at least 1")
    connection = _Connection(address, client_id, qos)
    try:
        seconds = _pump(
            iter(messages),
            connection,
            rate,
            max_in_flight,
            progress,
            progress_interval,
            wall_clock,
        )
    finally:
        connection.close()
    if progress is not None:
        progress(connection.acked)
    return FastReport(connection.acked, seconds)


class _Source:
    """The messages, one held back while its event time has not come."""

    def __init__(
        self, messages: Iterator[Timed | tuple[str, bytes]], wall_clock: Callable[[], float]
    ) -> None:
        self._messages = messages
        self._wall_clock = wall_clock
        self._held: tuple[float, str, bytes] | None = None
        self.exhausted = False

    def take(self, connection: _Connection, budget: int) -> tuple[list[bytes], float]:
        """Up to `budget` packets; and how long until the held message is due (0: none is)."""
        packets: list[bytes] = []
        while len(packets) < budget:
            held = self._held
            if held is None:
                item = next(self._messages, None)
                if item is None:
                    self.exhausted = True
                    break
                held = self._held = item if len(item) == 3 else (0.0, *item)
            if held[0] > 0.0:
                wait = held[0] - self._wall_clock()
                if wait > 0:
                    return packets, wait
            packets.append(connection.publish_packet(held[1], held[2]))
            self._held = None
        return packets, 0.0


def _pump(
    messages: Iterator[Timed | tuple[str, bytes]],
    connection: _Connection,
    rate: float | None,
    max_in_flight: int,
    progress: Callable[[int], None] | None,
    progress_interval: float,
    wall_clock: Callable[[], float],
) -> float:
    started = time.monotonic()
    next_progress = started + progress_interval
    source = _Source(messages, wall_clock)
    while not source.exhausted:
        now = time.monotonic()
        due = max_in_flight if rate is None else int((now - started) * rate) + 1 - connection.sent
        room = max_in_flight - (connection.sent - connection.acked)
        packets, wait = source.take(connection, min(due, room))
        if packets:
            connection.write(packets, len(packets))
        if progress is not None and now >= next_progress:
            progress(connection.acked)
            next_progress = now + progress_interval
        if not source.exhausted:
            # Until acknowledgements arrive, the next tick is due or the held event's time.
            connection.read(min(wait, 0.5) if wait > 0 else TICK_S)
            connection.ping_if_idle()
    deadline = time.monotonic() + _DRAIN_TIMEOUT_S
    while connection.acked < connection.sent:
        if time.monotonic() > deadline:
            raise PublishError(
                f"{connection.sent - connection.acked} messages never acknowledged",
                connection.acked,
            )
        connection.read(0.1)
    return time.monotonic() - started
