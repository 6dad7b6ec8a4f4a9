"""The embedded MQTT broker (amqtt) that lets `scgw demo` run with nothing installed.

Production uses Mosquitto or EMQX; amqtt speaks MQTT 3.1.1 only, so the demo's gateway
connects with protocol 3.1.1 and a persistent (clean session off) session.

Nobody connects without an account, and each account has one job:
- the gateway's account subscribes (to anything) and publishes nothing;
- a device's account (user name = its device id) publishes only on its own topics,
  `{community}/{dialect}/{device_id}` with its registered dialect and
  `{community}/status/{device_id}` (keep-alives and its last will), and subscribes to nothing:
  the broker itself enforces "the topic's device is the sender";
- a relay account, if any, publishes anything under `{community}/`: a stand-in for a property
  platform relaying all of a community's devices over one connection (tests publishing for
  many devices use one; `scgw demo` has none).
Passwords are checked by amqtt's own `FileAuthPlugin` against a password file of Argon2 hashes
written for the broker's lifetime; the topic rules are `AccountTopicPlugin` below. Every
refusal (CONNECT, publish, subscribe, will) is logged with the account and the topic in their
shareable form (`gateway.privacy.shareable_topic`) and counted in
`scgw_broker_refused_total{action}`. The broker listens on 127.0.0.1 unless told otherwise.

A limit we keep rather than patch: amqtt 0.12.1 waits 5 s (hard-coded in
`amqtt/mqtt/protocol/handler.py`) for a delivered QoS 1 message's PUBACK, then drops it from
the session. The gateway acknowledges after commit, so only a commit stalled beyond 5 s loses
messages, and only on this demo broker (README, "Quick start").
"""

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.errors import MQTTError
from amqtt.events import MQTTEvents
from amqtt.mqtt.connack import IDENTIFIER_REJECTED, NOT_AUTHORIZED, ConnackPacket
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.plugins.base import BaseTopicPlugin
from amqtt.session import Session
from amqtt.utils import gen_client_id
from prometheus_client import CollectorRegistry, Counter
from pwdlib.hashers.argon2 import Argon2Hasher

from gateway.errors import GatewayError
from gateway.privacy import shareable_topic

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_WILDCARD_HOSTS = {"", "0.0.0.0", "::"}
STATUS_LEVEL = "status"
"""The second topic level of every device's status topic, `{community}/status/{device_id}`."""

# The passwords are random tokens of 128 bits or more, not words a person chose: a slow,
# memory-hard hash adds nothing against guessing them, and amqtt verifies on its event loop
# (the demo's gateway shares that loop), twice per connection here. OWASP's lightest Argon2id
# profile keeps a verification at a few milliseconds.
_HASHER = Argon2Hasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@dataclass(frozen=True, slots=True)
class Account:
    """A broker user name and its password."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class DeviceAccount:
    """A registered device's login: its user name is its device id, and it publishes only on
    its own topics (`topics`)."""

    account: Account
    community: str
    dialect: str

    @property
    def device_id(self) -> str:
        return self.account.username

    @property
    def topics(self) -> tuple[str, str]:
        """The only topics this device may publish on: its dialect's and its status topic."""
        return (
            f"{self.community}/{self.dialect}/{self.device_id}",
            f"{self.community}/{STATUS_LEVEL}/{self.device_id}",
        )


@dataclass(frozen=True, slots=True)
class BrokerAccounts:
    """Who may connect: the gateway's account, one account per registered device, and
    optionally relay accounts that publish for a whole community."""

    gateway: Account
    devices: Sequence[DeviceAccount] = ()
    relays: Mapping[str, Account] = field(default_factory=dict)
    """Community code -> an account publishing anything under `{community}/` (a platform
    relaying its devices). Nothing binds its topics to a device: use only where one connection
    must speak for many devices."""

    def __post_init__(self) -> None:
        accounts = list(self.all())
        names = [account.username for account in accounts]
        if len(set(names)) != len(names):
            raise ValueError("every broker account needs its own user name")
        for account in accounts:
            if not account.username or ":" in account.username or "\n" in account.username:
                raise ValueError("broker user names are non-empty, without ':' or line breaks")
            if not account.password:
                raise ValueError(f"broker account {account.username!r} has no password")
        levels = [*self.relays, *(d.community for d in self.devices)]
        levels += [level for d in self.devices for level in (d.dialect, d.device_id)]
        for level in levels:
            if not level or any(char in level for char in "/+#$"):
                raise ValueError(f"{level!r} is not a single topic level")

    def all(self) -> Iterator[Account]:
        """Every account, the gateway's first."""
        yield self.gateway
        yield from (device.account for device in self.devices)
        yield from self.relays.values()

    def device(self, device_id: str) -> DeviceAccount:
        """The account of `device_id`; KeyError if it has none."""
        for device in self.devices:
            if device.device_id == device_id:
                return device
        raise KeyError(device_id)


class BrokerMetrics:
    """The broker's refusals, in a registry of its own: whoever serves `/metrics` in the same
    process adds it to theirs (`registry.register(metrics.registry)`)."""

    ACTIONS = ("connect", "publish", "subscribe", "will")

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.refused = Counter(
            "scgw_broker_refused",
            "What the embedded broker refused: a CONNECT (login, client id), a publish or a"
            " subscription outside the account's rights, a will on a topic it may not publish",
            ["action"],
            registry=self.registry,
        )
        for action in self.ACTIONS:  # every series exists from the start, at 0
            self.refused.labels(action)


@dataclass(frozen=True, slots=True)
class EmbeddedBroker:
    """Where the running broker listens, how an account's client reaches it, and its counts."""

    host: str
    port: int
    metrics: BrokerMetrics = field(default_factory=BrokerMetrics, compare=False, repr=False)

    def url(self, account: Account | None = None) -> str:
        """`mqtt://user:pass@host:port` for `account` (user and password percent-encoded);
        without one, `mqtt://host:port` (for a client that brings its own logins)."""
        host = LOOPBACK if self.host in _WILDCARD_HOSTS else self.host
        if account is None:
            return f"mqtt://{host}:{self.port}"
        userinfo = f"{quote(account.username, safe='')}:{quote(account.password, safe='')}"
        return f"mqtt://{userinfo}@{host}:{self.port}"


class AccountTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]  # amqtt: no type hints
    """Subscribing and receiving are for subscriber accounts; a device account publishes only
    on its own topics, a relay account only under its community's first topic level.
    Anonymous is nobody."""

    @dataclass
    class Config:
        subscribers: list[str] = field(default_factory=list)
        relays: dict[str, str] = field(default_factory=dict)
        """User name -> the community it publishes for."""
        devices: dict[str, list[str]] = field(default_factory=dict)
        """User name (device id) -> the exact topics it may publish on."""

    async def topic_filtering(
        self,
        *,
        session: Session | None = None,
        topic: str | None = None,
        action: Action | None = None,
    ) -> bool:
        username = session.username if session is not None else None
        if username is None or topic is None:
            return False
        config: AccountTopicPlugin.Config = self.config
        if action in (Action.RECEIVE, Action.SUBSCRIBE):
            return username in config.subscribers
        if action != Action.PUBLISH:
            return False
        if username in config.devices:
            return topic in config.devices[username]
        community = config.relays.get(username)
        return community is not None and topic.startswith(f"{community}/")


_LOGGED_CHARS = 200
"""Topics, user names and client ids are cut to this many characters in log lines."""


def _loggable(text: str | None) -> str:
    """A user name, client id or topic as a log line may show it: personal-looking levels
    replaced (`shareable_topic`), cut, and quoted with escapes by the caller's `%r`."""
    return shareable_topic(text or "")[:_LOGGED_CHARS]


class _AuthenticatingBroker(Broker):  # type: ignore[misc]  # amqtt: no type hints
    """amqtt's broker, deciding whether to accept a CONNECT before it touches any session,
    and counting and logging whatever it refuses.

    amqtt 0.12.1 looks up the client id's session first: a clean-session CONNECT deletes the
    existing session of that id (its subscriptions and queued messages) and a second
    connection takes over the first, and only then are the credentials checked. So anyone who
    knew the gateway's client id could wipe its queue without a password. Here the password,
    the client id's owner and the will topic are checked first; the rest is amqtt's own code.
    """

    def __init__(self, config: dict[str, Any], metrics: BrokerMetrics) -> None:
        super().__init__(config)
        self._metrics = metrics

    async def _initialize_client_session(
        self, reader: Any, writer: Any, remote_address: str, remote_port: int
    ) -> tuple[BrokerProtocolHandler, Session]:
        handler, session = await BrokerProtocolHandler.init_from_connect(
            reader, writer, self.plugins_manager
        )
        refusal = await self._refusal(session)
        if refusal is not None:
            action, code, reason = refusal
            self._metrics.refused.labels(action).inc()
            logger.warning(
                "embedded broker refused client %r (user %r) from %s: %s",
                _loggable(session.client_id),
                _loggable(session.username),
                remote_address,
                reason,
            )
            connack = ConnackPacket.build(0, code)
            await self.plugins_manager.fire_event(MQTTEvents.PACKET_SENT, packet=connack)
            await connack.to_stream(writer)
            await writer.close()
            raise MQTTError(f"connection refused: {reason}")
        return handler, await self._resolve_session(session)

    async def _refusal(self, session: Session) -> tuple[str, int, str] | None:
        """Why this CONNECT must be refused (counted action, CONNACK code, reason), or None."""
        if not await self._authenticate(session, None):
            return "connect", NOT_AUTHORIZED, "bad user name or password"
        existing = self._sessions.get(session.client_id)
        if existing is not None and existing[0].username != session.username:
            return "connect", IDENTIFIER_REJECTED, "client id belongs to another account's session"
        if session.will_flag and not await self._permitted(
            session, session.will_topic, Action.PUBLISH
        ):
            reason = f"will topic {_loggable(session.will_topic)!r} outside the account's rights"
            return "will", NOT_AUTHORIZED, reason
        return None

    async def _permitted(self, session: Session, topic: str, action: Action) -> bool:
        """The topic plugin's verdict, uncounted."""
        return bool(await super()._topic_filtering(session, topic, action))

    async def _topic_filtering(self, session: Session, topic: str, action: Action) -> bool:
        """amqtt's check of every publish and subscription: a refusal is counted and logged."""
        permitted = await self._permitted(session, topic, action)
        if not permitted and action in (Action.PUBLISH, Action.SUBSCRIBE):
            name = "publish" if action == Action.PUBLISH else "subscribe"
            self._metrics.refused.labels(name).inc()
            # A device that cannot publish should be visible to whoever set it up.
            logger.warning(
                "embedded broker refused %s by user %r on %r",
                name,
                _loggable(session.username),
                _loggable(topic),
            )
        return permitted

    async def _resolve_session(self, session: Session) -> Session:
        """amqtt 0.12.1's session lookup, unchanged, run once the CONNECT is accepted."""
        if session.clean_session:
            if session.client_id:
                await self._delete_session(session.client_id)
            else:
                session.client_id = gen_client_id()
            session.parent = 0
        elif session.client_id in self._sessions:
            existing, _ = self._sessions[session.client_id]
            for name in (
                "will_flag",
                "will_message",
                "will_topic",
                "will_qos",
                "keep_alive",
                "username",
                "password",
            ):
                setattr(existing, name, getattr(session, name))
            session = existing
            session.parent = 1
        else:
            session.parent = 0
        delay = self.config.get("timeout-disconnect-delay", 0)
        if session.keep_alive > 0 and isinstance(delay, int):
            session.keep_alive += delay
        return session


def _password_file(directory: Path, accounts: BrokerAccounts) -> Path:
    """Write `user:argon2-hash` lines, readable by this user only, for amqtt's FileAuthPlugin."""
    path = directory / "passwd"
    lines = [f"{account.username}:{_HASHER.hash(account.password)}\n" for account in accounts.all()]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
    return path


def _broker_config(
    host: str, port: int, password_file: Path, accounts: BrokerAccounts
) -> dict[str, Any]:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {
            "amqtt.plugins.authentication.FileAuthPlugin": {"password_file": str(password_file)},
            f"{__name__}.{AccountTopicPlugin.__name__}": {
                "subscribers": [accounts.gateway.username],
                "relays": {account.username: code for code, account in accounts.relays.items()},
                "devices": {device.device_id: list(device.topics) for device in accounts.devices},
            },
        },
    }


@contextlib.contextmanager
def _quiet_start_failure() -> Iterator[None]:
    """amqtt logs a failed start (a port in use) with a traceback; the caller's hint says it."""
    amqtt_logger = logging.getLogger("amqtt.broker")
    level = amqtt_logger.level
    amqtt_logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        amqtt_logger.setLevel(level)


BROKER_SHUTDOWN_S: Final = 5.0
"""How long the embedded broker may take to close its sessions when the demo stops."""


async def _shut_down(broker: Broker) -> None:
    """Stop the broker, but never hang the process on it: amqtt's shutdown can wait without
    end for acknowledgements from clients that are already gone (seen under load when the
    demo stops while simulated devices are still publishing)."""
    try:
        await asyncio.wait_for(broker.shutdown(), BROKER_SHUTDOWN_S)
    except TimeoutError:
        logger.warning(
            "the embedded broker did not close within %.0f s; stopping anyway", BROKER_SHUTDOWN_S
        )


@contextlib.asynccontextmanager
async def embedded_broker(
    accounts: BrokerAccounts, port: int, host: str = LOOPBACK
) -> AsyncIterator[EmbeddedBroker]:
    """Run a broker on host:port for the block, open to `accounts` only."""
    # amqtt logs every connection at INFO; the demo's console is for the gateway's story.
    for noisy in ("amqtt", "transitions"):  # amqtt's session state machine logs at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)
    running = EmbeddedBroker(host, port)
    with tempfile.TemporaryDirectory(prefix="scgw-broker-") as directory:
        # One Argon2 hash per account (41 in the demo): off the event loop.
        password_file = await asyncio.to_thread(_password_file, Path(directory), accounts)
        config = _broker_config(host, port, password_file, accounts)
        broker = _AuthenticatingBroker(config, running.metrics)
        try:
            with _quiet_start_failure():
                await broker.start()
        except Exception as exc:  # amqtt wraps bind failures in its own BrokerError
            raise GatewayError(
                f"embedded broker cannot listen on {host}:{port} ({exc}); is another broker"
                " running there? Choose another port with --mqtt-port"
            ) from exc
        try:
            yield running
        finally:
            await _shut_down(broker)
