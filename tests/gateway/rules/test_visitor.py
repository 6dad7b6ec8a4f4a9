"""The visitor overstay rule (`gateway.rules.visitor`): still inside when the watermark passes
the pass's expiry plus the grace hours."""

from datetime import UTC, datetime, timedelta

import pytest

from gateway.rules.catalog import default_catalog
from gateway.rules.visitor import OVERSTAY, overstay
from gateway.store import Store
from schemas.housing import HouseRecord
from tests.gateway.rules.drafting import pilot_drafter
from tests.gateway.rules.rule_events import CALENDAR_ENDS, GATE_DOOR, YIDA, texts, visit

GRACE = {"hours": 2.0}
HOUR = timedelta(hours=1)
VISIT = "V20261126080000-0001"


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class TestOverstay:
    async def test_a_visitor_still_inside_fires_at_the_deadline(
        self, store: Store, now: datetime
    ) -> None:
        """Checked in, never out: fires at `valid_until` + 2 h once the watermark is there."""
        until = now - 5 * HOUR
        events = [
            visit(1, now - 10 * HOUR, "registered", valid_until=until),
            visit(2, now - 9 * HOUR, "checked_in"),
        ]
        await store.write_batch(events, [])
        assert await overstay(store, YIDA, until + 2 * HOUR - timedelta(seconds=1), GRACE) == []
        found = await overstay(store, YIDA, now, GRACE)
        assert len(found) == 1
        finding = found[0]
        assert (finding.rule, finding.subject, finding.occurrence) == (OVERSTAY, VISIT, VISIT)
        assert finding.detected_at == until + 2 * HOUR
        assert finding.event_ids == ("visit-000001", "visit-000002")
        assert (finding.house_code, finding.device_id) == ("yida-B01-U1-0301", GATE_DOOR)
        title, description, _ = texts(default_catalog()[OVERSTAY], finding)
        assert title.startswith("访客超时未离开")
        assert "仍有1名" in description and "2小时" in description

    async def test_visitors_who_left_or_were_cancelled_do_not(
        self, store: Store, now: datetime
    ) -> None:
        """Every check-in matched by a check-out by the deadline, or a cancelled visit, is fine;
        a check-out after the deadline is too late, and two in with one out is one inside."""
        until = now - 5 * HOUR
        await store.write_batch(
            [
                visit(1, now - 10 * HOUR, "registered", "V-left", valid_until=until),
                visit(2, now - 9 * HOUR, "checked_in", "V-left"),
                visit(3, until + HOUR, "checked_out", "V-left"),
                visit(4, now - 10 * HOUR, "registered", "V-cancelled", valid_until=until),
                visit(5, now - 9 * HOUR, "checked_in", "V-cancelled"),
                visit(6, now - 8 * HOUR, "checked_out", "V-cancelled"),
                visit(15, now - 7 * HOUR, "cancelled", "V-cancelled"),
                visit(7, now - 10 * HOUR, "registered", "V-late", valid_until=until),
                visit(8, now - 9 * HOUR, "checked_in", "V-late"),
                visit(9, until + 3 * HOUR, "checked_out", "V-late"),
                visit(10, now - 10 * HOUR, "registered", "V-pair", valid_until=until),
                visit(11, now - 9 * HOUR, "checked_in", "V-pair"),
                visit(12, now - 9 * HOUR, "checked_in", "V-pair"),
                visit(13, now - 6 * HOUR, "checked_out", "V-pair"),
                visit(14, now - 10 * HOUR, "registered", "V-never", valid_until=until),
            ],
            [],
        )
        found = await overstay(store, YIDA, now, GRACE)
        assert sorted((f.subject, f.facts["inside"]) for f in found) == [
            ("V-late", 1),
            ("V-pair", 1),
        ]

    async def test_a_deadline_out_of_the_span_is_left(self, store: Store, now: datetime) -> None:
        """A deadline more than the span behind the watermark was the midnight evaluation's;
        evaluating again gives the same finding."""
        until = now - 30 * HOUR
        await store.write_batch(
            [
                visit(1, now - 40 * HOUR, "registered", valid_until=until),
                visit(2, now - 39 * HOUR, "checked_in"),
            ],
            [],
        )
        assert await overstay(store, YIDA, now, GRACE) == []
        at_midnight = await overstay(store, YIDA, until + 3 * HOUR, GRACE)
        assert at_midnight == await overstay(store, YIDA, until + 4 * HOUR, GRACE)
        assert [f.detected_at for f in at_midnight] == [until + 2 * HOUR]

    async def test_a_pass_without_an_end_is_ignored(self, store: Store, now: datetime) -> None:
        """A pass valid until 9999 (beyond the rule's horizon) is no overstay, and the other
        visits' overstays are still found."""
        endless = datetime(9999, 12, 31, 23, tzinfo=UTC)
        await store.write_batch(
            [
                visit(1, now - 10 * HOUR, "registered", "V-good", valid_until=now - 6 * HOUR),
                visit(2, now - 9 * HOUR, "checked_in", "V-good"),
                visit(3, now - 10 * HOUR, "registered", "V-endless", valid_until=endless),
                visit(4, now - 9 * HOUR, "checked_in", "V-endless"),
            ],
            [],
        )
        found = await overstay(store, YIDA, now, GRACE)
        assert [f.subject for f in found] == ["V-good"]

    @pytest.mark.parametrize("watermark", CALENDAR_ENDS)
    async def test_the_calendar_ends_do_not_overflow(
        self, store: Store, now: datetime, watermark: datetime
    ) -> None:
        """Evaluated at year 1 or 9999 with the longest grace, the rule answers instead of
        raising."""
        await store.write_batch(
            [
                visit(1, now - 10 * HOUR, "registered", valid_until=now - 6 * HOUR),
                visit(2, now - 9 * HOUR, "checked_in"),
            ],
            [],
        )
        longest = {"hours": 366 * 24.0}
        assert await overstay(store, YIDA, watermark, longest) == []

    async def test_a_visitor_inside_after_a_cancellation_is_still_inside(
        self, store: Store, now: datetime
    ) -> None:
        """A cancellation stops no one who already came in: checked in, then cancelled, never
        out, fires; cancelled with nobody in does not."""
        until = now - 5 * HOUR
        await store.write_batch(
            [
                visit(1, now - 10 * HOUR, "registered", "V-in", valid_until=until),
                visit(2, now - 9 * HOUR, "checked_in", "V-in"),
                visit(3, now - 8 * HOUR, "cancelled", "V-in"),
                visit(4, now - 10 * HOUR, "registered", "V-none", valid_until=until),
                visit(5, now - 8 * HOUR, "cancelled", "V-none"),
            ],
            [],
        )
        found = await overstay(store, YIDA, now, GRACE)
        assert [(f.subject, f.facts["inside"]) for f in found] == [("V-in", 1)]

    async def test_the_ticket_is_at_the_hosts_house(self, store: Store, now: datetime) -> None:
        """The host's house gives the finding its building and unit (so it routes house →
        building → grid and the address names the house); an unknown house leaves it at the
        gate."""
        until = now - 5 * HOUR
        events = [
            visit(1, now - 10 * HOUR, "registered", valid_until=until),
            visit(2, now - 9 * HOUR, "checked_in"),
        ]
        await store.write_batch(events, [])
        at_gate = await overstay(store, YIDA, now, GRACE)
        assert (at_gate[0].building, at_gate[0].gate) == (None, "North gate")
        house = HouseRecord(house_code="yida-B01-U1-0301", building="B01", unit="U1")
        assert await store.apply_houses(YIDA, [house], now, "i-1") == ["accepted"]
        [finding] = await overstay(store, YIDA, now, GRACE)
        assert (finding.building, finding.unit, finding.house_code) == (
            "B01",
            "U1",
            "yida-B01-U1-0301",
        )
        catalog = default_catalog()
        draft = pilot_drafter(catalog).draft(finding)
        assert draft.location.address == "亿达小镇 B01栋 U1单元 房屋编码yida-B01-U1-0301"
        assert draft.grid_code is not None
