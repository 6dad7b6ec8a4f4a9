"""实有人口 (real population): persons, their residencies and their credentials.

A person record belongs to one community: someone registered in two communities is two
records, joined only inside the gateway through `id_hash` and never visible across
communities. Raw ID numbers never exist here: only their keyed hash and their mask. Names and
phones exist masked, and sealed (encrypted) for the audited unmasked read; their keyed hashes
let an import tell an unchanged row from a changed one without opening the seal.
"""

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from schemas.codes import (
    CredentialKind,
    Ethnicity,
    Gender,
    IdType,
    PopulationType,
    Relation,
    ResidencySource,
)
from schemas.events import UtcDatetime
from schemas.housing import HouseCode

Tag = str
"""A care or governance tag (`elderly_living_alone`, `disabled`, `key_care`, ...): a free list."""


class PersonRecord(BaseModel):
    """A person as a resident import row gives them, after hashing, masking and sealing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id_hash: str = Field(min_length=8, max_length=64)
    id_type: IdType
    id_masked: str = Field(max_length=32)
    nationality: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    name_masked: str | None = Field(default=None, max_length=64)
    name_ref: str | None = Field(default=None, max_length=64)
    name_sealed: bytes | None = None
    phone_masked: str | None = Field(default=None, max_length=32)
    phone_ref: str | None = Field(default=None, max_length=64)
    phone_sealed: bytes | None = None
    gender: Gender = "unknown"
    birth_year: int | None = Field(default=None, ge=1900, le=2200)
    ethnicity: Ethnicity | None = None
    population_type: PopulationType
    tags: tuple[Tag, ...] = ()


class ResidentRecord(BaseModel):
    """One validated `residents` row: the person and their registered residency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    person: PersonRecord
    house_code: HouseCode
    relation: Relation = "other"
    since: date | None = None


class CredentialRecord(BaseModel):
    """One validated `credentials` row: `ref` is the credential's keyed hash
    (`schemas.privacy.credential_ref`), `owner_id_hash` its holder's ID-number hash."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: CredentialKind
    ref: str = Field(min_length=8, max_length=64)
    owner_id_hash: str = Field(min_length=8, max_length=64)
    since: date | None = None
    until: date | None = None


class ResidencyEnd(BaseModel):
    """One item of `POST /v1/property/{community}/residencies/end`, after hashing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id_hash: str
    house_code: HouseCode
    until: date


class ResidencyPublic(BaseModel):
    """Where a person lives or lived. Registered residencies name a house; inferred ones name
    the building unit whose door they use (and the house when the unit has only one), with a
    confidence and the window of evidence."""

    model_config = ConfigDict(frozen=True)

    house_code: str | None
    building: str | None = None
    unit: str | None = None
    relation: Relation | None = None
    source: ResidencySource
    since: date | None = None
    until: date | None = None
    confidence: float | None = None
    evidence_from: UtcDatetime | None = None
    evidence_until: UtcDatetime | None = None


class VisitPublic(BaseModel):
    """A visitor record's visit: whom they came to see, and while it is valid."""

    model_config = ConfigDict(frozen=True)

    host_house: str | None
    valid_from: UtcDatetime | None
    valid_until: UtcDatetime | None


class PersonPublic(BaseModel):
    """A person as the government platform reads it: masked, unless an audited unmasked read
    filled `name` and `phone` (ID numbers are never available: the gateway does not have them)."""

    model_config = ConfigDict(frozen=True)

    person_id: str
    community: str
    id_type: IdType | None
    id_masked: str | None
    name_masked: str | None
    phone_masked: str | None
    name: str | None = None
    phone: str | None = None
    nationality: str | None = None
    gender: Gender
    birth_year: int | None
    ethnicity: str | None
    population_type: PopulationType
    tags: list[str] = []
    residencies: list[ResidencyPublic] = []
    visit: VisitPublic | None = None
    updated_at: UtcDatetime | None = None
