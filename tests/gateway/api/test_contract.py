"""Specification of the API contract: Schemathesis, against a live gateway on PostgreSQL with
TimescaleDB holding both pilot communities' master data and some of their device traffic,
finds no 5xx, and every answer has a status, a content type and a body its operation declares.

Schemathesis reads the document the gateway serves (`/openapi.json`) and generates requests from
it, valid ones and ones that break the schema, for every operation. The examples are bounded
(`EXAMPLES`) and derandomized so a run takes a few minutes on a small machine and a failure is
found again by the next run. Schemathesis calls are blocking (`requests`), and the gateway
serves in this test's event loop, so they run in a worker thread.

Erasing a person and revoking a key are run last: their generated ids are random and meet no
seeded person and no key in use, but whatever they removed could only change what later
operations read. Failed authentications are not limited here (the generated requests all
present a valid key; a 429 would hide every other answer).
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.config import load_config
from gateway.demo import import_master_data
from gateway.tickets import TicketDrafter
from simulators.community import pilot_community
from simulators.config_toml import communities_config_toml
from simulators.publisher import publish
from simulators.scenario_traffic import clean_traffic
from testkit.harness import ADMIN_KEY, RunningGateway, gateway_settings, running_gateway, wait_until
from testkit.keys import create_key, key_client
from testkit.services import MosquittoService, PostgresService
from tests.gateway.ticket_rules import RULES, finding

PILOTS = ("yida", "jiaxin")
MESSAGES_PER_PILOT = 300
"""Enough traffic that event, device and house answers carry real records."""

EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 8}
"""Generated requests per operation, mode and key: bounds the whole test to a few minutes."""
SEEDED_EXAMPLES = 6
"""Generated requests per read of a known record (its query varied, its path fixed)."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

EXCLUDED = {
    ("GET", "/v1/stream"): "a server-sent-event stream never ends, so a generated request would"
    " wait for ever; tests/gateway/api/test_stream_api.py holds its contract",
}
"""Operations Schemathesis does not call, each with the reason."""

LAST = frozenset({("DELETE", "/v1/persons/{person_id}"), ("DELETE", "/v1/keys/{key_id}")})
"""Destructive operations, run after every other one (see the module's docstring)."""


@dataclass(frozen=True)
class Finding:
    """One operation's failure, as Schemathesis reported it."""

    operation: str
    mode: str
    report: str


@pytest.fixture(scope="module")
def contract_database(postgres: PostgresService) -> Iterable[str]:
    name = f"contract_{uuid.uuid4().hex[:12]}"
    yield postgres.create_database(name)
    postgres.drop_database(name)


@pytest.fixture(scope="module")
async def pilots(
    mosquitto: MosquittoService,
    contract_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RunningGateway]:
    """A gateway with both pilot communities' registry, master data and some traffic."""
    communities = [pilot_community(code) for code in PILOTS]
    config_path = Path(tmp_path_factory.mktemp("contract")) / "pilots.toml"
    config_path.write_text(communities_config_toml(communities), encoding="utf-8")
    settings = gateway_settings(
        mosquitto.url, contract_database, api_auth_failures_per_minute=10_000
    )
    async with running_gateway(settings, load_config(config_path)) as gateway:
        await import_master_data(gateway.runtime, communities, actor="contract test")
        end = datetime.now(UTC)
        traffic = [
            message
            for community in communities
            for message in islice(clean_traffic(community, 7, end, days=1), MESSAGES_PER_PILOT)
        ]
        await publish(traffic, url=mosquitto.url, connections=2)
        expected = sum(len(message.kinds) for message in traffic)
        registry = gateway.runtime.metrics.registry

        def stored() -> bool:
            return (registry.get_sample_value("scgw_events_stored_total") or 0) >= expected

        await wait_until(stored, timeout_s=120, what="the pilots' traffic stored")
        await record_tickets(gateway)
        yield gateway


async def record_tickets(gateway: RunningGateway) -> None:
    """A few tickets of both pilots, as the rule runners record them: one the property
    company must act on, one the government's alone (the watch-list), one in Jiaxin."""
    runtime = gateway.runtime
    drafter = TicketDrafter(runtime.responsibility, runtime.grids, RULES, runtime.devices.get)
    findings = [
        finding("safety.door_forced", subject="door:contract"),
        finding("care.no_activity", subject="house:contract"),
        finding("fire.lane_occupied", community="jiaxin", subject="lane:contract"),
    ]
    await runtime.store.record_tickets([drafter.draft(f) for f in findings], datetime.now(UTC))


async def known_values(http: httpx.AsyncClient) -> dict[str, str]:
    """A Yida record of each kind the client's key sees, by the path parameter naming it: what
    a seeded pass asks for, so the answers checked against the document are real records, not
    404s (a kind the key sees none of is left out)."""
    first: dict[str, str] = {"community": "yida", "code": "yida", "dataset": "houses"}
    for path, field, name in (
        ("/v1/persons", "person_id", "person_id"),
        ("/v1/houses", "house_code", "house_code"),
        ("/v1/vehicles", "vehicle_id", "vehicle_id"),
        ("/v1/devices", "device_id", "device_id"),
        ("/v1/tickets", "ticket_id", "ticket_id"),
    ):
        response = await http.get(path, params={"community": "yida", "limit": 1})
        response.raise_for_status()
        for record in response.json()["data"]:
            first[name] = record[field]
    return first


def run_contract(base_url: str, key: str, known: dict[str, str]) -> list[Finding]:
    """Every operation's generated requests with `key`, then the reads again with `known`
    records in their paths; the failures found."""
    headers = {"X-API-Key": key}
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # an operation Schemathesis cannot read is a finding
            raise AssertionError(f"unusable operation in the document: {result.err()}")
        operation = result.ok()
        if (operation.method.upper(), operation.path) not in EXCLUDED:
            operations.append(operation)
    findings: list[Finding] = []
    passes: list[tuple[Any, GenerationMode, int, dict[str, str] | None]] = [
        (operation, mode, examples, None)
        for operation in operations
        for mode, examples in EXAMPLES.items()
    ]
    passes += [
        (operation, GenerationMode.POSITIVE, SEEDED_EXAMPLES, path)
        for operation in operations
        if operation.method.upper() == "GET" and (path := _known_path(operation, known)) is not None
    ]
    passes.sort(key=lambda each: (each[0].method.upper(), each[0].path) in LAST)  # stable
    with requests.Session() as session:
        for operation, mode, examples, path in passes:
            statuses: list[int] = []
            test = _hypothesis_test(
                operation, mode, examples, base_url, headers, session, path, statuses
            )
            try:
                test()
            except Unsatisfiable:  # nothing to break: no parameter and no body
                continue
            except Exception as error:  # every failure is reported, not only the first
                label = f"{operation.method.upper()} {operation.path}"
                kind = mode.value if path is None else f"{mode.value}, known {path}"
                findings.append(Finding(label, kind, _short(error)))
                continue
            if path is not None and not any(200 <= status < 300 for status in statuses):
                label = f"{operation.method.upper()} {operation.path}"
                report = f"a known record was never answered: {sorted(set(statuses))}"
                findings.append(Finding(label, f"known {path}", report))
    return findings


def _known_path(operation: Any, known: dict[str, str]) -> dict[str, str] | None:
    """The known values of the operation's path parameters; None when it has none, or one
    no known value names."""
    names = [
        p["name"] for p in operation.definition.raw.get("parameters", []) if p.get("in") == "path"
    ]
    if not names or any(name not in known for name in names):
        return None
    return {name: known[name] for name in names}


def _hypothesis_test(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    base_url: str,
    headers: dict[str, str],
    session: requests.Session,
    path: dict[str, str] | None = None,
    statuses: list[int] | None = None,
) -> Callable[[], None]:
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path))
    def test(case: Any) -> None:
        response = case.call_and_validate(
            base_url=base_url, session=session, headers=headers, checks=CHECKS, timeout=30
        )
        if statuses is not None:
            statuses.append(response.status_code)

    return test


def _short(error: BaseException) -> str:
    text = str(error)
    return text if len(text) < 4000 else text[:4000] + " ..."


def _report(findings: Sequence[Finding]) -> str:
    return "\n\n".join(f"{f.operation} ({f.mode}):\n{f.report}" for f in findings)


class TestTheLiveApiKeepsItsContract:
    """No 5xx, and every answer conforms to the document, for each kind of key: a property
    company's key scoped to Yida Town first (its refusals, 403 and 404, are declared answers
    too), then the admin's, whose run may revoke or erase."""

    async def test_a_yida_property_key_meets_no_server_error_and_no_undeclared_answer(
        self, pilots: RunningGateway
    ) -> None:
        secret = await create_key(pilots, "property", ["yida"], name="contract: yida")
        async with key_client(pilots, secret) as http:
            known = await known_values(http)
        assert {"person_id", "house_code", "device_id", "ticket_id"} <= set(known)
        findings = await asyncio.to_thread(run_contract, _base_url(pilots), secret, known)
        assert findings == [], _report(findings)

    async def test_an_admin_key_meets_no_server_error_and_no_undeclared_answer(
        self, pilots: RunningGateway
    ) -> None:
        known = await known_values(pilots.http)
        assert {"person_id", "house_code", "vehicle_id", "device_id", "ticket_id"} <= set(known)
        findings = await asyncio.to_thread(run_contract, _base_url(pilots), ADMIN_KEY, known)
        assert findings == [], _report(findings)


def _base_url(gateway: RunningGateway) -> str:
    return str(gateway.http.base_url).rstrip("/")
