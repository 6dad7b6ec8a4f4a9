"""Request signatures to the grid platform: HMAC-SHA256 over method, target, timestamp, body."""

import subprocess
import time

import pytest

from gateway.signing import MAX_SKEW_S, sign, signed_headers, signing_text, verify

SECRET = "a-shared-secret-of-32-characters-or-more"
TARGET = "/scgw/tickets/gp-000001/updates?v=1"
BODY = '{"type":"cancelled","comment":"误报"}'.encode()


class TestSign:
    """`sign` is the lowercase hex HMAC-SHA256 the contract describes."""

    def test_matches_openssl_over_the_documented_text(self) -> None:
        """openssl, an implementation we did not write, computes the same digest."""
        stamp = int(time.time())
        text = f"POST\n{TARGET}\n{stamp}\n".encode() + BODY
        assert signing_text("post", TARGET, stamp, BODY) == text
        digest = subprocess.run(
            ["openssl", "dgst", "-sha256", "-hmac", SECRET, "-r"],
            input=text,
            capture_output=True,
            check=True,
        ).stdout.split()[0]
        assert sign(SECRET, "POST", TARGET, stamp, BODY) == digest.decode()

    def test_is_lowercase_hex_of_64_digits(self) -> None:
        """The signature header value is 64 lowercase hex digits."""
        value = signed_headers(SECRET, "POST", TARGET, 1_700_000_000, BODY)["X-Scgw-Signature"]
        assert len(value) == 64 and value == value.lower() and int(value, 16) >= 0


class TestVerify:
    """`verify` accepts a good, fresh signature and names what is wrong with any other."""

    def check(
        self, *, target: str = TARGET, body: bytes = BODY, skew: int = 0, **kw: str
    ) -> str | None:
        now = time.time()
        headers = signed_headers(SECRET, "POST", TARGET, int(now) + skew, BODY)
        return verify(
            kw.get("secret", SECRET),
            "POST",
            target,
            kw.get("timestamp", headers["X-Scgw-Timestamp"]),
            kw.get("signature", headers["X-Scgw-Signature"]),
            body,
            now,
        )

    def test_accepts_a_good_signature_within_the_window(self) -> None:
        """A signature made now, or up to 300 s either side, is accepted."""
        assert self.check() is None
        assert self.check(skew=MAX_SKEW_S - 1) is None
        assert self.check(skew=-(MAX_SKEW_S - 1)) is None

    @pytest.mark.parametrize("skew", [MAX_SKEW_S + 2, -(MAX_SKEW_S + 2), -86_400])
    def test_refuses_a_timestamp_beyond_300_s(self, skew: int) -> None:
        """A correctly signed request from too far in the past or future is stale."""
        assert self.check(skew=skew) == "stale_timestamp"

    def test_refuses_another_secret(self) -> None:
        """A signature under another secret is bad."""
        assert self.check(secret=SECRET + "x") == "bad_signature"

    @pytest.mark.parametrize(
        "target",
        ["/tickets/gp-000001/updates?v=1", "/scgw/tickets/gp-000001/updates", "/scgw/tickets"],
    )
    def test_covers_the_path_prefix_and_the_query(self, target: str) -> None:
        """The same body sent to another target (prefix or query changed) is refused."""
        assert self.check(target=target) == "bad_signature"

    def test_covers_the_body(self) -> None:
        """One byte changed in the body breaks the signature."""
        assert self.check(body=BODY.replace(b"cancelled", b"cancelleD")) == "bad_signature"

    def test_refuses_a_missing_or_malformed_header(self) -> None:
        """Missing headers and a timestamp that is not unix seconds are named."""
        assert verify(SECRET, "POST", TARGET, None, "00", BODY, time.time()) == "missing_signature"
        assert self.check(timestamp="2026-01-01T00:00:00Z") == "bad_timestamp"
        assert self.check(timestamp="-5") == "bad_timestamp"

    def test_a_bad_signature_is_reported_before_a_stale_timestamp(self) -> None:
        """An unsigned caller learns nothing about the receiver's clock."""
        assert self.check(skew=10_000, secret="other-secret") == "bad_signature"
