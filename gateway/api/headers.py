"""Security headers on every response, and CORS only where the operator opened it.

The dashboard and the API share one strict Content-Security-Policy: nothing but the gateway's
own files may run, style or be fetched, and no page may frame it. /docs and /redoc are pages
of `fastapi-offline` with an inline script each: their policy admits exactly that script by
its SHA-256 hash (computed from the page as served, so it follows any change of the page),
never inline script in general; ReDoc styles itself with injected <style> elements and runs
its search in a blob worker, which only those two pages allow.

Written as a plain ASGI middleware, not `BaseHTTPMiddleware`, so that the event stream
(`GET /v1/stream`) is passed through as it is produced rather than buffered.
"""

import base64
import hashlib
import re
from collections.abc import Iterable
from typing import Final

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.config import Settings

POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
"""The policy of the dashboard, the API and every other response."""

DOC_PAGES: Final = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
"""The pages whose inline script is admitted by hash (see `docs_policy`)."""

FIXED_HEADERS: Final = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)

CORS_HEADERS: Final = ("X-API-Key", "Authorization", "Content-Type", "Last-Event-ID")
"""The request headers a configured origin may send: the key (either way) and the stream's
resume position."""

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.I)


def script_hashes(html: bytes) -> list[str]:
    """The CSP source expressions (`'sha256-…'`) of every inline script in `html`."""
    return [
        f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


def docs_policy(html: bytes) -> str:
    """The policy of a documentation page: its own inline scripts by hash, nothing else."""
    scripts = " ".join(["'self'", *script_hashes(html)])
    return (
        f"default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline';"
        " img-src 'self' data:; connect-src 'self'; worker-src 'self' blob:;"
        " frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


def _with_headers(
    headers: Iterable[tuple[bytes, bytes]], policy: str, *, drop_length: bool = False
) -> list[tuple[bytes, bytes]]:
    ours = {name for name, _ in FIXED_HEADERS} | {b"content-security-policy"}
    if drop_length:
        ours.add(b"content-length")
    kept = [(name, value) for name, value in headers if name.lower() not in ours]
    return [*kept, *FIXED_HEADERS, (b"content-security-policy", policy.encode())]


class SecurityHeaders:
    """Adds the policy and the fixed headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in DOC_PAGES:
            await self._documentation(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _with_headers(message["headers"], POLICY)}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _documentation(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hold a documentation page (a few KiB) until complete, then send it with its hashes."""
        start: Message | None = None
        body = bytearray()

        async def collect(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if not message.get("more_body", False) and start is not None:
                    policy = docs_policy(bytes(body))
                    headers = _with_headers(start["headers"], policy, drop_length=True)
                    headers.append((b"content-length", str(len(body)).encode()))
                    await send({**start, "headers": headers})
                    await send({"type": "http.response.body", "body": bytes(body)})
            else:
                await send(message)

        await self.app(scope, receive, collect)


def install_security_headers(app: FastAPI, settings: Settings) -> None:
    """CORS for the configured origins only (none: no CORS header is ever sent, so browsers
    refuse cross-origin reads), then the security headers around everything, outermost."""
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.api_cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=list(CORS_HEADERS),
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
