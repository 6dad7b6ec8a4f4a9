"""The Markdown summary of a district result: one (metric, value) row per number to compare.

Why it exists: the JSON holds everything; the table on stdout (and in the README) picks the
figures the issue's targets are about, and says which target each one meets or misses.
"""

from collections.abc import Iterator

from bench.common import JsonDict
from bench.report import NOISY_OTHER_CORES

TARGETS = {
    "sustained_msg_per_s": 15_000,
    "ratio_to_publish_ceiling": 0.8,
    "p99_ms_at_2000": 100,
    "p99_ms_at_10000": 250,
    "drain_ratio": 2.0,
    "gateway_us_per_msg": 40,
    "rss_yida_mib": 300,
    "rss_district_mib": 1536,
    "api_p99_ms": 50,
    "flow_community_p99_ms": 300,
    "flow_district_p99_ms": 1000,
    "recovery_s": 120,
}


def _n(value: object, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
        return f"{text}{unit}"
    return f"{value}{unit}"


def _meets(value: float | None, target: float, *, at_most: bool) -> str:
    if value is None:
        return ""
    ok = value <= target if at_most else value >= target
    return f" (target {'≤' if at_most else '≥'} {_n(target)}: {'met' if ok else 'MISSED'})"


def _error(section: JsonDict) -> Iterator[tuple[str, str]]:
    yield "error", str(section["error"]).splitlines()[0]


def summary_rows(r: JsonDict) -> Iterator[tuple[str, str]]:
    m, v, p = r["machine"], r.get("versions", {}), r["parameters"]
    ps = r.get("postgres_settings", {})
    yield "**Machine**", ""
    yield "date (UTC)", r["date"]
    yield "CPU / RAM", f"{m['nproc']} × {m['cpu_model']} / {m['ram_gib']} GiB"
    yield "load average at start", " / ".join(str(x) for x in m["load_average_at_start"])
    yield (
        "Mosquitto / PostgreSQL / TimescaleDB",
        f"{v.get('mosquitto')} / {v.get('postgresql')} / {v.get('timescaledb')}",
    )
    yield (
        "PostgreSQL fsync / synchronous_commit",
        f"{ps.get('fsync')} / {ps.get('synchronous_commit')}",
    )
    w = p["workload"]
    yield "**Workload**", ""
    yield (
        "simulator",
        f"{w['name']}: {len(w['communities'])} communities, {w.get('devices', '?')} devices",
    )
    yield (
        "rendered",
        f"{p['rendered_messages']:,} messages → {p['rendered_events']:,} events,"
        f" {p['payload_bytes_mean']} B mean payload, QoS 1",
    )
    yield (
        "publishers",
        f"{p['publish_processes']} processes × 1 connection (simulators.fast_publisher)",
    )
    yield from _ceilings(r.get("ceilings"))
    yield from _rates(r.get("rates"))
    yield from _memory(r.get("memory"))
    yield from _api(r.get("api"))
    yield from _recovery(r.get("recovery"))
    yield from _scaleout(r.get("scaleout"))


def _ceilings(c: JsonDict | None) -> Iterator[tuple[str, str]]:
    if not c:
        return
    yield "**1. Ceilings**", ""
    if "error" in c:
        yield from _error(c)
        return
    pub, drain = c["publish"], c["drain"]
    yield (
        "publish-side ceiling (bare counting subscriber)",
        f"{_n(pub['msg_per_s'])} msg/s (publishers {pub['publisher_cpu_us_per_msg']} µs/msg)",
    )
    yield (
        "drain ceiling (bare paho 3.1.1, auto-ack)",
        f"{_n(drain['msg_per_s'])} msg/s ({drain['subscriber_cpu_us_per_msg']} µs/msg)",
    )


def _rates(rates: JsonDict | None) -> Iterator[tuple[str, str]]:
    if not rates:
        return
    yield "**2. End to end** (offered → sustained msg/s, ratio, p50/p95/p99 ms)", ""
    if "error" in rates:
        yield from _error(rates)
        return
    for run in rates["runs"]:
        q = run["latency_ms"]
        yield (
            f"{_n(run['offered_msg_per_s'])} msg/s offered",
            f"{_n(run['sustained_msg_per_s'])} (×{run['ratio_to_publish_ceiling']}),"
            f" {q['p50']} / {q['p95']} / {q['p99']} ms, gateway"
            f" {run['cpu_us_per_msg']['gateway']} µs/msg, carried {_n(run['carried'])},"
            f" exactly once {_n(run['checks']['ok'])}, other {run['other_processes_cores']}",
        )
    s = rates["saturation"]
    yield (
        "saturation point",
        f"highest carried {_n(s['highest_offered_carried'])}, first missed"
        f" {_n(s['first_offered_not_carried'])}, max sustained"
        f" {_n(s['max_sustained_msg_per_s'])}"
        + (
            f", skipped {', '.join(_n(x) for x in s['skipped_offers'])}"
            if s.get("skipped_offers")
            else ""
        )
        + _meets(s["max_sustained_msg_per_s"], TARGETS["sustained_msg_per_s"], at_most=False),
    )


def _memory(mem: JsonDict | None) -> Iterator[tuple[str, str]]:
    if not mem:
        return
    yield "**3. Memory** (gateway RSS MiB: start / imported / after traffic / peak)", ""
    for name, target in (("yida", "rss_yida_mib"), ("district", "rss_district_mib")):
        d = mem.get(name)
        if d is None:
            continue
        if "error" in d:
            yield name, f"error: {d['error']}"
            continue
        rss = d["rss_mib"]
        yield (
            f"{name} ({d['communities']} communities, {d['residents']:,} persons stored)",
            f"{rss['at_start']} / {rss['after_import']} / {rss['after_traffic']} /"
            f" {rss['peak']}" + _meets(rss["peak"], TARGETS[target], at_most=True),
        )


def _api(api: JsonDict | None) -> Iterator[tuple[str, str]]:
    if not api:
        return
    if "error" in api:
        yield "**4. API under ingest**", ""
        yield from _error(api)
        return
    yield (
        f"**4. API under ingest** ({api['events_stored']:,} events stored,"
        f" {_n(api['ingest']['publish_msg_per_s'])} msg/s ingest, {api['clients']} clients)",
        "",
    )
    for name, t in api["endpoints"].items():
        target = TARGETS.get(f"{name}_p99_ms", TARGETS["api_p99_ms"])
        q = t["latency_ms"]
        errors = f", errors {t['errors']}" if t["errors"] else ""
        yield (
            name,
            f"p50 {q['p50']} / p99 {q['p99']} ms, {t['req_per_s']} req/s{errors}"
            + _meets(q["p99"], target, at_most=True),
        )


def _recovery(rec: JsonDict | None) -> Iterator[tuple[str, str]]:
    if not rec:
        return
    yield "**5. Recovery** (queued while down, then drained)", ""
    if "error" in rec:
        yield from _error(rec)
        return
    yield (
        f"{rec['messages']:,} messages ({rec['events']:,} events)",
        f"{rec['seconds_spawn_to_last_commit']} s spawn → last commit, {_n(rec['msg_per_s'])}"
        f" msg/s"
        + _meets(rec["seconds_spawn_to_last_commit"], TARGETS["recovery_s"], at_most=True),
    )
    yield (
        "drain / bare paho drain",
        f"{rec['ratio_to_drain_ceiling']}"
        + _meets(rec["ratio_to_drain_ceiling"], TARGETS["drain_ratio"], at_most=False),
    )
    cpu = rec["cpu_us_per_msg"]
    yield (
        "gateway CPU µs/event during drain",
        f"{cpu['gateway_during_drain']}"
        + _meets(cpu["gateway_during_drain"], TARGETS["gateway_us_per_msg"], at_most=True),
    )
    yield "stored exactly once", _n(rec["checks"]["ok"])
    profile = rec.get("py_spy")
    if profile and "self_by_area" in profile:
        yield (
            "where the gateway's CPU went (py-spy, self time by area)",
            ", ".join(f"{area} {share}%" for area, share in profile["self_by_area"].items()),
        )
        yield (
            "top functions, inclusive",
            "; ".join(f"{f['function']} {f['percent']}%" for f in profile["inclusive"][:8]),
        )
    for statement in rec.get("pg_statements") or []:
        yield (
            f"PostgreSQL: {statement['percent']}% of execution time",
            f"{statement['calls']:,} calls, {statement['mean_ms']} ms each: `{statement['query']}`",
        )


def _scaleout(s: JsonDict | None) -> Iterator[tuple[str, str]]:
    if not s:
        return
    yield "**6. Scale-out** (shared subscription)", ""
    if "error" in s:
        yield from _error(s)
        return
    for run in s["runs"]:
        per = ", ".join(
            f"{g['cpu_us_per_msg']} µs/msg on {_n(g['messages'])}" for g in run["per_gateway"]
        )
        yield (
            f"{run['gateways']} gateways at {_n(run['offered_msg_per_s'])} msg/s offered",
            f"sustained {_n(run['sustained_msg_per_s'])}, p99 {run['latency_ms']['p99']} ms,"
            f" per process {per}; predicts {_n(run['prediction']['gateway_msg_per_s_per_core'])}"
            f" msg/s per gateway core; exactly once {_n(run['checks']['ok'])}",
        )


def markdown(r: JsonDict) -> str:
    rows = list(summary_rows(r))
    noisy = [
        section.get("other_processes_cores", 0.0)
        for section in r.get("rates", {}).get("runs", [])
        if isinstance(section, dict)
    ]
    if noisy and max(noisy) > NOISY_OTHER_CORES:
        rows.insert(
            4,
            ("**warning**", f"other processes used up to {max(noisy):.2f} cores: repeat quiet"),
        )
    lines = ["| metric | value |", "|---|---|"]
    lines += [f"| {k} | {val} |" for k, val in rows]
    return "\n".join(lines)
