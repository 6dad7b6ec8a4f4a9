"""A private Mosquitto broker for the simulator tests.

The session-wide `mosquitto` fixture is shared with gateway tests that publish on the same
`yida/...` topics; the publisher tests count every message a `yida/#` subscriber sees, so they
get a broker of their own (started the same way, by `testkit.services.start_mosquitto`).
"""

from collections.abc import Iterator

import pytest

from testkit.services import MosquittoService, start_mosquitto


@pytest.fixture(scope="module")
def sim_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoService]:
    service = start_mosquitto(tmp_path_factory.mktemp("sim-mosquitto"))
    yield service
    service.stop()
