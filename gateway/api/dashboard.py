"""The operations dashboard: `/` is its page, `/dashboard/static/{name}` its script and style.

The page itself holds no data and needs no key: it asks for one, keeps it in the tab's session
storage and reads the API with it like any client. Only the files shipped in
`gateway/dashboard` are served, by name (no directory listing, no path below it); the page is
revalidated on every load, its assets are cached briefly.
"""

from importlib import resources
from typing import Final

from fastapi import APIRouter
from fastapi.responses import Response

from gateway.api.errors import ApiError

router = APIRouter(include_in_schema=False)

STATIC_URL: Final = "/dashboard/static"
CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
ASSET_CACHE: Final = "public, max-age=300"
PAGE_CACHE: Final = "no-cache"


def _files() -> dict[str, bytes]:
    """Every servable file of the package, by name, read once at import."""
    folder = resources.files("gateway.dashboard")
    return {
        entry.name: entry.read_bytes()
        for entry in folder.iterdir()
        if entry.is_file() and "." + entry.name.rsplit(".", 1)[-1] in CONTENT_TYPES
    }


FILES: Final = _files()


def _serve(name: str, cache: str) -> Response:
    content = FILES.get(name)
    if content is None:
        raise ApiError(404, "not_found", "no such dashboard file")
    media = CONTENT_TYPES["." + name.rsplit(".", 1)[-1]]
    return Response(content, media_type=media, headers={"Cache-Control": cache})


@router.get("/")
async def dashboard_page() -> Response:
    """The dashboard's page (it loads its data with the key the operator signs in with)."""
    return _serve("index.html", PAGE_CACHE)


@router.get(STATIC_URL + "/{name}")
async def dashboard_asset(name: str) -> Response:
    """One of the dashboard's own files, by exact name."""
    if name == "index.html":
        raise ApiError(404, "not_found", "no such dashboard file")
    return _serve(name, ASSET_CACHE)
