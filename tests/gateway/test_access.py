"""The access contract: what a caller's role permits, which communities it sees, which tickets
are a property company's, and who reads names and phones unmasked."""

from datetime import UTC, datetime, timedelta

import pytest

from gateway.access import (
    BOOTSTRAP_KEY_ID,
    DISTRICT_WIDE_PERMISSIONS,
    GOVERNMENT_ONLY_RULES,
    PROPERTY_UNIT,
    ROLE_PERMISSIONS,
    Caller,
    Permission,
    Role,
    bootstrap_admin,
    parse_communities,
)
from schemas.tickets import Category, Evidence, ResponsibleUnit, TicketLocation, TicketPublic

NOW = datetime.now(UTC)
YIDA = frozenset({"yida"})


def caller(role: Role, communities: frozenset[str] | None = None, *, pii: bool = False) -> Caller:
    return Caller("key_0123456789ab", "test key", role, communities, pii)


def ticket(community: str, units: tuple[str, ...], rule: str = "care.no_activity") -> TicketPublic:
    return TicketPublic(
        ticket_id="t-" + "0" * 24,
        dedup_key=f"{rule}:subject",
        rule=rule,
        category=Category(code="social_care", name="社会救助"),
        severity="minor",
        community=community,
        grid_code=None,
        location=TicketLocation(address="亿达小镇3栋2单元"),
        responsible_units=tuple(ResponsibleUnit(type=unit, name=unit) for unit in units),
        title="标题",
        description="描述",
        summary_en="summary",
        evidence=Evidence(count=1, first_at=NOW, last_at=NOW),
        occurrences=1,
        detected_at=NOW,
        created_at=NOW,
        updated_at=NOW,
        sla_due_at=NOW + timedelta(days=1),
        overdue=False,
        status="detected",
        forward=True,
    )


class TestPermissions:
    def test_an_admin_holds_every_permission(self) -> None:
        assert all(caller(Role.ADMIN).may(permission) for permission in Permission)

    @pytest.mark.parametrize(
        "permission",
        [Permission.KEYS_MANAGE, Permission.WATCHLIST_MANAGE, Permission.OUTBOX_READ],
    )
    def test_a_property_key_never_holds_the_governments_or_the_admins(
        self, permission: Permission
    ) -> None:
        assert not caller(Role.PROPERTY, YIDA).may(permission)

    def test_device_ops_reads_devices_events_dead_letters_and_metrics_only(self) -> None:
        reads = {
            Permission.EVENTS_READ,
            Permission.DEVICES_READ,
            Permission.DEAD_LETTERS_READ,
            Permission.METRICS_READ,
            Permission.STREAM_READ,
        }
        assert ROLE_PERMISSIONS[Role.DEVICE_OPS] == reads

    def test_gov_writes_no_master_data_and_erases_nobody(self) -> None:
        gov = caller(Role.GOV)
        assert gov.may(Permission.MASTERDATA_READ)
        assert not gov.may(Permission.MASTERDATA_WRITE)
        assert not gov.may(Permission.PERSONS_ERASE)

    def test_raw_dead_letters_are_the_admins_alone(self) -> None:
        holders = {r for r in Role if caller(r).may(Permission.DEAD_LETTERS_RAW)}
        assert holders == {Role.ADMIN}


class TestDistrictWide:
    """Keys, the watch-list and the metrics serve every community at once: a key scoped to
    communities never holds them, whatever its role grants, so a community's admin cannot
    make an unscoped key, revoke another's, or read another community's device ids."""

    def test_the_district_wide_permissions_are_keys_watchlist_and_metrics(self) -> None:
        expected = {Permission.KEYS_MANAGE, Permission.WATCHLIST_MANAGE, Permission.METRICS_READ}
        assert expected == DISTRICT_WIDE_PERMISSIONS

    @pytest.mark.parametrize("role", list(Role))
    @pytest.mark.parametrize("permission", sorted(DISTRICT_WIDE_PERMISSIONS))
    def test_a_scoped_key_holds_none_of_them(self, role: Role, permission: Permission) -> None:
        assert not caller(role, YIDA).may(permission)
        assert not caller(role, frozenset()).may(permission)

    @pytest.mark.parametrize("permission", sorted(DISTRICT_WIDE_PERMISSIONS))
    def test_an_unscoped_key_holds_them_as_its_role_grants(self, permission: Permission) -> None:
        for role in Role:
            assert caller(role).may(permission) == (permission in ROLE_PERMISSIONS[role])

    def test_a_scoped_admin_keeps_every_other_permission(self) -> None:
        admin = caller(Role.ADMIN, YIDA)
        held = {permission for permission in Permission if admin.may(permission)}
        assert held == set(Permission) - DISTRICT_WIDE_PERMISSIONS


class TestSees:
    def test_an_unscoped_key_sees_every_community_and_letters_of_none(self) -> None:
        gov = caller(Role.GOV)
        assert gov.sees("yida") and gov.sees("jiaxin") and gov.sees(None)

    def test_a_scoped_key_sees_its_communities_only(self) -> None:
        yida = caller(Role.PROPERTY, YIDA)
        assert yida.sees("yida")
        assert not yida.sees("jiaxin")

    def test_a_record_of_no_community_is_not_in_any_scope(self) -> None:
        assert not caller(Role.PROPERTY, YIDA).sees(None)

    def test_an_empty_scope_sees_nothing(self) -> None:
        assert not caller(Role.GOV, frozenset()).sees("yida")


class TestScope:
    def test_no_filter_is_the_keys_own_scope(self) -> None:
        assert caller(Role.GOV).scope() is None
        assert caller(Role.PROPERTY, YIDA).scope() == YIDA

    def test_a_filter_within_the_scope_narrows_it(self) -> None:
        both = frozenset({"yida", "jiaxin"})
        assert caller(Role.PROPERTY, both).scope("jiaxin") == frozenset({"jiaxin"})
        assert caller(Role.GOV).scope("jiaxin") == frozenset({"jiaxin"})

    def test_a_filter_outside_the_scope_is_an_empty_scope_not_an_error(self) -> None:
        assert caller(Role.PROPERTY, YIDA).scope("jiaxin") == frozenset()


class TestSeesTicket:
    def test_a_property_company_sees_the_tickets_naming_it(self) -> None:
        assert caller(Role.PROPERTY, YIDA).sees_ticket(ticket("yida", ("grid", PROPERTY_UNIT)))

    def test_not_the_ones_for_other_units_only(self) -> None:
        assert not caller(Role.PROPERTY, YIDA).sees_ticket(ticket("yida", ("grid", "community")))

    def test_never_a_government_only_rule_whatever_units_it_names(self) -> None:
        [rule] = GOVERNMENT_ONLY_RULES
        hit = ticket("yida", (PROPERTY_UNIT, "police_station"), rule)
        assert not caller(Role.PROPERTY, YIDA).sees_ticket(hit)
        assert caller(Role.GOV).sees_ticket(hit)

    def test_nor_another_communitys(self) -> None:
        assert not caller(Role.PROPERTY, YIDA).sees_ticket(ticket("jiaxin", (PROPERTY_UNIT,)))

    def test_gov_and_admin_see_every_ticket_in_their_scope(self) -> None:
        local = ticket("jiaxin", ("grid",))
        assert caller(Role.GOV).sees_ticket(local)
        assert caller(Role.ADMIN).sees_ticket(local)
        assert not caller(Role.GOV, YIDA).sees_ticket(local)


class TestCanUnmask:
    def test_an_admin_may(self) -> None:
        assert caller(Role.ADMIN).can_unmask

    @pytest.mark.parametrize("role", [Role.GOV, Role.PROPERTY, Role.DEVICE_OPS])
    def test_another_role_only_with_pii(self, role: Role) -> None:
        assert not caller(role).can_unmask
        assert caller(role, pii=True).can_unmask


class TestBootstrap:
    def test_the_bootstrap_key_is_an_unscoped_admin(self) -> None:
        admin = bootstrap_admin()
        assert (admin.key_id, admin.role, admin.communities) == (BOOTSTRAP_KEY_ID, Role.ADMIN, None)

    def test_a_stored_scope_of_none_is_every_community(self) -> None:
        assert parse_communities(None) is None
        assert parse_communities(["yida", "yida"]) == YIDA
