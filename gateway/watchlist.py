"""The watch-list as this process holds it in memory for the instant rules.

`vehicle.watchlist` runs on the ingest path for every vehicle pass, so it must not query the
database: it reads this snapshot. The snapshot is replaced as a whole (readers never see half a
list) after each change made through this process's API (`replace`), and reloaded from the
store every `SCGW_RULES_INTERVAL_S` by the rule engine (`refresh`), for changes made through
another gateway process.
"""

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Protocol

from gateway.rules.base import InstantContext
from schemas.tickets import WatchlistEntry


class WatchlistSource(Protocol):
    """Where the watch-list is kept (the store's `list_watchlist`)."""

    async def list_watchlist(self) -> list[WatchlistEntry]: ...


class WatchlistHolder:
    """The current watch-list, plate number → entry, and the instant rules' context over it."""

    def __init__(self, entries: Iterable[WatchlistEntry] = ()) -> None:
        self._context = InstantContext()
        self.replace(entries)

    @property
    def snapshot(self) -> Mapping[str, WatchlistEntry]:
        """The list as last loaded (read-only; replaced, never changed in place)."""
        return self._context.watchlist

    @property
    def context(self) -> InstantContext:
        """What the instant rules consult besides the event."""
        return self._context

    def replace(self, entries: Iterable[WatchlistEntry]) -> None:
        """Take `entries` as the whole list (plates are normalised by whoever stored them)."""
        table = {entry.plate_no: entry for entry in entries}
        self._context = InstantContext(watchlist=MappingProxyType(table))

    async def refresh(self, source: WatchlistSource) -> None:
        """Reload the whole list from the store."""
        self.replace(await source.list_watchlist())
