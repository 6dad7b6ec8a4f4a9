"""Event time for the watermark rules: each community's watermark and the instants the rules
are evaluated at.

A community's watermark is the newest event time stored from its devices (heartbeats
included; each event's time capped at its arrival, so a device whose clock runs ahead cannot
drag it forward) minus the allowed lateness (`SCGW_RULES_LATENESS_S`): by then, what happened
before it has arrived. A deadline fires when the watermark passes it; an event arriving behind
the watermark still counts in later windows but never moves a deadline back.

The engine evaluates every watermark rule at each local (China Standard Time) midnight the
watermark passed since the last evaluation and at the watermark itself, so two evaluations are
never more than a day apart: a rule looking for deadlines in the last `DEADLINE_SPAN` misses
none, however fast an accelerated replay moves the watermark, and the same events give the
same findings at the same event times.
"""

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Final

from schemas.times import CHINA_STANDARD_TIME

DEADLINE_SPAN: Final = timedelta(days=1, hours=1)
"""How far behind the watermark a rule looks for deadlines it has passed: a day (the longest
gap between two evaluations) and an hour to spare."""

CATCH_UP: Final = timedelta(days=7)
"""How far back a process evaluates a community it has not evaluated before (at start-up, or
on taking over its lease): what another process or an earlier run already found adds
nothing, what nobody evaluated (a replayed week) is found at its own event times."""


EARLIEST: Final = datetime.min.replace(tzinfo=UTC)
LATEST: Final = datetime.max.replace(tzinfo=UTC)


def shifted(at: datetime, delta: timedelta) -> datetime:
    """`at + delta`, held at the calendar's ends (years 1 and 9999) instead of overflowing: a
    rule's date arithmetic on an extreme but valid time (a pass valid until 9999, a clock at
    year 1) must give an answer, not raise."""
    try:
        return at + delta
    except OverflowError:
        return LATEST if delta > timedelta(0) else EARLIEST


CALENDAR_MARGIN: Final = timedelta(days=1000)
"""How far from the calendar's ends the engine evaluates: further than any rule reaches from
its watermark (a threshold of up to a year, windows of days, `CATCH_UP`), so a community
whose newest event is dated at year 1 or 9999 does not make every rule's date arithmetic
overflow."""


def within_calendar(at: datetime) -> datetime:
    """`at`, held `CALENDAR_MARGIN` inside the calendar's ends."""
    return min(max(at, EARLIEST + CALENDAR_MARGIN), LATEST - CALENDAR_MARGIN)


def community_watermarks(
    newest: Mapping[str, datetime], lateness: timedelta
) -> dict[str, datetime]:
    """Each community's watermark from its newest event time (`store.watermarks()`), held
    within the calendar (`within_calendar`)."""
    return {c: within_calendar(shifted(at, -lateness)) for c, at in newest.items()}


def local_midnights(after: datetime, until: datetime) -> list[datetime]:
    """The local midnights in (after, until], oldest first (none beyond the calendar)."""
    found: list[datetime] = []
    try:
        day = after.astimezone(CHINA_STANDARD_TIME).date() + timedelta(days=1)
        while (midnight := datetime.combine(day, time(), CHINA_STANDARD_TIME)) <= until:
            found.append(midnight)
            day += timedelta(days=1)
    except OverflowError:  # the calendar ends (year 1 or 9999 in local time)
        pass
    return found


def evaluation_points(last: datetime | None, watermark: datetime) -> list[datetime]:
    """Where to evaluate a community's rules now: every local midnight since the last
    evaluation (since `CATCH_UP` before the watermark when there was none) and the watermark;
    nothing when the watermark has not moved."""
    if last is not None and watermark <= last:
        return []
    since = shifted(watermark, -CATCH_UP) if last is None else last
    return [*(m for m in local_midnights(since, watermark) if m < watermark), watermark]
