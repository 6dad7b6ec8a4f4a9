"""The watermark rules' runner: every `SCGW_RULES_INTERVAL_S`, each community this process
leads is evaluated at the instants its watermark passed (`gateway.rules.watermark`).

Leadership: a community's watermark rules run in one process at a time, the holder of the lease
`rules:<community>` (`store.hold_lease`: on PostgreSQL a session advisory lock held on a
connection kept for leases; SQLite has one process). When the holder dies or loses its
database connection, the lock goes with the connection, and the next cycle of any other
process takes the lease and carries on from the stored marks (below).

State: nothing but what is stored. The rules read stored events, presence and master data;
tickets and their occurrences are in the database, and so is each (community, rule)'s mark,
the instant it has been evaluated up to (`store.rule_marks`). The mark moves in the
transaction that records the tickets its evaluation found (`store.record_evaluation`), so a
crash between the two cannot lose or repeat anything, and the marks are read from the store
each cycle, so a restarted process or a new lease holder resumes exactly where the last
evaluation stopped: the same events give the same tickets whatever the process history. Only a
(community, rule) with no mark at all is evaluated from `CATCH_UP` back (a replayed week is
found at its own event times).

Late data: a community's watermark is its newest event time minus the allowed lateness
(`SCGW_RULES_LATENESS_S`, default 10 minutes), and each evaluation looks `DEADLINE_SPAN` (25 h)
behind the instant it evaluates at. So events later than the allowed lateness plus
`DEADLINE_SPAN` behind the watermark (a deadline before the rule's mark minus the look-back)
do not raise time-based tickets, on every process alike; instant rules still see them, and
they count in the windows of later evaluations.

A rule that raises at an instant keeps its mark before that instant (the others move on), so
the instants it could not evaluate are tried again next cycle rather than skipped: a failure
loses no deadline. It is logged once when it starts failing and once when it recovers, not
every cycle.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

from gateway.errors import StoreError
from gateway.rules.base import Drafter, Rule, WatermarkEvaluate
from gateway.rules.catalog import Catalog
from gateway.rules.watermark import community_watermarks, evaluation_points
from gateway.store.rulemarks import RuleMark
from gateway.store.tickets import TicketChanges, TicketDraft
from gateway.watchlist import WatchlistHolder

if TYPE_CHECKING:
    from gateway.metrics import Metrics
    from gateway.store.base import Store

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def lease_name(community: str) -> str:
    """The lease a process holds to run a community's watermark rules."""
    return f"rules:{community}"


class RuleEngine:
    """Evaluates the watermark rules of the communities this process leads, drafts what they
    find and records it; refreshes the watch-list snapshot on the way."""

    def __init__(
        self,
        store: "Store",
        catalog: Catalog,
        drafter: Drafter,
        *,
        lateness: timedelta,
        interval_s: float,
        watchlist: WatchlistHolder | None = None,
        metrics: "Metrics | None" = None,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._rules = [
            (rule, cast(WatermarkEvaluate, rule.evaluate)) for rule in catalog.timed("watermark")
        ]
        self._drafter = drafter
        self._lateness = lateness
        self._interval_s = interval_s
        self._watchlist = watchlist
        self._metrics = metrics
        self._clock = clock
        self._failing: set[tuple[str, str]] = set()

    async def run(self) -> None:
        """Run until cancelled; a failed cycle is logged and the next one runs on time."""
        while True:
            try:
                await self.run_once(self._clock())
            except StoreError as exc:
                logger.warning("rules skipped a cycle, the store is unavailable: %s", exc)
            except Exception:  # a bug here must not stop the rules for the process's life
                logger.exception("rule cycle failed")
            await asyncio.sleep(self._interval_s)

    async def run_once(self, now: datetime) -> TicketChanges:
        """One cycle at wall-clock `now` (when tickets are recorded; the rules use event time)."""
        if self._watchlist is not None:
            await self._watchlist.refresh(self._store)
        newest = await self._store.watermarks()
        total = TicketChanges()
        for community, watermark in sorted(community_watermarks(newest, self._lateness).items()):
            if not await self._store.hold_lease(lease_name(community)):
                continue  # another process leads it now
            marks = await self._store.rule_marks(community)
            for rule, evaluate in self._rules:
                mark = marks.get(rule.code)
                changes = await self._evaluate(community, rule, evaluate, mark, watermark, now)
                total = _sum(total, changes)
        return total

    async def _evaluate(
        self,
        community: str,
        rule: Rule,
        evaluate: WatermarkEvaluate,
        mark: datetime | None,
        watermark: datetime,
        now: datetime,
    ) -> TicketChanges:
        """One rule at each instant its watermark passed since its stored `mark`, oldest
        first; what it found up to the first instant it raised at (or all) is recorded and the
        mark moves there, in one transaction. A store failure ends the cycle before either is
        stored, so the next cycle evaluates the same instants again."""
        key = (community, rule.code)
        drafts: list[TicketDraft] = []
        reached: datetime | None = None
        for point in evaluation_points(mark, watermark):
            try:
                found = await evaluate(self._store, community, point, rule.thresholds)
                drafts.extend(self._drafter.draft(finding) for finding in found)
            except StoreError:
                raise
            except Exception as exc:  # a bug in one rule must not silence the others
                if key not in self._failing:
                    self._failing.add(key)
                    _log_failure(rule, community, point, exc)
                break
            reached = point
            if key in self._failing:
                self._failing.discard(key)
                logger.info("watermark rule %s recovered for %s", rule.code, community)
        if reached is None:
            return TicketChanges()  # nothing evaluated: neither tickets nor a mark to record
        changes = await self._store.record_evaluation(
            drafts, RuleMark(community, rule.code, reached), now
        )
        if drafts and self._metrics is not None:
            self._metrics.count_tickets(changes.opened_rules, changes.updated)
        return changes


def _sum(one: TicketChanges, other: TicketChanges) -> TicketChanges:
    return TicketChanges(
        one.opened + other.opened,
        one.updated + other.updated,
        one.repeated + other.repeated,
        one.opened_rules + other.opened_rules,
    )


def _log_failure(rule: Rule, community: str, at: datetime, exc: Exception) -> None:
    logger.error(
        "watermark rule %s failed for %s at %s: %s (logged once until it recovers)",
        rule.code,
        community,
        at.isoformat(),
        type(exc).__name__,
        exc_info=exc,
        extra={"rule": rule.code, "community": community},
    )
