"""Housing rules: `housing.suspected_group_rental` and `housing.vacant_activity`.

Suspected group rental, three signs, each its own dedup subject (so each is one ticket):
- a house: more distinct persons registered as living there used its unit door in
  `window_days` days than the house's declared `registered_occupants` + `margin`, and at
  least `min_users` (people resolve to a residency there, so the excess is the house's);
- a unit door: more distinct users (persons, or subjects resolving to none) than the
  occupants of all the unit's houses + `margin`, and at least `min_users`; a house's
  occupants are here the larger of its declared figure and its registered residents, so a
  figure the property left at 0 does not make every unit look crowded;
- a credential that opened one unit door more than `daily_opens` times a day on `heavy_days`
  days running (one card passed around).
Vacant activity: a house registered `vacant` with `events` access or face events at its unit
door in `days` days by subjects tied to it (a credential or ID hash of a person registered
there, or a residency inferred there); or an occupied house (not `vacant`, with registered
residents, at least one holding a credential, so it can be seen at all) with no sighting of
its residents for `silent_days` days from the last one (or from its registration).

Counting signs are judged on closed local days and reported once per episode, under the day
it began (`gateway.rules.windows`); a silence under the instant it began, when the watermark
passes its end + `silent_days` (a silence that began more than `SLACK_DAYS` before that is
not looked for: it was reported when it ended its 30th day).
"""

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import TypeVar

from gateway.rules.base import Finding, Rule
from gateway.rules.watermark import shifted
from gateway.rules.windows import DAY, SLACK_DAYS, episode_starts, judged_days
from gateway.store.residentfacts import HouseEvent, ResidentFactStore, day_end, day_start
from schemas.tickets import MAX_EVIDENCE_IDS

K = TypeVar("K", bound=tuple[str, ...])
V = TypeVar("V")

GROUP_RENTAL = "housing.suspected_group_rental"
VACANT_ACTIVITY = "housing.vacant_activity"


async def group_rental(
    store: ResidentFactStore, community: str, watermark: datetime, thresholds: Mapping[str, float]
) -> list[Finding]:
    """Episodes of crowded houses, crowded unit doors and shared cards."""
    judged = judged_days(watermark)
    return [
        *await _crowded_houses(store, community, judged, thresholds),
        *await _crowded_doors(store, community, judged, thresholds),
        *await _shared_cards(store, community, judged, thresholds),
    ]


async def _crowded_houses(
    store: ResidentFactStore, community: str, judged: list[date], thresholds: Mapping[str, float]
) -> list[Finding]:
    window, margin = int(thresholds["window_days"]), int(thresholds["margin"])
    ends = [judged[0] - DAY, *judged]
    crowded: dict[tuple[str, str, str], dict[date, tuple[int, int]]] = defaultdict(dict)
    for house in await store.house_users(community, ends, window, int(thresholds["min_users"])):
        if house.users > house.registered_occupants + margin:
            key = (house.house_code, house.building, house.unit)
            crowded[key][house.end_day] = (house.users, house.registered_occupants)
    return [
        _rental(
            community,
            f"house:{code}",
            start,
            (building, unit, code),
            f"{window}天内有{users}名登记居住人员使用单元门，超过该户登记居住人数{occupants}人",
            f"{users} persons registered there used the unit door in {window} days; the house"
            f" declares {occupants} occupants",
        )
        for (code, building, unit), start, (users, occupants) in _starts(crowded, judged)
    ]


async def _crowded_doors(
    store: ResidentFactStore, community: str, judged: list[date], thresholds: Mapping[str, float]
) -> list[Finding]:
    window, margin = int(thresholds["window_days"]), int(thresholds["margin"])
    ends = [judged[0] - DAY, *judged]
    doors: dict[tuple[str, str], dict[date, tuple[int, int]]] = defaultdict(dict)
    for door in await store.unit_users(community, ends, window, int(thresholds["min_users"])):
        if door.users > door.occupants + margin:
            doors[(door.building, door.unit)][door.end_day] = (door.users, door.occupants)
    return [
        _rental(
            community,
            f"unit:{building}:{unit}",
            start,
            (building, unit, None),
            f"{window}天内有{users}人使用单元门，超过本单元登记居住人数{occupants}人",
            f"{users} people used the unit door in {window} days; the unit's houses have"
            f" {occupants} occupants",
        )
        for (building, unit), start, (users, occupants) in _starts(doors, judged)
    ]


def _starts(by_key: Mapping[K, Mapping[date, V]], judged: list[date]) -> list[tuple[K, date, V]]:
    """(key, day, value) where a key's run of qualifying days (those it has a value for)
    begins on a judged day."""
    return [
        (key, start, days[start])
        for key, days in sorted(by_key.items())
        for start in episode_starts(days.__contains__, judged)
    ]


async def _shared_cards(
    store: ResidentFactStore, community: str, judged: list[date], thresholds: Mapping[str, float]
) -> list[Finding]:
    run, opens = int(thresholds["heavy_days"]), int(thresholds["daily_opens"])
    heavy: dict[tuple[str, str, str], dict[date, int]] = defaultdict(dict)
    first = judged[0] - DAY - timedelta(days=run - 1)
    for day in await store.heavy_days(community, first, judged[-1], opens):
        heavy[(day.subject_key, day.building, day.unit)][day.day] = day.opens
    running: dict[tuple[str, str, str], dict[date, int]] = defaultdict(dict)
    for key, counts in heavy.items():
        for end in [judged[0] - DAY, *judged]:
            days = [counts.get(end - timedelta(days=n)) for n in range(run)]
            if all(count is not None for count in days):
                running[key][end] = min(count for count in days if count is not None)
    return [
        _rental(
            community,
            f"card:{subject}",
            start,
            (building, unit, None),
            f"同一门禁卡连续{run}天每天开启单元门均超过{opens}次（最少一天{least}次）",
            f"one card opened the unit door more than {opens} times a day on {run} days"
            f" running (at least {least})",
        )
        for (subject, building, unit), start, least in _starts(running, judged)
    ]


def _rental(
    community: str,
    subject: str,
    day: date,
    place: tuple[str, str, str | None],
    situation: str,
    situation_en: str,
) -> Finding:
    """A group-rental sign's episode that began on `day`, at (building, unit, house code)."""
    building, unit, house_code = place
    return Finding(
        rule=GROUP_RENTAL,
        community=community,
        subject=subject,
        occurrence=day.isoformat(),
        detected_at=day_end(day),
        first_at=day_start(day),
        last_at=day_end(day),
        building=building,
        unit=unit,
        house_code=house_code,
        facts={"situation": situation, "situation_en": situation_en},
    )


async def vacant_activity(
    store: ResidentFactStore, community: str, watermark: datetime, thresholds: Mapping[str, float]
) -> list[Finding]:
    """Episodes of activity at vacant houses, and silences of occupied ones."""
    return [
        *await _vacant_used(store, community, watermark, thresholds),
        *await _occupied_silent(store, community, watermark, thresholds),
    ]


async def _vacant_used(
    store: ResidentFactStore, community: str, watermark: datetime, thresholds: Mapping[str, float]
) -> list[Finding]:
    span, need = int(thresholds["days"]), int(thresholds["events"])
    judged = judged_days(watermark)
    since = day_start(judged[0] - DAY - timedelta(days=span - 1))
    by_house: dict[str, list[HouseEvent]] = defaultdict(list)
    for event in await store.vacant_house_events(community, since, day_end(judged[-1])):
        by_house[event.house_code].append(event)
    findings = []
    for code, events in sorted(by_house.items()):

        def inside(day: date, events: list[HouseEvent] = events) -> list[HouseEvent]:
            start, end = day_start(day - timedelta(days=span - 1)), day_end(day)
            return [e for e in events if start <= e.occurred_at < end]

        for day in episode_starts(lambda d: len(inside(d)) >= need, judged):
            seen = inside(day)
            findings.append(
                Finding(
                    rule=VACANT_ACTIVITY,
                    community=community,
                    subject=f"house:{code}",
                    occurrence=f"vacant:{day.isoformat()}",
                    detected_at=day_end(day),
                    event_ids=tuple(e.event_id for e in seen[-MAX_EVIDENCE_IDS:]),
                    first_at=seen[0].occurred_at,
                    last_at=seen[-1].occurred_at,
                    building=seen[0].building,
                    unit=seen[0].unit,
                    house_code=code,
                    facts={
                        "situation": f"登记为空置，但{span}天内有{len(seen)}次出入记录",
                        "situation_en": f"registered vacant, but {len(seen)} door events in "
                        f"{span} days",
                    },
                )
            )
    return findings


async def _occupied_silent(
    store: ResidentFactStore, community: str, watermark: datetime, thresholds: Mapping[str, float]
) -> list[Finding]:
    silent = timedelta(days=thresholds["silent_days"])
    since = watermark - silent - timedelta(days=SLACK_DAYS)
    findings = []
    for house in await store.occupied_house_activity(community, since, watermark):
        if house.last_seen is not None:
            start = max(house.last_seen, house.registered_at)
        elif house.registered_at >= since:
            start = house.registered_at
        else:
            continue  # silent since before the window: reported when the silence ended
        deadline = shifted(start, silent)
        if deadline > watermark:
            continue
        days = round(silent.total_seconds() / 86_400)
        findings.append(
            Finding(
                rule=VACANT_ACTIVITY,
                community=community,
                subject=f"house:{house.house_code}",
                occurrence=f"silent:{start.isoformat()}",
                detected_at=deadline,
                first_at=start,
                last_at=deadline,
                building=house.building,
                unit=house.unit,
                house_code=house.house_code,
                facts={
                    "situation": f"登记有人居住，但已连续{days}天无住户出入记录",
                    "situation_en": f"registered as lived in, but no resident seen for {days} days",
                },
            )
        )
    return findings


RULES: tuple[Rule, ...] = (
    Rule(
        code=GROUP_RENTAL,
        category="housing",
        timing="watermark",
        thresholds={
            "window_days": 7.0,
            "margin": 3.0,
            "min_users": 6.0,
            "daily_opens": 10.0,
            "heavy_days": 3.0,
        },
        evaluate=group_rental,
        title="疑似群租房",
        description="{address}：{situation}，疑似群租，请网格员会同派出所上门核查。",
        summary_en="Suspected group rental at {address}: {situation_en}.",
    ),
    Rule(
        code=VACANT_ACTIVITY,
        category="housing_info",
        timing="watermark",
        thresholds={"events": 3.0, "days": 3.0, "silent_days": 30.0},
        evaluate=vacant_activity,
        title="房屋使用状态与登记不符",
        description="{address}：{situation}，请网格员核实并更新房屋信息。",
        summary_en="House use differs from its registration at {address}: {situation_en}.",
    ),
)
