"""Specification of keyed hashing and masking (`schemas.privacy`)."""

import re

import pytest

from schemas.privacy import Pseudonymizer, mask_id_number, mask_phone

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
