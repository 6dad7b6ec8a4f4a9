"""`scgw keys` against a real database (each store in turn), run as an operator runs it: a
new key's secret alone on stdout and never again, a list that never shows a secret, a
revocation the gateway honours, and clear refusals of a bad role, duration or community."""

import asyncio
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from testkit.harness import gateway_settings, running_gateway
from testkit.keys import key_client
from testkit.services import MosquittoService

SECRET = re.compile(r"^scgw_(key_[0-9a-f]{12})_[A-Za-z0-9_-]{43}$")


def existing(url: str) -> str:
    """`url`, its SQLite file made as the gateway's first start makes it: `scgw keys` works
    only on an existing database."""
    if url.startswith("sqlite:///"):
        sqlite3.connect(url.removeprefix("sqlite:///")).close()
    return url


@pytest.fixture
def database(database: str) -> str:
    return existing(database)


@pytest.fixture
def sqlite_url(sqlite_url: str) -> str:
    return existing(sqlite_url)


def scgw_keys(
    database: str | None, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`scgw keys ARGS` with SCGW_DATABASE_URL set to `database` (None: unset)."""
    env = {"PATH": "/usr/bin:/bin"}
    if database is not None:
        env["SCGW_DATABASE_URL"] = database
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "keys", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
        check=False,
    )


def created(database: str, *args: str) -> tuple[str, str]:
    """The secret and key id of a key `scgw keys create` made."""
    result = scgw_keys(database, "create", *args)
    assert result.returncode == 0, result.stderr
    secret = result.stdout.strip()
    match = SECRET.match(secret)
    assert match is not None, "stdout is not the secret alone"
    return secret, match.group(1)


class TestCreate:
    """The secret is printed once, alone on stdout; the note and summary go to stderr."""

    def test_the_secret_alone_is_printed_with_a_note(self, database: str) -> None:
        result = scgw_keys(
            database,
            *("create", "--role", "property", "--community", "yida", "--community", "jiaxin"),
            *("--name", "亿达物业", "--expires", "90d"),
        )
        assert result.returncode == 0, result.stderr
        (line,) = result.stdout.splitlines()
        assert SECRET.match(line)
        assert "property, jiaxin, yida" in result.stderr
        assert "not shown again" in result.stderr
        expected = (datetime.now(UTC) + timedelta(days=90)).strftime("%Y-%m-%d")
        assert f"expires {expected}" in result.stderr

    async def test_created_keys_work_on_a_gateway_until_revoked(
        self, database: str, mosquitto: MosquittoService
    ) -> None:
        secret, key_id = created(database, "--role", "gov", "--name", "区网格中心", "--pii")
        other, other_id = created(database, "--role", "device_ops", "--name", "运维")
        async with running_gateway(gateway_settings(mosquitto.url, database)) as gateway:
            async with key_client(gateway, secret) as client:
                response = await client.get("/v1/events")
                assert response.status_code == 200, response.text
            revoked = await asyncio.to_thread(scgw_keys, database, "revoke", other_id)
            assert revoked.returncode == 0, revoked.stderr
            assert revoked.stdout.startswith(f"revoked {other_id} (运维) at ")
            async with key_client(gateway, other) as client:
                assert (await client.get("/v1/events")).status_code == 401
            listed = {
                key["key_id"]: key for key in (await gateway.http.get("/v1/keys")).json()["data"]
            }
            assert (listed[key_id]["pii"], listed[key_id]["communities"]) == (True, None)
            assert listed[key_id]["revoked_at"] is None
            assert listed[other_id]["revoked_at"] is not None
            audit = await gateway.http.get("/v1/audit")
            actions = [(e["actor"], e["action"], e["records"]) for e in audit.json()["data"]]
            assert ("cli", "keys.create", [key_id]) in actions
            assert ("cli", "keys.revoke", [other_id]) in actions

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (("--role", "root"), "argument --role: invalid choice: 'root'"),
            (("--role", "gov", "--expires", "5y"), "argument --expires: expected a duration"),
            (("--role", "gov", "--expires", "0d"), "durations must be positive, e.g. 90d"),
            (("--role", "gov", "--expires=-5d"), "durations must be positive, e.g. 90d"),
            (("--role", "gov", "--expires", "-5d"), "--expires: expected a positive duration"),
            (("--role", "gov", "--expires", "2020-01-01"), "--expires: is not in the future"),
            (
                ("--role", "property", "--community", "yida", "--community", "atlantis"),
                "--community atlantis: is not a community of the grid map",
            ),
        ],
    )
    def test_a_bad_argument_is_refused_clearly(
        self, sqlite_url: str, args: tuple[str, ...], message: str
    ) -> None:
        """(Argument checks are the store's business only for the community, on SQLite here.)"""
        result = scgw_keys(sqlite_url, "create", "--name", "x", *args)
        assert result.returncode == 2
        assert message in result.stderr
        assert result.stdout == ""
        assert "no keys yet" in scgw_keys(sqlite_url, "list").stdout


class TestList:
    """A table of every key, never a secret."""

    def test_the_table_shows_every_key_but_no_secret(self, database: str) -> None:
        first, first_id = created(
            database,
            "--role",
            "property",
            "--community",
            "yida",
            "--name",
            "亿达物业",
            "--expires",
            "2w",
        )
        second, second_id = created(database, "--role", "device_ops", "--name", "运维")
        assert scgw_keys(database, "revoke", second_id).returncode == 0
        result = scgw_keys(database, "list")
        assert result.returncode == 0, result.stderr
        header, *rows = result.stdout.splitlines()
        assert header.split() == [
            "ID",
            "NAME",
            "ROLE",
            "COMMUNITIES",
            "PII",
            "EXPIRES",
            "LAST",
            "USED",
            "REVOKED",
        ]
        assert [row.split()[:5] for row in rows] == [
            [second_id, "运维", "device_ops", "all", "no"],
            [first_id, "亿达物业", "property", "yida", "no"],
        ]
        assert "UTC" in rows[0].split("never")[-1]  # revoked at
        for secret in (first, second):
            assert secret not in result.stdout + result.stderr
            assert secret[22:] not in result.stdout + result.stderr


class TestRevoke:
    def test_an_unknown_key_id_fails(self, database: str) -> None:
        result = scgw_keys(database, "revoke", "key_000000000000")
        assert result.returncode == 1
        assert "no key has the id 'key_000000000000'" in result.stderr

    @pytest.mark.parametrize("key_id", ["nonsense", "key_00000000000", "key_ABCDEF012345"])
    def test_a_malformed_key_id_is_not_a_key_id(self, sqlite_url: str, key_id: str) -> None:
        result = scgw_keys(sqlite_url, "revoke", key_id)
        assert result.returncode == 2
        assert f"'{key_id}' is not a key id (key_ followed by 12 hex digits)" in result.stderr
        assert "Traceback" not in result.stderr


class TestTheDatabase:
    """Keys belong in the gateway's existing database: a missing one is refused, not made,
    and a bad setting is one line naming the flag and the variable."""

    def test_a_missing_sqlite_file_is_refused_and_not_created(self, tmp_path: Path) -> None:
        missing = tmp_path / "nonexistent" / "dir" / "x.db"
        for args in (("list",), ("create", "--role", "gov", "--name", "x")):
            result = scgw_keys(None, *args, "--database-url", f"sqlite:///{missing}")
            assert result.returncode == 2
            assert f"no database at {missing}" in result.stderr
            assert "--database-url or SCGW_DATABASE_URL" in result.stderr
            assert result.stdout == "" and "Traceback" not in result.stderr
        assert not (tmp_path / "nonexistent").exists()

    def test_the_default_database_is_not_made_in_another_folder(self, tmp_path: Path) -> None:
        result = scgw_keys(None, "create", "--role", "gov", "--name", "x", cwd=tmp_path)
        assert result.returncode == 2
        assert f"no database at {tmp_path / 'data' / 'scgw.db'}" in result.stderr
        assert "neither --database-url nor SCGW_DATABASE_URL is set" in result.stderr
        assert not (tmp_path / "data").exists()

    @pytest.mark.parametrize(
        ("database", "flag", "message"),
        [
            (None, "mysql://x", "--database-url / SCGW_DATABASE_URL: is not a supported"),
            ("mysql://x", None, "--database-url / SCGW_DATABASE_URL: is not a supported"),
            ("", None, "--database-url / SCGW_DATABASE_URL: is empty; expected postgresql://"),
            (None, "", "--database-url / SCGW_DATABASE_URL: is empty; expected postgresql://"),
        ],
    )
    def test_a_bad_database_setting_is_one_clear_line(
        self, database: str | None, flag: str | None, message: str
    ) -> None:
        args = ("list",) if flag is None else ("list", "--database-url", flag)
        result = scgw_keys(database, *args)
        assert result.returncode == 2
        (line,) = result.stderr.splitlines()
        assert message in line
        assert "sqlite:///" in line
        assert "pydantic" not in line


class TestHelp:
    def test_help_explains_with_examples(self, sqlite_url: str) -> None:
        for args in ((), ("create",), ("revoke",)):
            result = scgw_keys(sqlite_url, *args, "--help")
            assert result.returncode == 0
            assert "examples:" in result.stdout
            assert "scgw keys create --role property --community yida" in result.stdout
        assert "--expires WHEN" in scgw_keys(sqlite_url, "create", "--help").stdout
