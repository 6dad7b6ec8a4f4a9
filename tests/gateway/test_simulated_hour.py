"""One simulated hour of Yida Town, every dialect, end to end on Mosquitto and TimescaleDB.

The simulator's full mix (`simulators.yida_mix.YidaTraffic`: door controllers, cloud doors,
face and vehicle capture cameras, barrier gates, the visitor service, behaviour alarms and every
device's heartbeat) is published as fast as the broker takes it, over several connections, to a
gateway configured from the generated TOML. The store must end up with exactly the events the
simulator's ground truth names, kind by kind, served back by `GET /v1/events?kind=...`, with no
dead letter and every event from a registered device.
"""

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from gateway.config import load_config
from schemas.events import EventKind
from simulators.community import generate_community
from simulators.config_toml import community_config_toml
from simulators.publisher import publish
from simulators.traffic import EVENT_KINDS, SimMessage
from simulators.yida_mix import ONE_HOUR, YidaTraffic
from testkit.harness import gateway_settings, running_gateway, wait_until, write_file
from testkit.services import MosquittoService

PUBLISHER_CONNECTIONS = 4


class TestSimulatedHour:
    """The whole mix of one hour is stored with the right kinds and counts, and served back."""

    async def test_full_mix_is_stored_and_served_by_kind(
        self, mosquitto: MosquittoService, pg_dsn: str, tmp_path: Path
    ) -> None:
        community = generate_community()
        config = load_config(write_file(tmp_path / "yida.toml", community_config_toml(community)))
        traffic = YidaTraffic(community, 7, datetime.now(UTC) - ONE_HOUR)  # ends at the present
        records = list(traffic.records())
        expected = traffic.expected_counts()
        total = sum(expected.values())
        assert all(expected[kind] > 0 for kind in EVENT_KINDS)

        settings = gateway_settings(mosquitto.url, pg_dsn)
        async with running_gateway(settings, config) as gateway:
            report = await publish(
                ((r.topic, r.payload) for r in records),
                url=mosquitto.url,
                connections=PUBLISHER_CONNECTIONS,
            )
            assert report.count == len(records)
            registry = gateway.runtime.metrics.registry

            def stored() -> float:
                return registry.get_sample_value("scgw_events_stored_total") or 0

            await wait_until(
                lambda: stored() >= total, timeout_s=180, what=f"{total} events to be stored"
            )
            served = {kind: await gateway.events(kind=kind) for kind in EVENT_KINDS}
            everything = await gateway.events()
            dead_letters = await gateway.dead_letters()

        assert {kind: len(events) for kind, events in served.items()} == expected
        assert len(everything) == total == stored()
        assert dead_letters == []
        assert all(event["kind"] == kind for kind, events in served.items() for event in events)
        assert not [e["event_id"] for e in everything if e["unregistered_device"] is not False]
        self.assert_placed(served)
        self.assert_every_dialect_arrived(everything, records)

    @staticmethod
    def assert_placed(served: Mapping[EventKind, list[dict[str, object]]]) -> None:
        """Enrichment placed events at their gates and buildings from the registry."""
        faces = served["face_capture"]
        assert {face["gate"] for face in faces} == {"North gate", "South gate"}
        gate_passes = [v for v in served["visitor"] if v["action"] in {"checked_in", "checked_out"}]
        assert gate_passes and all(v["gate"] in {"North gate", "South gate"} for v in gate_passes)
        ramps = {"North car park ramp", "South car park ramp"}
        assert {vehicle["gate"] for vehicle in served["vehicle_pass"]} == ramps
        doors = [a for a in served["access"] if a["dialect"] == "hik-isapi" and a["building"]]
        assert doors and all(a["unit"] for a in doors)

    @staticmethod
    def assert_every_dialect_arrived(
        everything: list[dict[str, object]], records: list[SimMessage]
    ) -> None:
        """Each dialect's share of the store is what was published for it."""
        published: Counter[str] = Counter()
        for record in records:
            published[record.dialect] += len(record.kinds)
        assert Counter(str(event["dialect"]) for event in everything) == published
