"""The planning every generator shares: event-time order, payload precision, warm-up."""

import random
from datetime import UTC, datetime, timedelta, timezone
from itertools import islice, pairwise

import pytest

from simulators.traffic import (
    MILLISECOND,
    PlannedStream,
    SimMessage,
    compact_local,
    epoch_ms,
    local_iso,
)

START = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)


class Echo(PlannedStream):
    """A test stream: each arrival plans itself (seconds) and a follow-up (milliseconds)."""

    def __init__(self, per_hour: float, warm_up: timedelta = timedelta(0)) -> None:
        super().__init__(random.Random(1), START, per_hour, warm_up=warm_up)
        self.rendered = 0

    def arrive(self, at: float) -> None:
        self.plan(at, self._render)
        self.plan(at + self.rng.uniform(0.0, 90.0), self._render, MILLISECOND)

    def _render(self, moment: datetime) -> SimMessage:
        self.rendered += 1
        return SimMessage(moment, "t/echo/1", b"{}", ("device_status",), "heartbeat")


class TestOrder:
    """Arrivals and follow-ups come out in event-time order at mixed precisions."""

    def test_messages_are_in_event_time_order(self) -> None:
        messages = list(islice(Echo(3600.0), 5000))
        assert all(a.at <= b.at for a, b in pairwise(messages))
        assert messages[0].at >= START

    def test_times_are_rounded_up_to_the_payload_precision(self) -> None:
        stream = Echo(0.0)
        assert stream.moment(1.2) == START + timedelta(seconds=2)
        assert stream.moment(1.2, MILLISECOND) == START + timedelta(milliseconds=1200)
        assert stream.moment(3.0) == START + timedelta(seconds=3)
        stamps = {m.at.microsecond for m in islice(Echo(3600.0), 2000)}
        assert 0 in stamps and any(stamp % 1000 == 0 and stamp for stamp in stamps)

    def test_rate(self) -> None:
        messages = list(islice(Echo(3600.0), 20_000))
        hours = (messages[-1].at - START) / timedelta(hours=1)
        assert 6800 < len(messages) / hours < 7600  # two messages per arrival


class TestEdges:
    """No arrivals: the stream ends; a warm-up is rendered but not published."""

    def test_zero_rate_ends(self) -> None:
        assert list(Echo(0.0)) == []

    def test_warm_up_starts_in_the_steady_state(self) -> None:
        cold = Echo(600.0)
        warm = Echo(600.0, warm_up=timedelta(hours=1))
        first_warm = list(islice(warm, 100))
        assert all(m.at >= START for m in first_warm)
        assert warm.rendered > 100  # what fell before the start was rendered, then dropped
        cold_first = next(iter(cold))
        assert first_warm[0].at < cold_first.at  # follow-ups of earlier arrivals lead

    def test_refuses_bad_arguments(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            PlannedStreamProbe(datetime(2026, 11, 26), 1.0)
        with pytest.raises(ValueError, match="per_hour"):
            PlannedStreamProbe(START, -1.0)
        with pytest.raises(ValueError, match="per_hour"):
            PlannedStreamProbe(START, float("inf"))


class PlannedStreamProbe(PlannedStream):
    def __init__(self, start: datetime, per_hour: float) -> None:
        super().__init__(random.Random(0), start, per_hour)

    def arrive(self, at: float) -> None:
        raise AssertionError("not used")


class TestTimeFormats:
    """Device time formats: local ISO with offset, GA/T 1400 compact local, epoch ms."""

    def test_formats(self) -> None:
        moment = datetime(2026, 11, 26, 0, 15, 30, 123_000, tzinfo=UTC)
        assert local_iso(moment) == "2026-11-26T08:15:30+08:00"
        assert compact_local(moment) == "20261126081530"
        assert epoch_ms(moment) == 1795652130123
        other = moment.astimezone(timezone(timedelta(hours=-5)))
        assert (local_iso(other), epoch_ms(other)) == (local_iso(moment), epoch_ms(moment))
