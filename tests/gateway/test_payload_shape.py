"""Specification of payload shapes (`gateway.payload_shape`): what a dead letter keeps instead
of the payload, whatever the payload holds under whatever keys."""

import codecs
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import ShownValue
from gateway.payload_shape import MAX_SHAPE_CHARS, NOTHING, AllowList, payload_shape
from gateway.privacy import is_shareable_key, is_shareable_scalar

LIMIT = 256 * 1024
ID_NUMBER = "430112199001011234"
PHONE = "13812345678"
NAME = "张三丰"
ALLOWED = AllowList.of(
    {
        "eventType": frozenset({"AccessControllerEvent"}),
        "deviceId": "device_id",
        "time": "time",
        "code": "code",
        "items[].code": "number",
        "门.号": "code",
    }
)
PLACEHOLDER = re.compile(r"<(?:str|int) [0-9]+>|<float>|<bool>|<key [0-9]+>")


def shape(document: object, allowed: AllowList = ALLOWED) -> object:
    text = json.dumps(document, ensure_ascii=False).encode()
    rendered = payload_shape(text, allowed, max_bytes=LIMIT)
    assert len(rendered) <= MAX_SHAPE_CHARS
    return json.loads(rendered)


class TestValuesAreHidden:
    """Every value becomes its type and size unless its path is allowed and it is safe."""

    def test_types_and_sizes_replace_values(self) -> None:
        document = {"s": "abc", "i": -12345, "f": 1.5, "b": True, "n": None, "e": ""}
        assert shape(document) == {
            "s": "<str 3>",
            "i": "<int 5>",
            "f": "<float>",
            "b": "<bool>",
            "n": None,
            "e": "<str 0>",
        }

    @pytest.mark.parametrize("key", ["remark", "holder", "姓名", "备注", "x", "data", "eventTyp"])
    @pytest.mark.parametrize("secret", [NAME, PHONE, ID_NUMBER, "Zhang San", "3188542196"])
    def test_personal_values_under_any_unlisted_key_are_hidden(self, key: str, secret: str) -> None:
        rendered = json.dumps(shape({key: secret, "nested": {key: [secret]}}), ensure_ascii=False)
        assert secret not in rendered

    def test_allowed_values_are_shown(self) -> None:
        document = {
            "eventType": "AccessControllerEvent",
            "deviceId": "43011200001320000001",
            "time": "2026-11-26 08:00:00",
            "code": 1024,
            "items": [{"code": True}, {"code": 2.5}],
        }
        assert shape(document) == document

    @pytest.mark.parametrize(
        ("value", "hidden"),
        [
            (PHONE, "<str 11>"),
            ("+86 138 1234 5678", "<str 17>"),
            ("0731-8888-1234", "<str 14>"),
            ("430112 19900101 1234", "<str 20>"),
            (NAME, "<str 3>"),
            ("Zhang San", "<str 9>"),
            (13812345678, "<int 11>"),
            (8613812345678, "<int 13>"),
            (430112199001011234, "<int 18>"),
            (13812345678.0, "<float>"),
            (10**25, "<int 26>"),
            ("x" * 65, "<str 65>"),
        ],
    )
    def test_allowed_fields_holding_personal_or_odd_values_are_hidden(
        self, value: object, hidden: str
    ) -> None:
        assert shape({"deviceId": value}) == {"deviceId": hidden}

    def test_a_name_nested_under_an_allowed_field_of_the_wrong_type_is_hidden(self) -> None:
        document = {"eventType": {"name": NAME, "list": [PHONE]}, "code": [ID_NUMBER]}
        assert shape(document) == {
            "eventType": {"name": "<str 3>", "list": ["<str 11>"]},
            "code": ["<str 18>"],
        }

    def test_an_allowed_path_is_exact(self) -> None:
        document = {"outer": {"eventType": "x"}, "items": {"code": 1}}
        assert shape(document) == {"outer": {"eventType": "<str 1>"}, "items": {"code": "<int 1>"}}

    def test_a_key_with_dots_never_matches_a_nested_path(self) -> None:
        assert shape({"门.号": "1"}) == {"<key 1>": "<str 1>"}

    def test_nothing_is_shown_without_an_allow_list(self) -> None:
        assert shape({"eventType": "AccessControllerEvent"}, NOTHING) == {"eventType": "<str 21>"}

    def test_top_level_scalars_and_arrays_have_a_shape_too(self) -> None:
        assert shape(PHONE) == "<str 11>"
        assert shape([PHONE, 1]) == ["<str 11>", "<int 1>"]
        assert shape([{"code": 7}], AllowList.of({"[].code": "code"})) == [{"code": 7}]


class TestValuesAreWhatTheirFieldHolds:
    """An allowed value is shown only when it is what its entry says: a time, a code, a word
    of the vocabulary; a name or a written number in its place is hidden."""

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("time", "ouyang-feng"),
            ("time", "OUYANGFENG"),
            ("code", "OUYANGFENG"),
            ("code", "ouyang-feng"),
            ("code", "139_1234_5678"),
            ("code", "139:1234:5678"),
            ("code", "13912345678x"),
            ("deviceId", "ouyangfeng"),
            ("deviceId", "tel:139:1234:5678"),
            ("eventType", "OuyangFeng"),
            ("time", "2026-11-26 张三"),
        ],
    )
    def test_values_that_are_not_what_the_field_holds_are_hidden(
        self, field: str, value: str
    ) -> None:
        assert shape({field: value}) == {field: f"<str {len(value)}>"}

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("time", "2026-11-26T08:00:00+08:00"),
            ("time", "2026/11/26 08:00:00"),
            ("time", "20261126080000"),
            ("time", 1795651212000),
            ("code", "B03-U1-D1"),
            ("code", 999999),
            ("deviceId", "YD-GATE-N1"),
            ("eventType", "AccessControllerEvent"),
        ],
    )
    def test_values_that_are_what_the_field_holds_are_shown(
        self, field: str, value: object
    ) -> None:
        assert shape({field: value}) == {field: value}


class TestKeys:
    """Keys are shown when they are plain identifiers or declared; others are numbered."""

    def test_keys_that_are_personal_data_are_numbered(self) -> None:
        document = {"张三": 1, PHONE: 2, "eventType": "x", f"user{PHONE}": 3, "a b": 4}
        assert shape(document, NOTHING) == {
            "<key 1>": "<int 1>",
            "<key 2>": "<int 1>",
            "eventType": "<str 1>",
            "<key 3>": "<int 1>",
            "<key 4>": "<int 1>",
        }

    def test_numbering_restarts_in_each_object(self) -> None:
        document = {"张三": {"李四": 1}, "王五": 2}
        assert shape(document, NOTHING) == {"<key 1>": {"<key 1>": "<int 1>"}, "<key 2>": "<int 1>"}

    def test_keys_on_a_declared_path_are_shown_whatever_they_look_like(self) -> None:
        assert shape({"门": {"号": "12", "名": "x"}}) == {"门": {"号": "12", "<key 1>": "<str 1>"}}


class TestEncodings:
    """JSON in UTF-16 or UTF-32, with or without a byte order mark, has the same shape."""

    @pytest.mark.parametrize(
        "encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"]
    )
    @pytest.mark.parametrize("codec_bom", [False, True])
    def test_json_in_any_unicode_encoding_has_one_shape(
        self, encoding: str, codec_bom: bool
    ) -> None:
        document = {"eventType": "AccessControllerEvent", "remark": f"{NAME} {PHONE}"}
        payload = json.dumps(document, ensure_ascii=False).encode(encoding)
        if codec_bom and encoding in ("utf-16-le", "utf-16-be"):
            bom = codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE
            payload = bom + payload
        rendered = payload_shape(payload, ALLOWED, max_bytes=LIMIT)
        assert json.loads(rendered) == {"eventType": "AccessControllerEvent", "remark": "<str 15>"}

    @pytest.mark.parametrize(
        ("encoding", "shown"),
        [
            ("utf-16-le", "utf-16-le"),
            ("utf-16-be", "utf-16-be"),
            ("utf-32-le", "utf-32-le"),
            ("utf-16", "utf-16-le"),
            ("utf-32", "utf-32-le"),
        ],
    )
    def test_wide_text_that_is_not_json_is_described_not_shown(
        self, encoding: str, shown: str
    ) -> None:
        text = f"visitor {PHONE} id {ID_NUMBER}"
        rendered = payload_shape(text.encode(encoding), ALLOWED, max_bytes=LIMIT)
        assert f", {shown}, 41 characters: 9 letters, 29 digits, 3 spaces>" in rendered
        for part in (PHONE, ID_NUMBER, "visitor", "1381"):
            assert part not in rendered


class TestNotJson:
    """A payload the JSON parser refuses keeps size, encoding, classes and the parser's error."""

    def test_text_is_summarised_by_character_class(self) -> None:
        rendered = payload_shape(f"name={NAME};tel={PHONE}".encode(), NOTHING, max_bytes=LIMIT)
        assert rendered == (
            "<not JSON (character 0: Expecting value): 30 bytes, utf-8, "
            "24 characters: 10 letters, 11 digits, 3 other>"
        )

    def test_truncated_json_names_where_it_broke(self) -> None:
        payload = f'{{"eventType": "AccessControllerEvent", "name": "{NAME}'.encode()
        rendered = payload_shape(payload, ALLOWED, max_bytes=LIMIT)
        assert rendered.startswith("<not JSON (character 47: Unterminated string starting at)")
        assert NAME not in rendered
        assert "AccessControllerEvent" not in rendered

    def test_binary_keeps_its_size_only(self) -> None:
        payload = bytes(range(128, 256)) * 3
        assert payload_shape(payload, NOTHING, max_bytes=LIMIT) == (
            "<not JSON (not valid text in its encoding): 384 bytes, binary>"
        )

    def test_control_characters_are_counted(self) -> None:
        rendered = payload_shape(b"ok\x01\x02", NOTHING, max_bytes=LIMIT)
        assert rendered.endswith("4 characters: 2 letters, 2 control>")

    def test_classes_do_not_overlap_and_add_up(self) -> None:
        text = "ok\x01\x02\x1c\x85 \xa0张三١٢_-"
        rendered = payload_shape(text.encode(), NOTHING, max_bytes=LIMIT)
        assert rendered.endswith(
            "14 characters: 4 letters, 2 digits, 4 spaces, 2 control, 2 other>"
        )

    def test_only_the_first_characters_of_a_long_text_are_classified(self) -> None:
        rendered = payload_shape("张".encode() * 20_000, NOTHING, max_bytes=LIMIT)
        assert rendered.endswith("20000 characters, the first 16384: 16384 letters>")

    def test_json_nested_beyond_the_parser_is_not_json(self) -> None:
        rendered = payload_shape(b"[" * 100_000, NOTHING, max_bytes=LIMIT)
        assert rendered == (
            "<not JSON (nested too deeply): 100000 bytes, utf-8,"
            " 100000 characters, the first 16384: 16384 other>"
        )

    def test_a_number_too_long_to_parse_is_not_json(self) -> None:
        rendered = payload_shape(b'{"a": ' + b"9" * 5000 + b"}", NOTHING, max_bytes=LIMIT)
        assert rendered.startswith("<not JSON (a number is too long): 5007 bytes")


class TestBounds:
    """Shapes stay within 2,048 characters and say where they were cut."""

    def test_a_payload_over_the_limit_is_not_read(self) -> None:
        payload = json.dumps({"remark": PHONE}).encode()
        rendered = payload_shape(payload, ALLOWED, max_bytes=10)
        assert rendered == f"<{len(payload)} bytes, not read: over the 10-byte limit>"

    def test_deep_documents_are_cut_at_the_depth_limit(self) -> None:
        document: dict[str, object] = {}
        level = document
        for _ in range(40):
            level["k"] = {}
            level = level["k"]  # type: ignore[assignment]
        level["name"] = NAME
        text = json.dumps(shape(document), ensure_ascii=False)
        assert text.count('"k"') == 8
        assert '"<object 1 keys>"' in text

    def test_wide_objects_and_long_arrays_are_cut_with_counts(self) -> None:
        document = {"list": list(range(10)), **{f"key{i}": i for i in range(100)}}
        rendered = shape(document)
        assert isinstance(rendered, dict)
        assert rendered["list"] == ["<int 1>"] * 4 + ["<+6 items>"]
        assert rendered["<more>"] == "<+69 keys>"
        assert len(rendered) == 33

    def test_huge_documents_tighten_until_they_fit(self) -> None:
        item = {"value": "x" * 10, "more": {"deeper": [1, 2, 3]}}
        row = {f"field_{i}": [item] for i in range(40)}
        document = {f"group_{i}": row for i in range(40)}
        payload = json.dumps(document).encode()
        rendered = payload_shape(payload, NOTHING, max_bytes=len(payload))
        assert len(rendered) <= MAX_SHAPE_CHARS
        assert json.loads(rendered)["<more>"].startswith("<+")

    def test_the_last_resort_is_a_count(self) -> None:
        document = {f"key_with_a_long_name_{i:04}": 1 for i in range(3000)}
        payload = json.dumps(document).encode()
        rendered = payload_shape(payload, NOTHING, max_bytes=len(payload))
        assert len(rendered) <= MAX_SHAPE_CHARS


class TestAllowList:
    """Allow-list paths are dotted keys with `[]` for array elements; others are refused."""

    def test_declared_prefixes_are_every_step_of_a_path(self) -> None:
        allowed = AllowList.of({"a.b[].c": "code", "[].d": "time"})
        assert allowed.declared == {"a", "a.b", "a.b[]", "a.b[].c", "[]", "[].d"}

    @pytest.mark.parametrize("path", ["", "a..b", ".a", "a.", "a[0]", "a[]b", "a[", "a]"])
    def test_malformed_paths_are_refused(self, path: str) -> None:
        with pytest.raises(ValueError, match="not a dead-letter field path"):
            AllowList.of({path: "code"})


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children),
    max_leaves=40,
)


def _strings(node: object) -> list[str]:
    if isinstance(node, dict):
        return [*node, *(text for value in node.values() for text in _strings(value))]
    if isinstance(node, list):
        return [text for value in node for text in _strings(value)]
    return [node] if isinstance(node, str) else []


class TestAnyDocument:
    """Whatever the JSON document, its shape holds no text but safe keys and safe values."""

    @given(_json_values)
    @settings(max_examples=300, deadline=None)
    def test_without_an_allow_list_only_safe_keys_and_placeholders_remain(
        self, document: object
    ) -> None:
        payload = json.dumps(document).encode()
        rendered = json.loads(payload_shape(payload, NOTHING, max_bytes=LIMIT))
        for text in _strings(rendered):
            assert PLACEHOLDER.fullmatch(text) or text.startswith("<") or is_shareable_key(text)

    @given(
        st.dictionaries(st.text(max_size=8), _json_values, max_size=6),
        st.sampled_from(["time", "code", "id", "device_id", "number", "ip"])
        | st.frozensets(st.text(max_size=8), max_size=3),
    )
    @settings(max_examples=300, deadline=None)
    def test_with_every_key_allowed_only_shareable_values_are_shown(
        self, document: dict[str, object], kind: ShownValue
    ) -> None:
        allowed = AllowList.of(
            dict.fromkeys((key for key in document if re.fullmatch(r"[^.\[\]]+", key)), kind)
        )
        payload = json.dumps(document).encode()
        rendered = json.loads(payload_shape(payload, allowed, max_bytes=LIMIT))
        for key, value in rendered.items():
            placeholder = isinstance(value, str) and value.startswith("<")
            if not placeholder and value is not None and not isinstance(value, dict | list):
                assert key in document
                assert is_shareable_scalar(value, kind)
