"""The simulator command: writes the gateway config and publishes door events."""

import asyncio
import csv
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from simulators.cli import (
    ENDING_SCAN_S,
    PILOT_COMMUNITIES,
    build_parser,
    ending_now,
    last_planned_at,
    main,
)
from simulators.community import generate_community, generate_jiaxin
from simulators.config_toml import community_config_toml
from simulators.masterdata import DATASETS, community_master_data
from simulators.scenarios import SCENARIOS
from testkit.services import MosquittoService, free_port
from tests.simulators.parsing import GatewayParser
from tests.simulators.subscriber import mosquitto_sub


class TestHelp:
    """`--help` teaches the command with examples."""

    def test_help(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exited:
            main(["--help"])
        assert exited.value.code == 0
        text = capsys.readouterr().out
        assert "examples:" in text
        assert "--write-config" in text and "--count" in text


class TestWriteConfig:
    """`--write-config` without `--url` writes the TOML for the community and seed, and stops."""

    def test_writes_and_exits(self, tmp_path: Path) -> None:
        path = tmp_path / "yida.toml"
        assert main(["yida", "--seed", "3", "--write-config", str(path)]) == 0
        text = path.read_text(encoding="utf-8")
        assert text == community_config_toml(generate_community(3))
        assert len(tomllib.loads(text)["devices"]) == len(generate_community(3).devices) == 40

    def test_jiaxin_is_a_pilot_community_too(self, tmp_path: Path) -> None:
        path = tmp_path / "jiaxin.toml"
        assert main(["jiaxin", "--write-config", str(path)]) == 0
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        assert [c["code"] for c in document["communities"]] == ["jiaxin"]
        assert len(document["devices"]) == len(generate_jiaxin().devices) == 31


class TestArguments:
    """Nonsense is refused with usage errors (exit status 2)."""

    @pytest.mark.parametrize(
        "argv",
        [
            ["yida"],
            ["nowhere", "--url", "mqtt://127.0.0.1:1"],
            ["yida", "--url", "http://broker"],
            ["yida", "--url", "mqtt://h", "--rate", "-1"],
            ["yida", "--url", "mqtt://h", "--start", "2026-11-26T08:00:00"],
            ["yida", "--url", "mqtt://h", "--connections", "0"],
            ["yida", "--url", "mqtt://h", "--mix", "faces"],
        ],
    )
    def test_refused(self, argv: list[str]) -> None:
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2

    def test_a_start_in_the_future_is_refused(self, capsys: pytest.CaptureFixture[str]) -> None:
        ahead = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
        with pytest.raises(SystemExit) as exited:
            main(["yida", "--url", "mqtt://h", "--start", ahead])
        assert exited.value.code == 2
        assert "--start is in the future" in capsys.readouterr().err


class TestEndingNow:
    """Planned `--count` messages end at the present or seconds before it, never after it."""

    def test_at_many_times_of_day(self) -> None:
        args = build_parser().parse_args(["yida", "--rate", "0", "--count", "50", "--seed", "4"])
        community = PILOT_COMMUNITIES["yida"](4)
        base = datetime.now(UTC).replace(microsecond=0)
        for step in range(48):  # a day, half-hourly, at varied seconds
            now = base - timedelta(minutes=30 * step, seconds=7 * step)
            last = last_planned_at(community, args, ending_now(community, args, now))
            assert now - timedelta(seconds=ENDING_SCAN_S) < last <= now


class TestPublish:
    """With `--url` it publishes `--count` messages and prints a summary without the password."""

    async def test_publishes(
        self, sim_broker: MosquittoService, capsys: pytest.CaptureFixture[str]
    ) -> None:
        url = f"mqtt://someone:secret@127.0.0.1:{sim_broker.port}"
        argv = ["yida", "--url", url, "--rate", "0", "--count", "50", "--seed", "4"]
        async with mosquitto_sub(sim_broker.port, "yida/#", 50) as subscriber:
            before = datetime.now(UTC).replace(microsecond=0)
            status = await asyncio.to_thread(main, argv)
            after = datetime.now(UTC)
            received = await subscriber.collect()
        assert status == 0
        assert len(received) == 50
        parser = GatewayParser(generate_community(4))
        times = [event.occurred_at for t, p in received for event in parser.parse(t, p)]
        # The run ends at the present (within seconds before it: rates follow the hour, so the
        # last message's time jumps as the start moves), never past it.
        assert before - timedelta(seconds=ENDING_SCAN_S) < max(times) <= after
        output = capsys.readouterr()
        assert "published 50 yida messages" in output.out
        assert "secret" not in output.out + output.err
        dialects = {topic.split("/")[1] for topic, _ in received}
        assert len(dialects) > 2  # the full mix, heartbeats on yida/status/... included

    async def test_publishes_doors_only(
        self, sim_broker: MosquittoService, capsys: pytest.CaptureFixture[str]
    ) -> None:
        url = f"mqtt://127.0.0.1:{sim_broker.port}"
        argv = ["yida", "--url", url, "--rate", "0", "--count", "30", "--mix", "doors"]
        async with mosquitto_sub(sim_broker.port, "yida/#", 30) as subscriber:
            status = await asyncio.to_thread(main, argv)
            received = await subscriber.collect()
        assert status == 0
        assert {topic.split("/")[1] for topic, _ in received} == {"hik-isapi"}
        assert "published 30 yida door events" in capsys.readouterr().out

    def test_broker_missing(self, capsys: pytest.CaptureFixture[str]) -> None:
        url = f"mqtt://127.0.0.1:{free_port()}"
        assert main(["yida", "--url", url, "--count", "3"]) == 1
        assert "error:" in capsys.readouterr().err


class TestMasterDataExport:
    """`masterdata` writes each community's four datasets in the format asked for."""

    def test_writes_csv_for_one_community(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        argv = ["masterdata", "--community", "jiaxin", "--format", "csv", "--out", str(tmp_path)]
        assert main(argv) == 0
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == [f"jiaxin-{d}.csv" for d in sorted(DATASETS)]
        assert capsys.readouterr().out.split() == [
            str(tmp_path / f"jiaxin-{d}.csv") for d in DATASETS
        ]
        data = community_master_data(generate_jiaxin())
        with (tmp_path / "jiaxin-houses.csv").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert [row["house_code"] for row in rows] == [h.house.code for h in data.houses]

    def test_writes_every_community_by_default(self, tmp_path: Path) -> None:
        assert main(["masterdata", "--format", "json", "--out", str(tmp_path)]) == 0
        assert len(list(tmp_path.glob("*.json"))) == 2 * len(DATASETS)

    def test_help_names_the_order(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit):
            main(["masterdata", "--help"])
        assert "houses first" in capsys.readouterr().out

    def test_unknown_community_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(SystemExit) as exited:
            main(["masterdata", "--community", "nowhere", "--out", str(tmp_path)])
        assert exited.value.code == 2


class TestScenarioMode:
    """`--scenario` switches to the scenario mode: its own manual, its own checks."""

    def test_help_lists_every_scenario(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Its --help explains the report and names every scenario and rule."""
        with pytest.raises(SystemExit) as exited:
            main(["--scenario", "all", "--help"])
        assert exited.value.code == 0
        text = capsys.readouterr().out
        assert "examples:" in text and "--speed" in text and "--clean" in text
        assert all(spec.name in text and spec.rule in text for spec in SCENARIOS)

    def test_unknown_scenario_refused(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An unknown name is an argument error naming the valid ones."""
        with pytest.raises(SystemExit) as exited:
            main(["--scenario", "no-such"])
        assert exited.value.code == 2
        assert "forced-door" in capsys.readouterr().err

    def test_speed_must_be_positive(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A zero speed is an argument error."""
        with pytest.raises(SystemExit) as exited:
            main(["--scenario", "all", "--speed", "0", "--api-key", "k"])
        assert exited.value.code == 2
        assert "--speed" in capsys.readouterr().err

    def test_needs_an_api_key(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without --api-key, $SCGW_ADMIN_API_KEY or a demo's data folder it stops at once."""
        monkeypatch.delenv("SCGW_ADMIN_API_KEY", raising=False)
        with pytest.raises(SystemExit) as exited:
            main(["--scenario", "all", "--data-dir", str(tmp_path)])
        assert exited.value.code == 2
        assert "API key" in capsys.readouterr().err
