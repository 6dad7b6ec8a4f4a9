"""`scgw` on the command line: help that teaches, clear refusals, migrations on demand."""

import socket
import subprocess
import sys
from pathlib import Path

from gateway.responsibility import PILOT_RESPONSIBILITY


def scgw(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


class TestHelp:
    """Every subcommand explains itself."""

    def test_top_level_help_lists_the_subcommands_and_examples(self) -> None:
        result = scgw("--help")
        assert result.returncode == 0
        for word in ("run", "demo", "migrate", "simulate", "SCGW_MQTT_URL", "examples"):
            assert word in result.stdout

    def test_demo_help_names_its_options(self) -> None:
        result = scgw("demo", "--help")
        assert result.returncode == 0
        for option in ("--api-port", "--mqtt-port", "--mqtt-host", "--data-dir", "--rate"):
            assert option in result.stdout

    def test_simulate_help_comes_from_the_simulator(self) -> None:
        result = scgw("simulate", "--help")
        assert result.returncode == 0
        assert "yida" in result.stdout


class TestRunRefusesWeakSecrets:
    """Production never starts with missing or short secrets, and says which one."""

    def test_missing_secrets_are_named(self, tmp_path: Path) -> None:
        env = {"PATH": "/usr/bin:/bin", "SCGW_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
        result = scgw("run", env=env)
        assert result.returncode == 2
        assert "SCGW_ADMIN_API_KEY is not set" in result.stderr
        assert "SCGW_ID_HASH_KEY is not set" in result.stderr

    def test_raw_dead_letters_without_a_key_are_refused(self, tmp_path: Path) -> None:
        env = {
            "PATH": "/usr/bin:/bin",
            "SCGW_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            "SCGW_ADMIN_API_KEY": "admin-key-0123456789abcdefghij",
            "SCGW_ID_HASH_KEY": "hash-key-0123456789abcdefghijk",
            "SCGW_DEAD_LETTER_RAW": "encrypted",
        }
        result = scgw("run", env=env)
        assert result.returncode == 2
        assert "SCGW_DEAD_LETTER_RAW=encrypted needs SCGW_DEAD_LETTER_KEY" in result.stderr
        assert not (tmp_path / "x.db").exists()  # refused before anything opened

    def test_invalid_setting_is_reported_not_raised(self) -> None:
        result = scgw("run", "--mqtt-url", "http://nope", env={"PATH": "/usr/bin:/bin"})
        assert result.returncode == 2
        assert "mqtt_url" in result.stderr and "Traceback" not in result.stderr


def run_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """`scgw run`'s environment with strong secrets, a database in `tmp_path`, and `settings`."""
    return {
        "PATH": "/usr/bin:/bin",
        "SCGW_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "SCGW_ADMIN_API_KEY": "admin-key-0123456789abcdefghij",
        "SCGW_ID_HASH_KEY": "hash-key-0123456789abcdefghijk",
        **settings,
    }


class TestRunRefusesBadRules:
    """A rule threshold the catalogue does not know, or a rule whose category the responsibility
    list lacks, stops `scgw run` before anything opens, saying where."""

    def test_an_unknown_threshold_is_named(self, tmp_path: Path) -> None:
        config = tmp_path / "gateway.toml"
        config.write_text('[rules."safety.door_held_open"]\nseconds = 30\n', encoding="utf-8")
        result = scgw("run", env=run_env(tmp_path, SCGW_CONFIG=str(config)))
        assert result.returncode == 2
        assert f"{config}:2: rules.safety.door_held_open.seconds:" in result.stderr
        assert not (tmp_path / "x.db").exists()  # refused before anything opened

    def test_a_rule_without_a_category_is_named(self, tmp_path: Path) -> None:
        """A responsibility list lacking a rule's category stops the start, naming both."""
        pilot = PILOT_RESPONSIBILITY.read_text(encoding="utf-8")
        blocks = pilot.split("[[categories]]")
        kept = [block for block in blocks if 'code = "safety"' not in block]
        responsibility = tmp_path / "responsibility.toml"
        responsibility.write_text("[[categories]]".join(kept), encoding="utf-8")
        result = scgw("run", env=run_env(tmp_path, SCGW_RESPONSIBILITY=str(responsibility)))
        assert result.returncode == 2
        assert f"{responsibility}: no category for rules" in result.stderr
        assert "safety.door_forced → safety" in result.stderr
        assert not (tmp_path / "x.db").exists()


class TestMigrate:
    """`scgw migrate` applies pending migrations once, then reports the schema up to date."""

    def test_applies_then_reports_up_to_date(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'scgw.db'}"
        first = scgw("migrate", "--database-url", url)
        second = scgw("migrate", "--database-url", url)
        assert first.returncode == 0 and "applied: 0001_events" in first.stdout
        assert second.returncode == 0 and "schema is up to date" in second.stdout


def taken_port() -> tuple[socket.socket, int]:
    """A port some other program listens on, for as long as the socket stays open."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    return holder, holder.getsockname()[1]


class TestApiPortInUse:
    """A taken API port is one sentence naming it and the option, for `run` and `demo`."""

    def test_run_names_the_port_and_the_option(self, tmp_path: Path) -> None:
        holder, port = taken_port()
        with holder:
            env = {
                "PATH": "/usr/bin:/bin",
                "SCGW_ADMIN_API_KEY": "a" * 32,
                "SCGW_ID_HASH_KEY": "b" * 32,
                "SCGW_DATABASE_URL": f"sqlite:///{tmp_path / 'scgw.db'}",
            }
            result = scgw("run", "--api-port", str(port), env=env)
        assert result.returncode == 1
        assert f"the API cannot listen on 127.0.0.1:{port}" in result.stderr
        assert "--api-port" in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "scgw.db").exists()  # refused before anything started

    def test_demo_names_the_port_and_the_option(self, tmp_path: Path) -> None:
        holder, port = taken_port()
        with holder, socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            mqtt_port = probe.getsockname()[1]
            probe.close()
            result = scgw(
                "demo",
                "--api-port",
                str(port),
                "--mqtt-port",
                str(mqtt_port),
                "--data-dir",
                str(tmp_path),
                "--no-simulator",
                env={"PATH": "/usr/bin:/bin"},
            )
        assert result.returncode == 1
        assert f"the API cannot listen on 127.0.0.1:{port}" in result.stderr
        assert "--api-port" in result.stderr and "Traceback" not in result.stderr


class TestMigrateUnreachable:
    """`scgw migrate` gives up on a database it cannot reach within seconds, naming it."""

    def test_refused_connection_names_the_address_not_the_password(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        url = f"postgresql://scgw:hunter2-secret@127.0.0.1:{port}/scgw"
        result = scgw("migrate", "--database-url", url)
        assert result.returncode == 1
        assert f"cannot reach the database at scgw@127.0.0.1:{port}/scgw" in result.stderr
        assert "hunter2-secret" not in result.stderr + result.stdout

    def test_a_silent_server_is_given_up_on(self) -> None:
        """The server accepts the connection and never answers; the subprocess bound of 60 s
        is far above the 5 s the command allows itself."""
        holder, port = taken_port()
        with holder:
            url = f"postgresql://scgw:hunter2-secret@127.0.0.1:{port}/scgw"
            result = scgw("migrate", "--database-url", url)
        assert result.returncode == 1
        assert f"scgw@127.0.0.1:{port}/scgw: no answer within 5s" in result.stderr
        assert "hunter2-secret" not in result.stderr
