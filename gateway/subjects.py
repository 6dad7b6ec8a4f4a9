"""The pipeline's Resolve step: who an event is about, as a stable pseudonym (`subject_key`).

Cheap per event (one SHA-256, no I/O): the step keys the event by the credential or ID hash the
adapter already computed, or by a camera's stranger track, so later rules and the presence
tables can count a subject's visits without knowing who they are. Who the subject *is*
(`person_id`) is settled at read time (`gateway.resolution`), never here.
"""

from functools import lru_cache

from schemas.events import AccessEvent, DeviceEvent, FaceCapture, VisitorEvent
from schemas.privacy import subject_key

TRACK_PREFIX = "track:"
"""What a stranger track's ref begins with (a credential or ID hash begins with `h1:`)."""

KEY_CACHE_SIZE = 65_536
"""Subject keys kept per process (about 10 MB at most): residents use the same cards every
day, so most events find their key here instead of hashing again."""


def subject_ref(event: DeviceEvent) -> str | None:
    """What the event's subject is keyed on: the credential (access), the device's match or
    else its track id (face capture), the visitor's ID hash (visitor); None otherwise."""
    if isinstance(event, AccessEvent):
        return event.credential
    if isinstance(event, FaceCapture):
        if event.matched_person_ref:
            return event.matched_person_ref
        if event.track_id:
            return f"{TRACK_PREFIX}{event.device_id}:{event.track_id}"
        return None
    if isinstance(event, VisitorEvent):
        return event.visitor_ref
    return None


class Resolve:
    """Sets `subject_key` on access, face and visitor events that carry something to key on."""

    def __init__(self, cache_size: int = KEY_CACHE_SIZE) -> None:
        self._key = lru_cache(maxsize=cache_size)(subject_key)

    def __call__(self, event: DeviceEvent) -> DeviceEvent:
        ref = subject_ref(event)
        if ref is None:
            return event
        return event.model_copy(update={"subject_key": self._key(event.community, ref)})
