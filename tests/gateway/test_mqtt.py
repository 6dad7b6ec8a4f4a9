"""Specification of the MQTT subscriber's message intake (`gateway.mqtt`)."""

import paho.mqtt.client as paho
import pytest

from gateway.config import GatewayConfig
from gateway.errors import PayloadError
from gateway.mqtt import topic_text
from gateway.routing import TopicRouter


def message(topic: bytes) -> paho.MQTTMessage:
    return paho.MQTTMessage(mid=1, topic=topic)


class TestTopicText:
    """Every topic becomes text the router can judge, whatever bytes the broker passed."""

    def test_utf8_topic_is_decoded(self) -> None:
        assert topic_text(message("亿达/hik-isapi/门1".encode())) == "亿达/hik-isapi/门1"

    def test_non_utf8_topic_is_kept_and_refused_as_unknown_topic(self) -> None:
        topic = topic_text(message(b"yida/hik-isapi/\xff\xfe"))
        assert topic.startswith("yida/hik-isapi/")
        with pytest.raises(PayloadError) as refused:
            TopicRouter(GatewayConfig(), {"hik-isapi"}).route(topic)
        assert refused.value.reason == "unknown_topic"
