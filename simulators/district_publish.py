"""The district's traffic published from one or several processes, at a sustained rate.

Rendering a message (drawing it, writing its JSON) costs far more than publishing it, so one
process cannot both render and publish tens of thousands a second. `publish_district` starts
`processes` workers; each renders the communities `District.part_of` deals it (so a device's
messages stay on one connection, in order) and publishes them with `fast_publisher` at its
share of the rate (`District.shares`). With `prerender`, each worker renders its whole share
into memory before its first publish, so the pace is the publisher's alone (the benchmarks'
way); without, it renders as it goes and the rate holds as long as the worker keeps up.

Workers report their acknowledged counts through shared memory; the parent shows progress.
"""

import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.sharedctypes import Synchronized
from typing import Any, Final

from simulators.district import District, apportion
from simulators.fast_publisher import FastReport, Timed, publish_fast
from simulators.publisher import PublishError, parse_mqtt_url

_POLL_S: Final = 1.0


@dataclass(frozen=True, slots=True)
class DistrictRun:
    """What to publish: the district, its traffic, how many messages, where and how fast."""

    communities: int
    scale: float
    seed: int
    start: datetime
    speed: float
    rate: float | None
    """Messages per wall second over all processes (None: flat out)."""
    count: int
    url: str
    processes: int = 1
    qos: int = 1
    prerender: bool = False
    heartbeats: bool = True
    clean: bool = False


@dataclass(frozen=True, slots=True)
class DistrictReport:
    """Acknowledged messages, overall and per process; `seconds` is the longest process's
    publishing time (its rendering ahead, with `prerender`, not counted)."""

    count: int
    seconds: float
    parts: tuple[FastReport, ...]

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


def _timed(district: District, run: DistrictRun, part: int, count: int) -> Iterator[Timed]:
    # The density follows the requested rate; flat out, life-like at the asked speed.
    records = district.records(
        run.start,
        run.speed,
        run.rate,
        part=(part, run.processes),
        heartbeats=run.heartbeats,
        clean=run.clean,
    )
    for record in itertools.islice(records, count):
        yield record.at.timestamp(), record.topic, record.payload


def _worker(
    run: DistrictRun,
    part: int,
    count: int,
    rate: float | None,
    acked: "Synchronized[int]",
    results: "multiprocessing.Queue[Any]",
) -> None:
    """One process: render its communities' messages and publish them."""
    try:
        district = District(run.communities, run.scale, run.seed)
        messages: Iterator[Timed] = _timed(district, run, part, count)
        if run.prerender:
            messages = iter(list(messages))

        def report(count: int) -> None:
            acked.value = count

        result = publish_fast(
            messages,
            parse_mqtt_url(run.url),
            client_id=f"scgw-district-{os.getpid()}-{part}",
            rate=rate,
            qos=run.qos,
            progress=report,
        )
        results.put((part, result.count, result.seconds, None))
    except PublishError as exc:
        results.put((part, exc.count, 0.0, str(exc)))
    except Exception as exc:  # the parent reports it; a worker never dies silently
        results.put((part, acked.value, 0.0, f"{type(exc).__name__}: {exc}"))


def publish_district(
    run: DistrictRun, progress: Callable[[int], None] | None = None
) -> DistrictReport:
    """Publish `run.count` messages of the district's traffic; `PublishError` if a worker
    failed (its message; `count` is what all workers had acknowledged)."""
    if run.processes < 1:
        raise ValueError("processes must be at least 1")
    district = District(run.communities, run.scale, run.seed)
    shares = district.shares(run.processes, run.rate, run.speed)
    counts = apportion(run.count, shares)
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[Any] = context.Queue()
    counters = [context.Value("q", 0, lock=False) for _ in range(run.processes)]
    workers = [
        context.Process(
            target=_worker,
            args=(
                run,
                part,
                counts[part],
                None if run.rate is None else run.rate * shares[part],
                counters[part],
                results,
            ),
            name=f"district-publisher-{part}",
        )
        for part in range(run.processes)
    ]
    for worker in workers:
        worker.start()
    outcomes: dict[int, tuple[int, float, str | None]] = {}
    try:
        while len(outcomes) < len(workers):
            try:
                part, count, seconds, error = results.get(timeout=_POLL_S)
                outcomes[part] = (count, seconds, error)
            except Exception:  # queue.Empty: nothing finished yet
                if not any(w.is_alive() for w in workers) and results.empty():
                    break
            if progress is not None:
                progress(sum(int(c.value) for c in counters))
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
                worker.join()
    total = sum(outcome[0] for outcome in outcomes.values())
    errors = [outcome[2] for outcome in outcomes.values() if outcome[2]]
    if len(outcomes) < len(workers):
        errors.append("a publisher process ended without a report")
    if errors:
        raise PublishError("; ".join(errors), total)
    if progress is not None:
        progress(total)
    parts = tuple(FastReport(*outcomes[part][:2]) for part in range(run.processes))
    return DistrictReport(total, max(part.seconds for part in parts), parts)
