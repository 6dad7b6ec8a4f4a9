"""Command line for the simulators: publish a community's device traffic, write its config, or
export its property master data (`scgw simulate masterdata ...`).

Kept apart from `simulators.__main__` so tests can call `main([...])` directly.
"""

import argparse
import asyncio
import math
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

from simulators.cli_types import aware_datetime
from simulators.community import PILOT_LAYOUTS, Community
from simulators.config_toml import community_config_toml
from simulators.district_cli import COMMUNITIES_FLAG
from simulators.district_cli import main as district_main
from simulators.district_load import DirectImport
from simulators.export import CSV_ENCODINGS, FORMATS, export_master_data
from simulators.hik_isapi import HikDoorStream
from simulators.masterdata import community_master_data
from simulators.publisher import DEFAULT_URL, PublishError, parse_mqtt_url, publish
from simulators.scenario_cli import DemoAccessReader
from simulators.scenario_cli import main as scenario_main
from simulators.traffic import SimMessage
from simulators.yida_mix import HourlyRates, YidaTraffic, door_records

SECOND = timedelta(seconds=1)
ENDING_ROUNDS = 4
"""Dry runs `ending_now` takes to move the last message to the present by measured jumps."""
ENDING_SCAN_S = 10
"""Then the starts up to this many seconds either side are tried, one second apart."""

PILOT_COMMUNITIES: dict[str, Callable[[int], Community]] = PILOT_LAYOUTS
"""Communities the command knows by code; each builds its layout from a seed."""
MASTERDATA_COMMAND = "masterdata"
SCENARIO_FLAG = "--scenario"

_DESCRIPTION = """\
Simulate the devices of a pilot community and publish their messages to an MQTT broker.

--mix all (the default) publishes every device family, merged in event-time order, on
{community}/{dialect}/{device_id}: door controllers (hik-isapi) at the unit doors and gates,
cloud doors (access-cloud), face and vehicle capture cameras (gat1400), barrier gates
(barrier-gate), the visitor service (visitor-cloud), behaviour alarms (camera-alarm), and
every device's heartbeat on {community}/status/{device_id}. An hour holds about 600 door
events, 40 cloud door records, 200 faces, 120 barrier reads and their capture photos, 20
visitor messages, 2 alarms and 850 heartbeats. --mix doors publishes the door controllers'
Hikvision ISAPI events only, on {community}/hik-isapi/{device_id}.

Everything is deterministic: the same --seed gives the same residents, devices and event
stream. Event times end at the present, never in the future: by default the --count messages
are planned to end now (with --count 0, the stream starts now and runs in real time), and a
message is never published before its event time, so a run with an earlier --start is
published as fast as --rate allows until it reaches the present, then in real time. The same
--seed and --start give the same events. --rate only paces the publishing in wall time.

The gateway must know the devices: --write-config writes the TOML [[communities]],
[[devices]] and [[topics]] tables for the same community and seed.
"""

_EPILOG = f"""\
examples:
  write the gateway's config only (no --url: nothing is published):
    scgw simulate yida --write-config config/yida.toml
  publish 1000 messages of every family at 50 messages/s to a local broker:
    scgw simulate yida --url mqtt://127.0.0.1:1883 --rate 50 --count 1000
  one simulated hour of the full mix (about 1,900 messages), flat out:
    scgw simulate yida --url {DEFAULT_URL} --rate 0 --count 1900
  write the config, then publish until Ctrl-C:
    scgw simulate yida --write-config yida.toml --url {DEFAULT_URL} --count 0
  Jiaxin Times Square, the other pilot community, at 20 messages/s:
    scgw simulate jiaxin --write-config jiaxin.toml --url {DEFAULT_URL} --rate 20
  both communities' property master data as CSV files, to try scgw import by hand:
    scgw simulate masterdata --format csv --out masterdata/
  the whole district (141 communities) at 5,000 msg/s, an hour of event time a minute:
    scgw simulate --communities 141 --rate 5000 --speed 60 --url {DEFAULT_URL}
                                                (see scgw simulate --communities 1 --help)
  the rules' scenarios in a simulated week, and a report of the tickets they raised:
    scgw simulate --scenario all --clean          (see scgw simulate --scenario all --help)
  flat out, 100k door events (a throughput run; one process is CPU-bound, about 9k msg/s
  on a 2-core box, and more --connections rarely help it):
    scgw simulate yida --url mqtt://user:pass@broker:1883 --mix doors --rate 0 --count 100000

Progress goes to stderr once a second; the final summary to stdout. Exit status: 0 done,
1 broker error, 2 bad arguments, 130 interrupted.
"""


def _non_negative(kind: type[int] | type[float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError("must not be negative")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (its --help is the command's manual)."""
    parser = argparse.ArgumentParser(
        prog="scgw simulate",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("community", choices=sorted(PILOT_COMMUNITIES), help="community code")
    parser.add_argument(
        "--url",
        help=f"broker URL, mqtt://[user:pass@]host[:port] or mqtts://... (e.g. {DEFAULT_URL}); "
        "without it, only --write-config runs",
    )
    parser.add_argument(
        "--rate",
        type=_non_negative(float),
        default=50.0,
        help="messages per second, wall time (default 50; 0 = as fast as the broker acks)",
    )
    parser.add_argument(
        "--count",
        type=_non_negative(int),
        default=1000,
        help="messages to publish (default 1000; 0 = until Ctrl-C)",
    )
    parser.add_argument(
        "--seed", type=int, default=7, help="seed for residents, devices and events (default 7)"
    )
    parser.add_argument(
        "--start",
        type=aware_datetime,
        help="event time of the stream's start, with offset, not in the future (default: so "
        "that the --count messages end now; with --count 0, now)",
    )
    parser.add_argument(
        "--events-per-hour",
        type=float,
        default=600.0,
        help="event-time density: door messages per simulated hour (default 600); with "
        "--mix all, every other stream but the heartbeats scales with it",
    )
    parser.add_argument(
        "--mix",
        choices=("all", "doors"),
        default="all",
        help="all device families (default), or the door controllers' events only",
    )
    parser.add_argument(
        "--connections", type=int, default=1, help="MQTT connections to spread devices over"
    )
    parser.add_argument("--qos", type=int, choices=(0, 1, 2), default=1, help="default 1")
    parser.add_argument(
        "--clean",
        action="store_true",
        help="leave out the anomalies the rules turn into tickets: forced and held-open doors, "
        "behaviour alarms, outside cars left in the car park or coming night after night",
    )
    parser.add_argument(
        "--write-config",
        type=Path,
        metavar="PATH",
        help="write the gateway's TOML config for this community and seed to PATH",
    )
    return parser


def _progress(started: float) -> Callable[[int], None]:
    def show(count: int) -> None:
        elapsed = time.monotonic() - started
        speed = count / elapsed if elapsed > 0 else 0.0
        print(f"published {count} messages ({speed:.0f}/s)", file=sys.stderr, flush=True)

    return show


def _records(
    community: Community, args: argparse.Namespace, start: datetime
) -> Iterator[SimMessage]:
    """The `--count` first messages of the chosen mix from `start` (all for `--count 0`)."""
    count = args.count or None
    if args.mix == "doors":
        stream = HikDoorStream(community, args.seed, start, args.events_per_hour, clean=args.clean)
        return islice(door_records(stream), count)
    rates = HourlyRates().scaled(args.events_per_hour / HourlyRates().door_events)
    traffic = YidaTraffic(community, args.seed, start, None, rates, clean=args.clean)
    return islice(traffic.records(), count)


def ending_now(community: Community, args: argparse.Namespace, now: datetime) -> datetime:
    """The start at which the `--count` messages end within the second before `now` (with
    `--count 0`: `now`, and the stream runs in real time).

    The streams plan in offsets from a start on a whole second, so a dry run from `now`
    measures how far to move back (rounded up to whole seconds) and further dry runs check it.
    Rates follow the hour of day, so moving the start can reshape the stream's end: when the
    jumps never land in that second, the start whose last message comes latest without
    passing `now` is taken. Anything left ahead the publisher absorbs: it holds a message until
    its time has come.
    """
    if not args.count:
        return now
    best: tuple[datetime, datetime] | None = None  # (last message, start), last <= now
    tried: set[datetime] = set()
    start = now
    for _ in range(ENDING_ROUNDS):
        last = last_planned_at(community, args, start)
        tried.add(start)
        if last <= now and (best is None or last > best[0]):
            best = (last, start)
        if now - SECOND < last <= now:
            return start
        start -= timedelta(seconds=math.ceil((last - now).total_seconds()) or 1)
    anchor = best[1] if best is not None else start
    for offset in sorted(range(-ENDING_SCAN_S, ENDING_SCAN_S + 1), key=abs):
        candidate = anchor + timedelta(seconds=offset)
        if candidate in tried:
            continue
        last = last_planned_at(community, args, candidate)
        if last <= now and (best is None or last > best[0]):
            best = (last, candidate)
            if now - SECOND < last:
                break
    return best[1] if best is not None else start


def last_planned_at(community: Community, args: argparse.Namespace, start: datetime) -> datetime:
    """The time of the last message planned from `start` (a dry run)."""
    last = start
    for record in _records(community, args, start):
        last = record.at
    return last


def build_masterdata_parser() -> argparse.ArgumentParser:
    """`scgw simulate masterdata`: the property master data of the simulated communities."""
    parser = argparse.ArgumentParser(
        prog=f"scgw simulate {MASTERDATA_COMMAND}",
        description="Write the property master data (houses, residents, vehicles, credentials) "
        "of a simulated community, consistent with its device traffic for the same --seed, as "
        "files the importer takes: one file per dataset, {community}-{dataset}.{format}. Import "
        "them in that order (houses first), e.g. scgw import houses DIR/yida-houses.csv "
        "--community yida. The data is made up: no real person's.",
    )
    parser.add_argument(
        "--community",
        choices=[*sorted(PILOT_COMMUNITIES), "all"],
        default="all",
        help="community code (default: all pilot communities)",
    )
    parser.add_argument("--format", choices=FORMATS, default="csv", help="default csv")
    parser.add_argument(
        "--encoding",
        choices=CSV_ENCODINGS,
        default="utf-8",
        help="CSV text encoding (default utf-8; utf-8-sig adds a BOM; gbk as many property "
        "systems export)",
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write to")
    parser.add_argument("--seed", type=int, default=7, help="community seed (default 7)")
    return parser


def masterdata_main(argv: list[str]) -> int:
    """Export master data files; returns the exit status."""
    args = build_masterdata_parser().parse_args(argv)
    codes = sorted(PILOT_COMMUNITIES) if args.community == "all" else [args.community]
    for code in codes:
        data = community_master_data(PILOT_COMMUNITIES[code](args.seed), args.seed)
        for path in export_master_data(data, args.out, args.format, encoding=args.encoding):
            print(path)
    return 0


def _flagged(arguments: list[str], flag: str) -> bool:
    return any(a == flag or a.startswith(flag + "=") for a in arguments)


def _other_mode(
    arguments: list[str],
    demo_access: DemoAccessReader | None,
    direct_import: DirectImport | None,
) -> int | None:
    """Run `masterdata`, the scenario mode or the district mode if asked; None if not."""
    if arguments[:1] == [MASTERDATA_COMMAND]:
        return masterdata_main(arguments[1:])
    if _flagged(arguments, SCENARIO_FLAG):
        return scenario_main(arguments, demo_access)
    if _flagged(arguments, COMMUNITIES_FLAG):
        return district_main(arguments, direct_import)
    return None


def main(
    argv: list[str] | None = None,
    demo_access: DemoAccessReader | None = None,
    direct_import: DirectImport | None = None,
) -> int:
    """Run the command; returns the process exit status. `demo_access` reads a demo's data
    folder for the scenario mode (`simulators.scenario_cli`); `direct_import` opens the store
    for the district mode's direct master-data load (`simulators.district_load`)."""
    arguments = sys.argv[1:] if argv is None else argv
    other = _other_mode(arguments, demo_access, direct_import)
    if other is not None:
        return other
    parser = build_parser()
    args = parser.parse_args(arguments)
    if args.events_per_hour <= 0:
        parser.error("--events-per-hour must be positive")
    if args.connections < 1:
        parser.error("--connections must be at least 1")
    if args.url is not None:
        try:
            broker = parse_mqtt_url(args.url)
        except ValueError as exc:
            parser.error(f"--url: {exc}")
        # Never echo the password: summaries end up in logs and CI output.
        shown_url = f"{'mqtts' if broker.tls else 'mqtt'}://{broker.host}:{broker.port}"
    now = datetime.now(UTC).replace(microsecond=0)
    if args.start is not None and args.start > now:
        parser.error("--start is in the future: simulated events end at the present")
    community = PILOT_COMMUNITIES[args.community](args.seed)

    if args.write_config is not None:
        args.write_config.write_text(community_config_toml(community), encoding="utf-8")
        print(f"wrote {len(community.devices)} devices to {args.write_config}", file=sys.stderr)
        if args.url is None:
            return 0
    elif args.url is None:
        parser.error("nothing to do: give --url to publish and/or --write-config to write")

    messages = _records(community, args, args.start or ending_now(community, args, now))
    started = time.monotonic()
    progress = _progress(started)
    acked = [0]

    def remember(count: int) -> None:
        acked[0] = count
        progress(count)

    try:
        report = asyncio.run(
            publish(
                messages,
                url=args.url,
                qos=args.qos,
                rate=args.rate or None,
                connections=args.connections,
                progress=remember,
            )
        )
    except KeyboardInterrupt:
        print(f"interrupted; at least {acked[0]} messages acknowledged", file=sys.stderr)
        return 130
    except PublishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    what = "door events" if args.mix == "doors" else "messages"
    print(
        f"published {report.count} {args.community} {what} to {shown_url} in "
        f"{report.seconds:.2f} s ({report.rate:.0f} msg/s, {report.connections} connection(s))"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
