"""The FastAPI application; its lifespan owns the running gateway."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway.api import devices, gov, ops
from gateway.config import GatewayConfig, Settings
from gateway.runtime import Secrets, running_gateway


def create_app(settings: Settings, config: GatewayConfig, secrets: Secrets) -> FastAPI:
    """An app whose start-up opens the store and starts ingest, and whose shutdown stops them."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_gateway(settings, config, secrets) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(
        title="Smart-community gateway",
        version="0.1.0",
        description="Community device events for the district government platform.",
        lifespan=lifespan,
    )
    app.include_router(ops.router)
    app.include_router(gov.router)
    app.include_router(devices.router)
    return app
