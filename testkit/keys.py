"""API keys for tests: create one through the API as the admin, and a client presenting it."""

from datetime import datetime

import httpx

from testkit.harness import RunningGateway


async def create_key(
    gateway: RunningGateway,
    role: str,
    communities: list[str] | None = None,
    *,
    pii: bool = False,
    name: str = "test key",
    expires_at: datetime | None = None,
) -> str:
    """A new key's secret, created with `POST /v1/keys` by the gateway's admin client."""
    body = {
        "name": name,
        "role": role,
        "communities": communities,
        "pii": pii,
        "expires_at": None if expires_at is None else expires_at.isoformat(),
    }
    response = await gateway.http.post("/v1/keys", json=body)
    if response.status_code != 201:
        raise AssertionError(f"POST /v1/keys answered {response.status_code}: {response.text}")
    secret: str = response.json()["secret"]
    return secret


def key_client(gateway: RunningGateway, secret: str) -> httpx.AsyncClient:
    """A client of the same gateway presenting `secret` as `X-API-Key` (the caller closes it,
    or uses it in `async with`)."""
    return httpx.AsyncClient(base_url=gateway.http.base_url, headers={"X-API-Key": secret})
