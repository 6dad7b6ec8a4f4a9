"""Scenarios injected into the pilot communities' clean traffic, on accelerated event time.

`clean_traffic` is a community's normal life over a stretch of days ending at `end` with no
anomaly in it (`YidaTraffic(clean=True)`: no forced or held-open doors, no alarms, no outside
car staying or coming night after night), plus what keeps a clean week clean whatever the
traffic's density: every elderly resident living alone goes out in the morning and comes back
in the afternoon each day, and every device beats in the last `HEARTBEAT_TAIL` (a week of
heartbeats would be most of the messages; the watermark moves with the events anyway).

`scenario_traffic` merges scenarios into it: the background of each scenario's community
leaves out the residents whose story the scenario tells and the heartbeats of the devices it
kills. `live_heartbeats` continues every living device's heartbeat in real time after `end`,
so no device looks silent while a report waits for the rules.

`AcceleratedClock` is the publisher's clock for `--speed`: event time runs `speed` times as
fast as the wall clock. A replay whose messages end at `replay_end(now, span, speed)` starts
its clock at the replay's first moment: each message then leaves when the accelerated clock
reaches its time, which is never before the wall clock does, and the last leaves exactly at
the present (event times end at the present, never in the future).
"""

import heapq
import random
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from itertools import takewhile

from schemas.times import CHINA_STANDARD_TIME as CST
from simulators.community import Building, Community, House, Unit, pilot_community
from simulators.heartbeat import HeartbeatStream
from simulators.masterdata import community_master_data
from simulators.scenario_messages import IN_READER, OUT_READER, DoorUse, Emitter
from simulators.scenarios import ELDERLY_TAG, Scenario
from simulators.traffic import SimMessage
from simulators.yida_mix import HourlyRates, YidaTraffic

DAYS = 7
"""A simulated week: the longest window a rule looks back over."""
HEARTBEAT_TAIL = timedelta(minutes=6)
"""The stretch before `end` in which every device beats: longer than the longest interval
between two beats (five minutes), so every device is heard from near the end."""
BACKGROUND_SCALE = 0.08
"""The background's density against a real community's (`HourlyRates`): a week of both
communities is then about 26,000 messages, which a test or the demo replays in seconds."""
ROUTINE_SLOT = 99
"""The elderly residents' daily routine numbers its door events from this emitter slot."""


def without_residents(community: Community, person_refs: frozenset[str]) -> Community:
    """The community with these residents taken out of their houses (their story is told by
    a scenario, so the live streams must not play them)."""
    if not person_refs:
        return community

    def house(h: House) -> House:
        kept = tuple(r for r in h.residents if r.person_ref not in person_refs)
        return h if len(kept) == len(h.residents) else replace(h, residents=kept)

    buildings = tuple(
        Building(b.code, tuple(Unit(u.code, tuple(house(h) for h in u.houses)) for u in b.units))
        for b in community.buildings
    )
    return replace(community, buildings=buildings)


def elderly_routine(
    community: Community, seed: int, start: datetime, end: datetime, skip: frozenset[str]
) -> list[SimMessage]:
    """Each elderly resident living alone (but those in `skip`) goes out through their unit
    door between 08:00 and 10:00 and comes back between 15:00 and 17:00, every day."""
    data = community_master_data(community, seed)
    emit = Emitter(community, ROUTINE_SLOT)
    rng = random.Random(f"{community.code}:{seed}:routine")
    messages: list[SimMessage] = []
    first: date = start.astimezone(CST).date()
    last: date = end.astimezone(CST).date()
    for occupant in data.occupants:
        if ELDERLY_TAG not in occupant.tags or occupant.resident.person_ref in skip:
            continue
        door = emit.unit_door(occupant.building, occupant.unit)
        day = first
        while day <= last:
            for reader, hour in ((OUT_READER, 8), (IN_READER, 15)):
                moment = datetime.combine(day, datetime.min.time(), CST) + timedelta(
                    hours=hour, seconds=rng.randint(0, 7200)
                )
                if start <= moment < end:
                    use = DoorUse(occupant.resident, reader, by_face=rng.random() < 0.5)
                    messages.append(emit.passage(door, moment, use))
            day += timedelta(days=1)
    messages.sort(key=lambda m: m.at)
    return messages


def clean_traffic(
    community: Community,
    seed: int,
    end: datetime,
    *,
    days: int = DAYS,
    scale: float = BACKGROUND_SCALE,
    quiet_persons: frozenset[str] = frozenset(),
    dead_devices: Mapping[str, datetime] | None = None,
    clean: bool = True,
) -> Iterator[SimMessage]:
    """The community's traffic over the `days` days before `end`, in event-time order: clean
    (no anomalies of its own) unless `clean` is False.

    `quiet_persons` are left out of the live streams and the routine; `dead_devices` beat
    until the moment given (only within the heartbeat tail).
    """
    end = end.replace(microsecond=0)
    start = end - timedelta(days=days)
    dead = dict(dead_devices or {})
    life = YidaTraffic(
        without_residents(community, quiet_persons),
        seed,
        start,
        end - start,
        HourlyRates().scaled(scale),
        heartbeats=False,
        clean=clean,
    )
    beats_from = max(start, end - HEARTBEAT_TAIL)
    beats = (
        message
        for message in HeartbeatStream(
            community, random.Random(f"{community.code}:{seed}:tail"), beats_from
        )
        if _alive(message, dead)
    )
    return heapq.merge(
        life.records(),
        elderly_routine(community, seed, start, end, quiet_persons),
        takewhile(lambda m: m.at < end, beats),
        key=lambda m: m.at,
    )


def _alive(message: SimMessage, dead: Mapping[str, datetime]) -> bool:
    device = message.topic.rsplit("/", 1)[-1]
    died = dead.get(device)
    return died is None or message.at < died


def scenario_traffic(
    scenarios: Iterable[Scenario],
    end: datetime,
    *,
    seed: int = 7,
    communities: Iterable[str] = ("yida", "jiaxin"),
    days: int = DAYS,
    scale: float = BACKGROUND_SCALE,
    clean: bool = True,
) -> Iterator[SimMessage]:
    """Every scenario's messages in its community's traffic (every community listed gets its
    traffic, with or without scenarios; clean unless `clean` is False), in event-time order,
    all before `end`.
    """
    chosen = list(scenarios)
    codes = list(dict.fromkeys([*communities, *(s.community for s in chosen)]))
    streams: list[Iterable[SimMessage]] = []
    for code in codes:
        mine = [s for s in chosen if s.community == code]
        quiet = frozenset().union(*(s.quiet_persons for s in mine))
        dead: dict[str, datetime] = {}
        for scenario in mine:
            dead.update(scenario.dead_devices)
        streams.append(
            clean_traffic(
                pilot_community(code, seed),
                seed,
                end,
                days=days,
                scale=scale,
                quiet_persons=quiet,
                dead_devices=dead,
                clean=clean,
            )
        )
        streams.append(sorted((m for s in mine for m in s.messages), key=lambda m: m.at))
    return heapq.merge(*streams, key=lambda m: m.at)


def live_heartbeats(
    scenarios: Iterable[Scenario],
    start: datetime,
    *,
    seed: int = 7,
    communities: Iterable[str] = ("yida", "jiaxin"),
) -> Iterator[SimMessage]:
    """Every device's heartbeat from `start` on, forever, but the devices the scenarios kill."""
    dead = {device for s in scenarios for device in s.dead_devices}
    streams = [
        HeartbeatStream(pilot_community(code, seed), random.Random(f"{code}:{seed}:live"), start)
        for code in communities
    ]
    merged = heapq.merge(*streams, key=lambda m: m.at)
    return (m for m in merged if m.topic.rsplit("/", 1)[-1] not in dead)


class AcceleratedClock:
    """Event time for a replay at `speed`: `start` when made, then `speed` seconds of event
    time per wall second (monotonic), so a replay from `start` publishes each message when
    this clock reaches its time and ends at its last message's time."""

    def __init__(self, start: datetime, speed: float) -> None:
        if not speed > 0:
            raise ValueError("speed must be positive")
        self.start = start
        self.speed = speed
        self._wall = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._wall) * self.speed)


def replay_end(now: datetime, span: timedelta, speed: float | None) -> datetime:
    """The event time a replay of `span` at `speed` must end at, so that, started `now` with
    an `AcceleratedClock(end - span, speed)`, every message is sent no earlier than its event
    time and the last one exactly at it: `now + span / speed` (None, flat out: `now`)."""
    return now if speed is None else now + span / speed
