"""The pipeline's Resolve step: who an event is about, as a stable pseudonym (`subject_key`).

Cheap per event (one SHA-256, no I/O): the step keys the event by the credential or ID hash the
adapter already computed, or by a camera's stranger track, so later rules and the presence
tables can count a subject's visits without knowing who they are. Who the subject *is*
(`person_id`) is settled at read time (`gateway.resolution`), never here.
"""

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Final, cast

from schemas.events import DeviceEvent, FaceCapture, amended
from schemas.privacy import subject_key

REF_FIELDS: Final[Mapping[str, str]] = MappingProxyType(
    {"access": "credential", "face_capture": "matched_person_ref", "visitor": "visitor_ref"}
)
"""The field holding each kind's credential or ID hash: what resolves to a person."""

TRACK_PREFIX: Final = "track:"
"""What a stranger track's ref begins with (a credential or ID hash begins with `h1:`)."""

KEY_CACHE_SIZE = 65_536
"""Subject keys kept per process (about 10 MB at most): residents use the same cards every
day, so most events find their key here instead of hashing again."""


def person_ref(event: DeviceEvent) -> str | None:
    """The event's credential or ID hash (`REF_FIELDS`): what a person is resolved through and
    presence is kept under; None for other kinds or when the event has none."""
    field = REF_FIELDS.get(event.kind)
    return cast(str | None, getattr(event, field)) if field is not None else None


def subject_ref(event: DeviceEvent) -> str | None:
    """What the event's subject is keyed on: its `person_ref`, else a face capture's stranger
    track; None otherwise."""
    ref = person_ref(event)
    if ref is None and isinstance(event, FaceCapture) and event.track_id:
        return f"{TRACK_PREFIX}{event.device_id}:{event.track_id}"
    return ref


class Resolve:
    """Sets `subject_key` on access, face and visitor events that carry something to key on."""

    def __init__(self, cache_size: int = KEY_CACHE_SIZE) -> None:
        self._key = lru_cache(maxsize=cache_size)(subject_key)

    def __call__(self, event: DeviceEvent) -> DeviceEvent:
        ref = subject_ref(event)
        if ref is None:
            return event
        return amended(event, {"subject_key": self._key(event.community, ref)})
