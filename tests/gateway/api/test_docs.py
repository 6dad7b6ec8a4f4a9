"""Specification of the API's documentation: /docs and /redoc work on a network with no
internet (every asset served by the gateway), and the API key is a declared security scheme
so /docs has an Authorize button.

The browser test drives Debian's Chromium (installed by `make services`) through Playwright,
with every request to another host aborted and recorded.
"""

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.async_api import Route, async_playwright

from testkit.harness import RunningGateway

CHROMIUM = "/usr/bin/chromium"
_REFERENCE = re.compile(r"""(?:src|href|url)\s*[=:(]\s*['"]([^'"]+)['"]""")


def references(html: str) -> list[str]:
    """Every URL a page's HTML loads: scripts, stylesheets, icons, the OpenAPI document."""
    return _REFERENCE.findall(html)


class TestDocsWorkOffline:
    """The documentation pages reference only the gateway itself, and it serves each asset."""

    @pytest.mark.parametrize("page", ["/docs", "/redoc"])
    async def test_every_reference_is_local_and_served(
        self, api: RunningGateway, page: str
    ) -> None:
        response = await api.http.get(page)
        assert response.status_code == 200
        found = references(response.text)
        assert "/openapi.json" in found
        assert any(url.endswith(".js") for url in found)
        for url in found:
            assert not urlsplit(url).netloc, f"{page} loads {url} from another host"
            asset = await api.http.get(urljoin(page, url))
            assert asset.status_code == 200, url
        assert "http://" not in response.text.replace(str(api.http.base_url), "")
        assert "https://" not in response.text

    async def test_swagger_assets_are_the_ui_itself(self, api: RunningGateway) -> None:
        script = await api.http.get("/docs/static/swagger-ui-bundle.js")
        assert script.headers["content-type"].startswith(("text/javascript", "application/"))
        assert "SwaggerUIBundle" in script.text


class TestSecuritySchemes:
    """The OpenAPI document declares the key and marks every endpoint that needs it."""

    async def test_both_ways_of_presenting_the_key_are_schemes(self, api: RunningGateway) -> None:
        schemes = (await api.http.get("/openapi.json")).json()["components"]["securitySchemes"]
        assert schemes["ApiKey"] == {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": schemes["ApiKey"]["description"],
        }
        assert schemes["Bearer"]["type"] == "http" and schemes["Bearer"]["scheme"] == "bearer"

    async def test_keyed_endpoints_say_so_and_open_ones_do_not(self, api: RunningGateway) -> None:
        paths: dict[str, Any] = (await api.http.get("/openapi.json")).json()["paths"]
        either: list[dict[str, list[str]]] = [{"ApiKey": []}, {"Bearer": []}]
        for path in ("/v1/events", "/v1/dead-letters", "/metrics", "/v1/devices"):
            assert paths[path]["get"]["security"] == either, path
        for path in ("/healthz", "/readyz"):
            assert "security" not in paths[path]["get"], path

    async def test_every_operation_documents_the_error_body(self, api: RunningGateway) -> None:
        paths: dict[str, Any] = (await api.http.get("/openapi.json")).json()["paths"]
        for path, methods in paths.items():
            for operation in methods.values():
                schema = operation["responses"]["4XX"]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, path


class TestDocsInABrowser:
    """Swagger UI renders in Chromium with every other host unreachable."""

    async def test_swagger_ui_renders_with_an_authorize_button(self, api: RunningGateway) -> None:
        base = str(api.http.base_url).rstrip("/")
        elsewhere: list[str] = []

        async def only_the_gateway(route: Route) -> None:
            if route.request.url.startswith(base):
                await route.continue_()
            else:
                elsewhere.append(route.request.url)
                await route.abort()

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM)
            try:
                page = await browser.new_page()
                await page.route("**/*", only_the_gateway)
                await page.goto(f"{base}/docs")
                await page.locator("button.authorize").wait_for(timeout=30_000)
                await page.get_by_text("/v1/events").first.wait_for(timeout=30_000)
                title = await page.locator(".info .title").inner_text()
                await page.locator("button.authorize").click()
                dialog = page.locator(".dialog-ux")
                await dialog.get_by_text("X-API-Key").first.wait_for(timeout=10_000)
            finally:
                await browser.close()
        assert title.startswith("Smart-community gateway")
        assert elsewhere == []
