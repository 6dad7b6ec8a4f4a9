"""The value transforms `scale`, `hash` and `mask`: what each does to a value that is present.

`map` is a lookup in the compiled spec and `format` lives in `timeformats`; these are the
transforms that guard numbers and personal data, kept together so their refusals read alike.
"""

import math
import re
from decimal import Decimal
from typing import Final, Literal

from adapters.mapping.values import as_decimal, as_text
from schemas.codes import CredentialKind
from schemas.errors import PayloadError
from schemas.privacy import (
    CREDENTIAL_NAMESPACES,
    Pseudonymizer,
    credential_ref,
    mask_id_number,
    mask_phone,
)

MaskKind = Literal["id_number", "phone", "name"]

_MAX_NAME_CHARS: Final = 64
_ID_NUMBER: Final = re.compile(r"[0-9A-Z]{6,32}")
_PHONE_SEPARATORS: Final = re.compile(r"[\s\-()]")
_PHONE: Final = re.compile(r"[0-9]{7,15}")


def scale(value: object, factor: Decimal, field: str, label: str) -> float:
    """The number multiplied by `factor`; anything else, or an infinite result, is refused."""
    number = as_decimal(value)
    scaled = None if number is None else float(number * factor)
    if scaled is None or not math.isfinite(scaled):
        raise PayloadError("schema", f"{field} at {label} is not a finite number")
    return scaled


def pseudonymize(
    pseudonymizer: Pseudonymizer, namespace: str, value: object, field: str, label: str
) -> str:
    """The keyed hash of the value in `namespace`. A credential kind's namespace (`card`,
    `employee`, `cloud-user`, `id_number`) hashes as `schemas.privacy.credential_ref` does, so a
    mapped device's read joins the imported credential; any other namespace hashes the text."""
    text = as_text(value, field, label)
    kind = _CREDENTIAL_KINDS.get(namespace)
    if kind is None:
        return pseudonymizer.hash(namespace, text)
    return credential_ref(pseudonymizer, kind, text)


_CREDENTIAL_KINDS: Final[dict[str, CredentialKind]] = {
    namespace: kind for kind, namespace in CREDENTIAL_NAMESPACES.items()
}


def mask(kind: MaskKind, text: str, field: str, label: str) -> str | None:
    """The display mask; text that does not look like what it should is refused, not shown."""
    if kind == "name":
        name = text.strip()
        if len(name) > _MAX_NAME_CHARS:
            raise PayloadError("schema", f"{field} at {label} is longer than a name")
        if not name:
            return None
        return "*" if len(name) == 1 else name[0] + "*" * (len(name) - 1)
    if kind == "phone":
        phone = _PHONE_SEPARATORS.sub("", text).removeprefix("+86").removeprefix("0086")
        if not _PHONE.fullmatch(phone):
            raise PayloadError("schema", f"{field} at {label} is not a phone number")
        return mask_phone(phone)
    number = text.strip().upper()
    if not _ID_NUMBER.fullmatch(number):
        raise PayloadError("schema", f"{field} at {label} is not an identity number")
    return mask_id_number(number)
