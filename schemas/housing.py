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

    model_config = ConfigDict(use_attribute_docstrings=True, frozen=True)

    person_id: str | None
    """The person, when known; null for an anonymous subject."""
    subject_key: str | None = None
    """A pseudonym of an anonymous subject the events show living here."""
    name_masked: str | None = None
    """The name masked."""
    relation: Relation | None = None
    """The relation to the house, when registered."""
    source: ResidencySource
    """`property` (registered) or `inferred` (from the events)."""
    confidence: float | None = None
    """Inferred occupants only: how sure the inference is, 0 to 1."""


class HousePublic(BaseModel):
    """A house as the government platform reads it."""

    model_config = ConfigDict(use_attribute_docstrings=True, frozen=True)

    house_code: str
    """The property system's code of the house."""
    community: str
    """The community code."""
    building: str
    """The building."""
    unit: str | None
    """The unit (stairwell)."""
    floor: str | None
    """The floor."""
    room: str | None
    """The room number."""
    area_m2: float | None
    """Floor area in square metres."""
    usage: HouseUsage
    """`self_occupied`, `rented`, `vacant`, `office`, ..."""
    grid_code: str | None
    """The 15-digit grid the house belongs to."""
    registered_occupants: int
    """How many residents the property system registered."""
    occupants: list[OccupantPublic] = []
    """Registered and inferred occupants."""
    observed_occupants: int = 0
    """How many the events show, within `SCGW_OBSERVED_WINDOW_DAYS`."""
    last_activity_at: UtcDatetime | None = None
    """The last event that placed someone in the house."""


class Occupancy(BaseModel):
    """Registered against observed occupants (observed over the configured window)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    registered: int = 0
    """Registered occupants."""
    observed: int = 0
    """Occupants the events show within the observed window."""


class PlaceSummary(BaseModel):
    """The 一标三实 figures of a community or one of its grids."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    houses_by_usage: dict[str, int] = {}
    """Houses per usage."""
    persons_by_population_type: dict[str, int] = {}
    """Residents with a current residency, per population type."""
    current_visitors: int = 0
    """Visitors whose visit is valid now."""
    vehicles_registered: int = 0
    """Vehicles residents registered."""
    vehicles_unregistered: int = 0
    """Vehicles only the gates saw."""
    occupancy: Occupancy = Occupancy()
    """Registered against observed occupants."""
    devices_online: int = 0
    """Devices online."""
    devices_offline: int = 0
    """Devices offline."""
    devices_unknown: int = 0
    """Devices never heard from."""


class GridSummary(PlaceSummary):
    """The 一标三实 figures of one grid of the community."""

    grid_code: str
    """The 15-digit grid code."""
    name: str | None = None
    """The grid's name, from the grid map."""


class CommunitySummary(PlaceSummary):
    """`GET /v1/communities/{code}/summary`: the community's figures and each grid's.

    Persons by population type count residents with a current residency; visitors whose
    visit is valid `at` are counted apart in `current_visitors`. Devices and vehicles have no
    grid unless the grid map places their building or gate."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    community: str
    """The community code."""
    at: UtcDatetime
    """When the figures were computed."""
    observed_window_days: int
    """The window of `observed` occupancy, in days."""
    grids: list[GridSummary] = []
    """The same figures for each of the community's grids."""
