"""Specification of the MQTT topic-filter grammar (`gateway.topics`)."""

import pytest

from gateway.topics import filter_covers, filter_problem, topic_matches


class TestTopicMatches:
    """Filters match topics as an MQTT broker does: `+` is one level, `#` is all the rest."""

    @pytest.mark.parametrize(
        ("topic_filter", "topic"),
        [
            ("yida/hik-isapi/dev1", "yida/hik-isapi/dev1"),
            ("+/+/+", "yida/hik-isapi/dev1"),
            ("yida/+/dev1", "yida/hik-isapi/dev1"),
            ("#", "yida/hik-isapi/dev1"),
            ("yida/#", "yida/hik-isapi/dev1"),
            ("yida/#", "yida"),
            ("yida/hik-isapi/dev1/#", "yida/hik-isapi/dev1"),
            ("+/+/+", "a//c"),
            ("+", "single"),
            ("#", "/"),
            ("$vendor/#", "$vendor/a/b"),
            ("$vendor/+", "$vendor/a"),
        ],
    )
    def test_matching_pairs(self, topic_filter: str, topic: str) -> None:
        assert topic_matches(topic_filter, topic)

    @pytest.mark.parametrize(
        ("topic_filter", "topic"),
        [
            ("yida/hik-isapi/dev1", "yida/hik-isapi/dev2"),
            ("yida/hik-isapi/dev1", "Yida/hik-isapi/dev1"),
            ("+/+/+", "yida/hik-isapi"),
            ("+/+/+", "yida/hik-isapi/dev1/event"),
            ("+", "a/b"),
            ("yida/+", "yida"),
            ("jiaxin/#", "yida/hik-isapi/dev1"),
            ("yida/hik-isapi/dev1", "yida/hik-isapi/dev1/"),
            ("#", "$SYS/broker/uptime"),
            ("#", "$vendor/a"),
            ("+/a", "$vendor/a"),
        ],
    )
    def test_non_matching_pairs(self, topic_filter: str, topic: str) -> None:
        assert not topic_matches(topic_filter, topic)


class TestFilterCovers:
    """A filter covers another when it matches every topic the other one matches."""

    @pytest.mark.parametrize(
        ("wider", "narrower", "covers"),
        [
            ("+/+/+", "yida/status/+", True),
            ("yida/#", "yida/a/b", True),
            ("#", "a", True),
            ("#", "+/+/+", True),
            ("+/+", "a/b/c", False),
            ("a/+", "a/#", False),
            ("a/b", "a/+", False),
            ("#", "$vendor/#", False),
            ("+/#", "$vendor/a", False),
            ("$vendor/#", "$vendor/a/+", True),
        ],
    )
    def test_filter_covers(self, wider: str, narrower: str, covers: bool) -> None:
        assert filter_covers(wider, narrower) is covers


class TestFilterProblem:
    """Only filters a broker accepts, and never the broker's own `$SYS` tree, are allowed."""

    @pytest.mark.parametrize("topic_filter", ["#", "+/+/+", "yida/#", "$vendor/#", "a//b", "中/+"])
    def test_valid_filters_pass(self, topic_filter: str) -> None:
        assert filter_problem(topic_filter) is None

    @pytest.mark.parametrize(
        ("topic_filter", "problem"),
        [
            ("", "empty"),
            ("a/#/b", "last"),
            ("a#", "whole level"),
            ("a/b+", "whole level"),
            ("a\x00b", "NUL"),
            ("$SYS/#", "$SYS"),
            ("$SYS", "$SYS"),
            ("$share/group/#", "SCGW_MQTT_SHARED_GROUP"),
            ("x" * 65_536, "65535 bytes"),
        ],
    )
    def test_invalid_filters_are_named(self, topic_filter: str, problem: str) -> None:
        found = filter_problem(topic_filter)
        assert found is not None and problem in found
