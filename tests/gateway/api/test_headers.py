"""Specification of the security headers and CORS: every answer, from the dashboard's page to
an API error, carries a Content-Security-Policy without inline script, `nosniff`, frame denial
and no referrer; /docs and /redoc admit exactly their own inline script by hash and still
render in Chromium; the dashboard's files are served by name only; CORS stays closed unless
origins are configured, and then opens for exactly those.
"""

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import ConsoleMessage, async_playwright

from gateway.api.headers import POLICY, script_hashes
from testkit.harness import ADMIN_KEY, RunningGateway, gateway_settings, running_gateway
from testkit.services import MosquittoService

CHROMIUM = "/usr/bin/chromium"
ALLOWED_ORIGIN = "https://ops.example.org"


def directives(policy: str) -> dict[str, list[str]]:
    """A CSP header as directive -> its source expressions."""
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def assert_secured(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    policy = directives(response.headers["content-security-policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]


class TestEveryAnswerIsSecured:
    """The headers are on pages, files, JSON, errors of every kind."""

    @pytest.mark.parametrize(
        ("path", "keyed", "status"),
        [
            ("/", False, 200),
            ("/dashboard/static/app.js", False, 200),
            ("/healthz", False, 200),
            ("/openapi.json", False, 200),
            ("/v1/events", True, 200),
            ("/v1/events", False, 401),
            ("/v1/events?nonsense=1", True, 400),
            ("/v1/no-such-endpoint", True, 404),
        ],
    )
    async def test_the_headers_are_there(
        self, api: RunningGateway, path: str, keyed: bool, status: int
    ) -> None:
        headers = None if keyed else {"X-API-Key": "not-a-key"}
        response = await api.http.get(path, headers=headers)
        assert response.status_code == status
        assert_secured(response)

    async def test_the_dashboard_and_the_api_share_the_strict_policy(
        self, api: RunningGateway
    ) -> None:
        for path in ("/", "/v1/events"):
            response = await api.http.get(path)
            assert response.headers["content-security-policy"] == POLICY
        policy = directives(POLICY)
        assert policy["default-src"] == policy["script-src"] == policy["style-src"] == ["'self'"]
        assert policy["connect-src"] == ["'self'"]
        assert policy["img-src"] == ["'self'", "data:"]
        assert policy["form-action"] == ["'self'"]


class TestDocumentationPages:
    """/docs and /redoc admit their inline script by its hash, nothing else inline, and every
    file of their own loads under that policy."""

    @pytest.mark.parametrize("page", ["/docs", "/docs/oauth2-redirect", "/redoc"])
    async def test_each_inline_script_is_admitted_by_hash(
        self, api: RunningGateway, page: str
    ) -> None:
        response = await api.http.get(page)
        assert_secured(response)
        hashes = script_hashes(response.content)
        assert hashes or page == "/redoc"  # Swagger UI starts from an inline script
        script_src = directives(response.headers["content-security-policy"])["script-src"]
        assert script_src == ["'self'", *hashes]
        assert int(response.headers["content-length"]) == len(response.content)

    @pytest.mark.parametrize(
        ("page", "rendered"), [("/docs", "button.authorize"), ("/redoc", "h1")]
    )
    async def test_they_render_without_a_policy_violation(
        self, api: RunningGateway, page: str, rendered: str
    ) -> None:
        base = str(api.http.base_url).rstrip("/")
        violations: list[str] = []

        def record(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text or "Refused to" in message.text:
                violations.append(message.text)

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM)
            try:
                tab = await browser.new_page()
                tab.on("console", record)
                await tab.goto(f"{base}{page}")
                await tab.locator(rendered).first.wait_for(timeout=30_000)
                title = await tab.locator(rendered).first.inner_text()
            finally:
                await browser.close()
        # Blocking what would come from another host (ReDoc's logo from its CDN) is the policy
        # doing its job; anything of the gateway's own being refused is a broken page.
        assert [v for v in violations if "https://" not in v] == []
        assert title


class TestDashboardFiles:
    """The page and its two files, by exact name, with their types and cache rules."""

    async def test_the_page_loads_only_its_own_files_and_no_inline_script(
        self, api: RunningGateway
    ) -> None:
        response = await api.http.get("/")
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"
        html = response.text
        scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
        assert scripts and all(
            'src="/dashboard/static/' in attrs and not body.strip() for attrs, body in scripts
        )
        assert not re.search(r"\son[a-z]+\s*=", html), "an inline event handler"
        assert not re.search(r"\sstyle\s*=", html), "an inline style"
        assert "http://" not in html and "https://" not in html

    @pytest.mark.parametrize(
        ("name", "content_type"),
        [("app.js", "text/javascript; charset=utf-8"), ("app.css", "text/css; charset=utf-8")],
    )
    async def test_assets_have_their_type_and_are_cached_briefly(
        self, api: RunningGateway, name: str, content_type: str
    ) -> None:
        response = await api.http.get(f"/dashboard/static/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"] == content_type
        assert response.headers["cache-control"] == "public, max-age=300"

    @pytest.mark.parametrize(
        "path",
        [
            "/dashboard/static/",
            "/dashboard/static",
            "/dashboard/static/index.html",
            "/dashboard/static/__init__.py",
            "/dashboard/static/..%2F__init__.py",
            "/dashboard/static/%2e%2e/api/app.py",
            "/dashboard/static/nothing.js",
        ],
    )
    async def test_nothing_else_is_served(self, api: RunningGateway, path: str) -> None:
        response = await api.http.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert_secured(response)


async def preflight(client: httpx.AsyncClient, origin: str) -> httpx.Response:
    return await client.options(
        "/v1/events",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-api-key",
        },
    )


class TestCorsClosedByDefault:
    """With no origins configured, no answer ever carries an Access-Control header."""

    async def test_no_origin_is_allowed(self, api: RunningGateway) -> None:
        asked = await preflight(api.http, ALLOWED_ORIGIN)
        read = await api.http.get("/v1/events", headers={"Origin": ALLOWED_ORIGIN})
        assert read.status_code == 200
        for response in (asked, read):
            assert not [h for h in response.headers if h.startswith("access-control-")]


@pytest.fixture(scope="module")
async def cors_api(
    mosquitto: MosquittoService, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    """A gateway whose settings open CORS for `ALLOWED_ORIGIN` only."""
    database: Path = tmp_path_factory.mktemp("cors") / "scgw.db"
    settings = gateway_settings(
        mosquitto.url, f"sqlite:///{database}", api_cors_origins=[ALLOWED_ORIGIN]
    )
    async with running_gateway(settings) as gateway:
        yield gateway


class TestCorsWhenConfigured:
    """Exactly the configured origins may read, with the key in its header."""

    async def test_the_configured_origin_may_send_the_key(self, cors_api: RunningGateway) -> None:
        asked = await preflight(cors_api.http, ALLOWED_ORIGIN)
        assert asked.status_code == 200
        assert asked.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        allowed = asked.headers["access-control-allow-headers"].lower()
        assert "x-api-key" in allowed
        read = await cors_api.http.get("/v1/events", headers={"Origin": ALLOWED_ORIGIN})
        assert read.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert_secured(read)

    async def test_another_origin_is_not(self, cors_api: RunningGateway) -> None:
        asked = await preflight(cors_api.http, "https://elsewhere.example.com")
        assert asked.status_code == 400
        assert "access-control-allow-origin" not in asked.headers
        read = await cors_api.http.get(
            "/v1/events",
            headers={"Origin": "https://elsewhere.example.com", "X-API-Key": ADMIN_KEY},
        )
        assert "access-control-allow-origin" not in read.headers
