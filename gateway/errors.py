"""The gateway's error tree, converted at the edges.

Library exceptions are wrapped where they enter (`StoreError` from psycopg/sqlite,
`PayloadError` from JSON or pydantic), so the loop catches a few known types and never
`Exception`. Messages never carry raw payload values: they may reach logs and dead letters.
`PayloadError` and `ConfigError` live in `schemas.errors`, where adapters reach them without
importing the service; they are re-exported here so the service has one place to look.
"""

from schemas.errors import ConfigError, PayloadError

__all__ = ["ConfigError", "GatewayError", "PayloadError", "StoreError"]


class GatewayError(Exception):
    """Base of every error the service raises on purpose."""


class StoreError(GatewayError):
    """The store could not do what was asked; `transient` says whether a retry may succeed."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient
