"""Specification of `scgw import` (`gateway.masterdata.command`), run as the staff run it: a
subprocess, through a running gateway's API or straight into the store, with the report on
stdout, the summary and progress on stderr, and the documented exit status. Includes the
200,000-row residents file that must import in bounded memory (its peak RSS is reported)."""

import asyncio
import csv
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.masterdata.readers import open_table
from testkit.harness import ADMIN_KEY, SECRETS, RunningGateway, gateway_settings, running_gateway
from testkit.inspection import database_dump
from testkit.services import MosquittoService
from tests.gateway.masterdata.files import bad_check_digit, csv_bytes, id_number, json_bytes

BIG_ROWS = 200_000
BIG_HOUSES = 2_000
PEAK_RSS_BOUND_MB = 200
"""A generous ceiling for the whole process; the test also bounds the growth over a small
import by half of what the file's rows take parsed whole (estimated from a sample)."""

_PEAK = (
    "import json, re, resource, sys, time\n"
    "from gateway.cli import main\n"
    "started = time.perf_counter()\n"
    "status = main(sys.argv[1:])\n"
    "elapsed = time.perf_counter() - started\n"
    "with open('/proc/self/status') as status_file:\n"
    "    hwm = int(re.search(r'VmHWM:\\s+(\\d+) kB', status_file.read())[1])\n"
    "maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "print(json.dumps({'peak_rss_kb': hwm, 'ru_maxrss_kb': maxrss, 'seconds': elapsed}),"
    " file=sys.stderr)\n"
    "sys.exit(status)\n"
)
"""`scgw` with its own peak resident set size and duration printed at exit. The peak is the
memory map's high-water mark (`VmHWM`): on Linux `ru_maxrss` survives `execve` and so also
holds the forking parent's peak (pytest's, hundreds of MB late in a full run); it is printed
beside for comparison."""


def scgw(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`scgw ARGS` in a fresh interpreter, measuring its peak RSS."""
    return subprocess.run(
        [sys.executable, "-c", _PEAK, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=900,
        check=False,
    )


def measured(result: subprocess.CompletedProcess[str]) -> dict[str, float]:
    return json.loads(result.stderr.strip().splitlines()[-1])  # type: ignore[no-any-return]


def direct_env(database: str) -> dict[str, str]:
    return {"SCGW_DATABASE_URL": database, "SCGW_ID_HASH_KEY": SECRETS.id_hash_key}


HOUSES = [
    {"house_code": f"cli-{n}", "building": "B01", "unit": "1", "room": str(n)} for n in (1, 2)
]
RESIDENTS = [
    {
        "id_number": id_number(300 + n),
        "name": "雷小琴",
        "phone": f"1391234{n:04d}",
        "population_type": "registered",
        "house_code": f"cli-{n}",
    }
    for n in (1, 2)
]
RESIDENT_COLUMNS = ("id_number", "name", "phone", "population_type", "house_code")


@pytest.fixture(scope="module")
async def gateway(
    mosquitto: MosquittoService, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    database = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'scgw.db'}"
    async with running_gateway(gateway_settings(mosquitto.url, database)) as running:
        yield running


class TestThroughTheApi:
    """The file streams to the API; the report and exit status follow its rows."""

    async def test_import_report_and_exit_status(
        self, gateway: RunningGateway, tmp_path: Path
    ) -> None:
        houses = tmp_path / "houses.csv"
        houses.write_bytes(csv_bytes(("house_code", "building", "unit", "room"), HOUSES))
        result = await upload(gateway, "houses", houses)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {
            "accepted": 2,
            "updated": 0,
            "unchanged": 0,
            "rejected": [],
        }
        assert "2 accepted, 0 updated, 0 unchanged, 0 rejected" in result.stderr
        assert "100%" in result.stderr  # the progress bar
        rows = [
            RESIDENTS[0],
            {**RESIDENTS[1], "id_number": bad_check_digit(str(RESIDENTS[1]["id_number"]))},
        ]
        residents = tmp_path / "residents.json"
        residents.write_bytes(json_bytes(rows))
        result = await upload(gateway, "residents", residents, key=None)  # from the environment
        assert result.returncode == 3, result.stderr
        assert json.loads(result.stdout)["rejected"] == [
            {"line": 2, "field": "id_number", "reason": "fails the GB 11643 check digit"}
        ]
        for row in rows:
            assert str(row["id_number"]) not in result.stdout + result.stderr

    async def test_a_refused_file_exits_1(self, gateway: RunningGateway, tmp_path: Path) -> None:
        bad = tmp_path / "houses.csv"
        bad.write_text("house_code,remark\ncli-9,x\n")
        result = await upload(gateway, "houses", bad)
        assert result.returncode == 1
        assert "400 bad_columns" in result.stderr and result.stdout == ""

    async def test_a_wrong_key_exits_1(self, gateway: RunningGateway, tmp_path: Path) -> None:
        file = tmp_path / "houses.json"
        file.write_bytes(json_bytes(HOUSES))
        result = await upload(gateway, "houses", file, key="not-the-key-" * 3)
        assert (result.returncode, "401 unauthorized" in result.stderr) == (1, True)


async def upload(
    gateway: RunningGateway, dataset: str, file: Path, *, key: str | None = ADMIN_KEY
) -> subprocess.CompletedProcess[str]:
    """`scgw import` of `file` to the running gateway, the key as a flag (or, when None, in
    SCGW_ADMIN_API_KEY)."""
    url = f"http://127.0.0.1:{gateway.runtime.settings.api_port}"
    args = ["import", dataset, str(file), "--community", "yida", "--url", url]
    if key is None:
        return await ascgw(*args, env={"SCGW_ADMIN_API_KEY": ADMIN_KEY})
    return await ascgw(*args, "--api-key", key)


async def ascgw(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`scgw` in a thread, so the gateway in this event loop goes on serving it."""
    return await asyncio.to_thread(scgw, *args, env=env)


class TestDirect:
    """--direct writes to the configured store and gives the same report."""

    def test_direct_import_is_idempotent(self, database: str, tmp_path: Path) -> None:
        houses = tmp_path / "houses.json"
        houses.write_bytes(json_bytes(HOUSES))
        env = direct_env(database)
        first = scgw("import", "houses", str(houses), "--community", "yida", "--direct", env=env)
        again = scgw("import", "houses", str(houses), "--community", "yida", "--direct", env=env)
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout)["accepted"] == 2
        assert json.loads(again.stdout) == {
            "accepted": 0,
            "updated": 0,
            "unchanged": 2,
            "rejected": [],
        }

    def test_an_unknown_community_exits_1(self, sqlite_url: str, tmp_path: Path) -> None:
        houses = tmp_path / "houses.json"
        houses.write_bytes(json_bytes(HOUSES))
        result = scgw(
            "import",
            "houses",
            str(houses),
            "--community",
            "atlantis",
            "--direct",
            env=direct_env(sqlite_url),
        )
        assert result.returncode == 1
        assert "not in the grid map" in result.stderr


class TestFailures:
    """Refusals and failures exit 1 with a one-line reason: no traceback, no value."""

    def test_an_empty_snapshot_is_refused(self, sqlite_url: str, tmp_path: Path) -> None:
        empty = tmp_path / "residents.json"
        empty.write_bytes(b"[]")
        args = ("import", "residents", str(empty), "--community", "yida", "--direct")
        result = scgw(*args, "--snapshot", env=direct_env(sqlite_url))
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr.startswith("scgw import: the snapshot has no valid row")
        assert "Traceback" not in result.stderr


def write_big_files(folder: Path) -> tuple[Path, Path, list[str]]:
    """A houses file and a 200,000-row residents CSV (GBK, as property systems export it),
    written row by row; a sample of the ID numbers, names and phones it holds."""
    houses = folder / "houses.csv"
    with houses.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(("house_code", "building", "unit", "room"))
        for n in range(BIG_HOUSES):
            writer.writerow((f"big-{n}", f"B{n % 6 + 1:02d}", str(n % 4 + 1), str(n)))
    residents = folder / "residents.csv"
    surnames, given = "王李张刘陈杨黄赵吴周", "伟芳娜敏静丽强磊军洋"
    sample: list[str] = []
    first_day = date(1950, 1, 1)
    with residents.open("w", newline="", encoding="gbk") as out:
        writer = csv.writer(out)
        writer.writerow(("id_number", "name", "phone", "population_type", "house_code", "tags"))
        for n in range(BIG_ROWS):
            born = (first_day + timedelta(days=n // 1000)).strftime("%Y%m%d")
            row = (
                id_number(n, born=born),
                surnames[n % 10] + given[n // 10 % 10] + given[n // 100 % 10],
                f"139{n:08d}",
                "floating" if n % 3 else "registered",
                f"big-{n % BIG_HOUSES}",
                "key_care" if n % 50 == 0 else "",
            )
            writer.writerow(row)
            if n % 20_000 == 7:
                sample.extend((row[0], row[2]))
    return houses, residents, sample


def parsed_whole_mb(residents: Path, sample_rows: int = 10_000) -> float:
    """What the residents file's rows take held in memory at once, extrapolated from the
    first `sample_rows` read by the importer's own reader (Python objects, as tracemalloc
    counts them; the validated records and their seals would add more)."""
    with residents.open("rb") as file:
        table = open_table(file, "csv")
        tracemalloc.start()
        rows = []
        for _, row in table.rows():
            rows.append(row)
            if len(rows) == sample_rows:
                break
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return held / 2**20 * BIG_ROWS / sample_rows


class TestLargeFile:
    """200,000 residents stream through in bounded memory (peak RSS reported, never timed)."""

    def test_200k_residents(
        self, sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        houses, residents, sample = write_big_files(tmp_path)
        env = direct_env(sqlite_url)
        result = scgw(
            "import", "houses", str(houses), "--community", "yida", "--direct", "--quiet", env=env
        )
        assert json.loads(result.stdout)["accepted"] == BIG_HOUSES, result.stderr
        baseline_mb = measured(result)["peak_rss_kb"] / 1024  # the same process, a small file
        result = scgw(
            "import", "residents", str(residents), "--community", "yida", "--direct", env=env
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert json.loads(result.stdout) == {
            "accepted": BIG_ROWS,
            "updated": 0,
            "unchanged": 0,
            "rejected": [],
        }
        peak_mb = measured(result)["peak_rss_kb"] / 1024
        whole_mb = parsed_whole_mb(residents)
        rate = BIG_ROWS / measured(result)["seconds"]
        with capsys.disabled():
            print(
                f"\n200,000-row residents CSV (GBK, {residents.stat().st_size / 2**20:.1f} MiB):"
                f" peak RSS {peak_mb:.0f} MiB (ru_maxrss"
                f" {measured(result)['ru_maxrss_kb'] / 1024:.0f} MiB), {rate:,.0f} rows/s"
                " (SQLite, --direct);"
                f" (a 2,000-row import: {baseline_mb:.0f} MiB); its rows parsed whole would take"
                f" about {whole_mb:.0f} MiB more"
            )
        assert peak_mb < PEAK_RSS_BOUND_MB
        assert peak_mb - baseline_mb < whole_mb / 2  # never more than half the rows held
        dump = database_dump(sqlite_url)
        for value in sample:
            assert value not in dump


class TestHelp:
    """`scgw import --help` names the formats, every dataset's fields, the modes and the exit
    statuses."""

    def test_help_teaches(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exited:
            main(["import", "--help"])
        assert exited.value.code == 0
        text = capsys.readouterr().out
        for needle in (
            ".json",
            ".csv",
            ".xlsx",
            "GBK",
            "--snapshot",
            "--direct",
            "--url",
            "--api-key",
            "house_code*",
            "id_number*",
            "plate_no*",
            "owner_id_number*",
            "Exit status: 0",
            "3 some rows rejected",
        ):
            assert needle in text, needle
