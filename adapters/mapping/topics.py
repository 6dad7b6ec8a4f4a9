"""Topic templates such as `acme/{community}/{device_id}/event`: parsing, filter and match.

A dialect may claim its own MQTT topics; the router subscribes to the template's filter and
reads the community, device and other named captures from each topic that matches.
"""

import re
from dataclasses import dataclass
from typing import Final

MAX_TOPIC_LEVELS: Final = 16

_CAPTURE: Final = re.compile(r"\{([a-z_][a-z0-9_]{0,31})\}")


@dataclass(frozen=True, slots=True)
class TopicTemplate:
    """A topic template such as `acme/{community}/{device_id}/event`, compiled."""

    levels: tuple[str, ...]
    """Each level: literal text, `+`, `#`, or a capture's name in braces."""

    @property
    def captures(self) -> frozenset[str]:
        return frozenset(level[1:-1] for level in self.levels if level.startswith("{"))

    @property
    def filter(self) -> str:
        """The MQTT filter to subscribe to: `+` for every capture."""
        return "/".join("+" if level.startswith("{") else level for level in self.levels)

    def match(self, topic: str) -> dict[str, str] | None:
        """The captures when `topic` fits the template (no capture empty), else None."""
        levels = topic.split("/")
        multi = self.levels[-1] == "#"
        fixed = self.levels[:-1] if multi else self.levels
        if len(levels) < len(fixed) or (not multi and len(levels) != len(fixed)):
            return None
        captures: dict[str, str] = {}
        for pattern, level in zip(fixed, levels, strict=False):
            if pattern.startswith("{"):
                if not level:
                    return None
                captures[pattern[1:-1]] = level
            elif pattern not in ("+", level):
                return None
        return captures


def parse_topic_template(text: str) -> TopicTemplate:
    """Compile a topic template; ValueError naming what is wrong with it."""
    levels = text.split("/")
    if len(levels) > MAX_TOPIC_LEVELS:
        raise ValueError(f"topic has more than {MAX_TOPIC_LEVELS} levels")
    if text.startswith("$"):
        raise ValueError("topic must not start with $ (broker-internal topics)")
    seen: set[str] = set()
    for index, level in enumerate(levels):
        if not level:
            raise ValueError("topic has an empty level")
        if level == "#":
            if index != len(levels) - 1:
                raise ValueError("# may only be the last level of topic")
            continue
        capture = _CAPTURE.fullmatch(level)
        if capture is not None:
            if capture[1] in seen:
                raise ValueError(f"topic captures {{{capture[1]}}} twice")
            seen.add(capture[1])
            continue
        if level != "+" and any(char in level for char in "+#{}"):
            raise ValueError(
                f"topic level {level!r} must be literal text, +, # or one {{capture}} (a-z, 0-9, _)"
            )
    return TopicTemplate(tuple(levels))
