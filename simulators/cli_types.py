"""Argument types the simulator command's modes share."""

import argparse
from datetime import datetime


def aware_datetime(text: str) -> datetime:
    """An ISO 8601 date-time with an offset (`--start`): event times are instants."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("--start needs an offset, e.g. +08:00")
    return moment
