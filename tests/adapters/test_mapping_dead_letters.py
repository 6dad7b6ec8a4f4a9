"""Specification of a mapping dialect's dead-letter allow-list (`adapters.mapping.dead_letters`):
derived from its own declaration, never showing what it hashes or masks."""

from pathlib import Path

from adapters.mapping import MappingSpec, mapping_adapter
from adapters.mapping.dead_letters import SHOWN_TARGETS, dead_letter_allow_list
from adapters.mapping.targets import TARGETS
from gateway.config import load_config

ROOT = Path(__file__).parents[2]


def spec(**declaration: object) -> MappingSpec:
    return MappingSpec.model_validate({"name": "test-dialect", **declaration})


def access(**fields: object) -> MappingSpec:
    """An access dialect with the required fields plus `fields`."""
    required = {
        "occurred_at": {"path": "t", "format": "epoch_ms"},
        "method": {"const": "card"},
        "result": {"const": "granted"},
        "direction": {"const": "in"},
        "vendor_code": {"path": "code"},
    }
    return spec(kind="access", fields={**required, **fields})


class TestDerivedAllowList:
    """Paths mapped to code, time and identifier fields are shown; personal ones never."""

    def test_the_acme_door_example(self) -> None:
        [acme] = load_config(ROOT / "config" / "mapping-acme-door.toml").dialects
        assert set(dead_letter_allow_list(acme)) == {
            "eventType",
            "dateTime",
            "deviceID",
            "AccessControllerEvent.majorEventType",
            "AccessControllerEvent.subEventType",
            "AccessControllerEvent.serialNo",
            "AccessControllerEvent.cardReaderNo",
            "AccessControllerEvent.doorNo",
            "AccessControllerEvent.attendanceStatus",
        }

    def test_the_parkline_example_leaves_out_plates_and_pictures(self) -> None:
        [parkline] = load_config(ROOT / "config" / "mapping-parkline-gate.toml").dialects
        shown = dead_letter_allow_list(parkline)
        assert set(shown) == {"ts", "gateId", "dir", "lane", "conf", "plateColor", "recordId"}
        assert mapping_adapter(parkline).dead_letter_fields == shown

    def test_a_hashed_path_is_never_shown_whatever_its_key_is_called(self) -> None:
        derived = access(
            door={"path": "deviceNo"},
            credential={"path": "deviceNo", "hash": "card"},
            reader={"path": "readerNo"},
        )
        assert set(dead_letter_allow_list(derived)) == {"t", "code", "readerNo"}

    def test_hashes_and_masks_inside_alternatives_and_templates_are_never_shown(self) -> None:
        derived = spec(
            kind="visitor",
            fields={
                "occurred_at": {"path": "when", "format": "iso8601"},
                "action": {"path": "act", "map": {"in": "checked_in"}},
                "visit_id": {"template": "{visit.id}-{holder.ref}"},
                "visitor_ref": {"template": "{holder.ref}", "hash": "id_number"},
                "id_masked": {
                    "first": [
                        {"path": "a.no", "mask": "id_number"},
                        {"path": "b", "mask": "id_number"},
                    ]
                },
                "name_masked": {"path": "remark", "mask": "name"},
                "purpose": {"first": [{"path": "why"}, {"path": "whom", "hash": "host"}]},
            },
        )
        assert set(dead_letter_allow_list(derived)) == {"when", "act", "visit.id", "why"}

    def test_nothing_below_a_protected_path_is_shown(self) -> None:
        derived = access(credential={"path": "card", "hash": "card"}, door={"path": "card.door"})
        assert set(dead_letter_allow_list(derived)) == {"t", "code"}

    def test_fields_outside_the_shown_targets_are_not_shown(self) -> None:
        derived = spec(
            kind="vehicle_pass",
            fields={
                "occurred_at": {"path": "t", "format": "epoch_s"},
                "plate_no": {"path": "plate"},
                "image_url": {"path": "pic"},
                "lane": {"path": "lane"},
            },
        )
        assert set(dead_letter_allow_list(derived)) == {"t", "lane"}

    def test_conditions_and_event_ids_are_shown_and_indices_widen(self) -> None:
        derived = spec(
            when={"head.type": "open"},
            id={"paths": ["head.serial", "$occurred_at"]},
            events=[
                {
                    "kind": "door_state",
                    "when": {"items[0].code": [1, 2]},
                    "fields": {
                        "occurred_at": {"path": "items[-1].at", "format": "epoch_ms"},
                        "state": {"path": "items[0].code", "map": {"1": "opened", "2": "closed"}},
                        "vendor_code": {"const": "x"},
                    },
                }
            ],
        )
        assert set(dead_letter_allow_list(derived)) == {
            "head.type",
            "head.serial",
            "items[].code",
            "items[].at",
        }

    def test_shown_targets_are_canonical_fields_that_hold_no_personal_data(self) -> None:
        every = {name: target for kind in TARGETS.values() for name, target in kind.items()}
        assert set(every) >= set(SHOWN_TARGETS)
        assert all(every[name].protection is None for name in SHOWN_TARGETS)
