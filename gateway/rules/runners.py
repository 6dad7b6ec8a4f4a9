"""The three rule runners of a gateway process, built from one catalogue and one drafter:
instant rules on the ingest path, watermark rules on a timer, `device.offline` in the
silent-device watch. `gateway.runtime` builds them when `SCGW_RULES` is on (the default), and
none of them exists when it is off.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from gateway.config import GatewayConfig, Settings
from gateway.devices import DeviceRegistry
from gateway.grids import GridMap
from gateway.responsibility import ResponsibilityList
from gateway.rules.base import Drafter
from gateway.rules.catalog import Catalog, configured_catalog
from gateway.rules.devices import OFFLINE, OfflineTickets
from gateway.rules.engine import RuleEngine
from gateway.rules.instant import InstantEvaluator
from gateway.tickets import TicketDrafter
from gateway.watchlist import WatchlistHolder

if TYPE_CHECKING:
    from gateway.metrics import Metrics
    from gateway.store.base import Store


@dataclass(frozen=True, slots=True)
class RuleRunners:
    """What runs the catalogue's rules: `instant` goes to the `BatchCommitter`, `engine.run()`
    becomes a task, `offline` goes to the `DeviceWatch` (None when `device.offline` is off)."""

    catalog: Catalog
    instant: InstantEvaluator
    engine: RuleEngine
    offline: OfflineTickets | None

    @classmethod
    def of_gateway(
        cls,
        settings: Settings,
        config: GatewayConfig,
        store: "Store",
        responsibility: ResponsibilityList,
        grids: GridMap,
        devices: DeviceRegistry,
        watchlist: WatchlistHolder,
        metrics: "Metrics | None" = None,
        *,
        forwarding: bool,
    ) -> "RuleRunners | None":
        """The runners of a gateway: the catalogue as the TOML file sets it, drafted by the
        responsibility list and the grid map (local tickets only, unless `forwarding` to a
        platform); None with `SCGW_RULES=off`."""
        if not settings.rules:
            return None
        catalog = configured_catalog(config, settings.config)
        drafter = TicketDrafter(
            responsibility,
            grids,
            catalog,
            devices.get,
            forwarding=forwarding,
        )
        return cls.build(settings, store, catalog, drafter, watchlist, metrics)

    @classmethod
    def build(
        cls,
        settings: Settings,
        store: "Store",
        catalog: Catalog,
        drafter: Drafter,
        watchlist: WatchlistHolder,
        metrics: "Metrics | None" = None,
    ) -> "RuleRunners":
        engine = RuleEngine(
            store,
            catalog,
            drafter,
            lateness=timedelta(seconds=settings.rules_lateness_s),
            interval_s=settings.rules_interval_s,
            watchlist=watchlist,
            metrics=metrics,
        )
        offline = catalog.get(OFFLINE)
        return cls(
            catalog,
            InstantEvaluator(catalog, drafter, watchlist),
            engine,
            None if offline is None else OfflineTickets(store, offline, drafter, metrics),
        )
