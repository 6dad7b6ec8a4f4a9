"""Reading a list endpoint of the API whole, page by page, as a client follows cursors."""

from typing import Any

import httpx


async def every(http: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list endpoint, following cursors with pages of `limit` (default 1)."""
    found: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 1, **params}
    while True:
        response = await http.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        found.extend(page["data"])
        if page["next_cursor"] is None:
            return found
        query["cursor"] = page["next_cursor"]
