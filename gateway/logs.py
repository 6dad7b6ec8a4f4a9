"""Logging set-up: JSON lines for `scgw run` (machines read them), plain text for the demo.

No payload value ever reaches a log line. The code logs names, counts, reasons and the
shareable form of topics (`gateway.privacy.shareable_topic`), never payloads. Two rules here
hold for any logger, ours or a library's:

- an exception is written as its type and stack frames only; its message is written only for
  the gateway's own errors, whose messages carry no values by contract (`gateway.errors`).
  A library's message may quote its input: pydantic's errors quote values, psycopg's quote
  rows, a `KeyError` quotes its key;
- a traceback a library formatted into a message itself (uvicorn logs a failed lifespan
  as Starlette's `traceback.format_exc()` text) keeps its frames and exception types and loses
  the exceptions' messages (`without_exception_messages`); uncaught exceptions in the main
  thread and in other threads are logged through the same handler (`configure_logging`);
- as a last line of defence, a number shaped like an ID, mobile or landline number is
  replaced by `<redacted>` in every message and extra field (`gateway.privacy`).
"""

import json
import logging
import re
import sys
import threading
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal, TypeAlias

from gateway.errors import ConfigError, GatewayError, PayloadError
from gateway.privacy import without_personal_numbers

_STANDARD_ATTRIBUTES = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_PLAIN = (bool, int, float, type(None))
_TRUSTED_MESSAGES = (GatewayError, PayloadError, ConfigError)
"""Exceptions whose messages are written without values by contract."""

LOGGED_TOPIC_CHARS = 200

ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType | None]

_TRACEBACK_HEAD = "Traceback (most recent call last):"
_CHAIN_LINES = frozenset(
    {
        "During handling of the above exception, another exception occurred:",
        "The above exception was the direct cause of the following exception:",
    }
)
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*)(?::|$)")


def loggable(text: str, limit: int = LOGGED_TOPIC_CHARS) -> str:
    """`text` (a topic, a path) fit for one log line: control characters escaped, so a hostile
    topic cannot forge lines, and cut to `limit` characters with the cut marked."""
    printable = "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text[: limit + 1]
    )
    if len(printable) > limit:
        return f"{printable[:limit]}…({len(text)} chars)"
    return printable


def _text(value: object) -> str:
    """JSON for containers, so values inside them are checked like any other text."""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def describe_exception(error: BaseException) -> str:
    """`Type: message` for the gateway's own errors, `Type` for any other."""
    name = type(error).__name__
    if isinstance(error, _TRUSTED_MESSAGES):
        return f"{name}: {without_personal_numbers(str(error))}"
    return name


def without_exception_messages(text: str) -> str:
    """`text` with every formatted traceback in it cut to its frames and exception types.

    From a `Traceback (most recent call last):` line on, `  File ...` lines and the source
    lines under them stay; the line after them names the exception, and only its type is
    kept; what follows (the message, pydantic's error lines with their `input_value`) is
    dropped up to the next traceback or chained-exception line. Text before the first
    traceback is kept as it is.
    """
    head, found, rest = text.partition(_TRACEBACK_HEAD)
    if not found:
        return text
    kept = [head + _TRACEBACK_HEAD]
    state = "frames"
    for line in rest.split("\n")[1:]:
        if line == _TRACEBACK_HEAD or line in _CHAIN_LINES:
            kept.append(line)
            state = "frames"
        elif state == "message":
            continue
        elif line.startswith(("  File ", "    ")) or not line.strip():
            kept.append(line)
        else:
            match = _EXCEPTION_LINE.match(line)
            kept.append(match.group(1) if match else "<exception>")
            state = "message"
    return "\n".join(kept)


def _message(record: logging.LogRecord) -> str:
    return without_personal_numbers(without_exception_messages(record.getMessage()))


def _exception_text(exc_info: ExcInfo | tuple[None, None, None]) -> str:
    """The stack and the exception's description, without an untrusted message."""
    _, error, trace = exc_info
    frames = "".join(traceback.format_tb(trace))
    described = "" if error is None else describe_exception(error)
    return f"Traceback (most recent call last):\n{frames}{described}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line with time, level, logger, message and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _message(record),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                plain = isinstance(value, _PLAIN)
                entry[key] = value if plain else without_personal_numbers(_text(value))
        if record.exc_info and record.exc_info[1] is not None:
            entry["error"] = describe_exception(record.exc_info[1])
            entry["stack"] = "".join(traceback.format_tb(record.exc_info[2]))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Readable console lines for the demo, under the same rules as the JSON ones."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        """`logging.Formatter.format` without its cached, complete exception text."""
        record.message = without_exception_messages(record.getMessage())
        record.asctime = self.formatTime(record, self.datefmt)
        line = without_personal_numbers(self.formatMessage(record))
        if record.exc_info and record.exc_info[1] is not None:
            line += "\n" + _exception_text(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def configure_logging(fmt: Literal["json", "text"], level: str) -> None:
    """Route every logger (ours, uvicorn's, the libraries') through one handler and its rules."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    for name in ("httpx", "httpcore"):  # a line per request, with its full URL, at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


_uncaught = logging.getLogger("scgw.uncaught")


def _log_uncaught(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    """Python would print the exception's message to stderr: log it under our rules instead."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    _uncaught.critical("uncaught %s", kind.__name__, exc_info=(kind, error, trace))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None:
        return
    thread = args.thread.name if args.thread is not None else "?"
    _uncaught.error(
        "uncaught %s in thread %s",
        args.exc_type.__name__,
        thread,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
