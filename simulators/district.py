"""The whole district, simulated: Wangcheng's communities, their people, devices and traffic.

`District(communities, scale, seed)` stands for the first `communities` of the district's 141
(`simulators.district_layout`: 1 is Yida Town, 2 Jiaxin Times Square, the rest generated).
Each community is built by the same `simulators.community.generate_community` the pilots use,
its master data by `simulators.masterdata.community_master_data` and its traffic by
`simulators.yida_mix.YidaTraffic`, so everything the per-community simulators promise holds for
every community (master data consistent with the traffic, deterministic for a seed); the
district adds what only a district has: one grid map, one gateway configuration, ID numbers
unique across communities (each generated community draws its ID numbers' sequence codes
from a residue class of its own, and none a pilot resident holds), a daily rhythm, and a
traffic density set by the wall rate and the time acceleration asked for.

Traffic density: by default life-like, `YidaTraffic`'s hourly rates scaled by each community's
houses (the district at scale 1 makes about 450 messages a second in event time on the day's
mean, 130 of them heartbeats). With `rate` (messages per wall second) and `speed` (event
seconds per wall second), the event streams are scaled so that the whole district's messages
per event hour are `rate * 3600 / speed` on the day's mean: a publisher pacing `rate` then
advances event time about `speed` times faster than the wall clock (faster at night, slower
at the peaks, as the daily rhythm thins the night).

Generating a community draws every person: about 0.2 s per 1,000 residents here, so the whole
district's traffic at scale 1 takes minutes to set up and about a gigabyte (every community's
people are held by its streams); the benchmarks and tests use `scale` to shrink it, and `part`
to share the communities among processes.
"""

import heapq
import itertools
import multiprocessing
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Final

from simulators.community import (
    ADMIN_DIVISION,
    Community,
    generate_community,
    pilot_community,
)
from simulators.config_toml import community_config_toml, toml_string
from simulators.district_layout import (
    DISTRICT_COMMUNITIES,
    EMPTY_SHARE,
    HOUSEHOLD_WEIGHTS,
    PILOT_CODES,
    CommunityPlan,
    district_plans,
)
from simulators.heartbeat import interval_s
from simulators.masterdata import DATASETS, Dataset, MasterData, community_master_data
from simulators.traffic import DailyRhythm, SimMessage
from simulators.yida_mix import HourlyRates, YidaTraffic

CALIBRATION_START: Final = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
CALIBRATION_HOURS: Final = 4
VISITS_WARM_UP: Final = timedelta(minutes=30)
"""How long visits run before the traffic starts (see `YidaTraffic`): short, as the district's
density may be hundreds of times life's."""
_CACHED_COMMUNITIES: Final = 4
"""Communities kept generated at once: enough for an import's four datasets of one, bounded."""

Message = tuple[str, bytes]
_MAP_KEYS: Final = ("code", "name", "admin_division", "street")


@cache
def _pilot_ids(seed: int) -> frozenset[str]:
    """The pilots' ID numbers, which no generated resident may be drawn with."""
    return frozenset(
        r.id_number for code in PILOT_CODES for r in pilot_community(code, seed).residents()
    )


@cache
def _yida_messages_per_hour(seed: int) -> float:
    """Messages per event hour of Yida's default mix without heartbeats, over a day."""
    traffic = YidaTraffic(
        pilot_community("yida", seed),
        seed,
        CALIBRATION_START,
        timedelta(hours=CALIBRATION_HOURS),
        heartbeats=False,
    )
    return sum(1 for _ in traffic.records()) / CALIBRATION_HOURS


def build_community(plan: CommunityPlan, seed: int) -> Community:
    """The community of `plan`, people and devices, for `seed` (pilots as they always are)."""
    if plan.pilot:
        return pilot_community(plan.code, seed)
    return generate_community(
        seed,
        plan.buildings,
        plan.units_per_building,
        plan.floors,
        plan.houses_per_floor,
        code=plan.code,
        name=plan.name,
        station=plan.station,
        empty_share=EMPTY_SHARE,
        residents_weights=HOUSEHOLD_WEIGHTS,
        id_sequences=((plan.number - 3) % (DISTRICT_COMMUNITIES - 2), DISTRICT_COMMUNITIES - 2),
        taken_ids=_pilot_ids(seed),
    )


class District:
    """The first `communities` communities of Wangcheng at `scale`, people drawn from `seed`.

    Cheap to make: only the skeleton (names, layouts, grids) is built; a community's people
    are drawn when first asked for, and the last few are kept.
    """

    def __init__(self, communities: int, scale: float = 1.0, seed: int = 7) -> None:
        self.plans: tuple[CommunityPlan, ...] = district_plans(communities, scale)
        self.scale = scale
        self.seed = seed
        self._by_code = {plan.code: plan for plan in self.plans}
        self._built: OrderedDict[str, Community] = OrderedDict()
        self._master: OrderedDict[str, MasterData] = OrderedDict()

    @property
    def communities(self) -> tuple[str, ...]:
        """The communities' codes, in district order."""
        return tuple(plan.code for plan in self.plans)

    def plan(self, code: str) -> CommunityPlan:
        """The skeleton of one community (KeyError for a code not in this district)."""
        return self._by_code[code]

    @property
    def houses(self) -> int:
        """Houses in the district (from the layouts: no one drawn)."""
        return sum(plan.houses for plan in self.plans)

    @property
    def devices(self) -> int:
        """Devices in the district (from the layouts: no one drawn)."""
        return sum(plan.devices for plan in self.plans)

    @property
    def grids(self) -> int:
        return sum(len(plan.grids) for plan in self.plans)

    # -- people and master data ---------------------------------------------------------------

    def community(self, code: str) -> Community:
        """One community, generated (the same every time for this seed)."""
        built = self._built.get(code)
        if built is None:
            built = build_community(self.plan(code), self.seed)
            self._built[code] = built
            while len(self._built) > _CACHED_COMMUNITIES:
                self._built.popitem(last=False)
        else:
            self._built.move_to_end(code)
        return built

    def master(self, code: str) -> MasterData:
        """One community's master data and its ground truth (`simulators.masterdata`)."""
        data = self._master.get(code)
        if data is None:
            plan = self.plan(code)
            grids = None if plan.pilot else plan.building_grids()
            data = community_master_data(self.community(code), self.seed, grids=grids)
            self._master[code] = data
            while len(self._master) > _CACHED_COMMUNITIES:
                self._master.popitem(last=False)
        else:
            self._master.move_to_end(code)
        return data

    def masterdata(self, code: str) -> dict[Dataset, list[dict[str, object]]]:
        """One community's four import datasets, rows as `PUT /v1/property/...` takes them, in
        import order (houses, residents, vehicles, credentials)."""
        data = self.master(code)
        return {dataset: data.rows(dataset) for dataset in DATASETS}

    # -- configuration ------------------------------------------------------------------------

    def gateway_config_toml(self) -> str:
        """The gateway's `[[communities]]`, `[[devices]]` and `[[topics]]` for the district.

        Needs every community's devices, which need its layout only (`skeleton`).
        """
        return "\n".join(community_config_toml(self._devices_only(plan)) for plan in self.plans)

    def write_gateway_config(self, path: Path) -> None:
        path.write_text(self.gateway_config_toml(), encoding="utf-8")

    def grid_map_items(self) -> list[dict[str, object]]:
        """The grid map's communities as `schemas.housing.Community` takes them."""
        return [
            {
                "code": plan.code,
                "name": plan.name,
                "admin_division": ADMIN_DIVISION,
                "street": plan.street,
                "grids": [
                    {
                        "code": grid.code,
                        "name": grid.name,
                        "buildings": list(grid.buildings),
                        "gates": list(grid.gates),
                    }
                    for grid in plan.grids
                ],
            }
            for plan in self.plans
        ]

    def grid_map_toml(self) -> str:
        """The district's grid map, in `config/grids.toml`'s format (`gateway.grids` reads it)."""
        lines = [
            "# Generated by simulators.district: the grid map of a simulated district.",
            "# Regenerate it (scgw simulate --communities N --write-grids PATH) rather than edit.",
        ]
        for item in self.grid_map_items():
            lines += ["", "[[communities]]"]
            lines += [f"{key} = {toml_string(str(item[key]))}" for key in _MAP_KEYS]
            for grid in item["grids"]:  # type: ignore[attr-defined]
                lines += ["", "[[communities.grids]]"]
                lines += [f"{key} = {toml_string(grid[key])}" for key in ("code", "name")]
                for key in ("buildings", "gates"):
                    lines.append(f"{key} = [{', '.join(toml_string(v) for v in grid[key])}]")
        return "\n".join(lines) + "\n"

    def write_grid_map(self, path: Path) -> None:
        path.write_text(self.grid_map_toml(), encoding="utf-8")

    def _devices_only(self, plan: CommunityPlan) -> Community:
        """The community with its devices, as generated; its people are not (see `skeleton`)."""
        cached = self._built.get(plan.code)
        return cached if cached is not None else skeleton(plan)

    # -- traffic ------------------------------------------------------------------------------

    def hourly_rates(
        self, rate: float | None = None, speed: float = 1.0, *, heartbeats: bool = True
    ) -> dict[str, HourlyRates]:
        """Each community's mean hourly rates (event time): life-like, or scaled so the whole
        district's messages (with its `heartbeats`) come to `rate` a wall second at `speed`."""
        if not speed > 0:
            raise ValueError("speed must be positive")
        yida_houses = self.plan_houses_of_yida()
        factors = {plan.code: plan.houses / yida_houses for plan in self.plans}
        if rate is not None:
            if not rate > 0:
                raise ValueError("rate must be positive")
            wanted = rate * 3600.0 / speed - (self.heartbeats_per_hour() if heartbeats else 0.0)
            life = _yida_messages_per_hour(self.seed) * sum(factors.values())
            if wanted <= 0:
                raise ValueError(
                    f"the heartbeats alone exceed {rate:g} msg/s at speed {speed:g}: "
                    "lower the speed or raise the rate"
                )
            factors = {code: f * wanted / life for code, f in factors.items()}
        return {code: HourlyRates().scaled(f) for code, f in factors.items()}

    def messages_per_hour(self, rate: float | None = None, speed: float = 1.0) -> float:
        """The district's messages per event hour on the day's mean, heartbeats included."""
        if rate is not None:
            return rate * 3600.0 / speed
        per_door = _yida_messages_per_hour(self.seed) / HourlyRates().door_events
        rates = self.hourly_rates(None, speed)
        events = sum(r.door_events * per_door for r in rates.values())
        return events + self.heartbeats_per_hour()

    @staticmethod
    def plan_houses_of_yida() -> int:
        return district_plans(1)[0].houses

    def heartbeats_per_hour(self) -> float:
        """Heartbeats per event hour over the whole district (devices beat at fixed periods)."""
        total = 0.0
        for plan in self.plans:
            total += _heartbeats_per_hour_of(plan)
        return total

    def shares(self, parts: int, rate: float | None = None, speed: float = 1.0) -> list[float]:
        """Each part's share of the messages (see `part_of`): a part publishing its share of
        a wall rate keeps pace with the others."""
        rates = self.hourly_rates(rate, speed)
        per_message = _yida_messages_per_hour(self.seed) / HourlyRates().door_events
        weights = [0.0] * parts
        for plan in self.plans:
            part = self.part_of(plan.code, parts)
            weights[part] += rates[plan.code].door_events * per_message
            weights[part] += _heartbeats_per_hour_of(plan)
        total = sum(weights)
        return [w / total for w in weights]

    def part_of(self, code: str, parts: int) -> int:
        """Which of `parts` processes publishes a community: its devices' messages stay on one
        connection, in order. Communities are dealt largest first to the lightest part."""
        return _deal(tuple((p.code, p.houses) for p in self.plans), parts)[code]

    def records(
        self,
        start: datetime,
        speed: float = 1.0,
        rate: float | None = None,
        *,
        part: tuple[int, int] = (0, 1),
        heartbeats: bool = True,
        clean: bool = False,
        rhythm: DailyRhythm | None = None,
    ) -> Iterator[SimMessage]:
        """The district's messages with their ground truth, in event-time order, endless.

        `part` (index, parts) keeps the communities of one publisher process (`part_of`).
        `rhythm` defaults to `DailyRhythm()`.
        """
        index, parts = part
        if not 0 <= index < parts:
            raise ValueError("part must be (index, parts) with 0 <= index < parts")
        rates = self.hourly_rates(rate, speed, heartbeats=heartbeats)
        day = rhythm or DailyRhythm()
        streams = [
            YidaTraffic(
                self.community(plan.code),
                self.seed,
                start,
                None,
                rates[plan.code],
                heartbeats=heartbeats,
                clean=clean,
                rhythm=day,
                visits_warm_up=VISITS_WARM_UP,
            ).records()
            for plan in self.plans
            if self.part_of(plan.code, parts) == index
        ]
        return heapq.merge(*streams, key=lambda record: record.at)

    def traffic(
        self,
        start: datetime,
        speed: float = 1.0,
        rate: float | None = None,
        *,
        part: tuple[int, int] = (0, 1),
        heartbeats: bool = True,
        clean: bool = False,
    ) -> Iterator[Message]:
        """The district's messages as (topic, payload), in event-time order, endless."""
        records = self.records(start, speed, rate, part=part, heartbeats=heartbeats, clean=clean)
        return ((record.topic, record.payload) for record in records)

    def prerender(
        self,
        count: int,
        start: datetime,
        speed: float = 1.0,
        rate: float | None = None,
        *,
        processes: int = 1,
        heartbeats: bool = True,
        clean: bool = False,
    ) -> list[Message]:
        """The first `count` messages of the traffic from `start`, rendered into memory by
        `processes` worker processes (each renders its part's share), merged in event-time
        order. For benchmarks that must publish flat out without rendering on the way."""
        if count < 0 or processes < 1:
            raise ValueError("count must not be negative, processes at least 1")
        shares = self.shares(processes, rate, speed)
        counts = apportion(count, shares)
        jobs = [
            (self.plans[-1].number, self.scale, self.seed, start, speed, rate, (i, processes), n)
            for i, n in enumerate(counts)
        ]
        jobs_args = [(*job, heartbeats, clean) for job in jobs]
        if processes == 1:
            parts = [_render_part(*jobs_args[0])]
        else:
            context = multiprocessing.get_context("spawn")
            with context.Pool(processes) as pool:
                parts = pool.starmap(_render_part, jobs_args)
        merged = heapq.merge(*parts, key=lambda item: item[0])
        return [(topic, payload) for _, topic, payload in merged]


def _render_part(
    communities: int,
    scale: float,
    seed: int,
    start: datetime,
    speed: float,
    rate: float | None,
    part: tuple[int, int],
    count: int,
    heartbeats: bool,
    clean: bool,
) -> list[tuple[float, str, bytes]]:
    """One worker's share of a `District.prerender`: (event time, topic, payload)."""
    district = District(communities, scale, seed)
    records = district.records(start, speed, rate, part=part, heartbeats=heartbeats, clean=clean)
    return [(r.at.timestamp(), r.topic, r.payload) for r in itertools.islice(records, count)]


def skeleton(plan: CommunityPlan) -> Community:
    """The community's devices without its people: the devices depend on the buildings and
    units alone, so one flat per unit (a few residents) gives the same devices, cheaply."""
    if plan.pilot:
        return pilot_community(plan.code)
    return generate_community(
        1,
        plan.buildings,
        plan.units_per_building,
        1,
        1,
        code=plan.code,
        name=plan.name,
        station=plan.station,
    )


@cache
def _heartbeats_per_hour_of(plan: CommunityPlan) -> float:
    """Heartbeats per hour of a layout's devices."""
    return sum(3600.0 / interval_s(device) for device in skeleton(plan).devices)


@cache
def _deal(sizes: tuple[tuple[str, int], ...], parts: int) -> dict[str, int]:
    if parts < 1:
        raise ValueError("parts must be at least 1")
    load = [0] * parts
    dealt: dict[str, int] = {}
    for code, houses in sorted(sizes, key=lambda item: (-item[1], item[0])):
        lightest = min(range(parts), key=lambda i: (load[i], i))
        dealt[code] = lightest
        load[lightest] += houses
    return dealt


def apportion(count: int, shares: Sequence[float]) -> list[int]:
    """`count` split by `shares`, largest remainders, summing to `count` exactly."""
    exact = [count * share for share in shares]
    counts = [int(x) for x in exact]
    order = sorted(range(len(shares)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: count - sum(counts)]:
        counts[i] += 1
    return counts
