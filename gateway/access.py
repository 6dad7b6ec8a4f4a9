"""Who may do what: the roles an API key carries, the permissions each role grants, and the
community scope that decides which records a caller may know exist.

This module is the one place a reader audits access. Every endpoint names the permission it
needs (`gateway.api.deps.Needs`); the README's permission table is generated from the routes
and `ROLE_PERMISSIONS` (`scgw permissions`), and a test fails when a route names none.

Scope, not role, hides other communities' records: a key scoped to community A is answered
404 for anything of community B (it must not learn that B's record exists), and lists are
filtered to its scope. 403 is only for a permission the role never has, or for a
district-wide permission (`DISTRICT_WIDE_PERMISSIONS`) asked of a key scoped to communities.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from schemas.tickets import TicketPublic


class Role(StrEnum):
    ADMIN = "admin"
    """Everything, including keys, raw dead letters and erasure."""
    GOV = "gov"
    """The government platform: reads everything (masked unless the key has `pii`), manages
    the watch-list and posts the platform side's ticket transitions."""
    PROPERTY = "property"
    """A property management company: writes its communities' master data and devices, reads
    their records and the tickets its company must act on, posts the property side's
    transitions."""
    DEVICE_OPS = "device_ops"
    """Device operations: reads devices, events, dead letters and metrics."""


class Permission(StrEnum):
    EVENTS_READ = "events:read"
    DEVICES_READ = "devices:read"
    DEVICES_WRITE = "devices:write"
    DEAD_LETTERS_READ = "dead_letters:read"
    DEAD_LETTERS_RAW = "dead_letters:raw"
    """The stored raw payload of a dead letter: it may hold what a device should never have
    sent, so it is for admins only."""
    METRICS_READ = "metrics:read"
    MASTERDATA_READ = "masterdata:read"
    """Houses, persons (masked unless the key has `pii`), vehicles, community summaries."""
    MASTERDATA_WRITE = "masterdata:write"
    PERSONS_ERASE = "persons:erase"
    TICKETS_READ = "tickets:read"
    TICKETS_TRANSITION = "tickets:transition"
    TICKETS_STATS = "tickets:stats"
    WATCHLIST_MANAGE = "watchlist:manage"
    OUTBOX_READ = "outbox:read"
    OUTBOX_RETRY = "outbox:retry"
    AUDIT_READ = "audit:read"
    KEYS_MANAGE = "keys:manage"
    STREAM_READ = "stream:read"
    OVERVIEW_READ = "overview:read"
    """The dashboard's summary of the caller's communities."""


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.GOV: frozenset(
        {
            Permission.EVENTS_READ,
            Permission.DEVICES_READ,
            Permission.DEAD_LETTERS_READ,
            Permission.METRICS_READ,
            Permission.MASTERDATA_READ,
            Permission.TICKETS_READ,
            Permission.TICKETS_TRANSITION,
            Permission.TICKETS_STATS,
            Permission.WATCHLIST_MANAGE,
            Permission.OUTBOX_READ,
            Permission.AUDIT_READ,
            Permission.STREAM_READ,
            Permission.OVERVIEW_READ,
        }
    ),
    Role.PROPERTY: frozenset(
        {
            Permission.EVENTS_READ,
            Permission.DEVICES_READ,
            Permission.DEVICES_WRITE,
            Permission.DEAD_LETTERS_READ,
            Permission.MASTERDATA_READ,
            Permission.MASTERDATA_WRITE,
            Permission.TICKETS_READ,
            Permission.TICKETS_TRANSITION,
            Permission.TICKETS_STATS,
            Permission.AUDIT_READ,
            Permission.STREAM_READ,
            Permission.OVERVIEW_READ,
        }
    ),
    Role.DEVICE_OPS: frozenset(
        {
            Permission.EVENTS_READ,
            Permission.DEVICES_READ,
            Permission.DEAD_LETTERS_READ,
            Permission.METRICS_READ,
            Permission.STREAM_READ,
        }
    ),
}

DISTRICT_WIDE_PERMISSIONS: frozenset[Permission] = frozenset(
    {Permission.KEYS_MANAGE, Permission.WATCHLIST_MANAGE, Permission.METRICS_READ}
)
"""Permissions whose endpoints serve every community at once and cannot be narrowed to a
scope: keys (a scoped admin could create an unscoped key, or revoke anyone's), the district's
vehicle watch-list, the gateway's metrics (series carry every community's device ids). Only
unscoped keys hold them, whatever their role grants."""

BOOTSTRAP_KEY_ID = "bootstrap"
"""The key id of `SCGW_ADMIN_API_KEY`, the admin key that exists before any key is created."""

PROPERTY_UNIT = "property"
"""The responsible-unit type of a property company (`config/responsibility.toml`)."""

GOVERNMENT_ONLY_RULES = frozenset({"vehicle.watchlist"})
"""Rules whose tickets are the government's alone: a watch-list hit is never shown to a
property company, whatever units the ticket names."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the key's id and name (the audit's actor), its role, its community
    scope (None: every community) and whether it may read names and phones unmasked."""

    key_id: str
    name: str
    role: Role
    communities: frozenset[str] | None = None
    pii: bool = False

    def may(self, permission: Permission) -> bool:
        """Whether the role grants `permission`, and, for a district-wide one, whether the key
        is unscoped: a key scoped to communities never acts on the whole district."""
        if permission in DISTRICT_WIDE_PERMISSIONS and self.communities is not None:
            return False
        return permission in ROLE_PERMISSIONS[self.role]

    def sees(self, community: str | None) -> bool:
        """Whether a record of `community` is within the caller's scope. A record of no
        community (a dead letter from an unknown device) is seen only by unscoped keys."""
        if self.communities is None:
            return True
        return community is not None and community in self.communities

    def scope(self, community: str | None = None) -> frozenset[str] | None:
        """The communities a list may return, given the request's own `community` filter:
        None for no restriction, an empty set when the filter names a community outside the
        scope (the list is then empty, not an error)."""
        if community is None:
            return self.communities
        return frozenset({community}) if self.sees(community) else frozenset()

    @property
    def can_unmask(self) -> bool:
        """Whether names and phones may be read unmasked (every such read is audited)."""
        return self.role is Role.ADMIN or self.pii

    def sees_ticket(self, ticket: TicketPublic) -> bool:
        """Whether the ticket is the caller's to know of: in scope, and, for a property
        company, one its company must act on and never a government-only rule's."""
        if not self.sees(ticket.community):
            return False
        if self.role is not Role.PROPERTY:
            return True
        return ticket.rule not in GOVERNMENT_ONLY_RULES and any(
            unit.type == PROPERTY_UNIT for unit in ticket.responsible_units
        )


def bootstrap_admin() -> Caller:
    """The caller presenting `SCGW_ADMIN_API_KEY`."""
    return Caller(BOOTSTRAP_KEY_ID, "admin", Role.ADMIN)


def parse_communities(values: Iterable[str] | None) -> frozenset[str] | None:
    """A key's scope from its stored or requested list: None means every community."""
    return None if values is None else frozenset(values)
