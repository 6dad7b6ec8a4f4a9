"""Prometheus metrics of one gateway instance.

Each instance owns its registry (not the process-global one), so tests and the demo can run
several gateways in one process without their counters mixing.
"""

from collections import Counter as Counter_
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from gateway.store.base import ClockSkewReport

BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The gateway's counters; names follow Prometheus conventions with an `scgw_` prefix."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages_received = Counter(
            "scgw_messages_received", "MQTT messages received", registry=self.registry
        )
        self.events_parsed = Counter(
            "scgw_events_parsed", "Events parsed from messages", ["kind"], registry=self.registry
        )
        self.events_stored = Counter(
            "scgw_events_stored", "Events newly stored", registry=self.registry
        )
        self.events_duplicate = Counter(
            "scgw_events_duplicate",
            "Events dropped because their id was already stored or seen in the batch",
            registry=self.registry,
        )
        self.events_unregistered = Counter(
            "scgw_events_unregistered_device",
            "Events parsed from devices the registry does not know (accept policy)",
            registry=self.registry,
        )
        self.rejections = Counter(
            "scgw_rejections", "Messages dead-lettered", ["reason"], registry=self.registry
        )
        self.fields_dropped = Counter(
            "scgw_event_fields_dropped",
            "Event fields left empty because their text broke a rule (schemas.screening)",
            ["field", "reason"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "scgw_batch_size",
            "Messages per committed batch",
            buckets=BATCH_SIZE_BUCKETS,
            registry=self.registry,
        )
        self.ack_latency = Histogram(
            "scgw_ack_latency_seconds",
            "From message arrival to its acknowledgement after commit",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.store_retries = Counter(
            "scgw_store_retries",
            "Batch writes retried after a transient error",
            registry=self.registry,
        )
        self.mqtt_connected = Gauge(
            "scgw_mqtt_connected", "1 while connected to the broker", registry=self.registry
        )
        self.device_clock_skew = Gauge(
            "scgw_device_clock_skew_seconds",
            "How far a device's clock runs ahead (negative: behind), for devices whose skew"
            " reaches SCGW_CLOCK_SKEW_REPORT_S (the worst 1,000 at most)",
            ["community", "device_id"],
            registry=self.registry,
        )
        self.tickets_opened = Counter(
            "scgw_tickets_opened", "Governance tickets opened", ["rule"], registry=self.registry
        )
        self.tickets_updated = Counter(
            "scgw_tickets_updated",
            "Open tickets given new evidence (a repeat of their rule and subject)",
            registry=self.registry,
        )
        self.outbox_rows = Gauge(
            "scgw_outbox_rows",
            "Outbox rows for the grid platform by state (pending, delivered, dead)",
            ["state"],
            registry=self.registry,
        )
        self.devices_clock_skewed = Gauge(
            "scgw_devices_clock_skewed",
            "Devices whose clock is off by SCGW_CLOCK_SKEW_REPORT_S or more",
            registry=self.registry,
        )
        self.forward_attempts = Counter(
            "scgw_forward_attempts",
            "Deliveries of outbox rows to the grid platform tried, by result (delivered,"
            " refused: a non-2xx answer, unreachable: connection error or timeout, bad_answer,"
            " missing_ticket)",
            ["result"],
            registry=self.registry,
        )

    def count_tickets(self, opened_rules: Sequence[str], updated: int) -> None:
        """Count tickets opened (one rule per ticket) and open tickets given new evidence."""
        for rule, count in Counter_(opened_rules).items():
            self.tickets_opened.labels(rule=rule).inc(count)
        self.tickets_updated.inc(updated)

    def show_clock_skews(self, report: ClockSkewReport) -> None:
        """Replace the per-device skew series with the report's: a fixed clock drops out."""
        self.device_clock_skew.clear()
        for device in report.worst:
            self.device_clock_skew.labels(device.community, device.device_id).set(device.skew_s)
        self.devices_clock_skewed.set(report.total)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
