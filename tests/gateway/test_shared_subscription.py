"""Four gateway processes on one MQTT v5 shared subscription and one PostgreSQL: a burst of
both pilot communities' traffic is stored exactly once, each dedup key has exactly one ticket,
and the broker is left holding nothing.

The scale-out the deployment relies on (docs/deployment.md): N processes with the same
`SCGW_MQTT_SHARED_GROUP`, Mosquitto handing the group's messages out round-robin, the database
the only shared state. The burst is made to hurt:

- every process is stalled on a table lock with a full batch in hand, so all four commit at
  the same instant when it is released (the ticket upserts, the watermark row, presence and
  device rows all contended at once);
- one process is SIGKILLed while it holds its unacknowledged share, and restarted into its
  persistent session: the broker redelivers that share to it;
- forced-open doors are spread over the four processes, so every door's dedup key is recorded
  by several processes at once;
- a tenth of the messages (forced doors among them) is published a second time with the real
  `mosquitto_pub`, as a device repeats a publish it saw no acknowledgement for: the copies land
  on whichever process is next, mostly not the one that stored the original.

Nothing waits a fixed time: each step waits for a condition (the broker's `$SYS` counters,
each process's metrics, the rows in the database) with a timeout.
"""

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from schemas.events import EventKind
from simulators.community import HIK_DIALECT, pilot_community
from simulators.config_toml import communities_config_toml
from simulators.hik_isapi import Minor
from simulators.publisher import publish
from simulators.scenario_messages import Emitter
from simulators.traffic import SimMessage
from simulators.yida_mix import HourlyRates, YidaTraffic
from testkit.gateway_process import GatewayProcess
from testkit.harness import mosquitto_pub, wait_until, write_file
from testkit.services import MosquittoService, PostgresService, start_mosquitto

PILOTS = ("yida", "jiaxin")
PROCESSES = 4
TRAFFIC = timedelta(minutes=20)
RATES = HourlyRates().scaled(6)
"""Twenty minutes of both communities at six times their usual rates: about 4,000 messages."""
FORCED_DOORS = 3
"""Doors per community forced open again and again: one dedup key each."""
FORCINGS = 24
"""Forced-open events per door, spread over the burst (and so over the processes)."""
REPEAT_EVERY = 10
"""Every tenth message is published a second time."""
RULES_LATENESS = 2 * TRAFFIC
"""The allowed lateness of the watermark rules, covering the burst's disorder: a killed
process's share holds messages from anywhere in the burst's twenty minutes of event time, and
is stored after the others' (a fast replay: event time runs far ahead of the wall clock). The
restarted process evaluates the watermark rules at its start, maybe before its share is back;
with the default 10 minutes its missing `closed` events would make held-open tickets that
in-order delivery does not (tests/gateway/rules/test_engine.py, TestArrivalOrderAcrossProcesses)."""
SYS_INTERVAL_S = 1
WAIT_S = 180
"""How long each step may take to reach its condition (it goes on as soon as it holds)."""
READY_S = 300
"""How long the processes may take to become ready: four starting at once on a loaded 2-core
machine have taken over a minute (each start returns as soon as its `/readyz` answers)."""


@dataclass(frozen=True)
class Burst:
    """What is published, and what the gateway must make of it."""

    messages: list[SimMessage]
    repeats: list[SimMessage]
    events: Counter[EventKind]
    """Events by kind the store must hold, each once."""
    forced_doors: set[tuple[str, str]]
    """(community, door device id) of every door forced open."""


def burst(end: datetime) -> Burst:
    """Both pilots' clean traffic (no anomaly of its own) ending at `end`, with forced-open
    doors woven in, in event-time order, and the tenth of it that devices send twice."""
    start = end - TRAFFIC
    messages: list[SimMessage] = []
    forced_doors: set[tuple[str, str]] = set()
    for code in PILOTS:
        community = pilot_community(code)
        traffic = YidaTraffic(community, 7, start, TRAFFIC, RATES, clean=True)
        messages += traffic.records()
        emit = Emitter(community, 0)
        doors = [d for d in community.devices_of(HIK_DIALECT) if d.unit and d.readers]
        for door in doors[:FORCED_DOORS]:
            forced_doors.add((code, door.device_id))
            step = TRAFFIC / (FORCINGS + 1)
            messages += (
                emit.door_event(door, start + step * (n + 1), Minor.DOOR_FORCED_OPEN)
                for n in range(FORCINGS)
            )
    messages.sort(key=lambda message: message.at)
    events = Counter(kind for message in messages for kind in message.kinds)
    return Burst(messages, messages[::REPEAT_EVERY], events, forced_doors)


class Broker:
    """What the broker says about itself in `$SYS` (refreshed every `SYS_INTERVAL_S`)."""

    TOPICS = (
        "$SYS/broker/store/messages/count",
        "$SYS/broker/retained messages/count",
        "$SYS/broker/publish/messages/received",
        "$SYS/broker/publish/messages/dropped",
        "$SYS/broker/shared_subscriptions/count",
    )

    def __init__(self, service: MosquittoService) -> None:
        self.port = service.port

    async def read(self) -> dict[str, int]:
        """The counters, read from their retained values in one subscription (the broker sends
        them from one state, so they agree with each other)."""
        topics = [arg for topic in self.TOPICS for arg in ("-t", topic)]
        process = await asyncio.create_subprocess_exec(
            *("mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), *topics, "-v"),
            *("-C", str(len(self.TOPICS)), "-W", "10"),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await process.communicate()
        values = dict(line.rsplit(" ", 1) for line in out.decode().splitlines())
        return {topic.removeprefix("$SYS/broker/"): int(values[topic]) for topic in self.TOPICS}

    async def holding(self) -> int:
        """Messages the broker still holds for a subscriber (queued or unacknowledged): every
        message it stores that is not a retained one ($SYS's own)."""
        counts = await self.read()
        return counts["store/messages/count"] - counts["retained messages/count"]


def metric(process: GatewayProcess, name: str) -> float:
    """One counter of a gateway process's `/metrics` (0 before it has counted anything)."""
    for line in process.get("/metrics").decode().splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return 0.0


@dataclass
class Outcome:
    """The database and the broker after the burst, and what the processes counted."""

    burst: Burst
    published: int
    broker_after: dict[str, int]
    held_by_victim: float
    received_by_restarted_victim: float
    received: list[float]
    stored: list[float]
    duplicates: list[float]
    retries: list[float]
    events: list[tuple[str, str, int]]
    tickets: list[tuple[str, str, int, int, int]]
    forcings: dict[str, int]
    """Stored forced-open events per door device."""
    occurrences: dict[str, int]
    """Recorded occurrences per dedup key."""
    watermarks: dict[str, str]
    newest: dict[str, str]
    dead_letters: int


def rows(postgres: PostgresService, database: str, sql: str) -> list[list[str]]:
    out = postgres.psql(sql, database)
    return [line.split("|") for line in out.splitlines() if line]


async def start_all(processes: Iterable[GatewayProcess]) -> None:
    """Start the processes side by side (each start waits for its `/readyz`). Every start
    ends before a failure is raised, so the fixture's teardown stops every process started."""
    results = await asyncio.gather(
        *(asyncio.to_thread(p.start, READY_S) for p in processes), return_exceptions=True
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoService]:
    """A broker of the module's own: its `$SYS` counters see only this burst."""
    service = start_mosquitto(
        tmp_path_factory.mktemp("shared-mosquitto"), sys_interval_s=SYS_INTERVAL_S
    )
    yield service
    service.stop()


@pytest.fixture(scope="module")
def shared_dsn(postgres: PostgresService) -> Iterator[str]:
    yield postgres.create_database("shared_subscription_burst")
    postgres.drop_database("shared_subscription_burst")


@pytest.fixture(scope="module")
async def outcome(
    broker: MosquittoService,
    postgres: PostgresService,
    shared_dsn: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Outcome]:
    """Run the burst through four processes once; the tests below read what it left."""
    tmp = tmp_path_factory.mktemp("shared-subscription")
    database = shared_dsn.rsplit("/", 1)[1]
    config = write_file(
        tmp / "pilots.toml", communities_config_toml([pilot_community(c) for c in PILOTS])
    )
    settings = {
        "mqtt_shared_group": f"scale-{uuid.uuid4().hex[:8]}",
        "config": str(config),
        "batch_max_delay_ms": "20",
        # The watermark rules run at each start, never on a timer during the burst, and judge
        # nothing of the burst (`RULES_LATENESS`): the tickets here are the instant rules',
        # recorded in the processes' write transactions.
        "rules_interval_s": "3600",
        "rules_lateness_s": str(int(RULES_LATENESS.total_seconds())),
    }
    processes = [
        GatewayProcess(broker.url, shared_dsn, tmp / f"gateway-{n}.log", **settings)
        for n in range(PROCESSES)
    ]
    victim = processes[0]
    work = burst(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))
    sys = Broker(broker)
    try:
        await start_all(processes)
        await wait_until(
            lambda: _subscribed(sys),
            timeout_s=WAIT_S,
            what="the four processes' shared subscriptions",
        )
        async with await psycopg.AsyncConnection.connect(shared_dsn) as lock:
            # Every process's write blocks on this lock with its batch unacknowledged.
            await lock.execute("LOCK TABLE events IN EXCLUSIVE MODE")
            report = await publish(
                ((m.topic, m.payload) for m in work.messages), url=broker.url, connections=4
            )
            assert report.count == len(work.messages)
            await wait_until(
                lambda: all(metric(p, "scgw_messages_received_total") > 0 for p in processes),
                timeout_s=WAIT_S,
                what="every process holding a batch",
            )
            held = metric(victim, "scgw_messages_received_total")
            victim.kill()
            await lock.rollback()  # the three others commit at the same instant
        restarting = start_all([victim])
        await asyncio.gather(restarting, publish_twice(broker.port, work.repeats))
        published = len(work.messages) + len(work.repeats)
        expected = sum(work.events.values())

        def stored() -> bool:
            return int(postgres.psql("SELECT count(*) FROM events", database)) >= expected

        await wait_until(stored, timeout_s=WAIT_S, what=f"{expected} events stored")

        async def broker_done() -> bool:
            counts = await sys.read()
            return (
                counts["publish/messages/received"] >= published
                and counts["store/messages/count"] == counts["retained messages/count"]
            )

        await wait_until(broker_done, timeout_s=WAIT_S, what="the broker to hold nothing")
        yield Outcome(
            burst=work,
            published=published,
            broker_after=await sys.read(),
            held_by_victim=held,
            received_by_restarted_victim=metric(victim, "scgw_messages_received_total"),
            received=[metric(p, "scgw_messages_received_total") for p in processes],
            stored=[metric(p, "scgw_events_stored_total") for p in processes],
            duplicates=[metric(p, "scgw_events_duplicate_total") for p in processes],
            retries=[metric(p, "scgw_store_retries_total") for p in processes],
            events=[
                (kind, event_id, int(n))
                for kind, event_id, n in rows(
                    postgres,
                    database,
                    "SELECT kind, event_id, count(*) FROM events GROUP BY kind, event_id",
                )
            ],
            tickets=[
                (key, rule, int(n), int(occurrences), int(evidence))
                for key, rule, n, occurrences, evidence in rows(
                    postgres,
                    database,
                    "SELECT dedup_key, min(rule), count(*), sum(occurrences), sum(evidence_count)"
                    " FROM tickets GROUP BY dedup_key",
                )
            ],
            forcings={
                device: int(n)
                for device, n in rows(
                    postgres,
                    database,
                    "SELECT device_id, count(*) FROM events WHERE kind = 'door_state'"
                    " AND body ->> 'state' = 'forced_open' GROUP BY device_id",
                )
            },
            occurrences={
                key: int(n)
                for key, n in rows(
                    postgres,
                    database,
                    "SELECT dedup_key, count(*) FROM ticket_occurrences GROUP BY dedup_key",
                )
            },
            watermarks=dict(
                rows(postgres, database, "SELECT community, newest_at FROM rule_watermarks")
            ),
            # The watermark's own definition: each event's time capped at its arrival.
            newest=dict(
                rows(
                    postgres,
                    database,
                    "SELECT community, max(least(occurred_at, received_at)) FROM events"
                    " GROUP BY community",
                )
            ),
            dead_letters=int(postgres.psql("SELECT count(*) FROM dead_letters", database)),
        )
    finally:
        for process in processes:
            process.stop()


async def _subscribed(sys: Broker) -> bool:
    return (await sys.read())["shared_subscriptions/count"] >= PROCESSES


async def publish_twice(port: int, repeats: list[SimMessage]) -> None:
    """The repeated messages again, with the real `mosquitto_pub`, one client per topic."""
    topics = dict.fromkeys(m.topic for m in repeats)
    await asyncio.gather(
        *(mosquitto_pub(port, t, [m.payload for m in repeats if m.topic == t]) for t in topics)
    )


class TestExactlyOnceAcrossProcesses:
    """Whichever process a message (or its copy, or its redelivery) reached, its events are
    stored once."""

    def test_every_event_is_stored_exactly_once(self, outcome: Outcome) -> None:
        assert [e for e in outcome.events if e[2] != 1] == []
        assert Counter(kind for kind, _, _ in outcome.events) == outcome.burst.events

    def test_the_copies_were_recognised_as_duplicates(self, outcome: Outcome) -> None:
        """A tenth of the burst came twice; the processes counted the copies as duplicates
        (the victim's count before its kill is lost with it, so at least most of them)."""
        repeated = sum(len(m.kinds) for m in outcome.burst.repeats)
        assert sum(outcome.duplicates) >= repeated * (PROCESSES - 1) / PROCESSES / 2

    def test_nothing_was_dead_lettered(self, outcome: Outcome) -> None:
        assert outcome.dead_letters == 0

    def test_no_batch_had_to_be_retried(self, outcome: Outcome) -> None:
        """Batches committing at the same instant take their row locks in one order, so none
        deadlocked (PostgreSQL would have aborted it and the committer retried it)."""
        assert outcome.retries == [0] * PROCESSES


class TestOneTicketPerDedupKey:
    """Forced-open doors recorded by several processes at once make one ticket per door,
    counting each forcing once."""

    def test_each_forced_door_has_exactly_one_ticket(self, outcome: Outcome) -> None:
        assert [t for t in outcome.tickets if t[2] != 1] == []
        assert {rule for _, rule, _, _, _ in outcome.tickets} == {"safety.door_forced"}
        assert len(outcome.tickets) == len(outcome.burst.forced_doors)
        doors = {tuple(key.split(":")[1:3]) for key, *_ in outcome.tickets}
        assert doors == outcome.burst.forced_doors

    def test_every_forcing_is_one_occurrence_and_one_piece_of_evidence(
        self, outcome: Outcome
    ) -> None:
        assert set(outcome.forcings.values()) == {FORCINGS}
        assert set(outcome.occurrences.values()) == {FORCINGS}
        counted = {
            key: (occurrences, evidence) for key, _, _, occurrences, evidence in outcome.tickets
        }
        assert counted == {key: (FORCINGS, FORCINGS) for key in counted}


class TestTheBrokerIsLeftEmpty:
    """Every message was acknowledged by the process that stored it: the broker holds none."""

    def test_no_message_is_queued_or_unacknowledged(self, outcome: Outcome) -> None:
        counts = outcome.broker_after
        assert counts["store/messages/count"] == counts["retained messages/count"]
        assert counts["publish/messages/received"] >= outcome.published
        assert counts["publish/messages/dropped"] == 0

    def test_every_process_had_a_share(self, outcome: Outcome) -> None:
        assert all(received > 0 for received in outcome.received)
        assert all(stored > 0 for stored in outcome.stored)

    def test_the_killed_process_got_its_share_again(self, outcome: Outcome) -> None:
        """Its unacknowledged batch was redelivered to its resumed session."""
        assert outcome.received_by_restarted_victim >= outcome.held_by_victim


class TestWatermarks:
    """The community watermark row that every process moves ends at the newest event time."""

    def test_each_community_watermark_is_its_newest_event(self, outcome: Outcome) -> None:
        assert set(outcome.watermarks) == set(PILOTS)
        assert outcome.watermarks == outcome.newest
