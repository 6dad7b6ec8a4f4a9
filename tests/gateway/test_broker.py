"""The embedded broker's accounts and topic rules, tried with real clients on a real broker.

`mosquitto_sub` and `mosquitto_pub` (clients we did not write) do the talking wherever they
can; aiomqtt (paho underneath) is used where a test needs an exact SUBACK code, a will, or two
publishes on one connection. The gateway account's view is a persistent session: subscribe
once and leave, let the devices publish, then come back for what was queued, in order.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiomqtt
import pytest

import gateway.broker as broker_module
from gateway.broker import (
    Account,
    BrokerAccounts,
    DeviceAccount,
    EmbeddedBroker,
    embedded_broker,
)
from testkit.services import free_port

GATEWAY = Account("scgw-gateway", "gateway-password-0123")
DOOR_1 = DeviceAccount(Account("43011200001320000001", "door-1-password-0123"), "yida", "hik-isapi")
DOOR_2 = DeviceAccount(Account("43011200001320000002", "door-2-password-0123"), "yida", "hik-isapi")
CAMERA = DeviceAccount(Account("cam-yida-01", "camera-password-0123"), "yida", "gat1400")
YIDA = Account("yida-relay", "yida-password-0123")
JIAXIN = Account("jiaxin-relay", "jiaxin-password-0123")
ACCOUNTS = BrokerAccounts(GATEWAY, [DOOR_1, DOOR_2, CAMERA], {"yida": YIDA, "jiaxin": JIAXIN})
GATEWAY_CLIENT_ID = "scgw-demo"
YIDA_TOPIC = "yida/hik-isapi/43011200001320000001"
JIAXIN_TOPIC = "jiaxin/hik-isapi/43011200001320000002"
DOOR_1_TOPIC, DOOR_1_STATUS = DOOR_1.topics
DOOR_2_TOPIC, DOOR_2_STATUS = DOOR_2.topics
NOT_AUTHORISED = "Connection Refused: not authorised"


@dataclass(frozen=True)
class Finished:
    """A client process's exit code and output."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
async def broker() -> AsyncIterator[EmbeddedBroker]:
    async with embedded_broker(ACCOUNTS, free_port()) as running:
        yield running


async def client(tool: str, broker: EmbeddedBroker, *args: str, as_: Account | None) -> Finished:
    """Run `mosquitto_sub`/`mosquitto_pub` against the broker, logged in as `as_` (or not)."""
    login = () if as_ is None else ("-u", as_.username, "-P", as_.password)
    process = await asyncio.create_subprocess_exec(
        *(tool, "-h", broker.host, "-p", str(broker.port), *login, *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return Finished(process.returncode, stdout.decode(), stderr.decode())


async def publish(broker: EmbeddedBroker, account: Account, topic: str, message: str) -> None:
    """One QoS 1 message with `mosquitto_pub`, acknowledged by the broker."""
    done = await client("mosquitto_pub", broker, "-q", "1", "-t", topic, "-m", message, as_=account)
    assert done.returncode == 0, done.stderr


async def gateway_session(broker: EmbeddedBroker, client_id: str = GATEWAY_CLIENT_ID) -> None:
    """Open the gateway account's persistent session on `#` and leave it collecting."""
    done = await client(
        "mosquitto_sub", broker, "-i", client_id, "-c", "-q", "1", "-t", "#", "-E", as_=GATEWAY
    )
    assert done.returncode == 0, done.stderr


async def collect(
    broker: EmbeddedBroker, count: int, client_id: str = GATEWAY_CLIENT_ID
) -> list[str]:
    """Resume the gateway account's session and return the first `count` `topic message`s."""
    done = await client(
        "mosquitto_sub",
        broker,
        *("-i", client_id, "-c", "-q", "1", "-t", "#", "-v", "-C", str(count), "-W", "20"),
        as_=GATEWAY,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def aiomqtt_client(broker: EmbeddedBroker, account: Account, **options: object) -> aiomqtt.Client:
    return aiomqtt.Client(
        broker.host,
        broker.port,
        username=account.username,
        password=account.password,
        protocol=aiomqtt.ProtocolVersion.V311,
        **options,  # type: ignore[arg-type]
    )


class TestBrokerAccounts:
    """Account sets that would make the password file or the topic rules ambiguous are refused."""

    def test_two_accounts_sharing_a_user_name_are_refused(self) -> None:
        """A relay or a device account named like the gateway's is a ValueError."""
        with pytest.raises(ValueError, match="own user name"):
            BrokerAccounts(GATEWAY, relays={"yida": Account(GATEWAY.username, "other-password")})
        twin = DeviceAccount(Account(GATEWAY.username, "other-password"), "yida", "hik-isapi")
        with pytest.raises(ValueError, match="own user name"):
            BrokerAccounts(GATEWAY, [twin])

    @pytest.mark.parametrize("username", ["", "yida:devices", "yida\ndevices"])
    def test_a_user_name_the_password_file_cannot_hold_is_refused(self, username: str) -> None:
        """Empty names, and names with ':' or a line break, are refused."""
        with pytest.raises(ValueError, match="user names"):
            BrokerAccounts(GATEWAY, relays={"yida": Account(username, "password")})

    def test_an_account_without_a_password_is_refused(self) -> None:
        """An empty password is a ValueError."""
        with pytest.raises(ValueError, match="no password"):
            BrokerAccounts(Account("scgw-gateway", ""))

    @pytest.mark.parametrize("level", ["", "yida/b01", "+", "#", "$SYS"])
    def test_a_community_that_is_not_one_topic_level_is_refused(self, level: str) -> None:
        """Community codes with topic separators or wildcards are refused."""
        with pytest.raises(ValueError, match="single topic level"):
            BrokerAccounts(GATEWAY, relays={level: YIDA})

    @pytest.mark.parametrize("level", ["yida/b01", "+", "#", "$SYS"])
    @pytest.mark.parametrize("part", ["device id", "community", "dialect"])
    def test_a_device_whose_topics_are_not_single_levels_is_refused(
        self, level: str, part: str
    ) -> None:
        """A device id, community or dialect that would widen the device's topics is refused."""
        device_id, community, dialect = (
            level if part == name else default
            for name, default in (("device id", "d1"), ("community", "yida"), ("dialect", "hik"))
        )
        device = DeviceAccount(Account(device_id, "password"), community, dialect)
        with pytest.raises(ValueError, match="single topic level"):
            BrokerAccounts(GATEWAY, [device])


class TestDeviceAccount:
    """A device account's topics are its dialect's and its status topic, named by its id."""

    def test_its_topics_are_its_own(self) -> None:
        """The device id is the last level of both topics."""
        assert DOOR_1.topics == (
            "yida/hik-isapi/43011200001320000001",
            "yida/status/43011200001320000001",
        )

    def test_accounts_find_a_device_by_its_id(self) -> None:
        """`device` looks a device account up by id, and raises KeyError for a stranger."""
        assert ACCOUNTS.device(DOOR_2.device_id) == DOOR_2
        with pytest.raises(KeyError):
            ACCOUNTS.device("nobody")


class TestEmbeddedBrokerUrl:
    """An account's URL carries its login and reaches the broker's address."""

    def test_the_url_carries_the_percent_encoded_login(self) -> None:
        """User and password are percent-encoded into the URL's userinfo."""
        url = EmbeddedBroker("127.0.0.1", 1883).url(Account("yida-relay", "p@ss:w/rd"))
        assert url == "mqtt://yida-relay:p%40ss%3Aw%2Frd@127.0.0.1:1883"

    def test_without_an_account_the_url_has_no_login(self) -> None:
        """For a client bringing its own logins, the URL is just the address."""
        assert EmbeddedBroker("0.0.0.0", 1883).url() == "mqtt://127.0.0.1:1883"

    @pytest.mark.parametrize("host", ["0.0.0.0", "::"])
    def test_a_broker_on_every_interface_is_reached_through_loopback(self, host: str) -> None:
        """A wildcard listen address gives a URL on 127.0.0.1."""
        assert EmbeddedBroker(host, 1883).url(YIDA).endswith("@127.0.0.1:1883")


class TestListenAddress:
    """The broker listens on loopback only, unless given another address."""

    async def test_it_listens_on_127_0_0_1_only_by_default(self, broker: EmbeddedBroker) -> None:
        """127.0.0.1 answers; 127.0.0.2, the same machine by another address, is refused."""
        assert broker.host == "127.0.0.1"
        _, writer = await asyncio.open_connection("127.0.0.1", broker.port)
        writer.close()
        await writer.wait_closed()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.2", broker.port)

    async def test_it_listens_on_the_address_it_is_given(self) -> None:
        """Given 127.0.0.2, it answers there and not on 127.0.0.1."""
        async with embedded_broker(ACCOUNTS, free_port(), "127.0.0.2") as running:
            assert running.url(YIDA).endswith(f"@127.0.0.2:{running.port}")
            _, writer = await asyncio.open_connection("127.0.0.2", running.port)
            writer.close()
            await writer.wait_closed()
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection("127.0.0.1", running.port)


class TestAuthentication:
    """Only the configured accounts, with their passwords, get in."""

    async def test_an_anonymous_subscriber_is_refused(self, broker: EmbeddedBroker) -> None:
        """`mosquitto_sub` without a login is refused at CONNECT."""
        done = await client("mosquitto_sub", broker, "-t", "#", "-C", "1", "-W", "10", as_=None)
        assert done.returncode != 0
        assert NOT_AUTHORISED in done.stderr

    async def test_an_anonymous_publisher_is_refused(self, broker: EmbeddedBroker) -> None:
        """`mosquitto_pub` without a login is refused, and its message never arrives."""
        await gateway_session(broker)
        done = await client("mosquitto_pub", broker, "-t", YIDA_TOPIC, "-m", "anon", as_=None)
        assert done.returncode != 0
        assert NOT_AUTHORISED in done.stderr
        await publish(broker, YIDA, YIDA_TOPIC, "own")
        assert await collect(broker, 1) == [f"{YIDA_TOPIC} own"]

    @pytest.mark.parametrize(
        "login",
        [Account(GATEWAY.username, "wrong-password"), Account("nobody", GATEWAY.password)],
        ids=["wrong password", "unknown user"],
    )
    async def test_a_wrong_login_is_refused(self, broker: EmbeddedBroker, login: Account) -> None:
        """A wrong password, or a user nobody configured, is refused at CONNECT."""
        done = await client("mosquitto_sub", broker, "-t", "#", "-C", "1", "-W", "10", as_=login)
        assert done.returncode != 0
        assert NOT_AUTHORISED in done.stderr


class TestTopicRules:
    """The gateway's account subscribes and receives; relay accounts only publish, each under
    its own community."""

    async def test_the_gateway_account_subscribes_and_receives(
        self, broker: EmbeddedBroker
    ) -> None:
        """A device's publish reaches the gateway account's subscription to `#`."""
        await gateway_session(broker)
        await publish(broker, YIDA, YIDA_TOPIC, "hello")
        assert await collect(broker, 1) == [f"{YIDA_TOPIC} hello"]

    async def test_a_device_account_cannot_subscribe(self, broker: EmbeddedBroker) -> None:
        """A relay account's subscription to `#`, or to its own community, is refused."""
        done = await client("mosquitto_sub", broker, "-t", "#", "-C", "1", "-W", "10", as_=YIDA)
        assert "All subscription requests were denied" in done.stderr
        async with aiomqtt_client(broker, YIDA) as device:
            granted = await device.subscribe([("#", 1), ("yida/#", 1)])
        assert list(granted) == [0x80, 0x80]

    async def test_a_device_publishing_for_another_community_never_reaches_the_gateway(
        self, broker: EmbeddedBroker
    ) -> None:
        """Of three publishes on one connection, the one under another community is dropped."""
        await gateway_session(broker)
        async with aiomqtt_client(broker, YIDA) as device:
            await device.publish(YIDA_TOPIC, b"first", qos=1)
            await device.publish(JIAXIN_TOPIC, b"forged", qos=1)
            await device.publish(YIDA_TOPIC, b"second", qos=1)
        assert await collect(broker, 2) == [f"{YIDA_TOPIC} first", f"{YIDA_TOPIC} second"]

    async def test_a_refused_publish_is_logged_with_user_and_topic_but_not_payload(
        self, broker: EmbeddedBroker, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The refusal names the account and topic, so whoever set the device up can see it."""
        await gateway_session(broker)
        with caplog.at_level(logging.INFO, logger="gateway.broker"):
            async with aiomqtt_client(broker, YIDA) as device:
                await device.publish(JIAXIN_TOPIC, b"forged-payload", qos=1)
                await device.publish(YIDA_TOPIC, b"own", qos=1)
            # The broker handles a connection's messages in order: once the second has
            # arrived, the first has been judged.
            assert await collect(broker, 1) == [f"{YIDA_TOPIC} own"]
        lines = [r.getMessage() for r in caplog.records if r.name == "gateway.broker"]
        assert [line for line in lines if JIAXIN_TOPIC in line and YIDA.username in line]
        assert not [line for line in lines if "forged-payload" in line]

    async def test_a_topic_that_merely_starts_like_the_community_is_refused(
        self, broker: EmbeddedBroker
    ) -> None:
        """`yidax/...` is not under `yida/`: only the whole first level counts."""
        await gateway_session(broker)
        async with aiomqtt_client(broker, YIDA) as device:
            await device.publish("yidax/hik-isapi/1", b"lookalike", qos=1)
            await device.publish(YIDA_TOPIC, b"own", qos=1)
        assert await collect(broker, 1) == [f"{YIDA_TOPIC} own"]

    async def test_the_gateway_account_cannot_publish(self, broker: EmbeddedBroker) -> None:
        """A publish with the gateway's login is dropped; the device's next one arrives."""
        await gateway_session(broker)
        await publish(broker, GATEWAY, YIDA_TOPIC, "from-gateway")
        await publish(broker, YIDA, YIDA_TOPIC, "from-device")
        assert await collect(broker, 1) == [f"{YIDA_TOPIC} from-device"]

    async def test_a_will_under_another_community_is_refused_at_connect(
        self, broker: EmbeddedBroker
    ) -> None:
        """A will the account could not publish itself is refused; its own community's is not."""
        forged = aiomqtt.Will(JIAXIN_TOPIC, b"offline", qos=1)
        with pytest.raises(aiomqtt.MqttCodeError, match="Not authorized"):
            async with aiomqtt_client(broker, YIDA, will=forged):
                pass
        own = aiomqtt.Will(YIDA_TOPIC, b"offline", qos=1)
        async with aiomqtt_client(broker, YIDA, will=own) as device:
            await device.publish(YIDA_TOPIC, b"online", qos=1)


def refused(broker: EmbeddedBroker, action: str) -> float:
    """`scgw_broker_refused_total{action}` as the broker's registry exposes it."""
    value = broker.metrics.registry.get_sample_value(
        "scgw_broker_refused_total", {"action": action}
    )
    assert value is not None
    return value


class TestDeviceBinding:
    """A device account speaks only for itself: its own dialect topic and its own status topic."""

    async def test_a_device_publishing_as_another_device_never_reaches_the_gateway(
        self, broker: EmbeddedBroker
    ) -> None:
        """Door 1 publishing on door 2's topic (same community and dialect) is dropped."""
        await gateway_session(broker)
        await publish(broker, DOOR_1.account, DOOR_2_TOPIC, "forged")
        await publish(broker, DOOR_2.account, DOOR_2_TOPIC, "real")
        await publish(broker, DOOR_1.account, DOOR_1_TOPIC, "own")
        assert await collect(broker, 2) == [f"{DOOR_2_TOPIC} real", f"{DOOR_1_TOPIC} own"]
        assert refused(broker, "publish") == 1

    async def test_a_device_publishes_its_own_status_but_not_anothers(
        self, broker: EmbeddedBroker
    ) -> None:
        """Its status topic arrives; another device's status topic is refused and counted."""
        await gateway_session(broker)
        async with aiomqtt_client(broker, DOOR_1.account) as device:
            await device.publish(DOOR_2_STATUS, b"forged-offline", qos=1)
            await device.publish(DOOR_1_STATUS, b"online", qos=1)
        assert await collect(broker, 1) == [f"{DOOR_1_STATUS} online"]
        assert refused(broker, "publish") == 1

    async def test_every_topic_but_its_own_two_is_refused(self, broker: EmbeddedBroker) -> None:
        """Another dialect, community, depth or device is refused; then its own topic arrives."""
        own = DOOR_1.device_id
        forged = [
            f"yida/gat1400/{own}",  # a dialect it is not registered for
            f"jiaxin/hik-isapi/{own}",  # another community
            f"yida/hik-isapi/{own}/1",  # deeper
            f"yida/hik-isapi/{own}x",  # a longer id starting with its own
            "yida/hik-isapi",
            f"yida/{own}",
            CAMERA.topics[0],
        ]
        await gateway_session(broker)
        async with aiomqtt_client(broker, DOOR_1.account) as device:
            for topic in forged:
                await device.publish(topic, b"forged", qos=1)
            await device.publish(DOOR_1_TOPIC, b"own", qos=1)
        # A connection's messages are judged in order: once the last arrived, all were judged.
        assert await collect(broker, 1) == [f"{DOOR_1_TOPIC} own"]
        assert refused(broker, "publish") == len(forged)

    async def test_a_device_account_cannot_subscribe(self, broker: EmbeddedBroker) -> None:
        """`mosquitto_sub` as a device, even to its own topics, is denied and counted."""
        done = await client(
            "mosquitto_sub", broker, "-t", DOOR_1_TOPIC, "-C", "1", "-W", "10", as_=DOOR_1.account
        )
        assert "All subscription requests were denied" in done.stderr
        assert refused(broker, "subscribe") == 1

    async def test_a_will_on_another_devices_topic_is_refused_at_connect(
        self, broker: EmbeddedBroker
    ) -> None:
        """A will naming another device's status is refused and counted; its own is accepted."""
        forged = aiomqtt.Will(DOOR_2_STATUS, b"offline", qos=1)
        with pytest.raises(aiomqtt.MqttCodeError, match="Not authorized"):
            async with aiomqtt_client(broker, DOOR_1.account, will=forged):
                pass
        assert refused(broker, "will") == 1
        own = aiomqtt.Will(DOOR_1_STATUS, b"offline", qos=1)
        async with aiomqtt_client(broker, DOOR_1.account, will=own) as device:
            await device.publish(DOOR_1_STATUS, b"online", qos=1)
        assert refused(broker, "will") == 1

    async def test_a_device_with_another_devices_password_is_refused(
        self, broker: EmbeddedBroker
    ) -> None:
        """Door 1's user name with door 2's password is refused at CONNECT and counted."""
        login = Account(DOOR_1.device_id, DOOR_2.account.password)
        done = await client("mosquitto_pub", broker, "-t", DOOR_1_TOPIC, "-m", "x", as_=login)
        assert NOT_AUTHORISED in done.stderr
        assert refused(broker, "connect") == 1


class TestRefusalLog:
    """Refusals are logged with the account and topic, personal-looking levels replaced."""

    async def test_personal_looking_levels_never_reach_the_log(
        self, broker: EmbeddedBroker, caplog: pytest.LogCaptureFixture
    ) -> None:
        """An ID number as a topic level and a phone number as a user name are logged masked."""
        id_number, phone = "110101199003078515", "13812345678"
        await gateway_session(broker)
        with caplog.at_level(logging.INFO, logger="gateway.broker"):
            async with aiomqtt_client(broker, DOOR_1.account) as device:
                await device.publish(f"yida/status/{id_number}", b"forged", qos=1)
                await device.publish(DOOR_1_TOPIC, b"own", qos=1)
            assert await collect(broker, 1) == [f"{DOOR_1_TOPIC} own"]
            done = await client(
                "mosquitto_pub", broker, "-t", "x", "-m", "x", as_=Account(phone, "guess")
            )
            assert NOT_AUTHORISED in done.stderr
        lines = [r.getMessage() for r in caplog.records if r.name == "gateway.broker"]
        assert [line for line in lines if "yida/status/<level 3>" in line]
        assert [line for line in lines if "<level 1>" in line]
        assert not [line for line in lines if id_number in line or phone in line]


class TestSessionOwnership:
    """Nobody but the gateway's account can touch the gateway's session: not by connecting
    with its client id without a password, nor with another account's password."""

    async def test_an_anonymous_client_using_the_gateways_id_leaves_its_queue_alone(
        self, broker: EmbeddedBroker
    ) -> None:
        """A refused clean-session CONNECT with the gateway's client id deletes nothing."""
        await gateway_session(broker)
        await publish(broker, YIDA, YIDA_TOPIC, "queued")
        done = await client(
            "mosquitto_sub", broker, "-i", GATEWAY_CLIENT_ID, "-t", "x", "-W", "10", as_=None
        )
        assert NOT_AUTHORISED in done.stderr
        assert await collect(broker, 1) == [f"{YIDA_TOPIC} queued"]

    async def test_another_account_cannot_take_the_gateways_client_id(
        self, broker: EmbeddedBroker
    ) -> None:
        """A device account connecting with the gateway's client id is rejected; the queue stays."""
        await gateway_session(broker)
        await publish(broker, YIDA, YIDA_TOPIC, "queued")
        done = await client(
            "mosquitto_sub",
            broker,
            *("-i", GATEWAY_CLIENT_ID, "-c", "-q", "1", "-t", "#", "-W", "10"),
            as_=YIDA,
        )
        assert "Connection Refused: identifier rejected" in done.stderr
        assert await collect(broker, 1) == [f"{YIDA_TOPIC} queued"]


class TestShutdownIsBounded:
    """Stopping the demo never hangs on a broker that waits for clients already gone."""

    async def test_a_shutdown_that_never_ends_is_abandoned_with_a_warning(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The broker gets BROKER_SHUTDOWN_S to close; after that the demo stops anyway."""
        never = asyncio.Event()

        class HangingBroker:
            async def shutdown(self) -> None:
                await never.wait()

        monkeypatch.setattr(broker_module, "BROKER_SHUTDOWN_S", 0.01)
        with caplog.at_level(logging.WARNING, logger="gateway.broker"):
            await broker_module._shut_down(HangingBroker())
        assert "did not close" in caplog.text
