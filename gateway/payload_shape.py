"""The shape of a payload: what a dead letter keeps of it instead of the payload itself.

A dead letter must let an integrator fix a vendor's side without holding anyone's personal
data, and personal data cannot be found by guessing key names (a `remark`, a `holder`, `姓名`,
a name nested under a field of the wrong type). So the payload is kept by default as its shape,
and only a dialect's allow-list of known non-personal fields keeps values.

A JSON payload becomes compact JSON of the same structure:

- keys are kept when they are plain identifiers (`gateway.privacy.is_shareable_key`) or on a
  path the dialect declares; any other key becomes `<key N>`, N counting such keys in its
  object, so `{"张三": 1}` shows as `{"<key 1>":"<int 1>"}`;
- a value at an allow-listed path is kept when it is what the path's entry says it holds (a
  time, a code, a device id, a number, an address, a word of the dialect's vocabulary) and
  holds no personal-looking number (`gateway.privacy.is_shareable_scalar`), or is a boolean;
- every other value becomes its type and size: `"<str 11>"` (characters), `"<int 11>"`
  (digits), `"<float>"`, `"<bool>"`; `null` stays `null`.

Bounds: at most 2,048 characters. Rendering starts at depth 8, 32 keys an object and 4 items
an array, and tightens (to depth 2, 2 keys, 1 item) until the text fits. Cut objects end with
`"<more>":"<+N keys>"`, cut arrays with `"<+N items>"`, and a container below the depth limit
is `"<object N keys>"` or `"<array N items>"`. A payload that is not JSON keeps only its size,
encoding and character classes, and why the JSON parser refused it (a message and a position,
never text): `<not JSON (character 0: Expecting value): 12 bytes, utf-8, 12 characters:
10 letters, 2 digits>`. Binary payloads and payloads over the gateway's size limit keep their
size alone.

Allow-list paths are keys joined by dots, `[]` for "every element of this array":
`AccessControllerEvent.subEventType`, `visitors[].idType`, `[]` alone for a top-level array's
elements. A payload key containing `.`, `[` or `]` never matches a path.
"""

import json
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from adapters.base import ShownValue
from gateway.privacy import is_shareable_key, is_shareable_scalar

MAX_SHAPE_CHARS: Final = 2048
_LIMITS: Final = ((8, 32, 4), (6, 16, 2), (4, 8, 1), (3, 4, 1), (2, 2, 1))
"""(depth, keys per object, items per array), tried in order until the shape fits."""
_PATH: Final = re.compile(r"(?:[^.\[\]]+|\[\])(?:\.[^.\[\]]+|\[\])*")
_PATH_STEP: Final = re.compile(r"\.?([^.\[\]]+)|(\[\])")
_NOT_A_PATH_KEY: Final = re.compile(r"[.\[\]]")
_BOMS: Final = (
    (b"\x00\x00\xfe\xff", "utf-32-be", "utf-32"),
    (b"\xff\xfe\x00\x00", "utf-32-le", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8", "utf-8-sig"),
    (b"\xfe\xff", "utf-16-be", "utf-16"),
    (b"\xff\xfe", "utf-16-le", "utf-16"),
)
"""(byte order mark, the encoding's name as shown, the codec that reads it), longest first."""
_ASCII_SPACES: Final = bytes(c for c in range(128) if chr(c).isspace())
_ASCII_CLASSES: Final = (
    ("letters", string.ascii_letters.encode()),
    ("digits", string.digits.encode()),
    ("spaces", _ASCII_SPACES),
    ("control", bytes(c for c in [*range(32), 127] if c not in _ASCII_SPACES)),
    ("other", string.punctuation.encode()),
)
"""Character classes of a text that is not JSON, as `str.isalpha`, `isdigit`, `isspace` and
`isprintable` have them; `_class_of` sorts characters outside ASCII the same way."""
_NOT_ASCII: Final = re.compile(r"[^\x00-\x7f]")
_CLASSIFIED_CHARS: Final = 16_384
_WIDE_ENCODINGS: Final = ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be")


@dataclass(frozen=True, slots=True)
class AllowList:
    """The payload paths whose values a dialect's dead letters may show, and what each holds.

    `declared` holds every path on the way to one of them: keys there are the dialect's own,
    so they are shown even when they are not plain identifiers (a mapping dialect's `门号`).
    """

    values: Mapping[str, ShownValue]
    declared: frozenset[str]

    @classmethod
    def of(cls, fields: Mapping[str, ShownValue]) -> "AllowList":
        """Parse declared paths; a malformed one is a programming or configuration error."""
        values = MappingProxyType(dict(fields))
        declared: set[str] = set()
        for path in values:
            if not _PATH.fullmatch(path):
                raise ValueError(f"{path!r} is not a dead-letter field path like a.b[].c")
            prefix = ""
            for key, array in _PATH_STEP.findall(path):
                prefix = prefix + "[]" if array else _child(prefix, key)
                declared.add(prefix)
        return cls(values, frozenset(declared))


NOTHING: Final = AllowList(MappingProxyType({}), frozenset())
"""No value is shown: what routing failures (no dialect known) get."""


def payload_shape(payload: bytes, allowed: AllowList = NOTHING, *, max_bytes: int) -> str:
    """The shape of `payload` as described in the module docstring; never its text.

    A payload over `max_bytes` (the gateway's payload limit) is not parsed at all.
    """
    if len(payload) > max_bytes:
        return f"<{len(payload)} bytes, not read: over the {max_bytes}-byte limit>"
    try:
        document = json.loads(payload)
    except json.JSONDecodeError as exc:
        return _not_json(payload, f"character {exc.pos}: {exc.msg}")
    except UnicodeDecodeError:
        return _not_json(payload, "not valid text in its encoding")
    except RecursionError:
        return _not_json(payload, "nested too deeply")
    except ValueError:  # integers over 4,300 digits: Python's own guard
        return _not_json(payload, "a number is too long")
    for depth, keys, items in _LIMITS:
        rendered = _Renderer(allowed, depth, keys, items).node(document, "", 0)
        text = json.dumps(rendered, ensure_ascii=False, separators=(",", ":"))
        if len(text) <= MAX_SHAPE_CHARS:
            return text
    return json.dumps(_container_summary(document))


class _Renderer:
    """One pass over a decoded document with fixed limits."""

    def __init__(self, allowed: AllowList, depth: int, keys: int, items: int) -> None:
        self._allowed = allowed
        self._depth = depth
        self._keys = keys
        self._items = items

    def node(self, value: object, path: str | None, depth: int) -> object:
        if isinstance(value, dict | list) and depth >= self._depth:
            return _container_summary(value)
        if isinstance(value, dict):
            return self._object(value, path, depth)
        if isinstance(value, list):
            element = None if path is None else path + "[]"
            shown: list[object] = [
                self.node(item, element, depth + 1) for item in value[: self._items]
            ]
            if len(value) > self._items:
                shown.append(f"<+{len(value) - self._items} items>")
            return shown
        kind = None if path is None else self._allowed.values.get(path)
        if kind is not None and is_shareable_scalar(value, kind):
            return value
        return _type_of(value)

    def _object(self, value: dict[str, object], path: str | None, depth: int) -> dict[str, object]:
        shown: dict[str, object] = {}
        hidden_keys = 0
        for index, (key, child) in enumerate(value.items()):
            if index == self._keys:
                shown["<more>"] = f"<+{len(value) - self._keys} keys>"
                break
            child_path = None if path is None or _NOT_A_PATH_KEY.search(key) else _child(path, key)
            if (child_path is not None and child_path in self._allowed.declared) or (
                is_shareable_key(key)
            ):
                name = key
            else:
                hidden_keys += 1
                name = f"<key {hidden_keys}>"
            shown[name] = self.node(child, child_path, depth + 1)
        return shown


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_of(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, bool):
        return "<bool>"
    if isinstance(value, int):
        return f"<int {len(str(abs(value)))}>"
    if isinstance(value, float):
        return "<float>"
    if isinstance(value, str):
        return f"<str {len(value)}>"
    return _container_summary(value)


def _container_summary(value: object) -> str:
    if isinstance(value, dict):
        return f"<object {len(value)} keys>"
    if isinstance(value, list):
        return f"<array {len(value)} items>"
    return str(_type_of(value))


def _not_json(payload: bytes, problem: str) -> str:
    """Size, encoding and character classes of a payload the JSON parser refused."""
    size = f"{len(payload)} bytes"
    decoded = _decode(payload)
    if decoded is None:
        return f"<not JSON ({problem}): {size}, binary>"
    encoding, text = decoded
    return f"<not JSON ({problem}): {size}, {encoding}, {_character_classes(text)}>"


def _decode(payload: bytes) -> tuple[str, str] | None:
    """(encoding, text) when the payload is text in a Unicode encoding, else None (binary)."""
    for bom, name, codec in _BOMS:
        if payload.startswith(bom):
            try:
                return name, payload.decode(codec)
            except UnicodeDecodeError:
                return None
    if b"\x00" not in payload:
        guesses: tuple[str, ...] = ("utf-8",)
    else:  # UTF-16 and UTF-32 put NUL bytes beside ASCII characters; text has no NUL
        guesses = (json.detect_encoding(payload), *_WIDE_ENCODINGS)
    for codec in dict.fromkeys(guesses):
        try:
            text = payload.decode(codec)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return codec, text
    return None


def _character_classes(text: str) -> str:
    """`12 characters: 10 letters, 2 digits`; classes that do not occur are left out.

    Only the first 16,384 characters are classified (ASCII ones by `bytes.translate`, in C),
    so a flood of large garbage costs at most a few milliseconds a message.
    """
    sample = text[:_CLASSIFIED_CHARS]
    ascii_sample = sample.encode("ascii", "ignore")
    counts = {
        name: len(ascii_sample) - len(ascii_sample.translate(None, members))
        for name, members in _ASCII_CLASSES
    }
    for char in _NOT_ASCII.findall(sample):
        counts[_class_of(char)] += 1
    classes = ", ".join(f"{count} {name}" for name, count in counts.items() if count)
    head = f"{len(text)} characters"
    if len(text) > len(sample):
        head += f", the first {len(sample)}"
    return head + (f": {classes}" if classes else "")


def _class_of(char: str) -> str:
    if char.isalpha():
        return "letters"
    if char.isdigit():
        return "digits"
    if char.isspace():
        return "spaces"
    return "other" if char.isprintable() else "control"
