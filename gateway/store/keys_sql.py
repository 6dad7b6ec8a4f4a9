"""What both stores share for API keys: cutting a fetch into a page."""

from gateway.store.base import Page
from gateway.store.keys import KeyCursor, StoredKey


def key_page(keys: list[StoredKey], limit: int) -> Page[StoredKey]:
    """Cut a `limit + 1` fetch into a page; the extra row only proves there is a next page."""
    if len(keys) <= limit:
        return Page[StoredKey](data=keys, next_cursor=None)
    last = keys[limit - 1]
    return Page[StoredKey](
        data=keys[:limit], next_cursor=KeyCursor(last.created_at, last.key_id).encode()
    )
