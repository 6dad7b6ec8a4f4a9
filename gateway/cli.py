"""`scgw`: the command line of the smart-community gateway.

Subcommands: `run` (production: external broker and TimescaleDB), `demo` (everything embedded),
`migrate` (apply schema migrations), `import` (property master data, `gateway.masterdata.command`),
`keys` (API keys, `gateway.keys_cli`),
`simulate` (publish the pilot communities' simulated device traffic, or export their master data),
`platform-receiver` (the reference grid platform, `gateway.platform_receiver`) and
`platform-schemas` (write the platform contract's JSON Schemas), `permissions` (who may call
what, `gateway.api.permissions_table`) and `openapi` (write the API's OpenAPI document,
`gateway.openapi_cli`).
"""

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from gateway.api.app import create_app
from gateway.config import Settings, load_config
from gateway.errors import ConfigError, GatewayError
from gateway.grids import GridMap
from gateway.keys_cli import add_parser as add_keys_parser
from gateway.keys_cli import run_keys
from gateway.logs import configure_logging
from gateway.masterdata.command import add_parser as add_import_parser
from gateway.masterdata.command import run_import
from gateway.platform_receiver import run_receiver
from gateway.platform_schemas import write_platform_schemas
from gateway.responsibility import ResponsibilityList
from gateway.rules.catalog import configured_catalog
from gateway.runtime import Secrets
from gateway.serve import api_server, serve
from gateway.store import open_store
from gateway.store.reach import check_reachable
from gateway.store.upgrade import RowRules
from gateway.tickets import TicketDrafter
from simulators.cli import main as simulate

EXIT_CONFIG_ERROR = 2

_EPILOG = """\
Every option also has an environment variable (SCGW_<NAME>, e.g. SCGW_MQTT_URL); a flag wins
over the environment. Structured configuration (communities, devices, topic bindings) lives in
a TOML file given by --config or SCGW_CONFIG. See README.md for the full reference.

examples:
  scgw demo                                   # everything embedded, API on 127.0.0.1:8080
  SCGW_ADMIN_API_KEY=... SCGW_ID_HASH_KEY=... \\
    scgw run --mqtt-url mqtt://127.0.0.1:1883 --database-url postgresql://scgw@db/scgw
  scgw migrate --database-url postgresql://scgw@db/scgw
  scgw import residents residents.csv --community yida --url http://127.0.0.1:8080
  scgw keys create --role property --community yida --name "亿达物业" --expires 90d
  scgw simulate --help
  scgw platform-receiver --port 9100 --secret "$SCGW_PLATFORM_SECRET" --out received.jsonl
"""

_RECEIVER_EPILOG = """\
what it does (docs/platform-contract.md is the full contract):
  POST {base}/tickets                  a new ticket -> 201 {"platform_ticket_id": "gp-000001"}
  POST {base}/tickets/{id}/updates     evidence or cancellation -> 201 {"update_id": "..."}
  Any path prefix is accepted as {base}. Each request must carry X-Scgw-Timestamp (unix
  seconds, within 300 s of this machine's clock), X-Scgw-Signature (hex HMAC-SHA256 of
  METHOD\\nTARGET\\nTIMESTAMP\\nBODY under --secret) and Idempotency-Key; otherwise 401/400.
  A repeated Idempotency-Key gets the first answer again with 200. Accepted messages are
  appended to --out as JSON lines (read back at start, so ids survive a restart); one line
  per ticket, update or refusal is printed.

point a gateway at it:
  scgw platform-receiver --port 9100 --secret "$SECRET" --out received.jsonl
  SCGW_PLATFORM_URL=http://127.0.0.1:9100 SCGW_PLATFORM_SECRET="$SECRET" scgw run ...
"""


def _add_connection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML file with communities, devices, topics")
    parser.add_argument("--mqtt-url", help="broker, mqtt://[user:pass@]host[:port]")
    parser.add_argument("--database-url", help="postgresql://... or sqlite:///path")
    parser.add_argument("--api-host", help="address the API listens on (default 127.0.0.1)")
    parser.add_argument("--api-port", type=int, help="port the API listens on (default 8080)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scgw",
        description="Smart-community gateway: community devices over MQTT into the district's"
        " population, housing and vehicle models.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="production: external MQTT broker, PostgreSQL + TimescaleDB",
        description="Run the gateway against an external broker and database. Refuses to start"
        " without SCGW_ADMIN_API_KEY and SCGW_ID_HASH_KEY (24+ characters each).",
    )
    _add_connection_flags(run)

    demo = commands.add_parser(
        "demo",
        help="everything embedded: broker, SQLite store, the pilot communities' simulators, API",
        description="One process with an embedded MQTT broker, a SQLite store under --data-dir,"
        " the master data of Yida Town and Jiaxin Times Square imported at start, their"
        " simulators publishing every device dialect, and the API. Ctrl-C stops it"
        " all.",
    )
    demo.add_argument("--api-port", type=int, default=8080, help="API port (default 8080)")
    demo.add_argument("--mqtt-port", type=int, default=1883, help="broker port (default 1883)")
    demo.add_argument(
        "--mqtt-host",
        default="127.0.0.1",
        help="broker listen address (default 127.0.0.1; 0.0.0.0 lets devices on the network in)",
    )
    demo.add_argument("--data-dir", type=Path, default=Path("data"), help="default ./data")
    demo.add_argument(
        "--rate",
        type=float,
        default=5.0,
        help="simulated door events per second per community; the other devices scale with it"
        " (default 5)",
    )
    demo.add_argument("--no-simulator", action="store_true", help="start without the simulator")
    demo.add_argument(
        "--platform-port",
        type=int,
        default=8081,
        help="port of the reference grid platform the demo starts and forwards tickets to"
        " (default 8081; 0: none, tickets stay local)",
    )
    demo.add_argument(
        "--device-password",
        metavar="DEVICE_ID",
        help="print the embedded broker's password for this device (its user name) and exit",
    )

    migrate = commands.add_parser(
        "migrate",
        help="apply pending schema migrations and exit",
        description="Apply pending"
        " schema migrations (also done at every start-up) and print what was applied.",
    )
    migrate.add_argument("--database-url", help="postgresql://... or sqlite:///path")

    add_import_parser(commands)
    add_keys_parser(commands)

    receiver = commands.add_parser(
        "platform-receiver",
        help="the reference grid platform: verifies, numbers and keeps the tickets sent to it",
        description="A small HTTP server implementing the platform side of the ticket contract,"
        " for tests, the demo and the platform vendor's integrators.",
        epilog=_RECEIVER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    receiver.add_argument("--port", type=int, required=True, help="port to listen on")
    receiver.add_argument(
        "--secret",
        help="the HMAC secret shared with the gateway (default: $SCGW_PLATFORM_SECRET)",
    )
    receiver.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    receiver.add_argument("--out", type=Path, help="JSON-lines file of what was accepted")

    schemas = commands.add_parser(
        "platform-schemas",
        help="write the platform contract's JSON Schemas (docs/platform/*.schema.json)",
        description="Generate the JSON Schemas of the messages to and from the grid platform"
        " from the gateway's own models (schemas.platform).",
    )
    schemas.add_argument(
        "--out", type=Path, default=Path("docs/platform"), help="folder (default docs/platform)"
    )

    permissions = commands.add_parser(
        "permissions",
        help="print who may call what: each endpoint, its permission, the roles holding it",
        description="The permission table, generated from the routes (gateway.access).",
    )
    permissions.add_argument("--readme", type=Path, help="write the table into this README")

    openapi = commands.add_parser(
        "openapi",
        help="write the API's OpenAPI document (committed as docs/openapi.json)",
        description="Write the OpenAPI document the code describes: sorted keys, indent 2.",
    )
    openapi.add_argument("--output", type=Path, help="file to write (default: stdout)")

    commands.add_parser(
        "simulate",
        help="publish a pilot community's simulated device traffic, or export the simulated"
        " property master data (see scgw simulate --help)",
        add_help=False,
    )
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    names = ("config", "mqtt_url", "database_url", "api_host", "api_port")
    overrides = {name: getattr(args, name, None) for name in names}
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


async def _run(settings: Settings) -> int:
    admin_key, hash_key = settings.require_secrets()
    settings.require_dead_letter_key()  # a weak or missing key stops us before anything opens
    settings.require_platform_secret()
    config = load_config(settings.config)
    # The data files are read here once more: uvicorn reports a failed start-up by the error's
    # type only, and a broken file must stop the gateway with its file, line and reason.
    grids = GridMap.load(settings.grids)
    responsibility = ResponsibilityList.load(settings.responsibility)
    if settings.rules:  # the rules' overrides, and a category of the list for every rule
        TicketDrafter(responsibility, grids, configured_catalog(config, settings.config))
    app = create_app(settings, config, Secrets(admin_key, hash_key))
    return await serve(
        api_server(app, settings.api_host, settings.api_port, settings.api_forwarded_allow_ips)
    )


async def _migrate(settings: Settings) -> int:
    await check_reachable(settings.database_url)  # seconds, not the pool's patient 30
    store = open_store(settings.database_url)
    await store.open()
    try:
        applied = await store.migrate(RowRules.of(settings, load_config(settings.config)))
    finally:
        await store.close()
    print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")
    return 0


def _platform_receiver(args: argparse.Namespace) -> int:
    secret = args.secret or os.environ.get("SCGW_PLATFORM_SECRET")
    if not secret:
        raise ConfigError("platform-receiver needs --secret (or SCGW_PLATFORM_SECRET)")
    return run_receiver(secret, args.host, args.port, args.out)


def _permissions(args: argparse.Namespace) -> int:
    from gateway.api.permissions_table import run  # noqa: PLC0415 - it builds the whole app

    return run(args.readme)


def _platform_schemas(args: argparse.Namespace) -> int:
    for path in write_platform_schemas(args.out):
        print(path)
    return 0


def _openapi(args: argparse.Namespace) -> int:
    from gateway.openapi_cli import write_document  # noqa: PLC0415 - builds the whole app

    return write_document(args.output)


_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "import": run_import,
    "keys": run_keys,
    "permissions": _permissions,
    "platform-schemas": _platform_schemas,
    "openapi": _openapi,
}
"""Subcommands whose module runs them whole from their arguments."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["simulate"]:
        from gateway.demo import demo_access  # noqa: PLC0415 - the demo's imports are heavy
        from gateway.masterdata.bulk import direct_import  # noqa: PLC0415 - as heavy

        return simulate(argv[1:], demo_access, direct_import)
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            from gateway.demo import DemoOptions, device_password, run_demo  # noqa: PLC0415

            if args.device_password is not None:
                print(device_password(args.data_dir, args.device_password))
                return 0
            options = DemoOptions(
                args.api_port,
                args.mqtt_port,
                args.data_dir,
                args.rate,
                not args.no_simulator,
                args.mqtt_host,
                args.platform_port or None,
            )
            return asyncio.run(run_demo(options))
        if (handler := _HANDLERS.get(args.command)) is not None:
            return handler(args)
        if args.command == "platform-receiver":
            return _platform_receiver(args)
        settings = _settings(args)
        configure_logging(settings.log_format, settings.log_level)
        if args.command == "migrate":
            return asyncio.run(_migrate(settings))
        return asyncio.run(_run(settings))
    except ValidationError as exc:
        print(f"scgw: invalid setting: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    except ConfigError as exc:
        print(f"scgw: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    except GatewayError as exc:
        print(f"scgw: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
