"""The in-memory watch-list the instant rules read."""

from gateway.watchlist import WatchlistHolder
from schemas.tickets import WatchlistEntry

PLATE = "湘A12345"
OTHER = "湘B54321"


class TestWatchlistHolder:
    def test_snapshot_is_keyed_by_plate(self) -> None:
        """Entries are looked up by plate number."""
        holder = WatchlistHolder([WatchlistEntry(plate_no=PLATE, reason="协查")])
        assert holder.snapshot[PLATE].reason == "协查"
        assert holder.context.watchlist is holder.snapshot

    def test_replace_takes_the_whole_list(self) -> None:
        """A replacement drops plates it does not list, and a context taken before keeps the old
        list (readers never see half a change)."""
        holder = WatchlistHolder([WatchlistEntry(plate_no=PLATE, reason="协查")])
        before = holder.context
        holder.replace([WatchlistEntry(plate_no=OTHER, reason="布控")])
        assert set(holder.snapshot) == {OTHER}
        assert set(before.watchlist) == {PLATE}
