"""Storage behind one `Store` protocol: TimescaleDB in production, SQLite embedded."""

from gateway.store.base import Store
from gateway.store.postgres import PostgresStore
from gateway.store.sqlite import SqliteStore

__all__ = ["Store", "open_store"]


def open_store(database_url: str, *, pool_size: int = 4) -> Store:
    """The backend for a URL: `postgresql://` (TimescaleDB) or `sqlite:///path` (embedded)."""
    if database_url.startswith("sqlite:///"):
        return SqliteStore(database_url.removeprefix("sqlite:///"))
    return PostgresStore(database_url, pool_size=pool_size)
