"""Specification of what the service may show of outside text (`gateway.privacy`)."""

import pytest

from gateway.privacy import (
    holds_personal_number,
    is_shareable_key,
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
    """A payload value is shown only as a short plain token without a personal number."""

    @pytest.mark.parametrize(
        "value",
        [
            "AccessControllerEvent",
            "43011200001320000001",
            "2026-11-26T08:00:00+08:00",
            "2026-11-26 08:00:00",
            "20261126080000",
            "YD-GATE-N1",
            "R2026112608001200000301",
            "V5.7.1",
            "10.1.2.3",
        ],
    )
    def test_codes_ids_and_times_are_shown(self, value: str) -> None:
        assert is_shareable_value(value)

    @pytest.mark.parametrize(
        "value",
        [
            "",
            "张三",
            "Zhang San",
            PHONE,
            "+86 138 1234 5678",
            ID_NUMBER_X,
            "a" * 65,
            "bad\x00nul",
            "<str 5>",
        ],
    )
    def test_text_names_numbers_and_long_values_are_not(self, value: str) -> None:
        assert not is_shareable_value(value)


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
    """Topic levels holding a personal-looking number are replaced; others are kept."""

    @pytest.mark.parametrize(
        "topic",
        [
            "yida/hik-isapi/43011200001320000001",
            "亿达小镇/门禁/一号门",
            "yida//x",
            "/",
            "a/" + "b" * 100,
        ],
    )
    def test_topics_without_such_numbers_are_kept(self, topic: str) -> None:
        assert shareable_topic(topic) == topic

    def test_levels_holding_a_phone_or_id_number_are_replaced_by_their_length(self) -> None:
        topic = f"yida/hik-isapi/{PHONE}/dev-{ID_NUMBER}/+86 138 1234 5678"
        assert shareable_topic(topic) == "yida/hik-isapi/<level 11>/<level 22>/<level 17>"

    def test_applying_it_twice_changes_nothing(self) -> None:
        once = shareable_topic(f"a/{ID_NUMBER}/b c")
        assert shareable_topic(once) == once
