"""The 一标三实 figures of a community and of each of its grids, assembled from the grouped rows
every backend reads the same way (see `Figures`).

A row belongs to a grid by the house's `grid_code` when it has one, else by the building or
gate the grid map places it in; rows the map does not place count for the community only. A
person living in two houses counts once in the community and once in each grid.
"""

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from schemas.housing import CommunitySummary, Grid, GridSummary, Occupancy, PlaceSummary


def figures_of(rows: Mapping[str, Sequence[Sequence[object]]]) -> "Figures":
    """`Figures` from each query's rows (the place first, then the part's columns)."""

    def place(row: Sequence[object]) -> Place:
        return (_text(row[0]), _text(row[1]), _text(row[2]))

    return Figures(
        houses=[(place(r), str(r[3]), _int(r[4])) for r in rows["houses"]],
        residents=[(place(r), str(r[3]), str(r[4])) for r in rows["residents"]],
        visitors=[(place(r), str(r[3])) for r in rows["visitors"]],
        vehicles=[(place(r), bool(r[3]), _int(r[4])) for r in rows["vehicles"]],
        residencies=[(place(r), _int(r[3]), _int(r[4])) for r in rows["residencies"]],
        inferred=[(place(r), _int(r[3])) for r in rows["inferred"]],
        devices=[(place(r), str(r[3]), _int(r[4])) for r in rows["devices"]],
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _int(value: object) -> int:
    return int(str(value)) if value is not None else 0


Place = tuple[str | None, str | None, str | None]
"""(grid_code, building, gate) of a row; any of them may be unknown."""


@dataclass
class Figures:
    """What a backend reads for a summary, each row placed by `Place`."""

    houses: list[tuple[Place, str, int]] = field(default_factory=list)
    """(place, usage, count)."""
    residents: list[tuple[Place, str, str]] = field(default_factory=list)
    """(place, person_id, population_type): persons with a current registered residency or a
    live inferred one, one row per place."""
    visitors: list[tuple[Place, str]] = field(default_factory=list)
    """(host house's place, person_id) of visitor records valid at the summary's time."""
    vehicles: list[tuple[Place, bool, int]] = field(default_factory=list)
    """(owner house's place, registered, count)."""
    residencies: list[tuple[Place, int, int]] = field(default_factory=list)
    """(place, current registered residencies, of them seen within the window)."""
    inferred: list[tuple[Place, int]] = field(default_factory=list)
    """(place, live inferred residencies)."""
    devices: list[tuple[Place, str, int]] = field(default_factory=list)
    """(place, status, count)."""

    def empty(self) -> bool:
        return not (self.houses or self.residents or self.visitors or self.vehicles or self.devices)


class _Tally:
    def __init__(self) -> None:
        self.houses: Counter[str] = Counter()
        self.persons: dict[str, set[str]] = {}
        self.visitors: set[str] = set()
        self.vehicles: Counter[bool] = Counter()
        self.registered = 0
        self.observed = 0
        self.devices: Counter[str] = Counter()

    def figures(self) -> PlaceSummary:
        return PlaceSummary(
            houses_by_usage=dict(sorted(self.houses.items())),
            persons_by_population_type={
                kind: len(ids) for kind, ids in sorted(self.persons.items())
            },
            current_visitors=len(self.visitors),
            vehicles_registered=self.vehicles[True],
            vehicles_unregistered=self.vehicles[False],
            occupancy=Occupancy(registered=self.registered, observed=self.observed),
            devices_online=self.devices["online"],
            devices_offline=self.devices["offline"],
            devices_unknown=self.devices["unknown"],
        )


class _Places:
    """Which grid a row's place falls in, by the community's grid map."""

    def __init__(self, grids: Sequence[Grid]) -> None:
        self.codes = {grid.code for grid in grids}
        self.buildings = {b: grid.code for grid in grids for b in grid.buildings}
        self.gates = {g: grid.code for grid in grids for g in grid.gates}

    def grid(self, place: Place) -> str | None:
        code, building, gate = place
        if code in self.codes:
            return code
        if building is not None and building in self.buildings:
            return self.buildings[building]
        return self.gates.get(gate) if gate is not None else None


def _add_residencies(tally: _Tally, row: tuple[Place, int, int]) -> None:
    tally.registered += row[1]
    tally.observed += row[2]


def _add_inferred(tally: _Tally, row: tuple[Place, int]) -> None:
    tally.observed += row[1]


_ADDERS: Final[list[tuple[Callable[[Figures], list[Any]], Callable[[_Tally, Any], None]]]] = [
    (lambda f: f.houses, lambda t, r: t.houses.update({r[1]: r[2]})),
    (lambda f: f.residents, lambda t, r: t.persons.setdefault(r[2], set()).add(r[1])),
    (lambda f: f.visitors, lambda t, r: t.visitors.add(r[1])),
    (lambda f: f.vehicles, lambda t, r: t.vehicles.update({r[1]: r[2]})),
    (lambda f: f.residencies, _add_residencies),
    (lambda f: f.inferred, _add_inferred),
    (lambda f: f.devices, lambda t, r: t.devices.update({r[1]: r[2]})),
]
"""How each part's rows add to a tally."""


def assemble_summary(
    community: str, at: datetime, window_days: int, grids: Sequence[Grid], figures: Figures
) -> CommunitySummary | None:
    """The summary, or None when the community has neither master data nor devices."""
    if figures.empty():
        return None
    places = _Places(grids)
    whole = _Tally()
    by_grid = {grid.code: _Tally() for grid in grids}

    def tallies(place: Place) -> Iterable[_Tally]:
        code = places.grid(place)
        return (whole, by_grid[code]) if code is not None else (whole,)

    for rows, add in _ADDERS:
        for row in rows(figures):
            for tally in tallies(row[0]):
                add(tally, row)
    return CommunitySummary(
        **whole.figures().model_dump(),
        community=community,
        at=at,
        observed_window_days=window_days,
        grids=[
            GridSummary(
                **by_grid[grid.code].figures().model_dump(), grid_code=grid.code, name=grid.name
            )
            for grid in grids
        ],
    )
