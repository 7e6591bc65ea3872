// The Event Streams console: a page of the gateway that calls the same REST API as any
// client (Basic auth with the Account SID and auth token, or an API key), nothing else.
// No framework and no build: a small hyperscript helper and the browser's own fetch.

const view = document.getElementById("view");
const SESSION = "event-streams-console";
let timers = [];

// --- the API ------------------------------------------------------------------------------

function credentials() {
  const saved = sessionStorage.getItem(SESSION);
  return saved ? JSON.parse(saved) : null;
}

async function api(path, { method = "GET", form = null } = {}) {
  const who = credentials();
  const headers = { Authorization: "Basic " + btoa(`${who.username}:${who.password}`) };
  let body = null;
  if (form) {
    body = new URLSearchParams();
    for (const [key, value] of Object.entries(form)) {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (item !== undefined && item !== null && item !== "") body.append(key, item);
      }
    }
  }
  const response = await fetch(path, { method, headers, body });
  if (response.status === 204) return {};
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(`${data.message || response.statusText} (code ${data.code || response.status})`);
    error.status = response.status;
    throw error;
  }
  return data;
}

async function all(path, key) {
  const items = [];
  let page = await api(path);
  for (;;) {
    items.push(...(page[key] || []));
    const next = page.meta && page.meta.next_page_url;
    if (!next) return items;
    page = await api(next);
  }
}

// --- building the page ----------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(key, value === true ? "" : value);
  }
  return fill(node, ...children);
}

// Replace a node's children: nested lists flattened, null / false left out, text as text.
function fill(node, ...children) {
  node.replaceChildren();
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

function show(...nodes) {
  fill(view, ...nodes);
}

function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.hidden = false;
  setTimeout(() => { box.hidden = true; }, 4000);
}

function state(text) {
  return h("span", { class: `state ${text}`, "data-state": text }, text);
}

function table(columns, rows, id) {
  return h("table", { id },
    h("thead", {}, h("tr", {}, columns.map(([title]) => h("th", {}, title)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row)))))),
  );
}

function field(label, input) {
  return [h("label", { for: input.id }, label), input];
}

async function guarded(action) {
  try {
    await action();
  } catch (error) {
    toast(error.message);
    if (error.status === 401) signOut();
  }
}

function every(seconds, action) {
  timers.push(setInterval(() => guarded(action), seconds * 1000));
}

// --- sign in --------------------------------------------------------------------------------

function signInView(problem = "") {
  document.getElementById("nav").hidden = true;
  const account = h("input", { id: "account-sid", placeholder: "AC…", autocomplete: "username" });
  const secret = h("input", { id: "auth-token", type: "password", autocomplete: "current-password" });
  const key = h("input", { id: "api-key", placeholder: "SK… (optional: sign in with an API key)" });
  const form = h("form", { class: "card", id: "sign-in", onsubmit: async (event) => {
    event.preventDefault();
    const who = { account: account.value.trim(), username: key.value.trim() || account.value.trim(), password: secret.value };
    sessionStorage.setItem(SESSION, JSON.stringify(who));
    try {
      await api("/v1/Sinks?PageSize=1");
      location.hash = "#/sinks";
      route();
    } catch (error) {
      sessionStorage.removeItem(SESSION);
      signInView(error.message);
    }
  } },
    h("h1", {}, "Sign in"),
    field("Account SID", account),
    field("Auth token (or the API key's secret)", secret),
    field("API key SID", key),
    h("button", { type: "submit", id: "sign-in-button" }, "Sign in"),
    problem ? h("p", { class: "error", id: "sign-in-error" }, problem) : null,
  );
  show(form);
}

function signOut() {
  sessionStorage.removeItem(SESSION);
  signInView();
}

// --- sinks ----------------------------------------------------------------------------------

const CONFIG_TEMPLATES = {
  webhook: { destination: "https://example.com/events", method: "POST", batch_events: false },
  kinesis: { arn: "arn:aws:kinesis:us-east-1:111111111111:stream/events", role_arn: "arn:aws:iam::111111111111:role/events", external_id: "" },
  segment: { write_key: "" },
};

async function sinksView() {
  const sinks = await all("/v1/Sinks?PageSize=100", "sinks");
  const kind = h("select", { id: "sink-type" }, Object.keys(CONFIG_TEMPLATES).map((t) => h("option", { value: t }, t)));
  const config = h("textarea", { id: "sink-configuration" }, JSON.stringify(CONFIG_TEMPLATES.webhook, null, 1));
  kind.addEventListener("change", () => guarded(async () => {
    const template = { ...CONFIG_TEMPLATES[kind.value] };
    // A Kinesis sink must carry the ExternalId issued to the account (its role trusts it).
    if (kind.value === "kinesis") template.external_id = (await api("/v1/Sinks/Kinesis/ExternalId")).external_id;
    config.value = JSON.stringify(template, null, 1);
  }));
  const description = h("input", { id: "sink-description", placeholder: "what it is for" });
  const create = h("form", { class: "card", id: "create-sink", onsubmit: (event) => guarded(async () => {
    event.preventDefault();
    const made = await api("/v1/Sinks", { method: "POST", form: { Description: description.value, SinkType: kind.value, SinkConfiguration: config.value } });
    toast(`Sink ${made.sid} created (${made.status})`);
    await sinksView();
  }) },
    h("h2", {}, "Create a sink"),
    field("Description", description), field("Type", kind), field("Configuration (JSON)", config),
    h("button", { type: "submit" }, "Create"),
  );
  const healthCells = new Map();
  const rows = table([
    ["Sink", (s) => h("a", { href: `#/sinks/${s.sid}` }, s.sid)],
    ["Description", (s) => s.description],
    ["Type", (s) => s.sink_type],
    ["Status", (s) => state(s.status)],
    ["Health", (s) => { const cell = h("span", { "data-health": s.sid }, "…"); healthCells.set(s.sid, cell); return cell; }],
    ["", (s) => [
      h("button", { type: "button", "data-test": s.sid, onclick: () => guarded(async () => {
        const result = await api(`/v1/Sinks/${s.sid}/Test`, { method: "POST", form: {} });
        toast(`Test event ${result.result} to ${s.sid}`);
      }) }, "Test"),
      h("button", { type: "button", "data-validate": s.sid, onclick: () => guarded(async () => {
        const testId = prompt("The test_id the test event carried:");
        if (!testId) return;
        const result = await api(`/v1/Sinks/${s.sid}/Validate`, { method: "POST", form: { TestId: testId } });
        toast(`Validation ${result.result}`);
        await sinksView();
      }) }, "Validate"),
      h("button", { type: "button", "data-delete": s.sid, onclick: () => guarded(async () => {
        if (!confirm(`Delete sink ${s.sid}?`)) return;
        await api(`/v1/Sinks/${s.sid}`, { method: "DELETE" });
        toast(`Sink ${s.sid} deleted`);
        await sinksView();
      }) }, "Delete"),
    ]],
  ], sinks, "sinks");
  show(h("h1", {}, "Sinks"), sinks.length ? rows : h("p", { class: "muted" }, "No sinks yet."), create);
  for (const [sid, cell] of healthCells) {
    api(`/v1/Sinks/${sid}/Health`).then((found) => fill(cell, state(found.state))).catch(() => fill(cell, "-"));
  }
}

// --- one sink: health, charts, delivery log, dead letters, replays ----------------------------

// The API lists a sink's attempts newest first; its outcomes, each with its colour (console.css).
const OUTCOMES = ["delivered", "retrying", "failed"];
const CHART = { width: 640, height: 140, left: 44, bottom: 22, top: 8 };

function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children.flat(Infinity)) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

// A bar chart with axes: `columns` are lists of [outcome, value] stacked bottom up, `xLabels`
// [position 0..1, text] under the x axis, `unit` beside the y axis's top value.
function chart(name, columns, xLabels, unit) {
  const { width, height, left, bottom, top } = CHART;
  const plotWidth = width - left - 4, plotHeight = height - bottom - top;
  const max = Math.max(1, ...columns.map((stack) => stack.reduce((sum, [, n]) => sum + n, 0)));
  const step = plotWidth / Math.max(1, columns.length);
  const y = (n) => top + plotHeight - (n / max) * plotHeight;
  const bars = columns.flatMap((stack, i) => {
    let base = 0;
    return stack.filter(([, n]) => n > 0).map(([outcome, n]) => {
      const rect = svg("rect", { class: `bar ${outcome}`, "data-outcome": outcome, "data-value": n,
        x: left + i * step + 1, y: y(base + n), width: Math.max(1, step - 2), height: y(base) - y(base + n) },
      svg("title", {}, `${n} ${outcome}`));
      base += n;
      return rect;
    });
  });
  const axes = [
    svg("line", { class: "axis", x1: left, y1: top, x2: left, y2: top + plotHeight }),
    svg("line", { class: "axis", x1: left, y1: top + plotHeight, x2: width - 4, y2: top + plotHeight }),
    svg("text", { class: "tick", x: left - 4, y: top + 8, "text-anchor": "end", "data-y-max": max }, `${max}${unit}`),
    svg("text", { class: "tick", x: left - 4, y: top + plotHeight, "text-anchor": "end" }, `0`),
    xLabels.map(([at, text]) => svg("text", { class: "tick", x: left + at * plotWidth, y: height - 6,
      "text-anchor": at === 0 ? "start" : at === 1 ? "end" : "middle" }, text)),
  ];
  return svg("svg", { class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, "data-chart": name }, axes, bars);
}

function legend(totals) {
  return h("p", { class: "legend" }, OUTCOMES.map((o) => h("span", { class: `key ${o}`, "data-total": o }, `${totals[o] || 0} ${o}`)));
}

// Attempts per minute over the last `minutes`, by outcome: a sink that fails shows it.
function rateChart(attempts, minutes, partial) {
  const now = Date.now(), counts = Array.from({ length: minutes }, () => ({})), totals = {};
  for (const a of attempts) {
    const age = Math.floor((now - Date.parse(a.date_created)) / 60000);
    if (age < 0 || age >= minutes) continue;
    const slot = counts[minutes - 1 - age];
    slot[a.outcome] = (slot[a.outcome] || 0) + 1;
    totals[a.outcome] = (totals[a.outcome] || 0) + 1;
  }
  return h("figure", {},
    chart("rate", counts.map((slot) => OUTCOMES.map((o) => [o, slot[o] || 0])),
      [[0, `${minutes} min ago`], [0.5, `${minutes / 2} min`], [1, "now"]], ""),
    h("figcaption", { class: "muted" }, `attempts per minute, last ${minutes} minutes`,
      partial ? ` (the newest ${attempts.length} attempts only)` : ""),
    legend(totals),
  );
}

function latencyChart(attempts, count) {
  const recent = attempts.slice(0, count).reverse();
  return h("figure", {},
    chart("latency", recent.map((a) => [[a.outcome, a.latency_ms]]), [[0, "older"], [1, "newest"]], " ms"),
    h("figcaption", { class: "muted" }, `latency of the last ${recent.length} attempts, ms`),
  );
}

// A sink's attempts since `since` (ms), newest first, following the pages back; at most
// `pages` pages (a busy sink's last half hour can be long): partial says it stopped early.
async function attemptsSince(sid, since, pages = 3) {
  const attempts = [];
  let page = await api(`/v1/Sinks/${sid}/Deliveries?PageSize=1000`);
  for (let read = 1; ; read += 1) {
    attempts.push(...page.deliveries);
    const oldest = attempts.length ? Date.parse(attempts[attempts.length - 1].date_created) : 0;
    const next = page.meta.next_page_url;
    if (!next || oldest < since) return { attempts, partial: false };
    if (read >= pages) return { attempts, partial: true };
    page = await api(next);
  }
}

// "More than shown" for a list that shows its first page only.
function more(page, what) {
  return page.meta && page.meta.next_page_url ? h("p", { class: "muted more" }, `The newest ${what} are shown; there are more.`) : null;
}

async function sinkView(sid) {
  const sink = await api(`/v1/Sinks/${sid}`);
  const healthBox = h("section", { class: "card", id: "health" });
  const charts = h("section", { class: "card", id: "charts" });
  const log = h("section", { id: "delivery-log" });
  const letters = h("section", { id: "dead-letters" });
  const replays = h("section", { id: "replays" });

  async function refreshHealth() {
    const found = await api(`/v1/Sinks/${sid}/Health`);
    const hour = found.last_hour, latency = hour.latency_ms;
    fill(healthBox, 
      h("h2", {}, "Health ", state(found.state)),
      h("p", {}, `Last hour: ${hour.delivered} delivered, ${hour.retried} retried, ${hour.failed} failed.`,
        latency ? ` Publish → success p50 ${latency.p50} ms, p95 ${latency.p95} ms, p99 ${latency.p99} ms.` : ""),
      found.throttle_cap ? h("p", {}, `Throttled to ${found.throttle_cap} calls/s.`) : null,
      found.last_error ? h("p", { class: "error" }, `Last error ${found.last_error.code} (${found.last_error.date}): ${found.last_error.message || ""}`) : null,
    );
  }

  // Redrawn every few seconds (the minutes move on) and as soon as the log shows an attempt
  // the charts have not counted; one read at a time.
  let charted = null, charting = null;
  function refreshCharts() {
    charting = charting || (async () => {
      try {
        const { attempts, partial } = await attemptsSince(sid, Date.now() - 30 * 60000);
        charted = attempts.length ? attempts[0].id : null;
        fill(charts,
          h("h2", {}, "Delivery rate and latency"),
          rateChart(attempts, 30, partial),
          latencyChart(attempts, 60),
        );
      } finally {
        charting = null;
      }
    })();
    return charting;
  }

  async function refreshLog() {
    const page = await api(`/v1/Sinks/${sid}/Deliveries?PageSize=25`);
    fill(log, h("h2", {}, "Delivery log (live, newest first)"), table([
      ["When", (a) => a.date_created], ["Event", (a) => h("code", {}, a.event_id)], ["Attempt", (a) => a.attempt],
      ["Outcome", (a) => state(a.outcome)], ["Status", (a) => a.status_code ?? "-"], ["Latency", (a) => `${a.latency_ms} ms`],
      ["Error", (a) => a.error || ""],
    ], page.deliveries, "deliveries"), more(page, `${page.deliveries.length} attempts`));
    if (page.deliveries.length && page.deliveries[0].id !== charted) await refreshCharts();
  }

  async function refreshLetters() {
    const found = await api(`/v1/Sinks/${sid}/DeadLetters?Redriven=false`);
    fill(letters, h("h2", {}, "Dead letters"),
      found.dead_letters.length ? [
        table([
          ["Dead letter", (d) => d.sid], ["Event", (d) => h("code", {}, d.event_id)], ["Why", (d) => `${d.error_code}: ${d.reason}`],
          ["", (d) => h("button", { type: "button", "data-redrive": d.sid, onclick: () => guarded(async () => {
            const done = await api(`/v1/Sinks/${sid}/DeadLetters/Redrive`, { method: "POST", form: { Sid: d.sid } });
            toast(`${done.redriven} dead letter(s) redriven`);
            await refreshLetters();
          }) }, "Redrive")],
        ], found.dead_letters, "dead-letter-list"),
        more(found, `${found.dead_letters.length} dead letters`),
        h("button", { type: "button", id: "redrive-all", onclick: () => guarded(async () => {
          const done = await api(`/v1/Sinks/${sid}/DeadLetters/Redrive`, { method: "POST", form: {} });
          toast(`${done.redriven} dead letter(s) redriven`);
          await refreshLetters();
        }) }, "Redrive all"),
      ] : h("p", { class: "muted", id: "no-dead-letters" }, "None waiting."));
  }

  // The form stays put; only the list is refreshed (what is being typed is not wiped).
  const replayList = h("div", { id: "replay-rows" });
  const start = h("input", { id: "replay-start", value: new Date(Date.now() - 3600000).toISOString() });
  fill(replays, h("h2", {}, "Replays"), replayList,
    h("form", { class: "card", id: "start-replay", onsubmit: (event) => guarded(async () => {
      event.preventDefault();
      const made = await api(`/v1/Sinks/${sid}/Replays`, { method: "POST", form: { StartTime: start.value } });
      toast(`Replay ${made.sid} ${made.status}`);
      await refreshReplays();
    }) }, field("Replay events stored since", start), h("button", { type: "submit" }, "Start replay")));

  async function refreshReplays() {
    const found = await api(`/v1/Sinks/${sid}/Replays`);
    fill(replayList, table([
      ["Replay", (r) => r.sid], ["Window", (r) => `${r.start_time} → ${r.end_time}`], ["Status", (r) => state(r.status)],
      ["Progress", (r) => {
        const total = Math.max(1, r.events_replayed + (r.events_remaining || 0));
        return [h("progress", { max: total, value: r.events_replayed }), ` ${r.events_replayed} / ${total}`];
      }],
    ], found.replays, "replay-list"), more(found, `${found.replays.length} replays`));
  }

  show(h("h1", {}, `Sink ${sink.sid} `, state(sink.status)),
    h("p", {}, sink.description, " · ", sink.sink_type, " · ", h("code", {}, JSON.stringify(sink.sink_configuration))),
    healthBox, charts, log, letters, replays);
  await Promise.all([refreshHealth(), refreshLog(), refreshCharts(), refreshLetters(), refreshReplays()]);
  every(2, refreshLog);
  every(5, refreshCharts);
  every(5, refreshHealth);
  every(3, refreshReplays);
  every(3, refreshLetters);
}

// --- subscriptions --------------------------------------------------------------------------

async function subscriptionsView() {
  const [subscriptions, sinks] = await Promise.all([all("/v1/Subscriptions?PageSize=100", "subscriptions"), all("/v1/Sinks?PageSize=100", "sinks")]);
  const events = await Promise.all(subscriptions.map((s) => all(`/v1/Subscriptions/${s.sid}/SubscribedEvents?PageSize=100`, "types")));
  const sink = h("select", { id: "subscription-sink" }, sinks.map((s) => h("option", { value: s.sid }, `${s.description} (${s.sid})`)));
  const description = h("input", { id: "subscription-description" });
  const typesBox = h("textarea", { id: "subscription-types", placeholder: "one per line: type or type:version" });
  const filter = h("input", { id: "subscription-filter", placeholder: "optional filter on the data" });
  const create = h("form", { class: "card", id: "create-subscription", onsubmit: (event) => guarded(async () => {
    event.preventDefault();
    const types = typesBox.value.split("\n").map((t) => t.trim()).filter(Boolean).map((t) => {
      const [type, version] = t.split(":");
      return JSON.stringify(version ? { type, schema_version: Number(version) } : { type });
    });
    const made = await api("/v1/Subscriptions", { method: "POST", form: { Description: description.value, SinkSid: sink.value, Types: types, Filter: filter.value } });
    toast(`Subscription ${made.sid} created`);
    await subscriptionsView();
  }) }, h("h2", {}, "Create a subscription"), field("Sink", sink), field("Description", description),
    field("Event types", typesBox), field("Filter", filter), h("button", { type: "submit" }, "Subscribe"));

  const rows = table([
    ["Subscription", (s) => s.sid],
    ["Description", (s) => {
      const input = h("input", { value: s.description, "data-description": s.sid });
      return [input, h("button", { type: "button", "data-save": s.sid, onclick: () => guarded(async () => {
        await api(`/v1/Subscriptions/${s.sid}`, { method: "POST", form: { Description: input.value } });
        toast("Saved");
      }) }, "Save")];
    }],
    ["Sink", (s) => h("a", { href: `#/sinks/${s.sink_sid}` }, s.sink_sid)],
    ["Types (version)", (s) => {
      const adding = h("input", { placeholder: "type or type:version", "data-add-type": s.sid });
      return [
        events[subscriptions.indexOf(s)].map((e) => h("div", {}, `${e.type} (v${e.schema_version}) `,
          h("button", { type: "button", "data-remove-type": e.type, onclick: () => guarded(async () => {
            await api(`/v1/Subscriptions/${s.sid}/SubscribedEvents/${e.type}`, { method: "DELETE" });
            await subscriptionsView();
          }) }, "×"))),
        adding,
        h("button", { type: "button", "data-add": s.sid, onclick: () => guarded(async () => {
          const [type, version] = adding.value.trim().split(":");
          await api(`/v1/Subscriptions/${s.sid}/SubscribedEvents`, { method: "POST", form: { Type: type, SchemaVersion: version } });
          await subscriptionsView();
        }) }, "Add type"),
      ];
    }],
    ["Filter", (s) => s.filter || "-"],
    ["", (s) => h("button", { type: "button", "data-delete": s.sid, onclick: () => guarded(async () => {
      if (!confirm(`Delete subscription ${s.sid}?`)) return;
      await api(`/v1/Subscriptions/${s.sid}`, { method: "DELETE" });
      await subscriptionsView();
    }) }, "Delete")],
  ], subscriptions, "subscriptions");
  show(h("h1", {}, "Subscriptions"), subscriptions.length ? rows : h("p", { class: "muted" }, "No subscriptions yet."), sinks.length ? create : h("p", {}, "Create a sink first."));
}

// --- the catalogue --------------------------------------------------------------------------

async function typesView(schemaId) {
  const types = await all("/v1/Types?PageSize=100", "types");
  const search = h("input", { id: "type-search", placeholder: "filter by name" });
  const versions = h("section", { id: "schema-versions" });
  const body = h("div", {});
  function render() {
    const wanted = search.value.toLowerCase();
    fill(body, table([
      ["Type", (t) => t.type], ["Schema", (t) => h("a", { href: `#/types/${t.schema_id}` }, t.schema_id)],
      ["Status", (t) => state(t.status)], ["Description", (t) => t.description],
    ], types.filter((t) => t.type.toLowerCase().includes(wanted)), "types"));
  }
  search.addEventListener("input", render);
  render();
  if (schemaId) {
    const found = await all(`/v1/Schemas/${schemaId}/Versions?PageSize=100`, "schema_versions");
    fill(versions, h("h2", {}, `Schema ${schemaId}`), table([
      ["Version", (v) => v.schema_version], ["Created", (v) => v.date_created], ["JSON Schema", (v) => h("a", { href: v.raw }, v.raw)],
    ], found, "versions"));
  }
  show(h("h1", {}, "Event types"), versions, field("Search", search), body);
}

// --- routing --------------------------------------------------------------------------------

async function route() {
  for (const timer of timers) clearInterval(timer);
  timers = [];
  const who = credentials();
  if (!who) return signInView();
  document.getElementById("nav").hidden = false;
  document.getElementById("who").textContent = who.account;
  const [, section, id] = (location.hash || "#/sinks").split("/");
  for (const link of document.querySelectorAll("#nav a")) link.classList.toggle("active", link.getAttribute("href") === `#/${section}`);
  await guarded(async () => {
    if (section === "sinks" && id) await sinkView(id);
    else if (section === "subscriptions") await subscriptionsView();
    else if (section === "types") await typesView(id);
    else await sinksView();
  });
}

document.getElementById("sign-out").addEventListener("click", signOut);
window.addEventListener("hashchange", route);
route();
