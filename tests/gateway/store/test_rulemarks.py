"""The `RuleMarkStore` contract on both stores: marks are stored per (community, rule), move
only forward, and commit with the tickets of their evaluation or not at all. Times are
relative to the real now, injected."""

from datetime import UTC, datetime, timedelta

import pytest

from gateway.store import Store
from gateway.store.rulemarks import RuleMark
from gateway.store.tickets import TicketQuery
from tests.gateway.observed_events import YIDA
from tests.gateway.store.ticket_drafts import JIAXIN, draft

RULE = "safety.door_held_open"


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


class TestRuleMarks:
    """A mark per (community, rule), recorded with its evaluation's tickets."""

    async def test_a_community_never_evaluated_has_no_marks(self, store: Store) -> None:
        """No mark is stored before an evaluation records one."""
        assert await store.rule_marks(YIDA) == {}

    async def test_an_evaluation_records_its_tickets_and_mark(
        self, store: Store, now: datetime
    ) -> None:
        """The drafts become tickets and the mark is read back per rule of its community."""
        mark = RuleMark(YIDA, RULE, now - timedelta(minutes=10))
        changes = await store.record_evaluation([draft(at=now - timedelta(hours=1))], mark, now)
        other = RuleMark(JIAXIN, RULE, now - timedelta(hours=2))
        await store.record_evaluation([], other, now)
        assert changes.opened == 1
        assert len((await store.list_tickets(TicketQuery(), now)).data) == 1
        assert await store.rule_marks(YIDA) == {RULE: now - timedelta(minutes=10)}
        assert await store.rule_marks(JIAXIN) == {RULE: now - timedelta(hours=2)}

    async def test_a_mark_never_moves_back(self, store: Store, now: datetime) -> None:
        """A later, older mark (a stale leader's) leaves the newer one in place."""
        await store.record_evaluation([], RuleMark(YIDA, RULE, now), now)
        await store.record_evaluation([], RuleMark(YIDA, RULE, now - timedelta(days=1)), now)
        await store.record_evaluation([], RuleMark(YIDA, "care.no_activity", now), now)
        assert await store.rule_marks(YIDA) == {RULE: now, "care.no_activity": now}

    async def test_a_refused_draft_leaves_tickets_and_mark_unchanged(
        self, store: Store, now: datetime
    ) -> None:
        """A draft the store cannot record (its SLA beyond the calendar) fails the whole
        evaluation: neither the good draft beside it nor the mark is recorded."""
        earlier = RuleMark(YIDA, RULE, now - timedelta(hours=1))
        await store.record_evaluation([], earlier, now)
        good = draft(key="k-good", at=now - timedelta(minutes=30))
        refused = draft(key="k-refused", at=now - timedelta(minutes=20), sla_hours=1e9)
        with pytest.raises(OverflowError):
            await store.record_evaluation([good, refused], RuleMark(YIDA, RULE, now), now)
        assert (await store.list_tickets(TicketQuery(), now)).data == []
        assert await store.rule_marks(YIDA) == {RULE: now - timedelta(hours=1)}
