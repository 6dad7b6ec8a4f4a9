"""The `RuleMarkStore` protocol: how far each community's watermark rules have been evaluated.

The engine (`gateway.rules.engine`) evaluates a rule at the instants its community's watermark
passed since the rule's mark. The mark is stored, and moves in the transaction that records
the tickets of the evaluation it ends, so a restart or a new lease holder resumes exactly where
the last evaluation stopped: the same events give the same tickets whatever the process
history, and a crash between tickets and mark cannot happen.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.store.tickets import TicketChanges, TicketDraft


@dataclass(frozen=True, slots=True)
class RuleMark:
    """A community's watermark rule has been evaluated at every instant up to `evaluated_to`."""

    community: str
    rule: str
    evaluated_to: datetime


class RuleMarkStore(Protocol):
    async def rule_marks(self, community: str) -> dict[str, datetime]:
        """Each watermark rule's stored mark for the community, by rule code; a rule never
        evaluated there is absent."""

    async def record_evaluation(
        self, drafts: Sequence[TicketDraft], mark: RuleMark, now: datetime
    ) -> TicketChanges:
        """Record the drafts (as `record_tickets`) and move the rule's mark to
        `mark.evaluated_to` in one transaction; a mark never moves back."""
