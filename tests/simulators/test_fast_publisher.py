"""The fast publisher, against a real Mosquitto and the real `mosquitto_sub`: every message
acknowledged, in order, paced, never ahead of its event time."""

import asyncio
import time

import pytest

from simulators.fast_publisher import connect_packet, publish_fast
from simulators.publisher import parse_mqtt_url
from testkit.services import MosquittoService, free_port
from tests.simulators.subscriber import mosquitto_sub


def _messages(count: int, devices: int = 7) -> list[tuple[str, bytes]]:
    return [(f"yida/hik-isapi/dev{i % devices}", f'{{"n":{i}}}'.encode()) for i in range(count)]


class TestPackets:
    """CONNECT is MQTT 3.1.1 with a clean session and the login when there is one."""

    def test_connect_without_login(self) -> None:
        packet = connect_packet("c1", None, None)
        assert packet == b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02c1"

    def test_connect_with_login(self) -> None:
        packet = connect_packet("c1", "u", "p")
        assert packet[9] == 0xC2  # user name, password, clean session
        assert packet.endswith(b"\x00\x02c1\x00\x01u\x00\x01p")


class TestPublish:
    """Every message reaches a subscriber once, in publishing order."""

    async def test_everything_arrives_in_order(self, sim_broker: MosquittoService) -> None:
        messages = _messages(3000)
        address = parse_mqtt_url(sim_broker.url)
        async with mosquitto_sub(sim_broker.port, "yida/#", len(messages)) as subscriber:
            report = await asyncio.to_thread(
                publish_fast, messages, address, client_id="fast-1", max_in_flight=50
            )
            received = await subscriber.collect()
        assert report.count == 3000
        assert received == messages

    async def test_qos_0(self, sim_broker: MosquittoService) -> None:
        address = parse_mqtt_url(sim_broker.url)
        report = await asyncio.to_thread(
            publish_fast, _messages(500), address, client_id="fast-2", qos=0
        )
        assert report.count == 500

    async def test_the_pace_is_kept(self, sim_broker: MosquittoService) -> None:
        """Message i goes no earlier than start + i / rate: 200 at 400/s take half a second."""
        address = parse_mqtt_url(sim_broker.url)
        started = time.monotonic()
        report = await asyncio.to_thread(
            publish_fast, _messages(200), address, client_id="fast-3", rate=400.0
        )
        assert report.count == 200
        assert time.monotonic() - started >= 199 / 400

    async def test_progress_is_reported(self, sim_broker: MosquittoService) -> None:
        seen: list[int] = []
        address = parse_mqtt_url(sim_broker.url)
        await asyncio.to_thread(
            publish_fast,
            _messages(300),
            address,
            client_id="fast-4",
            rate=1000.0,
            progress=seen.append,
            progress_interval=0.05,
        )
        assert seen[-1] == 300
        assert seen == sorted(seen)


class TestEventTime:
    """A message with its event time waits until the wall clock reaches it."""

    async def test_held_until_due(self, sim_broker: MosquittoService) -> None:
        address = parse_mqtt_url(sim_broker.url)
        now = time.time()
        timed = [(now - 10.0, "yida/x/a", b"past"), (now + 0.6, "yida/x/a", b"soon")]
        started = time.monotonic()
        report = await asyncio.to_thread(publish_fast, timed, address, client_id="fast-5")
        assert report.count == 2
        assert time.monotonic() - started >= 0.5

    async def test_the_clock_is_injected(self, sim_broker: MosquittoService) -> None:
        address = parse_mqtt_url(sim_broker.url)
        far_ahead = time.time() + 3600
        report = await asyncio.to_thread(
            publish_fast,
            [(far_ahead, "yida/x/a", b"later")],
            address,
            client_id="fast-6",
            wall_clock=lambda: far_ahead + 1,
        )
        assert report.count == 1


class TestFailures:
    """No broker, or bad arguments: a clear error."""

    def test_no_broker(self) -> None:
        address = parse_mqtt_url(f"mqtt://127.0.0.1:{free_port()}")
        with pytest.raises(OSError):
            publish_fast(_messages(1), address, client_id="fast-7")

    @pytest.mark.parametrize(
        "kwargs", [{"qos": 3}, {"rate": 0.0}, {"rate": -1.0}, {"max_in_flight": 0}]
    )
    def test_bad_arguments(self, kwargs: dict[str, float]) -> None:
        address = parse_mqtt_url("mqtt://127.0.0.1:1")
        with pytest.raises(ValueError):
            publish_fast(_messages(1), address, client_id="fast-8", **kwargs)  # type: ignore[arg-type]
