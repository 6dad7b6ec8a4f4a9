"""The resident rules' findings become tickets with the shipped responsibility list and grid
map (`gateway.tickets.TicketDrafter`): each rule's category reaches the units the plan names,
and its texts fill from the facts the rule gives, with no template left unfilled."""

from datetime import UTC, datetime, timedelta

import pytest

from gateway.grids import GridMap
from gateway.responsibility import ResponsibilityList
from gateway.rules import care, housing, population, vehicles
from gateway.rules.base import FactValue, Finding
from gateway.tickets import TicketDrafter

RULES = {
    rule.code: rule for family in (care, population, housing, vehicles) for rule in family.RULES
}
NOW = datetime.now(UTC).replace(microsecond=0)
PLATE = "湘A8K2C6"
SITUATION: dict[str, FactValue] = {"situation": "情况", "situation_en": "what was seen"}
CASES: list[tuple[str, dict[str, object], dict[str, FactValue], set[str]]] = [
    (
        "care.no_activity",
        {"building": "B01", "unit": "U1", "house_code": "yida-B01-U1-0302"},
        {"hours": 48, "since": "2026-11-28 08:15", "seen": "最后一次出入", "seen_en": "last seen"},
        {"community"},
    ),
    (
        "population.unregistered_frequent",
        {"building": "B01", "unit": "U1"},
        {"days": 3, "window_days": 7},
        {"grid"},
    ),
    (
        "housing.suspected_group_rental",
        {"building": "B01", "unit": "U1", "house_code": "yida-B01-U1-0302"},
        SITUATION,
        {"grid", "police_station"},
    ),
    ("housing.vacant_activity", {"building": "B01", "unit": "U1"}, SITUATION, {"grid"}),
    (
        "vehicle.watchlist",
        {"gate": "North car park ramp"},
        {"plate": PLATE, "direction": "驶入"},
        {"police_station"},
    ),
    (
        "vehicle.long_stay",
        {"gate": "North car park ramp"},
        {"plate": PLATE, "hours": 72},
        {"property"},
    ),
    (
        "vehicle.unregistered_frequent",
        {"gate": "North car park ramp"},
        {"plate": PLATE, "nights": 4, "window_nights": 7},
        {"property"},
    ),
]


@pytest.fixture(scope="module")
def drafter() -> TicketDrafter:
    return TicketDrafter(ResponsibilityList.load(), GridMap.load(), RULES)


class TestResidentDrafts:
    """Every resident rule drafts a ticket for its category and units, its texts filled."""

    @pytest.mark.parametrize(("code", "place", "facts", "units"), CASES, ids=[c[0] for c in CASES])
    def test_the_rule_drafts_its_ticket(
        self,
        drafter: TicketDrafter,
        code: str,
        place: dict[str, object],
        facts: dict[str, FactValue],
        units: set[str],
    ) -> None:
        """Category as declared, the plan's units, texts without a placeholder left."""
        finding = Finding(
            rule=code,
            community="yida",
            subject="s",
            occurrence="o",
            detected_at=NOW,
            first_at=NOW - timedelta(hours=1),
            facts=facts,
            **place,  # type: ignore[arg-type]
        )
        draft = drafter.draft(finding)
        assert draft.category.code == RULES[code].category
        assert {unit.type for unit in draft.responsible_units} == units
        for text in (draft.title, draft.description, draft.summary_en):
            assert "{" not in text and "}" not in text

    def test_a_watch_listed_plate_is_critical(self, drafter: TicketDrafter) -> None:
        """The watch-list rule's tickets are critical."""
        finding = Finding(
            rule="vehicle.watchlist",
            community="yida",
            subject=PLATE,
            occurrence="e",
            detected_at=NOW,
            facts={"plate": PLATE, "direction": "驶入"},
        )
        assert drafter.draft(finding).severity == "critical"
