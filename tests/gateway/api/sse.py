"""Reading a server-sent-event stream with httpx, as a client would: messages (`id`, `event`,
`data`) and comments (`: heartbeat`), with a deadline so a missing message fails the test."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Sse:
    """One message, or a comment (`comment` set, the rest empty)."""

    id: str | None = None
    event: str | None = None
    data: str = ""
    comment: str | None = None

    @property
    def json(self) -> Any:
        return json.loads(self.data)


class SseReader:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self, timeout_s: float = 20) -> Sse:
        """The next message or comment (a deadline is a failure: the stream is then unusable)."""
        async with asyncio.timeout(timeout_s):
            fields: dict[str, str] = {}
            data: list[str] = []
            async for line in self._lines:
                if line == "":
                    if fields or data:
                        return Sse(fields.get("id"), fields.get("event"), "\n".join(data))
                    continue
                if line.startswith(":"):
                    return Sse(comment=line[1:].strip())
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    data.append(value)
                else:
                    fields[name] = value
        raise AssertionError("the stream ended")

    async def message(self, event: str | None = None, timeout_s: float = 20) -> Sse:
        """The next message (of `event`, when given), skipping comments and other kinds."""
        async with asyncio.timeout(timeout_s):
            while True:
                found = await self.next(timeout_s)
                if found.comment is None and (event is None or found.event == event):
                    return found

    async def messages_until_quiet(self, quiet_s: float) -> list[Sse]:
        """Every message until the first heartbeat (the stream has nothing more for now).
        Needs a heartbeat interval shorter than `quiet_s`."""
        found: list[Sse] = []
        while True:
            item = await self.next(quiet_s)
            if item.comment == "heartbeat":
                return found
            if item.comment is None:
                found.append(item)


@contextlib.asynccontextmanager
async def open_stream(
    http: httpx.AsyncClient,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> AsyncIterator[SseReader]:
    """`GET /v1/stream`, checked to be a stream, read until the block ends."""
    async with http.stream(
        "GET", "/v1/stream", params=params, headers=headers, timeout=httpx.Timeout(30)
    ) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        yield SseReader(response)
