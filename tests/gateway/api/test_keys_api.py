"""API keys through a running gateway's HTTP API, on both stores: an admin creates a key and
sees its secret once, the key works with its role and scope until it expires or is revoked,
lists never show a secret or its hash, the database keeps only hashes, and every refusal
answers the one error body."""

import asyncio
import hashlib
import logging
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from testkit.clocks import Clock
from testkit.harness import RunningGateway, gateway_settings, running_gateway
from testkit.keys import create_key, key_client
from testkit.services import PG_BIN_DIR, MosquittoService
from tests.gateway.api.pages import every

SECRET = re.compile(r"^scgw_(key_[0-9a-f]{12})_[A-Za-z0-9_-]{43}$")
LISTED_FIELDS = {
    "key_id",
    "name",
    "role",
    "communities",
    "pii",
    "created_at",
    "expires_at",
    "revoked_at",
    "last_used_at",
}


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def gateway(
    mosquitto: MosquittoService, database: str, clock: Clock
) -> AsyncIterator[RunningGateway]:
    async with running_gateway(gateway_settings(mosquitto.url, database)) as running:
        running.runtime.clock = clock
        yield running


def random_part(secret: str) -> str:
    """The secret after its key id."""
    return secret[len("scgw_key_000000000000_") :]


def key_id_of(secret: str) -> str:
    match = SECRET.match(secret)
    assert match is not None, "not a key secret"
    return match.group(1)


async def audited(gateway: RunningGateway, action: str) -> list[tuple[str, list[str]]]:
    """The actor and records of every audit entry of `action`."""
    entries = await every(gateway.http, "/v1/audit")
    return [(e["actor"], e["records"]) for e in entries if e["action"] == action]


async def listed(gateway: RunningGateway) -> dict[str, dict[str, Any]]:
    return {key["key_id"]: key for key in await every(gateway.http, "/v1/keys")}


async def status_of(gateway: RunningGateway, secret: str, path: str = "/v1/events") -> int:
    async with key_client(gateway, secret) as client:
        return (await client.get(path)).status_code


class TestCreate:
    """POST /v1/keys answers the new key with its secret, the only time it is shown."""

    async def test_the_answer_holds_the_key_and_its_secret(
        self, gateway: RunningGateway, clock: Clock
    ) -> None:
        expires = clock.now + timedelta(days=90)
        body = {
            "name": "亿达物业",
            "role": "property",
            "communities": ["yida"],
            "pii": False,
            "expires_at": expires.isoformat(),
        }
        response = await gateway.http.post("/v1/keys", json=body)
        assert response.status_code == 201, response.text
        created = response.json()
        assert key_id_of(created.pop("secret")) == created["key_id"]
        assert created == {
            "key_id": created["key_id"],
            "name": "亿达物业",
            "role": "property",
            "communities": ["yida"],
            "pii": False,
            "created_at": clock.now.isoformat(),
            "expires_at": expires.isoformat(),
            "revoked_at": None,
            "last_used_at": None,
        }

    async def test_a_new_key_works_with_its_role(self, gateway: RunningGateway) -> None:
        """A property key reads its events; it may not manage keys (403, not 401)."""
        secret = await create_key(gateway, "property", ["yida"])
        assert await status_of(gateway, secret) == 200
        async with key_client(gateway, secret) as client:
            response = await client.get("/v1/keys")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"

    async def test_an_admin_key_manages_keys(self, gateway: RunningGateway) -> None:
        admin = await create_key(gateway, "admin")
        async with key_client(gateway, admin) as client:
            response = await client.post("/v1/keys", json={"name": "运维", "role": "device_ops"})
        assert response.status_code == 201, response.text
        assert response.json()["communities"] is None

    async def test_every_key_has_its_own_id_and_secret(self, gateway: RunningGateway) -> None:
        secrets = {await create_key(gateway, "gov") for _ in range(3)}
        assert len({key_id_of(secret) for secret in secrets}) == 3

    async def test_creation_is_audited_by_key_id(self, gateway: RunningGateway) -> None:
        secret = await create_key(gateway, "gov", name="区网格中心")
        assert await audited(gateway, "keys.create") == [("admin (bootstrap)", [key_id_of(secret)])]


class TestCreateRefusals:
    """A key that cannot be made as asked is a 422 naming the field, never its value."""

    @pytest.mark.parametrize(
        ("change", "location"),
        [
            ({"role": "superuser"}, ["body", "role"]),
            ({"communities": ["nowhere"]}, ["body", "communities", 0]),
            ({"communities": ["yida", "nowhere"]}, ["body", "communities", 1]),
            ({"communities": []}, ["body", "communities"]),
            ({"name": ""}, ["body", "name"]),
            ({"expires_at": "2030-01-01T00:00:00"}, ["body", "expires_at"]),
            ({"pii": "true"}, ["body", "pii"]),
            ({"pii": 1}, ["body", "pii"]),
            ({"pii": "yes"}, ["body", "pii"]),
            ({"expires_at": 1999999999}, ["body", "expires_at"]),
            ({"expires_at": "1999999999"}, ["body", "expires_at"]),
            ({"expires_at": 1999999999.5}, ["body", "expires_at"]),
            ({"expires_at": "2030-01-01"}, ["body", "expires_at"]),
        ],
    )
    async def test_a_bad_field_is_refused(
        self, gateway: RunningGateway, change: dict[str, Any], location: list[Any]
    ) -> None:
        body = {"name": "亿达物业", "role": "property", "communities": ["yida"], **change}
        response = await gateway.http.post("/v1/keys", json=body)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "validation_failed"
        assert [problem["location"] for problem in error["details"]] == [location]
        assert "nowhere" not in response.text
        assert await listed(gateway) == {}

    async def test_an_expiry_in_the_past_is_refused(
        self, gateway: RunningGateway, clock: Clock
    ) -> None:
        past = (clock.now - timedelta(seconds=1)).isoformat()
        response = await gateway.http.post(
            "/v1/keys", json={"name": "x", "role": "gov", "expires_at": past}
        )
        assert response.status_code == 422, response.text
        (problem,) = response.json()["error"]["details"]
        assert problem["location"] == ["body", "expires_at"]
        assert "future" in problem["message"]

    async def test_an_unknown_field_is_refused(self, gateway: RunningGateway) -> None:
        response = await gateway.http.post(
            "/v1/keys", json={"name": "x", "role": "gov", "secret": "mine"}
        )
        assert response.status_code == 422, response.text

    @pytest.mark.parametrize("name", ["张三 430112199001011230", "物业 13812345678"])
    async def test_a_name_holding_a_personal_number_is_refused_and_not_echoed(
        self, gateway: RunningGateway, name: str
    ) -> None:
        """The name is stored and becomes the audit's actor: no ID or phone number may be in
        it, and the refusal does not repeat it."""
        response = await gateway.http.post(
            "/v1/keys", json={"name": name, "role": "property", "communities": ["yida"]}
        )
        assert response.status_code == 422, response.text
        (problem,) = response.json()["error"]["details"]
        assert problem["location"] == ["body", "name"]
        assert name.split()[1] not in response.text
        assert await listed(gateway) == {}


class TestStrictFields:
    """`pii` is a JSON boolean and `expires_at` ISO 8601 text with an offset, nothing coerced:
    a key's powers and lifetime must not rest on a guess about what `"true"`, `1` or Unix
    seconds meant."""

    async def test_iso_8601_with_an_offset_is_taken(
        self, gateway: RunningGateway, clock: Clock
    ) -> None:
        expiry = (clock.now + timedelta(days=30)).astimezone(UTC)
        for text in (expiry.isoformat(), expiry.strftime("%Y-%m-%dT%H:%M:%SZ")):
            body = {"name": "x", "role": "gov", "pii": True, "expires_at": text}
            response = await gateway.http.post("/v1/keys", json=body)
            assert response.status_code == 201, response.text
            assert response.json()["pii"] is True
            assert response.json()["expires_at"] == expiry.isoformat()

    async def test_a_refusal_answers_the_one_error_body(self, gateway: RunningGateway) -> None:
        body = {"name": "x", "role": "gov", "expires_at": 1999999999}
        response = await gateway.http.post("/v1/keys", json=body)
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "validation_failed"
        (problem,) = error["details"]
        assert "ISO 8601" in problem["message"]
        assert await listed(gateway) == {}


class TestScopedKeysAreNotDistrictWide:
    """Keys, the watch-list and the metrics serve every community: a key scoped to communities
    is refused them (403) whatever its role, so a community's admin cannot make itself an
    unscoped key or touch other communities' keys, a community's gov key cannot read or change
    the district's watch-list, and device ops of one community cannot read every device's
    series."""

    async def refused(self, gateway: RunningGateway, secret: str, method: str, path: str) -> None:
        body = {"name": "escalated", "role": "admin", "pii": True} if method == "POST" else None
        async with key_client(gateway, secret) as client:
            response = await client.request(method, path, json=body)
        assert response.status_code == 403, response.text
        assert response.json() == {
            "error": {
                "code": "forbidden",
                "message": "this endpoint serves every community: a key scoped to communities"
                " may not use it",
                "details": {
                    "needs": response.json()["error"]["details"]["needs"],
                    "district_wide": True,
                },
            }
        }

    async def test_a_scoped_admin_may_not_create_list_or_revoke_keys(
        self, gateway: RunningGateway
    ) -> None:
        scoped = await create_key(gateway, "admin", ["yida"], name="亿达管理员")
        other = await create_key(gateway, "gov")
        before = set(await listed(gateway))
        await self.refused(gateway, scoped, "POST", "/v1/keys")
        await self.refused(gateway, scoped, "GET", "/v1/keys")
        await self.refused(gateway, scoped, "DELETE", f"/v1/keys/{key_id_of(other)}")
        after = await listed(gateway)
        assert set(after) == before
        assert [key["revoked_at"] for key in after.values()] == [None, None]
        assert await status_of(gateway, other) == 200

    async def test_a_scoped_admin_still_administers_its_communities(
        self, gateway: RunningGateway
    ) -> None:
        scoped = await create_key(gateway, "admin", ["yida"])
        assert await status_of(gateway, scoped, "/v1/houses") == 200
        assert await status_of(gateway, scoped, "/v1/audit") == 200

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/v1/watchlist/vehicles"),
            ("PUT", "/v1/watchlist/vehicles"),
            ("DELETE", "/v1/watchlist/vehicles/湘AQ7W31"),
        ],
    )
    async def test_a_scoped_gov_key_may_not_use_the_watchlist(
        self, gateway: RunningGateway, method: str, path: str
    ) -> None:
        scoped = await create_key(gateway, "gov", ["yida"])
        async with key_client(gateway, scoped) as client:
            response = await client.request(method, path, json=[] if method == "PUT" else None)
        assert response.status_code == 403, response.text
        assert response.json()["error"]["details"] == {
            "needs": "watchlist:manage",
            "district_wide": True,
        }
        unscoped = await create_key(gateway, "gov")
        assert await status_of(gateway, unscoped, "/v1/watchlist/vehicles") == 200

    async def test_scoped_device_ops_may_not_read_the_metrics(
        self, gateway: RunningGateway
    ) -> None:
        scoped = await create_key(gateway, "device_ops", ["yida"])
        await self.refused(gateway, scoped, "GET", "/metrics")
        unscoped = await create_key(gateway, "device_ops")
        assert await status_of(gateway, unscoped, "/metrics") == 200


class TestLifecycle:
    """A key works until it expires or is revoked; then it is refused like an unknown key."""

    async def test_a_key_stops_working_when_it_expires(
        self, gateway: RunningGateway, clock: Clock
    ) -> None:
        secret = await create_key(gateway, "gov", expires_at=clock.now + timedelta(hours=1))
        assert await status_of(gateway, secret) == 200
        clock.now += timedelta(minutes=59, seconds=59)
        assert await status_of(gateway, secret) == 200
        clock.now += timedelta(seconds=1)
        assert await status_of(gateway, secret) == 401

    async def test_a_revoked_key_stops_working_at_once(self, gateway: RunningGateway) -> None:
        secret = await create_key(gateway, "gov")
        assert await status_of(gateway, secret) == 200  # now cached
        response = await gateway.http.delete(f"/v1/keys/{key_id_of(secret)}")
        assert response.status_code == 200, response.text
        assert await status_of(gateway, secret) == 401

    async def test_revoking_answers_the_revoked_key(
        self, gateway: RunningGateway, clock: Clock
    ) -> None:
        key_id = key_id_of(await create_key(gateway, "gov"))
        response = await gateway.http.delete(f"/v1/keys/{key_id}")
        assert set(response.json()) == LISTED_FIELDS
        assert response.json()["revoked_at"] == clock.now.isoformat()

    async def test_revoking_twice_keeps_the_first_revocation(
        self, gateway: RunningGateway, clock: Clock
    ) -> None:
        key_id = key_id_of(await create_key(gateway, "gov"))
        first = clock.now
        await gateway.http.delete(f"/v1/keys/{key_id}")
        clock.now += timedelta(hours=1)
        response = await gateway.http.delete(f"/v1/keys/{key_id}")
        assert response.status_code == 200
        assert response.json()["revoked_at"] == first.isoformat()

    async def test_revoking_an_unknown_key_is_404(self, gateway: RunningGateway) -> None:
        response = await gateway.http.delete("/v1/keys/key_000000000000")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    async def test_revocation_is_audited(self, gateway: RunningGateway) -> None:
        key_id = key_id_of(await create_key(gateway, "gov"))
        await gateway.http.delete(f"/v1/keys/{key_id}")
        assert await audited(gateway, "keys.revoke") == [("admin (bootstrap)", [key_id])]

    async def test_the_last_use_is_recorded_at_most_once_a_minute(
        self, gateway: RunningGateway, clock: Clock
    ) -> None:
        secret = await create_key(gateway, "gov")
        key_id = key_id_of(secret)
        assert (await listed(gateway))[key_id]["last_used_at"] is None
        first = clock.now
        assert await status_of(gateway, secret) == 200
        clock.now += timedelta(seconds=59)
        assert await status_of(gateway, secret) == 200
        assert (await listed(gateway))[key_id]["last_used_at"] == first.isoformat()
        clock.now += timedelta(seconds=1)
        assert await status_of(gateway, secret) == 200
        assert (await listed(gateway))[key_id]["last_used_at"] == clock.now.isoformat()


class TestList:
    """GET /v1/keys lists every key, newest first, paged, never with a secret or hash."""

    async def test_keys_are_listed_newest_first_page_by_page(
        self, gateway: RunningGateway, clock: Clock
    ) -> None:
        made = []
        for _ in range(3):
            made.append(key_id_of(await create_key(gateway, "device_ops")))
            clock.now += timedelta(seconds=1)
        keys = await every(gateway.http, "/v1/keys")  # pages of one
        assert [key["key_id"] for key in keys] == made[::-1]
        assert all(set(key) == LISTED_FIELDS for key in keys)

    async def test_revoked_and_expired_keys_stay_listed(
        self, gateway: RunningGateway, clock: Clock
    ) -> None:
        expiring = key_id_of(await create_key(gateway, "gov", expires_at=clock.now + timedelta(1)))
        revoked = key_id_of(await create_key(gateway, "gov"))
        await gateway.http.delete(f"/v1/keys/{revoked}")
        clock.now += timedelta(days=2)
        keys = await listed(gateway)
        assert set(keys) == {expiring, revoked}
        assert keys[revoked]["revoked_at"] is not None

    async def test_a_list_never_shows_a_secret_or_its_hash(self, gateway: RunningGateway) -> None:
        secret = await create_key(gateway, "property", ["yida", "jiaxin"], pii=True)
        response = await gateway.http.get("/v1/keys")
        assert secret not in response.text
        assert random_part(secret) not in response.text
        assert "hash" not in response.text
        (key,) = response.json()["data"]
        assert key["communities"] == ["jiaxin", "yida"]
        assert key["pii"] is True

    async def test_a_foreign_cursor_is_400(self, gateway: RunningGateway) -> None:
        response = await gateway.http.get("/v1/keys", params={"cursor": "bm9wZQ"})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_cursor"


class TestAtRest:
    """The database holds the SHA-256 of a secret, never the secret."""

    async def test_only_the_hash_is_stored(
        self, gateway: RunningGateway, database: str, tmp_path: Path
    ) -> None:
        secrets = [await create_key(gateway, role) for role in ("admin", "gov", "property")]
        for secret in secrets:
            assert await status_of(gateway, secret) in (200, 403)
        await gateway.http.delete(f"/v1/keys/{key_id_of(secrets[0])}")
        dump = database_dump(database, tmp_path)
        for secret in secrets:
            assert secret.encode() not in dump
            assert random_part(secret).encode() not in dump
            assert hashlib.sha256(secret.encode()).hexdigest().encode() in dump


def database_dump(database: str, tmp_path: Path) -> bytes:
    """Every byte the database keeps: the SQLite file with its WAL, or a pg_dump."""
    if database.startswith("sqlite:///"):
        path = Path(database.removeprefix("sqlite:///"))
        files = [path, *(path.with_name(path.name + ext) for ext in ("-wal", "-shm"))]
        return b"".join(file.read_bytes() for file in files if file.exists())
    out = tmp_path / "dump.sql"
    subprocess.run(
        [str(PG_BIN_DIR / "pg_dump"), "--data-only", "--file", str(out), database],
        check=True,
        capture_output=True,
    )
    return out.read_bytes()


class TestSecretNeverLogged:
    """No log line and no command output but the creation's answer carries a secret."""

    async def test_create_use_failed_use_revoke_and_list_log_no_secret(
        self,
        gateway: RunningGateway,
        database: str,
        caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        with caplog.at_level(logging.DEBUG):
            secret = await create_key(gateway, "property", ["yida"], name="亿达物业")
            key_id = key_id_of(secret)
            assert await status_of(gateway, secret) == 200
            assert await status_of(gateway, secret[:-1] + "!") == 401
            assert await status_of(gateway, tampered(secret)) == 401
            await gateway.http.delete(f"/v1/keys/{key_id}")
            assert await status_of(gateway, secret) == 401
            await gateway.http.get("/v1/keys")
            listing = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "gateway.cli", "keys", "list"),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={"PATH": "/usr/bin:/bin", "SCGW_DATABASE_URL": database},
            )
            async with asyncio.timeout(60):
                out, err = await listing.communicate()
        assert listing.returncode == 0, err
        listed = out.decode()
        assert key_id in listed
        assert key_id in caplog.text  # the log names the key by its id
        captured = capsys.readouterr()
        for text in (caplog.text, captured.out, captured.err, listed, err.decode()):
            assert secret not in text
            assert random_part(secret) not in text
            assert random_part(tampered(secret)) not in text


def tampered(secret: str) -> str:
    """The right key id with a wrong secret."""
    return secret[:-1] + ("A" if secret[-1] != "A" else "B")
