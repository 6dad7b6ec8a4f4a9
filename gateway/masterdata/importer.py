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

Every run writes one audit entry (`property.import`, records = the dataset, details = the
counts); `end_residencies` writes `property.residencies_end`.
"""

import asyncio
import itertools
import logging
import uuid
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
from typing import Any, cast

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

    def as_json(self) -> dict[str, Any]:
        """The API's and the CLI's response body."""
        return {
            "accepted": self.accepted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [
                {"line": r.line, "field": r.field, "reason": r.reason} for r in self.rejected
            ],
        }

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
        """Validate and apply every row; end what a snapshot no longer lists; audit it."""
        now = self._clock()
        import_id = uuid.uuid4().hex
        validator = self._validator(community)
        report = ImportReport()
        seen = 0
        async for read, chunk, rejected in self._chunks(rows, validator, dataset):
            seen += read
            report.rejected.extend(rejected)
            await self._apply(community, dataset, chunk, now, import_id, report)
            if progress is not None:
                progress(seen)
        report.rejected.sort(key=lambda rejection: rejection.line)
        ended = 0
        if snapshot and dataset != "houses" and not report.rejected:
            ended = await self._store.end_unlisted(
                community, dataset, import_id, local_today(self._clock)
            )
        details = {**report.counts(), "snapshot": int(snapshot), "ended": ended}
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
        return report

    async def end_residencies(
        self, community: str, items: Sequence[object], *, actor: str = "admin"
    ) -> ImportReport:
        """End registered residencies (`{id_number, house_code, until}` items, numbered from
        1 like a JSON import); they are kept with their `until`, never erased."""
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
    return read, valid, rejected
