"""Settings (environment, `SCGW_` prefix) and the structured TOML configuration.

`Settings` is read once at start-up and handed down; nothing reads the environment later.
Scalars live in the environment (12-factor); lists of communities, devices and topic bindings
live in the TOML file named by `SCGW_CONFIG` / `--config`, because they are structured data an
operator edits and reviews.
"""

import bisect
import contextlib
import re
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.mapping import MappingSpec, SpecError
from adapters.registry import BUILTIN_ADAPTERS
from gateway.errors import ConfigError
from gateway.topics import filter_problem
from schemas.devices import (
    DEVICE_KINDS_BY_DIALECT,
    CommunityCode,
    DeviceRegistration,
    DialectKinds,
    ParentRule,
    mapping_dialect_kinds,
)
from schemas.identifiers import DeviceId

M = TypeVar("M", bound=BaseModel)
MIN_SECRET_CHARS = 24
MIN_DEAD_LETTER_KEY_CHARS = 32
MIN_DEAD_LETTER_KEY_DISTINCT = 12


class Settings(BaseSettings):
    """Every scalar setting of the gateway; see the README's configuration reference."""

    model_config = SettingsConfigDict(
        env_prefix="SCGW_", extra="ignore", frozen=True, hide_input_in_errors=True
    )
    """Errors never echo a setting's value: URLs may carry passwords, secrets are secrets."""

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_client_id: str = "scgw-1"
    mqtt_protocol: Literal["3.1.1", "5"] = "5"
    mqtt_shared_group: str | None = None
    mqtt_session_expiry_s: int = Field(default=7 * 24 * 3600, ge=0)
    mqtt_receive_maximum: int = Field(default=2000, ge=1, le=65535)
    mqtt_topics: list[str] = Field(default_factory=lambda: ["#"], min_length=1)
    database_url: str = "sqlite:///data/scgw.db"
    database_pool_size: int = Field(default=4, ge=1, le=64)
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=0, le=65535)
    api_max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=64 * 1024 * 1024)
    api_forwarded_allow_ips: str = ""
    """Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (uvicorn's
    `forwarded_allow_ips`, comma-separated addresses or networks; `*` for any). Empty: none,
    so a client cannot choose the address the failed-authentication limit and logs see."""
    admin_api_key: SecretStr | None = None
    id_hash_key: SecretStr | None = None
    config: Path | None = None
    max_payload_bytes: int = Field(default=256 * 1024, ge=256)
    batch_max_rows: int = Field(default=1000, ge=1, le=100_000)
    batch_max_delay_ms: int = Field(default=50, ge=1, le=60_000)
    unknown_device_policy: Literal["accept", "quarantine"] = "accept"
    device_check_interval_s: float = Field(default=30.0, gt=0, le=3600)
    event_max_ahead_s: int = Field(default=600, ge=0, le=7 * 24 * 3600)
    """How far an event's time may lie ahead of its message's arrival (see `PlausibleTime`)."""
    event_max_age_days: float = Field(default=180.0, gt=0, le=100 * 366)
    """How far an event's time may lie behind its message's arrival."""
    clock_skew_report_s: float = Field(default=30.0, ge=0)
    """Devices whose clock is off by at least this much get a series in `/metrics`."""
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    dead_letter_raw: Literal["off", "encrypted"] = "off"
    """`encrypted` keeps each dead letter's raw payload, sealed (see `gateway.raw_payloads`)."""
    dead_letter_key: SecretStr | None = None
    dead_letter_raw_days: int = Field(default=7, ge=1, le=365)
    grids: Path | None = None
    """The grid map (`config/grids.toml` format); None: the pilot map shipped with the gateway."""
    import_max_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)
    """The largest property master-data file one `PUT /v1/property/...` accepts (streamed)."""
    observed_window_days: int = Field(default=14, ge=1, le=366)
    """How far back "observed occupants" look (houses, community summaries)."""
    event_retention_days: int = Field(default=180, ge=1, le=100 * 366)
    """Events, presence and derived records older than this are removed (PIPL retention)."""
    audit_retention_days: int = Field(default=365, ge=180, le=100 * 366)
    """The audit log is kept at least 180 days."""
    housekeeping_interval_s: float = Field(default=600.0, gt=0, le=24 * 3600)
    """How often residencies are inferred, visitors expired and retention enforced."""
    resolution: bool = True
    """Off (`SCGW_RESOLUTION=off`) only for the ingest benchmark's baseline: no subject keys,
    no presence, sightings or visitor records on write."""
    rules: bool = True
    """Off (`SCGW_RULES=off`) only for the benchmark's baseline: no rule runs, no ticket opens."""
    rules_lateness_s: int = Field(default=600, ge=0, le=7 * 24 * 3600)
    """How late an event may arrive and still count for a deadline: a community's watermark
    is its newest event time minus this."""
    rules_interval_s: float = Field(default=30.0, gt=0, le=3600)
    """How often the watermark rules of each community this process leads are evaluated."""
    responsibility: Path | None = None
    """The responsibility list (`config/responsibility.toml` format); None: the pilot's list."""
    platform_url: str | None = None
    """The grid platform's base URL (`POST {base}/tickets`); None: tickets stay local."""
    platform_secret: SecretStr | None = None
    """The HMAC-SHA256 secret shared with the platform; required with `SCGW_PLATFORM_URL`."""
    platform_max_attempts: int = Field(default=20, ge=1, le=1000)
    """Attempts per outbox row before it goes dead (an admin can retry it)."""
    platform_timeout_s: float = Field(default=10.0, gt=0, le=300)
    forward_interval_s: float = Field(default=1.0, gt=0, le=3600)
    """How often the forwarder looks for due outbox rows when it has nothing in hand."""
    api_cors_origins: tuple[str, ...] = ()
    """Origins allowed to call the API from a browser (CORS); empty: CORS stays closed."""
    api_auth_failures_per_minute: int = Field(default=10, ge=1, le=10_000)
    """Failed authentications allowed per client address and minute before 429."""
    api_send_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    """How long a client may take none of a response's bytes before its connection is cut
    off (`gateway.send_deadline`): a stream reader that stopped reading must not hold on."""
    stream_heartbeat_s: float = Field(default=15.0, gt=0, le=300)
    """How often `GET /v1/stream` sends a heartbeat comment."""
    stream_recheck_s: float = Field(default=5.0, gt=0, le=60)
    """How often an open stream checks its key again: a revoked or expired key's stream ends
    within this (plus the key cache's 5 s for a revocation made by another process)."""
    stream_queue_max: int = Field(default=1000, ge=10, le=1_000_000)
    """Messages one stream reader may fall behind before it is disconnected."""
    stream_resume_max: int = Field(default=10_000, ge=100, le=10_000_000)
    """Recent stream messages kept for resuming with `Last-Event-ID`."""

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url_is_mqtt(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("must look like mqtt://[user:pass@]host[:port]")
        return value

    @field_validator("mqtt_topics")
    @classmethod
    def _mqtt_topics_are_filters(cls, value: list[str]) -> list[str]:
        """Every filter is valid MQTT and none names `$SYS` (see `gateway.topics`)."""
        for topic_filter in value:
            if (problem := filter_problem(topic_filter)) is not None:
                raise ValueError(f"{topic_filter[:80]!r}: {problem}")
        return value

    @field_validator("platform_url")
    @classmethod
    def _platform_url_is_http(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError("must look like https://host[:port][/path], without a query")
        if "@" in parts.netloc:
            raise ValueError(
                "must not carry credentials (user:password@): the platform authenticates the"
                " gateway by the request signature (SCGW_PLATFORM_SECRET), and a URL ends up in"
                " logs and error messages"
            )
        return value.rstrip("/")

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

    def require_dead_letter_key(self) -> str | None:
        """The key sealing raw dead-letter payloads, or None when none is configured.

        Refuses `SCGW_DEAD_LETTER_RAW=encrypted` without a key, and a weak key whenever one is
        set: it must be at least 32 characters with 12 distinct ones (`openssl rand -base64
        32` gives 44), and differ from the other secrets, which serve other purposes.
        """
        if self.dead_letter_key is None:
            if self.dead_letter_raw == "encrypted":
                raise ConfigError(
                    "SCGW_DEAD_LETTER_RAW=encrypted needs SCGW_DEAD_LETTER_KEY "
                    f"(at least {MIN_DEAD_LETTER_KEY_CHARS} random characters)"
                )
            return None
        key = self.dead_letter_key.get_secret_value()
        _require_strong_key("SCGW_DEAD_LETTER_KEY", key)
        others = (self.admin_api_key, self.id_hash_key)
        if any(other is not None and other.get_secret_value() == key for other in others):
            raise ConfigError(
                "SCGW_DEAD_LETTER_KEY must differ from SCGW_ADMIN_API_KEY and SCGW_ID_HASH_KEY"
            )
        return key

    def require_platform_secret(self) -> str | None:
        """The secret shared with the grid platform, or None when tickets stay local.

        Refuses `SCGW_PLATFORM_URL` without `SCGW_PLATFORM_SECRET`, and a weak secret: the
        platform opens tickets on whatever carries a good signature, so the secret has the
        strength asked of the dead-letter key, and differs from the gateway's own secrets.
        """
        if self.platform_url is None:
            return None
        if self.platform_secret is None:
            raise ConfigError(
                "SCGW_PLATFORM_URL needs SCGW_PLATFORM_SECRET (the HMAC secret shared with the"
                f" platform, at least {MIN_DEAD_LETTER_KEY_CHARS} random characters)"
            )
        secret = self.platform_secret.get_secret_value()
        _require_strong_key("SCGW_PLATFORM_SECRET", secret)
        others = (self.admin_api_key, self.id_hash_key, self.dead_letter_key)
        if any(other is not None and other.get_secret_value() == secret for other in others):
            raise ConfigError(
                "SCGW_PLATFORM_SECRET must differ from the admin, ID hash and dead-letter keys"
            )
        return secret


def _require_strong_key(name: str, key: str) -> None:
    """A key guarding sealed or signed data: 32+ characters with 12 distinct ones."""
    if len(key) < MIN_DEAD_LETTER_KEY_CHARS or len(set(key)) < MIN_DEAD_LETTER_KEY_DISTINCT:
        raise ConfigError(
            f"{name} must be at least {MIN_DEAD_LETTER_KEY_CHARS} characters"
            f" with {MIN_DEAD_LETTER_KEY_DISTINCT} distinct ones (openssl rand -base64 32)"
        )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommunitySpec(_Strict):
    """A community the gateway serves; its code is the first topic level by default."""

    code: CommunityCode
    name: str = ""


class DeviceSpec(DeviceRegistration):
    """A registered device as the TOML file declares it (see `schemas.devices`)."""


class TopicBinding(_Strict):
    """Binds a vendor's own topic filter to a dialect and community.

    `device_id_level` is the 1-based topic level that holds the device code, if any: that
    device is the sender. A filter without one may name its publisher as `sender` (a platform
    that posts every camera's uploads to one topic); with neither, the topic vouches for
    nobody in particular, and its events are kept only for devices registered in `community`
    (see `gateway.pipeline.CheckSender`).
    """

    filter: Annotated[str, Field(min_length=1)]
    dialect: str
    community: CommunityCode
    device_id_level: int | None = Field(default=None, ge=1)
    sender: DeviceId | None = None

    @model_validator(mode="after")
    def _one_source_of_sender(self) -> "TopicBinding":
        if self.sender is not None and self.device_id_level is not None:
            raise SpecError(("sender",), "set device_id_level or sender, not both")
        return self

    @field_validator("filter")
    @classmethod
    def _filter_is_subscribable(cls, value: str) -> str:
        if (problem := filter_problem(value)) is not None:
            raise ValueError(problem)
        return value


class GatewayConfig(_Strict):
    """The structured configuration from the TOML file."""

    communities: list[CommunitySpec] = Field(default_factory=list)
    devices: list[DeviceSpec] = Field(default_factory=list)
    topics: list[TopicBinding] = Field(default_factory=list)
    dialects: list[MappingSpec] = Field(default_factory=list)
    """JSON dialects described in the file instead of in code (see `adapters.mapping`)."""
    rules: dict[str, dict[str, Annotated[float, Strict()]]] = Field(default_factory=dict)
    """Threshold overrides per rule code, `[rules."care.no_activity"] hours = 72`: numbers
    only (strict: `true` or `"5"` is refused, not read as 1 or 5); checked against the rule
    catalogue at start (`gateway.rules.catalog`)."""

    @field_validator("dialects")
    @classmethod
    def _dialect_names_are_free(cls, dialects: list[MappingSpec]) -> list[MappingSpec]:
        builtin = {adapter.dialect for adapter in BUILTIN_ADAPTERS}
        named: set[str] = set()
        for index, spec in enumerate(dialects):
            if spec.name in builtin:
                raise SpecError((index, "name"), f"{spec.name!r} is a built-in dialect")
            if spec.name in named:
                raise SpecError((index, "name"), f"dialect {spec.name!r} is defined twice")
            named.add(spec.name)
        return dialects

    def dialect_kinds(self) -> DialectKinds:
        """The dialects devices may register with here, and the kinds each admits."""
        return dialect_kinds(self.dialects)

    @model_validator(mode="after")
    def _devices_fit_their_dialects(self) -> "GatewayConfig":
        """Each device's dialect exists and admits its kind, and a parent this file declares
        follows `schemas.devices.ParentRule`; a parent it does not declare must be in the
        store, checked once the store is open (`check_device_parents`)."""
        table = self.dialect_kinds()
        parents = ParentRule(self.devices)
        for index, device in enumerate(self.devices):
            problem = table.problem(device.dialect, device.kind) or parents.parent_problem(
                device, unknown_parent_ok=True
            )
            if problem is not None:
                raise SpecError(("devices", index, problem[0]), problem[1])
        for index, device in enumerate(self.devices):  # after: a child's own error reads better
            if (problem := parents.children_problem(device)) is not None:
                raise SpecError(("devices", index, problem[0]), problem[1])
        return self


def dialect_kinds(specs: Sequence[MappingSpec]) -> DialectKinds:
    """The built-in adapters' dialects with their rows of `DEVICE_KINDS_BY_DIALECT`, and each
    configured dialect with the kinds making the events it declares (`mapping_dialect_kinds`).

    The same names `adapters.registry.registry_with(specs)` builds adapters for.
    """
    table = {
        adapter.dialect: DEVICE_KINDS_BY_DIALECT[adapter.dialect] for adapter in BUILTIN_ADAPTERS
    }
    for spec in specs:
        rules = [rule for _, rule in spec.rules()]
        relays = "device_id" in spec.fields or any("device_id" in rule.fields for rule in rules)
        table[spec.name] = mapping_dialect_kinds((rule.kind for rule in rules), relays=relays)
    return DialectKinds(table)


def load_config(path: Path | None) -> GatewayConfig:
    """Read and validate the TOML file; errors name the file, the key and its line."""
    if path is None:
        return GatewayConfig()
    return read_toml_model(path, GatewayConfig)


def read_toml_model(path: Path, model: type[M]) -> M:
    """A TOML file validated into `model`; a `ConfigError` names the file, the key and its line.
    Every TOML file the gateway reads comes through here: a UTF-8 byte-order mark (which
    Windows editors write) is accepted."""
    try:
        text = path.read_text(encoding="utf-8-sig")
        document = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text (save it as UTF-8)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        lines = toml_key_lines(text)
        problems = "; ".join(_config_problem(path, lines, error) for error in _root_causes(exc))
        raise ConfigError(problems) from None


def _root_causes(exc: ValidationError) -> list[ErrorDetails]:
    """The errors without a list's "should have at least N items" when items inside it failed:
    pydantic counts only the valid items, so that error only repeats the items' own."""
    errors = exc.errors(include_url=False)
    return [
        error
        for error in errors
        if not (
            error["type"] == "too_short"
            and any(
                len(other["loc"]) > len(error["loc"])
                and tuple(other["loc"][: len(error["loc"])]) == tuple(error["loc"])
                for other in errors
            )
        )
    ]


def check_device_parents(
    config: GatewayConfig, stored: Iterable[DeviceRegistration], path: Path | None
) -> None:
    """The file's devices against the registry as it will be once they are upserted (the
    store's devices, replaced by the file's): every parent registered, and the rest of
    `schemas.devices.ParentRule`. Run at start-up, with the store open, before the upsert;
    `ConfigError` names `file:line: devices.N.key: message`, as `load_config` does."""
    declared = {device.device_id for device in config.devices}
    rule = ParentRule(
        [*(device for device in stored if device.device_id not in declared), *config.devices]
    )
    problems = [
        (("devices", index, problem[0]), problem[1])
        for index, device in enumerate(config.devices)
        if (problem := rule.problem(device)) is not None
    ]
    if problems:
        raise located_error(path, problems)


def located_error(
    path: Path | None, problems: Sequence[tuple[Sequence[str | int], str]]
) -> ConfigError:
    """A `ConfigError` for problems found after the file loaded (checks that need more than
    the file: the store, the rule catalogue), each as `file:line: dotted.key: message` like
    `load_config`'s, the file read again for its lines."""
    lines = _key_lines_of(path)
    return ConfigError("; ".join(_located(path, lines, loc, message) for loc, message in problems))


def _key_lines_of(path: Path | None) -> dict[tuple[str, ...], int]:
    """The lines of the file's keys, read again for an error message (nothing when unreadable)."""
    if path is None:
        return {}
    try:
        return toml_key_lines(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}


def _config_problem(path: Path, lines: dict[tuple[str, ...], int], error: ErrorDetails) -> str:
    """`file:line: dotted.key: message`; a `SpecError` locates its problem below the value."""
    loc: tuple[str | int, ...] = tuple(error["loc"])
    message = error["msg"]
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, SpecError):
        loc, message = (*loc, *cause.loc), cause.message
    elif isinstance(cause, ValueError):
        message = str(cause)  # a validator's own words, without pydantic's "Value error, "
    return _located(path, lines, loc, message)


def _located(
    path: Path | None, lines: dict[tuple[str, ...], int], loc: Sequence[str | int], message: str
) -> str:
    """`file:line: dotted.key: message`, the line of the deepest key of `loc` the file has."""
    key = tuple(str(part) for part in loc)
    line = next((lines[key[:n]] for n in range(len(key), 0, -1) if key[:n] in lines), None)
    where = f"{path}:{line}" if line is not None else str(path or "<no config file>")
    return f"{where}: {'.'.join(key) or '<root>'}: {message}"


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_key_lines(text: str) -> dict[tuple[str, ...], int]:
    """The 1-based line of every key, table and array element of a TOML document.

    Keys are paths as pydantic reports them (`("dialects", "0", "fields", "method")`, indices
    as text). tomllib keeps no positions, so this walks the text tomllib already accepted and
    records where things start; if it meets something it does not follow, it stops and
    returns what it found, and errors are reported without a line.
    """
    scanner = _TomlKeyLines(text)
    with contextlib.suppress(ValueError, IndexError):
        scanner.scan()
    return scanner.lines


class _TomlKeyLines:
    """A position-only walk over valid TOML: headers, dotted keys, inline tables, arrays."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self._newlines = [index for index, char in enumerate(text) if char == "\n"]
        self._arrays: dict[tuple[str, ...], int] = {}
        self.lines: dict[tuple[str, ...], int] = {}

    def scan(self) -> None:
        table: tuple[str, ...] = ()
        while self._skip(newlines=True):
            line = self._line()
            if self._text.startswith("[[", self._pos):
                self._pos += 2
                keys = self._keys()
                array = (*self._resolve(keys[:-1]), keys[-1])
                index = self._arrays.get(array, 0)
                self._arrays[array] = index + 1
                table = (*array, str(index))
                self._record(array, line)
                self._expect("]]")
            elif self._peek() == "[":
                self._pos += 1
                table = self._resolve(self._keys())
                self._expect("]")
            else:
                self._key_value(table)
                continue
            self._record(table, line)

    def _line(self) -> int:
        return bisect.bisect_left(self._newlines, self._pos) + 1

    def _peek(self) -> str:
        return self._text[self._pos : self._pos + 1]

    def _expect(self, token: str) -> None:
        self._skip(newlines=False)
        if not self._text.startswith(token, self._pos):
            raise ValueError(f"expected {token!r}")
        self._pos += len(token)

    def _record(self, path: tuple[str, ...], line: int) -> None:
        self.lines.setdefault(path, line)

    def _resolve(self, keys: tuple[str, ...]) -> tuple[str, ...]:
        """A header's path, with the latest element of every array of tables it goes through."""
        path: tuple[str, ...] = ()
        for key in keys:
            path = (*path, key)
            if path in self._arrays:
                path = (*path, str(self._arrays[path] - 1))
        return path

    def _skip(self, *, newlines: bool) -> bool:
        """Skip blanks and comments (and line ends, if asked); False at the end of the text."""
        blanks = " \t\r\n" if newlines else " \t"
        while self._pos < len(self._text):
            char = self._text[self._pos]
            if char == "#":
                end = self._text.find("\n", self._pos)
                self._pos = len(self._text) if end < 0 else end
            elif char in blanks:
                self._pos += 1
            else:
                return True
        return False

    def _keys(self) -> tuple[str, ...]:
        keys: list[str] = []
        while True:
            self._skip(newlines=False)
            keys.append(self._simple_key())
            self._skip(newlines=False)
            if self._peek() != ".":
                return tuple(keys)
            self._pos += 1

    def _simple_key(self) -> str:
        start = self._pos
        if self._peek() in ('"', "'"):
            self._string()
            decoded = tomllib.loads(f"k = {self._text[start : self._pos]}")["k"]
            return str(decoded)
        match = _BARE_KEY.match(self._text, self._pos)
        if match is None:
            raise ValueError("expected a key")
        self._pos = match.end()
        return match[0]

    def _key_value(self, table: tuple[str, ...]) -> None:
        line = self._line()
        keys = self._keys()
        for length in range(1, len(keys) + 1):
            self._record((*table, *keys[:length]), line)
        self._expect("=")
        self._value((*table, *keys))

    def _value(self, path: tuple[str, ...]) -> None:
        self._skip(newlines=False)
        char = self._peek()
        if char in ("{", "["):
            self._pos += 1
            index = 0
            while self._skip(newlines=True):
                if self._peek() in ("}", "]"):
                    self._pos += 1
                    return
                if self._peek() == ",":
                    self._pos += 1
                elif char == "{":
                    self._key_value(path)
                else:
                    self._record((*path, str(index)), self._line())
                    self._value((*path, str(index)))
                    index += 1
            raise ValueError("unterminated table or array")
        if char in ('"', "'"):
            self._string()
            return
        while self._pos < len(self._text) and self._text[self._pos] not in ",]}\n#":
            self._pos += 1

    def _string(self) -> None:
        quote = self._peek()
        delimiter = quote * 3 if self._text.startswith(quote * 3, self._pos) else quote
        self._pos += len(delimiter)
        while self._pos < len(self._text):
            if quote == '"' and self._text[self._pos] == "\\":
                self._pos += 2
            elif self._text.startswith(delimiter, self._pos):
                self._pos += len(delimiter)
                while len(delimiter) == 3 and self._peek() == quote:  # up to two more quotes
                    self._pos += 1
                return
            else:
                self._pos += 1
        raise ValueError("unterminated string")
