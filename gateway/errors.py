"""The gateway's error tree, converted at the edges.

Library exceptions are wrapped where they enter (`StoreError` from psycopg/sqlite,
`PayloadError` from JSON or pydantic), so the loop catches a few known types and never
`Exception`. Messages never carry raw payload values: they may reach logs and dead letters.
"""


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


class PayloadError(GatewayError):
    """A message that cannot become events; it is dead-lettered, never retried.

    `reason` is a short stable label (a metrics label value and the dead letter's reason);
    `detail` explains it for an operator and must not contain payload values.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class StoreError(GatewayError):
    """The store could not do what was asked; `transient` says whether a retry may succeed."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class ConfigError(GatewayError):
    """Settings or the TOML configuration are invalid; raised at start-up, never later."""
