"""Time the API's district-scale reads through the store, on the scratch database that
`scripts/district_db.sql` fills (never a production one: `--explain` logs every plan).

    python scripts/district_reads.py "$DSN" [--rounds 15] [--only flow] [--explain]

Per read: wall-clock p50 and max over the rounds, and this process's CPU p50 (the rest is the
database and, on a busy machine, waiting for a core). `--explain` runs each read once with
`auto_explain` (ANALYZE, BUFFERS) so the plans land in the server's log. The flow reads also
run as the API answers them (`flow_stats_of`, the response model's check, JSON).
"""

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from gateway.api.flow import flow_stats_of
from gateway.store.flow import FlowBucket, bucket_start, hour_of
from gateway.store.masterdata import HouseQuery, PersonQuery
from gateway.store.postgres import PostgresStore
from gateway.store.tickets import TicketQuery

EXPLAIN_OPTIONS = (
    "-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0"
    " -c auto_explain.log_analyze=on -c auto_explain.log_buffers=on"
    " -c auto_explain.log_level=warning"
)

Read = Callable[[], Awaitable[object]]


def answered(
    store: PostgresStore,
    since: datetime,
    until: datetime,
    bucket: FlowBucket,
    scope: frozenset[str] | None,
) -> Read:
    """The flow read as the API answers it, to its JSON."""

    async def run() -> object:
        stats = flow_stats_of(await store.flow(since, until, bucket, scope), since, until, bucket)
        type(stats).model_validate(stats.model_dump())  # FastAPI's response_model check
        return stats.model_dump_json()

    return run


def reads(store: PostgresStore) -> dict[str, Read]:
    now = datetime.now(UTC)
    seen = now - timedelta(days=30)
    end = hour_of(now) + timedelta(hours=1)
    week = end - timedelta(days=7)
    day = bucket_start(week, "day")
    one, grid = "c042", "430112000042002"
    scope = frozenset({one})
    return {
        "house lookup with occupants": lambda: store.get_house("h0123456", seen),
        "house list of a community": lambda: store.list_houses(HouseQuery(community=one), seen),
        "house list of a grid": lambda: store.list_houses(HouseQuery(grid=grid), seen),
        "person lookup": lambda: store.get_person("p0654321"),
        "person search: community": lambda: store.list_persons(PersonQuery(community=one)),
        "person search: community + tag": lambda: store.list_persons(
            PersonQuery(community=one, tag="elderly_alone")
        ),
        "person search: tag, district": lambda: store.list_persons(PersonQuery(tag="disabled")),
        "person search: grid": lambda: store.list_persons(PersonQuery(grid=grid)),
        "person search: community + building": lambda: store.list_persons(
            PersonQuery(community=one, building="b7")
        ),
        "person search: scoped key": lambda: store.list_persons(PersonQuery(communities=scope)),
        "ticket list": lambda: store.list_tickets(TicketQuery(), now),
        "ticket list: status": lambda: store.list_tickets(TicketQuery(status="detected"), now),
        "ticket list: grid": lambda: store.list_tickets(
            TicketQuery(grid_code=grid[:-3] + "001"), now
        ),
        "ticket list: overdue": lambda: store.list_tickets(TicketQuery(overdue=True), now),
        "ticket list: scoped": lambda: store.list_tickets(TicketQuery(communities=scope), now),
        "ticket list: property view": lambda: store.list_tickets(
            TicketQuery(communities=scope, property_view=True), now
        ),
        "flow: community, 7 days of hours": lambda: store.flow(week, end, "hour", scope),
        "flow: district, 7 days of hours": lambda: store.flow(week, end, "hour", None),
        "flow: district, 7 days": lambda: store.flow(day, day + timedelta(days=8), "day", None),
        "flow: district, 31 days of hours": lambda: store.flow(
            end - timedelta(days=31), end, "hour", None
        ),
        "flow answer: community, 7 days of hours": answered(store, week, end, "hour", scope),
        "flow answer: district, 7 days of hours": answered(store, week, end, "hour", None),
        "flow answer: district, 31 days of hours": answered(
            store, end - timedelta(days=31), end, "hour", None
        ),
    }


async def main(dsn: str, rounds: int, only: str, explain: bool) -> None:
    if explain:
        dsn += ("&" if "?" in dsn else "?") + "options=" + quote(EXPLAIN_OPTIONS)
        rounds = 1
    store = PostgresStore(dsn, pool_size=1)
    await store.open()
    try:
        for name, read in reads(store).items():
            if only not in name:
                continue
            wall, cpu = [], []
            for _ in range(rounds):
                started, used = time.perf_counter(), time.process_time()
                await read()
                wall.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - used) * 1000)
            print(
                f"{name:42s} p50 {statistics.median(wall):7.1f} ms  max {max(wall):7.1f} ms"
                f"  client CPU p50 {statistics.median(cpu):6.1f} ms",
                flush=True,
            )
    finally:
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dsn")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--only", default="", help="only the reads whose name holds this")
    parser.add_argument("--explain", action="store_true")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.dsn, arguments.rounds, arguments.only, arguments.explain))
