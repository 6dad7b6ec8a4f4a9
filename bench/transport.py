"""Bare MQTT subscribers (raw paho-mqtt, aiomqtt) draining a backlog: the transport ceiling.

Why it exists: to know how much of the gateway's per-message cost is just receiving MQTT, the
benchmark times subscribers that do nothing but count, on the same broker and machine. The
backlog is queued in an offline persistent session first, so the publishers' speed cannot cap
the number. This module holds the session set-up and the two draining subscribers.
"""

import asyncio
import contextlib
import math
import threading
import time
from dataclasses import dataclass

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from bench.common import BenchError, JsonDict
from bench.procstats import machine_busy_s, process_cpu_s, self_cpu_s

TOPIC_FILTER = "+/+/+"
"""The door stream's topics (bench.ingest); the district mix's subscribers take "#", as the
gateway does by default (status topics have other depths)."""


@dataclass
class DrainResult:
    """A subscriber draining a queued backlog; times from just before CONNECT."""

    received: int
    seconds: float
    first_message_s: float
    subscriber_cpu_s: float
    broker_cpu_s: float
    machine_busy_s: float

    def as_json(self, expected: int) -> JsonDict:
        rate = self.received / self.seconds if self.seconds > 0 else math.nan
        return {
            "messages": self.received,
            "expected": expected,
            "seconds": round(self.seconds, 3),
            "first_message_ms": round(self.first_message_s * 1000, 1),
            "msg_per_s": round(rate),
            "wall_us_per_msg": round(self.seconds / max(self.received, 1) * 1e6, 1),
            "subscriber_cpu_us_per_msg": round(
                self.subscriber_cpu_s / max(self.received, 1) * 1e6, 1
            ),
            "broker_cpu_us_per_msg": round(self.broker_cpu_s / max(self.received, 1) * 1e6, 1),
            "other_processes_cores": round(
                (self.machine_busy_s - self.subscriber_cpu_s - self.broker_cpu_s) / self.seconds, 2
            ),
        }


def _paho_client(client_id: str) -> paho.Client:
    return paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv311,
        clean_session=False,
    )


def create_offline_session(port: int, client_id: str, topic_filter: str = TOPIC_FILTER) -> None:
    """Subscribe once with a persistent session and leave: the broker now queues for us."""
    client = _paho_client(client_id)
    connected, subscribed = threading.Event(), threading.Event()
    client.on_connect = lambda *_: connected.set()
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        if not connected.wait(10):
            raise BenchError("bare subscriber could not connect")
        client.subscribe(topic_filter, qos=1)
        if not subscribed.wait(10):
            raise BenchError("bare subscriber's SUBSCRIBE was not acknowledged")
    finally:
        client.disconnect()
        client.loop_stop()


def drain_paho(port: int, client_id: str, expected: int, broker_pid: int) -> DrainResult:
    """paho-mqtt 2.x on its own network thread, auto-acknowledging, only counting."""
    client = _paho_client(client_id)
    done = threading.Event()
    state = {"count": 0, "first": math.nan, "last": math.nan}

    def on_message(_client: paho.Client, _userdata: object, _message: paho.MQTTMessage) -> None:
        state["count"] += 1
        if state["count"] == 1:
            state["first"] = time.perf_counter()
        if state["count"] >= expected:
            state["last"] = time.perf_counter()
            done.set()

    client.on_message = on_message
    cpu0, broker0, machine0 = self_cpu_s(), process_cpu_s(broker_pid), machine_busy_s()
    started = time.perf_counter()
    client.connect("127.0.0.1", port)
    client.loop_start()
    finished = done.wait(timeout=max(60.0, expected / 2000))
    cpu1, broker1, machine1 = self_cpu_s(), process_cpu_s(broker_pid), machine_busy_s()
    client.disconnect()
    client.loop_stop()
    last = state["last"] if finished else time.perf_counter()
    return DrainResult(
        int(state["count"]),
        last - started,
        state["first"] - started,
        cpu1 - cpu0,
        broker1 - broker0,
        machine1 - machine0,
    )


async def drain_aiomqtt(port: int, client_id: str, expected: int, broker_pid: int) -> DrainResult:
    """aiomqtt's message iterator (auto-ack, a queue between paho and the loop), counting."""
    count = 0
    first = math.nan
    cpu0, broker0, machine0 = self_cpu_s(), process_cpu_s(broker_pid), machine_busy_s()
    started = time.perf_counter()
    with contextlib.suppress(TimeoutError):
        async with (
            asyncio.timeout(max(60.0, expected / 2000)),
            aiomqtt.Client(
                "127.0.0.1",
                port,
                identifier=client_id,
                protocol=aiomqtt.ProtocolVersion.V311,
                clean_session=False,
            ) as client,
        ):
            async for _message in client.messages:
                count += 1
                if count == 1:
                    first = time.perf_counter()
                if count >= expected:
                    break
    last = time.perf_counter()
    cpu1, broker1, machine1 = self_cpu_s(), process_cpu_s(broker_pid), machine_busy_s()
    return DrainResult(
        count, last - started, first - started, cpu1 - cpu0, broker1 - broker0, machine1 - machine0
    )
