"""What a rule is and what it finds: rules are data (code, category, thresholds, evaluate).

A rule never writes anything: it returns `Finding`s, which `gateway.tickets` turns into ticket
drafts (category, routing, texts) and the store turns into tickets, exactly once per
(dedup key, occurrence) however often the same evidence is evaluated.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from schemas.devices import Device
from schemas.events import DeviceEvent, EventKind
from schemas.tickets import WatchlistEntry

if TYPE_CHECKING:  # the store package is heavy, and the rules need only the type
    from gateway.store.tickets import TicketDraft

Timing = Literal["instant", "watermark", "clock"]
"""When a rule runs: on each newly stored event (`instant`), when a community's watermark
passes a deadline or a window closes (`watermark`, event time), or on the gateway's own clock
(`clock`: only `device.offline`)."""

FactValue = str | int | float


@dataclass(frozen=True, slots=True)
class Finding:
    """One firing of a rule: what, where, when (event time) and on which evidence.

    `subject` with `rule` makes the dedup key (one open ticket per key); `occurrence` says which
    firing this is, so evaluating the same evidence twice (a restart, a second process, a
    redelivered event) adds nothing: an event id for instant rules, the deadline or the local
    day for watermark rules. `facts` fill the rule's text templates; they never hold personal
    data (masked values only, where a person must be named).
    """

    rule: str
    community: str
    subject: str
    occurrence: str
    detected_at: datetime
    event_ids: tuple[str, ...] = ()
    image_urls: tuple[str, ...] = ()
    first_at: datetime | None = None
    last_at: datetime | None = None
    building: str | None = None
    unit: str | None = None
    house_code: str | None = None
    gate: str | None = None
    device_id: str | None = None
    facts: Mapping[str, FactValue] = field(default_factory=dict)

    @property
    def dedup_key(self) -> str:
        return f"{self.rule}:{self.community}:{self.subject}"


@dataclass(frozen=True, slots=True)
class InstantContext:
    """What instant rules may consult besides the event: the watch-list as this process last
    loaded it (plate number → entry; reloaded on every change through this process's API and
    every `SCGW_RULES_INTERVAL_S` from the database, for changes made through another)."""

    watchlist: Mapping[str, WatchlistEntry] = field(default_factory=dict)


InstantEvaluate = Callable[[DeviceEvent, Mapping[str, float], InstantContext], Finding | None]
"""An instant rule: one newly stored event (never a redelivered one) → a finding or None."""

WatermarkEvaluate = Callable[[Any, str, datetime, Mapping[str, float]], Awaitable[list[Finding]]]
"""A watermark rule: (the store, community, watermark, thresholds) → findings whose deadline or
window the watermark has passed. It reads the store's fact queries (the store is typed `Any`
here so rule families can name the fact protocol they need), and must be idempotent: the same
evidence gives the same `occurrence`, so re-evaluation adds nothing."""

ClockEvaluate = Callable[[Device, datetime, Mapping[str, float]], Finding | None]
"""A clock rule (`device.offline`): a device the silent-device watch reports offline too long."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule, declared as data (Home Assistant's entity descriptions are the model).

    `thresholds` are the defaults, overridable per rule in the TOML config under
    `[rules."<code>"]`; `title`, `description` (Chinese) and `summary_en` are `str.format`
    templates over the finding's `facts` plus `address` (the location in Chinese). `kinds`
    names the event kinds an instant rule looks at, so the ingest path calls it for those only
    (empty: every kind).
    """

    code: str
    category: str
    timing: Timing
    thresholds: Mapping[str, float]
    evaluate: InstantEvaluate | WatermarkEvaluate | ClockEvaluate
    title: str
    description: str
    summary_en: str
    kinds: frozenset[EventKind] = frozenset()


class Drafter(Protocol):
    """What turns findings into ticket drafts (`gateway.tickets.TicketDrafter`): category,
    routing and texts."""

    def draft(self, finding: Finding) -> "TicketDraft": ...
