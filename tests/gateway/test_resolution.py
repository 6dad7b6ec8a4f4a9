"""Read-time resolution: the page's refs and plates, and the annotations they give."""

from datetime import UTC, datetime, timedelta

from gateway.resolution import annotate, plates_of, refs_of
from gateway.store.masterdata import CredentialMatch, PlateMatch
from gateway.store.observations import local_day
from schemas.events import DeviceEvent
from schemas.privacy import subject_key
from tests.gateway.observed_events import CARD, ID_HASH, PLATE, access, face, vehicle, visit

NOW = datetime.now(UTC)


def person_of(event: DeviceEvent, matches: list[CredentialMatch]) -> object:
    [annotated] = annotate([event], matches, [])
    return getattr(annotated, "person_id", "absent")


def registered_of(event: DeviceEvent, plates: list[PlateMatch]) -> object:
    [annotated] = annotate([event], [], plates)
    return getattr(annotated, "vehicle_registered", "absent")


def shown(event: DeviceEvent) -> dict[str, object]:
    """The event's fields as the API serialises them."""
    return event.model_dump()


class TestRefsAndPlates:
    """What one page asks the store for: distinct pairs, per kind."""

    def test_refs_come_from_access_face_and_visitor_events_once_each(self) -> None:
        """Credential, matched ref and visitor ref; duplicates and other kinds left out."""
        events: list[DeviceEvent] = [
            access(1, NOW),
            access(2, NOW),
            face(3, NOW, ref=ID_HASH),
            visit(4, NOW, community="jiaxin"),
            vehicle(5, NOW),
            access(6, NOW, credential=None),
        ]
        assert refs_of(events) == [("jiaxin", ID_HASH), ("yida", CARD), ("yida", ID_HASH)]

    def test_a_strangers_track_asks_nothing(self) -> None:
        """A camera's stranger track keys a subject but belongs to no person."""
        stranger = face(1, NOW, track="T-17")
        assert refs_of([stranger]) == []
        [annotated] = annotate([stranger], [], [])
        assert shown(annotated)["subject_key"] == shown(stranger)["subject_key"] is not None
        assert shown(annotated)["person_id"] is None

    def test_plates_come_from_vehicle_passes_with_a_plate(self) -> None:
        """A pass without a plate asks nothing."""
        assert plates_of(
            [vehicle(1, NOW), vehicle(2, NOW), vehicle(3, NOW, plate=None), access(4, NOW)]
        ) == [("yida", PLATE)]


class TestAnnotate:
    """person_id from credentials valid on the event's local day; vehicle_registered."""

    def test_a_credential_valid_that_day_resolves(self) -> None:
        """Open-ended and dated credentials covering the day give the person."""
        day = local_day(NOW)
        assert (
            person_of(access(1, NOW), [CredentialMatch("yida", CARD, "p_1", None, None)]) == "p_1"
        )
        assert person_of(access(1, NOW), [CredentialMatch("yida", CARD, "p_1", day, day)]) == "p_1"

    def test_a_credential_not_valid_that_day_does_not(self) -> None:
        """A card that started the day after, or ended the day before, leaves it unresolved."""
        day = local_day(NOW)
        later = CredentialMatch("yida", CARD, "p_1", day + timedelta(days=1), None)
        ended = CredentialMatch("yida", CARD, "p_1", None, day - timedelta(days=1))
        assert person_of(access(1, NOW), [later]) is None
        assert person_of(access(1, NOW), [ended]) is None

    def test_the_day_is_the_local_day(self) -> None:
        """An event at 23:30 UTC is the next day in China: a card starting then covers it."""
        at = datetime(NOW.year, NOW.month, NOW.day, 23, 30, tzinfo=UTC) - timedelta(days=2)
        since = local_day(at)
        assert since == at.date() + timedelta(days=1)
        assert (
            person_of(access(1, at), [CredentialMatch("yida", CARD, "p_1", since, None)]) == "p_1"
        )

    def test_a_handed_over_card_resolves_to_the_holder_of_the_day(self) -> None:
        """With two holder rows, last week's event goes to the first holder, today's to the
        second."""
        today = local_day(NOW)
        rows = [
            CredentialMatch("yida", CARD, "p_new", today, None),
            CredentialMatch("yida", CARD, "p_old", None, today - timedelta(days=1)),
        ]
        assert person_of(access(1, NOW - timedelta(days=7)), rows) == "p_old"
        assert person_of(access(1, NOW), rows) == "p_new"

    def test_another_communitys_match_does_not_resolve(self) -> None:
        """A match for the card in jiaxin says nothing about yida."""
        assert (
            person_of(access(1, NOW), [CredentialMatch("jiaxin", CARD, "p_9", None, None)]) is None
        )

    def test_a_registered_vehicle_of_the_colour_is_registered(self) -> None:
        """Same plate and colour, registered: True; only another colour registered: False."""
        blue = PlateMatch("yida", PLATE, "blue", True)
        yellow = PlateMatch("yida", PLATE, "yellow", True)
        assert registered_of(vehicle(1, NOW), [blue]) is True
        assert registered_of(vehicle(1, NOW), [yellow]) is False

    def test_an_unknown_colour_matches_any_registered_colour(self) -> None:
        """A pass read without a colour is registered when any colour of the plate is."""
        assert (
            registered_of(vehicle(1, NOW, "unknown"), [PlateMatch("yida", PLATE, "yellow", True)])
            is True
        )

    def test_an_unregistered_or_unknown_plate_is_not_registered(self) -> None:
        """An unregistered record or none at all: False."""
        assert registered_of(vehicle(1, NOW), [PlateMatch("yida", PLATE, "blue", False)]) is False
        assert registered_of(vehicle(1, NOW), []) is False

    def test_a_pass_without_a_plate_stays_null(self) -> None:
        """No plate, nothing to say."""
        assert (
            registered_of(vehicle(1, NOW, plate=None), [PlateMatch("yida", PLATE, "blue", True)])
            is None
        )

    def test_the_pages_order_is_kept(self) -> None:
        """Annotated events come back in the order given."""
        events = [access(n, NOW - timedelta(minutes=n)) for n in range(3)]
        assert [e.occurred_at for e in annotate(events, [], [])] == [e.occurred_at for e in events]


class TestNoGatewayWideHashes:
    """A read shows the community's subject key in place of a credential or ID hash, so the
    same card or person in two communities cannot be linked through the API."""

    def test_each_kinds_hash_is_replaced_by_its_subject_key(self) -> None:
        """Access, face and visitor events lose their hash and carry the subject key."""
        events: list[DeviceEvent] = [
            access(1, NOW),
            face(2, NOW, ref=ID_HASH),
            visit(3, NOW, community="jiaxin"),
        ]
        card, seen, visitor = annotate(events, [], [])
        assert shown(card)["credential"] is None
        assert shown(seen)["matched_person_ref"] is None
        assert shown(visitor)["visitor_ref"] is None
        assert shown(card)["subject_key"] == subject_key("yida", CARD)
        assert shown(seen)["subject_key"] == subject_key("yida", ID_HASH)
        assert shown(visitor)["subject_key"] == subject_key("jiaxin", ID_HASH)

    def test_one_card_in_two_communities_reads_as_two_subjects(self) -> None:
        """Stored events without a subject key (older ones) get one computed per community."""
        yida = access(1, NOW).model_copy(update={"subject_key": None})
        jiaxin = access(2, NOW, community="jiaxin").model_copy(update={"subject_key": None})
        first, second = annotate([yida, jiaxin], [], [])
        assert shown(first)["subject_key"] != shown(second)["subject_key"]
        assert {shown(first)["credential"], shown(second)["credential"]} == {None}
