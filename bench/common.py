"""What every part of the ingest benchmark shares: types, failure, progress, the phase names.

Why it exists: the phases, the bare subscribers, the commit follower and the profiler fail the
same way (`BenchError`: no credible number), progress goes to stderr the same way (stdout stays
the Markdown summary), and the command line and the report agree on the phase names; keeping
these here lets each of those modules stand alone without importing the orchestration.
"""

import sys
import time
from typing import Any

Message = tuple[str, bytes]
JsonDict = dict[str, Any]

PHASES = ("transport", "sustained", "prequeue", "latency")
"""The phases of a default run, in order; each is a key of the result JSON."""
EXTRA_PHASES = ("resolution", "rules")
"""Phases run only when asked for (`--phases resolution rules`)."""
PROGRESS_EVERY_S = 2.0


class BenchError(RuntimeError):
    """A phase could not produce a credible number (lost messages, a stalled gateway)."""


def log(text: str) -> None:
    """Progress goes to stderr so stdout stays the Markdown summary."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)
