"""Periodic upkeep of what the events add: residencies inferred from presence, and retention.

Every `Settings.housekeeping_interval_s` (and once at start) the store re-evaluates inferred
residencies under the `ResidencyRule` (new ones inferred, lapsed ones ended when their evidence
ages out of the window) and removes what is older than the retention periods: events and
presence after `event_retention_days` (TimescaleDB `drop_chunks` on PostgreSQL, range deletes
on SQLite), with the lapsed inferred residencies, unregistered vehicles and ended visitor
records of before then, and audit entries after `audit_retention_days`. The clock is injected,
so tests move time instead of waiting; an unavailable store is waited out, like
`gateway.raw_payloads.RawPayloadPurge`.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from gateway.config import Settings
from gateway.errors import StoreError
from gateway.store.observations import InferenceReport, ResidencyRule, RetentionReport

logger = logging.getLogger(__name__)


class HousekeepingStore(Protocol):
    async def infer_residencies(self, now: datetime, rule: ResidencyRule) -> InferenceReport: ...

    async def enforce_retention(
        self, now: datetime, event_days: int, audit_days: int
    ) -> RetentionReport: ...


@dataclass(frozen=True, slots=True)
class HousekeepingReport:
    inference: InferenceReport
    retention: RetentionReport


class Housekeeping:
    """Infers residencies and enforces retention at start and then every `interval_s`."""

    def __init__(
        self,
        store: HousekeepingStore,
        *,
        interval_s: float,
        event_retention_days: int,
        audit_retention_days: int,
        rule: ResidencyRule | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._interval_s = interval_s
        self._event_days = event_retention_days
        self._audit_days = audit_retention_days
        self._rule = rule or ResidencyRule()
        self._clock = clock

    @classmethod
    def from_settings(cls, store: HousekeepingStore, settings: Settings) -> "Housekeeping":
        return cls(
            store,
            interval_s=settings.housekeeping_interval_s,
            event_retention_days=settings.event_retention_days,
            audit_retention_days=settings.audit_retention_days,
        )

    async def run(self) -> None:
        """Run until cancelled; an unavailable store is waited out, never raised."""
        while True:
            try:
                await self.run_once()
            except StoreError as exc:
                logger.warning("housekeeping skipped, the store is unavailable: %s", exc)
            await asyncio.sleep(self._interval_s)

    async def run_once(self) -> HousekeepingReport:
        """One pass at the clock's now: inference first, then retention (so a residency that
        lapses now is kept until its own retention period has passed)."""
        now = self._clock()
        inference = await self._store.infer_residencies(now, self._rule)
        retention = await self._store.enforce_retention(now, self._event_days, self._audit_days)
        if inference.inferred or inference.lapsed or retention.total:
            logger.info(
                "housekeeping: %d residencies inferred, %d refreshed, %d lapsed; removed %d"
                " events (+%d chunks), %d presence, %d inferred residencies, %d vehicles,"
                " %d visitors, %d audit entries",
                inference.inferred,
                inference.refreshed,
                inference.lapsed,
                retention.events,
                retention.event_chunks,
                retention.presence,
                retention.inferred_residencies,
                retention.vehicles,
                retention.visitors,
                retention.audit_entries,
            )
        return HousekeepingReport(inference, retention)
