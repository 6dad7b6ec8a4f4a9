"""The live stream's hub: every process numbers what it publishes and hands it to its readers.

Message ids are `<epoch>-<token>`: `epoch` is random per process (an id says which process's
messages it belongs to), `token` is 16 random hex digits per message. Ids are opaque on
purpose: every reader sees a filtered part of one sequence, and a counter in the id would
count the messages it did not receive (another company's traffic, a watch-list ticket of its
own community). The hub numbers its messages internally, and an id finds its number in a
dict. The last `resume_max` messages stay in a ring: a reader reconnecting with
`Last-Event-ID` gets exactly what it missed, or, for an id of another epoch (another process,
a restart), an unknown one or one that fell off the ring, a `reset` telling it to reload, and
then everything live. The `reset` carries an id of its own (`mark`), minted for that reader
and resumable like a message's, so it does not tell one reader the last id another received.

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
from collections import OrderedDict, deque
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

    def __init__(
        self, message_id: str, seq: int, kind: str, community: str | None, body: Any
    ) -> None:
        self.seq = seq
        """The hub's own numbering, for the ring; never sent (`id` is)."""
        self.id = message_id
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
        self._resume_max = resume_max
        self._ring: deque[StreamMessage] = deque(maxlen=resume_max)
        self._resumable: dict[str, int] = {}
        """Every message id a reader can resume after, with its number: the ring's and the one
        just before the oldest (resuming after it replays the whole ring)."""
        self._order: deque[str] = deque()
        """The ids of `_resumable`, oldest first (what to forget as the ring moves on)."""
        self._marks: OrderedDict[str, int] = OrderedDict()
        """Ids minted for `reset` messages (`mark`), at most `resume_max`, oldest first."""
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

    def mark(self) -> str:
        """A new id standing for the present position: resuming after it gets every message
        published from now on. Each call mints another, so a reader given one (with a `reset`)
        learns nothing about the messages before it, not even the last one's id."""
        mark = self._new_id()
        self._marks[mark] = self._seq
        while len(self._marks) > self._resume_max:
            self._marks.popitem(last=False)
        return mark

    def publish(self, kind: Kind, community: str | None, body: Any) -> StreamMessage:
        """Number the message, keep it for resuming, offer it to every reader; never waits."""
        self._seq += 1
        message = StreamMessage(self._new_id(), self._seq, kind, community, body)
        self._ring.append(message)
        self._remember(message.id, message.seq)
        for reader in list(self._readers):
            if not reader.offer(message):
                self.disconnect(reader)
                if self._dropped is not None:
                    self._dropped.inc()
                logger.warning("a stream reader fell %d messages behind: dropped", self._queue_max)
        return message

    def connect(self, admits: Admits, last_event_id: str | None = None) -> tuple[Reader, bool]:
        """A new reader, and whether it must reload (`reset`): its `last_event_id` is of
        another epoch, unknown, or older than the ring. Otherwise the reader first gets the
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

    def _new_id(self) -> str:
        """`<epoch>-<16 random hex digits>`: unique (64 bits; a repeat within the kept ids is
        drawn again) and unrelated to any other id."""
        while True:
            message_id = f"{self.epoch}-{secrets.token_hex(8)}"
            if message_id not in self._resumable and message_id not in self._marks:
                return message_id

    def _remember(self, message_id: str, seq: int) -> None:
        """Make an id resumable; forget the ids the ring no longer covers. Resuming after
        number `n` needs every message after it: `n + 1` must still be in the ring."""
        self._resumable[message_id] = seq
        self._order.append(message_id)
        while len(self._order) > self._resume_max + 1:
            del self._resumable[self._order.popleft()]

    def _seq_of(self, last_event_id: str) -> int | None:
        """The number of an id this hub can still resume after, else None."""
        last_event_id = last_event_id.strip()
        seq = self._resumable.get(last_event_id)
        if seq is None:
            seq = self._marks.get(last_event_id)
            oldest = self._ring[0].seq if self._ring else 1
            if seq is not None and seq + 1 < oldest:
                return None
        return seq

    def _since(self, seq: int) -> Iterator[StreamMessage]:
        if not self._ring:
            return
        start = seq + 1 - self._ring[0].seq
        yield from itertools.islice(self._ring, max(start, 0), None)
