"""The vehicle watch-list through a running gateway's HTTP API, on both stores: plates
normalised as everywhere else, bad entries refused by index and field without their values,
every change audited, and this process's snapshot reloaded at once."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from testkit.harness import RunningGateway, gateway_settings, running_gateway
from testkit.services import MosquittoService
from tests.gateway.api.pages import every

PATH = "/v1/watchlist/vehicles"


@pytest.fixture
async def gateway(mosquitto: MosquittoService, database: str) -> AsyncIterator[RunningGateway]:
    async with running_gateway(gateway_settings(mosquitto.url, database)) as running:
        yield running


async def put(gateway: RunningGateway, entries: list[Any]) -> Any:
    return await gateway.http.put(PATH, json=entries)


async def listed(gateway: RunningGateway) -> list[dict[str, Any]]:
    response = await gateway.http.get(PATH)
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    entries: list[dict[str, Any]] = response.json()["data"]
    return entries


async def audited(gateway: RunningGateway, prefix: str) -> list[dict[str, Any]]:
    entries = await every(gateway.http, "/v1/audit")
    return [e for e in entries if e["action"].startswith(prefix)]


class TestPut:
    """PUT adds or replaces entries keyed by the normalised plate."""

    async def test_plates_are_normalised_and_listed(self, gateway: RunningGateway) -> None:
        until = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
        response = await put(
            gateway,
            [
                {"plate_no": "湘a·12345", "reason": "协查通报 2026-17", "until": until.isoformat()},
                {"plate_no": "湘Ａ Ｄ１２３４５", "plate_color": "green", "reason": "布控"},
            ],
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"stored": 2}
        assert sorted(await listed(gateway), key=lambda e: e["plate_no"]) == [
            {
                "plate_no": "湘A12345",
                "plate_color": None,
                "reason": "协查通报 2026-17",
                "until": until.isoformat(),
            },
            {"plate_no": "湘AD12345", "plate_color": "green", "reason": "布控", "until": None},
        ]

    async def test_a_plate_put_again_is_replaced(self, gateway: RunningGateway) -> None:
        await put(gateway, [{"plate_no": "湘A12345", "reason": "first"}])
        await put(gateway, [{"plate_no": "湘a12345", "reason": "second"}])
        assert [(e["plate_no"], e["reason"]) for e in await listed(gateway)] == [
            ("湘A12345", "second")
        ]

    async def test_the_snapshot_is_reloaded(self, gateway: RunningGateway) -> None:
        await put(gateway, [{"plate_no": "湘A12345", "reason": "布控"}])
        assert set(gateway.runtime.watchlist.snapshot) == {"湘A12345"}
        await gateway.http.delete(f"{PATH}/{quote('湘A12345')}")
        assert dict(gateway.runtime.watchlist.snapshot) == {}

    async def test_a_put_is_audited_with_its_plates(self, gateway: RunningGateway) -> None:
        await put(gateway, [{"plate_no": "湘A12345", "reason": "布控"}])
        (entry,) = await audited(gateway, "watchlist.")
        assert (entry["action"], entry["records"], entry["details"]) == (
            "watchlist.put",
            ["湘A12345"],
            {"entries": 1},
        )


class TestRefusals:
    """A bad entry refuses the whole PUT with 422 naming index and field, never the value."""

    @pytest.mark.parametrize(
        ("entry", "field"),
        [
            ({"plate_no": "13812345678", "reason": "x"}, "plate_no"),
            ({"plate_no": "<b>湘A1</b>", "reason": "x"}, "plate_no"),
            ({"plate_no": "湘A12345", "reason": ""}, "reason"),
            ({"plate_no": "湘A12345", "reason": "车主电话13812345678"}, "reason"),
            ({"plate_no": "湘A12345", "reason": "布控\u0000案件"}, "reason"),
            ({"plate_no": "湘A12345", "reason": "布控\u202e案件"}, "reason"),
            ({"plate_no": "湘A12345", "reason": "x", "plate_color": "tartan"}, "plate_color"),
            ({"plate_no": "湘A12345", "reason": "x", "until": "2026-01-01"}, "until"),
            (
                {
                    "plate_no": "湘A12345",
                    "reason": "x",
                    "until": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
                },
                "until",
            ),
            ({"plate_no": "湘A12345", "reason": "x", "owner": "张三"}, "<key 3>"),
            ({"reason": "x"}, "plate_no"),
        ],
    )
    async def test_bad_entries(
        self, gateway: RunningGateway, entry: dict[str, Any], field: str
    ) -> None:
        good = {"plate_no": "湘B54321", "reason": "布控"}
        response = await put(gateway, [good, entry])
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "validation_failed"
        assert error["details"][0]["location"] == ["body", 1, field]
        for value in entry.values():
            if len(str(value)) >= 3:
                assert str(value) not in response.text
        assert await listed(gateway) == []
        assert await audited(gateway, "watchlist.") == []

    async def test_the_same_plate_twice(self, gateway: RunningGateway) -> None:
        response = await put(
            gateway,
            [{"plate_no": "湘A12345", "reason": "a"}, {"plate_no": "湘a-12345", "reason": "b"}],
        )
        assert response.status_code == 422
        (problem,) = response.json()["error"]["details"]
        assert problem["location"] == ["body", 1, "plate_no"]
        assert problem["message"] == "is the same plate as entry 0"

    async def test_not_an_array(self, gateway: RunningGateway) -> None:
        response = await gateway.http.put(PATH, json={"plate_no": "湘A12345", "reason": "x"})
        assert response.status_code == 422


class TestDelete:
    """DELETE takes a plate off (its normalised form), 404 when it is not listed."""

    async def test_delete_normalises_and_audits(self, gateway: RunningGateway) -> None:
        await put(gateway, [{"plate_no": "湘A12345", "reason": "布控"}])
        response = await gateway.http.delete(f"{PATH}/{quote('湘a12345')}")
        assert response.status_code == 204
        assert await listed(gateway) == []
        actions = [(e["action"], e["records"]) for e in await audited(gateway, "watchlist.")]
        assert actions == [("watchlist.delete", ["湘A12345"]), ("watchlist.put", ["湘A12345"])]

    async def test_an_unlisted_plate_is_404(self, gateway: RunningGateway) -> None:
        response = await gateway.http.delete(f"{PATH}/{quote('湘A99999')}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert await audited(gateway, "watchlist.") == []

    async def test_a_path_that_is_no_plate_is_422(self, gateway: RunningGateway) -> None:
        response = await gateway.http.delete(f"{PATH}/13812345678")
        assert response.status_code == 422
        assert response.json()["error"]["details"][0]["location"] == ["path", "plate_no"]
        assert "13812345678" not in response.text
