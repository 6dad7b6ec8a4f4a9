"""Specification of configuration (`gateway.config`): environment settings and the TOML file."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from adapters.mapping import MappingSpec
from adapters.registry import registry_with
from gateway.config import (
    MIN_SECRET_CHARS,
    CommunitySpec,
    GatewayConfig,
    Settings,
    TopicBinding,
    check_device_parents,
    load_config,
)
from gateway.errors import ConfigError
from schemas.devices import DeviceRegistration
from simulators.community import generate_community
from simulators.config_toml import community_config_toml
from testkit.harness import write_file

STRONG_ADMIN_KEY = "admin-key-0123456789abcdefghij"
STRONG_HASH_KEY = "hash-key-0123456789abcdefghijk"
STRONG_DEAD_LETTER_KEY = "Zq3vN8xW1rT6yL0pK4mB7cJ2hG5dF9sA"

VALID_TOML = """
[[communities]]
code = "yida"
name = "亿达小镇"

[[communities]]
code = "jiaxin"

[[devices]]
device_id = "43011200001320000001"
dialect = "hik-isapi"
community = "yida"
building = "B01"
unit = "U1"
door = "B01-U1 unit door"
readers = { "1" = "in", "2" = "out" }

[[devices]]
device_id = "43011200001320000002"
dialect = "hik-isapi"
community = "yida"

[[topics]]
filter = "hik/+/event"
dialect = "hik-isapi"
community = "jiaxin"
device_id_level = 2
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No SCGW_ variable of the machine running the tests leaks into these tests."""
    for name in list(os.environ):
        if name.upper().startswith("SCGW_"):
            monkeypatch.delenv(name)
    yield


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


class TestSettingsFromEnvironment:
    """Settings read `SCGW_`-prefixed environment variables and nothing else."""

    def test_defaults_are_the_embedded_demo(self) -> None:
        settings = Settings()
        assert settings.mqtt_url == "mqtt://127.0.0.1:1883"
        assert settings.database_url.startswith("sqlite:///")
        assert settings.admin_api_key is None
        assert settings.id_hash_key is None
        assert settings.unknown_device_policy == "accept"

    def test_prefixed_variables_are_read(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SCGW_MQTT_URL", "mqtts://broker.example:8883")
        monkeypatch.setenv("SCGW_DATABASE_URL", "postgresql://scgw@db/scgw")
        monkeypatch.setenv("SCGW_BATCH_MAX_ROWS", "500")
        monkeypatch.setenv("SCGW_UNKNOWN_DEVICE_POLICY", "quarantine")
        monkeypatch.setenv("SCGW_CONFIG", "/etc/scgw/gateway.toml")
        settings = Settings()
        assert settings.mqtt_url == "mqtts://broker.example:8883"
        assert settings.database_url == "postgresql://scgw@db/scgw"
        assert settings.batch_max_rows == 500
        assert settings.unknown_device_policy == "quarantine"
        assert settings.config == Path("/etc/scgw/gateway.toml")

    def test_lists_are_read_as_json(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SCGW_MQTT_TOPICS", '["vendor/#", "+/+/+"]')
        assert Settings().mqtt_topics == ["vendor/#", "+/+/+"]

    def test_secrets_are_read_and_hidden(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SCGW_ADMIN_API_KEY", STRONG_ADMIN_KEY)
        settings = Settings()
        assert settings.admin_api_key is not None
        assert settings.admin_api_key.get_secret_value() == STRONG_ADMIN_KEY
        assert STRONG_ADMIN_KEY not in repr(settings)

    def test_unprefixed_variables_are_ignored(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MQTT_URL", "mqtt://elsewhere:1883")
        monkeypatch.setenv("DATABASE_URL", "postgresql://elsewhere/db")
        settings = Settings()
        assert settings.mqtt_url == "mqtt://127.0.0.1:1883"
        assert settings.database_url.startswith("sqlite:///")

    def test_invalid_value_in_the_environment_is_refused(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("SCGW_BATCH_MAX_ROWS", "lots")
        with pytest.raises(ValidationError, match="batch_max_rows"):
            Settings()

    def test_settings_are_frozen(self) -> None:
        settings = Settings()
        with pytest.raises(ValidationError):
            settings.mqtt_url = "mqtt://other:1883"  # type: ignore[misc]


class TestSettingsValidators:
    """Invariants are checked when settings are read, not when a connection first fails."""

    @pytest.mark.parametrize(
        "url",
        ["mqtt://127.0.0.1:1883", "mqtts://broker.example:8883", "mqtt://user:pw@broker"],
    )
    def test_mqtt_urls_are_accepted(self, url: str) -> None:
        assert Settings(mqtt_url=url).mqtt_url == url

    @pytest.mark.parametrize(
        "url", ["http://broker:1883", "tcp://broker:1883", "broker:1883", "mqtt://", ""]
    )
    def test_other_mqtt_urls_are_refused(self, url: str) -> None:
        with pytest.raises(ValidationError, match="mqtt://"):
            Settings(mqtt_url=url)

    @pytest.mark.parametrize(
        "url",
        ["postgresql://scgw@db:5432/scgw", "postgres://scgw@db/scgw", "sqlite:///data/x.db"],
    )
    def test_supported_database_urls_are_accepted(self, url: str) -> None:
        assert Settings(database_url=url).database_url == url

    @pytest.mark.parametrize(
        "url", ["mysql://db/scgw", "sqlite://relative.db", "data/scgw.db", "postgresql:/db"]
    )
    def test_other_database_urls_are_refused(self, url: str) -> None:
        with pytest.raises(ValidationError, match="postgresql:// or sqlite:///"):
            Settings(database_url=url)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("api_port", 70_000),
            ("batch_max_rows", 0),
            ("database_pool_size", 0),
            ("max_payload_bytes", 100),
            ("mqtt_receive_maximum", 70_000),
            ("log_format", "xml"),
            ("unknown_device_policy", "drop"),
        ],
    )
    def test_out_of_range_values_are_refused(self, field: str, value: object) -> None:
        with pytest.raises(ValidationError, match=field):
            Settings.model_validate({field: value})

    def test_every_application_topic_is_subscribed_by_default(self) -> None:
        assert Settings().mqtt_topics == ["#"]

    @pytest.mark.parametrize(
        ("topics", "problem"),
        [
            (["#", "$SYS/#"], "statistics"),
            (["$share/g/#"], "SCGW_MQTT_SHARED_GROUP"),
            (["a/#/b"], "last"),
            ([], "at least 1"),
        ],
    )
    def test_unsubscribable_topics_are_refused(self, topics: list[str], problem: str) -> None:
        with pytest.raises(ValidationError, match="mqtt_topics") as info:
            Settings(mqtt_topics=topics)
        assert problem in str(info.value)


class TestRequireSecrets:
    """Production refuses to run without both secrets, each at least 24 characters long."""

    def test_strong_secrets_are_returned(self) -> None:
        settings = Settings.model_validate(
            {"admin_api_key": STRONG_ADMIN_KEY, "id_hash_key": STRONG_HASH_KEY}
        )
        assert settings.require_secrets() == (STRONG_ADMIN_KEY, STRONG_HASH_KEY)

    def test_secrets_of_exactly_the_minimum_length_are_accepted(self) -> None:
        key = "k" * MIN_SECRET_CHARS
        settings = Settings.model_validate({"admin_api_key": key, "id_hash_key": key})
        assert settings.require_secrets() == (key, key)

    def test_missing_secrets_are_refused_naming_each_variable(self) -> None:
        with pytest.raises(ConfigError) as info:
            Settings().require_secrets()
        assert "SCGW_ADMIN_API_KEY is not set" in str(info.value)
        assert "SCGW_ID_HASH_KEY is not set" in str(info.value)

    def test_missing_hash_key_alone_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SCGW_ADMIN_API_KEY", STRONG_ADMIN_KEY)
        with pytest.raises(ConfigError) as info:
            Settings().require_secrets()
        assert "SCGW_ID_HASH_KEY" in str(info.value)
        assert "SCGW_ADMIN_API_KEY" not in str(info.value)

    def test_short_secret_is_refused_without_echoing_it(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        short = "k" * (MIN_SECRET_CHARS - 1)
        monkeypatch.setenv("SCGW_ADMIN_API_KEY", STRONG_ADMIN_KEY)
        monkeypatch.setenv("SCGW_ID_HASH_KEY", short)
        with pytest.raises(ConfigError) as info:
            Settings().require_secrets()
        message = str(info.value)
        assert f"SCGW_ID_HASH_KEY must be at least {MIN_SECRET_CHARS} characters" in message
        assert short not in message


class TestRequireDeadLetterKey:
    """Raw dead-letter payloads are sealed under a strong key of their own, or not kept."""

    def test_raw_payloads_are_off_by_default(self) -> None:
        settings = Settings()
        assert (settings.dead_letter_raw, settings.dead_letter_raw_days) == ("off", 7)
        assert settings.require_dead_letter_key() is None

    def test_a_strong_key_is_returned(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SCGW_DEAD_LETTER_RAW", "encrypted")
        monkeypatch.setenv("SCGW_DEAD_LETTER_KEY", STRONG_DEAD_LETTER_KEY)
        monkeypatch.setenv("SCGW_DEAD_LETTER_RAW_DAYS", "3")
        settings = Settings()
        assert settings.require_dead_letter_key() == STRONG_DEAD_LETTER_KEY
        assert settings.dead_letter_raw_days == 3

    def test_encrypted_without_a_key_is_refused(self) -> None:
        with pytest.raises(ConfigError, match="needs SCGW_DEAD_LETTER_KEY"):
            Settings(dead_letter_raw="encrypted").require_dead_letter_key()

    @pytest.mark.parametrize(
        "key", [STRONG_DEAD_LETTER_KEY[:31], "ab" * 20, "0123456789a" * 4], ids=["short", "2", "11"]
    )
    def test_a_weak_key_is_refused_without_echoing_it(self, key: str) -> None:
        settings = Settings.model_validate({"dead_letter_raw": "encrypted", "dead_letter_key": key})
        with pytest.raises(ConfigError) as info:
            settings.require_dead_letter_key()
        assert "at least 32 characters with 12 distinct ones" in str(info.value)
        assert key not in str(info.value)

    def test_a_key_shared_with_another_secret_is_refused(self) -> None:
        settings = Settings.model_validate(
            {"dead_letter_key": STRONG_DEAD_LETTER_KEY, "id_hash_key": STRONG_DEAD_LETTER_KEY}
        )
        with pytest.raises(ConfigError, match="must differ"):
            settings.require_dead_letter_key()

    @pytest.mark.parametrize(
        ("field", "value"), [("dead_letter_raw", "plain"), ("dead_letter_raw_days", 0)]
    )
    def test_other_values_are_refused(self, field: str, value: object) -> None:
        with pytest.raises(ValidationError):
            Settings.model_validate({field: value})


STRONG_PLATFORM_SECRET = "Pk7sW2nQ9xV4bM1cR8tY3uZ6aE0fH5jL"


class TestRequirePlatformSecret:
    """Tickets go to the grid platform only with a strong secret of their own to sign with."""

    def test_no_platform_url_means_local_tickets(self) -> None:
        """Without SCGW_PLATFORM_URL nothing is required and nothing is forwarded."""
        assert Settings().require_platform_secret() is None

    def test_a_strong_secret_is_returned(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """URL and secret from the environment; a trailing slash of the URL is dropped."""
        monkeypatch.setenv("SCGW_PLATFORM_URL", "https://grid.example.gov.cn/scgw/")
        monkeypatch.setenv("SCGW_PLATFORM_SECRET", STRONG_PLATFORM_SECRET)
        settings = Settings()
        assert settings.require_platform_secret() == STRONG_PLATFORM_SECRET
        assert settings.platform_url == "https://grid.example.gov.cn/scgw"

    def test_a_url_without_a_secret_is_refused(self) -> None:
        """SCGW_PLATFORM_URL alone is a configuration error naming the missing secret."""
        settings = Settings(platform_url="http://127.0.0.1:9100")
        with pytest.raises(ConfigError, match="needs SCGW_PLATFORM_SECRET"):
            settings.require_platform_secret()

    @pytest.mark.parametrize("secret", [STRONG_PLATFORM_SECRET[:31], "ab" * 20], ids=["short", "2"])
    def test_a_weak_secret_is_refused_without_echoing_it(self, secret: str) -> None:
        """Short or repetitive secrets are refused; the message does not show them."""
        settings = Settings.model_validate(
            {"platform_url": "http://127.0.0.1:9100", "platform_secret": secret}
        )
        with pytest.raises(ConfigError) as info:
            settings.require_platform_secret()
        assert "SCGW_PLATFORM_SECRET must be at least 32 characters" in str(info.value)
        assert secret not in str(info.value)

    def test_a_secret_shared_with_another_key_is_refused(self) -> None:
        """The platform secret must not double as the admin key."""
        settings = Settings.model_validate(
            {
                "platform_url": "http://127.0.0.1:9100",
                "platform_secret": STRONG_PLATFORM_SECRET,
                "admin_api_key": STRONG_PLATFORM_SECRET,
            }
        )
        with pytest.raises(ConfigError, match="must differ"):
            settings.require_platform_secret()

    @pytest.mark.parametrize(
        "url", ["ftp://grid.example", "grid.example/scgw", "https://grid.example/x?a=1"]
    )
    def test_a_url_that_is_not_http_is_refused(self, url: str) -> None:
        """Only http(s) base URLs without a query string."""
        with pytest.raises(ValidationError, match="platform_url"):
            Settings(platform_url=url)

    def test_credentials_in_the_url_are_refused_without_echoing_them(self) -> None:
        """A user:password@ in the platform URL is refused with the reason, never the value."""
        with pytest.raises(ValidationError, match="must not carry credentials") as info:
            Settings(platform_url="https://vendor:S3cretPassw0rd@grid.example/scgw")
        assert "S3cretPassw0rd" not in str(info.value)

    def test_no_setting_error_echoes_its_value(self) -> None:
        """A bad MQTT URL (which may carry the broker's password) is refused without it."""
        with pytest.raises(ValidationError) as info:
            Settings(mqtt_url="tcp://user:BrokerPassw0rd@broker")
        assert "BrokerPassw0rd" not in str(info.value)


class TestLoadConfig:
    """A valid TOML file becomes a `GatewayConfig`; no file means an empty one."""

    def test_no_file_gives_an_empty_config(self) -> None:
        assert load_config(None) == GatewayConfig()

    def test_valid_file_is_read(self, tmp_path: Path) -> None:
        config = load_config(write_file(tmp_path / "gateway.toml", VALID_TOML))
        assert config.communities == [
            CommunitySpec(code="yida", name="亿达小镇"),
            CommunitySpec(code="jiaxin"),
        ]
        first, second = config.devices
        assert (first.building, first.unit, first.door) == ("B01", "U1", "B01-U1 unit door")
        assert first.readers == {1: "in", 2: "out"}
        assert second.building is None
        assert second.readers == {}
        assert config.topics == [
            TopicBinding(
                filter="hik/+/event", dialect="hik-isapi", community="jiaxin", device_id_level=2
            )
        ]

    def test_generated_community_config_is_read(self, tmp_path: Path) -> None:
        community = generate_community(seed=5, buildings=2, floors=2)
        path = write_file(tmp_path / "gateway.toml", community_config_toml(community))
        config = load_config(path)
        assert [c.code for c in config.communities] == [community.code]
        assert [d.device_id for d in config.devices] == [d.device_id for d in community.devices]
        doors = [d for d in config.devices if d.dialect == "hik-isapi"]
        assert doors and all(d.readers == {1: "in", 2: "out"} for d in doors)


class TestLoadConfigErrors:
    """Every problem with the file is one `ConfigError` naming the file (and the key)."""

    def test_missing_file_is_named(self, tmp_path: Path) -> None:
        path = tmp_path / "missing.toml"
        message = config_error(path)
        assert str(path) in message
        assert "cannot read config" in message

    def test_directory_instead_of_a_file_is_named(self, tmp_path: Path) -> None:
        assert str(tmp_path) in config_error(tmp_path)

    def test_bad_toml_syntax_is_named_with_the_file(self, tmp_path: Path) -> None:
        path = write_file(tmp_path / "gateway.toml", "[[communities]\ncode = 'yida'\n")
        assert str(path) in config_error(path)

    def test_unknown_key_is_named(self, tmp_path: Path) -> None:
        path = write_file(tmp_path / "gateway.toml", '[[communities]]\ncode = "yida"\ncolour = 1\n')
        message = config_error(path)
        assert str(path) in message
        assert "communities.0.colour" in message

    def test_unknown_top_level_table_is_named(self, tmp_path: Path) -> None:
        path = write_file(tmp_path / "gateway.toml", '[brokers]\nurl = "mqtt://x"\n')
        message = config_error(path)
        assert str(path) in message
        assert "brokers" in message

    def test_wrong_type_is_named(self, tmp_path: Path) -> None:
        text = '[[topics]]\nfilter = "a/#"\ndialect = "hik-isapi"\ncommunity = "yida"\n'
        path = write_file(tmp_path / "gateway.toml", text + 'device_id_level = "two"\n')
        message = config_error(path)
        assert str(path) in message
        assert "topics.0.device_id_level" in message

    def test_sys_binding_is_refused(self, tmp_path: Path) -> None:
        text = '[[topics]]\nfilter = "$SYS/#"\ndialect = "heartbeat"\ncommunity = "yida"\n'
        message = config_error(write_file(tmp_path / "gateway.toml", text))
        assert "topics.0.filter" in message and "$SYS" in message

    def test_invalid_reader_direction_is_named(self, tmp_path: Path) -> None:
        text = VALID_TOML.replace('"2" = "out"', '"2" = "sideways"')
        message = config_error(write_file(tmp_path / "gateway.toml", text))
        assert "devices.0.readers.2" in message

    def test_invalid_community_code_is_named(self, tmp_path: Path) -> None:
        path = write_file(tmp_path / "gateway.toml", '[[communities]]\ncode = "Yida Town"\n')
        assert "communities.0.code" in config_error(path)

    def test_missing_required_key_is_named(self, tmp_path: Path) -> None:
        path = write_file(tmp_path / "gateway.toml", '[[devices]]\ndevice_id = "d1"\n')
        message = config_error(path)
        assert "devices.0.dialect" in message
        assert "devices.0.community" in message

    def test_file_not_in_utf8_is_named(self, tmp_path: Path) -> None:
        # An editor saving the community's Chinese name in GBK must not crash start-up with
        # a bare UnicodeDecodeError traceback.
        path = tmp_path / "gateway.toml"
        path.write_bytes('[[communities]]\ncode = "yida"\nname = "亿达小镇"\n'.encode("gbk"))
        assert str(path) in config_error(path)


def line_of(text: str, needle: str, after: int = 0) -> int:
    """The 1-based line of the first `needle` at or after line `after`."""
    lines = text.splitlines()
    return next(n for n, line in enumerate(lines, 1) if n >= after and needle in line)


class TestDeviceDialectsAndKinds:
    """A device's dialect must exist here and admit its kind; errors name file, line and key."""

    def write(self, tmp_path: Path, text: str) -> Path:
        return write_file(tmp_path / "gateway.toml", text)

    def test_an_unknown_dialect_is_named_with_its_line(self, tmp_path: Path) -> None:
        text = VALID_TOML.replace(
            'dialect = "hik-isapi"\ncommunity = "yida"\n\n',
            'dialect = "zkteco"\ncommunity = "yida"\n\n',
            1,
        )
        path = self.write(tmp_path, text)
        second = line_of(text, "[[devices]]", line_of(text, "[[devices]]") + 1)
        expected = f"{path}:{line_of(text, 'zkteco', second)}: devices.1.dialect: is not a dialect"
        assert expected in config_error(path)

    def test_a_kind_outside_the_dialects_row_is_named_with_its_line(self, tmp_path: Path) -> None:
        text = VALID_TOML.replace('unit = "U1"\n', 'unit = "U1"\nkind = "barrier_gate"\n', 1)
        path = self.write(tmp_path, text)
        message = config_error(path)
        line = line_of(text, "barrier_gate")
        assert f"{path}:{line}: devices.0.kind: is not a kind this dialect serves" in message
        assert "door_controller, face_terminal" in message

    def test_the_status_dialect_is_no_devices_own(self, tmp_path: Path) -> None:
        text = VALID_TOML.replace('dialect = "hik-isapi"', 'dialect = "heartbeat"', 1)
        assert "devices.0.dialect: is no device's own dialect" in config_error(
            self.write(tmp_path, text)
        )

    def test_a_parent_in_another_community_of_the_file_is_refused(self, tmp_path: Path) -> None:
        text = VALID_TOML.replace(
            'device_id = "43011200001320000002"\ndialect = "hik-isapi"\ncommunity = "yida"\n',
            'device_id = "43011200001320000002"\ndialect = "hik-isapi"\ncommunity = "jiaxin"\n'
            'parent = "43011200001320000001"\n',
        )
        path = self.write(tmp_path, text)
        message = config_error(path)
        assert (
            f"{path}:{line_of(text, 'parent')}: devices.1.parent: is registered in another"
            in message
        )

    def test_a_device_is_not_its_own_parent(self, tmp_path: Path) -> None:
        text = VALID_TOML.replace(
            'unit = "U1"\n', 'unit = "U1"\nparent = "43011200001320000001"\n', 1
        )
        assert "devices.0.parent: a device is not its own parent" in config_error(
            self.write(tmp_path, text)
        )

    def test_a_parent_not_in_the_file_is_accepted(self, tmp_path: Path) -> None:
        text = VALID_TOML.replace('unit = "U1"\n', 'unit = "U1"\nparent = "ac-yida-01"\n', 1)
        assert load_config(self.write(tmp_path, text)).devices[0].parent == "ac-yida-01"

    def test_a_binding_names_its_sender_or_a_device_level_not_both(self, tmp_path: Path) -> None:
        text = VALID_TOML.replace("device_id_level = 2\n", 'device_id_level = 2\nsender = "p-1"\n')
        assert "topics.0.sender: set device_id_level or sender" in config_error(
            self.write(tmp_path, text)
        )

    def test_a_binding_sender_is_a_device_id(self, tmp_path: Path) -> None:
        text = VALID_TOML.replace("device_id_level = 2\n", 'sender = "13812345678"\n')
        error = config_error(self.write(tmp_path, text))
        assert "topics.0.sender: device id holds an ID or mobile number" in error
        assert "13812345678" not in error

    def test_the_dialects_a_device_may_name_are_those_the_gateway_has_adapters_for(self) -> None:
        config = GatewayConfig(dialects=[mapping_dialect("acme-door", "access")])
        assert config.dialect_kinds().dialects == registry_with(config.dialects).dialects


def mapping_dialect(name: str, *kinds: str, device_id_path: str | None = None) -> MappingSpec:
    """A configured dialect making events of `kinds`, reading the device from the payload when
    `device_id_path` is given."""
    shared: dict[str, object] = {"occurred_at": {"path": "t", "format": "epoch_ms"}}
    if device_id_path is not None:
        shared["device_id"] = {"path": device_id_path}
    fields_by_kind: dict[str, dict[str, object]] = {
        "access": {
            "method": {"const": "card"},
            "result": {"const": "granted"},
            "direction": {"const": "in"},
            "vendor_code": {"const": "acme"},
        },
        "behaviour_alarm": {"alarm_type": {"const": "loitering"}},
    }
    events = [{"kind": kind, "when": {"k": kind}, "fields": fields_by_kind[kind]} for kind in kinds]
    return MappingSpec.model_validate({"name": name, "fields": shared, "events": events})


class TestMappingDialectKinds:
    """A configured dialect serves the kinds of device that make the events it declares."""

    def device(self, dialect: str, kind: str) -> dict[str, str]:
        return {"device_id": "acme-1", "dialect": dialect, "kind": kind, "community": "yida"}

    def config(self, spec: MappingSpec, kind: str) -> GatewayConfig:
        return GatewayConfig.model_validate(
            {
                "dialects": [spec.model_dump(exclude_unset=True)],
                "devices": [self.device(spec.name, kind)],
            }
        )

    @pytest.mark.parametrize("kind", ["door_controller", "face_terminal", "camera"])
    def test_the_kinds_of_its_events_are_accepted(self, kind: str) -> None:
        spec = mapping_dialect("acme", "access", "behaviour_alarm")
        assert self.config(spec, kind).devices[0].kind == kind

    @pytest.mark.parametrize("kind", ["barrier_gate", "visitor_kiosk", "platform"])
    def test_other_kinds_are_refused(self, kind: str) -> None:
        with pytest.raises(ValidationError, match="is not a kind this dialect serves"):
            self.config(mapping_dialect("acme", "access", "behaviour_alarm"), kind)

    def test_a_platform_fits_a_dialect_that_reads_the_device_from_the_payload(self) -> None:
        spec = mapping_dialect("acme", "access", device_id_path="door.id")
        assert self.config(spec, "platform").devices[0].kind == "platform"


def devices_toml(*devices: dict[str, str]) -> str:
    """`[[devices]]` tables of access-cloud devices in community `yida`, fields overridden."""
    tables = []
    for device in devices:
        fields = {"dialect": "access-cloud", "community": "yida", **device}
        tables.append("[[devices]]\n" + "".join(f'{k} = "{v}"\n' for k, v in fields.items()))
    return "\n".join(tables)


T10 = {"device_id": "T10", "kind": "platform"}
"""An access-cloud account: a platform that relays its doors."""


def stored(device_id: str, **fields: object) -> DeviceRegistration:
    """A device registered in the store (through the API) before the file is loaded."""
    registration = {"device_id": device_id, "dialect": "access-cloud", "community": "yida"}
    return DeviceRegistration.model_validate({**registration, **fields})


class TestDeviceParents:
    """A parent is registered in the community, relays, and has no parent of its own; the file
    is checked on load, and against the store at start-up, naming `file:line: key`."""

    def write(self, tmp_path: Path, text: str) -> Path:
        return write_file(tmp_path / "scgw.toml", text)

    def refusal(self, path: Path, stored_devices: list[DeviceRegistration]) -> str:
        with pytest.raises(ConfigError) as info:
            check_device_parents(load_config(path), stored_devices, path)
        return str(info.value)

    def test_a_platform_with_children_one_level_deep_loads(self, tmp_path: Path) -> None:
        text = devices_toml(
            T10,
            {"device_id": "T11", "kind": "platform", "parent": "T10"},
            {"device_id": "D1", "parent": "T10"},
        )
        path = self.write(tmp_path, text)
        config = load_config(path)
        check_device_parents(config, [], path)
        assert [device.parent for device in config.devices] == [None, "T10", "T10"]

    def test_a_cycle_is_refused(self, tmp_path: Path) -> None:
        text = devices_toml(
            {**T10, "parent": "T11"}, {"device_id": "T11", "kind": "platform", "parent": "T10"}
        )
        path = self.write(tmp_path, text)
        expected = f"{path}:{line_of(text, 'T11')}: devices.0.parent: has a parent of its own"
        assert expected in config_error(path)

    def test_a_parent_with_a_parent_is_refused(self, tmp_path: Path) -> None:
        text = devices_toml(
            T10,
            {"device_id": "T11", "kind": "platform", "parent": "T10"},
            {"device_id": "D1", "parent": "T11"},
        )
        path = self.write(tmp_path, text)
        line = line_of(text, 'parent = "T11"')
        assert f"{path}:{line}: devices.2.parent: has a parent of its own" in config_error(path)

    def test_a_parent_that_relays_nothing_is_refused(self, tmp_path: Path) -> None:
        text = devices_toml({"device_id": "D0"}, {"device_id": "D1", "parent": "D0"})
        path = self.write(tmp_path, text)
        message = config_error(path)
        assert f"{path}:{line_of(text, 'parent')}: devices.1.parent: relays no other" in message
        assert "a parent is a platform" in message

    def test_a_parent_neither_in_the_file_nor_in_the_store_is_refused(self, tmp_path: Path) -> None:
        text = devices_toml(T10, {"device_id": "D1", "parent": "NOPE"})
        path = self.write(tmp_path, text)
        load_config(path)  # the store may have it: checked once the store is open
        message = self.refusal(path, [stored("OTHER", kind="platform")])
        assert (
            message
            == f"{path}:{line_of(text, 'NOPE')}: devices.1.parent: is not a registered device"
        )
        assert "NOPE" not in message.split(": ", 1)[1]

    def test_a_parent_in_the_store_is_accepted_and_judged(self, tmp_path: Path) -> None:
        path = self.write(tmp_path, devices_toml({"device_id": "D1", "parent": "S1"}))
        check_device_parents(load_config(path), [stored("S1", kind="platform")], path)
        elsewhere = stored("S1", kind="platform", community="jiaxin")
        assert "devices.0.parent: is registered in another" in self.refusal(path, [elsewhere])
        assert "devices.0.parent: relays no other" in self.refusal(path, [stored("S1")])

    def test_a_file_parent_keeps_what_its_stored_children_need(self, tmp_path: Path) -> None:
        children = [stored("C1", parent="T10")]
        door = self.write(tmp_path, devices_toml({"device_id": "T10"}))
        assert "devices.0.kind: must be platform" in self.refusal(door, children)
        moved = self.write(tmp_path, devices_toml({**T10, "community": "jiaxin"}))
        assert "devices.0.community: must stay" in self.refusal(moved, children)
