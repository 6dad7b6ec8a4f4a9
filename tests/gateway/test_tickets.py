"""Specification of the ticket drafter (`gateway.tickets`): a finding becomes a draft with its
category, severity, SLA and route from the responsibility list, its grid and units from the
grid map, its address in Chinese and its texts from the rule's templates."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.devices import DeviceRegistry
from gateway.errors import ConfigError
from gateway.grids import GridMap
from gateway.responsibility import ResponsibilityList
from gateway.rules.base import Finding
from gateway.tickets import PersonalFactError, TicketDrafter
from schemas.devices import DeviceRegistration
from testkit.harness import write_file
from tests.gateway.ticket_rules import RULES, rule
from tests.gateway.ticket_rules import finding as any_finding

ONE_RULE = {"safety.door_forced": RULES["safety.door_forced"]}
YIDA_FIRST = "430112003001001"
YIDA_SECOND = "430112003001002"
NOW = datetime.now(UTC).replace(microsecond=0)
GATE_DEVICE = "34020000001320000001"
UNIT_DOOR = "34020000001320000002"
LOOSE_CAMERA = "34020000001320000003"


DEVICES = DeviceRegistry(
    [
        DeviceRegistration(
            device_id=GATE_DEVICE, dialect="hik-isapi", community="yida", gate="South gate"
        ),
        DeviceRegistration(
            device_id=UNIT_DOOR, dialect="hik-isapi", community="yida", building="B02", unit="U1"
        ),
        DeviceRegistration(
            device_id=LOOSE_CAMERA,
            kind="camera",
            dialect="ga1400",
            community="yida",
            location="地下车库入口",
        ),
    ]
)


@pytest.fixture(scope="module")
def drafter() -> TicketDrafter:
    return TicketDrafter(ResponsibilityList.load(), GridMap.load(), RULES, DEVICES.get)


def finding(rule_code: str = "safety.door_forced", **fields: object) -> Finding:
    return any_finding(rule_code, detected_at=NOW, **fields)


class TestCategory:
    """Category, severity, SLA and forwarding come from the responsibility list."""

    def test_the_rules_category_decides(self, drafter: TicketDrafter) -> None:
        draft = drafter.draft(finding(building="B01"))
        assert (draft.category.code, draft.category.name) == ("safety", "安全隐患")
        assert (draft.severity, draft.sla_hours, draft.forward) == ("major", 4, True)

    def test_device_operations_stay_local(self, drafter: TicketDrafter) -> None:
        draft = drafter.draft(finding("device.offline", device_id=UNIT_DOOR))
        assert draft.forward is False
        assert [unit.type for unit in draft.responsible_units] == ["property"]

    def test_without_a_platform_every_ticket_stays_local(self) -> None:
        drafter = TicketDrafter(
            ResponsibilityList.load(), GridMap.load(), ONE_RULE, forwarding=False
        )
        assert drafter.draft(finding()).forward is False

    def test_a_rule_without_a_listed_category_is_refused(self) -> None:
        with pytest.raises(ConfigError, match=r"responsibility.toml: no category for rules x\.y"):
            TicketDrafter(
                ResponsibilityList.load(), GridMap.load(), {"x.y": rule("x.y", "nowhere")}
            )

    def test_a_district_list_serves_the_same_rules(self, tmp_path: Path) -> None:
        text = '[[categories]]\ncode = "safety"\nname = "安全生产隐患"\nunits = ["street"]\n'
        text += 'sla_hours = 8\nseverity = "critical"\nsend = "platform"\n'
        district = ResponsibilityList.load(write_file(tmp_path / "r.toml", text))
        draft = TicketDrafter(district, GridMap.load(), ONE_RULE).draft(finding())
        assert (draft.category.name, draft.severity, draft.sla_hours) == (
            "安全生产隐患",
            "critical",
            8,
        )
        assert [(u.type, u.name) for u in draft.responsible_units] == [("street", "月亮岛街道")]


class TestRouting:
    """House → building → grid, gate → grid, else the device's place; else the community."""

    def test_a_building_routes_to_its_grid(self, drafter: TicketDrafter) -> None:
        draft = drafter.draft(finding(building="B05", house_code="yida-B05-U1-0302"))
        assert draft.grid_code == YIDA_SECOND

    def test_a_gate_routes_to_its_grid(self, drafter: TicketDrafter) -> None:
        assert drafter.draft(finding(gate="North gate")).grid_code == YIDA_FIRST

    def test_a_device_at_a_gate_routes_to_the_gates_grid(self, drafter: TicketDrafter) -> None:
        assert drafter.draft(finding(device_id=GATE_DEVICE)).grid_code == YIDA_SECOND

    def test_a_unit_door_routes_to_its_buildings_grid(self, drafter: TicketDrafter) -> None:
        assert drafter.draft(finding(device_id=UNIT_DOOR)).grid_code == YIDA_FIRST

    def test_the_findings_place_comes_before_the_devices(self, drafter: TicketDrafter) -> None:
        draft = drafter.draft(finding(building="B04", device_id=UNIT_DOOR))
        assert draft.grid_code == YIDA_SECOND

    def test_an_unmapped_place_has_no_grid(self, drafter: TicketDrafter) -> None:
        assert drafter.draft(finding(building="B99")).grid_code is None
        assert drafter.draft(finding(device_id=LOOSE_CAMERA)).grid_code is None
        assert drafter.draft(finding(community="elsewhere", building="B01")).grid_code is None


class TestUnits:
    """Units are named: the grid by the routed grid, the others generically per community."""

    def test_a_grid_unit_is_the_routed_grid(self, drafter: TicketDrafter) -> None:
        draft = drafter.draft(finding("fire.lane_occupied", gate="South gate"))
        assert [(u.type, u.code, u.name) for u in draft.responsible_units] == [
            ("property", None, "亿达小镇物业服务中心"),
            ("grid", YIDA_SECOND, "亿达小镇第二网格"),
        ]

    def test_the_community_unit_is_the_committee(self, drafter: TicketDrafter) -> None:
        draft = drafter.draft(finding("care.no_activity", building="B01"))
        assert [(u.type, u.name) for u in draft.responsible_units] == [
            ("community", "亿达小镇社区居委会")
        ]

    def test_the_police_station_is_named_generically(self, drafter: TicketDrafter) -> None:
        draft = drafter.draft(finding("housing.suspected_group_rental", building="B02"))
        assert [(u.type, u.name) for u in draft.responsible_units] == [
            ("grid", "亿达小镇第一网格"),
            ("police_station", "辖区派出所"),
        ]

    def test_without_a_grid_the_committee_takes_the_grids_place(
        self, drafter: TicketDrafter
    ) -> None:
        draft = drafter.draft(finding("population.unregistered_frequent", building="B99"))
        assert [(u.type, u.code) for u in draft.responsible_units] == [("community", None)]

    def test_the_committee_is_listed_once(self, tmp_path: Path) -> None:
        text = '[[categories]]\ncode = "safety"\nname = "安全"\nunits = ["community", "grid"]\n'
        text += 'sla_hours = 8\nseverity = "minor"\nsend = "platform"\n'
        listed = ResponsibilityList.load(write_file(tmp_path / "r.toml", text))
        draft = TicketDrafter(listed, GridMap.load(), ONE_RULE).draft(finding(building="B99"))
        assert [u.type for u in draft.responsible_units] == ["community"]


class TestLocation:
    """The address is Chinese text of the community and the place; the place's parts are kept."""

    def test_a_house(self, drafter: TicketDrafter) -> None:
        draft = drafter.draft(finding(building="B03", unit="U2", house_code="yida-B03-U2-1702"))
        assert draft.location.address == "亿达小镇 B03栋 U2单元 房屋编码yida-B03-U2-1702"
        assert (draft.location.building, draft.location.unit) == ("B03", "U2")
        assert draft.location.house_code == "yida-B03-U2-1702"

    def test_a_place_word_is_not_doubled(self, drafter: TicketDrafter) -> None:
        draft = drafter.draft(finding(building="3号楼", unit="2单元"))
        assert draft.location.address == "亿达小镇 3号楼 2单元"

    def test_a_gate(self, drafter: TicketDrafter) -> None:
        assert drafter.draft(finding(gate="North gate")).location.address == "亿达小镇 North gate"

    def test_a_devices_place(self, drafter: TicketDrafter) -> None:
        door = drafter.draft(finding(device_id=UNIT_DOOR)).location
        assert (door.address, door.device_id) == ("亿达小镇 B02栋 U1单元", UNIT_DOOR)
        gate = drafter.draft(finding(device_id=GATE_DEVICE)).location
        assert (gate.address, gate.gate) == ("亿达小镇 South gate", "South gate")
        camera = drafter.draft(finding(device_id=LOOSE_CAMERA)).location
        assert camera.address == "亿达小镇 地下车库入口"

    def test_an_unknown_community_keeps_its_code(self, drafter: TicketDrafter) -> None:
        assert drafter.draft(finding(community="elsewhere")).location.address == "elsewhere"


class TestTexts:
    """Title, description and summary are the rule's templates over the facts and the address."""

    def test_templates_are_filled(self, drafter: TicketDrafter) -> None:
        facts = {"hours": 3, "visitor": "张*"}
        draft = drafter.draft(finding("visitor.overstay", gate="North gate", facts=facts))
        assert draft.title == "访客逾期未离开（3小时）"
        assert draft.description == (
            "亿达小镇 North gate登记的访客已超过有效期3小时仍未离开，访客：张*。"
        )
        assert draft.summary_en == "A visitor stayed 3 h past check-out at 亿达小镇 North gate."

    def test_a_fact_the_template_needs_and_lacks_names_the_rule(
        self, drafter: TicketDrafter
    ) -> None:
        with pytest.raises(ValueError, match=r"rule visitor\.overstay: its title template needs"):
            drafter.draft(finding("visitor.overstay", facts={"visitor": "张*"}))

    def test_a_finding_of_an_unknown_rule_is_a_key_error(self, drafter: TicketDrafter) -> None:
        with pytest.raises(KeyError):
            drafter.draft(finding("no.such_rule"))


class TestPersonalFacts:
    """A finding whose facts carry personal data is a bug in its rule: refused, logged by rule
    and fact key only; the texts are redacted as a last line of defence."""

    @pytest.mark.parametrize(
        "facts",
        [
            {"hours": 3, "visitor": "张三 13800138000"},
            {"hours": 3, "visitor": "430112199001011234"},
            {"hours": 3, "visitor": "张*", "contact": "+86 10 1234 5678"},
            {"hours": 3, "visitor": "张*", "visitor_name": "张三"},
            {"hours": 3, "visitor": "张*", "phone": 13800138000},
        ],
    )
    def test_a_fact_with_personal_data_is_refused(
        self, drafter: TicketDrafter, facts: dict[str, object], caplog: pytest.LogCaptureFixture
    ) -> None:
        with pytest.raises(PersonalFactError, match=r"rule visitor\.overstay: its fact") as info:
            drafter.draft(finding("visitor.overstay", facts=facts))
        for value in facts.values():
            if len(str(value)) > 2:
                assert str(value) not in str(info.value)
                assert str(value) not in caplog.text
        assert "rule visitor.overstay: finding refused" in caplog.text

    def test_a_masked_name_under_a_name_key_is_kept(self, drafter: TicketDrafter) -> None:
        facts = {"hours": 3, "visitor": "张*", "visitor_name": "张*"}
        assert drafter.draft(finding("visitor.overstay", facts=facts)).title

    def test_a_number_in_a_template_or_address_is_redacted(self) -> None:
        """A number the facts do not carry (the rule's own template) never reaches a text."""
        leaky = rule(
            "safety.door_forced", "safety", description="{address}，联系物业010-1234-5678。"
        )
        drafter = TicketDrafter(ResponsibilityList.load(), GridMap.load(), {leaky.code: leaky})
        draft = drafter.draft(finding())
        assert "1234" not in draft.description
        assert draft.description.endswith("联系物业***。")


class TestEvidence:
    """Keys, evidence and times pass through from the finding."""

    def test_keys_and_evidence(self, drafter: TicketDrafter) -> None:
        draft = drafter.draft(
            finding(
                occurrence="2026-day",
                event_ids=("e1", "e2"),
                image_urls=("https://img.example/1.jpg",),
                first_at=NOW - timedelta(hours=2),
                last_at=NOW - timedelta(hours=1),
            )
        )
        assert draft.dedup_key == "safety.door_forced:yida:door:x"
        assert draft.occurrence_key == "2026-day"
        assert (draft.event_ids, draft.image_urls) == (("e1", "e2"), ("https://img.example/1.jpg",))
        assert (draft.first_at, draft.last_at, draft.detected_at) == (
            NOW - timedelta(hours=2),
            NOW - timedelta(hours=1),
            NOW,
        )

    def test_times_default_to_the_detection(self, drafter: TicketDrafter) -> None:
        draft = drafter.draft(finding())
        assert draft.first_at == draft.last_at == draft.detected_at == NOW
