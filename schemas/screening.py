"""Screening the text an event stores: a bad name is dropped, a plate is judged, and each drop is
recorded on the event (the field and the reason, never the value).

The event models mark their free-text fields (`NAME`, `REFERENCE`, `Plate`), and `EventBase`
screens every event it builds before validating it, so every dialect, coded or mapped, gets the
same rules and none can forget them; the adapter stays pure, and the gateway counts the drops:

- `NAME` (door, zone, lane, house, firmware...): what `schemas.identifiers.name_problem` refuses
  becomes None; a kept name is trimmed, and a blank one is None without counting as a drop.
- `REFERENCE` (a picture's URL): `schemas.image_urls.judge_image_url` decides, for every
  dialect alike, what is kept (http(s) only, no login, no query or fragment, an ASCII path) and
  what is dropped (`not_a_url`, `pii_in_identifier`, `too_long`); adapters pass the vendor's
  string through as it came.
- `IP_ADDRESS` (a device's reported address): kept in its canonical form, without an IPv6 scope
  (`%eth0`, meaningless off the device's own network); anything else is dropped,
  `pii_in_identifier` when it holds an ID or mobile number (`tel:13912345678`,
  `139.1234.5678`), else `not_an_ip`.
- `Plate`: text outside the plate alphabet (`schemas.plates`) becomes None, `not_a_plate`, and
  the event's presence flag (`has_plate`) False; a kept plate gets its `plate_standard`
  (whether it follows the GA 36 grammar), None when there is no plate.

Fields the gateway cannot do without (device ids, visit ids, vendor codes) are never dropped:
they refuse the message instead (`schemas.identifiers`). An adapter that builds an event id
from a screened field hashes what the screen keeps (`kept`), never the dropped text: a hash
of a phone number is a phone number to anyone who can enumerate phones.
"""

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from types import MappingProxyType
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from schemas.identifiers import FieldDropReason, looks_like_personal_number, name_problem, today
from schemas.image_urls import ImageUrlDropReason, judge_image_url
from schemas.plates import is_standard_plate, plate_problem

IpDropReason = Literal["not_an_ip", "pii_in_identifier"]
"""Why an event lost a device's reported IP address."""

DropReason = FieldDropReason | ImageUrlDropReason | IpDropReason
"""Why a field's text was dropped from an event: the label of `scgw_event_fields_dropped_total`."""


@dataclass(frozen=True, slots=True)
class Screened:
    """Marks a text field an event drops when the text breaks the `rule` (see the module)."""

    rule: Literal["name", "reference", "ip"]


NAME = Screened("name")
REFERENCE = Screened("reference")
IP_ADDRESS = Screened("ip")


@dataclass(frozen=True, slots=True)
class Plate:
    """Marks a plate field, naming the fields the screen fills beside it."""

    standard_field: str = "plate_standard"
    presence_field: str | None = None


class DroppedField(BaseModel):
    """A field an event lost because its text broke a rule; the value itself is kept nowhere."""

    model_config = ConfigDict(use_attribute_docstrings=True, frozen=True, extra="forbid")

    field: str
    """The field left empty."""
    reason: DropReason
    """The rule its text broke."""


Marker = Screened | Plate


@cache
def screened_fields(model: type[BaseModel]) -> Mapping[str, Marker]:
    """The fields of `model` marked for screening, with their markers."""
    return MappingProxyType(
        {
            name: marker
            for name, info in model.model_fields.items()
            for marker in info.metadata
            if isinstance(marker, Screened | Plate)
        }
    )


KEPT_TEXTS_REMEMBERED: Final = 65_536
"""How many names and addresses the screen kept are remembered (a few MB at most)."""
MAX_REMEMBERED_TEXT: Final = 128


def judge(marker: Marker, text: str) -> tuple[str | None, DropReason | None]:
    """What the screen keeps of `text` in a field marked `marker` (None when it drops it), and
    the reason for a drop.

    The same names and addresses come back with every message of a device (its door, lane,
    firmware and IP), so a name or address kept is remembered for the day it was judged on
    (`schemas.identifiers.today`: whether it holds a personal number is the day's verdict), and
    its next judgement is a look-up. Only kept texts are remembered, so a dropped text is judged
    anew each time and never kept; the memory is bounded and starts over when full.
    """
    if isinstance(marker, Screened) and marker.rule != "reference":
        if len(text) > MAX_REMEMBERED_TEXT:
            return _judge(marker, text)
        key = (marker.rule, text, today())
        remembered = _kept_texts.get(key)
        if remembered is not None:
            return remembered, None
        kept_text, reason = _judge(marker, text)
        if kept_text is not None:
            if len(_kept_texts) >= KEPT_TEXTS_REMEMBERED:
                _kept_texts.clear()
            _kept_texts[key] = kept_text
        return kept_text, reason
    return _judge(marker, text)


_kept_texts: dict[tuple[str, str, date], str] = {}


def _judge(marker: Marker, text: str) -> tuple[str | None, DropReason | None]:
    reason: DropReason | None
    if isinstance(marker, Plate):
        reason = plate_problem(text)
    elif marker.rule == "reference":
        return judge_image_url(text)
    elif marker.rule == "ip":
        return judge_ip(text)
    else:
        text = text.strip()
        if not text:
            return None, None  # a blank name is no name, not a broken one
        reason = name_problem(text)
    return (None, reason) if reason is not None else (text, None)


def judge_ip(text: str) -> tuple[str | None, IpDropReason | None]:
    """A reported address in canonical form, or None and why it was dropped; blank is no
    address, not a broken one."""
    text = text.strip()
    if not text:
        return None, None
    try:
        return str(ipaddress.ip_address(text.partition("%")[0])), None
    except ValueError:
        pass
    if looks_like_personal_number(text):
        return None, "pii_in_identifier"
    return None, "not_an_ip"


def kept(marker: Marker, text: str | None) -> str | None:
    """What an event keeps of `text` in a field marked `marker`: the material for its id."""
    return None if text is None else judge(marker, text)[0]


def screen(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """`data` for `model` with its marked fields screened and the drops appended to
    `dropped_fields`; `data` itself is not changed. Screening twice changes nothing."""
    markers = screened_fields(model)
    if not markers:
        return data
    screened = dict(data)
    dropped: list[DroppedField] = []
    for name, marker in markers.items():
        value = screened.get(name)
        if isinstance(marker, Plate):
            screened[marker.standard_field] = None
        if not isinstance(value, str):
            continue
        text, reason = judge(marker, value)
        screened[name] = text
        if isinstance(marker, Plate):
            screened[marker.standard_field] = None if text is None else is_standard_plate(text)
            if text is None and marker.presence_field is not None:
                screened[marker.presence_field] = False
        if reason is not None:
            dropped.append(DroppedField(field=name, reason=reason))
    if dropped:
        screened["dropped_fields"] = (*screened.get("dropped_fields", ()), *dropped)
    return screened
