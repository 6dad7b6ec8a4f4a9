"""Dead letters through the real HTTP API of a running gateway (Mosquitto, SQLite):
shapes in the list, and raw payloads kept sealed, served to admins only while they last, every
read logged as an admin action."""

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from gateway.access import ROLE_PERMISSIONS, Caller, Permission, Role
from gateway.api import ops
from gateway.api.deps import Needs, declared_permission
from gateway.api.errors import ApiError
from gateway.config import CommunitySpec, GatewayConfig
from gateway.messages import DeadLetter
from gateway.raw_payloads import RawPayloadVault
from testkit.harness import (
    RunningGateway,
    gateway_settings,
    mosquitto_pub,
    running_gateway,
    wait_until,
)
from testkit.services import MosquittoService

KEY = "Zq3vN8xW1rT6yL0pK4mB7cJ2hG5dF9sA"
OTHER_KEY = "Hc5rW2nQ8vX1zK7mT4bJ0gY6pL3dS9fE"
TOPIC = "yida/hik-isapi/43011200001320000001"
CONFIG = GatewayConfig(communities=[CommunitySpec(code="yida")])
HOSTILE = json.dumps(
    {"eventType": "AccessControllerEvent", "remark": "张秘密 +86 138 1234 5678", "姓名": "王秘密"},
    ensure_ascii=False,
).encode()
SECRETS = ("张秘密", "王秘密", "138 1234 5678", "13812345678")


@pytest.fixture
async def keeping_raw(
    mosquitto: MosquittoService, sqlite_url: str
) -> AsyncIterator[RunningGateway]:
    settings = gateway_settings(
        mosquitto.url, sqlite_url, dead_letter_raw="encrypted", dead_letter_key=KEY
    )
    async with running_gateway(settings, CONFIG) as running:
        yield running


@pytest.fixture
async def not_keeping_raw(
    mosquitto: MosquittoService, sqlite_url: str
) -> AsyncIterator[RunningGateway]:
    async with running_gateway(gateway_settings(mosquitto.url, sqlite_url), CONFIG) as running:
        yield running


async def one_letter(gateway: RunningGateway, port: int) -> dict[str, Any]:
    await mosquitto_pub(port, TOPIC, [HOSTILE])

    async def arrived() -> bool:
        return len(await gateway.dead_letters()) == 1

    await wait_until(arrived, what="the dead letter")
    [letter] = await gateway.dead_letters()
    return letter


def audit_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "action", None) == "dead_letter_raw_read"]


async def store_letter(gateway: RunningGateway, letter: DeadLetter) -> int:
    await gateway.runtime.store.write_batch([], [letter])
    newest = (await gateway.runtime.store.list_dead_letters(1, None)).data[0]
    return newest.id


def sealed(key: str, payload: bytes, expires: datetime) -> DeadLetter:
    vault = RawPayloadVault(key, timedelta(days=7))
    return DeadLetter(
        received_at=expires - timedelta(days=7),
        topic=TOPIC,
        reason="schema",
        detail="stored by the test",
        payload_excerpt="{}",
        payload_bytes=len(payload),
        raw_payload=vault.seal(payload),
        raw_expires_at=expires,
    )


class TestRawPayloadKept:
    """With raw payloads on, an admin reads the exact bytes; the list shows only the shape."""

    async def test_the_list_shows_the_shape_and_the_raw_payloads_expiry(
        self, keeping_raw: RunningGateway, mosquitto: MosquittoService
    ) -> None:
        letter = await one_letter(keeping_raw, mosquitto.port)
        assert letter["reason"] == "schema"
        assert json.loads(letter["payload_excerpt"]) == {
            "eventType": "AccessControllerEvent",
            "remark": "<str 21>",
            "<key 1>": "<str 3>",
        }
        expires = datetime.fromisoformat(letter["raw_expires_at"])
        received = datetime.fromisoformat(letter["received_at"])
        assert expires - received == timedelta(days=7)
        for secret in SECRETS:
            assert secret not in json.dumps(letter, ensure_ascii=False)

    async def test_an_admin_reads_the_raw_bytes_and_the_read_is_logged(
        self,
        keeping_raw: RunningGateway,
        mosquitto: MosquittoService,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        letter = await one_letter(keeping_raw, mosquitto.port)
        with caplog.at_level(logging.INFO, logger="gateway.api.ops"):
            response = await keeping_raw.http.get(f"/v1/dead-letters/{letter['id']}/raw")
        assert response.status_code == 200
        assert response.content == HOSTILE
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["cache-control"] == "no-store"
        [record] = audit_records(caplog)
        assert record.getMessage() == "admin action: read raw dead-letter payload"
        assert (record.dead_letter_id, record.caller, record.outcome) == (  # type: ignore[attr-defined]
            letter["id"],
            "admin (bootstrap)",
            "served",
        )
        for secret in SECRETS:
            assert secret not in caplog.text

    async def test_callers_without_the_key_are_refused_and_nothing_is_read(
        self, keeping_raw: RunningGateway, mosquitto: MosquittoService
    ) -> None:
        letter = await one_letter(keeping_raw, mosquitto.port)
        base = str(keeping_raw.http.base_url)
        async with httpx.AsyncClient(base_url=base) as anonymous:
            response = await anonymous.get(f"/v1/dead-letters/{letter['id']}/raw")
        assert response.status_code == 401
        assert HOSTILE not in response.content

    async def test_an_expired_raw_payload_is_not_served(
        self, keeping_raw: RunningGateway, caplog: pytest.LogCaptureFixture
    ) -> None:
        past = datetime.now(UTC) - timedelta(seconds=1)
        letter_id = await store_letter(keeping_raw, sealed(KEY, b"old", past))
        with caplog.at_level(logging.INFO, logger="gateway.api.ops"):
            response = await keeping_raw.http.get(f"/v1/dead-letters/{letter_id}/raw")
        assert response.status_code == 404
        assert b"old" not in response.content
        assert response.json()["error"]["code"] == "no_raw_payload"
        assert "expired" in response.json()["error"]["message"]
        [record] = audit_records(caplog)
        assert record.outcome == "not_found"  # type: ignore[attr-defined]

    @pytest.mark.parametrize("letter_id", [1, 999])
    async def test_a_letter_without_a_raw_payload_is_not_found(
        self, keeping_raw: RunningGateway, letter_id: int
    ) -> None:
        await store_letter(keeping_raw, DeadLetter(datetime.now(UTC), TOPIC, "schema", "", "{}", 2))
        response = await keeping_raw.http.get(f"/v1/dead-letters/{letter_id}/raw")
        assert response.status_code == 404

    async def test_a_payload_sealed_under_another_key_is_not_found(
        self, keeping_raw: RunningGateway
    ) -> None:
        future = datetime.now(UTC) + timedelta(days=1)
        letter_id = await store_letter(keeping_raw, sealed(OTHER_KEY, b"other", future))
        response = await keeping_raw.http.get(f"/v1/dead-letters/{letter_id}/raw")
        assert response.status_code == 404
        assert "another SCGW_DEAD_LETTER_KEY" in response.text

    @pytest.mark.parametrize("letter_id", ["0", "-1", "x", str(2**63)])
    async def test_ids_that_no_letter_can_have_are_refused(
        self, keeping_raw: RunningGateway, letter_id: str
    ) -> None:
        response = await keeping_raw.http.get(f"/v1/dead-letters/{letter_id}/raw")
        assert response.status_code == 422


class TestRawPayloadOff:
    """By default no raw payload is kept, and the endpoint says why there is none."""

    async def test_no_raw_payload_is_kept_and_none_can_be_read(
        self, not_keeping_raw: RunningGateway, mosquitto: MosquittoService
    ) -> None:
        letter = await one_letter(not_keeping_raw, mosquitto.port)
        assert letter["raw_expires_at"] is None
        response = await not_keeping_raw.http.get(f"/v1/dead-letters/{letter['id']}/raw")
        assert response.status_code == 404
        assert "SCGW_DEAD_LETTER_KEY is not set" in response.text
        raw = await not_keeping_raw.runtime.store.get_dead_letter_raw(
            letter["id"], datetime.now(UTC)
        )
        assert raw is None


class TestAdminOnly:
    """The raw endpoint declares `dead_letters:raw`, a permission only admins hold."""

    def test_the_route_declares_the_raw_permission(self) -> None:
        [route] = [
            r
            for r in ops.router.routes
            if isinstance(r, APIRoute) and r.path == "/v1/dead-letters/{letter_id}/raw"
        ]
        assert declared_permission(route) is Permission.DEAD_LETTERS_RAW

    def test_only_the_admin_role_holds_it(self) -> None:
        raw = Permission.DEAD_LETTERS_RAW
        assert {role for role, held in ROLE_PERMISSIONS.items() if raw in held} == {Role.ADMIN}

    @pytest.mark.parametrize("role", [Role.GOV, Role.PROPERTY, Role.DEVICE_OPS])
    def test_a_caller_of_another_role_is_forbidden(self, role: Role) -> None:
        with pytest.raises(ApiError) as info:
            Needs(Permission.DEAD_LETTERS_RAW)(Caller("k1", "viewer", role))
        assert (info.value.status_code, info.value.code) == (403, "forbidden")

    def test_an_admin_is_admitted(self) -> None:
        admin = Caller("k2", "admin", Role.ADMIN)
        assert Needs(Permission.DEAD_LETTERS_RAW)(admin) is admin
