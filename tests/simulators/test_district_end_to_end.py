"""A small district end to end: its configuration and grid map served by a real gateway, its
master data loaded through the property API, its traffic published from two processes to a
real Mosquitto and stored in PostgreSQL, every message an event, no dead letter."""

import asyncio
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from gateway.config import load_config
from simulators.district import District, apportion
from simulators.district_load import load_through_api
from simulators.district_publish import DistrictRun, publish_district
from testkit.harness import ADMIN_KEY, gateway_settings, running_gateway, wait_until
from testkit.services import MosquittoService, PostgresService

COMMUNITIES, SCALE, SEED = 4, 0.02, 5
COUNT, PROCESSES = 600, 2


@pytest.fixture(scope="module")
def district_dsn(postgres: PostgresService) -> Iterator[str]:
    yield postgres.create_database("district_end_to_end")
    postgres.drop_database("district_end_to_end")


def _expected_events(run: DistrictRun) -> int:
    """Events the run's messages carry, from the generator's ground truth."""
    district = District(run.communities, run.scale, run.seed)
    counts = apportion(run.count, district.shares(run.processes, run.rate, run.speed))
    total = 0
    for part, count in enumerate(counts):
        records = district.records(
            run.start, run.speed, run.rate, part=(part, run.processes), clean=run.clean
        )
        total += sum(len(record.kinds) for record in itertools.islice(records, count))
    return total


def _scalar(dsn: str, sql: str) -> int:
    with psycopg.connect(dsn) as connection:
        row = connection.execute(sql.encode()).fetchone()
    assert row is not None
    return int(row[0])


class TestDistrictThroughTheGateway:
    """What the simulator writes, loads and publishes, a gateway takes whole."""

    async def test_load_and_publish(
        self, mosquitto: MosquittoService, district_dsn: str, tmp_path: Path
    ) -> None:
        district = District(COMMUNITIES, SCALE, SEED)
        config_path, grids_path = tmp_path / "district.toml", tmp_path / "grids.toml"
        district.write_gateway_config(config_path)
        district.write_grid_map(grids_path)
        settings = gateway_settings(mosquitto.url, district_dsn, grids=grids_path)
        async with running_gateway(settings, load_config(config_path)) as gateway:
            base_url = str(gateway.http.base_url)
            report = await load_through_api(district, base_url, ADMIN_KEY, quiet=True)
            assert report.rejected == 0
            rows = {code: district.masterdata(code) for code in district.communities}
            for dataset in ("houses", "residents", "vehicles", "credentials"):
                expected = sum(len(r[dataset]) for r in rows.values())
                assert report.rows[dataset]["accepted"] == expected, dataset
            assert _scalar(district_dsn, "SELECT count(*) FROM houses") == district.houses
            assert _scalar(district_dsn, "SELECT count(*) FROM houses WHERE grid_code IS NULL") == 0

            run = DistrictRun(
                communities=COMMUNITIES,
                scale=SCALE,
                seed=SEED,
                start=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30),
                speed=60.0,
                rate=300.0,
                count=COUNT,
                url=mosquitto.url,
                processes=PROCESSES,
            )
            published = await asyncio.to_thread(publish_district, run)
            assert published.count == COUNT
            assert len(published.parts) == PROCESSES

            expected_events = _expected_events(run)

            def stored() -> bool:
                return _scalar(district_dsn, "SELECT count(*) FROM events") >= expected_events

            await wait_until(stored, timeout_s=120, what="the district's events to be stored")
            assert _scalar(district_dsn, "SELECT count(*) FROM events") == expected_events
            assert _scalar(district_dsn, "SELECT count(*) FROM dead_letters") == 0
            communities = _scalar(district_dsn, "SELECT count(DISTINCT community) FROM events")
            assert communities == COMMUNITIES
