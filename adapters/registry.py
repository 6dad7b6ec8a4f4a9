"""The explicit dialect registry: dialect name -> adapter class, duplicates refused."""

from collections.abc import Iterable, Sequence

from adapters.access_cloud import AccessCloudAdapter
from adapters.barrier_gate import BarrierGateAdapter
from adapters.base import Adapter
from adapters.camera_alarm import CameraAlarmAdapter
from adapters.gat1400 import Gat1400Adapter
from adapters.heartbeat import HeartbeatAdapter
from adapters.hik_isapi import HikIsapiAdapter
from adapters.mapping import MappingSpec, mapping_adapter
from adapters.visitor_cloud import VisitorCloudAdapter
from schemas.errors import ConfigError
from schemas.privacy import Pseudonymizer

BUILTIN_ADAPTERS: tuple[type[Adapter], ...] = (
    HikIsapiAdapter,
    AccessCloudAdapter,
    Gat1400Adapter,
    BarrierGateAdapter,
    CameraAlarmAdapter,
    VisitorCloudAdapter,
    HeartbeatAdapter,
)


class AdapterRegistry:
    """Maps dialect names to adapter factories; a second adapter for one name is an error."""

    def __init__(self, factories: Iterable[type[Adapter]] = BUILTIN_ADAPTERS) -> None:
        self._factories: dict[str, type[Adapter]] = {}
        for factory in factories:
            self.register(factory)

    def register(self, factory: type[Adapter]) -> None:
        """Add a dialect; refusing duplicates keeps routing unambiguous."""
        if factory.dialect in self._factories:
            raise ValueError(f"dialect {factory.dialect!r} is registered twice")
        self._factories[factory.dialect] = factory

    @property
    def dialects(self) -> list[str]:
        return sorted(self._factories)

    def build(self, pseudonymizer: Pseudonymizer) -> dict[str, Adapter]:
        """One adapter instance per dialect, sharing the gateway's pseudonymizer."""
        return {name: factory(pseudonymizer) for name, factory in self._factories.items()}


def registry_with(
    dialects: Sequence[MappingSpec], builtins: Iterable[type[Adapter]] = BUILTIN_ADAPTERS
) -> AdapterRegistry:
    """The built-in adapters plus one mapping adapter per configured dialect.

    A configured name that is already taken is a `ConfigError` naming its key: routing by
    dialect name must stay unambiguous, and a config must never replace a coded adapter.
    """
    registry = AdapterRegistry(builtins)
    for index, spec in enumerate(dialects):
        if spec.name in registry.dialects:
            raise ConfigError(
                f"dialects.{index}.name: dialect {spec.name!r} already exists "
                "(built in, or defined earlier)"
            )
        registry.register(mapping_adapter(spec))
    return registry
