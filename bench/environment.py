"""What a result was measured on: the machine, the software versions and the gateway's settings.

Why it exists: a throughput number means nothing without the CPU, the load at start, the
Mosquitto/PostgreSQL/library versions and the batch settings behind it; these go into every
result JSON (and the summary table) so that two runs can be compared.
"""

import contextlib
import math
import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

from bench.common import JsonDict
from gateway.config import Settings
from gateway.mqtt import SessionOptions
from testkit.services import MOSQUITTO_BIN


def machine_info() -> JsonDict:
    """What the numbers were measured on; a result without this cannot be compared."""
    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_gib = math.nan
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "ram_gib": mem_gib,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def mosquitto_version() -> str:
    result = subprocess.run(
        [str(MOSQUITTO_BIN), "-h"], capture_output=True, text=True, check=False, timeout=10
    )
    match = re.search(r"mosquitto version (\S+)", result.stdout + result.stderr)
    return match.group(1) if match else "unknown"


def library_versions() -> dict[str, str]:
    versions = {}
    for name in ("paho-mqtt", "aiomqtt", "psycopg", "psycopg-pool", "pydantic"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def gateway_settings(overrides: dict[str, str]) -> JsonDict:
    """The batch and flow-control settings the gateway under test runs with."""
    settings = Settings.model_validate(overrides)
    session = SessionOptions(client_id="bench")
    return {
        "batch_max_rows": settings.batch_max_rows,
        "batch_max_delay_ms": settings.batch_max_delay_ms,
        "mqtt_protocol": settings.mqtt_protocol,
        "mqtt_receive_maximum": settings.mqtt_receive_maximum,
        "subscriber_max_buffered": session.max_buffered,
        "database_pool_size": settings.database_pool_size,
        "log_level": settings.log_level,
        "overrides": overrides,
    }
