"""The device registry's contract (`schemas.devices`): which kinds each dialect serves, and
who may speak for a device (`parent`)."""

import re
import typing

import pytest
from pydantic import ValidationError

from adapters.registry import BUILTIN_ADAPTERS
from schemas.devices import (
    DEVICE_KIND_NAMES,
    DEVICE_KINDS_BY_DIALECT,
    DEVICE_KINDS_BY_EVENT_KIND,
    OFFLINE_AFTER_S_BY_KIND,
    RELAYING_KINDS,
    STATUS_DIALECT,
    DeviceKind,
    DeviceRegistration,
    DialectKinds,
    ParentRule,
    mapping_dialect_kinds,
)
from schemas.events import EventKind

KINDS = set(typing.get_args(DeviceKind))


def registration(**fields: object) -> DeviceRegistration:
    values: dict[str, object] = {
        "device_id": "43011200001325000002",
        "dialect": "access-cloud",
        "community": "yida",
        **fields,
    }
    return DeviceRegistration.model_validate(values)


class TestKindTables:
    """One row per built-in adapter and per event kind, naming only kinds that exist."""

    def test_every_built_in_adapter_has_a_row_and_every_row_an_adapter(self) -> None:
        assert set(DEVICE_KINDS_BY_DIALECT) == {adapter.dialect for adapter in BUILTIN_ADAPTERS}

    def test_every_event_kind_has_a_row(self) -> None:
        assert set(DEVICE_KINDS_BY_EVENT_KIND) == set(typing.get_args(EventKind))

    def test_rows_name_only_device_kinds(self) -> None:
        for kinds in (*DEVICE_KINDS_BY_DIALECT.values(), *DEVICE_KINDS_BY_EVENT_KIND.values()):
            assert kinds <= KINDS

    def test_every_kind_is_served_by_some_built_in_dialect(self) -> None:
        assert set().union(*DEVICE_KINDS_BY_DIALECT.values()) == KINDS

    def test_every_kind_has_an_offline_interval(self) -> None:
        assert set(OFFLINE_AFTER_S_BY_KIND) == KINDS

    def test_every_kind_has_a_chinese_name(self) -> None:
        assert set(DEVICE_KIND_NAMES) == KINDS
        assert all(re.fullmatch(r"[\u4e00-\u9fff]+", name) for name in DEVICE_KIND_NAMES.values())

    def test_the_status_dialect_is_no_devices_own(self) -> None:
        assert DEVICE_KINDS_BY_DIALECT[STATUS_DIALECT] == frozenset()

    def test_a_barrier_gate_is_not_a_hik_isapi_device(self) -> None:
        assert "barrier_gate" not in DEVICE_KINDS_BY_DIALECT["hik-isapi"]


class TestMappingDialectKinds:
    """A configured dialect serves the kinds making its events, plus `platform` if it relays."""

    def test_the_union_over_its_event_kinds(self) -> None:
        kinds = mapping_dialect_kinds(["access", "behaviour_alarm"], relays=False)
        assert kinds == {"door_controller", "face_terminal", "camera"}

    def test_a_relaying_dialect_also_serves_platforms(self) -> None:
        assert mapping_dialect_kinds(["vehicle_pass"], relays=True) == {
            "capture_camera",
            "barrier_gate",
            "platform",
        }

    def test_status_events_alone_serve_no_kind(self) -> None:
        assert mapping_dialect_kinds(["device_status"], relays=False) == frozenset()


class TestDialectKinds:
    """The table a gateway checks registrations with: its dialects, and their kinds."""

    table = DialectKinds({**DEVICE_KINDS_BY_DIALECT, "acme": {"door_controller"}})

    @pytest.mark.parametrize(
        ("dialect", "kind"),
        [
            ("hik-isapi", "door_controller"),
            ("gat1400", "platform"),
            ("visitor-cloud", "platform"),
            ("barrier-gate", "barrier_gate"),
            ("acme", "door_controller"),
        ],
    )
    def test_a_kind_the_dialect_serves_is_accepted(self, dialect: str, kind: str) -> None:
        assert self.table.problem(dialect, kind) is None

    def test_an_unknown_dialect_is_a_dialect_problem_listing_the_registrable_ones(self) -> None:
        field, message = self.table.problem("zkteco-secret", "door_controller") or ("", "")
        assert field == "dialect"
        assert "access-cloud, acme, barrier-gate" in message
        assert "heartbeat" not in message
        assert "zkteco" not in message

    def test_the_status_dialect_is_a_dialect_problem(self) -> None:
        assert (self.table.problem("heartbeat", "camera") or ("",))[0] == "dialect"

    @pytest.mark.parametrize(
        ("dialect", "kind"),
        [("hik-isapi", "barrier_gate"), ("camera-alarm", "platform"), ("acme", "camera")],
    )
    def test_a_kind_outside_the_row_is_a_kind_problem(self, dialect: str, kind: str) -> None:
        field, message = self.table.problem(dialect, kind) or ("", "")
        assert field == "kind"
        assert kind not in message


class TestParent:
    """A device may name the one other device that speaks for it; never itself."""

    def test_no_parent_by_default(self) -> None:
        assert registration().parent is None

    def test_a_parent_is_kept(self) -> None:
        assert registration(parent="ac-yida-01").parent == "ac-yida-01"

    @pytest.mark.parametrize(
        "parent", ["43011200001325000002", "", "ac/yida", "ac+1", "ac 1", "p" * 65]
    )
    def test_itself_or_an_id_no_topic_could_carry_is_refused(self, parent: str) -> None:
        with pytest.raises(ValidationError) as info:
            registration(parent=parent)
        assert [error["loc"] for error in info.value.errors()] == [("parent",)]


def device(device_id: str, **fields: object) -> DeviceRegistration:
    return registration(device_id=device_id, **fields)


ACCOUNT = device("P1", kind="platform")


class TestParentRule:
    """A parent is registered, in the community, relays, and has no parent; a parent stays
    what its children need; the answers name the field and the rule, never a value."""

    def test_relaying_kinds_are_the_tables_platform(self) -> None:
        added = {kind for kinds in DEVICE_KINDS_BY_DIALECT.values() for kind in kinds}
        assert {"platform"} == RELAYING_KINDS and added >= RELAYING_KINDS

    def test_a_door_of_a_platform_passes(self) -> None:
        door = device("D1", parent="P1")
        assert ParentRule([ACCOUNT]).problem(door) is None
        assert ParentRule([ACCOUNT, door]).problem(ACCOUNT) is None

    @pytest.mark.parametrize(
        ("registered", "message"),
        [
            ([], "is not a registered device"),
            ([device("P1", kind="platform", community="jiaxin")], "in another community"),
            ([device("P1")], "a parent is a platform"),
            ([device("P1", kind="platform", parent="P0")], "has a parent of its own"),
        ],
    )
    def test_a_parent_breaking_the_rule_is_named(
        self, registered: list[DeviceRegistration], message: str
    ) -> None:
        field, text = ParentRule(registered).problem(device("D1", parent="P1")) or ("", "")
        assert field == "parent" and message in text and "P1" not in text

    def test_an_unknown_parent_may_be_deferred(self) -> None:
        rule = ParentRule([])
        assert rule.parent_problem(device("D1", parent="P1"), unknown_parent_ok=True) is None

    @pytest.mark.parametrize(
        ("again", "field"),
        [
            (device("P1"), "kind"),
            (device("P1", kind="platform", community="jiaxin"), "community"),
            (device("P1", kind="platform", parent="P2"), "parent"),
        ],
    )
    def test_a_parent_stays_what_its_children_need(
        self, again: DeviceRegistration, field: str
    ) -> None:
        rule = ParentRule([ACCOUNT, device("P2", kind="platform"), device("D1", parent="P1")])
        assert (rule.problem(again) or ("",))[0] == field


class TestRegistrationIdentifiers:
    """Device ids and declared names follow `schemas.identifiers`: refused, never corrected."""

    @pytest.mark.parametrize(
        "device_id", ["43011200001320000001", "YD-GATE-N1", "vc-yida-01", "cam:1.2"]
    )
    def test_device_ids_that_pass(self, device_id: str) -> None:
        assert registration(device_id=device_id).device_id == device_id

    @pytest.mark.parametrize(
        "device_id",
        ["13812345678", "dev-86-139-8765-4321", "11010519491231002X", "a..b", "门禁1", ""],
    )
    @pytest.mark.parametrize("field", ["device_id", "parent"])
    def test_device_ids_refused(self, field: str, device_id: str) -> None:
        with pytest.raises(ValidationError, match=field):
            registration(**{field: device_id})

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("building", "<b>B01</b>"),
            ("unit", "U1 138 1234 5678"),
            ("gate", "North\ngate"),
            ("door", "d" * 65),
            ("firmware", "javascript:x"),
            ("location", "owner 430112199001011230"),
        ],
    )
    def test_names_refused(self, field: str, value: str) -> None:
        with pytest.raises(ValidationError, match=field) as info:
            registration(**{"building": "B01", "unit": "U1", field: value})
        assert all(value not in error["msg"] for error in info.value.errors())

    def test_names_are_kept_trimmed(self) -> None:
        location = "north entrance, lane 1 " + "x" * 200
        device = registration(building=" B01 ", location=f" {location} ")
        assert (device.building, device.location) == ("B01", location)
