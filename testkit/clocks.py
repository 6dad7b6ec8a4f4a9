"""A clock a test moves by hand, for code that takes its time from a callable (`Runtime.clock`,
`Housekeeping`): no sleeps, no timing assertions."""

from datetime import datetime


class Clock:
    """A clock the test moves: `now` is what it answers until set again."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
