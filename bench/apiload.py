"""The API side of the district benchmarks: master data in, history in, requests timed.

Why it exists: benchmarks 3 and 4 need the gateway to hold a district's state (master data
imported through the property API, as a property system sends it) and a long history of
events (tens of millions: far too many to publish, so copied in SQL from events the gateway
really stored, spread over the past days), and then time API requests while ingest runs.
"""

import asyncio
import importlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
import psycopg

from bench.common import PROGRESS_EVERY_S, BenchError, JsonDict, log
from bench.stats import percentile
from testkit.harness import ADMIN_KEY

MasterData = dict[str, list[dict[str, Any]]]
"""Each dataset's import rows (houses first), as `PUT /v1/property` takes them."""

IMPORT_CHUNK_ROWS = 5_000
"""Rows per import request: well under the import's size limit, and progress to show."""
HISTORY_DAYS = 8
"""The copied history spans this many days before the seed events: a 7-day statistic reads
a full week of it."""


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


async def import_masterdata(base_url: str, community: str, data: MasterData) -> dict[str, int]:
    """`PUT /v1/property/{community}/{dataset}` with an admin key, dataset by dataset (houses
    first), in chunks; rows the import rejected are counted, not fatal."""
    counts: dict[str, int] = {}
    headers = {"X-API-Key": ADMIN_KEY, "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=base_url, timeout=600) as client:
        for dataset, rows in data.items():
            rejected = 0
            for start in range(0, len(rows), IMPORT_CHUNK_ROWS):
                body = json.dumps(
                    rows[start : start + IMPORT_CHUNK_ROWS],
                    default=_json_default,
                    ensure_ascii=False,
                ).encode()
                response = await client.put(
                    f"/v1/property/{community}/{dataset}", content=body, headers=headers
                )
                if response.status_code != 200:
                    raise BenchError(
                        f"import {community}/{dataset}: {response.status_code} {response.text}"
                    )
                rejected += len(response.json().get("rejected", []))
            counts[dataset] = len(rows)
            counts[f"{dataset}_rejected"] = rejected
    return counts


async def load_communities(
    base_url: str, communities: Sequence[str], rows_of: Callable[[str], MasterData]
) -> JsonDict:
    """Every community's master data through the property import (`import_masterdata`),
    drawing the next community in a thread while this one imports; progress on stderr."""
    started = time.monotonic()
    totals: dict[str, int] = {}
    drawing = asyncio.create_task(asyncio.to_thread(rows_of, communities[0]))
    for number, community in enumerate(communities, start=1):
        data = await drawing
        if number < len(communities):
            drawing = asyncio.create_task(asyncio.to_thread(rows_of, communities[number]))
        counts = await import_masterdata(base_url, community, data)
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
        if number % 10 == 0 or number == len(communities):
            log(
                f"master data: {number}/{len(communities)} communities,"
                f" {sum(v for k, v in totals.items() if 'rejected' not in k):,} rows,"
                f" {time.monotonic() - started:.0f} s"
            )
    rejected = sum(v for k, v in totals.items() if "rejected" in k)
    return {"rows": totals, "rejected": rejected, "seconds": round(time.monotonic() - started, 1)}


async def load_history(dsn: str, rows: int) -> JsonDict:
    """Copy the stored events into about `rows` more, copy g shifted g/copies of
    `HISTORY_DAYS` into the past: new ids (md5 of id and copy number), the same kinds,
    communities, devices and bodies. INSERT ... SELECT inside PostgreSQL: no client round
    trip per row."""
    started = time.monotonic()
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as db:
        cursor = await db.execute("SELECT count(*) FROM events")
        row = await cursor.fetchone()
        template = int(row[0]) if row is not None else 0
        if template == 0:
            raise BenchError("no events to copy the history from")
        copies = max(1, round(rows / template))
        step_s = HISTORY_DAYS * 86400 / copies
        await db.execute("CREATE TEMP TABLE template AS SELECT * FROM events")
        per_statement = max(1, 200_000 // template)
        done = 0
        last_report = time.monotonic()
        for first in range(1, copies + 1, per_statement):
            last = min(copies, first + per_statement - 1)
            await db.execute(
                "INSERT INTO events (occurred_at, event_id, kind, community, device_id,"
                " received_at, body)"
                " SELECT t.occurred_at - g * %(step)s::float8 * interval '1 second',"
                " md5(t.event_id || ':' || g), t.kind, t.community, t.device_id,"
                " t.received_at - g * %(step)s::float8 * interval '1 second', t.body"
                " FROM template t, generate_series(%(first)s::int, %(last)s::int) g",
                {"step": step_s, "first": first, "last": last},
            )
            done += (last - first + 1) * template
            if time.monotonic() - last_report >= PROGRESS_EVERY_S * 5:
                log(f"history: {done:,}/{copies * template:,} events copied")
                last_report = time.monotonic()
        rollup = await rebuild_flow_rollup(db)
        await db.execute("ANALYZE")
    return {
        "flow_rollup_rows": rollup,
        "rows": copies * template,
        "template_events": template,
        "copies": copies,
        "days": HISTORY_DAYS,
        "seconds": round(time.monotonic() - started, 1),
    }


FLOW_FIELDS = {
    "result": "body ->> 'result'",
    "direction": "body ->> 'direction'",
    "action": "body ->> 'action'",
}
"""How PostgreSQL reads the body fields `gateway.store.flow.MEASURE_SQL` names."""


async def rebuild_flow_rollup(db: psycopg.AsyncConnection[Any]) -> int | None:
    """Count the copied history into the hourly flow rollup, as migration 0014's backfill
    counts the events stored before it (the batch transaction counts only what the gateway
    itself stores): recounted from all events with `gateway.store.flow`'s definitions. None
    when this gateway has no rollup yet."""
    try:
        flow = importlib.import_module("gateway.store.flow")
    except ImportError:
        return None
    conditions = {m: flow.MEASURE_SQL[m].format(**FLOW_FIELDS) for m in flow.MEASURES}
    counts = ", ".join(f"count(*) FILTER (WHERE {conditions[m]})" for m in flow.MEASURES)
    anything = " OR ".join(f"({c})" for c in conditions.values())
    await db.execute("TRUNCATE flow_hourly")
    await db.execute(
        f"INSERT INTO flow_hourly (community, hour, {', '.join(flow.MEASURES)})"
        f" SELECT community, date_bin('1 hour', occurred_at, timestamptz '2000-01-01 00:00Z'),"
        f" {counts} FROM events WHERE {anything} GROUP BY 1, 2".encode()
    )
    return await _count(db, "SELECT count(*) FROM flow_hourly")


async def _count(db: psycopg.AsyncConnection[Any], sql: str) -> int:
    cursor = await db.execute(sql.encode())
    row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0


@dataclass
class Endpoint:
    """One kind of request: `path(i)` is the i-th request's path and query."""

    name: str
    path: Callable[[int], str]


async def time_endpoint(
    base_url: str, endpoint: Endpoint, seconds: float, clients: int
) -> JsonDict:
    """`clients` closed loops (each sends its next request when the last answered) for
    `seconds`; latency percentiles of the answered requests, requests per second, and the
    statuses other than 200."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    counter = iter(range(10**9))
    deadline = time.monotonic() + seconds
    headers = {"X-API-Key": ADMIN_KEY}

    async def loop(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            path = endpoint.path(next(counter))
            began = time.perf_counter()
            response = await client.get(path, headers=headers)
            latencies.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                key = f"{response.status_code} {_error_code(response)}"
                statuses[key] = statuses.get(key, 0) + 1

    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        await asyncio.gather(*(loop(client) for _ in range(clients)))
    elapsed = time.monotonic() - started
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "clients": clients,
        "req_per_s": round(len(ordered) / elapsed, 1),
        "latency_ms": {
            "p50": round(percentile(ordered, 50), 1),
            "p95": round(percentile(ordered, 95), 1),
            "p99": round(percentile(ordered, 99), 1),
            "max": round(ordered[-1], 1) if ordered else None,
        },
        "errors": statuses,
        "example": endpoint.path(0),
    }


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "?"


def rotate(values: Sequence[str], template: str) -> Callable[[int], str]:
    """The i-th path: `template` formatted with the i-th value, round-robin."""
    if not values:
        raise BenchError(f"no values for {template}")
    return lambda i: template.format(values[i % len(values)])


def masterdata_keys(data: MasterData) -> tuple[list[str], list[str]]:
    """House codes and building names to look up, from the imported rows."""
    houses = [str(row["house_code"]) for row in data.get("houses", []) if row.get("house_code")]
    buildings = sorted(
        {str(row["building"]) for row in data.get("houses", []) if row.get("building")}
    )
    return houses, buildings


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=_json_default))
