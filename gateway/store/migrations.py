"""Versioned migrations: SQL files beside each backend (`migrations/<backend>/NNNN_name.sql`),
and data migrations, steps in Python that re-check stored rows under rules SQL cannot express
(`gateway.store.upgrade`). Both kinds share one version order and one `schema_migrations`
table, so a store applies each once, in order, and records it in the same transaction."""

from dataclasses import dataclass
from importlib import resources
from typing import Final

DATA_MIGRATIONS: Final = ("0006_screen_stored_rows",)
"""Data migrations, by version; each store runs them with `gateway.store.upgrade`."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: str
    sql: str | None
    """The script; None for a data migration."""


def load_migrations(backend: str) -> list[Migration]:
    """All migrations of a backend in version order; a SQL file's version is its stem."""
    folder = resources.files("gateway.store") / "migrations" / backend
    scripts = [
        Migration(entry.name.removesuffix(".sql"), entry.read_text("utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    steps = [Migration(version, None) for version in DATA_MIGRATIONS]
    return sorted(scripts + steps, key=lambda migration: migration.version)
