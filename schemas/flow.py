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


class FlowCounts(_Frozen):
    """One community's counts in one bucket, by the events' occurrence time."""

    community: str
    """The community's code."""
    bucket: UtcDatetime = Field(
        description="The bucket's first instant: a UTC hour, or a China Standard Time day's"
        " midnight (16:00 UTC the day before)."
    )
    people_in: int = Field(ge=0, description="Granted access passages with direction `in`.")
    people_out: int = Field(ge=0, description="Granted access passages with direction `out`.")
    vehicles_in: int = Field(ge=0, description="Vehicle passes with direction `in`.")
    vehicles_out: int = Field(ge=0, description="Vehicle passes with direction `out`.")
    faces: int = Field(ge=0, description="Face captures.")
    visitors: int = Field(ge=0, description="Visitor events with action `checked_in`.")
    alarms: int = Field(ge=0, description="Behaviour alarms.")


class FlowStats(_Frozen):
    """The counts per community and bucket over [since, until): the times asked for, widened
    to whole buckets. A bucket in which a community counted nothing is absent (read it as
    zeros). Never paged: `next_cursor` is null."""

    bucket: Literal["hour", "day"]
    """`hour` (UTC hours) or `day` (China Standard Time days)."""
    since: UtcDatetime = Field(description="The first bucket's first instant.")
    until: UtcDatetime = Field(description="The end of the last bucket (exclusive).")
    data: list[FlowCounts]
    """Ordered by bucket, then community."""
    next_cursor: None = None
    """Always null: the statistic is never paged."""
