"""Specification of raw dead-letter payloads (`gateway.raw_payloads`): sealed, and erased."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from gateway.errors import StoreError
from gateway.raw_payloads import RawPayloadPurge, RawPayloadVault, UnreadableRawPayloadError

KEY = "Zq3vN8xW1rT6yL0pK4mB7cJ2hG5dF9sA"
OTHER_KEY = "Hc5rW2nQ8vX1zK7mT4bJ0gY6pL3dS9fE"
PAYLOAD = '{"name": "张三", "phone": "13812345678"}'.encode()
WEEK = timedelta(days=7)


class TestRawPayloadVault:
    """A sealed payload opens with its key only, and reveals nothing of the payload."""

    def test_a_sealed_payload_opens_to_the_original_bytes(self) -> None:
        vault = RawPayloadVault(KEY, WEEK)
        assert vault.open(vault.seal(PAYLOAD)) == PAYLOAD
        assert vault.open(vault.seal(b"")) == b""

    def test_the_sealed_bytes_hold_no_part_of_the_payload(self) -> None:
        sealed = RawPayloadVault(KEY, WEEK).seal(PAYLOAD)
        assert b"13812345678" not in sealed
        assert "张三".encode() not in sealed
        assert len(sealed) == 1 + 12 + len(PAYLOAD) + 16

    def test_sealing_twice_gives_different_bytes(self) -> None:
        vault = RawPayloadVault(KEY, WEEK)
        assert vault.seal(PAYLOAD) != vault.seal(PAYLOAD)

    def test_another_key_cannot_open_it(self) -> None:
        sealed = RawPayloadVault(KEY, WEEK).seal(PAYLOAD)
        with pytest.raises(UnreadableRawPayloadError):
            RawPayloadVault(OTHER_KEY, WEEK).open(sealed)

    @pytest.mark.parametrize(
        "damage",
        [
            lambda sealed: sealed[:-1] + bytes([sealed[-1] ^ 1]),
            lambda sealed: b"\x02" + sealed[1:],
            lambda sealed: sealed[:5],
        ],
        ids=["altered", "unknown version", "cut short"],
    )
    def test_damaged_bytes_are_refused(self, damage: object) -> None:
        vault = RawPayloadVault(KEY, WEEK)
        assert callable(damage)
        with pytest.raises(UnreadableRawPayloadError):
            vault.open(damage(vault.seal(PAYLOAD)))


class FakeRawStore:
    """Records purge calls; can fail, or stop the purge loop after a number of calls."""

    def __init__(self, results: list[int | StoreError], stop_after: int) -> None:
        self.results = results
        self.calls: list[datetime] = []
        self.stop_after = stop_after
        self.done = asyncio.Event()

    async def purge_expired_raw_payloads(self, now: datetime) -> int:
        self.calls.append(now)
        if len(self.calls) >= self.stop_after:
            self.done.set()
        result = self.results[min(len(self.calls), len(self.results)) - 1]
        if isinstance(result, StoreError):
            raise result
        return result


class TestRawPayloadPurge:
    """Expired raw payloads are erased at start and periodically; an outage is waited out."""

    async def test_one_purge_passes_the_clocks_time_and_counts(self) -> None:
        now = datetime.now(UTC)
        store = FakeRawStore([3], stop_after=1)
        assert await RawPayloadPurge(store, clock=lambda: now).purge_once() == 3
        assert store.calls == [now]

    async def test_the_loop_survives_an_unavailable_store(self) -> None:
        store = FakeRawStore([StoreError("down", transient=True), 1, 0], stop_after=3)
        task = asyncio.create_task(RawPayloadPurge(store, interval_s=0).run())
        await asyncio.wait_for(store.done.wait(), timeout=10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(store.calls) >= 3
