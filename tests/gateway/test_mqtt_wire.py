"""Specification of the MQTT packet codec (`gateway.mqtt_wire`): exact bytes for what the
subscriber sends, every field of what it receives, and for any bytes at all either packets
or one `ProtocolError`, never another exception."""

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway import mqtt_wire as wire
from gateway.mqtt_wire import FrameReader, ProtocolError

V311, V5 = wire.PROTOCOL_V311, wire.PROTOCOL_V5


def frames_of(stream: bytes, *, chunk: int | None = None, limit: int = 10**9) -> list[bytes]:
    """Feed `stream` in pieces of `chunk` bytes; every packet handed out, re-encoded whole."""
    reader = FrameReader()
    chunk = chunk or max(len(stream), 1)
    out: list[bytes] = []
    for start in range(0, len(stream), chunk):
        reader.feed(stream[start : start + chunk])
        out += [bytes((first,)) + wire.encode_varint(len(b)) + b for first, b in _take(reader)]
    return out


def _take(reader: FrameReader) -> list[tuple[int, bytes]]:
    return [(first, bytes(body)) for first, body in reader.frames(10**9)]


def decode_any(first_byte: int, body: memoryview, protocol: int) -> object:
    """What the subscriber does with each packet type it accepts; others are refused."""
    kind = first_byte >> 4
    if kind == wire.PUBLISH:
        return wire.decode_publish(first_byte, body, protocol)
    if kind == wire.CONNACK:
        return wire.decode_connack(first_byte, body, protocol)
    if kind == wire.SUBACK:
        return wire.decode_suback(first_byte, body, protocol)
    if kind == wire.PINGRESP:
        wire.decode_pingresp(first_byte, body)
        return None
    if kind == wire.DISCONNECT:
        return wire.decode_disconnect(first_byte, body, protocol)
    raise ProtocolError(f"unexpected packet type {kind}")


def publish(first_byte: int, body: bytes, protocol: int = V311) -> wire.Publish:
    return wire.decode_publish(first_byte, memoryview(body), protocol)


class TestFrameReader:
    """A byte stream becomes whole packets, however the reads cut it."""

    PACKETS = (
        wire.encode_publish("a/b", b"", qos=0),
        wire.encode_publish("a/b", b"x" * 200, qos=1, packet_id=7),
        wire.encode_publish("a/b", b"y" * 20_000, qos=1, packet_id=8),
        b"\xd0\x00",  # PINGRESP: no body at all
        wire.encode_publish("c", b"z" * 70_000, qos=1, packet_id=9),
    )

    @pytest.mark.parametrize("chunk", [1, 2, 3, 127, 128, 4096, 65536, None])
    def test_every_packet_comes_out_whole_whatever_the_read_sizes(self, chunk: int | None) -> None:
        stream = b"".join(self.PACKETS)
        assert frames_of(stream, chunk=chunk) == list(self.PACKETS)

    def test_a_partial_packet_waits_for_its_remaining_bytes(self) -> None:
        packet = wire.encode_publish("a/b", b"payload", qos=1, packet_id=1)
        reader = FrameReader()
        reader.feed(packet[:-1])
        assert reader.frames(10) == []
        assert reader.buffered == len(packet) - 1
        reader.feed(packet[-1:])
        assert [bytes(body) for _, body in reader.frames(10)] == [packet[2:]]
        assert reader.buffered == 0

    def test_at_most_limit_packets_are_handed_out_and_the_rest_wait(self) -> None:
        packets = [wire.encode_publish("t", bytes([n]), qos=1, packet_id=n + 1) for n in range(5)]
        reader = FrameReader()
        reader.feed(b"".join(packets[:3]))
        assert len(reader.frames(2)) == 2
        reader.feed(b"".join(packets[3:]))  # arrives while one packet still waits
        rest = reader.frames(10)
        assert [publish(first, bytes(body))[1] for first, body in rest] == [
            b"\x02",
            b"\x03",
            b"\x04",
        ]

    def test_a_remaining_length_of_five_bytes_is_a_protocol_error(self) -> None:
        reader = FrameReader()
        reader.feed(b"\x30\xff\xff\xff\xff\x01")
        with pytest.raises(ProtocolError):
            reader.frames(10)

    def test_a_packet_over_the_limit_is_refused_before_it_is_read(self) -> None:
        reader = FrameReader(max_remaining_length=1000)
        reader.feed(b"\x30\xe9\x07")  # announces 1001 bytes
        with pytest.raises(ProtocolError):
            reader.frames(10)

    def test_the_default_limit_is_the_protocols_own(self) -> None:
        reader = FrameReader()
        reader.feed(b"\x30\xff\xff\xff\x7f")  # 268,435,455 bytes announced: allowed, waits
        assert reader.frames(10) == []


class TestConnect:
    """CONNECT resumes a persistent session and logs in."""

    def test_mqtt_311_connects_with_clean_session_off(self) -> None:
        packet = wire.encode_connect("scgw-1", protocol=V311, keepalive_s=30)
        assert packet == b"\x10\x12\x00\x04MQTT\x04\x00\x00\x1e\x00\x06scgw-1"

    def test_mqtt_5_connects_with_clean_start_off_session_expiry_and_receive_maximum(
        self,
    ) -> None:
        packet = wire.encode_connect(
            "c", protocol=V5, keepalive_s=60, session_expiry_s=604800, receive_maximum=2000
        )
        properties = b"\x08\x11\x00\x09\x3a\x80\x21\x07\xd0"
        assert packet == b"\x10\x16\x00\x04MQTT\x05\x00\x00\x3c" + properties + b"\x00\x01c"

    def test_user_name_and_password_follow_the_client_id_with_their_flags(self) -> None:
        packet = wire.encode_connect(
            "c", protocol=V311, keepalive_s=0, username="gw", password="s3cret"
        )
        assert packet[9] == 0xC0  # user name and password flags; clean session off
        assert packet.endswith(b"\x00\x01c\x00\x02gw\x00\x06s3cret")

    def test_a_non_ascii_password_is_sent_as_utf8(self) -> None:
        packet = wire.encode_connect("c", protocol=V5, keepalive_s=1, password="密码")
        assert packet.endswith(b"\x00\x06" + "密码".encode())


class TestConnAck:
    """CONNACK says whether the session was resumed, or why we were refused."""

    def test_session_present(self) -> None:
        connack = wire.decode_connack(0x20, memoryview(b"\x01\x00"), V311)
        assert connack.session_present and not connack.refused

    def test_a_311_refusal_is_named(self) -> None:
        connack = wire.decode_connack(0x20, memoryview(b"\x00\x05"), V311)
        assert connack.refused
        assert connack.reason(V311) == "not authorized (code 0x05)"

    def test_a_5_refusal_carries_its_reason_string(self) -> None:
        body = b"\x00\x86\x07\x1f\x00\x04nope"
        connack = wire.decode_connack(0x20, memoryview(body), V5)
        assert connack.reason(V5) == "bad user name or password (code 0x86): nope"

    def test_the_servers_keepalive_and_other_properties_are_read(self) -> None:
        body = b"\x00\x00\x0a\x13\x00\x0f\x21\x00\x14\x12\x00\x01x"
        connack = wire.decode_connack(0x20, memoryview(body), V5)
        assert connack.properties == {0x13: 15, 0x21: 20, 0x12: "x"}

    @pytest.mark.parametrize(
        "body",
        [b"\x00", b"\x02\x00", b"\x00\x00\x01", b"\x00\x00\x03\x13\x00"],
        ids=["short", "reserved flag", "311 with extra byte", "property cut short"],
    )
    def test_a_malformed_connack_is_a_protocol_error(self, body: bytes) -> None:
        with pytest.raises(ProtocolError):
            wire.decode_connack(0x20, memoryview(body), V5 if len(body) > 3 else V311)


class TestSubscribe:
    """One SUBSCRIBE carries every filter; SUBACK grants or refuses each."""

    def test_mqtt_311(self) -> None:
        packet = wire.encode_subscribe(1, ["a/#", "b/+"], 1, protocol=V311)
        assert packet == b"\x82\x0e\x00\x01\x00\x03a/#\x01\x00\x03b/+\x01"

    def test_mqtt_5_has_an_empty_property_block(self) -> None:
        packet = wire.encode_subscribe(0x1234, ["#"], 1, protocol=V5)
        assert packet == b"\x82\x07\x12\x34\x00\x00\x01#\x01"

    def test_suback_grants_per_filter(self) -> None:
        suback = wire.decode_suback(0x90, memoryview(b"\x00\x01\x01\x80"), V311)
        assert suback == wire.SubAck(1, (1, 0x80))

    def test_a_5_suback_skips_its_properties(self) -> None:
        body = b"\x00\x02\x05\x1f\x00\x02ok\x01"
        assert wire.decode_suback(0x90, memoryview(body), V5) == wire.SubAck(2, (1,))

    def test_a_suback_without_codes_is_a_protocol_error(self) -> None:
        with pytest.raises(ProtocolError):
            wire.decode_suback(0x90, memoryview(b"\x00\x01\x00"), V5)


class TestPublish:
    """PUBLISH: topic, payload, QoS, packet id and RETAIN; MQTT 5 properties skipped."""

    def test_qos_0_has_no_packet_id(self) -> None:
        packet = wire.encode_publish("a/b", b"hi")
        assert publish(packet[0], packet[2:]) == (b"a/b", b"hi", 0, 0, False)

    def test_qos_1_retained(self) -> None:
        packet = wire.encode_publish("a/b", b"hi", qos=1, packet_id=513, retain=True)
        assert publish(packet[0], packet[2:]) == (b"a/b", b"hi", 1, 513, True)

    def test_mqtt_5_properties_are_skipped(self) -> None:
        properties = b"\x01\x01\x02\x00\x00\x00\x3c\x26\x00\x01k\x00\x01v"
        packet = wire.encode_publish(
            "a", b"{}", qos=1, packet_id=1, protocol=V5, properties=properties
        )
        assert publish(packet[0], packet[2:], V5) == (b"a", b"{}", 1, 1, False)

    def test_a_topic_that_is_not_utf8_is_kept_as_bytes(self) -> None:
        packet = wire.encode_publish(b"yida/\xff", b"", qos=0)
        assert publish(packet[0], packet[2:])[0] == b"yida/\xff"

    def test_qos_2_cannot_arrive_on_a_qos_1_subscription(self) -> None:
        packet = wire.encode_publish("a", b"", qos=2, packet_id=1)
        with pytest.raises(ProtocolError, match="QoS 2"):
            publish(packet[0], packet[2:])

    def test_qos_1_with_packet_id_0_is_a_protocol_error(self) -> None:
        with pytest.raises(ProtocolError):
            publish(0x32, b"\x00\x01a\x00\x00")

    def test_an_empty_topic_in_mqtt_5_would_need_a_topic_alias_we_never_allow(self) -> None:
        packet = wire.encode_publish("", b"x", protocol=V5)
        with pytest.raises(ProtocolError):
            publish(packet[0], packet[2:], V5)

    @pytest.mark.parametrize("body", [b"", b"\x00", b"\x00\x05abc", b"\x00\x01a\x00"])
    def test_a_cut_publish_is_a_protocol_error(self, body: bytes) -> None:
        with pytest.raises(ProtocolError):
            publish(0x32, body)


class TestAcknowledgement:
    """PUBACKs leave as one buffer, in the order given."""

    def test_pubacks_in_order(self) -> None:
        assert wire.encode_pubacks([1, 258, 65535]) == (
            b"\x40\x02\x00\x01" + b"\x40\x02\x01\x02" + b"\x40\x02\xff\xff"
        )

    def test_no_pubacks_is_no_bytes(self) -> None:
        assert wire.encode_pubacks([]) == b""


class TestDisconnect:
    """Only an MQTT 5 server says why it disconnects."""

    def test_reason_and_reason_string(self) -> None:
        disconnect = wire.decode_disconnect(0xE0, memoryview(b"\x8e\x06\x1f\x00\x03bye"), V5)
        assert disconnect.reason() == "session taken over (code 0x8e): bye"

    def test_an_empty_disconnect_is_a_normal_one(self) -> None:
        assert wire.decode_disconnect(0xE0, memoryview(b""), V5).reason_code == 0

    def test_a_311_server_never_sends_one(self) -> None:
        with pytest.raises(ProtocolError):
            wire.decode_disconnect(0xE0, memoryview(b""), V311)


class TestTopicText:
    def test_utf8(self) -> None:
        assert wire.topic_text("亿达/门1".encode()) == "亿达/门1"

    def test_undecodable_bytes_become_replacement_characters(self) -> None:
        assert wire.topic_text(b"a/\xff") == "a/\ufffd"


# -- any input ----------------------------------------------------------------------------


def decode_stream(stream: bytes, cuts: list[int], protocol: int) -> list[object]:
    reader = FrameReader(max_remaining_length=1 << 20)
    decoded: list[object] = []
    start = 0
    for cut in [*sorted(cuts), len(stream)]:
        reader.feed(stream[start:cut])
        start = max(start, cut)
        for first, body in reader.frames(7):
            decoded.append(decode_any(first, body, protocol))
    while frames := reader.frames(7):
        decoded += [decode_any(first, body, protocol) for first, body in frames]
    return decoded


class TestAnyBytes:
    """Whatever the broker sends: packets, or one ProtocolError; never anything else."""

    @given(
        st.binary(max_size=600),
        st.lists(st.integers(0, 600), max_size=8),
        st.sampled_from([V311, V5]),
    )
    def test_arbitrary_bytes(self, stream: bytes, cuts: list[int], protocol: int) -> None:
        with contextlib.suppress(ProtocolError):
            decode_stream(stream, cuts, protocol)

    @given(
        st.lists(st.tuples(st.integers(0, 15), st.binary(max_size=300)), max_size=6),
        st.lists(st.integers(0, 2000), max_size=8),
        st.sampled_from([V311, V5]),
    )
    def test_well_framed_packets_with_arbitrary_bodies(
        self, packets: list[tuple[int, bytes]], cuts: list[int], protocol: int
    ) -> None:
        stream = b"".join(
            bytes((kind << 4 | (0x02 if kind == wire.PUBLISH else 0),))
            + wire.encode_varint(len(body))
            + body
            for kind, body in packets
        )
        with contextlib.suppress(ProtocolError):
            decode_stream(stream, cuts, protocol)

    @given(
        st.lists(
            st.tuples(
                st.text(min_size=1, max_size=40),
                st.binary(max_size=400),
                st.sampled_from([0, 1]),
                st.booleans(),
            ),
            max_size=10,
        ),
        st.lists(st.integers(0, 5000), max_size=10),
        st.sampled_from([V311, V5]),
    )
    def test_publishes_come_back_as_sent(
        self,
        messages: list[tuple[str, bytes, int, bool]],
        cuts: list[int],
        protocol: int,
    ) -> None:
        sent = [
            (topic.encode(), payload, qos, n + 1 if qos else 0, retain)
            for n, (topic, payload, qos, retain) in enumerate(messages)
        ]
        stream = b"".join(
            wire.encode_publish(
                topic, payload, qos=qos, packet_id=pid, retain=retain, protocol=protocol
            )
            for topic, payload, qos, pid, retain in sent
        )
        assert decode_stream(stream, cuts, protocol) == sent
