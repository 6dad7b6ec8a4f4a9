"""The gateway as a separate process (`python -m gateway.cli run`), for tests and benchmarks
that must kill it, read its logs, or measure it without sharing an event loop with it."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from testkit.harness import ADMIN_KEY, HASH_KEY
from testkit.services import free_port

SESSION_EXPIRY_S = 300


class GatewayProcess:
    """One `scgw run` process; restartable with the same settings (same MQTT session)."""

    def __init__(self, mqtt_url: str, database_url: str, log_path: Path, **settings: str) -> None:
        self.api_port = free_port()
        self.log_path = log_path
        self.env = {
            **os.environ,
            "SCGW_MQTT_URL": mqtt_url,
            "SCGW_DATABASE_URL": database_url,
            "SCGW_API_PORT": str(self.api_port),
            "SCGW_ADMIN_API_KEY": ADMIN_KEY,
            "SCGW_ID_HASH_KEY": HASH_KEY,
            # Unique per instance, kept across its restarts: a port can be reused later in the
            # session, and a reused client id would resume an earlier test's MQTT session.
            "SCGW_MQTT_CLIENT_ID": f"scgw-proc-{uuid.uuid4().hex}",
            # Long enough for a test to restart the gateway into its session, short enough
            # that a finished test's session stops queueing every later test's messages.
            "SCGW_MQTT_SESSION_EXPIRY_S": str(SESSION_EXPIRY_S),
            **{f"SCGW_{name.upper()}": value for name, value in settings.items()},
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready_timeout_s: float = 60) -> None:
        """Start and wait until `/readyz` says the broker and the store are reachable."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gateway exited with {self.process.returncode}: {self.log_tail()}"
                )
            if self.ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"gateway not ready after {ready_timeout_s}s: {self.log_tail()}")

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url("/readyz"), timeout=2) as response:
                ready: bool = response.status == 200
                return ready
        except (urllib.error.URLError, OSError):
            return False

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.api_port}{path}"

    def get(self, path: str) -> bytes:
        request = urllib.request.Request(self.url(path), headers={"X-API-Key": ADMIN_KEY})
        with urllib.request.urlopen(request, timeout=10) as response:
            body: bytes = response.read()
            return body

    def get_json(self, path: str) -> Any:
        """`get` decoded as JSON: what every end-to-end test reads the API with."""
        return json.loads(self.get(path))

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut or an OOM kill."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM and wait: the graceful path. Returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
