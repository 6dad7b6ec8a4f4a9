"""The district's skeleton: Wangcheng's 141 communities and 589 grids, cheaply, before anyone
is drawn."""

import re
import tomllib
from collections import Counter

import pytest

from schemas.devices import COMMUNITY_CODE_PATTERN
from simulators.community import GATES, RAMPS, generate_community, pilot_community
from simulators.district_layout import (
    DISTRICT_COMMUNITIES,
    DISTRICT_GRIDS,
    CommunityPlan,
    district_plans,
    grid_name,
)
from simulators.masterdata import PILOT_GRID_MAP

FULL = district_plans(DISTRICT_COMMUNITIES)


class TestTheWholeDistrict:
    """At scale 1 the skeleton is Wangcheng's: 141 communities, 589 grids, about 300,000
    houses and 20,000 devices."""

    def test_141_communities_in_589_grids(self) -> None:
        assert len(FULL) == DISTRICT_COMMUNITIES == 141
        assert sum(len(plan.grids) for plan in FULL) == DISTRICT_GRIDS == 589

    def test_about_300000_houses_and_20000_devices(self) -> None:
        houses = sum(plan.houses for plan in FULL)
        devices = sum(plan.devices for plan in FULL)
        assert 285_000 <= houses <= 315_000
        assert 18_000 <= devices <= 24_000

    def test_community_1_is_yida_and_2_is_jiaxin_as_the_pilot_map_has_them(self) -> None:
        with PILOT_GRID_MAP.open("rb") as handle:
            pilots = {c["code"]: c for c in tomllib.load(handle)["communities"]}
        for plan in FULL[:2]:
            mapped = pilots[plan.code]
            assert [g.code for g in plan.grids] == [g["code"] for g in mapped["grids"]]
            assert plan.name == mapped["name"] and plan.street == mapped["street"]
            assert plan.houses == sum(1 for _ in pilot_community(plan.code).houses())
        assert [plan.code for plan in FULL[:2]] == ["yida", "jiaxin"]

    def test_codes_names_and_stations_are_unique_and_well_formed(self) -> None:
        codes = [plan.code for plan in FULL]
        assert len(set(codes)) == len(codes)
        assert all(re.fullmatch(COMMUNITY_CODE_PATTERN, code) for code in codes)
        # barrier gates are named after the code's first eight letters: unique too
        assert len({code.upper()[:8] for code in codes}) == len(codes)
        assert len({plan.name for plan in FULL}) == len(codes)
        assert all(plan.name.endswith(("村", "社区")) for plan in FULL[2:])
        assert len({plan.station for plan in FULL}) == len(codes)

    def test_the_device_count_is_what_generation_gives(self) -> None:
        for plan in FULL[2:6]:
            community = generate_community(
                1, plan.buildings, plan.units_per_building, 1, 1, code=plan.code,
                station=plan.station,
            )  # fmt: skip
            assert len(community.devices) == plan.devices


class TestGridCodes:
    """Grid codes are 15 digits, 430112 + street + community + grid, and unique."""

    def test_well_formed(self) -> None:
        for plan in FULL:
            for number, grid in enumerate(plan.grids, start=1):
                assert re.fullmatch(r"430112\d{9}", grid.code), grid.code
                assert grid.code[-3:] == f"{number:03d}"
                assert grid.name.startswith(plan.name) and grid.name.endswith("网格")

    def test_unique(self) -> None:
        codes = [grid.code for plan in FULL for grid in plan.grids]
        assert len(set(codes)) == len(codes)

    def test_one_community_per_street_and_community_digits(self) -> None:
        places = Counter({grid.code[6:12] for grid in plan.grids}.pop() for plan in FULL)
        assert max(places.values()) == 1
        assert all(len({grid.code[:12] for grid in plan.grids}) == 1 for plan in FULL)

    def test_names_count_in_chinese(self) -> None:
        assert grid_name("金桥社区", 1) == "金桥社区第一网格"
        assert grid_name("金桥社区", 10) == "金桥社区第十网格"
        assert grid_name("金桥社区", 12) == "金桥社区第十二网格"
        assert grid_name("金桥社区", 40) == "金桥社区第四十网格"
        assert grid_name("金桥社区", 57) == "金桥社区第五十七网格"


def _covered(plan: CommunityPlan) -> None:
    buildings = [b for grid in plan.grids for b in grid.buildings]
    assert sorted(buildings) == [f"B{b:02d}" for b in range(1, plan.buildings + 1)]
    gates = [g for grid in plan.grids for g in grid.gates]
    assert sorted(gates) == sorted([*GATES, *(name for _, name in RAMPS)])


class TestEveryBuildingHasAGrid:
    """Every building and gate lies in exactly one grid, at any scale."""

    @pytest.mark.parametrize("scale", [1.0, 0.1, 0.01])
    def test_grids_partition_buildings_and_gates(self, scale: float) -> None:
        for plan in district_plans(DISTRICT_COMMUNITIES, scale)[2:]:
            _covered(plan)


class TestScale:
    """`scale` shrinks the generated communities, never the pilots; smaller districts are the
    first communities of the whole one."""

    def test_scale_shrinks_houses_not_communities(self) -> None:
        small = district_plans(DISTRICT_COMMUNITIES, 0.01)
        assert len(small) == DISTRICT_COMMUNITIES
        assert sum(p.houses for p in small) < sum(p.houses for p in FULL) / 20
        assert small[:2] == FULL[:2]
        assert all(p.houses >= 1 for p in small)
        assert all(len(p.grids) <= p.buildings for p in small)

    def test_a_smaller_district_is_the_start_of_the_whole(self) -> None:
        assert district_plans(10) == FULL[:10]
        assert district_plans(1) == FULL[:1]

    @pytest.mark.parametrize(("communities", "scale"), [(0, 1.0), (142, 1.0), (3, 0.0), (3, 1.5)])
    def test_out_of_range_is_refused(self, communities: int, scale: float) -> None:
        with pytest.raises(ValueError):
            district_plans(communities, scale)
