"""`scgw simulate --communities N ...`: the district mode of the simulator command."""

import asyncio
import sqlite3
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.grids import GridMap
from gateway.masterdata.bulk import direct_import
from simulators.cli import main
from simulators.district import District
from testkit.services import MosquittoService
from tests.simulators.subscriber import mosquitto_sub


class TestHelp:
    """`--help` explains the mode with examples; the pilot form still has its own."""

    def test_district_help(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exited:
            main(["--communities", "1", "--help"])
        assert exited.value.code == 0
        text = capsys.readouterr().out
        assert "examples:" in text
        for flag in ("--scale", "--rate", "--duration", "--speed", "--seed", "--processes"):
            assert flag in text
        assert "--load-masterdata" in text

    def test_the_pilot_form_still_works(self, tmp_path: Path) -> None:
        path = tmp_path / "yida.toml"
        assert main(["yida", "--write-config", str(path)]) == 0
        assert path.exists()


class TestArguments:
    """Nonsense is refused with usage errors (exit status 2)."""

    @pytest.mark.parametrize(
        "argv",
        [
            ["--communities", "0", "--write-grids", "g.toml"],
            ["--communities", "142", "--write-grids", "g.toml"],
            ["--communities", "3"],
            ["--communities", "3", "--scale", "0", "--write-grids", "g.toml"],
            ["--communities", "3", "--scale", "2", "--write-grids", "g.toml"],
            ["--communities", "3", "--url", "http://broker"],
            ["--communities", "3", "--url", "mqtt://h", "--rate", "0"],
            ["--communities", "3", "--url", "mqtt://h", "--speed", "0"],
            ["--communities", "3", "--url", "mqtt://h", "--processes", "0"],
            ["--communities", "3", "--scale", "-0.5", "--write-grids", "g.toml"],
            ["--communities", "3", "--scale", "nan", "--write-grids", "g.toml"],
            ["--communities", "3", "--url", "mqtt://h", "--rate", "inf"],
            ["--communities", "1.5", "--write-grids", "g.toml"],
        ],
    )
    def test_refused(self, argv: list[str]) -> None:
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2

    @pytest.mark.parametrize(
        ("argv", "said"),
        [
            (["--communities", "0"], "--communities: must be at least 1"),
            (["--communities", "142"], "give 1 to 141"),
            (["--communities", "3", "--scale", "nan"], "--scale: must be a finite number"),
            (["--communities", "3", "--scale", "-1"], "--scale: must be above 0"),
        ],
    )
    def test_the_refusal_says_what_is_accepted_in_one_line(
        self, argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit):
            main(argv)
        last_line = capsys.readouterr().err.strip().splitlines()[-1]
        assert said in last_line
        assert len(last_line) < 120


class TestFiles:
    """The configuration and grid map the gateway loads, and master data files."""

    def test_config_and_grid_map(self, tmp_path: Path) -> None:
        config, grids = tmp_path / "district.toml", tmp_path / "grids.toml"
        argv = ["--communities", "5", "--scale", "0.02", "--write-config", str(config)]
        assert main([*argv, "--write-grids", str(grids)]) == 0
        district = District(5, 0.02)
        assert len(load_config(config).devices) == district.devices
        assert [c.code for c in GridMap.load(grids)] == list(district.communities)

    def test_master_data_files(self, tmp_path: Path) -> None:
        out = tmp_path / "md"
        argv = ["--communities", "3", "--scale", "0.02", "--export-masterdata", str(out)]
        assert main([*argv, "--format", "csv"]) == 0
        names = sorted(p.name for p in out.iterdir())
        assert len(names) == 12
        assert "yida-houses.csv" in names


class TestLoadMasterData:
    """`--load-masterdata` imports every community's datasets straight into the store."""

    def test_into_sqlite(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        monkeypatch.setenv("SCGW_ID_HASH_KEY", "a-test-hash-key-0123456789abcdef")
        database = tmp_path / "scgw.db"
        argv = ["--communities", "3", "--scale", "0.02", "--load-masterdata"]
        url = f"sqlite:///{database}"
        assert main([*argv, "--database-url", url], direct_import=direct_import) == 0
        district = District(3, 0.02)
        with sqlite3.connect(database) as db:
            houses = db.execute("SELECT count(*) FROM houses").fetchone()[0]
            people = db.execute("SELECT count(*) FROM persons").fetchone()[0]
        assert houses == district.houses
        assert people == sum(len(district.masterdata(c)["residents"]) for c in district.communities)
        captured = capsys.readouterr()
        assert "100%" in captured.err and "3 of 3 communities" in captured.err
        assert "0 rejected" in captured.out

    def test_needs_the_hash_key(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("SCGW_ID_HASH_KEY", raising=False)
        argv = ["--communities", "1", "--load-masterdata"]
        with pytest.raises(SystemExit) as exited:
            main([*argv, "--database-url", f"sqlite:///{tmp_path / 'x.db'}"], None, direct_import)
        assert exited.value.code == 2

    def test_needs_the_gateway_to_load_directly(self, tmp_path: Path) -> None:
        argv = ["--communities", "1", "--load-masterdata"]
        with pytest.raises(SystemExit) as exited:
            main([*argv, "--database-url", f"sqlite:///{tmp_path / 'x.db'}"])
        assert exited.value.code == 2


class TestPublish:
    """With `--url` it publishes rate x duration messages from the processes asked for."""

    async def test_two_processes(
        self, sim_broker: MosquittoService, capsys: pytest.CaptureFixture[str]
    ) -> None:
        argv = [
            *("--communities", "4", "--scale", "0.02", "--seed", "3"),
            *("--rate", "200", "--duration", "1.5", "--speed", "30", "--processes", "2"),
            *("--url", sim_broker.url),
        ]
        district = District(4, 0.02, seed=3)
        async with mosquitto_sub(sim_broker.port, "#", 300) as subscriber:
            status = await asyncio.to_thread(main, argv)
            received = await subscriber.collect()
        assert status == 0
        assert len(received) == 300
        assert {topic.split("/", 1)[0] for topic, _ in received} <= set(district.communities)
        assert "published 300 messages of 4 communities" in capsys.readouterr().out
