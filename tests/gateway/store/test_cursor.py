"""Specification of page cursors (`gateway.store.base`): opaque tokens that decode exactly or
are refused as `bad_cursor`."""

from base64 import urlsafe_b64encode
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.errors import PayloadError
from gateway.store.base import EventCursor, decode_id_cursor, encode_id_cursor

CST = timezone(timedelta(hours=8))
WHEN = datetime(2026, 11, 26, 7, 58, 12, 123_456, tzinfo=UTC)


def token(raw: bytes) -> str:
    return urlsafe_b64encode(raw).decode().rstrip("=")


def refused(decode: object, value: str) -> PayloadError:
    assert callable(decode)
    with pytest.raises(PayloadError) as info:
        decode(value)
    return info.value


class TestEventCursor:
    """An event cursor round-trips its instant and event id through a URL-safe token."""

    @pytest.mark.parametrize(
        "event_id", ["8b305b3bf2dcf11cd94ba71cf0615d87", "evt|with|bars", "事件-0001"]
    )
    def test_round_trip(self, event_id: str) -> None:
        cursor = EventCursor(WHEN, event_id)
        assert EventCursor.decode(cursor.encode()) == cursor

    def test_token_is_url_safe_without_padding(self) -> None:
        encoded = EventCursor(WHEN, "evt-0001?&=/+").encode()
        assert set(encoded) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )

    def test_instant_is_kept_in_utc_whatever_the_offset(self) -> None:
        decoded = EventCursor.decode(EventCursor(WHEN.astimezone(CST), "evt-0001").encode())
        assert decoded.occurred_at == WHEN
        assert decoded.occurred_at.utcoffset() == timedelta(0)

    def test_microseconds_survive(self) -> None:
        assert (
            EventCursor.decode(EventCursor(WHEN, "e").encode()).occurred_at.microsecond == 123_456
        )

    def test_equal_positions_give_equal_tokens(self) -> None:
        assert EventCursor(WHEN, "a").encode() == EventCursor(WHEN.astimezone(CST), "a").encode()

    @pytest.mark.parametrize(
        "value",
        [
            "",
            "garbage!",
            "%%%%",
            "é",
            token(b"no separator"),
            token(b"not-a-time|evt-0001"),
            token(b"2026-11-26T07:58:12|evt-0001"),  # no offset: the instant is unknown
            token(b"2026-11-26T07:58:12+00:00|"),  # no event id
            token(b"\xff\xfe|evt-0001"),
            token(b"id|42"),  # a dead-letter cursor
        ],
    )
    def test_garbage_is_refused_as_bad_cursor(self, value: str) -> None:
        error = refused(EventCursor.decode, value)
        assert error.reason == "bad_cursor"

    def test_refusal_never_echoes_the_token(self) -> None:
        error = refused(EventCursor.decode, token(b"430112199001011234|x"))
        assert "430112199001011234" not in str(error)


class TestIdCursor:
    """A dead-letter cursor round-trips a row id and refuses anything else."""

    @pytest.mark.parametrize("last_id", [1, 42, 2**63 - 1])
    def test_round_trip(self, last_id: int) -> None:
        assert decode_id_cursor(encode_id_cursor(last_id)) == last_id

    def test_token_is_url_safe_without_padding(self) -> None:
        assert "=" not in encode_id_cursor(1)

    @pytest.mark.parametrize(
        "value",
        [
            "",
            "garbage!",
            "é",
            token(b"42"),
            token(b"xx|42"),
            token(b"id|forty-two"),
            token(b"id|"),
            token(b"\xff|42"),
            EventCursor(WHEN, "evt-0001").encode(),
        ],
    )
    def test_garbage_is_refused_as_bad_cursor(self, value: str) -> None:
        assert refused(decode_id_cursor, value).reason == "bad_cursor"

    @pytest.mark.parametrize("last_id", [2**63, 10**30])
    def test_ids_beyond_64_bits_are_refused_as_bad_cursor(self, last_id: int) -> None:
        # Both id columns are 64-bit; a larger value was never issued and crashes SQLite's
        # parameter binding with OverflowError.
        assert refused(decode_id_cursor, encode_id_cursor(last_id)).reason == "bad_cursor"
