"""The running gateway's tasks: readiness shows a stopped forwarder."""

import asyncio
import contextlib
from pathlib import Path

from testkit.harness import gateway_settings, running_gateway
from testkit.platform import PLATFORM_SECRET, FaultyPlatform
from testkit.services import MosquittoService


class TestForwarderTask:
    """The forwarder's loop is part of readiness when tickets go to a platform."""

    async def test_readiness_fails_once_the_forwarder_has_stopped(
        self, mosquitto: MosquittoService, tmp_path: Path
    ) -> None:
        """Ready with the forwarder running; 503 `not_ready` naming it once its task ended,
        and the gateway still shuts down cleanly."""
        platform = FaultyPlatform(tmp_path / "received.jsonl")
        platform.start()
        settings = gateway_settings(
            mosquitto.url,
            f"sqlite:///{tmp_path / 'g.db'}",
            platform_url=platform.url,
            platform_secret=PLATFORM_SECRET,
        )
        try:
            async with running_gateway(settings) as gateway:
                ready = await gateway.http.get("/readyz")
                task = gateway.runtime.forward_task
                assert task is not None
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                stopped = await gateway.http.get("/readyz")
        finally:
            platform.close()
        assert (ready.status_code, ready.json()["forwarder"]) == (200, True)
        assert stopped.status_code == 503
        error = stopped.json()["error"]
        assert (error["code"], error["details"]["forwarder"]) == ("not_ready", False)
