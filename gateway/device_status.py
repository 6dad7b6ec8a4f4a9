"""Device status: the one place that says when a device is online, offline or unknown.

The rules, which both stores apply (the SQL in `gateway/store/*.py` only executes them):
- A device is `unknown` until the gateway first hears from it.
- `last_seen` follows event time: the newest `occurred_at` of the device's messages, capped
  at their arrival (a clock running fast cannot put it in the future) and, in the store,
  corrected by the clock skew estimate stored before the batch when the clock runs behind (a
  slow clock must not make a live device look silent). Arrival would be wrong: a backlog
  drained after an outage arrives now, and would make every device in it look alive now.
  Not the batch's own observation: a backlog's status messages look exactly like a slow
  clock, and the stored estimate, made from the least delayed message, ignores them (see
  below). The price: a device's first message, with no estimate yet, is taken at face value,
  so a clock running behind by more than `offline_after_s` shows online from its second
  batch on; and a device whose very first estimate comes from a backlog may look online
  while the backlog drains, until the watch's `offline_after_s` runs out.
- `last_seen` only moves forward: a batch applies its status unless the store already holds
  a later word from the device (another gateway process sharing the subscription may have
  written it, or the batch is a late upload of older events).
- The device's newest word decides its status (`device_activity`): `online` for any message,
  except a `device_status` event saying `offline` (often its MQTT last will). A word older
  than the device's `offline_after_s` when it arrived cannot make a device `online`: a
  backlog of hours-old heartbeats says the device was alive hours ago, not now; it moves
  `last_seen`, and a fresher message, if the device is alive, follows in the backlog. An
  `offline` word always applies when it is the newest.
- A retained status message (the broker's replay at each start, see `gateway.pipeline`) is
  not an event. It only seeds a device whose status is still `unknown` (`replayed_status`):
  `offline` at once (the broker still holds the device's will: its last connection ended
  and nothing replaced it); `online` only when the message carries the device's own time
  and that time is within `offline_after_s` of the replay, like any other word. Its device
  time, if any, moves `last_seen` forward; a will timed by its arrival leaves it alone.
- Silence longer than the device's `offline_after_s` (per kind by default, see
  `schemas.devices.OFFLINE_AFTER_S_BY_KIND`) makes it `offline` (`DeviceWatch`); silence is
  counted from the last message, or from registration, but never from before this process
  started listening: a restart must not declare every device offline at once.
- A device offline for longer than its `offline_after_s`, whether it said so (its will) or
  went silent, is handed to the `device.offline` rule once per offline spell (`DeviceWatch`;
  the spell is its `status_since`).
- Observed fields (status, last seen, address, clock skew) are the gateway's: a registration
  (TOML or `PUT /v1/devices/{id}`) never sets them.
- Clock skew: how far the device's clock runs ahead (positive) or behind (negative), estimated
  from its status messages only (`clock_observation`, `accepts_skew`): see `SKEW_TOLERANCE_S`.
  The store keeps the estimate and when it was measured; `DeviceWatch` puts the devices whose
  skew reaches the report threshold into `/metrics`.

Telling a live status message from a drained backlog. A status message that carries the
device's own time says `occurred_at - received_at = skew - delay`, where `delay` (device to
gateway) is never negative: milliseconds for a live heartbeat, minutes or hours for one that
waited in the broker while the gateway was down, in a device's offline buffer, or as a
retained message. So every observation is a lower bound of the skew, and the least delayed
one is the best (the clock filter NTP uses). MQTT cannot say which messages waited (a
resumed session's queue carries no flag; `dup` and `retain` miss the common case), but the
delay itself shows: within a batch the highest observation per device counts, and an
observation more than `SKEW_TOLERANCE_S` below the current estimate is a delayed message and
ignored, unless the estimate is older than `SKEW_HORIZON` (the clock may really have been set
back). Door events and captures are never used: devices buffer and upload those late.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, Literal

from gateway.errors import StoreError
from schemas.events import DeviceEvent, DeviceStatusEvent

if TYPE_CHECKING:  # the stores import this module, and these import the stores
    from gateway.devices import DeviceRegistry
    from gateway.metrics import Metrics
    from gateway.store.base import Store

logger = logging.getLogger(__name__)

SKEW_TOLERANCE_S: Final = 5.0
"""How far below the current estimate a new observation may fall and still replace it: more
than a live message's delay (milliseconds, a second under load), far less than a backlog's."""
SKEW_HORIZON: Final = timedelta(hours=1)
"""After this long without an accepted observation, the estimate gives way to any new one."""
SKEW_REPORT_LIMIT: Final = 1000
"""At most this many devices get their own skew series in `/metrics` (the worst first)."""


@dataclass(frozen=True, slots=True)
class ClockObservation:
    """`occurred_at - received_at` of one status message, in seconds, and when it arrived."""

    skew_s: float
    at: datetime


@dataclass(frozen=True, slots=True)
class DeviceActivity:
    """What one batch says about one device: its newest word (`seen`, event time capped at
    arrival; `arrived`, when that word arrived) and the status it gives, reported facts, and
    the batch's best observation of the device's clock (None without one)."""

    device_id: str
    community: str
    seen: datetime
    arrived: datetime
    status: Literal["online", "offline"]
    firmware: str | None
    ip: str | None
    clock: ClockObservation | None = None


@dataclass(frozen=True, slots=True)
class ReplayedStatus:
    """A device's status as the broker replayed it from a retained message (see the module):
    `at` is the device's own time of it (capped at arrival), None for an arrival-timed will."""

    device_id: str
    community: str
    status: Literal["online", "offline"]
    at: datetime | None
    arrived: datetime


def event_time(event: DeviceEvent) -> datetime:
    """When the event says its device last spoke: `occurred_at`, never after its arrival."""
    return min(event.occurred_at, event.received_at)


def clock_observation(event: DeviceEvent) -> ClockObservation | None:
    """What a status event says about its device's clock, if it carries the device's own time.

    A status timed by its arrival (a last will, a body without `ts`) says nothing.
    """
    if not isinstance(event, DeviceStatusEvent) or event.time_source != "device":
        return None
    offset = event.occurred_at - event.received_at
    return ClockObservation(offset.total_seconds(), event.received_at)


def accepts_skew(
    current_s: float | None, current_at: datetime | None, observed: ClockObservation
) -> bool:
    """Whether an observation replaces the stored estimate (the SQL in both stores says the same).

    Yes when there is none, and otherwise only for a later observation that is no more than
    `SKEW_TOLERANCE_S` below the estimate (a live message, or a clock running fast) or comes
    more than `SKEW_HORIZON` after it (the clock was set back, or the device was long away).
    """
    if current_s is None or current_at is None:
        return True
    if observed.at <= current_at:
        return False  # another gateway process already recorded a later one
    return (
        observed.skew_s >= current_s - SKEW_TOLERANCE_S or observed.at - current_at > SKEW_HORIZON
    )


def device_activity(events: Sequence[DeviceEvent]) -> list[DeviceActivity]:
    """Each device's activity in a batch, in `device_id` order (a stable lock order).

    The device's newest word by event time (`event_time`; on a tie, the later arrival)
    decides: `online`, except a `device_status` event saying `offline` (often the device's
    MQTT last will). Firmware and address come from the last status event in arrival order
    that reports them; the clock observation is the batch's highest (the least delayed
    message). Devices are keyed by (device, community): an event arriving under another
    community says nothing about the device registered under that id.
    """
    found: dict[tuple[str, str], DeviceActivity] = {}
    for event in events:
        key = (event.device_id, event.community)
        before = found.get(key)
        seen = event_time(event)
        newest = before is None or seen >= before.seen
        status: Literal["online", "offline"] = "online"
        firmware = before.firmware if before else None
        ip = before.ip if before else None
        clock = before.clock if before else None
        if isinstance(event, DeviceStatusEvent):
            status = "offline" if event.status == "offline" else "online"
            firmware = event.firmware or firmware
            ip = event.ip or ip
            observed = clock_observation(event)
            if observed is not None and (clock is None or observed.skew_s > clock.skew_s):
                clock = observed
        if before is not None and not newest:
            seen, status, arrived = before.seen, before.status, before.arrived
        else:
            arrived = event.received_at
        found[key] = DeviceActivity(
            event.device_id, event.community, seen, arrived, status, firmware, ip, clock
        )
    return [found[key] for key in sorted(found)]


def replayed_status(events: Sequence[DeviceStatusEvent]) -> list[ReplayedStatus]:
    """What retained status messages say, one per device (the last replayed), in
    `device_id` order; see the module for what the store makes of it."""
    found: dict[tuple[str, str], ReplayedStatus] = {}
    for event in events:
        found[(event.device_id, event.community)] = ReplayedStatus(
            event.device_id,
            event.community,
            "offline" if event.status == "offline" else "online",
            event_time(event) if event.time_source == "device" else None,
            event.received_at,
        )
    return [found[key] for key in sorted(found)]


OfflineHook = Callable[[Sequence[str], datetime], Awaitable[object]]
"""What learns of the devices that have been offline too long, and when (`device.offline`)."""


class DeviceWatch:
    """Every interval: mark devices silent for too long offline, reload the registry, and show
    the devices whose clock is off by `skew_report_s` or more in `metrics`.

    Silence is counted from the device's last message, but never from before `listening_since`
    (the gateway's start): while the gateway was down it could not hear anyone, and a restart
    must not declare every device offline at once. A store outage is logged and waited out.

    `on_offline` (the `device.offline` rule) gets the devices this round marked offline, and
    the devices offline for longer than their `offline_after_s` by their own word (an
    `offline` status, often their last will, which the silence check leaves alone as they
    are offline already), once per offline spell (`status_since`): this process remembers
    the spells it told, and a restart or another process telling one again adds nothing
    (the ticket's occurrence is the spell's start).

    The skews come from the store, not from this process's batches, so every gateway sharing a
    subscription shows the same devices. Only devices at or over the threshold get a series,
    and at most `SKEW_REPORT_LIMIT`: a district has up to 20,000 devices, nearly all with good
    clocks, and 20,000 series of zeros per gateway would cost Prometheus more than they tell.
    """

    def __init__(
        self,
        store: "Store",
        registry: "DeviceRegistry",
        *,
        interval_s: float,
        listening_since: datetime,
        metrics: "Metrics | None" = None,
        skew_report_s: float = 30.0,
        on_offline: OfflineHook | None = None,
    ) -> None:
        self._store = store
        self._registry = registry
        self._interval_s = interval_s
        self._listening_since = listening_since
        self._metrics = metrics
        self._skew_report_s = skew_report_s
        self._on_offline = on_offline
        self._untold: list[str] = []
        self._told: dict[str, datetime] = {}  # device → the offline spell it was told for

    async def run(self) -> None:
        """Run until cancelled; a failed round is logged and the next one runs on time."""
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.check()
            except Exception:  # a bug here must not stop the watch for the process's life
                logger.exception("device check failed")

    async def check(self, now: datetime | None = None) -> list[str]:
        """One round; returns the ids of the devices it marked offline, after handing them to
        `on_offline` (the `device.offline` rule)."""
        now = now or datetime.now(UTC)
        try:
            marked = await self._store.mark_silent_devices_offline(
                now, listening_since=self._listening_since
            )
            await self._tell_offline(marked, now)
            await self._registry.reload(self._store)
            if self._metrics is not None:
                skews = await self._store.clock_skews(self._skew_report_s, SKEW_REPORT_LIMIT)
                self._metrics.show_clock_skews(skews)
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

    async def _tell_offline(self, marked: list[str], now: datetime) -> None:
        """Hand `on_offline` the devices this round marked offline and those offline too long
        in a spell it was not told of; if the store fails meanwhile, they are handed again next
        round (only this process marked them, so nobody else will)."""
        if self._on_offline is None:
            return
        spells = dict(await self._store.long_offline_devices(now))
        spells.update(dict.fromkeys(marked, now))  # marking starts the spell at `now`
        fresh = [device for device, since in spells.items() if self._told.get(device) != since]
        devices = list(dict.fromkeys([*self._untold, *marked, *sorted(fresh)]))
        self._told = spells  # a device back online is forgotten: its next spell is told
        if not devices:
            return
        self._untold = devices
        await self._on_offline(devices, now)
        self._untold = []
