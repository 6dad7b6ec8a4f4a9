"""The cloud visitor service: registrations of several visitors, gate passes, cancellations."""

import json
import random
from collections import Counter
from datetime import datetime, timedelta, timezone
from itertools import islice, takewhile
from typing import Any

import pytest

from schemas.events import VisitorEvent
from simulators.community import Community, generate_community
from simulators.traffic import SimMessage
from simulators.visitor_cloud import VisitorStream
from tests.simulators.parsing import PSEUDONYMIZER, GatewayParser

CST = timezone(timedelta(hours=8))
START = datetime(2026, 11, 26, 8, 0, tzinfo=CST)
HOURS = 40
Parsed = list[tuple[dict[str, Any], list[VisitorEvent]]]


@pytest.fixture(scope="module")
def yida() -> Community:
    return generate_community()


@pytest.fixture(scope="module")
def records(yida: Community) -> list[SimMessage]:
    end = START + timedelta(hours=HOURS)
    return list(takewhile(lambda r: r.at < end, VisitorStream(yida, random.Random(4), START)))


@pytest.fixture(scope="module")
def parsed(yida: Community, records: list[SimMessage]) -> Parsed:
    parser = GatewayParser(yida)
    found: Parsed = []
    for record in records:
        events = parser(record)
        visitors = [event for event in events if isinstance(event, VisitorEvent)]
        assert len(visitors) == len(events)
        found.append((json.loads(record.payload), visitors))
    return found


class TestDeterminism:
    """The same generator state gives the same messages; another seed other ones."""

    def test_same_seed(self, yida: Community) -> None:
        first = list(islice(VisitorStream(yida, random.Random(3), START), 100))
        assert first == list(islice(VisitorStream(yida, random.Random(3), START), 100))
        assert first != list(islice(VisitorStream(yida, random.Random(4), START), 100))


class TestContract:
    """Registrations give one event per visitor; passes and cancellations one event each."""

    def test_events_per_message(self, parsed: Parsed) -> None:
        sizes: Counter[int] = Counter()
        for document, events in parsed:
            if document["msgType"] == "registration":
                assert len(events) == len(document["visitors"])
                sizes[len(events)] += 1
                assert all(e.action == "registered" and e.visitor_ref for e in events)
                assert all(e.device_id == "vc-yida-01" for e in events)
            else:
                assert len(events) == 1
        assert set(sizes) == {1, 2, 3}

    def test_visitors_pass_the_gate_controllers(self, yida: Community, parsed: Parsed) -> None:
        gates = {d.device_id for d in yida.devices if d.dialect == "hik-isapi" and d.gate}
        actions: Counter[str] = Counter()
        for document, (event, *_) in parsed:
            actions[event.action] += 1
            if event.action in {"checked_in", "checked_out"}:
                assert event.device_id == document["gateDeviceId"] in gates
        assert set(actions) == {"registered", "checked_in", "checked_out", "cancelled"}
        assert actions["cancelled"] < actions["registered"] / 10

    def test_passes_follow_their_registration(self, parsed: Parsed) -> None:
        registered: dict[str, list[VisitorEvent]] = {}
        checked_in: set[tuple[str, str | None]] = set()
        early = 0
        for document, events in parsed:
            visit = document["visitId"]
            if document["msgType"] == "registration":
                registered[visit] = events
                continue
            if visit not in registered:  # registered before the stream started (warm-up)
                early += 1
                continue
            if document["msgType"] == "cancellation":
                continue
            if "visitorIndex" in document:
                ref = registered[visit][document["visitorIndex"]].visitor_ref
            else:
                ref = PSEUDONYMIZER.hash("id_number", document["idNumber"])
                assert ref in {e.visitor_ref for e in registered[visit]}
            if document["msgType"] == "checkin":
                checked_in.add((visit, ref))
            else:
                assert (visit, ref) in checked_in
        assert early > 0

    def test_rate(self, records: list[SimMessage]) -> None:
        assert 16 * HOURS < len(records) < 26 * HOURS
