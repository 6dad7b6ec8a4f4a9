"""The grid closed loop (上报 → 受理/立案 → 派遣 → 处置 → 核查结案) as data: which status may
follow which, and which side may make the move.

Two paths. A forwarded ticket: `detected` → `reported` (only the forwarder, when the platform
acknowledged it and gave its id) → `accepted` | `rejected` → `dispatched` → `handled` →
`closed`; the platform may also decide (`accepted` | `rejected` | `false_alarm`) on a ticket
still `detected` (its acknowledgement has not reached us yet), and the history then shows the
implied `reported` step (`IMPLIED`); a handling the platform's check does not accept goes
back to `dispatched`. A local ticket (its category stays with the property company, `forward`
False) skips the platform: `detected` → `dispatched` → `handled` → `closed`. On either,
`false_alarm` ends an open ticket once someone has looked at it, and `cancelled` (the
platform side's) ends any open ticket.

Sides: `platform` (the district's platform, the `gov` role; the admin key until keys with
roles exist), `property` (the property company: `dispatched`, `handled` and `false_alarm`, and
only on tickets whose responsible units include it), `forwarder` (the gateway's platform
client: `reported` only). The store applies a move only if the ticket is still where the check
saw it (`TicketStore.transition_ticket`), so a lost race is a conflict too.
"""

from collections.abc import Mapping
from typing import Final, Literal

from schemas.tickets import ResponsibleUnit, TicketStatus

Side = Literal["platform", "property", "forwarder"]

PLATFORM: Final = frozenset({"platform"})
BOTH: Final = frozenset({"platform", "property"})
FORWARDER: Final = frozenset({"forwarder"})

Moves = Mapping[TicketStatus, Mapping[TicketStatus, frozenset[str]]]
"""status → {next status → the sides that may make that move}."""

FORWARDED: Final[Moves] = {
    "detected": {
        "reported": FORWARDER,
        "accepted": PLATFORM,
        "rejected": PLATFORM,
        "false_alarm": PLATFORM,
        "cancelled": PLATFORM,
    },
    "reported": {
        "accepted": PLATFORM,
        "rejected": PLATFORM,
        "false_alarm": PLATFORM,
        "cancelled": PLATFORM,
    },
    "accepted": {"dispatched": BOTH, "false_alarm": BOTH, "cancelled": PLATFORM},
    "dispatched": {"handled": BOTH, "false_alarm": BOTH, "cancelled": PLATFORM},
    "handled": {"closed": PLATFORM, "dispatched": PLATFORM, "cancelled": PLATFORM},
}
"""The loop of a ticket sent to the grid platform; statuses not listed are final. The
platform may decide on a ticket still `detected`: it can accept the ticket as soon as it has
given it an id, before its answer (the id) reaches the gateway."""

IMPLIED: Final[Mapping[tuple[TicketStatus, TicketStatus], TicketStatus]] = {
    ("detected", "accepted"): "reported",
    ("detected", "rejected"): "reported",
    ("detected", "false_alarm"): "reported",
}
"""Forwarded moves that skip a step the platform made implicitly: (from, to) → the step in
between, kept in the history first (actor `platform`)."""

LOCAL: Final[Moves] = {
    "detected": {"dispatched": BOTH, "false_alarm": BOTH, "cancelled": PLATFORM},
    "dispatched": {"handled": BOTH, "false_alarm": BOTH, "cancelled": PLATFORM},
    "handled": {"closed": PLATFORM, "dispatched": PLATFORM, "cancelled": PLATFORM},
}
"""The loop of a ticket kept with the property company (never sent)."""

PROPERTY_SIDE_UNIT: Final = "property"


class IllegalTransitionError(Exception):
    """A move the loop or the side does not allow; `allowed` lists what this side may post
    from `current` on this ticket (the API answers 409 with it)."""

    def __init__(
        self, current: TicketStatus, to: TicketStatus, allowed: tuple[TicketStatus, ...]
    ) -> None:
        super().__init__(
            f"a ticket in {current} cannot go to {to}; allowed: {', '.join(allowed) or 'nothing'}"
        )
        self.current = current
        self.to = to
        self.allowed = allowed


def moves_of(forward: bool) -> Moves:
    return FORWARDED if forward else LOCAL


def next_statuses(
    current: TicketStatus,
    *,
    forward: bool,
    side: Side,
    units: tuple[ResponsibleUnit, ...],
) -> tuple[TicketStatus, ...]:
    """The statuses `side` may post on a ticket in `current` (the loop's order)."""
    if side == "property" and not any(unit.type == PROPERTY_SIDE_UNIT for unit in units):
        return ()
    options = moves_of(forward).get(current, {})
    return tuple(status for status, sides in options.items() if side in sides)


def check_transition(
    current: TicketStatus,
    to: TicketStatus,
    *,
    forward: bool,
    side: Side,
    units: tuple[ResponsibleUnit, ...],
) -> None:
    """Nothing when `side` may move the ticket from `current` to `to`; else
    `IllegalTransitionError` naming what it may do."""
    allowed = next_statuses(current, forward=forward, side=side, units=units)
    if to not in allowed:
        raise IllegalTransitionError(current, to, allowed)


def implied_step(current: TicketStatus, to: TicketStatus, *, forward: bool) -> TicketStatus | None:
    """The status a legal move from `current` to `to` passes through (history only), if any."""
    return IMPLIED.get((current, to)) if forward else None


def is_final(status: TicketStatus, forward: bool) -> bool:
    """No move leaves `status`: the ticket's loop is over."""
    return not moves_of(forward).get(status)
