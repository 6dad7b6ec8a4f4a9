"""Closed local days, nights and episodes: how the counting rules turn a watermark into the
days they judge, and a run of qualifying days into one occurrence.

A counting rule ("≥ 3 days in 7") judges only closed days (a local day closes when the
watermark passes its end), so whatever the evaluation schedule, the same evidence gives the
same answer, and the finding's `detected_at` is that day's end. A run of consecutive
qualifying days is one episode, reported once under the day it began: a subject using the
doors every day for a month makes one ticket, not thirty. Each evaluation re-judges the last
`SLACK_DAYS` closed days (the engine evaluates at every local-day boundary, so one would do),
so no episode start is missed, and one already reported adds nothing.
"""

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta

from gateway.store.observations import local_day
from gateway.store.residentfacts import day_end

SLACK_DAYS = 2
"""Closed days judged at each evaluation, the newest included."""

DAY = timedelta(days=1)
NIGHT_SHIFT = timedelta(hours=8)
"""A night (19:00 to 08:00 local) belongs to the local day it began on: the day of its
instants shifted back by 8 hours (`night_of`)."""


def last_closed_day(watermark: datetime) -> date:
    """The newest local day whose end the watermark has passed (reached)."""
    return local_day(watermark) - DAY


def judged_days(watermark: datetime) -> list[date]:
    """The closed days an evaluation at `watermark` judges, oldest first."""
    last = last_closed_day(watermark)
    return [last - timedelta(days=n) for n in range(SLACK_DAYS - 1, -1, -1)]


def night_of(at: datetime) -> date:
    """The local day the night of `at` began on (meaningful for night instants only)."""
    return local_day(at - NIGHT_SHIFT)


def night_end(night: date) -> datetime:
    """08:00 local on the morning after `night` began, in UTC: when the night closes."""
    return day_end(night) + NIGHT_SHIFT


def count_in_window(days: Iterable[date], end: date, window_days: int) -> int:
    """How many of `days` (distinct) fall in the `window_days` days ending on `end`."""
    start = end - timedelta(days=window_days - 1)
    return len({day for day in days if start <= day <= end})


def frequent_starts(
    days: set[date], judged: Sequence[date], window_days: int, min_days: int
) -> list[date]:
    """The judged days on which an episode of at least `min_days` of `days` in
    `window_days` begins."""
    if len(days) < min_days:
        return []
    return episode_starts(lambda day: count_in_window(days, day, window_days) >= min_days, judged)


def episode_starts(qualifies: Callable[[date], bool], candidates: Iterable[date]) -> list[date]:
    """The candidate days that qualify while the day before did not: where episodes begin."""
    return [day for day in candidates if qualifies(day) and not qualifies(day - DAY)]
