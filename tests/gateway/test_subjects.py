"""The Resolve step keys access, face and visitor events by a stable pseudonym."""

from datetime import UTC, datetime, timedelta

from gateway.subjects import Resolve
from schemas.events import AccessEvent, DeviceEvent, DoorStateEvent, FaceCapture, VisitorEvent
from schemas.privacy import subject_key

NOW = datetime.now(UTC)
CARD = "h1:" + "a" * 32
ID_HASH = "h1:" + "c" * 32
CAMERA = "43011200001310000021"
COMMON = {
    "community": "yida",
    "occurred_at": NOW - timedelta(minutes=1),
    "received_at": NOW,
    "dialect": "hik-isapi",
}
resolve = Resolve()


def access(credential: str | None) -> AccessEvent:
    return AccessEvent(
        event_id="acc-000001",
        device_id="43011200001320000001",
        direction="in",
        method="card",
        result="granted",
        credential=credential,
        vendor_code="5/0x1",
        **COMMON,
    )


def face(ref: str | None = None, track: str | None = None) -> FaceCapture:
    return FaceCapture(
        event_id="face-000001",
        device_id=CAMERA,
        matched_person_ref=ref,
        stranger=ref is None,
        track_id=track,
        **COMMON,
    )


def key_of(event: DeviceEvent) -> str | None:
    return getattr(resolve(event), "subject_key", None)


class TestResolve:
    """Subject keys per kind, None when there is nothing to key on."""

    def test_an_access_event_is_keyed_by_its_credential(self) -> None:
        """The key is `subject_key(community, credential)`."""
        assert key_of(access(CARD)) == subject_key("yida", CARD)

    def test_an_access_event_without_a_credential_has_no_key(self) -> None:
        """A button or remote opening carries no credential, so no key."""
        assert key_of(access(None)) is None

    def test_a_matched_face_is_keyed_by_the_match(self) -> None:
        """The device's match wins over any track id."""
        assert key_of(face(ID_HASH, track="T1")) == subject_key("yida", ID_HASH)

    def test_a_strangers_face_is_keyed_by_its_device_and_track(self) -> None:
        """Two tracks of one camera are two subjects; the same track is one."""
        assert key_of(face(track="T1")) == subject_key("yida", f"track:{CAMERA}:T1")
        assert key_of(face(track="T1")) != key_of(face(track="T2"))

    def test_a_face_without_match_or_track_has_no_key(self) -> None:
        """Nothing to key on gives None."""
        assert key_of(face()) is None

    def test_a_visitor_is_keyed_by_the_visitor_hash(self) -> None:
        """The key is `subject_key(community, visitor_ref)`."""
        event = VisitorEvent(
            event_id="vis-000001",
            device_id="visitor-cloud-yida",
            action="registered",
            visit_id="V1",
            visitor_ref=ID_HASH,
            **{**COMMON, "dialect": "visitor-cloud"},
        )
        assert key_of(event) == subject_key("yida", ID_HASH)

    def test_other_kinds_pass_unchanged(self) -> None:
        """A door-state event is returned as it came."""
        event = DoorStateEvent(
            event_id="door-000001",
            device_id="43011200001320000001",
            state="forced_open",
            vendor_code="5/0x1b",
            **COMMON,
        )
        assert resolve(event) is event

    def test_the_same_card_in_two_communities_gives_two_keys(self) -> None:
        """Keys of one community do not link to another's."""
        other = access(CARD).model_copy(update={"community": "jiaxin"})
        assert key_of(access(CARD)) != key_of(other)
