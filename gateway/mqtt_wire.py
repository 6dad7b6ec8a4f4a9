"""MQTT 3.1.1 and 5 on the wire: the packets the gateway's subscriber sends and receives.

Pure functions over bytes, no I/O, so every packet can be tested and fuzzed on its own
(`gateway.mqtt` does the talking). Only what a QoS 1 subscriber needs is here: CONNECT,
CONNACK, SUBSCRIBE, SUBACK, PUBLISH (QoS 0/1; `encode_publish` exists for tests and
benchmarks), PUBACK, PINGREQ, PINGRESP and DISCONNECT. Input that breaks the protocol, however
it is broken, raises `ProtocolError` and nothing else: the subscriber then drops the
connection and the ingest loop reconnects, so a hostile or buggy broker can never crash it.

MQTT 5 properties of a PUBLISH are skipped unread (the gateway needs none of them); those of
CONNACK, SUBACK and DISCONNECT are parsed, for the server's keepalive and its reasons.
"""

import struct
from dataclasses import dataclass

PROTOCOL_V311 = 4
PROTOCOL_V5 = 5

CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
PUBREC = 5
PUBREL = 6
PUBCOMP = 7
SUBSCRIBE = 8
SUBACK = 9
UNSUBSCRIBE = 10
UNSUBACK = 11
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14
AUTH = 15

MAX_REMAINING_LENGTH = 268_435_455
"""The protocol's own limit (four length bytes). The subscriber accepts any message up to it:
an oversized payload must reach the pipeline, which counts it as a `too_large` dead letter. A
smaller limit would drop the connection on it, and the broker would redeliver it forever."""

PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"  # 3.1.1, and MQTT 5's "normal disconnection" in short form

SESSION_EXPIRY_INTERVAL = 0x11
SERVER_KEEP_ALIVE = 0x13
RECEIVE_MAXIMUM = 0x21
REASON_STRING = 0x1F

_BYTE, _TWO, _FOUR, _VARINT, _TEXT, _BINARY, _PAIR = range(7)
_PROPERTY_TYPES = {
    0x01: _BYTE,  # payload format indicator
    0x02: _FOUR,  # message expiry interval
    0x03: _TEXT,  # content type
    0x08: _TEXT,  # response topic
    0x09: _BINARY,  # correlation data
    0x0B: _VARINT,  # subscription identifier
    0x11: _FOUR,  # session expiry interval
    0x12: _TEXT,  # assigned client identifier
    0x13: _TWO,  # server keep alive
    0x15: _TEXT,  # authentication method
    0x16: _BINARY,  # authentication data
    0x17: _BYTE,  # request problem information
    0x18: _FOUR,  # will delay interval
    0x19: _BYTE,  # request response information
    0x1A: _TEXT,  # response information
    0x1C: _TEXT,  # server reference
    0x1F: _TEXT,  # reason string
    0x21: _TWO,  # receive maximum
    0x22: _TWO,  # topic alias maximum
    0x23: _TWO,  # topic alias
    0x24: _BYTE,  # maximum QoS
    0x25: _BYTE,  # retain available
    0x26: _PAIR,  # user property
    0x27: _FOUR,  # maximum packet size
    0x28: _BYTE,  # wildcard subscription available
    0x29: _BYTE,  # subscription identifier available
    0x2A: _BYTE,  # shared subscription available
}

CONNECT_REFUSALS_V311 = {
    1: "unacceptable protocol version",
    2: "identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}
REASONS_V5 = {
    0x80: "unspecified error",
    0x81: "malformed packet",
    0x82: "protocol error",
    0x83: "implementation specific error",
    0x84: "unsupported protocol version",
    0x85: "client identifier not valid",
    0x86: "bad user name or password",
    0x87: "not authorized",
    0x88: "server unavailable",
    0x89: "server busy",
    0x8A: "banned",
    0x8B: "server shutting down",
    0x8D: "keep alive timeout",
    0x8E: "session taken over",
    0x8F: "topic filter invalid",
    0x93: "receive maximum exceeded",
    0x95: "packet too large",
    0x97: "quota exceeded",
    0x98: "administrative action",
    0x9C: "use another server",
    0x9D: "server moved",
    0x9E: "shared subscriptions not supported",
    0x9F: "connection rate exceeded",
    0xA1: "subscription identifiers not supported",
    0xA2: "wildcard subscriptions not supported",
}


class ProtocolError(Exception):
    """The peer sent bytes that are not the MQTT we speak: the connection cannot go on."""


Publish = tuple[bytes, bytes, int, int, bool]
"""An application message as delivered: (topic, payload, QoS, packet id (0 at QoS 0), retain).
A plain tuple, because it is made once per message; the topic stays bytes until the caller
decodes it (`topic_text`)."""


@dataclass(frozen=True, slots=True)
class ConnAck:
    session_present: bool
    reason_code: int
    """0 is success; 3.1.1 return codes 1–5, MQTT 5 reason codes from 0x80."""
    properties: dict[int, object]

    @property
    def refused(self) -> bool:
        return self.reason_code != 0

    def reason(self, protocol: int) -> str:
        """The refusal in words, with the server's reason string if it sent one."""
        table = REASONS_V5 if protocol == PROTOCOL_V5 else CONNECT_REFUSALS_V311
        words = table.get(self.reason_code, "refused")
        text = f"{words} (code {self.reason_code:#04x})"
        detail = self.properties.get(REASON_STRING)
        return f"{text}: {detail}" if detail else text


@dataclass(frozen=True, slots=True)
class SubAck:
    packet_id: int
    reason_codes: tuple[int, ...]
    """Per filter: the granted QoS (0–2), or a failure code (0x80 and above)."""


@dataclass(frozen=True, slots=True)
class Disconnect:
    reason_code: int
    properties: dict[int, object]

    def reason(self) -> str:
        words = REASONS_V5.get(self.reason_code, "disconnected")
        text = f"{words} (code {self.reason_code:#04x})"
        detail = self.properties.get(REASON_STRING)
        return f"{text}: {detail}" if detail else text


# -- framing --------------------------------------------------------------------------------

Frame = tuple[int, memoryview]
"""A complete packet: its first byte (type << 4 | flags) and its body (the remaining length)."""


class FrameReader:
    """Cuts a byte stream into packets; a partial packet waits for the bytes that complete it.

    The common case costs no copy: a read that holds only whole packets is sliced in place
    (`memoryview`). Bytes that end in a partial packet are kept, and joined to what follows
    only once enough has arrived to complete it, so a large packet arriving in many reads is
    copied once, not once per read. `frames(limit)` hands out at most `limit` packets; the
    rest stay here, already read, until asked for: that is how the subscriber bounds its
    buffer without losing anything.
    """

    __slots__ = ("_data", "_max_remaining", "_need", "_pos", "_tail")

    def __init__(self, max_remaining_length: int = MAX_REMAINING_LENGTH) -> None:
        self._data = b""
        self._pos = 0
        self._tail = bytearray()
        self._need = 0
        self._max_remaining = max_remaining_length

    @property
    def buffered(self) -> int:
        """Bytes read but not yet handed out."""
        return len(self._data) - self._pos + len(self._tail)

    def feed(self, data: bytes) -> None:
        if self._pos >= len(self._data) and not self._tail:
            self._data = data
            self._pos = 0
        else:
            self._tail += data

    def frames(self, limit: int) -> list[Frame]:
        """Up to `limit` complete packets, in stream order; raises ProtocolError on a malformed
        length or a packet over the size limit."""
        if self._tail:
            if len(self._data) - self._pos + len(self._tail) < self._need:
                return []
            self._data = self._data[self._pos :] + self._tail
            self._tail = bytearray()
            self._pos = 0
        data = self._data
        view = memoryview(data)
        end = len(data)
        pos = self._pos
        out: list[Frame] = []
        while len(out) < limit and end - pos >= 2:
            # Remaining length: 1–4 bytes, 7 bits each, least significant first.
            byte = data[pos + 1]
            if byte < 0x80:
                length = byte
                start = pos + 2
            elif end - pos > 2 and data[pos + 2] < 0x80:  # most messages: 128 B – 16 KiB
                length = (byte & 0x7F) | data[pos + 2] << 7
                start = pos + 3
            else:
                length, start = _long_remaining_length(data, pos + 1, end)
                if start < 0:  # the length itself is incomplete
                    self._need = end - pos + 1
                    break
            if start == 0 or length > self._max_remaining:
                if out:  # hand out the good packets first; the next call raises
                    self._need = 2
                    break
                if start == 0:
                    raise ProtocolError("remaining length longer than four bytes")
                raise ProtocolError(f"packet of {length} bytes over the limit")
            stop = start + length
            if stop > end:
                self._need = stop - pos
                break
            out.append((data[pos], view[start:stop]))
            pos = stop
        else:
            self._need = 0 if pos >= end else 2
        self._pos = pos
        return out


def _long_remaining_length(data: bytes, index: int, end: int) -> tuple[int, int]:
    """A remaining length of two to four bytes at `index`: (length, where the body starts),
    (0, -1) when the stream ends inside it, (0, 0) when it runs over four bytes."""
    length = 0
    for shift in (0, 7, 14, 21):
        if index >= end:
            return 0, -1
        byte = data[index]
        index += 1
        length |= (byte & 0x7F) << shift
        if byte < 0x80:
            return length, index
    return 0, 0  # malformed: longer than four bytes


# -- encoding -------------------------------------------------------------------------------


def encode_varint(value: int) -> bytes:
    """MQTT's variable byte integer (remaining length, property lengths)."""
    if not 0 <= value <= MAX_REMAINING_LENGTH:
        raise ValueError(f"{value} does not fit a variable byte integer")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _text(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    if len(raw) > 0xFFFF:
        raise ValueError("a string field holds at most 65535 bytes")
    return len(raw).to_bytes(2, "big") + raw


def _packet(first_byte: int, body: bytes) -> bytes:
    return bytes((first_byte,)) + encode_varint(len(body)) + body


def encode_connect(
    client_id: str,
    *,
    protocol: int,
    keepalive_s: int,
    username: str | None = None,
    password: str | None = None,
    session_expiry_s: int = 0,
    receive_maximum: int = 65535,
) -> bytes:
    """CONNECT for a persistent session: clean session off (3.1.1), or clean start off with a
    session expiry and a Receive Maximum (MQTT 5)."""
    if protocol not in (PROTOCOL_V311, PROTOCOL_V5):
        raise ValueError(f"unknown protocol level {protocol}")
    if not 0 <= keepalive_s <= 0xFFFF:
        raise ValueError("keepalive must fit two bytes")
    flags = 0  # clean session / clean start off: resume what the broker kept
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    body = bytearray(_text("MQTT"))
    body += bytes((protocol, flags)) + keepalive_s.to_bytes(2, "big")
    if protocol == PROTOCOL_V5:
        if not 1 <= receive_maximum <= 0xFFFF:
            raise ValueError("receive maximum must be 1–65535")
        properties = (
            bytes((SESSION_EXPIRY_INTERVAL,))
            + session_expiry_s.to_bytes(4, "big")
            + bytes((RECEIVE_MAXIMUM,))
            + receive_maximum.to_bytes(2, "big")
        )
        body += encode_varint(len(properties)) + properties
    body += _text(client_id)
    if username is not None:
        body += _text(username)
    if password is not None:
        body += _text(password)
    return _packet(CONNECT << 4, bytes(body))


def encode_subscribe(packet_id: int, filters: list[str], qos: int, *, protocol: int) -> bytes:
    """One SUBSCRIBE for every filter, at `qos` (MQTT 5 options otherwise left at defaults:
    retained messages are sent on subscribing, own messages are not suppressed)."""
    if not 1 <= packet_id <= 0xFFFF:
        raise ValueError("packet identifiers are 1–65535")
    if not filters:
        raise ValueError("SUBSCRIBE needs at least one filter")
    body = bytearray(packet_id.to_bytes(2, "big"))
    if protocol == PROTOCOL_V5:
        body.append(0)  # no properties
    for topic_filter in filters:
        body += _text(topic_filter) + bytes((qos,))
    return _packet(SUBSCRIBE << 4 | 0x02, bytes(body))


_PUBACK = struct.Struct(">HH")


def encode_pubacks(packet_ids: list[int]) -> bytes:
    """The PUBACKs for these messages, in this order, as one buffer for one write (the short
    form, valid in 3.1.1 and MQTT 5, where it means success)."""
    return struct.pack(f">{len(packet_ids)}I", *[0x4002_0000 | pid for pid in packet_ids])


def encode_publish(
    topic: str | bytes,
    payload: bytes,
    *,
    qos: int = 0,
    packet_id: int = 0,
    retain: bool = False,
    dup: bool = False,
    protocol: int = PROTOCOL_V311,
    properties: bytes = b"",
) -> bytes:
    """A PUBLISH as a broker would deliver it (for tests and benchmarks: the gateway never
    publishes through this module). `properties` are MQTT 5's, already encoded."""
    first = PUBLISH << 4 | qos << 1 | (0x01 if retain else 0) | (0x08 if dup else 0)
    body = bytearray(_text(topic))
    if qos:
        body += packet_id.to_bytes(2, "big")
    if protocol == PROTOCOL_V5:
        body += encode_varint(len(properties)) + properties
    body += payload
    return _packet(first, bytes(body))


# -- decoding -------------------------------------------------------------------------------


def decode_publish(first_byte: int, body: memoryview, protocol: int) -> Publish:
    """A PUBLISH from the broker. QoS 2 never arrives on the gateway's QoS 1 subscriptions (the
    broker delivers at the lower of the two QoS): if it does, the broker broke the protocol."""
    qos = (first_byte >> 1) & 0x03
    if qos > 1:
        raise ProtocolError(f"PUBLISH at QoS {qos} on a QoS 1 subscription")
    size = len(body)
    if size < 2:
        raise ProtocolError("PUBLISH without a topic")
    topic_end = 2 + (body[0] << 8 | body[1])
    pos = topic_end
    packet_id = 0
    if qos:
        pos += 2
        if pos > size:
            raise ProtocolError("PUBLISH cut short")
        packet_id = body[pos - 2] << 8 | body[pos - 1]
        if packet_id == 0:
            raise ProtocolError("QoS 1 PUBLISH with packet identifier 0")
    elif pos > size:
        raise ProtocolError("PUBLISH cut short")
    if protocol == PROTOCOL_V5:
        if pos < size and body[pos] == 0:  # no properties: the usual case
            pos += 1
        else:
            length, pos = _read_varint(body, pos)
            pos += length
            if pos > size:
                raise ProtocolError("PUBLISH properties overrun the packet")
        if topic_end == 2:
            # Only a topic alias could stand for it, and we allow none (maximum 0).
            raise ProtocolError("PUBLISH with an empty topic")
    return (
        bytes(body[2:topic_end]),
        bytes(body[pos:]),
        qos,
        packet_id,
        bool(first_byte & 0x01),
    )


def decode_connack(first_byte: int, body: memoryview, protocol: int) -> ConnAck:
    _flags_are(first_byte, 0, "CONNACK")
    if len(body) < 2:
        raise ProtocolError("CONNACK cut short")
    if body[0] & 0xFE:
        raise ProtocolError("CONNACK with reserved flags set")
    properties: dict[int, object] = {}
    if protocol == PROTOCOL_V5:
        properties = _read_properties(body, 2)
    elif len(body) != 2:
        raise ProtocolError("CONNACK of the wrong length")
    return ConnAck(bool(body[0] & 0x01), body[1], properties)


def decode_suback(first_byte: int, body: memoryview, protocol: int) -> SubAck:
    _flags_are(first_byte, 0, "SUBACK")
    if len(body) < 3:
        raise ProtocolError("SUBACK cut short")
    packet_id = body[0] << 8 | body[1]
    pos = 2
    if protocol == PROTOCOL_V5:
        length, pos = _read_varint(body, pos)
        _read_properties_in(body, pos, pos + length)
        pos += length
    codes = tuple(body[pos:])
    if not codes:
        raise ProtocolError("SUBACK without a reason code")
    return SubAck(packet_id, codes)


def decode_pingresp(first_byte: int, body: memoryview) -> None:
    _flags_are(first_byte, 0, "PINGRESP")
    if len(body):
        raise ProtocolError("PINGRESP with a body")


def decode_disconnect(first_byte: int, body: memoryview, protocol: int) -> Disconnect:
    """A server's DISCONNECT: MQTT 5 only (a 3.1.1 server just closes the connection)."""
    _flags_are(first_byte, 0, "DISCONNECT")
    if protocol != PROTOCOL_V5:
        raise ProtocolError("DISCONNECT from a 3.1.1 server")
    if not len(body):
        return Disconnect(0, {})
    properties = _read_properties(body, 1) if len(body) > 1 else {}
    return Disconnect(body[0], properties)


def topic_text(raw: bytes) -> str:
    """A topic as text, even when it is not UTF-8.

    MQTT requires UTF-8 topics, but a lax broker may pass other bytes. Undecodable bytes
    become U+FFFD, which the router refuses, so the message ends as a counted `unknown_topic`
    dead letter instead of breaking the connection.
    """
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace")


def _flags_are(first_byte: int, expected: int, name: str) -> None:
    if first_byte & 0x0F != expected:
        raise ProtocolError(f"{name} with flags {first_byte & 0x0F:#x}")


def _read_varint(body: memoryview, pos: int) -> tuple[int, int]:
    value = 0
    for shift in (0, 7, 14, 21):
        if pos >= len(body):
            raise ProtocolError("variable byte integer cut short")
        byte = body[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
    raise ProtocolError("variable byte integer longer than four bytes")


def _read_properties(body: memoryview, pos: int) -> dict[int, object]:
    """A property block that runs to the end of the packet."""
    length, pos = _read_varint(body, pos)
    if pos + length != len(body):
        raise ProtocolError("properties do not end with the packet")
    return _read_properties_in(body, pos, pos + length)


def _read_properties_in(body: memoryview, pos: int, end: int) -> dict[int, object]:
    if end > len(body):
        raise ProtocolError("properties overrun the packet")
    found: dict[int, object] = {}
    while pos < end:
        identifier, pos = _read_varint(body, pos)
        kind = _PROPERTY_TYPES.get(identifier)
        value: object
        if kind is None:
            raise ProtocolError(f"unknown property {identifier:#x}")
        if kind == _BYTE:
            pos, value = pos + 1, body[pos] if pos < end else -1
        elif kind == _TWO:
            pos, value = pos + 2, int.from_bytes(body[pos : pos + 2], "big")
        elif kind == _FOUR:
            pos, value = pos + 4, int.from_bytes(body[pos : pos + 4], "big")
        elif kind == _VARINT:
            value, pos = _read_varint(body[:end], pos)
        elif kind in (_TEXT, _BINARY):
            value, pos = _read_string(body, pos, end, text=kind == _TEXT)
        else:  # a user property: two strings
            key, pos = _read_string(body, pos, end, text=True)
            text, pos = _read_string(body, pos, end, text=True)
            value = (key, text)
        if pos > end:
            raise ProtocolError("property cut short")
        found[identifier] = value
    return found


def _read_string(body: memoryview, pos: int, end: int, *, text: bool) -> tuple[object, int]:
    if pos + 2 > end:
        raise ProtocolError("string cut short")
    stop = pos + 2 + (body[pos] << 8 | body[pos + 1])
    if stop > end:
        raise ProtocolError("string cut short")
    raw = bytes(body[pos + 2 : stop])
    if not text:
        return raw, stop
    try:
        return raw.decode(), stop
    except UnicodeDecodeError as exc:
        raise ProtocolError("string is not UTF-8") from exc
