"""Specification of keyed hashing and masking (`schemas.privacy`)."""

import hashlib
import hmac
import re
from datetime import UTC, datetime

import pytest

from adapters.access_cloud import AccessCloudAdapter
from adapters.base import Adapter, RawMessage
from adapters.hik_isapi import HikIsapiAdapter
from schemas.codes import CredentialKind
from schemas.events import AccessEvent
from schemas.privacy import (
    CREDENTIAL_NAMESPACES,
    Pseudonymizer,
    credential_ref,
    hash_id_number,
    mask_id_number,
    mask_name,
    mask_phone,
    subject_key,
)
from tests.adapters.support import Fixtures

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

    @pytest.mark.parametrize("key", [KEY, "k" * 64, "长" * 30, "x" * 200])
    def test_hash_is_hmac_sha256_of_namespace_and_value(self, key: str) -> None:
        message = f"card\x1f{ID_NUMBER}".encode()
        expected = hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:32]
        assert Pseudonymizer(key).hash("card", ID_NUMBER) == "h1:" + expected

    @pytest.mark.parametrize("key", ["", "short", "x" * 15])
    def test_keys_shorter_than_16_characters_are_refused(self, key: str) -> None:
        with pytest.raises(ValueError, match="at least 16"):
            Pseudonymizer(key)

    def test_a_16_character_key_is_accepted(self) -> None:
        assert Pseudonymizer("k" * 16).hash("card", "1").startswith("h1:")


class TestMaskIdNumber:
    """An ID number shows its kind's prefix and tail, never most of a short number."""

    def test_18_digit_number_keeps_region_and_last_four(self) -> None:
        assert mask_id_number(ID_NUMBER) == "430112********1234"

    def test_check_digit_x_is_kept_as_the_last_character(self) -> None:
        assert mask_id_number(ID_NUMBER_X) == "430112********123X"

    def test_15_digit_number_keeps_region_and_last_three(self) -> None:
        assert mask_id_number(LEGACY_ID_NUMBER) == "430112******123"

    def test_mask_keeps_the_length(self) -> None:
        assert len(mask_id_number(ID_NUMBER)) == len(ID_NUMBER)

    @pytest.mark.parametrize(
        ("value", "masked"),
        [
            ("H0123456789", "H********89"),
            ("E12345678", "E******78"),
            ("1234567890", "1*******90"),
            ("123456", "1***56"),
            ("1234", "1**4"),
            ("123", "1**"),
            ("12", "1*"),
            ("1", "*"),
            ("", ""),
        ],
    )
    def test_other_lengths_keep_the_first_and_last_two(self, value: str, masked: str) -> None:
        assert mask_id_number(value) == masked

    @pytest.mark.parametrize("length", [*range(0, 15), 16, 17, *range(19, 40)])
    def test_at_least_half_of_other_lengths_is_masked(self, length: int) -> None:
        assert mask_id_number("A" * length).count("*") * 2 >= length


class TestMaskPhone:
    """A phone number shows only its first three and last four digits."""

    def test_mobile_number_keeps_prefix_and_last_four(self) -> None:
        assert mask_phone(PHONE) == "138****5678"

    @pytest.mark.parametrize("value", ["", "123", "123456"])
    def test_short_values_are_masked_entirely(self, value: str) -> None:
        assert mask_phone(value) == "*" * len(value)


class TestMaskName:
    """One name mask: two characters keep the first, longer names keep the first and last."""

    @pytest.mark.parametrize(
        ("name", "masked"),
        [
            ("张三", "张*"),
            ("雷小琴", "雷*琴"),
            ("欧阳小锋", "欧**锋"),
            ("诸葛孔明亮", "诸***亮"),
            ("阿卜杜·热合曼", "阿*****曼"),
            ("Li", "L*"),
            ("SMITH JOHN", "S********N"),
        ],
    )
    def test_the_issue_s_rule(self, name: str, masked: str) -> None:
        assert mask_name(name) == masked

    def test_a_masked_name_keeps_its_length(self) -> None:
        for name in ("王伟", "李建国", "欧阳小锋", "买买提·艾力"):
            masked = mask_name(name)
            assert masked is not None and len(masked) == len(name)

    def test_one_character_is_masked_entirely(self) -> None:
        assert mask_name("张") == "*"

    def test_surrounding_blanks_are_not_characters_of_the_name(self) -> None:
        assert mask_name("  王伟 ") == "王*"
        assert mask_name("\t雷小琴\n") == "雷*琴"

    @pytest.mark.parametrize("name", [None, "", "   ", "\u3000"])
    def test_no_name_gives_none(self, name: str | None) -> None:
        assert mask_name(name) is None

    def test_the_middle_never_shows(self) -> None:
        masked = mask_name("欧阳小锋")
        assert masked is not None and "阳" not in masked and "小" not in masked


KEY = "privacy-test-key-0123456789"
CREDENTIAL_KEY = "test-key-0123456789abcdef"
RECEIVED = datetime.now(UTC)
HIK = Fixtures.of("hik_isapi")
ACCESS_CLOUD = Fixtures.of("access_cloud")


def parsed_credential(adapter: Adapter, dialect: str, device_id: str, payload: bytes) -> str:
    """The credential hash an adapter stores for a fixture payload."""
    topic = f"yida/{dialect}/{device_id}"
    (event,) = adapter.parse(RawMessage(topic, payload, RECEIVED, "yida", device_id))
    assert isinstance(event, AccessEvent) and event.credential is not None
    return event.credential


class TestCredentialRef:
    """An imported credential hashes exactly like the same credential read by a device."""

    pseudonymizer = Pseudonymizer(CREDENTIAL_KEY)

    def hik(self, payload: bytes) -> str:
        adapter = HikIsapiAdapter(self.pseudonymizer)
        return parsed_credential(adapter, "hik-isapi", "43011200001320000001", payload)

    def cloud(self, payload: bytes) -> str:
        adapter = AccessCloudAdapter(self.pseudonymizer)
        return parsed_credential(adapter, "access-cloud", "34020000001320000301", payload)

    def test_a_hik_card_read(self) -> None:
        document = HIK.document("card_granted")
        card = document["AccessControllerEvent"]["cardNo"]
        assert self.hik(HIK.payload("card_granted")) == credential_ref(
            self.pseudonymizer, "card", card
        )

    def test_a_hik_face_match_by_employee_number(self) -> None:
        employee = HIK.document("face_verified")["AccessControllerEvent"]["employeeNoString"]
        assert self.hik(HIK.payload("face_verified")) == credential_ref(
            self.pseudonymizer, "employee_no", employee
        )

    def test_an_access_cloud_card_read(self) -> None:
        card = ACCESS_CLOUD.document("card_granted")["cardNo"]
        assert self.cloud(ACCESS_CLOUD.payload("card_granted")) == credential_ref(
            self.pseudonymizer, "card", card
        )

    def test_the_same_card_at_both_vendors_is_one_credential(self) -> None:
        assert self.cloud(ACCESS_CLOUD.payload("card_granted")) == self.hik(
            HIK.payload("card_granted")
        )

    def test_an_access_cloud_id_card_opening(self) -> None:
        number = ACCESS_CLOUD.document("id_card")["idCardNo"]
        expected = credential_ref(self.pseudonymizer, "id_number", number.lower())
        assert self.cloud(ACCESS_CLOUD.payload("id_card")) == expected
        assert expected == hash_id_number(self.pseudonymizer, number)

    def test_an_access_cloud_face_match_by_user_id(self) -> None:
        user = ACCESS_CLOUD.document("face_granted")["userId"]
        assert self.cloud(ACCESS_CLOUD.payload("face_granted")) == credential_ref(
            self.pseudonymizer, "cloud_user", user
        )

    @pytest.mark.parametrize(
        ("kind", "namespace"),
        [
            ("card", "card"),
            ("employee_no", "employee"),
            ("cloud_user", "cloud-user"),
            ("id_number", "id_number"),
        ],
    )
    def test_each_kind_keeps_the_namespace_stored_hashes_use(
        self, kind: CredentialKind, namespace: str
    ) -> None:
        assert CREDENTIAL_NAMESPACES[kind] == namespace
        assert credential_ref(self.pseudonymizer, kind, "88010086") == self.pseudonymizer.hash(
            namespace, "88010086"
        )

    def test_kinds_never_join(self) -> None:
        refs = {
            credential_ref(self.pseudonymizer, kind, "88010086") for kind in CREDENTIAL_NAMESPACES
        }
        assert len(refs) == len(CREDENTIAL_NAMESPACES)

    def test_blanks_around_a_value_are_not_part_of_it(self) -> None:
        assert credential_ref(self.pseudonymizer, "card", " 3188542196\t") == credential_ref(
            self.pseudonymizer, "card", "3188542196"
        )

    def test_only_id_numbers_ignore_case(self) -> None:
        ref = credential_ref
        assert ref(self.pseudonymizer, "id_number", "43011219900101123x") == ref(
            self.pseudonymizer, "id_number", "43011219900101123X"
        )
        assert ref(self.pseudonymizer, "cloud_user", "u2026") != ref(
            self.pseudonymizer, "cloud_user", "U2026"
        )


class TestSubjectKey:
    """A stable pseudonym per credential hash and community, unlinkable across communities."""

    ref = Pseudonymizer(KEY).hash("card", "3188542196")

    def test_it_is_stable(self) -> None:
        assert subject_key("yida", self.ref) == subject_key("yida", self.ref)

    def test_the_form_is_prefixed_hex(self) -> None:
        assert re.fullmatch(r"s1:[0-9a-f]{32}", subject_key("yida", self.ref))

    def test_it_is_scoped_to_the_community(self) -> None:
        assert subject_key("yida", self.ref) != subject_key("jiaxin", self.ref)

    def test_another_ref_is_another_subject(self) -> None:
        other = Pseudonymizer(KEY).hash("card", "3188542197")
        assert subject_key("yida", self.ref) != subject_key("yida", other)

    def test_it_reveals_neither_the_ref_nor_the_credential(self) -> None:
        key = subject_key("yida", self.ref)
        assert self.ref[3:] not in key and "3188542196" not in key and key != self.ref

    def test_community_and_ref_cannot_be_shifted_into_each_other(self) -> None:
        assert subject_key("yida", "track:a") != subject_key("yida\x1ftrack:a", "")

    def test_a_stranger_track_has_its_own_subject(self) -> None:
        track = subject_key("yida", "track:43011200001310000001:77")
        assert track != subject_key("yida", "track:43011200001310000001:78")
