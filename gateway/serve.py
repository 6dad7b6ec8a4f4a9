"""Serving the API with uvicorn inside our own event loop."""

import asyncio

import uvicorn
from fastapi import FastAPI

EXIT_STARTUP_FAILED = 3


def api_server(app: FastAPI, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for `app` that uses our logging set-up, not its own."""
    config = uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="on")
    return uvicorn.Server(config)


async def serve(server: uvicorn.Server) -> int:
    """Serve until SIGINT/SIGTERM; 0 after a clean stop, 3 if start-up failed."""
    await server.serve()
    return 0 if server.started else EXIT_STARTUP_FAILED


async def wait_started(server: uvicorn.Server, poll_s: float = 0.05) -> None:
    """Wait until the server listens; uvicorn exposes a flag, not an event."""
    while not server.started:  # noqa: ASYNC110 - nothing to await but the flag
        await asyncio.sleep(poll_s)
