// Operations dashboard of the smart-community gateway.
//
// The page holds no data of its own: the operator signs in with an API key, kept in this
// tab's sessionStorage only, and every request sends it in the X-API-Key header (never in a
// URL: access logs keep URLs). The figures come from GET /v1/overview, re-read every 30 s and
// soon after the live stream (GET /v1/stream, read with fetch so the key stays a header) says
// something changed; new tickets appear from the stream at once. The ticket list is the newest
// LIST_LIMIT open tickets (one GET /v1/tickets?status= per open status, so a refresh makes a
// bounded number of requests and never reads closed tickets); the overview's count says how
// many more there are. Times are China Standard Time (UTC+8), as MM-DD HH:mm in both languages. Text is set with
// textContent only: nothing the API returns is ever parsed as HTML.
//
// Each sign-in is one session: its key, one AbortController for every request it makes and
// its own loops (the figures, the stream). Signing out aborts it; every loop of a session
// checks, after each wait, that its session is still the current one and returns if not, so
// no request of an old session is ever sent again (nor with a key signed in since).
// A key whose role may not read the overview (403) is sent back to the sign-in form with the
// reason, before any stream is opened; a 429 waits for its Retry-After, a 5xx or a network
// failure is shown and retried with a growing delay.
"use strict";

(function () {
  const KEY_STORAGE = "scgw.apiKey";
  const LANG_STORAGE = "scgw.lang";
  const REFRESH_MS = 30000;
  const POLL_MS = 5000; // when the stream is unavailable
  const STREAM_RETRY_MS = 3000;
  const BACKOFF_MAX_MS = 300000;
  const RETRY_AFTER_DEFAULT_MS = 30000;
  const STREAM_URL = "/v1/stream?kinds=ticket,event,device";
  const CHANGE_REFRESH_MS = 1000;
  const EVENT_REFRESH_MS = 10000;
  const OPEN = new Set(["detected", "reported", "accepted", "dispatched", "handled"]); // schemas.tickets.OPEN_STATUSES
  const LIST_LIMIT = 100; // open tickets listed: the newest of each open status, one request each
  const KINDS = ["access", "door_state", "face_capture", "vehicle_pass", "behaviour_alarm", "visitor", "device_status"];
  const SVG = "http://www.w3.org/2000/svg";

  const STRINGS = {
    zh: {
      title: "社区运行看板", signInTitle: "使用 API 密钥登录", apiKey: "API 密钥", signIn: "登录",
      signOut: "退出", keyHint: "密钥只保存在本标签页的会话存储中，关闭标签页即清除。",
      badKey: "密钥无效或已过期。", failed: "无法读取数据：", toggle: "English",
      wrongRole: "此密钥的角色不能使用看板：需要政府（gov）、物业（property）或管理员（admin）密钥。",
      busy: "请求过多。", retryIn: (s) => `${s} 秒后重试`,
      eventRate: "最近一小时事件速率（按类型，每分钟）", peopleToday: "今日人员进出", entered: "进", exited: "出",
      vehicles: "车场在场车辆", vehiclesNow: "当前在场", devices: "设备状态", online: "在线", offline: "离线",
      unknown: "未知", tickets: "待办工单", open: "未办结", overdue: "已超期", byCategory: "按类别",
      byGrid: "按网格", population: "一标三实", housesByUsage: "房屋（按用途）", personsByType: "人口（按类型）",
      registered: "登记居住", observed: "实际观测", visitors: "在访访客", indicators: "网格治理指标（近30天）",
      group: "社区", raised: "上报", accepted: "受理", closed: "办结", closureRate: "办结率", onTimeRate: "按时率",
      meanHours: "平均办结（小时）", p90Hours: "P90（小时）", falseAlarmRate: "误报率", close: "关闭",
      history: "处置记录", evidence: "证据事件", updated: "更新于 ", live: "实时", polling: "轮询",
      detectedAt: "发现时间", more: (n) => `另有 ${n} 件未列出`, timeZone: "时间均为北京时间（UTC+8）",
      noGrid: "未划入网格", none: "无", since: "自 ", total: "合计",
      kind: { access: "门禁通行", door_state: "门状态", face_capture: "人脸抓拍", vehicle_pass: "车辆通行",
        behaviour_alarm: "行为告警", visitor: "访客", device_status: "设备状态" },
      usage: { self_occupied: "自住", rented: "出租", vacant: "空置", commercial: "商用", office: "办公", other: "其他" },
      ptype: { registered: "户籍人口", floating: "流动人口", foreign: "境外人员", unregistered: "未落户人员", visitor: "访客" },
      status: { detected: "已发现", reported: "已上报", accepted: "已受理", rejected: "已退回", dispatched: "已派遣",
        handled: "已处置", closed: "已办结", false_alarm: "误报", cancelled: "已撤销" },
    },
    en: {
      title: "Community operations", signInTitle: "Sign in with an API key", apiKey: "API key", signIn: "Sign in",
      signOut: "Sign out", keyHint: "The key is kept in this tab's session storage only and is gone when the tab closes.",
      badKey: "The key is invalid or has expired.", failed: "Could not read the data: ", toggle: "中文",
      wrongRole: "This key's role cannot use the dashboard: it needs a gov, property or admin key.",
      busy: "Too many requests.", retryIn: (s) => `retrying in ${s} s`,
      eventRate: "Event rate, last hour (per minute, by kind)", peopleToday: "People today", entered: "in", exited: "out",
      vehicles: "Car park", vehiclesNow: "vehicles inside now", devices: "Devices", online: "online", offline: "offline",
      unknown: "unknown", tickets: "Open tickets", open: "open", overdue: "overdue", byCategory: "By category",
      byGrid: "By grid", population: "Houses, people, vehicles", housesByUsage: "Houses by usage",
      personsByType: "Persons by population type", registered: "registered occupants", observed: "observed occupants",
      visitors: "visitors now", indicators: "Grid-management indicators, last 30 days",
      group: "Community", raised: "Raised", accepted: "Accepted", closed: "Closed", closureRate: "Closure rate",
      onTimeRate: "On time", meanHours: "Mean hours to close", p90Hours: "P90 hours", falseAlarmRate: "False alarms",
      close: "Close", history: "History", evidence: "Evidence", updated: "Updated ", live: "live", polling: "polling",
      detectedAt: "Detected", more: (n) => `and ${n} more not listed`, timeZone: "Times are China Standard Time (UTC+8)",
      noGrid: "no grid", none: "none", since: "since ", total: "total",
      kind: { access: "Access", door_state: "Door state", face_capture: "Face capture", vehicle_pass: "Vehicle pass",
        behaviour_alarm: "Behaviour alarm", visitor: "Visitor", device_status: "Device status" },
      usage: { self_occupied: "Owner-occupied", rented: "Rented", vacant: "Vacant", commercial: "Commercial", office: "Office", other: "Other" },
      ptype: { registered: "Registered", floating: "Floating", foreign: "Foreign", unregistered: "Unregistered", visitor: "Visitors" },
      status: { detected: "detected", reported: "reported", accepted: "accepted", rejected: "rejected", dispatched: "dispatched",
        handled: "handled", closed: "closed", false_alarm: "false alarm", cancelled: "cancelled" },
    },
  };

  const state = {
    lang: sessionStorage.getItem(LANG_STORAGE) === "en" ? "en" : "zh",
    overview: null,
    tickets: new Map(), // ticket_id -> ticket (open ones)
    categoryEn: new Map(), // category code -> English name, from the overview (the responsibility list's)
    fresh: new Set(),
    session: null, // the signed-in session (see newSession); null when signed out
  };

  const $ = (selector, root) => (root || document).querySelector(selector);
  const byTestId = (id) => $(`[data-testid="${id}"]`);
  const t = (key) => STRINGS[state.lang][key];
  const label = (table, code) => (STRINGS[state.lang][table] || {})[code] || code;
  const key = () => sessionStorage.getItem(KEY_STORAGE);
  const live = (session) => session !== null && state.session === session && !session.controller.signal.aborted;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, String(value));
    }
    for (const child of children) node.append(child === null || child === undefined ? "" : child);
    return node;
  }

  function setNumber(id, value) {
    const node = byTestId(id);
    node.dataset.value = String(value);
    node.textContent = Number(value).toLocaleString(state.lang === "zh" ? "zh-CN" : "en");
  }

  function percent(value) {
    return value === null || value === undefined ? "–" : `${(value * 100).toFixed(1)}%`;
  }

  function hours(value) {
    return value === null || value === undefined ? "–" : value.toFixed(1);
  }

  // MM-DD HH:mm in China Standard Time, the same in both languages (no day/month ambiguity).
  const CST = new Intl.DateTimeFormat("en-GB", {
    timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  function localTime(iso) {
    const part = Object.fromEntries(CST.formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
    return `${part.month}-${part.day} ${part.hour}:${part.minute}`;
  }

  // A category's name: the API's (Chinese) name, or in English the responsibility list's
  // name_en as the overview gives it, else the code made readable ("city_management" ->
  // "City management"). The list is per district, so no name is written here.
  function categoryName(code, name) {
    if (state.lang === "zh") return name || code;
    const english = state.categoryEn.get(code);
    if (english) return english;
    const words = code.replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  // ---- Sessions ---------------------------------------------------------------------

  function newSession(apiKey) {
    return {
      key: apiKey,
      controller: new AbortController(), // aborts every request, wait and loop of the session
      streaming: false,
      streamStarted: false,
      lastEventId: null,
      wake: null, // while the figures loop waits: asks it to refresh sooner
      soon: null, // a sooner refresh asked for while the figures were being read
      notBefore: 0, // no figures request before this time (a 429's Retry-After)
    };
  }

  // Resolves after `ms`, or at once when the session ends.
  function sleep(session, ms) {
    return new Promise((resolve) => {
      const signal = session.controller.signal;
      if (signal.aborted) { resolve(); return; }
      const done = () => { clearTimeout(timer); signal.removeEventListener("abort", done); resolve(); };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done);
    });
  }

  // The figures loop's wait: `ms`, or less when the stream says something changed
  // (refreshSoon), never before a 429's Retry-After; at once when the session ends.
  function pause(session, ms) {
    return new Promise((resolve) => {
      const signal = session.controller.signal;
      if (signal.aborted) { resolve(); return; }
      let timer = null;
      let due = Infinity;
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        session.wake = null;
        resolve();
      };
      const at = (when) => {
        const sooner = Math.max(when, session.notBefore);
        if (sooner >= due) return;
        due = sooner;
        clearTimeout(timer);
        timer = setTimeout(done, Math.max(0, due - Date.now()));
      };
      session.wake = (delay) => at(Date.now() + delay);
      at(Date.now() + Math.min(ms, session.soon === null ? Infinity : session.soon));
      session.soon = null;
      signal.addEventListener("abort", done);
    });
  }

  function backoff(failures, base) {
    return Math.min(BACKOFF_MAX_MS, base * 2 ** Math.max(0, failures - 1));
  }

  // Retry-After in seconds or as an HTTP date; `fallback` when absent or unreadable.
  function retryAfterMs(response, fallback) {
    const value = response.headers.get("Retry-After");
    if (!value) return fallback;
    const seconds = Number(value);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
    const date = Date.parse(value);
    return Number.isNaN(date) ? fallback : Math.max(0, date - Date.now());
  }

  // ---- API ---------------------------------------------------------------------------

  class Unauthorized extends Error {}
  class Forbidden extends Error {} // the key's role may never read this: no retry helps
  class TooMany extends Error {
    constructor(message, waitMs) { super(message); this.waitMs = waitMs; }
  }

  async function api(session, path) {
    const response = await fetch(path, {
      headers: { "X-API-Key": session.key, Accept: "application/json" },
      cache: "no-store",
      signal: session.controller.signal,
    });
    if (response.status === 401) throw new Unauthorized();
    if (!response.ok) {
      let message = `HTTP ${response.status}`;
      try { message = (await response.json()).error.message; } catch (ignored) { /* not the error body */ }
      if (response.status === 403) throw new Forbidden(message);
      if (response.status === 429) throw new TooMany(message, retryAfterMs(response, RETRY_AFTER_DEFAULT_MS));
      throw new Error(message);
    }
    return response.json();
  }

  // The newest open tickets: one request per open status (never a closed ticket, never more
  // than OPEN.size requests), the newest LIST_LIMIT of them by detection time.
  async function openTickets(session) {
    const found = [];
    for (const status of OPEN) {
      const query = new URLSearchParams({ status, limit: String(LIST_LIMIT) });
      found.push(...(await api(session, `/v1/tickets?${query}`)).data);
    }
    return byDetection(found).slice(0, LIST_LIMIT);
  }

  function byDetection(tickets) {
    return tickets.sort((a, b) => b.detected_at.localeCompare(a.detected_at) || b.ticket_id.localeCompare(a.ticket_id));
  }

  // The overview first, alone: a key whose role may not read it is turned away before it
  // asks for anything else.
  async function refresh(session) {
    const figures = await api(session, "/v1/overview");
    const tickets = await openTickets(session);
    if (!live(session)) return;
    state.overview = figures;
    for (const c of figures.tickets.by_category) if (c.name_en) state.categoryEn.set(c.code, c.name_en);
    state.tickets = new Map(tickets.map((ticket) => [ticket.ticket_id, ticket]));
    render();
  }

  // Re-reads the figures every REFRESH_MS (POLL_MS without the stream) and sooner when asked;
  // the stream is opened once the first figures have been read.
  async function figuresLoop(session) {
    let failures = 0;
    while (live(session)) {
      let wait;
      session.soon = null;
      try {
        await refresh(session);
        if (!live(session)) return;
        failures = 0;
        wait = session.streaming ? REFRESH_MS : POLL_MS;
        if (!session.streamStarted) { session.streamStarted = true; streamLoop(session); }
      } catch (error) {
        if (!live(session)) return;
        if (error instanceof Unauthorized) { signOut("badKey"); return; }
        if (error instanceof Forbidden) { signOut("wrongRole"); return; }
        failures += 1;
        if (error instanceof TooMany) {
          wait = Math.max(error.waitMs, backoff(failures, POLL_MS));
          session.notBefore = Date.now() + wait;
          showProblem(t("busy"), wait);
        } else {
          wait = backoff(failures, POLL_MS);
          showProblem(t("failed") + error.message, wait);
        }
      }
      await pause(session, wait);
    }
  }

  function showProblem(message, waitMs) {
    const updated = byTestId("updated-at");
    updated.dataset.state = "error";
    updated.textContent = `${message} ${t("retryIn")(Math.ceil(waitMs / 1000))}`;
  }

  // Soon after the stream says something changed; at most one refresh is pending, so a
  // busy stream of events re-reads the figures every few seconds, not at every event.
  function refreshSoon(session, delay) {
    if (session.wake) session.wake(delay);
    else session.soon = Math.min(session.soon === null ? Infinity : session.soon, delay);
  }

  // ---- The live stream: fetch + ReadableStream, the key in a header ---------------------

  function setStreaming(session, on) {
    if (!live(session)) return;
    const was = session.streaming;
    session.streaming = on;
    if (was && !on) refreshSoon(session, POLL_MS); // polling from now on
    renderStreamStatus();
  }

  function renderStreamStatus() {
    const status = byTestId("stream-status");
    const session = state.session;
    if (!session) { status.dataset.state = "off"; status.textContent = ""; return; }
    status.dataset.state = session.streaming ? "on" : "poll";
    status.textContent = session.streaming ? t("live") : t("polling");
  }

  async function streamLoop(session) {
    let failures = 0;
    while (live(session)) {
      let wait = STREAM_RETRY_MS;
      try {
        const headers = { "X-API-Key": session.key, Accept: "text/event-stream" };
        if (session.lastEventId) headers["Last-Event-ID"] = session.lastEventId;
        const response = await fetch(STREAM_URL, { headers, signal: session.controller.signal, cache: "no-store" });
        if (!live(session)) return;
        if (response.ok && response.body) {
          failures = 0;
          setStreaming(session, true);
          await readMessages(session, response.body);
        } else {
          if (response.body) response.body.cancel().catch(() => {});
          if (response.status === 401) { signOut("badKey"); return; }
          if (response.status === 403) { setStreaming(session, false); return; } // never for this role: poll
          failures += 1;
          wait = backoff(failures, STREAM_RETRY_MS);
          if (response.status === 429) wait = Math.max(wait, retryAfterMs(response, RETRY_AFTER_DEFAULT_MS));
        }
      } catch (error) {
        if (!live(session)) return;
        failures += 1;
        wait = backoff(failures, STREAM_RETRY_MS);
      }
      if (!live(session)) return;
      setStreaming(session, false);
      await sleep(session, wait);
    }
  }

  async function readMessages(session, body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done || !live(session)) return;
      buffer += value;
      let end;
      while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
        dispatch(session, parseBlock(block));
      }
    }
  }

  function parseBlock(block) {
    const message = { id: null, event: "message", data: [] };
    for (const line of block.split(/\r?\n/)) {
      if (line === "" || line.startsWith(":")) continue; // heartbeat comment
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "id") message.id = value;
      else if (field === "event") message.event = value;
      else if (field === "data") message.data.push(value);
    }
    return message;
  }

  function dispatch(session, message) {
    if (!live(session)) return;
    if (message.id) session.lastEventId = message.id;
    if (message.event === "reset") { refreshSoon(session, 0); return; }
    if (message.data.length === 0) return;
    let data;
    try { data = JSON.parse(message.data.join("\n")); } catch (ignored) { return; }
    if (message.event === "ticket") {
      const ticket = data.ticket || data;
      if (ticket && ticket.ticket_id) {
        if (OPEN.has(ticket.status)) {
          if (!state.tickets.has(ticket.ticket_id)) state.fresh.add(ticket.ticket_id);
          state.tickets.set(ticket.ticket_id, ticket);
        } else {
          state.tickets.delete(ticket.ticket_id);
        }
        renderTicketList();
      }
    }
    if (message.event === "event") refreshSoon(session, EVENT_REFRESH_MS);
    else refreshSoon(session, CHANGE_REFRESH_MS); // a ticket or a device's status: reload
  }

  // ---- Rendering ----------------------------------------------------------------------

  function render() {
    const o = state.overview;
    if (!o) return;
    const names = o.communities.map((c) => c.name || c.code);
    const communities = byTestId("communities");
    communities.textContent = names.join(" · ");
    communities.dataset.codes = o.communities.map((c) => c.code).join(",");
    const updated = byTestId("updated-at");
    updated.textContent = t("updated") + localTime(o.at);
    updated.dataset.at = o.at;
    delete updated.dataset.state;
    renderRate(o.event_rate);
    setNumber("people-in", o.people_today.entered);
    Object.assign(byTestId("people-in").dataset, { since: o.people_today.since, until: o.people_today.until });
    byTestId("vehicles-present").dataset.since = o.vehicles_present.since;
    setNumber("people-out", o.people_today.exited);
    setNumber("vehicles-present", o.vehicles_present.count);
    renderDevices(o.devices);
    renderTickets(o.tickets);
    renderPopulation(o.population);
    renderIndicators(o.indicators);
  }

  function renderRate(rate) {
    const chart = byTestId("event-rate-chart");
    chart.dataset.since = rate.since;
    chart.dataset.until = rate.until;
    const kinds = rate.kinds.length ? rate.kinds : KINDS;
    const width = 720, height = 220, left = 36, bottom = 20, top = 8;
    const minutes = rate.minutes;
    const peak = Math.max(1, ...minutes.map((m) => m.total));
    const step = (width - left) / Math.max(1, minutes.length);
    const scale = (height - bottom - top) / peak;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    const line = (x1, y1, x2, y2) => {
      const node = document.createElementNS(SVG, "line");
      Object.entries({ x1, y1, x2, y2, class: "axis" }).forEach(([k, v]) => node.setAttribute(k, v));
      svg.append(node);
    };
    const text = (x, y, content, anchor) => {
      const node = document.createElementNS(SVG, "text");
      node.setAttribute("x", x); node.setAttribute("y", y);
      if (anchor) node.setAttribute("text-anchor", anchor);
      node.textContent = content;
      svg.append(node);
    };
    line(left, height - bottom, width, height - bottom);
    line(left, top, left, height - bottom);
    text(left - 4, top + 10, String(peak), "end");
    text(left - 4, height - bottom, "0", "end");
    minutes.forEach((minute, index) => {
      let y = height - bottom;
      kinds.forEach((kind, k) => {
        const count = minute.by_kind[kind] || 0;
        if (!count) return;
        const bar = document.createElementNS(SVG, "rect");
        const h = count * scale;
        y -= h;
        bar.setAttribute("x", (left + index * step + 1).toFixed(1));
        bar.setAttribute("y", y.toFixed(1));
        bar.setAttribute("width", Math.max(1, step - 2).toFixed(1));
        bar.setAttribute("height", h.toFixed(1));
        bar.setAttribute("class", `k${k % 8}`);
        svg.append(bar);
      });
      if (index % 15 === 0) text(left + index * step, height - 4, localTime(minute.at).slice(-5));
    });
    chart.replaceChildren(svg);
    const legend = byTestId("event-rate-legend");
    legend.replaceChildren(...kinds.map((kind, k) => {
      const total = minutes.reduce((sum, m) => sum + (m.by_kind[kind] || 0), 0);
      return el("li", { "data-testid": "rate-kind", "data-kind": kind, "data-value": total },
        el("span", { class: `swatch k${k % 8}` }), `${label("kind", kind)} ${total}`);
    }));
    legend.dataset.value = String(minutes.reduce((sum, m) => sum + m.total, 0));
  }

  function renderDevices(devices) {
    setNumber("devices-online", devices.online);
    setNumber("devices-offline", devices.offline);
    setNumber("devices-unknown", devices.unknown);
    byTestId("offline-list").replaceChildren(...devices.offline_devices.map((d) =>
      el("li", { "data-testid": "offline-device", "data-device-id": d.device_id },
        `${d.device_id} · ${d.kind} · ${d.community}${d.since ? ` · ${t("since")}${localTime(d.since)}` : ""}`)));
  }

  function countRows(table, rows) {
    byTestId(table).tBodies[0].replaceChildren(...rows.map(([code, name, open, overdue, testid]) =>
      el("tr", { "data-testid": testid, "data-code": code, "data-open": open, "data-overdue": overdue, class: overdue ? "overdue" : null },
        el("td", {}, name), el("td", { class: "n" }, String(open)), el("td", { class: "n" }, overdue ? `${t("overdue")} ${overdue}` : ""))));
  }

  function renderTickets(tickets) {
    setNumber("tickets-open", tickets.open);
    setNumber("tickets-overdue", tickets.overdue);
    countRows("tickets-by-category", tickets.by_category.map((c) =>
      [c.code, categoryName(c.code, c.name), c.open, c.overdue, "category-row"]));
    countRows("tickets-by-grid", tickets.by_grid.map((g) =>
      [g.grid_code || "", g.name || g.grid_code || `${g.community} · ${t("noGrid")}`, g.open, g.overdue, "grid-row"]));
    renderTicketList();
  }

  function renderTicketList() {
    const list = byDetection([...state.tickets.values()]).slice(0, LIST_LIMIT);
    const open = state.overview ? state.overview.tickets.open : list.length;
    const more = byTestId("ticket-more");
    more.dataset.value = String(Math.max(0, open - list.length));
    more.textContent = open > list.length ? t("more")(open - list.length) : "";
    byTestId("ticket-list").replaceChildren(...list.map((ticket) => {
      const title = state.lang === "zh" ? ticket.title : ticket.summary_en;
      const classes = [ticket.overdue ? "overdue" : "", state.fresh.has(ticket.ticket_id) ? "fresh" : ""].join(" ").trim();
      const button = el("button", { type: "button" },
        el("span", { class: "when", "data-at": ticket.detected_at }, localTime(ticket.detected_at)),
        el("span", { class: "what" }, title),
        el("span", { class: "where" }, `${categoryName(ticket.category.code, ticket.category.name)} · ${label("status", ticket.status)}`));
      button.addEventListener("click", () => openTicket(ticket.ticket_id));
      return el("li", { "data-testid": "ticket", "data-ticket-id": ticket.ticket_id, "data-overdue": ticket.overdue, "data-category": ticket.category.code, class: classes || null }, button);
    }));
    state.fresh.clear();
  }

  async function openTicket(ticketId) {
    const session = state.session;
    if (!session) return;
    let ticket;
    try {
      ticket = await api(session, `/v1/tickets/${encodeURIComponent(ticketId)}`);
    } catch (error) {
      if (live(session) && error instanceof Unauthorized) signOut("badKey");
      return;
    }
    if (!live(session)) return;
    const dialog = $("#ticket-detail");
    dialog.dataset.ticketId = ticket.ticket_id;
    $(".title", dialog).textContent = state.lang === "zh" ? ticket.title : ticket.summary_en;
    $(".meta", dialog).textContent = [ticket.location.address, label("status", ticket.status),
      state.lang === "zh" ? ticket.description : "", ticket.overdue ? t("overdue") : ""].filter(Boolean).join(" · ");
    byTestId("ticket-history").replaceChildren(...(ticket.history || []).map((step) =>
      el("li", { "data-testid": "history-step" }, `${localTime(step.at)} ${step.from_status ? label("status", step.from_status) + " → " : ""}${label("status", step.to_status)} · ${step.actor}${step.comment ? ` · ${step.comment}` : ""}`)));
    const events = ticket.events || [];
    byTestId("ticket-evidence").replaceChildren(...(events.length ? events.map((event) =>
      el("li", { "data-testid": "evidence-event", "data-event-id": event.event_id },
        `${localTime(event.occurred_at)} · ${label("kind", event.kind)} · ${event.device_id}${event.building ? ` · ${event.building}` : ""}`)) : [el("li", {}, t("none"))]));
    if (!dialog.open) dialog.showModal();
  }

  function tableRows(table, counts, names) {
    byTestId(table).tBodies[0].replaceChildren(...Object.entries(counts).map(([code, count]) =>
      el("tr", { "data-testid": "count-row", "data-key": code, "data-value": count },
        el("td", {}, label(names, code)), el("td", { class: "n" }, String(count)))));
  }

  function renderPopulation(population) {
    tableRows("houses-by-usage", population.houses_by_usage, "usage");
    tableRows("persons-by-type", population.persons_by_population_type, "ptype");
    setNumber("occupancy-registered", population.occupancy.registered);
    setNumber("occupancy-observed", population.occupancy.observed);
    setNumber("visitors-current", population.current_visitors);
  }

  function renderIndicators(indicators) {
    const names = new Map((state.overview.communities || []).map((c) => [c.code, c.name || c.code]));
    const table = byTestId("indicators");
    table.dataset.since = indicators.since;
    table.tBodies[0].replaceChildren(...indicators.rows.map((row) =>
      el("tr", { "data-testid": "indicator-row", "data-group": row.group, "data-raised": row.raised, "data-closed": row.closed },
        el("td", {}, names.get(row.group) || row.group), el("td", { class: "n" }, String(row.raised)),
        el("td", { class: "n" }, String(row.accepted)), el("td", { class: "n" }, String(row.closed)),
        el("td", { class: "n" }, percent(row.closure_rate)), el("td", { class: "n" }, percent(row.on_time_rate)),
        el("td", { class: "n" }, hours(row.mean_hours_to_close)), el("td", { class: "n" }, hours(row.p90_hours_to_close)),
        el("td", { class: "n" }, percent(row.false_alarm_rate)))));
  }

  // ---- Language, sign-in, sign-out ----------------------------------------------------

  function applyLanguage() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.title = t("title");
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    byTestId("lang-toggle").textContent = t("toggle");
    renderStreamStatus();
    render();
  }

  function show(signedIn) {
    $("#sign-in-view").hidden = signedIn;
    $("#board").hidden = !signedIn;
    byTestId("sign-out").hidden = !signedIn;
    byTestId("stream-status").hidden = !signedIn; // no stream, no polling, while signed out
  }

  function start() {
    if (state.session) state.session.controller.abort(); // one session at a time
    const session = newSession(key());
    state.session = session;
    show(true);
    renderStreamStatus();
    figuresLoop(session);
  }

  // Ends the session (every request, wait and loop of it) and forgets its key and figures:
  // the board is put back as it was loaded, so the next key never sees this one's data.
  // `reason`: a STRINGS key shown on the sign-in form (and translated with the page).
  function signOut(reason) {
    sessionStorage.removeItem(KEY_STORAGE);
    if (state.session) state.session.controller.abort();
    state.session = null;
    state.overview = null;
    state.tickets = new Map();
    state.categoryEn = new Map();
    state.fresh.clear();
    const dialog = $("#ticket-detail");
    if (dialog.open) dialog.close();
    $("#board").replaceWith(blankBoard.cloneNode(true));
    const communities = byTestId("communities");
    communities.textContent = "";
    delete communities.dataset.codes;
    const updated = byTestId("updated-at");
    updated.textContent = "";
    delete updated.dataset.at;
    delete updated.dataset.state;
    renderStreamStatus();
    show(false);
    const error = byTestId("sign-in-error");
    error.hidden = !reason;
    if (reason) {
      error.dataset.i18n = reason;
      error.dataset.reason = reason;
      error.textContent = t(reason);
    } else {
      delete error.dataset.i18n;
      delete error.dataset.reason;
      error.textContent = "";
    }
    applyLanguage();
  }

  let blankBoard = null; // the board as loaded, before any figures

  document.addEventListener("DOMContentLoaded", () => {
    blankBoard = $("#board").cloneNode(true);
    applyLanguage();
    byTestId("lang-toggle").addEventListener("click", () => {
      state.lang = state.lang === "zh" ? "en" : "zh";
      sessionStorage.setItem(LANG_STORAGE, state.lang);
      applyLanguage();
    });
    byTestId("sign-out").addEventListener("click", () => signOut(null));
    $("#sign-in").addEventListener("submit", (submit) => {
      submit.preventDefault();
      const input = byTestId("sign-in-key");
      const value = input.value.trim();
      input.value = "";
      if (!value) return;
      sessionStorage.setItem(KEY_STORAGE, value);
      const error = byTestId("sign-in-error");
      error.hidden = true;
      delete error.dataset.i18n;
      delete error.dataset.reason;
      start();
    });
    if (key()) start(); else show(false);
  });
}());
