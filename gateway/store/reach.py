"""Failing fast when a database cannot be reached, naming where we looked.

The store's pool waits up to 30 s for PostgreSQL at start-up, which suits a service started
beside its database. A one-off command (`scgw migrate`) should instead say within seconds
which address it tried, without the password.
"""

import asyncio
from urllib.parse import urlsplit

import psycopg

from gateway.errors import StoreError

CONNECT_TIMEOUT_S = 5


def safe_address(database_url: str) -> str:
    """`user@host:port/dbname` of a PostgreSQL URL: everything but the password."""
    parts = urlsplit(database_url)
    user = f"{parts.username}@" if parts.username else ""
    try:
        port = str(parts.port or 5432)
    except ValueError:  # not a number: say so rather than guess
        port = "?"
    return f"{user}{parts.hostname or 'localhost'}:{port}{parts.path}"


async def check_reachable(database_url: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Open and close one connection within `timeout_s`, or raise `StoreError` saying where.

    SQLite URLs name a file, which is always reachable: nothing to check.
    """
    if database_url.startswith("sqlite:///"):
        return
    where = safe_address(database_url)
    try:
        async with asyncio.timeout(timeout_s):
            connection = await psycopg.AsyncConnection.connect(
                database_url, connect_timeout=max(2, int(timeout_s))
            )
        await connection.close()
    except TimeoutError:
        reason = f"no answer within {timeout_s:g}s"
    except (psycopg.Error, OSError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0].strip()
    else:
        return
    raise StoreError(f"cannot reach the database at {where}: {reason}", transient=True)
