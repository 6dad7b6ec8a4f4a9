"""What a picture's URL may be once stored: the one rule, for every dialect, coded or mapped.

Devices send picture URLs carrying more than a reference: the camera's admin login
(`http://admin:secret@10.0.0.1/v.jpg`), a person's name or ID number in the query string
(`?name=%E6%AC%A7...&id=4301...`) or path (`/欧阳锋.jpg`), script URLs, inline images. The screen
(`schemas.screening`) calls `judge_image_url` on every event's `image_url`, so adapters pass the
vendor's string through untouched, and what it decides is:

- Only `http` and `https` URLs with a host are references; anything else (`data:`,
  `javascript:`, `ftp:`, a device-local path, control characters, an invalid port) is dropped
  as `not_a_url`.
- The user information (`user:password@`) is removed, never stored.
- The query string and the fragment are removed: vendors put personal fields there (names,
  ID and phone numbers, under keys nobody can list), and a name cannot be recognised in any
  encoding. What is kept is `scheme://host[:port]/path`; a picture addressed only by its query
  (`/pic?id=...`) is then not fetchable from the stored URL, which is the price of storing no
  personal field.
- A path that reads as non-ASCII text, raw or percent-encoded (in UTF-8 or any other
  encoding), is dropped as `non_ascii_path`: in these deployments such a path segment is most
  often a person's name (`/抓拍/欧阳锋.jpg`), which no check can tell from a place's. An ASCII
  path is kept (pinyin cannot be told from a file name either; that is the limit of this
  rule), with spaces and other characters outside RFC 3986's set percent-encoded.
- A host or path holding an ID or mobile number (`schemas.identifiers.looks_like_personal_number`)
  is dropped as `pii_in_identifier`; vendors do name snapshots after the user's phone. The path
  is judged as written and at every step of percent-decoding it (up to four), since a reader
  may stop at any: `%2531` hides a `1` until decoded, and `%13912345678` shows a mobile only
  until `%13` decodes to a control character.
- A path that percent-decodes to control characters (`%0D%0A`, `%00`) is dropped as
  `not_a_url`, like the same characters written raw.
- The kept URL is at most `MAX_IMAGE_URL` characters (`too_long` otherwise).

A URL is never a reason to lose the event: what is dropped is the picture, listed in the event's
`dropped_fields` and counted. A blank string is no picture: None, not a drop. Judging a kept URL
again keeps it unchanged.
"""

import re
from typing import Final, Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from schemas.identifiers import looks_like_personal_number

MAX_IMAGE_URL: Final = 2048
SCHEMES: Final = frozenset({"http", "https"})

ImageUrlDropReason = Literal["not_a_url", "non_ascii_path", "pii_in_identifier", "too_long"]
"""Why an event lost its picture URL: labels of `scgw_event_fields_dropped_total`."""

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""Control characters and line breaks inside a URL: a log-line or header injection, not a URL."""
_HOST: Final = re.compile(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")
"""A host name or IPv4 address in ASCII, or a bracketed IPv6 address."""
_PATH_SAFE: Final = "/:@!$&'()*+,;=-._~%"
"""What stays as it is in a path: RFC 3986's path characters, and `%` (already encoded)."""
_MAX_DECODING: Final = 4
_PLAIN: Final = re.compile(
    r"https?://([A-Za-z0-9.-]{1,253})(?::([1-9][0-9]{0,4}))?"
    r"((?:/[A-Za-z0-9/:@!$&'()*+,;=._~-]*)?)"
)
"""A URL already in the form the screen keeps: lower-case scheme, ASCII host, a canonical port,
a path of RFC 3986 characters without `%`, no login, query or fragment. Cameras send these."""
_MAX_PORT: Final = 65_535


def judge_image_url(text: str) -> tuple[str | None, ImageUrlDropReason | None]:
    """The URL an event keeps of `text` (None when it keeps none), and the reason for a drop."""
    text = text.strip()
    if not text:
        return None, None
    if len(text) > 4 * MAX_IMAGE_URL:  # no parsing of megabytes: it cannot shrink that much
        return None, "too_long"
    plain = _PLAIN.fullmatch(text)
    if plain is not None and int(plain[2] or 0) <= _MAX_PORT:
        return _judge_plain(text, plain[1], plain[3])
    if _CONTROL.search(text):
        return None, "not_a_url"
    try:
        parts = urlsplit(text)
        port = parts.port  # raises for a port that is not a number in 0-65535
        path = quote(parts.path, safe=_PATH_SAFE, errors="strict")
    except (ValueError, UnicodeEncodeError):  # an unbalanced IPv6 bracket, a lone surrogate
        return None, "not_a_url"
    host = parts.netloc.rpartition("@")[2]  # cameras often embed their admin login
    if port is not None:
        host = host.rpartition(":")[0]
    if parts.scheme.lower() not in SCHEMES or not _HOST.fullmatch(host):
        return None, "not_a_url"
    readings = _readings(path)
    if looks_like_personal_number(host) or any(map(looks_like_personal_number, readings)):
        return None, "pii_in_identifier"
    if any(_CONTROL.search(reading) for reading in readings):
        return None, "not_a_url"
    if not readings[-1].isascii():
        return None, "non_ascii_path"
    netloc = host if port is None else f"{host}:{port}"
    url = urlunsplit((parts.scheme.lower(), netloc, path, "", ""))
    if len(url) > MAX_IMAGE_URL:
        return None, "too_long"
    return url, None


def _judge_plain(url: str, host: str, path: str) -> tuple[str | None, ImageUrlDropReason | None]:
    """`judge_image_url` of a URL `_PLAIN` matched: what the full parse would decide, without
    it. Such a URL is its own kept form (nothing to remove or encode) and its path its only
    reading (no `%` to decode, no control or non-ASCII character), so only the personal-number
    checks and the length remain."""
    if looks_like_personal_number(host) or looks_like_personal_number(path):
        return None, "pii_in_identifier"
    if len(url) > MAX_IMAGE_URL:
        return None, "too_long"
    return url, None


def _readings(path: str) -> list[str]:
    """`path` as written and at each step of percent-decoding it until it stops changing: what
    a person or program reading it may see, the last being the fully decoded path."""
    readings = [path]
    for _ in range(_MAX_DECODING):
        decoded = unquote(readings[-1], errors="replace")
        if decoded == readings[-1]:
            break
        readings.append(decoded)
    return readings
