"""The grid-platform client: sends the transactional outbox, signed, retried, in order.

While this process holds the store lease `forward`, it takes the due outbox rows (per ticket
only its first undelivered row, so a ticket's messages go strictly in order), builds each
message from the ticket as it stands now (`schemas.platform`), signs it (`gateway.signing`)
and POSTs it with the row's `Idempotency-Key`. A 2xx marks the row delivered (a `create`
records the platform's id); anything else counts a failed attempt and schedules the next one
after an exponential backoff with full jitter, until `SCGW_PLATFORM_MAX_ATTEMPTS` makes the
row dead (visible in `GET /v1/outbox` and the metrics; an admin retries it). A row is marked
only after the platform answered, so a crash in between sends it again: at least once, and
the platform drops the repeat by its key.

Two clocks: `run_once(now)` schedules by `now` (tests move it instead of waiting), while the
signature's timestamp is the injected `clock`'s, which the platform compares with its own.
"""

import asyncio
import json
import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol, get_args

import httpx
from pydantic import ValidationError

from gateway.config import Settings
from gateway.errors import ForwardError, StoreError
from gateway.metrics import Metrics
from gateway.signing import IDEMPOTENCY_HEADER, signed_headers
from gateway.store.tickets import OutboxRow
from schemas.platform import (
    CancelledUpdate,
    EvidenceUpdate,
    PlatformTicket,
    TicketAccepted,
)
from schemas.tickets import OutboxState, TicketPublic

logger = logging.getLogger(__name__)

LEASE: Final = "forward"
BATCH: Final = 100
CONCURRENCY: Final = 8
"""Rows sent at once: each belongs to another ticket, so order per ticket is kept."""
OUTBOX_STATES: Final[tuple[OutboxState, ...]] = get_args(OutboxState)
_ERROR_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}")


class ForwardStore(Protocol):
    """What the forwarder needs of the store (`gateway.store.tickets.TicketStore`)."""

    async def hold_lease(self, name: str) -> bool: ...

    async def due_outbox(self, now: datetime, limit: int) -> list[OutboxRow]: ...

    async def get_ticket(self, ticket_id: str, now: datetime) -> TicketPublic | None: ...

    async def outbox_delivered(
        self,
        row: OutboxRow,
        now: datetime,
        platform_ticket_id: str | None,
        sent_occurrences: int | None = None,
    ) -> None: ...

    async def outbox_failed(
        self,
        row: OutboxRow,
        now: datetime,
        error: str,
        next_attempt_at: datetime | None,
        sent_occurrences: int | None = None,
    ) -> None: ...

    async def outbox_counts(self) -> dict[OutboxState, int]: ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: after the n-th failed attempt, a delay drawn
    uniformly up to `base_s` * 2^n, capped at `cap_s`, and never under `base_s`. The jitter
    spreads the retries of many rows (and gateways) that failed together."""

    base_s: float = 1.0
    cap_s: float = 300.0

    def delay(self, failed_attempts: int, rng: random.Random) -> timedelta:
        ceiling = min(self.cap_s, self.base_s * 2 ** min(failed_attempts, 30))
        return timedelta(seconds=max(self.base_s, rng.uniform(0, ceiling)))


@dataclass(frozen=True, slots=True)
class ForwardReport:
    """What one pass did: rows delivered, failed (to be retried) and given up on (dead)."""

    delivered: int = 0
    failed: int = 0
    dead: int = 0

    @property
    def sent(self) -> int:
        return self.delivered + self.failed + self.dead


@dataclass(frozen=True, slots=True)
class _Message:
    """A request's path and body; `occurrences` the ticket's count it carries (None for a
    cancellation), which the store compares with the ticket's after the attempt."""

    path: str
    body: bytes
    occurrences: int | None


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class Forwarder:
    """Delivers outbox rows to `url` signed with `secret`; use as `async with`, or `run()`."""

    def __init__(
        self,
        store: ForwardStore,
        *,
        url: str,
        secret: str,
        max_attempts: int,
        timeout_s: float,
        interval_s: float = 1.0,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = _wall_clock,
        client_factory: Callable[[], httpx.AsyncClient] | None = None,
        backoff: Backoff = Backoff(),
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._url = url.rstrip("/")
        self._secret = secret
        self._max_attempts = max_attempts
        self._timeout_s = timeout_s
        self._interval_s = interval_s
        self._metrics = metrics
        self._clock = clock
        self._client_factory = client_factory or self._default_client
        self._backoff = backoff
        self._rng = rng or random.Random()
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(
        cls, store: ForwardStore, settings: Settings, metrics: Metrics | None = None
    ) -> "Forwarder | None":
        """The forwarder `SCGW_PLATFORM_*` describe; None without `SCGW_PLATFORM_URL` (tickets
        then stay local). Refuses a missing or weak secret (`ConfigError`)."""
        secret = settings.require_platform_secret()
        if settings.platform_url is None or secret is None:
            return None
        return cls(
            store,
            url=settings.platform_url,
            secret=secret,
            max_attempts=settings.platform_max_attempts,
            timeout_s=settings.platform_timeout_s,
            interval_s=settings.forward_interval_s,
            metrics=metrics,
        )

    def _default_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self._timeout_s, follow_redirects=False)

    async def __aenter__(self) -> "Forwarder":
        self._client = self._client_factory()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run(self) -> None:
        """Forward until cancelled, while this process holds the lease; a pass that filled
        its batch is followed at once by the next, otherwise after `interval_s`. An
        unavailable store is waited out, and a pass that fails in any other way is logged
        (type and stack only) and followed by the next: one bad row never stops forwarding."""
        async with self:
            while True:
                full = False
                try:
                    if await self._store.hold_lease(LEASE):
                        full = (await self.run_once(self._clock())).sent >= BATCH
                except StoreError as exc:
                    logger.warning("forwarding paused, the store is unavailable: %s", exc)
                except Exception as exc:
                    logger.error("forwarding pass failed: %s", type(exc).__name__, exc_info=exc)
                if not full:
                    await asyncio.sleep(self._interval_s)

    async def run_once(self, now: datetime) -> ForwardReport:
        """One pass at `now`: every due row tried once, then the outbox counted for metrics."""
        rows = await self._store.due_outbox(now, BATCH)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(row: OutboxRow) -> OutboxState:
            async with gate:
                return await self._forward(row, now)

        outcomes = await asyncio.gather(*(one(row) for row in rows))
        if self._metrics is not None:
            counts = await self._store.outbox_counts()
            for state in OUTBOX_STATES:  # a state with no rows left shows 0, not its last count
                self._metrics.outbox_rows.labels(state).set(counts.get(state, 0))
        return ForwardReport(
            delivered=outcomes.count("delivered"),
            failed=outcomes.count("pending"),
            dead=outcomes.count("dead"),
        )

    async def _forward(self, row: OutboxRow, now: datetime) -> OutboxState:
        """Try one row and record the outcome: its state afterwards."""
        try:
            message = await self._message(row, now)
        except ForwardError as exc:
            return await self._failed(row, now, exc, None)
        try:
            platform_ticket_id = await self._deliver(row, message)
        except ForwardError as exc:
            return await self._failed(row, now, exc, message.occurrences)
        self._count("delivered")
        await self._store.outbox_delivered(row, now, platform_ticket_id, message.occurrences)
        return "delivered"

    async def _failed(
        self, row: OutboxRow, now: datetime, exc: ForwardError, sent: int | None
    ) -> OutboxState:
        """Count a failed attempt: retried after a backoff, or dead after the last one."""
        self._count(exc.result)
        failed = row.attempts + 1
        dead = failed >= self._max_attempts
        retry_at = None if dead else now + self._backoff.delay(failed, self._rng)
        await self._store.outbox_failed(row, now, str(exc), retry_at, sent)
        log = logger.error if dead else logger.warning
        log(
            "outbox %s attempt %d failed (%s)%s",
            row.idempotency_key,
            failed,
            exc,
            ": dead, an admin can retry it (POST /v1/outbox/{ticket_id}/retry)" if dead else "",
        )
        return "dead" if dead else "pending"

    def _count(self, result: str) -> None:
        if self._metrics is not None:
            self._metrics.forward_attempts.labels(result).inc()

    async def _deliver(self, row: OutboxRow, message: _Message) -> str | None:
        """POST the row's message; the platform's ticket id for a `create`, else None."""
        if self._client is None:
            raise RuntimeError("use the forwarder in `async with` (or call run())")
        request = self._client.build_request(
            "POST",
            self._url + message.path,
            content=message.body,
            headers={"Content-Type": "application/json", IDEMPOTENCY_HEADER: row.idempotency_key},
        )
        target = request.url.raw_path.decode("ascii")  # as sent: path prefix and query included
        stamp = int(self._clock().timestamp())
        request.headers.update(signed_headers(self._secret, "POST", target, stamp, message.body))
        try:
            async with asyncio.timeout(self._timeout_s):  # httpx's timeout is per phase
                response = await self._client.send(request)
        except (httpx.TimeoutException, TimeoutError):
            raise ForwardError("unreachable", f"no answer within {self._timeout_s:g} s") from None
        except httpx.TransportError as exc:
            raise ForwardError(
                "unreachable", f"cannot reach the platform: {type(exc).__name__}"
            ) from None
        except httpx.HTTPError as exc:  # an answer httpx cannot read (a broken encoding, …)
            raise ForwardError("bad_answer", f"unreadable answer: {type(exc).__name__}") from None
        if not response.is_success:
            raise ForwardError("refused", _refusal(response))
        if row.kind != "create":
            return None
        try:
            return TicketAccepted.model_validate_json(response.content).platform_ticket_id
        except ValidationError:
            raise ForwardError(
                "bad_answer", f"HTTP {response.status_code} without a valid platform_ticket_id"
            ) from None

    async def _message(self, row: OutboxRow, now: datetime) -> _Message:
        """The row's message from the ticket as it stands now."""
        ticket = await self._store.get_ticket(row.ticket_id, now)
        if ticket is None:
            raise ForwardError("missing_ticket", "the ticket no longer exists")
        if row.kind == "create":
            return _Message("/tickets", _json(PlatformTicket.of(ticket)), ticket.occurrences)
        platform_ticket_id = row.platform_ticket_id or ticket.platform_ticket_id
        if platform_ticket_id is None:  # the store sends a ticket's rows in order: a bug
            raise ForwardError("missing_ticket", "no platform ticket id to update")
        path = f"/tickets/{platform_ticket_id}/updates"
        if row.kind == "evidence":
            update: EvidenceUpdate | CancelledUpdate = EvidenceUpdate(
                type="evidence",
                ticket_id=ticket.ticket_id,
                evidence=ticket.evidence,
                occurrences=ticket.occurrences,
                updated_at=ticket.updated_at,
            )
        else:
            step = next(
                (s for s in reversed(ticket.history or ()) if s.to_status == "cancelled"), None
            )
            update = CancelledUpdate(
                type="cancelled",
                ticket_id=ticket.ticket_id,
                cancelled_at=step.at if step else ticket.updated_at,
                actor=step.actor if step else "gateway",
                comment=step.comment if step else None,
            )
        occurrences = ticket.occurrences if row.kind == "evidence" else None
        return _Message(path, _json(update), occurrences)


def _json(model: PlatformTicket | EvidenceUpdate | CancelledUpdate) -> bytes:
    """Compact UTF-8 JSON, Chinese as is (the signature covers these exact bytes)."""
    return model.model_dump_json().encode()


def _refusal(response: httpx.Response) -> str:
    """`HTTP 401 bad_signature`: the status and, when the body is the contract's error with a
    plain code, that code; never other text from the answer."""
    code = None
    try:
        error = json.loads(response.content).get("error", {}).get("code")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, str) and _ERROR_CODE.fullmatch(error):
        code = error
    return f"HTTP {response.status_code}" + (f" {code}" if code else "")
