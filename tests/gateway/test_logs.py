"""Specification of log formatting (`gateway.logs`): JSON lines or text, never a payload value."""

import json
import logging
import subprocess
import sys
from datetime import datetime

from gateway.errors import StoreError
from gateway.logs import JsonFormatter, TextFormatter, loggable, without_exception_messages

ID_NUMBER = "430112199001011234"
PHONE = "13812345678"
NAME = "张三"


def record(
    message: str,
    *args: object,
    level: int = logging.INFO,
    extra: dict[str, object] | None = None,
    exc_info: bool = False,
    error: Exception | None = None,
) -> logging.LogRecord:
    """A record as `logging.getLogger("gateway.test").log(...)` would make it."""
    error_info = None
    if exc_info or error is not None:
        try:
            raise error or ValueError(f"bad {NAME} {ID_NUMBER}")
        except Exception:
            error_info = sys.exc_info()
    entry = logging.getLogger("gateway.test").makeRecord(
        "gateway.test", level, __file__, 1, message, args, error_info, extra=extra
    )
    return entry


def json_entry(entry: logging.LogRecord) -> dict[str, object]:
    line = JsonFormatter().format(entry)
    assert "\n" not in line
    document = json.loads(line)
    assert isinstance(document, dict)
    return document


class TestJsonFormatter:
    """Each record is one JSON object on one line: time, level, logger, message and extras."""

    def test_standard_fields(self) -> None:
        entry = json_entry(record("batch committed", level=logging.WARNING))
        assert entry["level"] == "warning"
        assert entry["logger"] == "gateway.test"
        assert entry["message"] == "batch committed"
        assert isinstance(entry["time"], str)
        assert datetime.fromisoformat(entry["time"]).utcoffset() is not None

    def test_arguments_are_interpolated(self) -> None:
        entry = json_entry(record("stored %d events on %s", 20, "yida"))
        assert entry["message"] == "stored 20 events on yida"

    def test_extra_fields_are_included(self) -> None:
        entry = json_entry(
            record("dead letter", extra={"topic": "yida/hik-isapi/dev1", "reason": "schema"})
        )
        assert entry["topic"] == "yida/hik-isapi/dev1"
        assert entry["reason"] == "schema"

    def test_standard_record_attributes_are_not_repeated(self) -> None:
        entry = json_entry(record("hello"))
        assert set(entry) == {"time", "level", "logger", "message"}

    def test_message_with_newlines_stays_on_one_line(self) -> None:
        entry = json_entry(record("first line\nsecond line"))
        assert entry["message"] == "first line\nsecond line"

    def test_chinese_text_is_written_as_is(self) -> None:
        line = JsonFormatter().format(record("门禁设备离线"))
        assert "门禁设备离线" in line

    def test_exception_is_reported_by_type_and_stack_only(self) -> None:
        line = JsonFormatter().format(record("failed", exc_info=True))
        entry = json.loads(line)
        assert entry["error"] == "ValueError"
        assert "test_logs.py" in str(entry["stack"])
        assert ID_NUMBER not in line
        assert NAME not in line

    def test_the_gateways_own_errors_keep_their_message(self) -> None:
        error = StoreError("postgresql 23505: UniqueViolation", transient=False)
        entry = json_entry(record("failed", error=error))
        assert entry["error"] == "StoreError: postgresql 23505: UniqueViolation"

    def test_a_library_error_quoting_its_input_keeps_only_its_type(self) -> None:
        entry = json_entry(record("failed", error=KeyError(NAME)))
        assert entry["error"] == "KeyError"

    def test_id_and_phone_numbers_in_the_message_are_replaced(self) -> None:
        line = JsonFormatter().format(record("resident %s phone %s", ID_NUMBER, PHONE))
        assert ID_NUMBER not in line
        assert PHONE not in line
        assert json.loads(line)["message"] == "resident <redacted> phone <redacted>"

    def test_grouped_numbers_in_the_message_are_replaced(self) -> None:
        line = JsonFormatter().format(record("call +86 138 1234 5678 or 0731-8888-1234"))
        assert json.loads(line)["message"] == "call +<redacted> or <redacted>"

    def test_id_and_phone_numbers_in_extra_fields_are_replaced(self) -> None:
        line = JsonFormatter().format(
            record("lookup", extra={"subject": ID_NUMBER, "contact": [f"+86{PHONE}"]})
        )
        assert ID_NUMBER not in line
        assert PHONE not in line
        entry = json.loads(line)
        assert entry["subject"] == "<redacted>"


class TestTextFormatter:
    """Console lines are readable and redacted like the JSON ones."""

    def test_line_has_level_logger_and_message(self) -> None:
        line = TextFormatter().format(record("gateway started", level=logging.WARNING))
        assert "WARNING" in line
        assert "gateway.test: gateway started" in line

    def test_id_and_phone_numbers_are_replaced(self) -> None:
        line = TextFormatter().format(record("resident %s phone %s", ID_NUMBER, PHONE))
        assert ID_NUMBER not in line
        assert PHONE not in line
        assert line.endswith("resident <redacted> phone <redacted>")

    def test_exception_shows_its_type_and_stack_but_not_its_message(self) -> None:
        line = TextFormatter().format(record("failed", exc_info=True))
        assert "Traceback (most recent call last):" in line
        assert "test_logs.py" in line
        assert line.endswith("ValueError")
        assert ID_NUMBER not in line
        assert NAME not in line

    def test_a_cached_exception_text_is_not_reused(self) -> None:
        entry = record("failed", exc_info=True)
        entry.exc_text = f"ValueError: bad {ID_NUMBER}"  # as a standard formatter leaves it
        assert ID_NUMBER not in TextFormatter().format(entry)


class TestLoggable:
    """Topics and paths reach a log line on one line and bounded in length."""

    def test_plain_text_is_kept(self) -> None:
        assert loggable("yida/hik-isapi/43011200001320000001") == (
            "yida/hik-isapi/43011200001320000001"
        )

    def test_control_characters_are_escaped(self) -> None:
        assert loggable("a\nfake line\r\x1b[31m") == "a\\nfake line\\r\\x1b[31m"

    def test_long_text_is_cut_and_says_how_long_it_was(self) -> None:
        text = "a/" * 40_000
        logged = loggable(text, limit=50)
        assert logged == f"{text[:50]}…(80000 chars)"

    def test_non_latin_text_is_kept(self) -> None:
        assert loggable("亿达/门禁/一号") == "亿达/门禁/一号"


def formatted_traceback() -> str:
    """What Starlette hands uvicorn for a failed lifespan: `traceback.format_exc()` text."""
    import traceback

    from schemas.devices import DeviceRegistration

    try:
        DeviceRegistration.model_validate(
            {"device_id": "d1", "dialect": "hik-isapi", "community": "yida", "door": "<b>x</b>"}
        )
    except ValueError:
        return traceback.format_exc()
    raise AssertionError("the registration was accepted")


class TestWithoutExceptionMessages:
    """A traceback formatted into a message keeps its frames and types, never the messages."""

    def test_pydantic_input_values_are_dropped(self) -> None:
        text = without_exception_messages("Exception in lifespan\n" + formatted_traceback())
        assert "<b>x</b>" not in text
        assert "input_value" not in text
        assert text.splitlines()[-1] == "pydantic_core._pydantic_core.ValidationError"
        assert '  File "' in text

    def test_a_lifespan_failure_logged_as_text_loses_its_values(self) -> None:
        record = logging.makeLogRecord(
            {
                "name": "uvicorn.error",
                "levelno": logging.ERROR,
                "levelname": "ERROR",
                "msg": formatted_traceback(),
            }
        )
        for formatter in (TextFormatter(), JsonFormatter()):
            assert "<b>x</b>" not in formatter.format(record)

    def test_text_without_a_traceback_is_unchanged(self) -> None:
        assert without_exception_messages("stored 3 events") == "stored 3 events"


_HTTP_CLIENT = """
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import httpx
from gateway.logs import configure_logging

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
configure_logging("json", "DEBUG")
httpx.get(f"http://127.0.0.1:{server.server_address[1]}/signed-target-path")
server.shutdown()
"""


class TestConfigureLogging:
    """The process-wide set-up quiets libraries that log URLs."""

    def test_http_client_requests_are_not_logged(self) -> None:
        """Even at DEBUG, httpx and httpcore write no line naming a request's URL."""
        done = subprocess.run(
            [sys.executable, "-c", _HTTP_CLIENT],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "signed-target-path" not in done.stderr
        assert "127.0.0.1" not in done.stderr
