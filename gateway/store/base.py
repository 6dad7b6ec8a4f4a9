"""The `Store` protocol every backend implements, and the query/page types it speaks.

One contract test suite runs against every backend, so the API and the ingest loop never
know which database they talk to.
"""

import base64
import binascii
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.errors import PayloadError
from gateway.messages import DeadLetter
from gateway.privacy import is_shareable_key
from gateway.store.eventfacts import EventFactStore
from gateway.store.evidence import EvidenceStore
from gateway.store.flow import FlowStore
from gateway.store.keys import KeyStore
from gateway.store.masterdata import MasterDataStore
from gateway.store.observations import ObservationStore
from gateway.store.overview import OverviewStore
from gateway.store.residentfacts import ResidentFactStore
from gateway.store.rulemarks import RuleMarkStore
from gateway.store.scope import scope_clause
from gateway.store.stream import StreamStore
from gateway.store.tickets import InstantRules, TicketStore
from schemas.devices import Device, DeviceRegistration, DeviceState
from schemas.events import DeviceEvent, DeviceStatusEvent, EventKind

if TYPE_CHECKING:
    from gateway.store.upgrade import RowRules

T = TypeVar("T")
logger = logging.getLogger(__name__)


REGISTRATION_COLUMNS = (
    "device_id, kind, dialect, community, building, unit, gate, door, readers, location,"
    " parent, offline_after_s"
)
"""The `devices` columns the registrations digest covers: a registration less its firmware.
Heartbeats move the firmware (the first one from a device registered without it), and nothing
reads it from the pipeline's copy, so it must not make every process re-read the table."""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a committed batch changed: new events, events already stored, dead letters, and
    the tickets the instant rules opened or added to (`opened_rules`: one rule per opened)."""

    inserted: int
    duplicates: int
    dead_letters: int
    tickets_opened: int = 0
    tickets_updated: int = 0
    opened_rules: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClockSkew:
    """A device's estimated clock skew: positive when its clock runs ahead."""

    device_id: str
    community: str
    skew_s: float


@dataclass(frozen=True, slots=True)
class ClockSkewReport:
    """The devices whose skew reaches a threshold: how many, and the worst of them."""

    total: int
    worst: list[ClockSkew]


@dataclass(frozen=True, slots=True)
class EventQuery:
    kind: EventKind | None = None
    community: str | None = None
    device_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    cursor: "EventCursor | None" = None
    communities: frozenset[str] | None = None
    """The caller's scope (`gateway.access.Caller.scope`): only these communities' records;
    None for every community, an empty set for none."""


@dataclass(frozen=True, slots=True)
class EventCursor:
    """Position after the last event of a page: newest-first order is (occurred_at, event_id)."""

    occurred_at: datetime
    event_id: str

    def encode(self) -> str:
        raw = f"{self.occurred_at.astimezone(UTC).isoformat()}|{self.event_id}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> "EventCursor":
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            occurred, event_id = raw.split("|", 1)
            when = datetime.fromisoformat(occurred)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise PayloadError("bad_cursor", "the cursor is not one this API issued") from None
        if when.tzinfo is None or not event_id:
            raise PayloadError("bad_cursor", "the cursor is not one this API issued")
        return cls(when, event_id)


def encode_id_cursor(last_id: int) -> str:
    """Cursor for tables paged by a descending integer id (dead letters)."""
    return base64.urlsafe_b64encode(f"id|{last_id}".encode()).decode().rstrip("=")


def decode_id_cursor(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        tag, value = raw.split("|", 1)
        last_id = int(value)
        if tag != "id" or not 0 < last_id < 2**63:
            raise ValueError(tag)
        return last_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise PayloadError("bad_cursor", "the cursor is not one this API issued") from None


def _describe_page(schema: dict[str, Any]) -> None:
    """A parametrized page (`Page[DevicePublic]`) has no docstring of its own: say what it is."""
    schema.setdefault("description", "A page of results and the cursor for the next one.")


class Page(BaseModel, Generic[T]):
    """A page of results and the cursor for the next one (None on the last page)."""

    model_config = ConfigDict(frozen=True, json_schema_extra=_describe_page)

    data: list[T] = Field(description="This page's records, in the list's order.")
    next_cursor: str | None = Field(
        description="Pass it back as `cursor` for the next page; null on the last page."
    )


class StoredDeadLetter(BaseModel):
    """A dead letter as stored, with its id: the payload's shape, never the payload.

    `raw_expires_at` is set while a sealed raw payload is kept (an admin reads it at
    `/v1/dead-letters/{id}/raw` until then).
    """

    model_config = ConfigDict(use_attribute_docstrings=True, frozen=True)

    id: int
    """The dead letter's id."""
    received_at: datetime
    """When the message arrived."""
    topic: str
    """The MQTT topic it came on."""
    reason: str
    """Why it was refused (`unknown_topic`, `unknown_device`, `implausible_time`, ...)."""
    detail: str
    """The rule it broke, without its values."""
    payload_excerpt: str
    """The payload's shape, with the values of known non-personal fields only."""
    payload_bytes: int
    """The payload's size in bytes."""
    raw_expires_at: datetime | None = None
    """Until when an admin can read the raw payload; null: none kept."""
    community: str | None = None
    """The community routing placed the topic in; None when it placed it in none."""


class Store(
    MasterDataStore,
    ObservationStore,
    EventFactStore,
    TicketStore,
    EvidenceStore,
    ResidentFactStore,
    RuleMarkStore,
    KeyStore,
    StreamStore,
    OverviewStore,
    FlowStore,
    Protocol,
):
    """Persistence for events, dead letters, devices, master data, the models the events add
    (`ObservationStore`), the rules' reads of events (`EventFactStore`) and of residents
    (`ResidentFactStore`), governance tickets (`TicketStore`, `EvidenceStore`) and how far the
    watermark rules have been evaluated (`RuleMarkStore`) and API keys (`KeyStore`); every write
    is one transaction."""

    async def open(self) -> None:
        """Connect and check the connection; nothing connects before this."""

    async def close(self) -> None: ...

    async def migrate(self, rules: "RowRules | None" = None) -> list[str]:
        """Apply pending migrations; return the versions applied.

        Data migrations re-check stored rows under `rules` (the gateway's window and dialects;
        the defaults and built-in dialects when None): see `gateway.store.upgrade`.
        """

    async def ping(self) -> None:
        """Raise `StoreError` unless the database answers."""

    async def write_batch(
        self,
        events: Sequence[DeviceEvent],
        dead_letters: Sequence[DeadLetter],
        instant: InstantRules | None = None,
    ) -> WriteResult:
        """Store new events (ignoring ids already stored) and dead letters atomically.

        The same transaction records the devices' activity (see `gateway.device_status`): the
        registry's `last_seen` and `status` never disagree with the events stored. It also
        records the drafts `instant` makes of the newly inserted events (as `record_tickets`
        does: a redelivered batch opens nothing) and moves each community's rule watermark
        to the batch's newest event time capped at arrival (`TicketStore.watermarks`).
        """

    async def list_events(self, query: EventQuery) -> Page[DeviceEvent]: ...

    async def list_dead_letters(
        self, limit: int, cursor: str | None, *, communities: frozenset[str] | None = None
    ) -> Page[StoredDeadLetter]:
        """Dead letters, newest first; `communities` is the caller's scope (a letter whose
        topic named no community routing knew is only in an unrestricted scope)."""

    async def get_dead_letter_raw(
        self, letter_id: int, now: datetime, *, communities: frozenset[str] | None = None
    ) -> bytes | None:
        """The sealed raw payload of a dead letter; None when none was kept, it was erased, it
        expired by `now` (an expired payload is never served, purged or not), or the letter is
        outside `communities` (the caller's scope)."""

    async def purge_expired_raw_payloads(self, now: datetime) -> int:
        """Erase the raw payloads expired by `now`, keeping their letters; return how many."""

    async def upsert_devices(self, devices: Sequence[DeviceRegistration]) -> None:
        """Register devices or replace their registrations, atomically.

        What the gateway observed (status, last seen, address) is kept; so is the firmware
        when a registration does not name one.
        """

    async def device_registrations_digest(self) -> str:
        """A digest of every device's registration (`REGISTRATION_COLUMNS`, what the pipeline's
        `DeviceRegistry` uses): it changes when a device is added, removed or re-registered,
        so a process re-reads its copy only then (21,673 devices cost ~2.7 s of CPU to read)."""

    async def get_device(
        self, device_id: str, *, communities: frozenset[str] | None = None
    ) -> Device | None:
        """The registered device; None when there is none or it is outside `communities` (the
        caller's scope; None for every community). The scope is in the query, so another
        community's device costs what a missing one does."""

    async def list_devices(
        self,
        limit: int,
        cursor: str | None,
        *,
        community: str | None = None,
        status: DeviceState | None = None,
        communities: frozenset[str] | None = None,
    ) -> Page[Device]:
        """Registered devices in `device_id` order; `communities` is the caller's scope."""

    async def clock_skews(self, min_abs_s: float, limit: int) -> ClockSkewReport:
        """Devices whose estimated clock skew is at least `min_abs_s` either way: their number,
        and up to `limit` of them, largest skew (either way) first, then by device id."""

    async def record_replayed_status(self, replayed: Sequence[DeviceStatusEvent]) -> None:
        """Seed the status of devices still `unknown` from retained status messages the broker
        replayed (`gateway.device_status.replayed_status`); stores no event. Idempotent."""

    async def mark_silent_devices_offline(
        self, now: datetime, *, listening_since: datetime | None = None
    ) -> list[str]:
        """Mark offline every device silent for longer than its `offline_after_s`.

        Silence runs from the last message (from registration if there was none), but not
        from before `listening_since`. Returns the ids newly marked offline.
        """

    async def long_offline_devices(self, now: datetime) -> list[tuple[str, datetime]]:
        """Devices offline at `now` for longer than their `offline_after_s`, whether they said
        so (an `offline` status, often their MQTT last will) or went silent, each with the
        start of its offline spell (`status_since`), in `device_id` order."""


def event_filter_sql(
    query: EventQuery, *, time_column: str, placeholder: str, to_db_time: "TimeConverter"
) -> tuple[str, list[object]]:
    """The WHERE clause (and its parameters) for an event query, shared by every SQL backend.

    Keyset pagination: the cursor continues strictly after the last (time, id) pair returned,
    which stays correct while new events arrive.
    """
    clauses: list[str] = []
    params: list[object] = []
    for column, value in (
        ("kind", query.kind),
        ("community", query.community),
        ("device_id", query.device_id),
    ):
        if value is not None:
            clauses.append(f"{column} = {placeholder}")
            params.append(value)
    if query.since is not None:
        clauses.append(f"{time_column} >= {placeholder}")
        params.append(to_db_time(query.since))
    if query.until is not None:
        clauses.append(f"{time_column} < {placeholder}")
        params.append(to_db_time(query.until))
    if query.cursor is not None:
        clauses.append(
            f"({time_column} < {placeholder} OR ({time_column} = {placeholder}"
            f" AND event_id < {placeholder}))"
        )
        at = to_db_time(query.cursor.occurred_at)
        params.extend([at, at, query.cursor.event_id])
    scoped = scope_clause("community", query.communities, placeholder)
    if scoped is not None:
        clauses.append(scoped[0])
        params.extend(scoped[1])
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return where, params


class TimeConverter(Protocol):
    def __call__(self, value: datetime, /) -> object: ...


def dead_letter_sql(
    cursor: str | None,
    *,
    time_column: str,
    expiry_column: str,
    placeholder: str,
    communities: frozenset[str] | None = None,
) -> tuple[str, list[object]]:
    """The newest-first dead-letter query after `cursor` within the scope `communities`; its
    last placeholder is the limit.

    The raw payload itself is not selected: lists show whether one is kept, never its bytes.
    """
    clauses: list[str] = []
    params: list[object] = []
    if cursor:
        clauses.append(f"id < {placeholder}")
        params.append(decode_id_cursor(cursor))
    scoped = scope_clause("community", communities, placeholder)
    if scoped is not None:
        clauses.append(scoped[0])
        params.extend(scoped[1])
    sql = (
        f"SELECT id, {time_column}, topic, reason, detail, payload_excerpt, payload_bytes,"
        f" {expiry_column}, community FROM dead_letters"
        + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
        + f" ORDER BY id DESC LIMIT {placeholder}"
    )
    return sql, params


def event_page_of_rows(
    rows: Sequence[tuple[datetime, str, object]],
    limit: int,
    parse: Callable[[Any], DeviceEvent],
) -> Page[DeviceEvent]:
    """A page from a `limit + 1` fetch of (occurred_at, event_id, body) rows.

    A stored body that fails today's models (rules tightened after it was stored) is skipped
    with a warning naming its event id, never its values: one such row must not turn a whole
    page into a 500. The page may then be short; its cursor still follows the rows read.
    """
    events = [
        event
        for occurred_at, event_id, body in rows[:limit]
        if (event := _parsed(parse, body, "event", event_id)) is not None
    ]
    if len(rows) <= limit:
        return Page[DeviceEvent](data=events, next_cursor=None)
    occurred_at, event_id, _ = rows[limit - 1]
    return Page[DeviceEvent](data=events, next_cursor=EventCursor(occurred_at, event_id).encode())


def device_page_of_rows(
    rows: Sequence[tuple[str, Any]], limit: int, parse: Callable[[Any], Device]
) -> Page[Device]:
    """A page from a `limit + 1` fetch of (device_id, row) pairs; rows failing today's models are
    skipped with a warning that names the failing fields only (a device id may be the value)."""
    devices = [
        device for _, row in rows[:limit] if (device := _parsed(parse, row, "device")) is not None
    ]
    cursor = encode_device_cursor(rows[limit - 1][0]) if len(rows) > limit else None
    return Page[Device](data=devices, next_cursor=cursor)


def parsed_device(row: Any, parse: Callable[[Any], Device]) -> Device | None:
    """One stored device, or None (with a warning) when it fails today's models."""
    return _parsed(parse, row, "device")


def _parsed(parse: Callable[[Any], T], row: Any, what: str, row_id: str | None = None) -> T | None:
    try:
        return parse(row)
    except ValidationError as exc:
        fields = sorted(
            {
                str(error["loc"][-1])
                for error in exc.errors()
                if error["loc"] and is_shareable_key(str(error["loc"][-1]))
            }
        )
        logger.warning(
            "skipped a stored %s%s that fails the current rules (fields: %s)",
            what,
            "" if row_id is None else f" {row_id}",
            ", ".join(fields) or "-",
        )
        return None


def event_page(events: list[DeviceEvent], limit: int) -> Page[DeviceEvent]:
    """Cut a `limit + 1` fetch into a page; the extra row only proves there is a next page."""
    if len(events) <= limit:
        return Page[DeviceEvent](data=events, next_cursor=None)
    last = events[limit - 1]
    cursor = EventCursor(last.occurred_at, last.event_id).encode()
    return Page[DeviceEvent](data=events[:limit], next_cursor=cursor)


def dead_letter_page(letters: list[StoredDeadLetter], limit: int) -> Page[StoredDeadLetter]:
    if len(letters) <= limit:
        return Page[StoredDeadLetter](data=letters, next_cursor=None)
    return Page[StoredDeadLetter](
        data=letters[:limit], next_cursor=encode_id_cursor(letters[limit - 1].id)
    )


def encode_device_cursor(device_id: str) -> str:
    """Cursor for device lists: the last device id of the page."""
    return base64.urlsafe_b64encode(f"dev|{device_id}".encode()).decode().rstrip("=")


def decode_device_cursor(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        tag, device_id = raw.split("|", 1)
        if tag != "dev" or not device_id:
            raise ValueError(tag)
        return device_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise PayloadError("bad_cursor", "the cursor is not one this API issued") from None


def device_filter_sql(
    cursor: str | None,
    community: str | None,
    status: DeviceState | None,
    *,
    placeholder: str,
    communities: frozenset[str] | None = None,
) -> tuple[str, list[object]]:
    """The WHERE clause (and parameters) of a device list, shared by every SQL backend."""
    clauses: list[str] = []
    params: list[object] = []
    if cursor is not None:
        clauses.append(f"device_id > {placeholder}")
        params.append(decode_device_cursor(cursor))
    for column, value in (("community", community), ("status", status)):
        if value is not None:
            clauses.append(f"{column} = {placeholder}")
            params.append(value)
    scoped = scope_clause("community", communities, placeholder)
    if scoped is not None:
        clauses.append(scoped[0])
        params.extend(scoped[1])
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return where, params


def device_page(devices: list[Device], limit: int) -> Page[Device]:
    """Cut a `limit + 1` fetch into a page."""
    if len(devices) <= limit:
        return Page[Device](data=devices, next_cursor=None)
    return Page[Device](
        data=devices[:limit], next_cursor=encode_device_cursor(devices[limit - 1].device_id)
    )
