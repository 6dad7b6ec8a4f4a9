"""The gateway's MQTT subscriber: an asyncio protocol with acknowledgements after commit.

Why its own client (and paho for everything else: publishers, simulators, tests): a QoS 1
subscriber that acknowledges only after the database commit needs very little of MQTT, and
the general clients make each message expensive. paho parses one packet per call and MQTT 5
properties on every message; aiomqtt and amqtt acknowledge as soon as a message is queued;
gmqtt defers acks with a task per message. Here a read is cut into packets in place
(`gateway.mqtt_wire`), a batch's PUBACKs leave in one write, and a message costs a few µs.

What it keeps, and how:
- persistent session: clean session off (3.1.1) / clean start off with a session expiry
  (MQTT 5), so messages queued while the gateway is down are delivered when it returns;
- acknowledgement after commit, in arrival order: `InboundMessage.ack` only notes the packet
  id; the PUBACKs noted during one pass of the event loop (a committed batch) go out together;
- flow control end to end: MQTT 5 announces a Receive Maximum, so the broker never has more
  unacknowledged messages out than that; if a broker ignores it (or sends QoS 0), the
  subscriber stops reading its socket once `max_buffered` messages wait, and TCP pushes back;
- keepalive: a PINGREQ every half keepalive; no PINGRESP within a keepalive drops the
  connection (not while reading is paused: then the answer waits unread behind messages);
- TLS (`mqtts://`, the system's trust store or `SSL_CERT_FILE`) and user name / password;
- anything the broker sends that is not MQTT, or the connection ending, surfaces as
  `BrokerError` from `next_batch`, and `gateway.ingest` reconnects with backoff.
"""

import asyncio
import contextlib
import logging
import ssl
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from urllib.parse import unquote, urlsplit

from gateway import mqtt_wire as wire
from gateway.errors import GatewayError
from gateway.messages import InboundMessage
from gateway.mqtt_wire import topic_text

__all__ = [
    "BrokerAddress",
    "BrokerError",
    "MqttSubscriber",
    "SessionOptions",
    "topic_text",
]

logger = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 2.0
"""How long `close` waits for the broker to end the connection after our DISCONNECT."""


class BrokerError(GatewayError):
    """The broker refused us, could not be reached, or dropped the connection."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)
    tls: bool

    @classmethod
    def from_url(cls, url: str) -> "BrokerAddress":
        """Parse `mqtt://[user:pass@]host[:port]` (or `mqtts://` for TLS)."""
        parts = urlsplit(url)
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """How the subscriber's broker session survives restarts."""

    client_id: str
    protocol: str = "5"
    session_expiry_s: int = 7 * 24 * 3600
    receive_maximum: int = 2000
    keepalive_s: int = 30
    max_buffered: int = 10_000


class MqttSubscriber(asyncio.Protocol):
    """One broker connection: subscribe, take batches of messages, acknowledge them."""

    def __init__(self, address: BrokerAddress, options: SessionOptions) -> None:
        self._address = address
        self._options = options
        self._protocol = wire.PROTOCOL_V5 if options.protocol == "5" else wire.PROTOCOL_V311
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._reader = wire.FrameReader()
        self._buffer: deque[InboundMessage] = deque()
        self._arrived = asyncio.Event()
        self._connected: asyncio.Future[None] = self._loop.create_future()
        self._connected.add_done_callback(_retrieve)  # a refusal is raised by connect(), or moot
        self._disconnected: asyncio.Future[None] = self._loop.create_future()
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._discarding = False
        self._lost_because = "connection to the broker lost"
        self._subscribing: dict[int, tuple[list[str], asyncio.Future[None]]] = {}
        self._next_packet_id = 0
        self._unsent_acks: list[int] = []
        self._reading_paused = False
        self._keepalive_s = options.keepalive_s
        self._keepalive: asyncio.TimerHandle | None = None
        self._ping_sent_at: float | None = None

    # -- public API -------------------------------------------------------------------------

    async def connect(self, timeout_s: float = 10.0) -> None:
        """Connect, resuming the persistent session (clean start off, session expiry set)."""
        address = self._address
        try:
            async with asyncio.timeout(timeout_s):
                await self._loop.create_connection(
                    lambda: self,
                    address.host,
                    address.port,
                    ssl=ssl.create_default_context() if address.tls else None,
                )
                await asyncio.shield(self._connected)
        except (OSError, TimeoutError) as exc:
            self._abort()
            raise BrokerError(f"cannot connect to {address.host}:{address.port}: {exc!r}") from exc
        except BrokerError:
            self._abort()
            raise

    def subscribe(self, filters: Iterable[str], qos: int = 1) -> "asyncio.Future[None]":
        """Send one SUBSCRIBE for every filter; the future resolves once all are granted.

        Deliberately not awaited before consuming: a resumed session's queued messages arrive
        ahead of the SUBACK, and if they filled the buffer, waiting for the SUBACK without
        draining would deadlock. A refused subscription disconnects, which the consumer sees.
        """
        if qos not in (0, 1):
            raise ValueError("the subscriber takes QoS 0 and 1 only")
        topics = list(filters)
        if self._transport is None or self._transport.is_closing():
            raise BrokerError("subscribe failed: not connected")
        self._next_packet_id = self._next_packet_id % 0xFFFF + 1
        packet_id = self._next_packet_id
        self._transport.write(
            wire.encode_subscribe(packet_id, topics, qos, protocol=self._protocol)
        )
        granted: asyncio.Future[None] = self._loop.create_future()
        self._subscribing[packet_id] = (topics, granted)
        return granted

    async def next_batch(self, max_rows: int, max_delay_s: float) -> list[InboundMessage]:
        """Wait for a message, then gather more until `max_rows`, or `max_delay_s` after the
        oldest waiting message arrived (messages that came in during the previous commit have
        already waited: their clock started then)."""
        if self._disconnected.done():
            self._buffer.clear()  # their acks would be void: the broker redelivers them
            raise BrokerError(self._lost_because)
        while not self._buffer:
            await self._wait_for_arrival(None)
        deadline = self._buffer[0].received_monotonic + max_delay_s
        while len(self._buffer) < max_rows:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await self._wait_for_arrival(remaining):
                break
        buffer = self._buffer
        count = min(max_rows, len(buffer))
        batch = [buffer.popleft() for _ in range(count)]
        if self._reading_paused and len(buffer) < self._options.max_buffered // 2:
            self._resume_reading()
        return batch

    @property
    def is_connected(self) -> bool:
        return self._connected.done() and not self._disconnected.done()

    async def close(self) -> None:
        """Disconnect politely; unacknowledged messages stay with the broker's session.

        The PUBACKs still unsent and a DISCONNECT go out, then we wait (briefly) for the
        broker to end the connection. Closing the socket at once would not do: with unread
        bytes in our receive buffer the kernel answers with a reset, and the broker may drop
        what we just wrote, acknowledgements included (they would come back as duplicates).
        """
        self._stop_keepalive()
        if not self._disconnected.done():
            self._disconnected.set_result(None)
        transport = self._transport
        if transport is not None and not transport.is_closing():
            self._send_acks()
            transport.write(wire.DISCONNECT_PACKET)
            self._discarding = True
            if self._reading_paused:
                transport.resume_reading()
            if transport.can_write_eof():
                transport.write_eof()
            try:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(CLOSE_TIMEOUT_S):
                        await asyncio.shield(self._closed)
            finally:
                transport.close()

    # -- waiting ----------------------------------------------------------------------------

    async def _wait_for_arrival(self, wait_s: float | None) -> bool:
        """True when new messages arrived, False on timeout; raises once disconnected."""
        self._arrived.clear()
        waiter = asyncio.ensure_future(self._arrived.wait())
        done, _ = await asyncio.wait(
            (waiter, self._disconnected), timeout=wait_s, return_when=asyncio.FIRST_COMPLETED
        )
        if waiter not in done:
            waiter.cancel()
        if self._disconnected in done:
            self._buffer.clear()  # their acks would be void: the broker redelivers them
            raise BrokerError(self._lost_because)
        return waiter in done

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        options, address = self._options, self._address
        transport.write(
            wire.encode_connect(
                options.client_id,
                protocol=self._protocol,
                keepalive_s=options.keepalive_s,
                username=address.username,
                password=address.password,
                session_expiry_s=options.session_expiry_s,
                receive_maximum=options.receive_maximum,
            )
        )

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        self._reader.feed(data)
        if not self._reading_paused:
            self._take_packets()

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed.done():
            self._closed.set_result(None)
        if exc is not None and not self._disconnected.done():
            self._lost_because = f"connection to the broker lost: {exc!r}"
        self._lose(self._lost_because)

    def pause_writing(self) -> None:
        """Writes are PUBACKs, PINGREQs and SUBSCRIBEs: few bytes, never held back."""

    def resume_writing(self) -> None:
        """See `pause_writing`."""

    # -- incoming packets -------------------------------------------------------------------

    def _take_packets(self) -> None:
        """Turn what was read into messages until the buffer is full; the rest waits, read
        but not parsed, while the socket is paused."""
        while not self._disconnected.done():
            room = self._options.max_buffered - len(self._buffer)
            if room <= 0:
                self._pause_reading()
                return
            try:
                frames = self._reader.frames(room)
            except wire.ProtocolError as exc:
                self._protocol_error(exc)
                return
            if not frames:
                return
            self._take_messages(frames)

    def _take_messages(self, frames: list[wire.Frame]) -> None:
        buffer = self._buffer
        received_at = datetime.now(UTC)
        received_monotonic = time.monotonic()
        protocol = self._protocol
        before = len(buffer)
        decode_publish = wire.decode_publish
        ack = self._ack
        append = buffer.append
        try:
            for first_byte, body in frames:
                if first_byte >> 4 == wire.PUBLISH:
                    topic, payload, qos, packet_id, retain = decode_publish(
                        first_byte, body, protocol
                    )
                    append(
                        InboundMessage(
                            topic_text(topic),
                            payload,
                            received_at,
                            received_monotonic,
                            partial(ack, packet_id) if qos else _no_ack,
                            retain,
                        )
                    )
                else:
                    self._control_packet(first_byte, body)
                    if self._disconnected.done():
                        return
        except wire.ProtocolError as exc:
            self._protocol_error(exc)
            return
        if len(buffer) != before:
            self._arrived.set()
        if len(buffer) >= self._options.max_buffered:
            self._pause_reading()

    def _control_packet(self, first_byte: int, body: memoryview) -> None:
        kind = first_byte >> 4
        if kind == wire.PINGRESP:
            wire.decode_pingresp(first_byte, body)
            self._ping_sent_at = None
        elif kind == wire.SUBACK:
            self._on_suback(wire.decode_suback(first_byte, body, self._protocol))
        elif kind == wire.CONNACK:
            self._on_connack(wire.decode_connack(first_byte, body, self._protocol))
        elif kind == wire.DISCONNECT:
            disconnect = wire.decode_disconnect(first_byte, body, self._protocol)
            self._drop(f"the broker disconnected us: {disconnect.reason()}")
        else:
            raise wire.ProtocolError(f"unexpected packet type {kind} from the broker")

    def _on_connack(self, connack: wire.ConnAck) -> None:
        if self._connected.done():
            raise wire.ProtocolError("a second CONNACK")
        if connack.refused:
            self._connected.set_exception(
                BrokerError(f"broker refused: {connack.reason(self._protocol)}")
            )
            self._drop("broker refused the connection")
            return
        server_keepalive = connack.properties.get(wire.SERVER_KEEP_ALIVE)
        if isinstance(server_keepalive, int):
            self._keepalive_s = server_keepalive  # MQTT 5: the server's value prevails
        logger.info(
            "connected to broker %s:%s (session present: %s)",
            self._address.host,
            self._address.port,
            connack.session_present,
        )
        self._connected.set_result(None)
        self._schedule_keepalive()

    def _on_suback(self, suback: wire.SubAck) -> None:
        topics, granted = self._subscribing.pop(suback.packet_id, ([], None))
        if granted is None or granted.done():
            return
        codes = suback.reason_codes
        refused = [topic for topic, code in zip(topics, codes, strict=False) if code >= 0x80]
        if refused or len(codes) != len(topics):
            granted.set_exception(BrokerError(f"broker refused subscriptions {refused}"))
            self._drop("a subscription was refused")
        else:
            granted.set_result(None)

    # -- acknowledgements -------------------------------------------------------------------

    def _ack(self, packet_id: int) -> None:
        """Note a PUBACK; the first of a batch schedules the one write that sends them all."""
        if not self._unsent_acks:
            self._loop.call_soon(self._send_acks)
        self._unsent_acks.append(packet_id)

    def _send_acks(self) -> None:
        acks, self._unsent_acks = self._unsent_acks, []
        transport = self._transport
        if acks and transport is not None and not transport.is_closing():
            transport.write(wire.encode_pubacks(acks))

    # -- flow control -----------------------------------------------------------------------

    def _pause_reading(self) -> None:
        if not self._reading_paused and self._transport is not None:
            self._transport.pause_reading()
        self._reading_paused = True

    def _resume_reading(self) -> None:
        self._reading_paused = False
        self._ping_sent_at = None  # an answer that waited unread proves nothing either way
        self._take_packets()  # what was read but not yet parsed comes first
        transport = self._transport
        if not self._reading_paused and transport is not None and not transport.is_closing():
            transport.resume_reading()

    # -- keepalive --------------------------------------------------------------------------

    def _schedule_keepalive(self) -> None:
        if self._keepalive_s > 0:
            self._keepalive = self._loop.call_later(self._keepalive_s / 2, self._keepalive_tick)

    def _keepalive_tick(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        now = self._loop.time()
        if self._ping_sent_at is None:
            self._ping_sent_at = now
            transport.write(wire.PINGREQ_PACKET)
        elif now - self._ping_sent_at >= self._keepalive_s and not self._reading_paused:
            self._drop(f"no PINGRESP within {self._keepalive_s} s")
            return
        self._schedule_keepalive()

    def _stop_keepalive(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None

    # -- ending -----------------------------------------------------------------------------

    def _protocol_error(self, exc: wire.ProtocolError) -> None:
        logger.warning("broker %s:%s broke the protocol: %s", *self._where(), exc)
        if self._protocol == wire.PROTOCOL_V5 and self._transport is not None:
            self._transport.write(b"\xe0\x01\x81")  # DISCONNECT: malformed packet
        self._drop(f"protocol error: {exc}")

    def _drop(self, because: str) -> None:
        """End the connection from our side; the consumer sees `because` as a BrokerError."""
        if not self._disconnected.done():
            self._lost_because = because
        self._abort()
        self._lose(because)

    def _abort(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def _lose(self, because: str) -> None:
        self._stop_keepalive()
        self._unsent_acks.clear()
        if not self._disconnected.done():
            self._disconnected.set_result(None)
        for _, granted in self._subscribing.values():
            if not granted.done():
                granted.set_exception(BrokerError(f"disconnected before SUBACK: {because}"))
        self._subscribing.clear()
        if not self._connected.done():
            self._connected.set_exception(BrokerError(because))
        self._arrived.set()

    def _where(self) -> tuple[str, int]:
        return self._address.host, self._address.port


def _retrieve(future: "asyncio.Future[None]") -> None:
    if not future.cancelled():
        future.exception()


def _no_ack() -> None:
    """QoS 0 messages have nothing to acknowledge."""
