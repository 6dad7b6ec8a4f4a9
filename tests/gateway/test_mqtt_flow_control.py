"""The broker honours the subscriber's Receive Maximum, however the acknowledgements arrive.

The gateway acknowledges a batch only after committing it, in arrival order, and bounds its
buffer by announcing a Receive Maximum (`SCGW_MQTT_RECEIVE_MAXIMUM`). Mosquitto 2.0.11
(Debian 12's package) stops enforcing that window once acknowledgements arrive in order, and
releases the whole backlog; 2.0.13 fixed it. This test holds the broker the tests run to that
promise with a raw paho client (MQTT v5, manual acks), driven step by step in this thread:

1. wait until the broker has filled the window (N unacknowledged messages, or the rest of the
   backlog);
2. send a SUBSCRIBE and wait for its SUBACK: the broker answers in order, so everything it sent
   before has been read by then;
3. count what is unacknowledged, then acknowledge the oldest few, in arrival order.
"""

import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from testkit.services import MosquittoService

RECEIVE_MAXIMUM = 20
BACKLOG = 500
ACK_BATCH = 5


@dataclass
class Subscriber:
    """A persistent-session MQTT v5 subscriber that acknowledges only when told to."""

    port: int
    client_id: str
    receive_maximum: int = RECEIVE_MAXIMUM
    arrived: list[tuple[int, bytes]] = field(default_factory=list)
    """(packet id, payload) of every QoS 1 message, in arrival order."""
    acknowledged: int = 0
    subacks: int = 0
    client: paho.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def connect(self, *, clean_start: bool) -> None:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 600
        properties.ReceiveMaximum = self.receive_maximum
        self.client.connect("127.0.0.1", self.port, clean_start=clean_start, properties=properties)
        self.pump(self.client.is_connected, "CONNACK")

    def subscribe(self, topic_filter: str) -> None:
        """Subscribe and wait for the SUBACK (everything sent before it has then been read)."""
        expected = self.subacks + 1
        result, _ = self.client.subscribe(topic_filter, qos=1)
        assert result == MQTTErrorCode.MQTT_ERR_SUCCESS
        self.pump(lambda: self.subacks >= expected, "SUBACK")

    def has_received(self, count: int) -> bool:
        return len(self.arrived) >= count

    @property
    def unacknowledged(self) -> int:
        return len(self.arrived) - self.acknowledged

    def acknowledge_oldest(self, count: int) -> None:
        for packet_id, _ in self.arrived[self.acknowledged : self.acknowledged + count]:
            assert self.client.ack(packet_id, 1) == MQTTErrorCode.MQTT_ERR_SUCCESS
        self.acknowledged += min(count, self.unacknowledged)

    def pump(self, done: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
        """Run paho's network loop in this thread until `done()`; fail after the timeout."""
        deadline = time.monotonic() + timeout_s
        while not done():
            assert time.monotonic() < deadline, f"no {what} within {timeout_s} s"
            result = self.client.loop(timeout=0.05)
            assert result == MQTTErrorCode.MQTT_ERR_SUCCESS, f"connection lost: {result}"

    def disconnect(self) -> None:
        self.client.disconnect()
        self.client.loop(timeout=0.05)

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        assert message.qos == 1
        self.arrived.append((message.mid, bytes(message.payload)))

    def _on_subscribe(
        self,
        client: paho.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        assert not any(code.is_failure for code in reason_codes)
        self.subacks += 1


def most_unacknowledged_while_draining(subscriber: Subscriber, barrier_filter: str) -> int:
    """Drain the queued backlog in the three steps of the module docstring; the largest
    number of unacknowledged messages seen at any step."""
    most = 0
    while subscriber.acknowledged < BACKLOG:
        window_full = min(subscriber.acknowledged + subscriber.receive_maximum, BACKLOG)
        subscriber.pump(partial(subscriber.has_received, window_full), "a full window")
        subscriber.subscribe(barrier_filter)
        most = max(most, subscriber.unacknowledged)
        subscriber.acknowledge_oldest(ACK_BATCH)
    return most


class TestReceiveMaximum:
    """Mosquitto never has more than Receive Maximum unacknowledged QoS 1 messages out."""

    def test_window_holds_while_acknowledgements_arrive_in_order(
        self, mosquitto: MosquittoService
    ) -> None:
        """Draining 500 queued messages with in-order acks, never more than 20 are unacked."""
        run = uuid.uuid4().hex[:12]
        topic = f"flow/{run}/data"
        subscriber = Subscriber(mosquitto.port, f"flow-{run}")
        subscriber.connect(clean_start=True)
        subscriber.subscribe(topic)
        subscriber.disconnect()

        payloads = [f"{n:04d}".encode() for n in range(BACKLOG)]
        publish_options = ("-q", "1", "-t", topic, "-l")
        subprocess.run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(mosquitto.port), *publish_options],
            input=b"".join(payload + b"\n" for payload in payloads),
            check=True,
            timeout=60,
        )

        resumed = Subscriber(mosquitto.port, f"flow-{run}")
        resumed.connect(clean_start=False)
        try:
            most = most_unacknowledged_while_draining(resumed, f"flow/{run}/barrier")
        finally:
            resumed.disconnect()
        assert most == RECEIVE_MAXIMUM, f"{most} unacknowledged messages out at once"
        assert [payload for _, payload in resumed.arrived] == payloads
