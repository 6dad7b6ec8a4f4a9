"""`scgw keys`: create, list and revoke API keys straight in the configured store, for the
operator of the gateway's host (admins elsewhere use `POST/GET/DELETE /v1/keys`).

A new key's secret is printed once, alone on stdout (so `KEY=$(scgw keys create ...)` works),
with a note on stderr that it is not shown again: the store keeps only its SHA-256. Lists never
show a secret. Creating and revoking are audited with the actor `cli`. Exit status: 0 done,
1 failed (an unknown key id to revoke, the database unreachable), 2 a bad argument (role,
duration, community) or configuration.
"""

import argparse
import asyncio
import os
import re
import sys
import unicodedata
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, NoReturn

from pydantic import ValidationError

from gateway.access import Role
from gateway.config import Settings, load_config
from gateway.errors import ConfigError, GatewayError
from gateway.grids import GridMap
from gateway.keys import KeyRefusedError, KeyRing, known_communities
from gateway.store import Store, open_store
from gateway.store.keys import StoredKey
from gateway.store.masterdata import AuditEntry
from gateway.store.reach import check_reachable
from gateway.store.upgrade import RowRules

ACTOR: Final = "cli"
EXIT_FAILED: Final = 1
EXIT_BAD_ARGUMENT: Final = 2
LIST_PAGE: Final = 500

DESCRIPTION: Final = """\
Manage API keys in the configured store (SCGW_DATABASE_URL or --database-url): each key has
a role (admin, gov, property, device_ops), a community scope (every community, or the
--community codes given, which must be in the grid map), an optional pii scope (names and
phones unmasked, every such read audited) and an optional expiry. A secret looks like
scgw_<key_id>_<random>; it is printed once, when the key is created: the gateway keeps only
its SHA-256. The bootstrap admin key, SCGW_ADMIN_API_KEY, is not managed here."""

EPILOG: Final = """\
examples:
  scgw keys create --role property --community yida --name "亿达物业"
  scgw keys create --role property --community yida --community jiaxin --name "联合物业" \\
    --expires 90d
  scgw keys create --role gov --name "区网格中心" --pii --expires 2027-06-30
  KEY=$(scgw keys create --role device_ops --name "运维值班")   # the secret alone on stdout
  scgw keys list
  scgw keys revoke key_3f9a1c07b2d4

A revocation takes effect at once on a gateway revoking through the API, and within 5
seconds on gateways that learn it from the database (their short cache of keys)."""

_DURATION = re.compile(r"(-?)(\d{1,5})([hdw])")
_KEY_ID = re.compile(r"key_[0-9a-f]{12}")
SQLITE_PREFIX: Final = "sqlite:///"
_SETTING_FLAGS: Final = {"database_url": "--database-url", "config": "--config"}
_UNITS: Final = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def add_parser(commands: Any) -> None:
    """The `keys` subcommand, on `scgw`'s subparsers."""
    parser = commands.add_parser(
        "keys",
        help="create, list and revoke API keys (roles, community scopes, expiry)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(
        dest="keys_command", required=True, metavar="ACTION", parser_class=_KeysParser
    )

    create = actions.add_parser(
        "create",
        help="create a key and print its secret (once)",
        description="Create a key and print its secret, alone on stdout: it is not shown"
        " again (the gateway keeps only its hash).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    create.add_argument(
        "--role",
        required=True,
        choices=[role.value for role in Role],
        help="what the key may do (see the README's permission table)",
    )
    create.add_argument(
        "--community",
        action="append",
        metavar="CODE",
        help="a community the key sees (repeat for several; none: every community)",
    )
    create.add_argument("--name", required=True, help="who holds the key, as audits name it")
    create.add_argument(
        "--pii", action="store_true", help="may read names and phones unmasked (audited)"
    )
    create.add_argument(
        "--expires",
        type=expiry,
        metavar="WHEN",
        help="a duration from now (12h, 90d, 2w) or a date or UTC date-time (2027-06-30,"
        " 2027-06-30T18:00); default: never",
    )
    _add_store_flags(create)

    listing = actions.add_parser(
        "list",
        help="list every key (never a secret)",
        description="Every key, newest first, revoked and expired ones included; never a"
        " secret or its hash.",
    )
    _add_store_flags(listing)

    revoke = actions.add_parser(
        "revoke",
        help="revoke a key",
        description="Revoke a key: it stops working (see the note on caches below). It stays"
        " listed, with its revocation time.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    revoke.add_argument(
        "key_id", type=key_id, metavar="KEY_ID", help="the key's id, key_ + 12 hex digits"
    )
    _add_store_flags(revoke)


class _KeysParser(argparse.ArgumentParser):
    """argparse reads `--expires -5d` as a flag missing its value: say what a value is."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("argument --expires: expected one argument"):
            message = (
                "argument --expires: expected a positive duration such as 90d, or a date such"
                " as 2027-06-30 (durations must be positive; nothing here starts with '-')"
            )
        super().error(message)


def _add_store_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        help="the gateway's existing database: postgresql://... or sqlite:///path (the demo's:"
        " sqlite:///DATA_DIR/scgw.db); default: SCGW_DATABASE_URL, else sqlite:///data/scgw.db",
    )
    parser.add_argument("--config", type=Path, help="the gateway's TOML file (its communities)")


class Expiry:
    """An expiry as given: a duration from the moment the key is created, or an instant."""

    def __init__(self, after: timedelta | None = None, at: datetime | None = None) -> None:
        self.after = after
        self.at = at

    def when(self, now: datetime) -> datetime:
        if self.after is not None:
            return now + self.after
        assert self.at is not None
        return self.at


def expiry(text: str) -> Expiry:
    """`--expires`: `90d`, `12h`, `2w`, or an ISO date / date-time (UTC unless it says)."""
    if (match := _DURATION.fullmatch(text.strip())) is not None:
        count = int(match.group(2))
        if match.group(1) or count == 0:
            raise argparse.ArgumentTypeError("durations must be positive, e.g. 90d")
        return Expiry(after=count * _UNITS[match.group(3)])
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            "expected a duration such as 12h, 90d or 2w, or a date such as 2027-06-30"
        ) from None
    return Expiry(at=at if at.tzinfo is not None else at.replace(tzinfo=UTC))


def key_id(text: str) -> str:
    """`revoke`'s KEY_ID: malformed ids are refused before the store is asked."""
    if _KEY_ID.fullmatch(text) is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a key id (key_ followed by 12 hex digits)"
        )
    return text


def run_keys(args: argparse.Namespace) -> int:
    """Run `scgw keys ACTION`; the exit status."""
    try:
        settings = _settings(args)
    except ValidationError as invalid:
        for problem in invalid.errors(include_url=False):
            print(f"scgw keys: {_setting_problem(problem, args)}", file=sys.stderr)
        return EXIT_BAD_ARGUMENT
    if (missing := _missing_sqlite_file(settings.database_url)) is not None:
        print(
            f"scgw keys: no database at {missing} ({settings.database_url}, from"
            f" {_source(args)}): keys belong in the gateway's existing database. Point"
            " --database-url or SCGW_DATABASE_URL at it, e.g. the demo's"
            " sqlite:///DATA_DIR/scgw.db (the demo prints the exact one at start).",
            file=sys.stderr,
        )
        return EXIT_BAD_ARGUMENT
    try:
        return asyncio.run(_run(args, settings))
    except KeyRefusedError as refused:
        print(f"scgw keys {args.keys_command}: {_refusal(refused, args)}", file=sys.stderr)
        return EXIT_BAD_ARGUMENT
    except ConfigError as error:
        print(f"scgw keys: {error}", file=sys.stderr)
        return EXIT_BAD_ARGUMENT
    except GatewayError as error:
        print(f"scgw keys: {error}", file=sys.stderr)
        return EXIT_FAILED


def _settings(args: argparse.Namespace) -> Settings:
    """The environment's settings (SCGW_*) under the command line's flags."""
    overrides = {"database_url": args.database_url, "config": args.config}
    return Settings(**{name: value for name, value in overrides.items() if value is not None})


def _setting_problem(problem: Any, args: argparse.Namespace) -> str:
    """One line per bad setting, naming its flag and variable and what is expected; never the
    value itself, which for a database may hold a password."""
    field = str(problem["loc"][0]) if problem["loc"] else ""
    where = f"SCGW_{field.upper()}"
    if (flag := _SETTING_FLAGS.get(field)) is not None:
        where = f"{flag} / {where}"
    if field == "database_url":
        given = getattr(args, "database_url", None)
        empty = (given if given is not None else os.environ.get("SCGW_DATABASE_URL", "x")) == ""
        return (
            f"{where}: {'is empty' if empty else 'is not a supported database URL'}; expected"
            " postgresql://user:password@host:port/db or sqlite:///path/to/scgw.db"
        )
    message = str(problem["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


def _missing_sqlite_file(database_url: str) -> Path | None:
    """The absolute path of a SQLite database that does not exist yet, else None: the store
    would quietly create it (and its folders), and a key made there opens no gateway."""
    if not database_url.startswith(SQLITE_PREFIX):
        return None
    path = Path(database_url.removeprefix(SQLITE_PREFIX)).absolute()
    return None if path.is_file() else path


def _source(args: argparse.Namespace) -> str:
    if args.database_url is not None:
        return "--database-url"
    if "SCGW_DATABASE_URL" in os.environ:
        return "SCGW_DATABASE_URL"
    return "the default, as neither --database-url nor SCGW_DATABASE_URL is set"


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    config = load_config(settings.config)
    grids = GridMap.load(settings.grids)
    async with _store(settings) as store:
        await store.migrate(RowRules.of(settings, config))
        ring = KeyRing(store, None, known_communities(grids, config))
        now = datetime.now(UTC)
        if args.keys_command == "create":
            return await _create(ring, store, args, now)
        if args.keys_command == "list":
            return await _list(ring, now)
        return await _revoke(ring, store, args.key_id, now)


@asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[Store]:
    await check_reachable(settings.database_url)  # seconds, not the pool's patient 30
    store = open_store(settings.database_url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def _create(ring: KeyRing, store: Store, args: argparse.Namespace, now: datetime) -> int:
    expires_at = None if args.expires is None else args.expires.when(now)
    key, secret = await ring.create(args.name, args.role, args.community, args.pii, expires_at, now)
    await store.write_audit(AuditEntry(now, ACTOR, "keys.create", None, (key.key_id,)))
    print(secret)
    scope = "every community" if key.communities is None else ", ".join(key.communities)
    until = "never expires" if key.expires_at is None else f"expires {_time(key.expires_at)}"
    print(
        f"created {key.key_id}: {key.role}, {scope}{', pii' if key.pii else ''}, {until}.\n"
        "The secret above is not shown again (the gateway keeps only its hash): store it now.",
        file=sys.stderr,
    )
    return 0


async def _list(ring: KeyRing, now: datetime) -> int:
    keys: list[StoredKey] = []
    cursor = None
    while True:
        page = await ring.list(LIST_PAGE, cursor)
        keys.extend(page.data)
        if (cursor := page.next_cursor) is None:
            break
    if not keys:
        print("no keys yet: create one with `scgw keys create --role ... --name ...`")
        return 0
    header = ("ID", "NAME", "ROLE", "COMMUNITIES", "PII", "EXPIRES", "LAST USED", "REVOKED")
    rows = [header, *(_row(key, now) for key in keys)]
    print(table(rows))
    return 0


async def _revoke(ring: KeyRing, store: Store, key_id: str, now: datetime) -> int:
    key = await ring.revoke(key_id, now)
    if key is None:
        print(f"scgw keys revoke: no key has the id {key_id!r}", file=sys.stderr)
        return EXIT_FAILED
    await store.write_audit(AuditEntry(now, ACTOR, "keys.revoke", None, (key.key_id,)))
    assert key.revoked_at is not None
    print(f"revoked {key.key_id} ({key.name}) at {_time(key.revoked_at)}")
    return 0


def _row(key: StoredKey, now: datetime) -> tuple[str, ...]:
    expires = "never" if key.expires_at is None else _time(key.expires_at)
    if key.expires_at is not None and key.expires_at <= now:
        expires += " (expired)"
    return (
        key.key_id,
        key.name,
        key.role,
        "all" if key.communities is None else ",".join(key.communities),
        "yes" if key.pii else "no",
        expires,
        "never" if key.last_used_at is None else _time(key.last_used_at),
        "" if key.revoked_at is None else _time(key.revoked_at),
    )


def table(rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, counting a CJK character as two columns."""
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell + " " * (width - _width(cell)) for cell, width in zip(row, widths, strict=True)
        )
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _refusal(refused: KeyRefusedError, args: argparse.Namespace) -> str:
    """The refusal in the command line's words: the flag, and the value the operator typed."""
    if refused.field == "communities" and refused.index is not None:
        return f"--community {args.community[refused.index]}: {refused}"
    flags = {"expires_at": "--expires", "communities": "--community"}
    return f"{flags.get(refused.field, '--' + refused.field)}: {refused}"
