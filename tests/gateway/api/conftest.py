"""Running gateways for the API's tests: one per module for the edge tests (Mosquitto, SQLite,
HTTP), and one per module and store holding seeded master data for the population reads."""

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from testkit.harness import RunningGateway, gateway_settings, running_gateway
from testkit.services import MosquittoService, PostgresService
from tests.gateway.api.population_seed import Seeded, seed

MAX_BODY_BYTES = 4096


@pytest.fixture(scope="module")
async def api(
    mosquitto: MosquittoService, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    """A gateway whose API limits request bodies to `MAX_BODY_BYTES`."""
    database = tmp_path_factory.mktemp("api") / "scgw.db"
    settings = gateway_settings(
        mosquitto.url, f"sqlite:///{database}", api_max_body_bytes=MAX_BODY_BYTES
    )
    async with running_gateway(settings) as gateway:
        yield gateway


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh database on each store in turn, shared by one module's tests on that store."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('population') / 'scgw.db'}"
        return
    postgres: PostgresService = request.getfixturevalue("postgres")
    name = f"api_{uuid.uuid4().hex[:12]}"
    yield postgres.create_database(name)
    postgres.drop_database(name)


@pytest.fixture(scope="module")
async def seeded(
    mosquitto: MosquittoService, module_database: str
) -> AsyncIterator[tuple[RunningGateway, Seeded]]:
    """A gateway on each store in turn, holding the master data of `population_seed`."""
    async with running_gateway(gateway_settings(mosquitto.url, module_database)) as gateway:
        yield gateway, await seed(gateway)
