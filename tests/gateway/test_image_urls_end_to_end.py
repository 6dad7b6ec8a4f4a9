"""Picture URLs judged by one rule for every dialect, through a real gateway process.

Devices publish with `mosquitto_pub`; the gateway runs as its own process on SQLite and on
PostgreSQL. A barrier gate and a camera send the same hostile picture URLs: a login, a query
holding a name and a percent-encoded ID number, a script URL, a name in the path. Every event
is stored; each unusable picture is dropped, listed on its event and counted with its reason;
no login, name or number reaches the database or the API.
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from testkit.gateway_process import GatewayProcess
from testkit.harness import mosquitto_pub, wait_until
from testkit.inspection import database_dump, metric_samples
from testkit.services import MosquittoService

COMMUNITY = "pictures"
NAME = "欧阳锋"
NAME_ENCODED = "%E6%AC%A7%E9%98%B3%E9%94%8B"
URLS: dict[str, tuple[str | None, str | None]] = {
    "http://admin:s3cr3tPW@10.0.0.1/v.jpg": ("http://10.0.0.1/v.jpg", None),
    f"http://10.0.0.1/p.jpg?name={NAME_ENCODED}&id=4301121990010112%33%30": (
        "http://10.0.0.1/p.jpg",
        None,
    ),
    "javascript:alert(1)": (None, "not_a_url"),
    f"http://10.0.0.1/{NAME}.jpg": (None, "non_ascii_path"),
    "http://10.0.0.1/snap/%31%33%38%31%32%33%34%35%36%37%38.jpg": (None, "pii_in_identifier"),
}
"""Each URL sent, with what the event keeps of it and the reason for a drop."""
PLANTED = ["s3cr3tPW", NAME, NAME_ENCODED, "430112199001011230", "13812345678", "javascript"]


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def plate_read(record: str, pic: str) -> bytes:
    read = {"recordId": record, "ts": now_ms(), "plate": "湘A12345", "dir": "in", "pic": pic}
    return json.dumps(read, ensure_ascii=False).encode()


def alarm(alarm_id: str, pic: str) -> bytes:
    when = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    sent = {"alarmId": alarm_id, "eventType": "intrusion", "alarmTime": when, "picUrl": pic}
    return json.dumps(sent, ensure_ascii=False).encode()


class TestPictureUrlsEndToEnd:
    """Both dialects keep the same URLs the same way, drop the same ones, and lose no event."""

    async def test_through_a_gateway_process(
        self, mosquitto: MosquittoService, database: str, tmp_path: Path
    ) -> None:
        urls = list(URLS)
        gateway = GatewayProcess(mosquitto.url, database, tmp_path / "gateway.log")
        gateway.start()
        try:
            gate = [plate_read(f"r{n}", url) for n, url in enumerate(urls)]
            cams = [alarm(f"a{n}", url) for n, url in enumerate(urls)]
            await mosquitto_pub(mosquitto.port, f"{COMMUNITY}/barrier-gate/gate-1", gate)
            await mosquitto_pub(mosquitto.port, f"{COMMUNITY}/camera-alarm/cam-1", cams)
            path = f"/v1/events?community={COMMUNITY}&limit=100"

            def settled() -> bool:
                return len(gateway.get_json(path)["data"]) == 2 * len(urls)

            await wait_until(settled, what="every event stored")
            events = gateway.get_json(path)["data"]
            letters = gateway.get_json("/v1/dead-letters?limit=100")["data"]
            metrics = gateway.get("/metrics").decode()
            served = json.dumps([events, letters], ensure_ascii=False)
        finally:
            gateway.stop()

        assert letters == []
        for kind in ("vehicle_pass", "behaviour_alarm"):
            judged = [
                (event["image_url"], tuple(drop["reason"] for drop in event["dropped_fields"]))
                for event in events
                if event["kind"] == kind
            ]
            expected = [(kept, () if why is None else (why,)) for kept, why in URLS.values()]
            judged.sort(key=repr)
            expected.sort(key=repr)
            assert judged == expected, kind
        counted = metric_samples(metrics, "scgw_event_fields_dropped_total")
        assert counted == {
            (("field", "image_url"), ("reason", reason)): 2
            for _, reason in URLS.values()
            if reason is not None
        }
        dump = database_dump(database)
        assert "http://10.0.0.1/v.jpg" in dump  # the dump holds the events: it was searched
        for value in PLANTED:
            assert value not in dump, "a planted value is in the database"
            assert value not in served, "a planted value is served by the API"
