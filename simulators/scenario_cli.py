"""`scgw simulate --scenario NAME|all|none`: scenarios in a clean week, then a report of
expected against produced tickets, per rule (read from the gateway's `GET /v1/tickets`)."""

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from simulators.publisher import DEFAULT_URL, LoginFor, PublishError, parse_mqtt_url, publish
from simulators.scenario_report import Ticket, compare, fetch_tickets, put_watchlist, render
from simulators.scenario_traffic import (
    BACKGROUND_SCALE,
    DAYS,
    AcceleratedClock,
    live_heartbeats,
    replay_end,
    scenario_traffic,
)
from simulators.scenarios import SCENARIO_NAMES, Scenario, build_scenarios

DEFAULT_API_URL = "http://127.0.0.1:8080"
DEFAULT_DATA_DIR = Path("data")
POLL_S = 3.0
WAIT_S = 420.0
PILOTS = ("yida", "jiaxin")


@dataclass(frozen=True, slots=True)
class DemoAccess:
    """What the demo's data folder gives a client: the admin API key, and each device's
    broker login (the demo's broker admits every device under its own account only)."""

    api_key: str
    login_for: LoginFor


DemoAccessReader = Callable[[Path], DemoAccess | None]
"""Reads a demo data folder (None when it is not one); `gateway.demo` provides it."""

_DESCRIPTION = """\
Tell the rules' scenarios in a simulated week of both pilot communities, publish it, and
report, per rule, the tickets expected against the tickets the gateway produced.

Each scenario is one rule's story with its ground truth: an elderly resident living alone who
stops going out (care.no_activity), an unregistered lodger at a unit door on four days
(population.unregistered_frequent), a rented flat whose card opens the door 13 times a day
(housing.suspected_group_rental), visitors to a vacant flat (housing.vacant_activity), a
watch-listed plate (vehicle.watchlist: the plate is put on the watch-list first), a car left
in the car park (vehicle.long_stay), an outside car coming in night after night
(vehicle.unregistered_frequent), a forced door (safety.door_forced), a door propped open
(safety.door_held_open), a blocked fire lane (fire.lane_occupied), an e-bike in the lift
(fire.ebike_in_elevator), something thrown from a height (order.high_altitude_throw), a
visitor who stays (visitor.overstay) and a camera that dies (device.offline, on the gateway's
own clock: it fires once the camera has been silent for its kind's offline_after_s).

The week is the communities' normal traffic around the scenarios, ending at the present:
event times never lie in the future, and all lie in the plausibility window. With --clean the
normal traffic has no anomalies of its own (no forced or held-open doors, no alarms, no outside
car staying or coming night after night), so the report must match exactly; --scenario none
--clean is a clean week that must raise no ticket at all.

--speed X replays the week X times faster than real time, so that its last message is sent
at the moment it happened; without it the week is published as fast as the broker takes it.
device.offline runs on the gateway's clock, not on event time: a replay that takes longer than
the cameras' five minutes leaves the idle ones silent that long in the gateway's eyes (replayed
heartbeats are old news), so the report then shows their device.offline tickets as unexpected.
After publishing, every device keeps sending heartbeats in real time while the report waits
(up to --wait seconds) for the expected tickets.

The gateway must know the devices (scgw simulate yida --write-config) and hold the master data
(scgw simulate masterdata), as the demo does; the defaults talk to a running `scgw demo`.
"""

_EPILOG = f"""\
examples:
  every scenario, against a running demo (its data folder gives the API key and the logins):
    scgw simulate --scenario all --clean
  one scenario, the week replayed in about ten minutes:
    scgw simulate --scenario forced-door --speed 1000 --clean
  a clean week: the report must show nothing expected and nothing produced:
    scgw simulate --scenario none --clean
  against another gateway:
    scgw simulate --scenario all --clean --url mqtt://user:pass@broker:1883 \\
      --api-url http://gw:8080 --api-key KEY

scenarios: {", ".join(SCENARIO_NAMES)}

Exit status: 0 every rule as expected, 1 a mismatch or a broker/API error, 2 bad arguments.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the scenario mode (its --help is the manual)."""
    parser = argparse.ArgumentParser(
        prog="scgw simulate",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--scenario",
        required=True,
        choices=[*SCENARIO_NAMES, "all", "none"],
        metavar="NAME|all|none",
        help="the scenario to tell, all of them, or none (the week alone)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        help="replay the week this many times faster than real time (default: flat out)",
    )
    parser.add_argument(
        "--clean",
        action="store_true",
        help="no anomalies in the normal traffic: only the scenarios raise tickets",
    )
    parser.add_argument("--url", default=DEFAULT_URL, help=f"broker URL (default {DEFAULT_URL})")
    parser.add_argument(
        "--api-url", default=DEFAULT_API_URL, help=f"gateway API (default {DEFAULT_API_URL})"
    )
    parser.add_argument(
        "--api-key",
        help="admin API key (default: $SCGW_ADMIN_API_KEY, else the demo's, from --data-dir)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="a running demo's data folder: its API key, and each device's broker login when "
        "--url names no user (default ./data)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=WAIT_S,
        help=f"seconds to wait for the expected tickets after publishing (default {WAIT_S:.0f}: "
        "the event-time rules answer within a minute or two, device.offline only once the "
        "camera has been silent for its five minutes)",
    )
    parser.add_argument("--days", type=int, default=DAYS, help=f"days simulated (default {DAYS})")
    parser.add_argument(
        "--scale",
        type=float,
        default=BACKGROUND_SCALE,
        help=f"normal traffic's density against a real community's (default {BACKGROUND_SCALE})",
    )
    parser.add_argument("--seed", type=int, default=7, help="community seed (default 7)")
    return parser


def main(argv: list[str], demo_access: DemoAccessReader | None = None) -> int:
    """Run the scenario mode; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.speed is not None and not args.speed > 0:
        parser.error("--speed must be positive")
    if args.days < 1 or not args.scale > 0 or args.wait < 0:
        parser.error("--days must be at least 1, --scale positive, --wait not negative")
    try:
        broker = parse_mqtt_url(args.url)
    except ValueError as exc:
        parser.error(f"--url: {exc}")
    access = demo_access(args.data_dir) if demo_access is not None else None
    api_key = args.api_key or os.environ.get("SCGW_ADMIN_API_KEY") or (access and access.api_key)
    if not api_key:
        parser.error("no API key: give --api-key, set SCGW_ADMIN_API_KEY or run the demo")
    login_for = access.login_for if access is not None and broker.username is None else None
    names = None if args.scenario == "all" else () if args.scenario == "none" else (args.scenario,)
    try:
        return asyncio.run(_run(args, names, api_key, login_for))
    except KeyboardInterrupt:
        return 130


async def _run(
    args: argparse.Namespace,
    names: tuple[str, ...] | None,
    api_key: str,
    login_for: LoginFor | None,
) -> int:
    now = datetime.now(UTC).replace(microsecond=0)
    span = timedelta(days=args.days)
    end = replay_end(now, span, args.speed)
    scenarios = build_scenarios(names, end, args.seed)
    communities = list(dict.fromkeys([*PILOTS, *(s.community for s in scenarios)]))
    async with httpx.AsyncClient(
        base_url=args.api_url, headers={"X-API-Key": api_key}, timeout=10.0
    ) as client:
        try:
            await put_watchlist(client, scenarios)
        except httpx.HTTPError as exc:
            print(f"error: watch-list: {exc}", file=sys.stderr)
            return 1
        touched_since = datetime.now(UTC)
        messages = scenario_traffic(
            scenarios,
            end,
            seed=args.seed,
            days=args.days,
            scale=args.scale,
            clean=args.clean,
        )
        clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731
        if args.speed is not None:
            clock = AcceleratedClock(end - span, args.speed)
        started = time.monotonic()
        try:
            report = await publish(
                messages, url=args.url, login_for=login_for, clock=clock, speed=args.speed or 1.0
            )
        except PublishError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(
            f"published {report.count} messages of {args.days} days ending "
            f"{end.isoformat()} in {time.monotonic() - started:.1f} s",
            file=sys.stderr,
        )
        beats = asyncio.create_task(
            publish(
                live_heartbeats(scenarios, datetime.now(UTC), seed=args.seed),
                url=args.url,
                login_for=login_for,
            )
        )
        try:
            tickets = await _await_tickets(client, scenarios, communities, touched_since, args.wait)
        except httpx.HTTPError as exc:
            print(f"error: reading tickets: {exc}", file=sys.stderr)
            return 1
        finally:
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError, PublishError):
                await beats
    reports = compare((e for s in scenarios for e in s.expected), tickets)
    print(render(reports))
    return 0 if all(r.ok for r in reports) else 1


async def _await_tickets(
    client: httpx.AsyncClient,
    scenarios: tuple[Scenario, ...],
    communities: list[str],
    touched_since: datetime,
    wait_s: float,
) -> list[Ticket]:
    """The run's tickets once every expected one is there, or when `wait_s` has passed."""
    expected = [e for s in scenarios for e in s.expected]
    deadline = time.monotonic() + wait_s
    shown = -1
    while True:
        tickets = await fetch_tickets(client, communities, touched_since=touched_since)
        found = sum(any(e.matches(t) for t in tickets) for e in expected)
        if found != shown:
            print(
                f"{found} of {len(expected)} expected tickets so far, {len(tickets)} in all",
                file=sys.stderr,
                flush=True,
            )
            shown = found
        if expected and found == len(expected):
            return tickets
        if time.monotonic() >= deadline:
            return tickets
        await asyncio.sleep(POLL_S)
