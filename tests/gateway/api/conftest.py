"""One running gateway per test module for the API's edge tests: Mosquitto, SQLite, HTTP."""

from collections.abc import AsyncIterator

import pytest

from testkit.harness import RunningGateway, gateway_settings, running_gateway
from testkit.services import MosquittoService

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
