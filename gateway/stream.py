"""The live stream's hub: every process numbers what it publishes and hands it to its readers.

Message ids are `<epoch>-<seq>`: `seq` grows by one per message, `epoch` is random per
process, so an id says which process's numbering it belongs to. The last `resume_max`
messages stay in a ring: a reader reconnecting with `Last-Event-ID` gets exactly what it
missed, or, for an id of another epoch (another process, a restart) or one that fell off the
ring, a `reset` telling it to reload, and then everything live.

Each reader has a bounded queue of `queue_max` messages: publishing puts without waiting
(`put_nowait`), so ingest never waits on a reader, and a reader that falls that far behind is
disconnected (it reconnects with its last id and resumes from the ring) rather than buffered
without bound. Filtering is per reader at publish time (its caller's scope, its kinds), so
its queue only holds what it may see.

The publishers (`gateway.stream_sources`): the events of each committed batch, devices whose
status changed, tickets raised or moved by any process.
"""

import asyncio
import itertools
import json
import logging
import secrets
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Final, Literal

from prometheus_client import Counter, Gauge
from pydantic import BaseModel

from gateway.metrics import Metrics

logger = logging.getLogger(__name__)

Kind = Literal["ticket", "event", "device"]
KINDS: Final[tuple[Kind, ...]] = ("ticket", "event", "device")


class StreamMessage:
    """One published message. `body` is the public model (the shape the list endpoints return);
    its JSON is made once, when a reader first needs it, not on the ingest path."""

    __slots__ = ("_data", "body", "community", "id", "kind", "seq")

    def __init__(self, epoch: str, seq: int, kind: str, community: str | None, body: Any) -> None:
        self.seq = seq
        self.id = f"{epoch}-{seq}"
        self.kind = kind
        self.community = community
        self.body = body
        self._data: str | None = None

    @property
    def data(self) -> str:
        """The message's JSON."""
        if self._data is None:
            if isinstance(self.body, BaseModel):
                self._data = self.body.model_dump_json()
            else:
                self._data = _json(self.body)
        return self._data

    def encode(self) -> bytes:
        """The message as a server-sent event."""
        return f"id: {self.id}\nevent: {self.kind}\ndata: {self.data}\n\n".encode()


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


Admits = Callable[[StreamMessage], bool]
"""Whether a reader may receive a message (its kinds, its caller's scope)."""


class StreamEndedError(Exception):
    """The reader's stream is over: the process is stopping."""


class SlowReaderError(StreamEndedError):
    """The reader fell `queue_max` messages behind and is disconnected."""


class Reader:
    """One connected reader: the messages it missed (`Last-Event-ID`), then its live queue."""

    def __init__(self, admits: Admits, queue_max: int, backlog: list[StreamMessage]) -> None:
        self._admits = admits
        self._queue: asyncio.Queue[StreamMessage | None] = asyncio.Queue(queue_max)
        self._backlog = deque(backlog)
        self.dropped = False
        self.ended = False

    def offer(self, message: StreamMessage) -> bool:
        """Queue the message if the reader may see it; False when the queue is full (the
        reader is then dropped: its queue is emptied and it is told to end)."""
        if self.ended or not self._admits(message):
            return True
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped = True
            self.end()
            return False
        return True

    def end(self) -> None:
        """End the reader's stream: what it has not read yet is dropped (it resumes by id)."""
        self.ended = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def next(self) -> StreamMessage:
        """The next message; raises `SlowReaderError` once the reader has been dropped."""
        if self._backlog:
            return self._backlog.popleft()
        message = await self._queue.get()
        if message is None:
            self._queue.put_nowait(None)  # every later call says the same
            raise SlowReaderError if self.dropped else StreamEndedError
        return message


class StreamHub:
    """The process's numbering, resume ring and readers (`Runtime.stream`)."""

    def __init__(
        self,
        *,
        resume_max: int,
        queue_max: int,
        metrics: Metrics | None = None,
        epoch: str | None = None,
    ) -> None:
        self.epoch = epoch or secrets.token_hex(4)
        self._seq = 0
        self._ring: deque[StreamMessage] = deque(maxlen=resume_max)
        self._queue_max = queue_max
        self._readers: set[Reader] = set()
        self._closed = False
        self._dropped: Counter | None = None
        self._connected: Gauge | None = None
        if metrics is not None:
            self._dropped = Counter(
                "scgw_stream_readers_dropped",
                "Stream readers disconnected for falling too far behind",
                registry=metrics.registry,
            )
            self._connected = Gauge(
                "scgw_stream_readers", "Stream readers connected", registry=metrics.registry
            )

    @property
    def position(self) -> str:
        """The id of the last message published (`<epoch>-0` before any)."""
        return f"{self.epoch}-{self._seq}"

    def publish(self, kind: Kind, community: str | None, body: Any) -> StreamMessage:
        """Number the message, keep it for resuming, offer it to every reader; never waits."""
        self._seq += 1
        message = StreamMessage(self.epoch, self._seq, kind, community, body)
        self._ring.append(message)
        for reader in list(self._readers):
            if not reader.offer(message):
                self.disconnect(reader)
                if self._dropped is not None:
                    self._dropped.inc()
                logger.warning("a stream reader fell %d messages behind: dropped", self._queue_max)
        return message

    def connect(self, admits: Admits, last_event_id: str | None = None) -> tuple[Reader, bool]:
        """A new reader, and whether it must reload (`reset`): its `last_event_id` is of
        another epoch, malformed, or older than the ring. Otherwise the reader first gets the
        messages after `last_event_id` it may see, then everything live, with no gap and no
        repeat (nothing is published between reading the ring and joining the readers)."""
        backlog: list[StreamMessage] = []
        reset = False
        if last_event_id is not None:
            seq = self._seq_of(last_event_id)
            if seq is None:
                reset = True
            else:
                backlog = [m for m in self._since(seq) if admits(m)]
        reader = Reader(admits, self._queue_max, backlog)
        if self._closed:
            reader.end()
            return reader, reset
        self._readers.add(reader)
        self._count()
        return reader, reset

    def close(self) -> None:
        """End every reader's stream, now and from now on: the server is stopping, and waits
        for every open response to end (a stream never ends by itself)."""
        self._closed = True
        for reader in list(self._readers):
            reader.end()
            self.disconnect(reader)

    def disconnect(self, reader: Reader) -> None:
        self._readers.discard(reader)
        self._count()

    def _count(self) -> None:
        if self._connected is not None:
            self._connected.set(len(self._readers))

    def _seq_of(self, last_event_id: str) -> int | None:
        """The sequence number of an id this hub can resume from, else None."""
        epoch, _, number = last_event_id.strip().rpartition("-")
        if epoch != self.epoch or not number.isdigit():
            return None
        seq = int(number)
        oldest = self._ring[0].seq if self._ring else self._seq + 1
        if seq > self._seq or seq + 1 < oldest:
            return None
        return seq

    def _since(self, seq: int) -> Iterator[StreamMessage]:
        if not self._ring:
            return
        start = seq + 1 - self._ring[0].seq
        yield from itertools.islice(self._ring, max(start, 0), None)
