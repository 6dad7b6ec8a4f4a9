"""Logging set-up: JSON lines for `scgw run` (machines read them), plain text for the demo.

No payload value ever reaches a log line. The code logs names, counts, reasons and the
shareable form of topics (`gateway.privacy.shareable_topic`), never payloads. Two rules here
hold for any logger, ours or a library's:

- an exception is written as its type and stack frames only; its message is written only for
  the gateway's own errors, whose messages carry no values by contract (`gateway.errors`).
  A library's message may quote its input: pydantic's errors quote values, psycopg's quote
  rows, a `KeyError` quotes its key;
- as a last line of defence, a number shaped like an ID, mobile or landline number is
  replaced by `<redacted>` in every message and extra field (`gateway.privacy`).
"""

import json
import logging
import sys
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
            "message": without_personal_numbers(record.getMessage()),
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
        record.message = record.getMessage()
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
