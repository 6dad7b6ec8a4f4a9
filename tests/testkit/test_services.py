"""The service launcher refuses a Mosquitto older than 2.0.13, before any test relies on it."""

from pathlib import Path

import pytest

from testkit.services import MOSQUITTO_BIN, mosquitto_version, require_mosquitto


def fake_mosquitto(directory: Path, usage: str) -> Path:
    """An executable that prints `usage` for `-h` and exits 3, as mosquitto does."""
    path = directory / "mosquitto"
    path.write_text(f"#!/bin/sh\nprintf '%s\\n' '{usage}'\nexit 3\n")
    path.chmod(0o755)
    return path


class TestRequireMosquitto:
    """Only a Mosquitto at least 2.0.13 passes; anything else is a RuntimeError saying why."""

    def test_the_installed_broker_passes(self) -> None:
        """The broker the install script built is recent enough."""
        require_mosquitto(MOSQUITTO_BIN)
        version = mosquitto_version(MOSQUITTO_BIN)
        assert version is not None and version >= (2, 0, 13)

    def test_debian_12s_mosquitto_is_refused_with_the_reason(self, tmp_path: Path) -> None:
        """2.0.11 is refused, naming its version, the minimum and the install script."""
        old = fake_mosquitto(tmp_path, "mosquitto version 2.0.11")
        with pytest.raises(RuntimeError, match=r"mosquitto 2\.0\.11; the tests need 2\.0\.13"):
            require_mosquitto(old)

    @pytest.mark.parametrize("version", ["2.0.13", "2.0.21", "2.1.0", "3.0"])
    def test_a_recent_enough_version_passes(self, tmp_path: Path, version: str) -> None:
        """2.0.13 and anything later passes."""
        require_mosquitto(fake_mosquitto(tmp_path, f"mosquitto version {version}"))

    def test_a_binary_that_does_not_say_its_version_is_refused(self, tmp_path: Path) -> None:
        """A program that is not mosquitto fails with a clear message."""
        with pytest.raises(RuntimeError, match="does not say which mosquitto"):
            require_mosquitto(fake_mosquitto(tmp_path, "usage: something else"))

    def test_a_missing_binary_is_refused(self, tmp_path: Path) -> None:
        """No binary at the path: the error says to run the install script."""
        with pytest.raises(RuntimeError, match=r"install-test-services\.sh"):
            require_mosquitto(tmp_path / "mosquitto")
