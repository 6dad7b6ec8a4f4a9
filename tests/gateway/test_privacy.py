"""Specification of free-text redaction (`gateway.privacy`) for dead letters and logs."""

import json

import pytest

from gateway.privacy import redact_text

KEY = "privacy-test-key-0123456789"
ID_NUMBER = "430112199001011234"
ID_NUMBER_X = "43011219900101123X"
LEGACY_ID_NUMBER = "430112900101123"
PHONE = "13812345678"


class TestRedactSensitiveJsonKeys:
    """Values under JSON keys that name people or credentials become `"***"`, even in bad JSON."""

    @pytest.mark.parametrize(
        "key",
        [
            "name",
            "cardNo",
            "cardNumber",
            "employeeNoString",
            "employeeNo",
            "IDNumber",
            "idNumber",
            "idNo",
            "idCard",
            "certificateNo",
            "phone",
            "phoneNumber",
            "mobile",
            "tel",
            "personName",
            "visitorName",
        ],
    )
    def test_string_value_is_replaced(self, key: str) -> None:
        redacted = redact_text(json.dumps({key: "Secret Value", "other": "kept"}))
        assert json.loads(redacted) == {key: "***", "other": "kept"}

    def test_key_match_ignores_case(self) -> None:
        assert json.loads(redact_text('{"CARDNO": "abc"}')) == {"CARDNO": "***"}

    def test_numeric_value_is_replaced(self) -> None:
        assert json.loads(redact_text('{"cardNo": 3188542196}')) == {"cardNo": "***"}

    def test_chinese_name_is_replaced(self) -> None:
        redacted = redact_text('{"name":"张三","doorNo":1}')
        assert "张三" not in redacted
        assert json.loads(redacted) == {"name": "***", "doorNo": 1}

    def test_escaped_quotes_inside_the_value_are_consumed(self) -> None:
        redacted = redact_text(r'{"name": "Zhang \"San\" Jr", "doorNo": 1}')
        assert "San" not in redacted
        assert json.loads(redacted) == {"name": "***", "doorNo": 1}

    def test_unicode_escaped_name_is_replaced(self) -> None:
        redacted = redact_text(json.dumps({"name": "张三"}))  # ASCII escapes: \u5f20\u4e09
        assert "5f20" not in redacted
        assert json.loads(redacted) == {"name": "***"}

    def test_nested_keys_are_replaced(self) -> None:
        document = {"AccessControllerEvent": {"cardNo": "3188542196", "name": "李四"}}
        redacted = redact_text(json.dumps(document, ensure_ascii=False))
        assert json.loads(redacted) == {"AccessControllerEvent": {"cardNo": "***", "name": "***"}}

    @pytest.mark.parametrize("key", ["userName", "visitorPhone", "idCardNo", "ownerMobile"])
    def test_keys_naming_whose_name_or_number_it_is_are_redacted(self, key: str) -> None:
        redacted = redact_text(f'{{"{key}": "张三 13812345678 430112199001011234"}}')
        assert redacted == f'{{"{key}": "***"}}'

    def test_keys_that_merely_contain_a_sensitive_word_are_kept(self) -> None:
        text = '{"deviceName": "Gate 1", "eventDescription": "Access"}'
        assert redact_text(text) == text

    def test_unterminated_value_at_the_end_of_truncated_text_is_replaced(self) -> None:
        redacted = redact_text('{"doorNo":1,"name":"张三丰')
        assert "张" not in redacted
        assert redacted == '{"doorNo":1,"name":"***"'

    def test_unterminated_escaped_value_at_the_end_is_replaced(self) -> None:
        redacted = redact_text('{"name":"\\u5f20\\u4e09')
        assert "5f20" not in redacted

    def test_unterminated_value_cut_right_after_a_backslash_is_replaced(self) -> None:
        # A byte cut can fall between the backslash and the rest of an escape sequence.
        redacted = redact_text('{"doorNo":1,"name":"\\u5f20\\u4e09\\')
        assert "5f20" not in redacted
        assert "4e09" not in redacted


class TestRedactIdNumbers:
    """Digit runs shaped like resident ID numbers are masked wherever they appear."""

    def test_18_digit_number_is_masked(self) -> None:
        assert redact_text(f"resident {ID_NUMBER} seen") == "resident 430112********1234 seen"

    @pytest.mark.parametrize("number", [ID_NUMBER_X, "43011219900101123x"])
    def test_18_character_number_with_x_check_digit_is_masked(self, number: str) -> None:
        redacted = redact_text(f"id={number}")
        assert number not in redacted
        assert redacted == f"id=430112********{number[-4:]}"

    def test_15_digit_legacy_number_is_masked(self) -> None:
        assert redact_text(f"old id {LEGACY_ID_NUMBER}") == "old id 430112*****1123"

    def test_number_inside_chinese_text_is_masked(self) -> None:
        assert ID_NUMBER not in redact_text(f"身份证号{ID_NUMBER}的住户")

    def test_20_digit_device_codes_are_not_id_numbers(self) -> None:
        text = "device 43011200001320000001 offline"
        assert redact_text(text) == text

    def test_16_digit_runs_are_left_alone(self) -> None:
        text = "t=1764115093000000"
        assert redact_text(text) == text


class TestRedactPhoneNumbers:
    """Mainland mobile numbers are masked, with or without the +86 country code."""

    def test_bare_mobile_number_is_masked(self) -> None:
        assert redact_text(f"call {PHONE}") == "call 138****5678"

    @pytest.mark.parametrize("prefix", ["+86", "86", "+86 ", "+86-"])
    def test_mobile_number_with_country_code_is_masked(self, prefix: str) -> None:
        redacted = redact_text(f"call {prefix}{PHONE} now")
        assert "1381234" not in redacted
        assert redacted.endswith("5678 now")

    def test_numbers_not_starting_like_a_mobile_are_left_alone(self) -> None:
        text = "serial 12345678901 and 10086"
        assert redact_text(text) == text


class TestRedactInlineImages:
    """Long base64 runs (inline face pictures) are cut out; short tokens stay."""

    def test_long_base64_blob_is_removed(self) -> None:
        blob = "iVBORw0KGgo" + "A" * 600 + "=="
        redacted = redact_text(f'{{"picture": "{blob}", "doorNo": 1}}')
        assert blob[:40] not in redacted
        assert json.loads(redacted) == {"picture": "<image removed>", "doorNo": 1}

    def test_shorter_base64_tokens_are_kept(self) -> None:
        token = "A" * 100
        assert redact_text(token) == token


class TestRedactOrdinaryText:
    """Text with no personal data passes through unchanged."""

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "batch of 20 messages committed in 3.5 ms",
            "yida/hik-isapi/34020000001320000001: unknown_code",
            '{"eventType": "AccessControllerEvent", "doorNo": 1, "serialNo": 4567}',
            "门禁设备离线，请检查网络",
        ],
    )
    def test_text_is_untouched(self, text: str) -> None:
        assert redact_text(text) == text
