"""Every device's keep-alive, on its status topic.

Payload contract (what `adapters.heartbeat` parses; see `tests/adapters/fixtures/heartbeat`):
a JSON object per message::

    {"status": "heartbeat", "ts": 1795651200000, "firmware": "V5.7.1", "ip": "10.43.0.3",
     "uptime": 86400}

`ts` is epoch milliseconds, so a redelivered heartbeat keeps its event id; `uptime` is
seconds since the device started (ignored by the adapter). After a reboot the device says
`"online"` once, then heartbeats again. Bare-word last wills (`offline`) carry no time and are
not simulated: their event id would depend on when the gateway received them.

Topics: `{community}/status/{device_id}` (`STATUS_LAYOUT`), which the `[[topics]]` entry
`simulators.config_toml` writes binds to the heartbeat dialect (the gateway's default layout
also reads `status` as `heartbeat`, see `gateway.routing.TOPIC_SEGMENT_ALIASES`), or
`{community}/heartbeat/{device_id}` (`DEFAULT_LAYOUT`), the dialect named as usual.

`HeartbeatStream` has every device beat at its kind's interval (`INTERVAL_S`), each at its own
phase, so the beats of 41 devices do not all land in the same second.
"""

import json
import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final, Literal

from simulators.community import (
    ACCESS_CLOUD_DIALECT,
    BARRIER_GATE_DIALECT,
    CAMERA,
    CAMERA_ALARM_DIALECT,
    CAPTURE_CAMERA,
    GAT1400_DIALECT,
    HEARTBEAT_DIALECT,
    HIK_DIALECT,
    VISITOR_CLOUD_DIALECT,
    Community,
    Device,
)
from simulators.hik_isapi import device_network
from simulators.traffic import MILLISECOND, PlannedStream, SimMessage, epoch_ms

Layout = Literal["status", "heartbeat"]
STATUS_LAYOUT: Final = "status"
"""`{community}/status/{device_id}`: the status topic, bound to the heartbeat dialect."""
STATUS_DEVICE_LEVEL: Final = 3
"""The topic level of the device code in both layouts."""
DEFAULT_LAYOUT: Final = "heartbeat"
"""`{community}/heartbeat/{device_id}`: the default layout, naming the dialect itself."""

INTERVAL_S: Final[Mapping[str, float]] = MappingProxyType({CAMERA: 120.0, CAPTURE_CAMERA: 120.0})
"""Seconds between beats by device kind: cameras count as offline after five minutes of
silence, so they beat every two minutes; every other kind every `DEFAULT_INTERVAL_S`."""
DEFAULT_INTERVAL_S: Final = 300.0
POWER_ON_S: Final = 10.0
"""With `power_on`, every device says `online` within this many seconds of the start."""
REBOOT_SHARE: Final = 0.002
"""Share of beats replaced by a reboot: the device is back, says `online`, uptime starts over."""

FIRMWARE: Final[Mapping[str, str]] = MappingProxyType(
    {
        HIK_DIALECT: "V3.2.30 build 231124",
        GAT1400_DIALECT: "V5.7.3 build 230907",
        CAMERA_ALARM_DIALECT: "V5.6.5 build 220413",
        BARRIER_GATE_DIALECT: "V3.1.2",
        ACCESS_CLOUD_DIALECT: "2.8.4",
        VISITOR_CLOUD_DIALECT: "4.12.0",
    }
)


def status_topic(community_code: str, device_id: str, layout: Layout = STATUS_LAYOUT) -> str:
    """Where a device publishes its status: `{community}/{layout}/{device_id}`."""
    return f"{community_code}/{layout}/{device_id}"


def interval_s(device: Device) -> float:
    """Seconds between the device's beats."""
    return INTERVAL_S.get(device.kind, DEFAULT_INTERVAL_S)


def status_payload(status: str, moment: datetime, firmware: str, ip: str, uptime_s: int) -> bytes:
    """A JSON status body (see the module docstring)."""
    document = {
        "status": status,
        "ts": epoch_ms(moment),
        "firmware": firmware,
        "ip": ip,
        "uptime": uptime_s,
    }
    return json.dumps(document, separators=(",", ":")).encode()


class _Beating:
    """One device's beat state."""

    def __init__(self, device: Device, topic: str, booted: datetime) -> None:
        self.device = device
        self.topic = topic
        self.ip, _ = device_network(device.device_id)
        self.firmware = FIRMWARE.get(device.dialect, "1.0.0")
        self.booted = booted
        self.interval = interval_s(device)


class HeartbeatStream(PlannedStream):
    """Every device of the community beating at its interval, from `start` on, forever.

    By default the devices have long been up: each beats at its own phase of its interval.
    With `power_on`, they all come up at `start` instead: each says `online` within the first
    `POWER_ON_S` seconds, then beats (the demo's devices start with the demo).
    """

    def __init__(
        self,
        community: Community,
        rng: random.Random,
        start: datetime,
        *,
        layout: Layout = STATUS_LAYOUT,
        power_on: bool = False,
    ) -> None:
        super().__init__(rng, start, 0.0)
        for device in community.devices:
            topic = status_topic(community.code, device.device_id, layout)
            if power_on:
                at = rng.uniform(0.0, POWER_ON_S)
                beating = _Beating(device, topic, start + timedelta(seconds=at - 30.0))
                self._schedule(at, beating, "online")
            else:
                uptime = timedelta(seconds=rng.randint(3_600, 90 * 86_400))
                beating = _Beating(device, topic, start - uptime)
                self._schedule(rng.uniform(0.0, beating.interval), beating)

    def arrive(self, at: float) -> None:  # pragma: no cover - no arrivals: beats are planned
        raise AssertionError("heartbeats are periodic, not arrivals")

    def _schedule(self, at: float, beating: _Beating, status: str = "heartbeat") -> None:
        def render(moment: datetime) -> SimMessage:
            said = status
            if said == "heartbeat" and self.rng.random() < REBOOT_SHARE:
                said = "online"
                beating.booted = moment - timedelta(seconds=self.rng.randint(40, 90))
            uptime = int((moment - beating.booted).total_seconds())
            payload = status_payload(said, moment, beating.firmware, beating.ip, uptime)
            self._schedule(at + beating.interval + self.rng.uniform(0.0, 0.5), beating)
            return SimMessage(moment, beating.topic, payload, ("device_status",), HEARTBEAT_DIALECT)

        self.plan(at, render, MILLISECOND)
