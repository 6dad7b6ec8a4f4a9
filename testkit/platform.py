"""The reference grid platform (`scgw platform-receiver`) as a separate process, and a small
in-process platform whose faults a test chooses (down, 500s, hanging), for the forwarder's
tests and benchmarks."""

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gateway.platform_receiver import PlatformReceiver
from testkit.services import LOOPBACK, free_port

PLATFORM_SECRET = "test-platform-secret-0123456789abcdefXYZ"


class PlatformReceiverProcess:
    """One `scgw platform-receiver` process; restartable on the same port and file."""

    def __init__(self, out: Path, secret: str = PLATFORM_SECRET, port: int | None = None) -> None:
        self.out = out
        self.secret = secret
        self.port = port or free_port()
        self.process: subprocess.Popen[str] | None = None
        self.lines: list[str] = []

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        """Start it and wait for its `listening on` line."""
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "gateway.cli", "platform-receiver"),
                *("--port", str(self.port), "--secret", self.secret, "--out", str(self.out)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()  # "" if it exited
        while first.startswith("warning: "):  # what it found in --out, kept for the test
            self.lines.append(first.rstrip("\n"))
            first = self.process.stdout.readline()
        if "listening on" not in first:
            self.process.kill()
            raise RuntimeError(f"platform receiver did not start: {first}")
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()

    def _read(self, process: "subprocess.Popen[str]") -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))

    def stop(self) -> int:
        """SIGTERM and wait; the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.terminate()
        return self.process.wait(timeout=30)

    def records(self) -> list[dict[str, Any]]:
        """What it accepted so far, from its JSON-lines file."""
        return read_records(self.out)


def read_records(out: Path) -> list[dict[str, Any]]:
    """The JSON lines a receiver kept (none if it kept nothing yet)."""
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


Fault = Callable[[str, bytes], tuple[int, bytes] | None]
"""Given target and body, an answer to give instead of the receiver's (None: no fault)."""


class FaultyPlatform:
    """A `PlatformReceiver` behind an in-process HTTP server whose behaviour a test sets:
    `fault` answers instead of the receiver (500s), `hold()` keeps every request unanswered
    until `release()`, and `stop()`/`start()` take it down and up on the same port."""

    def __init__(self, out: Path, secret: str = PLATFORM_SECRET) -> None:
        self.out = out
        self.receiver = PlatformReceiver(secret, out)
        self.port = free_port()
        self.fault: Fault | None = None
        self.hang = False
        self.encoding: str | None = None
        """A `Content-Encoding` every answer claims (`gzip` on plain JSON: an unreadable one)."""
        self.requests = 0
        self._released = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                platform.requests += 1
                if platform.hang:
                    platform._released.wait(timeout=120)
                headers = {name.lower(): value for name, value in self.headers.items()}
                answer = platform.fault(self.path, body) if platform.fault else None
                if answer is None:
                    status, payload = platform.receiver.handle("POST", self.path, headers, body)
                    answer = (status, json.dumps(payload).encode())
                try:
                    self.send_response(answer[0])
                    self.send_header("Content-Type", "application/json")
                    if platform.encoding is not None:
                        self.send_header("Content-Encoding", platform.encoding)
                    self.send_header("Content-Length", str(len(answer[1])))
                    self.end_headers()
                    self.wfile.write(answer[1])
                except OSError:
                    pass  # the client gave up (timed out, or was killed)

            def log_message(self, format: str, *args: Any) -> None:
                """Silent."""

        self._server = ThreadingHTTPServer((LOOPBACK, self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def hold(self) -> None:
        """Hold every request unanswered from now until `release()`."""
        self._released.clear()
        self.hang = True

    def release(self) -> None:
        """Let hanging requests go on (to the fault or the receiver)."""
        self.hang = False
        self._released.set()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def records(self) -> list[dict[str, Any]]:
        return read_records(self.out)

    def close(self) -> None:
        self.release()
        self.stop()
        self.receiver.close()
