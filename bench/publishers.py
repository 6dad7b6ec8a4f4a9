"""Publishing from several processes: one offered rate, the devices split between processes.

Why it exists: the district benchmarks offer up to 20k msg/s of pre-rendered messages on a
machine that also runs the broker, the database and the gateway. `simulators.fast_publisher`
(one socket, no task per message) does the publishing; this spreads it over P worker
processes (spawned once per run, so none inherits the event loop), each publishing its share
of the devices (a device's messages stay on one connection, in order) at its share of the
rate. Workers start together at an agreed instant; each reports its send times (epoch
seconds, for publish -> commit latency) and its own CPU.
"""

import asyncio
import concurrent.futures
import multiprocessing
import resource
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bench.common import PROGRESS_EVERY_S, BenchError, Message, log
from simulators.fast_publisher import publish_fast
from simulators.publisher import parse_mqtt_url

START_DELAY_S = 1.0
"""Workers (already spawned, see `PublisherPool`) get their share and connect within this:
then all start together."""


@dataclass
class WorkerResult:
    acked: int
    started: float
    seconds: float
    cpu_s: float
    times: list[tuple[int, float]] | None


@dataclass
class PublishRun:
    """All workers together: from the first send to the last acknowledgement."""

    acked: int
    started: float
    seconds: float
    cpu_s: float
    processes: int
    times: list[tuple[int, float]] | None

    @property
    def rate(self) -> float:
        return self.acked / self.seconds if self.seconds > 0 else 0.0


def split_by_device(messages: Sequence[Message], parts: int) -> list[list[int]]:
    """Message indices per worker, by a hash of the topic: each device in one worker."""
    shares: list[list[int]] = [[] for _ in range(parts)]
    for index, (topic, _payload) in enumerate(messages):
        shares[zlib.crc32(topic.encode()) % parts].append(index)
    return [share for share in shares if share]


def _worker(
    url: str,
    messages: list[Message],
    indices: list[int],
    rate: float | None,
    record_times: bool,
    start_at: float,
    client_id: str,
) -> WorkerResult:
    """One process's share, on one connection of `simulators.fast_publisher`."""
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    sent: list[float] | None = [] if record_times else None

    def progress(acked: int) -> None:
        log(f"{client_id}: published {acked:,}/{len(messages):,}")

    report = publish_fast(
        messages if sent is None else _recording(messages, sent),
        parse_mqtt_url(url),
        client_id=client_id,
        rate=rate,
        progress=progress,
        progress_interval=PROGRESS_EVERY_S * 5,
    )
    ended = time.time()  # the last acknowledgement, give or take the disconnect
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    times = None if sent is None else list(zip(indices, sent, strict=True))
    return WorkerResult(report.count, ended - report.seconds, report.seconds, cpu, times)


def _recording(messages: list[Message], sent: list[float]) -> Iterator[Message]:
    """The messages, noting the wall time each is taken: the publisher takes a message
    only to encode it and write it in the same tick, so this is its send time."""
    for message in messages:
        sent.append(time.time())
        yield message


class PublisherPool:
    """P spawned worker processes, kept for the whole run: spawning one costs seconds
    (a fresh interpreter imports the benchmark), publishing a phase's share does not."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    async def _ready(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = concurrent.futures.ProcessPoolExecutor(self.processes, mp_context=context)
            loop = asyncio.get_running_loop()
            await asyncio.gather(
                *(loop.run_in_executor(self._pool, time.sleep, 0.2) for _ in range(self.processes))
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def publish(
        self,
        url: str,
        messages: Sequence[Message],
        *,
        rate: float | None = None,
        record_times: bool = False,
        label: str = "bench",
    ) -> PublishRun:
        """Publish `messages` from the workers at `rate` in total (None: flat out); returns
        once every worker's messages are acknowledged."""
        pool = await self._ready()
        shares = split_by_device(messages, self.processes)
        start_at = time.time() + START_DELAY_S
        loop = asyncio.get_running_loop()
        futures = [
            loop.run_in_executor(
                pool,
                _worker,
                url,
                [messages[i] for i in share],
                share,
                None if rate is None else rate * len(share) / len(messages),
                record_times,
                start_at,
                f"{label}-{number}-{time.monotonic_ns()}",
            )
            for number, share in enumerate(shares)
        ]
        results: list[WorkerResult] = await asyncio.gather(*futures)
        acked = sum(r.acked for r in results)
        if acked != len(messages):
            raise BenchError(f"{label}: broker acknowledged {acked} of {len(messages)}")
        started = min(r.started for r in results)
        ended = max(r.started + r.seconds for r in results)
        times = None
        if record_times:
            times = [pair for r in results for pair in (r.times or [])]
        return PublishRun(
            acked, started, ended - started, sum(r.cpu_s for r in results), len(shares), times
        )
