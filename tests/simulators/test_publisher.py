"""The MQTT publisher, end to end against a real Mosquitto and the real `mosquitto_sub`."""

import asyncio
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from itertools import islice

import aiomqtt
import pytest

from gateway.broker import Account, BrokerAccounts, DeviceAccount, embedded_broker
from simulators.community import generate_community
from simulators.hik_isapi import HikDoorStream
from simulators.publisher import BrokerAddress, PublishError, parse_mqtt_url, publish
from simulators.scenario_traffic import AcceleratedClock
from simulators.yida_mix import door_records
from testkit.services import MosquittoService, free_port
from tests.simulators.subscriber import mosquitto_sub

START = datetime(2026, 11, 26, 8, 0, tzinfo=timezone(timedelta(hours=8)))


def door_messages(count: int, seed: int = 7) -> list[tuple[str, bytes]]:
    return HikDoorStream(generate_community(), seed=seed, start=START).take(count)


def per_topic(messages: list[tuple[str, bytes]]) -> dict[str, list[bytes]]:
    grouped: dict[str, list[bytes]] = defaultdict(list)
    for topic, payload in messages:
        grouped[topic].append(payload)
    return dict(grouped)


class TestParseUrl:
    """Broker URLs give host, port and percent-decoded credentials; others are refused."""

    def test_plain(self) -> None:
        assert parse_mqtt_url("mqtt://127.0.0.1:1883") == BrokerAddress("127.0.0.1", 1883)

    def test_defaults_and_credentials(self) -> None:
        assert parse_mqtt_url("mqtt://broker") == BrokerAddress("broker", 1883)
        assert parse_mqtt_url("mqtts://u%40x:p%3Ass@broker") == BrokerAddress(
            "broker", 8883, "u@x", "p:ss", tls=True
        )

    @pytest.mark.parametrize(
        "url", ["http://broker", "mqtt://", "mqtt://broker:99999", "mqtt://broker/topic"]
    )
    def test_refused(self, url: str) -> None:
        with pytest.raises(ValueError, match=r"MQTT URL|scheme"):
            parse_mqtt_url(url)


class TestDelivery:
    """Every published message reaches a subscriber exactly once, byte for byte."""

    async def test_one_connection_keeps_order(self, sim_broker: MosquittoService) -> None:
        messages = door_messages(2000)
        async with mosquitto_sub(sim_broker.port, "yida/#", len(messages)) as subscriber:
            report = await publish(messages, url=sim_broker.url)
            received = await subscriber.collect()
        assert report.count == len(messages)
        assert report.connections == 1
        assert received == messages

    async def test_several_connections_keep_order_per_device(
        self, sim_broker: MosquittoService
    ) -> None:
        messages = door_messages(3000, seed=8)
        async with mosquitto_sub(sim_broker.port, "yida/#", len(messages)) as subscriber:
            report = await publish(messages, url=sim_broker.url, connections=3)
            received = await subscriber.collect()
        assert report.count == len(messages)
        assert sorted(received) == sorted(messages)
        assert per_topic(received) == per_topic(messages)

    async def test_qos_0_does_not_wait_for_acknowledgements(
        self, sim_broker: MosquittoService
    ) -> None:
        # Brokers do not queue QoS 0 for offline sessions, so only the count is checked here.
        report = await publish(door_messages(200, seed=9), url=sim_broker.url, qos=0)
        assert report.count == 200

    async def test_endless_stream_is_consumed_lazily(self, sim_broker: MosquittoService) -> None:
        stream = HikDoorStream(generate_community(), seed=10, start=START)
        report = await publish(islice(iter(stream), 500), url=sim_broker.url)
        assert report.count == 500
        assert stream.take(1) == HikDoorStream(generate_community(), 10, START).take(501)[-1:]


class TestPacing:
    """With a rate, message i goes out at start + i/rate: paced, and without drift."""

    async def test_rate_is_kept(self, sim_broker: MosquittoService) -> None:
        rate, count = 200.0, 60
        report = await publish(
            door_messages(count), url=sim_broker.url, rate=rate, record_times=True
        )
        assert report.times is not None
        assert [index for index, _ in report.times] == list(range(count))
        first = report.times[0][1]
        for index, sent in report.times:
            assert sent - first >= index / rate - 0.005
        assert report.seconds >= (count - 1) / rate - 0.005

    async def test_times_are_off_unless_asked(self, sim_broker: MosquittoService) -> None:
        report = await publish(door_messages(10), url=sim_broker.url)
        assert report.times is None
        assert report.rate > 0


class TestNeverAheadOfThePresent:
    """A simulated message goes out only once the wall clock has reached its event time."""

    async def test_messages_wait_for_their_event_time(self, sim_broker: MosquittoService) -> None:
        start = datetime.now(UTC) - timedelta(seconds=0.5)  # whole seconds: up to 1.5 s back
        stream = HikDoorStream(generate_community(), seed=12, start=start, events_per_hour=72_000)
        records = list(islice(door_records(stream), 50))  # about 2.5 s of doors
        assert records[-1].at > datetime.now(UTC), "some events must lie ahead to be held"
        report = await publish(records, url=sim_broker.url, record_times=True)
        assert report.count == len(records) and report.times is not None
        for index, sent in report.times:
            assert sent >= records[index].at.timestamp()

    async def test_a_past_replay_goes_out_at_once_in_order(
        self, sim_broker: MosquittoService
    ) -> None:
        start = datetime.now(UTC) - timedelta(hours=1)
        records = list(islice(door_records(HikDoorStream(generate_community(), 13, start)), 300))
        async with mosquitto_sub(sim_broker.port, "yida/#", len(records)) as subscriber:
            report = await publish(records, url=sim_broker.url)
            received = await subscriber.collect()
        assert report.count == len(records)
        assert received == [(record.topic, record.payload) for record in records]

    async def test_the_clock_decides_what_is_due(self, sim_broker: MosquittoService) -> None:
        records = door_records(HikDoorStream(generate_community(), seed=14, start=START))
        due = list(islice(records, 5))
        readings: list[datetime] = []

        def clock() -> datetime:  # a clock at the stream's end: nothing is ahead of it
            readings.append(due[-1].at)
            return due[-1].at

        report = await publish(due, url=sim_broker.url, clock=clock)
        assert report.count == 5 and len(readings) == 5

    async def test_an_accelerated_clock_paces_a_replay(self, sim_broker: MosquittoService) -> None:
        """With an `AcceleratedClock` at speed 10, each message of a past stretch goes out
        once that clock has reached its time: a tenth of its offset after the start."""
        start = datetime.now(UTC) - timedelta(minutes=10)
        stream = HikDoorStream(generate_community(), seed=15, start=start, events_per_hour=72_000)
        records = list(islice(door_records(stream), 40))  # about 2 s of event time
        began = time.time()
        clock = AcceleratedClock(records[0].at, 10.0)
        report = await publish(
            records, url=sim_broker.url, clock=clock, speed=clock.speed, record_times=True
        )
        assert report.count == len(records) and report.times is not None
        for index, sent in report.times:
            offset = (records[index].at - records[0].at).total_seconds()
            assert sent >= began + offset / 10


class TestProgress:
    """Progress reports acknowledged counts, ending with the total."""

    async def test_final_count(self, sim_broker: MosquittoService) -> None:
        seen: list[int] = []
        await publish(
            door_messages(100),
            url=sim_broker.url,
            rate=400,
            progress=seen.append,
            progress_interval=0.05,
        )
        assert seen[-1] == 100
        assert seen == sorted(seen)
        assert len(seen) >= 2


class TestFailures:
    """A broker that is not there, or bad arguments, fail loudly and early."""

    async def test_no_broker(self) -> None:
        with pytest.raises(PublishError) as raised:
            await publish(door_messages(5), url=f"mqtt://127.0.0.1:{free_port()}")
        assert raised.value.count == 0

    @pytest.mark.parametrize(
        "options",
        [{"qos": 3}, {"rate": 0.0}, {"connections": 0}, {"max_in_flight": 0}, {"speed": 0.0}],
    )
    async def test_bad_arguments(self, options: dict[str, float]) -> None:
        with pytest.raises(ValueError):
            await publish([], **options)  # type: ignore[arg-type]

    async def test_logins_per_topic_exclude_several_connections(self) -> None:
        """`login_for` opens a connection per login: asking for `connections` too is refused."""
        with pytest.raises(ValueError, match="login_for"):
            await publish([], connections=2, login_for=lambda topic: ("user", "password"))


GATEWAY = Account("scgw-gateway", "gateway-password-0123")
DOORS = [
    DeviceAccount(Account(f"4301120000132000000{n}", f"door-{n}-password-0123"), "yida", "hik")
    for n in range(1, 4)
]


class TestLoginPerTopic:
    """With `login_for`, each device publishes over its own connection with its own account,
    so a broker that binds accounts to their own topics takes every message."""

    async def test_each_device_publishes_as_itself(self) -> None:
        """Three devices' dialect and status messages all arrive, over three connections."""
        logins = {topic: (d.device_id, d.account.password) for d in DOORS for topic in d.topics}
        messages = [(topic, f"m{n}".encode()) for n in range(2) for topic in logins]
        async with embedded_broker(BrokerAccounts(GATEWAY, DOORS), free_port()) as broker:
            gateway = aiomqtt.Client(
                broker.host,
                broker.port,
                username=GATEWAY.username,
                password=GATEWAY.password,
                protocol=aiomqtt.ProtocolVersion.V311,
            )
            async with gateway:
                await gateway.subscribe("#", qos=1)
                report = await publish(messages, url=broker.url(), login_for=logins.__getitem__)
                received: list[tuple[str, bytes]] = []
                async with asyncio.timeout(30):
                    async for message in gateway.messages:
                        assert isinstance(message.payload, bytes)
                        received.append((str(message.topic), message.payload))
                        if len(received) == len(messages):
                            break
            refused = broker.metrics.registry.get_sample_value(
                "scgw_broker_refused_total", {"action": "publish"}
            )
        assert (report.count, report.connections) == (len(messages), len(DOORS))
        assert sorted(received) == sorted(messages)
        assert refused == 0
