"""The real `mosquitto_sub` client as a test subscriber: what a client we did not write sees.

`mosquitto_sub` buffers its output when it is not writing to a terminal, so a live reader
cannot tell when it has subscribed. Instead it subscribes with a persistent session and leaves
(`-c -E`); the broker queues everything published meanwhile, and `collect` reconnects to the
same session and prints the queued messages in the order the broker received them.
"""

import asyncio
import contextlib
import itertools
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass

_client_numbers = itertools.count(1)


@dataclass(frozen=True)
class Subscription:
    """A persistent `mosquitto_sub` session on `topic_filter` that queues `count` messages."""

    port: int
    topic_filter: str
    count: int
    client_id: str

    def _args(self, *extra: str) -> list[str]:
        binary = shutil.which("mosquitto_sub")
        assert binary is not None, "mosquitto_sub missing: run scripts/install-test-services.sh"
        common = ["-h", "127.0.0.1", "-p", str(self.port), "-i", self.client_id, "-c", "-q", "1"]
        return [binary, *common, "-t", self.topic_filter, *extra]

    async def _run(self, *extra: str, limit_s: float) -> bytes:
        process = await asyncio.create_subprocess_exec(
            *self._args(*extra),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(limit_s):
                out, err = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode == 0, f"mosquitto_sub failed: {err.decode(errors='replace')}"
        return out

    async def subscribe(self) -> None:
        """Create the session and its subscription, then disconnect (`-E`)."""
        await self._run("-E", limit_s=30)

    async def collect(self, wait_s: float = 30.0) -> list[tuple[str, bytes]]:
        """The `count` queued messages as (topic, payload) pairs, in delivery order.

        Payloads must not contain newlines (the simulators' compact JSON never does).
        """
        # mosquitto_sub's own -W timeout fires first, so a shortfall fails with its message.
        wait = str(int(wait_s))
        out = await self._run("-v", "-C", str(self.count), "-W", wait, limit_s=wait_s + 10)
        messages: list[tuple[str, bytes]] = []
        for line in out.splitlines():
            topic, _, payload = line.partition(b" ")
            messages.append((topic.decode(), payload))
        return messages


@contextlib.asynccontextmanager
async def mosquitto_sub(port: int, topic_filter: str, count: int) -> AsyncIterator[Subscription]:
    """A `mosquitto_sub` session for `count` messages, subscribed before the block runs."""
    client_id = f"sim-test-{os.getpid()}-{next(_client_numbers)}"
    subscription = Subscription(port, topic_filter, count, client_id)
    await subscription.subscribe()
    yield subscription
