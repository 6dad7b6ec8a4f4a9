"""Specification of query parameters (`gateway.api.params`): ISO 8601 times with an offset
only, `since` never after `until`, no parameter an endpoint does not declare or given twice,
and device ids and community codes held to the registry's rules, in the query and the path."""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from testkit.harness import RunningGateway

NOW = datetime.now(UTC).replace(microsecond=0)
SINCE = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        ids=["offset", "Z", "minutes", "microseconds"],  # stable: xdist workers collect alike
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

    @pytest.mark.parametrize(
        "value", ["0001-01-01T00:00:00+08:00", "1899-12-31T23:59:59Z", "9999-12-31T23:30:00Z"]
    )
    async def test_times_no_event_could_have_are_invalid_parameters(
        self, api: RunningGateway, value: str
    ) -> None:
        """Near the ends of the calendar, widening a time to its hour or day would step off it."""
        response = await api.http.get("/v1/events", params={"until": value})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_parameter"
        assert "1900-01-01" in error["details"][0]["message"]

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
            assert error["details"]["unknown"] == ["<parameter 1>"]

    async def test_names_the_client_chose_are_shown_by_position(self, api: RunningGateway) -> None:
        response = await api.http.get("/v1/events?limit=5&欧阳锋=1&x%E2%80%AE=3&13812345678=2")
        error = response.json()["error"]
        assert error["code"] == "unknown_parameter"
        assert error["details"]["unknown"] == ["<parameter 2>", "<parameter 3>", "<parameter 4>"]
        assert "欧阳锋" not in response.text and "ouyang" not in response.text
        assert "\\u202e" not in response.text and "13812345678" not in response.text

    async def test_a_name_another_endpoint_declares_is_named(self, api: RunningGateway) -> None:
        response = await api.http.get("/v1/events", params={"status": "online"})
        assert response.json()["error"]["details"]["unknown"] == ["status"]

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


class TestRepeatedParameters:
    """A declared query parameter given more than once is refused with `repeated_parameter`."""

    @pytest.mark.parametrize(
        ("path", "query", "repeated"),
        [
            ("/v1/events", "limit=1&limit=2", ["limit"]),
            ("/v1/events", f"since={SINCE}&until={SINCE}&since={SINCE}", ["since"]),
            (
                "/v1/events",
                "device_id=a&community=b&device_id=a&community=b",
                ["community", "device_id"],
            ),
            ("/v1/devices", "status=online&status=offline", ["status"]),
            ("/v1/dead-letters", "cursor=&cursor=", ["cursor"]),
        ],
        ids=["limit", "since", "two-names", "status", "cursor"],
    )
    async def test_repeated_parameters_are_named(
        self, api: RunningGateway, path: str, query: str, repeated: list[str]
    ) -> None:
        response = await api.http.get(f"{path}?{query}")
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert (error["code"], error["details"]) == ("repeated_parameter", {"repeated": repeated})

    async def test_an_unknown_parameter_is_reported_before_a_repeated_one(
        self, api: RunningGateway
    ) -> None:
        response = await api.http.get("/v1/events?limit=1&limit=2&lmit=3")
        assert response.json()["error"]["code"] == "unknown_parameter"


class TestIdentifierParameters:
    """Device ids and community codes in the query are 400s, in the path 422s, naming where,
    never what; a well-formed id no device has stays an empty page or a 404."""

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("device_id", "<script>"),
            ("device_id", "a" * 65),
            ("device_id", "a..b"),
            ("device_id", "13812345678"),
            ("device_id", ""),
            ("community", "<script>"),
            ("community", "Yida Town"),
            ("community", "c" * 33),
        ],
    )
    async def test_a_malformed_query_identifier_is_an_invalid_parameter(
        self, api: RunningGateway, name: str, value: str
    ) -> None:
        for path in ["/v1/events", "/v1/devices"] if name == "community" else ["/v1/events"]:
            response = await api.http.get(path, params={name: value})
            assert response.status_code == 400, (path, response.text)
            error = response.json()["error"]
            assert error["code"] == "invalid_parameter"
            assert [problem["location"] for problem in error["details"]] == [["query", name]]
            if len(value) > 2:
                assert value not in response.text

    @pytest.mark.parametrize("device_id", ["<script>", "x" * 5000, "a..b", "13812345678", "门禁1"])
    async def test_a_malformed_path_device_id_is_422_naming_the_path(
        self, api: RunningGateway, device_id: str
    ) -> None:
        response = await api.http.get(f"/v1/devices/{quote(device_id, safe='')}")
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "validation_failed"
        assert "path" in error["message"] and "body" not in error["message"]
        assert [problem["location"] for problem in error["details"]] == [["path", "device_id"]]
        assert device_id not in response.text

    async def test_well_formed_identifiers_nobody_has_are_an_empty_page_or_404(
        self, api: RunningGateway
    ) -> None:
        params = {"device_id": "34020000001320009999", "community": "nowhere"}
        response = await api.http.get("/v1/events", params=params)
        assert response.json() == {"data": [], "next_cursor": None}
        assert (await api.http.get("/v1/devices/34020000001320009999")).status_code == 404
