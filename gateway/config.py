"""Settings (environment, `SCGW_` prefix) and the structured TOML configuration.

`Settings` is read once at start-up and handed down; nothing reads the environment later.
Scalars live in the environment (12-factor); lists of communities, devices and topic bindings
live in the TOML file named by `SCGW_CONFIG` / `--config`, because they are structured data an
operator edits and reviews.
"""

import tomllib
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.errors import ConfigError
from schemas.devices import DeviceRegistration

MIN_SECRET_CHARS = 24


class Settings(BaseSettings):
    """Every scalar setting of the gateway; see the README's configuration reference."""

    model_config = SettingsConfigDict(env_prefix="SCGW_", extra="ignore", frozen=True)

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_client_id: str = "scgw-1"
    mqtt_protocol: Literal["3.1.1", "5"] = "5"
    mqtt_shared_group: str | None = None
    mqtt_session_expiry_s: int = Field(default=7 * 24 * 3600, ge=0)
    mqtt_receive_maximum: int = Field(default=2000, ge=1, le=65535)
    mqtt_topics: list[str] = Field(default_factory=lambda: ["+/+/+"])
    database_url: str = "sqlite:///data/scgw.db"
    database_pool_size: int = Field(default=4, ge=1, le=64)
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=0, le=65535)
    admin_api_key: SecretStr | None = None
    id_hash_key: SecretStr | None = None
    config: Path | None = None
    max_payload_bytes: int = Field(default=256 * 1024, ge=256)
    batch_max_rows: int = Field(default=1000, ge=1, le=100_000)
    batch_max_delay_ms: int = Field(default=50, ge=1, le=60_000)
    unknown_device_policy: Literal["accept", "quarantine"] = "accept"
    device_check_interval_s: float = Field(default=30.0, gt=0, le=3600)
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url_is_mqtt(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("must look like mqtt://[user:pass@]host[:port]")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_is_supported(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://", "sqlite:///")):
            raise ValueError("must start with postgresql:// or sqlite:///")
        return value

    def require_secrets(self) -> tuple[str, str]:
        """The admin key and ID hash key, refusing to run without strong ones.

        Production must never fall back to a default secret: a guessable hash key would let
        anyone holding the database re-identify card and ID numbers.
        """
        problems = []
        for name, secret in (
            ("admin_api_key", self.admin_api_key),
            ("id_hash_key", self.id_hash_key),
        ):
            if secret is None:
                problems.append(f"SCGW_{name.upper()} is not set")
            elif len(secret.get_secret_value()) < MIN_SECRET_CHARS:
                problems.append(
                    f"SCGW_{name.upper()} must be at least {MIN_SECRET_CHARS} characters"
                )
        if problems:
            raise ConfigError("; ".join(problems))
        assert self.admin_api_key is not None and self.id_hash_key is not None
        return self.admin_api_key.get_secret_value(), self.id_hash_key.get_secret_value()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommunitySpec(_Strict):
    """A community the gateway serves; its code is the first topic level by default."""

    code: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
    name: str = ""


class DeviceSpec(DeviceRegistration):
    """A registered device as the TOML file declares it (see `schemas.devices`)."""


class TopicBinding(_Strict):
    """Binds a vendor's own topic filter to a dialect and community.

    `device_id_level` is the 1-based topic level that holds the device code, if any.
    """

    filter: Annotated[str, Field(min_length=1)]
    dialect: str
    community: str
    device_id_level: int | None = Field(default=None, ge=1)


class GatewayConfig(_Strict):
    """The structured configuration from the TOML file."""

    communities: list[CommunitySpec] = Field(default_factory=list)
    devices: list[DeviceSpec] = Field(default_factory=list)
    topics: list[TopicBinding] = Field(default_factory=list)


def load_config(path: Path | None) -> GatewayConfig:
    """Read and validate the TOML file; errors name the file and the offending key."""
    if path is None:
        return GatewayConfig()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text (save it as UTF-8)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        return GatewayConfig.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise ConfigError(f"{path}: {problems}") from None
