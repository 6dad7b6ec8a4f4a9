"""Looking inside a finished run: everything a store holds as text, and metric values.

Privacy tests search these for planted values; end-to-end tests read counters. One copy here
keeps every suite searching the same places (for SQLite, the raw file and its WAL too, where a
deleted or uncheckpointed row still lies).
"""

import re
import sqlite3
import subprocess
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from testkit.services import PG_BIN_DIR

SQLITE_PREFIX = "sqlite:///"


def database_dump(database_url: str) -> str:
    """Every row of the database as text: a SQLite URL or a PostgreSQL DSN."""
    if database_url.startswith(SQLITE_PREFIX):
        path = Path(database_url.removeprefix(SQLITE_PREFIX))
        connection = sqlite3.connect(path)
        try:
            logical = "\n".join(connection.iterdump())
        finally:
            connection.close()
        raw = b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))
        return logical + "\n" + raw.decode("utf-8", errors="replace")
    command = [str(PG_BIN_DIR / "pg_dump"), "--data-only", "--no-owner", database_url]
    return subprocess.run(command, capture_output=True, check=True, text=True).stdout


Labels = tuple[tuple[str, str], ...]


def metric_samples(metrics_text: str, name: str) -> dict[Labels, float]:
    """The samples called `name`, keyed by their sorted labels."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == name
    }


def metric(metrics_text: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels` (0 when none)."""
    wanted = set(labels.items())
    return sum(
        value for found, value in metric_samples(metrics_text, name).items() if wanted <= set(found)
    )


def holds_value(secret: str, text: str) -> bool:
    """Whether `text` holds `secret` as a value of its own, not as characters inside a longer
    token: a hex digest, a number, or the microseconds after a timestamp's decimal point
    (`…:12.100501+00`, which an employee number like `100501` would otherwise match now and
    then: privacy tests searching logs and dumps failed at random on that)."""
    return re.search(rf"(?<![0-9A-Za-z.]){re.escape(secret)}(?![0-9A-Za-z])", text) is not None
