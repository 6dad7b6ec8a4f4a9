"""The instant rules on the ingest path (`gateway.rules.instant`): the events a batch newly
stores become tickets in the batch's own transaction."""

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from gateway.rules.base import Finding, InstantContext, Rule
from gateway.rules.catalog import Catalog, default_catalog
from gateway.rules.instant import InstantEvaluator
from gateway.store import Store
from gateway.store.tickets import TicketQuery
from gateway.watchlist import WatchlistHolder
from schemas.events import DeviceEvent
from tests.gateway.rules.drafting import pilot_drafter
from tests.gateway.rules.rule_events import UNIT_DOOR, alarm, door_state, heartbeat, visit


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def evaluator(catalog: Catalog | None = None) -> InstantEvaluator:
    catalog = catalog or default_catalog()
    return InstantEvaluator(catalog, pilot_drafter(catalog), WatchlistHolder())


def broken(event: DeviceEvent, thresholds: Mapping[str, float], context: InstantContext) -> Finding:
    raise RuntimeError("a bug in a rule")


class TestInstantEvaluator:
    def test_events_go_to_the_rules_of_their_kind(self, now: datetime) -> None:
        """A forced door and a sure fire-lane alarm make drafts; a heartbeat, a visit and an
        unsure alarm make none."""
        drafts = evaluator()(
            [
                door_state(1, now, "forced_open"),
                alarm(2, now, "fire_lane_occupied", 0.95),
                alarm(3, now, "fire_lane_occupied", 0.5),
                heartbeat(4, now),
                visit(5, now, "checked_in"),
            ]
        )
        assert [(d.rule, d.occurrence_key) for d in drafts] == [
            ("safety.door_forced", "door-000001"),
            ("fire.lane_occupied", "alarm-000002"),
        ]
        assert drafts[0].dedup_key == f"safety.door_forced:yida:{UNIT_DOOR}:1"
        assert drafts[1].category.code == "fire_safety"

    def test_a_failing_rule_costs_only_itself(
        self, now: datetime, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A rule that raises is logged by rule and event id, and the others still draft."""
        bad = Rule("safety.broken", "safety", "instant", {}, broken, "t", "d", "s")
        catalog = Catalog([bad, *default_catalog().values()])
        with caplog.at_level(logging.ERROR):
            drafts = evaluator(catalog)([door_state(1, now, "forced_open")])
        assert [d.rule for d in drafts] == ["safety.door_forced"]
        assert "safety.broken failed on event door-000001: RuntimeError" in caplog.text


class TestInstantTickets:
    async def test_a_batch_opens_its_tickets_and_a_repeat_adds_evidence(
        self, store: Store, now: datetime
    ) -> None:
        """The forced door opens a ticket with the batch; a redelivered batch adds nothing; the
        same door forced again adds an occurrence to the open ticket."""
        rules = evaluator()
        first = door_state(1, now - timedelta(minutes=5), "forced_open")
        result = await store.write_batch([first], [], rules)
        assert (result.tickets_opened, result.tickets_updated) == (1, 0)
        again = await store.write_batch([first], [], rules)
        assert (again.duplicates, again.tickets_opened, again.tickets_updated) == (1, 0, 0)
        second = door_state(2, now - timedelta(minutes=1), "forced_open")
        later = await store.write_batch([second], [], rules)
        assert (later.tickets_opened, later.tickets_updated) == (0, 1)
        page = await store.list_tickets(TicketQuery(rule="safety.door_forced"), now)
        [ticket] = page.data
        assert ticket.occurrences == 2
        assert ticket.evidence.event_ids == ("door-000001", "door-000002")
        assert ticket.detected_at == first.occurred_at
        assert ticket.status == "detected"
