"""Specification of sealing (`gateway.sealing`): AES-256-GCM under a key derived per purpose,
opened only by the same secret, purpose and associated data, and never once altered."""

import pytest

from gateway.sealing import Sealer, UnreadableSealError

SECRET = "sealing-test-secret-0123456789"
PURPOSE = b"scgw test purpose v1"
CONTEXT = b"field"
VALUE = "张三 13812345678".encode()
NONCE_BYTES = 12
TAG_BYTES = 16


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(SECRET, PURPOSE)


class TestSealer:
    """What one sealer seals, only a sealer of the same secret and purpose opens."""

    def test_a_sealed_value_opens_to_itself(self, sealer: Sealer) -> None:
        assert sealer.open(sealer.seal(VALUE, CONTEXT), CONTEXT) == VALUE

    def test_another_sealer_of_the_same_secret_and_purpose_opens_it(self, sealer: Sealer) -> None:
        assert Sealer(SECRET, PURPOSE).open(sealer.seal(VALUE, CONTEXT), CONTEXT) == VALUE

    def test_an_empty_value_round_trips(self, sealer: Sealer) -> None:
        assert sealer.open(sealer.seal(b"", CONTEXT), CONTEXT) == b""

    def test_the_form_is_version_nonce_ciphertext_and_tag(self, sealer: Sealer) -> None:
        sealed = sealer.seal(VALUE, CONTEXT)
        assert sealed[:1] == b"\x01"
        assert len(sealed) == 1 + NONCE_BYTES + len(VALUE) + TAG_BYTES
        assert VALUE not in sealed

    def test_each_seal_of_the_same_value_differs(self, sealer: Sealer) -> None:
        assert sealer.seal(VALUE, CONTEXT) != sealer.seal(VALUE, CONTEXT)

    def test_another_secret_does_not_open_it(self, sealer: Sealer) -> None:
        other = Sealer("another-secret-0123456789abcdef", PURPOSE)
        with pytest.raises(UnreadableSealError):
            other.open(sealer.seal(VALUE, CONTEXT), CONTEXT)

    def test_another_purpose_does_not_open_it(self, sealer: Sealer) -> None:
        other = Sealer(SECRET, b"scgw another purpose v1")
        with pytest.raises(UnreadableSealError):
            other.open(sealer.seal(VALUE, CONTEXT), CONTEXT)

    def test_other_associated_data_does_not_open_it(self, sealer: Sealer) -> None:
        with pytest.raises(UnreadableSealError):
            sealer.open(sealer.seal(VALUE, CONTEXT), b"another field")

    def test_every_altered_byte_is_detected(self, sealer: Sealer) -> None:
        sealed = sealer.seal(VALUE, CONTEXT)
        for index in range(len(sealed)):
            altered = bytearray(sealed)
            altered[index] ^= 0x01
            with pytest.raises(UnreadableSealError):
                sealer.open(bytes(altered), CONTEXT)

    @pytest.mark.parametrize("keep", [0, 1, 1 + NONCE_BYTES, 1 + NONCE_BYTES + TAG_BYTES - 1])
    def test_a_truncated_value_is_unreadable(self, sealer: Sealer, keep: int) -> None:
        sealed = sealer.seal(VALUE, CONTEXT)
        with pytest.raises(UnreadableSealError):
            sealer.open(sealed[:keep], CONTEXT)

    def test_a_value_of_another_version_is_unreadable(self, sealer: Sealer) -> None:
        sealed = sealer.seal(VALUE, CONTEXT)
        with pytest.raises(UnreadableSealError, match="version"):
            sealer.open(b"\x02" + sealed[1:], CONTEXT)
