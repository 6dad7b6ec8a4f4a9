"""Code tables shared by every dialect: the canonical vocabulary events are normalised into."""

from typing import Literal

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

IdType = Literal["resident_id_card", "passport", "other"]
"""GA/T 517 certificate types the visitor service uses: 111, 414 and 990."""

DeviceStatus = Literal["online", "offline", "heartbeat"]
