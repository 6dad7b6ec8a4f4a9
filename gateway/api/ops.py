"""Operations: liveness, readiness, metrics and the dead-letter queue.

Health checks answer 200 with a status, or 503 with the error body like every other
failure (`ingest_stopped`, `not_ready` with what is down in `details`).
"""

import logging
from datetime import UTC, datetime
from typing import Annotated, Final

from fastapi import APIRouter, Path, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict

from gateway.access import Caller, Permission
from gateway.api.audit import actor_of
from gateway.api.deps import RuntimeDep, StoreDep, needs
from gateway.api.errors import ApiError
from gateway.errors import StoreError
from gateway.raw_payloads import UnreadableRawPayloadError
from gateway.store.base import Page, StoredDeadLetter

logger = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])

MAX_ROW_ID: Final = 2**63 - 1


class HealthPublic(BaseModel):
    """The gateway's health, as orchestrators and load balancers read it."""

    model_config = ConfigDict(
        use_attribute_docstrings=True,
        json_schema_extra={
            "examples": [{"status": "ready", "broker": True, "store": True, "forwarder": None}]
        },
    )

    status: str
    """`ok` (alive) or `ready`."""
    broker: bool | None = None
    """Readiness only: connected and subscribed to the broker."""
    store: bool | None = None
    """Readiness only: the store answers."""
    forwarder: bool | None = None
    """Whether the platform forwarder runs; None without a platform."""


@router.get("/healthz", summary="Liveness check", response_model=HealthPublic)
async def healthz(runtime: RuntimeDep) -> HealthPublic:
    """Liveness: the process answers and its ingest loop runs. Open, for orchestrators."""
    if not runtime.alive:
        raise ApiError(503, "ingest_stopped", "the ingest loop has stopped; restart the gateway")
    return HealthPublic(status="ok")


@router.get("/readyz", summary="Readiness check", response_model=HealthPublic)
async def readyz(runtime: RuntimeDep) -> HealthPublic:
    """Readiness: subscribed to the broker, the store answers, and the platform forwarder
    (when there is a platform) runs. Open, for load balancers."""
    broker = runtime.ingest.is_connected
    forwarder = runtime.forwarder_alive
    try:
        await runtime.store.ping()
        store = True
    except StoreError:
        store = False
    if not (broker and store and forwarder is not False):
        down = {"broker": broker, "store": store, "forwarder": forwarder}
        raise ApiError(
            503, "not_ready", "the broker or the store is unreachable, or forwarding stopped", down
        )
    return HealthPublic(status="ready", broker=broker, store=store, forwarder=forwarder)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
            "description": "The Prometheus text exposition format.",
        }
    },
)
async def metrics(
    runtime: RuntimeDep, caller: Annotated[Caller, needs(Permission.METRICS_READ)]
) -> Response:
    """Prometheus text exposition."""
    return Response(runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/v1/dead-letters",
    summary="List rejected messages (dead letters)",
    response_model=Page[StoredDeadLetter],
)
async def list_dead_letters(
    store: StoreDep,
    caller: Annotated[Caller, needs(Permission.DEAD_LETTERS_READ)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> Page[StoredDeadLetter]:
    """Rejected messages, newest first: each payload's shape, with the values of its
    dialect's known non-personal fields only; `raw_expires_at` tells whether (and until when)
    an admin can read the raw payload."""
    return await store.list_dead_letters(limit, cursor, communities=caller.scope())


@router.get(
    "/v1/dead-letters/{letter_id}/raw",
    summary="Read a dead letter's raw payload",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The raw payload."},
        404: {"description": "No raw payload: none was kept, or it expired."},
    },
)
async def read_dead_letter_raw(
    request: Request,
    runtime: RuntimeDep,
    caller: Annotated[Caller, needs(Permission.DEAD_LETTERS_RAW)],
    letter_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)],
) -> Response:
    """The raw payload of a dead letter, for admins only, while it is kept (see
    `SCGW_DEAD_LETTER_RAW`), of a community in the key's scope. Every read, served or not, is
    logged as an admin action."""
    problem = None
    payload = b""
    if runtime.raw_payloads is None:
        problem = "raw payloads cannot be read: SCGW_DEAD_LETTER_KEY is not set"
    else:
        now = datetime.now(UTC)
        sealed = await runtime.store.get_dead_letter_raw(letter_id, now, communities=caller.scope())
        if sealed is None:
            problem = "this dead letter has no raw payload (none was kept, or it expired)"
        else:
            try:
                payload = runtime.raw_payloads.open(sealed)
            except UnreadableRawPayloadError:
                problem = "this raw payload was sealed with another SCGW_DEAD_LETTER_KEY"
    logger.info(
        "admin action: read raw dead-letter payload",
        extra={
            "action": "dead_letter_raw_read",
            "dead_letter_id": letter_id,
            "caller": actor_of(caller),
            "client": request.client.host if request.client else None,
            "outcome": "served" if problem is None else "not_found",
        },
    )
    if problem is not None:
        raise ApiError(404, "no_raw_payload", problem)
    return Response(
        payload,
        media_type="application/octet-stream",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="dead-letter-{letter_id}.bin"',
        },
    )
