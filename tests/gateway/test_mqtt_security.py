"""Specification of the subscriber's login and TLS (`gateway.mqtt`) against a real Mosquitto.

The broker here refuses anonymous clients (a password file) and listens twice: in plain text
for the test's publisher, and with TLS (a certificate made for the test, signed by a CA made
for the test) for the subscriber, which trusts that CA through `SSL_CERT_FILE`, as an
operator would point it at the city's CA.
"""

import asyncio
import base64
import datetime as dt
import hashlib
import ipaddress
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.broker import Account
from gateway.mqtt import BrokerAddress, BrokerError, MqttSubscriber, SessionOptions
from testkit.harness import mosquitto_pub
from testkit.services import MOSQUITTO_BIN, free_port

GATEWAY = Account("scgw-gateway", "gateway-密码-0123")
PUBLISHER = Account("publisher", "publisher-password-0123")


def mosquitto_password_line(account: Account) -> str:
    """Mosquitto 2's `$7$` format (PBKDF2-SHA512, 101 rounds), as `mosquitto_passwd` writes."""
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", account.password.encode(), salt, 101)
    encoded = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"{account.username}:$7$101${encoded[0]}${encoded[1]}"


def write_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate for 127.0.0.1 signed by it: (ca, certificate, key) files."""
    now = dt.datetime.now(dt.UTC)

    def certificate(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scgw test CA")])
    ca = (
        certificate("scgw test CA", ca_key, ca_name)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        certificate("127.0.0.1", key, ca_name)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = (directory / name for name in ("ca.pem", "cert.pem", "key.pem"))
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


@dataclass(frozen=True)
class SecuredBroker:
    plain_port: int
    tls_port: int
    ca_file: Path

    def address(self, account: Account | None, *, tls: bool) -> BrokerAddress:
        return BrokerAddress(
            "127.0.0.1",
            self.tls_port if tls else self.plain_port,
            account.username if account else None,
            account.password if account else None,
            tls,
        )


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"mosquitto not listening on {port}: {log.read_text(errors='replace')}")


@pytest.fixture(scope="module")
def secured_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    workdir = tmp_path_factory.mktemp("mosquitto-secured")
    ca_file, cert_file, key_file = write_certificates(workdir)
    passwords = workdir / "passwords"
    passwords.write_text("".join(mosquitto_password_line(a) + "\n" for a in (GATEWAY, PUBLISHER)))
    plain_port, tls_port = free_port(), free_port()
    log = workdir / "mosquitto.log"
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        "\n".join(
            [
                *(["user root"] if os.geteuid() == 0 else []),
                "per_listener_settings false",
                "allow_anonymous false",
                f"password_file {passwords}",
                "persistence false",
                f"log_dest file {log}",
                f"listener {plain_port} 127.0.0.1",
                f"listener {tls_port} 127.0.0.1",
                f"cafile {ca_file}",
                f"certfile {cert_file}",
                f"keyfile {key_file}",
                "",
            ]
        )
    )
    process = subprocess.Popen(
        [str(MOSQUITTO_BIN), "-c", str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log.with_suffix(".stderr").open("wb"),
        start_new_session=True,
    )
    try:
        wait_listening(plain_port, process, log)
        wait_listening(tls_port, process, log)
        yield SecuredBroker(plain_port, tls_port, ca_file)
    finally:
        process.terminate()
        process.wait(10)


async def receive_one(broker: SecuredBroker, address: BrokerAddress, protocol: str) -> bytes:
    """Connect, subscribe, have the publisher send one message; its payload."""
    topic = f"secure/{uuid.uuid4().hex[:8]}"
    subscriber = MqttSubscriber(
        address, SessionOptions(client_id=uuid.uuid4().hex, protocol=protocol)
    )
    await subscriber.connect()
    try:
        await subscriber.subscribe([topic])
        await mosquitto_pub(broker.plain_port, topic, [b"hello"], account=PUBLISHER)
        async with asyncio.timeout(30):
            (message,) = await subscriber.next_batch(1, 0.05)
        message.ack()
        return message.payload
    finally:
        await subscriber.close()


PROTOCOLS = ["3.1.1", "5"]


class TestUserNameAndPassword:
    """The gateway logs in; a wrong password is a BrokerError naming the refusal."""

    @pytest.mark.parametrize("protocol", PROTOCOLS)
    async def test_the_right_password(self, secured_broker: SecuredBroker, protocol: str) -> None:
        address = secured_broker.address(GATEWAY, tls=False)
        assert await receive_one(secured_broker, address, protocol) == b"hello"

    @pytest.mark.parametrize("protocol", PROTOCOLS)
    async def test_a_wrong_password(self, secured_broker: SecuredBroker, protocol: str) -> None:
        address = secured_broker.address(Account(GATEWAY.username, "wrong"), tls=False)
        subscriber = MqttSubscriber(address, SessionOptions(client_id="wrong", protocol=protocol))
        with pytest.raises(BrokerError, match=r"refused: (not authorized|bad user name)"):
            await subscriber.connect()
        await subscriber.close()

    async def test_no_account_at_all(self, secured_broker: SecuredBroker) -> None:
        subscriber = MqttSubscriber(
            secured_broker.address(None, tls=False), SessionOptions(client_id="anonymous")
        )
        with pytest.raises(BrokerError, match="refused"):
            await subscriber.connect()
        await subscriber.close()


class TestTls:
    """`mqtts://` verifies the broker's certificate against the trusted CAs."""

    @pytest.mark.parametrize("protocol", PROTOCOLS)
    async def test_a_trusted_broker(
        self, secured_broker: SecuredBroker, protocol: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("SSL_CERT_FILE", str(secured_broker.ca_file))
        address = BrokerAddress.from_url(
            f"mqtts://{GATEWAY.username}:{GATEWAY.password}@127.0.0.1:{secured_broker.tls_port}"
        )
        assert address.tls
        assert await receive_one(secured_broker, address, protocol) == b"hello"

    async def test_an_untrusted_certificate_is_refused(self, secured_broker: SecuredBroker) -> None:
        address = secured_broker.address(GATEWAY, tls=True)  # the CA is not trusted here
        subscriber = MqttSubscriber(address, SessionOptions(client_id="untrusting"))
        with pytest.raises(BrokerError, match="CERTIFICATE_VERIFY_FAILED"):
            await subscriber.connect()
        await subscriber.close()
