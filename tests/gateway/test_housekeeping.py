"""Housekeeping infers residencies and enforces retention on a real store, at the injected
clock's time, and waits out an unavailable store."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.housekeeping import Housekeeping
from gateway.store import Store, open_store
from testkit.clocks import Clock
from testkit.harness import wait_until
from tests.gateway.observed_events import access, local
from tests.gateway.store.master_rows import MasterRows


def residencies(rows: MasterRows) -> list[tuple[object, ...]]:
    return rows.sql("SELECT subject_key, until FROM inferred_residencies")


class TestHousekeeping:
    """One pass infers then retains, at the clock's now."""

    async def test_a_pass_infers_and_a_later_pass_lapses_then_removes(
        self, store: Store, database: str
    ) -> None:
        """Inferred today; lapsed when the evidence ages out of the window; the lapsed row and
        the old events gone once the retention period has passed too."""
        now = datetime.now(UTC)
        events = [access(n, local(now, n + 1, 21 if n < 2 else 12)) for n in range(5)]
        await store.write_batch(events, [])
        clock = Clock(now)
        housekeeping = Housekeeping(
            store, interval_s=600, event_retention_days=30, audit_retention_days=180, clock=clock
        )
        rows = MasterRows(database)

        first = await housekeeping.run_once()
        assert (first.inference.inferred, first.retention.total) == (1, 0)
        assert [until for _, until in residencies(rows)] == [None]

        clock.now = now + timedelta(days=15)
        second = await housekeeping.run_once()
        assert second.inference.lapsed == 1
        assert residencies(rows)[0][1] is not None
        assert len(rows.sql("SELECT 1 FROM events")) == 5

        clock.now = now + timedelta(days=40)
        third = await housekeeping.run_once()
        assert third.retention.inferred_residencies == 1
        assert residencies(rows) == []
        assert rows.sql("SELECT 1 FROM events") == []
        assert rows.sql("SELECT 1 FROM presence") == []

    async def test_an_unavailable_store_is_waited_out(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The loop logs and retries while the store is not open, and works once it is."""
        url = f"sqlite:///{tmp_path / 'scgw.db'}"
        store = open_store(url)
        now = datetime.now(UTC)
        housekeeping = Housekeeping(
            store,
            interval_s=0.01,
            event_retention_days=30,
            audit_retention_days=180,
            clock=lambda: now,
        )
        with caplog.at_level(logging.WARNING, logger="gateway.housekeeping"):
            task = asyncio.create_task(housekeeping.run())
            try:
                await wait_until(
                    lambda: "store is unavailable" in caplog.text, what="the outage logged"
                )
                await store.open()
                await store.migrate()
                await store.write_batch(
                    [access(n, local(now, n + 1, 21 if n < 2 else 12)) for n in range(5)], []
                )
                rows = MasterRows(url)
                await wait_until(lambda: bool(residencies(rows)), what="a residency inferred")
            finally:
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                await store.close()
