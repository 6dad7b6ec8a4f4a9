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

    model_config = ConfigDict(frozen=True)

    vehicle_id: str
    community: str
    plate_no: str
    plate_color: PlateColor
    vehicle_type: str | None
    owner_person_id: str | None
    house_code: str | None
    registered: bool
    first_seen_at: UtcDatetime | None
    last_seen_at: UtcDatetime | None
