"""The `EvidenceStore` protocol: a ticket's evidence events, read back by id.

A ticket holds its evidence by reference (at most `schemas.tickets.MAX_EVIDENCE_IDS` event
ids); `GET /v1/tickets/{ticket_id}` shows the events themselves.
"""

from collections.abc import Sequence
from typing import Protocol

from schemas.events import DeviceEvent


class EvidenceStore(Protocol):
    async def events_by_id(self, event_ids: Sequence[str]) -> list[DeviceEvent]:
        """The stored events of these ids, oldest first; ids not stored (retention removed
        them, or an erasure) are left out, as is a row today's models refuse."""
