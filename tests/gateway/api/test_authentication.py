"""Who is calling: a key as `X-API-Key` or bearer token, checked by `gateway.keys.KeyRing`.

Every refusal is the same 401 error body whatever was wrong (missing, malformed, unknown,
wrong secret, expired, revoked), logged with the client address and the reason but never
the presented key; after too many failures from one address within a minute that address is
answered 429 with `Retry-After`, others are not. The clock is injected, never slept on."""

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import httpx
import pytest

from testkit.clocks import Clock
from testkit.harness import ADMIN_KEY, RunningGateway, gateway_settings, running_gateway
from testkit.keys import create_key, key_client
from testkit.services import MosquittoService

FAILURES_PER_MINUTE = 5
OTHER_ADDRESS = "127.0.0.2"
"""A second client address: Linux routes all of 127/8 to the loopback interface."""


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def gateway(
    mosquitto: MosquittoService, database: str, clock: Clock
) -> AsyncIterator[RunningGateway]:
    settings = gateway_settings(
        mosquitto.url, database, api_auth_failures_per_minute=FAILURES_PER_MINUTE
    )
    async with running_gateway(settings) as running:
        running.runtime.clock = clock
        yield running


def client_from(gateway: RunningGateway, address: str, key: str | None) -> httpx.AsyncClient:
    """A client connecting from `address` (a loopback address of its own)."""
    headers = {} if key is None else {"X-API-Key": key}
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=gateway.http.base_url, headers=headers, transport=transport)


def tampered(secret: str) -> str:
    """The secret with its last character changed: the right key id, the wrong secret."""
    return secret[:-1] + ("A" if secret[-1] != "A" else "B")


class TestRefusals:
    """Whatever is wrong with the key, the answer is the same 401 body."""

    @pytest.mark.parametrize(
        "presented",
        [None, "", "not-a-key", "scgw_key_000000000000_" + "x" * 43, ADMIN_KEY + "x"],
    )
    async def test_a_missing_or_bad_key_is_401(
        self, gateway: RunningGateway, presented: str | None
    ) -> None:
        headers = {} if presented is None else {"X-API-Key": presented}
        async with httpx.AsyncClient(base_url=gateway.http.base_url, headers=headers) as client:
            response = await client.get("/v1/events")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json() == {
            "error": {
                "code": "unauthorized",
                "message": "a valid API key is required in the X-API-Key header (or as a"
                " bearer token)",
                "details": None,
            }
        }

    async def test_a_wrong_secret_for_a_real_key_is_401(self, gateway: RunningGateway) -> None:
        secret = await create_key(gateway, "gov")
        async with key_client(gateway, tampered(secret)) as client:
            assert (await client.get("/v1/events")).status_code == 401

    async def test_a_key_works_as_a_bearer_token(self, gateway: RunningGateway) -> None:
        secret = await create_key(gateway, "device_ops")
        headers = {"Authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(base_url=gateway.http.base_url, headers=headers) as client:
            assert (await client.get("/v1/events")).status_code == 200

    async def test_the_bootstrap_admin_key_still_works(self, gateway: RunningGateway) -> None:
        response = await gateway.http.get("/v1/keys")
        assert response.status_code == 200


class TestOneCredential:
    """A request presenting two different keys (`X-API-Key` and a bearer token, or a header
    repeated) is refused with 400: the gateway never picks one by a rule the caller cannot
    see. The same key presented twice is simply that key."""

    AMBIGUOUS: ClassVar[dict[str, object]] = {
        "error": {
            "code": "ambiguous_credentials",
            "message": "the request presents more than one key (X-API-Key and a bearer token,"
            " or a repeated header) and they differ: present one",
            "details": None,
        }
    }

    async def get(self, gateway: RunningGateway, headers: list[tuple[str, str]]) -> httpx.Response:
        async with httpx.AsyncClient(base_url=gateway.http.base_url) as client:
            return await client.get("/v1/events", headers=headers)

    async def test_a_key_header_and_a_different_bearer_token_are_400(
        self, gateway: RunningGateway
    ) -> None:
        gov = await create_key(gateway, "gov")
        for headers in (
            [("X-API-Key", ADMIN_KEY), ("Authorization", f"Bearer {gov}")],
            [("X-API-Key", gov), ("Authorization", f"Bearer {ADMIN_KEY}")],
            [("X-API-Key", "wrong"), ("Authorization", f"Bearer {ADMIN_KEY}")],
        ):
            response = await self.get(gateway, headers)
            assert response.status_code == 400, response.text
            assert response.json() == self.AMBIGUOUS

    async def test_a_repeated_key_header_with_different_values_is_400(
        self, gateway: RunningGateway
    ) -> None:
        gov = await create_key(gateway, "gov")
        for first, second in ((ADMIN_KEY, gov), (gov, ADMIN_KEY)):
            response = await self.get(gateway, [("X-API-Key", first), ("X-API-Key", second)])
            assert response.status_code == 400, response.text
            assert response.json() == self.AMBIGUOUS

    async def test_two_different_bearer_tokens_are_400(self, gateway: RunningGateway) -> None:
        gov = await create_key(gateway, "gov")
        headers = [("Authorization", f"Bearer {gov}"), ("Authorization", f"Bearer {ADMIN_KEY}")]
        response = await self.get(gateway, headers)
        assert response.status_code == 400, response.text
        assert response.json() == self.AMBIGUOUS

    async def test_the_same_key_presented_twice_is_accepted(self, gateway: RunningGateway) -> None:
        gov = await create_key(gateway, "gov")
        for headers in (
            [("X-API-Key", gov), ("Authorization", f"Bearer {gov}")],
            [("X-API-Key", gov), ("X-API-Key", gov)],
        ):
            assert (await self.get(gateway, headers)).status_code == 200


class TestLogs:
    """A refusal is logged with the address and reason; the presented key never appears."""

    async def test_refusals_are_logged_by_reason_without_the_key(
        self, gateway: RunningGateway, clock: Clock, caplog: pytest.LogCaptureFixture
    ) -> None:
        expiring = await create_key(gateway, "gov", expires_at=clock.now + timedelta(hours=1))
        revoked = await create_key(gateway, "gov")
        revoked_id = revoked[5:21]
        await gateway.http.delete(f"/v1/keys/{revoked_id}")
        made_up = "scgw_key_0123456789ab_" + "y" * 43
        with caplog.at_level(logging.INFO, logger="gateway"):
            for presented in (None, "guess", made_up, tampered(expiring), revoked):
                headers = {} if presented is None else {"X-API-Key": presented}
                async with httpx.AsyncClient(
                    base_url=gateway.http.base_url, headers=headers
                ) as client:
                    await client.get("/v1/events")
            clock.now += timedelta(hours=1)
            async with key_client(gateway, expiring) as client:
                await client.get("/v1/events")
        messages = [r.getMessage() for r in caplog.records if r.name == "gateway.api.deps"]
        expiring_id = expiring[5:21]
        assert messages == [
            "authentication refused from 127.0.0.1: missing",
            "authentication refused from 127.0.0.1: malformed",
            "authentication refused from 127.0.0.1: unknown",
            f"authentication refused from 127.0.0.1: bad secret (key {expiring_id})",
            f"authentication refused from 127.0.0.1: revoked (key {revoked_id})",
            f"authentication refused from 127.0.0.1: expired (key {expiring_id})",
        ]
        assert "0123456789ab" not in caplog.text  # a made-up key id is not a key's
        for secret in (expiring, revoked, tampered(expiring), made_up):
            assert secret not in caplog.text
            assert secret[22:] not in caplog.text


class TestRateLimit:
    """Too many failures from one address within a minute: 429 for that address only."""

    async def fail(self, client: httpx.AsyncClient, times: int) -> list[int]:
        statuses = []
        for _ in range(times):
            response = await client.get("/v1/events", headers={"X-API-Key": "wrong"})
            statuses.append(response.status_code)
        return statuses

    async def test_an_address_that_keeps_failing_gets_429(
        self, gateway: RunningGateway, clock: Clock
    ) -> None:
        async with client_from(gateway, "127.0.0.1", None) as client:
            assert await self.fail(client, FAILURES_PER_MINUTE) == [401] * FAILURES_PER_MINUTE
            clock.now += timedelta(seconds=20)
            response = await client.get("/v1/events", headers={"X-API-Key": "wrong"})
        assert response.status_code == 429
        assert response.headers["retry-after"] == "40"
        assert response.json() == {
            "error": {
                "code": "too_many_failures",
                "message": "too many failed authentications from this address: try again later",
                "details": {"retry_after_s": 40},
            }
        }

    async def test_a_blocked_address_is_refused_even_a_good_key(
        self, gateway: RunningGateway
    ) -> None:
        """Otherwise a guesser would still learn which guess was right."""
        async with client_from(gateway, "127.0.0.1", ADMIN_KEY) as client:
            await self.fail(client, FAILURES_PER_MINUTE)
            assert (await client.get("/v1/events")).status_code == 429

    async def test_another_address_is_unaffected(self, gateway: RunningGateway) -> None:
        async with client_from(gateway, "127.0.0.1", ADMIN_KEY) as client:
            await self.fail(client, FAILURES_PER_MINUTE)
            assert (await client.get("/v1/events")).status_code == 429
        async with client_from(gateway, OTHER_ADDRESS, ADMIN_KEY) as other:
            assert (await other.get("/v1/events")).status_code == 200
            assert await self.fail(other, 1) == [401]

    async def test_the_address_may_try_again_a_minute_after_its_failures(
        self, gateway: RunningGateway, clock: Clock
    ) -> None:
        async with client_from(gateway, "127.0.0.1", ADMIN_KEY) as client:
            await self.fail(client, FAILURES_PER_MINUTE)
            clock.now += timedelta(seconds=59)
            assert (await client.get("/v1/events")).status_code == 429
            clock.now += timedelta(seconds=1)
            assert (await client.get("/v1/events")).status_code == 200

    async def test_successes_do_not_count(self, gateway: RunningGateway) -> None:
        async with client_from(gateway, "127.0.0.1", ADMIN_KEY) as client:
            await self.fail(client, FAILURES_PER_MINUTE - 1)
            for _ in range(20):
                assert (await client.get("/v1/events")).status_code == 200
            assert await self.fail(client, 2) == [401, 429]

    async def test_x_forwarded_for_does_not_change_the_limited_address(
        self, gateway: RunningGateway, caplog: pytest.LogCaptureFixture
    ) -> None:
        """By default no proxy is trusted (SCGW_API_FORWARDED_ALLOW_IPS is empty), so a local
        client naming a new address in each request is still the one address it is."""
        with caplog.at_level(logging.INFO, logger="gateway"):
            async with client_from(gateway, "127.0.0.1", None) as client:
                statuses = [
                    (
                        await client.get(
                            "/v1/events",
                            headers={"X-API-Key": "wrong", "X-Forwarded-For": f"10.0.0.{n}"},
                        )
                    ).status_code
                    for n in range(FAILURES_PER_MINUTE + 1)
                ]
        assert statuses == [401] * FAILURES_PER_MINUTE + [429]
        assert "10.0.0." not in caplog.text

    async def test_requests_without_a_key_do_not_count(self, gateway: RunningGateway) -> None:
        """A client that has not signed in yet is not guessing."""
        async with client_from(gateway, "127.0.0.1", None) as client:
            for _ in range(FAILURES_PER_MINUTE * 2):
                assert (await client.get("/v1/events")).status_code == 401
        async with client_from(gateway, "127.0.0.1", ADMIN_KEY) as client:
            assert (await client.get("/v1/events")).status_code == 200


class TestTrustedProxy:
    """Behind a reverse proxy, SCGW_API_FORWARDED_ALLOW_IPS names it: the limit then counts
    the address the proxy forwards, not the proxy's own (else every client would share it)."""

    async def test_a_trusted_proxys_forwarded_address_is_the_limited_one(
        self, mosquitto: MosquittoService, database: str, clock: Clock
    ) -> None:
        settings = gateway_settings(
            mosquitto.url,
            database,
            api_auth_failures_per_minute=FAILURES_PER_MINUTE,
            api_forwarded_allow_ips="127.0.0.1",
        )
        async with running_gateway(settings) as gateway:
            gateway.runtime.clock = clock
            async with client_from(gateway, "127.0.0.1", None) as proxy:
                for _ in range(FAILURES_PER_MINUTE + 1):
                    headers = {"X-API-Key": "wrong", "X-Forwarded-For": "10.0.0.1"}
                    last = await proxy.get("/v1/events", headers=headers)
                assert last.status_code == 429
                other = {"X-API-Key": ADMIN_KEY, "X-Forwarded-For": "10.0.0.2"}
                assert (await proxy.get("/v1/events", headers=other)).status_code == 200
