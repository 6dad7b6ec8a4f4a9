"""The district generator: deterministic, and its master data consistent with its devices and
traffic (every resident has a house, every device a community, every building a grid, every
plate a gate reads belongs to a vehicle or is deliberately unknown)."""

import tomllib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import islice, takewhile
from pathlib import Path

import pytest

from adapters.base import RawMessage
from adapters.registry import AdapterRegistry
from gateway.config import GatewayConfig, load_config
from gateway.grids import GridMap
from gateway.routing import TopicRouter
from schemas.events import DeviceEvent, VehiclePass
from schemas.times import CHINA_STANDARD_TIME as CST
from simulators.barrier_gate import printed_plate
from simulators.community import pilot_community
from simulators.district import District
from simulators.masterdata import DATASETS, FIELDS
from simulators.traffic import SimMessage
from tests.simulators.parsing import PSEUDONYMIZER, RECEIVED

START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
SMALL = (6, 0.02)
"""Six communities (the pilots and four generated ones), each about 2 % of its size."""


@cache
def small() -> District:
    return District(*SMALL, seed=11)


class DistrictParser:
    """District messages read back with the gateway's router and adapters, over the
    configuration the district writes."""

    def __init__(self, district: District) -> None:
        self.config = GatewayConfig.model_validate(tomllib.loads(district.gateway_config_toml()))
        self.adapters = AdapterRegistry().build(PSEUDONYMIZER)
        self.router = TopicRouter(self.config, set(self.adapters))
        self.devices = {d.device_id: d.community for d in self.config.devices}

    def parse(self, topic: str, payload: bytes) -> tuple[str, list[DeviceEvent]]:
        route = self.router.route(topic)
        assert route.device_id in self.devices, topic
        assert self.devices[route.device_id] == route.community, topic
        raw = RawMessage(topic, payload, RECEIVED, route.community, route.device_id)
        return route.community, self.adapters[route.dialect].parse(raw)


class TestDeterministic:
    """The same seed gives the same people, rows and messages; another seed other ones."""

    def test_same_seed_same_master_data(self) -> None:
        first, second = District(*SMALL, seed=3), District(*SMALL, seed=3)
        for code in first.communities[1::2]:
            assert first.masterdata(code) == second.masterdata(code)

    def test_same_seed_same_traffic(self) -> None:
        first = list(islice(District(*SMALL, seed=3).traffic(START, 60, 500), 400))
        second = list(islice(District(*SMALL, seed=3).traffic(START, 60, 500), 400))
        assert first == second

    def test_another_seed_other_people_same_map(self) -> None:
        one, other = District(*SMALL, seed=3), District(*SMALL, seed=4)
        code = one.communities[-1]
        assert one.masterdata(code)["residents"] != other.masterdata(code)["residents"]
        assert one.grid_map_toml() == other.grid_map_toml()
        assert one.gateway_config_toml() == other.gateway_config_toml()

    def test_pilots_are_the_pilot_communities(self) -> None:
        district = small()
        for code in ("yida", "jiaxin"):
            assert district.community(code) == pilot_community(code, 11)


class TestMasterDataConsistency:
    """The four datasets of every community hold together and with the grid map."""

    def test_every_resident_has_a_house_of_their_community(self) -> None:
        district = small()
        for code in district.communities:
            rows = district.masterdata(code)
            houses = {row["house_code"] for row in rows["houses"]}
            assert rows["residents"]
            assert all(row["house_code"] in houses for row in rows["residents"])
            assert all(str(row["house_code"]).startswith(f"{code}-") for row in rows["houses"])

    def test_every_vehicle_and_credential_belongs_to_a_resident(self) -> None:
        district = small()
        for code in district.communities:
            rows = district.masterdata(code)
            people = {row["id_number"] for row in rows["residents"]}
            houses = {row["house_code"] for row in rows["houses"]}
            assert all(row["owner_id_number"] in people for row in rows["vehicles"])
            assert all(row["house_code"] in houses for row in rows["vehicles"])
            assert all(row["owner_id_number"] in people for row in rows["credentials"])

    def test_every_building_has_a_grid_of_the_map(self, tmp_path: Path) -> None:
        district = small()
        path = tmp_path / "grids.toml"
        district.write_grid_map(path)
        grids = GridMap.load(path)
        for code in district.communities:
            for row in district.masterdata(code)["houses"]:
                grid = grids.grid_of_building(code, str(row["building"]))
                assert grid is not None, (code, row["building"])
                assert row["grid_code"] in (None, grid.code)
                if code != "jiaxin":  # the pilot leaves its codes to the map, as it always has
                    assert row["grid_code"] == grid.code

    def test_rows_have_the_import_fields(self) -> None:
        rows = small().masterdata(small().communities[-1])
        assert list(rows) == list(DATASETS)
        for dataset in DATASETS:
            assert all(tuple(row) == FIELDS[dataset] for row in rows[dataset])

    def test_id_numbers_are_unique_across_the_district(self) -> None:
        district = District(12, 0.02, seed=11)
        numbers = Counter(
            row["id_number"]
            for code in district.communities
            for row in district.masterdata(code)["residents"]
        )
        assert numbers and numbers.most_common(1)[0][1] == 1

    def test_about_2_6_residents_and_0_55_cars_per_generated_house(self) -> None:
        district = District(3, 0.5, seed=11)
        rows = district.masterdata(district.communities[-1])
        houses = len(rows["houses"])
        assert houses > 500
        assert 2.3 <= len(rows["residents"]) / houses <= 2.9
        assert 0.45 <= len(rows["vehicles"]) / houses <= 0.7


class TestDevicesAndTraffic:
    """Every device belongs to a community; every message comes from a registered device,
    parses, and reads people and cars the master data knows or deliberately does not."""

    def test_every_device_has_a_community(self, tmp_path: Path) -> None:
        district = small()
        path = tmp_path / "district.toml"
        district.write_gateway_config(path)
        config = load_config(path)
        codes = set(district.communities)
        assert {c.code for c in config.communities} == codes
        assert all(device.community in codes for device in config.devices)
        assert len(config.devices) == district.devices
        assert Counter(d.community for d in config.devices) == {
            code: district.plan(code).devices for code in codes
        }

    def test_traffic_parses_and_plates_are_known_or_deliberately_unknown(self) -> None:
        district = small()
        parser = DistrictParser(district)
        registered = {
            code: {
                str(row["plate_no"]).replace("·", "")
                for row in district.masterdata(code)["vehicles"]
            }
            for code in district.communities
        }
        read: Counter[str] = Counter()
        for index, (topic, payload) in enumerate(islice(district.traffic(START, 120, 2000), 4000)):
            if index > 500 and "/barrier-gate/" not in topic:
                continue  # every message of the first 500 parsed, then the gates' reads
            community, events = parser.parse(topic, payload)
            for event in events:
                if not isinstance(event, VehiclePass) or event.plate_no is None:
                    continue
                plate = event.plate_no
                known = plate in registered[community]
                read["registered" if known else "unknown"] += 1
                if not known:  # an outside car: no resident of the community owns it
                    assert printed_plate(plate) not in registered[community]
        assert read["registered"] > 0 and read["unknown"] > 0

    def test_communities_are_in_the_traffic_by_size(self) -> None:
        district = small()
        seen = Counter(t.split("/", 1)[0] for t, _ in islice(district.traffic(START), 5000))
        assert set(seen) == set(district.communities)
        assert seen["yida"] > seen[district.communities[-1]]  # 264 houses against a few dozen


class TestDailyRhythm:
    """Morning and evening peaks, quiet nights; the density follows rate and speed."""

    def test_peaks_and_nights(self) -> None:
        district = District(2, seed=11)
        start = datetime(2026, 11, 2, tzinfo=CST)
        hours: Counter[int] = Counter()
        end = start + timedelta(days=1)
        # 360 msg/s at an hour a second: 360 messages an event hour on the day's mean
        for record in district.records(start, 3600, 360, heartbeats=False):
            if record.at >= end:
                break
            hours[record.at.astimezone(CST).hour] += 1
        night = hours[2] + hours[3]
        assert hours[8] > 5 * night / 2 and hours[18] > 5 * night / 2
        assert hours[8] > hours[14]

    def test_rate_and_speed_set_the_event_density(self) -> None:
        district = small()
        rate, speed = 400.0, 30.0
        records = list(islice(district.records(START, speed, rate), 6000))
        span = (records[-1].at - records[0].at).total_seconds()
        assert district.messages_per_hour(rate, speed) == rate * 3600 / speed
        # 6000 messages at 400/s take 15 wall seconds: 450 event seconds at speed 30, on the
        # day's mean (the hour of day START falls in moves it)
        assert 450 / 4 < span < 450 * 4

    def test_heartbeats_beyond_the_rate_are_refused(self) -> None:
        with pytest.raises(ValueError, match="heartbeats"):
            small().hourly_rates(rate=1.0, speed=1000.0)


class TestParts:
    """Publisher processes share the communities: each community in one part, deterministically;
    the parts' traffic together is the district's."""

    def test_each_community_in_one_part(self) -> None:
        district = District(20, 0.02)
        parts = [district.part_of(code, 3) for code in district.communities]
        assert set(parts) == {0, 1, 2}
        assert parts == [District(20, 0.02).part_of(code, 3) for code in district.communities]
        assert sum(district.shares(3)) == pytest.approx(1.0)

    def test_parts_together_are_the_whole(self) -> None:
        district = small()
        whole = sorted(_until(district.records(START, 60, 500)))
        parts = sorted(
            m for p in range(2) for m in _until(district.records(START, 60, 500, part=(p, 2)))
        )
        assert len(whole) > 100 and whole == parts

    def test_prerender_gives_the_first_messages(self) -> None:
        district = small()
        rendered = district.prerender(500, START, 60, 500)
        assert rendered == list(islice(district.traffic(START, 60, 500), 500))


def _until(records: Iterator[SimMessage]) -> list[tuple[datetime, str, bytes]]:
    """The records of the first two minutes after START."""
    end = START + timedelta(minutes=2)
    return [(r.at, r.topic, r.payload) for r in takewhile(lambda r: r.at < end, records)]
