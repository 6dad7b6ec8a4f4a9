"""Assembles a running gateway from settings and owns its resources' lifetime.

Nothing connects at import time: `running_gateway` opens the store, applies migrations,
starts ingest, and on exit stops them in reverse order.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from adapters.registry import registry_with
from gateway.api.auth_limit import FailureLimiter
from gateway.commit import BatchCommitter
from gateway.config import GatewayConfig, Settings, check_device_parents
from gateway.dead_letters import DeadLetterFactory
from gateway.device_status import DeviceWatch
from gateway.devices import DeviceRegistry, load_devices
from gateway.forward import Forwarder
from gateway.grids import GridMap
from gateway.housekeeping import Housekeeping
from gateway.ingest import Ingest
from gateway.keys import KeyRing, known_communities
from gateway.metrics import Metrics
from gateway.mqtt import BrokerAddress, SessionOptions
from gateway.pii import ContactVault
from gateway.pipeline import CheckSender, Enrich, Parse, Pipeline, PlausibleTime, RouteMessage
from gateway.raw_payloads import RawPayloadPurge, RawPayloadVault
from gateway.responsibility import ResponsibilityList
from gateway.routing import TopicRouter
from gateway.rules.runners import RuleRunners
from gateway.store import Store, open_store
from gateway.store.upgrade import RowRules
from gateway.stream import StreamHub
from gateway.stream_sources import DeviceFeed, EventPublisher, TicketFeed
from gateway.subjects import Resolve
from gateway.watchlist import WatchlistHolder
from schemas.privacy import Pseudonymizer

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Secrets:
    """The two secrets the gateway needs, resolved before start-up."""

    admin_api_key: str
    id_hash_key: str


@dataclass(slots=True)
class Runtime:
    """Everything the API needs from the running gateway."""

    settings: Settings
    config: GatewayConfig
    secrets: Secrets
    store: Store
    metrics: Metrics
    ingest: Ingest
    ingest_task: "asyncio.Task[None]"
    devices: DeviceRegistry = field(default_factory=DeviceRegistry)
    raw_payloads: RawPayloadVault | None = None
    """Opens sealed raw dead-letter payloads; None when no `SCGW_DEAD_LETTER_KEY` is set."""
    grids: GridMap = field(default_factory=GridMap)
    """The grid map (`SCGW_GRIDS`, else the pilot map)."""
    contacts: ContactVault | None = None
    """Seals and opens residents' names and phones (a key derived from the ID hash key)."""
    forwarding: bool = False
    """Whether tickets go to the grid platform (`SCGW_PLATFORM_URL` set) or stay local."""
    responsibility: ResponsibilityList = field(default_factory=ResponsibilityList.load)
    """The responsibility list (`SCGW_RESPONSIBILITY`, else the pilot's)."""
    watchlist: WatchlistHolder = field(default_factory=WatchlistHolder)
    """This process's snapshot of the vehicle watch-list, for the instant rules (the rule engine
    reloads it from the store every `SCGW_RULES_INTERVAL_S` as well)."""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """The gateway's wall clock (`now` of the API: overdue, transitions); tests set another."""
    rules: RuleRunners | None = None
    """The rule runners (`gateway.rules.runners`); None with `SCGW_RULES=off`."""

    forward_task: "asyncio.Task[None] | None" = None
    """The forwarder's loop when tickets go to the platform."""
    keys: KeyRing = field(kw_only=True)
    """API keys: creates them and tells who presents one (`gateway.keys`)."""
    auth_failures: FailureLimiter = field(kw_only=True)
    """Failed authentications per client address (`gateway.api.auth_limit`)."""
    stream: StreamHub = field(default_factory=lambda: StreamHub(resume_max=100, queue_max=10))
    """The live stream's hub (`GET /v1/stream`, `gateway.stream`)."""

    @property
    def alive(self) -> bool:
        """False once ingest has died: a gateway that no longer ingests must be restarted."""
        return not self.ingest_task.done()

    @property
    def forwarder_alive(self) -> bool | None:
        """False once the forwarder has stopped (tickets would silently stay in the outbox);
        None without a platform."""
        return None if self.forward_task is None else not self.forward_task.done()


def build_pipeline(
    settings: Settings,
    config: GatewayConfig,
    hash_key: str,
    devices: DeviceRegistry | None = None,
    router: TopicRouter | None = None,
    vault: RawPayloadVault | None = None,
) -> Pipeline:
    """The processing pipeline for this configuration (pure: no connections).

    The call order as it runs: `RouteMessage` (size check, `TopicRouter.route`), `CheckSender.admit`
    (the sender's dialect), `Parse` (the dialect's adapter), `CheckSender` (the devices the
    events name), then per event `PlausibleTime` (the one window of event times), `Enrich`
    (device registry) and `Resolve` (subject keys; left out only with `SCGW_RESOLUTION=off`,
    the benchmark's baseline), then in-batch dedup. Rejected messages become dead letters; `vault`
    seals their raw payloads when the operator keeps them (`SCGW_DEAD_LETTER_RAW=encrypted`).
    """
    adapters = registry_with(config.dialects).build(Pseudonymizer(hash_key))
    registry = devices if devices is not None else DeviceRegistry.from_config(config)
    keep_raw = vault if settings.dead_letter_raw == "encrypted" else None
    return Pipeline(
        RouteMessage(router or build_router(config), settings.max_payload_bytes),
        CheckSender(registry),
        Parse(adapters),
        [
            PlausibleTime.from_settings(settings),
            Enrich(registry, settings.unknown_device_policy),
            *([Resolve()] if settings.resolution else []),
        ],
        DeadLetterFactory.for_adapters(
            adapters, max_payload_bytes=settings.max_payload_bytes, vault=keep_raw
        ),
    )


def raw_payload_vault(settings: Settings) -> RawPayloadVault | None:
    """The vault for raw dead-letter payloads when a key is set; refuses a weak key, and
    `SCGW_DEAD_LETTER_RAW=encrypted` without one (`ConfigError`)."""
    key = settings.require_dead_letter_key()
    if key is None:
        return None
    return RawPayloadVault(key, timedelta(days=settings.dead_letter_raw_days))


def build_router(config: GatewayConfig) -> TopicRouter:
    """The one router of a gateway: it routes messages and names the subscriptions."""
    return TopicRouter(config, set(registry_with(config.dialects).dialects))


def subscription_filters(settings: Settings, router: TopicRouter) -> list[str]:
    """Topic filters to subscribe to, shared across gateway instances when a group is set."""
    filters = router.subscriptions(settings.mqtt_topics)
    if settings.mqtt_shared_group:
        return [f"$share/{settings.mqtt_shared_group}/{f}" for f in filters]
    return filters


@contextlib.asynccontextmanager
async def running_gateway(
    settings: Settings, config: GatewayConfig, secrets: Secrets
) -> AsyncIterator[Runtime]:
    """Open the store, migrate, start ingest; close all of it in reverse order on exit."""
    vault = raw_payload_vault(settings)
    settings.require_platform_secret()  # a missing or weak secret stops us before anything opens
    grids = GridMap.load(settings.grids)
    responsibility = ResponsibilityList.load(settings.responsibility)
    store = open_store(
        settings.database_url,
        pool_size=settings.database_pool_size,
        observations=settings.resolution,
    )
    await store.open()
    try:
        # SQL migrations, then the data migration re-checking old rows under this gateway's
        # rules, all before the registry is read (`gateway.store.upgrade`).
        applied = await store.migrate(RowRules.of(settings, config))
        if applied:
            logger.info("applied migrations %s", ", ".join(applied))
        check_device_parents(config, await load_devices(store), settings.config)
        await store.upsert_devices(config.devices)
        devices = await DeviceRegistry.load(store)
        logger.info("device registry: %d devices", len(devices))
        metrics = Metrics()
        router = build_router(config)
        forwarder = Forwarder.from_settings(store, settings, metrics)
        watchlist = WatchlistHolder(await store.list_watchlist())
        rules = RuleRunners.of_gateway(
            settings,
            config,
            store,
            responsibility,
            grids,
            devices,
            watchlist,
            metrics,
            forwarding=forwarder is not None,
        )
        stream = StreamHub(
            resume_max=settings.stream_resume_max,
            queue_max=settings.stream_queue_max,
            metrics=metrics,
        )
        events_published = EventPublisher(store, stream)
        commit = BatchCommitter(
            build_pipeline(settings, config, secrets.id_hash_key, devices, router, vault),
            store,
            metrics,
            instant=rules.instant if rules else None,
            published=events_published,
        )
        ingest = Ingest(
            BrokerAddress.from_url(settings.mqtt_url),
            SessionOptions(
                client_id=settings.mqtt_client_id,
                protocol=settings.mqtt_protocol,
                session_expiry_s=settings.mqtt_session_expiry_s,
                receive_maximum=settings.mqtt_receive_maximum,
            ),
            subscription_filters(settings, router),
            commit,
            metrics,
            batch_max_rows=settings.batch_max_rows,
            batch_max_delay_s=settings.batch_max_delay_ms / 1000,
        )
        task = asyncio.create_task(ingest.run(), name="ingest")
        task.add_done_callback(_report_death)
        watch = DeviceWatch(
            store,
            devices,
            interval_s=settings.device_check_interval_s,
            listening_since=datetime.now(UTC),
            metrics=metrics,
            skew_report_s=settings.clock_skew_report_s,
            on_offline=rules.offline if rules else None,
        )
        watch_task = asyncio.create_task(watch.run(), name="device-watch")
        purge_task = asyncio.create_task(RawPayloadPurge(store).run(), name="raw-payload-purge")
        housekeeping_task = asyncio.create_task(
            Housekeeping.from_settings(store, settings).run(), name="housekeeping"
        )
        forward_tasks = [asyncio.create_task(forwarder.run(), name="forward")] if forwarder else []
        rule_tasks = [asyncio.create_task(rules.engine.run(), name="rules")] if rules else []
        stream_tasks = [
            asyncio.create_task(events_published.run(), name="stream-events"),
            asyncio.create_task(TicketFeed(store, stream).run(), name="stream-tickets"),
            asyncio.create_task(
                DeviceFeed(store, stream, interval_s=settings.device_check_interval_s).run(),
                name="stream-devices",
            ),
        ]
        for forward_task in forward_tasks:
            forward_task.add_done_callback(_report_death)
        try:
            yield Runtime(
                settings,
                config,
                secrets,
                store,
                metrics,
                ingest,
                task,
                devices,
                vault,
                grids,
                ContactVault(secrets.id_hash_key),
                forwarding=forwarder is not None,
                responsibility=responsibility,
                watchlist=watchlist,
                rules=rules,
                forward_task=forward_tasks[0] if forward_tasks else None,
                keys=KeyRing(store, secrets.admin_api_key, known_communities(grids, config)),
                auth_failures=FailureLimiter(settings.api_auth_failures_per_minute),
                stream=stream,
            )
        finally:
            tasks = (*stream_tasks, *rule_tasks, *forward_tasks)
            tasks += (housekeeping_task, purge_task, watch_task, task)
            for running in tasks:
                await _stop(running)
    finally:
        await store.close()


def _report_death(task: "asyncio.Task[None]") -> None:
    """Ingest and the forwarder only end by cancellation; anything else is a bug that health
    or readiness must show, logged when it happens."""
    if not task.cancelled() and (error := task.exception()) is not None:
        # Type and stack only (`gateway.logs`): the message of an arbitrary error may quote a
        # payload value.
        logger.critical("%s stopped: %s", task.get_name(), type(error).__name__, exc_info=error)


async def _stop(task: "asyncio.Task[None]") -> None:
    """Cancel a task and wait for it; one that had died already is logged (its death was
    reported when it happened), never raised, so every other task is still stopped."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception as exc:
        logger.error("%s had stopped: %s", task.get_name(), type(exc).__name__, exc_info=exc)
