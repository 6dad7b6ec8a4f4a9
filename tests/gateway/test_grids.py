"""Specification of the grid map (`gateway.grids`): the pilot map, house grid codes checked
against it, and the rules that make a TOML file a map, each broken rule named with its file
and line."""

from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.grids import PILOT_GRID_MAP, GridMap
from testkit.harness import write_file

YIDA_FIRST = "430112003001001"
YIDA_SECOND = "430112003001002"
JIAXIN_FIRST = "430112001002001"

MAP = """\
[[communities]]
code = "yida"
name = "亿达小镇"
admin_division = "430112"
street = "月亮岛街道"

[[communities.grids]]
code = "430112003001001"
name = "第一网格"
buildings = ["B01", "B02"]
gates = ["North gate"]

[[communities.grids]]
code = "430112003001002"
name = "第二网格"
buildings = ["B03"]
gates = ["South gate"]
"""


def load(tmp_path: Path, text: str) -> GridMap:
    return GridMap.load(write_file(tmp_path / "grids.toml", text))


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return str(info.value)


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """The 1-based line of the `occurrence`-th line holding `fragment`."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    return found[occurrence - 1]


class TestPilotMap:
    """The shipped map holds both pilot communities, their grids, buildings and gates."""

    def test_the_default_is_the_pilot_map(self) -> None:
        assert [community.code for community in GridMap.load()] == ["yida", "jiaxin"]
        assert [c.code for c in GridMap.load(PILOT_GRID_MAP)] == ["yida", "jiaxin"]

    def test_communities_carry_their_names_and_admin_division(self) -> None:
        yida = GridMap.load().community("yida")
        jiaxin = GridMap.load().community("jiaxin")
        assert yida is not None and (yida.name, yida.admin_division) == ("亿达小镇", "430112")
        assert jiaxin is not None and jiaxin.name == "嘉新时代广场"

    def test_every_grid_code_is_fifteen_digits_in_its_admin_division(self) -> None:
        for community in GridMap.load():
            assert community.grids
            for grid in community.grids:
                assert len(grid.code) == 15 and grid.code.isdigit()
                assert grid.code.startswith(community.admin_division)

    @pytest.mark.parametrize("community", ["yida", "jiaxin"])
    @pytest.mark.parametrize(
        "gate", ["North gate", "South gate", "North car park ramp", "South car park ramp"]
    )
    def test_every_pilot_gate_has_a_grid(self, community: str, gate: str) -> None:
        assert GridMap.load().grid_of_gate(community, gate) is not None

    def test_buildings_are_looked_up_per_community(self) -> None:
        grids = GridMap.load()
        yida_b01 = grids.grid_of_building("yida", "B01")
        jiaxin_b01 = grids.grid_of_building("jiaxin", "B01")
        assert yida_b01 is not None and yida_b01.code == YIDA_FIRST
        assert jiaxin_b01 is not None and jiaxin_b01.code == JIAXIN_FIRST
        assert grids.grid_of_building("yida", "B99") is None
        assert grids.grid_of_building("nowhere", "B01") is None

    def test_a_grid_is_found_only_in_its_own_community(self) -> None:
        grids = GridMap.load()
        found = grids.grid("yida", YIDA_SECOND)
        assert found is not None and found.name == "亿达小镇第二网格"
        assert grids.grid("jiaxin", YIDA_SECOND) is None

    def test_an_absent_map_file_is_a_config_error(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="cannot read config"):
            GridMap.load(tmp_path / "missing.toml")


class TestHouseGrid:
    """A house's grid code is filled from the map, kept when it agrees, refused otherwise."""

    @pytest.fixture
    def grids(self, tmp_path: Path) -> GridMap:
        return load(tmp_path, MAP)

    def test_an_empty_code_is_filled_from_the_building(self, grids: GridMap) -> None:
        assert grids.house_grid("yida", "B03", None) == (YIDA_SECOND, None)

    def test_an_empty_code_of_an_unmapped_building_stays_empty(self, grids: GridMap) -> None:
        assert grids.house_grid("yida", "B77", None) == (None, None)

    def test_a_code_that_agrees_with_the_map_is_kept(self, grids: GridMap) -> None:
        assert grids.house_grid("yida", "B01", YIDA_FIRST) == (YIDA_FIRST, None)

    def test_a_code_of_the_community_for_an_unmapped_building_is_kept(self, grids: GridMap) -> None:
        assert grids.house_grid("yida", "B77", YIDA_SECOND) == (YIDA_SECOND, None)

    def test_a_code_contradicting_the_map_is_refused(self, grids: GridMap) -> None:
        code, problem = grids.house_grid("yida", "B01", YIDA_SECOND)
        assert code is None
        assert problem is not None and "contradicts the grid map" in problem

    @pytest.mark.parametrize("foreign", [JIAXIN_FIRST, "430112009009009"])
    def test_a_code_that_is_not_one_of_the_community_s_grids_is_refused(
        self, grids: GridMap, foreign: str
    ) -> None:
        code, problem = grids.house_grid("yida", "B01", foreign)
        assert code is None
        assert problem == "is not a grid of this community in the grid map"

    def test_a_problem_never_echoes_the_code(self, grids: GridMap) -> None:
        for code in (JIAXIN_FIRST, YIDA_SECOND):
            _, problem = grids.house_grid("yida", "B01", code)
            assert problem is not None and code not in problem


class TestMapFileRules:
    """A file breaking a rule of the map is refused with its file, line and key."""

    def test_a_community_listed_twice(self, tmp_path: Path) -> None:
        second = MAP.replace('code = "430112003001001"', 'code = "430112003001009"').replace(
            'code = "430112003001002"', 'code = "430112003001008"'
        )
        text = MAP + "\n" + second
        message = refusal(tmp_path, text)
        line = line_of(text, 'code = "yida"', occurrence=2)
        assert f"grids.toml:{line}: communities.1.code: community yida is listed twice" in message

    def test_a_grid_code_outside_its_admin_division(self, tmp_path: Path) -> None:
        text = MAP.replace('code = "430112003001002"', 'code = "430111003001002"')
        message = refusal(tmp_path, text)
        line = line_of(text, "430111003001002")
        assert f"grids.toml:{line}: communities.0.grids.1.code: grid 430111003001002" in message
        assert "does not begin with its admin division 430112" in message

    def test_a_grid_code_listed_twice(self, tmp_path: Path) -> None:
        text = MAP.replace('code = "430112003001002"', f'code = "{YIDA_FIRST}"')
        message = refusal(tmp_path, text)
        line = line_of(text, YIDA_FIRST, occurrence=2)
        assert f"grids.toml:{line}: communities.0.grids.1.code: grid" in message

    def test_a_building_in_two_grids(self, tmp_path: Path) -> None:
        text = MAP.replace('buildings = ["B03"]', 'buildings = ["B03", "B02"]')
        message = refusal(tmp_path, text)
        line = line_of(text, '"B03", "B02"')
        assert f"grids.toml:{line}: communities.0.grids.1.buildings.1:" in message
        assert "building 'B02' of yida is in two grids" in message

    def test_a_gate_in_two_grids(self, tmp_path: Path) -> None:
        text = MAP.replace('gates = ["South gate"]', 'gates = ["North gate"]')
        message = refusal(tmp_path, text)
        line = line_of(text, '"North gate"', occurrence=2)
        assert f"grids.toml:{line}: communities.0.grids.1.gates.0:" in message

    def test_the_same_building_in_two_communities_is_two_places(self, tmp_path: Path) -> None:
        other = (
            MAP.replace('"yida"', '"jiaxin"')
            .replace("430112003001001", "430112001002001")
            .replace("430112003001002", "430112001002002")
        )
        grids = load(tmp_path, MAP + "\n" + other)
        assert [community.code for community in grids] == ["yida", "jiaxin"]

    def test_a_malformed_grid_code_names_its_line(self, tmp_path: Path) -> None:
        text = MAP.replace('code = "430112003001002"', 'code = "4301120030"')
        message = refusal(tmp_path, text)
        line = line_of(text, '"4301120030"')
        assert f"grids.toml:{line}: communities.0.grids.1.code" in message

    def test_a_map_built_in_code_keeps_the_rules(self, tmp_path: Path) -> None:
        (yida,) = load(tmp_path, MAP)
        with pytest.raises(ValueError, match="listed twice"):
            GridMap((yida, yida))
