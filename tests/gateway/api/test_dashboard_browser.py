"""Specification of the operations dashboard, in a real browser.

Debian's Chromium, driven by Playwright (never a browser Playwright downloads), opens the page
of a gateway holding both pilot communities: their master data imported, then 45 minutes of
the simulator's full mix of each published through a real Mosquitto and stored. Every request
to another host is aborted and recorded. The page must load with no console error and no
failed request, show the same figures the API gives for the same windows, show a ticket raised
during the test without a reload, and, signed in with a property key for yida, show nothing
of jiaxin. Signing out ends everything of the session (no stream stays open, no retry of it
opens one later); a key whose role may not use the page is sent back with the reason and
nothing more is asked; a busy or failing gateway is retried after Retry-After or a growing
delay. Those tests pause the page's clock and run it forward, instead of waiting.
"""

import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Response,
    Route,
    async_playwright,
    expect,
)

from gateway.config import load_config
from gateway.demo import import_master_data
from schemas.tickets import OPEN_STATUSES
from simulators.community import HIK_DIALECT, PILOT_LAYOUTS, pilot_community
from simulators.config_toml import communities_config_toml
from simulators.hik_isapi import Minor
from simulators.masterdata import pilot_grids
from simulators.publisher import publish
from simulators.scenario_messages import Emitter
from simulators.yida_mix import YidaTraffic
from testkit.harness import (
    RunningGateway,
    gateway_settings,
    mosquitto_pub,
    running_gateway,
    wait_until,
    write_file,
)
from testkit.keys import create_key
from testkit.services import MosquittoService, PostgresService

CHROMIUM = "/usr/bin/chromium"
PILOTS = sorted(PILOT_LAYOUTS)
SEED = 7
TRAFFIC = timedelta(minutes=45)
"""Simulated traffic of each community, ending five minutes ago: inside the chart's hour."""
QUIET_S = 3600.0
"""Rules, device checks and housekeeping wait this long: nothing changes under the test but
what it publishes itself."""
LOAD_MS = 90_000
LIVE_MS = 60_000


@pytest.fixture(scope="module")
def database(postgres: PostgresService) -> Iterator[str]:
    name = "dashboard_browser"
    postgres.drop_database(name)
    yield postgres.create_database(name)
    postgres.drop_database(name)


@pytest.fixture(scope="module")
async def fed(
    mosquitto: MosquittoService, database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    """A gateway with both pilots' master data and 45 minutes of each one's traffic stored."""
    tmp = tmp_path_factory.mktemp("dashboard")
    communities = [pilot_community(code, SEED) for code in PILOTS]
    config = load_config(write_file(tmp / "pilot.toml", communities_config_toml(communities)))
    settings = gateway_settings(
        mosquitto.url,
        database,
        rules_interval_s=QUIET_S,
        device_check_interval_s=QUIET_S,
        housekeeping_interval_s=QUIET_S,
    )
    async with running_gateway(settings, config) as gateway:
        await import_master_data(gateway.runtime, communities)
        start = datetime.now(UTC) - TRAFFIC - timedelta(minutes=5)
        traffic = [YidaTraffic(c, SEED, start, TRAFFIC, power_on=True) for c in communities]
        records = [record for t in traffic for record in t.records()]
        expected = sum(sum(t.expected_counts().values()) for t in traffic)
        await publish(((r.topic, r.payload) for r in records), url=mosquitto.url, connections=4)
        registry = gateway.runtime.metrics.registry

        def stored() -> bool:
            return (registry.get_sample_value("scgw_events_stored_total") or 0) >= expected

        await wait_until(stored, timeout_s=180, what=f"{expected} events stored")
        await force_a_door(gateway, mosquitto, "jiaxin")  # a ticket only jiaxin's may see
        yield gateway


async def force_a_door(gateway: RunningGateway, mosquitto: MosquittoService, code: str) -> str:
    """Force a door of `code` open now (one without an open ticket yet, so that the rule
    opens a new one rather than adding evidence); return the new ticket's id."""
    before = await every(gateway.http, "/v1/tickets")
    ticketed = {t["location"].get("device_id") for t in before if t["status"] in OPEN_STATUSES}
    emit = Emitter(pilot_community(code, SEED), 97)
    door = next(
        d
        for d in emit.community.devices_of(HIK_DIALECT)
        if d.readers and d.building and d.device_id not in ticketed
    )
    message = emit.door_event(door, datetime.now(UTC), Minor.DOOR_FORCED_OPEN)
    await mosquitto_pub(mosquitto.port, message.topic, [message.payload])
    known = {t["ticket_id"] for t in before}
    raised: list[str] = []

    async def a_new_ticket() -> bool:
        now = {t["ticket_id"] for t in await every(gateway.http, "/v1/tickets")}
        raised[:] = sorted(now - known)
        return bool(raised)

    await wait_until(a_new_ticket, timeout_s=60, what=f"the forced door's ticket in {code}")
    (ticket_id,) = raised
    return ticket_id


@dataclass
class Watched:
    """What a page did that it must not: console errors, failed or refused requests, and
    requests to another host (aborted)."""

    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)
    api_requests: list[tuple[str, str | None]] = field(default_factory=list)
    """Every request to the API: its URL and the X-API-Key header it carried."""

    def clean(self) -> bool:
        return not (self.errors or self.failed or self.elsewhere)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield launched
        finally:
            await launched.close()


async def open_dashboard(
    browser: Browser, base: str, key: str, width: int = 1600, height: int = 1000
) -> tuple[Page, Watched]:
    """A new tab on the dashboard, signed in with `key` through the form, figures loaded."""
    watched = Watched()
    page = await browser.new_page(viewport={"width": width, "height": height})

    async def only_the_gateway(route: Route) -> None:
        if route.request.url.startswith(base):
            await route.continue_()
        else:
            watched.elsewhere.append(route.request.url)
            await route.abort()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.errors.append(message.text)

    def failed(request: Request) -> None:
        watched.failed.append(f"{request.url}: {request.failure}")

    def refused(response: Response) -> None:
        if response.status >= 400:
            watched.failed.append(f"{response.url}: {response.status}")

    def request(sent: Request) -> None:
        if "/v1/" in sent.url:
            watched.api_requests.append((sent.url, sent.headers.get("x-api-key")))

    await page.route("**/*", only_the_gateway)
    page.on("request", request)
    page.on("console", console)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    page.on("requestfailed", failed)
    page.on("response", refused)
    await page.goto(f"{base}/")
    await page.get_by_test_id("sign-in-key").fill(key)
    await page.get_by_test_id("sign-in-submit").click()
    await wait_loaded(page)
    return page, watched


async def wait_loaded(page: Page) -> None:
    """Until the figures are shown (waiting on the element: the page's policy forbids the
    `eval` that `wait_for_function` needs)."""
    await expect(page.get_by_test_id("updated-at")).to_have_attribute(
        "data-at", re.compile("."), timeout=LOAD_MS
    )


FIGURES_JS = """() => {
  const one = (id) => document.querySelector(`[data-testid="${id}"]`);
  const value = (id) => Number(one(id).dataset.value);
  const rows = (id, key) => Object.fromEntries([...one(id).querySelectorAll('tr[data-key]')]
      .map((row) => [row.dataset[key], Number(row.dataset.value)]));
  return {
    at: one('updated-at').dataset.at,
    communities: one('communities').dataset.codes.split(',').filter(Boolean),
    rateSince: one('event-rate-chart').dataset.since,
    rateUntil: one('event-rate-chart').dataset.until,
    rate: Object.fromEntries([...document.querySelectorAll('[data-testid=rate-kind]')]
      .map((item) => [item.dataset.kind, Number(item.dataset.value)])),
    peopleIn: value('people-in'), peopleOut: value('people-out'),
    peopleSince: one('people-in').dataset.since, peopleUntil: one('people-in').dataset.until,
    vehicles: value('vehicles-present'), vehiclesSince: one('vehicles-present').dataset.since,
    online: value('devices-online'), offline: value('devices-offline'),
    unknown: value('devices-unknown'),
    offlineList: [...document.querySelectorAll('[data-testid=offline-device]')]
      .map((item) => item.dataset.deviceId),
    open: value('tickets-open'), overdue: value('tickets-overdue'),
    categories: Object.fromEntries([...document.querySelectorAll('[data-testid=category-row]')]
      .map((row) => [row.dataset.code, Number(row.dataset.open)])),
    tickets: [...document.querySelectorAll('[data-testid=ticket]')]
      .map((item) => item.dataset.ticketId),
    houses: rows('houses-by-usage', 'key'), persons: rows('persons-by-type', 'key'),
    registered: value('occupancy-registered'), observed: value('occupancy-observed'),
    visitors: value('visitors-current'),
    indicatorsSince: one('indicators').dataset.since,
    indicators: Object.fromEntries([...document.querySelectorAll('[data-testid=indicator-row]')]
      .map((row) => [row.dataset.group, [Number(row.dataset.raised), Number(row.dataset.closed)]])),
  };
}"""


async def every(client: httpx.AsyncClient, path: str, **params: str) -> list[dict[str, Any]]:
    """Every item of a list endpoint, following cursors."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": "1000", **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query)
        response.raise_for_status()
        body = response.json()
        found.extend(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return found


async def api_figures(client: httpx.AsyncClient, shown: dict[str, Any]) -> dict[str, Any]:
    """The API's figures for the windows and communities the page shows."""
    events = await every(client, "/v1/events", since=shown["rateSince"], until=shown["rateUntil"])
    access = await every(
        client,
        "/v1/events",
        kind="access",
        since=shown["peopleSince"],
        until=shown["peopleUntil"],
    )
    passes = await every(client, "/v1/events", kind="vehicle_pass", since=shown["vehiclesSince"])
    last: dict[str, dict[str, Any]] = {}
    for vehicle in sorted(passes, key=lambda p: str(p["occurred_at"])):
        if vehicle.get("plate_no") and vehicle.get("direction") in {"in", "out"}:
            last[vehicle["plate_no"]] = vehicle
    devices = await every(client, "/v1/devices")
    statuses = Counter(device["status"] for device in devices)
    tickets = [t for t in await every(client, "/v1/tickets") if t["status"] in OPEN_STATUSES]
    houses: Counter[str] = Counter()
    persons: Counter[str] = Counter()
    registered = observed = visitors = 0
    for code in shown["communities"]:
        response = await client.get(f"/v1/communities/{code}/summary")
        response.raise_for_status()
        summary = response.json()
        houses.update(summary["houses_by_usage"])
        persons.update(summary["persons_by_population_type"])
        registered += summary["occupancy"]["registered"]
        observed += summary["occupancy"]["observed"]
        visitors += summary["current_visitors"]
    stats = await client.get(
        "/v1/stats/tickets", params={"group_by": "community", "since": shown["indicatorsSince"]}
    )
    stats.raise_for_status()
    granted = [a for a in access if a["result"] == "granted"]
    return {
        "rate": {k: v for k, v in Counter(e["kind"] for e in events).items()},
        "peopleIn": sum(1 for a in granted if a["direction"] == "in"),
        "peopleOut": sum(1 for a in granted if a["direction"] == "out"),
        "vehicles": sum(1 for p in last.values() if p["direction"] == "in"),
        "online": statuses["online"],
        "offline": statuses["offline"],
        "unknown": statuses["unknown"],
        "offlineList": sorted(d["device_id"] for d in devices if d["status"] == "offline"),
        "open": len(tickets),
        "overdue": sum(1 for t in tickets if t["overdue"]),
        "categories": dict(Counter(t["category"]["code"] for t in tickets)),
        "tickets": sorted(t["ticket_id"] for t in tickets),
        "houses": dict(houses),
        "persons": dict(persons),
        "registered": registered,
        "observed": observed,
        "visitors": visitors,
        "indicators": {
            row["group"]: [row["raised"], row["closed"]] for row in stats.json()["data"]
        },
    }


def comparable(shown: dict[str, Any]) -> dict[str, Any]:
    """The page's figures in the API figures' shape (zero counts left out, lists sorted)."""
    return {
        "rate": {kind: n for kind, n in shown["rate"].items() if n},
        "houses": {k: n for k, n in shown["houses"].items() if n},
        "persons": {k: n for k, n in shown["persons"].items() if n},
        "offlineList": sorted(shown["offlineList"]),
        "tickets": sorted(shown["tickets"]),
        **{
            name: shown[name]
            for name in (
                "peopleIn",
                "peopleOut",
                "vehicles",
                "online",
                "offline",
                "unknown",
                "open",
                "overdue",
                "categories",
                "registered",
                "observed",
                "visitors",
                "indicators",
            )
        },
    }


def nonzero(figures: dict[str, Any]) -> dict[str, Any]:
    return {
        **figures,
        "houses": {k: n for k, n in figures["houses"].items() if n},
        "persons": {k: n for k, n in figures["persons"].items() if n},
    }


def base_of(gateway: RunningGateway) -> str:
    return str(gateway.http.base_url).rstrip("/")


class TestTheDashboardAsAnAdminSeesIt:
    """Signed in with the admin key: both communities, figures equal to the API's."""

    async def test_it_loads_cleanly_and_its_figures_are_the_apis(
        self, fed: RunningGateway, browser: Browser
    ) -> None:
        page, watched = await open_dashboard(browser, base_of(fed), fed.http.headers["X-API-Key"])
        try:
            shown = await page.evaluate(FIGURES_JS)
            expected = await api_figures(fed.http, shown)
            assert watched.clean(), watched
        finally:
            await page.close()
        key = fed.http.headers["X-API-Key"]
        assert watched.api_requests and all(sent == key for _, sent in watched.api_requests)
        assert not [url for url, _ in watched.api_requests if key in url]
        assert shown["communities"] == PILOTS
        assert comparable(shown) == nonzero(expected)
        tickets = {t["ticket_id"]: t for t in await every(fed.http, "/v1/tickets")}
        assert "jiaxin" in {tickets[shown_id]["community"] for shown_id in shown["tickets"]}
        assert sum(shown["rate"].values()) > 0 and shown["peopleIn"] > 0 and shown["online"] > 0
        assert sum(shown["houses"].values()) > 0 and sum(shown["persons"].values()) > 0

    async def test_a_ticket_raised_now_appears_without_a_reload(
        self, fed: RunningGateway, browser: Browser, mosquitto: MosquittoService
    ) -> None:
        page, watched = await open_dashboard(browser, base_of(fed), fed.http.headers["X-API-Key"])
        try:
            navigations: list[str] = []
            page.on("framenavigated", lambda frame: navigations.append(frame.url))
            ticket_id = await force_a_door(fed, mosquitto, "yida")
            item = page.locator(f'[data-testid=ticket][data-ticket-id="{ticket_id}"]')
            await item.wait_for(timeout=LIVE_MS)
            await item.locator("button").click()
            dialog = page.get_by_test_id("ticket-detail")
            await expect(dialog).to_have_attribute("data-ticket-id", ticket_id, timeout=LIVE_MS)
            await expect(dialog.get_by_test_id("evidence-event").first).to_be_visible()
            history = await dialog.get_by_test_id("history-step").count()
            evidence = await dialog.get_by_test_id("evidence-event").all()
            evidence_ids = [await e.get_attribute("data-event-id") for e in evidence]
            assert watched.clean(), watched
        finally:
            await page.close()
        detail = (await fed.http.get(f"/v1/tickets/{ticket_id}")).json()
        assert navigations == []
        assert history == len(detail["history"]) >= 1
        assert evidence_ids == [event["event_id"] for event in detail["events"]]

    async def test_english_is_a_click_away_and_signing_out_forgets_the_key(
        self, fed: RunningGateway, browser: Browser
    ) -> None:
        page, watched = await open_dashboard(browser, base_of(fed), fed.http.headers["X-API-Key"])
        try:
            await page.get_by_test_id("lang-toggle").click()
            await expect(page.locator("html")).to_have_attribute("lang", "en")
            heading = await page.locator("h1").inner_text()
            assert watched.clean(), watched
            await page.get_by_test_id("sign-out").click()
            await page.get_by_test_id("sign-in-key").wait_for()
            stored = await page.evaluate("sessionStorage.getItem('scgw.apiKey')")
        finally:
            await page.close()
        assert heading == "Community operations"
        assert stored is None
        # Signing out ends the live stream (the page's own abort); nothing else fails.
        assert all("/v1/stream?" in f and f.endswith("net::ERR_ABORTED") for f in watched.failed)
        assert watched.errors == [] and watched.elsewhere == []


SNAKE_CASE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
TIME = re.compile(r"^\d\d-\d\d \d\d:\d\d$")

WALL_JS = """() => {
  const box = (selector) => document.querySelector(selector).getBoundingClientRect().bottom;
  const when = [...document.querySelectorAll('[data-testid=ticket] .when')];
  return {
    scrollHeight: document.documentElement.scrollHeight,
    viewport: window.innerHeight,
    bottoms: [box('[data-testid=ticket-list]'), box('[data-testid=indicators]'),
              box('[data-testid=persons-by-type]'), box('[data-testid=offline-list]')],
    shownTimes: when.map((node) => node.textContent),
    times: when.map((node) => node.dataset.at),
    categories: [...document.querySelectorAll('[data-testid=category-row]')]
      .map((row) => [row.dataset.code, row.cells[0].textContent]),
    ticketCategories: [...document.querySelectorAll('[data-testid=ticket] .where')]
      .map((node) => node.textContent),
  };
}"""


FILL_JS = """() => {
  const fill = (selector, rows) => {
    const list = document.querySelector(selector);
    const first = list.firstElementChild;
    for (let n = list.children.length; first && n < rows; n += 1) {
      list.append(first.cloneNode(true));
    }
  };
  fill('[data-testid=ticket-list]', 100);
  fill('[data-testid=tickets-by-category] tbody', 12);
  fill('[data-testid=tickets-by-grid] tbody', 12);
  fill('[data-testid=offline-list]', 30);
  return document.querySelectorAll('[data-testid=ticket]').length;
}"""
"""The board at its fullest: the page's own rows repeated up to the most it lists (100
tickets) and more categories, grids and offline devices than the pilots have."""


def ticket_requests(watched: Watched) -> list[dict[str, list[str]]]:
    """The query of every request for the ticket list (not for one ticket)."""
    return [
        parse_qs(urlsplit(url).query)
        for url, _ in watched.api_requests
        if urlsplit(url).path == "/v1/tickets"
    ]


class TestOnAWallScreen:
    """At 1920x1080 the whole board fits, the list reads in order, English names every
    category, and a refresh asks for open tickets only, a bounded number of times."""

    async def test_the_board_fits_1920_by_1080_without_scrolling(
        self, fed: RunningGateway, browser: Browser
    ) -> None:
        key = fed.http.headers["X-API-Key"]
        page, watched = await open_dashboard(browser, base_of(fed), key, 1920, 1080)
        try:
            await expect(page.get_by_test_id("stream-status")).to_be_visible()
            wall = await page.evaluate(WALL_JS)
            rows = await page.evaluate(FILL_JS)
            full = await page.evaluate(WALL_JS)
            assert watched.clean(), watched
        finally:
            await page.close()
        assert wall["viewport"] == 1080 and rows == 100
        for board in (wall, full):
            assert board["scrollHeight"] <= 1080
            assert all(bottom <= 1080 for bottom in board["bottoms"]), board["bottoms"]

    async def test_the_ticket_list_is_ordered_by_the_detection_time_it_shows(
        self, fed: RunningGateway, browser: Browser
    ) -> None:
        key = fed.http.headers["X-API-Key"]
        page, watched = await open_dashboard(browser, base_of(fed), key, 1920, 1080)
        try:
            wall = await page.evaluate(WALL_JS)
            header = await page.locator(".ticket-head .when").inner_text()
            zone = await page.get_by_test_id("time-zone").inner_text()
            await page.get_by_test_id("lang-toggle").click()
            await expect(page.locator(".ticket-head .when")).to_have_text("Detected")
            english = await page.evaluate(WALL_JS)
            english_zone = await page.get_by_test_id("time-zone").inner_text()
            assert watched.clean(), watched
        finally:
            await page.close()
        tickets = {t["ticket_id"]: t for t in await every(fed.http, "/v1/tickets")}
        assert len(wall["times"]) >= 2
        instants = [datetime.fromisoformat(at) for at in wall["times"]]
        assert instants == sorted(instants, reverse=True)
        assert set(instants) <= {datetime.fromisoformat(t["detected_at"]) for t in tickets.values()}
        china = timezone(timedelta(hours=8))
        expected = [at.astimezone(china).strftime("%m-%d %H:%M") for at in instants]
        assert wall["shownTimes"] == expected
        assert english["shownTimes"] == expected  # one format in both languages
        assert all(TIME.match(shown) for shown in expected)
        assert header == "发现时间"
        assert "UTC+8" in zone and "China Standard Time" in english_zone

    async def test_english_names_every_category_and_shows_no_code(
        self, fed: RunningGateway, browser: Browser
    ) -> None:
        key = fed.http.headers["X-API-Key"]
        page, watched = await open_dashboard(browser, base_of(fed), key, 1920, 1080)
        try:
            await page.get_by_test_id("lang-toggle").click()
            await expect(page.locator("html")).to_have_attribute("lang", "en")
            wall = await page.evaluate(WALL_JS)
            text = await page.locator(".panel.tickets").inner_text()
            assert watched.clean(), watched
        finally:
            await page.close()
        overview = (await fed.http.get("/v1/overview")).json()
        english = {c["code"]: c["name_en"] for c in overview["tickets"]["by_category"]}
        assert wall["categories"] and all(english.values())
        assert dict(wall["categories"]) == english
        shown = {where.split(" · ")[0] for where in wall["ticketCategories"]}
        assert shown and shown <= set(english.values())
        assert SNAKE_CASE.findall(text) == []

    async def test_a_refresh_reads_only_open_tickets_one_request_per_open_status(
        self, fed: RunningGateway, browser: Browser
    ) -> None:
        key = fed.http.headers["X-API-Key"]
        page, watched = await open_dashboard(browser, base_of(fed), key, 1920, 1080)
        try:
            assert watched.clean(), watched
        finally:
            await page.close()
        asked = ticket_requests(watched)
        overviews = [url for url, _ in watched.api_requests if "/v1/overview" in url]
        assert len(overviews) >= 1
        assert 0 < len(asked) <= len(OPEN_STATUSES) * len(overviews)
        assert {query["status"][0] for query in asked} == set(OPEN_STATUSES)
        assert all(len(query["status"]) == 1 for query in asked)
        assert all(int(query["limit"][0]) <= 100 and "cursor" not in query for query in asked)


class TestAWrongKey:
    """A key the gateway does not know brings the sign-in form back, with the reason."""

    async def test_it_is_refused_and_forgotten(self, fed: RunningGateway, browser: Browser) -> None:
        watched = Watched()
        page = await browser.new_page()
        page.on("response", lambda r: watched.failed.append(f"{r.url} {r.status}"))
        try:
            await page.goto(f"{base_of(fed)}/")
            await page.get_by_test_id("sign-in-key").fill("scgw_key_000000000000_notakey")
            await page.get_by_test_id("sign-in-submit").click()
            await expect(page.get_by_test_id("sign-in-error")).to_be_visible(timeout=LOAD_MS)
            board_hidden = await page.locator("#board").is_hidden()
            stored = await page.evaluate("sessionStorage.getItem('scgw.apiKey')")
            status_hidden = await page.get_by_test_id("stream-status").is_hidden()
        finally:
            await page.close()
        assert board_hidden and stored is None
        assert status_hidden  # neither "live" nor "polling" on the sign-in form
        refused = [f for f in watched.failed if "/v1/" in f]
        assert refused and all(f.endswith(" 401") for f in refused)


class TestAPropertyKey:
    """Signed in with a property key for yida: yida's figures, nothing of jiaxin."""

    async def test_it_sees_no_jiaxin_data(self, fed: RunningGateway, browser: Browser) -> None:
        secret = await create_key(fed, "property", ["yida"], name="亿达物业")
        page, watched = await open_dashboard(browser, base_of(fed), secret)
        try:
            shown = await page.evaluate(FIGURES_JS)
            text = await page.locator("body").inner_text()
            html = await page.content()
            assert watched.clean(), watched
        finally:
            await page.close()
        jiaxin = pilot_community("jiaxin", SEED)
        grids = pilot_grids()["jiaxin"].grids
        forbidden = ["jiaxin", jiaxin.name, *(g.code for g in grids), *(g.name for g in grids)]
        assert shown["communities"] == ["yida"]
        assert [word for word in forbidden if word in text or word in html] == []
        assert shown["online"] > 0 and sum(shown["rate"].values()) > 0


PAGE_TIME = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""The page's clock (Playwright's, installed before the page loads): paused, so the page's
timers (refreshes, stream retries, back-offs) fire only when a test runs it forward."""
WRONG_ROLE_ZH = "此密钥的角色不能使用看板：需要政府（gov）、物业（property）或管理员（admin）密钥。"
WRONG_ROLE_EN = "This key's role cannot use the dashboard: it needs a gov, property or admin key."


async def paused_page(browser: Browser, base: str) -> Page:
    """A new tab on the sign-in form whose timers run only when the test says so."""
    page = await browser.new_page(viewport={"width": 1600, "height": 1000})
    await page.clock.install(time=PAGE_TIME)
    await page.goto(f"{base}/")
    await page.clock.pause_at(PAGE_TIME + timedelta(minutes=10))  # later than the load ends
    return page


async def sign_in(page: Page, key: str) -> None:
    await page.get_by_test_id("sign-in-key").fill(key)
    await page.get_by_test_id("sign-in-submit").click()


async def settled(page: Page) -> None:
    """Until every request the page's timers have started so far has been sent: a request of
    the test's own, made after them, has come back (the browser sends them in order)."""
    status = await page.evaluate("() => fetch('/healthz', {cache: 'no-store'}).then(r => r.status)")
    assert status == 200


def stream_readers(gateway: RunningGateway) -> float:
    """The gateway's open streams (`scgw_stream_readers`)."""
    value = gateway.runtime.metrics.registry.get_sample_value("scgw_stream_readers")
    return value or 0.0


class TestSigningOutEndsTheSession:
    """Every request, wait and loop of a signed-in session ends with it: a stream retry still
    pending when the key signs out never opens a stream, neither for the key signed in next
    nor after that one signs out."""

    async def test_a_pending_stream_retry_dies_with_its_session(
        self, fed: RunningGateway, browser: Browser
    ) -> None:
        gov = await create_key(fed, "gov", name="政府平台")
        admin = fed.http.headers["X-API-Key"]
        await wait_until(lambda: stream_readers(fed) == 0, what="no stream open before the test")
        page = await paused_page(browser, base_of(fed))
        streams: list[str | None] = []
        page.on(
            "request",
            lambda sent: (
                streams.append(sent.headers.get("x-api-key")) if "/v1/stream" in sent.url else None
            ),
        )

        async def refuse_gov(route: Route) -> None:
            """The gov key's stream is refused (the page then waits to retry)."""
            if route.request.headers.get("x-api-key") == gov:
                await route.fulfill(status=503, json={"error": {"code": "unavailable"}})
            else:
                await route.continue_()

        await page.route("**/v1/stream?*", refuse_gov)
        try:
            async with page.expect_response(lambda r: "/v1/stream" in r.url) as refused:
                await sign_in(page, gov)
            assert (await refused.value).status == 503
            await page.get_by_test_id("sign-out").click()
            await sign_in(page, admin)
            await wait_loaded(page)
            await expect(page.get_by_test_id("stream-status")).to_have_attribute("data-state", "on")
            await wait_until(lambda: stream_readers(fed) == 1, what="the admin's stream")
            await page.clock.run_for(60_000)  # the gov session's retry was due after 3 s
            await settled(page)
            open_while_signed_in = stream_readers(fed)
            await page.get_by_test_id("sign-out").click()
            await page.get_by_test_id("sign-in-key").wait_for()
            await page.clock.run_for(60_000)
            await settled(page)
            await wait_until(lambda: stream_readers(fed) == 0, what="every stream closed")
        finally:
            await page.close()
        assert streams == [gov, admin]
        assert open_while_signed_in == 1


class TestAKeyWhoseRoleCannotUseTheDashboard:
    """A device_ops key may not read the overview: the page says so and asks nothing more."""

    async def test_it_is_sent_back_to_the_sign_in_form_with_the_reason(
        self, fed: RunningGateway, browser: Browser
    ) -> None:
        secret = await create_key(fed, "device_ops", name="设备运维")
        page = await paused_page(browser, base_of(fed))
        asked: list[str] = []
        errors: list[str] = []
        page.on("request", lambda sent: asked.append(sent.url) if "/v1/" in sent.url else None)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            await sign_in(page, secret)
            reason = page.get_by_test_id("sign-in-error")
            await expect(reason).to_have_attribute("data-reason", "wrongRole", timeout=LOAD_MS)
            await expect(reason).to_have_text(WRONG_ROLE_ZH)
            board_hidden = await page.locator("#board").is_hidden()
            stored = await page.evaluate("sessionStorage.getItem('scgw.apiKey')")
            at_the_form = list(asked)
            # More than twenty polls and forty stream retries of a page that kept trying.
            await page.clock.run_for(120_000)
            await settled(page)
            await page.get_by_test_id("lang-toggle").click()
            await expect(reason).to_have_text(WRONG_ROLE_EN)
        finally:
            await page.close()
        assert board_hidden and stored is None
        assert [url.removeprefix(base_of(fed)) for url in at_the_form] == ["/v1/overview"]
        assert asked == at_the_form
        # The browser's own note of the one refused request, nothing of the page's.
        assert all("403" in error for error in errors) and len(errors) <= 1, errors


class TestTheGatewayBusyOrFailing:
    """A 429 waits for its Retry-After; a 5xx is shown and retried after a growing delay."""

    async def test_a_429_is_retried_after_its_retry_after(
        self, fed: RunningGateway, browser: Browser
    ) -> None:
        page = await paused_page(browser, base_of(fed))
        overview: list[str] = []
        page.on(
            "request",
            lambda sent: overview.append(sent.url) if "/v1/overview" in sent.url else None,
        )
        answers = iter([(429, {"Retry-After": "20"})])

        async def busy_once(route: Route) -> None:
            answer = next(answers, None)
            if answer is None:
                await route.continue_()
            else:
                status, headers = answer
                body = {"error": {"code": "rate_limited", "message": "slow down", "details": {}}}
                await route.fulfill(status=status, headers=headers, json=body)

        await page.route("**/v1/overview*", busy_once)
        try:
            await sign_in(page, fed.http.headers["X-API-Key"])
            updated = page.get_by_test_id("updated-at")
            await expect(updated).to_have_attribute("data-state", "error", timeout=LOAD_MS)
            await expect(updated).to_contain_text("20 秒后重试")
            await page.clock.run_for(19_000)
            await settled(page)
            before_retry_after = len(overview)
            await page.clock.run_for(1_500)
            await wait_loaded(page)
        finally:
            await page.close()
        assert before_retry_after == 1
        assert len(overview) >= 2

    async def test_a_5xx_is_shown_and_retried_with_a_growing_delay(
        self, fed: RunningGateway, browser: Browser
    ) -> None:
        page = await paused_page(browser, base_of(fed))
        overview: list[str] = []
        page.on(
            "request",
            lambda sent: overview.append(sent.url) if "/v1/overview" in sent.url else None,
        )
        failures = iter(range(2))

        async def failing_twice(route: Route) -> None:
            if next(failures, None) is None:
                await route.continue_()
            else:
                body = {"error": {"code": "internal", "message": "database down", "details": {}}}
                await route.fulfill(status=503, json=body)

        await page.route("**/v1/overview*", failing_twice)
        try:
            await sign_in(page, fed.http.headers["X-API-Key"])
            updated = page.get_by_test_id("updated-at")
            await expect(updated).to_contain_text("database down", timeout=LOAD_MS)
            await expect(updated).to_contain_text("5 秒后重试")
            await page.clock.run_for(5_500)  # the first retry: after 5 s
            await expect(updated).to_contain_text("10 秒后重试", timeout=LOAD_MS)
            after_first = len(overview)
            await page.clock.run_for(8_000)  # the second waits 10 s
            await settled(page)
            before_second = len(overview)
            await page.clock.run_for(2_500)
            await wait_loaded(page)
            assert await page.locator("#board").is_visible()
        finally:
            await page.close()
        assert (after_first, before_second) == (2, 2)
        assert len(overview) >= 3
