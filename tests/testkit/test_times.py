"""`testkit.times`: adapter fixtures re-dated next to the present, every time format moved."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from adapters.base import RawMessage
from adapters.registry import AdapterRegistry
from gateway.config import Settings
from gateway.pipeline import PlausibleTime
from schemas.errors import PayloadError
from schemas.privacy import Pseudonymizer
from testkit.times import fixtures_shift, redate, redate_fixture
from tests.gateway.time_formats import DEVICE, FIXTURES

DIALECT_FOLDERS = (
    "hik_isapi",
    "access_cloud",
    "gat1400",
    "barrier_gate",
    "camera_alarm",
    "visitor_cloud",
    "heartbeat",
)
CLOCK_RESETS = {"barrier_gate/ts_out_of_range", "access_cloud/open_time_in_seconds"}
CLOCK_RESETS |= {"heartbeat/ts_in_seconds"}
"""Fixtures whose time is a clock reset on purpose (1970): re-dated, they still are."""
SHIFT = timedelta(days=400, hours=3, seconds=7)


class TestRedate:
    """Every well-formed time moves by the same amount, in its own format; nothing else does."""

    def test_iso_times_keep_their_offset(self) -> None:
        payload = json.dumps({"dateTime": "2026-11-26T07:58:12+08:00", "x": "keep"}).encode()
        moved = json.loads(redate(payload, SHIFT))
        assert moved == {"dateTime": "2027-12-31T10:58:19+08:00", "x": "keep"}

    def test_utc_designator_is_kept(self) -> None:
        moved = json.loads(redate(b'{"startTime": "2026-11-26T02:00:00Z"}', SHIFT))
        assert moved == {"startTime": "2027-12-31T05:00:07Z"}

    def test_compact_local_times_anywhere_in_the_document(self) -> None:
        payload = b'{"List": {"Objects": [{"PassTime": "20261126081530"}]}}'
        moved = json.loads(redate(payload, SHIFT))
        assert moved == {"List": {"Objects": [{"PassTime": "20271231111537"}]}}

    def test_epoch_milliseconds_as_number_and_as_text(self) -> None:
        moved = json.loads(redate(b'{"ts": 1795652130123, "openTime": "1795651212000"}', SHIFT))
        step = SHIFT // timedelta(milliseconds=1)
        assert moved == {"ts": 1795652130123 + step, "openTime": str(1795651212000 + step)}

    @pytest.mark.parametrize(
        "payload",
        [
            b'{"ts": 1000000}',
            b'{"dateTime": "2026-11-26T08:00:00"}',
            b'{"FaceAppearTime": "20261399000000"}',
            b'{"ts": true}',
            b'{"note": "2026-11-26T08:00:00+08:00"}',
            b"offline",
            b'{"eventType": "AccessControllerEvent", ',
        ],
    )
    def test_what_is_not_a_well_formed_time_stays_as_it_was(self, payload: bytes) -> None:
        assert redate(payload, SHIFT) == payload

    def test_the_shift_moves_the_fixtures_end_to_the_given_moment(self) -> None:
        ending = datetime(2030, 5, 1, 12, 0, 0, 500_000, tzinfo=UTC)
        assert fixtures_shift(ending) % timedelta(seconds=1) == timedelta(0)
        moved = redate_fixture(b'{"dateTime": "2026-11-27T23:59:59+08:00"}', ending)
        assert (
            ending - timedelta(seconds=2)
            < datetime.fromisoformat(json.loads(moved)["dateTime"])
            < ending
        )


class TestRedatedFixtures:
    """Re-dated to end a minute ago, every fixture passes the gateway's window, whatever day."""

    @pytest.mark.parametrize("ending", [datetime(2027, 6, 1, tzinfo=UTC), datetime.now(UTC)])
    def test_only_the_clock_resets_are_implausible(self, ending: datetime) -> None:
        adapters = AdapterRegistry().build(Pseudonymizer("redate-test-key-0123456789abcd"))
        window = PlausibleTime.from_settings(Settings())
        implausible = set()
        for folder in DIALECT_FOLDERS:
            dialect = folder.replace("_", "-")
            for path in sorted((FIXTURES / folder).glob("*.json")):
                payload = redate_fixture(path.read_bytes(), ending - timedelta(minutes=1))
                message = RawMessage(f"yida/{dialect}/{DEVICE}", payload, ending, "yida", DEVICE)
                try:
                    for event in adapters[dialect].parse(message):
                        window(event)
                except PayloadError as error:
                    if error.reason == "implausible_time":
                        implausible.add(f"{folder}/{path.stem}")
        assert implausible == CLOCK_RESETS
