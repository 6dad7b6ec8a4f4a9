"""Public order from the cameras' behaviour analysis: an object thrown from a height.

It fires on every such alarm, whatever its confidence: the issue sets no threshold (a throw
endangers people below; the police station judges the footage).
"""

from collections.abc import Mapping
from typing import Final

from gateway.rules.base import Finding, InstantContext, Rule
from gateway.rules.evidence import alarm_finding
from gateway.rules.fire import sure_alarm
from schemas.events import DeviceEvent

HIGH_ALTITUDE_THROW: Final = "order.high_altitude_throw"


def high_altitude_throw(
    event: DeviceEvent, thresholds: Mapping[str, float], context: InstantContext
) -> Finding | None:
    """An object thrown or falling from a building, per camera zone."""
    alarm = sure_alarm(event, "high_altitude_throw", thresholds)
    return None if alarm is None else alarm_finding(HIGH_ALTITUDE_THROW, alarm)


RULES: Final = (
    Rule(
        code=HIGH_ALTITUDE_THROW,
        category="public_order",
        timing="instant",
        thresholds={},
        evaluate=high_altitude_throw,
        title="高空抛物：{address}",
        description=(
            "{at}，{address}的监控（区域：{zone}）识别到高空抛物，置信度{confidence}。"
            "请派出所与网格员调取录像核查抛物楼层，消除隐患。"
        ),
        summary_en="Object thrown from height at {address} ({zone}) at {at},"
        " confidence {confidence}.",
        kinds=frozenset({"behaviour_alarm"}),
    ),
)
