"""Ingest benchmark: how fast door events get from MQTT into committed TimescaleDB rows.

Why it exists: the gateway's promise is at-least-once storage (PUBACK only after COMMIT) at a
rate a district's communities need. This measures that promise end to end, against real
Mosquitto and PostgreSQL+TimescaleDB started privately (as the tests do), with the gateway as
a separate `scgw run` process, so its CPU can be read from /proc and profiled with py-spy.

Phases (see bench/README.md for what each number means):

1. transport ceiling - bare subscribers (raw paho-mqtt, aiomqtt) drain a QoS 1 backlog that
   was queued in their offline persistent session: the most any Python subscriber could do.
2. sustained - publishers go flat out while the gateway runs; time until all are committed.
3. pre-queued - the backlog is queued while the gateway is stopped, then it is started: the
   gateway's own speed, without the publishers competing for the two cores.
4. latency - a paced rate; publish-to-commit latency per event via commit timestamps.
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
import psycopg
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from adapters.base import RawMessage
from adapters.hik_isapi import HikIsapiAdapter
from gateway.config import Settings
from gateway.mqtt import SessionOptions
from gateway.privacy import Pseudonymizer
from simulators.community import generate_community
from simulators.config_toml import community_config_toml
from simulators.hik_isapi import HikDoorStream
from simulators.publisher import publish
from tests.gateway_process import GatewayProcess
from tests.harness import HASH_KEY
from tests.services import (
    MOSQUITTO_BIN,
    MosquittoService,
    PostgresService,
    start_mosquitto,
    start_postgres,
)

Message = tuple[str, bytes]
JsonDict = dict[str, Any]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
STREAM_START = datetime.fromisoformat("2026-11-26T08:00:00+08:00")
STREAM_SEED = 2026
COMMUNITY_SEED = 7
UNITS_PER_BUILDING = 4
EVENTS_PER_HOUR = 20_000.0
"""Event-time density of the stream: 100k events span about five hours (one or two chunks)."""
TOPIC_FILTER = "+/+/+"
"""What the gateway subscribes to by default; the bare subscribers use the same filter."""
PROBE_TOPIC = "bench/probe/ready"
"""An unknown dialect: the gateway dead-letters it, proving it is subscribed end to end."""
POLL_S = 0.1
PROGRESS_EVERY_S = 2.0
STALL_TIMEOUT_S = 60.0
"""Give up on a phase when the committed count has not moved for this long."""
QUICK_EVENTS = 5_000
QUICK_LATENCY_SECONDS = 3.0
WARMUP_MESSAGES = 1_000
NOISY_OTHER_CORES = 0.3
"""Above this much foreign CPU load in a phase, the summary warns that the run was disturbed."""
PHASE_BASE_S = 180.0
"""A phase's time budget is this plus 4 ms per event (about 9 minutes for 100k): a backstop."""
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """A phase could not produce a credible number (lost messages, a stalled gateway)."""


def log(text: str) -> None:
    """Progress goes to stderr so stdout stays the Markdown summary."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# -- CPU accounting from /proc ----------------------------------------------------------------


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (index 0 is field 3, `state`)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def process_cpu_s(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds."""
    fields = _proc_stat(pid)
    if fields is None:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def process_tree_cpu_s(pid: int) -> float:
    """CPU of a parent, its reaped children, and its live children (PostgreSQL's backends)."""
    fields = _proc_stat(pid)
    if fields is None:
        return math.nan
    total = sum(int(fields[i]) for i in (11, 12, 13, 14))
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        child = _proc_stat(int(entry.name))
        if child is not None and child[1] == str(pid):
            total += int(child[11]) + int(child[12])
    return total / CLK_TCK


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the most resident memory the process has had."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def self_cpu_s() -> float:
    """This process: the publishers and bare subscribers run here."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuMeter:
    """Snapshots CPU seconds of every process taking part, to split the cost per message."""

    broker_pid: int
    postgres_pid: int
    gateway_pid: int | None = None

    def snapshot(self) -> dict[str, float]:
        cpu = {
            "bench": self_cpu_s(),
            "broker": process_cpu_s(self.broker_pid),
            "postgres": process_tree_cpu_s(self.postgres_pid),
            "machine": machine_busy_s(),
        }
        if self.gateway_pid is not None:
            cpu["gateway"] = process_cpu_s(self.gateway_pid)
        return cpu

    @staticmethod
    def other_cores(before: dict[str, float], after: dict[str, float], seconds: float) -> float:
        """Cores used by processes outside the benchmark: other load skews every number."""
        ours = sum(after[k] - before[k] for k in after if k != "machine" and k in before)
        return round((after["machine"] - before["machine"] - ours) / max(seconds, 1e-9), 2)

    @staticmethod
    def per_message_us(
        before: dict[str, float], after: dict[str, float], messages: int
    ) -> dict[str, float]:
        return {
            name: round((after[name] - before[name]) / max(messages, 1) * 1e6, 1)
            for name in after
            if name in before
        }


# -- machine and versions ---------------------------------------------------------------------


def machine_info() -> JsonDict:
    """What the numbers were measured on; a result without this cannot be compared."""
    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_gib = math.nan
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "ram_gib": mem_gib,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def mosquitto_version() -> str:
    result = subprocess.run(
        [str(MOSQUITTO_BIN), "-h"], capture_output=True, text=True, check=False, timeout=10
    )
    match = re.search(r"mosquitto version (\S+)", result.stdout + result.stderr)
    return match.group(1) if match else "unknown"


def library_versions() -> dict[str, str]:
    versions = {}
    for name in ("paho-mqtt", "aiomqtt", "psycopg", "psycopg-pool", "pydantic"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def gateway_settings(overrides: dict[str, str]) -> JsonDict:
    """The batch and flow-control settings the gateway under test runs with."""
    settings = Settings.model_validate(overrides)
    session = SessionOptions(client_id="bench")
    return {
        "batch_max_rows": settings.batch_max_rows,
        "batch_max_delay_ms": settings.batch_max_delay_ms,
        "mqtt_protocol": settings.mqtt_protocol,
        "mqtt_receive_maximum": settings.mqtt_receive_maximum,
        "subscriber_max_buffered": session.max_buffered,
        "database_pool_size": settings.database_pool_size,
        "log_level": settings.log_level,
        "overrides": overrides,
    }


# -- statistics -------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def rounded(value: float, digits: int = 1) -> float | None:
    return None if math.isnan(value) else round(value, digits)


# -- bare subscribers (transport ceiling) -----------------------------------------------------


@dataclass
class DrainResult:
    """A subscriber draining a queued backlog; times from just before CONNECT."""

    received: int
    seconds: float
    first_message_s: float
    subscriber_cpu_s: float
    broker_cpu_s: float
    machine_busy_s: float

    def as_json(self, expected: int) -> JsonDict:
        rate = self.received / self.seconds if self.seconds > 0 else math.nan
        return {
            "messages": self.received,
            "expected": expected,
            "seconds": round(self.seconds, 3),
            "first_message_ms": round(self.first_message_s * 1000, 1),
            "msg_per_s": round(rate),
            "wall_us_per_msg": round(self.seconds / max(self.received, 1) * 1e6, 1),
            "subscriber_cpu_us_per_msg": round(
                self.subscriber_cpu_s / max(self.received, 1) * 1e6, 1
            ),
            "broker_cpu_us_per_msg": round(self.broker_cpu_s / max(self.received, 1) * 1e6, 1),
            "other_processes_cores": round(
                (self.machine_busy_s - self.subscriber_cpu_s - self.broker_cpu_s) / self.seconds, 2
            ),
        }


def _paho_client(client_id: str) -> paho.Client:
    return paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv311,
        clean_session=False,
    )


def create_offline_session(port: int, client_id: str) -> None:
    """Subscribe once with a persistent session and leave: the broker now queues for us."""
    client = _paho_client(client_id)
    connected, subscribed = threading.Event(), threading.Event()
    client.on_connect = lambda *_: connected.set()
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        if not connected.wait(10):
            raise BenchError("bare subscriber could not connect")
        client.subscribe(TOPIC_FILTER, qos=1)
        if not subscribed.wait(10):
            raise BenchError("bare subscriber's SUBSCRIBE was not acknowledged")
    finally:
        client.disconnect()
        client.loop_stop()


def drain_paho(port: int, client_id: str, expected: int, broker_pid: int) -> DrainResult:
    """paho-mqtt 2.x on its own network thread, auto-acknowledging, only counting."""
    client = _paho_client(client_id)
    done = threading.Event()
    state = {"count": 0, "first": math.nan, "last": math.nan}

    def on_message(_client: paho.Client, _userdata: object, _message: paho.MQTTMessage) -> None:
        state["count"] += 1
        if state["count"] == 1:
            state["first"] = time.perf_counter()
        if state["count"] >= expected:
            state["last"] = time.perf_counter()
            done.set()

    client.on_message = on_message
    cpu0, broker0, machine0 = self_cpu_s(), process_cpu_s(broker_pid), machine_busy_s()
    started = time.perf_counter()
    client.connect("127.0.0.1", port)
    client.loop_start()
    finished = done.wait(timeout=max(60.0, expected / 2000))
    cpu1, broker1, machine1 = self_cpu_s(), process_cpu_s(broker_pid), machine_busy_s()
    client.disconnect()
    client.loop_stop()
    last = state["last"] if finished else time.perf_counter()
    return DrainResult(
        int(state["count"]),
        last - started,
        state["first"] - started,
        cpu1 - cpu0,
        broker1 - broker0,
        machine1 - machine0,
    )


async def drain_aiomqtt(port: int, client_id: str, expected: int, broker_pid: int) -> DrainResult:
    """aiomqtt's message iterator (auto-ack, a queue between paho and the loop), counting."""
    count = 0
    first = math.nan
    cpu0, broker0, machine0 = self_cpu_s(), process_cpu_s(broker_pid), machine_busy_s()
    started = time.perf_counter()
    with contextlib.suppress(TimeoutError):
        async with (
            asyncio.timeout(max(60.0, expected / 2000)),
            aiomqtt.Client(
                "127.0.0.1",
                port,
                identifier=client_id,
                protocol=aiomqtt.ProtocolVersion.V311,
                clean_session=False,
            ) as client,
        ):
            async for _message in client.messages:
                count += 1
                if count == 1:
                    first = time.perf_counter()
                if count >= expected:
                    break
    last = time.perf_counter()
    cpu1, broker1, machine1 = self_cpu_s(), process_cpu_s(broker_pid), machine_busy_s()
    return DrainResult(
        count, last - started, first - started, cpu1 - cpu0, broker1 - broker0, machine1 - machine0
    )


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Options:
    events: int
    connections: int
    latency_rate: float
    latency_seconds: float
    buildings: int
    output: Path
    phases: list[str]
    overrides: dict[str, str]
    durable: bool
    profile: bool
    keep_workdir: bool
    quick: bool


@dataclass
class Sample:
    """One poll of the committed count, with the gateway's CPU at that moment."""

    at: float
    committed: int
    gateway_cpu_s: float


@dataclass
class Bench:
    """Shared services and inputs for every phase; each phase gets a fresh broker and DB."""

    options: Options
    workdir: Path
    postgres: PostgresService
    toml_path: Path
    messages: list[Message]
    latency_stream: HikDoorStream
    cleanups: list[Callable[[], object]] = field(default_factory=list)

    # -- services ---------------------------------------------------------------------------

    def broker(self, phase: str) -> MosquittoService:
        """A fresh Mosquitto, so no session left by an earlier phase queues this one's traffic."""
        service = start_mosquitto(
            self.workdir / f"mqtt-{phase}",
            max_queued_messages=max(200_000, 2 * len(self.messages)),
        )
        self.cleanups.append(service.stop)
        return service

    def database(self, phase: str) -> str:
        return self.postgres.create_database(f"bench_{phase}")

    def gateway(self, broker: MosquittoService, dsn: str, phase: str) -> GatewayProcess:
        settings = {"config": str(self.toml_path), **self.options.overrides}
        gateway = GatewayProcess(broker.url, dsn, self.workdir / f"gateway-{phase}.log", **settings)
        self.cleanups.append(lambda: _stop_gateway(gateway))
        return gateway

    async def publish(
        self, broker: MosquittoService, messages: Sequence[Message], label: str, **kwargs: Any
    ) -> tuple[float, float, int, list[tuple[int, float]] | None]:
        """Publish with progress on stderr; (start epoch, seconds, acked, send times)."""
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
            connections=self.options.connections,
            progress=progress,
            progress_interval=0.5,
            client_id_prefix=f"bench-{label}",
            **kwargs,
        )
        if report.count != len(messages):
            raise BenchError(f"{label}: broker acknowledged {report.count} of {len(messages)}")
        return started, report.seconds, report.count, report.times

    async def probe(self, broker: MosquittoService, db: psycopg.AsyncConnection[Any]) -> None:
        """Wait until a message is dead-lettered: /readyz does not prove the SUBACK came back."""
        before = await _scalar(db, "SELECT count(*) FROM dead_letters")
        await publish([(PROBE_TOPIC, b"probe")], url=broker.url, client_id_prefix="bench-probe")
        deadline = time.monotonic() + 30
        while await _scalar(db, "SELECT count(*) FROM dead_letters") <= before:
            if time.monotonic() > deadline:
                raise BenchError("the gateway did not process the readiness probe in 30 s")
            await asyncio.sleep(0.05)

    # -- phases -----------------------------------------------------------------------------

    async def transport(self) -> JsonDict:
        """Bare subscribers drain an offline session's queue: the broker+client ceiling."""
        results: JsonDict = {"method": "offline persistent session pre-filled, then drained"}
        n = len(self.messages)
        for name in ("paho", "aiomqtt"):
            broker = self.broker(f"transport-{name}")
            client_id = f"bench-bare-{name}"
            await asyncio.to_thread(create_offline_session, broker.port, client_id)
            await self.publish(broker, self.messages, f"transport/{name}")
            log(f"transport/{name}: draining {n:,} queued messages")
            if name == "paho":
                drained = await asyncio.to_thread(
                    drain_paho, broker.port, client_id, n, broker.process.pid
                )
            else:
                drained = await drain_aiomqtt(broker.port, client_id, n, broker.process.pid)
            results[name] = drained.as_json(n)
            log(f"transport/{name}: {results[name]['msg_per_s']:,} msg/s")
            if drained.received != n:
                results[name]["error"] = f"received {drained.received} of {n}"
            broker.stop()
        return results

    async def sustained(self) -> JsonDict:
        """Publishers flat out against a running gateway; time to the last commit."""
        n = len(self.messages)
        broker = self.broker("sustained")
        dsn = self.database("sustained")
        gateway = self.gateway(broker, dsn, "sustained")
        await asyncio.to_thread(gateway.start)
        meter = CpuMeter(broker.process.pid, self.postgres.process.pid, _pid(gateway))
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as db:
            await self.probe(broker, db)
            cpu0 = meter.snapshot()
            publishing = asyncio.create_task(self.publish(broker, self.messages, "sustained"))
            samples = await follow_commits(db, n, gateway, "sustained", publishing)
            started, publish_s, _, _ = await publishing
            cpu1 = meter.snapshot()
            commits = await commit_profile(db)
            checks = await store_checks(db, n)
        gateway_cpu_s = cpu1["gateway"] - cpu0["gateway"]
        wall = commits.last - started
        result: JsonDict = {
            "messages": n,
            "publisher_connections": self.options.connections,
            "publish_seconds": round(publish_s, 3),
            "publisher_msg_per_s": round(n / publish_s),
            "seconds_to_last_commit": round(wall, 3),
            "msg_per_s": round(n / wall),
            "commit_tail_after_last_puback_s": round(commits.last - (started + publish_s), 3),
            "cpu_us_per_msg": CpuMeter.per_message_us(cpu0, cpu1, n),
            "other_processes_cores": CpuMeter.other_cores(cpu0, cpu1, wall),
            "gateway_cpu_utilisation": round(gateway_cpu_s / wall, 2),
            "gateway_peak_rss_mib": rounded(peak_rss_mib(_pid(gateway))),
            "batches": commits.as_json(),
            "checks": checks,
            "samples": len(samples),
        }
        _stop_gateway(gateway)
        broker.stop()
        return result

    async def prequeue(self, *, profile: bool = False) -> JsonDict:
        """Queue the backlog while the gateway is down, then time its drain alone."""
        n = len(self.messages)
        phase = "profile" if profile else "prequeue"
        broker = self.broker(phase)
        dsn = self.database(phase)
        gateway = self.gateway(broker, dsn, phase)
        await asyncio.to_thread(gateway.start)
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as db:
            await self.probe(broker, db)  # the session and its subscription now exist
            _stop_gateway(gateway)
            await self.publish(broker, self.messages, phase)
            meter = CpuMeter(broker.process.pid, self.postgres.process.pid)
            cpu0 = meter.snapshot() | {"gateway": 0.0}  # a new process: all its CPU counts
            spawned = time.time()
            starting = asyncio.create_task(asyncio.to_thread(gateway.start))
            profiler = _Profiler(gateway) if profile else None
            samples = await follow_commits(db, n, gateway, phase, starting, profiler=profiler)
            await starting
            pyspy = profiler.finish() if profiler is not None else None
            meter.gateway_pid = _pid(gateway)
            cpu1 = meter.snapshot()
            commits = await commit_profile(db)
            checks = await store_checks(db, n)
        drain_cpu = _drain_cpu(samples)
        drain_rate = (n - commits.first_batch) / max(commits.last - commits.first, 1e-9)
        cpu: dict[str, float | None] = {**CpuMeter.per_message_us(cpu0, cpu1, n)}
        cpu["gateway_during_drain"] = drain_cpu
        result: JsonDict = {
            "messages": n,
            "seconds_spawn_to_last_commit": round(commits.last - spawned, 3),
            "seconds_spawn_to_first_commit": round(commits.first - spawned, 3),
            "drain_seconds_first_to_last_commit": round(commits.last - commits.first, 3),
            "msg_per_s": round(drain_rate),
            "cpu_us_per_msg": cpu,
            "other_processes_cores": CpuMeter.other_cores(cpu0, cpu1, commits.last - spawned),
            "cpu_note": "gateway/broker/postgres totals include the gateway's start-up; "
            "gateway_during_drain is sampled between first and last commit",
            "gateway_peak_rss_mib": rounded(peak_rss_mib(_pid(gateway))),
            "batches": commits.as_json(),
            "checks": checks,
        }
        if pyspy is not None:
            result["py_spy"] = pyspy
        _stop_gateway(gateway)
        broker.stop()
        return result

    async def latency(self) -> JsonDict:
        """A fixed, paced rate; per-event publish time against the commit timestamp."""
        rate = self.options.latency_rate
        count = max(1, round(rate * self.options.latency_seconds))
        warmup = self.latency_stream.take(min(WARMUP_MESSAGES, count))
        measured = self.latency_stream.take(count)
        event_ids = expected_event_ids(measured)
        broker = self.broker("latency")
        dsn = self.database("latency")
        gateway = self.gateway(broker, dsn, "latency")
        await asyncio.to_thread(gateway.start)
        meter = CpuMeter(broker.process.pid, self.postgres.process.pid, _pid(gateway))
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as db:
            await self.probe(broker, db)
            log(f"latency: warm-up with {len(warmup):,} messages")
            await self.publish(broker, warmup, "latency/warm-up", rate=rate)
            await follow_commits(db, len(warmup), gateway, "latency/warm-up", None)
            cpu0 = meter.snapshot()
            log(f"latency: {count:,} messages at {rate:,.0f} msg/s")
            publishing = asyncio.create_task(
                self.publish(broker, measured, "latency", rate=rate, record_times=True)
            )
            total = len(warmup) + count
            await follow_commits(db, total, gateway, "latency", publishing)
            started, publish_s, _, times = await publishing
            cpu1 = meter.snapshot()
            cursor = await db.execute(
                "SELECT event_id, extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8"
                " FROM events"
            )
            committed = {str(row[0]): float(row[1]) for row in await cursor.fetchall()}
            checks = await store_checks(db, total)
        assert times is not None
        sends = sorted(times)
        latencies_ms = sorted(
            (committed[event_ids[index]] - sent) * 1000
            for index, sent in sends
            if event_ids[index] in committed
        )
        send_times = [sent for _, sent in sends]
        span = send_times[-1] - send_times[0]
        lag_ms = sorted(
            (sent - (send_times[0] + index / rate)) * 1000 for index, sent in enumerate(send_times)
        )
        wall = max(committed.values()) - started
        _stop_gateway(gateway)
        broker.stop()
        return {
            "target_msg_per_s": rate,
            "messages": count,
            "matched": len(latencies_ms),
            "achieved_msg_per_s": round((count - 1) / span) if span > 0 else None,
            "publish_seconds": round(publish_s, 3),
            "pacing_lag_ms": {"p99": round(percentile(lag_ms, 99), 2), "max": round(lag_ms[-1], 2)},
            "latency_ms": {
                "p50": round(percentile(latencies_ms, 50), 1),
                "p95": round(percentile(latencies_ms, 95), 1),
                "p99": round(percentile(latencies_ms, 99), 1),
                "max": round(latencies_ms[-1], 1),
                "min": round(latencies_ms[0], 1),
                "mean": round(sum(latencies_ms) / len(latencies_ms), 1),
            },
            "cpu_us_per_msg": CpuMeter.per_message_us(cpu0, cpu1, count),
            "other_processes_cores": CpuMeter.other_cores(cpu0, cpu1, wall),
            "gateway_cpu_utilisation": round((cpu1["gateway"] - cpu0["gateway"]) / wall, 3),
            "checks": checks,
        }


def _pid(gateway: GatewayProcess) -> int:
    if gateway.process is None:
        raise BenchError("the gateway process has not been started")
    return gateway.process.pid


def _stop_gateway(gateway: GatewayProcess) -> None:
    """SIGTERM (graceful), or SIGKILL if it will not go."""
    if gateway.process is None or gateway.process.poll() is not None:
        return
    try:
        gateway.stop()
    except subprocess.TimeoutExpired:
        gateway.kill()


async def _scalar(db: psycopg.AsyncConnection[Any], sql: str) -> int:
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
    profiler: "_Profiler | None" = None,
) -> list[Sample]:
    """Poll `count(*)` every 100 ms until `target` rows; fail on a stall, never hang."""
    samples: list[Sample] = []
    last_progress = time.monotonic()
    last_report = 0.0
    last_count = -1
    while True:
        if producer is not None and producer.done() and producer.exception() is not None:
            raise BenchError(f"{label}: {producer.exception()!r}")
        count = await _scalar(db, "SELECT count(*) FROM events")
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
        await asyncio.sleep(POLL_S)


def _drain_cpu(samples: list[Sample]) -> float | None:
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
    events = await _scalar(db, "SELECT count(*) FROM events")
    distinct = await _scalar(db, "SELECT count(DISTINCT event_id) FROM events")
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


# -- py-spy -----------------------------------------------------------------------------------


class _Profiler:
    """py-spy sampling the gateway while it drains; started at the first commit."""

    RATE_HZ = 100

    def __init__(self, gateway: GatewayProcess) -> None:
        self._gateway = gateway
        self._process: subprocess.Popen[bytes] | None = None
        self.path = Path(tempfile.gettempdir()) / "scgw-bench-ingest-pyspy.txt"

    def start(self) -> None:
        if self._process is not None or self._gateway.process is None:
            return
        self._process = subprocess.Popen(
            [
                _pyspy(),
                "record",
                "--pid",
                str(self._gateway.process.pid),
                "--rate",
                str(self.RATE_HZ),
                "--format",
                "raw",
                "--function",
                "--nonblocking",
                "--output",
                str(self.path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def finish(self) -> JsonDict:
        if self._process is None:
            return {"error": "never started"}
        self._process.send_signal(signal.SIGINT)
        try:
            _, stderr = self._process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            return {"error": "py-spy did not stop"}
        if not self.path.exists():
            return {"error": stderr.decode(errors="replace")[-500:]}
        summary = summarize_collapsed(self.path.read_text().splitlines())
        summary["collapsed_stacks"] = str(self.path)
        return summary


def _pyspy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise BenchError("--profile needs py-spy: .venv/bin/pip install py-spy")
    return found


_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
_AREAS = (
    ("gateway/", "gateway"),
    ("adapters/", "adapters"),
    ("schemas/", "schemas"),
    ("pydantic", "pydantic"),
    ("psycopg", "psycopg"),
    ("paho/", "paho-mqtt"),
    ("prometheus_client", "prometheus_client"),
    ("asyncio/", "asyncio"),
    ("json/", "json"),
    ("logging/", "logging"),
    ("hmac", "hashing"),
    ("hashlib", "hashing"),
)


def _frame_name(frame: str) -> tuple[str, str]:
    """(short readable name, area) of one py-spy frame `func (path:line)`."""
    match = _FRAME.match(frame)
    if match is None:
        return frame, "other"
    path = match["file"]
    area = next((name for key, name in _AREAS if key in path), "other")
    module = path.rsplit("site-packages/", 1)[-1].rsplit("/main/", 1)[-1]
    return f"{match['func']} ({module})", area


def summarize_collapsed(lines: Sequence[str], top: int = 15) -> JsonDict:
    """Self and inclusive sample shares per function, and self time per library."""
    total = 0
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if "(" in f]  # drop process/thread labels
        if not frames:
            continue
        total += count
        names = [_frame_name(f) for f in frames]
        leaf, area = names[-1]
        self_counts[leaf] += count
        areas[area] += count
        for name in {n for n, _ in names}:
            inclusive[name] += count

    def share(counter: Counter[str]) -> list[JsonDict]:
        return [
            {"function": name, "percent": round(100 * c / total, 1)}
            for name, c in counter.most_common(top)
        ]

    return {
        "samples": total,
        "rate_hz": _Profiler.RATE_HZ,
        "self": share(self_counts),
        "inclusive": share(inclusive),
        "self_by_area": {k: round(100 * v / total, 1) for k, v in areas.most_common()},
    }


# -- orchestration ----------------------------------------------------------------------------


async def run(options: Options) -> JsonDict:
    """Start the services, run the phases, stop everything (also on errors and Ctrl-C)."""
    workdir = Path(tempfile.mkdtemp(prefix="scgw-bench-"))
    log(f"workdir {workdir}")
    community = generate_community(
        seed=COMMUNITY_SEED, buildings=options.buildings, units_per_building=UNITS_PER_BUILDING
    )
    toml_path = workdir / "community.toml"
    toml_path.write_text(community_config_toml(community), encoding="utf-8")
    stream = HikDoorStream(community, STREAM_SEED, STREAM_START, EVENTS_PER_HOUR)
    log(f"generating {options.events:,} door events from {len(community.devices)} controllers")
    messages = stream.take(options.events)
    result: JsonDict = {
        "benchmark": "ingest",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.ingest", *sys.argv[1:]]),
        "quick": options.quick,
        "machine": machine_info(),
        "parameters": {
            "events": options.events,
            "publisher_connections": options.connections,
            "qos": 1,
            "devices": len(community.devices),
            "topics": len({t for t, _ in messages}),
            "payload_bytes_mean": round(sum(len(p) for _, p in messages) / len(messages)),
            "latency_rate": options.latency_rate,
            "latency_seconds": options.latency_seconds,
            "phases": options.phases,
        },
        "gateway_settings": gateway_settings(options.overrides),
    }
    pg_settings = {"track_commit_timestamp": "on"}
    if options.durable:
        pg_settings |= {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    postgres = start_postgres(workdir / "pg", settings=pg_settings)
    bench = Bench(options, workdir, postgres, toml_path, messages, stream)
    failed = False
    try:
        result["versions"] = {
            "mosquitto": mosquitto_version(),
            "postgresql": postgres.psql("SHOW server_version"),
            "timescaledb": postgres.psql(
                "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
            ),
            **library_versions(),
        }
        result["postgres_settings"] = {
            name: postgres.psql(f"SHOW {name}")
            for name in ("fsync", "synchronous_commit", "full_page_writes", "shared_buffers")
        }
        for phase in options.phases:
            log(f"== phase {phase}")
            try:
                async with asyncio.timeout(PHASE_BASE_S + 4 * options.events / 1000):
                    result[phase] = await getattr(bench, phase)()
            except TimeoutError:
                failed = True
                log(f"{phase} FAILED: timed out")
                result[phase] = {"error": "timed out"}
            except BenchError as exc:
                failed = True
                log(f"{phase} FAILED: {exc}")
                result[phase] = {"error": str(exc)}
        if options.profile:
            log("== profiled pre-queue drain (py-spy)")
            result["profile"] = await bench.prequeue(profile=True)
    except BaseException:
        failed = True
        raise
    finally:
        for cleanup in reversed(bench.cleanups):
            with contextlib.suppress(Exception):
                cleanup()
        postgres.stop()
        if options.keep_workdir or failed:
            log(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


# -- report -----------------------------------------------------------------------------------


def _n(value: object, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int | float):
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
        return f"{text}{unit}"
    return f"{value}{unit}"


def _cpu(cpu: dict[str, float | None]) -> str:
    order = ("gateway", "gateway_during_drain", "postgres", "broker", "bench")
    return ", ".join(f"{k} {cpu[k]}" for k in order if k in cpu)


def max_other_load(r: JsonDict) -> float:
    """The most CPU that processes outside the benchmark took during any phase."""
    loads = [r[p].get("other_processes_cores", 0.0) for p in PHASES if isinstance(r.get(p), dict)]
    loads += [
        d.get("other_processes_cores", 0.0)
        for d in r.get("transport", {}).values()
        if isinstance(d, dict)
    ]
    return max(loads, default=0.0)


def summary_rows(r: JsonDict) -> Iterator[tuple[str, str]]:
    """(metric, value) rows of the Markdown table."""
    m, v, g = r["machine"], r.get("versions", {}), r["gateway_settings"]
    p = r["parameters"]
    yield "**Machine**", ""
    yield "date (UTC)", r["date"]
    yield "CPU", f"{m['nproc']} × {m['cpu_model']}"
    yield "RAM", f"{m['ram_gib']} GiB"
    yield "load average at start", " / ".join(str(x) for x in m["load_average_at_start"])
    noise = max_other_load(r)
    if noise > NOISY_OTHER_CORES:
        yield (
            "**warning**",
            (
                f"other processes used up to {noise:.2f} cores during a phase: the numbers are"
                " pessimistic; repeat on a quiet machine"
            ),
        )
    yield "Python", m["python"]
    yield (
        "Mosquitto / PostgreSQL / TimescaleDB",
        (f"{v.get('mosquitto')} / {v.get('postgresql')} / {v.get('timescaledb')}"),
    )
    yield (
        "paho-mqtt / aiomqtt / psycopg",
        (f"{v.get('paho-mqtt')} / {v.get('aiomqtt')} / {v.get('psycopg')}"),
    )
    ps = r.get("postgres_settings", {})
    yield (
        "PostgreSQL fsync / synchronous_commit",
        (f"{ps.get('fsync')} / {ps.get('synchronous_commit')}"),
    )
    yield "**Workload**", ""
    yield (
        "events (QoS 1)",
        (f"{p['events']:,} from {p['devices']} devices, {p['payload_bytes_mean']} B mean payload"),
    )
    yield "publisher connections", str(p["publisher_connections"])
    yield (
        "gateway batch",
        (
            f"max {g['batch_max_rows']} rows / {g['batch_max_delay_ms']} ms, receive maximum "
            f"{g['mqtt_receive_maximum']}, pool {g['database_pool_size']}"
        ),
    )
    if g["overrides"]:
        yield "gateway overrides", ", ".join(f"{k}={val}" for k, val in g["overrides"].items())
    yield from _phase_rows(r)


def _phase_rows(r: JsonDict) -> Iterator[tuple[str, str]]:
    yield from _transport_rows(r.get("transport"))
    yield from _gateway_rows(r.get("sustained"), sustained=True)
    yield from _gateway_rows(r.get("prequeue"), sustained=False)
    yield from _latency_rows(r.get("latency"))
    prof = (r.get("profile") or {}).get("py_spy")
    if prof and "self" in prof:
        yield "**py-spy** (profiled pre-queued drain, self time)", ""
        for entry in prof["self"][:8]:
            yield entry["function"], f"{entry['percent']}%"


def _transport_rows(t: JsonDict | None) -> Iterator[tuple[str, str]]:
    if not t:
        return
    yield "**1. Transport ceiling** (offline queue drained)", ""
    for name, label in (("paho", "raw paho-mqtt, own loop"), ("aiomqtt", "aiomqtt iterator")):
        d = t.get(name)
        if d is None:
            continue
        yield f"{label}: msg/s", _n(d["msg_per_s"])
        cpu = f"{d['subscriber_cpu_us_per_msg']}, {d['broker_cpu_us_per_msg']}"
        yield (
            f"{label}: µs/msg wall (subscriber CPU, broker CPU)",
            (f"{d['wall_us_per_msg']} ({cpu})"),
        )


def _gateway_rows(s: JsonDict | None, *, sustained: bool) -> Iterator[tuple[str, str]]:
    if not s:
        return
    if sustained:
        yield "**2a. Sustained** (publishing concurrently)", ""
    else:
        yield "**2b. Pre-queued** (gateway started on a full queue)", ""
    if "error" in s:
        yield "error", s["error"].splitlines()[0]
        return
    yield "gateway msg/s", _n(s["msg_per_s"])
    if sustained:
        yield "publishers msg/s (bench process)", _n(s["publisher_msg_per_s"])
        yield "seconds first publish → last commit", _n(s["seconds_to_last_commit"])
        tail = s["commit_tail_after_last_puback_s"]
        kept_up = "kept up: publisher-bound" if tail < 1.0 else "fell behind: gateway-bound"
        yield "last PUBACK → last commit", f"{tail} s ({kept_up})"
        yield "gateway CPU utilisation", f"{s['gateway_cpu_utilisation']:.2f} cores"
    else:
        first, last = s["seconds_spawn_to_first_commit"], s["seconds_spawn_to_last_commit"]
        yield "seconds spawn → first / last commit", f"{first} / {last}"
    yield "CPU µs/msg by process", _cpu(s["cpu_us_per_msg"])
    yield "other processes on the machine", f"{s['other_processes_cores']:.2f} cores"
    b = s["batches"]
    yield "transactions (mean rows)", f"{b['transactions']:,} ({b['rows_mean']})"
    yield "gateway peak RSS", _n(s["gateway_peak_rss_mib"], " MiB")
    yield "stored exactly once", "yes" if s["checks"]["ok"] else f"NO: {s['checks']}"


def _latency_rows(lat: JsonDict | None) -> Iterator[tuple[str, str]]:
    if not lat:
        return
    yield "**3. Latency** (publish → commit)", ""
    if "error" in lat:
        yield "error", lat["error"].splitlines()[0]
        return
    target, achieved = _n(lat["target_msg_per_s"]), _n(lat["achieved_msg_per_s"])
    yield "target / achieved rate", f"{target} / {achieved} msg/s for {lat['publish_seconds']} s"
    q = lat["latency_ms"]
    yield "p50 / p95 / p99 / max", f"{q['p50']} / {q['p95']} / {q['p99']} / {q['max']} ms"
    lag = lat["pacing_lag_ms"]
    yield "publisher pacing lag p99 / max", f"{lag['p99']} / {lag['max']} ms"
    yield "gateway CPU utilisation", f"{lat['gateway_cpu_utilisation']:.2f} cores"
    yield "CPU µs/msg by process", _cpu(lat["cpu_us_per_msg"])
    yield "other processes on the machine", f"{lat['other_processes_cores']:.2f} cores"


def markdown(r: JsonDict) -> str:
    rows = list(summary_rows(r))
    lines = ["| metric | value |", "|---|---|"]
    lines += [f"| {k} | {val} |" for k, val in rows]
    return "\n".join(lines)


# -- command line -----------------------------------------------------------------------------

PHASES = ("transport", "sustained", "prequeue", "latency")

_DESCRIPTION = """\
Measure scgw ingest: Hikvision door events (QoS 1, many devices) from MQTT into committed
TimescaleDB rows. Starts a private Mosquitto per phase and one private PostgreSQL+TimescaleDB
(track_commit_timestamp on) in a temp dir, runs the gateway as `python -m gateway.cli run`,
and stops everything at the end. All traffic stays on 127.0.0.1.

phases:
  transport  bare paho-mqtt and aiomqtt subscribers drain a backlog queued in their offline
             persistent session: the most a Python subscriber gets from this broker
  sustained  publishers flat out while the gateway runs: time to the last commit
  prequeue   backlog queued while the gateway is stopped, then it starts: its own speed
  latency    paced publishing at --latency-rate; publish time vs commit timestamp per event

Progress goes to stderr; the Markdown summary to stdout; the full result to --output.
"""

_EPILOG = """\
examples:
  python -m bench.ingest                         # the full run (what `make bench` does)
  python -m bench.ingest --quick                 # smoke run, well under a minute
  python -m bench.ingest --phases prequeue --profile   # where does the gateway spend CPU?
  python -m bench.ingest --set batch_max_rows=2000 --phases sustained prequeue
"""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not re.fullmatch(r"[a-z_]+", name):
        raise argparse.ArgumentTypeError("expected name=value, e.g. batch_max_rows=2000")
    return name, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--events",
        type=_positive_int,
        metavar="N",
        help="messages per throughput phase (default 100000; --quick: 5000)",
    )
    parser.add_argument(
        "--connections",
        type=_positive_int,
        default=4,
        metavar="K",
        help="publisher connections; each device stays on one (default 4)",
    )
    parser.add_argument(
        "--latency-rate",
        type=_positive_float,
        default=1000.0,
        metavar="R",
        help="messages/s in the latency phase (default 1000)",
    )
    parser.add_argument(
        "--latency-seconds",
        type=_positive_float,
        metavar="S",
        help="duration of the latency phase (default 30; --quick: 3)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: small counts; JSON to a temp file"
    )
    parser.add_argument(
        "--output",
        type=Path,
        metavar="PATH",
        help="result JSON (default bench/results/ingest-YYYY-MM-DD.json)",
    )
    parser.add_argument(
        "--phases",
        nargs="+",
        choices=PHASES,
        default=list(PHASES),
        metavar="PHASE",
        help=f"phases to run, in order (default: all: {' '.join(PHASES)})",
    )
    parser.add_argument(
        "--buildings",
        type=_positive_int,
        default=30,
        help=f"community size: {UNITS_PER_BUILDING} unit doors per building + 2 gates"
        " (default 30: 122 controllers)",
    )
    parser.add_argument(
        "--set",
        type=_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="gateway setting for every gateway run, as SCGW_NAME (repeatable)",
    )
    parser.add_argument(
        "--durable",
        action="store_true",
        help="PostgreSQL with fsync and synchronous_commit on (default: off, as in the tests)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="add a pre-queued drain sampled by py-spy; hotspots go into the result",
    )
    parser.add_argument("--keep-workdir", action="store_true", help="keep service and gateway logs")
    return parser


def parse_options(argv: Sequence[str] | None = None) -> Options:
    args = build_parser().parse_args(argv)
    today = datetime.now().date().isoformat()
    events = args.events or (QUICK_EVENTS if args.quick else 100_000)
    seconds = args.latency_seconds or (QUICK_LATENCY_SECONDS if args.quick else 30.0)
    if args.output is not None:
        output = args.output
    elif args.quick:
        output = Path(tempfile.gettempdir()) / f"scgw-bench-ingest-quick-{today}.json"
    else:
        output = RESULTS_DIR / f"ingest-{today}.json"
    return Options(
        events=events,
        connections=args.connections,
        latency_rate=args.latency_rate,
        latency_seconds=seconds,
        buildings=args.buildings,
        output=output,
        phases=list(dict.fromkeys(args.phases)),
        overrides=dict(args.set),
        durable=args.durable,
        profile=args.profile,
        keep_workdir=args.keep_workdir,
        quick=args.quick,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    started = time.monotonic()
    result = asyncio.run(run(options))
    result["bench_seconds"] = round(time.monotonic() - started, 1)
    result["max_other_processes_cores"] = max_other_load(result)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(markdown(result))
    print(f"\nfull result: {options.output} ({result['bench_seconds']} s)")
    failed = [p for p in options.phases if "error" in result.get(p, {})]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
