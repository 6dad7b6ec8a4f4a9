"""The importer: rows of a master-data file, validated, applied to the store in chunks, and one
report of what happened to each, in input order.

Every row is applied whole or rejected whole: validation rejects a row before it reaches the
store, and the store rejects what only it can judge (a house or owner that does not exist, a
house code another community holds). Rows are applied in chunks of `chunk_rows`, one store
transaction each, so a file of any size streams through bounded memory.

Snapshot mode (property exports are snapshots) also ends, with today's local date as `until`,
the residencies, vehicles or credentials of the community that the file no longer lists. It
does so only when no row was rejected: a rejected row may be a listed record whose key could
not be read, and ending it would be wrong; the operator fixes the file and sends it again.
Houses are never ended (they have no validity); a houses snapshot is a plain upsert.

A snapshot with no valid row is refused (`EmptySnapshotError`, nothing ended): an empty
export is far likelier a failed export than a community whose residents all left.

One import at a time per community (in this process: an asyncio lock per community and event
loop). Two concurrent snapshots of one community would otherwise each end what the other
marked, and two imports of the same new people would race on their unique keys. Imports of
one community must therefore go through one gateway process (or `scgw import --direct` while
no gateway imports for it); the store has no cross-process import lock yet.

Every run writes one audit entry (`property.import`, records = the dataset, details = the
counts, `snapshot`, `ended`, and `aborted` = 1 when it did not finish: written in a `finally`,
so an import that fails halfway is audited with what it applied); `end_residencies` writes
`property.residencies_end`. A row whose validation raises anything is that row's rejection.
"""

import asyncio
import itertools
import logging
import uuid
import weakref
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final, cast

from gateway.grids import GridMap
from gateway.masterdata.readers import NOT_AN_OBJECT
from gateway.masterdata.rows import Record, RowError, RowValidator
from gateway.pii import ContactVault
from gateway.store.masterdata import (
    AuditEntry,
    Dataset,
    MasterDataStore,
    RowOutcome,
    RowRejected,
)
from schemas.housing import HouseRecord
from schemas.population import CredentialRecord, ResidencyEnd, ResidentRecord
from schemas.privacy import Pseudonymizer
from schemas.times import CHINA_STANDARD_TIME
from schemas.vehicles import VehicleRecord

logger = logging.getLogger(__name__)

NumberedRow = tuple[int, Mapping[str, object]]
"""A row and its line: CSV/Excel line (the header is line 1) or JSON index + 1."""
NumberedRows = Iterable[NumberedRow] | AsyncIterable[NumberedRow]


@dataclass(frozen=True)
class Rejection:
    """A rejected row: its line, the field at fault and why (never the value)."""

    line: int
    field: str
    reason: str


Checked = tuple[int, list[tuple[int, Record]], list[Rejection]]
"""A chunk: rows read, the valid rows' records by line, the rejections of the others."""


@dataclass
class ImportReport:
    """What an import did: rows newly inserted, rows that changed a stored record, rows
    identical to it, and the rejected rows in input order."""

    accepted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    ended: int | None = None
    """Records a snapshot ended (None when the import was not a snapshot)."""

    def as_json(self) -> dict[str, Any]:
        """The API's and the CLI's response body (`ended` for snapshots only)."""
        body: dict[str, Any] = {
            "accepted": self.accepted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [
                {"line": r.line, "field": r.field, "reason": r.reason} for r in self.rejected
            ],
        }
        if self.ended is not None:
            body["ended"] = self.ended
        return body

    @property
    def applied(self) -> int:
        """Rows that reached the store and stand (inserted, changed or identical)."""
        return self.accepted + self.updated + self.unchanged

    def counts(self) -> dict[str, int]:
        return {
            "accepted": self.accepted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": len(self.rejected),
        }

    def count(self, line: int, outcome: RowOutcome) -> None:
        if isinstance(outcome, RowRejected):
            self.rejected.append(Rejection(line, outcome.field, outcome.reason))
        elif outcome == "accepted":
            self.accepted += 1
        elif outcome == "updated":
            self.updated += 1
        else:
            self.unchanged += 1


class EmptySnapshotError(Exception):
    """A snapshot had no valid row: nothing was ended. `report` holds its rejections."""

    def __init__(self, report: "ImportReport") -> None:
        super().__init__("the snapshot has no valid row: nothing was ended")
        self.report = report


ROW_FAILED: Final = "could not be read"
"""The reason of a row whose validation failed in a way no rule foresaw."""

_LOCKS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]]" = (
    weakref.WeakKeyDictionary()
)


def community_lock(community: str) -> asyncio.Lock:
    """The lock serialising one community's imports in this process (per event loop: an
    asyncio lock belongs to one)."""
    locks = _LOCKS.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(community, asyncio.Lock())


def local_today(clock: Callable[[], datetime]) -> date:
    """Today's date in China Standard Time, the calendar of `since` and `until`."""
    return clock().astimezone(CHINA_STANDARD_TIME).date()


def _now() -> datetime:
    return datetime.now(UTC)


class Importer:
    """Imports one dataset of one community from numbered rows."""

    def __init__(
        self,
        store: MasterDataStore,
        grids: GridMap,
        pseudonymizer: Pseudonymizer,
        contacts: ContactVault,
        *,
        clock: Callable[[], datetime] = _now,
        chunk_rows: int = 1000,
    ) -> None:
        self._store = store
        self._grids = grids
        self._pseudonymizer = pseudonymizer
        self._contacts = contacts
        self._clock = clock
        self._chunk_rows = chunk_rows

    async def run(
        self,
        community: str,
        dataset: Dataset,
        rows: NumberedRows,
        *,
        snapshot: bool = False,
        actor: str = "admin",
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Validate and apply every row; end what a snapshot no longer lists; audit it (also
        when it fails halfway). `EmptySnapshotError` for a snapshot without a valid row."""
        async with community_lock(community):
            return await self._run(community, dataset, rows, snapshot, actor, progress)

    async def _run(
        self,
        community: str,
        dataset: Dataset,
        rows: NumberedRows,
        snapshot: bool,
        actor: str,
        progress: Callable[[int], None] | None,
    ) -> ImportReport:
        now = self._clock()
        import_id = uuid.uuid4().hex
        validator = self._validator(community)
        report = ImportReport(ended=0 if snapshot else None)
        finished = False
        try:
            seen = 0
            async for read, chunk, rejected in self._chunks(rows, validator, dataset):
                seen += read
                report.rejected.extend(rejected)
                await self._apply(community, dataset, chunk, now, import_id, report)
                if progress is not None:
                    progress(seen)
            report.rejected.sort(key=lambda rejection: rejection.line)
            if snapshot and report.applied == 0:
                raise EmptySnapshotError(report)
            if snapshot and dataset != "houses" and not report.rejected:
                report.ended = await self._store.end_unlisted(
                    community, dataset, import_id, local_today(self._clock)
                )
            finished = True
        finally:
            close = getattr(rows, "close", None) or getattr(rows, "aclose", None)
            if close is not None:
                closed = close()
                if asyncio.iscoroutine(closed):
                    await closed
            await self._audit(now, actor, community, dataset, snapshot, report, finished)
        return report

    async def _audit(
        self,
        now: datetime,
        actor: str,
        community: str,
        dataset: Dataset,
        snapshot: bool,
        report: ImportReport,
        finished: bool,
    ) -> None:
        details = {
            **report.counts(),
            "snapshot": int(snapshot),
            "ended": report.ended or 0,
            "aborted": int(not finished),
        }
        logger.info("import of %s for %s by %s: %s", dataset, community, actor, details)
        await self._store.write_audit(
            AuditEntry(
                at=now,
                actor=actor,
                action="property.import",
                community=community,
                records=(dataset,),
                details=details,
            )
        )

    async def end_residencies(
        self, community: str, items: Sequence[object], *, actor: str = "admin"
    ) -> ImportReport:
        """End registered residencies (`{id_number, house_code, until}` items, numbered from
        1 like a JSON import); they are kept with their `until`, never erased."""
        async with community_lock(community):
            return await self._end_residencies(community, items, actor)

    async def _end_residencies(
        self, community: str, items: Sequence[object], actor: str
    ) -> ImportReport:
        now = self._clock()
        validator = self._validator(community)
        report = ImportReport()
        valid: list[tuple[int, ResidencyEnd]] = []
        for line, item in enumerate(items, start=1):
            try:
                row = item if isinstance(item, dict) else {NOT_AN_OBJECT: True}
                valid.append((line, validator.residency_end(row)))
            except RowError as error:
                report.rejected.append(Rejection(line, error.field, error.reason))
            except Exception as error:  # as in `_checked`: the item's failure, not the request's
                logger.warning(
                    "item %d of a residencies end failed: %s", line, type(error).__name__
                )
                report.rejected.append(Rejection(line, "<row>", ROW_FAILED))
        ended: set[str] = set()
        if valid:
            outcomes = await self._store.end_residencies(community, [e for _, e in valid], now)
            for (line, end), outcome in zip(valid, outcomes, strict=True):
                report.count(line, outcome)
                if not isinstance(outcome, RowRejected):
                    ended.add(end.house_code)
        report.rejected.sort(key=lambda rejection: rejection.line)
        await self._store.write_audit(
            AuditEntry(
                at=now,
                actor=actor,
                action="property.residencies_end",
                community=community,
                records=tuple(sorted(ended)),
                details=report.counts(),
            )
        )
        return report

    async def _chunks(
        self, rows: NumberedRows, validator: RowValidator, dataset: Dataset
    ) -> AsyncIterator[Checked]:
        """Chunks of `chunk_rows` rows, read and validated in a worker thread: parsing and
        hashing are CPU work that would otherwise hold the event loop (and ingest) for the
        whole chunk."""
        if isinstance(rows, AsyncIterable):
            batch: list[NumberedRow] = []
            async for item in rows:
                batch.append(item)
                if len(batch) >= self._chunk_rows:
                    yield await asyncio.to_thread(
                        _checked, iter(batch), len(batch), validator, dataset
                    )
                    batch = []
            if batch:
                yield await asyncio.to_thread(_checked, iter(batch), len(batch), validator, dataset)
            return
        iterator = iter(rows)
        while True:
            checked = await asyncio.to_thread(
                _checked, iterator, self._chunk_rows, validator, dataset
            )
            if checked[0] == 0:
                return
            yield checked

    def _validator(self, community: str) -> RowValidator:
        return RowValidator(
            community,
            self._grids,
            self._pseudonymizer,
            self._contacts,
        )

    async def _apply(
        self,
        community: str,
        dataset: Dataset,
        chunk: list[tuple[int, Record]],
        now: datetime,
        import_id: str,
        report: ImportReport,
    ) -> None:
        if not chunk:
            return
        records = [record for _, record in chunk]
        store = self._store
        outcomes: list[RowOutcome]
        if dataset == "houses":
            outcomes = await store.apply_houses(
                community, cast(list[HouseRecord], records), now, import_id
            )
        elif dataset == "residents":
            outcomes = await store.apply_residents(
                community, cast(list[ResidentRecord], records), now, import_id
            )
        elif dataset == "vehicles":
            outcomes = await store.apply_vehicles(
                community, cast(list[VehicleRecord], records), now, import_id
            )
        else:
            outcomes = await store.apply_credentials(
                community, cast(list[CredentialRecord], records), now, import_id
            )
        for (line, _), outcome in zip(chunk, outcomes, strict=True):
            report.count(line, outcome)


def _checked(
    rows: Iterator[NumberedRow], count: int, validator: RowValidator, dataset: Dataset
) -> Checked:
    """Up to `count` rows of `rows`: how many were read, the valid ones' records, the
    rejections of the others."""
    read = 0
    valid: list[tuple[int, Record]] = []
    rejected: list[Rejection] = []
    for line, row in itertools.islice(rows, count):
        read += 1
        try:
            valid.append((line, validator.record(dataset, row)))
        except RowError as error:
            rejected.append(Rejection(line, error.field, error.reason))
        except Exception as error:  # a rule no check foresaw: the row's, never the import's
            logger.warning("line %d of a %s import failed: %s", line, dataset, type(error).__name__)
            rejected.append(Rejection(line, "<row>", ROW_FAILED))
    return read, valid, rejected
