"""The Makefile's promises: `make demo ARGS=...` hands the options to `scgw demo`."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def dry_run(*arguments: str) -> list[str]:
    """The commands `make --dry-run` would run, as a top-level make (also under `make test`,
    whose variables would otherwise make this one a sub-make that prints directories)."""
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}
    result = subprocess.run(
        ["make", "--no-print-directory", "--dry-run", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [line.rstrip() for line in result.stdout.splitlines()]


class TestDemoTarget:
    """`make demo` runs `scgw demo` with whatever ARGS holds."""

    def test_args_reach_scgw_demo(self) -> None:
        """The options in ARGS follow `scgw demo`, in order."""
        commands = dry_run("demo", "ARGS=--api-port 18080 --no-simulator")
        assert commands[-1].endswith("/scgw demo --api-port 18080 --no-simulator")

    def test_without_args_the_demo_runs_plain(self) -> None:
        """Without ARGS the demo runs with its defaults."""
        assert dry_run("demo")[-1].endswith("/scgw demo")
