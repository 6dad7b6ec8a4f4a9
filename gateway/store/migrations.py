"""Versioned SQL migrations shipped beside each backend (`migrations/<backend>/NNNN_name.sql`)."""

from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, slots=True)
class Migration:
    version: str
    sql: str


def load_migrations(backend: str) -> list[Migration]:
    """All migrations of a backend in version order; the version is the file name's stem."""
    folder = resources.files("gateway.store") / "migrations" / backend
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    return [Migration(entry.name.removesuffix(".sql"), entry.read_text("utf-8")) for entry in files]
