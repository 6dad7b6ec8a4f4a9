"""`scgw` on the command line: help that teaches, clear refusals, migrations on demand."""

import subprocess
import sys
from pathlib import Path


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
        for option in ("--api-port", "--mqtt-port", "--data-dir", "--rate"):
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

    def test_invalid_setting_is_reported_not_raised(self) -> None:
        result = scgw("run", "--mqtt-url", "http://nope", env={"PATH": "/usr/bin:/bin"})
        assert result.returncode == 2
        assert "mqtt_url" in result.stderr and "Traceback" not in result.stderr


class TestMigrate:
    """`scgw migrate` applies pending migrations once, then reports the schema up to date."""

    def test_applies_then_reports_up_to_date(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'scgw.db'}"
        first = scgw("migrate", "--database-url", url)
        second = scgw("migrate", "--database-url", url)
        assert first.returncode == 0 and "applied: 0001_events" in first.stdout
        assert second.returncode == 0 and "schema is up to date" in second.stdout
