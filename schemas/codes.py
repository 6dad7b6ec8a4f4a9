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
