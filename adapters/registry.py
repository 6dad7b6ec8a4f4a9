"""The explicit dialect registry: dialect name -> adapter class, duplicates refused."""

from collections.abc import Iterable

from adapters.base import Adapter
from adapters.hik_isapi import HikIsapiAdapter
from gateway.privacy import Pseudonymizer

BUILTIN_ADAPTERS: tuple[type[Adapter], ...] = (HikIsapiAdapter,)


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
