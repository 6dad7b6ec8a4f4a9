"""The audit log, the audited device registry edits and the erasure of a person (PIPL right to
deletion) through a running gateway's HTTP API, on both stores, each test on a fresh seed."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.store.base import EventQuery
from schemas.events import AccessEvent
from schemas.privacy import credential_ref, subject_key
from testkit.harness import RunningGateway, gateway_settings, running_gateway
from testkit.services import MosquittoService
from tests.gateway.api.pages import every
from tests.gateway.api.population_seed import (
    OWNER,
    PSEUDONYMIZER,
    TENANT,
    TENANT_CARD_REF,
    Seeded,
    seed,
)

DEVICE_ID = "43011200001320000005"
OTHER_CARD_REF = credential_ref(PSEUDONYMIZER, "card", "0099999999")

Seed = tuple[RunningGateway, Seeded]


@pytest.fixture
async def fresh(mosquitto: MosquittoService, database: str) -> AsyncIterator[Seed]:
    """A gateway on each store in turn, freshly seeded for one test."""
    async with running_gateway(gateway_settings(mosquitto.url, database)) as gateway:
        yield gateway, await seed(gateway)


def door_event(credential: str) -> AccessEvent:
    """A card opening of yida's B03 unit door an hour ago, keyed as the resolution step keys."""
    now = datetime.now(UTC)
    return AccessEvent(
        event_id=uuid.uuid4().hex,
        community="yida",
        device_id=DEVICE_ID,
        occurred_at=now - timedelta(hours=1),
        received_at=now,
        dialect="hik-isapi",
        building="B03",
        unit="U2",
        direction="in",
        method="card",
        result="granted",
        credential=credential,
        vendor_code="5/0x1",
        subject_key=subject_key("yida", credential),
    )


async def audit_log(gateway: RunningGateway) -> list[dict[str, Any]]:
    """The whole audit log through the API, one entry a page."""
    return await every(gateway.http, "/v1/audit")


def device_body() -> dict[str, Any]:
    return {
        "kind": "door_controller",
        "dialect": "hik-isapi",
        "community": "yida",
        "building": "B03",
        "unit": "U2",
        "door": "B03-U2 unit door",
    }


class TestAuditLog:
    """`GET /v1/audit` lists what was done, newest first, with a cursor."""

    async def test_entries_come_newest_first_across_pages(self, fresh: Seed) -> None:
        gateway, seeded = fresh
        tenant = seeded.id_of(TENANT)
        unmask = {"unmask": "true", "reason": "welfare check"}
        assert (await gateway.http.get(f"/v1/persons/{tenant}", params=unmask)).status_code == 200
        put = await gateway.http.put(f"/v1/devices/{DEVICE_ID}", json=device_body())
        assert put.status_code == 201, put.text
        erase = {"reason": "resident request"}
        owner = seeded.id_of(OWNER)
        assert (await gateway.http.delete(f"/v1/persons/{owner}", params=erase)).status_code == 204
        entries = await audit_log(gateway)
        assert [(e["action"], e["records"], e["reason"]) for e in entries] == [
            ("person.erase", [owner], "resident request"),
            ("device.put", [DEVICE_ID], None),
            ("person.unmask", [tenant], "welfare check"),
        ]
        assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
        assert all(e["community"] == "yida" for e in entries)

    async def test_the_log_holds_no_personal_values(self, fresh: Seed) -> None:
        gateway, _ = fresh
        params = {"community": "yida", "unmask": "true", "reason": "audit drill"}
        assert (await gateway.http.get("/v1/persons", params=params)).status_code == 200
        response = await gateway.http.get("/v1/audit")
        for resident in (OWNER, TENANT):
            for value in (resident.name, resident.phone, resident.id_number):
                assert value not in response.text

    async def test_a_bad_cursor_is_400(self, fresh: Seed) -> None:
        gateway, _ = fresh
        response = await gateway.http.get("/v1/audit", params={"cursor": "xyz"})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_cursor"


class TestDevicePutAudited:
    """Every stored `PUT /v1/devices/{id}` writes a `device.put` entry; a refused one none."""

    async def test_a_registration_and_its_replacement_are_audited(self, fresh: Seed) -> None:
        gateway, _ = fresh
        for expected in (201, 200):
            response = await gateway.http.put(f"/v1/devices/{DEVICE_ID}", json=device_body())
            assert response.status_code == expected, response.text
        puts = [e for e in await audit_log(gateway) if e["action"] == "device.put"]
        assert [(e["records"], e["details"]) for e in puts] == [
            ([DEVICE_ID], {"created": 0}),
            ([DEVICE_ID], {"created": 1}),
        ]

    async def test_a_refused_registration_is_not_audited(self, fresh: Seed) -> None:
        gateway, _ = fresh
        body = {**device_body(), "kind": "toaster"}
        response = await gateway.http.put(f"/v1/devices/{DEVICE_ID}", json=body)
        assert response.status_code == 422
        assert [e for e in await audit_log(gateway) if e["action"] == "device.put"] == []


class TestErasure:
    """`DELETE /v1/persons/{id}?reason=` erases the person, keeps their events anonymous, and
    leaves an audit entry; nothing else changes."""

    async def test_the_person_goes_and_the_audit_entry_stays(self, fresh: Seed) -> None:
        gateway, seeded = fresh
        tenant = seeded.id_of(TENANT)
        response = await gateway.http.delete(
            f"/v1/persons/{tenant}", params={"reason": "PIPL request 7"}
        )
        assert response.status_code == 204, response.text
        assert (await gateway.http.get(f"/v1/persons/{tenant}")).status_code == 404
        listed = (await gateway.http.get("/v1/persons", params={"community": "yida"})).json()
        assert tenant not in {p["person_id"] for p in listed["data"]}
        assert len(listed["data"]) == 3
        house = (await gateway.http.get("/v1/houses/yida-3-2-1801")).json()
        assert house["occupants"] == []
        vehicles = (await gateway.http.get("/v1/vehicles", params={"plate_no": "湘AD12345"})).json()
        assert [v["owner_person_id"] for v in vehicles["data"]] == [None]
        (entry,) = [e for e in await audit_log(gateway) if e["action"] == "person.erase"]
        assert (entry["records"], entry["community"], entry["reason"]) == (
            [tenant],
            "yida",
            "PIPL request 7",
        )

    async def test_their_events_stay_anonymous_and_others_keep_their_keys(
        self, fresh: Seed
    ) -> None:
        gateway, seeded = fresh
        theirs, others = door_event(TENANT_CARD_REF), door_event(OTHER_CARD_REF)
        await gateway.runtime.store.write_batch([theirs, others], [])
        deleted = await gateway.http.delete(
            f"/v1/persons/{seeded.id_of(TENANT)}", params={"reason": "PIPL request 8"}
        )
        assert deleted.status_code == 204
        page = await gateway.runtime.store.list_events(EventQuery(community="yida", limit=10))
        stored = {event.event_id: event for event in page.data}
        assert set(stored) == {theirs.event_id, others.event_id}
        anonymous = stored[theirs.event_id]
        assert isinstance(anonymous, AccessEvent)
        assert (anonymous.credential, anonymous.subject_key) == (None, None)
        assert (anonymous.occurred_at, anonymous.device_id) == (theirs.occurred_at, DEVICE_ID)
        kept = stored[others.event_id]
        assert isinstance(kept, AccessEvent)
        assert (kept.credential, kept.subject_key) == (OTHER_CARD_REF, others.subject_key)

    @pytest.mark.parametrize("params", [{}, {"reason": ""}, {"reason": "  "}])
    async def test_a_reason_is_required(self, fresh: Seed, params: dict[str, str]) -> None:
        gateway, seeded = fresh
        person = seeded.id_of(OWNER)
        response = await gateway.http.delete(f"/v1/persons/{person}", params=params)
        assert response.status_code == 400
        assert response.json()["error"]["details"][0]["location"] == ["query", "reason"]
        assert (await gateway.http.get(f"/v1/persons/{person}")).status_code == 200
        assert [e for e in await audit_log(gateway) if e["action"] == "person.erase"] == []

    async def test_an_unknown_or_already_erased_person_is_404(self, fresh: Seed) -> None:
        gateway, seeded = fresh
        person = seeded.id_of(OWNER)
        reason = {"reason": "duplicate record"}
        assert (
            await gateway.http.delete(f"/v1/persons/{person}", params=reason)
        ).status_code == 204
        assert (
            await gateway.http.delete(f"/v1/persons/{person}", params=reason)
        ).status_code == 404
        erasures = [e for e in await audit_log(gateway) if e["action"] == "person.erase"]
        assert len(erasures) == 1
