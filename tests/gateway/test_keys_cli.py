"""`scgw keys` against a real database (each store in turn), run as an operator runs it: a
new key's secret alone on stdout and never again, a list that never shows a secret, a
revocation the gateway honours, and clear refusals of a bad role, duration or community."""

import asyncio
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from testkit.harness import gateway_settings, running_gateway
from testkit.keys import key_client
from testkit.services import MosquittoService

SECRET = re.compile(r"^scgw_(key_[0-9a-f]{12})_[A-Za-z0-9_-]{43}$")


def scgw_keys(database: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "keys", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "SCGW_DATABASE_URL": database},
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
            (("--role", "gov", "--expires", "0d"), "a duration must be at least 1"),
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


class TestHelp:
    def test_help_explains_with_examples(self, sqlite_url: str) -> None:
        for args in ((), ("create",), ("revoke",)):
            result = scgw_keys(sqlite_url, *args, "--help")
            assert result.returncode == 0
            assert "examples:" in result.stdout
            assert "scgw keys create --role property --community yida" in result.stdout
        assert "--expires WHEN" in scgw_keys(sqlite_url, "create", "--help").stdout
