"""The ingest loop: stay connected to the broker, take batches, commit them.

Reconnects with capped exponential backoff; batches are committed one at a time, in arrival
order, so acknowledgements go out in the order MQTT requires.
"""

import asyncio
import logging

from gateway.commit import BatchCommitter
from gateway.metrics import Metrics
from gateway.mqtt import BrokerAddress, BrokerError, MqttSubscriber, SessionOptions

logger = logging.getLogger(__name__)

RECONNECT_FIRST_DELAY_S = 0.5
RECONNECT_MAX_DELAY_S = 30.0


class Ingest:
    """Owns the broker subscription for the lifetime of the service."""

    def __init__(
        self,
        address: BrokerAddress,
        session: SessionOptions,
        subscriptions: list[str],
        commit: BatchCommitter,
        metrics: Metrics,
        *,
        batch_max_rows: int,
        batch_max_delay_s: float,
    ) -> None:
        self._address = address
        self._session = session
        self._subscriptions = subscriptions
        self._commit = commit
        self._metrics = metrics
        self._batch_max_rows = batch_max_rows
        self._batch_max_delay_s = batch_max_delay_s
        self._subscriber: MqttSubscriber | None = None
        self.subscribed = asyncio.Event()

    @property
    def is_connected(self) -> bool:
        """Connected and subscribed: what readiness means for ingest."""
        subscriber = self._subscriber
        return subscriber is not None and subscriber.is_connected and self.subscribed.is_set()

    async def run(self) -> None:
        """Run until cancelled; broker outages are waited out, never raised."""
        delay = RECONNECT_FIRST_DELAY_S
        while True:
            subscriber = MqttSubscriber(self._address, self._session)
            self._subscriber = subscriber
            try:
                await subscriber.connect()
                self._metrics.mqtt_connected.set(1)
                granted = subscriber.subscribe(self._subscriptions)
                granted.add_done_callback(self._on_subscribe_answer)
                delay = RECONNECT_FIRST_DELAY_S
                await self._consume(subscriber)
            except BrokerError as exc:
                logger.warning("broker: %s; reconnecting in %.1fs", exc, delay)
            finally:
                self._metrics.mqtt_connected.set(0)
                self.subscribed.clear()
                await subscriber.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_DELAY_S)

    def _on_subscribe_answer(self, granted: "asyncio.Future[None]") -> None:
        if granted.cancelled():
            return
        if (error := granted.exception()) is not None:
            logger.error("subscription failed: %s", error)
        else:
            self.subscribed.set()

    async def _consume(self, subscriber: MqttSubscriber) -> None:
        while True:
            batch = await subscriber.next_batch(self._batch_max_rows, self._batch_max_delay_s)
            await self._commit(batch)
