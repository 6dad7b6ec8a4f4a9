"""`GET /v1/stats/flow`: people, vehicles, faces, visitors and alarms per community and bucket.

Counts only, from the gateway's hourly rollup of newly stored events: no person, credential,
plate or device is named, so any key that may read its communities' dashboard may read them.
"""

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import UtcDatetime

MAX_HOURS: Final = 31 * 24
"""`bucket=hour` answers at most this many hours (31 days) at once."""

MAX_DAYS: Final = 366
"""`bucket=day` answers at most this many days at once."""

DEFAULT_DAYS: Final = 7
"""Without `since`, the answer covers this many days up to `until`."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class FlowSeries(_Frozen):
    """One community's counts, one per bucket of `FlowStats.buckets` (zeros included), by the
    events' occurrence time."""

    community: str
    """The community's code."""
    people_in: list[int] = Field(description="Granted access passages with direction `in`.")
    people_out: list[int] = Field(description="Granted access passages with direction `out`.")
    vehicles_in: list[int] = Field(description="Vehicle passes with direction `in`.")
    vehicles_out: list[int] = Field(description="Vehicle passes with direction `out`.")
    faces: list[int] = Field(description="Face captures.")
    visitors: list[int] = Field(description="Visitor events with action `checked_in`.")
    alarms: list[int] = Field(description="Behaviour alarms.")


class FlowStats(_Frozen):
    """The counts per community and bucket over [since, until): the times asked for, widened
    to whole buckets. Each community's measures are series of one count per bucket, in the
    order of `buckets` (so a district's week of hours is 141 series of 168, not 23,688 rows);
    a community that counted nothing in the range is absent. Never paged: `next_cursor` is
    null."""

    bucket: Literal["hour", "day"]
    """`hour` (UTC hours) or `day` (China Standard Time days)."""
    since: UtcDatetime = Field(description="The first bucket's first instant.")
    until: UtcDatetime = Field(description="The end of the last bucket (exclusive).")
    buckets: list[UtcDatetime] = Field(
        description="Every bucket's first instant, oldest first: a UTC hour, or a China Standard"
        " Time day's midnight (16:00 UTC the day before)."
    )
    communities: list[FlowSeries]
    """In community order."""
    next_cursor: None = None
    """Always null: the statistic is never paged."""
