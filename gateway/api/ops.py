"""Operations: liveness, readiness, metrics and the dead-letter queue.

Health checks answer 200 with a status, or 503 with the error body like every other
failure (`ingest_stopped`, `not_ready` with what is down in `details`).
"""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from gateway.api.deps import ApiKey, RuntimeDep, StoreDep
from gateway.api.errors import ApiError
from gateway.errors import StoreError
from gateway.store.base import Page, StoredDeadLetter

router = APIRouter(tags=["operations"])


class HealthPublic(BaseModel):
    status: str
    broker: bool | None = None
    store: bool | None = None


@router.get("/healthz", response_model=HealthPublic)
async def healthz(runtime: RuntimeDep) -> HealthPublic:
    """Liveness: the process answers and its ingest loop runs. Open, for orchestrators."""
    if not runtime.alive:
        raise ApiError(503, "ingest_stopped", "the ingest loop has stopped; restart the gateway")
    return HealthPublic(status="ok")


@router.get("/readyz", response_model=HealthPublic)
async def readyz(runtime: RuntimeDep) -> HealthPublic:
    """Readiness: subscribed to the broker and the store answers. Open, for load balancers."""
    broker = runtime.ingest.is_connected
    try:
        await runtime.store.ping()
        store = True
    except StoreError:
        store = False
    if not (broker and store):
        down = {"broker": broker, "store": store}
        raise ApiError(503, "not_ready", "the broker or the store is not reachable", down)
    return HealthPublic(status="ready", broker=broker, store=store)


@router.get("/metrics", dependencies=[ApiKey], response_class=Response)
async def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus text exposition."""
    return Response(runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/dead-letters", dependencies=[ApiKey], response_model=Page[StoredDeadLetter])
async def list_dead_letters(
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> Page[StoredDeadLetter]:
    """Rejected messages, newest first; payloads truncated and personal data redacted."""
    return await store.list_dead_letters(limit, cursor)
