"""Vehicles: the ones residents registered, and the ones only the barrier gates and capture
cameras know (first and last seen, `registered` false)."""

from pydantic import BaseModel, ConfigDict, Field

from schemas.codes import PlateColor
from schemas.events import UtcDatetime
from schemas.housing import HouseCode


class VehicleRecord(BaseModel):
    """One validated `vehicles` row; the plate normalised as the adapters normalise plates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    plate_no: str = Field(min_length=2, max_length=16)
    plate_color: PlateColor = "blue"
    vehicle_type: str | None = Field(default=None, max_length=32)
    owner_id_hash: str | None = Field(default=None, min_length=8, max_length=64)
    house_code: HouseCode | None = None


class VehiclePublic(BaseModel):
    """A vehicle as the government platform reads it."""

    model_config = ConfigDict(use_attribute_docstrings=True, frozen=True)

    vehicle_id: str
    """The gateway's id of the vehicle (`v_` and 32 hex digits)."""
    community: str
    """The community code."""
    plate_no: str
    """The plate, normalised (`湘A8K2C6`)."""
    plate_color: PlateColor
    """The plate's colour."""
    vehicle_type: str | None
    """`car`, `truck`, ... when registered."""
    owner_person_id: str | None
    """The owner, when a resident registered it."""
    house_code: str | None
    """The owner's house, when registered."""
    registered: bool
    """A resident's (imported) or not (only seen at the gates)."""
    first_seen_at: UtcDatetime | None
    """When a gate or camera first saw it."""
    last_seen_at: UtcDatetime | None
    """When one last saw it."""
