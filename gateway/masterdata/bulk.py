"""Many communities' master data straight into the configured store, through the importer.

`scgw import --direct` imports one file of one community; a simulated district
(`scgw simulate --communities N --load-masterdata`) imports hundreds of datasets from memory.
This opens the store once, brings its schema up to date, and hands out one sender that runs
each dataset through the same `Importer` (validation, hashing, masking, sealing, audit), under
a grid map the caller gives (the district's, not necessarily the configured one).
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager

from gateway.config import Settings, load_config
from gateway.errors import ConfigError
from gateway.grids import GridMap
from gateway.masterdata.importer import Importer
from gateway.pii import ContactVault
from gateway.store import open_store
from gateway.store.masterdata import Dataset
from gateway.store.upgrade import RowRules
from schemas.housing import Community
from schemas.privacy import Pseudonymizer

Sender = Callable[[str, Dataset, list[dict[str, object]]], Awaitable[dict[str, int]]]
"""Import one community's dataset from rows (import field names); its outcome counts."""


@asynccontextmanager
async def direct_import(
    database_url: str | None, grid_map: Sequence[Mapping[str, object]], *, actor: str = "cli"
) -> AsyncIterator[Sender]:
    """A sender into the store at `database_url` (None: SCGW_DATABASE_URL); `grid_map` is the
    grid map's communities as `schemas.housing.Community` takes them. `ConfigError` without
    SCGW_ID_HASH_KEY."""
    settings = Settings() if database_url is None else Settings(database_url=database_url)
    if settings.id_hash_key is None:
        raise ConfigError("SCGW_ID_HASH_KEY is not set: it hashes the ID numbers")
    key = settings.id_hash_key.get_secret_value()
    grids = GridMap(tuple(Community.model_validate(item) for item in grid_map))
    store = open_store(settings.database_url)
    await store.open()
    try:
        await store.migrate(RowRules.of(settings, load_config(settings.config)))
        importer = Importer(store, grids, Pseudonymizer(key), ContactVault(key))

        async def send(
            community: str, dataset: Dataset, rows: list[dict[str, object]]
        ) -> dict[str, int]:
            numbered = list(enumerate(rows, start=1))
            report = await importer.run(community, dataset, numbered, actor=actor)
            return report.counts()

        yield send
    finally:
        await store.close()
