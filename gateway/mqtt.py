"""An MQTT subscriber on asyncio with application-controlled acknowledgements.

Why not aiomqtt's message iterator: it acknowledges every QoS 1 message as soon as it is
queued (aiomqtt#345 asks for manual acks), and it spawns a task per message. At-least-once
storage needs the PUBACK to wait for the database commit, and batching wants to drain many
messages at once. So this module drives paho-mqtt 2.x (`manual_ack=True`) from the event loop
through paho's socket callbacks, the integration paho documents for external loops.

Flow control is end to end: MQTT v5 connects announce a Receive Maximum, so the broker never
has more unacknowledged messages in flight than that; if a broker ignores it (or sends QoS 0),
the subscriber stops reading its socket once `max_buffered` messages wait, and TCP pushes back.
"""

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from gateway.errors import GatewayError
from gateway.messages import InboundMessage

logger = logging.getLogger(__name__)

PACKETS_PER_WAKEUP = 256

_Socket = socket.socket | Any  # paho types its socket loosely (WebSocket wrappers too)


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


class MqttSubscriber:
    """One broker connection: subscribe, take batches of messages, acknowledge them."""

    def __init__(self, address: BrokerAddress, options: SessionOptions) -> None:
        self._address = address
        self._options = options
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._buffer: deque[InboundMessage] = deque()
        self._arrived = asyncio.Event()
        self._connected: asyncio.Future[None] = self._loop.create_future()
        self._disconnected: asyncio.Future[None] = self._loop.create_future()
        self._subscribing: dict[int, tuple[list[str], asyncio.Future[None]]] = {}
        self._sock: _Socket | None = None
        self._reading_paused = False
        self._received = 0
        self._misc_task: asyncio.Task[None] | None = None
        v5 = options.protocol == "5"
        self._client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=options.client_id,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if v5 else False,
            reconnect_on_failure=False,
            manual_ack=True,
        )
        if address.username is not None:
            self._client.username_pw_set(address.username, address.password)
        if address.tls:
            self._client.tls_set()
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.on_socket_open = self._on_socket_open
        self._client.on_socket_close = self._on_socket_close
        self._client.on_socket_register_write = self._on_socket_register_write
        self._client.on_socket_unregister_write = self._on_socket_unregister_write

    # -- public API -------------------------------------------------------------------------

    async def connect(self, timeout_s: float = 10.0) -> None:
        """Connect, resuming the persistent session (clean start off, session expiry set)."""
        connect = partial(
            self._client.connect,
            self._address.host,
            self._address.port,
            keepalive=self._options.keepalive_s,
        )
        if self._options.protocol == "5":
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self._options.session_expiry_s
            properties.ReceiveMaximum = self._options.receive_maximum
            connect = partial(connect, clean_start=False, properties=properties)
        try:
            # paho's connect resolves and dials synchronously: keep it off the event loop.
            await self._loop.run_in_executor(None, connect)
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(self._connected)
        except (OSError, TimeoutError) as exc:
            self._client.disconnect()
            raise BrokerError(
                f"cannot connect to {self._address.host}:{self._address.port}: {exc!r}"
            ) from exc

    def subscribe(self, filters: Iterable[str], qos: int = 1) -> "asyncio.Future[None]":
        """Send one SUBSCRIBE for every filter; the future resolves once all are granted.

        Deliberately not awaited before consuming: a resumed session's queued messages arrive
        ahead of the SUBACK, and if they filled the buffer, waiting for the SUBACK without
        draining would deadlock. A refused subscription disconnects, which the consumer sees.
        """
        topics: list[tuple[str, SubscribeOptions | int]] = [
            (topic_filter, SubscribeOptions(qos=qos) if self._options.protocol == "5" else qos)
            for topic_filter in filters
        ]
        result, mid = self._client.subscribe(topics)  # type: ignore[arg-type]
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise BrokerError(f"subscribe failed: {paho.error_string(result)}")
        granted: asyncio.Future[None] = self._loop.create_future()
        self._subscribing[mid] = ([topic for topic, _ in topics], granted)
        return granted

    async def next_batch(self, max_rows: int, max_delay_s: float) -> list[InboundMessage]:
        """Wait for a message, then gather more until `max_rows`, or `max_delay_s` after the
        oldest waiting message arrived (messages that came in during the previous commit have
        already waited: their clock started then)."""
        while not self._buffer:
            await self._wait_for_arrival(None)
        deadline = self._buffer[0].received_monotonic + max_delay_s
        while len(self._buffer) < max_rows:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await self._wait_for_arrival(remaining):
                break
        count = min(max_rows, len(self._buffer))
        batch = [self._buffer.popleft() for _ in range(count)]
        if self._reading_paused and len(self._buffer) < self._options.max_buffered // 2:
            self._resume_reading()
        return batch

    @property
    def is_connected(self) -> bool:
        return self._connected.done() and not self._disconnected.done()

    async def close(self) -> None:
        """Disconnect politely; unacknowledged messages stay with the broker's session."""
        if not self._disconnected.done():
            self._client.disconnect()
        if self._misc_task is not None:
            self._misc_task.cancel()
        if self._sock is not None:
            self._forget_socket(self._sock)
        # paho's Client.__del__ closes its socket again, possibly after the loop is gone:
        # from here on it must not call back into this object.
        self._client.on_socket_close = None
        self._client.on_socket_unregister_write = None
        self._client.on_socket_register_write = None

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
            raise BrokerError("connection to the broker lost")
        return waiter in done

    # -- paho callbacks (always on the event loop thread, except socket open/write during
    # -- the executor connect, which marshal themselves) --------------------------------

    def _on_connect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._connected.done():
            return
        if reason_code.is_failure:
            self._connected.set_exception(BrokerError(f"broker refused: {reason_code}"))
        else:
            logger.info(
                "connected to broker %s:%s (session present: %s)",
                self._address.host,
                self._address.port,
                flags.session_present,
            )
            self._connected.set_result(None)

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if not self._disconnected.done():
            self._disconnected.set_result(None)
        for _, granted in self._subscribing.values():
            if not granted.done():
                granted.set_exception(BrokerError(f"disconnected before SUBACK: {reason_code}"))
        self._subscribing.clear()
        if not self._connected.done():
            self._connected.set_exception(BrokerError(f"disconnected: {reason_code}"))
        self._arrived.set()

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        qos = message.qos
        ack = partial(client.ack, message.mid, qos) if qos > 0 else _no_ack
        self._received += 1
        self._buffer.append(
            InboundMessage(
                topic=topic_text(message),
                payload=bytes(message.payload),
                received_at=datetime.now(UTC),
                received_monotonic=time.monotonic(),
                ack=ack,
                retained=bool(message.retain),
            )
        )
        self._arrived.set()
        if len(self._buffer) >= self._options.max_buffered and not self._reading_paused:
            self._pause_reading()

    def _on_subscribe(
        self,
        client: paho.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        topics, granted = self._subscribing.pop(mid, ([], None))
        if granted is None or granted.done():
            return
        refused = [t for t, code in zip(topics, reason_codes, strict=False) if code.is_failure]
        if refused:
            granted.set_exception(BrokerError(f"broker refused subscriptions {refused}"))
            client.disconnect()
        else:
            granted.set_result(None)

    def _on_socket_open(self, client: paho.Client, userdata: object, sock: _Socket) -> None:
        self._on_loop(self._watch_socket, sock)

    def _on_socket_close(self, client: paho.Client, userdata: object, sock: _Socket) -> None:
        self._on_loop(self._forget_socket, sock)

    def _on_socket_register_write(
        self, client: paho.Client, userdata: object, sock: _Socket
    ) -> None:
        self._on_loop(self._loop.add_writer, sock, client.loop_write)

    def _on_socket_unregister_write(
        self, client: paho.Client, userdata: object, sock: _Socket
    ) -> None:
        self._on_loop(self._stop_writing, sock)

    def _stop_writing(self, sock: _Socket) -> None:
        with contextlib.suppress(ValueError):  # already closed: fileno() is -1
            self._loop.remove_writer(sock)

    # -- socket plumbing --------------------------------------------------------------------

    def _on_loop(self, function: Any, *args: Any) -> None:
        """Run now if on the loop's thread, else hand over: asyncio is not thread-safe."""
        if threading.get_ident() == self._loop_thread:
            function(*args)
        else:
            self._loop.call_soon_threadsafe(function, *args)

    def _watch_socket(self, sock: _Socket) -> None:
        self._sock = sock
        self._loop.add_reader(sock, self._read_available)
        self._misc_task = self._loop.create_task(self._misc_loop())

    def _forget_socket(self, sock: _Socket) -> None:
        with contextlib.suppress(ValueError):  # already closed: fileno() is -1
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)
        self._sock = None
        if self._misc_task is not None:
            self._misc_task.cancel()
            self._misc_task = None

    def _read_available(self) -> None:
        """Read packets while messages keep coming, up to a bound per wake-up.

        paho's `loop_read` handles one packet per call, so one event-loop wake-up per message
        would dominate the cost of a backlog. The readiness callback is level-triggered, so
        stopping early (at the bound, or after a packet that was not a message) loses nothing.
        """
        for _ in range(PACKETS_PER_WAKEUP):
            before = self._received
            if self._client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return
            if self._received == before or self._reading_paused:
                return

    def _pause_reading(self) -> None:
        if self._sock is not None:
            self._loop.remove_reader(self._sock)
        self._reading_paused = True

    def _resume_reading(self) -> None:
        if self._sock is not None:
            self._loop.add_reader(self._sock, self._read_available)
        self._reading_paused = False

    async def _misc_loop(self) -> None:
        """Keepalive pings and timeouts: paho's `loop_misc` must run about once a second."""
        while self._client.loop_misc() == MQTTErrorCode.MQTT_ERR_SUCCESS:  # noqa: ASYNC110 - a tick
            await asyncio.sleep(1)


def topic_text(message: paho.MQTTMessage) -> str:
    """The message's topic as text, even when it is not UTF-8.

    MQTT requires UTF-8 topics, but a lax broker may pass other bytes, and paho's `topic`
    then raises inside the read loop. Undecodable bytes become U+FFFD, which the router
    refuses, so the message ends as a counted `unknown_topic` dead letter.
    """
    try:
        return message.topic
    except UnicodeDecodeError:
        raw: bytes = message._topic  # paho keeps the raw bytes only there
        return raw.decode("utf-8", errors="replace")


def _no_ack() -> None:
    """QoS 0 messages have nothing to acknowledge."""
