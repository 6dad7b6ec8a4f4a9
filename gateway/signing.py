"""The one place that signs requests to the grid platform and checks their signatures.

`X-Scgw-Signature` is the lowercase hex HMAC-SHA256, keyed with the shared secret, of
`METHOD + "\\n" + TARGET + "\\n" + TIMESTAMP + "\\n" + BODY`, where TARGET is the request
target exactly as sent (the base URL's path prefix included, the query string if any) and
TIMESTAMP is `X-Scgw-Timestamp`, unix seconds. The timestamp is signed so that a captured
request cannot be replayed later than `MAX_SKEW_S` from when it was made; the target is
signed so that a body cannot be moved to another ticket's URL. The forwarder signs, the
reference receiver verifies, and docs/platform-contract.md's worked example is checked
against `sign` by a test.
"""

import hashlib
import hmac
from typing import Final, Literal

TIMESTAMP_HEADER: Final = "X-Scgw-Timestamp"
SIGNATURE_HEADER: Final = "X-Scgw-Signature"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
MAX_SKEW_S: Final = 300
"""A request whose timestamp lies further than this from the receiver's clock is refused."""

SignatureProblem = Literal["missing_signature", "bad_timestamp", "stale_timestamp", "bad_signature"]


def signing_text(method: str, target: str, timestamp: int, body: bytes) -> bytes:
    """The bytes the signature covers."""
    head = f"{method.upper()}\n{target}\n{timestamp}\n".encode()
    return head + body


def sign(secret: str, method: str, target: str, timestamp: int, body: bytes) -> str:
    """The lowercase hex HMAC-SHA256 of the request under `secret`."""
    text = signing_text(method, target, timestamp, body)
    return hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, method: str, target: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The timestamp and signature headers of a request made at `timestamp`."""
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, method, target, timestamp, body),
    }


def verify(
    secret: str,
    method: str,
    target: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
) -> SignatureProblem | None:
    """What is wrong with a request's signature, or None when it is good and fresh.

    `timestamp` and `signature` are the request's header values (None when absent); `now` is
    the receiver's clock in unix seconds. The signature is compared in constant time, and
    checked before the timestamp's age so that an unsigned caller learns nothing about the
    receiver's clock.
    """
    if signature is None or timestamp is None:
        return "missing_signature"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "bad_timestamp"
    expected = sign(secret, method, target, int(timestamp), body)
    if not hmac.compare_digest(signature.strip().encode(), expected.encode()):
        return "bad_signature"
    if abs(now - int(timestamp)) > MAX_SKEW_S:
        return "stale_timestamp"
    return None
