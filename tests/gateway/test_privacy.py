"""Specification of what the service may show of outside text (`gateway.privacy`)."""

import pytest

from adapters.base import ShownValue
from gateway.privacy import (
    holds_personal_number,
    is_shareable_key,
    is_shareable_scalar,
    is_shareable_value,
    shareable_topic,
    without_personal_numbers,
)

ID_NUMBER = "430112199001011234"
ID_NUMBER_X = "43011219900101123X"
LEGACY_ID_NUMBER = "430112900101123"
PHONE = "13812345678"


class TestIdNumbers:
    """Resident ID numbers are found by shape and birth date, however they are grouped."""

    @pytest.mark.parametrize(
        "text",
        [
            ID_NUMBER,
            ID_NUMBER_X,
            "43011219900101123x",
            LEGACY_ID_NUMBER,
            "430112 19900101 1234",
            "430112-1990-0101-123X",
            f"身份证号{ID_NUMBER}的住户",
            f"id={ID_NUMBER}",
            "430112199203154512X",  # an X after a complete number
            "ID430112199203154512X",
            "430112_19900101_123x",
            "430112·19900101·1234",
            "４３０１１２—１９９００１０１—１２３Ｘ",
            "430112199001011299",  # an ID-shaped number whose check character is wrong
        ],
    )
    def test_id_number_is_found(self, text: str) -> None:
        assert holds_personal_number(text)

    @pytest.mark.parametrize(
        "text",
        [
            "43011200001320000001",  # a 20-digit GB/T 28181 device code
            "1764115093000000",  # 16 digits: epoch microseconds
            "123456789012345678",  # 18 digits without a birth date in them
            "430112199013011234",  # month 13
            "YD-N1-20261126-000123",  # a record number whose groups join to 15 digits
        ],
    )
    def test_other_long_numbers_are_not(self, text: str) -> None:
        assert not holds_personal_number(text)


class TestPhoneNumbers:
    """Mainland mobiles and landlines are found with prefixes, area codes and separators."""

    @pytest.mark.parametrize(
        "text",
        [
            PHONE,
            f"+86{PHONE}",
            f"86 {PHONE}",
            f"0086-{PHONE}",
            "+86 138-1234-5678",
            "138 1234 5678",
            "(138) 1234.5678",
            "1 138 1234 5678",  # next to another number
            "１３８ １２３４ ５６７８",  # full-width digits
            "٠٧٣١-٨٨٨٨١٢٣٤",  # Arabic-Indic digits
            "13912345678x",
            "139_1234_5678",
            "tel:139:1234:5678",
            "139·1234·5678",
            "139—1234—5678",
            "139／1234／5678",
            "１３９＿１２３４＿５６７８",
            "139 _ 1234 _ 5678",
            "(+86)-139.1234.5678",
            "0731-88881234",
            "(0731) 8888 1234",
            "010 6552 9988",
            "+86 731 8888 1234",
            f"call {PHONE} now",
        ],
    )
    def test_phone_number_is_found(self, text: str) -> None:
        assert holds_personal_number(text)

    @pytest.mark.parametrize(
        "text", ["12345678901", "10086", "serial 4567", "1764115212000", "1764115212"]
    )
    def test_other_numbers_are_not(self, text: str) -> None:
        assert not holds_personal_number(text)


class TestWithoutPersonalNumbers:
    """Personal-looking numbers are replaced; ordinary text passes unchanged."""

    def test_numbers_are_replaced_in_place(self) -> None:
        text = f"resident {ID_NUMBER} phone {PHONE} seen"
        assert without_personal_numbers(text) == "resident <redacted> phone <redacted> seen"

    def test_wide_digits_are_replaced_in_place(self) -> None:
        assert without_personal_numbers("tel：１３８１２３４５６７８。") == "tel：<redacted>。"

    def test_grouped_number_is_replaced_whole(self) -> None:
        assert without_personal_numbers("call 0731-8888-1234.") == "call <redacted>."

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "batch of 20 messages committed in 3.5 ms",
            "yida/hik-isapi/34020000001320000001: unknown_code",
            '{"eventType": "AccessControllerEvent", "doorNo": 1, "serialNo": 4567}',
            "门禁设备离线，请检查网络",
            "applied migrations 0001_events, 0002_devices, 0003_dead_letter_raw",
            "2026-11-26T08:00:00+08:00 from 10.43.1.30:1883",
        ],
    )
    def test_text_without_such_numbers_is_untouched(self, text: str) -> None:
        assert without_personal_numbers(text) == text


class TestShareableValues:
    """A payload value is shown only when it is what its field holds, without a personal number."""

    @pytest.mark.parametrize(
        ("value", "kind"),
        [
            ("AccessControllerEvent", frozenset({"AccessControllerEvent"})),
            ("43011200001320000001", "device_id"),
            ("2026-11-26T08:00:00+08:00", "time"),
            ("2026-11-26 08:00:00", "time"),
            ("20261126080000", "time"),
            ("1795651212000", "time"),
            ("YD-GATE-N1", "device_id"),
            ("R2026112608001200000301", "id"),
            ("V5.7.1", "id"),
            ("B03-U1-D1", "code"),
            ("4567", "code"),
            ("0.97", "number"),
            ("10.1.2.3", "ip"),
            ("fe80::1%eth0", "ip"),
        ],
    )
    def test_codes_ids_and_times_are_shown(self, value: str, kind: ShownValue) -> None:
        assert is_shareable_value(value, kind)

    @pytest.mark.parametrize(
        ("value", "kind"),
        [
            ("", "code"),
            ("张三", "code"),
            ("Zhang San", "id"),
            (PHONE, "code"),
            ("+86 138 1234 5678", "id"),
            (ID_NUMBER_X, "id"),
            ("a1" * 33, "id"),
            ("bad\x00nul", "id"),
            ("<str 5>", "code"),
            # The reviewer's forms: separators the old display check did not know, a trailing X.
            ("139_1234_5678", "code"),
            ("139:1234:5678", "code"),
            ("13912345678x", "id"),
            ("430112199203154512X", "id"),
            ("ID430112199203154512X", "device_id"),
            # Letters-only words are no codes, times or device ids: a pinyin name.
            ("OUYANGFENG", "code"),
            ("ouyang-feng", "time"),
            ("ouyang-feng", "device_id"),
            ("OuyangFeng", frozenset({"AccessControllerEvent"})),
            ("1234567890123456", "time"),
            ("10.1.2", "ip"),
            ("0731-8888-1234", "number"),
        ],
    )
    def test_text_names_numbers_and_odd_values_are_not(self, value: str, kind: ShownValue) -> None:
        assert not is_shareable_value(value, kind)

    def test_a_word_of_the_vocabulary_with_a_number_in_it_is_still_hidden(self) -> None:
        assert not is_shareable_value(PHONE, frozenset({PHONE}))

    @pytest.mark.parametrize(
        ("value", "shown"), [(True, True), (999999, True), (13812345678, False), (1.5, True)]
    )
    def test_json_scalars_are_judged_as_written(self, value: object, shown: bool) -> None:
        assert is_shareable_scalar(value, "code") is shown


class TestShareableKeys:
    """A JSON key is shown only when it is an ASCII identifier without a personal number."""

    @pytest.mark.parametrize("key", ["eventType", "AccessControllerEvent", "$type", "x-id", "_a"])
    def test_identifier_keys_are_shown(self, key: str) -> None:
        assert is_shareable_key(key)

    @pytest.mark.parametrize(
        "key", ["姓名", "张三", PHONE, f"u{PHONE}", "1abc", "two words", "a.b", "k" * 41, ""]
    )
    def test_other_keys_are_not(self, key: str) -> None:
        assert not is_shareable_key(key)


class TestShareableTopic:
    """Topic levels are kept only when they are safe tokens; others become their position."""

    @pytest.mark.parametrize(
        "topic",
        [
            "yida/hik-isapi/43011200001320000001",
            "yida/status/YD-GATE-N1",
            "acme/yida/43011200001320000017/event",
            "a/" + "b" * 64,
        ],
    )
    def test_topics_of_safe_tokens_are_kept(self, topic: str) -> None:
        assert shareable_topic(topic) == topic

    @pytest.mark.parametrize(
        ("topic", "shown"),
        [
            ("yida/hik-isapi/139_1234_5678", "yida/hik-isapi/<level 3>"),
            ("yida/hik-isapi/tel:139:1234:5678", "yida/hik-isapi/<level 3>"),
            ("yida/hik-isapi/ID430112199203154512X", "yida/hik-isapi/<level 3>"),
            ("yida/hik-isapi/13912345678x", "yida/hik-isapi/<level 3>"),
            ("yida/139_1234_5678/x", "yida/<level 2>/x"),
            ("yida/hik-isapi/欧阳锋", "yida/hik-isapi/<level 3>"),
            ("yida/欧阳锋/x", "yida/<level 2>/x"),
            ("亿达小镇/门禁/一号门", "<level 1>/<level 2>/<level 3>"),
            ("yida//x", "yida/<level 2>/x"),
            ("/", "<level 1>/<level 2>"),
            ("a/" + "b" * 65, "a/<level 2>"),
            ("yida/hik-isapi/139 1234 5678", "yida/hik-isapi/<level 3>"),
            ("yida/hik-isapi/0731-8888-1234", "yida/hik-isapi/<level 3>"),
        ],
    )
    def test_other_levels_are_replaced_by_their_position(self, topic: str, shown: str) -> None:
        assert shareable_topic(topic) == shown

    def test_levels_holding_a_phone_or_id_number_are_replaced(self) -> None:
        topic = f"yida/hik-isapi/{PHONE}/dev-{ID_NUMBER}/+86 138 1234 5678"
        assert shareable_topic(topic) == "yida/hik-isapi/<level 3>/<level 4>/<level 5>"

    @pytest.mark.parametrize(
        ("topic", "shown"),
        [
            ("yida/139/1234/5678", "yida/<level 2>/<level 3>/<level 4>"),
            (
                "yida/hik-isapi/430112/19920315/4512",
                "yida/hik-isapi/<level 3>/<level 4>/<level 5>",
            ),
            ("13912/345678", "<level 1>/<level 2>"),
            ("yida/dev-139/1234/5678/status", "yida/<level 2>/<level 3>/<level 4>/status"),
            ("yida/0731/8888/1234", "yida/<level 2>/<level 3>/<level 4>"),
            ("yida/hik-isapi/11010519491231002/event", "yida/hik-isapi/<level 3>/event"),
            ("yida/430112/19920315/451/X", "yida/<level 2>/<level 3>/<level 4>/X"),
        ],
    )
    def test_a_number_split_over_levels_masks_every_level_it_touches(
        self, topic: str, shown: str
    ) -> None:
        assert shareable_topic(topic) == shown

    @pytest.mark.parametrize(
        "topic",
        [
            "yida/34020000001320000001/1795651212000",
            "yida/2026/11/26/event",
            "acme/yida/43011200001320000017/event/1",
        ],
    )
    def test_neighbouring_levels_that_are_no_number_together_are_kept(self, topic: str) -> None:
        assert shareable_topic(topic) == topic

    def test_a_placeholder_never_completes_a_number_with_the_next_level(self) -> None:
        topic = "/".join(["x"] * 7 + ["欧阳", "6_731_8888_1234"])
        once = shareable_topic(topic)
        assert once == "x/x/x/x/x/x/x/<level 8>/<level 9>"
        assert shareable_topic(once) == once

    @pytest.mark.parametrize(
        "topic", [f"a/{ID_NUMBER}/b c", "亿达/x/欧阳锋", "/", "yida/139/1234/5678"]
    )
    def test_applying_it_twice_changes_nothing(self, topic: str) -> None:
        once = shareable_topic(topic)
        assert shareable_topic(once) == once
