"""Operations: liveness, readiness, metrics and the dead-letter queue."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from gateway.api.deps import ApiKey, RuntimeDep, StoreDep
from gateway.errors import PayloadError, StoreError
from gateway.store.base import Page, StoredDeadLetter

router = APIRouter(tags=["operations"])


class HealthPublic(BaseModel):
    status: str
    broker: bool | None = None
    store: bool | None = None


@router.get("/healthz", response_model=HealthPublic, responses={503: {"model": HealthPublic}})
async def healthz(runtime: RuntimeDep, response: Response) -> HealthPublic:
    """Liveness: the process answers and its ingest loop runs. Open, for orchestrators."""
    if not runtime.alive:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return HealthPublic(status="ingest stopped")
    return HealthPublic(status="ok")


@router.get("/readyz", response_model=HealthPublic, responses={503: {"model": HealthPublic}})
async def readyz(runtime: RuntimeDep, response: Response) -> HealthPublic:
    """Readiness: subscribed to the broker and the store answers. Open, for load balancers."""
    broker = runtime.ingest.is_connected
    try:
        await runtime.store.ping()
        store = True
    except StoreError:
        store = False
    if not (broker and store):
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthPublic(
        status="ready" if broker and store else "not ready", broker=broker, store=store
    )


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
    try:
        return await store.list_dead_letters(limit, cursor)
    except PayloadError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=exc.detail) from None
