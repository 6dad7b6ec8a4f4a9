"""The gateway's TOML config rendered from a community: valid TOML listing every device."""

import tomllib

from hypothesis import given
from hypothesis import strategies as st

from simulators.community import generate_community
from simulators.config_toml import community_config_toml, toml_string


class TestRoundTrip:
    """`tomllib` reads the rendered config back into the community's devices."""

    def test_lists_the_community(self) -> None:
        community = generate_community()
        config = tomllib.loads(community_config_toml(community))
        assert config["communities"] == [{"code": "yida", "name": "亿达小镇"}]

    def test_lists_every_device_with_reader_directions(self) -> None:
        community = generate_community()
        devices = tomllib.loads(community_config_toml(community))["devices"]
        assert [d["device_id"] for d in devices] == [d.device_id for d in community.devices]
        for entry, device in zip(devices, community.devices, strict=True):
            assert entry["dialect"] == "hik-isapi"
            assert entry["community"] == "yida"
            assert entry["kind"] == "door_controller"
            assert entry["door"] == device.door
            assert entry.get("building") == device.building
            assert entry.get("unit") == device.unit
            assert entry["readers"] == {"1": "in", "2": "out"}

    def test_gates_omit_building_and_unit(self) -> None:
        devices = tomllib.loads(community_config_toml(generate_community()))["devices"]
        gates = [d for d in devices if "gate" in d["door"]]
        assert len(gates) == 2
        assert all("building" not in g and "unit" not in g for g in gates)

    def test_unit_door_entry_reads_as_documented(self) -> None:
        text = community_config_toml(generate_community())
        assert (
            '[[devices]]\ndevice_id = "43011200001320000001"\ndialect = "hik-isapi"\n'
            'community = "yida"\nkind = "door_controller"\nbuilding = "B01"\nunit = "U1"\n'
            'door = "B01-U1 unit door"\nreaders = { "1" = "in", "2" = "out" }\n'
        ) in text


class TestStringEscaping:
    """Any text survives a TOML round trip, quotes, backslashes and control characters included."""

    def test_awkward_strings(self) -> None:
        for text in ['say "hi"', "C:\\doors\\", "a\nb\tc\rd", "\x00\x1f\x7f", "亿达 🚪", ""]:
            assert tomllib.loads(f"k = {toml_string(text)}")["k"] == text

    @given(st.text())
    def test_any_text(self, text: str) -> None:
        assert tomllib.loads(f"k = {toml_string(text)}")["k"] == text
