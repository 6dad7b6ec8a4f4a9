"""The generated community: deterministic, well-formed, realistic-looking."""

import hashlib
import re
from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest

from schemas.devices import DEVICE_KINDS_BY_DIALECT, DeviceRegistration, DialectKinds
from schemas.identity import gb11643_check_digit
from schemas.plates import is_standard_plate
from simulators.community import (
    FOREIGN_PERMANENT_RESIDENCE,
    NATIONALITIES,
    PASSPORT,
    PILOT_LAYOUTS,
    RESIDENT_ID_CARD,
    Community,
    born_on,
    camera_code,
    device_code,
    generate_community,
    generate_jiaxin,
    pilot_community,
)
from simulators.hik_isapi import HikDoorStream


@pytest.fixture(scope="module")
def yida() -> Community:
    return generate_community()


class TestDeterminism:
    """The same seed gives the same community; another seed gives other people."""

    def test_same_seed_same_community(self) -> None:
        assert generate_community(seed=11) == generate_community(seed=11)

    def test_other_seed_other_residents(self) -> None:
        first = [r.id_number for r in generate_community(seed=1).residents()]
        second = [r.id_number for r in generate_community(seed=2).residents()]
        assert first != second

    def test_layout_does_not_depend_on_seed(self) -> None:
        first, second = generate_community(seed=1), generate_community(seed=2)
        assert first.devices == second.devices
        assert [h.code for h in first.houses()] == [h.code for h in second.houses()]


class TestLayout:
    """Buildings, units and houses follow the requested dimensions and coding."""

    def test_default_is_yida_town(self, yida: Community) -> None:
        assert (yida.code, yida.name) == ("yida", "亿达小镇")
        assert [b.code for b in yida.buildings] == ["B01", "B02", "B03", "B04", "B05", "B06"]
        assert all([u.code for u in b.units] == ["U1", "U2"] for b in yida.buildings)
        assert len(list(yida.houses())) == 6 * 2 * 11 * 2

    def test_house_codes_name_building_unit_floor_and_number(self, yida: Community) -> None:
        for building in yida.buildings:
            for unit in building.units:
                for house in unit.houses:
                    pattern = rf"yida-{building.code}-{unit.code}-\d{{4}}"
                    assert re.fullmatch(pattern, house.code)
                    assert int(house.code[-4:-2]) == house.floor
                    assert 1 <= house.floor <= 11
        assert "yida-B01-U1-0302" in {h.code for h in yida.houses()}

    def test_dimensions_are_honoured(self) -> None:
        small = generate_community(buildings=2, units_per_building=3, floors=4, houses_per_floor=1)
        assert len(small.buildings) == 2
        assert len(list(small.houses())) == 2 * 3 * 4 * 1
        doors = [d for d in small.devices if d.dialect == "hik-isapi"]
        assert len(doors) == 2 * 3 + 2
        lift_lobbies = [d for d in small.devices if d.dialect == "camera-alarm" and d.unit]
        assert len(lift_lobbies) == 2 * 3

    def test_impossible_dimensions_are_refused(self) -> None:
        with pytest.raises(ValueError, match="at least 1"):
            generate_community(floors=0)


class TestResidents:
    """Each house holds zero to four residents with unique, realistic-looking identifiers."""

    def test_occupancy(self, yida: Community) -> None:
        counts = [len(h.residents) for h in yida.houses()]
        assert set(counts) <= {0, 1, 2, 3, 4}
        assert 0 < counts.count(0) < len(counts) // 4
        assert {1, 2, 3, 4} <= set(counts)

    def test_identifiers_are_unique(self, yida: Community) -> None:
        residents = list(yida.residents())
        for attribute in ("person_ref", "card_no", "employee_no", "id_number", "phone"):
            values = [getattr(r, attribute) for r in residents]
            assert len(set(values)) == len(values), attribute

    def test_shapes(self, yida: Community) -> None:
        for resident in yida.residents():
            assert re.fullmatch(r"[\u4e00-\u9fff]{2,3}", resident.name)
            assert re.fullmatch(r"[1-9]\d{9}", resident.card_no)
            assert re.fullmatch(r"1[3-9]\d{9}", resident.phone)
            assert resident.employee_no.isdigit()
            assert resident.person_ref.startswith("yida-")


class TestIdNumbers:
    """ID numbers are 18 characters, registered in Wangcheng, with a valid GB 11643 check digit."""

    def test_check_digit_of_the_standard_example(self) -> None:
        assert gb11643_check_digit("11010519491231002") == "X"

    def test_check_digit_needs_17_digits(self) -> None:
        with pytest.raises(ValueError, match="17 digits"):
            gb11643_check_digit("1234")

    def test_every_resident_has_a_valid_number(self, yida: Community) -> None:
        for resident in yida.residents():
            if resident.nationality is not None:
                continue
            assert resident.id_type == RESIDENT_ID_CARD
            number = resident.id_number
            assert re.fullmatch(r"430112\d{11}[\dX]", number)
            assert number[17] == gb11643_check_digit(number[:17])
            born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
            assert date(1940, 1, 1) <= born <= date(2018, 12, 31)


class TestDevices:
    """One hik-isapi controller per unit door plus two gates, with 20-digit GB/T 28181 codes."""

    def test_codes(self, yida: Community) -> None:
        codes = [d.device_id for d in yida.devices if d.dialect == "hik-isapi"]
        assert codes == [device_code(serial) for serial in range(1, 15)]
        assert all(re.fullmatch(r"4301120000132\d{7}", code) for code in codes)
        assert device_code(17) == "43011200001320000017"
        assert yida.devices[: len(codes)] == yida.devices_of("hik-isapi")  # listed first

    def test_unit_doors_and_gates(self, yida: Community) -> None:
        doors = yida.devices_of("hik-isapi")
        unit_doors = [d for d in doors if d.building is not None]
        gates = [d for d in doors if d.building is None]
        assert {(d.building, d.unit) for d in unit_doors} == {
            (b.code, u.code) for b in yida.buildings for u in b.units
        }
        assert len(unit_doors) == 12
        assert len(gates) == 2
        assert all(g.unit is None for g in gates)
        assert [g.gate for g in gates] == ["North gate", "South gate"]
        assert unit_doors[0].door == "B01-U1 unit door"

    def test_every_controller_reads_in_and_out(self, yida: Community) -> None:
        for device in yida.devices_of("hik-isapi"):
            assert device.kind == "door_controller"
            assert device.readers == {1: "in", 2: "out"}

    def test_lookup(self, yida: Community) -> None:
        device = yida.devices[3]
        assert yida.device(device.device_id) is device
        with pytest.raises(KeyError):
            yida.device("nope")
        assert yida.unit_residents("B01", "U1")
        assert yida.unit_residents("B99", "U1") == ()


class TestEquipment:
    """Cameras, barrier gates and cloud services: every dialect, each a valid registration."""

    def test_device_families(self, yida: Community) -> None:
        families = Counter((d.dialect, d.kind) for d in yida.devices)
        assert families == {
            ("hik-isapi", "door_controller"): 14,
            ("gat1400", "capture_camera"): 6,
            ("barrier-gate", "barrier_gate"): 2,
            ("camera-alarm", "camera"): 15,
            ("access-cloud", "door_controller"): 2,
            ("visitor-cloud", "platform"): 1,
        }
        codes = [d.device_id for d in yida.devices]
        assert len(set(codes)) == len(codes)

    def test_cameras_have_their_own_type_code(self, yida: Community) -> None:
        cameras = [d for d in yida.devices if d.kind in {"camera", "capture_camera"}]
        assert all(re.fullmatch(r"4301120000131\d{7}", d.device_id) for d in cameras)
        assert camera_code(21) == "43011200001310000021"

    def test_gates_and_ramps(self, yida: Community) -> None:
        faces = [d for d in yida.devices if d.dialect == "gat1400" and d.facing]
        assert {(d.gate, d.facing) for d in faces} == {
            (gate, facing) for gate in ("North gate", "South gate") for facing in ("in", "out")
        }
        ramps = {d.gate for d in yida.devices if d.dialect == "barrier-gate"}
        assert ramps == {"North car park ramp", "South car park ramp"}
        assert [d.device_id for d in yida.devices_of("barrier-gate")] == [
            "YD-GATE-N1",
            "YD-GATE-S1",
        ]
        vehicle_cameras = {d.gate for d in yida.devices if d.dialect == "gat1400" and not d.facing}
        assert vehicle_cameras == ramps

    def test_lift_lobbies_and_fire_lanes(self, yida: Community) -> None:
        cameras = yida.devices_of("camera-alarm")
        lobbies = {(d.building, d.unit) for d in cameras if d.unit}
        assert lobbies == {(b.code, u.code) for b in yida.buildings for u in b.units}
        assert [d.location for d in cameras if not d.unit] == [
            "B01 north fire lane",
            "B03 north fire lane",
            "B05 north fire lane",
        ]

    def test_cloud_services(self, yida: Community) -> None:
        assert [d.device_id for d in yida.devices_of("visitor-cloud")] == ["vc-yida-01"]
        assert yida.devices[-1].device_id == "vc-yida-01"  # cloud services last
        doors = yida.devices_of("access-cloud")
        assert [d.door for d in doors] == ["Clubhouse door", "B04-U1 car park door"]

    def test_the_visitor_service_is_the_parent_of_the_gates_controllers_only(
        self, yida: Community
    ) -> None:
        children = [d for d in yida.devices if d.parent is not None]
        assert {d.parent for d in children} == {"vc-yida-01"}
        assert [(d.dialect, d.door) for d in children] == [
            ("hik-isapi", "North gate"),
            ("hik-isapi", "South gate"),
        ]

    def test_every_kind_fits_its_dialect(self, yida: Community) -> None:
        table = DialectKinds(DEVICE_KINDS_BY_DIALECT)
        assert [d.device_id for d in yida.devices if table.problem(d.dialect, d.kind)] == []

    def test_every_device_is_a_valid_registration(self, yida: Community) -> None:
        for d in yida.devices:
            DeviceRegistration(
                device_id=d.device_id,
                kind=d.kind,
                dialect=d.dialect,
                community=yida.code,
                building=d.building,
                unit=d.unit,
                gate=d.gate,
                door=d.door,
                readers=d.readers,
                location=d.location,
                parent=d.parent,
            )


class TestVehicles:
    """About half the households own a car; plates are unique, Hunan, a quarter new-energy."""

    def test_plates(self, yida: Community) -> None:
        cars = list(yida.vehicles())
        plates = [car.plate for car in cars]
        assert len(set(plates)) == len(plates)
        assert all(is_standard_plate(plate) for plate in plates)
        assert all(plate.startswith("湘") for plate in plates)
        new_energy = [car for car in cars if car.new_energy]
        assert all(re.fullmatch(r"湘[A-Z][DF]\d{5}", car.plate) for car in new_energy)
        assert all(len(car.plate) == 7 for car in cars if not car.new_energy)
        assert 0.15 < len(new_energy) / len(cars) < 0.35

    def test_owned_by_adults_of_the_house(self, yida: Community) -> None:
        households = [h for h in yida.houses() if h.residents]
        with_cars = [h for h in households if h.vehicles]
        assert 0.4 < len(with_cars) / len(households) < 0.7
        assert any(len(h.vehicles) == 2 for h in with_cars)
        for house in with_cars:
            owners = {r.person_ref: r for r in house.residents}
            for car in house.vehicles:
                assert car.house == house.code
                assert born_on(owners[car.owner]) < date(2006, 1, 1)
        assert all(not h.vehicles for h in yida.houses() if not h.residents)

    def test_same_seed_same_cars(self) -> None:
        assert list(generate_community(seed=3).vehicles()) == list(
            generate_community(seed=3).vehicles()
        )


class TestStability:
    """Adding the equipment, the cars and foreign residents' papers changed nothing else an
    earlier version generated."""

    def test_residents_are_unchanged(self) -> None:
        residents = [
            (r.person_ref, r.name, r.card_no, r.employee_no, r.phone)
            + ((r.id_number,) if r.nationality is None else ())
            for r in generate_community(seed=7).residents()
        ]
        digest = hashlib.sha256(repr(residents).encode()).hexdigest()
        assert digest == "f3e130fd1b4b7f02e4abd645a19776b272500e1a38eaa20157a1bb223dd1ea48"

    def test_door_stream_is_unchanged(self) -> None:
        start = datetime(2026, 11, 26, 8, tzinfo=timezone(timedelta(hours=8)))
        stream = HikDoorStream(generate_community(), 7, start)
        digest = hashlib.sha256()
        for topic, payload in stream.take(5000):
            digest.update(topic.encode())
            digest.update(payload)
        expected = "c383bd0017594df132ec6f25b86e640e5f067cfac9715dd8eee297e03e38609b"
        assert digest.hexdigest() == expected


class TestForeignResidents:
    """A few residents are foreign nationals, with a passport or a 554 card and a nationality."""

    def test_a_few_foreigners_with_papers_of_their_type(self, yida: Community) -> None:
        foreigners = [r for r in yida.residents() if r.nationality is not None]
        assert 3 <= len(foreigners) <= 30
        nationalities = {code for code, _ in NATIONALITIES}
        for person in foreigners:
            assert person.nationality in nationalities
            if person.id_type == PASSPORT:
                assert re.fullmatch(r"[A-Z]\d{8}", person.id_number)
                assert person.born is not None
                assert person.male is not None
            else:
                assert person.id_type == FOREIGN_PERMANENT_RESIDENCE
                number = person.id_number
                assert re.fullmatch(r"943\d{14}[\dX]", number)
                assert number[17] == gb11643_check_digit(number[:17])
                assert person.born is None

    def test_both_kinds_of_papers_occur_in_the_pilot(self) -> None:
        kinds = {
            r.id_type
            for code in PILOT_LAYOUTS
            for r in pilot_community(code).residents()
            if r.nationality is not None
        }
        assert kinds == {PASSPORT, FOREIGN_PERMANENT_RESIDENCE}

    def test_birth_dates_are_plausible_for_every_resident(self, yida: Community) -> None:
        assert all(date(1940, 1, 1) <= born_on(r) <= date(2018, 12, 31) for r in yida.residents())


class TestPilotCommunities:
    """Both pilot communities can share one gateway: no device code or house code in common."""

    def test_jiaxin_layout(self) -> None:
        jiaxin = generate_jiaxin()
        assert (jiaxin.code, jiaxin.name) == ("jiaxin", "嘉新时代广场")
        assert [b.code for b in jiaxin.buildings] == ["B01", "B02", "B03", "B04"]
        assert all(house.code.startswith("jiaxin-B0") for house in jiaxin.houses())

    def test_no_shared_device_or_house_codes(self) -> None:
        yida, jiaxin = pilot_community("yida"), pilot_community("jiaxin")
        assert not {d.device_id for d in yida.devices} & {d.device_id for d in jiaxin.devices}
        assert not {h.code for h in yida.houses()} & {h.code for h in jiaxin.houses()}

    def test_jiaxin_devices_carry_its_station(self) -> None:
        codes = [d.device_id for d in generate_jiaxin().devices if d.device_id.isdigit()]
        assert codes
        assert all(code.startswith("4301120001") for code in codes)
        assert device_code(1, "0001") == "43011200011320000001"

    def test_communities_share_no_people(self) -> None:
        yida, jiaxin = pilot_community("yida"), pilot_community("jiaxin")
        assert not {r.id_number for r in yida.residents()} & {
            r.id_number for r in jiaxin.residents()
        }

    def test_the_default_community_is_yida(self) -> None:
        assert [h.code for h in pilot_community("yida").houses()] == [
            h.code for h in generate_community().houses()
        ]
