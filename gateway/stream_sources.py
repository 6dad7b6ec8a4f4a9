"""What the live stream carries, and from where (`gateway.stream.StreamHub`).

- `event`: the events of each batch this process commits (`EventPublisher`, handed each
  batch by `gateway.commit.BatchCommitter` after the commit): the stored events shaped by
  `gateway.resolution.for_readers`, exactly as `GET /v1/events` renders them (`person_id`,
  `vehicle_registered`, the community's `subject_key`, never a gateway-wide credential or ID
  hash), never a raw payload. Each process publishes what it ingests; with a shared
  subscription a reader sees the events of the process it reached.
- `ticket`: every ticket raised or moved by any process (the rule engine's leader, an API
  transition elsewhere, the forwarder), read from the store by each process's `TicketFeed`
  every second, in the shape `GET /v1/tickets` returns.
- `device`: every device whose status changed, by anyone's batch or the silent-device watch,
  read from the store's table by each process's `DeviceFeed` at the device check interval,
  in the shape `GET /v1/devices` returns.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

from gateway.errors import StoreError
from gateway.resolution import for_readers, unresolved
from gateway.store.base import Store
from gateway.store.masterdata import Resolver
from gateway.store.stream import TicketPosition
from gateway.stream import StreamHub
from schemas.devices import DeviceState
from schemas.events import DeviceEvent

logger = logging.getLogger(__name__)

TICKET_POLL_S: Final = 1.0
TICKET_GRACE: Final = timedelta(seconds=10)
"""How far back each ticket poll looks again. `updated_at` is the writer's clock at its
transaction, and transactions commit in another order than their clocks read: a ticket
written at 12:00:00.5 may commit after this process already read up to 12:00:01. Re-reading
the last seconds (and remembering what was published in them) catches it."""
TICKET_PAGE: Final = 500
DEVICE_PAGE: Final = 1000


EVENT_ROUND_MAX: Final = 1000
"""Events resolved together at most (a `GET /v1/events` page's worth)."""
EVENTS_PENDING_MAX: Final = 100_000
"""Events waiting to be published at most; beyond, a batch is left out of the stream (logged)
rather than held without bound while the store does not answer."""


class EventPublisher:
    """Publishes committed batches' events, shaped for readers as `GET /v1/events` shapes them.

    Shaping reads the master data (`for_readers`: two queries), which ingest must not wait
    for: the committer's hook (`__call__`) only queues the batch, and `run`, a task of its own,
    shapes everything queued since its last round together (a round trip per round, however
    many batches arrived meanwhile) and publishes it in commit order. When the master data
    cannot be read, a round is published `unresolved`: late or without `person_id`, never with
    a hash.
    """

    def __init__(
        self,
        store: Resolver,
        hub: StreamHub,
        *,
        round_max: int = EVENT_ROUND_MAX,
        pending_max: int = EVENTS_PENDING_MAX,
    ) -> None:
        self._store = store
        self._hub = hub
        self._round_max = round_max
        self._pending_max = pending_max
        self._pending: deque[DeviceEvent] = deque()
        self._queued = asyncio.Event()

    def __call__(self, events: Sequence[DeviceEvent]) -> None:
        """Queue a committed batch (`BatchCommitter`'s `published` hook); never waits."""
        if len(self._pending) + len(events) > self._pending_max:
            logger.warning(
                "the stream left out %d events: %d are still waiting to be published",
                len(events),
                len(self._pending),
            )
            return
        self._pending.extend(events)
        self._queued.set()

    async def run(self) -> None:
        """Publish what is queued until cancelled; a failed round is logged, never fatal."""
        while True:
            await self._queued.wait()
            try:
                await self.publish_queued()
            except Exception:  # a bug here must not end the stream's events for good
                logger.exception("stream event publishing failed")

    async def publish_queued(self) -> int:
        """Shape and publish everything queued; how many events it published."""
        published = 0
        while self._pending:
            count = min(len(self._pending), self._round_max)
            events = [self._pending.popleft() for _ in range(count)]
            try:
                shaped = await for_readers(self._store, events)
            except StoreError as exc:
                logger.warning("stream events published unresolved, the store failed: %s", exc)
                shaped = unresolved(events)
            for event in shaped:
                self._hub.publish("event", event.community, event)
            published += count
        self._queued.clear()
        return published


class TicketFeed:
    """Publishes the tickets changed since its last poll, whoever changed them.

    Starts at the moment of its first poll: what changed before is the lists' to show. A
    ticket's every change is published once per (ticket, updated_at).
    """

    def __init__(
        self,
        store: Store,
        hub: StreamHub,
        *,
        interval_s: float = TICKET_POLL_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        grace: timedelta = TICKET_GRACE,
        page: int = TICKET_PAGE,
    ) -> None:
        self._store = store
        self._hub = hub
        self._interval_s = interval_s
        self._clock = clock
        self._grace = grace
        self._page = page
        self._floor: datetime | None = None
        self._high: datetime | None = None
        self._recent: dict[tuple[str, datetime], datetime] = {}

    async def run(self) -> None:
        """Poll until cancelled; a failed poll is logged and the next one runs on time."""
        while True:
            try:
                await self.poll()
            except StoreError as exc:
                logger.warning("stream ticket poll skipped, the store is unavailable: %s", exc)
            except Exception:  # a bug here must not end the stream's tickets for good
                logger.exception("stream ticket poll failed")
            await asyncio.sleep(self._interval_s)

    async def poll(self) -> int:
        """One poll; how many ticket changes it published."""
        now = self._clock()
        if self._floor is None or self._high is None:
            self._floor = self._high = now
            return 0
        floor = self._floor
        position = TicketPosition(max(floor, self._high - self._grace))
        published = 0
        while True:
            tickets = await self._store.tickets_changed_since(position, self._page, now)
            for ticket in tickets:
                key = (ticket.ticket_id, ticket.updated_at)
                if ticket.updated_at > floor and key not in self._recent:
                    self._recent[key] = ticket.updated_at
                    self._hub.publish("ticket", ticket.community, ticket)
                    published += 1
                self._high = max(self._high, ticket.updated_at)
            if len(tickets) < self._page:
                break
            position = TicketPosition(tickets[-1].updated_at, tickets[-1].ticket_id)
        cutoff = self._high - self._grace
        self._recent = {key: at for key, at in self._recent.items() if at > cutoff}
        return published


class DeviceFeed:
    """Publishes the devices whose status changed since its last look at the device table.

    The first look only learns the statuses. The table is the truth every process shares
    (a batch's status may not apply: see `gateway.device_status`), read at the device check
    interval, when the silent-device watch also marks devices offline.
    """

    def __init__(self, store: Store, hub: StreamHub, *, interval_s: float) -> None:
        self._store = store
        self._hub = hub
        self._interval_s = interval_s
        self._known: dict[str, DeviceState] | None = None

    async def run(self) -> None:
        """Look until cancelled; a failed look is logged and the next one runs on time."""
        while True:
            try:
                await self.poll()
            except StoreError as exc:
                logger.warning("stream device poll skipped, the store is unavailable: %s", exc)
            except Exception:
                logger.exception("stream device poll failed")
            await asyncio.sleep(self._interval_s)

    async def poll(self) -> int:
        """One look; how many device changes it published."""
        known: dict[str, DeviceState] = {}
        published = 0
        cursor: str | None = None
        while True:
            page = await self._store.list_devices(DEVICE_PAGE, cursor)
            for device in page.data:
                known[device.device_id] = device.status
                before = None if self._known is None else self._known.get(device.device_id)
                if self._known is not None and before != device.status:
                    self._hub.publish("device", device.community, device)
                    published += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        self._known = known
        return published
