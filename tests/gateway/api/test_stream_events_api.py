"""The events on `GET /v1/stream` are `GET /v1/events`' events: a card opening, a matched face
and a visit ingested over a real Mosquitto into a gateway holding master data, on each store,
arrive on the stream exactly as the list renders them (`person_id` resolved, the community's
`subject_key`), and no gateway-wide credential or ID hash (`h1:`) is anywhere in the stream's
text, whoever reads it (the government, a property company)."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from schemas.privacy import hash_id_number
from testkit.harness import RunningGateway, mosquitto_pub
from testkit.keys import create_key, key_client
from testkit.services import MosquittoService
from testkit.times import redate_fixture
from tests.gateway.api.population_seed import PSEUDONYMIZER, TENANT, TENANT_CARD, Seeded
from tests.gateway.store.master_rows import MasterRows

FIXTURES = Path(__file__).parents[2] / "adapters" / "fixtures"
DOOR = "43011200001329999998"
CAMERA = "43011200001310000021"
"""The devices of this module's events (the camera's is the one its fixture names)."""
FACE_ID_NUMBER = "430112198807150036"
VISITOR_ID_NUMBER = "430112198806142030"
"""The ID numbers of the fixtures' matched face and visitor: people stored as residents."""
KINDS = frozenset({"access", "face_capture", "visitor"})


def payload(path: str, raw: str | None = None, replacement: str = "") -> bytes:
    """A fixture moved to the last minutes, its card number `raw` replaced."""
    original = (FIXTURES / path).read_bytes()
    moved = redate_fixture(original, datetime.now(UTC) - timedelta(minutes=1))
    if raw is None:
        return moved
    assert raw.encode() in original
    return moved.replace(raw.encode(), replacement.encode())


async def ingest(mosquitto: MosquittoService) -> None:
    """A tenant's card opening, a known person's face matched, a known person's visit."""
    card = payload("hik_isapi/card_granted.json", "3188542196", TENANT_CARD)
    await mosquitto_pub(mosquitto.port, f"yida/hik-isapi/{DOOR}", [card])
    matched = payload("gat1400/face_matched.json")
    await mosquitto_pub(mosquitto.port, f"yida/gat1400/{CAMERA}", [matched])
    visit = payload("visitor_cloud/registration_single.json")
    await mosquitto_pub(mosquitto.port, f"yida/visitor-cloud/{DOOR}", [visit])


class RawStream:
    """A stream read as text, kept whole, and its event messages parsed."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.text = ""
        self._chunks = response.aiter_text()

    def events(self) -> list[dict[str, object]]:
        found = []
        for block in self.text.split("\n\n"):
            lines = block.split("\n")
            if "event: event" in lines:
                data = next(line for line in lines if line.startswith("data: "))
                found.append(json.loads(data.removeprefix("data: ")))
        return found

    def ours(self) -> dict[str, dict[str, object]]:
        """This module's events, by kind."""
        return {str(e["kind"]): e for e in self.events() if e["device_id"] in (DOOR, CAMERA)}

    async def read_until_ours(self, timeout_s: float = 30) -> dict[str, dict[str, object]]:
        async with asyncio.timeout(timeout_s):
            while not self.ours().keys() >= KINDS:
                self.text += await anext(self._chunks)
        return self.ours()


@contextlib.asynccontextmanager
async def open_raw(client: httpx.AsyncClient) -> AsyncIterator[RawStream]:
    async with client.stream(
        "GET", "/v1/stream", params={"kinds": "event"}, timeout=httpx.Timeout(30)
    ) as response:
        assert response.status_code == 200
        yield RawStream(response)


class TestStreamedEventsAreListedEvents:
    async def test_each_streamed_event_is_the_list_s_rendering_and_no_hash_is_streamed(
        self,
        seeded: tuple[RunningGateway, Seeded],
        module_database: str,
        mosquitto: MosquittoService,
    ) -> None:
        gateway, people = seeded
        rows = MasterRows(module_database)
        rows.person("yida", "p_face", hash_id_number(PSEUDONYMIZER, FACE_ID_NUMBER))
        rows.person("yida", "p_visitor", hash_id_number(PSEUDONYMIZER, VISITOR_ID_NUMBER))
        secret = await create_key(gateway, "property", ["yida"], name="stream privacy")
        async with contextlib.AsyncExitStack() as stack:
            company = await stack.enter_async_context(key_client(gateway, secret))
            streams = [
                await stack.enter_async_context(open_raw(gateway.http)),
                await stack.enter_async_context(open_raw(company)),
            ]
            await ingest(mosquitto)
            received = [await stream.read_until_ours() for stream in streams]

        listed = {
            str(e["kind"]): e
            for device in (DOOR, CAMERA)
            for e in await gateway.events(device_id=device)
        }
        assert listed.keys() >= KINDS
        for streamed in received:
            for kind in KINDS:
                assert streamed[kind] == listed[kind], kind
        access, face, visitor = (received[0][k] for k in ("access", "face_capture", "visitor"))
        assert access["person_id"] == people.id_of(TENANT)
        assert (face["person_id"], visitor["person_id"]) == ("p_face", "p_visitor")
        assert (access["credential"], face["matched_person_ref"], visitor["visitor_ref"]) == (
            None,
            None,
            None,
        )
        for stream in streams:
            assert "h1:" not in stream.text
