"""Read-time resolution: which person an event's credential belongs to, whether a plate is a
registered resident's vehicle — settled when `GET /v1/events` reads the events, never stored.

Why at read time rather than back-filling stored events: property master data arrives late
and changes (a card imported today must resolve last week's openings of that card; a
credential ended or a person erased must stop resolving at once). Resolving at read time
gets all of that from the current master data with no back-fill job over the event table,
no window in which stored links are stale, and nothing personal to strip from old events on
erasure but the subject key. It costs one `resolve_refs` and one `resolve_plates` query per
page (index lookups on the page's distinct refs and plates), so a page of 1,000 events
resolves in two statements. `for_readers` is the one place an event is shaped for a reader:
`GET /v1/events` and the live stream (`gateway.stream_sources.EventPublisher`) both call it,
so the two never disagree; the other functions are pure: it fetches the matches, they decide.

The government platform sees no credential or ID hash: those are keyed hashes of one namespace
for the whole gateway, so the same card in two communities would give the same value and link
two communities' records of one person. A read replaces them with the event's `subject_key`,
which is scoped to its community (computed from the hash for events stored before the gateway
set it).
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence

from gateway.store.masterdata import CredentialMatch, PlateMatch, Resolver
from gateway.store.observations import local_day, valid_on
from gateway.subjects import REF_FIELDS, person_ref
from schemas.events import (
    AccessEvent,
    DeviceEvent,
    FaceCapture,
    VehiclePass,
    VisitorEvent,
    amended,
)
from schemas.privacy import subject_key


async def for_readers(store: Resolver, events: Sequence[DeviceEvent]) -> list[DeviceEvent]:
    """`events` as any reader sees them (`annotate`), resolved against the master data as it
    stands now: one `resolve_refs` and one `resolve_plates` query for all of them, none when
    they carry no ref or plate."""
    matches = await store.resolve_refs(refs_of(events))
    plates = await store.resolve_plates(plates_of(events))
    return annotate(events, matches, plates)


def unresolved(events: Sequence[DeviceEvent]) -> list[DeviceEvent]:
    """`events` with their hashes replaced as `annotate` does but nothing resolved (`person_id`
    and `vehicle_registered` null): what a reader may be shown when the master data cannot
    be read, rather than the hashes."""
    shaped = annotate(events, (), ())
    return [e if isinstance(e, VehiclePass) else s for e, s in zip(events, shaped, strict=True)]


def refs_of(events: Iterable[DeviceEvent]) -> list[tuple[str, str]]:
    """The page's distinct (community, ref) pairs, for one `resolve_refs` call."""
    return sorted({(e.community, ref) for e in events if (ref := person_ref(e)) is not None})


def plates_of(events: Iterable[DeviceEvent]) -> list[tuple[str, str]]:
    """The page's distinct (community, plate) pairs, for one `resolve_plates` call."""
    return sorted(
        {(e.community, e.plate_no) for e in events if isinstance(e, VehiclePass) and e.plate_no}
    )


def annotate(
    events: Sequence[DeviceEvent],
    matches: Iterable[CredentialMatch],
    plates: Iterable[PlateMatch],
) -> list[DeviceEvent]:
    """`events` with `person_id` (the person whose credential was valid on the event's local
    day; null when none) and `vehicle_registered` (a registered vehicle of that plate, in the
    event's colour or any colour when it is unknown; null without a plate) filled in, and
    their credential or ID hash replaced by the community's `subject_key`."""
    by_ref: dict[tuple[str, str], list[CredentialMatch]] = defaultdict(list)
    for match in matches:
        by_ref[(match.community, match.ref)].append(match)
    registered: dict[tuple[str, str], set[str]] = defaultdict(set)
    for plate in plates:
        if plate.registered:
            registered[(plate.community, plate.plate_no)].add(plate.plate_color)
    return [_annotated(event, by_ref, registered) for event in events]


def _annotated(
    event: DeviceEvent,
    by_ref: dict[tuple[str, str], list[CredentialMatch]],
    registered: dict[tuple[str, str], set[str]],
) -> DeviceEvent:
    if isinstance(event, VehiclePass):
        if not event.plate_no:
            return event
        colours = registered.get((event.community, event.plate_no), set())
        known = event.plate_color in colours or (event.plate_color == "unknown" and bool(colours))
        return amended(event, {"vehicle_registered": known})
    ref = person_ref(event)
    if ref is None or not isinstance(event, AccessEvent | FaceCapture | VisitorEvent):
        return event
    day = local_day(event.occurred_at)
    persons = sorted(
        m.person_id for m in by_ref.get((event.community, ref), ()) if valid_on(m, day)
    )
    return amended(
        event,
        {
            "person_id": persons[0] if persons else None,
            "subject_key": event.subject_key or subject_key(event.community, ref),
            REF_FIELDS[event.kind]: None,
        },
    )
