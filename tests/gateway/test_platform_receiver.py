"""The reference grid platform, `scgw platform-receiver`, run as a process and spoken to over
real HTTP."""

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.cli import EXIT_CONFIG_ERROR, main
from gateway.platform_receiver import PlatformReceiver, serve_receiver
from gateway.signing import signed_headers
from testkit.platform import PLATFORM_SECRET, PlatformReceiverProcess

TICKET_ID = "t-" + "ab" * 12


def ticket_body(ticket_id: str = TICKET_ID) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "ticket_id": ticket_id,
        "rule": "safety.door_forced",
        "category": {"code": "safety", "name": "安全隐患", "gbt_class": None},
        "severity": "major",
        "community": "yida",
        "grid_code": "430112003001001",
        "location": {"address": "亿达小镇3栋2单元", "device_id": "door-3-2"},
        "responsible_units": [{"type": "property", "name": "亿达物业"}],
        "title": "单元门被强行打开",
        "description": "亿达小镇3栋2单元门禁报告门被强行打开。",
        "summary_en": "Door of building 3 unit 2 forced open.",
        "evidence": {
            "event_ids": ["e-1"],
            "count": 1,
            "first_at": (now - timedelta(minutes=2)).isoformat(),
            "last_at": (now - timedelta(minutes=2)).isoformat(),
        },
        "occurrences": 1,
        "detected_at": (now - timedelta(minutes=2)).isoformat(),
        "created_at": now.isoformat(),
        "updated_at": now.isoformat(),
        "sla_due_at": (now + timedelta(hours=24)).isoformat(),
        "status": "detected",
    }


def post(
    receiver: PlatformReceiverProcess,
    path: str,
    document: object,
    key: str,
    *,
    secret: str = PLATFORM_SECRET,
    skew_s: int = 0,
) -> httpx.Response:
    """A signed POST, as the gateway sends it."""
    body = json.dumps(document, ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": key,
        **signed_headers(secret, "POST", path, int(time.time()) + skew_s, body),
    }
    return httpx.post(receiver.url + path, content=body, headers=headers, timeout=10)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[PlatformReceiverProcess]:
    process = PlatformReceiverProcess(tmp_path / "received.jsonl")
    process.start()
    yield process
    process.stop()


class TestPlatformReceiver:
    """The reference receiver verifies, numbers, deduplicates and keeps what it is sent."""

    def test_a_ticket_gets_an_id_and_its_repeat_the_same_id(
        self, receiver: PlatformReceiverProcess
    ) -> None:
        """201 with a new platform id; the same Idempotency-Key again → 200, same id."""
        first = post(receiver, "/tickets", ticket_body(), f"{TICKET_ID}:1")
        assert first.status_code == 201
        again = post(receiver, "/tickets", ticket_body(), f"{TICKET_ID}:1")
        assert again.status_code == 200
        assert again.json() == first.json() == {"platform_ticket_id": "gp-000001"}
        other = post(receiver, "/tickets", ticket_body("t-" + "cd" * 12), "t-" + "cd" * 12 + ":1")
        assert other.json() == {"platform_ticket_id": "gp-000002"}
        records = receiver.records()
        assert [(r["idempotency_key"], r["repeat"]) for r in records] == [
            (f"{TICKET_ID}:1", False),
            (f"{TICKET_ID}:1", True),
            ("t-" + "cd" * 12 + ":1", False),
        ]
        assert records[0]["body"]["title"] == "单元门被强行打开"

    def test_a_replay_under_a_fresh_key_is_the_same_platform_ticket(
        self, receiver: PlatformReceiverProcess
    ) -> None:
        """A captured create sent again with another key answers 200 with the first id, also
        after a restart: one platform ticket per gateway ticket."""
        first = post(receiver, "/tickets", ticket_body(), f"{TICKET_ID}:1")
        replay = post(receiver, "/tickets", ticket_body(), "attacker-key")
        assert (first.status_code, replay.status_code) == (201, 200)
        assert replay.json() == first.json() == {"platform_ticket_id": "gp-000001"}
        assert receiver.stop() == 0
        receiver.start()
        again = post(receiver, "/tickets", ticket_body(), "another-key")
        assert (again.status_code, again.json()) == (200, {"platform_ticket_id": "gp-000001"})

    def test_a_key_reused_for_another_ticket_is_refused(
        self, receiver: PlatformReceiverProcess
    ) -> None:
        """The same Idempotency-Key on another ticket's create is 422 key_reused, not the first
        ticket's id; the other ticket gets its own id under its own key."""
        post(receiver, "/tickets", ticket_body(), "k1")
        other_id = "t-" + "cd" * 12
        reused = post(receiver, "/tickets", ticket_body(other_id), "k1")
        assert reused.status_code == 422
        assert reused.json()["error"]["code"] == "key_reused"
        fresh = post(receiver, "/tickets", ticket_body(other_id), f"{other_id}:1")
        assert fresh.json() == {"platform_ticket_id": "gp-000002"}

    def test_updates_are_accepted_for_known_tickets_and_deduplicated(
        self, receiver: PlatformReceiverProcess
    ) -> None:
        """An update to a known platform id → 201, its repeat → 200; an unknown id → 404."""
        platform_id = post(receiver, "/tickets", ticket_body(), f"{TICKET_ID}:1").json()[
            "platform_ticket_id"
        ]
        ticket = ticket_body()
        evidence = {
            "type": "evidence",
            "ticket_id": TICKET_ID,
            "evidence": ticket["evidence"] | {"count": 2, "event_ids": ["e-1", "e-2"]},
            "occurrences": 2,
            "updated_at": ticket["updated_at"],
        }
        path = f"/tickets/{platform_id}/updates"
        first = post(receiver, path, evidence, f"{TICKET_ID}:2")
        assert first.status_code == 201
        again = post(receiver, path, evidence, f"{TICKET_ID}:2")
        assert (again.status_code, again.json()) == (200, first.json())
        cancelled = {
            "type": "cancelled",
            "ticket_id": TICKET_ID,
            "cancelled_at": ticket["updated_at"],
            "actor": "admin",
        }
        assert post(receiver, path, cancelled, f"{TICKET_ID}:3").status_code == 201
        unknown = post(receiver, "/tickets/gp-999999/updates", cancelled, f"{TICKET_ID}:4")
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "unknown_ticket"

    def test_any_base_path_prefix_is_accepted(self, receiver: PlatformReceiverProcess) -> None:
        """A base URL with a path prefix is signed and served like the bare one."""
        answer = post(receiver, "/scgw/v2/tickets", ticket_body(), f"{TICKET_ID}:1")
        assert answer.status_code == 201

    def test_a_wrong_secret_is_refused_with_401(self, receiver: PlatformReceiverProcess) -> None:
        """A signature under another secret → 401 with the error body; nothing is kept."""
        answer = post(
            receiver, "/tickets", ticket_body(), f"{TICKET_ID}:1", secret="another-secret-" * 3
        )
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "bad_signature"
        assert receiver.records() == []

    @pytest.mark.parametrize("skew_s", [301 + 5, -(301 + 5)])
    def test_a_timestamp_beyond_300_s_is_refused(
        self, receiver: PlatformReceiverProcess, skew_s: int
    ) -> None:
        """A well-signed request stamped more than 300 s from the receiver's clock → 401."""
        answer = post(receiver, "/tickets", ticket_body(), f"{TICKET_ID}:1", skew_s=skew_s)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "stale_timestamp"

    def test_a_timestamp_within_300_s_is_accepted(self, receiver: PlatformReceiverProcess) -> None:
        """A clock 4 minutes off is still inside the window."""
        answer = post(receiver, "/tickets", ticket_body(), f"{TICKET_ID}:1", skew_s=-240)
        assert answer.status_code == 201

    def test_a_body_outside_the_contract_is_refused_without_echoing_it(
        self, receiver: PlatformReceiverProcess
    ) -> None:
        """422 names the field, never the value."""
        body = ticket_body() | {"title": "", "community": "13800138000x"}
        body["severity"] = "13800138000"
        answer = post(receiver, "/tickets", body, f"{TICKET_ID}:1")
        assert answer.status_code == 422
        assert "severity" in answer.text and "13800138000" not in answer.text

    def test_a_missing_idempotency_key_is_refused(self, receiver: PlatformReceiverProcess) -> None:
        """Without an Idempotency-Key the receiver could not drop a repeat: 400."""
        answer = post(receiver, "/tickets", ticket_body(), "")
        assert answer.status_code == 400

    def test_prints_one_line_per_ticket_update_and_refusal(
        self, receiver: PlatformReceiverProcess
    ) -> None:
        """The console shows each ticket with its rule and address, and each refusal."""
        post(receiver, "/tickets", ticket_body(), f"{TICKET_ID}:1")
        post(receiver, "/tickets", ticket_body(), f"{TICKET_ID}:9", secret="x" * 40)
        receiver.stop()  # flushes what it printed
        assert any(
            line.startswith("ticket gp-000001 ")
            and "safety.door_forced" in line
            and "亿达小镇3栋2单元" in line
            for line in receiver.lines
        )
        assert any(line.startswith("refused 401 bad_signature") for line in receiver.lines)

    def test_a_restart_keeps_ids_and_keys(self, receiver: PlatformReceiverProcess) -> None:
        """Started again on its file, it answers an old key with the old id and numbers on."""
        post(receiver, "/tickets", ticket_body(), f"{TICKET_ID}:1")
        assert receiver.stop() == 0
        receiver.start()
        again = post(receiver, "/tickets", ticket_body(), f"{TICKET_ID}:1")
        assert (again.status_code, again.json()["platform_ticket_id"]) == (200, "gp-000001")
        other = post(receiver, "/tickets", ticket_body("t-" + "ef" * 12), "t-" + "ef" * 12 + ":1")
        assert other.json()["platform_ticket_id"] == "gp-000002"

    def test_a_torn_last_record_is_dropped_at_restart(
        self, receiver: PlatformReceiverProcess
    ) -> None:
        """Killed in the middle of a write, it starts again without the torn record, and the
        next record starts on a clean line."""
        post(receiver, "/tickets", ticket_body(), f"{TICKET_ID}:1")
        assert receiver.stop() == 0
        whole = receiver.out.read_text(encoding="utf-8")
        receiver.out.write_text(whole + whole[: len(whole) // 2], encoding="utf-8")
        receiver.start()
        other = post(receiver, "/tickets", ticket_body("t-" + "ef" * 12), "t-" + "ef" * 12 + ":1")
        assert other.json()["platform_ticket_id"] == "gp-000002"
        records = [json.loads(line) for line in receiver.out.read_text().splitlines()]
        assert [r["platform_ticket_id"] for r in records] == ["gp-000001", "gp-000002"]
        assert any("dropped an incomplete last record" in line for line in receiver.lines)


@pytest.fixture
def server() -> Iterator[tuple[str, int]]:
    """The receiver's HTTP server in this process, dropping connections stalled for 0.5 s."""
    http = serve_receiver(PlatformReceiver(PLATFORM_SECRET), "127.0.0.1", 0, timeout_s=0.5)
    http.daemon_threads = True
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield "127.0.0.1", http.server_address[1]
    http.shutdown()
    http.server_close()


class TestReceiverServer:
    """The HTTP side: hostile or stalled clients get an answer or are dropped."""

    def test_a_non_numeric_content_length_is_400(self, server: tuple[str, int]) -> None:
        """`Content-Length: abc` is a bad request, not a body too large."""
        with socket.create_connection(server, timeout=10) as client:
            client.sendall(b"POST /tickets HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
            answer = b"".join(iter(lambda: client.recv(4096), b""))  # HTTP/1.0: until closed
        assert answer.startswith(b"HTTP/1.0 400 ")
        assert b"bad_content_length" in answer

    def test_a_stalled_client_is_dropped(self, server: tuple[str, int]) -> None:
        """A client that sends half a request and waits loses its connection."""
        with socket.create_connection(server, timeout=10) as client:
            client.sendall(b"POST /tickets HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
            assert client.recv(4096) == b""  # closed by the server, long before our 10 s


class TestPlatformReceiverCommand:
    """`scgw platform-receiver` explains itself and refuses to run without a secret."""

    def test_help_explains_the_contract(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--help names both endpoints, the headers and the 300 s window."""
        with pytest.raises(SystemExit):
            main(["platform-receiver", "--help"])
        text = capsys.readouterr().out
        for needle in ("{base}/tickets", "/updates", "X-Scgw-Signature", "300 s", "--out"):
            assert needle in text

    def test_no_secret_is_a_config_error(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without --secret or SCGW_PLATFORM_SECRET it exits 2 and says what is missing."""
        monkeypatch.delenv("SCGW_PLATFORM_SECRET", raising=False)
        assert main(["platform-receiver", "--port", "1"]) == EXIT_CONFIG_ERROR
        assert "--secret" in capsys.readouterr().err

    def test_a_bad_record_inside_the_file_stops_the_start_naming_file_and_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A line that is no record, followed by others, exits 2 with file:line, no
        traceback."""
        out = tmp_path / "received.jsonl"
        out.write_text('{"not": "ours"}\n{"kind": "ticket"}\n', encoding="utf-8")
        args = ["platform-receiver", "--port", "0", "--secret", PLATFORM_SECRET, "--out", str(out)]
        assert main(args) == EXIT_CONFIG_ERROR
        err = capsys.readouterr().err
        assert f"{out}:1: not a record this receiver wrote" in err
        assert "Traceback" not in err
