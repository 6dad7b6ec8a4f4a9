"""Rules and findings for the ticket tests, declared as the rule catalogue declares them (the
drafter and the API need a rule's category and templates, never its evaluation)."""

from collections.abc import Mapping
from datetime import UTC, datetime

from gateway.rules.base import Finding, InstantContext, Rule
from schemas.events import DeviceEvent


def never(event: DeviceEvent, thresholds: Mapping[str, float], context: InstantContext) -> None:
    """An evaluate function nothing here calls."""


def rule(code: str, category: str, **texts: str) -> Rule:
    """A rule of `category`; its texts default to templates over `address`."""
    return Rule(
        code=code,
        category=category,
        timing="instant",
        thresholds={},
        evaluate=never,
        title=texts.get("title", "{address}发生告警"),
        description=texts.get("description", "位置：{address}。"),
        summary_en=texts.get("summary_en", "Alarm at {address}."),
    )


RULE_LIST = (
    rule("safety.door_forced", "safety"),
    rule("fire.lane_occupied", "fire_safety"),
    rule("care.no_activity", "social_care"),
    rule("housing.suspected_group_rental", "housing"),
    rule("population.unregistered_frequent", "population"),
    rule("device.offline", "device_operations"),
    rule(
        "visitor.overstay",
        "visitor_management",
        title="访客逾期未离开（{hours}小时）",
        description="{address}登记的访客已超过有效期{hours}小时仍未离开，访客：{visitor}。",
        summary_en="A visitor stayed {hours} h past check-out at {address}.",
    ),
)
RULES = {r.code: r for r in RULE_LIST}
"""The catalogue of these rules, code → rule, as `gateway.rules.catalog.Catalog` maps them."""


def finding(
    rule_code: str = "safety.door_forced", *, detected_at: datetime | None = None, **fields: object
) -> Finding:
    """A finding in yida (subject `door:x`, occurrence `ev-1` unless given)."""
    values: dict[str, object] = {
        "rule": rule_code,
        "community": "yida",
        "subject": "door:x",
        "occurrence": "ev-1",
        "detected_at": detected_at or datetime.now(UTC).replace(microsecond=0),
        **fields,
    }
    return Finding(**values)  # type: ignore[arg-type]
