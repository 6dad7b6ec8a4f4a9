"""Specification of the MQTT subscriber's message intake (`gateway.mqtt`)."""

import uuid

import pytest

from gateway.broker import Account, embedded_broker
from gateway.config import GatewayConfig
from gateway.errors import PayloadError
from gateway.messages import InboundMessage
from gateway.mqtt import BrokerAddress, MqttSubscriber, SessionOptions, topic_text
from gateway.routing import TopicRouter
from testkit.harness import BROKER_ACCOUNTS, YIDA_DEVICES, clear_retained, mosquitto_pub
from testkit.services import MosquittoService, free_port


class TestTopicText:
    """Every topic becomes text the router can judge, whatever bytes the broker passed."""

    def test_utf8_topic_is_decoded(self) -> None:
        assert topic_text("亿达/hik-isapi/门1".encode()) == "亿达/hik-isapi/门1"

    def test_non_utf8_topic_is_kept_and_refused_as_unknown_topic(self) -> None:
        topic = topic_text(b"yida/hik-isapi/\xff\xfe")
        assert topic.startswith("yida/hik-isapi/")
        with pytest.raises(PayloadError) as refused:
            TopicRouter(GatewayConfig(), {"hik-isapi"}).route(topic)
        assert refused.value.reason == "unknown_topic"


async def take(subscriber: MqttSubscriber) -> InboundMessage:
    """The next message, acknowledged."""
    (received,) = await subscriber.next_batch(1, 0.05)
    received.ack()
    return received


async def retain_flags(
    address: BrokerAddress, protocol: str, port: int, topic: str, account: Account | None = None
) -> list[bool]:
    """The retain flags the subscriber sees for: the retained message replayed to its new
    subscription, a retained message published while it listens, and a plain one."""

    async def publish(payload: bytes, *, retain: bool) -> None:
        await mosquitto_pub(port, topic, [payload], retain=retain, account=account)

    await publish(b"offline", retain=True)
    subscriber = MqttSubscriber(
        address, SessionOptions(client_id=f"retain-{uuid.uuid4().hex}", protocol=protocol)
    )
    await subscriber.connect()
    try:
        granted = subscriber.subscribe([topic])
        flags = [(await take(subscriber)).retained]
        await granted
        await publish(b"offline", retain=True)
        flags.append((await take(subscriber)).retained)
        await publish(b"heartbeat", retain=False)
        flags.append((await take(subscriber)).retained)
    finally:
        await subscriber.close()
        await clear_retained(port, topic, account=account)
    return flags


class TestRetainFlag:
    """Only a retained message replayed to a new subscription arrives flagged `retained`."""

    @pytest.mark.parametrize("protocol", ["5", "3.1.1"])
    async def test_mosquitto(self, mosquitto: MosquittoService, protocol: str) -> None:
        address = BrokerAddress.from_url(mosquitto.url)
        topic = f"yida/status/retain-{uuid.uuid4().hex[:8]}"
        flags = await retain_flags(address, protocol, mosquitto.port, topic)
        assert flags == [True, False, False]

    async def test_the_embedded_broker(self) -> None:
        async with embedded_broker(BROKER_ACCOUNTS, free_port()) as broker:
            address = BrokerAddress.from_url(broker.url(BROKER_ACCOUNTS.gateway))
            topic = "yida/status/43011200001320000001"
            flags = await retain_flags(address, "3.1.1", broker.port, topic, YIDA_DEVICES)
        assert flags == [True, False, False]
