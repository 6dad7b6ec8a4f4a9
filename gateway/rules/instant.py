"""The instant rules on the ingest path: `store.write_batch` calls `InstantEvaluator` with the
events it has just inserted (never a redelivered one), inside its transaction, and records the
drafts it returns in that same transaction (`gateway.store.tickets.InstantRules`).

It runs wherever the event lands, in every gateway process; dedup is the database's. It is on
the ingest path's cost, so the rules are indexed by event kind once, and an event of a kind
no rule reads costs one dictionary lookup.
"""

import logging
from collections.abc import Sequence
from typing import cast, get_args

from gateway.rules.base import Drafter, InstantEvaluate, Rule
from gateway.rules.catalog import Catalog
from gateway.store.tickets import TicketDraft
from gateway.watchlist import WatchlistHolder
from schemas.events import DeviceEvent, EventKind

logger = logging.getLogger(__name__)


class InstantEvaluator:
    """Events → findings of the instant rules → ticket drafts.

    A rule or drafting that fails on one event is logged (rule, error type and event id, never
    a value) and skipped: a bug in one rule must not stop every community's ingest.
    """

    def __init__(self, catalog: Catalog, drafter: Drafter, watchlist: WatchlistHolder) -> None:
        by_kind = catalog.instant_by_kind(get_args(EventKind))
        self._rules: dict[str, tuple[tuple[Rule, InstantEvaluate], ...]] = {
            kind: tuple((rule, cast(InstantEvaluate, rule.evaluate)) for rule in rules)
            for kind, rules in by_kind.items()
            if rules
        }
        self._drafter = drafter
        self._watchlist = watchlist

    def __call__(self, events: Sequence[DeviceEvent]) -> list[TicketDraft]:
        context = self._watchlist.context
        drafts: list[TicketDraft] = []
        for event in events:
            for rule, evaluate in self._rules.get(event.kind, ()):
                try:
                    finding = evaluate(event, rule.thresholds, context)
                    if finding is not None:
                        drafts.append(self._drafter.draft(finding))
                except Exception as exc:  # a bug in one rule: see the class docstring
                    _log_failure(rule, event, exc)
        return drafts


def _log_failure(rule: Rule, event: DeviceEvent, exc: Exception) -> None:
    logger.error(
        "instant rule %s failed on event %s: %s",
        rule.code,
        event.event_id,
        type(exc).__name__,
        exc_info=exc,
        extra={"rule": rule.code, "event_id": event.event_id},
    )
