"""A migrated store on each backend for the rule tests."""

from collections.abc import AsyncIterator

import pytest

from gateway.store import Store, open_store


@pytest.fixture
async def store(database: str) -> AsyncIterator[Store]:
    opened = open_store(database)
    await opened.open()
    await opened.migrate()
    yield opened
    await opened.close()
