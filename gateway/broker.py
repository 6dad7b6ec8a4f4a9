"""The embedded MQTT broker (amqtt) that lets `scgw demo` run with nothing installed.

Production uses Mosquitto or EMQX; amqtt speaks MQTT 3.1.1 only, so the demo's gateway
connects with protocol 3.1.1 and a persistent (clean session off) session.

Nobody connects without an account, and each account has one job: the gateway's account
subscribes (to anything) and publishes nothing; a community's account publishes under
`{community}/` and subscribes to nothing. Passwords are checked by amqtt's own
`FileAuthPlugin` against a password file of Argon2 hashes written for the broker's lifetime;
the topic rules are `CommunityTopicPlugin` below. The broker listens on 127.0.0.1 unless told
otherwise.
"""

import contextlib
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
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
from pwdlib.hashers.argon2 import Argon2Hasher

from gateway.errors import GatewayError

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_WILDCARD_HOSTS = {"", "0.0.0.0", "::"}

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
class BrokerAccounts:
    """Who may connect: the gateway's account and one publishing account per community."""

    gateway: Account
    communities: Mapping[str, Account]
    """Community code -> the account its devices (and simulators) publish with."""

    def __post_init__(self) -> None:
        accounts = [self.gateway, *self.communities.values()]
        names = [account.username for account in accounts]
        if len(set(names)) != len(names):
            raise ValueError("every broker account needs its own user name")
        for account in accounts:
            if not account.username or ":" in account.username or "\n" in account.username:
                raise ValueError("broker user names are non-empty, without ':' or line breaks")
            if not account.password:
                raise ValueError(f"broker account {account.username!r} has no password")
        for community in self.communities:
            if not community or any(char in community for char in "/+#$"):
                raise ValueError(f"community {community!r} is not a single topic level")


@dataclass(frozen=True, slots=True)
class EmbeddedBroker:
    """Where the running broker listens, and how an account's client reaches it."""

    host: str
    port: int

    def url(self, account: Account) -> str:
        """`mqtt://user:pass@host:port` for `account` (user and password percent-encoded)."""
        host = LOOPBACK if self.host in _WILDCARD_HOSTS else self.host
        userinfo = f"{quote(account.username, safe='')}:{quote(account.password, safe='')}"
        return f"mqtt://{userinfo}@{host}:{self.port}"


class CommunityTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]  # amqtt: no type hints
    """Subscribing and receiving are for subscriber accounts; publishing is for community
    accounts, only under their own community's first topic level. Anonymous is nobody."""

    @dataclass
    class Config:
        subscribers: list[str] = field(default_factory=list)
        publishers: dict[str, str] = field(default_factory=dict)
        """User name -> the community it publishes for."""

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
        config: CommunityTopicPlugin.Config = self.config
        if action == Action.RECEIVE:
            return username in config.subscribers
        if action == Action.SUBSCRIBE:
            allowed = username in config.subscribers
        elif action == Action.PUBLISH:
            community = config.publishers.get(username)
            allowed = community is not None and topic.startswith(f"{community}/")
        else:
            return False
        if not allowed:
            # A device that cannot publish should be visible to whoever set it up.
            logger.info("embedded broker refused %s by user %r on %r", action, username, topic)
        return allowed


class _AuthenticatingBroker(Broker):  # type: ignore[misc]  # amqtt: no type hints
    """amqtt's broker, deciding whether to accept a CONNECT before it touches any session.

    amqtt 0.12.1 looks up the client id's session first: a clean-session CONNECT deletes the
    existing session of that id (its subscriptions and queued messages) and a second
    connection takes over the first, and only then are the credentials checked. So anyone who
    knew the gateway's client id could wipe its queue without a password. Here the password,
    the client id's owner and the will topic are checked first; the rest is amqtt's own code.
    """

    async def _initialize_client_session(
        self, reader: Any, writer: Any, remote_address: str, remote_port: int
    ) -> tuple[BrokerProtocolHandler, Session]:
        handler, session = await BrokerProtocolHandler.init_from_connect(
            reader, writer, self.plugins_manager
        )
        refusal = await self._refusal(session)
        if refusal is not None:
            code, reason = refusal
            logger.warning(
                "embedded broker refused client %r (user %r) from %s: %s",
                session.client_id,
                session.username,
                remote_address,
                reason,
            )
            connack = ConnackPacket.build(0, code)
            await self.plugins_manager.fire_event(MQTTEvents.PACKET_SENT, packet=connack)
            await connack.to_stream(writer)
            await writer.close()
            raise MQTTError(f"connection refused: {reason}")
        return handler, await self._resolve_session(session)

    async def _refusal(self, session: Session) -> tuple[int, str] | None:
        """Why this CONNECT must be refused (CONNACK code, reason), or None to accept it."""
        if not await self._authenticate(session, None):
            return NOT_AUTHORIZED, "bad user name or password"
        existing = self._sessions.get(session.client_id)
        if existing is not None and existing[0].username != session.username:
            return IDENTIFIER_REJECTED, "client id belongs to another account's session"
        if session.will_flag and not await self._topic_filtering(
            session, session.will_topic, Action.PUBLISH
        ):
            return NOT_AUTHORIZED, "will topic outside the account's publishing rights"
        return None

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
    lines = [
        f"{account.username}:{_HASHER.hash(account.password)}\n"
        for account in (accounts.gateway, *accounts.communities.values())
    ]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
    return path


def _broker_config(
    host: str, port: int, password_file: Path, accounts: BrokerAccounts
) -> dict[str, Any]:
    publishers = {account.username: code for code, account in accounts.communities.items()}
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {
            "amqtt.plugins.authentication.FileAuthPlugin": {"password_file": str(password_file)},
            f"{__name__}.{CommunityTopicPlugin.__name__}": {
                "subscribers": [accounts.gateway.username],
                "publishers": publishers,
            },
        },
    }


@contextlib.asynccontextmanager
async def embedded_broker(
    accounts: BrokerAccounts, port: int, host: str = LOOPBACK
) -> AsyncIterator[EmbeddedBroker]:
    """Run a broker on host:port for the block, open to `accounts` only."""
    # amqtt logs every connection at INFO; the demo's console is for the gateway's story.
    for noisy in ("amqtt", "transitions"):  # amqtt's session state machine logs at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="scgw-broker-") as directory:
        password_file = _password_file(Path(directory), accounts)
        broker = _AuthenticatingBroker(_broker_config(host, port, password_file, accounts))
        try:
            await broker.start()
        except Exception as exc:  # amqtt wraps bind failures in its own BrokerError
            raise GatewayError(
                f"embedded broker cannot listen on {host}:{port} ({exc}); is another broker"
                " running there? Choose another port with --mqtt-port"
            ) from exc
        try:
            yield EmbeddedBroker(host, port)
        finally:
            await broker.shutdown()
