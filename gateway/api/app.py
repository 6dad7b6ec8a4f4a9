"""The FastAPI application; its lifespan owns the running gateway.

Around the routers: one error body for every failure (`gateway.api.errors`), bounded
request bodies and no stack trace out (`gateway.api.guards`), no query parameter an
endpoint does not declare (`gateway.api.params`), and /docs served with no internet: the
Swagger UI and ReDoc files come from the `fastapi-offline` package, under /docs/static.
The document itself (audience tags, error responses) is `gateway.api.openapi`'s.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from gateway.api import (
    audit,
    dashboard,
    devices,
    flow,
    gov,
    keys,
    ops,
    outbox,
    overview,
    population,
    property,
    stream,
    tickets,
    watchlist,
)
from gateway.api.errors import ERROR_RESPONSES, install_error_handlers
from gateway.api.guards import BodyLimit, ServerErrors
from gateway.api.headers import install_security_headers
from gateway.api.openapi import install as install_openapi
from gateway.api.params import reject_unknown_parameters
from gateway.config import GatewayConfig, Settings
from gateway.runtime import Secrets, running_gateway

DOCS_STATIC_URL = "/docs/static"


def create_app(settings: Settings, config: GatewayConfig, secrets: Secrets) -> FastAPI:
    """An app whose start-up opens the store and starts ingest, and whose shutdown stops them."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_gateway(settings, config, secrets) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPIOffline(
        title="Smart-community gateway",
        version="0.1.0",
        description="Community device events for the district government platform."
        ' Every error answers `{"error": {"code", "message", "details"}}`.',
        lifespan=lifespan,
        static_url=DOCS_STATIC_URL,
        dependencies=[Depends(reject_unknown_parameters)],
        responses=ERROR_RESPONSES,
    )
    install_error_handlers(app)
    install_openapi(app)  # tags per audience and error answers, when the document is first built
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.api_max_body_bytes,
        larger=[property.import_bodies(settings.import_max_bytes)],
    )
    app.add_middleware(ServerErrors)  # it also catches what BodyLimit lets out
    install_security_headers(app, settings)  # outermost: headers on every answer, errors too
    app.include_router(ops.router)
    app.include_router(gov.router)
    app.include_router(devices.router)
    app.include_router(population.router)
    app.include_router(audit.router)
    app.include_router(property.router)
    app.include_router(outbox.router)
    app.include_router(tickets.router)
    app.include_router(watchlist.router)
    app.include_router(keys.router)
    app.include_router(stream.router)
    app.include_router(overview.router)
    app.include_router(flow.router)
    app.include_router(dashboard.router)
    return app
