"""Specification of personal-data handling (`gateway.privacy`): hashes, masks and redaction."""

import json
import re

import pytest

from gateway.privacy import Pseudonymizer, mask_id_number, mask_phone, redact_text

KEY = "privacy-test-key-0123456789"
ID_NUMBER = "430112199001011234"
ID_NUMBER_X = "43011219900101123X"
LEGACY_ID_NUMBER = "430112900101123"
PHONE = "13812345678"


class TestPseudonymizer:
    """Identifiers become stable keyed hashes that join within a namespace and reverse nowhere."""

    def test_equal_inputs_give_equal_hashes(self) -> None:
        first = Pseudonymizer(KEY).hash("card", "3188542196")
        second = Pseudonymizer(KEY).hash("card", "3188542196")
        assert first == second

    def test_different_values_give_different_hashes(self) -> None:
        pseudonymizer = Pseudonymizer(KEY)
        assert pseudonymizer.hash("card", "3188542196") != pseudonymizer.hash("card", "3188542197")

    def test_namespaces_never_join(self) -> None:
        pseudonymizer = Pseudonymizer(KEY)
        assert pseudonymizer.hash("card", "88010086") != pseudonymizer.hash("employee", "88010086")

    def test_namespace_and_value_cannot_be_shifted_into_each_other(self) -> None:
        pseudonymizer = Pseudonymizer(KEY)
        assert pseudonymizer.hash("card", "1x") != pseudonymizer.hash("card1", "x")

    def test_hash_depends_on_the_key(self) -> None:
        other = Pseudonymizer("another-key-0123456789abc")
        assert Pseudonymizer(KEY).hash("card", "3188542196") != other.hash("card", "3188542196")

    def test_hash_is_prefixed_fixed_length_hex(self) -> None:
        digest = Pseudonymizer(KEY).hash("id_number", ID_NUMBER)
        assert re.fullmatch(r"h1:[0-9a-f]{32}", digest)

    def test_hash_never_contains_the_raw_value(self) -> None:
        pseudonymizer = Pseudonymizer(KEY)
        for value in (ID_NUMBER, PHONE, "3188542196", "张三"):
            digest = pseudonymizer.hash("any", value)
            assert value not in digest

    @pytest.mark.parametrize("key", ["", "short", "x" * 15])
    def test_keys_shorter_than_16_characters_are_refused(self, key: str) -> None:
        with pytest.raises(ValueError, match="at least 16"):
            Pseudonymizer(key)

    def test_a_16_character_key_is_accepted(self) -> None:
        assert Pseudonymizer("k" * 16).hash("card", "1").startswith("h1:")


class TestMaskIdNumber:
    """An ID number shows only its region prefix and its last four characters."""

    def test_18_digit_number_keeps_region_and_last_four(self) -> None:
        assert mask_id_number(ID_NUMBER) == "430112********1234"

    def test_check_digit_x_is_kept_as_the_last_character(self) -> None:
        assert mask_id_number(ID_NUMBER_X) == "430112********123X"

    def test_15_digit_number_keeps_region_and_last_four(self) -> None:
        assert mask_id_number(LEGACY_ID_NUMBER) == "430112*****1123"

    def test_mask_keeps_the_length(self) -> None:
        assert len(mask_id_number(ID_NUMBER)) == len(ID_NUMBER)

    @pytest.mark.parametrize("value", ["", "1", "1234567890"])
    def test_short_values_are_masked_entirely(self, value: str) -> None:
        assert mask_id_number(value) == "*" * len(value)


class TestMaskPhone:
    """A phone number shows only its first three and last four digits."""

    def test_mobile_number_keeps_prefix_and_last_four(self) -> None:
        assert mask_phone(PHONE) == "138****5678"

    @pytest.mark.parametrize("value", ["", "123", "123456"])
    def test_short_values_are_masked_entirely(self, value: str) -> None:
        assert mask_phone(value) == "*" * len(value)


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
