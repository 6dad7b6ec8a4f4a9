"""Two weeks of door traffic ending now: the tenant qualifies for inference, nobody else does."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest

from schemas.events import AccessEvent, FaceCapture, VehiclePass, VisitorEvent
from schemas.privacy import credential_ref, hash_id_number
from schemas.times import CHINA_STANDARD_TIME as CST
from simulators.community import generate_jiaxin, generate_yida
from simulators.masterdata import MasterData, community_master_data
from simulators.residency import DAYS, ResidencyScenario, Sighting
from tests.simulators.parsing import PSEUDONYMIZER, GatewayParser

END = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module", params=["yida", "jiaxin"])
def data(request: pytest.FixtureRequest) -> MasterData:
    community = generate_yida() if request.param == "yida" else generate_jiaxin()
    return community_master_data(community)


@pytest.fixture(scope="module")
def scenario(data: MasterData) -> ResidencyScenario:
    return ResidencyScenario(data, END)


@pytest.fixture(scope="module")
def sightings(scenario: ResidencyScenario) -> list[Sighting]:
    return scenario.sightings()


def is_night(moment: datetime) -> bool:
    hour = moment.astimezone(CST).hour
    return hour >= 19 or hour < 8


def local_day(moment: datetime) -> date:
    return moment.astimezone(CST).date()


class TestWindow:
    """Every event lies in the window that ends now, in event-time order."""

    def test_times(self, sightings: list[Sighting]) -> None:
        times = [s.message.at for s in sightings]
        assert times == sorted(times)
        assert END - timedelta(days=DAYS) < times[0]
        assert times[-1] < END

    def test_days_are_the_window_before_today(self, scenario: ResidencyScenario) -> None:
        days = scenario.dates()
        today = END.astimezone(CST).date()
        assert len(days) == DAYS - 1
        assert days[-1] == today - timedelta(days=1)

    def test_same_arguments_same_messages(
        self, data: MasterData, sightings: list[Sighting]
    ) -> None:
        again = ResidencyScenario(data, END).sightings()
        assert [s.message for s in again] == [s.message for s in sightings]

    def test_too_short_a_window_is_refused(self, data: MasterData) -> None:
        with pytest.raises(ValueError, match="at least 2"):
            ResidencyScenario(data, END, days=1)


class TestTenant:
    """The unregistered tenant uses one unit door on enough days, and nights, to be inferred."""

    def test_qualifies_by_the_rule(self, data: MasterData, sightings: list[Sighting]) -> None:
        tenant = data.tenant
        own = [s for s in sightings if s.person_ref == tenant.person.person_ref]
        days = {local_day(s.message.at) for s in own}
        nights = {local_day(s.message.at) for s in own if is_night(s.message.at)}
        assert len(days) >= 5
        assert len(nights) >= 2
        assert {s.credential for s in own} == {("card", tenant.person.card_no)}

    def test_events_are_at_the_tenants_unit_door_and_carry_the_card_hash(
        self, data: MasterData, sightings: list[Sighting]
    ) -> None:
        parser = GatewayParser(data.community)
        tenant = data.tenant
        ref = credential_ref(PSEUDONYMIZER, "card", tenant.person.card_no)
        own = [s for s in sightings if s.person_ref == tenant.person.person_ref]
        for sighting in own:
            (event,) = parser(sighting.message)
            assert isinstance(event, AccessEvent)
            assert event.credential == ref
            device = data.community.device(event.device_id)
            assert (device.building, device.unit) == (tenant.building, tenant.unit)

    def test_the_stranger_card_is_seen_on_too_few_days(self, sightings: list[Sighting]) -> None:
        strangers = [s for s in sightings if s.credential and s.person_ref is None]
        assert strangers
        assert len({local_day(s.message.at) for s in strangers}) < 5


class TestResidents:
    """Registered residents use their own unit door, with credentials the master data lists."""

    def test_doors_and_credentials(
        self, data: MasterData, scenario: ResidencyScenario, sightings: list[Sighting]
    ) -> None:
        parser = GatewayParser(data.community)
        listed = {
            credential_ref(PSEUDONYMIZER, str(row["kind"]), str(row["value"]))  # type: ignore[arg-type]
            for row in data.rows("credentials")
        }
        homes = {o.resident.person_ref: (o.building, o.unit) for o in data.occupants}
        doors: defaultdict[str, set[date]] = defaultdict(set)
        for sighting in sightings:
            ref = sighting.person_ref
            if ref not in homes or sighting.message.dialect != "hik-isapi":
                continue
            (event,) = parser(sighting.message)
            assert isinstance(event, AccessEvent)
            assert event.credential in listed
            device = data.community.device(event.device_id)
            assert (device.building, device.unit) == homes[ref]
            doors[ref].add(local_day(event.occurred_at))
        assert set(doors) == {r.person_ref for r in scenario.residents()}
        assert len(scenario.units) == 2

    def test_gate_faces_match_residents_by_their_papers(
        self, data: MasterData, sightings: list[Sighting]
    ) -> None:
        parser = GatewayParser(data.community)
        people = {o.resident.person_ref: o.resident for o in data.occupants}
        faces = [s for s in sightings if s.message.dialect == "gat1400"]
        assert faces
        for sighting in faces:
            (event,) = parser(sighting.message)
            assert isinstance(event, FaceCapture)
            person = people[str(sighting.person_ref)]
            assert event.matched_person_ref == hash_id_number(PSEUDONYMIZER, person.id_number)


class TestCarsAndVisitors:
    """Registered and unregistered cars pass the barriers; visits are over or valid now."""

    def test_plates(
        self, data: MasterData, scenario: ResidencyScenario, sightings: list[Sighting]
    ) -> None:
        parser = GatewayParser(data.community)
        plates = set()
        for sighting in sightings:
            if sighting.message.dialect == "barrier-gate":
                (event,) = parser(sighting.message)
                assert isinstance(event, VehiclePass)
                assert event.plate_no == sighting.plate
                plates.add(event.plate_no)
        assert plates == {c.plate for c in scenario.cars()} | data.unregistered_plates

    def test_visits(self, data: MasterData, scenario: ResidencyScenario) -> None:
        visits = scenario.visits()
        houses = {h.house.code for h in data.houses}
        assert [v.current for v in visits].count(True) == 2
        for item in visits:
            visit = item.visit
            assert visit.house in houses
            assert (visit.valid_from <= END <= visit.valid_until) == item.current
            assert visit.registered < END

    def test_visitor_messages_parse(self, data: MasterData, sightings: list[Sighting]) -> None:
        parser = GatewayParser(data.community)
        visitors = [s for s in sightings if s.message.dialect == "visitor-cloud"]
        assert len(visitors) == 5
        for sighting in visitors:
            (event,) = parser(sighting.message)
            assert isinstance(event, VisitorEvent)
            assert event.visitor_ref == hash_id_number(PSEUDONYMIZER, str(sighting.visitor))
