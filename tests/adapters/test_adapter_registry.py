"""Specification of the explicit dialect registry (`adapters.registry`)."""

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar

import pytest

from adapters.base import RawMessage, ShownValue
from adapters.hik_isapi import HikIsapiAdapter
from adapters.registry import BUILTIN_ADAPTERS, AdapterRegistry
from schemas.events import AccessEvent, DeviceEvent
from schemas.privacy import Pseudonymizer

PSEUDONYMIZER = Pseudonymizer("test-key-0123456789abcdef")


class AlphaAdapter:
    """A do-nothing dialect that keeps what it was built with, so tests can look."""

    dialect: ClassVar[str] = "alpha"
    dead_letter_fields: ClassVar[Mapping[str, ShownValue]] = MappingProxyType({})

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self.pseudonymizer = pseudonymizer

    def parse(self, message: RawMessage) -> list[DeviceEvent]:
        return []


class ZetaAdapter(AlphaAdapter):
    dialect: ClassVar[str] = "zeta"


class ImpostorHikAdapter(AlphaAdapter):
    dialect: ClassVar[str] = "hik-isapi"


class TestBuiltins:
    """The default registry holds every built-in adapter, the Hikvision ISAPI one included."""

    def test_default_dialects_are_the_builtins(self) -> None:
        registry = AdapterRegistry()
        assert registry.dialects == sorted(factory.dialect for factory in BUILTIN_ADAPTERS)
        assert "hik-isapi" in registry.dialects

    def test_builtin_dialects_are_unique(self) -> None:
        dialects = [factory.dialect for factory in BUILTIN_ADAPTERS]
        assert len(dialects) == len(set(dialects))


class TestDuplicates:
    """A second adapter for a registered dialect is refused, naming the dialect."""

    def test_duplicate_in_the_initial_factories(self) -> None:
        with pytest.raises(ValueError, match="'hik-isapi' is registered twice"):
            AdapterRegistry([HikIsapiAdapter, ImpostorHikAdapter])

    def test_registering_the_same_class_twice(self) -> None:
        registry = AdapterRegistry([AlphaAdapter])
        with pytest.raises(ValueError, match="'alpha'"):
            registry.register(AlphaAdapter)

    def test_a_refused_duplicate_leaves_the_first_in_place(self) -> None:
        registry = AdapterRegistry([HikIsapiAdapter])
        with pytest.raises(ValueError, match="hik-isapi"):
            registry.register(ImpostorHikAdapter)
        assert registry.dialects == ["hik-isapi"]
        assert isinstance(registry.build(PSEUDONYMIZER)["hik-isapi"], HikIsapiAdapter)


class TestDialects:
    """Dialects are listed sorted, whatever the registration order."""

    def test_sorted(self) -> None:
        registry = AdapterRegistry([ZetaAdapter, HikIsapiAdapter])
        registry.register(AlphaAdapter)
        assert registry.dialects == ["alpha", "hik-isapi", "zeta"]

    def test_empty_registry(self) -> None:
        assert AdapterRegistry([]).dialects == []


class TestBuild:
    """Building gives one adapter per dialect, each sharing the gateway's pseudonymizer."""

    def test_one_adapter_per_dialect(self) -> None:
        registry = AdapterRegistry([ZetaAdapter, AlphaAdapter, HikIsapiAdapter])
        adapters = registry.build(PSEUDONYMIZER)
        assert sorted(adapters) == registry.dialects
        assert isinstance(adapters["alpha"], AlphaAdapter)
        assert isinstance(adapters["zeta"], ZetaAdapter)
        assert isinstance(adapters["hik-isapi"], HikIsapiAdapter)
        assert all(adapter.dialect == name for name, adapter in adapters.items())

    def test_adapters_share_the_pseudonymizer(self) -> None:
        adapters = AdapterRegistry([AlphaAdapter, ZetaAdapter]).build(PSEUDONYMIZER)
        for adapter in adapters.values():
            assert isinstance(adapter, AlphaAdapter)
            assert adapter.pseudonymizer is PSEUDONYMIZER

    def test_built_hik_adapter_parses_its_fixture(self) -> None:
        adapter = AdapterRegistry().build(PSEUDONYMIZER)["hik-isapi"]
        payload = (Path(__file__).parent / "fixtures/hik_isapi/card_granted.json").read_bytes()
        raw = RawMessage(
            topic="scgw/yida-town/hik-isapi/34020000001320000001/event",
            payload=payload,
            received_at=datetime(2026, 11, 25, 23, 58, 13, tzinfo=UTC),
            community="yida-town",
            device_id="34020000001320000001",
        )
        [event] = adapter.parse(raw)
        assert isinstance(event, AccessEvent)
        assert event.credential == PSEUDONYMIZER.hash("card", "3188542196")
