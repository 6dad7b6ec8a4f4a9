"""No personal value, however a device hides it, reaches storage, dead letters, the API or logs.

Property: take a real message of each dialect (the Yida Town simulator's, dated relative to
now), plant personal values in it — resident ID numbers, mobile and landline numbers, names —
under keys nobody listed (`remark`, `holder`, `姓名`, a random key, the value as a key), in place
of any field, nested under a wrong type, as JSON numbers, in the topic's device or dialect
level, written with spaces, dashes, underscores, colons, `·`, `—`, `／`, `+86`, area codes,
full-width characters or a trailing `x`, and send the result in UTF-8, UTF-16, UTF-32 or
GB 18030, whole or cut short. The mapping dialects of `config/mapping-*.toml` are fed too.
Whatever the gateway makes of it (events, dead letters, dropped fields), none of the planted
values may come out: not in the pipeline's output or log (many generated cases), and not in
either store, the API or the DEBUG log of a real gateway process fed by `mosquitto_pub`.
"""

import json
import logging
import re
import subprocess
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from gateway.config import GatewayConfig, Settings, load_config
from gateway.messages import InboundMessage
from gateway.runtime import build_pipeline
from schemas.identity import gb11643_check_digit
from schemas.personal_numbers import MAX_GAP
from simulators.community import generate_community
from simulators.config_toml import community_config_toml
from simulators.yida_mix import YidaTraffic
from testkit.gateway_process import GatewayProcess
from testkit.harness import HASH_KEY
from testkit.inspection import database_dump, metric
from testkit.services import MosquittoService, PostgresService

# ---------------------------------------------------------------------------------------------
# Personal values and how a careless vendor writes them
# ---------------------------------------------------------------------------------------------

REGIONS = ("430112", "430111", "110101", "440305")
RARE_NAME_CHARACTERS = "鑫淼焱垚琨瑄璟翊玥珺瑾琰璐晗昕暄旻曦濛澍潼沅泓"
"""Name characters that appear nowhere in the simulator's or the gateway's own texts."""


@dataclass(frozen=True)
class Secret:
    """One planted personal value: its canonical form (what must never come out) and the
    form the payload carries it in."""

    canonical: str
    written: str
    refused_in_any_field: bool = False
    """ID and mobile numbers are refused in every stored field; a landline or a name in a door's
    or firmware's text cannot be told from a property office's number or a door's name."""


def resident_id(region: str, birth: datetime, sequence: int) -> str:
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + gb11643_check_digit(first17)


ID_NUMBERS = st.builds(
    resident_id,
    st.sampled_from(REGIONS),
    st.datetimes(min_value=datetime(1930, 1, 1), max_value=datetime(2015, 12, 31)),
    st.integers(0, 999),
)
MOBILES = st.from_regex(r"\A1[3-9][0-9]{9}\Z")
LANDLINES = st.from_regex(r"\A0(?:731|10|20|755)[2-8][0-9]{7}\Z")
NAMES = st.text(alphabet=RARE_NAME_CHARACTERS, min_size=3, max_size=4)


def _grouped(number: str, sizes: tuple[int, ...], separator: str) -> str:
    parts, start = [], 0
    for size in sizes:
        parts.append(number[start : start + size])
        start += size
    parts.append(number[start:])
    return separator.join(part for part in parts if part)


SEPARATORS = (" ", "-", "_", ":", ".", "·", "—", "／", " _ ", "\u3000", "(", ")-")
"""What people and devices put between a number's groups: every one the detectors must know."""


@st.composite
def secrets(draw: st.DrawFn) -> Secret:
    """A personal value in one of the ways devices and people write it."""
    kind = draw(st.sampled_from(["id", "mobile", "landline", "name"]))
    if kind == "name":
        name = draw(NAMES)
        return Secret(name, draw(st.sampled_from([name, f" {name} ", f"{name}(业主)"])))
    if kind == "id":
        number = draw(ID_NUMBERS)
        separator = draw(st.sampled_from(SEPARATORS))
        forms = [
            number,
            number.lower(),
            _grouped(number, (6, 8), " "),
            _grouped(number, (6, 4, 4), "-"),
            _grouped(number, (6, 8), separator),
            _grouped(number, (6, 4, 4, 2), separator).lower(),
            f"身份证:{number}",
            f"ID{number}",
            number.translate(_FULLWIDTH),
            _grouped(number, (6, 8), separator).translate(_FULLWIDTH),
        ]
    elif kind == "mobile":
        number = draw(MOBILES)
        separator = draw(st.sampled_from(SEPARATORS))
        forms = [
            number,
            f"+86{number}",
            f"+86 {_grouped(number, (3, 4), ' ')}",
            f"0086-{number}",
            f"86{number}",
            _grouped(number, (3, 4), "-"),
            _grouped(number, (3, 4), separator),
            f"tel:{_grouped(number, (3, 4), ':')}",
            f"{number}x",
            f"tel:{number}",
            number.translate(_FULLWIDTH),
            _grouped(number, (3, 4), separator).translate(_FULLWIDTH),
        ]
    else:
        number = draw(LANDLINES)
        area = 4 if number[1] == "7" else 3
        separator = draw(st.sampled_from(SEPARATORS))
        forms = [
            number,
            f"({number[:area]}){number[area:]}",
            f"{number[:area]}-{number[area:]}",
            _grouped(number, (area, 4), separator),
        ]
    return Secret(number, draw(st.sampled_from(forms)), refused_in_any_field=kind != "landline")


_FULLWIDTH = str.maketrans("0123456789Xx-_:.() ", "０１２３４５６７８９Ｘｘ－＿：．（）\u3000")
"""Digits, X and the usual separators in their full-width forms."""

# ---------------------------------------------------------------------------------------------
# Where it is planted
# ---------------------------------------------------------------------------------------------

UNLISTED_KEYS = st.sampled_from(
    ["remark", "holder", "memo", "note", "extra", "姓名", "身份证号", "联系电话", "备注", "住户"]
) | st.from_regex(r"\A[a-zA-Z][a-zA-Z0-9_]{0,15}\Z")


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every position in a JSON document that holds a value."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


def _set(document: Any, path: tuple[Any, ...], value: Any) -> None:
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


def _containers(document: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every object in a JSON document (by path), where a new key can go."""
    if isinstance(document, dict):
        yield prefix
        for key, value in document.items():
            yield from _containers(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from _containers(value, (*prefix, index))


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


@st.composite
def planted(draw: st.DrawFn, document: dict[str, Any]) -> tuple[Any, list[Secret]]:
    """`document` with one to three personal values planted in it, and those values."""
    planted_secrets: list[Secret] = []
    for _ in range(draw(st.integers(1, 3))):
        secret = draw(secrets())
        planted_secrets.append(secret)
        value: Any = secret.written
        if secret.canonical.isdigit() and secret.canonical[0] != "0" and draw(st.booleans()):
            value = int(secret.canonical)  # a number where a string belongs, or vice versa
        how = draw(
            st.sampled_from(["new_key", "nested", "replace", "as_key", "in_list", "wrong_type"])
        )
        containers = list(_containers(document))
        container = _at(document, draw(st.sampled_from(containers)))
        if how == "new_key":
            container[draw(UNLISTED_KEYS)] = value
        elif how == "nested":
            container[draw(UNLISTED_KEYS)] = {"info": {draw(UNLISTED_KEYS): [value]}}
        elif how == "as_key":
            container[secret.written] = draw(st.sampled_from([1, "x", True, None]))
        elif how == "in_list":
            container[draw(UNLISTED_KEYS)] = ["a", value, 3]
        else:
            paths = list(_paths(document))
            if not paths:
                container[draw(UNLISTED_KEYS)] = value
                continue
            path = draw(st.sampled_from(paths))
            if secret.refused_in_any_field or how == "wrong_type":
                # A known field holding a number where none belongs, or a structure.
                _set(document, path, value if how == "replace" else {"v": value})
            else:
                # Names and landlines go only where the dialect reads nothing.
                container[draw(UNLISTED_KEYS)] = value
    return document, planted_secrets


@st.composite
def encoded(draw: st.DrawFn, document: Any) -> bytes:
    """The document as bytes, in an encoding a vendor might use, maybe cut short."""
    text = json.dumps(document, ensure_ascii=draw(st.booleans()))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-16", "utf-16-le", "utf-32", "gb18030"]))
    payload = text.encode(encoding)
    if draw(st.integers(0, 4)) == 0:
        payload = payload[: draw(st.integers(1, max(1, len(payload) - 1)))]
    return payload


# ---------------------------------------------------------------------------------------------
# Real messages to start from, one per dialect, dated relative to now
# ---------------------------------------------------------------------------------------------


MAPPING_EXAMPLES = sorted((Path(__file__).parents[2] / "config").glob("mapping-*.toml"))
"""The example mapping dialects: fed like the built-in ones, from the same messages."""


@cache
def community_toml() -> str:
    """The Yida Town configuration with the example mapping dialects added."""
    examples = [path.read_text(encoding="utf-8") for path in MAPPING_EXAMPLES]
    return "\n".join([community_config_toml(generate_community()), *examples])


@cache
def base_messages() -> tuple[tuple[str, bytes], ...]:
    """The first message of each dialect in the last hour of simulated Yida Town traffic, and
    the same access and barrier messages on the example mapping dialects' topics (from
    devices the registry does not know, which may speak for themselves)."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    traffic = YidaTraffic(generate_community(), 11, start, timedelta(hours=1))
    found: dict[str, tuple[str, bytes]] = {}
    for topic, payload in traffic.messages():
        found.setdefault(topic.split("/")[1], (topic, payload))
    community = next(iter(found.values()))[0].split("/")[0]
    hik_payload = found["hik-isapi"][1]
    barrier = json.loads(found["barrier-gate"][1])
    barrier.pop("gateId", None)  # the controller on the topic is the gate
    mapped = {
        "acme-door": (f"acme/{community}/ACME-D17/event", hik_payload),
        "parkline-gate": (f"parkline/{community}/PL-N1/plate", json.dumps(barrier).encode()),
    }
    assert {path.stem.removeprefix("mapping-") for path in MAPPING_EXAMPLES} == set(mapped)
    return (*found.values(), *mapped.values())


TOPIC_SAFE = str.maketrans({"+": None, "#": None, "\x00": None, "/": "／"})
"""What an MQTT topic level cannot hold, removed (wildcards, NUL) or made full-width (`/`)."""


@st.composite
def hostile_messages(draw: st.DrawFn) -> tuple[str, bytes, list[Secret]]:
    topic, payload = draw(st.sampled_from(base_messages()))
    document, planted_secrets = draw(planted(json.loads(payload)))
    if draw(st.integers(0, 3)) == 0:
        topic = draw(planted_topic(topic, planted_secrets))
    return topic, draw(encoded(document)), planted_secrets


@st.composite
def planted_topic(draw: st.DrawFn, topic: str, planted_secrets: list[Secret]) -> str:
    """`topic` with a personal value in place of its device level or its dialect level
    (`yida/hik-isapi/139_1234_5678`, `yida/欧阳锋/x`), added to `planted_secrets`.

    A landline goes only where no device id is read: as a device id it cannot be told from a
    property office's number (names are refused there by the device id's alphabet)."""
    secret = draw(secrets())
    written = secret.written.translate(TOPIC_SAFE).strip() or secret.canonical
    planted_secrets.append(secret)
    levels = topic.split("/")
    device_level = 2 if len(levels) == 3 else len(levels) - 2  # default layout, or a template
    landline = secret.canonical.isdigit() and not secret.refused_in_any_field
    level = 1 if landline else draw(st.sampled_from([device_level, 1]))
    levels[level] = draw(st.sampled_from([written, f"dev-{written}", f"{written}_01"]))
    return "/".join(levels)


# ---------------------------------------------------------------------------------------------
# Searching outputs for the planted values
# ---------------------------------------------------------------------------------------------

_ESCAPED = re.compile(r"\\u([0-9a-fA-F]{4})")
_SEPARATORS = re.compile(rf"(?<=[0-9])[\W_]{{1,{MAX_GAP}}}(?=[0-9Xx])")
"""What the detectors take for a separator (`schemas.personal_numbers`): a short run of
anything but letters and digits, between two digits or before a closing X."""


def searchable(text: str) -> str:
    """Text as a reader would see it: JSON escapes decoded, full-width characters folded, and
    the separators a number may be written with removed (so `138_1234_5678` is found too)."""
    text = _ESCAPED.sub(lambda match: chr(int(match.group(1), 16)), text)
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text))


def leaks(planted_secrets: list[Secret], **outputs: str) -> dict[str, list[str]]:
    """For each output, the planted values found in it (expected: none anywhere)."""
    found: dict[str, list[str]] = {}
    for where, text in outputs.items():
        haystack = searchable(text).upper()
        hits = sorted({s.canonical for s in planted_secrets if s.canonical.upper() in haystack})
        if hits:
            found[where] = hits
    return found


# ---------------------------------------------------------------------------------------------
# The properties
# ---------------------------------------------------------------------------------------------


@cache
def yida_config(tmp_dir: Path) -> GatewayConfig:
    path = tmp_dir / "yida.toml"
    path.write_text(community_toml(), encoding="utf-8")
    return load_config(path)


class TestPipelineNeverPassesPersonalDataOn:
    """Whatever is planted in a dialect's message, the pipeline's events, dead letters and
    log lines carry none of it."""

    @settings(
        max_examples=1000,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(message=hostile_messages())
    def test_events_dead_letters_and_logs_hold_no_planted_value(
        self,
        message: tuple[str, bytes, list[Secret]],
        tmp_path_factory: pytest.TempPathFactory,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        topic, payload, planted_secrets = message
        config = yida_config(tmp_path_factory.getbasetemp())
        pipeline = build_pipeline(Settings(), config, HASH_KEY)
        caplog.clear()
        now = datetime.now(UTC)
        with caplog.at_level(logging.DEBUG):
            batch = pipeline([InboundMessage(topic, payload, now, 0.0)])
        events = " ".join(event.model_dump_json() for event in batch.events)
        letters = " ".join(
            f"{letter.topic} {letter.reason} {letter.detail} {letter.payload_excerpt}"
            for letter in batch.dead_letters
        )
        assert batch.events or batch.dead_letters
        assert leaks(planted_secrets, events=events, dead_letters=letters, log=caplog.text) == {}


class TestSearchFindsWhatItLooksFor:
    """The leak search sees a value however it was written, so the properties can fail."""

    @pytest.mark.parametrize(
        "text",
        [
            '{"remark": "430112199001011234"}',
            '{"x": "430112 19900101 1234"}',
            '{"x": "\\u0034\\u0033\\u0030112199001011234"}',
            "tel: +86 138 1234 5678",
            "４３０１１２１９９００１０１１２３４ 13812345678",
            '{"n": "\\u946b\\u6dfc\\u7131"}',
            "yida/hik-isapi/138_1234_5678",
            "tel:138:1234:5678",
            "138·1234·5678 138—1234—5678",
            "138／1234／5678",
            "１３８＿１２３４＿５６７８",
            "430112_19900101_1234",
        ],
    )
    def test_each_written_form_is_found(self, text: str) -> None:
        """Escaped, grouped, prefixed and full-width forms are all found."""
        planted_secrets = [
            Secret("430112199001011234", ""),
            Secret("13812345678", ""),
            Secret("鑫淼焱", ""),
        ]
        assert leaks(planted_secrets, out=text) != {}

    def test_masked_forms_are_not_leaks(self) -> None:
        """A masked number or name (`430112********1234`, `鑫**`) is what the law asks for."""
        planted_secrets = [Secret("430112199001011234", ""), Secret("鑫淼焱", "")]
        assert leaks(planted_secrets, out="430112********1234 138****5678 鑫**") == {}


# ---------------------------------------------------------------------------------------------
# End to end, both stores
# ---------------------------------------------------------------------------------------------

BATCH = st.lists(hostile_messages(), min_size=1, max_size=30)


def mosquitto_pub(mosquitto: MosquittoService, topic: str, payload: bytes, folder: Path) -> None:
    """Publish with Mosquitto's own client, from a file, so any bytes travel unchanged."""
    path = folder / "payload.bin"
    path.write_bytes(payload)
    command = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(mosquitto.port), "-q", "1"]
    subprocess.run(
        [*command, "-t", topic, "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=10,
    )


@dataclass
class Fed:
    """A gateway process on one store, and every value planted in what it was fed so far."""

    backend: str
    database: str
    gateway: GatewayProcess
    folder: Path
    planted: list[Secret]
    sent: int = 0


@pytest.fixture(scope="class", params=["sqlite", "postgres"])
def fed_gateway(
    request: pytest.FixtureRequest,
    mosquitto: MosquittoService,
    postgres: PostgresService,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Fed]:
    backend: str = request.param
    folder = tmp_path_factory.mktemp(f"privacy-{backend}")
    config = folder / "yida.toml"
    config.write_text(community_toml(), encoding="utf-8")
    if backend == "sqlite":
        database = f"sqlite:///{folder / 'scgw.db'}"
    else:
        database = postgres.create_database(f"privacy_{folder.name.replace('-', '_')}")
    gateway = GatewayProcess(
        mosquitto.url, database, folder / "gateway.log", log_level="DEBUG", config=str(config)
    )
    gateway.start()
    try:
        yield Fed(backend, database, gateway, folder, [])
    finally:
        gateway.stop()


class TestGatewayProcessKeepsPersonalDataOut:
    """Batches of hostile messages through a real gateway: the database, the API and the DEBUG
    log hold none of the planted values, on either store."""

    @settings(
        max_examples=8,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # the gateway keeps what it was fed: shrinking cannot help
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(batch=BATCH)
    def test_stores_api_and_logs_hold_no_planted_value(
        self,
        batch: list[tuple[str, bytes, list[Secret]]],
        fed_gateway: Fed,
        mosquitto: MosquittoService,
    ) -> None:
        fed, gateway = fed_gateway, fed_gateway.gateway
        for topic, payload, planted_secrets in batch:
            mosquitto_pub(mosquitto, topic, payload, fed.folder)
            fed.planted.extend(planted_secrets)
        fed.sent += len(batch)
        deadline = time.monotonic() + 60
        while metric(gateway.get("/metrics").decode(), "scgw_messages_received_total") < fed.sent:
            assert time.monotonic() < deadline, "not every message was processed in 60 s"
            time.sleep(0.2)
        served = " ".join(
            gateway.get(path).decode()
            for path in ("/v1/events?limit=1000", "/v1/dead-letters?limit=1000", "/metrics")
        )
        dump = database_dump(fed.database)
        log = gateway.log_path.read_text(encoding="utf-8")
        assert leaks(fed.planted, database=dump, api=served, log=log) == {}
