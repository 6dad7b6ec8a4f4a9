"""Specification of topic routing (`gateway.routing`): which dialect, community and device."""

import pytest

from adapters.mapping import MappingSpec
from gateway.config import CommunitySpec, GatewayConfig, TopicBinding
from gateway.errors import PayloadError
from gateway.routing import Route, TopicRouter

HIK = "hik-isapi"
DIALECTS = {HIK, "dahua"}
DEVICE = "43011200001320000001"


def router(
    *,
    communities: tuple[str, ...] = (),
    topics: tuple[TopicBinding, ...] = (),
    dialects: set[str] | None = None,
) -> TopicRouter:
    config = GatewayConfig(
        communities=[CommunitySpec(code=code) for code in communities], topics=list(topics)
    )
    return TopicRouter(config, DIALECTS if dialects is None else dialects)


def refusal(topic_router: TopicRouter, topic: str) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        topic_router.route(topic)
    return info.value


class TestDefaultLayout:
    """Without bindings a topic is `{community}/{dialect}/{device_id}`."""

    def test_three_levels_give_community_dialect_and_device(self) -> None:
        assert router().route(f"yida/{HIK}/{DEVICE}") == Route(HIK, "yida", DEVICE)

    def test_any_community_is_accepted_when_none_is_configured(self) -> None:
        assert router().route(f"anywhere/{HIK}/{DEVICE}").community == "anywhere"

    def test_configured_community_is_accepted(self) -> None:
        topic_router = router(communities=("yida", "jiaxin"))
        assert topic_router.route(f"jiaxin/{HIK}/{DEVICE}") == Route(HIK, "jiaxin", DEVICE)

    @pytest.mark.parametrize(
        "topic",
        [
            f"yida/{HIK}",
            f"yida/{HIK}/{DEVICE}/event",
            "yida",
            f"/{HIK}/{DEVICE}",
            f"yida//{DEVICE}",
            f"yida/{HIK}/",
            "/",
            "//",
            f"yida/{HIK}/{DEVICE}/a/b/c/d",
            f"$vendor/{HIK}/{DEVICE}",
            f"yida/{HIK}/{'x' * 70_000}/extra",
        ],
    )
    def test_other_shapes_are_unknown_topics(self, topic: str) -> None:
        assert refusal(router(), topic).reason == "unknown_topic"

    def test_unknown_dialect_is_refused(self) -> None:
        error = refusal(router(), f"yida/zkteco/{DEVICE}")
        assert error.reason == "unknown_dialect"
        assert "zkteco" in error.detail

    def test_unknown_dialect_detail_is_bounded(self) -> None:
        error = refusal(router(), f"yida/{'x' * 500}/{DEVICE}")
        assert error.reason == "unknown_dialect"
        assert len(error.detail) < 100

    @pytest.mark.parametrize(
        "level", ["139_1234_5678", "tel:139:1234:5678", "欧阳锋", "ouyang feng", "x" * 41]
    )
    def test_a_dialect_level_that_is_no_safe_token_is_not_quoted(self, level: str) -> None:
        error = refusal(router(), f"yida/{level}/{DEVICE}")
        assert error.reason == "unknown_dialect"
        assert error.detail == (
            f"no adapter for dialect (a level of {len(level)} characters that is not a plain token)"
        )

    @pytest.mark.parametrize("level", ["139_1234_5678", "欧阳锋"])
    def test_a_community_level_that_is_no_safe_token_is_not_quoted(self, level: str) -> None:
        error = refusal(router(communities=("yida",)), f"{level}/{HIK}/{DEVICE}")
        assert error.reason == "unknown_community"
        assert level not in error.detail

    def test_a_piece_of_a_number_split_over_levels_is_not_quoted(self) -> None:
        """`139/12345678/…`: each level alone is a plain token, together they are a mobile."""
        error = refusal(router(), "139/12345678/dev")
        assert error.reason == "unknown_dialect"
        assert "12345678" not in error.detail and "139" not in error.detail

    def test_unconfigured_community_is_refused_when_communities_are_configured(self) -> None:
        error = refusal(router(communities=("yida",)), f"elsewhere/{HIK}/{DEVICE}")
        assert error.reason == "unknown_community"
        assert "elsewhere" in error.detail

    def test_dialect_is_checked_before_community(self) -> None:
        error = refusal(router(communities=("yida",)), f"elsewhere/zkteco/{DEVICE}")
        assert error.reason == "unknown_dialect"


class TestTopicBindings:
    """Bindings from the TOML config map vendor topics to a dialect and are tried first."""

    def test_binding_routes_a_vendor_topic(self) -> None:
        binding = TopicBinding(filter="hik/+/event", dialect=HIK, community="yida")
        topic_router = router(topics=(binding,))
        assert topic_router.route(f"hik/{DEVICE}/event") == Route(HIK, "yida", None)

    def test_device_id_level_takes_the_device_from_that_level(self) -> None:
        binding = TopicBinding(
            filter="vendor/hik/+/event", dialect=HIK, community="yida", device_id_level=3
        )
        route = router(topics=(binding,)).route(f"vendor/hik/{DEVICE}/event")
        assert route == Route(HIK, "yida", DEVICE)

    def test_device_id_level_beyond_the_topic_gives_no_device(self) -> None:
        binding = TopicBinding(filter="hik/#", dialect=HIK, community="yida", device_id_level=5)
        assert router(topics=(binding,)).route("hik/a/b").device_id is None

    def test_a_binding_may_name_its_sender_for_topics_without_a_device_level(self) -> None:
        binding = TopicBinding(filter="vendor/uploads", dialect=HIK, community="yida", sender="p-1")
        assert router(topics=(binding,)).route("vendor/uploads") == Route(HIK, "yida", "p-1")

    def test_empty_device_id_level_gives_no_device(self) -> None:
        binding = TopicBinding(
            filter="hik/+/event", dialect=HIK, community="yida", device_id_level=2
        )
        assert router(topics=(binding,)).route("hik//event").device_id is None

    def test_bindings_win_over_the_default_layout(self) -> None:
        binding = TopicBinding(filter="+/+/+", dialect="dahua", community="jiaxin")
        route = router(topics=(binding,)).route(f"yida/{HIK}/{DEVICE}")
        assert route == Route("dahua", "jiaxin", None)

    def test_first_matching_binding_wins(self) -> None:
        first = TopicBinding(filter="gate/#", dialect=HIK, community="yida")
        second = TopicBinding(filter="gate/+", dialect="dahua", community="jiaxin")
        route = router(topics=(first, second)).route("gate/north")
        assert route == Route(HIK, "yida", None)

    def test_first_matching_binding_wins_across_literal_and_wildcard_roots(self) -> None:
        """Bindings are looked up by their first level, and the order of the file still
        decides between a `+`-rooted binding and a literal one."""
        wild = TopicBinding(filter="+/gate/#", dialect="dahua", community="jiaxin")
        literal = TopicBinding(filter="yida/gate/#", dialect=HIK, community="yida")
        assert router(topics=(wild, literal)).route("yida/gate/n").dialect == "dahua"
        assert router(topics=(literal, wild)).route("yida/gate/n").dialect == HIK
        assert router(topics=(literal, wild)).route("jiaxin/gate/n").dialect == "dahua"

    def test_each_of_many_communities_bindings_routes_its_own_topics(self) -> None:
        bindings = tuple(
            TopicBinding(filter=f"c{n:03d}/gat1400/#", dialect=HIK, community=f"c{n:03d}")
            for n in range(141)
        )
        topic_router = router(topics=bindings)
        assert topic_router.route("c140/gat1400/x") == Route(HIK, "c140", None)
        assert topic_router.route(f"c141/{HIK}/{DEVICE}") == Route(HIK, "c141", DEVICE)

    def test_a_dollar_topic_reaches_only_bindings_naming_its_root(self) -> None:
        anything = TopicBinding(filter="#", dialect="dahua", community="jiaxin")
        dollar = TopicBinding(filter="$vendor/#", dialect=HIK, community="yida")
        assert router(topics=(anything, dollar)).route("$vendor/x").dialect == HIK

    def test_topics_no_binding_matches_fall_back_to_the_default_layout(self) -> None:
        binding = TopicBinding(filter="hik/+/event", dialect=HIK, community="yida")
        route = router(topics=(binding,)).route(f"jiaxin/{HIK}/{DEVICE}")
        assert route == Route(HIK, "jiaxin", DEVICE)

    def test_binding_to_an_unknown_dialect_is_refused_as_unknown_dialect(self) -> None:
        # A typo in the TOML must dead-letter as `unknown_dialect`, not crash the parse step
        # with a KeyError (which the pipeline reports as an adapter bug, `internal_error`).
        binding = TopicBinding(filter="hik/+/event", dialect="hik-isap", community="yida")
        error = refusal(router(topics=(binding,)), f"hik/{DEVICE}/event")
        assert error.reason == "unknown_dialect"


class TestSubscriptions:
    """The router subscribes to the default filters plus every binding, each once, in order."""

    def test_defaults_come_first_then_bindings(self) -> None:
        bindings = (
            TopicBinding(filter="hik/+/event", dialect=HIK, community="yida"),
            TopicBinding(filter="dahua/#", dialect="dahua", community="yida"),
        )
        filters = router(topics=bindings).subscriptions(["+/+/+"])
        assert filters == ["+/+/+", "dahua/#"]  # hik/+/event is inside +/+/+ already

    def test_duplicate_filters_are_subscribed_once(self) -> None:
        bindings = (
            TopicBinding(filter="hik/+/event", dialect=HIK, community="yida"),
            TopicBinding(filter="hik/+/event", dialect=HIK, community="jiaxin"),
            TopicBinding(filter="+/+/+", dialect=HIK, community="yida"),
        )
        filters = router(topics=bindings).subscriptions(["+/+/+", "+/+/+"])
        assert filters == ["+/+/+"]

    def test_no_bindings_gives_the_defaults(self) -> None:
        assert router().subscriptions(["+/+/+"]) == ["+/+/+"]

    def test_everything_covers_every_binding(self) -> None:
        bindings = (
            TopicBinding(filter="hik/+/event", dialect=HIK, community="yida"),
            TopicBinding(filter="dahua/#", dialect="dahua", community="yida"),
        )
        assert router(topics=bindings).subscriptions(["#"]) == ["#"]

    def test_a_dollar_binding_is_subscribed_beside_everything(self) -> None:
        binding = TopicBinding(filter="$vendor/+/event", dialect=HIK, community="yida")
        assert router(topics=(binding,)).subscriptions(["#"]) == ["#", "$vendor/+/event"]


class TestStatusTopics:
    """`{community}/status/{device}` is the heartbeat dialect's topic in the default layout."""

    def test_status_segment_routes_to_heartbeat(self) -> None:
        router = TopicRouter(GatewayConfig(), {"heartbeat", "hik-isapi"})
        route = router.route("yida/status/43011200001320000001")
        assert route == Route("heartbeat", "yida", "43011200001320000001")


class TestSubscriptionsDoNotOverlap:
    """Filters covered by a wider one are not subscribed: the broker would deliver twice."""

    def test_binding_under_the_default_layout_is_not_subscribed_again(self) -> None:
        config = GatewayConfig(
            topics=[TopicBinding(filter="yida/status/+", dialect="heartbeat", community="yida")]
        )
        router = TopicRouter(config, {"heartbeat"})
        assert router.subscriptions(["+/+/+"]) == ["+/+/+"]

    def test_a_wider_later_filter_replaces_narrower_ones(self) -> None:
        config = GatewayConfig(
            topics=[TopicBinding(filter="vendor/#", dialect="heartbeat", community="yida")]
        )
        router = TopicRouter(config, {"heartbeat"})
        assert router.subscriptions(["vendor/a/+", "+/+/+"]) == ["+/+/+", "vendor/#"]


class TestIdentifiersInTopics:
    """Whatever routed it, a topic's device id and community follow `schemas.identifiers`."""

    @staticmethod
    def every_way(device: str) -> list[tuple[TopicRouter, str]]:
        """(router, topic) pairs naming `device` by default layout, binding and template."""
        binding = TopicBinding(
            filter="vendor/+/event", dialect=HIK, community="yida", device_id_level=2
        )
        template = MappingSpec.model_validate(
            {
                "name": "acme",
                "topic": "acme/{community}/{device_id}/event",
                "kind": "device_status",
                "fields": {
                    "occurred_at": {"path": "t", "format": "epoch_ms"},
                    "status": {"const": "online"},
                },
            }
        )
        templated = TopicRouter(GatewayConfig(dialects=[template]), {*DIALECTS, "acme"})
        return [
            (router(), f"yida/{HIK}/{device}"),
            (router(topics=(binding,)), f"vendor/{device}/event"),
            (templated, f"acme/yida/{device}/event"),
        ]

    @pytest.mark.parametrize(
        "device", ["13812345678", "cam-86-139-8765-4321", "11010519491231002X"]
    )
    def test_personal_number_as_device_is_refused(self, device: str) -> None:
        for topic_router, topic in self.every_way(device):
            error = refusal(topic_router, topic)
            assert (error.reason, error.detail) == (
                "pii_in_identifier",
                "the topic's device id holds an ID or mobile number",
            )

    @pytest.mark.parametrize("device", ["a..b", "门禁1", "dev 1", "d" * 65])
    def test_device_outside_the_rules_is_refused(self, device: str) -> None:
        for topic_router, topic in self.every_way(device):
            assert refusal(topic_router, topic).reason == "bad_device_id"

    def test_20_digit_device_code_is_routed(self) -> None:
        for topic_router, topic in self.every_way(DEVICE):
            assert topic_router.route(topic).device_id == DEVICE

    def test_personal_number_as_community_is_refused(self) -> None:
        error = refusal(router(), f"13812345678/{HIK}/{DEVICE}")
        assert error.reason == "pii_in_identifier"
