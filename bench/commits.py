"""What the gateway committed: following the count, the transactions, the store checks.

Why it exists: every gateway phase measures the same thing, rows committed to `events`, and
judges the run the same way (every event stored exactly once). Commit times come from
`pg_xact_commit_timestamp(xmin)`, so a phase can time the gateway without instrumenting it.
This module polls the committed count (failing on a stall instead of hanging), reads the
transactions' sizes and times, checks the store, and computes the event ids the gateway will
store so the latency phase can pair each send with its commit.
"""

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from adapters.base import RawMessage
from adapters.hik_isapi import HikIsapiAdapter
from bench.common import PROGRESS_EVERY_S, BenchError, JsonDict, Message, log
from bench.procstats import process_cpu_s
from bench.profiling import Profiler
from bench.stats import percentile
from schemas.privacy import Pseudonymizer
from testkit.gateway_process import GatewayProcess
from testkit.harness import HASH_KEY

POLL_S = 0.1
POLL_IDLE_FACTOR = 10
"""After a count that took t, wait at least 10 t: `count(*)` over a million events takes tens of
milliseconds of PostgreSQL's CPU, and polled every 100 ms it took most of a core from the drain
it measured. Timings come from commit timestamps, so a later look changes no figure."""
STALL_TIMEOUT_S = 60.0
"""Give up on a phase when the committed count has not moved for this long."""


@dataclass
class Sample:
    """One poll of the committed count, with the gateway's CPU at that moment."""

    at: float
    committed: int
    gateway_cpu_s: float


async def scalar(db: psycopg.AsyncConnection[Any], sql: str) -> int:
    cursor = await db.execute(sql.encode())
    row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0


async def follow_commits(
    db: psycopg.AsyncConnection[Any],
    target: int,
    gateway: GatewayProcess,
    label: str,
    producer: "asyncio.Task[Any] | None",
    *,
    profiler: "Profiler | None" = None,
) -> list[Sample]:
    """Poll `count(*)` every 100 ms (or 10 times its own cost, `POLL_IDLE_FACTOR`) until
    `target` rows; fail on a stall, never hang."""
    samples: list[Sample] = []
    last_progress = time.monotonic()
    last_report = 0.0
    last_count = -1
    while True:
        if producer is not None and producer.done() and producer.exception() is not None:
            raise BenchError(f"{label}: {producer.exception()!r}")
        asked = time.monotonic()
        count = await scalar(db, "SELECT count(*) FROM events")
        now = time.monotonic()
        pid = gateway.process.pid if gateway.process is not None else None
        cpu = process_cpu_s(pid) if pid is not None else math.nan
        samples.append(Sample(time.time(), count, cpu))
        if profiler is not None and count > 0:
            profiler.start()
        if count != last_count:
            last_count, last_progress = count, now
        if count >= target:
            log(f"{label}: committed {count:,}/{target:,}")
            return samples
        if now - last_report >= PROGRESS_EVERY_S:
            log(f"{label}: committed {count:,}/{target:,}")
            last_report = now
        if now - last_progress > STALL_TIMEOUT_S:
            raise BenchError(
                f"{label}: stuck at {count:,}/{target:,} committed for {STALL_TIMEOUT_S:.0f} s;"
                f" gateway log:\n{gateway.log_tail()}"
            )
        await asyncio.sleep(max(POLL_S, POLL_IDLE_FACTOR * (now - asked)))


def drain_cpu(samples: list[Sample]) -> float | None:
    """Gateway CPU per message between the first and the last sample that saw progress."""
    moving = [s for s in samples if s.committed > 0 and not math.isnan(s.gateway_cpu_s)]
    if len(moving) < 2 or moving[-1].committed == moving[0].committed:
        return None
    cpu = moving[-1].gateway_cpu_s - moving[0].gateway_cpu_s
    return round(cpu / (moving[-1].committed - moving[0].committed) * 1e6, 1)


@dataclass
class Commits:
    """The committed transactions of a phase, from `pg_xact_commit_timestamp(xmin)`."""

    sizes: list[int]
    first: float
    last: float

    @property
    def first_batch(self) -> int:
        return self.sizes[0] if self.sizes else 0

    def as_json(self) -> JsonDict:
        sizes = sorted(self.sizes)
        return {
            "transactions": len(sizes),
            "rows_mean": round(sum(sizes) / len(sizes), 1) if sizes else None,
            "rows_p50": percentile(sizes, 50),
            "rows_max": sizes[-1] if sizes else None,
            "full_batches": sum(1 for s in sizes if s == sizes[-1]) if sizes else 0,
        }


async def commit_profile(db: psycopg.AsyncConnection[Any]) -> Commits:
    """Batch sizes and commit times: one `events` transaction per gateway batch."""
    cursor = await db.execute(
        b"SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 AS at, count(*)"
        b" FROM events GROUP BY 1 ORDER BY 1"
    )
    rows = await cursor.fetchall()
    if not rows:
        raise BenchError("no committed events")
    return Commits([int(r[1]) for r in rows], float(rows[0][0]), float(rows[-1][0]))


async def store_checks(db: psycopg.AsyncConnection[Any], expected: int) -> JsonDict:
    """Every event stored once, nothing dead-lettered but the probes: else the run is void."""
    events = await scalar(db, "SELECT count(*) FROM events")
    distinct = await scalar(db, "SELECT count(DISTINCT event_id) FROM events")
    cursor = await db.execute(b"SELECT reason, count(*) FROM dead_letters GROUP BY 1")
    letters = {str(r[0]): int(r[1]) for r in await cursor.fetchall()}
    unexpected = {k: v for k, v in letters.items() if k != "unknown_dialect"}
    ok = events == expected and distinct == expected and not unexpected
    return {"ok": ok, "events": events, "distinct_ids": distinct, "dead_letters": letters}


def expected_event_ids(messages: Sequence[Message]) -> list[str]:
    """Each message's event id, computed the way the gateway does (same adapter, same key)."""
    adapter = HikIsapiAdapter(Pseudonymizer(HASH_KEY))
    now = datetime.now(UTC)
    ids = []
    for topic, payload in messages:
        community, _dialect, device_id = topic.split("/")
        raw = RawMessage(topic, payload, now, community, device_id)
        ids.append(adapter.parse(raw)[0].event_id)
    return ids
