"""Specification of the SQLite store's files (`gateway.store.sqlite`): private to its owner."""

import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

from gateway.messages import DeadLetter
from gateway.store.base import EventQuery
from gateway.store.sqlite import SqliteStore


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def letter() -> DeadLetter:
    return DeadLetter(datetime.now(UTC), "stray", "unknown_topic", "no route", "{}", 2)


class TestFileMode:
    """The database and its -wal and -shm files are created 0600, like `secrets.json`."""

    async def test_new_database_and_its_wal_files_are_private(self, tmp_path: Path) -> None:
        path = tmp_path / "data" / "scgw.db"
        store = SqliteStore(str(path))
        await store.open()
        try:
            await store.migrate()
            await store.write_batch([], [letter()])
            files = [path, path.with_name("scgw.db-wal"), path.with_name("scgw.db-shm")]
            assert {file.name: mode(file) for file in files} == {file.name: 0o600 for file in files}
        finally:
            await store.close()

    async def test_an_existing_database_and_its_wal_files_become_private(
        self, tmp_path: Path
    ) -> None:
        """A database an earlier release left 0644, with its -wal and -shm, is made 0600 at open."""
        path = tmp_path / "scgw.db"
        files = [path, path.with_name("scgw.db-wal"), path.with_name("scgw.db-shm")]
        for file in files:
            file.touch()
            file.chmod(0o644)
        store = SqliteStore(str(path))
        await store.open()
        try:
            await store.migrate()
            await store.write_batch([], [letter()])
            assert {file.name: mode(file) for file in files} == {file.name: 0o600 for file in files}
        finally:
            await store.close()


class TestRowsFailingTodaysRules:
    """A stored row that fails the current models is skipped on read, not a failed page."""

    async def test_an_invalid_event_row_is_skipped(self, tmp_path: Path) -> None:
        path = tmp_path / "scgw.db"
        store = SqliteStore(str(path))
        await store.open()
        try:
            await store.migrate()
            direct = sqlite3.connect(path)
            direct.execute(
                "INSERT INTO events VALUES (1, 'ffffffffffff', 'access', 'yida', 'x', 1, '{}')"
            )
            direct.commit()
            direct.close()
            page = await store.list_events(EventQuery(limit=10))
            assert (page.data, page.next_cursor) == ([], None)
        finally:
            await store.close()
