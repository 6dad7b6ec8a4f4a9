"""CPU per row of the district's master-data load, into a private durable PostgreSQL.

`PYTHONPATH=. python scripts/masterdata_load_profile.py --communities 3 --first 3` imports the
generated communities from `--first` to `--communities` (at `--scale`) through the direct import
`scgw simulate --load-masterdata` uses, and prints the importer's CPU, PostgreSQL's CPU (the
server's process tree) and the wall time per row. Drawing the rows is done before the clock
starts, so the figures are the import's alone. Run under py-spy for a profile.
"""

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from bench.procstats import process_tree_cpu_s
from gateway.masterdata.bulk import direct_import
from simulators.district import District
from simulators.masterdata import DATASETS
from testkit.services import start_postgres


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--communities", type=int, default=3)
    parser.add_argument("--first", type=int, default=3, help="1-based first community loaded")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("SCGW_ID_HASH_KEY", "a-profile-hash-key-0123456789abcdef")
    district = District(args.communities, args.scale)
    codes = district.communities[args.first - 1 :]
    with tempfile.TemporaryDirectory() as work:
        pg = start_postgres(Path(work), settings={"fsync": "on", "synchronous_commit": "on"})
        try:
            asyncio.run(_run(district, codes, pg.dsn(), pg.process.pid, args))
        finally:
            pg.stop()


async def _run(
    district: District, codes: list[str], dsn: str, pg_pid: int, args: argparse.Namespace
) -> None:
    drawn = {code: district.masterdata(code) for code in codes}
    rows = sum(len(drawn[code][d]) for code in codes for d in DATASETS)
    async with direct_import(dsn, district.grid_map_items()) as send:
        cpu0, pg0, wall0 = time.process_time(), process_tree_cpu_s(pg_pid), time.monotonic()
        slots = asyncio.Semaphore(args.concurrency)

        async def one(code: str) -> None:
            async with slots:
                for dataset in DATASETS:
                    counts = await send(code, dataset, drawn[code][dataset])
                    assert counts.get("rejected", 0) == 0, counts

        await asyncio.gather(*(one(code) for code in codes))
        cpu = time.process_time() - cpu0
        pg = process_tree_cpu_s(pg_pid) - pg0
        wall = time.monotonic() - wall0
    print(
        f"{len(codes)} communities, {rows:,} rows: wall {wall:.1f} s ({rows / wall:,.0f} rows/s),"
        f" importer {cpu * 1e6 / rows:.0f} µs/row, PostgreSQL {pg * 1e6 / rows:.0f} µs/row"
    )


if __name__ == "__main__":
    main()
