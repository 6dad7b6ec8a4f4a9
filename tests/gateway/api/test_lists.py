"""Specification of what every list and every body shares, found by walking the app's routes
(a new list or a new endpoint with a body is covered without being named here):

- a list (an answer `{data: [...], next_cursor}` whose cursor can be a string) takes `limit`
  (1 to `MAX_PAGE`) and `cursor`; a cursor the API did not issue is 400 `bad_cursor`, and a
  `limit` out of range is 400 `invalid_parameter`, like every other malformed query parameter
  (`gateway.api.errors`: 400 for the query, 422 for the path and the body);
- a request body over its limit is 413 `payload_too_large` with the one error body, whether
  its length is declared or it is sent in chunks, on every endpoint that takes a body (one
  that takes none answers without reading it). Aggregates that are never paged (the ticket
  indicators: `next_cursor` is always null) are not lists.
"""

import types
from collections.abc import AsyncIterator, Iterator
from typing import Any, Union, cast, get_args, get_origin

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from gateway.api.app import create_app
from gateway.config import GatewayConfig, Settings
from gateway.openapi_cli import PLACEHOLDER_SECRETS
from testkit.harness import RunningGateway, gateway_settings, running_gateway
from testkit.services import MosquittoService

MAX_PAGE = 1000
"""The one upper bound of `limit`, on every list."""
API_MAX_BYTES = 4096
IMPORT_MAX_BYTES = 8192
PATH_VALUES = {"dataset": "houses", "community": "yida"}
"""Path values where any value would not reach the route the limit is meant for."""


def _routes() -> Iterator[tuple[APIRoute, str]]:
    app = create_app(Settings.model_construct(), GatewayConfig(), PLACEHOLDER_SECRETS)
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and context.include_in_schema:
            route = cast(APIRoute, context)
            for method in sorted(route.methods or ()):
                yield route, method


def _admits_str(annotation: Any) -> bool:
    if annotation is str:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_admits_str(argument) for argument in get_args(annotation))
    return False


def is_list(route: APIRoute) -> bool:
    """Whether the route answers a page: `data` and a `next_cursor` that can be a string."""
    model = route.response_model
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return False
    fields = model.model_fields
    return (
        "data" in fields
        and "next_cursor" in fields
        and _admits_str(fields["next_cursor"].annotation)
    )


def _path(route: APIRoute) -> str:
    path = route.path_format
    for param in route.dependant.path_params:
        path = path.replace(f"{{{param.name}}}", PATH_VALUES.get(param.name, "x"))
    return path


LISTS = sorted(
    {route.path_format for route, method in _routes() if method == "GET" and is_list(route)}
)


def takes_body(route: APIRoute) -> bool:
    """Whether the route reads a body: a declared one, or one it streams (`openapi_extra`)."""
    return bool(route.dependant.body_params or (route.openapi_extra or {}).get("requestBody"))


BODIES = sorted({(method, _path(route)) for route, method in _routes() if takes_body(route)})


@pytest.fixture(scope="module")
async def limited(
    mosquitto: MosquittoService, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    """A gateway whose bodies are limited to `API_MAX_BYTES`, imports to `IMPORT_MAX_BYTES`."""
    database = tmp_path_factory.mktemp("lists") / "scgw.db"
    settings = gateway_settings(
        mosquitto.url,
        f"sqlite:///{database}",
        api_max_body_bytes=API_MAX_BYTES,
        import_max_bytes=IMPORT_MAX_BYTES,
    )
    async with running_gateway(settings) as gateway:
        yield gateway


def _error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body


class TestTheListsAreFound:
    def test_every_known_list_is_among_them(self) -> None:
        known = {"/v1/events", "/v1/devices", "/v1/dead-letters", "/v1/persons", "/v1/houses"}
        known |= {"/v1/vehicles", "/v1/audit", "/v1/outbox", "/v1/tickets"}
        known |= {"/v1/watchlist/vehicles"}
        assert known <= set(LISTS)
        assert "/v1/stats/tickets" not in LISTS  # indicators, never paged

    def test_every_body_is_among_them(self) -> None:
        assert ("PUT", "/v1/devices/x") in BODIES
        assert ("PUT", "/v1/property/yida/houses") in BODIES


class TestEveryListPagesAlike:
    @pytest.mark.parametrize("path", LISTS)
    def test_it_declares_limit_and_cursor(self, path: str) -> None:
        (route,) = [r for r, m in _routes() if r.path_format == path and m == "GET"]
        params = {param.alias: param for param in route.dependant.query_params}
        assert {"limit", "cursor"} <= set(params), f"{path} takes {sorted(params)}"
        for name, param in params.items():
            if name not in {"limit", "cursor"}:
                assert not param.field_info.is_required(), f"{path}: {name} is required"
        limit = params["limit"].field_info
        bounds = {
            type(rule).__name__: getattr(rule, type(rule).__name__.lower(), None)
            for rule in limit.metadata
        }
        assert bounds.get("Ge") == 1 and bounds.get("Le") == MAX_PAGE, f"{path}: {bounds}"

    @pytest.mark.parametrize("path", LISTS)
    async def test_a_cursor_it_did_not_issue_is_400_bad_cursor(
        self, limited: RunningGateway, path: str
    ) -> None:
        for cursor in ("not-a-cursor", "eA", "aWR8LTE"):  # garbage, "x", "id|-1"
            response = await limited.http.get(path, params={"cursor": cursor})
            _error(response, 400, "bad_cursor")

    @pytest.mark.parametrize("path", LISTS)
    @pytest.mark.parametrize("limit", ["0", "-1", str(MAX_PAGE + 1), "ten"])
    async def test_a_limit_out_of_range_is_400_invalid_parameter(
        self, limited: RunningGateway, path: str, limit: str
    ) -> None:
        response = await limited.http.get(path, params={"limit": limit})
        _error(response, 400, "invalid_parameter")
        assert response.json()["error"]["details"][0]["location"] == ["query", "limit"]

    @pytest.mark.parametrize("path", LISTS)
    async def test_limit_one_and_the_bound_are_answered(
        self, limited: RunningGateway, path: str
    ) -> None:
        for limit in (1, MAX_PAGE):
            response = await limited.http.get(path, params={"limit": limit})
            assert response.status_code == 200, response.text[:300]
            page = response.json()
            assert len(page["data"]) <= limit
            assert page["next_cursor"] is None or isinstance(page["next_cursor"], str)


class TestEveryBodyIsBounded:
    @pytest.mark.parametrize(("method", "path"), BODIES)
    async def test_a_declared_length_over_the_limit_is_413(
        self, limited: RunningGateway, method: str, path: str
    ) -> None:
        body = b"[" + b" " * IMPORT_MAX_BYTES + b"]"
        response = await limited.http.request(
            method, path, content=body, headers={"Content-Type": "application/json"}
        )
        _error(response, 413, "payload_too_large")
        assert response.json()["error"]["details"]["max_bytes"] in (
            API_MAX_BYTES,
            IMPORT_MAX_BYTES,
        )

    @pytest.mark.parametrize(("method", "path"), BODIES)
    async def test_a_chunked_body_over_the_limit_is_413(
        self, limited: RunningGateway, method: str, path: str
    ) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"["
            for _ in range(IMPORT_MAX_BYTES // 1024 + 1):
                yield b" " * 1024
            yield b"]"

        response = await limited.http.request(
            method, path, content=chunks(), headers={"Content-Type": "application/json"}
        )
        _error(response, 413, "payload_too_large")
