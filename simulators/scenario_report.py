"""Expected against produced tickets, per rule: the scenarios' report, and the two calls to
the gateway's API a scenario run makes.

`compare` is pure: it pairs each expected ticket with one produced ticket that matches it
(same rule and community, no contradicting location) and checks that it was detected within
the expected event-time bounds; whatever is left over is unexpected. `fetch_tickets` reads
every page of the gateway's `GET /v1/tickets`; `put_watchlist` puts the scenarios' plates on
the watch-list (`PUT /v1/watchlist/vehicles`) before their cars drive in.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from simulators.scenarios import ExpectedTicket, Scenario

Ticket = Mapping[str, Any]
PAGE_SIZE = 500


@dataclass(slots=True)
class RuleReport:
    """One rule's line: how many tickets were expected, produced, matched and on time."""

    rule: str
    expected: int = 0
    produced: int = 0
    matched: int = 0
    on_time: int = 0
    missing: list[ExpectedTicket] = field(default_factory=list)
    unexpected: list[Ticket] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every expected ticket produced once, on time, and nothing else."""
        return self.on_time == self.expected == self.produced


def compare(expected: Iterable[ExpectedTicket], tickets: Iterable[Ticket]) -> list[RuleReport]:
    """Per rule (sorted by code): expected against produced tickets."""
    reports: dict[str, RuleReport] = {}
    left = list(tickets)
    for ticket in left:
        _report(reports, str(ticket.get("rule"))).produced += 1
    for wanted in expected:
        report = _report(reports, wanted.rule)
        report.expected += 1
        found = next((t for t in left if wanted.matches(t)), None)
        if found is None:
            report.missing.append(wanted)
            continue
        left.remove(found)
        report.matched += 1
        if wanted.on_time(datetime.fromisoformat(str(found["detected_at"]))):
            report.on_time += 1
    for ticket in left:
        reports[str(ticket.get("rule"))].unexpected.append(ticket)
    return [reports[rule] for rule in sorted(reports)]


def _report(reports: dict[str, RuleReport], rule: str) -> RuleReport:
    if rule not in reports:
        reports[rule] = RuleReport(rule)
    return reports[rule]


def render(reports: Sequence[RuleReport]) -> str:
    """The report as a table, one line per rule, then what is missing or unexpected."""
    lines = [f"{'rule':<34} {'expected':>8} {'produced':>8} {'on time':>8}  result"]
    for r in reports:
        verdict = "ok" if r.ok else "MISMATCH"
        lines.append(f"{r.rule:<34} {r.expected:>8} {r.produced:>8} {r.on_time:>8}  {verdict}")
    for r in reports:
        for wanted in r.missing:
            lines.append(f"  missing   {r.rule} in {wanted.community}: {wanted.about}")
        for ticket in r.unexpected:
            where = (ticket.get("location") or {}).get("address", "")
            lines.append(
                f"  unexpected {r.rule} in {ticket.get('community')}: {ticket.get('ticket_id')}"
                f" {where} (detected {ticket.get('detected_at')})"
            )
    total = sum(r.expected for r in reports), sum(r.produced for r in reports)
    lines.append(f"total: {total[0]} expected, {total[1]} produced")
    return "\n".join(lines)


async def fetch_tickets(
    client: httpx.AsyncClient, communities: Iterable[str], *, touched_since: datetime | None = None
) -> list[Ticket]:
    """Every ticket of these communities (every page), or those updated since `touched_since`
    (a run's own: an earlier run's open ticket that this run added evidence to counts too)."""
    found: list[Ticket] = []
    for community in communities:
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"community": community, "limit": PAGE_SIZE}
            if cursor is not None:
                params["cursor"] = cursor
            response = await client.get("/v1/tickets", params=params)
            response.raise_for_status()
            page = response.json()
            found.extend(page["data"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
    if touched_since is None:
        return found
    return [t for t in found if datetime.fromisoformat(t["updated_at"]) >= touched_since]


async def put_watchlist(client: httpx.AsyncClient, scenarios: Iterable[Scenario]) -> None:
    """Put the scenarios' plates on the watch-list (nothing to do without any); raises
    `httpx.HTTPError` when the gateway cannot be reached or refuses."""
    plates = [plate.body() for scenario in scenarios for plate in scenario.watchlist]
    if plates:
        response = await client.put("/v1/watchlist/vehicles", json=plates)
        response.raise_for_status()
