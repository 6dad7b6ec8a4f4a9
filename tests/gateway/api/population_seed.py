"""Master data for the population API's tests, stored through the store's `apply_*` methods
as the importer would: ID numbers hashed and masked, names and phones masked and sealed.

Dates are relative to today; the raw values are kept here so the tests can look for them in
every answer (they must never appear unless an audited unmasked read asks for names and phones).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from gateway.pii import ContactVault
from gateway.runtime import Runtime
from gateway.store.masterdata import PersonQuery
from schemas.codes import IdType, PopulationType, Relation
from schemas.housing import HouseRecord
from schemas.population import CredentialRecord, PersonRecord, ResidentRecord
from schemas.privacy import (
    Pseudonymizer,
    credential_ref,
    hash_id_number,
    mask_id_number,
    mask_name,
    mask_phone,
)
from schemas.vehicles import VehicleRecord
from testkit.harness import HASH_KEY, RunningGateway

IMPORT_ID = "api-test-seed"
SINCE = date.today() - timedelta(days=400)
PSEUDONYMIZER = Pseudonymizer(HASH_KEY)

YIDA_GRID_1 = "430112003001001"
"""Buildings B01-B03 of Yida Town (config/grids.toml)."""
YIDA_GRID_2 = "430112003001002"
"""Buildings B04-B06."""

HOUSES: dict[str, list[HouseRecord]] = {
    "yida": [
        HouseRecord(
            house_code="yida-3-2-1702",
            building="B03",
            unit="U2",
            floor="17",
            room="1702",
            area_m2=Decimal("89.50"),
            usage="self_occupied",
            grid_code=YIDA_GRID_1,
            registered_occupants=2,
        ),
        HouseRecord(
            house_code="yida-3-2-1801",
            building="B03",
            unit="U2",
            floor="18",
            room="1801",
            usage="rented",
            grid_code=YIDA_GRID_1,
            registered_occupants=1,
        ),
        HouseRecord(
            house_code="yida-5-1-0101",
            building="B05",
            unit="U1",
            floor="1",
            room="0101",
            usage="rented",
            grid_code=YIDA_GRID_2,
            registered_occupants=1,
        ),
        HouseRecord(
            house_code="yida-6-1-0202",
            building="B06",
            unit="U1",
            usage="vacant",
            grid_code=YIDA_GRID_2,
        ),
    ],
    "jiaxin": [
        HouseRecord(
            house_code="jiaxin-1-1-0301",
            building="B01",
            unit="U1",
            usage="office",
            grid_code="430112001002001",
        )
    ],
}


@dataclass(frozen=True)
class Resident:
    """A resident as a property export lists them, raw values included."""

    label: str
    community: str
    id_number: str
    name: str
    phone: str
    house_code: str
    population_type: PopulationType
    relation: Relation
    birth_year: int
    tags: tuple[str, ...] = ()
    id_type: IdType = "resident_id_card"
    nationality: str | None = None

    @property
    def id_hash(self) -> str:
        return hash_id_number(PSEUDONYMIZER, self.id_number)

    def record(self, contacts: ContactVault) -> ResidentRecord:
        person = PersonRecord(
            id_hash=self.id_hash,
            id_type=self.id_type,
            id_masked=mask_id_number(self.id_number),
            nationality=self.nationality,
            name_masked=mask_name(self.name),
            name_ref=contacts.fingerprint("name", self.name),
            name_sealed=contacts.seal("name", self.name),
            phone_masked=mask_phone(self.phone),
            phone_ref=contacts.fingerprint("phone", self.phone),
            phone_sealed=contacts.seal("phone", self.phone),
            gender="male" if self.id_type == "resident_id_card" else "unknown",
            birth_year=self.birth_year,
            population_type=self.population_type,
            tags=self.tags,
        )
        return ResidentRecord(
            person=person, house_code=self.house_code, relation=self.relation, since=SINCE
        )


OWNER = Resident(
    "owner", "yida", "430112195803154517", "张伟", "13812345678", "yida-3-2-1702",
    "registered", "owner", 1958, ("elderly_living_alone",),
)  # fmt: skip
SPOUSE = Resident(
    "spouse", "yida", "430112196105204531", "雷秀琴", "13912345679", "yida-3-2-1702",
    "registered", "spouse", 1961, ("disabled",),
)  # fmt: skip
TENANT = Resident(
    "tenant", "yida", "430112199203154551", "欧阳锋锋", "13712345670", "yida-3-2-1801",
    "floating", "tenant", 1992, ("key_care",),
)  # fmt: skip
FOREIGNER = Resident(
    "foreigner", "yida", "E12345678", "Anna Berg", "13612345671", "yida-5-1-0101",
    "foreign", "tenant", 1990, (), "passport", "SWE",
)  # fmt: skip
JIAXIN_CLERK = Resident(
    "clerk", "jiaxin", "430112198807084517", "王芳", "13512345672", "jiaxin-1-1-0301",
    "registered", "employee", 1988,
)  # fmt: skip
RESIDENTS = (OWNER, SPOUSE, TENANT, FOREIGNER, JIAXIN_CLERK)

TENANT_CARD = "0012345678"
TENANT_CARD_REF = credential_ref(PSEUDONYMIZER, "card", TENANT_CARD)

VEHICLES = (
    VehicleRecord(
        plate_no="湘A8K2C6",
        plate_color="blue",
        vehicle_type="car",
        owner_id_hash=OWNER.id_hash,
        house_code="yida-3-2-1702",
    ),
    VehicleRecord(plate_no="湘A8K2C6", plate_color="yellow", vehicle_type="truck"),
    VehicleRecord(
        plate_no="湘AD12345",
        plate_color="green",
        owner_id_hash=TENANT.id_hash,
        house_code="yida-3-2-1801",
    ),
)


@dataclass(frozen=True)
class Seeded:
    """The person ids the store gave the seeded residents, by label."""

    person_ids: dict[str, str]

    def id_of(self, resident: Resident) -> str:
        return self.person_ids[resident.label]


async def seed(gateway: RunningGateway) -> Seeded:
    """Store the seed through the store's apply methods; every row must be accepted."""
    runtime = gateway.runtime
    now = datetime.now(UTC)
    assert runtime.contacts is not None
    for community, houses in HOUSES.items():
        _all_accepted(await runtime.store.apply_houses(community, houses, now, IMPORT_ID))
        residents = [r.record(runtime.contacts) for r in RESIDENTS if r.community == community]
        _all_accepted(await runtime.store.apply_residents(community, residents, now, IMPORT_ID))
    _all_accepted(await runtime.store.apply_vehicles("yida", VEHICLES, now, IMPORT_ID))
    card = CredentialRecord(
        kind="card", ref=TENANT_CARD_REF, owner_id_hash=TENANT.id_hash, since=SINCE
    )
    _all_accepted(await runtime.store.apply_credentials("yida", [card], now, IMPORT_ID))
    return Seeded(await _person_ids(runtime))


async def _person_ids(runtime: Runtime) -> dict[str, str]:
    """Each seeded resident's person id, found by their community and masked ID number."""
    found: dict[str, str] = {}
    for resident in RESIDENTS:
        query = PersonQuery(community=resident.community, limit=1000)
        page = await runtime.store.list_persons(query)
        (person,) = [p for p in page.data if p.id_masked == mask_id_number(resident.id_number)]
        found[resident.label] = person.person_id
    return found


def _all_accepted(outcomes: Sequence[object]) -> None:
    assert outcomes and all(outcome == "accepted" for outcome in outcomes), outcomes
