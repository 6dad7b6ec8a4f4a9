"""A client that stops reading is cut off (`gateway.send_deadline`) and never holds up a stop
(`gateway.serve`), on a real gateway read by a raw socket that asks for a stream and then
reads nothing, with a receive buffer as small as the kernel allows.

The gateway's socket takes a few megabytes before writing pauses; large messages published on
the hub fill it quickly. Deadlines are injected short; the only time bounds asserted are
generous ones that tell "it ends" from "it hangs"."""

import asyncio
import errno
import logging
import select
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import pytest

from testkit.harness import ADMIN_KEY, RunningGateway, gateway_settings, running_gateway, wait_until
from testkit.services import MosquittoService

FILLER = {"filler": "x" * 64 * 1024}
"""A message body large enough that a hundred of them fill any socket's buffers."""
HANGS_S = 30
"""What no stop or cut-off may take: far beyond the injected deadlines, far below 'forever'."""


@contextmanager
def silent_reader(port: int) -> Iterator[socket.socket]:
    """A client that opens `GET /v1/stream` and never reads a byte of the answer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    try:
        sock.connect(("127.0.0.1", port))  # the kernel accepts; the loop need not run
        sock.setblocking(False)
        sock.sendall(
            b"GET /v1/stream?kinds=event HTTP/1.1\r\nHost: gateway\r\n"
            + f"X-API-Key: {ADMIN_KEY}\r\n\r\n".encode()
        )
        yield sock
    finally:
        sock.close()


def answered(sock: socket.socket) -> bool:
    """Whether the stream's answer has begun (looked at without reading it)."""
    try:
        return sock.recv(12, socket.MSG_PEEK).startswith(b"HTTP/1.1 200")
    except BlockingIOError:
        return False


def reset_by_peer(sock: socket.socket) -> bool:
    """Whether the server reset the connection (seen without reading the data)."""
    poller = select.poll()
    poller.register(sock, select.POLLERR | select.POLLHUP)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def dropped(gateway: RunningGateway) -> float:
    value = gateway.runtime.metrics.registry.get_sample_value("scgw_stream_readers_dropped_total")
    return value or 0.0


def connected(gateway: RunningGateway) -> float:
    value = gateway.runtime.metrics.registry.get_sample_value("scgw_stream_readers")
    return value or 0.0


async def publish_until(
    gateway: RunningGateway, sock: socket.socket, done: Callable[[], bool], what: str
) -> None:
    """Once the stream has answered, publish large messages until `done`."""
    await wait_until(lambda: answered(sock), timeout_s=HANGS_S, what="the stream's answer")

    async def published() -> bool:
        gateway.runtime.stream.publish("event", "yida", FILLER)
        await asyncio.sleep(0.01)  # the response writes what it can
        return done()

    await wait_until(published, timeout_s=HANGS_S, what=what)


class TestSendDeadline:
    async def test_a_client_that_never_reads_is_cut_off_and_its_reader_leaves(
        self, mosquitto: MosquittoService, sqlite_url: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        settings = gateway_settings(
            mosquitto.url, sqlite_url, api_send_timeout_s=0.5, stream_queue_max=10
        )
        async with asyncio.timeout(HANGS_S * 3), running_gateway(settings) as gateway:
            with silent_reader(settings.api_port) as sock:
                with caplog.at_level(logging.WARNING, logger="gateway.send_deadline"):
                    await publish_until(gateway, sock, lambda: reset_by_peer(sock), "the cut-off")
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNRESET
                assert "took no data for 0.5 s: its connection is cut off" in caplog.text
                await wait_until(lambda: connected(gateway) == 0, what="the reader to leave")

    async def test_a_client_that_reads_keeps_its_stream(
        self, mosquitto: MosquittoService, sqlite_url: str
    ) -> None:
        """The deadline is on taking no data, not on a response's length."""
        settings = gateway_settings(mosquitto.url, sqlite_url, api_send_timeout_s=0.5)
        async with asyncio.timeout(HANGS_S * 3), running_gateway(settings) as gateway:
            async with gateway.http.stream("GET", "/v1/stream?kinds=event") as response:
                lines = response.aiter_lines()
                assert await anext(lines) == ": connected"

                async def read(count: int) -> None:
                    received = 0
                    while received < count:
                        received += (await anext(lines)).startswith("event: event")

                reading = asyncio.create_task(read(100))
                for _ in range(100):  # 6.5 MB, more than the sockets hold: writing pauses
                    gateway.runtime.stream.publish("event", "yida", FILLER)
                    await asyncio.sleep(0.01)
                await reading
            assert dropped(gateway) == 0


class TestShutdown:
    async def test_a_gateway_stops_within_bounds_while_a_client_holds_a_stuck_response(
        self, mosquitto: MosquittoService, sqlite_url: str
    ) -> None:
        """With a deadline longer than the test, only the stop's own grace can end it."""
        settings = gateway_settings(
            mosquitto.url, sqlite_url, api_send_timeout_s=3600, stream_queue_max=10
        )
        with ExitStack() as held:  # the client holds on until after the stop
            async with asyncio.timeout(HANGS_S * 3), running_gateway(settings) as gateway:
                sock = held.enter_context(silent_reader(settings.api_port))
                # the response is stuck in sending: its queue filled, the hub dropped it
                await publish_until(gateway, sock, lambda: dropped(gateway) >= 1, "the drop")
                stopping = asyncio.get_running_loop().time()
            assert asyncio.get_running_loop().time() - stopping < HANGS_S
