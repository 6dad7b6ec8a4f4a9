"""Storage behind one `Store` protocol: TimescaleDB in production, SQLite embedded."""

from gateway.store.base import Store
from gateway.store.postgres import PostgresStore
from gateway.store.sqlite import SqliteStore

__all__ = ["Store", "open_store"]


def open_store(database_url: str, *, pool_size: int = 4, observations: bool = True) -> Store:
    """The backend for a URL: `postgresql://` (TimescaleDB) or `sqlite:///path` (embedded).

    `observations=False` only for the ingest benchmark's baseline (`SCGW_RESOLUTION=off`).
    """
    if database_url.startswith("sqlite:///"):
        return SqliteStore(database_url.removeprefix("sqlite:///"), observations=observations)
    return PostgresStore(database_url, pool_size=pool_size, observations=observations)
