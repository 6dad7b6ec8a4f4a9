"""Specification of the subscriber's promises (`gateway.mqtt`) against real brokers.

Mosquitto (MQTT 3.1.1 and 5) and the embedded amqtt broker (3.1.1): the persistent session
keeps what arrives while the gateway is away; a message comes back until it is acknowledged;
acknowledgements leave after the commit, in arrival order, a batch in one write; the broker
never has more than Receive Maximum messages out; the buffer stays bounded; keepalive keeps
an idle connection; and a broker that dies, freezes or breaks the protocol surfaces as one
`BrokerError`, which the ingest loop answers by reconnecting.
"""

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway import mqtt_wire as wire
from gateway.broker import Account, embedded_broker
from gateway.messages import InboundMessage
from gateway.mqtt import BrokerAddress, BrokerError, MqttSubscriber, SessionOptions
from testkit.harness import BROKER_ACCOUNTS, YIDA_DEVICES, mosquitto_pub
from testkit.services import MosquittoService, free_port, start_mosquitto

PROTOCOLS = ["3.1.1", "5"]


def numbered(count: int, start: int = 0) -> list[bytes]:
    return [f"{n:05d}".encode() for n in range(start, start + count)]


@contextlib.asynccontextmanager
async def connected(
    address: BrokerAddress, options: SessionOptions
) -> AsyncIterator[MqttSubscriber]:
    subscriber = MqttSubscriber(address, options)
    await subscriber.connect()
    try:
        yield subscriber
    finally:
        await subscriber.close()


async def take(
    subscriber: MqttSubscriber, count: int, *, ack: bool = True, max_rows: int = 100
) -> list[InboundMessage]:
    """The next `count` messages, batch by batch, each batch acknowledged (as after a commit)."""
    taken: list[InboundMessage] = []
    async with asyncio.timeout(60):
        while len(taken) < count:
            batch = await subscriber.next_batch(min(max_rows, count - len(taken)), 0.05)
            if ack:
                for message in batch:
                    message.ack()
            taken += batch
    return taken


async def subscribe_and_leave(address: BrokerAddress, options: SessionOptions, topic: str) -> None:
    """Create the persistent session and its subscription, then go offline."""
    async with connected(address, options) as subscriber:
        await subscriber.subscribe([topic])


class TestPersistentSession:
    """What arrives while the gateway is away waits for it; only an ack settles a message."""

    @pytest.mark.parametrize("protocol", PROTOCOLS)
    async def test_mosquitto(self, mosquitto: MosquittoService, protocol: str) -> None:
        address = BrokerAddress.from_url(mosquitto.url)
        await self.check(address, mosquitto.port, protocol, None, count=300)

    async def test_the_embedded_broker(self) -> None:
        async with embedded_broker(BROKER_ACCOUNTS, free_port()) as broker:
            address = BrokerAddress.from_url(broker.url(BROKER_ACCOUNTS.gateway))
            # amqtt 0.12 gives up on a message unacknowledged for 5 s and never redelivers it
            # (`ProtocolHandler._handle_qos1_message_flow`): there is no redelivery to test.
            await self.check(
                address, broker.port, "3.1.1", YIDA_DEVICES, count=20, redelivers=False
            )

    @staticmethod
    async def check(
        address: BrokerAddress,
        port: int,
        protocol: str,
        account: Account | None,
        *,
        count: int,
        redelivers: bool = True,
    ) -> None:
        topic = f"yida/status/session-{uuid.uuid4().hex[:8]}"
        options = SessionOptions(client_id=f"session-{uuid.uuid4().hex}", protocol=protocol)
        await subscribe_and_leave(address, options, topic)

        async def publish(payloads: list[bytes]) -> None:
            if account is None:
                await mosquitto_pub(port, topic, payloads)
            else:  # amqtt loses messages from one `mosquitto_pub -l` run: one run each
                for payload in payloads:
                    await mosquitto_pub(port, topic, [payload], account=account)

        await publish(numbered(count))
        async with connected(address, options) as subscriber:
            granted = subscriber.subscribe([topic])  # as the ingest loop does: not awaited
            resumed = await take(subscriber, count)
            await granted
        assert [m.payload for m in resumed] == numbered(count)
        assert {m.topic for m in resumed} == {topic}

        if redelivers:
            await publish(numbered(10, count))
            async with connected(address, options) as subscriber:
                unacknowledged = await take(subscriber, 10, ack=False)
            async with connected(address, options) as subscriber:
                again = await take(subscriber, 10)
            assert [m.payload for m in again] == [m.payload for m in unacknowledged]

        async with connected(address, options) as subscriber:
            await publish([b"marker"])
            (first,) = await take(subscriber, 1)
        assert first.payload == b"marker", "an acknowledged message came back"


class TestReceiveMaximum:
    """MQTT 5: the broker never has more unacknowledged messages out than Receive Maximum."""

    async def test_the_window_opens_by_what_was_acknowledged(
        self, mosquitto: MosquittoService
    ) -> None:
        address = BrokerAddress.from_url(mosquitto.url)
        run = uuid.uuid4().hex[:8]
        topic = f"flow/{run}/data"
        options = SessionOptions(client_id=f"window-{run}", protocol="5", receive_maximum=20)
        await subscribe_and_leave(address, options, topic)
        await mosquitto_pub(mosquitto.port, topic, numbered(200))

        async with connected(address, options) as subscriber:
            # The broker answers in order: once a SUBACK is in, all it sent before is read.
            await subscriber.subscribe([f"flow/{run}/barrier-1"])
            window = await subscriber.next_batch(1000, 0)
            assert len(window) == 20
            for message in window[:10]:
                message.ack()
            await asyncio.sleep(0)  # the acks' one write
            await subscriber.subscribe([f"flow/{run}/barrier-2"])
            more = await subscriber.next_batch(1000, 0)
        assert len(more) == 10
        assert [m.payload for m in window + more] == numbered(30)


class TestBoundedBuffer:
    """With no Receive Maximum (3.1.1, broker window unlimited) the subscriber stops reading
    at `max_buffered` waiting messages, and resumes as they are taken: none lost."""

    async def test_never_more_than_max_buffered_wait(self, mosquitto: MosquittoService) -> None:
        address = BrokerAddress.from_url(mosquitto.url)
        topic = f"bounded/{uuid.uuid4().hex[:8]}"
        options = SessionOptions(
            client_id=f"bounded-{uuid.uuid4().hex}", protocol="3.1.1", max_buffered=50
        )
        await subscribe_and_leave(address, options, topic)
        await mosquitto_pub(mosquitto.port, topic, [p + b"." * 100 for p in numbered(2000)])

        sizes: list[int] = []
        payloads: list[bytes] = []
        async with connected(address, options) as subscriber:
            async with asyncio.timeout(120):
                while len(payloads) < 2000:
                    batch = await subscriber.next_batch(10_000, 0.2)
                    sizes.append(len(batch))
                    for message in batch:
                        message.ack()
                    payloads += [m.payload[:5] for m in batch]
        assert max(sizes) <= 50
        assert payloads == numbered(2000)


class TestKeepalive:
    """An idle connection stays up: pings go out well within the keepalive."""

    @pytest.mark.parametrize("protocol", PROTOCOLS)
    async def test_idle_for_several_keepalives(self, tmp_path: Path, protocol: str) -> None:
        with start_mosquitto(tmp_path) as broker:
            address = BrokerAddress.from_url(broker.url)
            topic = f"idle/{uuid.uuid4().hex[:8]}"
            options = SessionOptions(
                client_id=f"idle-{uuid.uuid4().hex}", protocol=protocol, keepalive_s=2
            )
            async with connected(address, options) as subscriber:
                await subscriber.subscribe([topic])
                await asyncio.sleep(7)  # the broker drops a silent client after 3 s
                assert subscriber.is_connected
                await mosquitto_pub(broker.port, topic, [b"still here"])
                (message,) = await take(subscriber, 1)
            assert message.payload == b"still here"
            assert "exceeded timeout" not in broker.log_tail(200)


class TestBrokerLoss:
    """A dead or frozen broker becomes a BrokerError for the ingest loop to reconnect."""

    async def test_broker_killed(self, tmp_path: Path) -> None:
        with start_mosquitto(tmp_path) as broker:
            address = BrokerAddress.from_url(broker.url)
            async with connected(address, SessionOptions(client_id="killed")) as subscriber:
                await subscriber.subscribe(["#"])
                broker.process.kill()
                with pytest.raises(BrokerError):
                    async with asyncio.timeout(30):
                        await subscriber.next_batch(10, 0.05)
                assert not subscriber.is_connected

    async def test_broker_frozen_is_noticed_by_the_missing_ping_answer(
        self, tmp_path: Path
    ) -> None:
        with start_mosquitto(tmp_path) as broker:
            address = BrokerAddress.from_url(broker.url)
            options = SessionOptions(client_id="frozen", keepalive_s=1)
            async with connected(address, options) as subscriber:
                await subscriber.subscribe(["#"])
                os.kill(broker.process.pid, signal.SIGSTOP)
                try:
                    with pytest.raises(BrokerError, match="PINGRESP"):
                        async with asyncio.timeout(30):
                            await subscriber.next_batch(10, 0.05)
                finally:
                    os.kill(broker.process.pid, signal.SIGCONT)

    async def test_a_refused_connection_is_a_broker_error(self) -> None:
        address = BrokerAddress("127.0.0.1", free_port(), None, None, False)
        with pytest.raises(BrokerError, match="cannot connect"):
            await MqttSubscriber(address, SessionOptions(client_id="nobody")).connect()


# -- a scripted peer: the bytes of a broker that breaks the protocol ----------------------


@contextlib.asynccontextmanager
async def scripted_broker(*replies: bytes) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A TCP peer that answers the CONNECT with `replies` and records all it receives."""
    received: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            received.append(await reader.read(65536))
            for reply in replies:
                writer.write(reply)
            await writer.drain()
            while chunk := await reader.read(65536):
                received.append(chunk)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, received
    finally:
        server.close()


CONNACK_311 = b"\x20\x02\x00\x00"


class TestProtocolErrors:
    """Bytes that are not MQTT end the connection with a BrokerError, never a crash."""

    @pytest.mark.parametrize(
        "garbage",
        [
            b"\x30\xff\xff\xff\xff\x01",
            wire.encode_publish("a", b"x", qos=2, packet_id=1),
            b"\x32\x03\x00\x01a",
            b"\x60\x02\x00\x01",  # PUBREL for a QoS 2 exchange that never began
            CONNACK_311,
        ],
        ids=["five-byte length", "qos 2", "publish cut short", "pubrel", "second connack"],
    )
    async def test_garbage_after_connack(self, garbage: bytes) -> None:
        async with scripted_broker(CONNACK_311, garbage) as (port, _):
            address = BrokerAddress("127.0.0.1", port, None, None, False)
            options = SessionOptions(client_id="victim", protocol="3.1.1")
            async with connected(address, options) as subscriber:
                with pytest.raises(BrokerError, match="protocol error"):
                    async with asyncio.timeout(30):
                        await subscriber.next_batch(10, 0.05)

    async def test_a_publish_promising_more_than_it_sends_is_noticed_by_the_keepalive(
        self,
    ) -> None:
        """A broker that announces 200 MB and sends three bytes holds the stream inside one
        frame: no PINGRESP can arrive, so the keepalive ends the connection."""
        promise = b"\x32" + wire.encode_varint(200_000_000) + b"\x00\x01a"
        async with scripted_broker(CONNACK_311, promise) as (port, _):
            address = BrokerAddress("127.0.0.1", port, None, None, False)
            options = SessionOptions(client_id="victim", protocol="3.1.1", keepalive_s=1)
            async with connected(address, options) as subscriber:
                with pytest.raises(BrokerError, match="PINGRESP"):
                    async with asyncio.timeout(30):
                        await subscriber.next_batch(10, 0.05)
                assert not subscriber.is_connected

    async def test_garbage_instead_of_connack(self) -> None:
        async with scripted_broker(b"\x20\x02\x00") as (port, _):  # cut short, then silence
            address = BrokerAddress("127.0.0.1", port, None, None, False)
            with pytest.raises(BrokerError):
                await MqttSubscriber(address, SessionOptions(client_id="x")).connect(timeout_s=1)


class TestAcknowledgementWrites:
    """A batch's PUBACKs go out after its commit, in arrival order, as one write."""

    async def test_one_write_per_batch_in_arrival_order(self) -> None:
        ids = [7, 3, 65535, 1, 12]
        publishes = b"".join(
            wire.encode_publish("a/b", b"%d" % pid, qos=1, packet_id=pid) for pid in ids
        )
        async with scripted_broker(CONNACK_311, publishes) as (port, received):
            address = BrokerAddress("127.0.0.1", port, None, None, False)
            options = SessionOptions(client_id="acks", protocol="3.1.1", keepalive_s=0)
            async with connected(address, options) as subscriber:
                batch = await take(subscriber, 5, ack=False, max_rows=5)
                await asyncio.sleep(0.2)
                assert len(received) == 1, "a PUBACK left before its commit"
                writes = await self.writes_during(subscriber, batch)
                await asyncio.sleep(0.2)
            assert writes == 1
            assert b"".join(received[1:]).startswith(wire.encode_pubacks(ids))

    @staticmethod
    async def writes_during(subscriber: MqttSubscriber, batch: list[InboundMessage]) -> int:
        """How many transport writes acknowledging `batch` takes (the commit's ack loop)."""
        transport = subscriber._transport
        assert transport is not None
        writes = 0
        write = transport.write

        def counting(data: bytes | bytearray | memoryview) -> None:
            nonlocal writes
            writes += 1
            write(data)

        transport.write = counting  # type: ignore[method-assign]
        for message in batch:
            message.ack()
        await asyncio.sleep(0.05)
        transport.write = write  # type: ignore[method-assign]
        return writes
