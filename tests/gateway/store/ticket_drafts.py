"""Ticket drafts for the store and commit tests: one rule's draft with chosen key, occurrence,
evidence, routing and SLA."""

from collections.abc import Sequence
from datetime import datetime

from gateway.store.tickets import TicketDraft
from schemas.tickets import Category, ResponsibleUnit, TicketLocation, UnitType
from tests.gateway.observed_events import YIDA

GRID = "430112001001001"
OTHER_GRID = "430112001001002"
JIAXIN = "jiaxin"


def draft(
    key: str = "safety.door_forced:yida:B01-U1",
    occurrence: str = "o1",
    *,
    at: datetime,
    event_ids: Sequence[str] = ("e1",),
    images: Sequence[str] = (),
    forward: bool = True,
    rule: str = "safety.door_forced",
    category: str = "safety",
    community: str = YIDA,
    grid: str | None = GRID,
    units: Sequence[UnitType] = ("property",),
    sla_hours: float = 24,
) -> TicketDraft:
    """A draft of `rule` for dedup key `key`, its evidence at `at`."""
    return TicketDraft(
        dedup_key=key,
        occurrence_key=occurrence,
        rule=rule,
        category=Category(code=category, name="安全隐患"),
        severity="major",
        community=community,
        grid_code=grid,
        location=TicketLocation(address="亿达小镇1栋1单元", building="B01", unit="U1"),
        responsible_units=tuple(ResponsibleUnit(type=unit, name="单位") for unit in units),
        title="单元门被强行打开",
        description="1栋1单元门被强行打开。",
        summary_en="Door forced open at B01-U1.",
        event_ids=tuple(event_ids),
        image_urls=tuple(images),
        first_at=at,
        last_at=at,
        detected_at=at,
        sla_hours=sla_hours,
        forward=forward,
    )
