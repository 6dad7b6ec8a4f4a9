"""Plausible time through a real gateway process: the window, the calendar's ends, clock skew.

Implausible times in every format of every dialect (`time_formats.FORMATS`) go through
`mosquitto_pub` into a gateway process on Mosquitto and TimescaleDB, between two halves of a
simulated stretch of Yida Town's traffic that ends at the present. Each must end as its dead
letter, counted; every valid event around them must be stored. A device whose clock runs
ahead shows it on its record and in `/metrics`, from its live heartbeats, and a backlog of
its heartbeats drained after a restart leaves that estimate alone.
"""

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from simulators.community import generate_community
from simulators.config_toml import community_config_toml
from simulators.heartbeat import status_topic
from simulators.publisher import publish
from simulators.yida_mix import YidaTraffic
from testkit.gateway_process import GatewayProcess
from testkit.harness import mosquitto_pub, wait_until, write_file
from testkit.inspection import metric
from testkit.services import MosquittoService
from tests.gateway.time_formats import ACCEPTED, FORMATS, MAPPING_CONFIG, REFUSED

TRAFFIC = timedelta(minutes=10)
SKEW = timedelta(seconds=20)
DELAY = timedelta(minutes=2)


def epoch_ms(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


class TestImplausibleTimesThroughAGateway:
    """Out of the window or the calendar: a counted dead letter; everything around it: stored."""

    async def test_every_format_every_case(
        self, mosquitto: MosquittoService, pg_dsn: str, tmp_path: Path
    ) -> None:
        community = generate_community()
        config = write_file(
            tmp_path / "gateway.toml", community_config_toml(community) + MAPPING_CONFIG
        )
        traffic = YidaTraffic(community, 5, datetime.now(UTC) - TRAFFIC, TRAFFIC)
        records = list(traffic.records())
        expected_events = sum(traffic.expected_counts().values())
        log = tmp_path / "gateway.log"
        gateway = GatewayProcess(mosquitto.url, pg_dsn, log, config=str(config))
        gateway.start()
        try:
            await publish(records[: len(records) // 2], url=mosquitto.url)
            expected: Counter[tuple[str, str]] = Counter()
            now = datetime.now(UTC)
            for form in FORMATS:
                bad = [form.at(now + offset) for offset in REFUSED.values()]
                bad += [form.message(value) for value, _ in form.extremes.values()]
                good = form.at(now + ACCEPTED["9 minutes ahead"])
                messages = [*bad[:2], good, *bad[2:]]
                await mosquitto_pub(mosquitto.port, form.topic, [p for _, p in messages])
                expected.update((form.topic, "implausible_time") for _ in REFUSED)
                expected.update((form.topic, reason) for _, reason in form.extremes.values())
            await publish(records[len(records) // 2 :], url=mosquitto.url)
            total = len(records) + sum(expected.values()) + len(FORMATS)

            def all_processed() -> bool:
                # Acknowledged, not merely received: counters move when a batch commits.
                metrics = gateway.get("/metrics").decode()
                return metric(metrics, "scgw_ack_latency_seconds_count") >= total

            await wait_until(all_processed, timeout_s=90, what=f"{total} messages")
            metrics = gateway.get("/metrics").decode()
            letters = gateway.get_json("/v1/dead-letters?limit=1000")["data"]
            newest = gateway.get_json("/v1/events?limit=1")["data"]
        finally:
            gateway.stop()
        assert Counter((letter["topic"], letter["reason"]) for letter in letters) == expected
        reasons = Counter(reason for _, reason in expected.elements())
        for reason, count in reasons.items():
            assert metric(metrics, "scgw_rejections_total", reason=reason) == count
        assert metric(metrics, "scgw_events_stored_total") == expected_events + len(FORMATS)
        assert metric(metrics, "scgw_events_duplicate_total") == 0
        for letter in letters:
            assert "9999" not in letter["detail"] and "0001" not in letter["detail"]
        [top] = newest  # newest first is a plausible event, not one from year 9999
        assert datetime.fromisoformat(top["occurred_at"]) <= now + timedelta(minutes=10)


class TestClockSkewThroughAGateway:
    """Live heartbeats measure a device's clock; a drained backlog of them does not move it."""

    async def test_live_heartbeats_measure_and_a_backlog_does_not(
        self, mosquitto: MosquittoService, pg_dsn: str, tmp_path: Path
    ) -> None:
        community = generate_community()
        device = community.devices[0].device_id
        topic = status_topic(community.code, device)
        config = write_file(tmp_path / "yida.toml", community_config_toml(community))
        gateway = GatewayProcess(
            mosquitto.url,
            pg_dsn,
            tmp_path / "gateway.log",
            config=str(config),
            device_check_interval_s="0.2",
            clock_skew_report_s="10",
        )

        def heartbeat(device_time: datetime) -> bytes:
            return json.dumps({"status": "heartbeat", "ts": epoch_ms(device_time)}).encode()

        def record() -> dict[str, object]:
            found: dict[str, object] = gateway.get_json(f"/v1/devices/{device}")
            return found

        def gauge() -> float:
            metrics = gateway.get("/metrics").decode()
            return metric(
                metrics, "scgw_device_clock_skew_seconds", community="yida", device_id=device
            )

        gateway.start()
        try:
            await mosquitto_pub(mosquitto.port, topic, [heartbeat(datetime.now(UTC) + SKEW)])
            await wait_until(lambda: record()["clock_skew_s"] is not None, what="a skew")
            live = record()
            assert 15 < float(str(live["clock_skew_s"])) <= 20.001
            await wait_until(lambda: gauge() == live["clock_skew_s"], what="the skew gauge")
            gateway.stop()

            # While the gateway is down the device goes on; its heartbeats wait in the broker
            # and arrive late, as if each had been sent DELAY before it reaches the gateway.
            sent = datetime.now(UTC) - DELAY
            backlog = [heartbeat(sent + SKEW + timedelta(seconds=n)) for n in range(5)]
            await mosquitto_pub(mosquitto.port, topic, backlog)
            gateway.start()

            def drained() -> bool:
                metrics = gateway.get("/metrics").decode()
                return metric(metrics, "scgw_events_stored_total") >= len(backlog)

            await wait_until(drained, what="the backlog to be drained")
            after_backlog = record()
            await wait_until(lambda: gauge() == live["clock_skew_s"], what="the gauge, again")

            await mosquitto_pub(mosquitto.port, topic, [heartbeat(datetime.now(UTC) + SKEW)])
            await wait_until(
                lambda: record()["clock_skew_measured_at"] != live["clock_skew_measured_at"],
                what="a new live measurement",
            )
            relive = record()
        finally:
            gateway.stop()
        measured = ("clock_skew_s", "clock_skew_measured_at")
        assert [after_backlog[key] for key in measured] == [live[key] for key in measured]
        # The backlog is older than the last live word: last_seen follows event time, not arrival.
        assert after_backlog["last_seen"] == live["last_seen"]
        assert 15 < float(str(relive["clock_skew_s"])) <= 20.001
