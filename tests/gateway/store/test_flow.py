"""The rollup's pure parts: a batch's increments, bucket boundaries and dense series."""

from datetime import UTC, datetime, timedelta

from gateway.store.flow import MEASURES, bucket_end, bucket_start, dense, flow_rows
from tests.gateway.store.test_flow_contract import capture, passage

AT = datetime(2026, 5, 1, 15, 59, 59, 999_999, tzinfo=UTC)


class TestIncrements:
    """A batch becomes one increment per (community, hour), in one lock order."""

    def test_events_are_summed_per_community_and_hour_in_sorted_order(self) -> None:
        later = AT + timedelta(microseconds=1)
        rows = flow_rows(
            [passage(later), passage(AT, community="jiaxin"), passage(AT), capture(AT)]
        )
        assert [(row.community, row.bucket.hour) for row in rows] == [
            ("jiaxin", 15),
            ("yida", 15),
            ("yida", 16),
        ]
        assert rows[1].counts[MEASURES.index("people_in")] == 1
        assert rows[1].counts[MEASURES.index("faces")] == 1

    def test_events_counting_in_no_measure_add_no_row(self) -> None:
        assert flow_rows([passage(AT, "unknown"), passage(AT, result="denied")]) == []


class TestBuckets:
    """Hours are UTC hours; days start at China Standard Time midnight (16:00 UTC)."""

    def test_an_instant_falls_in_its_hour_and_its_local_day(self) -> None:
        assert bucket_start(AT, "hour") == datetime(2026, 5, 1, 15, tzinfo=UTC)
        assert bucket_start(AT, "day") == datetime(2026, 4, 30, 16, tzinfo=UTC)
        assert bucket_start(AT + timedelta(microseconds=1), "day") == datetime(
            2026, 5, 1, 16, tzinfo=UTC
        )

    def test_an_end_is_widened_to_a_boundary_unless_it_is_one(self) -> None:
        assert bucket_end(AT, "hour") == datetime(2026, 5, 1, 16, tzinfo=UTC)
        boundary = datetime(2026, 5, 1, 16, tzinfo=UTC)
        assert bucket_end(boundary, "hour") == boundary
        assert bucket_end(boundary, "day") == boundary


class TestDenseSeries:
    """Counts land at their offsets, in whatever order they come; the rest are zeros."""

    def test_offsets_in_any_order(self) -> None:
        assert dense(5, [3, 0, 1], [30, 1, 10]) == [1, 10, 0, 30, 0]

    def test_every_offset_in_order_is_the_counts_themselves(self) -> None:
        assert dense(3, [0, 1, 2], [4, 5, 6]) == [4, 5, 6]

    def test_every_offset_out_of_order(self) -> None:
        assert dense(3, [2, 0, 1], [6, 4, 5]) == [4, 5, 6]
