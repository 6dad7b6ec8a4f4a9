"""The demo's secrets and banner: broker passwords made once per data folder and shown."""

import json
import stat
from pathlib import Path

from gateway.broker import EmbeddedBroker
from gateway.demo import DemoOptions, demo_banner, demo_broker_accounts, demo_secrets


def options(data_dir: Path) -> DemoOptions:
    return DemoOptions(18080, 11883, data_dir, 5.0, simulator=False)


class TestDemoBrokerAccounts:
    """The broker's accounts are generated once per data folder and kept with the keys."""

    def test_accounts_are_generated_once_and_kept_private(self, tmp_path: Path) -> None:
        """A second start gets the same passwords; secrets.json is readable by its owner only."""
        first = demo_broker_accounts(tmp_path, ["yida", "jiaxin"])
        again = demo_broker_accounts(tmp_path, ["yida", "jiaxin"])
        assert again == first
        assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600

    def test_every_community_gets_its_own_account(self, tmp_path: Path) -> None:
        """The gateway and each community have distinct user names and passwords."""
        accounts = demo_broker_accounts(tmp_path, ["yida", "jiaxin"])
        users = [accounts.gateway, *accounts.communities.values()]
        assert sorted(accounts.communities) == ["jiaxin", "yida"]
        assert accounts.communities["yida"].username == "yida-devices"
        assert len({u.username for u in users}) == len({u.password for u in users}) == 3
        assert all(len(u.password) >= 32 for u in users)

    def test_an_older_data_folder_keeps_its_keys_and_gains_passwords(self, tmp_path: Path) -> None:
        """A secrets.json from before the broker had accounts keeps its API and hash keys."""
        path = tmp_path / "secrets.json"
        path.write_text(json.dumps({"admin_api_key": "old-admin", "id_hash_key": "old-hash"}))
        path.chmod(0o600)
        accounts = demo_broker_accounts(tmp_path, ["yida"])
        keys = demo_secrets(tmp_path)
        assert (keys.admin_api_key, keys.id_hash_key) == ("old-admin", "old-hash")
        stored = json.loads(path.read_text())
        assert stored["mqtt_passwords"]["yida-devices"] == accounts.communities["yida"].password
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_a_new_community_adds_an_account_and_keeps_the_others(self, tmp_path: Path) -> None:
        """Adding a community to the configuration leaves existing passwords unchanged."""
        before = demo_broker_accounts(tmp_path, ["yida"])
        after = demo_broker_accounts(tmp_path, ["yida", "jiaxin"])
        assert after.gateway == before.gateway
        assert after.communities["yida"] == before.communities["yida"]
        assert "jiaxin" in after.communities


class TestDemoBanner:
    """The banner shows the API key and the broker logins, with a publish that works."""

    def test_banner_shows_every_login_and_a_logged_in_publish(self, tmp_path: Path) -> None:
        """Each account's user and password appear; the mosquitto_pub hint logs in as a device."""
        accounts = demo_broker_accounts(tmp_path, ["yida"])
        keys = demo_secrets(tmp_path)
        broker = EmbeddedBroker("127.0.0.1", 11883)
        banner = demo_banner(options(tmp_path), keys, broker, accounts)
        yida = accounts.communities["yida"]
        assert keys.admin_api_key in banner
        assert accounts.gateway.username in banner and accounts.gateway.password in banner
        assert f"mosquitto_pub -p 11883 -u {yida.username} -P '{yida.password}' -t yida/" in banner
        assert "mqtt://127.0.0.1:11883" in banner
