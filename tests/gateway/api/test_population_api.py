"""The government reads of population, housing and vehicles through a running gateway's HTTP
API, on both stores: filters, cursors, masking by default, the audited unmasked read, the
community summary, 404s and refused parameters."""

import re
from typing import Any

import httpx
import pytest

from gateway.access import Caller, Role, bootstrap_admin
from gateway.api.audit import actor_of
from gateway.api.population import PERSON_ID_PATTERN, VEHICLE_ID_PATTERN
from gateway.config import CommunitySpec, GatewayConfig
from gateway.store.masterdata import new_person_id, new_vehicle_id
from schemas.privacy import mask_phone
from testkit.harness import RunningGateway, gateway_settings, running_gateway
from testkit.services import MosquittoService
from tests.gateway.api.pages import every
from tests.gateway.api.population_seed import (
    FOREIGNER,
    HOUSES,
    JIAXIN_CLERK,
    OWNER,
    RESIDENTS,
    SPOUSE,
    TENANT,
    YIDA_GRID_1,
    YIDA_GRID_2,
    Seeded,
)

UNKNOWN_PERSON = "p_" + "0" * 32
UNKNOWN_VEHICLE = "v_" + "0" * 32

Seed = tuple[RunningGateway, Seeded]


async def get(http: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await http.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def assert_no_raw_values(text: str, *, contacts: bool = True) -> None:
    """No resident's ID number (ever), nor name or phone (unless `contacts` is False)."""
    for resident in RESIDENTS:
        assert resident.id_number not in text
        if contacts:
            assert resident.name not in text
            assert resident.phone not in text


async def newest_audit(http: httpx.AsyncClient) -> dict[str, Any] | None:
    """The newest audit entry, None while the log is empty."""
    entries: list[dict[str, Any]] = (await get(http, "/v1/audit", limit=1))["data"]
    return entries[0] if entries else None


YIDA_HOUSES = {house.house_code for house in HOUSES["yida"]}


def nonzero(counts: dict[str, int]) -> dict[str, int]:
    """The counts that are not zero: a store may list every category or only those it saw."""
    return {key: count for key, count in counts.items() if count}


def ids(items: list[dict[str, Any]], key: str = "person_id") -> set[str]:
    return {item[key] for item in items}


class TestPersonList:
    """`GET /v1/persons` filters persons and pages them with stable cursors."""

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"community": "yida"}, (OWNER, SPOUSE, TENANT, FOREIGNER)),
            ({"community": "jiaxin"}, (JIAXIN_CLERK,)),
            ({"grid": YIDA_GRID_1}, (OWNER, SPOUSE, TENANT)),
            ({"grid": YIDA_GRID_2}, (FOREIGNER,)),
            ({"community": "yida", "building": "B05"}, (FOREIGNER,)),
            ({"population_type": "floating"}, (TENANT,)),
            ({"population_type": "registered"}, (OWNER, SPOUSE, JIAXIN_CLERK)),
            ({"population_type": "visitor"}, ()),
            ({"tag": "elderly_living_alone"}, (OWNER,)),
            ({"community": "yida", "tag": "key_care"}, (TENANT,)),
            ({"community": "jiaxin", "tag": "key_care"}, ()),
        ],
    )
    async def test_filters_select_the_matching_persons(
        self, seeded: Seed, params: dict[str, str], expected: tuple[Any, ...]
    ) -> None:
        gateway, seed = seeded
        found = await get(gateway.http, "/v1/persons", **params)
        assert ids(found["data"]) == {seed.id_of(r) for r in expected}

    async def test_a_cursor_walks_every_person_once(self, seeded: Seed) -> None:
        gateway, seed = seeded
        walked = await every(gateway.http, "/v1/persons")
        assert sorted(p["person_id"] for p in walked) == sorted(seed.person_ids.values())

    async def test_persons_are_masked_by_default(self, seeded: Seed) -> None:
        gateway, _ = seeded
        response = await gateway.http.get("/v1/persons", params={"limit": 1000})
        assert_no_raw_values(response.text)
        for person in response.json()["data"]:
            assert (person["name"], person["phone"]) == (None, None)
            assert person["name_masked"] and person["phone_masked"]

    async def test_a_bad_cursor_is_400(self, seeded: Seed) -> None:
        gateway, _ = seeded
        response = await gateway.http.get("/v1/persons", params={"cursor": "not-ours"})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_cursor"


class TestPerson:
    """`GET /v1/persons/{id}` reads one person, masked, with their residencies."""

    async def test_reads_the_persons_fields_and_residency(self, seeded: Seed) -> None:
        gateway, seed = seeded
        person = await get(gateway.http, f"/v1/persons/{seed.id_of(SPOUSE)}")
        assert person["community"] == "yida"
        assert (person["id_type"], person["id_masked"]) == (
            "resident_id_card",
            "430112********4531",
        )
        assert (person["name_masked"], person["phone_masked"]) == (
            "雷*琴",
            mask_phone(SPOUSE.phone),
        )
        assert (person["birth_year"], person["population_type"]) == (1961, "registered")
        assert person["tags"] == ["disabled"]
        (residency,) = person["residencies"]
        assert (residency["house_code"], residency["relation"], residency["source"]) == (
            "yida-3-2-1702",
            "spouse",
            "property",
        )
        assert residency["until"] is None

    async def test_a_foreign_resident_keeps_nationality_and_id_type(self, seeded: Seed) -> None:
        gateway, seed = seeded
        person = await get(gateway.http, f"/v1/persons/{seed.id_of(FOREIGNER)}")
        assert (person["id_type"], person["nationality"]) == ("passport", "SWE")
        assert person["population_type"] == "foreign"

    async def test_an_unknown_person_is_404(self, seeded: Seed) -> None:
        gateway, _ = seeded
        response = await gateway.http.get(f"/v1/persons/{UNKNOWN_PERSON}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    @pytest.mark.parametrize("person_id", ["12345", "p_XYZ", "430112195803154517"])
    async def test_an_id_no_person_could_have_is_422_without_echo(
        self, seeded: Seed, person_id: str
    ) -> None:
        gateway, _ = seeded
        response = await gateway.http.get(f"/v1/persons/{person_id}")
        assert response.status_code == 422
        assert person_id not in response.text


class TestUnmask:
    """`unmask=true` with a reason fills names and phones for admins and is audited."""

    async def test_one_person_unmasked_writes_an_audit_entry(self, seeded: Seed) -> None:
        gateway, seed = seeded
        person_id = seed.id_of(TENANT)
        response = await gateway.http.get(
            f"/v1/persons/{person_id}", params={"unmask": "true", "reason": "case 2026-117"}
        )
        assert response.status_code == 200, response.text
        person = response.json()
        assert (person["name"], person["phone"]) == (TENANT.name, TENANT.phone)
        assert person["id_masked"] == "430112********4551"
        assert TENANT.id_number not in response.text
        entry = await newest_audit(gateway.http)
        assert entry is not None
        assert (entry["action"], entry["actor"], entry["community"]) == (
            "person.unmask",
            actor_of(bootstrap_admin()),
            "yida",
        )
        assert (entry["records"], entry["reason"]) == ([person_id], "case 2026-117")

    async def test_a_page_unmasked_audits_the_ids_it_returned(self, seeded: Seed) -> None:
        gateway, seed = seeded
        params = {"community": "yida", "grid": YIDA_GRID_1, "unmask": "true", "reason": "visit"}
        page = await get(gateway.http, "/v1/persons", **params)
        names = {p["person_id"]: (p["name"], p["phone"]) for p in page["data"]}
        assert names == {seed.id_of(r): (r.name, r.phone) for r in (OWNER, SPOUSE, TENANT)}
        entry = await newest_audit(gateway.http)
        assert entry is not None
        assert entry["action"] == "person.unmask"
        assert sorted(entry["records"]) == sorted(names)
        assert (entry["community"], entry["reason"]) == ("yida", "visit")

    @pytest.mark.parametrize(
        ("params", "location"),
        [
            ({"unmask": "true"}, ["query", "reason"]),
            ({"unmask": "true", "reason": "   "}, ["query", "reason"]),
            ({"unmask": "false", "reason": "curious"}, ["query", "reason"]),
            ({"reason": "curious"}, ["query", "reason"]),
            ({"unmask": "true", "reason": "call 13812345678"}, ["query", "reason"]),
            ({"unmask": "true", "reason": "<b>x</b>"}, ["query", "reason"]),
        ],
    )
    async def test_an_unmasked_read_without_a_proper_reason_is_refused_unaudited(
        self, seeded: Seed, params: dict[str, str], location: list[str]
    ) -> None:
        gateway, seed = seeded
        before = await newest_audit(gateway.http)
        response = await gateway.http.get(f"/v1/persons/{seed.id_of(OWNER)}", params=params)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_parameter"
        assert error["details"][0]["location"] == location
        assert "13812345678" not in response.text
        assert OWNER.name not in response.text
        assert await newest_audit(gateway.http) == before

    async def test_an_unmasked_list_must_name_its_community(self, seeded: Seed) -> None:
        gateway, _ = seeded
        response = await gateway.http.get(
            "/v1/persons", params={"unmask": "true", "reason": "survey"}
        )
        assert response.status_code == 400
        assert response.json()["error"]["details"][0]["location"] == ["query", "community"]
        assert_no_raw_values(response.text)

    async def test_an_unknown_person_unmasked_is_404_and_unaudited(self, seeded: Seed) -> None:
        gateway, _ = seeded
        before = await newest_audit(gateway.http)
        response = await gateway.http.get(
            f"/v1/persons/{UNKNOWN_PERSON}", params={"unmask": "true", "reason": "check"}
        )
        assert response.status_code == 404
        assert await newest_audit(gateway.http) == before


class TestIdPatterns:
    """The path patterns admit every id the store makes."""

    def test_person_and_vehicle_ids_match(self) -> None:
        assert re.fullmatch(PERSON_ID_PATTERN, new_person_id())
        assert re.fullmatch(VEHICLE_ID_PATTERN, new_vehicle_id())


class TestCanUnmask:
    """`Caller.can_unmask` admits admins and keys given `pii`, nobody else."""

    def test_an_admin_may_unmask(self) -> None:
        assert Caller("k1", "admin", Role.ADMIN).can_unmask

    def test_a_key_with_pii_may(self) -> None:
        assert Caller("k2", "platform", Role.GOV, pii=True).can_unmask

    def test_a_key_without_pii_may_not(self) -> None:
        assert not Caller("k3", "platform", Role.GOV).can_unmask


class TestHouses:
    """`GET /v1/houses` and `/v1/houses/{code}`: registered facts, occupants, filters."""

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"community": "yida"}, YIDA_HOUSES),
            ({"community": "jiaxin"}, {"jiaxin-1-1-0301"}),
            ({"grid": YIDA_GRID_2}, {"yida-5-1-0101", "yida-6-1-0202"}),
            ({"community": "yida", "building": "B03"}, {"yida-3-2-1702", "yida-3-2-1801"}),
            ({"usage": "rented"}, {"yida-3-2-1801", "yida-5-1-0101"}),
            ({"community": "jiaxin", "usage": "rented"}, set()),
        ],
    )
    async def test_filters_select_the_matching_houses(
        self, seeded: Seed, params: dict[str, str], expected: set[str]
    ) -> None:
        gateway, _ = seeded
        found = await get(gateway.http, "/v1/houses", **params)
        assert ids(found["data"], "house_code") == expected

    async def test_a_cursor_walks_every_house_once(self, seeded: Seed) -> None:
        gateway, _ = seeded
        walked = [h["house_code"] for h in await every(gateway.http, "/v1/houses")]
        assert sorted(walked) == sorted(h.house_code for rows in HOUSES.values() for h in rows)

    async def test_a_house_lists_its_registered_occupants_masked(self, seeded: Seed) -> None:
        gateway, seed = seeded
        response = await gateway.http.get("/v1/houses/yida-3-2-1702")
        assert response.status_code == 200
        house = response.json()
        assert (house["community"], house["building"], house["unit"]) == ("yida", "B03", "U2")
        assert (house["usage"], house["area_m2"], house["grid_code"]) == (
            "self_occupied",
            89.5,
            YIDA_GRID_1,
        )
        assert house["registered_occupants"] == 2
        occupants = {o["person_id"]: o for o in house["occupants"]}
        assert set(occupants) == {seed.id_of(OWNER), seed.id_of(SPOUSE)}
        assert occupants[seed.id_of(OWNER)]["name_masked"] == "张*"
        assert {o["source"] for o in occupants.values()} == {"property"}
        assert house["observed_occupants"] == 0
        assert_no_raw_values(response.text)

    async def test_an_unknown_house_is_404(self, seeded: Seed) -> None:
        gateway, _ = seeded
        response = await gateway.http.get("/v1/houses/yida-9-9-9999")
        assert response.status_code == 404

    async def test_a_code_no_house_could_have_is_422(self, seeded: Seed) -> None:
        gateway, _ = seeded
        assert (await gateway.http.get("/v1/houses/-3-2")).status_code == 422


class TestVehicles:
    """`GET /v1/vehicles` finds a plate in every colour however it is written."""

    @pytest.mark.parametrize("plate", ["湘A8K2C6", "湘A·8K2C6", "湘a 8k2c6", "湘Ａ８Ｋ２Ｃ６"])
    async def test_a_plate_is_found_in_every_colour(self, seeded: Seed, plate: str) -> None:
        gateway, _ = seeded
        found = (await get(gateway.http, "/v1/vehicles", plate_no=plate))["data"]
        assert {(v["plate_no"], v["plate_color"]) for v in found} == {
            ("湘A8K2C6", "blue"),
            ("湘A8K2C6", "yellow"),
        }

    async def test_a_vehicle_names_its_owner_and_house(self, seeded: Seed) -> None:
        gateway, seed = seeded
        (listed,) = (await get(gateway.http, "/v1/vehicles", plate_no="湘AD12345"))["data"]
        vehicle = await get(gateway.http, f"/v1/vehicles/{listed['vehicle_id']}")
        assert vehicle == listed
        assert (vehicle["owner_person_id"], vehicle["house_code"]) == (
            seed.id_of(TENANT),
            "yida-3-2-1801",
        )
        assert (vehicle["plate_color"], vehicle["registered"]) == ("green", True)

    async def test_registered_and_community_filter(self, seeded: Seed) -> None:
        gateway, _ = seeded
        registered = await every(gateway.http, "/v1/vehicles", community="yida", registered="true")
        assert len(registered) == 3
        assert (await get(gateway.http, "/v1/vehicles", registered="false"))["data"] == []
        assert (await get(gateway.http, "/v1/vehicles", community="jiaxin"))["data"] == []

    async def test_an_unknown_vehicle_is_404(self, seeded: Seed) -> None:
        gateway, _ = seeded
        assert (await gateway.http.get(f"/v1/vehicles/{UNKNOWN_VEHICLE}")).status_code == 404

    @pytest.mark.parametrize("plate", ["未识别", "13812345678x", "A1"])
    async def test_a_text_that_is_no_plate_is_400_without_echo(
        self, seeded: Seed, plate: str
    ) -> None:
        gateway, _ = seeded
        response = await gateway.http.get("/v1/vehicles", params={"plate_no": plate})
        assert response.status_code == 400
        assert response.json()["error"]["details"][0]["location"] == ["query", "plate_no"]
        assert plate not in response.text


class TestCommunitySummary:
    """`GET /v1/communities/{code}/summary`: the figures, per grid named from the map."""

    async def test_figures_of_the_seeded_community(self, seeded: Seed) -> None:
        gateway, _ = seeded
        summary = await get(gateway.http, "/v1/communities/yida/summary")
        assert summary["community"] == "yida"
        assert summary["observed_window_days"] == 14
        assert nonzero(summary["houses_by_usage"]) == {"self_occupied": 1, "rented": 2, "vacant": 1}
        assert nonzero(summary["persons_by_population_type"]) == {
            "registered": 2,
            "floating": 1,
            "foreign": 1,
        }
        assert (summary["vehicles_registered"], summary["vehicles_unregistered"]) == (3, 0)
        assert summary["occupancy"]["registered"] == 4
        grids = {grid["grid_code"]: grid for grid in summary["grids"]}
        assert set(grids) == {YIDA_GRID_1, YIDA_GRID_2}
        assert grids[YIDA_GRID_1]["name"] == "亿达小镇第一网格"
        assert nonzero(grids[YIDA_GRID_2]["houses_by_usage"]) == {"rented": 1, "vacant": 1}
        assert nonzero(grids[YIDA_GRID_1]["persons_by_population_type"]) == {
            "registered": 2,
            "floating": 1,
        }

    async def test_a_configured_community_without_data_has_zero_figures(
        self, mosquitto: MosquittoService, database: str
    ) -> None:
        config = GatewayConfig(communities=[CommunitySpec(code="xinhe")])
        settings = gateway_settings(mosquitto.url, database)
        async with running_gateway(settings, config) as gateway:
            summary = await get(gateway.http, "/v1/communities/xinhe/summary")
            jiaxin = await get(gateway.http, "/v1/communities/jiaxin/summary")
        assert (summary["community"], summary["grids"]) == ("xinhe", [])
        assert (summary["houses_by_usage"], summary["devices_unknown"]) == ({}, 0)
        assert [(g["grid_code"], g["name"]) for g in jiaxin["grids"]] == [
            ("430112001002001", "嘉新时代广场第一网格"),
            ("430112001002002", "嘉新时代广场第二网格"),
        ]

    async def test_an_unknown_community_is_404(self, seeded: Seed) -> None:
        gateway, _ = seeded
        response = await gateway.http.get("/v1/communities/atlantis/summary")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    async def test_a_code_no_community_could_have_is_422(self, seeded: Seed) -> None:
        gateway, _ = seeded
        assert (await gateway.http.get("/v1/communities/Yida%20Town/summary")).status_code == 422


class TestParameters:
    """The population endpoints refuse what they do not declare, repeated or malformed."""

    @pytest.mark.parametrize(
        ("path", "params", "code"),
        [
            ("/v1/persons", {"comunity": "yida"}, "unknown_parameter"),
            ("/v1/houses", {"unmask": "true"}, "unknown_parameter"),
            ("/v1/vehicles", {"tag": "x"}, "unknown_parameter"),
            ("/v1/persons", [("tag", "a"), ("tag", "b")], "repeated_parameter"),
            ("/v1/persons", {"grid": "4301120030010"}, "invalid_parameter"),
            ("/v1/persons", {"population_type": "alien"}, "invalid_parameter"),
            ("/v1/houses", {"usage": "castle"}, "invalid_parameter"),
            ("/v1/houses", {"limit": "0"}, "invalid_parameter"),
            ("/v1/vehicles", {"registered": "maybe"}, "invalid_parameter"),
            ("/v1/persons", {"community": "Yida Town"}, "invalid_parameter"),
        ],
    )
    async def test_refused_with_400(self, seeded: Seed, path: str, params: Any, code: str) -> None:
        gateway, _ = seeded
        response = await gateway.http.get(path, params=params)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == code

    @pytest.mark.parametrize(
        "path",
        [
            "/v1/persons",
            f"/v1/persons/{UNKNOWN_PERSON}",
            "/v1/houses",
            "/v1/houses/yida-3-2-1702",
            "/v1/vehicles",
            f"/v1/vehicles/{UNKNOWN_VEHICLE}",
            "/v1/communities/yida/summary",
            "/v1/audit",
        ],
    )
    async def test_a_key_is_required(self, seeded: Seed, path: str) -> None:
        gateway, _ = seeded
        async with httpx.AsyncClient(base_url=gateway.http.base_url) as anonymous:
            response = await anonymous.get(path)
        assert response.status_code == 401


class TestTimesReadAlike:
    """Every instant the population reads serve is written as the events write theirs."""

    async def test_instants_are_utc_with_an_explicit_offset(self, seeded: Seed) -> None:
        """`…+00:00`, never `Z` or a naive time, so clients parse one format everywhere."""
        gateway, _ = seeded
        texts = [
            (await gateway.http.get(path, params={"limit": 1000})).text
            for path in ("/v1/persons", "/v1/houses", "/v1/vehicles", "/v1/audit")
        ]
        texts.append((await gateway.http.get("/v1/communities/yida/summary")).text)
        instants = re.findall(r'"\d{4}-\d\d-\d\dT[^"]*"', "".join(texts))
        assert instants, "the seed gives at least the summary's time"
        assert all(instant.endswith('+00:00"') for instant in instants), instants
