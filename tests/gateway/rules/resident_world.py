"""A small Yida Town for the resident rules' tests: houses, residents, cards and registered
cars through the store's import methods, events through `write_batch`, at times relative to
now (`tests.gateway.observed_events.local`)."""

from collections.abc import Sequence
from datetime import date, datetime

from gateway.rules.base import Finding, Rule
from gateway.store import Store
from schemas.codes import Direction, HouseUsage, PlateColor
from schemas.events import DeviceEvent
from schemas.housing import HouseRecord
from schemas.population import CredentialRecord, PersonRecord, ResidentRecord
from schemas.vehicles import VehicleRecord
from tests.gateway.observed_events import YIDA, access, vehicle
from tests.gateway.store.master_rows import MasterRows

IMPORT = "test-import"


def occurrences(findings: Sequence[Finding]) -> set[tuple[str, str]]:
    """What the store would record of `findings`: (dedup key, occurrence) pairs."""
    return {(f.dedup_key, f.occurrence) for f in findings}


def render(rule: Rule, finding: Finding) -> str:
    """The rule's title, description and summary filled from the finding's facts and an
    address, as `gateway.tickets` fills them (a fact a template names but the finding lacks
    raises KeyError)."""
    values = {**finding.facts, "address": "亿达小镇1栋1单元"}
    return "\n".join(
        text.format(**values) for text in (rule.title, rule.description, rule.summary_en)
    )


def card(n: int) -> str:
    """A card's keyed hash (distinct per `n`)."""
    return f"h1:{n:032x}"


def id_hash(n: int) -> str:
    """A person's ID-number hash (distinct per `n`)."""
    return f"h1:{n + 10_000_000:032x}"


class World:
    """Master data and events of one community, written through the store."""

    def __init__(self, store: Store, rows: MasterRows, now: datetime) -> None:
        self.store = store
        self.rows = rows
        self.now = now
        self._events = 0

    async def house(
        self,
        code: str,
        building: str = "B01",
        unit: str = "U1",
        usage: HouseUsage = "self_occupied",
        occupants: int = 0,
    ) -> None:
        record = HouseRecord(
            house_code=code,
            building=building,
            unit=unit,
            usage=usage,
            registered_occupants=occupants,
        )
        assert await self.store.apply_houses(YIDA, [record], self.now, IMPORT) == ["accepted"]

    async def resident(
        self,
        n: int,
        house_code: str,
        *,
        tags: Sequence[str] = (),
        since: date | None = None,
        registered: datetime | None = None,
        cards: Sequence[int] = (),
        cards_since: date | None = None,
    ) -> str:
        """Person `n` registered at the house (recorded at `registered`, default now), holding
        `cards` from `cards_since` (a card another person held passes to them then); returns
        the person id."""
        person = PersonRecord(
            id_hash=id_hash(n),
            id_type="resident_id_card",
            id_masked="430112********0000",
            population_type="registered",
            tags=tuple(tags),
        )
        record = ResidentRecord(person=person, house_code=house_code, since=since)
        outcome = await self.store.apply_residents(YIDA, [record], registered or self.now, IMPORT)
        assert outcome[0] in ("accepted", "updated")
        credentials = [
            CredentialRecord(kind="card", ref=card(c), owner_id_hash=id_hash(n), since=cards_since)
            for c in cards
        ]
        if credentials:
            outcomes = await self.store.apply_credentials(YIDA, credentials, self.now, IMPORT)
            assert all(outcome in ("accepted", "updated") for outcome in outcomes), outcomes
        [(person_id,)] = self.rows.sql(
            "SELECT person_id FROM persons WHERE id_hash = %(h)s", {"h": id_hash(n)}
        )
        return str(person_id)

    async def car(self, plate: str, colour: PlateColor = "blue") -> None:
        record = VehicleRecord(plate_no=plate, plate_color=colour)
        assert await self.store.apply_vehicles(YIDA, [record], self.now, IMPORT) == ["accepted"]

    def number(self) -> int:
        self._events += 1
        return self._events

    async def write(self, events: Sequence[DeviceEvent]) -> None:
        await self.store.write_batch(events, [])

    async def doors(
        self,
        card_n: int,
        times: Sequence[datetime],
        building: str | None = "B01",
        unit: str | None = "U1",
        gate: str | None = None,
    ) -> None:
        """Openings by card `card_n` at the unit door (or `gate`) at each of `times`."""
        await self.write(
            [
                access(
                    self.number(),
                    at,
                    credential=card(card_n),
                    building=building,
                    unit=unit,
                    gate=gate,
                )
                for at in times
            ]
        )

    async def passes(
        self,
        plate: str,
        times: Sequence[datetime],
        direction: Direction = "in",
        colour: PlateColor = "blue",
    ) -> list[str]:
        """Passes of `plate` at the north ramp; returns their event ids."""
        events = [vehicle(self.number(), at, colour, plate, direction) for at in times]
        await self.write(events)
        return [event.event_id for event in events]
