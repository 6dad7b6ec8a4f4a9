"""ASGI middleware at the API's edge: bounded request bodies, and no stack trace ever out.

Both answer with the one error body of `gateway.api.errors` themselves, because what they
catch happens outside FastAPI's exception handlers (before routing, or after a handler
failed in a way nobody expected).
"""

import logging
import traceback

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.errors import ApiError, error_response

logger = logging.getLogger(__name__)

DRAIN_BYTES = 1024 * 1024


class BodyTooLargeError(ApiError):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            413,
            "payload_too_large",
            f"request bodies are limited to {max_bytes} bytes",
            {"max_bytes": max_bytes},
            {"Connection": "close"},
        )


class BodyLimit:
    """Refuses a request body over `max_bytes` with 413.

    A declared Content-Length is judged before the app runs; a chunked body is counted as
    it streams, and reading past the limit raises `BodyTooLargeError`, which FastAPI passes on
    as an HTTP error (or, if something swallowed it, this middleware answers).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    await _drain(receive, message)
                    raise BodyTooLargeError(self.max_bytes)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLargeError:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = BodyTooLargeError(self.max_bytes)
        response = error_response(
            413, refusal.code, str(refusal.detail), refusal.details, refusal.headers
        )
        await response(scope, receive, send)


async def _drain(receive: Receive, message: Message) -> None:
    """Read and drop the rest of a refused body, up to `DRAIN_BYTES`.

    A client that sends its whole body before reading (most do) would otherwise meet a
    closed connection instead of the 413; past the bound, closing is the cheaper answer.
    """
    drained = 0
    while message.get("more_body", False) and drained < DRAIN_BYTES:
        message = await receive()
        drained += len(message.get("body", b""))


class ServerErrors:
    """Turns an exception nobody handled into a 500 with the error body.

    The log names the method, the route's template and the exception's type and frames,
    never its message or the request's values: a message may quote what the client sent.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        except Exception as exc:  # the edge: whatever escaped becomes a 500, never a traceback
            route = getattr(scope.get("route"), "path", None)
            logger.error(
                "%s %s failed with %s\n%s",
                scope.get("method", "?"),
                route or f"unrouted path of {len(scope.get('path', ''))} chars",
                type(exc).__name__,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            if started:
                return  # the status line is gone; the server closes the connection
            message = "the gateway could not complete the request; the error is logged"
            await error_response(500, "internal_error", message)(scope, receive, send)
