"""Query parameters held to what an endpoint declares, once each, and times held to ISO 8601.

A misspelt filter (`?devce_id=...`) silently ignored returns every event, which looks like
an answer; refusing it is the only way the caller learns. The refusal names a parameter only
when some endpoint declares it; any other name the client chose is shown as `<parameter N>`,
N its position among the distinct names in the query (`gateway.api.errors.shown_name`).
A parameter given twice (`limit=1&limit=2`) would be resolved by a rule the caller cannot
see (the framework takes the last), so it is refused too. Times are ISO 8601 with an offset
only: pydantic would also take Unix seconds or a bare date, each a guess about what the caller
meant. Device ids and community codes in the query or the path follow the registry's rules
(`schemas.identifiers.DeviceId`, `schemas.devices.CommunityCode`), so a value no device could
have is a 400 or 422, not an empty page or a 404.
"""

import contextlib
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BeforeValidator

from gateway.api.errors import ApiError, RuleError, shown_name
from schemas.times import ISO_8601_WITH_OFFSET

MAX_UNKNOWN_SHOWN = 20

_ISO_8601 = ISO_8601_WITH_OFFSET
_OFFSET_FROM_UNESCAPED_PLUS = re.compile(r"(?<=\d) (?=\d{2}:\d{2}\Z)")
"""An unescaped `+` in a query string arrives as a space: `...08:00:00 08:00`."""


EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
"""Times outside [EARLIEST, LATEST) are refused: nothing the gateway stores lies there, and an
endpoint widening `9999-12-31T23:30Z` to its hour's end would step past the last datetime."""


def _iso_8601(value: object) -> datetime:
    if isinstance(value, str):
        text = _OFFSET_FROM_UNESCAPED_PLUS.sub("+", value)
        if _ISO_8601.fullmatch(text):
            parsed = None
            with contextlib.suppress(ValueError):  # month 13 and the like
                parsed = datetime.fromisoformat(text)
            if parsed is not None:
                if EARLIEST <= parsed < LATEST:
                    return parsed
                raise RuleError(
                    f"must lie from {EARLIEST.isoformat()} up to {LATEST.isoformat()} (excluded)"
                )
    raise RuleError("must be ISO 8601 with an offset, e.g. 2026-05-01T08:00:00+08:00")


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_8601)]
"""A date-time parameter: ISO 8601 with `Z` or `±HH:MM`, nothing else."""


def check_time_range(since: datetime | None, until: datetime | None) -> None:
    """`since` after `until` can only be a mistake: it selects nothing."""
    if since is not None and until is not None and since > until:
        raise ApiError(
            400,
            "bad_time_range",
            "since must not be later than until",
            {"location": ["query", "since"]},
        )


async def reject_unknown_parameters(request: Request) -> None:
    """An app-wide dependency: 400 `unknown_parameter` for a query name the route lacks, then
    400 `repeated_parameter` for a declared one given more than once."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    accepted = _declared(route.dependant)  # a walk over a few fields: cheaper than a cache
    names = list(dict.fromkeys(request.query_params))  # distinct, in the order given
    unknown = [(position, name) for position, name in enumerate(names, 1) if name not in accepted]
    if unknown:
        ours = _declared_anywhere(request)
        raise ApiError(
            400,
            "unknown_parameter",
            "this endpoint does not take every query parameter given; see details",
            {
                "unknown": [
                    shown_name(name, ours, f"<parameter {position}>")
                    for position, name in unknown[:MAX_UNKNOWN_SHOWN]
                ],
                "accepted": sorted(accepted),
            },
        )
    given = Counter(name for name, _ in request.query_params.multi_items())
    repeated = sorted(name for name, count in given.items() if count > 1)
    if repeated:  # declared names only (unknown ones were refused above): safe to name
        raise ApiError(
            400,
            "repeated_parameter",
            "a query parameter is given more than once; give each at most once",
            {"repeated": repeated},
        )


def _declared_anywhere(request: Request) -> frozenset[str]:
    """The query parameter names any endpoint of the API declares (from its OpenAPI document,
    which the app builds once): ours, so safe to name back (`?status=` sent to an endpoint
    without it), while a name only the client chose is shown by position."""
    openapi = getattr(request.app, "openapi", None)
    document = openapi() if callable(openapi) else {}
    return frozenset(
        parameter["name"]
        for operations in document.get("paths", {}).values()
        for operation in operations.values()
        if isinstance(operation, dict)
        for parameter in operation.get("parameters", ())
        if isinstance(parameter, dict) and isinstance(parameter.get("name"), str)
    )


def _declared(dependant: Dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _declared(dependency)
    return names
