"""py-spy sampling of the gateway while it drains, and a summary of the collapsed stacks.

Why it exists: `--profile` answers where the gateway spends its CPU. py-spy samples the gateway
process from its first commit to its last; its collapsed stacks are reduced here to the top
functions by self and inclusive share and to self time per library, which go into the result.
"""

import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import psycopg

from bench.common import BenchError, JsonDict
from testkit.gateway_process import GatewayProcess


class Profiler:
    """py-spy sampling the gateway while it drains; started at the first commit."""

    RATE_HZ = 100

    def __init__(self, gateway: GatewayProcess) -> None:
        self._gateway = gateway
        self._process: subprocess.Popen[bytes] | None = None
        self.path = Path(tempfile.gettempdir()) / "scgw-bench-ingest-pyspy.txt"

    def start(self) -> None:
        if self._process is not None or self._gateway.process is None:
            return
        self._process = subprocess.Popen(
            [
                _pyspy(),
                "record",
                "--pid",
                str(self._gateway.process.pid),
                "--rate",
                str(self.RATE_HZ),
                "--format",
                "raw",
                "--function",
                "--nonblocking",
                "--output",
                str(self.path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def finish(self) -> JsonDict:
        if self._process is None:
            return {"error": "never started"}
        self._process.send_signal(signal.SIGINT)
        try:
            _, stderr = self._process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            return {"error": "py-spy did not stop"}
        if not self.path.exists():
            return {"error": stderr.decode(errors="replace")[-500:]}
        summary = summarize_collapsed(self.path.read_text().splitlines())
        summary["collapsed_stacks"] = str(self.path)
        return summary


def _pyspy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise BenchError("--profile needs py-spy: .venv/bin/pip install py-spy")
    return found


_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
_AREAS = (
    ("gateway/", "gateway"),
    ("adapters/", "adapters"),
    ("schemas/", "schemas"),
    ("pydantic", "pydantic"),
    ("psycopg", "psycopg"),
    ("paho/", "paho-mqtt"),
    ("prometheus_client", "prometheus_client"),
    ("asyncio/", "asyncio"),
    ("json/", "json"),
    ("logging/", "logging"),
    ("hmac", "hashing"),
    ("hashlib", "hashing"),
)


def _frame_name(frame: str) -> tuple[str, str]:
    """(short readable name, area) of one py-spy frame `func (path:line)`."""
    match = _FRAME.match(frame)
    if match is None:
        return frame, "other"
    path = match["file"]
    area = next((name for key, name in _AREAS if key in path), "other")
    module = path.rsplit("site-packages/", 1)[-1].rsplit("/main/", 1)[-1]
    return f"{match['func']} ({module})", area


def summarize_collapsed(lines: Sequence[str], top: int = 15) -> JsonDict:
    """Self and inclusive sample shares per function, and self time per library."""
    total = 0
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if "(" in f]  # drop process/thread labels
        if not frames:
            continue
        total += count
        names = [_frame_name(f) for f in frames]
        leaf, area = names[-1]
        self_counts[leaf] += count
        areas[area] += count
        for name in {n for n, _ in names}:
            inclusive[name] += count

    def share(counter: Counter[str]) -> list[JsonDict]:
        return [
            {"function": name, "percent": round(100 * c / total, 1)}
            for name, c in counter.most_common(top)
        ]

    return {
        "samples": total,
        "rate_hz": Profiler.RATE_HZ,
        "self": share(self_counts),
        "inclusive": share(inclusive),
        "self_by_area": {k: round(100 * v / total, 1) for k, v in areas.most_common()},
    }


# -- PostgreSQL's side: pg_stat_statements ---------------------------------------------------


async def reset_statements(db: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
    """Start counting statements in this database now (the server must preload the module)."""
    await db.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    await db.execute("SELECT pg_stat_statements_reset()")


async def top_statements(
    db: psycopg.AsyncConnection[tuple[object, ...]], top: int = 10
) -> list[JsonDict]:
    """The statements PostgreSQL spent most of its execution time on in this database since
    `reset_statements`: each one's share, calls and mean, its text cut to 200 characters."""
    cursor = await db.execute(
        "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 200), calls, total_exec_time,"
        " sum(total_exec_time) OVER () FROM pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " ORDER BY total_exec_time DESC LIMIT %s",
        (top,),
    )
    return [
        {
            "query": str(query),
            "calls": int(str(calls)),
            "total_ms": round(float(str(total)), 1),
            "percent": round(100 * float(str(total)) / max(float(str(everything)), 1e-9), 1),
            "mean_ms": round(float(str(total)) / max(int(str(calls)), 1), 3),
        }
        for query, calls, total, everything in await cursor.fetchall()
    ]
