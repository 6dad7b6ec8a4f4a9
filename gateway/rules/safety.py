"""Door safety: a door forced open (instant) and a door left open (watermark).

Both rules' subject is the door (device and door name), so a door forced again, or left open
again, while its ticket is open adds evidence to that ticket instead of opening another.
"""

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

from gateway.rules.base import Finding, InstantContext, Rule
from gateway.rules.evidence import event_finding, local_time, number
from gateway.rules.watermark import DEADLINE_SPAN, shifted
from gateway.store.eventfacts import DoorStateFact, EventFactStore
from schemas.events import DeviceEvent, DoorStateEvent

FORCED: Final = "safety.door_forced"
HELD_OPEN: Final = "safety.door_held_open"
OPEN_STATES: Final = frozenset({"opened", "held_open"})
"""States that start a door's open spell. `forced_open` belongs to `safety.door_forced`: it
starts no spell here, but the door is open after it, so open states that follow it (the
controller's held-open alarms while the forced door stays open) continue that incident and
start no spell either: a forced door makes one ticket, not two."""
LEFT_OPEN: Final = OPEN_STATES | {"forced_open"}
"""Every state after which the door is open, whichever rule the opening belongs to."""
SAME_SPELL: Final = timedelta(hours=1)
"""An open state at most this long after the door's previous open state, with no `closed`
between, continues that spell (controllers repeat their held-open alarm while the door stays
open); later, it starts a new one (a door open for hours adds evidence every hour)."""


def door_subject(device_id: str, door: str | None) -> str:
    """A door: its device and the device's name for it ('' when it names none)."""
    return f"{device_id}:{door or ''}"


def door_label(device_id: str, door: str | None) -> str:
    """How the texts name a door: its name, or its device when it has none."""
    return door or device_id


def door_forced(
    event: DeviceEvent, thresholds: Mapping[str, float], context: InstantContext
) -> Finding | None:
    """A door sensor reporting `forced_open`: opened without a credential or exit button."""
    if not isinstance(event, DoorStateEvent) or event.state != "forced_open":
        return None
    return event_finding(
        FORCED,
        event,
        door_subject(event.device_id, event.door),
        {"door": door_label(event.device_id, event.door)},
    )


async def door_held_open(
    store: EventFactStore, community: str, watermark: datetime, thresholds: Mapping[str, float]
) -> list[Finding]:
    """Open spells with no `closed` from that door within `minutes` of their start, whose
    deadline (start + `minutes`) the watermark passed in the last `DEADLINE_SPAN`.

    The occurrence is the event that started the spell, so re-evaluation adds nothing.
    """
    hold = timedelta(minutes=thresholds["minutes"])
    first_start = shifted(watermark, -(DEADLINE_SPAN + hold))
    states = await store.door_states(community, shifted(first_start, -SAME_SPELL), watermark)
    doors: defaultdict[tuple[str, str], list[DoorStateFact]] = defaultdict(list)
    for fact in states:
        doors[(fact.place.device_id, fact.door)].append(fact)
    found: list[Finding] = []
    for history in doors.values():
        for index, fact in enumerate(history):
            deadline = shifted(fact.at, hold)
            if fact.at <= first_start or deadline > watermark or not _starts_spell(history, index):
                continue
            if _closed_by(history, index, deadline):
                continue
            found.append(_held_open_finding(community, fact, deadline, thresholds["minutes"]))
    return found


def _starts_spell(history: list[DoorStateFact], index: int) -> bool:
    """Whether the state at `index` opens the door (rather than finding it already open, by
    an open spell or by force)."""
    fact = history[index]
    if fact.state not in OPEN_STATES:
        return False
    if index == 0:
        return True
    previous = history[index - 1]
    return previous.state not in LEFT_OPEN or fact.at - previous.at > SAME_SPELL


def _closed_by(history: list[DoorStateFact], index: int, deadline: datetime) -> bool:
    """Whether the door reported `closed` after `index`, by `deadline` (a forward scan that
    stops at the first state past the deadline: linear in the states it reads)."""
    for position in range(index + 1, len(history)):
        later = history[position]
        if later.at > deadline:
            return False
        if later.state == "closed":
            return True
    return False


def _held_open_finding(
    community: str, start: DoorStateFact, deadline: datetime, minutes: float
) -> Finding:
    place = start.place
    return Finding(
        rule=HELD_OPEN,
        community=community,
        subject=door_subject(place.device_id, start.door),
        occurrence=start.event_id,
        detected_at=deadline,
        event_ids=(start.event_id,),
        first_at=start.at,
        last_at=start.at,
        building=place.building,
        unit=place.unit,
        gate=place.gate,
        device_id=place.device_id,
        facts={
            "door": door_label(place.device_id, start.door),
            "at": local_time(start.at),
            "minutes": number(minutes),
        },
    )


RULES: Final = (
    Rule(
        code=FORCED,
        category="safety",
        timing="instant",
        thresholds={},
        evaluate=door_forced,
        title="门被强行打开：{address}",
        description=(
            "{at}，{address}的门（{door}）在未刷卡、未按开门按钮的情况下被强行打开。"
            "请物业立即到场核查门体、门锁与门禁设备，并查看监控确认原因。"
        ),
        summary_en="Door {door} at {address} was forced open at {at}.",
        kinds=frozenset({"door_state"}),
    ),
    Rule(
        code=HELD_OPEN,
        category="safety",
        timing="watermark",
        thresholds={"minutes": 5.0},
        evaluate=door_held_open,
        title="门长时间未关闭：{address}",
        description=(
            "{address}的门（{door}）自{at}起开启超过{minutes}分钟仍未关闭，"
            "存在安全隐患。请物业到场关门，并检查闭门器与门磁。"
        ),
        summary_en="Door {door} at {address} stayed open over {minutes} minutes from {at}.",
    ),
)
