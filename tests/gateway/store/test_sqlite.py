"""Specification of the SQLite store's files (`gateway.store.sqlite`): private to its owner."""

import stat
from datetime import UTC, datetime
from pathlib import Path

from gateway.messages import DeadLetter
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

    async def test_an_existing_database_keeps_its_mode(self, tmp_path: Path) -> None:
        path = tmp_path / "scgw.db"
        path.touch(mode=0o640)
        path.chmod(0o640)
        store = SqliteStore(str(path))
        await store.open()
        await store.close()
        assert mode(path) == 0o640
