"""The errors pure code raises, importable without the service: adapters reach them here.

A `PayloadError` is a message that cannot become events (dead-lettered, never retried); a
`ConfigError` is invalid configuration found at start-up. `gateway.errors` re-exports both
beside the service's own errors.
"""


class PayloadError(ValueError):
    """A message that cannot become events; it is dead-lettered, never retried.

    `reason` is a short stable label (a metrics label value and the dead letter's reason);
    `detail` explains it for an operator and must not contain payload values.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ConfigError(ValueError):
    """Settings or the TOML configuration are invalid; raised at start-up, never later."""
