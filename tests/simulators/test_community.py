"""The generated community: deterministic, well-formed, realistic-looking."""

import re
from datetime import date

import pytest

from schemas.identity import gb11643_check_digit
from simulators.community import Community, device_code, generate_community


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
                    assert re.fullmatch(rf"{building.code}-{unit.code}-\d{{4}}", house.code)
                    assert int(house.code[-4:-2]) == house.floor
                    assert 1 <= house.floor <= 11
        assert "B01-U1-0302" in {h.code for h in yida.houses()}

    def test_dimensions_are_honoured(self) -> None:
        small = generate_community(buildings=2, units_per_building=3, floors=4, houses_per_floor=1)
        assert len(small.buildings) == 2
        assert len(list(small.houses())) == 2 * 3 * 4 * 1
        assert len(small.devices) == 2 * 3 + 2

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
            number = resident.id_number
            assert re.fullmatch(r"430112\d{11}[\dX]", number)
            assert number[17] == gb11643_check_digit(number[:17])
            born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
            assert date(1940, 1, 1) <= born <= date(2018, 12, 31)


class TestDevices:
    """One hik-isapi controller per unit door plus two gates, with 20-digit GB/T 28181 codes."""

    def test_codes(self, yida: Community) -> None:
        codes = [d.device_id for d in yida.devices]
        assert all(re.fullmatch(r"4301120000132\d{7}", code) for code in codes)
        assert all(len(code) == 20 for code in codes)
        assert len(set(codes)) == len(codes)
        assert device_code(17) == "43011200001320000017"

    def test_unit_doors_and_gates(self, yida: Community) -> None:
        unit_doors = [d for d in yida.devices if d.building is not None]
        gates = [d for d in yida.devices if d.building is None]
        assert {(d.building, d.unit) for d in unit_doors} == {
            (b.code, u.code) for b in yida.buildings for u in b.units
        }
        assert len(unit_doors) == 12
        assert len(gates) == 2
        assert all(g.unit is None for g in gates)
        assert unit_doors[0].door == "B01-U1 unit door"

    def test_every_controller_reads_in_and_out(self, yida: Community) -> None:
        for device in yida.devices:
            assert (device.dialect, device.kind) == ("hik-isapi", "door_controller")
            assert device.readers == {1: "in", 2: "out"}

    def test_lookup(self, yida: Community) -> None:
        device = yida.devices[3]
        assert yida.device(device.device_id) is device
        with pytest.raises(KeyError):
            yida.device("nope")
        assert yida.unit_residents("B01", "U1")
        assert yida.unit_residents("B99", "U1") == ()
