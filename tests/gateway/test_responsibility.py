"""Specification of the responsibility list (`gateway.responsibility`): the pilot's categories,
a district-sized list loaded without code changes, and every broken rule named with its file,
line and reason."""

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.responsibility import PILOT_RESPONSIBILITY, ResponsibilityList
from testkit.harness import write_file

PILOT_CATEGORIES = {
    "social_care": ("社会救助", ("community",)),
    "population": ("人口管理", ("grid",)),
    "housing": ("房屋管理", ("grid", "police_station")),
    "housing_info": ("房屋信息核查", ("grid",)),
    "public_security": ("治安管理", ("police_station",)),
    "city_management": ("城市管理", ("property",)),
    "vehicle_registration": ("车辆登记", ("property",)),
    "safety": ("安全隐患", ("property",)),
    "fire_safety": ("消防安全", ("property", "grid")),
    "public_order": ("公共秩序", ("police_station", "grid")),
    "visitor_management": ("访客管理", ("property",)),
    "device_operations": ("设备运维", ("property",)),
}

ENTRY = """\
[[categories]]
code = "{code}"
name = "{name}"
units = ["grid"]
sla_hours = 24
severity = "minor"
send = "platform"
"""


def generated(count: int) -> str:
    """A list of `count` categories, shaped like the district's."""
    units = ("community", "grid", "police_station", "property", "street")
    severities = ("critical", "major", "minor", "info")
    return "\n".join(
        f'[[categories]]\ncode = "item_{n:03d}"\nname = "事项{n:03d}"\n'
        f'gbt_class = "大类{n // 20:02d}·小类{n:03d}"\nunits = ["{units[n % 5]}"]\n'
        f'sla_hours = {1 + n % 72}\nseverity = "{severities[n % 4]}"\n'
        f'send = "{"property" if n % 7 == 0 else "platform"}"\n'
        for n in range(count)
    )


def refusal(tmp_path: Path, text: str) -> str:
    path = write_file(tmp_path / "responsibility.toml", text)
    with pytest.raises(ConfigError) as info:
        ResponsibilityList.load(path)
    return str(info.value)


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    found = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    return found[occurrence - 1]


class TestPilotList:
    """The shipped list holds the pilot's categories with their units, SLA, severity and route."""

    def test_the_default_is_the_shipped_file(self) -> None:
        assert ResponsibilityList.load().source == PILOT_RESPONSIBILITY

    def test_every_pilot_category_has_its_name_and_units(self) -> None:
        listed = ResponsibilityList.load()
        assert {spec.code: (spec.name, spec.units) for spec in listed} == PILOT_CATEGORIES

    def test_every_pilot_category_has_an_english_name_for_the_dashboard(self) -> None:
        english = {spec.code: spec.name_en for spec in ResponsibilityList.load()}
        assert english.keys() == PILOT_CATEGORIES.keys() and all(english.values())
        assert english["city_management"] == "City management"

    def test_only_device_operations_stays_with_the_property(self) -> None:
        local = [spec.code for spec in ResponsibilityList.load() if not spec.forward]
        assert local == ["device_operations"]

    def test_the_watch_list_category_is_critical(self) -> None:
        spec = ResponsibilityList.load().get("public_security")
        assert spec is not None and spec.severity == "critical"

    def test_a_category_becomes_the_ticket_category(self) -> None:
        spec = ResponsibilityList.load().get("social_care")
        assert spec is not None
        assert spec.category.model_dump() == {
            "code": "social_care",
            "name": "社会救助",
            "gbt_class": spec.gbt_class,
        }

    def test_an_unknown_code_is_none(self) -> None:
        listed = ResponsibilityList.load()
        assert listed.get("nothing_like_it") is None and "nothing_like_it" not in listed


class TestDistrictSizedList:
    """A list the size of the district's loads as data."""

    def test_a_generated_224_item_list_loads(self, tmp_path: Path) -> None:
        path = write_file(tmp_path / "district.toml", generated(224))
        listed = ResponsibilityList.load(path)
        assert len(listed) == 224
        last = listed.get("item_223")
        assert last is not None
        assert (last.name, last.units, last.sla_hours) == ("事项223", ("property",), 8)
        assert last.name_en is None  # optional: a list without English names loads


class TestBrokenList:
    """Each broken rule is refused with the file, the line of the key and the reason."""

    def test_an_unknown_key(self, tmp_path: Path) -> None:
        text = ENTRY.format(code="a", name="甲") + 'colour = "red"\n'
        message = refusal(tmp_path, text)
        assert f"responsibility.toml:{line_of(text, 'colour')}: categories.0.colour:" in message
        assert "Extra inputs are not permitted" in message

    def test_a_duplicate_code(self, tmp_path: Path) -> None:
        text = ENTRY.format(code="a", name="甲") + "\n" + ENTRY.format(code="a", name="乙")
        message = refusal(tmp_path, text)
        line = line_of(text, 'code = "a"', occurrence=2)
        assert f"responsibility.toml:{line}: categories.1.code: a is listed twice" in message

    def test_a_bad_unit_type(self, tmp_path: Path) -> None:
        text = ENTRY.format(code="a", name="甲").replace('["grid"]', '["grid", "army"]')
        message = refusal(tmp_path, text)
        assert f"responsibility.toml:{line_of(text, 'units')}: categories.0.units.1:" in message
        assert "'police_station'" in message

    def test_a_unit_type_listed_twice(self, tmp_path: Path) -> None:
        text = ENTRY.format(code="a", name="甲").replace('["grid"]', '["grid", "grid"]')
        message = refusal(tmp_path, text)
        line = line_of(text, "units")
        assert f":{line}: categories.0.units.1: unit type grid is listed twice" in message

    def test_a_bad_severity(self, tmp_path: Path) -> None:
        text = ENTRY.format(code="a", name="甲").replace('"minor"', '"urgent"')
        message = refusal(tmp_path, text)
        assert f":{line_of(text, 'severity')}: categories.0.severity:" in message
        assert "'critical'" in message

    def test_a_bad_send(self, tmp_path: Path) -> None:
        text = ENTRY.format(code="a", name="甲").replace('"platform"', '"email"')
        assert f":{line_of(text, 'send')}: categories.0.send:" in refusal(tmp_path, text)

    def test_a_non_positive_sla(self, tmp_path: Path) -> None:
        text = ENTRY.format(code="a", name="甲").replace("24", "0")
        message = refusal(tmp_path, text)
        assert f":{line_of(text, 'sla_hours')}: categories.0.sla_hours:" in message
        assert "greater than 0" in message

    @pytest.mark.parametrize("value", ["true", '"24"', "nan", "inf"])
    def test_an_sla_that_is_no_finite_number(self, tmp_path: Path, value: str) -> None:
        """`true`, a quoted number, nan and inf are refused, not read as 1, 24 or forever."""
        text = ENTRY.format(code="a", name="甲").replace("24", value)
        message = refusal(tmp_path, text)
        assert f":{line_of(text, 'sla_hours')}: categories.0.sla_hours:" in message

    def test_only_the_items_own_errors_are_reported(self, tmp_path: Path) -> None:
        """A bad entry is not followed by "categories: Tuple should have at least 1 item" (the
        list is not empty, its one entry is broken)."""
        text = ENTRY.format(code="a", name="甲").replace('["grid"]', '["army"]')
        message = refusal(tmp_path, text)
        assert "categories.0.units.0:" in message
        assert "at least 1 item" not in message

    def test_a_byte_order_mark_is_accepted(self, tmp_path: Path) -> None:
        """A list saved by an editor that writes a UTF-8 BOM loads, and errors keep lines."""
        text = ENTRY.format(code="a", name="甲")
        path = tmp_path / "responsibility.toml"
        path.write_bytes(b"\xef\xbb\xbf" + text.encode())
        assert ResponsibilityList.load(path).get("a") is not None
        path.write_bytes(b"\xef\xbb\xbf" + text.replace('"minor"', '"urgent"').encode())
        with pytest.raises(ConfigError, match=f":{line_of(text, 'severity')}: categories.0"):
            ResponsibilityList.load(path)

    def test_a_bad_code(self, tmp_path: Path) -> None:
        text = ENTRY.format(code="Social Care", name="甲")
        assert f":{line_of(text, 'code')}: categories.0.code:" in refusal(tmp_path, text)

    def test_a_missing_key(self, tmp_path: Path) -> None:
        text = ENTRY.format(code="a", name="甲").replace('severity = "minor"\n', "")
        message = refusal(tmp_path, text)
        assert "categories.0.severity: Field required" in message
        assert "responsibility.toml:1:" in message  # the entry's own line

    def test_an_empty_list(self, tmp_path: Path) -> None:
        assert "categories: Field required" in refusal(tmp_path, "# nothing yet\n")

    def test_text_that_is_not_toml(self, tmp_path: Path) -> None:
        message = refusal(tmp_path, "[[categories]\n")
        assert "responsibility.toml" in message and "line 1" in message

    def test_a_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="cannot read config"):
            ResponsibilityList.load(tmp_path / "absent.toml")


class TestStartUp:
    """The gateway refuses to start on a broken list, naming file, line and reason."""

    def test_run_stops_before_opening_the_store(self, tmp_path: Path) -> None:
        text = ENTRY.format(code="a", name="甲").replace('"minor"', '"urgent"')
        path = write_file(tmp_path / "responsibility.toml", text)
        env = {
            "PATH": "/usr/bin:/bin",
            "SCGW_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            "SCGW_ADMIN_API_KEY": "admin-key-0123456789abcdefghij",
            "SCGW_ID_HASH_KEY": "hash-key-0123456789abcdefghijk",
            "SCGW_RESPONSIBILITY": str(path),
            "SCGW_LOG_FORMAT": "text",
        }
        result = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "run", "--api-port", "0"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert result.returncode == 2  # a configuration error
        assert f"{path}:{line_of(text, 'severity')}: categories.0.severity:" in result.stderr
        assert not (tmp_path / "x.db").exists()
