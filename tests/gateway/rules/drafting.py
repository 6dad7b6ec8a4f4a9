"""The real drafter over the shipped responsibility list and pilot grid map, for the tests that
record tickets."""

from collections.abc import Mapping

from gateway.grids import GridMap
from gateway.responsibility import ResponsibilityList
from gateway.rules.base import Rule
from gateway.tickets import TicketDrafter


def pilot_drafter(rules: Mapping[str, Rule]) -> TicketDrafter:
    return TicketDrafter(ResponsibilityList.load(), GridMap.load(None), rules)
