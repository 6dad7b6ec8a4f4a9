"""实有房屋 (real housing) and the places around it: communities, grids and houses.

A house is what the property system registered (its standard address code, where it stands,
its usage and registered occupants) plus what the gateway derived from events (who was seen
living there, when it was last active); derived figures never overwrite registered ones.
"""

from decimal import Decimal
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from schemas.codes import HouseUsage, Relation, ResidencySource
from schemas.events import UtcDatetime
from schemas.identifiers import IdentifierText

GRID_CODE_PATTERN: Final = r"^[0-9]{15}$"
GridCode = Annotated[str, StringConstraints(pattern=GRID_CODE_PATTERN)]
"""15 digits: 6 admin division + 3 street + 3 community + 3 grid (Wangcheng is 430112)."""

AdminDivision = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
"""GB/T 2260 six-digit admin division code."""

HouseCode = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z][0-9A-Za-z_.\-]*$")
]
"""The community's standard address code of a flat (e.g. `yida-3-2-1702`); unique gateway-wide."""

PlaceName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
"""A building, unit, floor or room as the property system and the device registry name it."""


class Grid(BaseModel):
    """A third-level grid of the district's grid map and the buildings and gates it covers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: GridCode
    name: str = Field(min_length=1, max_length=64)
    buildings: tuple[PlaceName, ...] = ()
    gates: tuple[PlaceName, ...] = ()


class Community(BaseModel):
    """A residential community: its code in topics and the API, and its place in the map."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: IdentifierText = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=64)
    admin_division: AdminDivision
    street: str = Field(min_length=1, max_length=64)
    grids: tuple[Grid, ...] = ()


class HouseRecord(BaseModel):
    """A house as a property system registers it (one validated import row)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    house_code: HouseCode
    building: PlaceName
    unit: PlaceName | None = None
    floor: PlaceName | None = None
    room: PlaceName | None = None
    area_m2: Decimal | None = Field(default=None, gt=0, lt=100_000, decimal_places=2)
    usage: HouseUsage = "other"
    grid_code: GridCode | None = None
    registered_occupants: int = Field(default=0, ge=0, le=1000)


class OccupantPublic(BaseModel):
    """Someone living in a house: a registered resident, or a person or anonymous subject the
    events show living there (`source` = `inferred`, with a confidence)."""

    model_config = ConfigDict(frozen=True)

    person_id: str | None
    subject_key: str | None = None
    name_masked: str | None = None
    relation: Relation | None = None
    source: ResidencySource
    confidence: float | None = None


class HousePublic(BaseModel):
    """A house as the government platform reads it."""

    model_config = ConfigDict(frozen=True)

    house_code: str
    community: str
    building: str
    unit: str | None
    floor: str | None
    room: str | None
    area_m2: float | None
    usage: HouseUsage
    grid_code: str | None
    registered_occupants: int
    occupants: list[OccupantPublic] = []
    observed_occupants: int = 0
    last_activity_at: UtcDatetime | None = None


class Occupancy(BaseModel):
    """Registered against observed occupants (observed over the configured window)."""

    registered: int = 0
    observed: int = 0


class PlaceSummary(BaseModel):
    """The 一标三实 figures of a community or one of its grids."""

    houses_by_usage: dict[str, int] = {}
    persons_by_population_type: dict[str, int] = {}
    current_visitors: int = 0
    vehicles_registered: int = 0
    vehicles_unregistered: int = 0
    occupancy: Occupancy = Occupancy()
    devices_online: int = 0
    devices_offline: int = 0
    devices_unknown: int = 0


class GridSummary(PlaceSummary):
    grid_code: str
    name: str | None = None


class CommunitySummary(PlaceSummary):
    """`GET /v1/communities/{code}/summary`: the community's figures and each grid's.

    Persons by population type count residents with a current residency; visitors whose
    visit is valid `at` are counted apart in `current_visitors`. Devices and vehicles have no
    grid unless the grid map places their building or gate."""

    community: str
    at: UtcDatetime
    observed_window_days: int
    grids: list[GridSummary] = []
