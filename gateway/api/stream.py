"""The live stream: `GET /v1/stream` (server-sent events) and its tokens.

A reader gets the tickets, events and device status changes its key may see, as they happen
(`gateway.stream`, `gateway.stream_sources`), filtered like every list: a scoped key gets its
communities' messages only, a property key only the tickets its company must act on, and a
`community` outside the scope gives a stream that stays silent (as a list is empty).

The key travels in a header (`X-API-Key` or `Authorization: Bearer`; the dashboard reads the
stream with `fetch`). A client that can only use `EventSource` sends no headers: it first gets
a stream token (`POST /v1/stream/tokens`, with its key in a header) and opens
`/v1/stream?token=...`. URLs end up in access logs and browser histories, so a token is good
for one connection only, within a minute, and only here; only its hash is stored, and the
key it was issued to is checked again when it is redeemed (a key revoked meanwhile fails).

A stream outlives the request that authenticated it, so it checks its key again every
`stream_recheck_s` (5 s) and before each heartbeat: once the key is revoked or expired the
stream sends `event: revoked` and ends (a reconnection is then a 401). A revocation made in
this process is seen at the next check; one made by another process (`scgw keys revoke`,
another replica) once this process's key cache (`gateway.keys.CACHE_S`, 5 s) has let go of
the key: within about 10 s. Keys cannot change otherwise (only revocation and expiry touch
a key), so scope and role need no re-applying; a caller that somehow differs ends too.
"""

import asyncio
import hashlib
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Header, Query, Request, Security
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from gateway.access import Caller, Permission
from gateway.api.deps import (
    Needs,
    RuntimeDep,
    api_key_header,
    authenticate,
    bearer,
    client_address,
    needs,
    refuse_while_limited,
)
from gateway.api.errors import ApiError
from gateway.errors import StoreError
from gateway.runtime import Runtime
from gateway.stream import KINDS, Admits, StreamEndedError, StreamMessage
from schemas.devices import CommunityCode
from schemas.tickets import TicketPublic

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/stream", tags=["stream"])

TOKEN_TTL: Final = timedelta(seconds=60)
TOKEN_PREFIX: Final = "sst_"
KIND_PERMISSIONS: Final[dict[str, Permission]] = {
    "ticket": Permission.TICKETS_READ,
    "event": Permission.EVENTS_READ,
    "device": Permission.DEVICES_READ,
}
KINDS_PATTERN: Final = r"^(ticket|event|device)(,(ticket|event|device))*$"
HEADERS: Final = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class StreamToken(BaseModel):
    """A single-use token for `GET /v1/stream?token=`, for clients that cannot send headers."""

    token: str = Field(description="Good for one stream connection, until `expires_at`.")
    expires_at: datetime = Field(
        description="When the token stops working (60 s after it was made)."
    )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@router.post(
    "/tokens",
    summary="Get a single-use stream token",
    status_code=201,
    response_model=StreamToken,
)
async def create_stream_token(
    runtime: RuntimeDep, caller: Annotated[Caller, needs(Permission.STREAM_READ)]
) -> StreamToken:
    """A stream token for the calling key: one connection to `GET /v1/stream?token=`, within
    60 seconds, with the key's own scope (checked again when it is used)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = runtime.clock() + TOKEN_TTL
    await runtime.store.put_stream_token(token_hash(token), caller.key_id, expires_at)
    return StreamToken(token=token, expires_at=expires_at)


class StreamAccess(Needs):
    """`stream:read`, by a key in a header or, here only, a stream token in the query."""

    async def __call__(  # type: ignore[override]
        self,
        request: Request,
        runtime: RuntimeDep,
        x_api_key: Annotated[str | None, Security(api_key_header)],
        authorization: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
        token: Annotated[
            str | None,
            Query(
                max_length=200,
                description="A token from `POST /v1/stream/tokens`, for clients that cannot "
                "send headers (EventSource); single use, 60 s. Never put an API key here.",
            ),
        ] = None,
    ) -> Caller:
        if x_api_key is not None or authorization is not None or token is None:
            caller = await authenticate(request, runtime, x_api_key, authorization)
        else:
            caller = await _redeem(request, runtime, token)
        return super().__call__(caller)


async def _redeem(request: Request, runtime: Runtime, token: str) -> Caller:
    """The caller of the key the token was issued to, as that key stands now. A failed
    redemption counts as a failed authentication of the address (`gateway.api.auth_limit`)."""
    now = runtime.clock()
    address = client_address(request)
    refuse_while_limited(runtime, address, now)
    key_id = await runtime.store.redeem_stream_token(token_hash(token), now)
    caller = None if key_id is None else await runtime.keys.caller_by_id(key_id, now)
    if caller is None:
        runtime.auth_failures.failed(address, now)
        logger.warning("stream token refused from %s", address)
        raise ApiError(
            401,
            "unauthorized",
            "the stream token is unknown, used or expired: get a new one",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return caller


@router.get(
    "",
    summary="Live stream of tickets, events and device changes (SSE)",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "Server-sent events: `id`, `event` (ticket, event, device, reset) "
            "and `data` (JSON, the shape the lists return); a `: heartbeat` comment at every "
            "heartbeat interval.",
        },
        403: {"description": "`kinds` names a kind the key's role may not read (`forbidden`)."},
    },
)
async def stream(
    runtime: RuntimeDep,
    caller: Annotated[Caller, Depends(StreamAccess(Permission.STREAM_READ))],
    kinds: Annotated[
        str | None,
        Query(
            pattern=KINDS_PATTERN,
            description="Comma-separated: ticket, event, device. Default: every kind the "
            "key may read; naming one it may not is a 403.",
        ),
    ] = None,
    community: CommunityCode | None = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=100,
            description="The last id received: the messages missed since are sent first "
            "(or `reset` when they are no longer kept).",
        ),
    ] = None,
) -> StreamingResponse:
    """Tickets, events and device status changes as they happen, scoped by the key.

    Resume with `Last-Event-ID`. A reader that falls too far behind is disconnected; it
    reconnects with its last id and gets what it missed."""
    hub = runtime.stream
    reader, reset = hub.connect(admits(caller, _kinds(caller, kinds), community), last_event_id)
    mark = hub.mark() if reset else None
    heartbeat_s = runtime.settings.stream_heartbeat_s
    recheck_s = runtime.settings.stream_recheck_s

    async def body() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        try:
            if mark is not None:
                yield _reset(mark)
            yield b": connected\n\n"
            quiet_since = loop.time()
            check_at = quiet_since + recheck_s
            while True:
                heartbeat_at = quiet_since + heartbeat_s
                message: StreamMessage | None = None
                try:
                    async with asyncio.timeout(max(min(check_at, heartbeat_at) - loop.time(), 0)):
                        message = await reader.next()
                except TimeoutError:
                    pass
                now = loop.time()
                beat = message is None and now >= heartbeat_at
                if beat or now >= check_at:  # before anything more is sent
                    if not await still_usable(runtime, caller):
                        yield REVOKED
                        return
                    check_at = now + recheck_s
                if message is not None:
                    yield message.encode()
                    quiet_since = loop.time()
                elif beat:
                    yield b": heartbeat\n\n"
                    quiet_since = now
        except StreamEndedError:  # too slow (it resumes by id), or the server is stopping
            return
        finally:
            hub.disconnect(reader)

    return StreamingResponse(body(), media_type="text/event-stream", headers=HEADERS)


async def still_usable(runtime: Runtime, caller: Caller) -> bool:
    """Whether the stream's key still stands as it did when the stream opened: not revoked,
    not expired (at `runtime.clock()`). When the store cannot tell, no: the stream ends (its
    client reconnects, authenticated afresh) rather than outliving a revocation unseen."""
    try:
        current = await runtime.keys.caller_by_id(caller.key_id, runtime.clock())
    except StoreError as exc:
        logger.warning("stream of key %s ended: its key cannot be checked: %s", caller.key_id, exc)
        return False
    if current != caller:
        logger.info("stream of key %s ended: the key is revoked or expired", caller.key_id)
        return False
    return True


def admits(caller: Caller, kinds: frozenset[str], community: str | None) -> Admits:
    """What a reader receives: its kinds, within its caller's scope and its `community`
    filter; events and devices by their community, tickets as the ticket lists show them
    (a property company: only those its company must act on, never a watch-list hit)."""
    scope = caller.scope(community)

    def admitted(message: StreamMessage) -> bool:
        if message.kind not in kinds:
            return False
        if scope is not None and message.community not in scope:
            return False
        if isinstance(message.body, TicketPublic):
            return caller.sees_ticket(message.body)
        return caller.sees(message.community)

    return admitted


def _kinds(caller: Caller, requested: str | None) -> frozenset[str]:
    if requested is None:
        return frozenset(kind for kind in KINDS if caller.may(KIND_PERMISSIONS[kind]))
    kinds = frozenset(requested.split(","))
    refused = sorted(kind for kind in kinds if not caller.may(KIND_PERMISSIONS[kind]))
    if refused:
        raise ApiError(
            403,
            "forbidden",
            f"the {caller.role} role may not read these kinds",
            {"kinds": refused, "needs": [KIND_PERMISSIONS[k].value for k in refused]},
        )
    return kinds


def _reset(mark: str) -> bytes:
    """The `reset` message; its id is a `mark` minted for this reader, to resume after."""
    data = '{"reason":"the messages since Last-Event-ID are no longer kept: reload"}'
    return f"id: {mark}\nevent: reset\ndata: {data}\n\n".encode()


REVOKED: Final = (
    b'event: revoked\ndata: {"reason":"the key was revoked or has expired: the stream ends"}\n\n'
)
"""The last message of a stream whose key no longer works (no id: it is not a position)."""
