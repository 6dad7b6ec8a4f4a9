"""Vehicle rules: a watch-listed plate passes (`vehicle.watchlist`, instant), a non-resident
vehicle stays (`vehicle.long_stay`), a non-resident plate keeps coming at night
(`vehicle.unregistered_frequent`).

A non-resident (unregistered) vehicle is a plate that is no registered vehicle of the
community in the pass's colour (or in any colour, when the camera read none). A stay ends at
the plate's next pass in either direction: an exit, or an entry that shows it left unseen.
Nights run 19:00 to 08:00 local (`gateway.store.observations.is_night`) and belong to the day
they began on; a night closes at 08:00, and an episode of frequent nights is reported once,
under the night it began, when the watermark passes that night's end
(`gateway.rules.windows`).
"""

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime, timedelta

from gateway.rules.base import Finding, InstantContext, Rule
from gateway.rules.watermark import shifted
from gateway.rules.windows import (
    DAY,
    NIGHT_SHIFT,
    SLACK_DAYS,
    frequent_starts,
    judged_days,
    night_end,
    night_of,
)
from gateway.store.observations import is_night
from gateway.store.residentfacts import ResidentFactStore, VehicleEntry, day_start
from schemas.events import DeviceEvent, VehiclePass
from schemas.tickets import MAX_EVIDENCE_IDS

WATCHLIST = "vehicle.watchlist"
LONG_STAY = "vehicle.long_stay"
UNREGISTERED_FREQUENT = "vehicle.unregistered_frequent"


def watchlist(
    event: DeviceEvent, thresholds: Mapping[str, float], context: InstantContext
) -> Finding | None:
    """A pass of a plate on the watch-list, in the listed colour when both are known, while
    the entry has not expired at the pass's time."""
    if not isinstance(event, VehiclePass) or not event.plate_no:
        return None
    entry = context.watchlist.get(event.plate_no)
    if entry is None or (entry.until is not None and entry.until <= event.occurred_at):
        return None
    known = entry.plate_color and event.plate_color != "unknown"
    if known and entry.plate_color != event.plate_color:
        return None
    return Finding(
        rule=WATCHLIST,
        community=event.community,
        subject=event.plate_no,
        occurrence=event.event_id,
        detected_at=event.occurred_at,
        event_ids=(event.event_id,),
        image_urls=(event.image_url,) if event.image_url else (),
        first_at=event.occurred_at,
        last_at=event.occurred_at,
        building=event.building,
        gate=event.gate,
        device_id=event.device_id,
        facts={"plate": event.plate_no, "direction": _DIRECTIONS[event.direction]},
    )


_DIRECTIONS = {"in": "驶入", "out": "驶出", "unknown": "经过"}


async def long_stay(
    store: ResidentFactStore, community: str, watermark: datetime, thresholds: Mapping[str, float]
) -> list[Finding]:
    """Non-resident entries not followed by another pass of the plate within `hours`, whose
    deadline the watermark has passed (the last `SLACK_DAYS` days of deadlines re-judged)."""
    stay = timedelta(hours=thresholds["hours"])
    entered_until = watermark - stay
    since = entered_until - timedelta(days=SLACK_DAYS)
    findings = []
    for entry in await store.vehicle_entries(community, since, entered_until, watermark):
        deadline = shifted(entry.occurred_at, stay)
        if entry.next_at is not None and entry.next_at <= deadline:
            continue
        findings.append(
            Finding(
                rule=LONG_STAY,
                community=community,
                subject=entry.plate_no,
                occurrence=entry.event_id,
                detected_at=deadline,
                event_ids=(entry.event_id,),
                image_urls=(entry.image_url,) if entry.image_url else (),
                first_at=entry.occurred_at,
                last_at=entry.occurred_at,
                gate=entry.gate,
                device_id=entry.device_id,
                facts={"plate": entry.plate_no, "hours": round(stay.total_seconds() / 3600)},
            )
        )
    return findings


async def unregistered_frequent(
    store: ResidentFactStore, community: str, watermark: datetime, thresholds: Mapping[str, float]
) -> list[Finding]:
    """Episodes of a non-resident plate entering on `min_nights` of `window_nights` nights."""
    window, need = int(thresholds["window_nights"]), int(thresholds["min_nights"])
    judged = judged_days(watermark - NIGHT_SHIFT)
    first = judged[0] - DAY - timedelta(days=window - 1)
    until = night_end(judged[-1])
    by_plate: dict[str, list[VehicleEntry]] = defaultdict(list)
    for entry in await store.night_entries(community, day_start(first), until):
        if is_night(entry.occurred_at):  # the store's filter, stated where nights are defined
            by_plate[entry.plate_no].append(entry)
    findings = []
    for plate, entries in sorted(by_plate.items()):
        nights = {night_of(entry.occurred_at) for entry in entries}
        for start in frequent_starts(nights, judged, window, need):
            findings.append(_frequent(community, plate, entries, start, window))
    return findings


def _frequent(
    community: str, plate: str, entries: list[VehicleEntry], night: date, window: int
) -> Finding:
    """The episode that began on `night`: the entries of its window, the latest placing it."""
    since = night - timedelta(days=window - 1)
    inside = [e for e in entries if since <= night_of(e.occurred_at) <= night]
    latest = inside[-1]
    return Finding(
        rule=UNREGISTERED_FREQUENT,
        community=community,
        subject=plate,
        occurrence=night.isoformat(),
        detected_at=night_end(night),
        event_ids=tuple(e.event_id for e in inside[-MAX_EVIDENCE_IDS:]),
        first_at=inside[0].occurred_at,
        last_at=latest.occurred_at,
        gate=latest.gate,
        device_id=latest.device_id,
        facts={
            "plate": plate,
            "nights": len({night_of(e.occurred_at) for e in inside}),
            "window_nights": window,
        },
    )


RULES: tuple[Rule, ...] = (
    Rule(
        code=WATCHLIST,
        category="public_security",
        timing="instant",
        thresholds={},
        evaluate=watchlist,
        title="布控车辆{plate}出现",
        description="布控名单车辆{plate}于{address}{direction}，请派出所立即核查处置。",
        summary_en="Watch-listed vehicle {plate} passed {address}.",
        kinds=frozenset({"vehicle_pass"}),
    ),
    Rule(
        code=LONG_STAY,
        category="city_management",
        timing="watermark",
        thresholds={"hours": 72.0},
        evaluate=long_stay,
        title="外来车辆{plate}长时间滞留",
        description=(
            "非本小区登记车辆{plate}自{address}驶入后已超过{hours}小时未驶出，请物业核查车辆情况。"
        ),
        summary_en=(
            "Unregistered vehicle {plate} entered at {address} and has not left for more than "
            "{hours} hours."
        ),
    ),
    Rule(
        code=UNREGISTERED_FREQUENT,
        category="vehicle_registration",
        timing="watermark",
        thresholds={"min_nights": 4.0, "window_nights": 7.0},
        evaluate=unregistered_frequent,
        title="外来车辆{plate}频繁夜间进入",
        description=(
            "非本小区登记车辆{plate}在{window_nights}晚内有{nights}晚于夜间（19:00至次日8:00）"
            "驶入小区（{address}），请物业核实车主是否为实际居住人员并办理车辆登记。"
        ),
        summary_en=(
            "Unregistered vehicle {plate} entered at night on {nights} of {window_nights} "
            "nights (last at {address})."
        ),
    ),
)
