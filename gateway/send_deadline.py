"""A deadline on sending: a client that stops taking the API's bytes is cut off.

A response's bytes go to the connection's socket; once the kernel's buffer and the
transport's (64 KiB) are full, writing pauses and uvicorn's `send` waits for it to resume.
A client that never reads thus holds its response forever: a live stream's generator stays
in `send` (the hub dropping the slow reader cannot end it) and shutdown waits for it.

Ending the response from the app cannot free the connection: uvicorn then *closes* the
transport, and asyncio closes a transport only once its buffer is flushed, which a client
that never reads never lets happen. So the deadline is the transport's: writing paused for
`deadline_s` resets the connection (`SO_LINGER` 0, then abort: a plain close would leave the
kernel an orphan socket still offering megabytes to the client), which uvicorn reports to
the app as a disconnect (a stream's response then ends and its reader leaves the hub).
A client that reads, however slowly, keeps resuming the writing and is never cut off.
"""

import asyncio
import logging
import socket
import struct
from collections.abc import Callable
from typing import Final

from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger(__name__)

SEND_TIMEOUT_S: Final = 30.0
"""The deadline when the app does not say (`Settings.api_send_timeout_s`)."""
RESET_ON_CLOSE: Final = struct.pack("ii", 1, 0)
"""`SO_LINGER` on, zero seconds: closing resets the connection and drops what is unsent."""


def send_deadline_protocol(deadline_s: Callable[[], float]) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol, cutting off a connection whose writing stays paused for
    `deadline_s()` seconds (read when writing pauses, so the app's settings can say)."""

    class SendDeadlineProtocol(H11Protocol):
        _stalled: asyncio.TimerHandle | None = None

        def pause_writing(self) -> None:
            super().pause_writing()
            if self._stalled is None:
                seconds = deadline_s()
                self._stalled = self.loop.call_later(seconds, self._cut_off, seconds)

        def resume_writing(self) -> None:
            self._forget_stall()
            super().resume_writing()

        def connection_lost(self, exc: Exception | None) -> None:
            self._forget_stall()
            super().connection_lost(exc)

        def _forget_stall(self) -> None:
            if self._stalled is not None:
                self._stalled.cancel()
                self._stalled = None

        def _cut_off(self, seconds: float) -> None:
            self._stalled = None
            client = "{}:{}".format(*self.client) if self.client else "a client"
            logger.warning("%s took no data for %g s: its connection is cut off", client, seconds)
            sock = self.transport.get_extra_info("socket")
            if sock is not None:  # a reset: closing would leave the kernel holding the data
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
            self.transport.abort()

    return SendDeadlineProtocol
