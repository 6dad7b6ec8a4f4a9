"""Serving the API with uvicorn inside our own event loop."""

import asyncio
import socket
from typing import Any

import uvicorn
from fastapi import FastAPI

from gateway.errors import GatewayError
from gateway.send_deadline import SEND_TIMEOUT_S, send_deadline_protocol

EXIT_STARTUP_FAILED = 3
SHUTDOWN_GRACE_S = 5
"""How long a stop waits for open responses to end before uvicorn cancels what is left."""


def api_server(app: FastAPI, host: str, port: int, forwarded_allow_ips: str = "") -> uvicorn.Server:
    """A uvicorn server for `app` that uses our logging set-up, not its own.

    Proxy headers are believed only from `forwarded_allow_ips` (SCGW_API_FORWARDED_ALLOW_IPS).
    uvicorn's own default believes them from 127.0.0.1, so a local client could name any
    address in X-Forwarded-For and escape the failed-authentication limit; empty turns them
    off altogether (uvicorn reads an empty list as its default, hence `proxy_headers`)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        lifespan="on",
        proxy_headers=bool(forwarded_allow_ips.strip()),
        forwarded_allow_ips=forwarded_allow_ips.strip() or None,
    )
    return _Server(config, app)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        config.http = send_deadline_protocol(lambda: _send_timeout_s(app))
        config.timeout_graceful_shutdown = SHUTDOWN_GRACE_S
        super().__init__(config)
        self._app = app

    async def shutdown(self, sockets: Any = None) -> None:
        """End the live streams (`GET /v1/stream`) first: uvicorn waits for every open
        response to end before it stops, and a stream never ends by itself."""
        runtime = getattr(self._app.state, "runtime", None)
        if runtime is not None:
            runtime.stream.close()
        await super().shutdown(sockets)


def _send_timeout_s(app: FastAPI) -> float:
    """The running gateway's `api_send_timeout_s` (`gateway.send_deadline`)."""
    runtime = getattr(app.state, "runtime", None)
    return SEND_TIMEOUT_S if runtime is None else float(runtime.settings.api_send_timeout_s)


def listening_socket(host: str, port: int) -> socket.socket:
    """The API's socket, bound before anything starts.

    uvicorn binds only after the lifespan has opened the store and started ingest, and then
    answers a taken port with a bare errno; binding first makes it one clear sentence, the
    same hint the embedded broker gives for its port.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise GatewayError(
            f"the API cannot listen on {host}:{port} ({exc.strerror or exc}); is another"
            " gateway running there? Choose another port with --api-port (or SCGW_API_PORT)"
        ) from None
    return sock


async def serve(server: uvicorn.Server) -> int:
    """Serve until SIGINT/SIGTERM; 0 after a clean stop, 3 if start-up failed."""
    sock = listening_socket(server.config.host, server.config.port)
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()
    return 0 if server.started else EXIT_STARTUP_FAILED


async def wait_started(server: uvicorn.Server, poll_s: float = 0.05) -> None:
    """Wait until the server listens; uvicorn exposes a flag, not an event."""
    while not server.started:  # noqa: ASYNC110 - nothing to await but the flag
        await asyncio.sleep(poll_s)
