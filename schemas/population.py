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

    model_config = ConfigDict(use_attribute_docstrings=True, frozen=True)

    house_code: str | None
    """The house lived in; null for an inferred residency of a unit with several houses."""
    building: str | None = None
    """The building, for an inferred residency."""
    unit: str | None = None
    """The unit (stairwell), for an inferred residency."""
    relation: Relation | None = None
    """The relation to the house (`owner`, `tenant`, ...), when registered."""
    source: ResidencySource
    """`property` (registered by the property system) or `inferred` (from the events)."""
    since: date | None = None
    """First day of the residency, when known."""
    until: date | None = None
    """Last day; null while it lasts."""
    confidence: float | None = None
    """Inferred residencies only: how sure the inference is, 0 to 1."""
    evidence_from: UtcDatetime | None = None
    """Inferred residencies only: the first event counted."""
    evidence_until: UtcDatetime | None = None
    """Inferred residencies only: the last event counted."""


class VisitPublic(BaseModel):
    """A visitor record's visit: whom they came to see, and while it is valid."""

    model_config = ConfigDict(use_attribute_docstrings=True, frozen=True)

    host_house: str | None
    """The house visited."""
    valid_from: UtcDatetime | None
    """When the visit's pass starts to be valid."""
    valid_until: UtcDatetime | None
    """When it stops being valid."""


class PersonPublic(BaseModel):
    """A person as the government platform reads it: masked, unless an audited unmasked read
    filled `name` and `phone` (ID numbers are never available: the gateway does not have them)."""

    model_config = ConfigDict(use_attribute_docstrings=True, frozen=True)

    person_id: str
    """The gateway's id of the person (`p_` and 32 hex digits)."""
    community: str
    """The community code."""
    id_type: IdType | None
    """The kind of identity document (`resident_id_card`, `passport`, ...)."""
    id_masked: str | None
    """The ID number masked (`4301**********4517`); the raw number is never kept."""
    name_masked: str | None
    """The name masked (`张*`)."""
    phone_masked: str | None
    """The phone masked (`138****5678`)."""
    name: str | None = None
    """Only in an audited unmasked read (`unmask=true`); otherwise null."""
    phone: str | None = None
    """Only in an audited unmasked read (`unmask=true`); otherwise null."""
    nationality: str | None = None
    """ISO 3166 alpha-3 code, for foreigners."""
    gender: Gender
    """`male`, `female` or `unknown`."""
    birth_year: int | None
    """Year of birth, when known."""
    ethnicity: str | None
    """Ethnic group (民族), when registered."""
    population_type: PopulationType
    """`registered` (户籍), `floating` (流动), `foreign` (境外), `unregistered` or `visitor`."""
    tags: list[str] = []
    """Care and attention tags (`elderly_living_alone`, `disabled`, ...)."""
    residencies: list[ResidencyPublic] = []
    """Where the person lives or lived, registered and inferred."""
    visit: VisitPublic | None = None
    """For a visitor: the visit."""
    updated_at: UtcDatetime | None = None
    """When the record last changed."""
