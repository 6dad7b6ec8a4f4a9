"""Private services for one benchmark run: a fresh broker and database per phase, gateways.

Why it exists: every benchmark (bench.ingest, bench.district) measures the gateway the same
way: a private Mosquitto per phase (so a session left by one phase never queues the next
phase's traffic), a database per phase on one private PostgreSQL, the gateway as its own
`scgw run` process, a readiness probe (a dead letter proves the subscription is in place),
and a pre-queued drain. This class holds those, the phases live with each benchmark.
"""

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg

from bench.commits import commit_profile, drain_cpu, follow_commits, scalar, store_checks
from bench.common import PROGRESS_EVERY_S, BenchError, JsonDict, Message, log
from bench.environment import library_versions, mosquitto_version
from bench.procstats import CpuMeter, peak_rss_mib
from bench.profiling import Profiler, reset_statements, top_statements
from bench.publishers import PublisherPool, PublishRun
from bench.stats import rounded
from simulators.publisher import publish
from testkit.gateway_process import GatewayProcess
from testkit.services import MosquittoService, PostgresService, start_mosquitto, start_postgres

PROBE_TOPIC = "bench/probe/ready"
"""An unknown dialect: the gateway dead-letters it, proving it is subscribed end to end."""


def start_bench_postgres(
    workdir: Path, *, durable: bool, statements: bool = False
) -> PostgresService:
    """The run's private PostgreSQL: commit timestamps on (publish -> commit latency), and
    durable unless told otherwise (the exactly-once promise rests on fsync). `statements`
    loads pg_stat_statements (profiled runs only: it costs a little on every statement)."""
    settings = {"track_commit_timestamp": "on"}
    if durable:
        settings |= {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    if statements:
        settings["shared_preload_libraries"] = "timescaledb,pg_stat_statements"
    return start_postgres(workdir / "pg", settings=settings)


def describe_services(postgres: PostgresService) -> JsonDict:
    """The versions and PostgreSQL settings a result is only comparable with."""
    return {
        "versions": {
            "mosquitto": mosquitto_version(),
            "postgresql": postgres.psql("SHOW server_version"),
            "timescaledb": postgres.psql(
                "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
            ),
            **library_versions(),
        },
        "postgres_settings": {
            name: postgres.psql(f"SHOW {name}")
            for name in ("fsync", "synchronous_commit", "full_page_writes", "shared_buffers")
        },
    }


def tear_down(harness: "Harness", workdir: Path, *, keep: bool, failed: bool) -> None:
    """Stop everything the run started, last started first; keep the logs if asked or failed."""
    for cleanup in reversed(harness.cleanups):
        with contextlib.suppress(Exception):
            cleanup()
    harness.postgres.stop()
    if keep or failed:
        log(f"logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


class Harness:
    """Shared services of a run; `settings` go to every gateway (as SCGW_NAME).

    `publish_processes` 0 publishes from this process (bench.ingest's publisher); P > 0 from P
    spawned workers (`bench.publishers`)."""

    def __init__(
        self,
        workdir: Path,
        postgres: PostgresService,
        settings: dict[str, str],
        *,
        connections: int,
        queue_limit: int,
        publish_processes: int = 0,
    ) -> None:
        self.workdir = workdir
        self.postgres = postgres
        self.settings = settings
        self.connections = connections
        self.queue_limit = queue_limit
        self.publish_processes = publish_processes
        self.publishers = PublisherPool(max(1, publish_processes))
        self.cleanups: list[Callable[[], object]] = [self.publishers.close]

    # -- services ---------------------------------------------------------------------------

    def broker(self, phase: str) -> MosquittoService:
        """A fresh Mosquitto, so no session left by an earlier phase queues this one's traffic."""
        service = start_mosquitto(
            self.workdir / f"mqtt-{phase}", max_queued_messages=self.queue_limit
        )
        self.cleanups.append(service.stop)
        return service

    def database(self, phase: str) -> str:
        return self.postgres.create_database(f"bench_{phase}")

    def gateway(
        self, broker: MosquittoService, dsn: str, phase: str, extra: dict[str, str] | None = None
    ) -> GatewayProcess:
        settings = {**self.settings, **(extra or {})}
        gateway = GatewayProcess(broker.url, dsn, self.workdir / f"gateway-{phase}.log", **settings)
        self.cleanups.append(lambda: stop_gateway(gateway))
        return gateway

    async def start_gateway(
        self, phase: str, extra: dict[str, str] | None = None
    ) -> tuple[MosquittoService, str, GatewayProcess]:
        """A fresh broker and database for `phase`, and a gateway on them (with `extra`
        settings on top of the run's), started."""
        broker = self.broker(phase)
        dsn = self.database(phase)
        gateway = self.gateway(broker, dsn, phase, extra)
        await asyncio.to_thread(gateway.start)
        return broker, dsn, gateway

    async def publish(
        self, broker: MosquittoService, messages: Sequence[Message], label: str, **kwargs: Any
    ) -> tuple[float, float, int, list[tuple[int, float]] | None]:
        """Publish with progress on stderr; (start epoch, seconds, acked, send times)."""
        if self.publish_processes > 0:
            run = await self.publish_parallel(
                broker,
                messages,
                label,
                rate=kwargs.get("rate"),
                record_times=kwargs.get("record_times", False),
            )
            return run.started, run.seconds, run.acked, run.times
        last = [time.perf_counter(), 0]

        def progress(acked: int) -> None:
            now = time.perf_counter()
            if now - last[0] >= PROGRESS_EVERY_S or acked == len(messages):
                rate = (acked - last[1]) / max(now - last[0], 1e-9)
                log(f"{label}: published {acked:,}/{len(messages):,} ({rate:,.0f} msg/s)")
                last[0], last[1] = now, acked

        started = time.time()
        report = await publish(
            messages,
            url=broker.url,
            connections=self.connections,
            progress=progress,
            progress_interval=0.5,
            client_id_prefix=f"bench-{label}",
            **kwargs,
        )
        if report.count != len(messages):
            raise BenchError(f"{label}: broker acknowledged {report.count} of {len(messages)}")
        return started, report.seconds, report.count, report.times

    async def publish_parallel(
        self,
        broker: MosquittoService,
        messages: Sequence[Message],
        label: str,
        *,
        rate: float | None = None,
        record_times: bool = False,
    ) -> PublishRun:
        """`bench.publishers`: max(1, publish_processes) workers, devices split between them."""
        rate_text = "flat out" if rate is None else f"at {rate:,.0f} msg/s"
        processes = max(1, self.publish_processes)
        log(f"{label}: publishing {len(messages):,} {rate_text} from {processes} processes")
        run = await self.publishers.publish(
            broker.url,
            messages,
            rate=rate,
            record_times=record_times,
            label=f"bench-{label}",
        )
        log(f"{label}: published {run.acked:,} in {run.seconds:.1f} s ({run.rate:,.0f} msg/s)")
        return run

    async def probe(self, broker: MosquittoService, db: psycopg.AsyncConnection[Any]) -> None:
        """Wait until a message is dead-lettered: /readyz does not prove the SUBACK came back."""
        before = await scalar(db, "SELECT count(*) FROM dead_letters")
        await publish([(PROBE_TOPIC, b"probe")], url=broker.url, client_id_prefix="bench-probe")
        deadline = time.monotonic() + 30
        while await scalar(db, "SELECT count(*) FROM dead_letters") <= before:
            if time.monotonic() > deadline:
                raise BenchError("the gateway did not process the readiness probe in 30 s")
            await asyncio.sleep(0.05)

    # -- the pre-queued drain ---------------------------------------------------------------

    async def drain_backlog(
        self,
        messages: Sequence[Message],
        expected: int,
        phase: str,
        *,
        profile: bool = False,
        extra: dict[str, str] | None = None,
    ) -> JsonDict:
        """Queue `messages` while the gateway is down, then time its drain alone; `expected`
        is the number of events they become."""
        n = len(messages)
        broker, dsn, gateway = await self.start_gateway(phase, extra)
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as db:
            await self.probe(broker, db)  # the session and its subscription now exist
            stop_gateway(gateway)
            await self.publish(broker, messages, phase)
            if profile:
                await reset_statements(db)
            meter = CpuMeter(broker.process.pid, self.postgres.process.pid)
            cpu0 = meter.snapshot() | {"gateway": 0.0}  # a new process: all its CPU counts
            spawned = time.time()
            starting = asyncio.create_task(asyncio.to_thread(gateway.start))
            profiler = Profiler(gateway) if profile else None
            samples = await follow_commits(
                db, expected, gateway, phase, starting, profiler=profiler
            )
            await starting
            pyspy = profiler.finish() if profiler is not None else None
            statements = await top_statements(db) if profile else None
            meter.gateway_pid = gateway_pid(gateway)
            cpu1 = meter.snapshot()
            commits = await commit_profile(db)
            checks = await store_checks(db, expected)
            presence_rows = await scalar(db, "SELECT count(*) FROM presence")
            ticket_occurrences = await scalar(db, "SELECT count(*) FROM ticket_occurrences")
        drain_seconds = max(commits.last - commits.first, 1e-9)
        cpu: dict[str, float | None] = {**CpuMeter.per_message_us(cpu0, cpu1, n)}
        cpu["gateway_during_drain"] = drain_cpu(samples)
        result: JsonDict = {
            "messages": n,
            "events": expected,
            "seconds_spawn_to_last_commit": round(commits.last - spawned, 3),
            "seconds_spawn_to_first_commit": round(commits.first - spawned, 3),
            "drain_seconds_first_to_last_commit": round(commits.last - commits.first, 3),
            "msg_per_s": round(
                n * (expected - commits.first_batch) / max(expected, 1) / drain_seconds
            ),
            "events_per_s": round((expected - commits.first_batch) / drain_seconds),
            "cpu_us_per_msg": cpu,
            "other_processes_cores": CpuMeter.other_cores(cpu0, cpu1, commits.last - spawned),
            "cpu_note": "gateway/broker/postgres totals include the gateway's start-up; "
            "gateway_during_drain is sampled between first and last commit (per event)",
            "gateway_peak_rss_mib": rounded(peak_rss_mib(gateway_pid(gateway))),
            "batches": commits.as_json(),
            "checks": checks,
            "presence_rows": presence_rows,
            "ticket_occurrences": ticket_occurrences,
        }
        if pyspy is not None:
            result["py_spy"] = pyspy
        if statements is not None:
            result["pg_statements"] = statements
        stop_gateway(gateway)
        broker.stop()
        return result


def gateway_pid(gateway: GatewayProcess) -> int:
    if gateway.process is None:
        raise BenchError("the gateway process has not been started")
    return gateway.process.pid


def stop_gateway(gateway: GatewayProcess) -> None:
    """SIGTERM (graceful), or SIGKILL if it will not go."""
    if gateway.process is None or gateway.process.poll() is not None:
        return
    try:
        gateway.stop()
    except subprocess.TimeoutExpired:
        gateway.kill()
