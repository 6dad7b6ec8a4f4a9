"""The caller's community scope in every list, on each store: None lists every community, a set
lists those communities' records only, an empty set lists nothing; a record of no community
(a dead letter routing placed nowhere, a watch-list audit entry) is listed only unscoped. The
property view of tickets keeps those naming the property and no government-only rule.

Reads of one record take the same scope: outside it the record is None, as a missing one is
(the scope is in the store's query, so neither is another community's record read)."""

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from gateway.messages import DeadLetter
from gateway.store import Store
from gateway.store.base import EventQuery
from gateway.store.masterdata import AuditEntry, HouseQuery, PersonQuery, VehicleQuery
from gateway.store.tickets import TicketQuery
from schemas.devices import DeviceRegistration
from schemas.housing import HouseRecord
from schemas.population import PersonRecord, ResidentRecord
from schemas.vehicles import VehicleRecord
from tests.gateway.observed_events import access
from tests.gateway.store.ticket_drafts import draft

NOW = datetime.now(UTC).replace(microsecond=0)
IMPORT_ID = "scope-test"
EVERY = None
YIDA = frozenset({"yida"})
NONE: frozenset[str] = frozenset()
SCOPES = [
    pytest.param(EVERY, {"yida", "jiaxin", None}, id="unscoped"),
    pytest.param(YIDA, {"yida"}, id="yida"),
    pytest.param(frozenset({"yida", "jiaxin"}), {"yida", "jiaxin"}, id="both"),
    pytest.param(NONE, set(), id="empty"),
]
"""(scope, the communities listed): a None among them is a record of no community."""


def letter(number: int, community: str | None) -> DeadLetter:
    return DeadLetter(
        received_at=NOW + timedelta(seconds=number),
        topic=f"{community or 'nowhere'}/hik-isapi/door-{number}",
        reason="malformed_json",
        detail="not JSON",
        payload_excerpt="",
        payload_bytes=5,
        community=community,
    )


def device(device_id: str, community: str) -> DeviceRegistration:
    return DeviceRegistration.model_validate(
        {
            "device_id": device_id,
            "kind": "door_controller",
            "dialect": "hik-isapi",
            "community": community,
            "building": "B01",
            "unit": "U1",
        }
    )


def house(code: str) -> HouseRecord:
    return HouseRecord(
        house_code=code, building="B01", unit="U1", usage="self_occupied", area_m2=Decimal(80)
    )


def resident(number: int, house_code: str) -> ResidentRecord:
    person = PersonRecord.model_validate(
        {
            "id_hash": f"h1:{number:032x}",
            "id_type": "resident_id_card",
            "id_masked": f"430112********{number:04d}",
            "gender": "male",
            "population_type": "registered",
        }
    )
    return ResidentRecord(person=person, house_code=house_code, relation="owner")


def vehicle(plate: str, owner: int, house_code: str) -> VehicleRecord:
    return VehicleRecord(
        plate_no=plate, plate_color="blue", owner_id_hash=f"h1:{owner:032x}", house_code=house_code
    )


def audit(community: str | None) -> AuditEntry:
    return AuditEntry(
        at=NOW, actor="admin (bootstrap)", action="device.put", community=community, records=()
    )


@pytest.fixture
async def seeded(store: Store) -> Store:
    """One record of each kind in yida and in jiaxin, and dead letters and audit entries of no
    community."""
    events = [access(1, NOW, community="yida"), access(2, NOW, community="jiaxin")]
    letters = [letter(1, "yida"), letter(2, "jiaxin"), letter(3, None)]
    await store.write_batch(events, letters)
    await store.upsert_devices([device("yida-door", "yida"), device("jiaxin-door", "jiaxin")])
    for community in ("yida", "jiaxin"):
        await store.apply_houses(community, [house(f"{community}-1-1-0101")], NOW, IMPORT_ID)
    for of in ("yida", "jiaxin", None):
        await store.write_audit(audit(of))
    drafts = [
        draft("door:yida", community="yida", at=NOW),
        draft("door:jiaxin", community="jiaxin", at=NOW),
        draft("watch:yida", rule="vehicle.watchlist", units=("property",), at=NOW),
        draft("care:yida", rule="care.no_activity", units=("community",), at=NOW),
    ]
    await store.record_tickets(drafts, NOW)
    return store


class TestListsKeepToTheScope:
    @pytest.mark.parametrize(("scope", "listed"), SCOPES)
    async def test_events(
        self, seeded: Store, scope: frozenset[str] | None, listed: set[str | None]
    ) -> None:
        page = await seeded.list_events(EventQuery(communities=scope))
        assert {event.community for event in page.data} == listed - {None}

    @pytest.mark.parametrize(("scope", "listed"), SCOPES)
    async def test_dead_letters(
        self, seeded: Store, scope: frozenset[str] | None, listed: set[str | None]
    ) -> None:
        page = await seeded.list_dead_letters(100, None, communities=scope)
        assert {letter.community for letter in page.data} == listed

    @pytest.mark.parametrize(("scope", "listed"), SCOPES)
    async def test_devices(
        self, seeded: Store, scope: frozenset[str] | None, listed: set[str | None]
    ) -> None:
        page = await seeded.list_devices(100, None, communities=scope)
        assert {device.community for device in page.data} == listed - {None}

    @pytest.mark.parametrize(("scope", "listed"), SCOPES)
    async def test_houses(
        self, seeded: Store, scope: frozenset[str] | None, listed: set[str | None]
    ) -> None:
        page = await seeded.list_houses(HouseQuery(communities=scope), NOW)
        assert {house.community for house in page.data} == listed - {None}

    @pytest.mark.parametrize(("scope", "listed"), SCOPES)
    async def test_audit(
        self, seeded: Store, scope: frozenset[str] | None, listed: set[str | None]
    ) -> None:
        page = await seeded.list_audit(100, None, communities=scope)
        assert {entry.community for entry in page.data} == listed

    @pytest.mark.parametrize(("scope", "listed"), SCOPES)
    async def test_tickets_and_their_indicators(
        self, seeded: Store, scope: frozenset[str] | None, listed: set[str | None]
    ) -> None:
        page = await seeded.list_tickets(TicketQuery(communities=scope), NOW)
        assert {ticket.community for ticket in page.data} == listed - {None}
        rows = await seeded.ticket_stats("community", None, None, False, NOW, communities=scope)
        assert {row.group for row in rows} == listed - {None}

    @pytest.mark.parametrize(("scope", "listed"), SCOPES)
    async def test_outbox_rows_of_the_scopes_tickets(
        self, seeded: Store, scope: frozenset[str] | None, listed: set[str | None]
    ) -> None:
        tickets = (await seeded.list_tickets(TicketQuery(limit=100), NOW)).data
        community_of = {ticket.ticket_id: ticket.community for ticket in tickets}
        page = await seeded.list_outbox(None, 100, None, communities=scope)
        assert {community_of[row.ticket_id] for row in page.data} == listed - {None}

    @pytest.mark.parametrize(("scope", "listed"), SCOPES)
    async def test_raw_dead_letters(
        self, store: Store, scope: frozenset[str] | None, listed: set[str | None]
    ) -> None:
        expires = NOW + timedelta(days=7)
        letters = [
            replace(letter(number, of), raw_payload=b"sealed", raw_expires_at=expires)
            for number, of in enumerate(("yida", "jiaxin", None))
        ]
        await store.write_batch([], letters)
        stored = (await store.list_dead_letters(100, None)).data
        readable = {
            letter.community
            for letter in stored
            if await store.get_dead_letter_raw(letter.id, NOW, communities=scope) is not None
        }
        assert readable == listed

    async def test_a_community_filter_within_the_scope_still_applies(self, seeded: Store) -> None:
        both = frozenset({"yida", "jiaxin"})
        page = await seeded.list_events(EventQuery(community="jiaxin", communities=both))
        assert {event.community for event in page.data} == {"jiaxin"}


class TestThePropertyView:
    async def test_it_keeps_tickets_naming_the_property_and_no_government_only_rule(
        self, seeded: Store
    ) -> None:
        query = TicketQuery(communities=YIDA, property_view=True)
        page = await seeded.list_tickets(query, NOW)
        assert [ticket.dedup_key for ticket in page.data] == ["door:yida"]

    async def test_without_it_every_ticket_in_scope_is_listed(self, seeded: Store) -> None:
        page = await seeded.list_tickets(TicketQuery(communities=YIDA), NOW)
        assert {t.dedup_key for t in page.data} == {"door:yida", "watch:yida", "care:yida"}

    async def test_the_indicators_count_the_same_tickets(self, seeded: Store) -> None:
        rows = await seeded.ticket_stats(
            "community", None, None, False, NOW, communities=YIDA, property_view=True
        )
        assert [(row.group, row.raised) for row in rows] == [("yida", 1)]


@dataclass(frozen=True)
class Items:
    """A store holding one record of each kind in yida and in jiaxin, and their ids."""

    store: Store
    persons: dict[str, str]
    houses: dict[str, str]
    vehicles: dict[str, str]
    devices: dict[str, str]
    tickets: dict[str, str]
    """By dedup key (`door:yida`, `door:jiaxin`, `watch:yida`, `care:yida`)."""


PLATES = {"yida": "湘A8K2C6", "jiaxin": "湘AD12345"}


@pytest.fixture
async def items(seeded: Store) -> Items:
    houses = {community: f"{community}-1-1-0101" for community in ("yida", "jiaxin")}
    for number, (community, code) in enumerate(houses.items(), start=1):
        await seeded.apply_residents(community, [resident(number, code)], NOW, IMPORT_ID)
        await seeded.apply_vehicles(
            community, [vehicle(PLATES[community], number, code)], NOW, IMPORT_ID
        )
    persons = {
        community: (await seeded.list_persons(PersonQuery(community=community))).data[0].person_id
        for community in houses
    }
    vehicles = {
        community: (await seeded.list_vehicles(VehicleQuery(community=community)))
        .data[0]
        .vehicle_id
        for community in houses
    }
    tickets = {
        t.dedup_key: t.ticket_id for t in (await seeded.list_tickets(TicketQuery(), NOW)).data
    }
    devices = {community: f"{community}-door" for community in houses}
    return Items(seeded, persons, houses, vehicles, devices, tickets)


class TestOneRecordKeepsToTheScope:
    """A record outside the scope reads as None, exactly as a missing one."""

    @pytest.mark.parametrize(("scope", "listed"), SCOPES)
    async def test_a_person(
        self, items: Items, scope: frozenset[str] | None, listed: set[str | None]
    ) -> None:
        found = {
            community
            for community, person_id in items.persons.items()
            if await items.store.get_person(person_id, communities=scope) is not None
        }
        assert found == listed - {None}
        assert await items.store.get_person("p_" + "0" * 32, communities=scope) is None

    @pytest.mark.parametrize(("scope", "listed"), SCOPES)
    async def test_a_house(
        self, items: Items, scope: frozenset[str] | None, listed: set[str | None]
    ) -> None:
        found = {
            community
            for community, code in items.houses.items()
            if await items.store.get_house(code, NOW, communities=scope) is not None
        }
        assert found == listed - {None}
        assert await items.store.get_house("nowhere-1-1-0101", NOW, communities=scope) is None

    @pytest.mark.parametrize(("scope", "listed"), SCOPES)
    async def test_a_vehicle(
        self, items: Items, scope: frozenset[str] | None, listed: set[str | None]
    ) -> None:
        found = {
            community
            for community, vehicle_id in items.vehicles.items()
            if await items.store.get_vehicle(vehicle_id, communities=scope) is not None
        }
        assert found == listed - {None}

    @pytest.mark.parametrize(("scope", "listed"), SCOPES)
    async def test_a_device(
        self, items: Items, scope: frozenset[str] | None, listed: set[str | None]
    ) -> None:
        found = {
            community
            for community, device_id in items.devices.items()
            if await items.store.get_device(device_id, communities=scope) is not None
        }
        assert found == listed - {None}

    @pytest.mark.parametrize(("scope", "listed"), SCOPES)
    async def test_a_ticket(
        self, items: Items, scope: frozenset[str] | None, listed: set[str | None]
    ) -> None:
        tickets = [
            await items.store.get_ticket(ticket_id, NOW, communities=scope)
            for ticket_id in items.tickets.values()
        ]
        found = {ticket.community for ticket in tickets if ticket is not None}
        assert found == listed - {None}

    async def test_within_the_scope_the_record_is_whole(self, items: Items) -> None:
        """The scoped read answers what the unscoped one does: occupants, history and all."""
        store, code = items.store, items.houses["yida"]
        assert await store.get_house(code, NOW, communities=YIDA) == await store.get_house(
            code, NOW
        )
        ticket_id = items.tickets["door:yida"]
        scoped = await store.get_ticket(ticket_id, NOW, communities=YIDA, property_view=True)
        assert scoped is not None and scoped.history
        assert scoped == await store.get_ticket(ticket_id, NOW)


class TestOneTicketInThePropertyView:
    @pytest.mark.parametrize(
        ("key", "seen"),
        [("door:yida", True), ("watch:yida", False), ("care:yida", False), ("door:jiaxin", False)],
    )
    async def test_only_a_ticket_naming_the_property_and_no_government_only_rule(
        self, items: Items, key: str, seen: bool
    ) -> None:
        ticket = await items.store.get_ticket(
            items.tickets[key], NOW, communities=YIDA, property_view=True
        )
        assert (ticket is not None) is seen
