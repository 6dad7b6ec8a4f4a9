"""Failed authentications per client address: after `per_minute` failures within a minute, the
address is answered 429 (with `Retry-After`) until the oldest of them is a minute old, whatever
key it presents, so guessing stays slow. Successful authentications do not count.

The limiter is bounded (`max_addresses`: the least recently failing address is forgotten
first) and takes its time from the caller, so tests move a clock instead of sleeping.
"""

import math
from collections import OrderedDict, deque
from datetime import datetime, timedelta
from typing import Final

WINDOW: Final = timedelta(minutes=1)
MAX_ADDRESSES: Final = 10_000


class FailureLimiter:
    """Counts failed authentications per client address over a sliding minute."""

    def __init__(self, per_minute: int, *, max_addresses: int = MAX_ADDRESSES) -> None:
        self._per_minute = per_minute
        self._max_addresses = max_addresses
        self._failures: OrderedDict[str, deque[datetime]] = OrderedDict()

    def retry_after(self, address: str, now: datetime) -> int | None:
        """Seconds until the address may try again; None when it may try now."""
        failures = self._recent(address, now)
        if failures is None or len(failures) < self._per_minute:
            return None
        return max(1, math.ceil((failures[0] + WINDOW - now).total_seconds()))

    def failed(self, address: str, now: datetime) -> None:
        """Count one failure of the address at `now`."""
        failures = self._recent(address, now)
        if failures is None:
            failures = self._failures[address] = deque(maxlen=self._per_minute)
        failures.append(now)
        self._failures.move_to_end(address)
        while len(self._failures) > self._max_addresses:
            self._failures.popitem(last=False)

    def _recent(self, address: str, now: datetime) -> deque[datetime] | None:
        failures = self._failures.get(address)
        if failures is None:
            return None
        while failures and failures[0] + WINDOW <= now:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        return failures
