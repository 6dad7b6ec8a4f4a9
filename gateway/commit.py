"""Committing a batch: process, store durably, then acknowledge — in that order.

This is where at-least-once becomes exactly-once storage: a message is acknowledged only after
the transaction holding its events (or its dead letter) has committed, and a redelivered
message finds its event ids already stored.
"""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence

from gateway.errors import StoreError
from gateway.logs import loggable
from gateway.messages import DeadLetter, InboundMessage
from gateway.metrics import Metrics
from gateway.pipeline import Pipeline, ProcessedBatch
from gateway.store.base import Store, WriteResult
from gateway.store.tickets import InstantRules
from schemas.events import DeviceEvent

logger = logging.getLogger(__name__)

RETRY_FIRST_DELAY_S = 0.1
RETRY_MAX_DELAY_S = 5.0


class BatchCommitter:
    """Runs the pipeline over a batch, writes it, retries transient failures, then acks.

    `instant` (the instant rules) goes to every write: the tickets it drafts from a batch's
    new events commit with them. `published` (the live stream, `gateway.stream_sources`)
    gets the batch's stored events after the commit; it never waits."""

    def __init__(
        self,
        pipeline: Pipeline,
        store: Store,
        metrics: Metrics,
        instant: InstantRules | None = None,
        published: Callable[[Sequence[DeviceEvent]], None] | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._store = store
        self._metrics = metrics
        self._instant = instant
        self._published = published
        self._refused: set[str] = set()

    async def __call__(self, messages: Sequence[InboundMessage]) -> WriteResult:
        self._metrics.messages_received.inc(len(messages))
        batch = self._pipeline(messages)
        self._refused = set()
        result = await self._write_durably(batch)
        for message in messages:
            message.ack()
        self._record(messages, batch, result)
        if self._published is not None and batch.events:
            self._published([e for e in batch.events if e.event_id not in self._refused])
        return result

    async def _write_durably(self, batch: ProcessedBatch) -> WriteResult:
        """Write until committed: transient errors wait and retry, permanent ones isolate.

        Isolation writes row by row, so a transient error in the middle simply retries it:
        the rows already written come back as duplicates.
        """
        delay = RETRY_FIRST_DELAY_S
        isolate = False
        while True:
            try:
                if batch.replayed:  # idempotent: a retry or a redelivery seeds nothing new
                    await self._store.record_replayed_status(batch.replayed)
                if isolate:
                    return await self._write_isolating(batch)
                return await self._store.write_batch(
                    batch.events, batch.dead_letters, self._instant
                )
            except StoreError as exc:
                if not exc.transient:
                    logger.warning("batch refused by the store, isolating bad rows: %s", exc)
                    isolate = True
                    continue
                self._metrics.store_retries.inc()
                logger.warning("store unavailable, retrying in %.1fs: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_DELAY_S)

    async def _write_isolating(self, batch: ProcessedBatch) -> WriteResult:
        """Write events one by one so one row the database refuses costs only itself."""
        inserted = duplicates = opened = updated = 0
        rules: list[str] = []
        refused: list[DeadLetter] = []
        for event in batch.events:
            try:
                result = await self._store.write_batch([event], [], self._instant)
            except StoreError as exc:
                if exc.transient:
                    raise
                refused.append(_refused_letter(event, exc))
                self._refused.add(event.event_id)
                continue
            inserted += result.inserted
            duplicates += result.duplicates
            opened += result.tickets_opened
            updated += result.tickets_updated
            rules += result.opened_rules
        self._metrics.rejections.labels(reason="store_rejected").inc(len(refused))
        letters = [*batch.dead_letters, *refused]
        try:
            await self._store.write_batch([], letters)
        except StoreError as exc:
            if exc.transient:
                raise
            # Dead letters are built to be storable; if the store still refuses them, say so
            # loudly and move on rather than stop ingesting everyone else's events.
            logger.error("the store refused %d dead letters: %s", len(letters), exc)
            return WriteResult(inserted, duplicates, 0, opened, updated, tuple(rules))
        return WriteResult(inserted, duplicates, len(letters), opened, updated, tuple(rules))

    def _record(
        self, messages: Sequence[InboundMessage], batch: ProcessedBatch, result: WriteResult
    ) -> None:
        metrics = self._metrics
        metrics.batch_size.observe(len(messages))
        now = time.monotonic()
        for message in messages:
            metrics.ack_latency.observe(now - message.received_monotonic)
        metrics.events_duplicate.inc(batch.duplicates + result.duplicates)
        metrics.events_stored.inc(result.inserted)
        metrics.count_tickets(result.opened_rules, result.tickets_updated)
        for kind, count in Counter(event.kind for event in batch.events).items():
            metrics.events_parsed.labels(kind=kind).inc(count)
        metrics.events_unregistered.inc(sum(e.unregistered_device for e in batch.events))
        dropped = Counter(
            (drop.field, drop.reason) for event in batch.events for drop in event.dropped_fields
        )
        for (field, reason), count in dropped.items():
            metrics.fields_dropped.labels(field=field, reason=reason).inc(count)
        for letter in batch.dead_letters:
            metrics.rejections.labels(reason=letter.reason).inc()
            topic = loggable(letter.topic)
            logger.info(
                "dead letter %s on topic %s",
                letter.reason,
                topic,
                extra={"topic": topic, "reason": letter.reason},
            )


def _refused_letter(event: DeviceEvent, exc: StoreError) -> DeadLetter:
    return DeadLetter(
        received_at=event.received_at,
        topic=f"{event.community}/{event.dialect}/{event.device_id}",
        reason="store_rejected",
        detail=f"the database refused event {event.event_id}: {type(exc.__cause__).__name__}",
        payload_excerpt="",
        payload_bytes=0,
        community=event.community,
    )
