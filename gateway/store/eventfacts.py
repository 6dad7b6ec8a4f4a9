"""The `EventFactStore` protocol: what the event-based watermark rules read from stored events.

Each query is bounded by an event-time window (the rules look back a fixed span from the
watermark) and filters on the events table's own columns (kind, community, occurred_at: the
indexes every backend has), reading only the few body fields a rule needs.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol, cast

from schemas.codes import DoorState, VisitorAction

GATE_PASSES: Final[tuple[VisitorAction, ...]] = ("checked_in", "checked_out", "cancelled")
"""The visitor actions that follow a registration."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where an event's device stands (as the registry enriched the event)."""

    device_id: str
    building: str | None = None
    unit: str | None = None
    gate: str | None = None


@dataclass(frozen=True, slots=True)
class DoorStateFact:
    """A door sensor change; `door` is '' when the device names no door."""

    event_id: str
    at: datetime
    door: str
    state: DoorState
    place: Place


@dataclass(frozen=True, slots=True)
class VisitFact:
    """A visitor event: `valid_until` and `host_house` as the event carries them (a
    registration carries the validity; gate passes do not)."""

    event_id: str
    at: datetime
    visit_id: str
    action: VisitorAction
    valid_until: datetime | None
    host_house: str | None
    place: Place


def door_state_fact(
    event_id: str,
    at: datetime,
    device_id: str,
    door: str | None,
    state: str,
    building: str | None,
    unit: str | None,
    gate: str | None,
) -> DoorStateFact:
    """A fact from a row of `door_states` (both backends select these columns)."""
    place = Place(device_id, building, unit, gate)
    return DoorStateFact(event_id, at, door or "", cast(DoorState, state), place)


def visit_fact(
    event_id: str,
    at: datetime,
    device_id: str,
    visit_id: str,
    action: str,
    valid_until: str | None,
    host_house: str | None,
    building: str | None,
    unit: str | None,
    gate: str | None,
) -> VisitFact:
    """A fact from a row of the visitor queries (both backends select these columns; the body
    holds `valid_until` as ISO 8601 text)."""
    until = None if valid_until is None else datetime.fromisoformat(valid_until)
    place = Place(device_id, building, unit, gate)
    return VisitFact(event_id, at, visit_id, cast(VisitorAction, action), until, host_house, place)


class EventFactStore(Protocol):
    """Reads of stored events for the watermark rules; windows are closed: since <= t <= until."""

    async def door_states(
        self, community: str, since: datetime, until: datetime
    ) -> list[DoorStateFact]:
        """The community's door-state events in the window, in (time, event id) order."""

    async def visit_registrations(
        self, community: str, since: datetime, until: datetime
    ) -> list[VisitFact]:
        """The community's `registered` visitor events in the window (one per visitor)."""

    async def visit_passes(
        self, community: str, visit_ids: Sequence[str], since: datetime, until: datetime
    ) -> list[VisitFact]:
        """Check-ins, check-outs and cancellations of these visits in the window, in (time,
        event id) order."""
