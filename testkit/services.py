"""Throwaway mosquitto and PostgreSQL+TimescaleDB instances for the test suite.

The tests run against real brokers and databases rather than mocks, because the
gateway's interesting behaviour (persistent MQTT sessions, QoS redelivery,
hypertable inserts, reconnects) lives in the interaction with those servers.
The machine's own mosquitto/postgresql system services are never used: they may
not be running (CI machines start no services), and sharing them between test
runs would make tests order-dependent. Instead every test session starts its own
private instances on free loopback ports, with their files in temp dirs.

This module is stdlib-only so that it can be imported by ``conftest.py`` (and
run as a self-check: ``python testkit/services.py``) before any third-party
package is known to be installed. The binaries come from
``scripts/install-test-services.sh``; when they are missing (or the broker is
older than Mosquitto 2.0.13) the ``start_*`` functions raise ``RuntimeError``
saying so, instead of skipping tests, so that a broken environment can never
look like a green run.

Running as root (the normal case on CI and the dev machines): PostgreSQL
refuses to run as root, so initdb and postgres are run as the ``postgres``
system user (created by the postgresql-15 package). That user cannot enter
pytest's ``/tmp/pytest-of-root`` tree (mode 0700), so the PostgreSQL runtime
directory (data dir + unix socket dir) is a fresh ``/tmp/scgw-pg-*`` directory
owned by ``postgres``, removed again by ``PostgresService.stop()``; only the
server log is kept in the caller's ``workdir``. Mosquitto, which as root would
drop privileges to the ``mosquitto`` user and then be unable to write its log,
is told to stay root with ``user root``.
"""

from __future__ import annotations

import functools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

INSTALL_HINT = "run scripts/install-test-services.sh"

MOSQUITTO_BIN = Path(os.environ.get("SCGW_MOSQUITTO", "/usr/local/sbin/mosquitto"))
"""The broker install-test-services.sh builds (SCGW_MOSQUITTO overrides, for both)."""
MOSQUITTO_MIN_VERSION = (2, 0, 13)
"""Mosquitto 2.0.11 (Debian 12's package) stops enforcing a subscriber's in-flight window
once acknowledgements arrive in order; 2.0.13 fixed it, and the tests hold brokers to it."""
PG_MAJOR = 15
PG_BIN_DIR = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
PG_SUPERUSER = "postgres"
PG_DEFAULT_DB = "scgw"
LOOPBACK = "127.0.0.1"

_PG_SYSTEM_USER = "postgres"
_PORT_ATTEMPTS = 3
_LOG_TAIL_LINES = 30
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# libpq variables that would silently redirect our psql calls elsewhere.
_LIBPQ_ENV = (
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGOPTIONS",
    "PGSSLMODE",
    "PGTARGETSESSIONATTRS",
)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now.

    The OS picks the port (bind to port 0), which avoids collisions with other
    test sessions on the same machine. Another process could still grab it
    before our server binds it, so the ``start_*`` functions retry with a new
    port when the server reports the address is in use.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _is_root() -> bool:
    return os.geteuid() == 0


def _tail(*paths: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """Last lines of each existing file, for error messages that explain why."""
    parts: list[str] = []
    for path in paths:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        tail = "\n".join(text.splitlines()[-lines:])
        parts.append(f"---- {path} (last {lines} lines) ----\n{tail}")
    return "\n".join(parts) if parts else "(no log output)"


def _port_bindable(port: int) -> bool:
    """True if nothing listens on 127.0.0.1:``port`` (TIME_WAIT leftovers are fine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def _mqtt_ready(port: int) -> bool:
    """True when an MQTT broker answers a CONNECT on ``port`` with CONNACK(accepted).

    A bare TCP connect is not enough: when a caller-chosen port is already
    taken by something else, the port is open although our broker failed to
    bind it and exited.
    """
    client_id = b"scgw-readiness-probe"
    variable_header = b"\x00\x04MQTT\x04\x02\x00\x3c"  # MQTT 3.1.1, clean session
    payload = len(client_id).to_bytes(2, "big") + client_id
    body = variable_header + payload
    connect = bytes([0x10, len(body)]) + body
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1.0) as sock:
            sock.sendall(connect)
            connack = b""
            while len(connack) < 4:
                chunk = sock.recv(4 - len(connack))
                if not chunk:
                    return False
                connack += chunk
            sock.sendall(b"\xe0\x00")  # DISCONNECT
            return connack == b"\x20\x02\x00\x00"
    except OSError:
        return False


def _stop_process(process: subprocess.Popen[bytes], sig: signal.Signals, timeout: float) -> None:
    """Send ``sig`` and wait; kill if the process does not exit in time."""
    if process.poll() is not None:
        return
    try:
        process.send_signal(sig)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LIBPQ_ENV}
    env.setdefault("LC_ALL", "C")
    return env


# ---------------------------------------------------------------------------
# mosquitto
# ---------------------------------------------------------------------------


class _StopsOnExit:
    """`with service:` stops the service on leaving the block, however it is left."""

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass
class MosquittoService(_StopsOnExit):
    """A running private mosquitto broker listening on 127.0.0.1:``port``."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path
    _stderr: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Broker URL in the form the gateway's config expects."""
        return f"mqtt://{LOOPBACK}:{self.port}"

    @property
    def conf_path(self) -> Path:
        """The generated mosquitto.conf."""
        return self.workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        """mosquitto's own log (``log_dest file``)."""
        return self.workdir / "mosquitto.log"

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Recent broker log lines, for assertion messages."""
        return _tail(self.log_path, self.workdir / "mosquitto.stderr", lines=lines)

    def is_running(self) -> bool:
        """True while the broker process is alive."""
        return self.process.poll() is None

    def stop(self) -> None:
        """Terminate the broker and wait for it; safe to call twice.

        Tests also call this mid-test to simulate a broker outage.
        """
        _stop_process(self.process, signal.SIGTERM, timeout=10)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


def _mosquitto_conf(
    port: int, workdir: Path, max_queued_messages: int, sys_interval_s: int | None
) -> str:
    lines = [
        "# generated by testkit/services.py",
        # Global settings apply to every listener (per_listener_settings false).
        "per_listener_settings false",
        "allow_anonymous true",
        # Sessions live in memory for the broker's lifetime; nothing on disk.
        "persistence false",
        # Persistent-session queue depth: tests queue ~20k QoS 1 messages while
        # the consumer is offline; the default (1000) would drop most of them.
        f"max_queued_messages {max_queued_messages}",
        "max_queued_bytes 0",
        # No cap on in-flight QoS 1/2 messages per client (0 = unlimited), so
        # throughput tests measure the gateway rather than broker flow control.
        "max_inflight_messages 0",
        "max_inflight_bytes 0",
        "set_tcp_nodelay true",
        f"log_dest file {workdir / 'mosquitto.log'}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_timestamp true",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        f"listener {port} {LOOPBACK}",
    ]
    if sys_interval_s is not None:
        # `$SYS/broker/...` every so many seconds (default 10): what a test asks the broker
        # about itself (messages it still holds) is at most this old.
        lines.insert(-1, f"sys_interval {sys_interval_s}")
    if _is_root():
        # As root mosquitto would switch to the `mosquitto` user, which cannot
        # write into a root-owned (often 0700) temp dir. Stay root instead.
        lines.insert(1, "user root")
    return "\n".join(lines) + "\n"


def mosquitto_version(binary: Path) -> tuple[int, ...] | None:
    """The version ``binary -h`` reports (its usage's first line), or None if it does not."""
    # `mosquitto -h` prints its usage and exits 3; only the output matters.
    result = subprocess.run(
        [str(binary), "-h"], capture_output=True, text=True, timeout=10, check=False
    )
    found = re.search(r"^mosquitto version (\d+(?:\.\d+)*)", result.stdout + result.stderr, re.M)
    return tuple(int(part) for part in found.group(1).split(".")) if found else None


@functools.cache
def require_mosquitto(binary: Path) -> None:
    """Raise ``RuntimeError`` unless ``binary`` is a Mosquitto at least MOSQUITTO_MIN_VERSION.

    Checked once per process, when a session first starts a broker.
    """
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise RuntimeError(f"mosquitto not installed ({binary} missing): {INSTALL_HINT}")
    version = mosquitto_version(binary)
    wanted = ".".join(map(str, MOSQUITTO_MIN_VERSION))
    if version is None:
        raise RuntimeError(f"{binary} -h does not say which mosquitto it is: {INSTALL_HINT}")
    if version < MOSQUITTO_MIN_VERSION:
        found = ".".join(map(str, version))
        raise RuntimeError(
            f"{binary} is mosquitto {found}; the tests need {wanted} or later (2.0.11"
            f" releases a subscriber's whole backlog once its acknowledgements arrive in"
            f" order): {INSTALL_HINT}"
        )


def start_mosquitto(
    workdir: Path,
    *,
    max_queued_messages: int = 200_000,
    sys_interval_s: int | None = None,
    port: int | None = None,
    timeout: float = 10.0,
) -> MosquittoService:
    """Start a private mosquitto broker with its config and log in ``workdir``.

    ``port`` may be given to restart a broker on the same port (reconnect
    tests); otherwise a free port is chosen. Waits until the port accepts TCP
    connections, raising ``RuntimeError`` with the log tail on failure.
    ``sys_interval_s`` refreshes the broker's ``$SYS`` tree that often
    (mosquitto's default: every 10 s).
    """
    require_mosquitto(MOSQUITTO_BIN)
    workdir.mkdir(parents=True, exist_ok=True)
    conf_path = workdir / "mosquitto.conf"
    stderr_path = workdir / "mosquitto.stderr"

    if port is not None and not _port_bindable(port):
        # Checked up front: a broker already answering there would otherwise
        # pass the readiness probe while ours exits with "Address in use".
        raise RuntimeError(f"cannot start mosquitto: {LOOPBACK}:{port} is already in use")
    attempts = 1 if port is not None else _PORT_ATTEMPTS
    last_error = ""
    for _ in range(attempts):
        chosen = port if port is not None else free_port()
        conf_path.write_text(_mosquitto_conf(chosen, workdir, max_queued_messages, sys_interval_s))
        stderr = stderr_path.open("ab")
        process = subprocess.Popen(
            [str(MOSQUITTO_BIN), "-c", str(conf_path)],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            cwd=workdir,
            start_new_session=True,
        )
        service = MosquittoService(LOOPBACK, chosen, process, workdir, stderr)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if _mqtt_ready(chosen):
                if process.poll() is None:
                    return service
                break
            time.sleep(0.05)
        service.stop()
        logs = service.log_tail()
        last_error = (
            f"mosquitto did not accept connections on {LOOPBACK}:{chosen} within "
            f"{timeout:.0f} s (exit code {process.returncode})\n{logs}"
        )
        if "Address already in use" not in logs:
            break
    raise RuntimeError(last_error)


# ---------------------------------------------------------------------------
# PostgreSQL + TimescaleDB
# ---------------------------------------------------------------------------


@dataclass
class PostgresService(_StopsOnExit):
    """A running private PostgreSQL 15 server with TimescaleDB preloaded.

    Reachable over TCP at 127.0.0.1:``port`` as superuser ``postgres`` without
    a password (trust auth), and over the unix socket in ``socket_dir``.
    """

    port: int
    datadir: Path
    socket_dir: Path
    process: subprocess.Popen[bytes]
    workdir: Path
    runtime_dir: Path
    run_as: str | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    host: str = LOOPBACK

    @property
    def log_path(self) -> Path:
        """The server log (postgres' stderr), kept in ``workdir``."""
        return self.workdir / "postgres.log"

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Recent server log lines, for assertion messages."""
        return _tail(self.log_path, lines=lines)

    def dsn(self, dbname: str = PG_DEFAULT_DB) -> str:
        """libpq/psycopg 3 connection URL for ``dbname`` over TCP loopback."""
        return f"postgresql://{PG_SUPERUSER}@{LOOPBACK}:{self.port}/{dbname}"

    def psql(self, sql: str, dbname: str = PG_DEFAULT_DB) -> str:
        """Run ``sql`` with psql and return its unaligned, tuples-only output.

        psql keeps this module free of third-party drivers; it stops at the
        first error and raises ``RuntimeError`` with psql's message.
        """
        return _psql(self.dsn(dbname), sql)

    def create_database(self, name: str, *, timescaledb: bool = True) -> str:
        """Create a fresh database (with the timescaledb extension) and return its DSN.

        Lets each test own its database, so tests cannot see each other's rows
        and need no cleanup between them.
        """
        _check_identifier(name)
        self.psql(f'CREATE DATABASE "{name}"', dbname="postgres")
        if timescaledb:
            self.psql("CREATE EXTENSION IF NOT EXISTS timescaledb", dbname=name)
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, disconnecting any sessions still using it."""
        _check_identifier(name)
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', dbname="postgres")

    def is_running(self) -> bool:
        """True while the postmaster process is alive."""
        return self.process.poll() is None

    def stop(self, *, remove_data: bool = True) -> None:
        """Fast-shutdown the server; remove its runtime dir unless told not to.

        SIGINT is PostgreSQL's "fast" shutdown: it disconnects clients and
        exits without waiting for them, which is what a test teardown wants.
        The log stays in ``workdir``. Safe to call twice.
        """
        _stop_process(self.process, signal.SIGINT, timeout=30)
        if self._log is not None:
            self._log.close()
            self._log = None
        if remove_data:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)


def _check_identifier(name: str) -> None:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(
            f"database name {name!r} must match {_IDENTIFIER.pattern} (lowercase, no quoting)"
        )


def _psql(dsn: str, sql: str) -> str:
    psql = PG_BIN_DIR / "psql"
    result = subprocess.run(
        [str(psql), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=_clean_env(),
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"psql failed (exit {result.returncode}) on {dsn}: {sql!r}\n"
            f"{result.stderr.decode(errors='replace').strip()}"
        )
    return result.stdout.decode(errors="replace").strip()


def _require_postgres() -> None:
    for name in ("initdb", "postgres", "psql", "pg_isready", "pg_config"):
        path = PG_BIN_DIR / name
        if not os.access(path, os.X_OK):
            raise RuntimeError(
                f"postgresql {PG_MAJOR} not installed ({path} missing): {INSTALL_HINT}"
            )
    sharedir = subprocess.run(
        [str(PG_BIN_DIR / "pg_config"), "--sharedir"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    control = Path(sharedir) / "extension" / "timescaledb.control"
    if not control.is_file():
        raise RuntimeError(
            f"timescaledb not installed for postgresql {PG_MAJOR} ({control} missing): "
            f"{INSTALL_HINT}"
        )
    if _is_root():
        try:
            pwd.getpwnam(_PG_SYSTEM_USER)
        except KeyError:
            raise RuntimeError(
                f"running as root but system user {_PG_SYSTEM_USER!r} does not exist "
                f"(postgresql refuses to run as root): {INSTALL_HINT}"
            ) from None


def _make_runtime_dir() -> tuple[Path, str | None]:
    """Create the dir holding the data dir and socket dir, owned by the server user.

    As root, the server runs as ``postgres``, which must be able to reach the
    directory: it is created directly under /tmp (world-traversable), not under
    the caller's possibly 0700 workdir, and chowned to ``postgres``.
    """
    if _is_root():
        runtime = Path(tempfile.mkdtemp(prefix="scgw-pg-", dir="/tmp"))
        entry = pwd.getpwnam(_PG_SYSTEM_USER)
        os.chown(runtime, entry.pw_uid, entry.pw_gid)
        runtime.chmod(0o755)
        return runtime, _PG_SYSTEM_USER
    # Short path under the temp dir: unix socket paths are limited to ~107 bytes.
    return Path(tempfile.mkdtemp(prefix="scgw-pg-")), None


@dataclass(frozen=True)
class _Identity:
    """uid/gid/supplementary groups for Popen's ``user``/``group``/``extra_groups``.

    All ``None`` means "stay who we are"; switching is done by Popen in the
    child right before exec (no preexec_fn, which is unsafe with threads).
    """

    uid: int | None = None
    gid: int | None = None
    groups: list[int] | None = None


def _identity(user: str | None) -> _Identity:
    if user is None:
        return _Identity()
    entry = pwd.getpwnam(user)
    return _Identity(entry.pw_uid, entry.pw_gid, [])


def _initdb(runtime: Path, datadir: Path, user: str | None, workdir: Path) -> None:
    log = workdir / "initdb.log"
    who = _identity(user)
    with log.open("wb") as out:
        result = subprocess.run(
            [
                str(PG_BIN_DIR / "initdb"),
                "-D",
                str(datadir),
                "-U",
                PG_SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=runtime,
            env=_clean_env(),
            check=False,
            user=who.uid,
            group=who.gid,
            extra_groups=who.groups,
        )
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed (exit {result.returncode})\n{_tail(log)}")


def _wait_postgres_ready(port: int, process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        ready = subprocess.run(
            [
                str(PG_BIN_DIR / "pg_isready"),
                "-q",
                "-h",
                LOOPBACK,
                "-p",
                str(port),
                "-U",
                PG_SUPERUSER,
                "-d",
                "postgres",
                "-t",
                "1",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=_clean_env(),
            check=False,
        )
        if ready.returncode == 0:
            return True
        time.sleep(0.1)
    return False


def start_postgres(
    workdir: Path,
    *,
    settings: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> PostgresService:
    """Start a private PostgreSQL 15 + TimescaleDB server and create database ``scgw``.

    ``workdir`` receives initdb.log and postgres.log; the data and socket dirs
    live in a fresh /tmp/scgw-pg-* dir (see module docstring for why) that
    ``stop()`` removes. ``settings`` adds or overrides ``-c name=value`` server
    settings. The server is tuned for disposable test data (no fsync).
    """
    _require_postgres()
    workdir.mkdir(parents=True, exist_ok=True)
    runtime, user = _make_runtime_dir()
    datadir = runtime / "data"
    socket_dir = runtime / "sock"
    try:
        socket_dir.mkdir()
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(socket_dir, entry.pw_uid, entry.pw_gid)
        _initdb(runtime, datadir, user, workdir)
        service = _start_postmaster(
            workdir=workdir,
            runtime=runtime,
            datadir=datadir,
            socket_dir=socket_dir,
            user=user,
            settings=settings,
            timeout=timeout,
        )
    except BaseException:
        shutil.rmtree(runtime, ignore_errors=True)
        raise
    try:
        service.psql(f"CREATE DATABASE {PG_DEFAULT_DB}", dbname="postgres")
        service.psql("CREATE EXTENSION IF NOT EXISTS timescaledb", dbname=PG_DEFAULT_DB)
    except BaseException:
        service.stop()
        raise
    return service


def _start_postmaster(
    *,
    workdir: Path,
    runtime: Path,
    datadir: Path,
    socket_dir: Path,
    user: str | None,
    settings: Mapping[str, str] | None,
    timeout: float,
) -> PostgresService:
    server_settings: dict[str, str] = {
        "listen_addresses": LOOPBACK,
        "shared_preload_libraries": "timescaledb",
        "timescaledb.telemetry_level": "off",
        # Test data is disposable: trade durability for speed.
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "200",
        # Every database with the extension gets a TimescaleDB job scheduler
        # worker; per-test databases would otherwise exhaust the default 8.
        "max_worker_processes": "64",
        "timescaledb.max_background_workers": "48",
        "log_min_messages": "warning",
        "log_line_prefix": "%m [%p] %d ",
    }
    server_settings.update(settings or {})
    log_path = workdir / "postgres.log"
    who = _identity(user)
    last_error = ""
    for _ in range(_PORT_ATTEMPTS):
        port = free_port()
        args = [str(PG_BIN_DIR / "postgres"), "-D", str(datadir), "-p", str(port)]
        args += ["-k", str(socket_dir)]
        for name, value in server_settings.items():
            args += ["-c", f"{name}={value}"]
        # The log file is opened here (as the caller) and inherited, so it can
        # live in a workdir the server user could not open itself.
        log = log_path.open("ab")
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=runtime,
            env=_clean_env(),
            start_new_session=True,
            user=who.uid,
            group=who.gid,
            extra_groups=who.groups,
        )
        service = PostgresService(
            port=port,
            datadir=datadir,
            socket_dir=socket_dir,
            process=process,
            workdir=workdir,
            runtime_dir=runtime,
            run_as=user,
            _log=log,
        )
        if _wait_postgres_ready(port, process, timeout):
            return service
        service.stop(remove_data=False)
        logs = service.log_tail()
        last_error = (
            f"postgres did not become ready on {LOOPBACK}:{port} within {timeout:.0f} s "
            f"(exit code {process.returncode})\n{logs}"
        )
        if "Address already in use" not in logs:
            break
    raise RuntimeError(last_error)


# ---------------------------------------------------------------------------
# self-check: python testkit/services.py
# ---------------------------------------------------------------------------


def _mqtt_client(tool: str, *args: str) -> str:
    result = subprocess.run([tool, *args], capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{tool} {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result.stdout


def _self_check() -> None:
    """Start both services, exercise them once, stop them."""
    for tool in ("mosquitto_pub", "mosquitto_sub"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} not installed (mosquitto-clients): {INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="scgw-services-") as tmp:
        base = Path(tmp)
        started = time.monotonic()
        with start_mosquitto(base / "mqtt") as mqtt, start_postgres(base / "pg") as pg:
            version = ".".join(map(str, mosquitto_version(MOSQUITTO_BIN) or ()))
            print(
                f"mosquitto {version} at {mqtt.url}, postgres at {pg.dsn()} "
                f"(started in {time.monotonic() - started:.1f} s)"
            )

            version = pg.psql("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
            pg.psql("CREATE TABLE t(time timestamptz NOT NULL, v int)")
            pg.psql("SELECT create_hypertable('t', 'time')")
            pg.psql("INSERT INTO t VALUES (now(), 1)")
            assert pg.psql("SELECT count(*) FROM timescaledb_information.hypertables") == "1"
            dsn = pg.create_database("selfcheck_db")
            assert dsn.endswith("/selfcheck_db"), dsn
            pg.drop_database("selfcheck_db")
            print(f"timescaledb {version}: hypertable ok")

            common = ["-h", LOOPBACK, "-p", str(mqtt.port)]
            # Retained message: delivered even though the subscriber comes later.
            _mqtt_client(
                "mosquitto_pub", *common, "-t", "selfcheck/retained", "-m", "hello", "-q", "1", "-r"
            )
            got = _mqtt_client(
                "mosquitto_sub", *common, "-t", "selfcheck/retained", "-C", "1", "-W", "10"
            )
            assert got.strip() == "hello", got
            # Persistent session: QoS 1 messages queued while the client is away.
            session = ["-i", "selfcheck-session", "-c", "-q", "1", "-t", "selfcheck/queued"]
            _mqtt_client("mosquitto_sub", *common, *session, "-E")
            for n in range(3):
                _mqtt_client(
                    "mosquitto_pub", *common, "-t", "selfcheck/queued", "-m", str(n), "-q", "1"
                )
            got = _mqtt_client("mosquitto_sub", *common, *session, "-C", "3", "-W", "10")
            assert got.split() == ["0", "1", "2"], got
            print("mosquitto: publish/subscribe and persistent-session queue ok")
        assert not mqtt.is_running() and not pg.is_running()
        assert not pg.runtime_dir.exists()
    print("OK")


if __name__ == "__main__":
    try:
        _self_check()
    except (RuntimeError, AssertionError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
