"""Fire safety from the cameras' behaviour analysis: a blocked fire lane, an e-bike in a lift.

Both fire on the alarm itself, when the camera is sure enough (`min_confidence`). An alarm
without a confidence counts as sure: many cameras send none, and a rule that ignored them
would never fire for those cameras, while a false alarm costs one `false_alarm` transition.
"""

from collections.abc import Mapping
from typing import Final

from gateway.rules.base import Finding, InstantContext, Rule
from gateway.rules.evidence import alarm_finding
from schemas.codes import BehaviourAlarmType
from schemas.events import BehaviourAlarm, DeviceEvent, EventKind

LANE_OCCUPIED: Final = "fire.lane_occupied"
EBIKE_IN_ELEVATOR: Final = "fire.ebike_in_elevator"


def sure_alarm(
    event: DeviceEvent, alarm_type: BehaviourAlarmType, thresholds: Mapping[str, float]
) -> BehaviourAlarm | None:
    """The event if it is an alarm of `alarm_type` at or above `min_confidence` (an alarm
    without a confidence counts as sure; a rule without the threshold takes every alarm)."""
    if not isinstance(event, BehaviourAlarm) or event.alarm_type != alarm_type:
        return None
    floor = thresholds.get("min_confidence", 0.0)
    if event.confidence is not None and event.confidence < floor:
        return None
    return event


def lane_occupied(
    event: DeviceEvent, thresholds: Mapping[str, float], context: InstantContext
) -> Finding | None:
    """A fire lane blocked (parked cars, stacked goods), per camera zone."""
    alarm = sure_alarm(event, "fire_lane_occupied", thresholds)
    return None if alarm is None else alarm_finding(LANE_OCCUPIED, alarm)


def ebike_in_elevator(
    event: DeviceEvent, thresholds: Mapping[str, float], context: InstantContext
) -> Finding | None:
    """An electric bike taken into a lift (batteries charged indoors start fires)."""
    alarm = sure_alarm(event, "ebike_in_elevator", thresholds)
    return None if alarm is None else alarm_finding(EBIKE_IN_ELEVATOR, alarm)


_ALARMS: Final[frozenset[EventKind]] = frozenset({"behaviour_alarm"})

RULES: Final = (
    Rule(
        code=LANE_OCCUPIED,
        category="fire_safety",
        timing="instant",
        thresholds={"min_confidence": 0.8},
        evaluate=lane_occupied,
        title="消防通道被占用：{address}",
        description=(
            "{at}，{address}的监控（区域：{zone}）识别到消防通道被占用，置信度{confidence}。"
            "请物业立即清理通道，网格员跟进核查，必要时通知消防部门。"
        ),
        summary_en="Fire lane blocked at {address} ({zone}) at {at}, confidence {confidence}.",
        kinds=_ALARMS,
    ),
    Rule(
        code=EBIKE_IN_ELEVATOR,
        category="fire_safety",
        timing="instant",
        thresholds={"min_confidence": 0.8},
        evaluate=ebike_in_elevator,
        title="电动自行车进入电梯：{address}",
        description=(
            "{at}，{address}的电梯监控（区域：{zone}）识别到电动自行车进入电梯，置信度"
            "{confidence}。电动自行车入户充电易引发火灾，请物业劝阻并由网格员开展宣传。"
        ),
        summary_en="E-bike taken into the lift at {address} ({zone}) at {at},"
        " confidence {confidence}.",
        kinds=_ALARMS,
    ),
)
