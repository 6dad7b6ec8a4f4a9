"""Ctrl-C during `scgw simulate --load-masterdata`: the load stops, its workers with it, and it
says what was loaded."""

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

HANG = 60.0  # seconds: only a hang fails, never a slow machine


def group_alive(group: int) -> list[str]:
    """The processes of a process group that have not exited (zombies have)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            alive.append(entry.name)
    return alive


@contextlib.contextmanager
def ctrl_c_reaches_children() -> Iterator[None]:
    """Ctrl-C as a terminal gives it: a pytest-xdist worker ignores SIGINT, and an ignored
    signal stays ignored in the processes it starts (Python then installs no handler). A
    handled one is reset to the default in them."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class TestInterruptedLoad:
    def test_ctrl_c_stops_the_load_and_its_workers_and_says_what_was_loaded(
        self, tmp_path: Path
    ) -> None:
        env = {**os.environ, "SCGW_ID_HASH_KEY": "a-test-hash-key-0123456789abcdef"}
        # 12 communities: the first one's progress line leaves most of the load to interrupt
        argv = ["--communities", "12", "--scale", "0.2", "--load-masterdata"]
        url = f"sqlite:///{tmp_path / 'scgw.db'}"
        scgw = Path(sys.executable).parent / "scgw"
        with ctrl_c_reaches_children():
            load = subprocess.Popen(
                [str(scgw), "simulate", *argv, "--database-url", url],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                start_new_session=True,  # its own process group, as a terminal's Ctrl-C reaches
            )
        assert load.stderr is not None
        for line in load.stderr:  # the first community is in: workers draw, imports run
            if "communities" in line and "%" in line:
                break
        assert load.poll() is None, "the load ended before it could be interrupted"
        os.killpg(load.pid, signal.SIGINT)
        _, err = load.communicate(timeout=HANG)
        assert load.returncode == 130, err[-2000:]
        assert "interrupted:" in err and "of 12 communities loaded whole" in err
        assert "Traceback" not in err
        assert group_alive(load.pid) == []
        with closing(sqlite3.connect(tmp_path / "scgw.db")) as db:
            audits = db.execute("SELECT details FROM audit_log").fetchall()
        aborted = any('"aborted": 1' in details for (details,) in audits)
        # An import that had begun writing when Ctrl-C came is cut short and audits itself as
        # aborted, and the message names its community as partly loaded. (The interrupt may
        # also fall between chunks or communities, so that no import is cut short.)
        if aborted:
            assert "partly (import them again)" in err, err[-2000:]
