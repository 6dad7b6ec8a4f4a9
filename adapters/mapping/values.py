"""Single payload values: what counts as absent, and how a value becomes a key, text or number.

Mapping dialects are lenient about types (`1` and `"1"` map alike) but strict about meaning;
these helpers are where that leniency is defined, once, for every source and transform.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from adapters.mapping.paths import JsonPath, lookup
from schemas.errors import PayloadError


@dataclass(frozen=True, slots=True)
class Miss:
    """No value: the source was absent, or (unmapped) its value was not in the map."""

    label: str
    unmapped: bool = False


def payload_value(document: dict[str, object], path: JsonPath, field: str, label: str) -> object:
    value = lookup(document, path)
    if value is None or value == "":
        return Miss(label)
    if isinstance(value, dict | list):
        what = "an object" if isinstance(value, dict) else "an array"
        raise PayloadError("schema", f"{field} at {label} is {what}, not a single value")
    if isinstance(value, str):
        return encodable(value, field, label)
    return value


def as_key(value: object, field: str, label: str) -> str:
    """A payload value as a map key: text as is, numbers as written, true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise PayloadError("schema", f"{field} at {label} is not a single value")


def as_text(value: object, field: str, label: str) -> str:
    """Text for a hash or mask: a string, or an integer in decimal; nothing else."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise PayloadError("schema", f"{field} at {label} is not text")


def as_decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return Decimal(str(value).strip()) if isinstance(value, str) else Decimal(str(value))
    except InvalidOperation:
        return None


def encodable(value: str, field: str, label: str) -> str:
    """Refuse lone surrogates: JSON escapes allow them, but they cannot be stored as UTF-8."""
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise PayloadError("schema", f"{field} at {label} is not valid Unicode text") from None
    return value
