"""The grid map: which 15-digit grid covers each building and gate of each community.

The district's governance platform (社会治理"一张网") works in third-level grids; a house's
`grid_code` must agree with the map, and tickets are routed by it. The map is data, a TOML file
(`config/grids.toml` ships the two pilot communities'; `SCGW_GRIDS` names another):

    [[communities]]
    code = "yida"                  # as in topics and the API
    name = "亿达小镇"
    admin_division = "430112"       # Wangcheng district
    street = "月亮岛街道"

    [[communities.grids]]
    code = "430112003001001"        # 6 admin division + 3 street + 3 community + 3 grid
    name = "亿达小镇第一网格"
    buildings = ["B01", "B02", "B03"]
    gates = ["North gate"]
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, model_validator

from adapters.mapping import SpecError
from gateway.config import read_toml_model
from schemas.housing import Community, Grid

PILOT_GRID_MAP: Final = Path(__file__).resolve().parent.parent / "config" / "grids.toml"
"""The map shipped with the gateway: the pilot communities Yida Town and Jiaxin Times Square."""


class GridMapFile(BaseModel):
    """The file's shape, and the rules that make it a map: unique community codes, grid codes
    that begin with their community's admin division and are unique, and no building or gate
    covered by two grids. A broken rule names the offending key (`SpecError`), so the
    `ConfigError` of `GridMap.load` gives its file and line."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    communities: tuple[Community, ...] = ()

    @model_validator(mode="after")
    def _is_a_map(self) -> "GridMapFile":
        codes: set[str] = set()
        grid_codes: set[str] = set()
        for c, community in enumerate(self.communities):
            where: tuple[str | int, ...] = ("communities", c)
            if community.code in codes:
                raise SpecError((*where, "code"), f"community {community.code} is listed twice")
            codes.add(community.code)
            places: set[tuple[str, str]] = set()
            for g, grid in enumerate(community.grids):
                at = (*where, "grids", g)
                if not grid.code.startswith(community.admin_division):
                    raise SpecError(
                        (*at, "code"),
                        f"grid {grid.code} of {community.code} does not begin with its"
                        f" admin division {community.admin_division}",
                    )
                if grid.code in grid_codes:
                    raise SpecError((*at, "code"), f"grid {grid.code} is listed twice")
                grid_codes.add(grid.code)
                for kind, names in (("building", grid.buildings), ("gate", grid.gates)):
                    for n, name in enumerate(names):
                        if (kind, name) in places:
                            raise SpecError(
                                (*at, f"{kind}s", n),
                                f"{kind} {name!r} of {community.code} is in two grids",
                            )
                        places.add((kind, name))
        return self


class GridMap:
    """Looks up communities and the grid of a building or gate."""

    def __init__(self, communities: tuple[Community, ...] = ()) -> None:
        GridMapFile(communities=communities)  # the same rules, however the map was made
        self._communities = {community.code: community for community in communities}
        self._by_place = {
            (community.code, kind, place): grid
            for community in communities
            for grid in community.grids
            for kind, places in (("building", grid.buildings), ("gate", grid.gates))
            for place in places
        }
        self._grids = {
            (community.code, grid.code): grid
            for community in communities
            for grid in community.grids
        }

    @classmethod
    def load(cls, path: Path | None = None) -> "GridMap":
        """The map in `path` (the pilot map when None); `ConfigError` names file, key and line."""
        return cls(read_toml_model(path or PILOT_GRID_MAP, GridMapFile).communities)

    def __iter__(self) -> Iterator[Community]:
        return iter(self._communities.values())

    def community(self, code: str) -> Community | None:
        return self._communities.get(code)

    def grid(self, community: str, grid_code: str) -> Grid | None:
        """The community's grid of that code; None when the code is not one of its grids."""
        return self._grids.get((community, grid_code))

    def grid_of_building(self, community: str, building: str) -> Grid | None:
        return self._by_place.get((community, "building", building))

    def grid_of_gate(self, community: str, gate: str) -> Grid | None:
        return self._by_place.get((community, "gate", gate))

    def house_grid(
        self, community: str, building: str, grid_code: str | None
    ) -> tuple[str | None, str | None]:
        """A house's grid code and, when it cannot stand, why: filled from the map when empty,
        refused when it is not one of the community's grids or contradicts the map."""
        mapped = self.grid_of_building(community, building)
        if grid_code is None:
            return (mapped.code if mapped else None), None
        if self.grid(community, grid_code) is None:
            return None, "is not a grid of this community in the grid map"
        if mapped is not None and mapped.code != grid_code:
            return None, "contradicts the grid map, which places this building in another grid"
        return grid_code, None
