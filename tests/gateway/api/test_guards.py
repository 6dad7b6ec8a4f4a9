"""Specification of the API's edge guards (`gateway.api.guards`): request bodies are bounded
whether their size is declared or streamed, and a refused body still gets the error body."""

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette

from gateway.api.guards import BodyLimit, ServerErrors
from gateway.api.property import import_bodies
from testkit.harness import RunningGateway
from tests.gateway.api.conftest import MAX_BODY_BYTES

DEVICE_PATH = "/v1/devices/43011200001399990001"


def padded_registration(size: int) -> bytes:
    """A valid registration padded with spaces to exactly `size` bytes of JSON."""
    body = json.dumps({"kind": "door_controller", "dialect": "hik-isapi", "community": "yida"})
    return body.encode() + b" " * (size - len(body))


async def chunks(total: int, size: int) -> AsyncIterator[bytes]:
    """`total` bytes of JSON-ish text in chunks of `size`: sent without a Content-Length."""
    sent = 0
    while sent < total:
        part = min(size, total - sent)
        yield b" " * part
        sent += part
        await asyncio.sleep(0)


class TestBodyLimit:
    """A body over `SCGW_API_MAX_BODY_BYTES` is a 413 `payload_too_large`; up to it passes."""

    async def test_a_body_at_the_limit_is_processed(self, api: RunningGateway) -> None:
        response = await api.http.put(
            DEVICE_PATH,
            content=padded_registration(MAX_BODY_BYTES),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code in (200, 201), response.text

    async def test_a_declared_length_over_the_limit_is_refused_unread(
        self, api: RunningGateway
    ) -> None:
        response = await api.http.put(
            DEVICE_PATH,
            content=padded_registration(MAX_BODY_BYTES + 1),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 413
        error = response.json()["error"]
        assert error["code"] == "payload_too_large"
        assert error["details"] == {"max_bytes": MAX_BODY_BYTES}

    async def test_a_streamed_body_is_counted_and_refused(self, api: RunningGateway) -> None:
        response = await api.http.put(
            DEVICE_PATH,
            content=chunks(MAX_BODY_BYTES * 4, 1000),
            headers={"Content-Type": "application/json"},
        )
        assert "content-length" not in response.request.headers
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"

    async def test_a_get_with_an_oversized_body_is_refused_too(self, api: RunningGateway) -> None:
        response = await api.http.request("GET", "/v1/events", content=b" " * (MAX_BODY_BYTES + 1))
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"


class TestLargerBodies:
    """Only the requests a `LargerBodies` entry matches in full (method and path) get its limit."""

    LIMITER = BodyLimit(
        ServerErrors(Starlette()),
        max_bytes=MAX_BODY_BYTES,
        larger=[import_bodies(10 * MAX_BODY_BYTES)],
    )

    @pytest.mark.parametrize("dataset", ["houses", "residents", "vehicles", "credentials"])
    def test_the_import_route(self, dataset: str) -> None:
        scope = {"method": "PUT", "path": f"/v1/property/yida/{dataset}"}
        assert self.LIMITER.limit(scope) == 10 * MAX_BODY_BYTES

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("POST", "/v1/property/yida/houses"),
            ("GET", "/v1/property/yida/houses"),
            ("PUT", "/v1/property/yida/pets"),
            ("PUT", "/v1/property/yida/houses/extra"),
            ("POST", "/v1/property/yida/residencies/end"),
            ("PUT", "/v1/devices/43011200001399990001"),
        ],
    )
    def test_every_other_request(self, method: str, path: str) -> None:
        assert self.LIMITER.limit({"method": method, "path": path}) == MAX_BODY_BYTES
