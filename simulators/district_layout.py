"""The district's skeleton: which communities, their names, codes, streets, layouts and grids.

Wangcheng district has 141 villages and communities in 589 grids. Community 1 is Yida Town and
community 2 Jiaxin Times Square, the pilot communities exactly as `simulators.community` builds
them and `config/grids.toml` maps them; communities 3 to 141 are made up here: a two-syllable
Chinese name (`金桥社区`, `白鹤村`) whose pinyin is the community code (`jinqiao`), a street of
the district, a layout (buildings, units, floors, flats per floor) and grids covering its
buildings. The skeleton depends on nothing but the community's number and `scale`, never on
the people seed, so a grid map stays the same whatever traffic is simulated on it; it is cheap
(no person is drawn), so the whole district's 589 grids are checked in a unit test.

Sizes at `scale` 1 are drawn so the district holds about 300,000 houses, 20,000 devices and,
with `HOUSEHOLD_WEIGHTS`, about 800,000 residents and 200,000 cars; `scale` shrinks every
generated community's houses (never below one unit of one building), not the number of grids
a full-size community has (a grid needs a building: a shrunk community keeps at most one grid
per building). Grid codes are 15 digits: 430112 + 3 street + 3 community + 3 grid.
"""

import math
import random
from dataclasses import dataclass
from functools import cache
from typing import Final

from simulators.community import ADMIN_DIVISION, GATES, RAMPS, STATIONS, pilot_community
from simulators.masterdata import pilot_grids
from simulators.traffic import weighted as _weighted

DISTRICT_COMMUNITIES: Final = 141
DISTRICT_GRIDS: Final = 589
DISTRICT_HOUSES: Final = 300_000
"""Wangcheng's figures at scale 1 (houses: about)."""
PILOT_CODES: Final = ("yida", "jiaxin")

HOUSEHOLD_WEIGHTS: Final = (12.0, 25.0, 33.0, 30.0)
"""Weights of one to four residents per occupied house in the generated communities: larger
households than the pilots' (villages), about 2.6 residents per house with `EMPTY_SHARE`."""
EMPTY_SHARE: Final = 0.06

STREETS: Final = (
    ("001", "高塘岭街道"),
    ("002", "大泽湖街道"),
    ("003", "月亮岛街道"),
    ("004", "金山桥街道"),
    ("005", "黄金园街道"),
    ("006", "白沙洲街道"),
    ("007", "丁字湾街道"),
    ("008", "铜官街道"),
    ("009", "乔口镇"),
    ("010", "靖港镇"),
    ("011", "茶亭镇"),
    ("012", "白箬铺镇"),
)
"""The district's streets and towns with their 3-digit codes in grid codes."""

# fmt: off
_SYLLABLES: Final = (
    ("金", "jin"), ("星", "xing"), ("白", "bai"), ("沙", "sha"), ("桥", "qiao"), ("湖", "hu"),
    ("山", "shan"), ("塘", "tang"), ("岭", "ling"), ("新", "xin"), ("华", "hua"), ("东", "dong"),
    ("龙", "long"), ("凤", "feng"), ("泉", "quan"), ("桃", "tao"), ("茶", "cha"), ("亭", "ting"),
    ("铜", "tong"), ("港", "gang"), ("团", "tuan"), ("光", "guang"), ("明", "ming"),
    ("和", "he"), ("平", "ping"), ("安", "an"), ("康", "kang"), ("宁", "ning"), ("丰", "feng"),
    ("荷", "he"), ("杨", "yang"), ("柳", "liu"), ("松", "song"), ("竹", "zhu"), ("梅", "mei"),
    ("石", "shi"), ("马", "ma"), ("鹿", "lu"), ("鹤", "he"), ("云", "yun"), ("霞", "xia"),
    ("月", "yue"), ("阳", "yang"), ("长", "chang"), ("青", "qing"), ("红", "hong"),
    ("田", "tian"), ("园", "yuan"), ("湾", "wan"), ("洲", "zhou"), ("坪", "ping"),
    ("冲", "chong"), ("铺", "pu"), ("兴", "xing"), ("福", "fu"), ("旺", "wang"), ("莲", "lian"),
)
# fmt: on
_FLATS: Final = ((11, 4, 2.0), (18, 2, 3.0), (18, 4, 2.0), (26, 2, 2.0), (26, 4, 1.0), (33, 2, 1.0))
"""(floors, flats per floor, weight) of a generated urban community's buildings."""
_VILLAGE_FLATS: Final = (6, 4)
"""Villages' resettlement blocks: six floors, four flats a floor."""
_UNITS_PER_BUILDING: Final = ((1, 2.0), (2, 5.0), (3, 2.0))
_VILLAGE_SHARE: Final = 0.3
_NUMERALS: Final = "零一二三四五六七八九"


@dataclass(frozen=True, slots=True)
class GridPlan:
    """One grid: its 15-digit code, its name and the buildings and gates it covers."""

    code: str
    name: str
    buildings: tuple[str, ...]
    gates: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CommunityPlan:
    """One community of the district, before any person is drawn."""

    number: int
    """1-based place in the district: 1 yida, 2 jiaxin, then the generated ones."""
    code: str
    name: str
    street: str
    """The street's name (`月亮岛街道`)."""
    station: str
    """The 4 grassroots-unit digits of its GB/T 28181 device codes."""
    buildings: int
    units_per_building: int
    floors: int
    houses_per_floor: int
    grids: tuple[GridPlan, ...]

    @property
    def pilot(self) -> bool:
        return self.code in PILOT_CODES

    @property
    def houses(self) -> int:
        return self.buildings * self.units_per_building * self.floors * self.houses_per_floor

    @property
    def devices(self) -> int:
        """Devices `simulators.community.generate_community` gives this layout."""
        units = self.buildings * self.units_per_building
        # unit doors and lift cameras, fire lanes, gate controllers and their face cameras,
        # ramps' cameras and barrier gates, two cloud doors and the visitor service
        return 2 * units + math.ceil(self.buildings / 2) + 3 * len(GATES) + 2 * len(RAMPS) + 3

    def building_grids(self) -> dict[str, str]:
        """Building -> grid code."""
        return {b: grid.code for grid in self.grids for b in grid.buildings}


@dataclass(frozen=True, slots=True)
class _Drawn:
    """A generated community at full size: name, street, layout and grid count to come."""

    code: str
    name: str
    street: tuple[str, str]
    houses: float
    floors: int
    houses_per_floor: int
    units_per_building: int


def grid_name(community_name: str, number: int) -> str:
    """`金桥社区第三网格`: the grid's name in Chinese numerals (1 to 99)."""
    tens, ones = divmod(number, 10)
    text = (
        ("" if tens == 1 else _NUMERALS[tens]) + "十" + (_NUMERALS[ones] if ones else "")
        if tens
        else _NUMERALS[ones]
    )
    return f"{community_name}第{text}网格"


@cache
def _drawn() -> tuple[_Drawn, ...]:
    """The generated communities 3..141 at full size, drawn once from a fixed generator."""
    rng = random.Random("wangcheng-district")
    taken_codes = set(PILOT_CODES)
    taken_short = {code.upper()[:8] for code in PILOT_CODES}
    taken_names = {"亿达小镇", "嘉新时代广场"}
    drawn: list[_Drawn] = []
    sizes = [rng.lognormvariate(0.0, 0.45) for _ in range(DISTRICT_COMMUNITIES - 2)]
    pilot_houses = sum(_pilot_houses().values())
    factor = (DISTRICT_HOUSES - pilot_houses) / sum(sizes)
    for size in sizes:
        while True:
            (first, a), (second, b) = rng.sample(_SYLLABLES, 2)
            village = rng.random() < _VILLAGE_SHARE
            name = first + second + ("村" if village else "社区")
            code = a + b
            if code in taken_codes or code.upper()[:8] in taken_short or name in taken_names:
                continue
            break
        taken_codes.add(code)
        taken_short.add(code.upper()[:8])
        taken_names.add(name)
        floors, per_floor = _weighted(rng, tuple(((f, h), w) for f, h, w in _FLATS))
        if village:
            floors, per_floor = _VILLAGE_FLATS
        drawn.append(
            _Drawn(
                code=code,
                name=name,
                street=rng.choice(STREETS),
                houses=size * factor,
                floors=floors,
                houses_per_floor=per_floor,
                units_per_building=_weighted(rng, _UNITS_PER_BUILDING),
            )
        )
    return tuple(drawn)


@cache
def _pilot_houses() -> dict[str, int]:
    return {code: sum(1 for _ in pilot_community(code).houses()) for code in PILOT_CODES}


def _layout(drawn: _Drawn, scale: float) -> tuple[int, int, int, int]:
    """(buildings, units per building, floors, flats per floor) of `drawn` at `scale`."""
    per_unit = drawn.floors * drawn.houses_per_floor
    houses = drawn.houses * scale
    units = max(1, round(houses / per_unit))
    floors = drawn.floors
    if units == 1 and houses < per_unit:
        floors = max(1, min(floors, math.ceil(houses / drawn.houses_per_floor)))
    per_building = max(drawn.units_per_building, math.ceil(units / 99))
    buildings = max(1, math.ceil(units / per_building))
    if buildings == 1:
        per_building = units
    return buildings, per_building, floors, drawn.houses_per_floor


@cache
def _full_grid_counts() -> tuple[int, ...]:
    """Grids of each generated community at full size: the district's 589 less the pilots',
    shared by buildings (largest remainders), at least one each, at most one per building."""
    drawn = _drawn()
    buildings = [_layout(d, 1.0)[0] for d in drawn]
    pilots = sum(len(pilot_grids()[code].grids) for code in PILOT_CODES)
    total = DISTRICT_GRIDS - pilots
    spare = total - len(drawn)
    weight = sum(buildings)
    shares = [spare * b / weight for b in buildings]
    counts = [1 + int(s) for s in shares]
    order = sorted(range(len(drawn)), key=lambda i: (-(shares[i] - int(shares[i])), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return tuple(min(c, b) for c, b in zip(counts, buildings, strict=True))


def _grids(
    street: str, community_digits: str, name: str, buildings: int, count: int
) -> tuple[GridPlan, ...]:
    """`count` grids over buildings B01.. in runs; the north gate and ramp in the first grid,
    the south ones in the last."""
    count = max(1, min(count, buildings))
    codes = [f"B{b:02d}" for b in range(1, buildings + 1)]
    grids: list[GridPlan] = []
    for index in range(count):
        run = tuple(codes[index * buildings // count : (index + 1) * buildings // count])
        gates: list[str] = []
        if index == 0:
            gates += [GATES[0], RAMPS[0][1]]
        if index == count - 1:
            gates += [GATES[1], RAMPS[1][1]]
        grids.append(
            GridPlan(
                code=f"{ADMIN_DIVISION}{street}{community_digits}{index + 1:03d}",
                name=grid_name(name, index + 1),
                buildings=run,
                gates=tuple(gates),
            )
        )
    return tuple(grids)


def _pilot_plan(number: int, code: str) -> CommunityPlan:
    community = pilot_community(code)
    mapped = pilot_grids()[code]
    building = community.buildings[0]
    unit = building.units[0]
    floors = max(h.floor for h in unit.houses)
    return CommunityPlan(
        number=number,
        code=code,
        name=community.name,
        street=mapped.street,
        station=STATIONS[code],
        buildings=len(community.buildings),
        units_per_building=len(building.units),
        floors=floors,
        houses_per_floor=len(unit.houses) // floors,
        grids=tuple(
            GridPlan(g.code, g.name, tuple(g.buildings), tuple(g.gates)) for g in mapped.grids
        ),
    )


@cache
def district_plans(communities: int, scale: float = 1.0) -> tuple[CommunityPlan, ...]:
    """The first `communities` (1 to 141) of the district at `scale` (0 < scale <= 1)."""
    if not 1 <= communities <= DISTRICT_COMMUNITIES:
        raise ValueError(f"communities must be 1 to {DISTRICT_COMMUNITIES}")
    if not 0 < scale <= 1:
        raise ValueError("scale must be above 0 and at most 1")
    plans = [_pilot_plan(n + 1, code) for n, code in enumerate(PILOT_CODES[:communities])]
    used_digits = {
        plan.grids[0].code[6:9]: {plan.grids[0].code[9:12]} for plan in plans if plan.grids
    }
    used_digits.setdefault("003", set()).add("001")  # the pilots' places, also when N is 1
    used_digits.setdefault("001", set()).add("002")
    counts = _full_grid_counts()
    for index, drawn in enumerate(_drawn()[: max(0, communities - 2)]):
        number = index + 3
        street, street_name = drawn.street
        taken = used_digits.setdefault(street, set())
        digits = next(f"{n:03d}" for n in range(1, 1000) if f"{n:03d}" not in taken)
        taken.add(digits)
        buildings, per_building, floors, per_floor = _layout(drawn, scale)
        plans.append(
            CommunityPlan(
                number=number,
                code=drawn.code,
                name=drawn.name,
                street=street_name,
                station=f"{number - 1:04d}",
                buildings=buildings,
                units_per_building=per_building,
                floors=floors,
                houses_per_floor=per_floor,
                grids=_grids(street, digits, drawn.name, buildings, counts[index]),
            )
        )
    return tuple(plans)
