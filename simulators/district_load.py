"""The district's master data into a gateway, through the property import, with a progress bar.

Two ways, as `scgw import` has: straight into the store through the same `Importer` (for the
operator of the gateway's host and the benchmarks: `load_direct`, with the gateway's
`gateway.masterdata.bulk.direct_import` passed in), or through a running gateway's
`PUT /v1/property/{community}/{dataset}` with an admin key (`load_through_api`).
Either way every row is validated, hashed, masked and sealed exactly as a property system's
export would be: this is the import, not a shortcut around it.

Drawing a community's people costs about a third of importing them, so worker processes draw
the next communities while this one imports a few at a time.
"""

import asyncio
import signal
import sys
import time
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, aclosing
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.pool import Pool
from typing import IO, Final, cast

import httpx

from simulators.district import District
from simulators.masterdata import DATASETS, Dataset

Rows = dict[Dataset, list[dict[str, object]]]

_API_TIMEOUT_S: Final = 600.0
CONCURRENCY: Final = 3
"""Communities imported at once: the database works on one while the importer prepares the
next (imports of different communities do not wait for each other)."""


@dataclass(slots=True)
class LoadReport:
    """What the import did: rows per outcome, per dataset; the rejections' count."""

    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    rejected: int = 0
    seconds: float = 0.0

    def add(self, dataset: str, counts: dict[str, int]) -> None:
        totals = self.rows.setdefault(dataset, {})
        for outcome, count in counts.items():
            totals[outcome] = totals.get(outcome, 0) + count
        self.rejected += counts.get("rejected", 0)

    @property
    def total(self) -> int:
        return sum(sum(counts.values()) for counts in self.rows.values())


class ProgressBar:
    """`[#######.......]  45%  63 of 141 communities  1,234,567 rows  2m10s, ~2m40s left` on
    stderr: rewritten in place on a terminal, a line per 5 % in a log."""

    WIDTH: Final = 30

    def __init__(self, total_houses: int, communities: int, stream: IO[str] | None = None):
        self._stream = stream or sys.stderr
        self._total = max(1, total_houses)
        self._communities = communities
        self._started = time.monotonic()
        self._shown = -1
        self._tty = self._stream.isatty()

    def update(self, houses_done: int, communities_done: int, rows: int) -> None:
        percent = min(100, houses_done * 100 // self._total)
        step = percent if self._tty else percent // 5 * 5
        if step == self._shown and communities_done < self._communities:
            return
        self._shown = step
        elapsed = time.monotonic() - self._started
        left = elapsed * (self._total - houses_done) / houses_done if houses_done else 0.0
        filled = self.WIDTH * percent // 100
        line = (
            f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {percent:3d}%"
            f"  {communities_done} of {self._communities} communities  {rows:,} rows"
            f"  {_minutes(elapsed)}, ~{_minutes(left)} left"
        )
        self._stream.write(f"\r{line}" if self._tty else f"{line}\n")
        if self._tty and communities_done >= self._communities:
            self._stream.write("\n")
        self._stream.flush()


def _minutes(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def _rows_of(communities: int, scale: float, seed: int, code: str) -> Rows:
    """A worker's job: one community's four datasets."""
    return District(communities, scale, seed).masterdata(code)


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the main process, which ends them itself (`Pool.terminate`):
    interrupted on their own they die with a traceback each and can leave the pool hanging."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _settle(future: "asyncio.Future[Rows]", rows: Rows | None, error: BaseException | None) -> None:
    if future.done():  # cancelled: the load was stopped
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(cast(Rows, rows))


def _drawn_by(pool: Pool, args: tuple[int, float, int, str]) -> "asyncio.Future[Rows]":
    """A worker draws one community; awaited on the event loop, with no thread blocked on
    it (a blocked thread would keep an interrupted load from exiting)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Rows] = loop.create_future()
    pool.apply_async(
        _rows_of,
        args,
        callback=lambda rows: loop.call_soon_threadsafe(_settle, future, rows, None),
        error_callback=lambda error: loop.call_soon_threadsafe(_settle, future, None, error),
    )
    return future


async def _drawn_ahead(district: District, ahead: int) -> AsyncGenerator[tuple[str, Rows], None]:
    """Each community's rows in district order, the next `ahead` drawn by workers meanwhile.
    Closing it (`aclosing`) terminates the workers at once, drawing or not."""
    codes = district.communities
    if len(codes) == 1:
        yield codes[0], district.masterdata(codes[0])
        return
    with get_context("spawn").Pool(ahead, initializer=_ignore_interrupts) as pool:
        args = (len(codes), district.scale, district.seed)
        pending = deque(_drawn_by(pool, (*args, code)) for code in codes[:ahead])
        for index, code in enumerate(codes):
            rows = await pending.popleft()
            if index + ahead < len(codes):
                pending.append(_drawn_by(pool, (*args, codes[index + ahead])))
            yield code, rows
        # leaving the block terminates the pool: every job has been collected by now


Sender = Callable[[str, Dataset, list[dict[str, object]]], Awaitable[dict[str, int]]]
"""Imports one community's dataset from rows; the outcome counts (accepted, updated, ...)."""

DirectImport = Callable[
    [str | None, Sequence[Mapping[str, object]]], AbstractAsyncContextManager[Sender]
]
"""Opens the store at a database URL (None: the configured one) under a grid map and hands
out a sender through its importer: `gateway.masterdata.bulk.direct_import`, which the `scgw`
command passes in (simulators never import the gateway)."""


async def load_direct(
    district: District,
    direct_import: DirectImport,
    database_url: str | None,
    *,
    quiet: bool = False,
    concurrency: int = CONCURRENCY,
) -> LoadReport:
    """Import every community's four datasets straight into the store."""
    async with direct_import(database_url, district.grid_map_items()) as send:
        return await load(district, send, quiet=quiet, concurrency=concurrency)


async def load_through_api(
    district: District,
    url: str,
    api_key: str,
    *,
    quiet: bool = False,
    concurrency: int = CONCURRENCY,
) -> LoadReport:
    """Import every community's datasets with `PUT /v1/property/...` (JSON bodies)."""
    async with httpx.AsyncClient(
        base_url=url.rstrip("/"), timeout=httpx.Timeout(30.0, read=_API_TIMEOUT_S)
    ) as client:

        async def send(
            code: str, dataset: Dataset, rows: list[dict[str, object]]
        ) -> dict[str, int]:
            response = await client.put(
                f"/v1/property/{code}/{dataset}",
                json=rows,
                headers={"X-API-Key": api_key},
            )
            if response.status_code != 200:
                raise RuntimeError(
                    f"the gateway refused {dataset} of {code}: {response.status_code}"
                    f" {response.text[:300]}"
                )
            body = response.json()
            return {
                "accepted": body["accepted"],
                "updated": body["updated"],
                "unchanged": body["unchanged"],
                "rejected": len(body["rejected"]),
            }

        return await load(district, send, quiet=quiet, concurrency=concurrency)


async def load(
    district: District,
    send: Sender,
    *,
    quiet: bool = False,
    concurrency: int = CONCURRENCY,
    stream: IO[str] | None = None,
) -> LoadReport:
    """Import the communities, `concurrency` at a time (each community's datasets in order:
    residents name houses), while worker processes draw the next ones.

    Cancelled (Ctrl-C under `asyncio.run`), it stops the imports under way (each rolls back
    its open chunk and audits itself as aborted), terminates the workers, says on `stream`
    (stderr) which communities were loaded whole and which partly, and re-raises."""
    started = time.monotonic()
    report = LoadReport()
    bar = None if quiet else ProgressBar(district.houses, len(district.communities), stream)
    progress = {"houses": 0, "rows": 0, "done": 0}
    under_way: list[str] = []
    slots = asyncio.Semaphore(concurrency)

    async def one(code: str, rows: Rows) -> None:
        under_way.append(code)
        try:
            for dataset in DATASETS:
                report.add(dataset, await send(code, dataset, rows[dataset]))
                progress["rows"] += len(rows[dataset])
            progress["done"] += 1
            progress["houses"] += district.plan(code).houses
            under_way.remove(code)
            if bar is not None:
                bar.update(progress["houses"], progress["done"], progress["rows"])
        finally:
            slots.release()

    try:
        async with (
            aclosing(_drawn_ahead(district, max(1, min(2, concurrency)))) as drawn,
            asyncio.TaskGroup() as group,
        ):
            while True:
                await slots.acquire()
                item = await anext(drawn, None)
                if item is None:
                    slots.release()
                    break
                group.create_task(one(*item))
    except asyncio.CancelledError:
        partly = f"; partly (import them again): {', '.join(under_way)}" if under_way else ""
        print(
            f"\ninterrupted: {progress['done']} of {len(district.communities)} communities"
            f" loaded whole ({progress['rows']:,} rows){partly}",
            file=stream or sys.stderr,
            flush=True,
        )
        raise
    report.seconds = time.monotonic() - started
    return report
