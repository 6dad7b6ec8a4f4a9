"""What every dialect generator shares: the message record, event-time planning, time formats.

A generator is an endless, reproducible iterator of `SimMessage`s in event-time order. Each
record carries its own ground truth, `kinds`: the canonical event kinds the gateway's adapter
makes of the message, one entry per event (a GA/T 1400 message with three faces is
`("face_capture",) * 3`). Summing `kinds` over a stretch of traffic gives the counts the store
must end up with.

Generators plan in float seconds after their start: a Poisson process of arrivals, each of
which may plan follow-ups (a check-in after a registration, the car's return). Planned
messages are rendered only when they are due, so per-device serial numbers increase in event
time.
"""

import heapq
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar, get_args

from schemas.events import EventKind
from schemas.times import CHINA_STANDARD_TIME as CST

"""China Standard Time: the devices' local time."""

EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class SimMessage:
    """One MQTT message and its ground truth.

    `at` is the message's event time as the adapter will read it (the payload's own precision:
    whole seconds or milliseconds); for a message carrying several captures, the last one's.
    """

    at: datetime
    topic: str
    payload: bytes
    kinds: tuple[EventKind, ...]
    dialect: str


class DailyRhythm:
    """How busy each hour of the local day is, relative to the day's mean: morning and evening
    peaks, quiet nights.

    Streams draw arrivals at the peak rate and keep each with probability `factor / peak`
    (thinning: the kept arrivals are again a Poisson process, following the day's shape). The
    keep-or-drop draws come from a generator of their own, so a stream without a rhythm draws
    exactly what it always drew.
    """

    HOURS: tuple[float, ...] = (
        # 00   01   02   03   04   05   06   07   08   09   10   11
        0.15, 0.10, 0.08, 0.08, 0.10, 0.25, 0.80, 2.00, 2.20, 1.30, 0.90, 1.00,
        # 12   13   14   15   16   17   18   19   20   21   22   23
        1.20, 0.90, 0.80, 0.85, 1.10, 1.90, 2.30, 1.70, 1.20, 0.80, 0.45, 0.25,
    )  # fmt: skip
    """Residents' comings and goings by hour of China Standard Time (mean normalised below)."""

    def __init__(self, hours: tuple[float, ...] = HOURS) -> None:
        if len(hours) != 24 or min(hours) < 0 or max(hours) <= 0:
            raise ValueError("a rhythm has 24 non-negative hourly factors, not all zero")
        mean = sum(hours) / 24
        self.factors = tuple(h / mean for h in hours)
        self.peak = max(self.factors)

    def factor(self, moment: datetime) -> float:
        """How busy the hour of `moment` is (1.0: the day's mean)."""
        return self.factors[moment.astimezone(CST).hour]

    def thinning(self, start: datetime, rng: random.Random) -> "Callable[[float], bool]":
        """For a stream starting at `start`: whether to keep an arrival `at` seconds after it."""
        base = start.astimezone(CST)
        offset = base.hour * 3600 + base.minute * 60 + base.second
        keep = tuple(f / self.peak for f in self.factors)
        draw = rng.random

        def kept(at: float) -> bool:
            return draw() < keep[int((offset + at) // 3600) % 24]

        return kept


Thinning = Callable[[float], bool]
"""Whether a stream keeps the arrival `at` seconds after its start (a `DailyRhythm`'s)."""

Render = Callable[[datetime], SimMessage]
"""Renders a planned message once it is due, given the moment it was planned for."""

SECOND = timedelta(seconds=1)
MILLISECOND = timedelta(milliseconds=1)


class PlannedStream(ABC):
    """Poisson arrivals at `per_hour`, plus whatever the arrivals plan, in event-time order.

    Subclasses implement `arrive(at)`, which plans messages with `plan(at, render)`; `at` is
    seconds after `start`, and a follow-up may be planned at any later time. A planned time is
    rounded up to the payload's precision, never down, so what comes out is in order at that
    precision too. Ties keep planning order. With `per_hour` 0 the stream has no arrivals of
    its own and ends once nothing is planned any more.

    `warm_up` starts the arrivals that long before `start` and drops what is due before it, so
    the stream starts in its steady state: a visitor registered yesterday checks out today.
    """

    def __init__(
        self,
        rng: random.Random,
        start: datetime,
        per_hour: float,
        *,
        warm_up: timedelta = timedelta(0),
    ) -> None:
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("start must be timezone-aware")
        if per_hour < 0 or not math.isfinite(per_hour):
            raise ValueError("per_hour must be a finite number, at least 0")
        if warm_up < timedelta(0):
            raise ValueError("warm_up must not be negative")
        self.rng = rng
        self.start = start.replace(microsecond=0)
        self._per_second = per_hour / 3600.0
        self._warm_up_s = warm_up.total_seconds()
        self._pending: list[tuple[int, int, datetime, Render]] = []
        self._sequence = 0
        self.thinning: Thinning | None = None
        """Set by `simulators.yida_mix` for a daily rhythm: arrivals it says no to are skipped."""

    @abstractmethod
    def arrive(self, at: float) -> None:
        """Plan the messages of one arrival `at` seconds after start."""

    def moment(self, at: float, precision: timedelta = SECOND) -> datetime:
        """`at` seconds after start, rounded up to `precision`."""
        return self.start + timedelta(microseconds=_round_up(at, precision))

    def plan(self, at: float, render: Render, precision: timedelta = SECOND) -> datetime:
        """Have `render` produce a message at `at` seconds after start; returns its moment."""
        micros = _round_up(at, precision)
        moment = self.start + timedelta(microseconds=micros)
        self._sequence += 1
        heapq.heappush(self._pending, (micros, self._sequence, moment, render))
        return moment

    def __iter__(self) -> Iterator[SimMessage]:
        rng = self.rng
        pending = self._pending
        rate = self._per_second
        next_arrival = rng.expovariate(rate) - self._warm_up_s if rate > 0 else math.inf
        while True:
            if pending and pending[0][0] <= next_arrival * 1_000_000:
                micros, _, moment, render = heapq.heappop(pending)
                message = render(moment)
                if micros >= 0:  # what happened during the warm-up is not published
                    yield message
            elif next_arrival < math.inf:
                if self.thinning is None or self.thinning(next_arrival):
                    self.arrive(next_arrival)
                next_arrival += rng.expovariate(rate)
            else:
                return


def _round_up(at: float, precision: timedelta) -> int:
    """`at` seconds in microseconds, rounded up to a multiple of `precision`."""
    step = precision // timedelta(microseconds=1)
    return math.ceil(round(at * 1_000_000) / step) * step


def local_iso(moment: datetime) -> str:
    """ISO 8601 in China Standard Time, whole seconds, with offset: `2026-11-26T08:00:00+08:00`."""
    return moment.astimezone(CST).isoformat(timespec="seconds")


def compact_local(moment: datetime) -> str:
    """GA/T 1400's `YYYYMMDDhhmmss`, China Standard Time."""
    return moment.astimezone(CST).strftime("%Y%m%d%H%M%S")


def epoch_ms(moment: datetime) -> int:
    """Epoch milliseconds (UTC by definition)."""
    return round(moment.timestamp() * 1000)


def weighted(rng: random.Random, table: tuple[tuple[_T, float], ...]) -> _T:
    """One value of `(value, weight)` pairs, drawn by weight."""
    values = [value for value, _ in table]
    weights = [weight for _, weight in table]
    return rng.choices(values, weights)[0]
