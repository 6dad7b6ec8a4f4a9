"""`scgw simulate --communities N ...`: the district mode of the simulator command.

Kept apart from `simulators.cli` (the pilot communities' positional form, unchanged) so each
parser says only what its mode does.
"""

import argparse
import asyncio
import math
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from simulators.cli_types import aware_datetime
from simulators.district import District
from simulators.district_layout import DISTRICT_COMMUNITIES
from simulators.district_load import DirectImport, LoadReport, load_direct, load_through_api
from simulators.district_publish import DistrictRun, publish_district
from simulators.export import FORMATS, export_master_data
from simulators.publisher import DEFAULT_URL, PublishError, parse_mqtt_url

COMMUNITIES_FLAG: Final = "--communities"

_DESCRIPTION = """\
Simulate the first N communities of Wangcheng district (1 to 141; 1 is Yida Town, 2 Jiaxin
Times Square, the rest generated with made-up people) and publish their device traffic,
write their gateway configuration and grid map, export or load their property master data.

At --scale 1 the whole district holds about 300,000 houses, 800,000 residents, 175,000 cars,
22,000 devices and 589 grids (15-digit codes under 430112); --scale shrinks every generated
community's houses (tests use 0.01 to 0.05). Everything is deterministic: the same --seed gives
the same people, devices and messages; the grid map depends on N and --scale only.

Traffic: every device family of every community, each community at the density its houses
call for, with the day's rhythm (morning and evening peaks, quiet nights). --rate messages a
wall second are published (--duration seconds, or --count messages), and the density is set so
that event time runs about --speed times faster than the wall clock: --speed 3600 plays a day
in 24 s. Events end at the present: by default the run starts --duration x --speed seconds of
event time ago, and a message is never published before its event time. --processes P
publishers share the communities (a device's messages stay on one connection, in order);
--prerender renders each one's share before publishing, for rates beyond what rendering on the
way keeps up with (one process renders a few thousand messages a second).

Master data: --load-masterdata imports every community's houses, residents, vehicles and
credentials through the property import, with a progress bar on stderr: straight into the
store (--database-url or SCGW_DATABASE_URL; SCGW_ID_HASH_KEY), or with --api-url through a
running gateway's PUT /v1/property/{community}/{dataset} (SCGW_ADMIN_API_KEY). The gateway
must serve the same configuration and grid map (--write-config, --write-grids)."""

_EPILOG = f"""\
examples:
  the whole district's configuration and grid map:
    scgw simulate --communities 141 --write-config district.toml --write-grids grids.toml
  load its master data into PostgreSQL (minutes; README "Simulated master data"):
    SCGW_ID_HASH_KEY=... scgw simulate --communities 141 --load-masterdata \\
        --database-url postgresql://scgw@127.0.0.1/scgw
  ten minutes at 5,000 msg/s, an hour of event time a minute, from two processes:
    scgw simulate --communities 141 --rate 5000 --duration 600 --speed 60 --processes 2 \\
        --url {DEFAULT_URL}
  a small district for a quick look:
    scgw simulate --communities 5 --scale 0.05 --rate 200 --duration 10 --url {DEFAULT_URL}

Progress goes to stderr; the final summary to stdout. Exit status: 0 done, 1 broker or
import error, 2 bad arguments, 130 interrupted."""


def _number(
    kind: type[int] | type[float], low: float, low_open: bool = False
) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, not {text!r}")
        if value < low or (low_open and value == low):
            raise argparse.ArgumentTypeError(
                f"must be {'above' if low_open else 'at least'} {low:g}"
            )
        return value

    return parse


def _communities(text: str) -> int:
    value = int(_number(int, 1)(text))
    if value > DISTRICT_COMMUNITIES:
        raise argparse.ArgumentTypeError(
            f"the district has {DISTRICT_COMMUNITIES} communities: give 1 to {DISTRICT_COMMUNITIES}"
        )
    return value


def _scale(text: str) -> float:
    value = _number(float, 0.0, low_open=True)(text)
    if value > 1:
        raise argparse.ArgumentTypeError("must be at most 1 (1 is the real district)")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The district mode's parser (its --help is the mode's manual)."""
    parser = argparse.ArgumentParser(
        prog="scgw simulate",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        COMMUNITIES_FLAG,
        type=_communities,
        metavar="N",
        required=True,
        help=f"how many of the district's communities (1 to {DISTRICT_COMMUNITIES})",
    )
    parser.add_argument(
        "--scale",
        type=_scale,
        default=1.0,
        help="size of each generated community, 0 < S <= 1 (default 1: the real district)",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of people and traffic (7)")
    parser.add_argument("--url", help="broker URL, mqtt://[user:pass@]host[:port]; publish to it")
    parser.add_argument(
        "--rate",
        type=_number(float, 0.0),
        default=1000.0,
        help="messages per wall second over all processes (default 1000; 0 = flat out, "
        "needs --count)",
    )
    parser.add_argument(
        "--duration",
        type=_number(float, 0.0, low_open=True),
        default=60.0,
        help="seconds to publish for at --rate (default 60)",
    )
    parser.add_argument(
        "--count", type=_number(int, 1), help="messages to publish (default: rate x duration)"
    )
    parser.add_argument(
        "--speed",
        type=_number(float, 0.0, low_open=True),
        default=1.0,
        help="event seconds per wall second (default 1; 3600 = an hour a second)",
    )
    parser.add_argument(
        "--start",
        type=aware_datetime,
        help="event time of the first message, with offset (default: so the run ends now)",
    )
    parser.add_argument("--processes", type=_number(int, 1), default=1, help="publishers (1)")
    parser.add_argument("--qos", type=int, choices=(0, 1), default=1, help="default 1")
    parser.add_argument(
        "--prerender", action="store_true", help="render each process's share before publishing"
    )
    parser.add_argument(
        "--clean", action="store_true", help="leave out the anomalies that raise tickets"
    )
    parser.add_argument(
        "--no-heartbeats", action="store_true", help="leave out the devices' heartbeats"
    )
    parser.add_argument("--write-config", type=Path, metavar="PATH", help="gateway TOML config")
    parser.add_argument("--write-grids", type=Path, metavar="PATH", help="grid map TOML")
    parser.add_argument(
        "--export-masterdata",
        type=Path,
        metavar="DIR",
        help="write each community's datasets as {community}-{dataset}.{format} files",
    )
    parser.add_argument("--format", choices=FORMATS, default="json", help="export format (json)")
    parser.add_argument(
        "--load-masterdata",
        action="store_true",
        help="import every community's master data (into --database-url, or via --api-url)",
    )
    parser.add_argument("--database-url", help="postgresql://... or sqlite:///... (direct load)")
    parser.add_argument("--api-url", help="a running gateway's API, to load through it")
    parser.add_argument("--api-key", help="its admin key (default SCGW_ADMIN_API_KEY)")
    return parser


def main(argv: list[str], direct_import: DirectImport | None = None) -> int:
    """Run the district mode; the exit status. `direct_import` opens the store for
    `--load-masterdata` without `--api-url` (`gateway.masterdata.bulk.direct_import`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.url is not None:
        try:
            parse_mqtt_url(args.url)
        except ValueError as exc:
            parser.error(f"--url: {exc}")
    if args.rate == 0 and args.count is None and args.url is not None:
        parser.error("--rate 0 publishes flat out: give --count")
    actions = (args.url, args.write_config, args.write_grids, args.export_masterdata)
    if all(a is None for a in actions) and not args.load_masterdata:
        parser.error(
            "nothing to do: give --url, --write-config, --write-grids, --export-masterdata "
            "or --load-masterdata"
        )
    district = District(args.communities, args.scale, args.seed)
    print(
        f"district: {len(district.communities)} communities, {district.grids} grids, "
        f"{district.houses:,} houses, {district.devices:,} devices (scale {args.scale:g})",
        file=sys.stderr,
    )
    try:
        _write_files(district, args)
        if args.load_masterdata:
            try:
                report = _load(district, args, parser, direct_import)
            except (OSError, RuntimeError, ValueError) as exc:
                # its kind only: an import failure's text may quote a row
                print(
                    f"error: the load failed ({type(exc).__name__}); rows imported before"
                    " stay imported",
                    file=sys.stderr,
                )
                return 1
            rows = {dataset: sum(c.values()) for dataset, c in report.rows.items()}
            print(
                f"loaded {report.total:,} rows in {report.seconds / 60:.1f} min: "
                + ", ".join(f"{n:,} {d}" for d, n in rows.items())
                + f"; {report.rejected} rejected"
            )
            if report.rejected:
                return 1
        if args.url is not None:
            return _publish(district, args, parser)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def _write_files(district: District, args: argparse.Namespace) -> None:
    if args.write_grids is not None:
        district.write_grid_map(args.write_grids)
        print(f"wrote {district.grids} grids to {args.write_grids}", file=sys.stderr)
    if args.write_config is not None:
        district.write_gateway_config(args.write_config)
        print(f"wrote {district.devices:,} devices to {args.write_config}", file=sys.stderr)
    if args.export_masterdata is not None:
        args.export_masterdata.mkdir(parents=True, exist_ok=True)
        for code in district.communities:
            export_master_data(district.master(code), args.export_masterdata, args.format)
        print(f"wrote master data files to {args.export_masterdata}", file=sys.stderr)


def _load(
    district: District,
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    direct_import: DirectImport | None,
) -> LoadReport:
    if args.api_url is not None:
        key = args.api_key or os.environ.get("SCGW_ADMIN_API_KEY")
        if not key:
            parser.error("loading through the API needs --api-key or SCGW_ADMIN_API_KEY")
        return asyncio.run(load_through_api(district, args.api_url, key))
    if direct_import is None:
        parser.error("a direct load needs the gateway's importer: run it as scgw simulate")
    if not os.environ.get("SCGW_ID_HASH_KEY"):
        parser.error("SCGW_ID_HASH_KEY is not set: it hashes the ID numbers")
    return asyncio.run(load_direct(district, direct_import, args.database_url))


def _publish(district: District, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    rate = args.rate or None
    count = int(args.count or round(args.rate * args.duration))
    if args.start is not None:
        start = args.start
    else:
        per_second = district.messages_per_hour(rate, args.speed) / 3600.0
        start = datetime.now(UTC) - timedelta(seconds=math.ceil(count / per_second))
    try:
        district.hourly_rates(rate, args.speed)
    except ValueError as exc:
        parser.error(str(exc))
    run = DistrictRun(
        communities=args.communities,
        scale=args.scale,
        seed=args.seed,
        start=start.replace(microsecond=0),
        speed=args.speed,
        rate=rate,
        count=count,
        url=args.url,
        processes=int(args.processes),
        qos=args.qos,
        prerender=args.prerender,
        heartbeats=not args.no_heartbeats,
        clean=args.clean,
    )
    started = time.monotonic()

    def show(acked: int) -> None:
        elapsed = time.monotonic() - started
        print(f"published {acked:,} messages ({elapsed:.0f} s)", file=sys.stderr, flush=True)

    try:
        report = publish_district(run, show)
    except PublishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    broker = parse_mqtt_url(args.url)
    print(
        f"published {report.count:,} messages of {len(district.communities)} communities to "
        f"mqtt://{broker.host}:{broker.port} in {report.seconds:.2f} s ({report.rate:,.0f} msg/s,"
        f" {len(report.parts)} process(es))"
    )
    return 0
