"""The gateway's TOML config rendered from a community: valid TOML listing every device."""

import tomllib
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from gateway.config import load_config
from simulators.community import generate_community
from simulators.config_toml import community_config_toml, toml_string


class TestRoundTrip:
    """`tomllib` reads the rendered config back into the community's devices."""

    def test_lists_the_community(self) -> None:
        community = generate_community()
        config = tomllib.loads(community_config_toml(community))
        assert config["communities"] == [{"code": "yida", "name": "亿达小镇"}]

    def test_lists_every_device(self) -> None:
        community = generate_community()
        devices = tomllib.loads(community_config_toml(community))["devices"]
        assert [d["device_id"] for d in devices] == [d.device_id for d in community.devices]
        for entry, device in zip(devices, community.devices, strict=True):
            assert entry["dialect"] == device.dialect
            assert entry["community"] == "yida"
            assert entry["kind"] == device.kind
            for key in ("building", "unit", "gate", "door", "location"):
                assert entry.get(key) == getattr(device, key), key
            readers = {str(n): direction for n, direction in device.readers.items()}
            assert entry.get("readers", {}) == readers

    def test_door_controllers_read_in_and_out(self) -> None:
        devices = tomllib.loads(community_config_toml(generate_community()))["devices"]
        doors = [d for d in devices if d["dialect"] == "hik-isapi"]
        assert len(doors) == 14
        assert all(d["readers"] == {"1": "in", "2": "out"} for d in doors)

    def test_gates_omit_building_and_unit(self) -> None:
        devices = tomllib.loads(community_config_toml(generate_community()))["devices"]
        gates = [d for d in devices if d["dialect"] == "hik-isapi" and "gate" in d]
        assert [g["gate"] for g in gates] == ["North gate", "South gate"]
        assert all("building" not in g and "unit" not in g for g in gates)

    def test_cameras_have_no_door_or_readers(self) -> None:
        devices = tomllib.loads(community_config_toml(generate_community()))["devices"]
        cameras = [d for d in devices if d["kind"] in {"camera", "capture_camera"}]
        assert len(cameras) == 21
        assert all("door" not in c and "readers" not in c for c in cameras)

    def test_unit_door_entry_reads_as_documented(self) -> None:
        text = community_config_toml(generate_community())
        assert (
            '[[devices]]\ndevice_id = "43011200001320000001"\ndialect = "hik-isapi"\n'
            'community = "yida"\nkind = "door_controller"\nbuilding = "B01"\nunit = "U1"\n'
            'door = "B01-U1 unit door"\nreaders = { "1" = "in", "2" = "out" }\n'
        ) in text

    def test_status_topics_are_bound_to_the_heartbeat_dialect(self) -> None:
        text = community_config_toml(generate_community())
        assert text.endswith(
            '[[topics]]\nfilter = "yida/status/+"\ndialect = "heartbeat"\n'
            'community = "yida"\ndevice_id_level = 3\n'
        )

    def test_the_gateway_accepts_the_file(self, tmp_path: Path) -> None:
        community = generate_community()
        path = tmp_path / "yida.toml"
        path.write_text(community_config_toml(community), encoding="utf-8")
        config = load_config(path)
        assert [d.device_id for d in config.devices] == [d.device_id for d in community.devices]
        assert {d.kind for d in config.devices} == {
            "door_controller",
            "capture_camera",
            "barrier_gate",
            "camera",
            "platform",
        }
        parents = {d.device_id: d.parent for d in config.devices if d.parent is not None}
        assert parents == {d.device_id: d.parent for d in community.devices if d.parent}
        cameras = [d for d in config.devices if d.kind == "camera"]
        assert all(d.offline_after_s == 300 for d in cameras)
        (binding,) = config.topics
        assert (binding.filter, binding.dialect, binding.device_id_level) == (
            "yida/status/+",
            "heartbeat",
            3,
        )


class TestStringEscaping:
    """Any text survives a TOML round trip, quotes, backslashes and control characters included."""

    def test_awkward_strings(self) -> None:
        for text in ['say "hi"', "C:\\doors\\", "a\nb\tc\rd", "\x00\x1f\x7f", "亿达 🚪", ""]:
            assert tomllib.loads(f"k = {toml_string(text)}")["k"] == text

    @given(st.text())
    def test_any_text(self, text: str) -> None:
        assert tomllib.loads(f"k = {toml_string(text)}")["k"] == text
