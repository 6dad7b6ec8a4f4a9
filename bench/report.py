"""The Markdown summary of a result: one (metric, value) row per number worth reading.

Why it exists: the JSON result holds everything; the table on stdout picks what a reader
compares between runs and flags a run disturbed by other processes. Formatting is separate from
measuring so either can change without the other.
"""

from collections.abc import Iterator

from bench.common import EXTRA_PHASES, PHASES, JsonDict

NOISY_OTHER_CORES = 0.3
"""Above this much foreign CPU load in a phase, the summary warns that the run was disturbed."""


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
    loads = [
        r[p].get("other_processes_cores", 0.0)
        for p in PHASES + EXTRA_PHASES
        if isinstance(r.get(p), dict)
    ]
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
    yield from _off_on_rows("resolution", "4. Resolution", r.get("resolution"))
    yield from _off_on_rows("rules", "5. Rules", r.get("rules"))
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


def _off_on_rows(setting: str, title: str, res: JsonDict | None) -> Iterator[tuple[str, str]]:
    if not res:
        return
    yield (
        f"**{title} off / on** ({res.get('rounds')} interleaved pairs of pre-queued"
        " drains, medians)",
        "",
    )
    if "error" in res:
        yield "error", res["error"].splitlines()[0]
        return
    off, on, ratio = res["off"], res["on"], res["on_over_off"]
    for key, label in (
        ("msg_per_s", "gateway msg/s"),
        ("gateway_during_drain_us", "gateway CPU µs/msg during drain"),
        ("gateway_plus_postgres_us", "gateway + postgres CPU µs/msg"),
    ):
        yield label, f"{_n(off[key])} / {_n(on[key])} (on/off {ratio.get(key)})"
    yield (
        "runs msg/s (off, on in run order)",
        ", ".join(f"{run[setting]} {run['msg_per_s']:,}" for run in res["runs"]),
    )
    yield "other processes on the machine (max)", f"{res['other_processes_cores']:.2f} cores"


def markdown(r: JsonDict) -> str:
    rows = list(summary_rows(r))
    lines = ["| metric | value |", "|---|---|"]
    lines += [f"| {k} | {val} |" for k, val in rows]
    return "\n".join(lines)
