"""Code tables shared by every dialect: the canonical vocabulary events are normalised into."""

from typing import Annotated, Literal

from pydantic import StringConstraints

Direction = Literal["in", "out", "unknown"]
"""Which way a person or vehicle crossed a gate or door."""

OpenMethod = Literal[
    "card", "face", "fingerprint", "password", "qr", "remote", "button", "id_card", "unknown"
]
"""How a door was opened (or attempted): the union of every controller's verification modes."""

AccessResult = Literal["granted", "denied"]

DoorState = Literal["opened", "closed", "forced_open", "held_open"]
"""Door sensor states; `forced_open` and `held_open` feed the door rules."""

PlateColor = Literal[
    "blue",
    "yellow",
    "black",
    "white",
    "green",
    "yellow_green",
    "grey",
    "red",
    "orange",
    "brown",
    "purple",
    "cyan",
    "pink",
    "transparent",
    "other",
    "unknown",
]
"""One canonical plate-colour list; GA/T 1400 and JT/T 415 codes both map into it.
`green` is the new-energy small-car plate, `yellow_green` the new-energy large-vehicle one."""

Gender = Literal["male", "female", "unknown"]
"""GB/T 2261.1 sex codes 1 and 2; 0 (unknown) and 9 (unstated) both become `unknown`."""

BehaviourAlarmType = Literal[
    "fire_lane_occupied",
    "high_altitude_throw",
    "ebike_in_elevator",
    "intrusion",
    "loitering",
    "smoke_or_fire",
    "crowd",
    "other",
]

VisitorAction = Literal["registered", "checked_in", "checked_out", "cancelled"]

VisitPurpose = Literal[
    "owner",
    "relative",
    "tenant",
    "friend",
    "colleague",
    "decoration",
    "housekeeper",
    "driver",
    "other",
]

IdType = Literal[
    "resident_id_card",
    "temporary_id_card",
    "household_register",
    "passport",
    "foreign_permanent_residence",
    "other",
]
"""GA/T 517 certificate types, by canonical name; `schemas.identity.ID_TYPES` maps the codes
(111, 112, 113, 414, 554, 990) to these names and says how each type's numbers are checked."""

DeviceStatus = Literal["online", "offline", "heartbeat"]

PopulationType = Literal["registered", "floating", "foreign", "unregistered", "visitor"]
"""实有人口 categories: 户籍 registered, 流动 floating, 境外 foreign, 未落户 unregistered, and
visitors (from visitor registrations, with a valid window)."""

HouseUsage = Literal["self_occupied", "rented", "vacant", "commercial", "office", "other"]
"""实有房屋 usage as the property system registers it."""

Relation = Literal[
    "owner", "spouse", "child", "parent", "other_relative", "tenant", "employee", "other"
]
"""A resident's relation to the house they live in."""

ResidencySource = Literal["property", "inferred"]
"""Where a residency comes from: registered by the property system, or inferred from events."""

CredentialKind = Literal["card", "employee_no", "cloud_user", "id_number"]
"""What a device knows a person by; each kind hashes in its own namespace
(`schemas.privacy.credential_ref`)."""

Ethnicity = Annotated[str, StringConstraints(pattern=r"^(0[1-9]|[1-4][0-9]|5[0-6]|97|98)$")]
"""GB 3304 ethnicity code: 01 (汉族) to 56, 97 (other), 98 (foreign-born Chinese citizen)."""
