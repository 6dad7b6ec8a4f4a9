"""Topic routing: which dialect parses a message, for which community and device.

The default layout is `{community}/{dialect}/{device_id}`. Real vendors pick their own topics,
so the TOML config can bind any topic filter to a dialect and a community; bindings are tried
first, in the order written. Then the topic templates of mapping dialects
(`acme/{community}/{device_id}/event`, see `adapters.mapping`), in the order written; the
default layout last. Whichever way a topic is routed, the device id it names must be one by
`schemas.identifiers` (a binding's level or sender, a template's capture or the default
layout's last level alike), and neither it nor the community may hold an ID or mobile number.
Error details quote a topic level only when it is a safe token (`gateway.privacy`).
"""

from dataclasses import dataclass

from adapters.mapping import topic_templates
from gateway.config import GatewayConfig, TopicBinding
from gateway.errors import PayloadError
from gateway.privacy import is_shareable_level, shareable_topic
from gateway.topics import filter_covers, topic_matches
from schemas.identifiers import PII_IN_IDENTIFIER, device_id_problem, looks_like_personal_number

DEFAULT_LAYOUT_LEVELS = 3
MAX_QUOTED_LEVEL = 40
NOT_TEXT = "\ufffd"
"""What `gateway.mqtt` puts where a topic's bytes were not UTF-8."""
TOPIC_SEGMENT_ALIASES = {"status": "heartbeat"}
"""Conventional middle levels that name no vendor: `{community}/status/{device}` carries
keep-alives and last wills of any device, whatever dialect its events speak."""


@dataclass(frozen=True, slots=True)
class Route:
    """Where a message goes; `device_id` is its sender, None when the topic names none."""

    dialect: str
    community: str
    device_id: str | None


class TopicRouter:
    """Resolves a topic to a `Route`, or raises `PayloadError` (unknown topic or dialect)."""

    def __init__(self, config: GatewayConfig, dialects: set[str]) -> None:
        self._bindings: list[TopicBinding] = list(config.topics)
        self._candidates, self._wildcard_rooted = _bindings_by_root(self._bindings)
        self._templates = topic_templates(config.dialects)
        self._dialects = dialects
        self._communities = {community.code for community in config.communities}

    def route(self, topic: str) -> Route:
        """The topic's route, its device id and community checked (see the module)."""
        route = self._resolve(topic)
        if looks_like_personal_number(route.community):
            raise PayloadError(
                PII_IN_IDENTIFIER, "the topic's community holds an ID or mobile number"
            )
        if route.device_id is not None:
            problem = device_id_problem(route.device_id)
            if problem is not None:
                raise PayloadError(problem.reason, f"the topic's device id {problem.detail}")
        return route

    def _resolve(self, topic: str) -> Route:
        if NOT_TEXT in topic:
            raise PayloadError("unknown_topic", "topic is not valid UTF-8")
        root = topic.split("/", 1)[0]
        for binding in self._candidates.get(root, self._wildcard_rooted):
            if topic_matches(binding.filter, topic):
                if binding.dialect not in self._dialects:
                    raise PayloadError("unknown_dialect", f"binding names {binding.dialect[:40]!r}")
                return Route(binding.dialect, binding.community, _sender(topic, binding))
        for template, spec in self._templates:
            captures = template.match(topic)
            if captures is None:
                continue
            if spec.name not in self._dialects:
                raise PayloadError("unknown_dialect", f"no adapter for dialect {spec.name!r}")
            community = captures.get("community", spec.community or "")
            if self._communities and community not in self._communities:
                raise PayloadError(
                    "unknown_community", f"community {_quoted(community, topic)} is not configured"
                )
            return Route(spec.name, community, captures.get("device_id"))
        levels = topic.split("/")
        if len(levels) != DEFAULT_LAYOUT_LEVELS or not all(levels) or topic.startswith("$"):
            raise PayloadError(
                "unknown_topic", "topic matches no binding nor community/dialect/device"
            )
        community, segment, device_id = levels
        dialect = TOPIC_SEGMENT_ALIASES.get(segment, segment)
        if dialect not in self._dialects:
            raise PayloadError(
                "unknown_dialect", f"no adapter for dialect {_quoted(dialect, topic)}"
            )
        if self._communities and community not in self._communities:
            raise PayloadError(
                "unknown_community", f"community {_quoted(community, topic)} is not configured"
            )
        return Route(dialect, community, device_id)

    def subscriptions(self, default_filters: list[str]) -> list[str]:
        """The filters to subscribe to: `default_filters` (`#` by default: every application
        topic, so what no route fits still arrives and is dead-lettered), then each binding
        and template that none of those already covers."""
        filters = [
            *default_filters,
            *(binding.filter for binding in self._bindings),
            *(template.filter for template, _ in self._templates),
        ]
        kept: list[str] = []
        for topic_filter in dict.fromkeys(filters):
            if not any(filter_covers(other, topic_filter) for other in kept):
                kept = [other for other in kept if not filter_covers(topic_filter, other)]
                kept.append(topic_filter)
        return kept


def _bindings_by_root(
    bindings: list[TopicBinding],
) -> tuple[dict[str, list[TopicBinding]], list[TopicBinding]]:
    """For each literal first level a binding names, the bindings a topic under it may match,
    in configuration order (the first match wins); and those for any other first level (the
    ones starting with `+` or `#`). A district names 141 communities' bindings: a topic seen
    for the first time is tried against its own community's, not all of them in turn."""
    roots = [binding.filter.split("/", 1)[0] for binding in bindings]
    wildcard_rooted = [b for b, root in zip(bindings, roots, strict=True) if root in ("+", "#")]
    return {
        literal: [b for b, root in zip(bindings, roots, strict=True) if root in (literal, "+", "#")]
        for literal in dict.fromkeys(roots)
        if literal not in ("+", "#")
    }, wildcard_rooted


def _quoted(level: str, topic: str) -> str:
    """A topic level for an error detail: quoted when it is a safe token of at most 40
    characters that the topic's shareable form keeps (`gateway.privacy.shareable_topic`, which
    also masks the pieces of a number split over levels), else only described, so a name or a
    written phone number in the level never reaches a dead letter or a log."""
    shown = len(level) <= MAX_QUOTED_LEVEL and is_shareable_level(level)
    if shown and level in shareable_topic(topic).split("/"):
        return repr(level)
    return f"(a level of {len(level)} characters that is not a plain token)"


def _sender(topic: str, binding: TopicBinding) -> str | None:
    """The sender: the device at the binding's `device_id_level`, else its `sender`."""
    if binding.device_id_level is None:
        return binding.sender
    levels = topic.split("/")
    if binding.device_id_level > len(levels):
        return None
    return levels[binding.device_id_level - 1] or None
