"""The reference grid-platform receiver (`scgw platform-receiver`): the other end of
docs/platform-contract.md, small enough to read in one sitting.

It checks each request's signature and timestamp (401 otherwise), validates the body against
`schemas.platform`, assigns platform ids (`gp-000001`, …), one per gateway ticket (a second
create of a ticket, under any key, gets its first id with 200), honours `Idempotency-Key` (a
repeat gets the first answer again, with 200; a key reused for another ticket or kind of
message is 422 `key_reused`), appends everything it accepted to a JSON-lines file
(flushed per line, read back at start so ids and keys survive a restart) and prints one line
per ticket, update or refusal. The tests, the demo and a vendor's integrator all use it.

Standard library only (`http.server`, one thread per request): the handling itself is
`PlatformReceiver.handle`, plain method, target, headers and body in, status and JSON out.
"""

import json
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final, TextIO

from pydantic import ValidationError

from gateway.errors import ConfigError
from gateway.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from schemas.platform import PLATFORM_UPDATE, CancelledUpdate, EvidenceUpdate, PlatformTicket

MAX_BODY_BYTES: Final = 1024 * 1024
SOCKET_TIMEOUT_S: Final = 30.0
"""How long a connection may stall (reading its request or taking its answer)."""
_CREATE = re.compile(r"(?:/.*)?/tickets")
_UPDATE = re.compile(r"(?:/.*)?/tickets/([A-Za-z0-9][A-Za-z0-9._:-]{0,63})/updates")

Answer = tuple[int, dict[str, Any]]


def _error(status: int, code: str, message: str) -> Answer:
    return status, {"error": {"code": code, "message": message}}


@dataclass(frozen=True, slots=True)
class _Accepted:
    kind: str
    answer: dict[str, Any]
    ticket_id: str
    """The gateway ticket the keyed message was about: a key names one message of one ticket."""


class PlatformReceiver:
    """What the reference platform knows: tickets by platform id, answers by idempotency key.

    Thread-safe: every request is handled under one lock.
    """

    def __init__(
        self,
        secret: str,
        out: Path | None = None,
        echo: TextIO | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self._clock = clock
        self._echo = echo
        self._lock = threading.Lock()
        self._by_key: dict[str, _Accepted] = {}
        self._tickets: dict[str, str] = {}  # platform id -> gateway ticket id
        self._platform_ids: dict[str, str] = {}  # gateway ticket id -> its one platform id
        self._updates = 0
        if out is not None and out.exists():
            self._reload(out)
        self._out = out.open("a", encoding="utf-8") if out is not None else None

    def close(self) -> None:
        if self._out is not None:
            self._out.close()

    def _reload(self, out: Path) -> None:
        """Ids and keys from an earlier run's file, so a restarted receiver keeps its word.

        A receiver killed in the middle of a write leaves a torn last line: it is dropped
        with a warning, and the file cut back to the end of the last whole record (the next
        record then starts on a line of its own). A bad line anywhere else is not ours to
        guess about: `ConfigError` naming file and line."""
        data = out.read_bytes()
        lines = data.split(b"\n")
        offset = 0
        for number, line in enumerate(lines, start=1):
            last = number == len(lines) or (number == len(lines) - 1 and not lines[-1])
            if line or not last:
                try:
                    self._restore(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    if not last:
                        raise ConfigError(
                            f"{out}:{number}: not a record this receiver wrote; move the file"
                            " aside or remove the line"
                        ) from None
                    print(
                        f"warning: {out}:{number}: dropped an incomplete last record"
                        " (a write cut short)",
                        file=sys.stderr,
                        flush=True,
                    )
                    with out.open("r+b") as torn:
                        torn.truncate(offset)
                    return
            offset += len(line) + 1
        if data and not data.endswith(b"\n"):  # a whole record whose newline was cut off
            with out.open("ab") as whole:
                whole.write(b"\n")

    def _restore(self, record: dict[str, Any]) -> None:
        if record["repeat"]:
            return
        ticket_id = record["body"]["ticket_id"]
        if record["kind"] == "ticket":
            answer = {"platform_ticket_id": record["platform_ticket_id"]}
            self._tickets[record["platform_ticket_id"]] = ticket_id
            self._platform_ids[ticket_id] = record["platform_ticket_id"]
        else:
            answer = {"update_id": record["update_id"]}
            self._updates += 1
        self._by_key[record["idempotency_key"]] = _Accepted(record["kind"], answer, ticket_id)

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """The answer to one request; `target` is the request target as received, `headers`
        are keyed by lower-case names."""
        with self._lock:
            answer = self._handle(method, target, headers, body)
        status, payload = answer
        if status >= 400:
            self._print(f"refused {status} {payload['error']['code']} {method} {target[:200]}")
        return answer

    def _handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Answer:
        path = target.split("?", 1)[0]
        update = _UPDATE.fullmatch(path)
        if update is None and not _CREATE.fullmatch(path):
            return _error(404, "not_found", "POST {base}/tickets or {base}/tickets/{id}/updates")
        if method != "POST":
            return _error(405, "method_not_allowed", "only POST is served")
        problem = verify(
            self._secret,
            method,
            target,
            headers.get(TIMESTAMP_HEADER.lower()),
            headers.get(SIGNATURE_HEADER.lower()),
            body,
            self._clock(),
        )
        if problem is not None:
            return _error(401, problem, "the signature or its timestamp is not acceptable")
        key = headers.get(IDEMPOTENCY_HEADER.lower())
        if not key or len(key) > 200:
            return _error(400, "missing_idempotency_key", "send an Idempotency-Key header")
        kind = "ticket" if update is None else "update"
        try:
            document = json.loads(body)
            message = (
                PlatformTicket.model_validate(document)
                if update is None
                else PLATFORM_UPDATE.validate_python(document)
            )
        except (ValueError, ValidationError) as exc:
            return _error(422, "invalid_body", _why(exc))
        if (earlier := self._by_key.get(key)) is not None:
            if earlier.kind != kind or earlier.ticket_id != message.ticket_id:
                return _error(422, "key_reused", "this Idempotency-Key named another message")
            return self._repeat(kind, key, earlier.answer, document)
        if isinstance(message, PlatformTicket):
            if (known := self._platform_ids.get(message.ticket_id)) is not None:
                # The same ticket under a fresh key (a captured request replayed, or a
                # gateway that lost its outbox): still one platform ticket.
                answer = {"platform_ticket_id": known}
                self._by_key[key] = _Accepted(kind, answer, message.ticket_id)
                return self._repeat(kind, key, answer, document)
            answer = self._open(message)
        else:
            assert update is not None  # an update body was read for an update path only
            if self._tickets.get(update.group(1)) != message.ticket_id:
                return _error(404, "unknown_ticket", "no such ticket, or another ticket's id")
            answer = self._update(update.group(1), message)
        self._by_key[key] = _Accepted(kind, answer, message.ticket_id)
        self._keep(kind, key, answer, document, repeat=False)
        return 201, answer

    def _repeat(self, kind: str, key: str, answer: dict[str, Any], document: object) -> Answer:
        self._keep(kind, key, answer, document, repeat=True)
        self._print(f"repeat {key} -> {json.dumps(answer)}")
        return 200, answer

    def _open(self, ticket: PlatformTicket) -> dict[str, Any]:
        platform_id = f"gp-{len(self._tickets) + 1:06d}"
        self._tickets[platform_id] = ticket.ticket_id
        self._platform_ids[ticket.ticket_id] = platform_id
        self._print(
            f"ticket {platform_id} {ticket.ticket_id} {ticket.rule} {ticket.severity}"
            f" {ticket.location.address} {ticket.title}"
        )
        return {"platform_ticket_id": platform_id}

    def _update(self, platform_id: str, update: EvidenceUpdate | CancelledUpdate) -> dict[str, Any]:
        self._updates += 1
        detail = (
            f"occurrences={update.occurrences} events={update.evidence.count}"
            if isinstance(update, EvidenceUpdate)
            else f"by {update.actor}"
        )
        self._print(f"update {platform_id} {update.ticket_id} {update.type} {detail}")
        return {"update_id": f"{platform_id}-u{self._updates}"}

    def _keep(
        self, kind: str, key: str, answer: dict[str, Any], body: object, *, repeat: bool
    ) -> None:
        if self._out is None:
            return
        record = {
            "received_at": datetime.now(UTC).isoformat(),
            "kind": kind,
            "idempotency_key": key,
            "repeat": repeat,
            **answer,
            "body": body,
        }
        self._out.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._out.flush()

    def _print(self, line: str) -> None:
        if self._echo is not None:
            print(line, file=self._echo, flush=True)


def _why(exc: ValueError | ValidationError) -> str:
    """Where the body breaks the contract, never the values it holds."""
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False, include_input=False)[:5]
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in first)
    return "the body is not JSON"


def serve_receiver(
    receiver: PlatformReceiver, host: str, port: int, timeout_s: float = SOCKET_TIMEOUT_S
) -> ThreadingHTTPServer:
    """An HTTP server (not yet serving) that hands every request to `receiver`; a connection
    stalled for `timeout_s` is dropped, so a slow client cannot hold a thread for ever."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "scgw-platform-receiver"
        timeout = timeout_s

        def do_POST(self) -> None:
            self._answer()

        def do_GET(self) -> None:
            self._answer()

        def _answer(self) -> None:
            length = self.headers.get("Content-Length", "0").strip()
            if not (length.isascii() and length.isdigit()):
                status, payload = _error(
                    400, "bad_content_length", "Content-Length must be a decimal number"
                )
            elif int(length) > MAX_BODY_BYTES:
                status, payload = _error(413, "too_large", f"at most {MAX_BODY_BYTES} bytes")
            else:
                try:
                    body = self.rfile.read(int(length))
                except OSError:  # the client stalled past the timeout or went away
                    self.close_connection = True
                    return
                headers = {name.lower(): value for name, value in self.headers.items()}
                status, payload = receiver.handle(self.command, self.path, headers, body)
            data = json.dumps(payload, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client went away before its answer (BrokenPipe, reset)
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: `PlatformReceiver` prints what matters."""

    return ThreadingHTTPServer((host, port), Handler)


def run_receiver(secret: str, host: str, port: int, out: Path | None) -> int:
    """Serve until SIGTERM or Ctrl-C; print the address first, so a caller knows it is up."""
    receiver = PlatformReceiver(secret, out, echo=sys.stdout)
    server = serve_receiver(receiver, host, port)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    bound_host, bound_port = server.server_address[:2]
    print(f"platform receiver listening on http://{bound_host!s}:{bound_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        receiver.close()
    return 0
