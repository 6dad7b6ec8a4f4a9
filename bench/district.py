"""The district benchmarks (issue 10): can one 2-core machine carry Wangcheng's traffic?

Why it exists: bench.ingest measures door events of one community; the district question is
the whole mix of dialects from many communities, at offered rates up to 20k msg/s, with the
rules and tickets on, against the ceiling of the same broker and publishers, plus what the
district's state costs in memory, how the API answers under ingest load, how fast a million
queued messages drain, and what several processes on one shared subscription give.

Phases (bench/README.md explains every number):

1. ceilings  - publish-side ceiling (the same publishers, only a bare counting subscriber) and
               drain ceiling (bare paho 3.1.1, own loop, auto-ack, draining a queued backlog)
2. rates     - end to end at each offered rate: sustained msg/s, ratio to the publish
               ceiling, publish -> commit p50/p95/p99, the saturation point
3. memory    - gateway RSS with Yida Town, and with the district (config + master data)
4. api       - API latency and req/s over a long history, while ingesting at 5k msg/s
5. recovery  - 1,000,000 messages queued while the gateway was down, drained
6. scaleout  - the rates run with 2 and 4 gateways on one shared subscription

Building blocks: `bench.harness` (services, gateways, pre-queued drain), `bench.publishers`
(multi-process publishing), `bench.workload` (the simulator), `bench.expected` (event ids),
`bench.commits`, `bench.procstats`, `bench.transport`, `bench.apiload`, `bench.environment`,
`bench.district_report` (the Markdown table).
"""

import argparse
import asyncio
import importlib.util
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from bench.apiload import (
    Endpoint,
    load_history,
    masterdata_keys,
    rotate,
    time_endpoint,
)
from bench.commits import commit_profile, follow_commits, scalar, store_checks
from bench.common import BenchError, JsonDict, log
from bench.district_report import markdown
from bench.environment import gateway_settings, machine_info
from bench.expected import event_ids, sample_indices
from bench.harness import (
    Harness,
    describe_services,
    gateway_pid,
    start_bench_postgres,
    stop_gateway,
    tear_down,
)
from bench.procstats import CpuMeter, peak_rss_mib, process_cpu_s
from bench.stats import percentile, rounded
from bench.transport import create_offline_session, drain_paho
from bench.workload import DistrictMix, Rendered, Workload, YidaMix
from testkit.gateway_process import GatewayProcess
from testkit.services import PostgresService

PHASES = ("ceilings", "rates", "memory", "api", "recovery", "scaleout")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
ALL_TOPICS = "#"
WARMUP_MESSAGES = 1_000
SATURATED_RATIO = 0.95
"""An offered rate is carried when the sustained rate is at least this share of it..."""
SATURATED_TAIL_S = 1.0
"""...and the last commit comes within this long of the last send (else it fell behind)."""
FAR_BEHIND = 0.5
"""A rate whose sustained rate is under this share of the offer is far past saturation: the
higher offers are skipped (their latency would only measure the queue building up)."""
SHARED_GROUP = "bench"
KEY_COMMUNITIES = 5
"""House lookups and person searches rotate over the houses and buildings of this many."""


@dataclass
class Options:
    workload: str
    communities: int
    scale: float
    rates: list[float]
    rate_seconds: float
    ceiling_messages: int
    latency_sample: int
    memory_messages: int
    api_history: int
    api_seconds: float
    api_ingest_rate: float
    api_clients: int
    recovery_messages: int
    scaleout_processes: list[int]
    scaleout_rate: float
    publish_processes: int
    durable: bool
    phases: list[str]
    overrides: dict[str, str]
    output: Path
    smoke: bool
    keep_workdir: bool
    profile: bool = False


def make_workload(name: str, communities: int, scale: float) -> Workload:
    """`yida`: Yida Town's mix; `district`: `simulators.district` (H3's simulator)."""
    if name == "yida":
        return YidaMix()
    return DistrictMix(communities, scale)


def district_available() -> bool:
    """Whether H3's simulator is in this checkout (bench falls back to Yida Town's mix)."""
    return importlib.util.find_spec("simulators.district") is not None


@dataclass
class Files:
    config: Path
    grids: Path


def write_files(workload: Workload, directory: Path) -> Files:
    directory.mkdir(parents=True, exist_ok=True)
    files = Files(directory / "gateway.toml", directory / "grids.toml")
    workload.write_gateway_config(files.config)
    workload.write_grid_map(files.grids)
    return files


class DistrictBench(Harness):
    """The six phases over one workload's rendered messages."""

    def __init__(
        self,
        options: Options,
        workdir: Path,
        postgres: PostgresService,
        workload: Workload,
        files: Files,
        rendered: Rendered,
    ) -> None:
        super().__init__(
            workdir,
            postgres,
            {"config": str(files.config), "grids": str(files.grids), **options.overrides},
            connections=1,
            queue_limit=max(200_000, 2 * len(rendered)),
            publish_processes=options.publish_processes,
        )
        self.options = options
        self.workload = workload
        self.files = files
        self.rendered = rendered
        self.results: JsonDict = {}

    # -- 1. ceilings ------------------------------------------------------------------------

    async def ceilings(self) -> JsonDict:
        """The same publishers with only a bare counting subscriber; a bare paho subscriber
        draining the queued backlog."""
        n = min(self.options.ceiling_messages, len(self.rendered))
        messages = self.rendered.messages[:n]
        broker = self.broker("ceiling-publish")
        await asyncio.to_thread(create_offline_session, broker.port, "bench-count", ALL_TOPICS)
        counting = asyncio.create_task(
            asyncio.to_thread(drain_paho, broker.port, "bench-count", n, broker.process.pid)
        )
        run = await self.publish_parallel(broker, messages, "ceiling/publish")
        counted = await counting
        broker.stop()
        publish: JsonDict = {
            "messages": n,
            "msg_per_s": round(run.rate),
            "seconds": round(run.seconds, 3),
            "publisher_processes": run.processes,
            "publisher_cpu_us_per_msg": round(run.cpu_s / n * 1e6, 1),
            "subscriber_received": counted.received,
        }
        broker = self.broker("ceiling-drain")
        await asyncio.to_thread(create_offline_session, broker.port, "bench-bare", ALL_TOPICS)
        await self.publish_parallel(broker, messages, "ceiling/queue")
        log(f"ceiling/drain: bare paho draining {n:,} queued messages")
        drained = await asyncio.to_thread(
            drain_paho, broker.port, "bench-bare", n, broker.process.pid
        )
        broker.stop()
        drain = drained.as_json(n)
        log(f"ceilings: publish {publish['msg_per_s']:,} msg/s, drain {drain['msg_per_s']:,}")
        return {"publish": publish, "drain": drain}

    # -- 2. rates ---------------------------------------------------------------------------

    async def rates(self) -> JsonDict:
        runs: list[JsonDict] = []
        skipped: list[float] = []
        for rate in self.options.rates:
            if (
                runs
                and runs[-1]["sustained_msg_per_s"] < FAR_BEHIND * runs[-1]["offered_msg_per_s"]
            ):
                skipped.append(rate)  # far past saturation: a higher offer only builds a queue
                continue
            runs.append(await self.end_to_end(rate, f"rate_{rate:.0f}"))
        ceiling = (self.results.get("ceilings") or {}).get("publish", {}).get("msg_per_s")
        for run in runs:
            run["ratio_to_publish_ceiling"] = (
                round(run["sustained_msg_per_s"] / ceiling, 3) if ceiling else None
            )
        carried = [r["offered_msg_per_s"] for r in runs if r["carried"]]
        first_missed = next((r["offered_msg_per_s"] for r in runs if not r["carried"]), None)
        return {
            "runs": runs,
            "saturation": {
                "highest_offered_carried": max(carried) if carried else None,
                "first_offered_not_carried": first_missed,
                "max_sustained_msg_per_s": max(r["sustained_msg_per_s"] for r in runs),
                "skipped_offers": skipped,
                "rule": f"carried: sustained >= {SATURATED_RATIO} x offered and last commit"
                f" within {SATURATED_TAIL_S} s of the last send",
            },
        }

    async def end_to_end(self, rate: float, label: str, gateways: int = 1) -> JsonDict:
        """Offer `rate` msg/s for `rate_seconds` to `gateways` gateway processes (one shared
        subscription when more than one); publish -> commit per sampled message."""
        count = max(1, round(rate * self.options.rate_seconds))
        warm = min(WARMUP_MESSAGES, max(1, count // 10))
        if warm + count > len(self.rendered):
            raise BenchError(f"{label}: needs {warm + count:,} rendered messages")
        measured = self.rendered.slice(warm, warm + count)
        sample = sample_indices(count, self.options.latency_sample)
        ids = await asyncio.to_thread(event_ids, measured.messages, sample, self.files.config)
        broker = self.broker(label)
        dsn = self.database(label)
        extra = {"mqtt_shared_group": SHARED_GROUP} if gateways > 1 else {}
        procs = [self.gateway(broker, dsn, f"{label}-{i}", extra) for i in range(gateways)]
        for gateway in procs:  # one after the other: the first one migrates the database
            await asyncio.to_thread(gateway.start)
        meter = CpuMeter(broker.process.pid, self.postgres.process.pid)
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as db:
            for _ in procs:
                await self.probe(broker, db)
            await self.publish(broker, self.rendered.messages[:warm], f"{label}/warm-up")
            warm_events = self.rendered.events(0, warm)
            await follow_commits(db, warm_events, procs[0], f"{label}/warm-up", None)
            cpu0, gw0 = meter.snapshot(), [process_cpu_s(gateway_pid(g)) for g in procs]
            received0 = [_received(g) for g in procs]
            publishing = asyncio.create_task(
                self.publish_parallel(
                    broker, measured.messages, label, rate=rate, record_times=True
                )
            )
            total = warm_events + measured.events()
            await follow_commits(db, total, procs[0], label, publishing)
            run = await publishing
            cpu1, gw1 = meter.snapshot(), [process_cpu_s(gateway_pid(g)) for g in procs]
            received1 = [_received(g) for g in procs]
            flat = [event for events in ids.values() for event in events]
            cursor = await db.execute(
                "SELECT event_id, extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8"
                " FROM events WHERE event_id = ANY(%s)",
                (flat,),
            )
            committed = {str(r[0]): float(r[1]) for r in await cursor.fetchall()}
            commits = await commit_profile(db)
            checks = await store_checks(db, total)
            tickets = await scalar(db, "SELECT count(*) FROM tickets")
        for gateway in procs:
            stop_gateway(gateway)
        broker.stop()
        self.postgres.drop_database(f"bench_{label}")
        assert run.times is not None
        sent = dict(run.times)
        latencies = sorted(
            (max(committed[i] for i in event_set) - sent[index]) * 1000
            for index, event_set in ids.items()
            if index in sent and all(i in committed for i in event_set)
        )
        wall = commits.last - run.started
        sustained = count / wall
        tail = commits.last - max(sent.values())
        gateway_cpu = [b - a for a, b in zip(gw0, gw1, strict=True)]
        per_process = [
            {
                "messages": (r1 - r0) if r0 is not None and r1 is not None else None,
                "cpu_s": round(cpu, 2),
                "cpu_us_per_msg": round(cpu / (r1 - r0) * 1e6, 1)
                if r0 is not None and r1 is not None and r1 > r0
                else None,
                "cpu_utilisation": round(cpu / wall, 2),
            }
            for cpu, r0, r1 in zip(gateway_cpu, received0, received1, strict=True)
        ]
        cpu = CpuMeter.per_message_us(cpu0, cpu1, count)
        cpu["gateway"] = round(sum(gateway_cpu) / count * 1e6, 1)
        cpu["publishers"] = round(run.cpu_s / count * 1e6, 1)
        result: JsonDict = {
            "offered_msg_per_s": rate,
            "gateways": gateways,
            "messages": count,
            "events": measured.events(),
            "publish_msg_per_s": round(run.rate),
            "publish_seconds": round(run.seconds, 3),
            "sustained_msg_per_s": round(sustained),
            "seconds_first_send_to_last_commit": round(wall, 3),
            "commit_tail_after_last_send_s": round(tail, 3),
            "carried": sustained >= SATURATED_RATIO * rate and tail <= SATURATED_TAIL_S,
            "latency_sampled": len(latencies),
            "latency_ms": _quantiles(latencies),
            "cpu_us_per_msg": cpu,
            "gateway_cpu_utilisation": round(sum(gateway_cpu) / wall, 2),
            "other_processes_cores": CpuMeter.other_cores(
                cpu0 | {"gateway": sum(gw0), "publishers": 0.0},
                cpu1 | {"gateway": sum(gw1), "publishers": run.cpu_s},
                wall,
            ),
            "per_gateway": per_process,
            "batches": commits.as_json(),
            "tickets": tickets,
            "checks": checks,
        }
        log(
            f"{label}: sustained {sustained:,.0f} msg/s, p99"
            f" {result['latency_ms']['p99']} ms, carried {result['carried']}"
        )
        return result

    # -- 3. memory --------------------------------------------------------------------------

    async def memory(self) -> JsonDict:
        """Gateway RSS with Yida Town's state, and with the whole district's."""
        result: JsonDict = {}
        yida = YidaMix()
        targets: list[tuple[str, Workload]] = [("yida", yida)]
        try:
            district = make_workload("district", self.options.communities, self.options.scale)
            targets.append(("district", district))
        except ImportError as exc:  # until simulators.district exists
            result["district"] = {"error": f"simulators.district not available: {exc}"}
        for name, workload in targets:
            result[name] = await self.memory_of(name, workload)
        return result

    async def memory_of(self, name: str, workload: Workload) -> JsonDict:
        files = write_files(workload, self.workdir / f"memory-{name}")
        extra = {"config": str(files.config), "grids": str(files.grids)}
        broker, dsn, gateway = await self.start_gateway(f"memory_{name}", extra)
        pid = gateway_pid(gateway)
        rss_start = _rss_mib(pid)
        started = time.monotonic()
        imported = await workload.load_masterdata(gateway.url(""))
        import_s = time.monotonic() - started
        rss_imported = _rss_mib(pid)
        rendered = workload.messages(self.options.memory_messages)
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as db:
            await self.probe(broker, db)
            await self.publish(broker, rendered.messages, f"memory/{name}")
            await follow_commits(db, rendered.events(), gateway, f"memory/{name}", None)
            checks = await store_checks(db, rendered.events())
        result = {
            "communities": len(workload.communities),
            "workload": workload.describe(),
            "masterdata": imported,
            "residents": await _count_persons(dsn),
            "import_seconds": round(import_s, 1),
            "messages_after_import": len(rendered),
            "rss_mib": {
                "at_start": rss_start,
                "after_import": rss_imported,
                "after_traffic": _rss_mib(pid),
                "peak": rounded(peak_rss_mib(pid)),
            },
            "checks": checks,
        }
        stop_gateway(gateway)
        broker.stop()
        return result

    # -- 4. api -----------------------------------------------------------------------------

    async def api(self) -> JsonDict:
        """Requests timed over a long history while the gateway ingests at 5k msg/s."""
        broker, dsn, gateway = await self.start_gateway("api")
        base = gateway.url("")
        await self.workload.load_masterdata(base)
        keys = {
            community: masterdata_keys(self.workload.masterdata(community))
            for community in self.workload.communities[:KEY_COMMUNITIES]
        }
        seed_count = min(len(self.rendered) // 2, self.options.memory_messages)
        seed = self.rendered.slice(0, seed_count)
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as db:
            await self.probe(broker, db)
            await self.publish(broker, seed.messages, "api/seed")
            await follow_commits(db, seed.events(), gateway, "api/seed", None)
        log(f"api: copying a history of {self.options.api_history:,} events")
        history = await load_history(dsn, self.options.api_history)
        endpoints = self.endpoints(keys)
        load_seconds = self.options.api_seconds * len(endpoints) + 5
        ingest_count = round(self.options.api_ingest_rate * load_seconds)
        ingest = self.rendered.slice(seed_count, min(len(self.rendered), seed_count + ingest_count))
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as db:
            before = await scalar(db, "SELECT count(*) FROM events")
            publishing = asyncio.create_task(
                self.publish_parallel(
                    broker, ingest.messages, "api/ingest", rate=self.options.api_ingest_rate
                )
            )
            await asyncio.sleep(2)  # the publishers are connected and running
            timings: JsonDict = {}
            for endpoint in endpoints:
                log(f"api: {endpoint.name} for {self.options.api_seconds:.0f} s")
                timings[endpoint.name] = await time_endpoint(
                    base, endpoint, self.options.api_seconds, self.options.api_clients
                )
            run = await publishing
            await follow_commits(db, before + ingest.events(), gateway, "api/ingest", None)
            stored = await scalar(db, "SELECT count(*) FROM events")
        stop_gateway(gateway)
        broker.stop()
        return {
            "history": history,
            "events_stored": stored,
            "ingest": {
                "offered_msg_per_s": self.options.api_ingest_rate,
                "publish_msg_per_s": round(run.rate),
                "messages": len(ingest),
            },
            "clients": self.options.api_clients,
            "endpoints": timings,
        }

    def endpoints(self, keys: dict[str, tuple[list[str], list[str]]]) -> list[Endpoint]:
        communities = list(keys)
        first = communities[0]
        houses = [h for c in communities for h in keys[c][0]]
        buildings = [f"{c}&building={b}" for c in communities for b in keys[c][1]]
        now = datetime.now(UTC).replace(microsecond=0)
        since = (now - timedelta(days=7)).isoformat().replace("+00:00", "Z")
        until = now.isoformat().replace("+00:00", "Z")
        week = f"since={since}&until={until}&bucket=hour"
        return [
            Endpoint("tickets", rotate(communities, "/v1/tickets?community={}&limit=100")),
            Endpoint("house", rotate(houses, "/v1/houses/{}")),
            Endpoint("persons", rotate(buildings, "/v1/persons?community={}&limit=100")),
            Endpoint("flow_community", lambda _i: f"/v1/stats/flow?community={first}&{week}"),
            Endpoint("flow_district", lambda _i: f"/v1/stats/flow?{week}"),
        ]

    # -- 5. recovery ------------------------------------------------------------------------

    async def recovery(self) -> JsonDict:
        n = min(self.options.recovery_messages, len(self.rendered))
        backlog = self.rendered.slice(0, n)
        result = await self.drain_backlog(
            backlog.messages, backlog.events(), "recovery", profile=self.options.profile
        )
        drain = (self.results.get("ceilings") or {}).get("drain", {}).get("msg_per_s")
        result["ratio_to_drain_ceiling"] = round(result["msg_per_s"] / drain, 3) if drain else None
        return result

    # -- 6. scale-out -----------------------------------------------------------------------

    async def scaleout(self) -> JsonDict:
        rate = self.options.scaleout_rate
        runs = [
            await self.end_to_end(rate, f"scaleout_{k}", gateways=k)
            for k in self.options.scaleout_processes
        ]
        for run in runs:
            us = run["cpu_us_per_msg"]["gateway"]
            run["prediction"] = {
                "gateway_msg_per_s_per_core": round(1e6 / us) if us else None,
                "note": "one gateway process per core on machines whose broker and database"
                " run elsewhere: N machines x cores x this",
            }
        return {"offered_msg_per_s": rate, "runs": runs}


def _received(gateway: GatewayProcess) -> int | None:
    """`scgw_messages_received_total` from the gateway's /metrics (None if unreadable)."""
    try:
        text = gateway.get("/metrics").decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("scgw_messages_received_total"):
            return int(float(line.split()[-1]))
    return None


async def _count_persons(dsn: str) -> int:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as db:
        return await scalar(db, "SELECT count(*) FROM persons")


def _rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _quantiles(ordered: Sequence[float]) -> JsonDict:
    if not ordered:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    return {
        "p50": round(percentile(ordered, 50), 1),
        "p95": round(percentile(ordered, 95), 1),
        "p99": round(percentile(ordered, 99), 1),
        "max": round(ordered[-1], 1),
    }


# -- the run ----------------------------------------------------------------------------------


def rendered_size(options: Options) -> int:
    """Messages every chosen phase together needs (they reuse one rendering from the start)."""
    needs = [options.ceiling_messages]
    if "rates" in options.phases and options.rates:
        needs.append(round(max(options.rates) * options.rate_seconds) + WARMUP_MESSAGES)
    if "scaleout" in options.phases:
        needs.append(round(options.scaleout_rate * options.rate_seconds) + WARMUP_MESSAGES)
    if "recovery" in options.phases:
        needs.append(options.recovery_messages)
    if "api" in options.phases:
        api_seconds = options.api_seconds * 5 + 5
        needs.append(options.memory_messages + round(options.api_ingest_rate * api_seconds))
    return max(needs)


async def run(options: Options) -> JsonDict:
    """Start PostgreSQL, render the workload, run the phases, stop everything."""
    workdir = Path(tempfile.mkdtemp(prefix="scgw-bench-district-"))
    log(f"workdir {workdir}")
    workload = make_workload(options.workload, options.communities, options.scale)
    files = write_files(workload, workdir / "workload")
    size = rendered_size(options)
    log(f"rendering {size:,} messages of {workload.name}")
    rendered = await asyncio.to_thread(workload.messages, size)
    result: JsonDict = {
        "benchmark": "district",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.district", *sys.argv[1:]]),
        "smoke": options.smoke,
        "machine": machine_info(),
        "parameters": {
            **{k: v for k, v in vars(options).items() if k not in {"output", "overrides"}},
            "workload": workload.describe(),
            "rendered_messages": len(rendered),
            "rendered_events": rendered.events(),
            "payload_bytes_mean": round(sum(len(p) for _, p in rendered.messages) / len(rendered)),
            "qos": 1,
            "publish_processes": options.publish_processes,
            "publisher": "simulators.fast_publisher, one connection per process",
            "output": str(options.output),
        },
        "gateway_settings": gateway_settings(options.overrides),
    }
    postgres = start_bench_postgres(workdir, durable=options.durable, statements=options.profile)
    bench = DistrictBench(options, workdir, postgres, workload, files, rendered)
    bench.results = result
    failed = False
    try:
        result |= describe_services(postgres)
        for phase in options.phases:
            log(f"== phase {phase}")
            started = time.monotonic()
            try:
                result[phase] = await getattr(bench, phase)()
            except BenchError as exc:
                failed = True
                log(f"{phase} FAILED: {exc}")
                result[phase] = {"error": str(exc)}
            result.setdefault("phase_seconds", {})[phase] = round(time.monotonic() - started, 1)
            write_result(options.output, result)  # a run stopped later keeps what it measured
    except BaseException:
        failed = True
        raise
    finally:
        tear_down(bench, workdir, keep=options.keep_workdir, failed=failed)
    return result


# -- command line -----------------------------------------------------------------------------

_DESCRIPTION = """\
The issue-10 district benchmarks: the district mix of dialects (QoS 1) through a private
Mosquitto into the gateway (`scgw run`, every rule on) and a private PostgreSQL + TimescaleDB
(durable by default), against the ceilings of the same broker and publishers.

phases (default: all, in this order):
  ceilings   publish-side ceiling (publishers flat out, a bare counting subscriber) and drain
             ceiling (bare paho 3.1.1, own loop, auto-ack, draining the queued backlog)
  rates      end to end at each --rates offered rate: sustained msg/s, ratio to the publish
             ceiling, publish -> commit p50/p95/p99, the saturation point
  memory     gateway RSS with Yida Town and with the whole district's config + master data
  api        ticket list, house lookup, person search, 7-day hourly flow (one community, the
             district) over --api-history events while ingesting at --api-ingest-rate
  recovery   --recovery-messages queued while the gateway is down, then drained
  scaleout   the end-to-end run at --scaleout-rate with 2 and 4 gateways, one shared
             subscription: per-process CPU per message and what it predicts

Progress on stderr; the Markdown table on stdout; the JSON to --output.
"""


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.district",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--smoke", action="store_true", help="tiny version of every phase (CI)")
    p.add_argument(
        "--workload",
        choices=("district", "yida"),
        default="district" if district_available() else "yida",
        help="district: simulators.district (default when present); yida: Yida Town's mix",
    )
    p.add_argument("--communities", type=int, default=141, help="district size (default 141)")
    p.add_argument("--scale", type=float, default=1.0, help="district per-community scale")
    p.add_argument("--rates", type=_floats, default=[1000, 2000, 5000, 10000, 15000, 20000])
    p.add_argument("--rate-seconds", type=float, default=30.0, help="seconds per offered rate")
    p.add_argument("--ceiling-messages", type=int, default=200_000)
    p.add_argument("--latency-sample", type=int, default=5_000, help="messages paired per run")
    p.add_argument("--memory-messages", type=int, default=50_000)
    p.add_argument("--api-history", type=int, default=20_000_000, help="events copied in")
    p.add_argument("--api-seconds", type=float, default=20.0, help="seconds per endpoint")
    p.add_argument("--api-ingest-rate", type=float, default=5000.0)
    p.add_argument("--api-clients", type=int, default=4)
    p.add_argument("--recovery-messages", type=int, default=1_000_000)
    p.add_argument("--scaleout-processes", type=_ints, default=[2, 4])
    p.add_argument("--scaleout-rate", type=float, default=10_000.0)
    p.add_argument("--publish-processes", type=int, default=2)
    p.add_argument(
        "--not-durable", action="store_true", help="fsync/synchronous_commit off (label it)"
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="during the recovery drain, sample the gateway with py-spy and count PostgreSQL's"
        " statements (pg_stat_statements): where the CPU goes",
    )
    p.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES))
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--output", type=Path)
    p.add_argument("--keep-workdir", action="store_true")
    return p


SMOKE = {
    "communities": 3,
    "scale": 0.02,
    "rates": [300.0],
    "rate_seconds": 2.0,
    "ceiling_messages": 2_000,
    "latency_sample": 200,
    "memory_messages": 500,
    "api_history": 10_000,
    "api_seconds": 1.0,
    "api_ingest_rate": 200.0,
    "api_clients": 2,
    "recovery_messages": 3_000,  # three batches: a drain rate needs a first and a last commit
    "scaleout_processes": [2],
    "scaleout_rate": 300.0,
    "publish_processes": 1,
}


def parse_options(argv: Sequence[str] | None = None) -> Options:
    args = build_parser().parse_args(argv)
    values = vars(args)
    if args.smoke:
        defaults = build_parser().parse_args([])
        for name, small in SMOKE.items():
            if values[name] == getattr(defaults, name):
                values[name] = small
    today = datetime.now().date().isoformat()
    output = args.output
    if output is None:
        output = (
            Path(tempfile.gettempdir()) / f"scgw-bench-district-smoke-{today}.json"
            if args.smoke
            else RESULTS_DIR / f"district-{today}.json"
        )
    overrides = {}
    for item in args.set:
        name, _, value = item.partition("=")
        overrides[name] = value
    return Options(
        workload=args.workload,
        communities=args.communities,
        scale=args.scale,
        rates=values["rates"],
        rate_seconds=values["rate_seconds"],
        ceiling_messages=values["ceiling_messages"],
        latency_sample=values["latency_sample"],
        memory_messages=values["memory_messages"],
        api_history=values["api_history"],
        api_seconds=values["api_seconds"],
        api_ingest_rate=values["api_ingest_rate"],
        api_clients=values["api_clients"],
        recovery_messages=values["recovery_messages"],
        scaleout_processes=values["scaleout_processes"],
        scaleout_rate=values["scaleout_rate"],
        publish_processes=values["publish_processes"],
        durable=not args.not_durable,
        phases=list(dict.fromkeys(args.phases)),
        overrides=overrides,
        output=output,
        smoke=args.smoke,
        keep_workdir=args.keep_workdir,
        profile=args.profile,
    )


def write_result(path: Path, result: JsonDict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    started = time.monotonic()
    result = asyncio.run(run(options))
    result["bench_seconds"] = round(time.monotonic() - started, 1)
    write_result(options.output, result)
    print(markdown(result))
    print(f"\nfull result: {options.output} ({result['bench_seconds']} s)")
    failed = [p for p in options.phases if "error" in result.get(p, {})]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
