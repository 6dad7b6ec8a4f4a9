"""Session-wide real services: a Mosquitto broker and a PostgreSQL + TimescaleDB cluster.

Both start once per test session on free ports in temporary folders (see testkit/services.py)
and stop at the end. A missing binary is a failure, never a skip.
"""

import itertools
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from gateway.store import Store, open_store
from testkit.services import MosquittoService, PostgresService, start_mosquitto, start_postgres

_database_numbers = itertools.count(1)

# Property tests assert properties, never speed: Hypothesis's default 200 ms deadline per example
# is a timing assertion that a loaded CI machine fails at random. `print_blob` makes any real
# counterexample reproducible from the log (`@reproduce_failure`). `deep` explores harder:
# `HYPOTHESIS_PROFILE=deep pytest tests/schemas tests/adapters`.
hypothesis_settings.register_profile("scgw", deadline=None, print_blob=True)
hypothesis_settings.register_profile("deep", deadline=None, print_blob=True, max_examples=3000)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "scgw"))


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoService]:
    service = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield service
    service.stop()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresService]:
    service = start_postgres(tmp_path_factory.mktemp("postgres"))
    yield service
    service.stop()


@pytest.fixture
def pg_dsn(postgres: PostgresService) -> Iterator[str]:
    """A fresh, empty database with TimescaleDB for one test."""
    name = f"test_{next(_database_numbers)}"
    yield postgres.create_database(name)
    postgres.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'scgw.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database URL on each store in turn: a test using it runs once per store."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'scgw.db'}"
    dsn: str = request.getfixturevalue("pg_dsn")
    return dsn


@pytest.fixture
async def store(database: str) -> AsyncIterator[Store]:
    """A migrated store on each backend in turn (see `database`)."""
    opened = open_store(database)
    await opened.open()
    await opened.migrate()
    yield opened
    await opened.close()
