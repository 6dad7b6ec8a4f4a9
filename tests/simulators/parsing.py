"""Simulator output read back the way the gateway reads it: its routing, its real adapters.

Topics are routed with `gateway.routing.TopicRouter` over the config `simulators.config_toml`
generates (so the status-topic binding is exercised too), and payloads are parsed by the
adapters of `adapters.registry`, exactly as the pipeline does before enrichment.
"""

import tomllib
from collections.abc import Iterable
from datetime import UTC, datetime

from adapters.base import RawMessage
from adapters.registry import AdapterRegistry
from gateway.config import GatewayConfig
from gateway.routing import TopicRouter
from schemas.events import DeviceEvent
from schemas.privacy import Pseudonymizer
from simulators.community import Community
from simulators.config_toml import community_config_toml
from simulators.traffic import SimMessage

HASH_KEY = "test-key-0123456789abcdef"
PSEUDONYMIZER = Pseudonymizer(HASH_KEY)
RECEIVED = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def generated_config(community: Community) -> GatewayConfig:
    """The gateway's configuration, from the TOML the simulators write for `community`."""
    return GatewayConfig.model_validate(tomllib.loads(community_config_toml(community)))


class GatewayParser:
    """Parses simulator messages with the gateway's router and adapters."""

    def __init__(self, community: Community) -> None:
        self.config = generated_config(community)
        self.adapters = AdapterRegistry().build(PSEUDONYMIZER)
        self.router = TopicRouter(self.config, set(self.adapters))
        self.registered = {device.device_id for device in self.config.devices}

    def parse(self, topic: str, payload: bytes) -> list[DeviceEvent]:
        """The events of one message; raises `PayloadError` as the pipeline would see it."""
        route = self.router.route(topic)
        raw = RawMessage(topic, payload, RECEIVED, route.community, route.device_id)
        return self.adapters[route.dialect].parse(raw)

    def __call__(self, record: SimMessage) -> list[DeviceEvent]:
        """The events of one record, checked against the record's own claims."""
        events = self.parse(record.topic, record.payload)
        assert tuple(event.kind for event in events) == record.kinds, record
        assert all(event.dialect == record.dialect for event in events), record
        return events

    def parse_all(self, records: Iterable[SimMessage]) -> list[DeviceEvent]:
        """Every record's events, in order."""
        return [event for record in records for event in self(record)]
