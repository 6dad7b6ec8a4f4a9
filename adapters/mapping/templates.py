"""Value templates: text with `{path}` placeholders, such as `acme/{data.openType}`.

The `template` source is parsed at start-up (bounded, no format mini-language beyond `:hex`)
and written per message here, so the syntax and its rendering cannot drift apart.
"""

import re
from dataclasses import dataclass
from typing import Final

from adapters.mapping.paths import JsonPath, parse_path
from adapters.mapping.values import Miss, as_key, payload_value
from schemas.errors import PayloadError

MAX_TEMPLATE_PLACEHOLDERS: Final = 8

MAX_HEX_CODE: Final = 2**32
"""`:hex` writes vendor codes (major/minor event types): 32 bits is every vendor's range."""
_PLACEHOLDER: Final = re.compile(r"\{([^{}]+?)(:hex)?\}")


@dataclass(frozen=True, slots=True)
class Placeholder:
    path: JsonPath
    label: str
    hex: bool


TemplatePart = str | Placeholder


def parse_template(text: str) -> tuple[TemplatePart, ...]:
    """`"{a.b}/{c:hex}"` -> parts; `{{` and `}}` write braces. ValueError when malformed."""
    parts: list[TemplatePart] = []
    literal: list[str] = []
    position = 0
    while position < len(text):
        if text.startswith(("{{", "}}"), position):
            literal.append(text[position])
            position += 2
            continue
        char = text[position]
        if char == "}":
            raise ValueError("a lone } in template (write }} for a brace)")
        if char != "{":
            literal.append(char)
            position += 1
            continue
        match = _PLACEHOLDER.match(text, position)
        if match is None:
            raise ValueError("a { in template opens no {path} placeholder (write {{ for a brace)")
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(Placeholder(parse_path(match[1]), match[1], hex=match[2] is not None))
        position = match.end()
    if literal:
        parts.append("".join(literal))
    placeholders = sum(isinstance(part, Placeholder) for part in parts)
    if placeholders == 0:
        raise ValueError("template has no {path} placeholder: use const for fixed text")
    if placeholders > MAX_TEMPLATE_PLACEHOLDERS:
        raise ValueError(f"template has more than {MAX_TEMPLATE_PLACEHOLDERS} placeholders")
    return tuple(parts)


def render_template(
    parts: tuple[TemplatePart, ...], document: dict[str, object], field: str
) -> str | Miss:
    """The template written with the payload's values, or the `Miss` of the first absent one."""
    written: list[str] = []
    for part in parts:
        if isinstance(part, str):
            written.append(part)
            continue
        value = payload_value(document, part.path, field, part.label)
        if isinstance(value, Miss):
            return value
        if part.hex:
            if not isinstance(value, int) or isinstance(value, bool):
                raise PayloadError("schema", f"{field} at {part.label} is not an integer")
            if not 0 <= value < MAX_HEX_CODE:
                # A code, not a quantity: an 18-digit number here could be an ID number,
                # readable again from its hex form.
                raise PayloadError("schema", f"{field} at {part.label} is not a 32-bit code")
            written.append(format(value, "#x"))
        else:
            written.append(as_key(value, field, part.label))
    return "".join(written)
