"""Specification of mapping dialects in the gateway: config validation, routing, the pipeline.

A mistake in a `[[dialects]]` table stops start-up with a `ConfigError` that names the file,
the line and the key (`gateway.toml:14: dialects.0.fields.credential: ...`).
"""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.hik_isapi import HikIsapiAdapter
from adapters.mapping import MappingSpec
from adapters.registry import BUILTIN_ADAPTERS, registry_with
from gateway.config import (
    CommunitySpec,
    GatewayConfig,
    Settings,
    TopicBinding,
    load_config,
    toml_key_lines,
)
from gateway.errors import ConfigError, PayloadError
from gateway.messages import InboundMessage
from gateway.routing import Route, TopicRouter
from gateway.runtime import build_pipeline, build_router, subscription_filters
from schemas.events import AccessEvent, VehiclePass
from testkit.harness import write_file

ROOT = Path(__file__).parents[2]
EXAMPLES = ["mapping-acme-door.toml", "mapping-parkline-gate.toml"]
HASH_KEY = "test-hash-key-0123456789abcdef01"
DEVICE = "43011200001320000017"

DIALECT = """\
[[communities]]
code = "yida"

[[dialects]]
name = "acme-door"
topic = "acme/{community}/{device_id}/event"
kind = "access"

[dialects.fields]
occurred_at = { path = "data.time", format = "epoch_ms" }
method = { path = "data.openType", map = { "1" = "card", "2" = "face" } }
result = { path = "data.success", map = { "true" = "granted", "false" = "denied" } }
direction = { const = "unknown" }
credential = { path = "data.cardNo", hash = "card" }
vendor_code = { template = "acme/{data.openType}" }
"""
"""A valid file; each error test breaks one line of it (line numbers as in the file)."""

RECEIVED = datetime(2026, 11, 26, 0, 20, tzinfo=UTC)
"""When the pipeline tests' messages arrive: just after the times their fixtures carry."""


def config_error(tmp_path: Path, text: str) -> str:
    path = write_file(tmp_path / "gateway.toml", text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def broken(tmp_path: Path, old: str, new: str) -> str:
    assert DIALECT.count(old) == 1
    message = config_error(tmp_path, DIALECT.replace(old, new))
    return message.removeprefix(f"{tmp_path / 'gateway.toml'}:")


def spec(**fields: object) -> MappingSpec:
    return MappingSpec.model_validate(
        {
            "name": "acme-door",
            "kind": "device_status",
            "fields": {
                "occurred_at": {"path": "t", "format": "epoch_ms"},
                "status": {"const": "heartbeat"},
            },
            **fields,
        }
    )


class TestExamples:
    """The example dialects shipped in `config/` load, alone and beside a community file."""

    @pytest.mark.parametrize("name", EXAMPLES)
    def test_example_loads(self, name: str) -> None:
        config = load_config(ROOT / "config" / name)
        assert [spec.name for spec in config.dialects] == [name.removeprefix("mapping-")[:-5]]

    def test_examples_combine_with_communities_and_devices(self, tmp_path: Path) -> None:
        text = '[[communities]]\ncode = "yida"\n\n' + "\n".join(
            (ROOT / "config" / name).read_text(encoding="utf-8") for name in EXAMPLES
        )
        config = load_config(write_file(tmp_path / "gateway.toml", text))
        assert [spec.name for spec in config.dialects] == ["acme-door", "parkline-gate"]

    def test_valid_file_used_by_the_error_tests(self, tmp_path: Path) -> None:
        config = load_config(write_file(tmp_path / "gateway.toml", DIALECT))
        assert config.dialects[0].template is not None
        assert config.dialects[0].template.filter == "acme/+/+/event"


class TestConfigErrors:
    """Each mistake is refused at start-up, naming the line and the dotted key."""

    def test_personal_field_without_hash(self, tmp_path: Path) -> None:
        message = broken(tmp_path, ', hash = "card" }', " }")
        assert message == (
            "14: dialects.0.fields.credential: credential is personal data: "
            'give hash = "<namespace>"; the raw value is never stored'
        )

    def test_personal_field_with_a_constant(self, tmp_path: Path) -> None:
        message = broken(tmp_path, '{ path = "data.cardNo", hash = "card" }', '{ const = "x" }')
        assert message.startswith("14: dialects.0.fields.credential.const: ")
        assert "personal data" in message

    def test_map_value_that_is_not_canonical(self, tmp_path: Path) -> None:
        message = broken(tmp_path, '"2" = "face"', '"2" = "fase"')
        assert message.startswith("11: dialects.0.fields.method.map.2: not a valid method: ")
        assert "'face'" in message

    def test_const_that_is_not_canonical(self, tmp_path: Path) -> None:
        message = broken(tmp_path, 'const = "unknown"', 'const = "sideways"')
        assert message.startswith("13: dialects.0.fields.direction.const: not a valid direction")

    def test_unknown_field(self, tmp_path: Path) -> None:
        message = broken(tmp_path, "vendor_code =", "vendor_kode =")
        assert message.startswith("15: dialects.0.fields.vendor_kode: access events have no field")

    def test_gateway_field(self, tmp_path: Path) -> None:
        message = broken(
            tmp_path, 'direction = { const = "unknown" }', 'building = { const = "B1" }'
        )
        assert (
            message
            == "13: dialects.0.fields.building: building is set by the gateway, not by a mapping"
        )

    def test_missing_required_field(self, tmp_path: Path) -> None:
        message = broken(tmp_path, 'direction = { const = "unknown" }\n', "")
        assert message == "9: dialects.0.fields: access events need fields: direction"

    def test_unknown_kind(self, tmp_path: Path) -> None:
        assert broken(tmp_path, 'kind = "access"', 'kind = "acces"').startswith(
            "7: dialects.0.kind: "
        )

    def test_malformed_path(self, tmp_path: Path) -> None:
        message = broken(tmp_path, '"data.time"', '"data..time"')
        assert message.startswith(
            "10: dialects.0.fields.occurred_at.path: 'data..time' is not a path"
        )

    def test_pattern_without_offset_or_timezone(self, tmp_path: Path) -> None:
        message = broken(tmp_path, '"epoch_ms"', '"%Y-%m-%d %H:%M:%S"')
        assert message.startswith("10: dialects.0.fields.occurred_at.format: the pattern has no %z")

    def test_unknown_time_format(self, tmp_path: Path) -> None:
        message = broken(tmp_path, '"epoch_ms"', '"unix"')
        assert message.startswith("10: dialects.0.fields.occurred_at.format: format must be")

    def test_format_on_a_field_that_is_not_a_time(self, tmp_path: Path) -> None:
        message = broken(
            tmp_path,
            'vendor_code = { template = "acme/{data.openType}" }',
            'vendor_code = { path = "t", format = "epoch_ms" }',
        )
        assert message.startswith("15: dialects.0.fields.vendor_code.format: format only applies")

    def test_unknown_time_zone(self, tmp_path: Path) -> None:
        message = broken(
            tmp_path, 'format = "epoch_ms" }', 'format = "iso8601", timezone = "Mars/Olympus" }'
        )
        assert message.startswith("10: dialects.0.fields.occurred_at.timezone: 'Mars/Olympus'")

    def test_two_sources(self, tmp_path: Path) -> None:
        message = broken(tmp_path, '{ const = "unknown" }', '{ const = "unknown", path = "d" }')
        assert message == (
            "13: dialects.0.fields.direction: give exactly one of path, const, template, "
            "capture, first (got path and const)"
        )

    def test_two_transforms(self, tmp_path: Path) -> None:
        message = broken(tmp_path, 'hash = "card" }', 'hash = "card", mask = "name" }')
        assert message.startswith("14: dialects.0.fields.credential.mask: hash and mask cannot")

    def test_unknown_key_in_a_field(self, tmp_path: Path) -> None:
        message = broken(tmp_path, 'const = "unknown"', 'const = "unknown", eval = "1"')
        assert message == "13: dialects.0.fields.direction.eval: Extra inputs are not permitted"

    def test_topic_without_community(self, tmp_path: Path) -> None:
        message = broken(tmp_path, "acme/{community}/", "acme/{communty}/")
        assert message == (
            "6: dialects.0.topic: topic has no {community} capture: "
            'capture it or set community = "<code>"'
        )

    def test_capture_the_topic_does_not_have(self, tmp_path: Path) -> None:
        message = broken(
            tmp_path, 'direction = { const = "unknown" }', 'direction = { capture = "dir" }'
        )
        assert message == "13: dialects.0.fields.direction.capture: topic has no {dir} capture"

    def test_unquoted_dotted_path_in_when(self, tmp_path: Path) -> None:
        message = broken(tmp_path, 'kind = "access"', 'kind = "access"\nwhen = { data.type = 1 }')
        assert message.startswith("8: dialects.0.when.data: write dotted paths quoted")

    def test_builtin_name(self, tmp_path: Path) -> None:
        message = broken(tmp_path, 'name = "acme-door"', 'name = "hik-isapi"')
        assert message == "5: dialects.0.name: 'hik-isapi' is a built-in dialect"

    def test_name_defined_twice(self, tmp_path: Path) -> None:
        second = DIALECT.split("\n\n", 1)[1]
        message = config_error(tmp_path, DIALECT + "\n" + second)
        assert message.endswith(":18: dialects.1.name: dialect 'acme-door' is defined twice")

    def test_kind_and_rules_together(self, tmp_path: Path) -> None:
        text = DIALECT + '\n[[dialects.events]]\nkind = "door_state"\n'
        message = config_error(tmp_path, text)
        assert message.endswith(":17: dialects.0.events: set kind or [[dialects.events]], not both")

    def test_error_in_a_rule_names_the_rule(self, tmp_path: Path) -> None:
        text = (ROOT / "config" / "mapping-acme-door.toml").read_text(encoding="utf-8")
        text = text.replace('"156" = "qr"', '"156" = "qrcode"')
        line = text.splitlines().index('"156" = "qrcode"               # 0x9c QR code') + 1
        message = config_error(tmp_path, text)
        assert f":{line}: dialects.0.events.1.fields.method.map.156: not a valid method" in message

    def test_error_in_an_alternative_names_the_alternative(self, tmp_path: Path) -> None:
        text = (ROOT / "config" / "mapping-acme-door.toml").read_text(encoding="utf-8")
        text = text.replace('employeeNoString", hash = "employee"', 'employeeNoString"')
        line = next(
            number
            for number, written in enumerate(text.splitlines(), 1)
            if 'employeeNoString" }' in written
        )
        message = config_error(tmp_path, text)
        assert (
            f":{line}: dialects.0.events.1.fields.credential.first.1: credential is personal"
            in message
        )

    def test_every_problem_of_the_file_is_listed(self, tmp_path: Path) -> None:
        text = DIALECT.replace('code = "yida"', 'code = "Yida"').replace(
            '"2" = "face"', '"2" = "fase"'
        )
        message = config_error(tmp_path, text)
        assert ":2: communities.0.code: " in message
        assert ":11: dialects.0.fields.method.map.2: " in message


class TestTomlKeyLines:
    """Lines are found for headers, dotted keys, inline tables and multi-line arrays."""

    TEXT = """\
# a comment with [brackets] and "quotes"
title = "x # not a comment" # a comment

[[dialects]]
name = 'first'
[dialects.fields]
door = { path = "a.b", map = { "1" = "x", 'two' = "y" } }
"quoted.key" = { const = "}" }
direction = { first = [
  { path = "p" },   # first alternative
  { path = \"\"\"q
multi-line\"\"\" },
] }

[[dialects]]
name = "second"
site.building.unit = 3
dates = [1979-05-27T07:32:00Z, 1979-05-27 07:32:00]

[[dialects.events]]
kind = "access"
[dialects.events.fields.method]
path = "m"
"""

    def test_lines(self) -> None:
        lines = toml_key_lines(self.TEXT)
        assert lines[("title",)] == 2
        assert lines[("dialects", "0")] == 4
        assert lines[("dialects", "0", "name")] == 5
        assert lines[("dialects", "0", "fields")] == 6
        assert lines[("dialects", "0", "fields", "door", "map", "two")] == 7
        assert lines[("dialects", "0", "fields", "quoted.key", "const")] == 8
        assert lines[("dialects", "0", "fields", "direction", "first", "0", "path")] == 10
        assert lines[("dialects", "0", "fields", "direction", "first", "1")] == 11
        assert lines[("dialects", "1")] == 15
        assert lines[("dialects", "1", "site", "building", "unit")] == 17
        assert lines[("dialects", "1", "dates", "1")] == 18
        assert lines[("dialects", "1", "events", "0")] == 20
        assert lines[("dialects", "1", "events", "0", "fields", "method", "path")] == 23

    def test_text_it_cannot_follow_gives_what_was_found(self) -> None:
        lines = toml_key_lines('a = 1\nb = { c = "unterminated')
        assert lines[("a",)] == 1


class TestRouting:
    """Mapping dialects' topic templates route after bindings and before the default layout."""

    def config(self, *topics: TopicBinding) -> GatewayConfig:
        return GatewayConfig(
            communities=[CommunitySpec(code="yida")],
            topics=list(topics),
            dialects=load_config(ROOT / "config" / "mapping-acme-door.toml").dialects,
        )

    def router(self, *topics: TopicBinding) -> TopicRouter:
        return TopicRouter(self.config(*topics), {"acme-door", "hik-isapi"})

    def test_template_gives_community_and_device(self) -> None:
        route = self.router().route(f"acme/yida/{DEVICE}/event")
        assert route == Route("acme-door", "yida", DEVICE)

    def test_other_topics_fall_through_to_the_default_layout(self) -> None:
        assert self.router().route(f"yida/hik-isapi/{DEVICE}") == Route("hik-isapi", "yida", DEVICE)

    def test_mapping_dialect_is_reachable_by_the_default_layout(self) -> None:
        assert self.router().route(f"yida/acme-door/{DEVICE}") == Route("acme-door", "yida", DEVICE)

    def test_unconfigured_community_is_refused(self) -> None:
        with pytest.raises(PayloadError) as info:
            self.router().route(f"acme/jiaxin/{DEVICE}/event")
        assert info.value.reason == "unknown_community"

    def test_bindings_are_tried_first(self) -> None:
        binding = TopicBinding(filter="acme/+/+/event", dialect="hik-isapi", community="yida")
        assert self.router(binding).route(f"acme/yida/{DEVICE}/event").dialect == "hik-isapi"

    def test_a_dialect_that_was_not_built_is_unknown(self) -> None:
        with pytest.raises(PayloadError) as info:
            TopicRouter(self.config(), {"hik-isapi"}).route(f"acme/yida/{DEVICE}/event")
        assert info.value.reason == "unknown_dialect"

    def test_fixed_community(self) -> None:
        config = GatewayConfig(dialects=[spec(topic="vendor/{device_id}/hb", community="yida")])
        route = TopicRouter(config, {"acme-door"}).route("vendor/d1/hb")
        assert route == Route("acme-door", "yida", "d1")

    def test_subscriptions_include_the_template(self) -> None:
        settings = Settings(mqtt_topics=["+/+/+"], mqtt_shared_group="g")
        filters = subscription_filters(settings, build_router(self.config()))
        assert filters == ["$share/g/+/+/+", "$share/g/acme/+/+/event"]


class TestRegistry:
    """Mapping dialects are registered beside the built-ins; a taken name is a ConfigError."""

    def test_builtins_and_mappings(self) -> None:
        registry = registry_with([spec()])
        assert set(registry.dialects) == {a.dialect for a in BUILTIN_ADAPTERS} | {"acme-door"}

    def test_builtin_name_is_refused(self) -> None:
        with pytest.raises(
            ConfigError, match=r"dialects\.0\.name: dialect 'hik-isapi' already exists"
        ):
            registry_with([spec(name="hik-isapi")], builtins=(HikIsapiAdapter,))

    def test_name_defined_twice_is_refused(self) -> None:
        with pytest.raises(ConfigError, match=r"dialects\.1\.name"):
            registry_with([spec(), spec()])


class TestPipeline:
    """`build_pipeline` parses a mapping dialect's messages like any other dialect's."""

    def test_message_on_the_template_becomes_an_enriched_event(self, tmp_path: Path) -> None:
        text = (
            '[[communities]]\ncode = "yida"\n\n'
            f'[[devices]]\ndevice_id = "{DEVICE}"\ndialect = "acme-door"\ncommunity = "yida"\n'
            'building = "B03"\nunit = "U1"\n\n'
            + (ROOT / "config" / "mapping-acme-door.toml").read_text(encoding="utf-8")
        )
        config = load_config(write_file(tmp_path / "gateway.toml", text))
        pipeline = build_pipeline(Settings(), config, HASH_KEY)
        payload = (
            ROOT / "tests" / "adapters" / "fixtures" / "hik_isapi" / "card_granted.json"
        ).read_bytes()
        topic = f"acme/yida/{DEVICE}/event"
        batch = pipeline([InboundMessage(topic, payload, RECEIVED, 0.0)])
        assert batch.dead_letters == []
        [event] = batch.events
        assert isinstance(event, AccessEvent)
        assert (event.dialect, event.community, event.device_id) == ("acme-door", "yida", DEVICE)
        assert (event.building, event.unit, event.unregistered_device) == ("B03", "U1", False)

    def test_bad_payload_is_a_dead_letter(self) -> None:
        config = load_config(ROOT / "config" / "mapping-parkline-gate.toml")
        pipeline = build_pipeline(Settings(), config, HASH_KEY)
        payload = json.dumps({"ts": 1795652130123, "plate": "湘A12345", "dir": "up"}).encode()
        batch = pipeline([InboundMessage("parkline/yida/PL-1/plate", payload, RECEIVED, 0.0)])
        assert batch.events == []
        [letter] = batch.dead_letters
        assert letter.reason == "unknown_code"

    def test_dead_letter_shows_the_dialects_mapped_codes_and_never_its_hashed_fields(
        self, tmp_path: Path
    ) -> None:
        config = load_config(write_file(tmp_path / "gateway.toml", DIALECT))
        pipeline = build_pipeline(Settings(), config, HASH_KEY)
        document = {
            "data": {"time": 1795652130123, "openType": 7, "success": True, "cardNo": "LT88991"},
            "remark": "张三 13812345678",
        }
        message = InboundMessage(
            f"acme/yida/{DEVICE}/event", json.dumps(document).encode(), datetime.now(UTC), 0.0
        )
        [letter] = pipeline([message]).dead_letters
        assert letter.reason == "unknown_code"
        assert json.loads(letter.payload_excerpt) == {
            "data": {
                "time": 1795652130123,
                "openType": 7,
                "success": True,
                "cardNo": "<str 7>",
            },
            "remark": "<str 14>",
        }

    def test_good_plate_read(self) -> None:
        config = load_config(ROOT / "config" / "mapping-parkline-gate.toml")
        pipeline = build_pipeline(Settings(), config, HASH_KEY)
        payload = json.dumps({"ts": 1795652130123, "plate": "湘A12345", "dir": "in"}).encode()
        batch = pipeline([InboundMessage("parkline/yida/PL-1/plate", payload, RECEIVED, 0.0)])
        [event] = batch.events
        assert isinstance(event, VehiclePass)
        assert (event.device_id, event.plate_no, event.unregistered_device) == (
            "PL-1",
            "湘A12345",
            True,
        )
