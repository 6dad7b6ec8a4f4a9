"""The generated master data: consistent with the device traffic, deterministic, and true to its
ground truth."""

import json
import random
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import islice

import pytest

from gateway.grids import GridMap
from schemas.codes import Ethnicity, HouseUsage, PopulationType, Relation
from schemas.housing import HouseRecord
from simulators.access_cloud import user_id
from simulators.community import PILOT_LAYOUTS, pilot_community
from simulators.masterdata import (
    DATASETS,
    FIELDS,
    MasterData,
    community_master_data,
    credentials_of,
)
from simulators.visitor_cloud import VisitorStream


@pytest.fixture(scope="module", params=sorted(PILOT_LAYOUTS))
def data(request: pytest.FixtureRequest) -> MasterData:
    return community_master_data(pilot_community(request.param))


def literal_values(alias: object) -> set[str]:
    return set(alias.__args__)  # type: ignore[attr-defined]


class TestRows:
    """Every dataset's rows carry exactly the import field names, with valid codes."""

    def test_field_names(self, data: MasterData) -> None:
        for dataset in DATASETS:
            rows = data.rows(dataset)
            assert rows
            assert all(tuple(row) == FIELDS[dataset] for row in rows)

    def test_numbered_like_a_json_array(self, data: MasterData) -> None:
        numbered = data.numbered("houses")
        assert [line for line, _ in numbered] == list(range(1, len(numbered) + 1))

    def test_house_rows_validate_as_house_records(self, data: MasterData) -> None:
        for row in data.rows("houses"):
            record = HouseRecord.model_validate(row)
            assert record.house_code.startswith(f"{data.community.code}-")

    def test_resident_rows_use_the_code_tables(self, data: MasterData) -> None:
        ethnicity = re.compile(Ethnicity.__metadata__[0].pattern)  # type: ignore[attr-defined]
        for row in data.rows("residents"):
            assert row["population_type"] in literal_values(PopulationType)
            assert row["relation"] in literal_values(Relation)
            assert row["ethnicity"] is None or ethnicity.fullmatch(str(row["ethnicity"]))
            assert date.fromisoformat(str(row["since"])) < date(2026, 1, 1)
            assert isinstance(row["tags"], list)

    def test_foreign_residents_have_no_ethnicity_and_their_own_papers(
        self, data: MasterData
    ) -> None:
        foreign = [r for r in data.rows("residents") if r["population_type"] == "foreign"]
        assert foreign
        assert all(r["id_type"] in ("414", "554") and r["ethnicity"] is None for r in foreign)
        assert all(re.fullmatch("[A-Z]{3}", str(r["nationality"])) for r in foreign)
        others = [r for r in data.rows("residents") if r["population_type"] != "foreign"]
        assert all(r["nationality"] is None for r in others)

    def test_same_seed_same_rows(self, data: MasterData) -> None:
        again = community_master_data(pilot_community(data.community.code))
        assert all(again.rows(d) == data.rows(d) for d in DATASETS)


class TestConsistencyWithTheDevices:
    """The master data names what the simulated devices report."""

    def test_every_resident_is_registered_in_their_house(self, data: MasterData) -> None:
        expected = {(r.id_number, h.code) for h in data.community.houses() for r in h.residents}
        absentee = data.absentee
        expected.add((absentee.resident.id_number, absentee.house_code))
        rows = {(row["id_number"], row["house_code"]) for row in data.rows("residents")}
        assert rows == expected

    def test_every_resident_has_the_credentials_the_devices_read(self, data: MasterData) -> None:
        rows = {
            (row["kind"], row["value"], row["owner_id_number"]) for row in data.rows("credentials")
        }
        people = [*data.community.residents(), data.absentee.resident]
        for person in people:
            assert ("card", person.card_no, person.id_number) in rows
            assert ("employee_no", person.employee_no, person.id_number) in rows
            assert ("cloud_user", user_id(person), person.id_number) in rows
        assert len(rows) == 3 * len(people)
        assert credentials_of(next(data.community.residents()))[0][0] == "card"

    def test_vehicle_rows_are_the_cars_the_barrier_gates_read(self, data: MasterData) -> None:
        plates = {str(row["plate_no"]).replace("·", "") for row in data.rows("vehicles")}
        assert plates == {car.plate for car in data.community.vehicles()}
        assert any("·" in str(row["plate_no"]) for row in data.rows("vehicles"))
        owners = {r.id_number for r in data.community.residents()}
        assert all(row["owner_id_number"] in owners for row in data.rows("vehicles"))

    def test_visitors_name_houses_the_master_data_holds(self, data: MasterData) -> None:
        houses = {row["house_code"] for row in data.rows("houses")}
        start = datetime.now(UTC) - timedelta(days=1)
        stream = VisitorStream(data.community, random.Random(1), start, 30.0)
        named = {json.loads(m.payload)["houseCode"] for m in islice(stream, 60)}
        assert named and named <= houses

    def test_house_rows_name_the_device_registry_buildings_and_units(
        self, data: MasterData
    ) -> None:
        doors = {
            (d.building, d.unit)
            for d in data.community.devices
            if d.dialect == "hik-isapi" and d.building is not None
        }
        assert {(row["building"], row["unit"]) for row in data.rows("houses")} == doors


class TestPeopleTheMasterDataDoesNotKnow:
    """The tenant and the unregistered cars are nobody the property registered."""

    def test_tenant_is_unregistered_and_lives_behind_an_occupied_unit_door(
        self, data: MasterData
    ) -> None:
        tenant = data.tenant
        registered = data.rows("credentials")
        assert tenant.person.card_no not in {row["value"] for row in registered}
        assert tenant.person.id_number not in {row["id_number"] for row in data.rows("residents")}
        assert data.community.unit_residents(tenant.building, tenant.unit)

    def test_absentee_owns_a_vacant_house_and_no_device_sees_them(self, data: MasterData) -> None:
        """The absentee owner is registered at a vacant house, with credentials of their own,
        and lives nowhere in the community's traffic."""
        absentee = data.absentee
        usage = {str(row["house_code"]): row["usage"] for row in data.rows("houses")}
        assert usage[absentee.house_code] == "vacant"
        cards = {row["value"] for row in data.rows("credentials")}
        assert absentee.resident.card_no in cards
        assert absentee.resident not in set(data.community.residents())
        assert data.occupants[-1] == absentee

    def test_unregistered_cars_are_nobodys(self, data: MasterData) -> None:
        assert len(data.unregistered_plates) >= 10
        assert not data.unregistered_plates & data.registered_plates


class TestGroundTruth:
    """The counts the summary must show agree with the rows and with the grid map."""

    def test_counts_agree_with_the_rows(self, data: MasterData) -> None:
        counts = data.counts()
        houses = data.rows("houses")
        residents = data.rows("residents")
        assert counts.houses_by_usage == dict(Counter(str(r["usage"]) for r in houses))
        assert counts.persons_by_population_type == dict(
            Counter(str(r["population_type"]) for r in residents)
        )
        assert counts.vehicles_registered == len(data.rows("vehicles"))
        assert counts.registered_occupancy == len(residents)
        # The absentee owner is registered at a vacant house that declares nobody living there.
        assert sum(int(str(r["registered_occupants"])) for r in houses) == len(residents) - 1

    def test_mostly_registered_some_floating_a_few_foreign(self, data: MasterData) -> None:
        types = data.counts().persons_by_population_type
        total = sum(types.values())
        assert types["registered"] / total > 0.5
        assert 0.1 < types["floating"] / total < 0.45
        assert 0 < types["foreign"] / total < 0.05
        assert types["unregistered"] > 0

    def test_usage_and_tags(self, data: MasterData) -> None:
        usages = data.counts().houses_by_usage
        assert {"self_occupied", "rented", "vacant"} <= set(usages)
        assert set(usages) <= literal_values(HouseUsage)
        tags = Counter(t for o in data.occupants for t in o.tags)
        assert tags["elderly_living_alone"] > 0
        assert tags["disabled"] > 0

    def test_grids_partition_the_community(self, data: MasterData) -> None:
        grids = data.grid_codes()
        assert len(grids) == 2
        parts = [data.counts(g) for g in grids]
        assert sum(p.registered_occupancy for p in parts) == data.counts().registered_occupancy
        assert sum(p.vehicles_registered for p in parts) == data.counts().vehicles_registered

    def test_grid_codes_agree_with_the_gateways_grid_map(self, data: MasterData) -> None:
        grid_map = GridMap.load()
        for facts in data.houses:
            grid = grid_map.grid_of_building(data.community.code, facts.building)
            assert grid is not None and grid.code == facts.grid_code

    def test_home_of_a_resident(self, data: MasterData) -> None:
        first = data.occupants[0]
        assert data.home_of(first.resident.person_ref) == first.house_code
        with pytest.raises(KeyError):
            data.home_of("nobody")


class TestGridMapCoversThePilot:
    """config/grids.toml places every building and gate of both generated communities."""

    @pytest.mark.parametrize("code", sorted(PILOT_LAYOUTS))
    def test_every_building_and_gate_has_a_grid(self, code: str) -> None:
        grid_map = GridMap.load()
        community = pilot_community(code)
        for building in community.buildings:
            assert grid_map.grid_of_building(code, building.code) is not None, building.code
        gates = {d.gate for d in community.devices if d.gate is not None}
        for gate in gates:
            assert grid_map.grid_of_gate(code, gate) is not None, gate
