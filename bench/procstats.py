"""CPU and memory accounting from /proc: per process, per process tree, and the whole machine.

Why it exists: the benchmark's main unit is CPU µs per message for each process taking part
(gateway, PostgreSQL, Mosquitto, the benchmark itself), plus how much of the machine other
processes took, since everything shares two cores. Reading those counters is Linux-specific and
independent of what is being measured, so it lives apart from the phases.
"""

import math
import os
import resource
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (index 0 is field 3, `state`)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def process_cpu_s(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds."""
    fields = _proc_stat(pid)
    if fields is None:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def process_tree_cpu_s(pid: int) -> float:
    """CPU of a parent, its reaped children, and its live children (PostgreSQL's backends)."""
    fields = _proc_stat(pid)
    if fields is None:
        return math.nan
    total = sum(int(fields[i]) for i in (11, 12, 13, 14))
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        child = _proc_stat(int(entry.name))
        if child is not None and child[1] == str(pid):
            total += int(child[11]) + int(child[12])
    return total / CLK_TCK


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the most resident memory the process has had."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def self_cpu_s() -> float:
    """This process: the publishers and bare subscribers run here."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuMeter:
    """Snapshots CPU seconds of every process taking part, to split the cost per message."""

    broker_pid: int
    postgres_pid: int
    gateway_pid: int | None = None

    def snapshot(self) -> dict[str, float]:
        cpu = {
            "bench": self_cpu_s(),
            "broker": process_cpu_s(self.broker_pid),
            "postgres": process_tree_cpu_s(self.postgres_pid),
            "machine": machine_busy_s(),
        }
        if self.gateway_pid is not None:
            cpu["gateway"] = process_cpu_s(self.gateway_pid)
        return cpu

    @staticmethod
    def other_cores(before: dict[str, float], after: dict[str, float], seconds: float) -> float:
        """Cores used by processes outside the benchmark: other load skews every number."""
        ours = sum(after[k] - before[k] for k in after if k != "machine" and k in before)
        return round((after["machine"] - before["machine"] - ours) / max(seconds, 1e-9), 2)

    @staticmethod
    def per_message_us(
        before: dict[str, float], after: dict[str, float], messages: int
    ) -> dict[str, float]:
        return {
            name: round((after[name] - before[name]) / max(messages, 1) * 1e6, 1)
            for name in after
            if name in before
        }
