"""Care rules: `care.no_activity`, an elderly person living alone not seen for 48 hours.

A person tagged `elderly_living_alone` with a registered residency current on the watermark's
local day is silent from their last sighting (presence of any of their credentials in its
holder period, or of their ID hash: door openings, face captures, visitor passes) or, when
never seen, from their registration: the later of the residency's `since` (local midnight)
and when the gateway first recorded the person (an import today does not start the clock in
the past). The deadline is that instant + `hours`; the rule fires when the watermark passes
it. The occurrence is the instant the silence began, so one silent spell makes one ticket
however often it is evaluated, and a person seen again and then silent again makes another.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta

from gateway.rules.base import Finding, Rule
from gateway.rules.watermark import shifted
from gateway.store.residentfacts import PersonActivity, ResidentFactStore, day_start
from schemas.times import CHINA_STANDARD_TIME

NO_ACTIVITY = "care.no_activity"
TAG = "elderly_living_alone"


def silent_from(person: PersonActivity) -> datetime:
    """When the person's silence began: their last sighting, else their registration."""
    if person.last_seen is not None:
        return person.last_seen
    if person.since is None:
        return person.created_at
    return max(person.created_at, day_start(person.since))


_SEEN = {True: "最后一次出入", False: "登记入住后无出入记录，登记"}
_SEEN_EN = {True: "last seen", False: "never seen; registered"}


def _local_text(at: datetime) -> str:
    return at.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%d %H:%M")


async def no_activity(
    store: ResidentFactStore, community: str, watermark: datetime, thresholds: Mapping[str, float]
) -> list[Finding]:
    """Tagged persons whose silence has lasted `hours` by the watermark."""
    quiet = timedelta(hours=thresholds["hours"])
    findings: dict[str, Finding] = {}
    for person in await store.tagged_activity(community, TAG, watermark):
        if person.person_id in findings:
            continue  # a second current residency: the first (by house code) places them
        start = silent_from(person)
        deadline = shifted(start, quiet)
        if deadline > watermark:
            continue
        findings[person.person_id] = Finding(
            rule=NO_ACTIVITY,
            community=community,
            subject=person.person_id,
            occurrence=start.isoformat(),
            detected_at=deadline,
            first_at=start,
            last_at=deadline,
            building=person.building,
            unit=person.unit,
            house_code=person.house_code,
            facts={
                "hours": round(quiet.total_seconds() / 3600),
                "since": _local_text(start),
                "seen": _SEEN[person.last_seen is not None],
                "seen_en": _SEEN_EN[person.last_seen is not None],
            },
        )
    return list(findings.values())


RULES: tuple[Rule, ...] = (
    Rule(
        code=NO_ACTIVITY,
        category="social_care",
        timing="watermark",
        thresholds={"hours": 48.0},
        evaluate=no_activity,
        title="独居老人{hours}小时无出入记录",
        description=(
            "{address}：登记居住的独居老人已连续{hours}小时无门禁或人脸通行记录"
            "（{seen}时间：{since}），请社区工作人员尽快上门探视。"
        ),
        summary_en=(
            "An elderly resident living alone at {address} has not been seen at any door or "
            "camera for {hours} hours ({seen_en} {since} local time)."
        ),
    ),
)
