"""The gateway's pipeline in-process, per dialect: CPU µs per message, no broker, no database.

Why it exists: the district benchmark measures the whole gateway process, where parsing,
screening and enrichment are one share among receive, commit and rules, on a machine shared
with the broker and the database. To cut the pipeline's own cost, each dialect is measured
alone: the district's messages (`simulators.district`) are rendered once, grouped by the
dialect their topic routes to, and each group is run through the production pipeline
(`gateway.runtime.build_pipeline`: route, sender check, parse, plausible time, enrich,
resolve) in batches, timed with `time.process_time`. Rounds interleave the dialects, so a
machine getting busier hits all of them alike; the median round is reported.

    .venv/bin/python -m bench.pipeline_cost --communities 3 --messages 20000 --rounds 5
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.config import Settings, load_config
from gateway.messages import InboundMessage
from gateway.pipeline import Pipeline
from gateway.runtime import build_pipeline
from simulators.district import District

HASH_KEY = "bench-pipeline-cost-hash-key-0123456789"
LEAD = timedelta(hours=1)


def render(communities: int, scale: float, count: int, seed: int) -> list[tuple[str, bytes]]:
    """`count` district messages from the first `communities`, all at least `LEAD` old."""
    district = District(communities, scale, seed)
    rates = district.hourly_rates()
    per_hour = sum(r.door_events for r in rates.values()) + district.heartbeats_per_hour()
    hours = count / max(per_hour, 1.0) * 1.5 + 0.5
    start = datetime.now(UTC).replace(microsecond=0) - LEAD - timedelta(hours=hours)
    messages: list[tuple[str, bytes]] = []
    for record in district.records(start):
        messages.append((record.topic, record.payload))
        if len(messages) >= count:
            break
    return messages


def build(communities: int, scale: float, seed: int) -> Pipeline:
    """The production pipeline for the district's generated configuration."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "gateway.toml"
        District(communities, scale, seed).write_gateway_config(path)
        config = load_config(path)
    return build_pipeline(Settings(), config, HASH_KEY)


def by_dialect(
    pipeline: Pipeline, messages: Sequence[tuple[str, bytes]]
) -> dict[str, list[InboundMessage]]:
    """The messages as the gateway receives them, grouped by the dialect their topic routes to."""
    groups: dict[str, list[InboundMessage]] = defaultdict(list)
    now = datetime.now(UTC)
    for topic, payload in messages:
        message = InboundMessage(topic, payload, now, time.monotonic())
        routed = pipeline._route(message)  # the grouping is the route's own answer
        groups[routed.dialect].append(message)
    return dict(sorted(groups.items()))


def cost_us(pipeline: Pipeline, messages: Sequence[InboundMessage], batch: int) -> float:
    """CPU µs per message of running `messages` through `pipeline` in batches of `batch`."""
    started = time.process_time()
    for offset in range(0, len(messages), batch):
        pipeline(messages[offset : offset + batch])
    return (time.process_time() - started) / len(messages) * 1e6


def measure(
    pipeline: Pipeline, groups: dict[str, list[InboundMessage]], rounds: int, batch: int
) -> dict[str, dict[str, float]]:
    """Per dialect: messages, dead letters, events, and the median µs/msg over `rounds`."""
    result: dict[str, dict[str, float]] = {}
    samples: dict[str, list[float]] = defaultdict(list)
    for dialect, messages in groups.items():  # one warm-up pass: caches as in a running gateway
        processed = pipeline(messages)
        result[dialect] = {
            "messages": len(messages),
            "events": len(processed.events),
            "dead_letters": len(processed.dead_letters),
        }
    for _ in range(rounds):
        for dialect, messages in groups.items():
            samples[dialect].append(cost_us(pipeline, messages, batch))
    everything = sum(len(m) for m in groups.values())
    weighted = 0.0
    for dialect, values in samples.items():
        result[dialect]["us_per_msg"] = round(statistics.median(values), 1)
        result[dialect]["spread"] = round(max(values) - min(values), 1)
        weighted += result[dialect]["us_per_msg"] * result[dialect]["messages"]
    result["mix"] = {"messages": everything, "us_per_msg": round(weighted / everything, 1)}
    return result


def table(result: dict[str, dict[str, float]]) -> str:
    lines = ["| dialect | messages | events | dead letters | µs/msg (median) | spread |"]
    lines.append("|---|---:|---:|---:|---:|---:|")
    for dialect, row in result.items():
        if dialect == "mix":
            continue
        lines.append(
            f"| {dialect} | {row['messages']:.0f} | {row['events']:.0f} |"
            f" {row['dead_letters']:.0f} | {row['us_per_msg']:.1f} | {row['spread']:.1f} |"
        )
    mix = result["mix"]
    lines.append(f"| **district mix** | {mix['messages']:.0f} | | | {mix['us_per_msg']:.1f} | |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pipeline_cost",
        description="CPU µs per message of the gateway's pipeline (route, parse, screen, "
        "enrich, resolve), per dialect, in-process, on district messages.",
    )
    parser.add_argument("--communities", type=int, default=3, help="district size (default 3)")
    parser.add_argument("--scale", type=float, default=1.0, help="community scale (default 1)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--messages", type=int, default=20_000, help="rendered (default 20,000)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--batch", type=int, default=1000, help="messages per pipeline call")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument(
        "--only", help="comma-separated dialects to run (for profiling one dialect)"
    )
    args = parser.parse_args(argv)
    print("rendering...", file=sys.stderr)
    messages = render(args.communities, args.scale, args.messages, args.seed)
    pipeline = build(args.communities, args.scale, args.seed)
    groups = by_dialect(pipeline, messages)
    if args.only:
        wanted = set(args.only.split(","))
        groups = {d: m for d, m in groups.items() if d in wanted}
    print("measuring...", file=sys.stderr)
    result = measure(pipeline, groups, args.rounds, args.batch)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
