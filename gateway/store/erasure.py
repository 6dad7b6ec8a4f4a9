"""What an erasure removes, decided once for every backend.

A card passes from person to person (holder history, one credential row per holder period),
so the events and presence keyed on it belong to whoever held it on their day. Erasing a
person strips only what falls inside their own holder periods; their ID-number hash is theirs
alone and is stripped whatever the day.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from schemas.privacy import subject_key
from schemas.times import CHINA_STANDARD_TIME

_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ErasureScope:
    """One ref of the erased person and the span it was theirs: local days `first_day` ..
    `last_day` inclusive, the same span as instants `start` <= t < `end`."""

    ref: str
    subject_key: str
    first_day: date
    last_day: date
    start: datetime
    end: datetime


def erasure_scopes(
    community: str, id_hash: str, held: Iterable[tuple[str, date | None, date | None]]
) -> list[ErasureScope]:
    """The scopes of a person: their ID hash (always) and each credential row `held`
    (ref, since, until) of theirs, over its validity."""
    return [_scope(community, id_hash, None, None)] + [
        _scope(community, ref, since, until) for ref, since, until in held
    ]


def _scope(community: str, ref: str, since: date | None, until: date | None) -> ErasureScope:
    start = _EARLIEST if since is None else _local_midnight(since)
    end = _LATEST if until is None else _local_midnight(until + timedelta(days=1))
    return ErasureScope(
        ref,
        subject_key(community, ref),
        since or date.min,
        until or date.max,
        start,
        end,
    )


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), CHINA_STANDARD_TIME).astimezone(UTC)
