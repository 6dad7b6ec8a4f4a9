"""Specification of the API's one error body (`gateway.api.errors`, `gateway.api.guards`):
every 4xx and 5xx is `{"error": {"code", "message", "details"}}`, with a stable code and
nothing the client sent echoed back."""

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.store import Store
from testkit.harness import RunningGateway

SECRET = "13812345678-never-echoed"


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The error object of a response that must carry the one error body and nothing else."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


class TestFrameworkErrors:
    """Errors FastAPI and Starlette raise themselves carry the body and a status's code."""

    async def test_unknown_route_is_not_found(self, api: RunningGateway) -> None:
        assert error_of(await api.http.get("/v2/nothing-here"), 404)["code"] == "not_found"

    async def test_unknown_static_file_is_not_found(self, api: RunningGateway) -> None:
        response = await api.http.get("/docs/static/missing.js")
        assert error_of(response, 404)["code"] == "not_found"

    async def test_wrong_method_is_method_not_allowed_with_allow(self, api: RunningGateway) -> None:
        response = await api.http.delete("/v1/events")
        assert error_of(response, 405)["code"] == "method_not_allowed"
        assert response.headers["allow"] == "GET"

    async def test_missing_key_is_unauthorized_with_a_challenge(self, api: RunningGateway) -> None:
        async with httpx.AsyncClient(base_url=str(api.http.base_url)) as anonymous:
            response = await anonymous.get("/v1/events")
        assert error_of(response, 401)["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_the_key_works_as_a_bearer_token(self, api: RunningGateway) -> None:
        key = api.http.headers["X-API-Key"]
        async with httpx.AsyncClient(base_url=str(api.http.base_url)) as client:
            response = await client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200


class TestValidationErrors:
    """Validation failures list locations and rules, never the values sent."""

    async def test_body_errors_are_422_with_locations_and_no_input(
        self, api: RunningGateway
    ) -> None:
        body = {"kind": SECRET, "dialect": "hik-isapi", "community": "yida", SECRET: 1}
        response = await api.http.put("/v1/devices/43011200001399990001", json=body)
        error = error_of(response, 422)
        assert error["code"] == "validation_failed"
        assert error["message"] == "the request body is invalid; see details"
        locations = [problem["location"] for problem in error["details"]]
        assert ["body", "kind"] in locations
        for problem in error["details"]:
            assert set(problem) == {"location", "type", "message"}
        assert SECRET not in response.text
        assert "13812345678" not in response.text

    @pytest.mark.parametrize("key", ["欧阳锋", "extra_欧阳锋", "13812345678", "x\u202e"])
    async def test_a_key_the_body_does_not_declare_is_shown_by_position(
        self, api: RunningGateway, key: str
    ) -> None:
        body = {"kind": "door_controller", "dialect": "hik-isapi", "community": "yida", key: 1}
        response = await api.http.put("/v1/devices/NEWDEV3", json=body)
        error = error_of(response, 422)
        assert [p["location"] for p in error["details"]] == [["body", "<key 2>"]]
        assert error["details"][0]["type"] == "extra_forbidden"
        assert key not in response.text and "ouyang" not in response.text

    async def test_a_declared_key_is_named(self, api: RunningGateway) -> None:
        body = {"kind": "door", "dialect": "hik-isapi", "community": "yida"}
        response = await api.http.put("/v1/devices/NEWDEV3", json=body)
        (problem,) = error_of(response, 422)["details"]
        assert (problem["location"], problem["type"]) == (["body", "kind"], "literal_error")

    async def test_a_literal_error_lists_the_allowed_values_intact(
        self, api: RunningGateway
    ) -> None:
        body = {"kind": "door", "dialect": "hik-isapi", "community": "yida"}
        response = await api.http.put("/v1/devices/NEWDEV3", json=body)
        (problem,) = error_of(response, 422)["details"]
        assert "'door_controller'" in problem["message"]
        assert "<input>" not in problem["message"]

    async def test_a_rule_message_is_shown_without_the_input(self, api: RunningGateway) -> None:
        response = await api.http.get("/v1/events", params={"since": "欧阳锋"})
        (problem,) = error_of(response, 400)["details"]
        assert problem["type"] == "value_error"
        assert "ISO 8601" in problem["message"]
        assert "欧阳锋" not in response.text

    async def test_malformed_json_is_422_without_the_body(self, api: RunningGateway) -> None:
        response = await api.http.put(
            "/v1/devices/43011200001399990001",
            content=f'{{"kind": "{SECRET}", '.encode(),
            headers={"Content-Type": "application/json"},
        )
        assert error_of(response, 422)["details"][0]["type"] == "json_invalid"
        assert SECRET not in response.text

    async def test_parameter_errors_are_400_invalid_parameter(self, api: RunningGateway) -> None:
        response = await api.http.get("/v1/events", params={"limit": SECRET})
        error = error_of(response, 400)
        assert error["code"] == "invalid_parameter"
        assert error["details"][0]["location"] == ["query", "limit"]
        assert SECRET not in response.text

    async def test_a_cursor_the_api_did_not_issue_is_bad_cursor(self, api: RunningGateway) -> None:
        response = await api.http.get("/v1/dead-letters", params={"cursor": SECRET})
        assert error_of(response, 400)["code"] == "bad_cursor"
        assert SECRET not in response.text


class FailingStore:
    """The real store, except that reading events fails as a bug would, quoting a value."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def list_events(self, query: object) -> object:
        raise RuntimeError(f"unexpected state while reading {SECRET}")


@pytest.fixture
def failing_store(api: RunningGateway) -> Iterator[None]:
    store = api.runtime.store
    api.runtime.store = FailingStore(store)  # type: ignore[assignment]
    yield
    api.runtime.store = store


class TestServerErrors:
    """An unexpected exception is a 500 with the body; the log names where, never what."""

    async def test_a_bug_is_internal_error_without_trace_or_values(
        self, api: RunningGateway, failing_store: None, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.ERROR, logger="gateway.api.guards"):
            response = await api.http.get("/v1/events", params={"kind": "access"})
        assert error_of(response, 500)["code"] == "internal_error"
        assert SECRET not in response.text and "Traceback" not in response.text
        (record,) = [r for r in caplog.records if r.name == "gateway.api.guards"]
        logged = record.getMessage()
        assert "GET /v1/events failed with RuntimeError" in logged
        assert SECRET not in logged and SECRET not in caplog.text

    async def test_the_gateway_answers_normally_afterwards(self, api: RunningGateway) -> None:
        assert (await api.http.get("/v1/events")).status_code == 200
