"""The Makefile's promises: `make demo ARGS=...` hands the options to `scgw demo`."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class TestDemoTarget:
    """`make demo` runs `scgw demo` with whatever ARGS holds."""

    def test_args_reach_scgw_demo(self) -> None:
        result = subprocess.run(
            ["make", "--dry-run", "demo", "ARGS=--api-port 18080 --no-simulator"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        commands = result.stdout.splitlines()
        assert commands[-1].endswith("/scgw demo --api-port 18080 --no-simulator")

    def test_without_args_the_demo_runs_plain(self) -> None:
        result = subprocess.run(
            ["make", "--dry-run", "demo"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert result.stdout.splitlines()[-1].rstrip().endswith("/scgw demo")
