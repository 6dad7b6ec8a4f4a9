"""Rows an earlier release stored, brought under today's rules (the data migration).

The release before the allow-list (e3e563c) stored what its rules let through: dead-letter
excerpts redacted by a deny-list, so personal data under unlisted keys is in them verbatim;
events whose device id holds a phone number or a space, whose names hold markup or a person,
whose time is year 9999; devices registered with names, dialects and kinds the registry now
refuses. SQL cannot re-check those rows (the rules are Python: `schemas.identifiers`,
`schemas.screening`, `gateway.pipeline.PlausibleTime`, `schemas.devices.DialectKinds`), so the
stores run this step as migration `DATA_MIGRATION` (recorded in `schema_migrations` like the
SQL ones, in the same transaction as its changes). Decisions:

- An old dead letter keeps its reason, time, size and (shareable) topic; its excerpt, which
  cannot be re-rendered as a shape without the raw payload (never kept), becomes
  `OLD_EXCERPT_MARKER`.
- An event is re-validated; names the screen now drops are dropped from its stored body (the
  body lists them in `dropped_fields`). An event the rules refuse outright (an invalid or
  personal device id, an implausible time) is deleted and replaced by a dead letter
  `refused_on_upgrade` naming the rule broken, with no value: nothing vanishes without a
  trace, and nothing personal stays.
- A device keeps its registration with the optional names that break the rules dropped (a
  unit goes with its building). A device that cannot be fixed (an invalid or personal id, an
  unknown dialect, a kind its dialect does not serve) leaves the registry, with the same kind
  of dead letter; the store logs one line per rule with the number of devices.
"""

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pydantic import ValidationError

from adapters.base import validation_detail
from gateway.config import GatewayConfig, Settings
from gateway.errors import PayloadError
from gateway.messages import DeadLetter
from gateway.store.migrations import DATA_MIGRATIONS
from schemas.devices import Device, DialectKinds
from schemas.events import DeviceEvent, device_event_adapter

logger = logging.getLogger(__name__)

DATA_MIGRATION: Final = DATA_MIGRATIONS[0]
"""The version under which the stores record this step."""
REFUSED_ON_UPGRADE: Final = "refused_on_upgrade"
UPGRADE_TOPIC: Final = "(upgrade)"
"""The topic of the letters this step writes: the rows it removed came from no message."""
OLD_EXCERPT_MARKER: Final = (
    "(removed on upgrade: an earlier release kept this excerpt by a deny-list; the payload's"
    " shape cannot be rebuilt)"
)
FIXABLE_DEVICE_FIELDS: Final = (
    "building",
    "unit",
    "gate",
    "door",
    "location",
    "firmware",
    "parent",
)
"""Optional registration fields a device can do without: dropped when they break a rule."""
CHUNK: Final = 1000


@dataclass(frozen=True, slots=True)
class RowRules:
    """Today's rules for stored rows: the plausible-time window (`gateway.pipeline.PlausibleTime`,
    raising `PayloadError`) and the dialects' kinds."""

    window: Callable[[DeviceEvent], DeviceEvent]
    kinds: DialectKinds

    @classmethod
    def of(cls, settings: Settings, config: GatewayConfig) -> "RowRules":
        """The rules of a gateway with these settings and configuration."""
        # gateway.pipeline reaches the store package through gateway.devices: imported late.
        from gateway.pipeline import PlausibleTime  # noqa: PLC0415

        return cls(PlausibleTime.from_settings(settings), config.dialect_kinds())

    @classmethod
    def defaults(cls) -> "RowRules":
        """The default window and the built-in dialects (no configured ones)."""
        from gateway.pipeline import PlausibleTime  # noqa: PLC0415

        ahead = Settings.model_fields["event_max_ahead_s"].default
        age = Settings.model_fields["event_max_age_days"].default
        window = PlausibleTime(timedelta(seconds=ahead), timedelta(days=age))
        return cls(window, GatewayConfig().dialect_kinds())


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a stored row cannot stay: the rule it breaks, never its value."""

    rule: str


def screen_event(body: object, rules: RowRules) -> str | Refusal:
    """The event's body as today's models write it, or why it cannot stay."""
    try:
        event = (
            device_event_adapter.validate_json(body)
            if isinstance(body, str | bytes)
            else device_event_adapter.validate_python(body)
        )
    except ValidationError as exc:
        return Refusal(f"breaks the event rules: {validation_detail(exc)}")
    try:
        rules.window(event)
    except PayloadError as exc:
        return Refusal(f"implausible_time: {exc.detail}")
    return event.model_dump_json()


def screen_device(
    fields: dict[str, Any], rules: RowRules
) -> tuple[dict[str, Any], list[str]] | Refusal:
    """The device's fields with what breaks a rule dropped, and the names of those dropped;
    or why the device cannot stay registered."""
    fixed = dict(fields)
    dropped: list[str] = []
    for _ in FIXABLE_DEVICE_FIELDS:  # each pass drops at least one field or ends
        try:
            device = Device.model_validate(fixed)
        except ValidationError as exc:
            bad = _fixable_fields(exc, fixed)
            if not bad:
                return Refusal(f"breaks the registration rules: {validation_detail(exc)}")
            for name in bad:
                fixed[name] = None
            dropped.extend(bad)
            continue
        problem = rules.kinds.problem(device.dialect, device.kind)
        if problem is not None:
            return Refusal(f"{problem[0]} {problem[1]}")
        return fixed, sorted(dropped)
    return Refusal("breaks the registration rules")


def _fixable_fields(exc: ValidationError, fields: dict[str, Any]) -> list[str]:
    """Optional fields named by the errors; a unit whose building is gone goes with it."""
    names = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
    bad: list[str] = [
        name for name in FIXABLE_DEVICE_FIELDS if name in names and fields.get(name) is not None
    ]
    model_level = any(not error["loc"] for error in exc.errors())
    if model_level and fields.get("unit") is not None and "unit" not in bad:
        bad.append("unit")  # "a unit needs its building"
    return bad


@dataclass(slots=True)
class UpgradeReport:
    """What the step changed, by table and outcome; logged once it commits."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def count(self, table: str, outcome: str, n: int = 1) -> None:
        if n:
            self.counts[(table, outcome)] += n

    def log(self) -> None:
        for (table, outcome), n in sorted(self.counts.items()):
            level = logging.WARNING if outcome.startswith("removed") else logging.INFO
            logger.log(level, "upgrade %s: %s: %d %s", DATA_MIGRATION, table, n, outcome)


def refusal_letter(what: str, refusal: Refusal, size: int, now: datetime) -> DeadLetter:
    """The trace a removed row leaves: what it was and the rule it broke, with no value."""
    return DeadLetter(
        received_at=now,
        topic=UPGRADE_TOPIC,
        reason=REFUSED_ON_UPGRADE,
        detail=f"{what} removed: {refusal.rule}",
        payload_excerpt="(no values kept)",
        payload_bytes=size,
    )


def old_letter(topic: str, detail: str) -> DeadLetter:
    """An old dead letter's topic and detail as a new letter would hold them."""
    return DeadLetter(
        received_at=datetime.now(UTC),
        topic=topic,
        reason="",
        detail=detail,
        payload_excerpt=OLD_EXCERPT_MARKER,
        payload_bytes=0,
    )
