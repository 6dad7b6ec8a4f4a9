"""Publishing from several processes: one offered rate, the devices split between processes.

Why it exists: one Python publisher (`simulators.publisher.publish`) costs ~100-150 µs of CPU
per message, so a single process cannot offer 10-20k msg/s; the district benchmarks spread the
same function over P worker processes (spawned, so none inherits the event loop), each
publishing its share of the devices (a device's messages stay in one process, in order) at its
share of the rate. Workers start together at an agreed instant; each reports its send times
(epoch seconds, for publish -> commit latency) and its own CPU.
"""

import asyncio
import concurrent.futures
import multiprocessing
import resource
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from bench.common import PROGRESS_EVERY_S, BenchError, Message, log
from simulators.publisher import publish

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
    connections: int,
    record_times: bool,
    start_at: float,
    prefix: str,
) -> WorkerResult:
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)

    def progress(acked: int) -> None:
        log(f"{prefix}: published {acked:,}/{len(messages):,}")

    report = asyncio.run(
        publish(
            messages,
            url=url,
            rate=rate,
            connections=connections,
            record_times=record_times,
            client_id_prefix=prefix,
            progress=progress,
            progress_interval=PROGRESS_EVERY_S * 5,
        )
    )
    ended = time.time()  # the last acknowledgement, give or take the disconnect
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    times = None
    if report.times is not None:
        times = [(indices[i], sent) for i, sent in report.times]
    return WorkerResult(report.count, ended - report.seconds, report.seconds, cpu, times)


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
        connections: int = 2,
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
                connections,
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
