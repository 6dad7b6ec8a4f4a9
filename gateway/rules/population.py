"""Population rules: `population.unregistered_frequent`, someone nobody registered who keeps
using the community's doors.

An unresolved subject is a credential or ID hash seen at a unit door or gate that resolves to
no person on the day it was seen (`ResidentFactStore.unresolved_presence`); a camera's
stranger track is not one (its id names a camera session, not a person). The rule counts the
distinct local days such a subject was seen in the `window_days` days ending on each closed
day; an episode begins on the day the count first reaches `min_days` (the day before it did
not), and is reported once, under that day, when the watermark passes its end
(`gateway.rules.windows`): a stranger using the doors every day for a month makes one ticket.
A subject that resolves to a registered resident (or to a visitor record) never counts.
"""

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta

from gateway.rules.base import Finding, Rule
from gateway.rules.windows import DAY, frequent_starts, judged_days
from gateway.store.residentfacts import ResidentFactStore, SubjectDay, day_end
from schemas.tickets import MAX_EVIDENCE_IDS

UNREGISTERED_FREQUENT = "population.unregistered_frequent"


async def unregistered_frequent(
    store: ResidentFactStore, community: str, watermark: datetime, thresholds: Mapping[str, float]
) -> list[Finding]:
    """Episodes of unresolved subjects seen on `min_days` of `window_days` days."""
    window, need = int(thresholds["window_days"]), int(thresholds["min_days"])
    judged = judged_days(watermark)
    first = judged[0] - DAY - timedelta(days=window - 1)
    seen: dict[str, list[SubjectDay]] = defaultdict(list)
    for row in await store.unresolved_presence(community, first, judged[-1]):
        seen[row.subject_key].append(row)
    findings = []
    for subject, rows in sorted(seen.items()):
        for start in frequent_starts({row.day for row in rows}, judged, window, need):
            findings.append(_finding(community, subject, rows, start, window))
    return await _with_evidence(store, community, findings)


async def _with_evidence(
    store: ResidentFactStore, community: str, findings: list[Finding]
) -> list[Finding]:
    """The findings with the subject's events in their windows (the newest
    `MAX_EVIDENCE_IDS`), read in one query for all of them."""
    if not findings:
        return findings
    since = min(f.first_at or f.detected_at for f in findings)
    until = max(f.detected_at for f in findings)
    subjects = sorted({f.subject for f in findings})
    events = await store.subject_events(community, subjects, since, until)

    def evidence(finding: Finding) -> tuple[str, ...]:
        start = finding.first_at or finding.detected_at
        return tuple(
            e.event_id
            for e in events
            if e.subject_key == finding.subject and start <= e.occurred_at < finding.detected_at
        )[-MAX_EVIDENCE_IDS:]

    return [replace(finding, event_ids=evidence(finding)) for finding in findings]


def _finding(
    community: str, subject: str, rows: list[SubjectDay], day: date, window: int
) -> Finding:
    """The episode that began on `day`: its window's sightings, placed at the unit door the
    subject used on most days (a gate-only subject is placed in the community)."""
    since = day - timedelta(days=window - 1)
    inside = [row for row in rows if since <= row.day <= day]
    doors = Counter((row.building, row.unit) for row in inside if row.unit)
    building, unit = min(doors, key=lambda door: (-doors[door], door)) if doors else ("", "")
    return Finding(
        rule=UNREGISTERED_FREQUENT,
        community=community,
        subject=subject,
        occurrence=day.isoformat(),
        detected_at=day_end(day),
        first_at=min(row.first_at for row in inside),
        last_at=max(row.first_at for row in inside),
        building=building or None,
        unit=unit or None,
        facts={"days": len({row.day for row in inside}), "window_days": window},
    )


RULES: tuple[Rule, ...] = (
    Rule(
        code=UNREGISTERED_FREQUENT,
        category="population",
        timing="watermark",
        thresholds={"min_days": 3.0, "window_days": 7.0},
        evaluate=unregistered_frequent,
        title="未登记人员频繁出入",
        description=(
            "{address}：有未登记的门禁卡或证件在{window_days}天内有{days}天出入小区，"
            "请网格员核实其身份并办理实有人口登记。"
        ),
        summary_en=(
            "A credential that belongs to no registered person was used at {address} on "
            "{days} days within {window_days} days."
        ),
    ),
)
