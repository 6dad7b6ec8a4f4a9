"""The `MasterDataStore` protocol: property master data, the models derived from events, the
audit log, erasure and retention. Every backend implements it beside `Store`, and one contract
suite runs on both.

Reads return public models (`schemas.population`, `schemas.housing`, `schemas.vehicles`),
masked; the sealed names and phones come out only through `sealed_contacts`, for the API's
audited unmasked read.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal, Protocol

from schemas.codes import HouseUsage, PopulationType
from schemas.housing import CommunitySummary, Grid, HousePublic, HouseRecord
from schemas.population import (
    CredentialRecord,
    PersonPublic,
    ResidencyEnd,
    ResidentRecord,
)
from schemas.vehicles import VehiclePublic, VehicleRecord

if TYPE_CHECKING:  # base.py's `Store` inherits this protocol, so Page cannot be imported here
    from gateway.store.base import Page


def new_person_id() -> str:
    """An opaque person id: random, so it reveals neither order nor count nor identity."""
    return "p_" + uuid.uuid4().hex


def new_vehicle_id() -> str:
    return "v_" + uuid.uuid4().hex


Applied = Literal["accepted", "updated", "unchanged"]
"""What happened to a valid row: newly inserted, changed a stored record, or identical to it."""


@dataclass(frozen=True, slots=True)
class RowRejected:
    """A row the store refused as a whole: the field at fault and why (never its value)."""

    field: str
    reason: str


RowOutcome = Applied | RowRejected
"""One outcome per row, in the order the rows were given."""

Dataset = Literal["houses", "residents", "vehicles", "credentials"]


@dataclass(frozen=True, slots=True)
class PersonQuery:
    community: str | None = None
    grid: str | None = None
    building: str | None = None
    population_type: PopulationType | None = None
    tag: str | None = None
    limit: int = 100
    cursor: str | None = None
    communities: frozenset[str] | None = None
    """The caller's scope (`gateway.access.Caller.scope`): only these communities' records;
    None for every community, an empty set for none."""


@dataclass(frozen=True, slots=True)
class HouseQuery:
    community: str | None = None
    grid: str | None = None
    building: str | None = None
    usage: HouseUsage | None = None
    limit: int = 100
    cursor: str | None = None
    communities: frozenset[str] | None = None
    """The caller's scope (`gateway.access.Caller.scope`): only these communities' records;
    None for every community, an empty set for none."""


@dataclass(frozen=True, slots=True)
class VehicleQuery:
    community: str | None = None
    plate_no: str | None = None
    registered: bool | None = None
    limit: int = 100
    cursor: str | None = None
    communities: frozenset[str] | None = None
    """The caller's scope (`gateway.access.Caller.scope`): only these communities' records;
    None for every community, an empty set for none."""


@dataclass(frozen=True, slots=True)
class SealedContact:
    """A person's sealed name and phone (`gateway.pii` opens them), for an audited read."""

    person_id: str
    name_sealed: bytes | None
    phone_sealed: bytes | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what, when, to which community and records, and why. Never personal values:
    `records` holds person ids, house codes, device ids, or an import's dataset and counts."""

    at: datetime
    actor: str
    action: str
    community: str | None = None
    records: tuple[str, ...] = ()
    reason: str | None = None
    id: int | None = None
    details: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CredentialMatch:
    """A credential or ID-number hash resolved to a person of a community, with its validity
    (None: open-ended)."""

    community: str
    ref: str
    person_id: str
    since: date | None
    until: date | None


@dataclass(frozen=True, slots=True)
class PlateMatch:
    community: str
    plate_no: str
    plate_color: str
    registered: bool


class MasterDataStore(Protocol):
    """Master data in, government-side models out. Each method is one transaction."""

    async def apply_houses(
        self, community: str, rows: Sequence[HouseRecord], now: datetime, import_id: str
    ) -> list[RowOutcome]:
        """Upsert houses by `house_code`; a code another community holds is rejected."""

    async def apply_residents(
        self, community: str, rows: Sequence[ResidentRecord], now: datetime, import_id: str
    ) -> list[RowOutcome]:
        """Upsert persons by (community, id_hash) and their registered residency by
        (person, house_code); a row naming an unknown house is rejected."""

    async def apply_vehicles(
        self, community: str, rows: Sequence[VehicleRecord], now: datetime, import_id: str
    ) -> list[RowOutcome]:
        """Upsert vehicles by (community, plate, colour) as registered; an unknown owner or
        house is rejected. An unregistered record of the same plate becomes registered."""

    async def apply_credentials(
        self, community: str, rows: Sequence[CredentialRecord], now: datetime, import_id: str
    ) -> list[RowOutcome]:
        """Upsert credentials by (community, ref), keeping holder history: the current
        holder re-imported updates their row (`unchanged` when identical); another person
        taking the ref ends the current holder's row the day before the new `since` (today,
        China Standard Time, when not given) and adds the new holder's row (`updated`). An
        unknown owner, or a `since` not after the current holder's, is rejected."""

    async def end_unlisted(
        self, community: str, dataset: Dataset, import_id: str, until: date
    ) -> int:
        """Snapshot mode: end the registered residencies, vehicles or credentials of the
        community that the import `import_id` did not list; return how many were ended."""

    async def end_residencies(
        self, community: str, items: Sequence[ResidencyEnd], now: datetime
    ) -> list[RowOutcome]:
        """End registered residencies (kept, with `until`); an unknown one is rejected."""

    async def list_persons(self, query: PersonQuery) -> "Page[PersonPublic]": ...

    async def get_person(
        self, person_id: str, *, communities: frozenset[str] | None = None
    ) -> PersonPublic | None:
        """One person; None when there is none or it is outside `communities` (the caller's
        scope, `gateway.access.Caller.scope`: None for every community). The scope is part of
        the query, so another community's person costs what a missing one does: a caller must
        not learn from the time taken that it exists."""

    async def sealed_contacts(self, person_ids: Sequence[str]) -> list[SealedContact]: ...

    async def list_houses(self, query: HouseQuery, observed_since: datetime) -> "Page[HousePublic]":
        """Houses with occupants; `observed_occupants` counts who was seen since
        `observed_since`."""

    async def get_house(
        self,
        house_code: str,
        observed_since: datetime,
        *,
        communities: frozenset[str] | None = None,
    ) -> HousePublic | None:
        """One house with its occupants (as `list_houses`); None when there is none or it is
        outside `communities`, decided before any occupant is read (see `get_person`)."""

    async def list_vehicles(self, query: VehicleQuery) -> "Page[VehiclePublic]": ...

    async def get_vehicle(
        self, vehicle_id: str, *, communities: frozenset[str] | None = None
    ) -> VehiclePublic | None:
        """One vehicle; None when there is none or it is outside `communities` (see
        `get_person`)."""

    async def community_summary(
        self, community: str, at: datetime, observed_window_days: int, grids: Sequence[Grid]
    ) -> CommunitySummary | None:
        """The community's figures and each of `grids`' (its grid map: houses by their
        `grid_code`, devices and vehicles by the building or gate the map places them in).
        None when the community has neither master data nor devices."""

    async def write_audit(self, entry: AuditEntry) -> int: ...

    async def list_audit(
        self, limit: int, cursor: str | None, *, communities: frozenset[str] | None = None
    ) -> "Page[AuditEntry]":
        """Audit entries, newest first; `communities` is the caller's scope."""

    async def erase_person(self, person_id: str, audit: AuditEntry) -> bool:
        """Remove the person, their credentials and residencies, strip their events of the
        person link, credential hash and subject key, and write `audit`, atomically; False
        when there is no such person. Only what is theirs: events, presence and inferred
        residencies keyed on one of their credentials within that credential's validity
        for them (a card's other holders keep theirs), and everything keyed on their ID
        hash. SQLite then checkpoints its WAL so nothing erased stays in the files."""


class Resolver(Protocol):
    """Read-time resolution of events to persons and vehicles."""

    async def resolve_refs(self, refs: Sequence[tuple[str, str]]) -> list[CredentialMatch]:
        """The persons the (community, credential-or-ID hash) pairs belong to, with validity:
        every holder row of a credential, for the caller to pick the one valid on its day."""

    async def resolve_plates(self, plates: Sequence[tuple[str, str]]) -> list[PlateMatch]:
        """The vehicles of the (community, plate) pairs, in every colour."""
