"""Logging set-up: JSON lines for `scgw run` (machines read them), plain text for the demo.

Log records never carry payloads; every formatted message still passes through
`redact_text`, so an ID or phone number that slips into a message is masked on the way out.
"""

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

from gateway.privacy import redact_text

_STANDARD_ATTRIBUTES = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


_PLAIN = (bool, int, float, type(None))
LOGGED_TOPIC_CHARS = 200


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
    """JSON for containers, so values inside them meet redaction as `"key": "value"`."""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line with time, level, logger, message and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value if isinstance(value, _PLAIN) else redact_text(_text(value))
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Readable console lines for the demo, redacted like the JSON ones."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def configure_logging(fmt: Literal["json", "text"], level: str) -> None:
    """Route every logger (ours, uvicorn's, the libraries') through one redacting handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
