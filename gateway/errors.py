"""The gateway's error tree, converted at the edges.

Library exceptions are wrapped where they enter (`StoreError` from psycopg/sqlite,
`PayloadError` from JSON or pydantic), so the loop catches a few known types and never
`Exception`. Messages never carry raw payload values: they may reach logs and dead letters.
`PayloadError` and `ConfigError` live in `schemas.errors`, where adapters reach them without
importing the service; they are re-exported here so the service has one place to look.
"""

from schemas.errors import ConfigError, PayloadError

__all__ = ["ConfigError", "ForwardError", "GatewayError", "PayloadError", "StoreError"]


class GatewayError(Exception):
    """Base of every error the service raises on purpose."""


class StoreError(GatewayError):
    """The store could not do what was asked; `transient` says whether a retry may succeed."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class ForwardError(GatewayError):
    """One attempt to deliver an outbox row to the grid platform failed; `result` says how
    (`refused`: a non-2xx answer, `unreachable`: no connection or no answer in time,
    `bad_answer`: a 2xx outside the contract, `missing_ticket`). The message is short and
    holds no ticket content: it is kept as the row's `last_error` and shown in
    `GET /v1/outbox`."""

    def __init__(self, result: str, message: str) -> None:
        super().__init__(message)
        self.result = result
