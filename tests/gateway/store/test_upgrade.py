"""Specification of the upgrade from the previous release (e3e563c): its rows under today's rules.

The old database is built as that release left it: migrations 0001 and 0002 only, rows in the
formats its store wrote (`git show e3e563c:gateway/store/sqlite.py`), with values its rules let
through and today's refuse.
"""

import json
import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gateway.logs import TextFormatter
from gateway.store.micros import to_micros
from gateway.store.upgrade import (
    OLD_EXCERPT_MARKER,
    REFUSED_ON_UPGRADE,
    Refusal,
    RowRules,
    screen_device,
    screen_event,
)
from testkit.harness import gateway_settings, running_gateway
from testkit.inspection import SQLITE_PREFIX, database_dump
from testkit.services import MosquittoService

PHONE = "13912345678"
NAME = "欧阳锋"
MARKUP = "<b>x</b>"
OLD_MIGRATIONS = ("0001_events", "0002_devices")
PLANTED = (PHONE, NAME, MARKUP, "dev one")


def old_event(device_id: str, occurred_at: datetime, **fields: object) -> dict[str, object]:
    """An access event as the previous release's models wrote it (no fields added since)."""
    now = datetime.now(UTC)
    return {
        "event_id": f"{abs(hash((device_id, occurred_at, str(fields)))):032x}"[:32],
        "community": "yida",
        "device_id": device_id,
        "occurred_at": occurred_at.isoformat(),
        "received_at": now.isoformat(),
        "dialect": "hik-isapi",
        "building": None,
        "unit": None,
        "gate": None,
        "unregistered_device": False,
        "kind": "access",
        "direction": "in",
        "method": "card",
        "result": "granted",
        "door": None,
        "reader": 1,
        "credential": None,
        "vendor_code": "5-75",
        **fields,
    }


def old_device(device_id: str, **fields: object) -> dict[str, object]:
    return {
        "device_id": device_id,
        "kind": "door_controller",
        "dialect": "hik-isapi",
        "community": "yida",
        "building": "B1",
        "unit": None,
        "gate": None,
        "door": "east door",
        "offline_after_s": 600,
        **fields,
    }


def old_rows() -> tuple[list[dict[str, object]], list[dict[str, object]], list[str]]:
    """Events, devices and dead-letter excerpts the previous release would have stored."""
    now = datetime.now(UTC)
    events = [
        old_event("door-1", now - timedelta(minutes=5)),
        old_event("door-1", now - timedelta(minutes=4), door=MARKUP),
        old_event("door-1", now - timedelta(minutes=3), door=f"{PHONE} {NAME}"),
        old_event("dev one", now - timedelta(minutes=2)),
        old_event(PHONE, now - timedelta(minutes=1)),
        old_event("door-1", datetime(9999, 12, 31, tzinfo=UTC)),
    ]
    devices = [
        old_device("door-1"),
        old_device("door-2", building=MARKUP, unit="U1", door=f"{PHONE} {NAME}"),
        old_device("door-3", dialect="nosuch"),
        old_device("door-4", kind="camera"),
        old_device(PHONE),
        old_device("dev one"),
    ]
    excerpts = [json.dumps({"remark": f"{NAME} {PHONE}"}, ensure_ascii=False)]
    return events, devices, excerpts


def build_old_database(database_url: str) -> None:
    """The previous release's schema and rows, on either store."""
    if database_url.startswith(SQLITE_PREFIX):
        build_old_sqlite(Path(database_url.removeprefix(SQLITE_PREFIX)))
    else:
        build_old_postgres(database_url)


def old_script(backend: str, version: str) -> str:
    folder = resources.files("gateway.store") / "migrations" / backend
    return (folder / f"{version}.sql").read_text("utf-8")


def build_old_sqlite(path: Path) -> None:
    events, devices, excerpts = old_rows()
    db = sqlite3.connect(path)
    try:
        db.execute(
            "CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        for version in OLD_MIGRATIONS:
            db.executescript(old_script("sqlite", version))
            db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, "2026-01-01"))
        now = to_micros(datetime.now(UTC))
        for e in events:
            occurred = to_micros(datetime.fromisoformat(str(e["occurred_at"])))
            db.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
                (occurred, e["event_id"], "access", "yida", e["device_id"], now, json.dumps(e)),
            )
        for d in devices:
            db.execute(
                "INSERT INTO devices (device_id, kind, dialect, community, building, unit, gate,"
                " door, offline_after_s, registered_us, updated_us) VALUES (:device_id, :kind,"
                " :dialect, :community, :building, :unit, :gate, :door, :offline_after_s,"
                " :now, :now)",
                {**d, "now": now},
            )
        for excerpt in excerpts:
            db.execute(
                "INSERT INTO dead_letters (received_us, topic, reason, detail, payload_excerpt,"
                " payload_bytes) VALUES (?, ?, ?, ?, ?, ?)",
                (now, f"yida/hik-isapi/{PHONE}", "schema", "result: Field required", excerpt, 99),
            )
        db.commit()
    finally:
        db.close()
    path.chmod(0o644)  # what the previous release left


def build_old_postgres(dsn: str) -> None:
    events, devices, excerpts = old_rows()
    now = datetime.now(UTC)
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute(
            "CREATE TABLE schema_migrations"
            " (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version in OLD_MIGRATIONS:
            db.execute(old_script("postgres", version).encode())
            db.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
        for e in events:
            db.execute(
                "INSERT INTO events VALUES (%s, %s, 'access', 'yida', %s, %s, %s::jsonb)",
                (e["occurred_at"], e["event_id"], e["device_id"], now, json.dumps(e)),
            )
        for d in devices:
            db.execute(
                "INSERT INTO devices (device_id, kind, dialect, community, building, unit, gate,"
                " door, offline_after_s, registered_at, updated_at) VALUES (%(device_id)s,"
                " %(kind)s, %(dialect)s, %(community)s, %(building)s, %(unit)s, %(gate)s,"
                " %(door)s, %(offline_after_s)s, %(now)s, %(now)s)",
                {**d, "now": now},
            )
        for excerpt in excerpts:
            db.execute(
                "INSERT INTO dead_letters (received_at, topic, reason, detail, payload_excerpt,"
                " payload_bytes) VALUES (%s, %s, 'schema', 'result: Field required', %s, 99)",
                (now, f"yida/hik-isapi/{PHONE}", excerpt),
            )


def gateway_log(records: list[logging.LogRecord]) -> str:
    """The lines the gateway's log handler writes (the test's HTTP client logs its own URLs;
    `scgw` keeps uvicorn's access log at WARNING)."""
    formatter = TextFormatter()
    own = (r for r in records if not r.name.startswith(("httpx", "httpcore", "uvicorn.access")))
    return "\n".join(formatter.format(record) for record in own)


def planted_in(text: str) -> list[str]:
    return [value for value in PLANTED if value in text]


class TestUpgradeFromPreviousRelease:
    """A gateway started on the previous release's data starts, serves every list with 200s,
    and keeps none of the old personal data in its database, answers or logs."""

    async def test_the_new_gateway_starts_and_cleans_old_rows(
        self, database: str, mosquitto: MosquittoService, caplog: pytest.LogCaptureFixture
    ) -> None:
        build_old_database(database)
        caplog.set_level(logging.DEBUG)
        settings = gateway_settings(mosquitto.url, database)
        async with running_gateway(settings) as gateway:
            answers = [
                await gateway.http.get(path, params=params)
                for path, params in (
                    ("/v1/events", {"limit": 1000}),
                    ("/v1/events", {"device_id": "door-1"}),
                    ("/v1/devices", {"limit": 1000}),
                    ("/v1/dead-letters", {"limit": 1000}),
                )
            ]
            for refused_id in ("dev one", PHONE):
                answer = await gateway.http.get("/v1/events", params={"device_id": refused_id})
                assert answer.status_code < 500
            assert [a.status_code for a in answers] == [200, 200, 200, 200]
            events, door_events, devices, letters = (a.json()["data"] for a in answers)
        assert sorted(e["door"] is None for e in events) == [True, True, True]
        assert {e["device_id"] for e in door_events} == {"door-1"}
        assert all(e["occurred_at"] < datetime.now(UTC).isoformat() for e in events)
        assert {d["device_id"]: d["building"] for d in devices} == {"door-1": "B1", "door-2": None}
        refused = [letter for letter in letters if letter["reason"] == REFUSED_ON_UPGRADE]
        assert len(refused) == 3 + 4  # three events, four devices
        old = [letter for letter in letters if letter["reason"] == "schema"]
        assert [letter["payload_excerpt"] for letter in old] == [OLD_EXCERPT_MARKER]
        answered = json.dumps([a.json() for a in answers], ensure_ascii=False)
        assert planted_in(answered) == []
        assert planted_in(database_dump(database)) == []
        logged = gateway_log(caplog.records)
        assert planted_in(logged) == []
        assert "devices: 1 removed: dialect is not a dialect of this gateway" in logged


class TestScreenEvent:
    """An old event body is rewritten under today's rules, or refused naming the rule only."""

    def test_a_name_with_markup_is_dropped_from_the_body(self) -> None:
        body = json.dumps(old_event("door-1", datetime.now(UTC), door=MARKUP))
        rewritten = screen_event(body, RowRules.defaults())
        assert isinstance(rewritten, str)
        assert json.loads(rewritten)["door"] is None
        assert MARKUP not in rewritten

    def test_a_personal_device_id_is_refused_without_its_value(self) -> None:
        refusal = screen_event(old_event(PHONE, datetime.now(UTC)), RowRules.defaults())
        assert isinstance(refusal, Refusal)
        assert "device_id" in refusal.rule
        assert PHONE not in refusal.rule

    def test_an_implausible_time_is_refused(self) -> None:
        body = old_event("door-1", datetime.now(UTC) + timedelta(days=2))
        refusal = screen_event(body, RowRules.defaults())
        assert isinstance(refusal, Refusal)
        assert refusal.rule.startswith("implausible_time")


class TestScreenDevice:
    """An old registration keeps what the rules allow; one that cannot be fixed is refused."""

    def fields(self, **changes: Any) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {**old_device("door-1"), "registered_at": now, "updated_at": now, **changes}

    def test_bad_optional_names_are_dropped_and_a_unit_goes_with_its_building(self) -> None:
        outcome = screen_device(
            self.fields(building=MARKUP, unit="U1", door=NAME + " " + PHONE), RowRules.defaults()
        )
        assert not isinstance(outcome, Refusal)
        fixed, dropped = outcome
        assert (fixed["building"], fixed["unit"], fixed["door"]) == (None, None, None)
        assert dropped == ["building", "door", "unit"]

    def test_an_unknown_dialect_is_refused(self) -> None:
        outcome = screen_device(self.fields(dialect="nosuch"), RowRules.defaults())
        assert isinstance(outcome, Refusal)
        assert outcome.rule.startswith("dialect is not a dialect of this gateway")

    def test_a_kind_outside_the_dialect_is_refused(self) -> None:
        outcome = screen_device(self.fields(kind="camera"), RowRules.defaults())
        assert isinstance(outcome, Refusal)
        assert outcome.rule.startswith("kind is not a kind this dialect serves")

    def test_a_personal_device_id_is_refused_without_its_value(self) -> None:
        outcome = screen_device(self.fields(device_id=PHONE), RowRules.defaults())
        assert isinstance(outcome, Refusal)
        assert PHONE not in outcome.rule
