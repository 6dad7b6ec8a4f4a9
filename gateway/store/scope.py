"""The caller's community scope as SQL, shared by every backend and every scoped list.

A scope is `gateway.access.Caller.scope`'s answer: None for every community, an empty set for
none (the list is then empty: the clause matches no row), else the communities a list may
return.
"""

from collections.abc import Set


def scope_clause(
    column: str, communities: Set[str] | None, placeholder: str
) -> tuple[str, list[object]] | None:
    """The condition (and its parameters) keeping `column` within `communities`; None for no
    restriction. A row whose `column` is NULL is never within a scope."""
    if communities is None:
        return None
    if not communities:
        return "1 = 0", []
    values: list[object] = [*sorted(communities)]
    return f"{column} IN ({', '.join([placeholder] * len(values))})", values
