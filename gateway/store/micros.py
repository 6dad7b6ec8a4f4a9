"""SQLite's time representation: integer microseconds since the epoch (UTC), exact."""

from datetime import UTC, datetime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(value: datetime) -> int:
    """Exact integer microseconds since the epoch (float timestamps lose microseconds)."""
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)


def maybe_time(value: int | None) -> datetime | None:
    return None if value is None else from_micros(value)
