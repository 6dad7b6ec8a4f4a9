"""Specification of the grid closed loop (`gateway.lifecycle`): the forwarded and the local
path, who may make which move, and what an illegal move says."""

from typing import get_args

import pytest

from gateway.lifecycle import (
    FORWARDED,
    LOCAL,
    IllegalTransitionError,
    Side,
    check_transition,
    implied_step,
    is_final,
    next_statuses,
)
from schemas.tickets import OPEN_STATUSES, ResponsibleUnit, TicketStatus

PROPERTY = (ResponsibleUnit(type="property", name="亿达小镇物业服务中心"),)
POLICE = (ResponsibleUnit(type="police_station", name="辖区派出所"),)
FINAL = ("rejected", "closed", "false_alarm", "cancelled")


def walk(path: list[TicketStatus], *, forward: bool, sides: list[Side]) -> None:
    """Every step of `path` is legal for the side making it."""
    assert len(sides) == len(path) - 1
    for current, to, side in zip(path, path[1:], sides, strict=False):
        check_transition(current, to, forward=forward, side=side, units=PROPERTY)


class TestForwardedPath:
    """A forwarded ticket goes detected → reported → accepted → dispatched → handled → closed."""

    def test_the_happy_path(self) -> None:
        path: list[TicketStatus] = [
            "detected",
            "reported",
            "accepted",
            "dispatched",
            "handled",
            "closed",
        ]
        sides: list[Side] = ["forwarder", "platform", "property", "property", "platform"]
        walk(path, forward=True, sides=sides)

    def test_only_the_forwarder_reports(self) -> None:
        for side in ("platform", "property"):
            with pytest.raises(IllegalTransitionError):
                check_transition("detected", "reported", forward=True, side=side, units=PROPERTY)

    def test_the_platform_accepts_or_rejects_a_reported_ticket(self) -> None:
        assert next_statuses("reported", forward=True, side="platform", units=POLICE) == (
            "accepted",
            "rejected",
            "false_alarm",
            "cancelled",
        )

    def test_a_handling_not_accepted_goes_back_to_dispatch(self) -> None:
        check_transition("handled", "dispatched", forward=True, side="platform", units=POLICE)

    def test_a_forwarded_ticket_cannot_skip_the_platform(self) -> None:
        with pytest.raises(IllegalTransitionError) as info:
            check_transition("detected", "dispatched", forward=True, side="platform", units=POLICE)
        assert info.value.allowed == ("accepted", "rejected", "false_alarm", "cancelled")

    @pytest.mark.parametrize("to", ["accepted", "rejected", "false_alarm"])
    def test_the_platform_decides_before_its_id_reaches_the_gateway(self, to: TicketStatus) -> None:
        """The platform's decision on a ticket still `detected` is legal and implies the
        `reported` step; nothing else implies a step."""
        check_transition("detected", to, forward=True, side="platform", units=POLICE)
        assert implied_step("detected", to, forward=True) == "reported"
        assert implied_step("reported", to, forward=True) is None

    def test_the_property_side_cannot_skip_the_platform(self) -> None:
        with pytest.raises(IllegalTransitionError) as info:
            check_transition("detected", "accepted", forward=True, side="property", units=PROPERTY)
        assert info.value.allowed == ()


class TestLocalPath:
    """A local ticket goes detected → dispatched → handled → closed, never reported."""

    def test_the_happy_path(self) -> None:
        path: list[TicketStatus] = ["detected", "dispatched", "handled", "closed"]
        walk(path, forward=False, sides=["property", "property", "platform"])

    def test_a_local_ticket_is_never_reported_or_accepted(self) -> None:
        for to in ("reported", "accepted", "rejected"):
            for side in get_args(Side):
                with pytest.raises(IllegalTransitionError):
                    check_transition("detected", to, forward=False, side=side, units=PROPERTY)


class TestSides:
    """The property side acts only on its own tickets and never decides for the platform."""

    def test_the_property_dispatches_handles_and_calls_false_alarms(self) -> None:
        assert next_statuses("accepted", forward=True, side="property", units=PROPERTY) == (
            "dispatched",
            "false_alarm",
        )
        assert next_statuses("dispatched", forward=True, side="property", units=PROPERTY) == (
            "handled",
            "false_alarm",
        )

    def test_the_property_never_accepts_closes_or_cancels(self) -> None:
        for current in FORWARDED:
            allowed = next_statuses(current, forward=True, side="property", units=PROPERTY)
            assert not {"accepted", "rejected", "closed", "cancelled"} & set(allowed)

    def test_the_property_cannot_touch_a_ticket_not_its_own(self) -> None:
        with pytest.raises(IllegalTransitionError) as info:
            check_transition("accepted", "dispatched", forward=True, side="property", units=POLICE)
        assert info.value.allowed == ()

    def test_the_platform_may_cancel_any_open_ticket(self) -> None:
        for forward, moves in ((True, FORWARDED), (False, LOCAL)):
            for current in moves:
                allowed = next_statuses(current, forward=forward, side="platform", units=POLICE)
                assert "cancelled" in allowed


class TestFinalStatuses:
    """Rejected, closed, false alarms and cancelled tickets move no more; open ones can."""

    @pytest.mark.parametrize("status", FINAL)
    @pytest.mark.parametrize("forward", [True, False])
    def test_a_final_status_allows_nothing(self, status: TicketStatus, forward: bool) -> None:
        assert is_final(status, forward)
        with pytest.raises(IllegalTransitionError) as info:
            check_transition(status, "dispatched", forward=forward, side="platform", units=POLICE)
        assert info.value.allowed == ()
        assert str(info.value) == f"a ticket in {status} cannot go to dispatched; allowed: nothing"

    def test_the_open_statuses_are_the_ones_with_moves(self) -> None:
        forwarded_open = {status for status in get_args(TicketStatus) if not is_final(status, True)}
        assert forwarded_open == OPEN_STATUSES
        local_open = {status for status in get_args(TicketStatus) if not is_final(status, False)}
        assert local_open == {"detected", "dispatched", "handled"}
