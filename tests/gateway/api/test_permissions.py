"""Every endpoint declares the one permission it needs, and the README's table says so."""

from pathlib import Path

import pytest
from fastapi import FastAPI

from gateway.access import ROLE_PERMISSIONS, Permission, Role
from gateway.api.permissions_table import (
    RouteAccess,
    gateway_app,
    markdown_table,
    readme_section,
    route_access,
    undeclared,
    with_table,
)
from gateway.cli import main

README = Path(__file__).resolve().parents[3] / "README.md"
OPEN_PATHS = {"/healthz", "/readyz"}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return gateway_app()


@pytest.fixture(scope="module")
def rows(app: FastAPI) -> list[RouteAccess]:
    return route_access(app)


class TestEveryEndpointDeclaresAPermission:
    def test_no_route_under_v1_or_metrics_is_left_undeclared(self, rows: list[RouteAccess]) -> None:
        assert undeclared(rows) == []

    def test_the_health_checks_stay_open(self, rows: list[RouteAccess]) -> None:
        open_paths = {row.path for row in rows if row.permission is None}
        assert open_paths >= OPEN_PATHS
        assert all(not row.guarded for row in rows if row.permission is None)

    def test_the_table_covers_the_api(self, rows: list[RouteAccess]) -> None:
        paths = {row.path for row in rows}
        assert {"/metrics", "/v1/events", "/v1/tickets", "/v1/persons/{person_id}"} <= paths

    def test_a_route_without_a_permission_is_found(self) -> None:
        bare = FastAPI()

        @bare.get("/v1/forgotten")
        async def forgotten() -> None: ...

        assert [row.path for row in undeclared(route_access(bare))] == ["/v1/forgotten"]


class TestTheChosenPermissions:
    """The issue's choices, stated once more where a slip would be costly."""

    @pytest.mark.parametrize(
        ("method", "path", "permission"),
        [
            ("GET", "/v1/events", Permission.EVENTS_READ),
            ("PUT", "/v1/devices/{device_id}", Permission.DEVICES_WRITE),
            ("GET", "/v1/dead-letters/{letter_id}/raw", Permission.DEAD_LETTERS_RAW),
            ("PUT", "/v1/property/{community}/{dataset}", Permission.MASTERDATA_WRITE),
            ("DELETE", "/v1/persons/{person_id}", Permission.PERSONS_ERASE),
            ("PUT", "/v1/watchlist/vehicles", Permission.WATCHLIST_MANAGE),
            ("GET", "/v1/outbox", Permission.OUTBOX_READ),
            ("POST", "/v1/outbox/{ticket_id}/retry", Permission.OUTBOX_RETRY),
            ("GET", "/v1/audit", Permission.AUDIT_READ),
            ("GET", "/v1/stats/tickets", Permission.TICKETS_STATS),
            ("GET", "/metrics", Permission.METRICS_READ),
        ],
    )
    def test_the_endpoint_needs(
        self, rows: list[RouteAccess], method: str, path: str, permission: Permission
    ) -> None:
        assert RouteAccess(path, method, permission) in rows

    def test_a_property_key_never_reaches_the_governments_endpoints(
        self, rows: list[RouteAccess]
    ) -> None:
        reached = {row.path for row in rows if Role.PROPERTY in row.roles and row.guarded}
        assert not any(path.startswith(("/v1/watchlist", "/v1/outbox")) for path in reached)
        assert "/metrics" not in reached

    def test_device_ops_reads_no_master_data_and_no_ticket(self) -> None:
        held = ROLE_PERMISSIONS[Role.DEVICE_OPS]
        assert Permission.MASTERDATA_READ not in held
        assert Permission.TICKETS_READ not in held


class TestTheReadmeTable:
    def test_the_readme_holds_the_generated_table(self, rows: list[RouteAccess]) -> None:
        assert readme_section(README.read_text("utf-8")) == markdown_table(rows), (
            "the README's permission table drifted: run `scgw permissions --readme README.md`"
        )

    def test_rewriting_the_table_changes_nothing_else(self, rows: list[RouteAccess]) -> None:
        text = README.read_text("utf-8")
        assert with_table(text, markdown_table(rows)) == text

    def test_the_command_prints_the_table(
        self, rows: list[RouteAccess], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["permissions"]) == 0
        assert capsys.readouterr().out == markdown_table(rows)

    def test_the_command_writes_the_table_into_a_readme(
        self, rows: list[RouteAccess], tmp_path: Path
    ) -> None:
        readme = tmp_path / "README.md"
        stale = markdown_table(rows[:1])
        readme.write_text(with_table(README.read_text("utf-8"), stale), "utf-8")
        assert main(["permissions", "--readme", str(readme)]) == 0
        assert readme.read_text("utf-8") == README.read_text("utf-8")
