"""Payload paths: `data.items[0].plate` parsed once at start-up and followed per message.

Kept apart because the config models, conditions, templates and the interpreter all read
payloads through the same bounded path syntax.
"""

import re
from typing import Final

MAX_PATH_DEPTH: Final = 16

JsonPath = tuple[str | int, ...]

_PATH: Final = re.compile(r"[^.\[\]{}]+(?:\.[^.\[\]{}]+|\[-?[0-9]{1,6}\])*")
_PATH_STEP: Final = re.compile(r"([^.\[\]{}]+)|\[(-?[0-9]{1,6})\]")


def parse_path(text: str) -> JsonPath:
    """`data.items[0].plate` -> ("data", "items", 0, "plate"); ValueError when malformed."""
    if not _PATH.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a path like data.items[0].plate (names separated by dots, "
            "[n] for an array element)"
        )
    steps: list[str | int] = [
        name if name else int(index) for name, index in _PATH_STEP.findall(text)
    ]
    if len(steps) > MAX_PATH_DEPTH:
        raise ValueError(f"{text!r} is deeper than {MAX_PATH_DEPTH} steps")
    return tuple(steps)


def lookup(document: object, path: JsonPath) -> object:
    """The value at `path`, or None when any step is missing or of the wrong kind."""
    node = document
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                return None
            node = node[step]
        else:
            if not isinstance(node, dict):
                return None
            node = node.get(step)
        if node is None:
            return None
    return node
