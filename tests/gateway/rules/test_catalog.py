"""The rule table (`gateway.rules.catalog`): every rule once, thresholds the file overrides."""

import re
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.errors import ConfigError
from gateway.rules.base import Rule
from gateway.rules.catalog import (
    Catalog,
    configured_catalog,
    default_catalog,
    threshold_problem,
)
from gateway.rules.safety import RULES as SAFETY_RULES
from testkit.harness import write_file

PLAN_CATEGORIES = {
    "social_care",
    "population",
    "housing",
    "housing_info",
    "public_security",
    "city_management",
    "vehicle_registration",
    "safety",
    "fire_safety",
    "public_order",
    "visitor_management",
    "device_operations",
}
TEMPLATE_FIELD = re.compile(r"\{(\w+)\}")


class TestCatalog:
    def test_every_rule_is_declared_well(self) -> None:
        """Each rule has a family.name code, a pilot category, default thresholds in their
        ranges and Chinese title and description."""
        catalog = default_catalog()
        assert {"safety.door_forced", "visitor.overstay", "device.offline"} <= set(catalog)
        for code, rule in catalog.items():
            assert re.fullmatch(r"[a-z][a-z_]*\.[a-z][a-z_]*", code)
            assert rule.category in PLAN_CATEGORIES
            assert all(threshold_problem(k, v) is None for k, v in rule.thresholds.items())
            assert re.search(r"[\u4e00-\u9fff]", rule.title + rule.description)
            assert "address" in TEMPLATE_FIELD.findall(rule.title + rule.summary_en)

    def test_a_duplicate_code_is_refused(self) -> None:
        """Two rules with one code cannot make a table."""
        with pytest.raises(ValueError, match=r"safety\.door_forced"):
            Catalog([*SAFETY_RULES, SAFETY_RULES[0]])

    def test_instant_rules_are_indexed_by_kind(self) -> None:
        """A kind lists the instant rules reading it; a rule naming no kinds reads them all."""
        catch_all = Rule("test.every", "safety", "instant", {}, print, "t", "d", "s")
        catalog = Catalog([*SAFETY_RULES, catch_all])
        index = catalog.instant_by_kind(["door_state", "access"])
        assert [rule.code for rule in index["door_state"]] == ["safety.door_forced", "test.every"]
        assert [rule.code for rule in index["access"]] == ["test.every"]


class TestConfiguredCatalog:
    def test_overrides_replace_defaults(self, tmp_path: Path) -> None:
        """A threshold set in the file replaces the default; the others keep theirs."""
        path = write_file(tmp_path / "gw.toml", '[rules."safety.door_held_open"]\nminutes = 10\n')
        catalog = configured_catalog(load_config(path), path)
        assert catalog["safety.door_held_open"].thresholds == {"minutes": 10.0}
        assert catalog["fire.lane_occupied"].thresholds == {"min_confidence": 0.8}
        assert default_catalog()["safety.door_held_open"].thresholds == {"minutes": 5.0}

    def test_a_rule_can_be_switched_off(self, tmp_path: Path) -> None:
        """`enabled = 0` leaves the rule out; `enabled = 1` keeps it."""
        path = write_file(
            tmp_path / "gw.toml",
            '[rules."visitor.overstay"]\nenabled = 0\n\n'
            '[rules."fire.lane_occupied"]\nenabled = 1\n',
        )
        catalog = configured_catalog(load_config(path), path)
        assert "visitor.overstay" not in catalog
        assert "fire.lane_occupied" in catalog

    def test_a_confidence_of_zero_takes_every_alarm(self, tmp_path: Path) -> None:
        """`min_confidence` may be 0 (every alarm) or 1, the ends of its range."""
        path = write_file(
            tmp_path / "gw.toml",
            '[rules."fire.lane_occupied"]\nmin_confidence = 0\n\n'
            '[rules."fire.ebike_in_elevator"]\nmin_confidence = 1\n',
        )
        catalog = configured_catalog(load_config(path), path)
        assert catalog["fire.lane_occupied"].thresholds == {"min_confidence": 0.0}
        assert catalog["fire.ebike_in_elevator"].thresholds == {"min_confidence": 1.0}

    @pytest.mark.parametrize(
        ("toml", "where", "reason"),
        [
            (
                '[rules."safety.door_opened"]\nminutes = 5\n',
                ":1: rules.safety.door_opened:",
                "no rule",
            ),
            (
                '\n[rules."safety.door_held_open"]\nseconds = 5\n',
                ":3: rules.safety.door_held_open.seconds:",
                "no threshold 'seconds'",
            ),
            (
                '[rules."fire.lane_occupied"]\n\nmin_confidence = 1.5\n',
                ":3: rules.fire.lane_occupied.min_confidence:",
                "from 0 to 1",
            ),
            (
                '[rules."safety.door_held_open"]\nminutes = 1e12\n',
                ":2: rules.safety.door_held_open.minutes:",
                "at most 366 days",
            ),
            (
                '[rules."visitor.overstay"]\nhours = inf\n',
                ":2: rules.visitor.overstay.hours:",
                "finite number",
            ),
            (
                '[rules."visitor.overstay"]\nhours = nan\n',
                ":2: rules.visitor.overstay.hours:",
                "finite number",
            ),
            (
                '[rules."safety.door_held_open"]\nminutes = true\n',
                ":2: rules.safety.door_held_open.minutes:",
                "valid number",
            ),
            (
                '[rules."safety.door_held_open"]\nminutes = "5"\n',
                ":2: rules.safety.door_held_open.minutes:",
                "valid number",
            ),
            (
                '[rules."visitor.overstay"]\nhours = -1\n',
                ":2: rules.visitor.overstay.hours:",
                "must be positive",
            ),
            (
                '[rules."visitor.overstay"]\nenabled = 2\n',
                ":2: rules.visitor.overstay.enabled:",
                "0 (off) or 1 (on)",
            ),
        ],
    )
    def test_a_bad_override_names_file_line_and_key(
        self, tmp_path: Path, toml: str, where: str, reason: str
    ) -> None:
        """Unknown rules and thresholds, and values that are not finite numbers in their
        threshold's range, stop the start."""
        path = write_file(tmp_path / "gw.toml", toml)
        with pytest.raises(ConfigError) as info:
            configured_catalog(load_config(path), path)
        assert f"{path}{where}" in str(info.value)
        assert reason in str(info.value)
