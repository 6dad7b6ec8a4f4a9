"""The Resolve step keys access, face and visitor events by a stable pseudonym."""

from datetime import UTC, datetime, timedelta

from gateway.subjects import Resolve
from schemas.events import DeviceEvent, DoorStateEvent
from schemas.privacy import subject_key
from tests.gateway.observed_events import CAMERA, CARD, DOOR, ID_HASH, access, face, visit

NOW = datetime.now(UTC)


def key_of(event: DeviceEvent) -> str | None:
    """The key Resolve gives the event (the builders already applied it once: applying it
    again must give the same)."""
    resolved = Resolve()(event)
    assert getattr(resolved, "subject_key", None) == getattr(event, "subject_key", None)
    return getattr(resolved, "subject_key", None)


class TestResolve:
    """Subject keys per kind, None when there is nothing to key on."""

    def test_an_access_event_is_keyed_by_its_credential(self) -> None:
        """The key is `subject_key(community, credential)`."""
        assert key_of(access(1, NOW)) == subject_key("yida", CARD)

    def test_an_access_event_without_a_credential_has_no_key(self) -> None:
        """A button or remote opening carries no credential, so no key."""
        assert key_of(access(1, NOW, credential=None)) is None

    def test_a_matched_face_is_keyed_by_the_match(self) -> None:
        """The device's match wins over any track id."""
        assert key_of(face(1, NOW, ref=ID_HASH, track="T1")) == subject_key("yida", ID_HASH)

    def test_a_strangers_face_is_keyed_by_its_device_and_track(self) -> None:
        """Two tracks of one camera are two subjects; the same track is one."""
        assert key_of(face(1, NOW, track="T1")) == subject_key("yida", f"track:{CAMERA}:T1")
        assert key_of(face(1, NOW, track="T1")) != key_of(face(1, NOW, track="T2"))

    def test_a_face_without_match_or_track_has_no_key(self) -> None:
        """Nothing to key on gives None."""
        assert key_of(face(1, NOW)) is None

    def test_a_visitor_is_keyed_by_the_visitor_hash(self) -> None:
        """The key is `subject_key(community, visitor_ref)`."""
        assert key_of(visit(1, NOW)) == subject_key("yida", ID_HASH)

    def test_other_kinds_pass_unchanged(self) -> None:
        """A door-state event is returned as it came."""
        event = DoorStateEvent(
            event_id="door-000001",
            community="yida",
            device_id=DOOR,
            occurred_at=NOW - timedelta(minutes=1),
            received_at=NOW,
            dialect="hik-isapi",
            state="forced_open",
            vendor_code="5/0x1b",
        )
        assert Resolve()(event) is event

    def test_the_same_card_in_two_communities_gives_two_keys(self) -> None:
        """Keys of one community do not link to another's."""
        assert key_of(access(1, NOW)) != key_of(access(1, NOW, community="jiaxin"))
