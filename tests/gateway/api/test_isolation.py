"""Tenant isolation, role × community × endpoint, on PostgreSQL + TimescaleDB holding both pilot
communities: a property key of one community reads the other's every record as missing (404,
the very body a record that does not exist gets), finds its lists filtered to its own community
(and empty when it asks for the other), and is answered 404 for every write into the other;
403 only for what its role may never do. `gov` sees both communities; `device_ops` reads
devices, events and dead letters, nothing else.

The world is made the real way: both pilots' master data imported, their devices' messages
published with `mosquitto_pub` (door alarms and a watch-listed car raise tickets through the
instant rules; a malformed message in each community becomes a dead letter), audit entries
written by the API's own audited calls. The tables below are the specification; the tests only
walk them.
"""

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config import GatewayConfig, load_config
from gateway.masterdata.importer import Importer
from schemas.devices import DeviceRegistration
from schemas.privacy import Pseudonymizer
from simulators.community import HIK_DIALECT, Vehicle, pilot_community
from simulators.config_toml import communities_config_toml
from simulators.hik_isapi import Minor, hik_topic
from simulators.masterdata import DATASETS, community_master_data
from simulators.scenario_messages import Emitter
from simulators.traffic import SimMessage
from testkit.harness import (
    HASH_KEY,
    RunningGateway,
    gateway_settings,
    mosquitto_pub,
    running_gateway,
    wait_until,
    write_file,
)
from testkit.keys import create_key, key_client
from testkit.services import MosquittoService, PostgresService
from tests.gateway.api.pages import every

PILOTS = ("yida", "jiaxin")
PAIRS = [("yida", "jiaxin"), ("jiaxin", "yida")]
"""(the key's community, the other community): every check runs both ways."""
WATCHED = {"yida": "湘AQ7W31", "jiaxin": "湘AQ7W32"}
"""A car no one registered in each community, on the watch-list: its pass raises a
`vehicle.watchlist` ticket, the government's alone."""
PROPERTY_NAMES = {"yida": "亿达物业", "jiaxin": "嘉欣物业"}
HOUR_S = 3600.0


@dataclass(frozen=True)
class Records:
    """One record of each kind in a community, by the ids the API answers with."""

    community: str
    person_id: str
    house_code: str
    vehicle_id: str
    device_id: str
    ticket_id: str
    """A door forced open: a `safety.door_forced` ticket, the property company's."""
    watch_ticket_id: str
    """The watch-listed car's `vehicle.watchlist` ticket: the government's alone."""


@dataclass
class World:
    gateway: RunningGateway
    records: dict[str, Records]
    keys: dict[str, str]
    """Secrets by `role` or `role:community` (`property-pii:yida`: with `pii`)."""
    registrations: dict[str, dict[str, Any]]
    """Each community's `device_id` registration as a PUT body."""

    def client(self, key: str) -> httpx.AsyncClient:
        return key_client(self.gateway, self.keys[key])

    def path(self, template: str, community: str) -> str:
        return template.format(**asdict(self.records[community]))


# -- the world --------------------------------------------------------------------------------


def pilot_config(tmp: Path) -> GatewayConfig:
    communities = [pilot_community(code) for code in PILOTS]
    return load_config(write_file(tmp / "pilots.toml", communities_config_toml(communities)))


def messages_of(code: str, end: datetime) -> list[SimMessage]:
    """A forced unit door (closed again 40 s later) and the watch-listed car into the car
    park, both an hour before `end`."""
    emit = Emitter(pilot_community(code), slot=1)
    community = pilot_community(code)
    door = next(d for d in community.devices_of(HIK_DIALECT) if d.unit is not None and d.readers)
    at = end - timedelta(hours=1)
    car = Vehicle(WATCHED[code], False, "K33", 1, owner="", house="")
    return [
        emit.door_event(door, at, Minor.DOOR_FORCED_OPEN),
        emit.door_event(door, at + timedelta(seconds=40), Minor.DOOR_CLOSED),
        *emit.car_pass(car, at, "in"),
    ]


async def publish(port: int, messages: list[SimMessage]) -> None:
    """Each topic's messages in order, with the real `mosquitto_pub`."""
    by_topic: dict[str, list[bytes]] = {}
    for message in sorted(messages, key=lambda m: m.at):
        by_topic.setdefault(message.topic, []).append(message.payload)
    for topic, payloads in by_topic.items():
        await mosquitto_pub(port, topic, payloads)


async def first(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, params={**params, "limit": 1})
    assert response.status_code == 200, response.text
    (item,) = response.json()["data"]
    found: dict[str, Any] = item
    return found


async def records_of(gateway: RunningGateway, code: str) -> Records:
    admin = gateway.http
    tickets = await every(admin, "/v1/tickets", community=code, limit=1000)
    by_rule = {ticket["rule"]: ticket["ticket_id"] for ticket in tickets}
    return Records(
        community=code,
        person_id=(await first(admin, "/v1/persons", community=code))["person_id"],
        house_code=(await first(admin, "/v1/houses", community=code))["house_code"],
        vehicle_id=(await first(admin, "/v1/vehicles", community=code))["vehicle_id"],
        device_id=(await first(admin, "/v1/devices", community=code))["device_id"],
        ticket_id=by_rule["safety.door_forced"],
        watch_ticket_id=by_rule["vehicle.watchlist"],
    )


async def registration(gateway: RunningGateway, device_id: str) -> dict[str, Any]:
    response = await gateway.http.get(f"/v1/devices/{device_id}")
    assert response.status_code == 200, response.text
    fields = set(DeviceRegistration.model_fields)
    return {k: v for k, v in response.json().items() if k in fields and v is not None}


@pytest.fixture(scope="module")
def pilots_dsn(postgres: PostgresService) -> Iterator[str]:
    name = f"isolation_{uuid.uuid4().hex[:12]}"
    yield postgres.create_database(name)
    postgres.drop_database(name)


@pytest.fixture(scope="module")
async def world(
    mosquitto: MosquittoService, pilots_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    settings = gateway_settings(
        mosquitto.url,
        pilots_dsn,
        rules_interval_s=HOUR_S,
        device_check_interval_s=HOUR_S,
        api_auth_failures_per_minute=10_000,
    )
    config = pilot_config(tmp_path_factory.mktemp("isolation"))
    async with running_gateway(settings, config) as gateway:
        runtime = gateway.runtime
        assert runtime.contacts is not None
        importer = Importer(runtime.store, runtime.grids, Pseudonymizer(HASH_KEY), runtime.contacts)
        for code in PILOTS:
            data = community_master_data(pilot_community(code))
            for dataset in DATASETS:
                report = await importer.run(code, dataset, data.numbered(dataset))
                assert report.rejected == [], (code, dataset, report.rejected[:3])
        plates = [{"plate_no": plate, "reason": "isolation test"} for plate in WATCHED.values()]
        (await gateway.http.put("/v1/watchlist/vehicles", json=plates)).raise_for_status()

        end = datetime.now(UTC).replace(microsecond=0)
        messages = [m for code in PILOTS for m in messages_of(code, end)]
        await publish(mosquitto.port, messages)
        for code in PILOTS:  # a dead letter in each community: the device's topic, no JSON
            device = next(d for d in pilot_community(code).devices_of(HIK_DIALECT))
            await mosquitto_pub(mosquitto.port, hik_topic(code, device.device_id), [b"{oops"])
        registry = runtime.metrics.registry
        events = sum(len(m.kinds) for m in messages)

        def stored() -> bool:
            return (registry.get_sample_value("scgw_events_stored_total") or 0) >= events

        async def tickets_raised() -> bool:
            return len(await every(gateway.http, "/v1/tickets", limit=1000)) >= 2 * len(PILOTS)

        async def letters_kept() -> bool:
            return len(await gateway.dead_letters()) >= len(PILOTS)

        await wait_until(stored, what="the published events stored")
        await wait_until(tickets_raised, what="the instant rules' tickets")
        await wait_until(letters_kept, what="the dead letters")

        records = {code: await records_of(gateway, code) for code in PILOTS}
        keys = {"gov": await create_key(gateway, "gov", name="区网格平台")}
        keys["device_ops"] = await create_key(gateway, "device_ops", name="运维")
        for code in PILOTS:
            name = PROPERTY_NAMES[code]
            keys[f"property:{code}"] = await create_key(gateway, "property", [code], name=name)
            keys[f"property-pii:{code}"] = await create_key(
                gateway, "property", [code], pii=True, name=f"{name}（实名）"
            )
        registrations = {
            code: await registration(gateway, records[code].device_id) for code in PILOTS
        }
        for code in PILOTS:  # audit entries in each community: an unmasked read, a device PUT
            unmasked = await gateway.http.get(
                f"/v1/persons/{records[code].person_id}",
                params={"unmask": "true", "reason": "isolation test"},
            )
            assert unmasked.status_code == 200, unmasked.text
            put = await gateway.http.put(
                f"/v1/devices/{records[code].device_id}", json=registrations[code]
            )
            assert put.status_code == 200, put.text
        yield World(gateway, records, keys, registrations)


# -- the specification ------------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    """A read of one record: `path` of a community's records, `missing` of no record."""

    what: str
    path: str
    missing: str
    key: str = "property"


ITEM_READS = [
    Read("person", "/v1/persons/{person_id}", "/v1/persons/p_" + "0" * 32),
    Read(
        "person unmasked",
        "/v1/persons/{person_id}?unmask=true&reason=isolation",
        "/v1/persons/p_" + "0" * 32 + "?unmask=true&reason=isolation",
        key="property-pii",
    ),
    Read("house", "/v1/houses/{house_code}", "/v1/houses/nowhere-1-1-0101"),
    Read("vehicle", "/v1/vehicles/{vehicle_id}", "/v1/vehicles/v_" + "0" * 32),
    Read("device", "/v1/devices/{device_id}", "/v1/devices/no-such-device"),
    Read("ticket", "/v1/tickets/{ticket_id}", "/v1/tickets/t-" + "0" * 24),
    Read("summary", "/v1/communities/{community}/summary", "/v1/communities/nowhere/summary"),
]
"""Every record read: another community's record answers exactly as a missing one."""


@dataclass(frozen=True)
class Write:
    """A write into a community; `missing` is the request (a read, unless `missing_method`
    says otherwise, with the same body) whose 404 body it must answer with."""

    what: str
    method: str
    path: str
    missing: str
    body: str
    """`registration`: the community's device as registered; `moved`: one of the key's own
    devices, put into the other community; else the JSON text of the body."""
    missing_method: str = "GET"


WRITES = [
    Write(
        "re-register their device",
        "PUT",
        "/v1/devices/{device_id}",
        "/v1/devices/no-such-device",
        "registration",
    ),
    Write(
        "move a device of ours into their community",
        "PUT",
        "/v1/devices/{device_id}",
        "/v1/devices/no-such-device",
        "moved",
    ),
    Write(
        "import their houses",
        "PUT",
        "/v1/property/{community}/houses",
        "/v1/property/nowhere/houses",
        "[]",
        missing_method="PUT",
    ),
    Write(
        "end their residencies",
        "POST",
        "/v1/property/{community}/residencies/end",
        "/v1/property/nowhere/residencies/end",
        "[]",
        missing_method="POST",
    ),
    Write(
        "move their ticket along",
        "POST",
        "/v1/tickets/{ticket_id}/transitions",
        "/v1/tickets/t-" + "0" * 24,
        '{"to": "dispatched", "actor": "物业-01"}',
    ),
]
"""Every write into another community: 404, the body of a missing record, nothing changed."""


@dataclass(frozen=True)
class Listing:
    """A list, and whether it takes a `community` filter."""

    path: str
    filtered: bool = True
    params: tuple[tuple[str, str], ...] = ()


LISTS = [
    Listing("/v1/events"),
    Listing("/v1/devices"),
    Listing("/v1/dead-letters", filtered=False),
    Listing("/v1/persons"),
    Listing("/v1/houses"),
    Listing("/v1/vehicles"),
    Listing("/v1/tickets"),
    Listing("/v1/audit", filtered=False),
]
"""Every list a property key reads: its own community's records only."""

ROLE_LISTS = {
    "gov": LISTS,
    "device_ops": [Listing("/v1/events"), Listing("/v1/devices"), Listing("/v1/dead-letters")],
}
"""The lists each unscoped role reads, holding both communities."""

FORBIDDEN = [
    ("property", "GET", "/v1/keys", None),
    ("property", "GET", "/v1/watchlist/vehicles", None),
    ("property", "PUT", "/v1/watchlist/vehicles", "[]"),
    ("property", "DELETE", "/v1/watchlist/vehicles/湘AQ7W31", None),
    ("property", "GET", "/v1/outbox", None),
    ("property", "POST", "/v1/outbox/{ticket_id}/retry", None),
    ("property", "DELETE", "/v1/persons/{person_id}?reason=isolation", None),
    ("property", "GET", "/v1/dead-letters/1/raw", None),
    ("property", "GET", "/metrics", None),
    ("gov", "PUT", "/v1/property/{community}/houses", "[]"),
    ("gov", "POST", "/v1/property/{community}/residencies/end", "[]"),
    ("gov", "PUT", "/v1/devices/{device_id}", "registration"),
    ("gov", "DELETE", "/v1/persons/{person_id}?reason=isolation", None),
    ("gov", "GET", "/v1/keys", None),
    ("gov", "GET", "/v1/dead-letters/1/raw", None),
    ("device_ops", "GET", "/v1/persons", None),
    ("device_ops", "GET", "/v1/persons/{person_id}", None),
    ("device_ops", "GET", "/v1/houses", None),
    ("device_ops", "GET", "/v1/houses/{house_code}", None),
    ("device_ops", "GET", "/v1/vehicles", None),
    ("device_ops", "GET", "/v1/communities/{community}/summary", None),
    ("device_ops", "GET", "/v1/tickets", None),
    ("device_ops", "GET", "/v1/tickets/{ticket_id}", None),
    ("device_ops", "GET", "/v1/stats/tickets?group_by=community", None),
    ("device_ops", "GET", "/v1/audit", None),
    ("device_ops", "PUT", "/v1/property/{community}/houses", "[]"),
    ("device_ops", "PUT", "/v1/devices/{device_id}", "registration"),
    ("device_ops", "POST", "/v1/tickets/{ticket_id}/transitions", '{"to": "closed", "actor": "x"}'),
    ("device_ops", "GET", "/v1/watchlist/vehicles", None),
]
"""(role, method, path, body): endpoints the role may never use, 403 whatever the record."""


# -- helpers ----------------------------------------------------------------------------------


def key_of(role: str, community: str) -> str:
    return f"{role}:{community}" if role.startswith("property") else role


def body_of(world: World, spec: str | None, own: str, other: str) -> dict[str, Any]:
    """httpx arguments for a request body named as in `Write.body`."""
    if spec is None:
        return {}
    if spec == "registration":
        return {"json": world.registrations[other]}
    if spec == "moved":
        return {"json": {**world.registrations[own], "community": other}}
    return {"content": spec.encode(), "headers": {"Content-Type": "application/json"}}


def communities_in(path: str, items: list[dict[str, Any]]) -> set[str | None]:
    return {item.get("community") for item in items}


async def listed(client: httpx.AsyncClient, listing: Listing, **params: str) -> list[Any]:
    return await every(client, listing.path, limit=1000, **dict(listing.params), **params)


def answer(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    """A response as the caller receives it, byte for byte, but for its `date` header."""
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "date"]
    return response.status_code, headers, response.content


# -- the tests --------------------------------------------------------------------------------


class TestAnotherCommunitysRecordsAreMissing:
    """A property key reads the other community's records as if they did not exist: the same
    404, byte for byte. (That it also takes as long is the store's scoped read,
    tests/gateway/store/test_scope_contract.py; times are measured, not asserted.)"""

    @pytest.mark.parametrize(("own", "other"), PAIRS)
    @pytest.mark.parametrize("read", ITEM_READS, ids=lambda read: read.what)
    async def test_reading_it_answers_the_missing_records_404(
        self, world: World, read: Read, own: str, other: str
    ) -> None:
        async with world.client(key_of(read.key, own)) as client:
            ours = await client.get(world.path(read.path, own))
            theirs = await client.get(world.path(read.path, other))
            missing = await client.get(read.missing)
        assert ours.status_code == 200, ours.text
        assert missing.status_code == 404, missing.text
        assert answer(theirs) == answer(missing)

    @pytest.mark.parametrize(("own", "other"), PAIRS)
    async def test_its_government_only_ticket_is_missing_in_its_own_community_too(
        self, world: World, own: str, other: str
    ) -> None:
        """A watch-list hit is the government's, whatever community it is in."""
        async with world.client(key_of("property", own)) as client:
            hit = await client.get(world.path("/v1/tickets/{watch_ticket_id}", own))
            missing = await client.get("/v1/tickets/t-" + "0" * 24)
        assert missing.status_code == 404, missing.text
        assert answer(hit) == answer(missing)


class TestWritesIntoAnotherCommunityAreMissing:
    @pytest.mark.parametrize(("own", "other"), PAIRS)
    @pytest.mark.parametrize("write", WRITES, ids=lambda write: write.what)
    async def test_the_write_answers_the_missing_records_404_and_changes_nothing(
        self, world: World, write: Write, own: str, other: str
    ) -> None:
        before = await world.gateway.http.get(world.path("/v1/tickets/{ticket_id}", other))
        device_before = await world.gateway.http.get(world.path("/v1/devices/{device_id}", other))
        path = world.path(write.path, own if write.body == "moved" else other)
        async with world.client(key_of("property", own)) as client:
            response = await client.request(
                write.method, path, **body_of(world, write.body, own, other)
            )
            body = {} if write.missing_method == "GET" else body_of(world, write.body, own, other)
            missing = await client.request(write.missing_method, write.missing, **body)
        assert missing.status_code == 404, missing.text
        assert answer(response) == answer(missing)
        after = await world.gateway.http.get(world.path("/v1/tickets/{ticket_id}", other))
        device_after = await world.gateway.http.get(world.path("/v1/devices/{device_id}", other))
        assert after.json() == before.json()
        assert device_after.json()["updated_at"] == device_before.json()["updated_at"]


class TestListsAreFiltered:
    @pytest.mark.parametrize(("own", "other"), PAIRS)
    @pytest.mark.parametrize("listing", LISTS, ids=lambda listing: listing.path)
    async def test_a_property_key_lists_its_own_community_only(
        self, world: World, listing: Listing, own: str, other: str
    ) -> None:
        async with world.client(key_of("property", own)) as client:
            items = await listed(client, listing)
        assert items, f"{listing.path} holds nothing of {own}"
        assert communities_in(listing.path, items) == {own}

    @pytest.mark.parametrize(("own", "other"), PAIRS)
    @pytest.mark.parametrize(
        "listing", [listing for listing in LISTS if listing.filtered], ids=lambda item: item.path
    )
    async def test_asking_for_the_other_community_is_an_empty_list(
        self, world: World, listing: Listing, own: str, other: str
    ) -> None:
        async with world.client(key_of("property", own)) as client:
            response = await client.get(listing.path, params={"community": other})
        assert response.status_code == 200, response.text
        assert (response.json()["data"], response.json()["next_cursor"]) == ([], None)

    @pytest.mark.parametrize(("own", "other"), PAIRS)
    async def test_a_property_key_lists_only_the_tickets_its_company_acts_on(
        self, world: World, own: str, other: str
    ) -> None:
        async with world.client(key_of("property", own)) as client:
            tickets = await every(client, "/v1/tickets", limit=1000)
        assert world.records[own].ticket_id in {t["ticket_id"] for t in tickets}
        assert all(t["rule"] != "vehicle.watchlist" for t in tickets)
        assert all(any(u["type"] == "property" for u in t["responsible_units"]) for t in tickets)

    @pytest.mark.parametrize(("own", "other"), PAIRS)
    async def test_a_property_keys_indicators_count_its_tickets_only(
        self, world: World, own: str, other: str
    ) -> None:
        async with world.client(key_of("property", own)) as client:
            response = await client.get("/v1/stats/tickets", params={"group_by": "community"})
        assert response.status_code == 200, response.text
        rows = response.json()["data"]
        assert [(row["group"], row["raised"]) for row in rows] == [(own, 1)]

    @pytest.mark.parametrize(
        ("role", "listing"),
        [(role, listing) for role, lists in ROLE_LISTS.items() for listing in lists],
        ids=lambda value: value if isinstance(value, str) else value.path,
    )
    async def test_an_unscoped_key_lists_both_communities(
        self, world: World, role: str, listing: Listing
    ) -> None:
        async with world.client(role) as client:
            items = await listed(client, listing)
        assert communities_in(listing.path, items) >= set(PILOTS)

    async def test_gov_counts_every_communitys_tickets(self, world: World) -> None:
        async with world.client("gov") as client:
            response = await client.get("/v1/stats/tickets", params={"group_by": "community"})
        raised = Counter({row["group"]: row["raised"] for row in response.json()["data"]})
        assert raised == Counter({code: 2 for code in PILOTS})


class TestGovSeesBothCommunities:
    @pytest.mark.parametrize("community", PILOTS)
    @pytest.mark.parametrize("read", ITEM_READS[:1] + ITEM_READS[2:], ids=lambda r: r.what)
    async def test_gov_reads_every_record(self, world: World, read: Read, community: str) -> None:
        async with world.client("gov") as client:
            response = await client.get(world.path(read.path, community))
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize("community", PILOTS)
    async def test_and_the_watch_list_hits(self, world: World, community: str) -> None:
        async with world.client("gov") as client:
            response = await client.get(world.path("/v1/tickets/{watch_ticket_id}", community))
        assert response.status_code == 200, response.text

    async def test_but_names_stay_masked_without_pii(self, world: World) -> None:
        async with world.client("gov") as client:
            response = await client.get(
                world.path("/v1/persons/{person_id}", "yida"),
                params={"unmask": "true", "reason": "isolation"},
            )
        assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden")


class TestForbiddenToTheRole:
    @pytest.mark.parametrize(("role", "method", "path", "body"), FORBIDDEN)
    async def test_the_role_may_never_use_it(
        self, world: World, role: str, method: str, path: str, body: str | None
    ) -> None:
        async with world.client(key_of(role, "yida")) as client:
            response = await client.request(
                method, world.path(path, "yida"), **body_of(world, body, "yida", "yida")
            )
        assert response.status_code == 403, response.text
        error = response.json()["error"]
        assert error["code"] == "forbidden"
        assert error["details"]["needs"]


class TestWithinItsCommunity:
    """The positive side: a property key does its work in its own community, audited."""

    async def test_it_re_registers_its_device_and_the_audit_names_the_key(
        self, world: World
    ) -> None:
        async with world.client("property:yida") as client:
            response = await client.put(
                world.path("/v1/devices/{device_id}", "yida"), json=world.registrations["yida"]
            )
            assert response.status_code == 200, response.text
            audit = await client.get("/v1/audit", params={"limit": 1})
        (newest,) = audit.json()["data"]
        key_id = "_".join(world.keys["property:yida"].split("_")[1:3])
        assert (newest["action"], newest["community"]) == ("device.put", "yida")
        assert newest["actor"] == f"{PROPERTY_NAMES['yida']} ({key_id})"

    async def test_it_unmasks_its_residents_with_pii_audited(self, world: World) -> None:
        async with world.client("property-pii:jiaxin") as client:
            response = await client.get(
                world.path("/v1/persons/{person_id}", "jiaxin"),
                params={"unmask": "true", "reason": "isolation"},
            )
            assert response.status_code == 200, response.text
            audit = await client.get("/v1/audit", params={"limit": 1})
        (newest,) = audit.json()["data"]
        assert (newest["action"], newest["records"]) == (
            "person.unmask",
            [world.records["jiaxin"].person_id],
        )

    async def test_it_acts_for_the_property_side_of_the_loop(self, world: World) -> None:
        ticket_id = world.records["jiaxin"].ticket_id
        async with world.client("property:jiaxin") as client:
            closed = await client.post(
                f"/v1/tickets/{ticket_id}/transitions", json={"to": "closed", "actor": "物业-01"}
            )
            dispatched = await client.post(
                f"/v1/tickets/{ticket_id}/transitions",
                json={"to": "dispatched", "actor": "物业-01"},
            )
        assert closed.status_code == 409, closed.text  # the platform side closes
        assert dispatched.status_code == 200, dispatched.text
        assert dispatched.json()["status"] == "dispatched"
