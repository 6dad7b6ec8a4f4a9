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
5. resolution, rules (only when asked for) - pre-queued drains with resolution (subject keys,
   presence and sightings recorded on write), or the rules (instant rules, watermarks and
   the watermark rules' evaluations), off and on, interleaved: what each costs.

The pieces: `bench.procstats` (CPU from /proc), `bench.environment` (machine, versions,
settings), `bench.transport` (bare subscribers), `bench.commits` (following and checking
commits), `bench.profiling` (py-spy), `bench.report` (the Markdown table). This module holds
the phases (`Bench`), the run (`run`) and the command line.
"""

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from bench.commits import (
    commit_profile,
    expected_event_ids,
    follow_commits,
    store_checks,
)
from bench.common import (
    EXTRA_PHASES,
    PHASES,
    BenchError,
    JsonDict,
    Message,
    log,
)
from bench.environment import gateway_settings, machine_info
from bench.harness import (
    Harness,
    describe_services,
    gateway_pid,
    start_bench_postgres,
    stop_gateway,
    tear_down,
)
from bench.procstats import CpuMeter, peak_rss_mib
from bench.report import markdown, max_other_load
from bench.stats import percentile, rounded
from bench.transport import create_offline_session, drain_aiomqtt, drain_paho
from simulators.community import generate_community
from simulators.config_toml import community_config_toml
from simulators.hik_isapi import HikDoorStream
from testkit.services import PostgresService

RESULTS_DIR = Path(__file__).resolve().parent / "results"
STREAM_SEED = 2026
COMMUNITY_SEED = 7
UNITS_PER_BUILDING = 4
EVENTS_PER_HOUR = 20_000.0
"""Event-time density of the stream: 100k events span about five hours (one or two chunks)."""
STREAM_LEAD_HOURS = 1.0
"""The stream starts this much earlier than its events' span needs, so that every event,
the latency phase's too, lies in the past (the gateway dead-letters events from the future)."""
QUICK_EVENTS = 5_000
QUICK_LATENCY_SECONDS = 3.0
WARMUP_MESSAGES = 1_000
PHASE_BASE_S = 180.0
"""A phase's time budget is this plus 4 ms per event (about 9 minutes for 100k): a backstop."""


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
    rounds: int
    profile: bool
    keep_workdir: bool
    quick: bool


class Bench(Harness):
    """Shared services and inputs for every phase; each phase gets a fresh broker and DB."""

    def __init__(
        self,
        options: Options,
        workdir: Path,
        postgres: PostgresService,
        toml_path: Path,
        messages: list[Message],
        latency_stream: HikDoorStream,
    ) -> None:
        super().__init__(
            workdir,
            postgres,
            {"config": str(toml_path), **options.overrides},
            connections=options.connections,
            queue_limit=max(200_000, 2 * len(messages)),
        )
        self.options = options
        self.toml_path = toml_path
        self.messages = messages
        self.latency_stream = latency_stream

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
        broker, dsn, gateway = await self.start_gateway("sustained")
        meter = CpuMeter(broker.process.pid, self.postgres.process.pid, gateway_pid(gateway))
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
            "gateway_peak_rss_mib": rounded(peak_rss_mib(gateway_pid(gateway))),
            "batches": commits.as_json(),
            "checks": checks,
            "samples": len(samples),
        }
        stop_gateway(gateway)
        broker.stop()
        return result

    async def prequeue(
        self,
        *,
        profile: bool = False,
        label: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> JsonDict:
        """Queue the backlog while the gateway is down, then time its drain alone."""
        phase = label or ("profile" if profile else "prequeue")
        return await self.drain_backlog(
            self.messages, len(self.messages), phase, profile=profile, extra=extra
        )

    async def resolution(self) -> JsonDict:
        """What resolution costs (subject keys, presence and sightings recorded on write)."""
        return await self.off_and_on("resolution")

    async def rules(self) -> JsonDict:
        """What the rules cost: the instant rules on every newly stored event and the
        watermark in each batch's transaction, and the leader's watermark rules evaluated
        every `SCGW_RULES_INTERVAL_S` while the backlog drains (the door stream carries forced
        and held-open doors, so tickets open during the run)."""
        return await self.off_and_on("rules")

    async def off_and_on(self, setting: str) -> JsonDict:
        """Pre-queued drains with the gateway `setting` off and on, interleaved (off on, on
        off, off on, ...) so that drift of a noisy machine hits both alike; per setting the
        medians, and on / off for each."""
        runs: list[JsonDict] = []
        for round_ in range(self.options.rounds):
            for mode in ("off", "on") if round_ % 2 == 0 else ("on", "off"):
                log(f"{setting}: round {round_ + 1}/{self.options.rounds}, {setting} {mode}")
                drained = await self.prequeue(
                    label=f"{setting}_{mode}_{round_}", extra={setting: mode}
                )
                if not drained["checks"]["ok"]:
                    raise BenchError(f"{setting} {mode}: not stored exactly once")
                runs.append({setting: mode, "round": round_ + 1, **_drain_figures(drained)})
        summary = {
            mode: _medians([run for run in runs if run[setting] == mode]) for mode in ("off", "on")
        }
        ratios = {
            key: round(summary["on"][key] / summary["off"][key], 3)
            for key in summary["on"]
            if summary["off"][key]
        }
        return {
            "method": f"pre-queued drains, {setting} off/on interleaved; medians per setting",
            "rounds": self.options.rounds,
            "runs": runs,
            **summary,
            "on_over_off": ratios,
            "other_processes_cores": max(r["other_processes_cores"] for r in runs),
        }

    async def latency(self) -> JsonDict:
        """A fixed, paced rate; per-event publish time against the commit timestamp."""
        rate = self.options.latency_rate
        count = max(1, round(rate * self.options.latency_seconds))
        warmup = self.latency_stream.take(min(WARMUP_MESSAGES, count))
        measured = self.latency_stream.take(count)
        event_ids = expected_event_ids(measured)
        broker, dsn, gateway = await self.start_gateway("latency")
        meter = CpuMeter(broker.process.pid, self.postgres.process.pid, gateway_pid(gateway))
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
        stop_gateway(gateway)
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


def _drain_figures(drained: JsonDict) -> JsonDict:
    """The numbers of a pre-queued drain that an off/on comparison sets side by side."""
    cpu = drained["cpu_us_per_msg"]
    return {
        "msg_per_s": drained["msg_per_s"],
        "gateway_during_drain_us": cpu["gateway_during_drain"],
        "gateway_us": cpu["gateway"],
        "postgres_us": cpu["postgres"],
        "gateway_plus_postgres_us": round(cpu["gateway"] + cpu["postgres"], 1),
        "presence_rows": drained["presence_rows"],
        "ticket_occurrences": drained["ticket_occurrences"],
        "other_processes_cores": drained["other_processes_cores"],
    }


def _medians(runs: Sequence[JsonDict]) -> JsonDict:
    keys = (
        "msg_per_s",
        "gateway_during_drain_us",
        "gateway_us",
        "postgres_us",
        "gateway_plus_postgres_us",
    )
    return {key: round(statistics.median(r[key] for r in runs), 1) for key in keys}


# -- orchestration ----------------------------------------------------------------------------


def stream_start(events: int) -> datetime:
    """When the door stream starts, so that all `events` of the run (the backlog phases' and
    the latency phase's) lie in the past: they take about events/EVENTS_PER_HOUR hours
    (Poisson, within a fraction of a percent at these counts); a fifth more and a lead."""
    span_hours = events / EVENTS_PER_HOUR * 1.2 + STREAM_LEAD_HOURS
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=span_hours)


async def run(options: Options) -> JsonDict:
    """Start the services, run the phases, stop everything (also on errors and Ctrl-C)."""
    workdir = Path(tempfile.mkdtemp(prefix="scgw-bench-"))
    log(f"workdir {workdir}")
    community = generate_community(
        seed=COMMUNITY_SEED, buildings=options.buildings, units_per_building=UNITS_PER_BUILDING
    )
    toml_path = workdir / "community.toml"
    toml_path.write_text(community_config_toml(community), encoding="utf-8")
    latency_events = WARMUP_MESSAGES + round(options.latency_rate * options.latency_seconds)
    start = stream_start(options.events + latency_events)
    stream = HikDoorStream(community, STREAM_SEED, start, EVENTS_PER_HOUR)
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
    postgres = start_bench_postgres(workdir, durable=options.durable)
    bench = Bench(options, workdir, postgres, toml_path, messages, stream)
    failed = False
    try:
        result |= describe_services(postgres)
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
        tear_down(bench, workdir, keep=options.keep_workdir, failed=failed)
    return result


# -- command line -----------------------------------------------------------------------------

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
  resolution (only when named) pre-queued drains with SCGW_RESOLUTION off and on, interleaved
             --rounds times: the cost of subject keys and presence/sighting recording
  rules      (only when named) the same with SCGW_RULES off and on: the cost of the rules

Progress goes to stderr; the Markdown summary to stdout; the full result to --output.
"""

_EPILOG = """\
examples:
  python -m bench.ingest                         # the full run (what `make bench` does)
  python -m bench.ingest --quick                 # smoke run, well under a minute
  python -m bench.ingest --phases prequeue --profile   # where does the gateway spend CPU?
  python -m bench.ingest --set batch_max_rows=2000 --phases sustained prequeue
  python -m bench.ingest --durable --phases resolution --rounds 3   # resolution's cost
  python -m bench.ingest --durable --phases rules --rounds 4        # the rules' cost
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
        choices=PHASES + EXTRA_PHASES,
        default=list(PHASES),
        metavar="PHASE",
        help=f"phases to run, in order (default: {' '.join(PHASES)}; also:"
        f" {' '.join(EXTRA_PHASES)})",
    )
    parser.add_argument(
        "--rounds",
        type=_positive_int,
        default=3,
        metavar="R",
        help="resolution and rules phases: pairs of drains, off and on (default 3)",
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
        rounds=args.rounds,
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
