"""Specification of the property master-data API (`gateway.api.property`) on a running gateway:
every format, exact reports, refusals before anything is applied, the import route's own body
limit, and no raw personal value in responses, logs or the database."""

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from testkit.harness import RunningGateway, gateway_settings, running_gateway
from testkit.inspection import database_dump
from testkit.services import MosquittoService
from tests.gateway.masterdata.files import (
    bad_check_digit,
    csv_bytes,
    id_number,
    json_bytes,
    xlsx_bytes,
)

API_MAX_BODY = 4096
IMPORT_MAX_BODY = 256 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HOUSE_COLUMNS = ("house_code", "building", "unit", "room")
RESIDENT_COLUMNS = ("id_number", "name", "phone", "population_type", "house_code", "tags")


@pytest.fixture(scope="module")
async def gateway(
    mosquitto: MosquittoService, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[RunningGateway, str]]:
    """A gateway with a small API body limit and a larger import limit, logging at DEBUG."""
    database = f"sqlite:///{tmp_path_factory.mktemp('property') / 'scgw.db'}"
    settings = gateway_settings(
        mosquitto.url,
        database,
        api_max_body_bytes=API_MAX_BODY,
        import_max_bytes=IMPORT_MAX_BODY,
        log_level="DEBUG",
    )
    async with running_gateway(settings) as running:
        yield running, database


def houses(prefix: str, count: int = 3, building: str = "B01") -> list[dict[str, object]]:
    return [
        {"house_code": f"{prefix}-{n}", "building": building, "unit": "1", "room": str(100 + n)}
        for n in range(1, count + 1)
    ]


def residents(prefix: str, first: int) -> list[dict[str, object]]:
    names = ("雷小琴", "欧阳锋锋", "张三")
    return [
        {
            "id_number": id_number(first + n),
            "name": name,
            "phone": f"139{first + n:08d}",
            "population_type": "registered",
            "house_code": f"{prefix}-{n + 1}",
            "tags": ["elderly_living_alone", "key_care"],
        }
        for n, name in enumerate(names)
    ]


async def put(
    api: RunningGateway, dataset: str, body: bytes, content_type: str, **params: str
) -> dict[str, object]:
    response = await api.http.put(
        f"/v1/property/yida/{dataset}",
        content=body,
        headers={"Content-Type": content_type},
        params=params,
    )
    assert response.status_code == 200, response.text
    report: dict[str, object] = response.json()
    return report


class TestFormats:
    """JSON, CSV (UTF-8, BOM, GBK, declared charset) and Excel give the same exact report."""

    @pytest.mark.parametrize(
        ("name", "content_type", "encode"),
        [
            ("json", "application/json", lambda c, r: json_bytes(r)),
            ("csv", "text/csv", csv_bytes),
            ("csvbom", "text/csv", lambda c, r: csv_bytes(c, r, bom=True)),
            ("gbk", "text/csv", lambda c, r: csv_bytes(c, r, encoding="gbk")),
            ("gbkdecl", "text/csv; charset=GBK", lambda c, r: csv_bytes(c, r, encoding="gbk")),
            ("xlsx", XLSX, xlsx_bytes),
        ],
    )
    async def test_good_and_bad_rows(
        self, gateway: tuple[RunningGateway, str], name: str, content_type: str, encode: object
    ) -> None:
        api, _ = gateway
        first = {"json": 10, "csv": 20, "csvbom": 30, "gbk": 40, "gbkdecl": 50, "xlsx": 60}[name]
        house_rows = [*houses(name), {"house_code": f"{name}-9", "building": ""}]
        report = await put(api, "houses", encode(HOUSE_COLUMNS, house_rows), content_type)  # type: ignore[operator]
        bad_line = 5 if name.startswith(("csv", "gbk", "xlsx")) else 4
        assert report == {
            "accepted": 3,
            "updated": 0,
            "unchanged": 0,
            "rejected": [{"line": bad_line, "field": "building", "reason": "is required"}],
        }
        rows = residents(name, first)
        rows[1]["id_number"] = bad_check_digit(str(rows[1]["id_number"]))
        rows[2]["house_code"] = f"{name}-missing"
        body = encode(RESIDENT_COLUMNS, rows)  # type: ignore[operator]
        report = await put(api, "residents", body, content_type)
        offset = 1 if name == "json" else 2  # JSON: index + 1; CSV/Excel: the header is line 1
        assert report == {
            "accepted": 1,
            "updated": 0,
            "unchanged": 0,
            "rejected": [
                {
                    "line": 1 + offset,
                    "field": "id_number",
                    "reason": "fails the GB 11643 check digit",
                },
                {
                    "line": 2 + offset,
                    "field": "house_code",
                    "reason": "names no house of this community",
                },
            ],
        }
        again = await put(api, "residents", body, content_type)
        assert (again["accepted"], again["updated"], again["unchanged"]) == (0, 0, 1)


class TestRefusals:
    """Whole-file problems are refused before any row is applied."""

    async def test_unknown_community(self, gateway: tuple[RunningGateway, str]) -> None:
        api, _ = gateway
        response = await api.http.put(
            "/v1/property/atlantis/houses",
            content=b"[]",
            headers={"Content-Type": "application/json"},
        )
        assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")

    async def test_unknown_dataset(self, gateway: tuple[RunningGateway, str]) -> None:
        api, _ = gateway
        response = await api.http.put(
            "/v1/property/yida/pets", content=b"[]", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422

    async def test_the_admin_key_is_required(self, gateway: tuple[RunningGateway, str]) -> None:
        api, _ = gateway
        response = await api.http.put(
            "/v1/property/yida/houses",
            content=b"[]",
            headers={"Content-Type": "application/json", "X-API-Key": "wrong" * 5},
        )
        assert response.status_code == 401

    async def test_unsupported_media_type(self, gateway: tuple[RunningGateway, str]) -> None:
        api, _ = gateway
        response = await api.http.put(
            "/v1/property/yida/houses", content=b"x", headers={"Content-Type": "text/plain"}
        )
        assert (response.status_code, response.json()["error"]["code"]) == (
            415,
            "unsupported_media_type",
        )

    async def test_bad_columns_apply_nothing(self, gateway: tuple[RunningGateway, str]) -> None:
        api, _ = gateway
        body = csv_bytes(("house_code", "remark", "13812345678"), [{"house_code": "cols-1"}])
        response = await api.http.put(
            "/v1/property/yida/houses", content=body, headers={"Content-Type": "text/csv"}
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "bad_columns"
        assert error["details"] == {
            "unknown": ["remark", "<column 3>"],
            "missing": ["building"],
            "duplicated": [],
        }
        assert (await api.http.get("/v1/houses/cols-1")).status_code == 404

    async def test_malformed_json_applies_nothing(
        self, gateway: tuple[RunningGateway, str]
    ) -> None:
        api, _ = gateway
        good = json_bytes(houses("broken"))
        response = await api.http.put(
            "/v1/property/yida/houses",
            content=good[:-1] + b", {",
            headers={"Content-Type": "application/json"},
        )
        assert (response.status_code, response.json()["error"]["code"]) == (400, "bad_json")
        report = await put(api, "houses", good, "application/json")
        assert report["accepted"] == 3  # none of them was applied by the refused file


class TestOddFiles:
    """Odd charsets, empty bodies and values that break conversions never give a 500."""

    @pytest.mark.parametrize("charset", ["rot13", "base64", "hex", "bz2", "utf-16", "punycode"])
    async def test_a_charset_that_is_not_a_text_encoding(
        self, gateway: tuple[RunningGateway, str], charset: str
    ) -> None:
        api, _ = gateway
        response = await api.http.put(
            "/v1/property/yida/houses",
            content=csv_bytes(HOUSE_COLUMNS, houses("rot")),
            headers={"Content-Type": f"text/csv; charset={charset}"},
        )
        assert (response.status_code, response.json()["error"]["code"]) == (
            415,
            "unsupported_charset",
        )
        assert (await api.http.get("/v1/houses/rot-1")).status_code == 404

    @pytest.mark.parametrize("content_type", ["application/json", "text/csv", XLSX])
    async def test_an_empty_body(
        self, gateway: tuple[RunningGateway, str], content_type: str
    ) -> None:
        api, _ = gateway
        response = await api.http.put(
            "/v1/property/yida/houses", content=b"", headers={"Content-Type": content_type}
        )
        assert (response.status_code, response.json()["error"]["code"]) == (400, "empty_file")

    async def test_values_that_break_conversions_reject_their_rows(
        self, gateway: tuple[RunningGateway, str]
    ) -> None:
        api, _ = gateway
        body = (
            b'[{"house_code": "odd-1", "building": "B01", "area_m2": NaN},'
            b' {"house_code": "odd-2", "building": "B01", "area_m2": Infinity},'
            b' {"house_code": "odd-3", "building": "B01", "registered_occupants": "\\u00b2"},'
            b' {"house_code": "odd-4", "building": "B01", "room": ' + b"9" * 5000 + b"},"
            b' {"house_code": "odd-5", "building": "B01", "building": "B02"},'
            b' {"house_code": 6, "building": "B01"},'
            b' {"house_code": "odd-7", "building": "B01", "registered_occupants": 3.0}]'
        )
        report = await put(api, "houses", body, "application/json")
        rejected: list[dict[str, object]] = report["rejected"]  # type: ignore[assignment]
        assert (report["accepted"], [r["line"] for r in rejected]) == (1, [1, 2, 3, 4, 5, 6])


class TestSnapshots:
    """A snapshot reports what it ended, refuses to be empty, and runs one at a time."""

    async def test_ended_and_empty(self, gateway: tuple[RunningGateway, str]) -> None:
        api, _ = gateway
        await snapshot_setup(api, "snapa", 100)
        rows = residents("snapa", 100)
        report = await put_jiaxin(api, json_bytes(rows[:2]), mode="snapshot")
        assert (report.status_code, report.json()["unchanged"], report.json()["ended"]) == (
            200,
            2,
            1,
        )
        upsert = await put_jiaxin(api, json_bytes(rows[:2]))
        assert "ended" not in upsert.json()
        header = b"id_number,population_type,house_code\n"
        for body, content_type in ((b"[]", "application/json"), (header, "text/csv")):
            refused = await put_jiaxin(api, body, content_type, mode="snapshot")
            assert (refused.status_code, refused.json()["error"]["code"]) == (
                400,
                "empty_snapshot",
            )
        assert await open_residencies(api, "snapa") == 2

    async def test_concurrent_snapshots_of_one_file_end_nothing(
        self, gateway: tuple[RunningGateway, str]
    ) -> None:
        api, _ = gateway
        await snapshot_setup(api, "snapc", 110)
        body = json_bytes(residents("snapc", 110))
        answers = await asyncio.gather(*(put_jiaxin(api, body, mode="snapshot") for _ in range(4)))
        assert [a.status_code for a in answers] == [200] * 4
        ended = sorted(a.json()["ended"] for a in answers)
        assert ended[:3] == [0, 0, 0]  # only the first ends what earlier tests left open
        assert await open_residencies(api, "snapc") == 3

    async def test_concurrent_imports_of_the_same_new_residents(
        self, gateway: tuple[RunningGateway, str]
    ) -> None:
        api, _ = gateway
        await put_jiaxin(api, json_bytes(houses("snapn", building="B02")), dataset="houses")
        body = json_bytes(residents("snapn", 120))
        answers = await asyncio.gather(put_jiaxin(api, body), put_jiaxin(api, body))
        assert [a.status_code for a in answers] == [200, 200]
        counts = sorted((a.json()["accepted"], a.json()["unchanged"]) for a in answers)
        assert counts == [(0, 3), (3, 0)]


async def put_jiaxin(
    api: RunningGateway,
    body: bytes,
    content_type: str = "application/json",
    *,
    dataset: str = "residents",
    **params: str,
) -> httpx.Response:
    """A PUT to community jiaxin, whose snapshots end nothing the yida tests rely on."""
    return await api.http.put(
        f"/v1/property/jiaxin/{dataset}",
        content=body,
        headers={"Content-Type": content_type},
        params=params,
    )


async def snapshot_setup(api: RunningGateway, prefix: str, first: int) -> None:
    """Houses and three residents of jiaxin, imported as an upsert."""
    response = await put_jiaxin(api, json_bytes(houses(prefix)), dataset="houses")
    assert response.status_code == 200, response.text
    response = await put_jiaxin(api, json_bytes(residents(prefix, first)))
    assert response.json()["accepted"] == 3, response.text


async def open_residencies(api: RunningGateway, prefix: str) -> int:
    """Residencies of houses `prefix-*` without an end date."""
    persons = await api.http.get("/v1/persons", params={"community": "jiaxin", "limit": 1000})
    return sum(
        1
        for person in persons.json()["data"]
        for residency in person["residencies"]
        if residency["house_code"].startswith(f"{prefix}-") and residency["until"] is None
    )


class TestBodyLimits:
    """The import route alone accepts bodies up to SCGW_IMPORT_MAX_BYTES."""

    async def test_an_import_larger_than_the_api_limit(
        self, gateway: tuple[RunningGateway, str]
    ) -> None:
        api, _ = gateway
        rows = houses("big", 1000)
        body = csv_bytes(HOUSE_COLUMNS, rows)
        assert API_MAX_BODY < len(body) < IMPORT_MAX_BODY
        report = await put(api, "houses", body, "text/csv")
        assert report["accepted"] == 1000

    async def test_an_import_over_its_own_limit(self, gateway: tuple[RunningGateway, str]) -> None:
        api, _ = gateway
        response = await api.http.put(
            "/v1/property/yida/houses",
            content=b" " * (IMPORT_MAX_BODY + 1),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 413
        assert response.json()["error"]["details"] == {"max_bytes": IMPORT_MAX_BODY}

    async def test_other_routes_keep_the_api_limit(
        self, gateway: tuple[RunningGateway, str]
    ) -> None:
        api, _ = gateway
        for method, path in (
            ("POST", "/v1/property/yida/residencies/end"),
            ("PUT", "/v1/devices/43011200001399990001"),
        ):
            response = await api.http.request(
                method,
                path,
                content=b"[" + b" " * API_MAX_BODY + b"]",
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 413, path


class TestEndResidencies:
    """ID numbers travel in the body; the report has the import's shape."""

    async def test_ends(self, gateway: tuple[RunningGateway, str]) -> None:
        api, _ = gateway
        await put(api, "houses", json_bytes(houses("end")), "application/json")
        rows = residents("end", 70)
        await put(api, "residents", json_bytes(rows), "application/json")
        items = [
            {"id_number": rows[0]["id_number"], "house_code": "end-1", "until": "2026-01-31"},
            {"id_number": rows[1]["id_number"], "house_code": "end-1", "until": "2026-01-31"},
        ]
        response = await api.http.post("/v1/property/yida/residencies/end", json=items)
        assert response.status_code == 200
        assert response.json() == {
            "accepted": 0,
            "updated": 1,
            "unchanged": 0,
            "rejected": [
                {
                    "line": 2,
                    "field": "id_number",
                    "reason": "names no registered residency of that house",
                }
            ],
        }


class TestPrivacy:
    """Raw ID numbers, names and phones reach no response, DEBUG log line or database row."""

    async def test_nowhere(
        self, gateway: tuple[RunningGateway, str], caplog: pytest.LogCaptureFixture
    ) -> None:
        api, database = gateway
        caplog.set_level(logging.DEBUG)
        await put(api, "houses", json_bytes(houses("priv")), "application/json")
        rows = residents("priv", 80)
        bad = [
            {**rows[0], "id_number": bad_check_digit(str(rows[0]["id_number"]))},
            {**rows[1], "phone": f"x{rows[1]['phone']}"},
        ]
        texts = []
        for body, content_type in (
            (json_bytes(rows + bad), "application/json"),
            (csv_bytes(RESIDENT_COLUMNS, rows + bad, encoding="gbk"), "text/csv"),
            (xlsx_bytes(RESIDENT_COLUMNS, rows + bad), XLSX),
        ):
            response = await api.http.put(
                "/v1/property/yida/residents",
                content=body,
                headers={"Content-Type": content_type},
            )
            texts.append(response.text)
        ends = [
            {"id_number": r["id_number"], "house_code": "nowhere", "until": "2026-01-01"}
            for r in rows
        ]
        texts.append((await api.http.post("/v1/property/yida/residencies/end", json=ends)).text)
        persons = await api.http.get("/v1/persons", params={"community": "yida", "limit": 1000})
        assert persons.status_code == 200 and "雷*琴" in persons.text  # the masked read
        texts.append(persons.text)
        logs = "\n".join(record.getMessage() for record in caplog.records)
        assert any(r.levelno == logging.DEBUG for r in caplog.records)  # DEBUG was captured
        dump = database_dump(database)
        planted = [str(r[f]) for r in rows + bad for f in ("id_number", "name", "phone")]
        planted += [str(r["id_number"]) for r in bad]
        for value in planted:
            for where, text in (("responses", "\n".join(texts)), ("logs", logs), ("db", dump)):
                assert value not in text, where
