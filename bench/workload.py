"""What the district benchmark publishes and loads: a workload behind one small interface.

Why it exists: the six district benchmarks need the same four things from a simulator (the
gateway's configuration and grid map, each community's property master data, and N messages
rendered ahead of time, all in the past), whatever simulator makes them. `YidaMix` serves them
from `simulators.yida_mix` (one community, every dialect); `DistrictMix` from
`simulators.district` (1 to 141 communities). Phases only see `Workload`.
"""

import importlib
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from bench.apiload import MasterData, load_communities
from bench.common import Message
from simulators.community import pilot_community
from simulators.config_toml import community_config_toml
from simulators.masterdata import DATASETS, community_master_data
from simulators.yida_mix import HourlyRates, YidaTraffic

SEED = 7
LEAD = timedelta(hours=1)
"""The rendered messages end at least this long before now: the gateway refuses events from
the future, and a message rendered for a phase that starts minutes later must still be past."""


class Workload(Protocol):
    """A simulator as the benchmarks see it."""

    name: str

    @property
    def communities(self) -> list[str]:
        """Community codes, in order."""
        ...

    def write_gateway_config(self, path: Path) -> None:
        """The gateway TOML: communities, every device, topic bindings."""

    def write_grid_map(self, path: Path) -> None:
        """The grid map (`config/grids.toml` format) naming every community."""

    def masterdata(self, community: str) -> MasterData:
        """Each dataset's import rows (houses first), as `PUT /v1/property` takes them."""
        ...

    async def load_masterdata(self, base_url: str) -> dict[str, Any]:
        """Every community's master data through a running gateway's property import."""
        ...

    def messages(self, count: int) -> "Rendered":
        """`count` messages in event-time order, every one at least `LEAD` in the past."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the result JSON says about the workload."""
        ...


class YidaMix:
    """Yida Town's full mix of dialects (`simulators.yida_mix`), accelerated `speed` times so
    that a million messages span hours of event time, not weeks (the gateway keeps events at
    most `SCGW_EVENT_MAX_AGE_DAYS` old). Heartbeats keep their real period."""

    name = "yida_mix"
    PILOT_GRID_MAP = Path(__file__).resolve().parent.parent / "config" / "grids.toml"

    def __init__(self, speed: float = 100.0, seed: int = SEED) -> None:
        self.speed = speed
        self.seed = seed
        self.community = pilot_community("yida", seed)

    @property
    def communities(self) -> list[str]:
        return [self.community.code]

    def write_gateway_config(self, path: Path) -> None:
        path.write_text(community_config_toml(self.community), encoding="utf-8")

    def write_grid_map(self, path: Path) -> None:
        path.write_text(self.PILOT_GRID_MAP.read_text(encoding="utf-8"), encoding="utf-8")

    def masterdata(self, community: str) -> MasterData:
        if community != self.community.code:
            raise KeyError(community)
        data = community_master_data(self.community, self.seed)
        return {dataset: list(data.rows(dataset)) for dataset in DATASETS}

    async def load_masterdata(self, base_url: str) -> dict[str, Any]:
        return await load_communities(base_url, self.communities, self.masterdata)

    def messages(self, count: int) -> "Rendered":
        # Hourly rates at speed 1 sum to ~970 messages; 800/h per unit of speed is a floor, so
        # starting this early ends the run in the past.
        hours = count / (800.0 * self.speed) + 0.1
        start = datetime.now(UTC).replace(microsecond=0) - LEAD - timedelta(hours=hours)
        traffic = YidaTraffic(
            self.community, self.seed, start, None, HourlyRates().scaled(self.speed)
        )
        records = list(itertools.islice(traffic.records(), count))
        return Rendered([(r.topic, r.payload) for r in records], [len(r.kinds) for r in records])

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "communities": self.communities,
            "devices": len(self.community.devices),
            "speed": self.speed,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class Rendered:
    """Messages ready to publish, and how many events each becomes (the simulator's ground
    truth: a GA/T 1400 list of faces is several, a heartbeat one status event)."""

    messages: list[Message]
    events_per_message: list[int]

    def __len__(self) -> int:
        return len(self.messages)

    def events(self, start: int = 0, stop: int | None = None) -> int:
        """Rows `events` holds once messages [start, stop) are committed."""
        return sum(self.events_per_message[start:stop])

    def slice(self, start: int, stop: int) -> "Rendered":
        return Rendered(self.messages[start:stop], self.events_per_message[start:stop])


class DistrictMix:
    """`simulators.district.District` (1 to 141 communities) with its life-like traffic
    (about 600 messages per event second at scale 1). Imported when used, so the Yida
    workload does not need it."""

    name = "district"

    def __init__(self, communities: int = 141, scale: float = 1.0, seed: int = SEED) -> None:
        module = importlib.import_module("simulators.district")
        self.district: Any = module.District(communities, scale=scale, seed=seed)
        self.seed = seed
        self.scale = scale

    @property
    def communities(self) -> list[str]:
        return list(self.district.communities)

    def write_gateway_config(self, path: Path) -> None:
        self.district.write_gateway_config(path)

    def write_grid_map(self, path: Path) -> None:
        self.district.write_grid_map(path)

    def masterdata(self, community: str) -> MasterData:
        return {k: list(v) for k, v in self.district.masterdata(community).items()}

    async def load_masterdata(self, base_url: str) -> dict[str, Any]:
        return await load_communities(base_url, self.communities, self.masterdata)

    def messages(self, count: int) -> Rendered:
        rates = self.district.hourly_rates()
        floor = sum(r.door_events for r in rates.values()) + self.district.heartbeats_per_hour()
        hours = count / max(floor, 1.0) * 1.5 + 0.5  # the night is thinner than the mean
        start = datetime.now(UTC).replace(microsecond=0) - LEAD - timedelta(hours=hours)
        records = list(itertools.islice(self.district.records(start), count))
        return Rendered([(r.topic, r.payload) for r in records], [len(r.kinds) for r in records])

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "communities": self.communities,
            "devices": self.district.devices,
            "houses": self.district.houses,
            "grids": self.district.grids,
            "scale": self.scale,
            "seed": self.seed,
        }
