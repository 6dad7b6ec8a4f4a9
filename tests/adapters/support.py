"""Scaffolding the adapter specifications share: fixtures, messages, strategies, leak checks."""

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import Adapter, RawMessage
from gateway.errors import PayloadError
from schemas.events import DeviceEvent, device_event_adapter
from schemas.privacy import Pseudonymizer

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN_EPOCH_MS = -62_135_596_800_000
"""Epoch milliseconds of 0001-01-01T00:00:00Z, the calendar's first instant."""
MAX_EPOCH_MS = 253_402_300_799_999
"""Epoch milliseconds of 9999-12-31T23:59:59.999Z, the calendar's last millisecond."""

PSEUDONYMIZER = Pseudonymizer("test-key-0123456789abcdef")
"""The one keyed hasher every adapter specification uses (it holds no state)."""


def encode(document: Any) -> bytes:
    """UTF-8 JSON as devices send it; lone surrogates can only travel as `\\ud800` escapes."""
    try:
        return json.dumps(document, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(document).encode()


@dataclass(frozen=True)
class Fixtures:
    """The payload fixtures of one adapter, in `fixtures/<dialect folder>/` beside this file."""

    folder: Path

    @classmethod
    def of(cls, name: str) -> "Fixtures":
        """The fixtures in `fixtures/<name>/`."""
        return cls(Path(__file__).parent / "fixtures" / name)

    def payload(self, name: str, suffix: str = ".json") -> bytes:
        """The bytes of fixture `name`, as a device sends them."""
        return (self.folder / f"{name}{suffix}").read_bytes()

    def document(self, name: str) -> dict[str, Any]:
        """The JSON object of fixture `name`, decoded afresh on every call."""
        document: dict[str, Any] = json.loads(self.payload(name))
        return document

    def with_fields(self, name: str, /, **fields: Any) -> bytes:
        """Fixture `name` with `fields` set (added or replaced), encoded again."""
        document = self.document(name)
        document.update(fields)
        return encode(document)

    def without_fields(self, name: str, /, *fields: str) -> bytes:
        """Fixture `name` with `fields` removed, encoded again."""
        document = self.document(name)
        for field in fields:
            del document[field]
        return encode(document)


class MessageFactory(Protocol):
    """Builds a RawMessage from a payload, with one adapter's topic, device and arrival time."""

    def __call__(
        self,
        payload: bytes,
        *,
        device_id: str | None = ...,
        received_at: datetime = ...,
        topic: str = ...,
    ) -> RawMessage: ...


def message_factory(
    *, community: str, topic: str, device_id: str | None, received_at: datetime
) -> MessageFactory:
    """A `message(payload, ...)` whose keywords default to the given topic, device and time."""
    default_topic, default_device_id, default_received_at = topic, device_id, received_at

    def message(
        payload: bytes,
        *,
        device_id: str | None = default_device_id,
        received_at: datetime = default_received_at,
        topic: str = default_topic,
    ) -> RawMessage:
        return RawMessage(
            topic=topic,
            payload=payload,
            received_at=received_at,
            community=community,
            device_id=device_id,
        )

    return message


# Personal numbers planted in identifiers and names, in the shapes vendors write them; each
# holds a valid GB 11643 number or a mainland mobile number (see `schemas.identifiers`).
PLANTED_ID_NUMBER = "430112199001011230"
PLANTED_ID_NUMBER_X = "11010519491231002X"
PLANTED_MOBILE = "13812345678"
PII_DEVICE_IDS = (
    PLANTED_MOBILE,
    "cam-13987654321",
    "86-138-1234-5678",
    f"id.{PLANTED_ID_NUMBER_X}",
    "0086.139.8765.4321",
)
"""Device ids that fit the device-id alphabet but hold a personal number: `pii_in_identifier`."""
PII_NAMES = (
    "3栋 138 1234 5678",
    f"门{PLANTED_ID_NUMBER}",
    "lane +86 (139) 8765-4321",
    "１３８１２３４５６７８号",
    f"{PLANTED_ID_NUMBER_X.lower()} door",
)
"""Names holding a personal number: dropped as `pii_in_identifier`."""
MARKUP_NAMES = ("<b>3栋</b>", "B03 &lt;door&gt;", "javascript:alert(1)", "＜script＞")
"""Names holding markup: dropped as `markup`."""
PLANTED = (PLANTED_ID_NUMBER, PLANTED_ID_NUMBER_X, PLANTED_MOBILE, "13987654321")
"""The digits of every planted number: none may be found in an event, an error or a store."""


def drops(event: DeviceEvent) -> dict[str, str]:
    """The event's dropped fields, by name, with their reasons."""
    return {dropped.field: dropped.reason for dropped in event.dropped_fields}


def rejected(adapter: Adapter, raw: RawMessage) -> PayloadError:
    """The PayloadError `adapter` raises for `raw`; fails the test if it raises none."""
    with pytest.raises(PayloadError) as info:
        adapter.parse(raw)
    return info.value


def error_texts(error: PayloadError) -> tuple[str, str, str]:
    """Every text of an error that may reach a log or a dead letter."""
    return (str(error), error.detail, repr(error.args))


def assert_absent(values: Iterable[str], *texts: str) -> None:
    """No value occurs in any of the texts."""
    values = list(values)
    for text in texts:
        for value in values:
            assert value not in text, f"{value!r} leaked"


def parse_checked(
    adapter: Adapter,
    raw: RawMessage,
    reasons: Iterable[str],
    *,
    secrets: Sequence[str] = (),
    count: int | None = None,
) -> list[DeviceEvent]:
    """Parse `raw`: a PayloadError must have a known reason, events must survive a JSON round
    trip, and no secret may be in either; a rejection gives no events. `count`, when given, is
    how many events a successful parse must give."""
    try:
        events = adapter.parse(raw)
    except PayloadError as error:
        assert error.reason in reasons
        assert_absent(secrets, *error_texts(error))
        return []
    if count is not None:
        assert len(events) == count
    for event in events:
        dumped = event.model_dump_json()
        assert device_event_adapter.validate_json(dumped) == event
        assert_absent(secrets, dumped)
    return events


# Hypothesis strategies.

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
"""Arbitrary JSON values, small and nested."""
ARBITRARY_BYTES = st.binary(max_size=512)
OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
TIMES = st.one_of(
    st.datetimes(timezones=st.none() | OFFSETS),
    st.datetimes(max_value=datetime(1, 1, 2), timezones=OFFSETS),
    st.datetimes(min_value=datetime(9999, 12, 31), timezones=OFFSETS),
).map(datetime.isoformat)
"""ISO times anywhere, and on the first and last day Python can hold, where offsets overflow."""
EPOCH_MILLISECONDS = st.integers(946_684_800_000 - 10, 4_102_444_800_000 + 10) | st.integers()
"""Millisecond timestamps around the accepted years 2000 to 2100, and any integer."""


def device_ids(device_id: str) -> st.SearchStrategy[str | None]:
    """No device in the topic, or `device_id`."""
    return st.none() | st.just(device_id)


def field_values(
    plausible: Mapping[str, st.SearchStrategy[Any]], key: str
) -> st.SearchStrategy[Any]:
    """Values for field `key`: nearly right two to one when `plausible` knows it, else any JSON."""
    values = plausible.get(key)
    if values is None:
        return JSON_VALUES
    return st.one_of(values, values, JSON_VALUES)


def mutate_fields(
    draw: st.DrawFn,
    document: dict[str, Any],
    keys: Sequence[str],
    plausible: Mapping[str, st.SearchStrategy[Any]],
    *,
    replaced: int,
    removed: int,
) -> None:
    """Replace up to `replaced` of `keys` in `document` and then remove up to `removed`."""
    for key in draw(st.lists(st.sampled_from(keys), max_size=replaced, unique=True)):
        document[key] = draw(field_values(plausible, key))
    for key in draw(st.lists(st.sampled_from(keys), max_size=removed)):
        document.pop(key, None)


# The property tests every adapter passes, built for one module's adapter and messages.

CheckedParse = Callable[[RawMessage], object]
PropertyTest = Callable[..., None]


def never_crash_tests(
    check: CheckedParse,
    message: MessageFactory,
    devices: st.SearchStrategy[str | None],
    *,
    max_examples: int,
) -> tuple[PropertyTest, PropertyTest]:
    """Two test methods: any bytes, and any JSON value, with or without a topic device, pass
    `check`; assign them to `test_arbitrary_bytes, test_arbitrary_json` in a test class."""

    @settings(max_examples=max_examples, deadline=None)
    @given(payload=ARBITRARY_BYTES, device_id=devices)
    def test_arbitrary_bytes(self: object, payload: bytes, device_id: str | None) -> None:
        check(message(payload, device_id=device_id))

    @settings(max_examples=max_examples, deadline=None)
    @given(document=JSON_VALUES, device_id=devices)
    def test_arbitrary_json(self: object, document: Any, device_id: str | None) -> None:
        check(message(json.dumps(document).encode(), device_id=device_id))

    return test_arbitrary_bytes, test_arbitrary_json
