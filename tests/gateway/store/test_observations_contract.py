"""What the events add to the models, on both stores: presence, vehicle sightings and visitor
records recorded from newly stored events (redelivery changes nothing), the resolvers,
inferred residencies, and retention. Times are relative to the real now."""

from datetime import UTC, date, datetime, timedelta

import pytest

from gateway.store import Store
from gateway.store.observations import ResidencyRule, local_day
from schemas.events import DeviceEvent
from schemas.privacy import subject_key
from tests.gateway.observed_events import (
    CAMERA,
    CARD,
    ID_HASH,
    OTHER_CARD,
    PLATE,
    YIDA,
    access,
    face,
    local,
    vehicle,
    visit,
)
from tests.gateway.store.master_rows import MasterRows

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def when(value: object) -> datetime:
    """A stored time on either backend as an aware UTC datetime."""
    if isinstance(value, int):
        return _EPOCH + timedelta(microseconds=value)
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


def day_of(value: object) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[return-value]


@pytest.fixture
def rows(database: str) -> MasterRows:
    return MasterRows(database)


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


def presence(rows: MasterRows) -> list[tuple[object, ...]]:
    found = rows.sql(
        f"SELECT subject_key, building, unit, day, night, ref, {rows.t('first_at')},"
        f" {rows.t('last_at')} FROM presence ORDER BY subject_key, building, unit, day"
    )
    return [
        (s, b, u, day_of(d), bool(n), r, when(f), when(la)) for s, b, u, d, n, r, f, la in found
    ]


def vehicles(rows: MasterRows) -> list[tuple[object, ...]]:
    found = rows.sql(
        f"SELECT vehicle_id, plate_no, plate_color, registered, {rows.t('first_seen_at')},"
        f" {rows.t('last_seen_at')} FROM vehicles ORDER BY plate_color"
    )
    return [(v, p, c, bool(r), when(f), when(la)) for v, p, c, r, f, la in found]


def persons(rows: MasterRows) -> list[tuple[object, ...]]:
    found = rows.sql(
        "SELECT person_id, id_hash, population_type, id_type, id_masked, name_masked,"
        f" phone_masked, visit_house, {rows.t('visit_from')}, {rows.t('visit_until')}"
        " FROM persons ORDER BY person_id"
    )
    return [
        (
            *row[:8],
            None if row[8] is None else when(row[8]),
            None if row[9] is None else when(row[9]),
        )
        for row in found
    ]


class TestPresence:
    """Presence rows come from newly stored access, face and visitor events at doors and gates."""

    async def test_a_unit_door_opening_records_one_row_for_the_subjects_day(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """Two openings on one local day, one at night, give one row with night set and the
        first and last times."""
        morning, evening = local(now, 1, 9), local(now, 1, 21)
        await store.write_batch([access(1, morning), access(2, evening)], [])
        assert presence(rows) == [
            (subject_key(YIDA, CARD), "B01", "U1", local_day(morning), True, CARD, morning, evening)
        ]

    async def test_redelivery_changes_nothing(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """A batch written again (a redelivery) leaves presence as the first write left it."""
        batch = [access(1, local(now, 1, 12)), access(2, local(now, 2, 12))]
        await store.write_batch(batch, [])
        before = presence(rows)
        await store.write_batch([*batch, access(1, local(now, 1, 12))], [])
        assert presence(rows) == before
        assert len(before) == 2

    async def test_a_later_batch_widens_the_day_and_ors_the_night_flag(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """A night sighting in a later batch sets night; first and last span both batches."""
        noon, night, early = local(now, 1, 12), local(now, 1, 22), local(now, 1, 9)
        await store.write_batch([access(1, noon)], [])
        await store.write_batch([access(2, night), access(3, early)], [])
        [(*_, is_night, _ref, first, last)] = presence(rows)
        assert (is_night, first, last) == (True, early, night)

    async def test_last_seen_moves_in_quarter_hours_across_batches(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """A later batch's sighting within 15 minutes of the stored last one leaves the row; one
        beyond moves `last_at` to it."""
        noon = local(now, 1, 12)
        await store.write_batch([access(1, noon)], [])
        await store.write_batch([access(2, noon + timedelta(minutes=14))], [])
        assert presence(rows)[0][-1] == noon
        await store.write_batch([access(3, noon + timedelta(minutes=16))], [])
        assert presence(rows)[0][-1] == noon + timedelta(minutes=16)

    async def test_gate_sightings_have_an_empty_place(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """A gate opening is recorded with building and unit ''."""
        await store.write_batch(
            [access(1, local(now, 1, 12), building=None, gate="North gate")], []
        )
        assert [row[1:3] for row in presence(rows)] == [("", "")]

    async def test_a_stranger_track_is_present_without_a_ref(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """A stranger's capture is keyed by its track and carries no ref."""
        await store.write_batch([face(1, local(now, 1, 12), track="T9")], [])
        [(key, *_place, _day, _night, ref, _first, _last)] = presence(rows)
        assert (key, ref) == (subject_key(YIDA, f"track:{CAMERA}:T9"), None)


class TestVehicleSightings:
    """Vehicle passes update their vehicle's first/last seen or add an unregistered one."""

    async def test_an_unknown_plate_becomes_an_unregistered_vehicle(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """Two passes of a new plate insert one unregistered vehicle spanning both."""
        first, last = now - timedelta(hours=3), now - timedelta(hours=1)
        await store.write_batch([vehicle(1, last), vehicle(2, first)], [])
        [(vehicle_id, plate, colour, registered, seen_first, seen_last)] = vehicles(rows)
        assert str(vehicle_id).startswith("v_")
        assert (plate, colour, registered, seen_first, seen_last) == (
            PLATE,
            "blue",
            False,
            first,
            last,
        )

    async def test_redelivery_changes_nothing(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """The same passes written again leave the vehicle as it was."""
        batch = [vehicle(1, now - timedelta(hours=2))]
        await store.write_batch(batch, [])
        before = vehicles(rows)
        await store.write_batch(batch, [])
        assert vehicles(rows) == before

    async def test_a_registered_vehicle_is_updated_not_duplicated(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """A pass of a registered plate moves its last seen and adds no record."""
        rows.vehicle(
            YIDA, "v_registered", PLATE, "blue", registered=True, last_seen=now - timedelta(days=2)
        )
        await store.write_batch([vehicle(1, now - timedelta(hours=1))], [])
        [(vehicle_id, _, _, registered, _, last)] = vehicles(rows)
        assert (vehicle_id, registered, last) == ("v_registered", True, now - timedelta(hours=1))

    async def test_an_unknown_colour_matches_the_plate_in_any_colour(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """A pass read without a colour updates the plate's yellow record."""
        rows.vehicle(
            YIDA, "v_yellow", PLATE, "yellow", registered=True, last_seen=now - timedelta(days=2)
        )
        await store.write_batch([vehicle(1, now - timedelta(hours=1), colour="unknown")], [])
        assert [(v[0], v[5]) for v in vehicles(rows)] == [("v_yellow", now - timedelta(hours=1))]


class TestVisitorRecords:
    """Visitor events create visitor records; residents keep their population type."""

    async def test_a_visit_creates_a_visitor_record(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """The record holds the hash, masked forms, host house and visit window."""
        at = now - timedelta(hours=1)
        await store.write_batch([visit(1, at)], [])
        [(person_id, *fields)] = persons(rows)
        assert str(person_id).startswith("p_")
        assert fields == [
            ID_HASH,
            "visitor",
            "resident_id_card",
            "430112********123X",
            "张*",
            "138****5678",
            "yida-B01-U1-1702",
            at,
            at + timedelta(hours=4),
        ]

    async def test_check_out_ends_the_visit_and_a_redelivered_registration_changes_nothing(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """Checking out ends the visit then; the registration delivered again afterwards does
        not reopen it."""
        start = now - timedelta(hours=3)
        registration = visit(1, start)
        await store.write_batch([registration], [])
        await store.write_batch([visit(2, start + timedelta(hours=1), action="checked_out")], [])
        before = persons(rows)
        await store.write_batch([registration], [])
        assert persons(rows) == before
        assert before[0][-1] == start + timedelta(hours=1)

    async def test_a_resident_visiting_stays_a_resident(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """A visit by a registered resident updates the visit columns only."""
        rows.person(YIDA, "p_resident", ID_HASH, "floating")
        await store.write_batch([visit(1, now - timedelta(hours=1))], [])
        [(person_id, _, population_type, id_type, _, name, _, house, *_)] = persons(rows)
        assert (person_id, population_type, id_type, name, house) == (
            "p_resident",
            "floating",
            None,
            None,
            "yida-B01-U1-1702",
        )


class TestVisitorRecordsFollowEventTime:
    """A visitor record's visit follows its newest event, not the batch that committed last
    (processes on one shared subscription commit in any order; a device may resend an older
    message later)."""

    async def test_a_cancellation_stays_when_an_older_registration_commits_after_it(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """The registration and its cancellation seconds apart, stored in reverse order, end
        in the cancelled visit, as they do in order."""
        start = now - timedelta(hours=1)
        cancelled_at = start + timedelta(seconds=20)
        await store.write_batch([visit(2, cancelled_at, action="cancelled")], [])
        await store.write_batch([visit(1, start)], [])
        [record] = persons(rows)
        assert record[-3:] == ("yida-B01-U1-1702", cancelled_at, cancelled_at)
        assert visit_event(rows) == [cancelled_at]

    async def test_either_order_ends_in_the_same_record(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """Two events of different times commute: the record (but its id) is the same."""
        start, end = now - timedelta(hours=1), now - timedelta(minutes=59, seconds=40)
        records = []
        for first, second in ((1, 2), (4, 3)):  # new event ids: a redelivery would add nothing
            rows.sql("DELETE FROM persons")
            for number in (first, second):
                registered = number % 2
                at = start if registered else end
                event = visit(number, at) if registered else visit(number, at, action="cancelled")
                await store.write_batch([event], [])
            records.append([(*record[1:], *visit_event(rows)) for record in persons(rows)])
        assert records[0] == records[1]
        assert records[0][0][-2:] == (end, end)

    async def test_an_event_at_the_stored_time_applies(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """Equal event times: the later batch wins, as the later arrival does in a batch."""
        at = now - timedelta(hours=1)
        await store.write_batch([visit(1, at)], [])
        await store.write_batch([visit(2, at, action="checked_out")], [])
        assert persons(rows)[0][-1] == at
        assert visit_event(rows) == [at]

    async def test_an_older_event_only_fills_what_is_still_empty(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """A cancellation that names no house nor masked forms, then its older registration:
        the house and masks come from the registration, the end from the cancellation."""
        start = now - timedelta(hours=1)
        bare = visit(2, start + timedelta(seconds=20), action="cancelled").model_copy(
            update={
                "host_house": None,
                "name_masked": None,
                "phone_masked": None,
                "valid_from": None,
                "valid_until": None,
            }
        )
        await store.write_batch([bare], [])
        assert persons(rows)[0][5:8] == (None, None, None)
        await store.write_batch([visit(1, start)], [])
        [(_, *fields)] = persons(rows)
        assert fields == [
            ID_HASH,
            "visitor",
            "resident_id_card",
            "430112********123X",
            "张*",
            "138****5678",
            "yida-B01-U1-1702",
            start,
            start + timedelta(seconds=20),
        ]

    async def test_a_resident_keeps_their_masked_forms_and_type_in_either_order(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """On a resident's row only the visit columns change, by the same event-time rule."""
        rows.person(YIDA, "p_resident", ID_HASH, "floating")
        rows.sql("UPDATE persons SET name_masked = '李*', phone_masked = '139****0000'")
        start = now - timedelta(hours=1)
        await store.write_batch([visit(2, start + timedelta(seconds=20), action="cancelled")], [])
        await store.write_batch([visit(1, start)], [])
        [(person_id, _, population_type, id_type, _, name, phone, *visit_columns)] = persons(rows)
        assert (person_id, population_type, id_type, name, phone) == (
            "p_resident",
            "floating",
            None,
            "李*",
            "139****0000",
        )
        assert visit_columns == [
            "yida-B01-U1-1702",
            start + timedelta(seconds=20),
            start + timedelta(seconds=20),
        ]

    async def test_a_record_stored_before_the_migration_takes_the_next_event(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """Migration 0015 keeps stored records as they are with no event time ("older than
        anything"): the next event applies whatever its time, and sets it."""
        start = now - timedelta(hours=1)
        await store.write_batch([visit(2, start, action="checked_out")], [])
        before = persons(rows)
        rows.sql(f"ALTER TABLE persons DROP COLUMN {rows.t('visit_event_at')}")  # before 0015
        rows.sql("DELETE FROM schema_migrations WHERE version = '0015_visit_event_time'")
        assert await store.migrate() == ["0015_visit_event_time"]
        assert persons(rows) == before
        assert visit_event(rows) == [None]
        older = start - timedelta(minutes=5)
        await store.write_batch([visit(1, older)], [])
        assert persons(rows)[0][-1] == older + timedelta(hours=4)
        assert visit_event(rows) == [older]


def visit_event(rows: MasterRows) -> list[datetime | None]:
    found = rows.sql(f"SELECT {rows.t('visit_event_at')} FROM persons ORDER BY person_id")
    return [None if value is None else when(value) for (value,) in found]


class TestResolvers:
    """`resolve_refs` and `resolve_plates` answer for the pairs asked, with validity."""

    async def test_credentials_and_id_hashes_resolve_with_their_validity(
        self, store: Store, rows: MasterRows
    ) -> None:
        """A card gives its holder and dates; an ID hash gives its person, open-ended."""
        rows.person(YIDA, "p_1", ID_HASH)
        since, until = date(2026, 1, 1), date(2026, 6, 30)
        rows.credential(YIDA, CARD, "p_1", since, until)
        found = await store.resolve_refs([(YIDA, CARD), (YIDA, ID_HASH), (YIDA, OTHER_CARD)])
        assert sorted((m.ref, m.person_id, m.since, m.until) for m in found) == [
            (CARD, "p_1", since, until),
            (ID_HASH, "p_1", None, None),
        ]

    async def test_a_ref_of_another_community_does_not_resolve(
        self, store: Store, rows: MasterRows
    ) -> None:
        """The same card asked for another community finds nothing."""
        rows.person(YIDA, "p_1", ID_HASH)
        rows.credential(YIDA, CARD, "p_1")
        assert await store.resolve_refs([("jiaxin", CARD)]) == []

    async def test_plates_resolve_in_every_colour(self, store: Store, rows: MasterRows) -> None:
        """Both colours of a plate come back with their registration."""
        rows.vehicle(YIDA, "v_1", PLATE, "blue", registered=True)
        rows.vehicle(YIDA, "v_2", PLATE, "yellow", registered=False)
        found = await store.resolve_plates([(YIDA, PLATE)])
        assert sorted((m.plate_color, m.registered) for m in found) == [
            ("blue", True),
            ("yellow", False),
        ]


def inferred(rows: MasterRows) -> list[tuple[object, ...]]:
    return rows.sql(
        "SELECT subject_key, building, unit, house_code, person_id, confidence, days,"
        f" night_days, {rows.t('evidence_from')}, {rows.t('evidence_until')}, since, until"
        " FROM inferred_residencies ORDER BY subject_key"
    )


def week(now: datetime, days: int, nights: int, credential: str = CARD) -> list[DeviceEvent]:
    """Openings of unit B01-U1 on `days` distinct past days, `nights` of them at 21:00."""
    return [
        access(100 + n, local(now, n + 1, 21 if n < nights else 12), credential=credential)
        for n in range(days)
    ]


class TestInference:
    """Repeated use of one unit door infers a residency; registered residents never get one."""

    async def test_five_days_two_nights_infer_a_residency_of_the_unit(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """The unit's only house, the subject's person, a confidence and the evidence window."""
        rows.house(YIDA, "yida-B01-U1-1702", "B01", "U1")
        rows.person(YIDA, "p_tenant", ID_HASH, "floating")
        rows.credential(YIDA, CARD, "p_tenant")
        events = week(now, 5, 2)
        await store.write_batch(events, [])
        report = await store.infer_residencies(now, ResidencyRule())
        assert (report.inferred, report.refreshed, report.lapsed) == (1, 0, 0)
        [
            (
                key,
                building,
                unit,
                house,
                person,
                confidence,
                days,
                nights,
                first,
                last,
                since,
                until,
            )
        ] = inferred(rows)
        assert (key, building, unit, house, person, days, nights, until) == (
            subject_key(YIDA, CARD),
            "B01",
            "U1",
            "yida-B01-U1-1702",
            "p_tenant",
            5,
            2,
            None,
        )
        assert 0 < float(confidence) <= 1  # type: ignore[arg-type]
        times = sorted(e.occurred_at for e in events)
        assert (when(first), when(last)) == (times[0], times[-1])
        assert day_of(since) == local_day(times[0])

    async def test_four_days_infer_nothing(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """Four days (two at night) are below the rule."""
        await store.write_batch(week(now, 4, 2), [])
        await store.infer_residencies(now, ResidencyRule())
        assert inferred(rows) == []

    async def test_one_night_infers_nothing(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """Seven days with only one at night are below the rule."""
        await store.write_batch(week(now, 7, 1), [])
        await store.infer_residencies(now, ResidencyRule())
        assert inferred(rows) == []

    async def test_a_registered_resident_of_the_unit_never_gets_one(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """A person with a current registered residency in the unit is not inferred there,
        while an unknown card on the same days is (and, two houses in the unit, without a
        house code)."""
        rows.house(YIDA, "yida-B01-U1-1701", "B01", "U1")
        rows.house(YIDA, "yida-B01-U1-1702", "B01", "U1")
        rows.person(YIDA, "p_owner", ID_HASH)
        rows.residency("p_owner", "yida-B01-U1-1702", since=local_day(now) - timedelta(days=400))
        rows.credential(YIDA, CARD, "p_owner")
        stranger_card = [
            access(200 + e_number, e.occurred_at, credential=OTHER_CARD)
            for e_number, e in enumerate(week(now, 6, 3))
        ]
        await store.write_batch([*week(now, 10, 5), *stranger_card], [])
        await store.infer_residencies(now, ResidencyRule())
        assert [(row[0], row[3], row[4]) for row in inferred(rows)] == [
            (subject_key(YIDA, OTHER_CARD), None, None)
        ]

    async def test_evidence_ageing_out_lapses_it(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """Fifteen days later, with no new sightings, the residency ends on its last evidence
        day; running again changes nothing more."""
        events = week(now, 5, 2)
        await store.write_batch(events, [])
        await store.infer_residencies(now, ResidencyRule())
        later = now + timedelta(days=15)
        report = await store.infer_residencies(later, ResidencyRule())
        assert (report.inferred, report.lapsed) == (0, 1)
        [row] = inferred(rows)
        assert day_of(row[-1]) == local_day(max(e.occurred_at for e in events))
        again = await store.infer_residencies(later, ResidencyRule())
        assert (again.inferred, again.refreshed, again.lapsed) == (0, 0, 0)

    async def test_a_second_pass_refreshes_without_inferring_again(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """Running twice on the same evidence refreshes the one residency."""
        await store.write_batch(week(now, 6, 2), [])
        await store.infer_residencies(now, ResidencyRule())
        report = await store.infer_residencies(now, ResidencyRule())
        assert (report.inferred, report.refreshed, report.lapsed) == (0, 1, 0)
        assert len(inferred(rows)) == 1


class TestRetention:
    """Retention removes exactly what is older than its period and nothing else."""

    async def test_retention_removes_old_rows_and_keeps_the_rest(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """With 30 days for events and 180 for the audit log: the 40-day-old event, presence,
        lapsed residency, unregistered vehicle, ended visitor record and 200-day-old audit
        entry go; the 20-day-old ones, registered vehicles, live residencies and residents
        stay."""
        old, recent = now - timedelta(days=40), now - timedelta(days=20)
        old_events = [access(1, old), access(2, old - timedelta(days=3))]
        await store.write_batch(
            [*old_events, access(3, recent), access(4, now - timedelta(days=29, hours=23))], []
        )
        rows.sql(
            "INSERT INTO inferred_residencies (community, subject_key, building, unit, confidence,"
            f" days, night_days, {rows.t('evidence_from')}, {rows.t('evidence_until')}, since,"
            f" until, {rows.t('updated_at')}) VALUES"
            " ('yida', 's_old', 'B01', 'U1', 0.5, 5, 2, %(t)s, %(t)s, %(d)s, %(old)s, %(t)s),"
            " ('yida', 's_recent', 'B01', 'U1', 0.5, 5, 2, %(t)s, %(t)s, %(d)s, %(new)s, %(t)s),"
            " ('yida', 's_live', 'B01', 'U1', 0.5, 5, 2, %(t)s, %(t)s, %(d)s, NULL, %(t)s)",
            {
                "t": old,
                "d": local_day(old) - timedelta(days=10),
                "old": local_day(old),
                "new": local_day(recent),
            },
        )
        rows.vehicle(YIDA, "v_old", "湘A11111", "blue", registered=False, last_seen=old)
        rows.vehicle(YIDA, "v_recent", "湘A22222", "blue", registered=False, last_seen=recent)
        rows.vehicle(YIDA, "v_registered", "湘A33333", "blue", registered=True, last_seen=old)
        rows.visitor(YIDA, "p_old_visit", "h1:" + "d" * 32, old)
        rows.visitor(YIDA, "p_recent_visit", "h1:" + "e" * 32, recent)
        rows.person(YIDA, "p_resident", ID_HASH)
        rows.audit(now - timedelta(days=200))
        rows.audit(now - timedelta(days=100))

        report = await store.enforce_retention(now, 30, 180)

        assert sorted(str(r[0]) for r in rows.sql("SELECT event_id FROM events")) == [
            "acc-000003",
            "acc-000004",
        ]
        assert sorted(day_of(r[3]) for r in presence(rows)) == sorted(
            {local_day(recent), local_day(now - timedelta(days=29, hours=23))}
        )
        assert sorted(
            str(r[0]) for r in rows.sql("SELECT subject_key FROM inferred_residencies")
        ) == ["s_live", "s_recent"]
        assert sorted(str(r[0]) for r in rows.sql("SELECT vehicle_id FROM vehicles")) == [
            "v_recent",
            "v_registered",
        ]
        assert sorted(str(r[0]) for r in rows.sql("SELECT person_id FROM persons")) == [
            "p_recent_visit",
            "p_resident",
        ]
        assert len(rows.sql("SELECT 1 FROM audit_log")) == 1
        assert (
            report.presence,
            report.inferred_residencies,
            report.vehicles,
            report.visitors,
            report.audit_entries,
        ) == (2, 1, 1, 1, 1)

    async def test_an_ended_registration_is_kept(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """A vehicle a snapshot ended long ago and not seen since stays; a never-registered
        one of the same age goes."""
        old = now - timedelta(days=40)
        ended = local_day(old) - timedelta(days=1)
        rows.vehicle(
            YIDA, "v_ended", "湘A11111", "blue", registered=False, last_seen=old, until=ended
        )
        rows.vehicle(YIDA, "v_stranger", "湘A22222", "blue", registered=False, last_seen=old)
        report = await store.enforce_retention(now, 30, 180)
        assert [str(r[0]) for r in rows.sql("SELECT vehicle_id FROM vehicles")] == ["v_ended"]
        assert report.vehicles == 1

    async def test_a_second_pass_removes_nothing(
        self, store: Store, rows: MasterRows, now: datetime
    ) -> None:
        """Retention run twice removes nothing the second time."""
        await store.write_batch([access(1, now - timedelta(days=40))], [])
        await store.enforce_retention(now, 30, 180)
        assert (await store.enforce_retention(now, 30, 180)).total == 0
