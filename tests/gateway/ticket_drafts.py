"""Ticket drafts built by hand, as `gateway.tickets.TicketDrafter` would make them, for tests
of what follows a ticket (the outbox, the forwarder, the outbox API)."""

from datetime import UTC, datetime, timedelta

from gateway.store.tickets import TicketDraft
from schemas.tickets import Category, ResponsibleUnit, TicketLocation


def door_forced(door: int, occurrence: int = 1, *, forward: bool = True) -> TicketDraft:
    """A forced door `door` (one ticket per door), its `occurrence`-th time, minutes ago."""
    at = datetime.now(UTC) - timedelta(minutes=30 - occurrence)
    return TicketDraft(
        dedup_key=f"safety.door_forced:yida:door-{door}",
        occurrence_key=f"evt-{door}-{occurrence}",
        rule="safety.door_forced",
        category=Category(code="safety", name="安全隐患"),
        severity="major",
        community="yida",
        grid_code="430112003001001",
        location=TicketLocation(address=f"亿达小镇{door}栋1单元", device_id=f"door-{door}"),
        responsible_units=(ResponsibleUnit(type="property", name="亿达物业"),),
        title="单元门被强行打开",
        description=f"亿达小镇{door}栋1单元门禁报告门被强行打开。",
        summary_en=f"Door of building {door} unit 1 forced open.",
        event_ids=(f"evt-{door}-{occurrence}",),
        image_urls=(),
        first_at=at,
        last_at=at,
        detected_at=at,
        sla_hours=24,
        forward=forward,
    )
