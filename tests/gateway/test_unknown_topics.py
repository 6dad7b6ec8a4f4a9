"""Nothing vanishes: a message on any topic reaches the gateway, and what no route fits ends
as a counted `unknown_topic` dead letter with its topic, while the valid events around it
are all stored. Real `scgw run` process, real Mosquitto, odd topics sent with `mosquitto_pub`.
"""

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from simulators.community import generate_community
from simulators.hik_isapi import HikDoorStream
from simulators.publisher import publish
from testkit.gateway_process import GatewayProcess
from testkit.harness import mosquitto_pub, wait_until
from testkit.inspection import metric
from testkit.services import MosquittoService

MARKER = "payload-value-that-must-never-be-logged"
PLAIN_LEVEL = "level-" + "x" * 58  # a safe token of 64 characters
LONG_TOPIC = "yida/hik-isapi/" + "门-" * 12_000 + f"/{PLAIN_LEVEL}" * 100 + "/tail"  # 55 KB
SHOWN = {
    "stray": "stray",  # one level
    "yida/hik-isapi": "yida/hik-isapi",  # two levels
    "yida/hik-isapi/43011200001320000001/event": "yida/hik-isapi/43011200001320000001/event",
    "a/b/c/d/e/f/g/h": "a/b/c/d/e/f/g/h",  # many levels
    "/": "<level 1>/<level 2>",  # two empty levels
    "yida//43011200001320000001": "yida/<level 2>/43011200001320000001",  # empty middle
    "/hik-isapi/43011200001320000001": "<level 1>/hik-isapi/43011200001320000001",
    "yida/hik-isapi/": "yida/hik-isapi/<level 3>",  # an empty last level
    "亿达小镇/😀": "<level 1>/<level 2>",  # not ASCII
    "yida/\u2028line-separator": "yida/<level 2>",  # a Unicode line break
    "yida/139_1234_5678": "yida/<level 2>",  # a written phone number
}
"""Odd topics, and how their dead letters show them: levels that are not safe tokens become
their position (`gateway.privacy.shareable_topic`)."""
ODD_TOPICS = [*SHOWN, LONG_TOPIC]
LONG_SHOWN = ("yida/hik-isapi/<level 3>" + f"/{PLAIN_LEVEL}" * 100)[:512]
DOLLAR_TOPIC = "$vendor/hik-isapi/43011200001320000001"
DOLLAR_SHOWN = "<level 1>/hik-isapi/43011200001320000001"


def valid_messages(count: int, seed: int) -> list[tuple[str, bytes]]:
    start = datetime.now(UTC) - timedelta(hours=1)
    return HikDoorStream(generate_community(), seed=seed, start=start).take(count)


def odd_payload(index: int) -> bytes:
    return json.dumps({"eventType": "AccessControllerEvent", "note": f"{MARKER}-{index}"}).encode()


def mqtt_port(mosquitto: MosquittoService) -> int:
    return int(mosquitto.url.rsplit(":", 1)[1])


def dead_letters(gateway: GatewayProcess) -> list[dict[str, object]]:
    letters: list[dict[str, object]] = gateway.get_json("/v1/dead-letters?limit=1000")["data"]
    return letters


def stored_events(gateway: GatewayProcess) -> int:
    return len(gateway.get_json("/v1/events?limit=1000")["data"])


async def send_stream(
    mosquitto: MosquittoService, valid: list[tuple[str, bytes]], odd: list[str]
) -> None:
    """Half the valid events, every odd topic through `mosquitto_pub`, the other half."""
    half = len(valid) // 2
    await publish(valid[:half], url=mosquitto.url)
    for index, topic in enumerate(odd):
        await mosquitto_pub(mqtt_port(mosquitto), topic, [odd_payload(index)])
    await publish(valid[half:], url=mosquitto.url)


async def all_arrived(gateway: GatewayProcess, letters: int, events: int) -> None:
    async def arrived() -> bool:
        found = await asyncio.to_thread(dead_letters, gateway)
        return len(found) >= letters and await asyncio.to_thread(stored_events, gateway) >= events

    await wait_until(arrived, what=f"{letters} dead letters and {events} events")


@pytest.fixture
def started() -> Iterator[list[GatewayProcess]]:
    """Gateways started by a test, stopped after it whatever happens."""
    gateways: list[GatewayProcess] = []
    yield gateways
    for gateway in gateways:
        gateway.stop()


def start_gateway(
    started: list[GatewayProcess], mosquitto: MosquittoService, tmp_path: Path, **settings: str
) -> GatewayProcess:
    gateway = GatewayProcess(
        mosquitto.url,
        f"sqlite:///{tmp_path / 'scgw.db'}",
        tmp_path / "gateway.log",
        log_format="text",
        **settings,
    )
    started.append(gateway)
    gateway.start()
    return gateway


class TestEveryTopicArrives:
    """With the default subscription (`#`), odd topics are dead-lettered and counted."""

    @pytest.mark.parametrize("shared_group", [None, "scgw"])
    async def test_odd_topics_are_counted_dead_letters_and_valid_events_are_stored(
        self,
        started: list[GatewayProcess],
        mosquitto: MosquittoService,
        tmp_path: Path,
        shared_group: str | None,
    ) -> None:
        group = {"mqtt_shared_group": shared_group} if shared_group else {}
        gateway = start_gateway(started, mosquitto, tmp_path, **group)
        valid = valid_messages(30, seed=len(group))
        await send_stream(mosquitto, valid, ODD_TOPICS)
        await all_arrived(gateway, len(ODD_TOPICS), len(valid))

        letters = dead_letters(gateway)
        metrics = gateway.get("/metrics").decode()
        assert stored_events(gateway) == len(valid)
        assert {letter["reason"] for letter in letters} == {"unknown_topic"}
        topics = sorted(str(letter["topic"]) for letter in letters)
        short = sorted(SHOWN.values())
        assert [topic for topic in topics if topic in short] == short
        (long,) = (topic for topic in topics if topic not in short)
        assert long == LONG_SHOWN  # bounded
        assert metric(metrics, "scgw_rejections_total", reason="unknown_topic") == len(ODD_TOPICS)
        assert f"scgw_messages_received_total {len(valid) + len(ODD_TOPICS)}.0" in metrics

    async def test_the_log_names_reason_and_topic_but_no_payload_value(
        self, started: list[GatewayProcess], mosquitto: MosquittoService, tmp_path: Path
    ) -> None:
        gateway = start_gateway(started, mosquitto, tmp_path)
        await send_stream(mosquitto, [], ["stray", "yida/\u2028line-separator", LONG_TOPIC])
        await all_arrived(gateway, 3, 0)
        gateway.stop()

        log = gateway.log_path.read_text(encoding="utf-8")
        lines = [line for line in log.splitlines() if "dead letter" in line]
        assert any(line.endswith("dead letter unknown_topic on topic stray") for line in lines)
        assert any(line.endswith("on topic yida/<level 2>") for line in lines)
        long_line = next(line for line in lines if "on topic yida/hik-" in line)
        assert long_line.endswith("…(512 chars)")  # the dead letter's topic, cut again
        assert len(long_line) < 300
        assert MARKER not in log


class TestDollarTopics:
    """`#` never reaches `$` topics; a `$vendor/#` filter added beside it does, exactly once."""

    async def test_a_dollar_topic_under_an_added_filter_is_one_dead_letter(
        self, started: list[GatewayProcess], mosquitto: MosquittoService, tmp_path: Path
    ) -> None:
        gateway = start_gateway(
            started, mosquitto, tmp_path, mqtt_topics=json.dumps(["#", "$vendor/#"])
        )
        valid = valid_messages(10, seed=7)
        await send_stream(mosquitto, valid, [DOLLAR_TOPIC, "$SYS/forged", "stray"])
        await all_arrived(gateway, 2, len(valid))

        letters = dead_letters(gateway)
        assert sorted(str(letter["topic"]) for letter in letters) == [DOLLAR_SHOWN, "stray"]
        assert {letter["reason"] for letter in letters} == {"unknown_topic"}
        assert (
            metric(
                gateway.get("/metrics").decode(), "scgw_rejections_total", reason="unknown_topic"
            )
            == 2
        )
        assert stored_events(gateway) == len(valid)
