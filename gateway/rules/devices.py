"""Device operations: a device silent beyond its registry's `offline_after_s` (`device.offline`).

The one rule on the gateway's clock: silence is an absence of events, which event time cannot
show, so the silent-device watch (`gateway.device_status.DeviceWatch`) decides, per device
kind's `offline_after_s`, and hands `OfflineTickets` the devices it newly marked offline and
those that announced they were offline (an `offline` status, often their MQTT last will) and
stayed so for longer than their `offline_after_s`. The occurrence is the start of the offline
spell (`status_since`: when the watch marked it, or when the device said so), so each spell
is recorded once however often it is handed over, and a device that comes back and goes
offline again adds evidence to its open ticket. The ticket stays with the property company
(the responsibility list marks `device_operations` local: never sent to the platform).
"""

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final, cast

from gateway.rules.base import ClockEvaluate, Drafter, Finding, Rule
from gateway.rules.evidence import local_time, number
from gateway.store.tickets import TicketChanges
from schemas.devices import DEVICE_KIND_NAMES, Device

if TYPE_CHECKING:
    from gateway.metrics import Metrics
    from gateway.store.base import Store

logger = logging.getLogger(__name__)

OFFLINE: Final = "device.offline"


def device_offline(
    device: Device, now: datetime, thresholds: Mapping[str, float]
) -> Finding | None:
    """A device offline too long (the watch marked it, or it said so): silent since its last
    message (or registration), its offline spell starting at `status_since`."""
    if device.status != "offline":
        return None  # it spoke again between the watch's update and this read
    marked = device.status_since or now
    silent_since = min(device.last_seen or device.registered_at, marked)
    return Finding(
        rule=OFFLINE,
        community=device.community,
        subject=device.device_id,
        occurrence=marked.isoformat(),
        detected_at=marked,
        first_at=silent_since,
        last_at=marked,
        building=device.building,
        unit=device.unit,
        gate=device.gate,
        device_id=device.device_id,
        facts={
            "device_id": device.device_id,
            "kind": device.kind,
            "kind_zh": DEVICE_KIND_NAMES.get(device.kind, device.kind),
            "last_seen": local_time(silent_since),
            "offline_after": number(round(device.offline_after_s / 60, 1)),
        },
    )


class OfflineTickets:
    """Turns the devices the watch hands over (offline too long) into local tickets."""

    def __init__(
        self, store: "Store", rule: Rule, drafter: Drafter, metrics: "Metrics | None" = None
    ) -> None:
        self._store = store
        self._rule = rule
        self._evaluate = cast(ClockEvaluate, rule.evaluate)
        self._drafter = drafter
        self._metrics = metrics

    async def __call__(self, device_ids: Sequence[str], now: datetime) -> TicketChanges:
        findings: list[Finding] = []
        for device_id in device_ids:
            device = await self._store.get_device(device_id)
            if device is not None:
                finding = self._evaluate(device, now, self._rule.thresholds)
                if finding is not None:
                    findings.append(finding)
        if not findings:
            return TicketChanges()
        drafts = [self._drafter.draft(finding) for finding in findings]
        changes = await self._store.record_tickets(drafts, now)
        if self._metrics is not None:
            self._metrics.count_tickets(changes.opened_rules, changes.updated)
        return changes


RULES: Final = (
    Rule(
        code=OFFLINE,
        category="device_operations",
        timing="clock",
        thresholds={},
        evaluate=device_offline,
        title="设备离线：{address}",
        description=(
            "设备{device_id}（类型：{kind_zh}）自{last_seen}起无任何消息，超过该类设备"
            "{offline_after}分钟的离线判定时间，已判定离线。请物业检查设备供电与网络。"
        ),
        summary_en="Device {device_id} ({kind}) at {address} silent since {last_seen},"
        " beyond its {offline_after}-minute limit: offline.",
    ),
)
