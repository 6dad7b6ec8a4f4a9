"""Device status: the one place that says when a device is online, offline or unknown.

The rules, which both stores apply (the SQL in `gateway/store/*.py` only executes them):
- A device is `unknown` until the gateway first hears from it.
- Every message a device sends makes it `online`, in the transaction that stores the message,
  except a `device_status` event saying `offline` (often the device's MQTT last will); within
  a batch the last event in arrival order decides (`device_activity`).
- `last_seen` only moves forward: a batch applies its status unless the store already holds
  a later message (another gateway process sharing the subscription may have written it).
- Silence longer than the device's `offline_after_s` (per kind by default, see
  `schemas.devices.OFFLINE_AFTER_S_BY_KIND`) makes it `offline` (`DeviceWatch`); silence is
  counted from the last message, or from registration, but never from before this process
  started listening: a restart must not declare every device offline at once.
- Observed fields (status, last seen, address) are the gateway's: a registration (TOML or
  `PUT /v1/devices/{id}`) never sets them.
"""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from gateway.errors import StoreError
from gateway.store.base import Store
from schemas.events import DeviceEvent, DeviceStatusEvent

if TYPE_CHECKING:  # the stores import this module, and the registry imports the stores
    from gateway.devices import DeviceRegistry

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeviceActivity:
    """What one batch says about one device: latest arrival, resulting status, reported facts."""

    device_id: str
    community: str
    seen: datetime
    status: Literal["online", "offline"]
    firmware: str | None
    ip: str | None


def device_activity(events: Sequence[DeviceEvent]) -> list[DeviceActivity]:
    """Each device's activity in a batch, in `device_id` order (a stable lock order).

    Any message means the device is online, except a `device_status` event saying `offline`
    (often the device's MQTT last will); the last event in arrival order decides. Firmware
    and address come from the last status event that reports them. Devices are keyed by
    (device, community): an event arriving under another community says nothing about the
    device registered under that id.
    """
    found: dict[tuple[str, str], DeviceActivity] = {}
    for event in events:
        key = (event.device_id, event.community)
        before = found.get(key)
        status: Literal["online", "offline"] = "online"
        firmware = before.firmware if before else None
        ip = before.ip if before else None
        if isinstance(event, DeviceStatusEvent):
            status = "offline" if event.status == "offline" else "online"
            firmware = event.firmware or firmware
            ip = event.ip or ip
        seen = event.received_at if before is None else max(before.seen, event.received_at)
        found[key] = DeviceActivity(event.device_id, event.community, seen, status, firmware, ip)
    return [found[key] for key in sorted(found)]


class DeviceWatch:
    """Every interval: mark devices silent for too long offline, then reload the registry.

    Silence is counted from the device's last message, but never from before `listening_since`
    (the gateway's start): while the gateway was down it could not hear anyone, and a restart
    must not declare every device offline at once. A store outage is logged and waited out.
    """

    def __init__(
        self,
        store: Store,
        registry: "DeviceRegistry",
        *,
        interval_s: float,
        listening_since: datetime,
    ) -> None:
        self._store = store
        self._registry = registry
        self._interval_s = interval_s
        self._listening_since = listening_since

    async def run(self) -> None:
        """Run until cancelled; a failed round is logged and the next one runs on time."""
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.check()
            except Exception:  # a bug here must not stop the watch for the process's life
                logger.exception("device check failed")

    async def check(self, now: datetime | None = None) -> list[str]:
        """One round; returns the ids of the devices it marked offline."""
        try:
            marked = await self._store.mark_silent_devices_offline(
                now or datetime.now(UTC), listening_since=self._listening_since
            )
            await self._registry.reload(self._store)
        except StoreError as exc:
            logger.warning("device check skipped, the store is unavailable: %s", exc)
            return []
        if marked:
            logger.info(
                "%d devices went silent and are now offline",
                len(marked),
                extra={"device_ids": marked[:50]},
            )
        return marked
