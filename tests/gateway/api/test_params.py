"""Specification of query parameters (`gateway.api.params`): ISO 8601 times with an offset
only, `since` never after `until`, and no parameter an endpoint does not declare."""

from datetime import UTC, datetime, timedelta

import pytest

from testkit.harness import RunningGateway

NOW = datetime.now(UTC).replace(microsecond=0)


class TestTimes:
    """`since` and `until` take ISO 8601 date-times with an offset, and nothing else."""

    @pytest.mark.parametrize(
        "value",
        [
            (NOW - timedelta(hours=1)).isoformat(),
            (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            (NOW - timedelta(hours=1)).astimezone().strftime("%Y-%m-%dT%H:%M%z")[:-2] + ":00",
            "2026-05-01T08:00:00.123456+08:00",
        ],
    )
    async def test_iso_8601_with_an_offset_is_accepted(
        self, api: RunningGateway, value: str
    ) -> None:
        response = await api.http.get("/v1/events", params={"since": value})
        assert response.status_code == 200, response.text

    async def test_an_unescaped_plus_in_the_offset_is_understood(self, api: RunningGateway) -> None:
        response = await api.http.get("/v1/events?since=2026-05-01T08:00:00+08:00")
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize(
        "value",
        [
            "yesterday",
            "1777600000",
            "2026-05-01",
            "2026-05-01T08:00:00",
            "2026-05-01 08:00:00+08:00",
            "2026-13-01T08:00:00Z",
            "20260501T080000Z",
            "2026-05-01T08:00:00+0800",
        ],
    )
    @pytest.mark.parametrize("name", ["since", "until"])
    async def test_other_values_are_invalid_parameters(
        self, api: RunningGateway, name: str, value: str
    ) -> None:
        response = await api.http.get("/v1/events", params={name: value})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_parameter"
        assert error["details"][0]["location"] == ["query", name]
        assert "ISO 8601" in error["details"][0]["message"]

    async def test_since_after_until_is_a_bad_time_range(self, api: RunningGateway) -> None:
        params = {"since": NOW.isoformat(), "until": (NOW - timedelta(seconds=1)).isoformat()}
        response = await api.http.get("/v1/events", params=params)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_time_range"

    async def test_an_empty_range_is_an_empty_page(self, api: RunningGateway) -> None:
        params = {"since": NOW.isoformat(), "until": NOW.isoformat()}
        response = await api.http.get("/v1/events", params=params)
        assert response.json() == {"data": [], "next_cursor": None}


class TestUnknownParameters:
    """Every endpoint refuses a query parameter it does not declare with `unknown_parameter`."""

    async def test_every_endpoint_refuses_an_unknown_parameter(self, api: RunningGateway) -> None:
        document = (await api.http.get("/openapi.json")).json()
        operations = [
            (method.upper(), path)
            for path, methods in document["paths"].items()
            for method in methods
        ]
        assert len(operations) >= 7  # the test really walks the API
        for method, template in [*operations, ("GET", "/docs"), ("GET", "/redoc")]:
            path = template.replace("{device_id}", "43011200001320000001")
            response = await api.http.request(method, path, params={"devce_id": "x"})
            assert response.status_code == 400, (method, template, response.text)
            error = response.json()["error"]
            assert error["code"] == "unknown_parameter"
            assert error["details"]["unknown"] == ["devce_id"]

    async def test_the_refusal_lists_what_the_endpoint_accepts(self, api: RunningGateway) -> None:
        response = await api.http.get("/v1/events", params={"limit": 5, "sinse": "x"})
        details = response.json()["error"]["details"]
        assert details["accepted"] == [
            "community",
            "cursor",
            "device_id",
            "kind",
            "limit",
            "since",
            "until",
        ]

    async def test_declared_parameters_pass(self, api: RunningGateway) -> None:
        response = await api.http.get("/v1/devices", params={"limit": 5, "status": "online"})
        assert response.status_code == 200, response.text
