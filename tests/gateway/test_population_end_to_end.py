"""The government-side models end to end on Mosquitto + TimescaleDB, with the simulator.

Both pilot communities' devices are registered. Their houses, residents and vehicles are
imported through the importer, then two weeks of Yida Town's life behind two unit doors
(`simulators.residency.ResidencyScenario`: residents, the unregistered tenant, a stranger's
card, gate faces, registered and unregistered cars, visitors) are published to Mosquitto and
stored; only then are the credentials imported, so the door events resolve through credentials
that arrived after them. Housekeeping then runs once with its clock at the scenario's end.
Every figure checked here comes from the generator's ground truth, never from the gateway.
"""

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from gateway.config import load_config
from gateway.housekeeping import Housekeeping
from gateway.masterdata.importer import Importer
from schemas.privacy import Pseudonymizer, credential_ref, hash_id_number, subject_key
from schemas.times import CHINA_STANDARD_TIME as CST
from simulators.community import pilot_community
from simulators.config_toml import communities_config_toml
from simulators.masterdata import Dataset, MasterData, community_master_data
from simulators.publisher import publish
from simulators.residency import ResidencyScenario, Sighting
from testkit.harness import (
    HASH_KEY,
    RunningGateway,
    gateway_settings,
    running_gateway,
    wait_until,
    write_file,
)
from testkit.inspection import database_dump
from testkit.services import MosquittoService, PostgresService

YIDA, JIAXIN = "yida", "jiaxin"
PSEUDONYMIZER = Pseudonymizer(HASH_KEY)
PUBLISHER_CONNECTIONS = 4


@dataclass
class World:
    """The gateway after the scenario, and what it served before the credentials arrived."""

    gateway: RunningGateway
    dsn: str
    data: dict[str, MasterData]
    scenario: ResidencyScenario
    sightings: list[Sighting]
    end: datetime
    before_credentials: list[dict[str, Any]]
    after: list[dict[str, Any]]

    @property
    def yida(self) -> MasterData:
        return self.data[YIDA]

    async def get(self, path: str, **params: str | int) -> Any:
        response = await self.gateway.http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    async def every(self, path: str, **params: str | int) -> list[dict[str, Any]]:
        """Every item of a list endpoint, following its cursors."""
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = await self.get(
                path, **params, limit=500, **({"cursor": cursor} if cursor else {})
            )
            found.extend(page["data"])
            cursor = page["next_cursor"]
            if cursor is None:
                return found

    def sql(self, query: str, *args: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn) as connection:
            return connection.execute(query, args).fetchall()


@pytest.fixture(scope="module")
def module_dsn(postgres: PostgresService) -> Iterator[str]:
    """A database of this module's own: every test reads the one world the fixture builds."""
    yield postgres.create_database("population_end_to_end")
    postgres.drop_database("population_end_to_end")


async def import_datasets(
    importer: Importer, data: MasterData, datasets: tuple[Dataset, ...]
) -> None:
    """Import the datasets; every row must be new and accepted."""
    for dataset in datasets:
        report = await importer.run(data.community.code, dataset, data.numbered(dataset))
        assert report.rejected == [], (data.community.code, dataset, report.rejected[:5])
        assert report.accepted == len(data.rows(dataset)), (data.community.code, dataset)


@pytest.fixture(scope="module")
async def world(
    mosquitto: MosquittoService, module_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    communities = [pilot_community(YIDA), pilot_community(JIAXIN)]
    data = {c.code: community_master_data(c) for c in communities}
    path = write_file(
        tmp_path_factory.mktemp("population") / "pilot.toml", communities_config_toml(communities)
    )
    end = datetime.now(UTC).replace(microsecond=0)
    scenario = ResidencyScenario(data[YIDA], end)
    sightings = scenario.sightings()
    settings = gateway_settings(mosquitto.url, module_dsn)
    async with running_gateway(settings, load_config(path)) as gateway:
        runtime = gateway.runtime
        assert runtime.contacts is not None
        importer = Importer(runtime.store, runtime.grids, PSEUDONYMIZER, runtime.contacts)
        for each in data.values():
            await import_datasets(importer, each, ("houses", "residents", "vehicles"))

        report = await publish(
            (s.message for s in sightings), url=mosquitto.url, connections=PUBLISHER_CONNECTIONS
        )
        assert report.count == len(sightings)
        registry = runtime.metrics.registry

        def stored() -> float:
            return registry.get_sample_value("scgw_events_stored_total") or 0

        await wait_until(
            lambda: stored() >= len(sightings), timeout_s=180, what="the scenario to be stored"
        )
        assert await gateway.dead_letters() == []
        before = await gateway.events()

        await import_datasets(importer, data[YIDA], ("credentials",))
        await import_datasets(importer, data[JIAXIN], ("credentials",))
        clocked = Housekeeping(
            runtime.store,
            interval_s=settings.housekeeping_interval_s,
            event_retention_days=settings.event_retention_days,
            audit_retention_days=settings.audit_retention_days,
            clock=lambda: end,
        )
        await clocked.run_once()
        after = await gateway.events()
        yield World(gateway, module_dsn, data, scenario, sightings, end, before, after)


def local_day(at: datetime) -> date:
    return at.astimezone(CST).date()


def is_night(at: datetime) -> bool:
    """The issue's night: 19:00 to 08:00 local time."""
    hour = at.astimezone(CST).hour
    return hour >= 19 or hour < 8


def by_subject(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Events by the subject key the API shows (it shows no credential or ID hash)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event.get("subject_key"):
            found.setdefault(str(event["subject_key"]), []).append(event)
    return found


def subject_of(sighting: Sighting) -> str:
    """The subject key of a door sighting: its community's key of the credential's hash."""
    if sighting.credential is None:
        raise ValueError("no credential")
    kind, value = sighting.credential
    return subject_key(YIDA, credential_ref(PSEUDONYMIZER, kind, value))  # type: ignore[arg-type]


class TestResolution:
    """Registered residents' door and face events resolve to them, through credentials that
    arrived after the events; the tenant's and the stranger's stay anonymous but keyed."""

    async def test_everything_was_stored(self, world: World) -> None:
        """Every scenario message became one stored event."""
        assert len(world.after) == len(world.sightings)
        kinds = Counter(str(e["kind"]) for e in world.after)
        assert kinds == Counter(k for s in world.sightings for k in s.message.kinds)
        hashes = ("credential", "matched_person_ref", "visitor_ref")
        assert not [e for e in world.after if any(e.get(name) for name in hashes)]

    async def test_door_events_were_unresolved_before_the_credentials(self, world: World) -> None:
        """Before the credentials were imported, no card or employee-number event resolved."""
        doors = [e for e in world.before_credentials if e["kind"] == "access"]
        assert doors
        assert all(e["person_id"] is None for e in doors)

    async def test_door_events_resolve_to_their_residents_afterwards(self, world: World) -> None:
        """Each resident's card and face openings resolve to one person living in their house."""
        events = by_subject(world.after)
        homes = {o.resident.person_ref: o.house_code for o in world.yida.occupants}
        persons: dict[str, str] = {}
        checked = 0
        for sighting in world.sightings:
            if sighting.person_ref not in homes or sighting.credential is None:
                continue
            for event in events[subject_of(sighting)]:
                assert event["person_id"] is not None
                persons.setdefault(sighting.person_ref, str(event["person_id"]))
                assert event["person_id"] == persons[sighting.person_ref]
                checked += 1
        assert checked > 100
        for person_ref, person_id in persons.items():
            person = await world.get(f"/v1/persons/{person_id}")
            registered = [r for r in person["residencies"] if r["source"] == "property"]
            assert [r["house_code"] for r in registered] == [homes[person_ref]]
            assert not [r for r in person["residencies"] if r["source"] == "inferred"]
        assert len(set(persons.values())) == len(persons)

    async def test_gate_faces_resolve_by_id_number(self, world: World) -> None:
        """Faces the gate cameras matched resolve to the person of that ID number, already
        before any credential was imported (a person's own ID number is always theirs)."""
        homes = {
            subject_key(YIDA, hash_id_number(PSEUDONYMIZER, o.resident.id_number)): o.house_code
            for o in world.yida.occupants
        }
        for events in (world.before_credentials, world.after):
            faces = [e for e in events if e["kind"] == "face_capture"]
            assert faces
            houses: dict[str, list[str]] = {}
            for face in faces:
                assert face["person_id"] is not None
                if face["person_id"] not in houses:
                    person = await world.get(f"/v1/persons/{face['person_id']}")
                    houses[face["person_id"]] = [r["house_code"] for r in person["residencies"]]
                assert houses[face["person_id"]] == [homes[str(face["subject_key"])]]

    async def test_tenant_and_stranger_stay_anonymous(self, world: World) -> None:
        """Cards nobody registered resolve to no one, and keep a stable subject key."""
        tenant = world.yida.tenant.person
        ref = credential_ref(PSEUDONYMIZER, "card", tenant.card_no)
        events = by_subject(world.after)[subject_key(YIDA, ref)]
        expected = [s for s in world.sightings if s.person_ref == tenant.person_ref]
        assert len(events) == len(expected) >= 10
        assert all(e["person_id"] is None for e in events)
        strangers = [s for s in world.sightings if s.credential and s.person_ref is None]
        assert strangers
        for sighting in strangers:
            assert by_subject(world.after)[subject_of(sighting)]
            for event in by_subject(world.after)[subject_of(sighting)]:
                assert event["person_id"] is None


class TestInference:
    """The tenant is inferred to live behind their unit door; no registered resident is."""

    async def test_the_tenant_is_inferred_in_their_unit(self, world: World) -> None:
        """One live inferred residency: the tenant's subject, their building and unit."""
        tenant = world.yida.tenant
        ref = credential_ref(PSEUDONYMIZER, "card", tenant.person.card_no)
        rows = world.sql(
            "SELECT community, subject_key, building, unit, person_id, confidence, days,"
            " night_days, until FROM inferred_residencies"
        )
        assert len(rows) == 1, rows
        community, subject, building, unit, person_id, confidence, days, nights, until = rows[0]
        assert (community, subject) == (YIDA, subject_key(YIDA, ref))
        assert (building, unit) == (tenant.building, tenant.unit)
        assert person_id is None and until is None
        assert 0 < confidence <= 1
        own = [s.message.at for s in world.sightings if s.person_ref == tenant.person.person_ref]
        assert days == len({local_day(at) for at in own}) >= 5
        assert nights == len({local_day(at) for at in own if is_night(at)}) >= 2

    async def test_no_registered_resident_gets_one(self, world: World) -> None:
        """No person has an inferred residency, though they used their doors just as often."""
        persons = await world.every("/v1/persons", community=YIDA)
        inferred = [
            p["person_id"] for p in persons for r in p["residencies"] if r["source"] == "inferred"
        ]
        assert inferred == []


class TestVehicles:
    """Plates resolve: residents' cars are the registered ones, the others were recorded."""

    async def test_passes_carry_whether_the_car_is_registered(self, world: World) -> None:
        """`vehicle_registered` is true exactly for the plates the property registered."""
        passes = [e for e in world.after if e["kind"] == "vehicle_pass"]
        assert passes
        registered = world.yida.registered_plates
        for event in passes:
            assert event["vehicle_registered"] is (event["plate_no"] in registered)

    async def test_unregistered_cars_are_listed(self, world: World) -> None:
        """The cars nobody registered appear as unregistered vehicles, first and last seen."""
        listed = await world.every("/v1/vehicles", community=YIDA, registered="false")
        assert {v["plate_no"] for v in listed} == world.yida.unregistered_plates
        assert all(v["first_seen_at"] and v["last_seen_at"] for v in listed)

    async def test_registered_cars_keep_their_owners(self, world: World) -> None:
        """Every registered car is listed with an owner and a house of its community."""
        listed = await world.every("/v1/vehicles", community=YIDA, registered="true")
        homes = {car.plate: car.house for car in world.yida.vehicles}
        assert {v["plate_no"]: v["house_code"] for v in listed} == homes
        assert all(v["owner_person_id"] for v in listed)
        seen = {c.plate for c in world.scenario.cars()}
        assert {v["plate_no"] for v in listed if v["last_seen_at"]} == seen


class TestVisitors:
    """Visitor registrations become visitor records that are current during their visit."""

    async def test_visitors_appear(self, world: World) -> None:
        """Each registered visitor is a person of population type `visitor`."""
        visitors = await world.every("/v1/persons", community=YIDA, population_type="visitor")
        assert len(visitors) == len(world.scenario.visits())
        hosts = {v.visit.house for v in world.scenario.visits()}
        assert {p["visit"]["host_house"] for p in visitors} == hosts

    async def test_visitors_expire(self, world: World) -> None:
        """Current at the end of the scenario: the ongoing visits; five hours later: none."""
        store = world.gateway.runtime.store
        grids = world.gateway.runtime.grids.community(YIDA)
        assert grids is not None
        now = await store.community_summary(YIDA, world.end, 14, grids.grids)
        later = await store.community_summary(YIDA, world.end + timedelta(hours=5), 14, grids.grids)
        assert now is not None and later is not None
        assert now.current_visitors == sum(v.current for v in world.scenario.visits())
        assert later.current_visitors == 0


class TestSummary:
    """The community summary's figures equal the generator's ground truth."""

    @pytest.mark.parametrize("code", [YIDA, JIAXIN])
    async def test_master_data_figures(self, world: World, code: str) -> None:
        """Houses by usage, persons by population type and registered vehicles, per grid too."""
        summary = await world.get(f"/v1/communities/{code}/summary")
        truth = world.data[code]
        counts = truth.counts()
        assert summary["houses_by_usage"] == counts.houses_by_usage
        assert summary["persons_by_population_type"] == counts.persons_by_population_type
        assert summary["vehicles_registered"] == counts.vehicles_registered
        assert summary["occupancy"]["registered"] == counts.registered_occupancy
        grids = {g["grid_code"]: g for g in summary["grids"]}
        assert set(grids) == set(truth.grid_codes())
        for code_of_grid, grid in grids.items():
            part = truth.counts(code_of_grid)
            assert grid["houses_by_usage"] == part.houses_by_usage
            assert grid["persons_by_population_type"] == part.persons_by_population_type
            assert grid["occupancy"]["registered"] == part.registered_occupancy

    async def test_observed_figures(self, world: World) -> None:
        """Observed occupancy: the registered residents seen in the window, plus the tenant;
        unregistered vehicles: the cars nobody registered; current visitors apart."""
        summary = await world.get(f"/v1/communities/{YIDA}/summary")
        residents = {o.resident.person_ref for o in world.yida.occupants}
        seen = {
            s.person_ref
            for s in world.sightings
            if s.person_ref in residents and s.message.dialect in ("hik-isapi", "gat1400")
        }
        assert summary["occupancy"]["observed"] == len(seen) + 1
        assert summary["vehicles_unregistered"] == len(world.yida.unregistered_plates)
        assert summary["current_visitors"] == sum(v.current for v in world.scenario.visits())
        jiaxin = await world.get(f"/v1/communities/{JIAXIN}/summary")
        assert jiaxin["occupancy"]["observed"] == 0
        assert jiaxin["vehicles_unregistered"] == 0


class TestPrivacy:
    """After importing and resolving, no raw personal value of any simulated person is stored."""

    async def test_database_dump_holds_no_id_number_name_phone_or_card(self, world: World) -> None:
        """Residents', the tenant's and visitors' ID numbers, names, phones and cards: absent."""
        dump = database_dump(world.dsn)
        assert "yida-B01-U1-0101" in dump  # the dump is the real one
        people = [o.resident for data in world.data.values() for o in data.occupants]
        people.append(world.yida.tenant.person)
        values = {v for p in people for v in (p.id_number, p.name, p.phone, p.card_no)}
        for visit in world.scenario.visits():
            for visitor in visit.visit.visitors:
                values.update(v for v in (visitor.id_number, visitor.name, visitor.phone) if v)
        leaked = sorted(value for value in values if value and value in dump)
        assert leaked == []
