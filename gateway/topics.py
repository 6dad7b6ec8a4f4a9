"""MQTT topic-filter grammar, as a broker applies it (MQTT 5.0 §4.7).

Kept apart from routing because settings validate filters with it too. Two rules matter for
"nothing vanishes": a filter starting with a wildcard never matches a topic starting with `$`
(so `#` is every application topic and never the broker's `$SYS` tree), and overlapping
filters make the broker deliver a message once per filter, so we subscribe only to filters
no other one covers.
"""

MAX_TOPIC_BYTES = 65_535
RESERVED_ROOTS = ("$SYS", "$share", "$queue")
"""First levels the gateway never subscribes to by name: the broker's own statistics, and the
shared-subscription prefixes, which `SCGW_MQTT_SHARED_GROUP` adds itself."""


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT wildcard matching (`+` one level, `#` the rest), as the broker does it: a topic
    is a filter without wildcards, so a filter matches it exactly when it covers it."""
    return filter_covers(topic_filter, topic)


def filter_covers(wider: str, narrower: str) -> bool:
    """True when every topic `narrower` matches is matched by `wider` as well.

    `#` does not cover `$vendor/#`: a wildcard first level never reaches `$` topics.
    """
    if narrower.startswith("$") and wider.startswith(("+", "#")):
        return False
    wide_levels = wider.split("/")
    narrow_levels = narrower.split("/")
    for index, level in enumerate(wide_levels):
        if level == "#":
            return True
        if index >= len(narrow_levels):
            return False
        other = narrow_levels[index]
        if other == "#" or level not in ("+", other):
            return False
    return len(wide_levels) == len(narrow_levels)


def filter_problem(topic_filter: str) -> str | None:
    """Why a filter may not be subscribed to, or None if it may.

    Checks the MQTT grammar (wildcards occupy a whole level, `#` only last, no NUL, at most
    65,535 bytes) and refuses the reserved roots in `RESERVED_ROOTS`.
    """
    if not topic_filter:
        return "a topic filter must not be empty"
    if "\x00" in topic_filter:
        return "a topic filter must not contain NUL"
    if len(topic_filter.encode("utf-8", errors="surrogatepass")) > MAX_TOPIC_BYTES:
        return f"a topic filter must be at most {MAX_TOPIC_BYTES} bytes"
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return "'#' must be a whole level and the last one"
        if "+" in level and level != "+":
            return "'+' must be a whole level"
    if levels[0] == "$SYS":
        return "'$SYS' is the broker's own statistics, never device traffic"
    if levels[0] in RESERVED_ROOTS:
        return f"'{levels[0]}/' is added by SCGW_MQTT_SHARED_GROUP; give the plain filter"
    return None
