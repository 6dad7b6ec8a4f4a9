"""Specification of the OpenAPI document: the committed `docs/openapi.json` is what the code
describes, byte for byte, and every operation in it is complete: a summary of its own, a
plain-word description, audience tags, a success answer with a schema (or a declared media
type), and the error answers its route can give, each with the one error body.

Built from the code alone (no gateway runs): `scgw openapi` writes the same document.
"""

import json
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from gateway.access import ROLE_PERMISSIONS, Permission, Role
from gateway.api import openapi
from gateway.api.app import create_app
from gateway.cli import main
from gateway.config import GatewayConfig, Settings
from gateway.openapi_cli import PLACEHOLDER_SECRETS, current_document

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
REGENERATE = "run `scgw openapi --output docs/openapi.json` and commit the result"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return current_document()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, methods in sorted(document["paths"].items())
        for method, operation in sorted(methods.items())
        if method in HTTP_METHODS
    ]


def routes() -> list[tuple[APIRoute, str]]:
    """Every documented route of the app as it serves it, with each of its methods."""
    app = create_app(Settings.model_construct(), GatewayConfig(), PLACEHOLDER_SECRETS)
    found: list[tuple[APIRoute, str]] = []
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and context.include_in_schema:
            route = cast(APIRoute, context)
            found.extend((route, method) for method in sorted(route.methods or ()))
    return found


class TestTheCommittedDocument:
    """docs/openapi.json is the code's document; CI fails when one changes without the other."""

    def test_it_equals_the_document_the_code_describes(self, document: dict[str, Any]) -> None:
        assert COMMITTED.exists(), f"docs/openapi.json is missing: {REGENERATE}"
        committed = COMMITTED.read_text(encoding="utf-8")
        assert committed == openapi.render(document), (
            f"docs/openapi.json differs from the API's document: {REGENERATE}"
        )

    def test_scgw_openapi_writes_it_deterministically(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        first, second = tmp_path / "first.json", tmp_path / "second.json"
        assert main(["openapi", "--output", str(first)]) == 0
        assert main(["openapi", "--output", str(second)]) == 0
        assert first.read_bytes() == second.read_bytes()
        text = first.read_text(encoding="utf-8")
        assert text.endswith("}\n") and not text.endswith("\n\n")
        assert json.loads(text) == json.loads(COMMITTED.read_text(encoding="utf-8"))
        assert main(["openapi"]) == 0
        assert capsys.readouterr().out == text

    def test_it_holds_nothing_of_this_machine(self, document: dict[str, Any]) -> None:
        text = openapi.render(document)
        assert "servers" not in document
        for local in ("127.0.0.1", "localhost", str(Path.home()), "/tmp/"):
            assert local not in text, local


class TestEveryOperationIsComplete:
    """What a reader of /docs needs for every operation, checked for each one."""

    def test_it_has_a_summary_of_its_own_and_a_description(self, document: dict[str, Any]) -> None:
        for route, method in routes():
            path = route.path_format
            operation = document["paths"][path][method.lower()]
            summary = operation.get("summary", "")
            generated = route.name.replace("_", " ").title()  # FastAPI's, from the function
            assert summary and summary != generated, f"{method} {path}: no summary= given"
            assert len(operation.get("description", "")) >= 20, f"{method} {path}: description"

    def test_it_is_tagged_with_the_audiences_that_may_call_it(
        self, document: dict[str, Any]
    ) -> None:
        known = {tag["name"] for tag in document["tags"]}
        assert all(tag.get("description") for tag in document["tags"])
        for method, path, operation in operations(document):
            tags = operation.get("tags", [])
            assert tags and set(tags) <= known, f"{method} {path}: {tags}"

    def test_it_declares_a_success_answer_with_a_schema_or_media_type(
        self, document: dict[str, Any]
    ) -> None:
        for method, path, operation in operations(document):
            successes = {
                status: answer
                for status, answer in operation["responses"].items()
                if status.startswith("2")
            }
            assert successes, f"{method} {path}: no 2xx answer"
            for status, answer in successes.items():
                if status == "204":
                    assert "content" not in answer, f"{method} {path}: 204 with a body"
                    continue
                content = answer.get("content", {})
                assert content, f"{method} {path} {status}: no content declared"
                for media_type, body in content.items():
                    if media_type == "application/json":
                        assert body.get("schema"), f"{method} {path} {status}: no schema"

    def test_it_declares_each_error_its_route_can_give_with_the_error_body(
        self, document: dict[str, Any]
    ) -> None:
        error_body = {"$ref": "#/components/schemas/ErrorBody"}
        paths = document["paths"]
        checked = 0
        for route, method in routes():
            responses = paths[route.path_format][method.lower()]["responses"]
            for status in ("4XX", "5XX", *map(str, openapi.error_statuses(route, method))):
                assert status in responses, f"{method} {route.path_format}: no {status}"
            for status, answer in responses.items():
                if status[0] in "45":
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == error_body, f"{method} {route.path_format} {status}"
                    assert answer["description"], f"{method} {route.path_format} {status}"
            checked += 1
        assert checked == len(operations(document))

    def test_keyed_operations_declare_401_and_open_ones_do_not(
        self, document: dict[str, Any]
    ) -> None:
        for method, path, operation in operations(document):
            keyed = "security" in operation
            assert ("401" in operation["responses"]) == keyed, f"{method} {path}"


class TestAudienceTags:
    """Tags follow from the declared permission and `ROLE_PERMISSIONS`, not from a hand."""

    @pytest.mark.parametrize("permission", list(Permission))
    def test_a_permission_is_tagged_with_each_role_holding_it(self, permission: Permission) -> None:
        tags = openapi.audiences_of(permission)
        holders = {
            tag for tag, role in openapi.AUDIENCES.items() if permission in ROLE_PERMISSIONS[role]
        }
        assert set(tags) == (holders or {openapi.ADMINISTRATION})

    def test_keys_are_administration_and_events_every_reader(self) -> None:
        assert openapi.audiences_of(Permission.KEYS_MANAGE) == [openapi.ADMINISTRATION]
        assert openapi.audiences_of(Permission.EVENTS_READ) == [
            "government",
            "property",
            "device operations",
        ]
        assert Role.ADMIN not in openapi.AUDIENCES.values()

    def test_open_health_checks_are_operations(self, document: dict[str, Any]) -> None:
        for path in ("/healthz", "/readyz"):
            assert document["paths"][path]["get"]["tags"] == [openapi.OPERATIONS]


class TestEveryModelIsDocumented:
    """Models carry their own words: a description for each and each field, and an example
    for every request body."""

    def test_every_model_and_field_has_a_description(self, document: dict[str, Any]) -> None:
        undescribed = [
            f"{name}.{field}" if field else name
            for name, schema in sorted(document["components"]["schemas"].items())
            if "properties" in schema
            for field in ("", *schema["properties"])
            if not (schema["properties"][field] if field else schema).get("description")
        ]
        assert undescribed == [], f"add a description (or attribute docstring): {undescribed}"

    def test_every_request_body_has_an_example(self, document: dict[str, Any]) -> None:
        schemas = document["components"]["schemas"]

        def exemplified(schema: dict[str, Any]) -> bool:
            if "$ref" in schema:
                schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
            if "examples" in schema or "example" in schema:
                return True
            items = schema.get("items")
            return isinstance(items, dict) and bool(items) and exemplified(items)

        for method, path, operation in operations(document):
            body = operation.get("requestBody")
            if body is None:
                continue
            json_body = body["content"].get("application/json")
            assert json_body is not None, f"{method} {path}: no JSON body"
            has_example = "example" in json_body or "examples" in json_body
            assert has_example or exemplified(json_body["schema"]), f"{method} {path}"
