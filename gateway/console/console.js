// The Event Streams console: a page of the gateway that calls the same REST API as any
// client, nothing else. Plain JavaScript modules, no framework and no build step.
import { ApiError, all, api, forget, offers, remember, who } from "./api.js";
import { OUTCOMES, latencyChart, rateChart } from "./charts.js";
import { ask, askFor, field, fill, h, state, table, toast, when } from "./dom.js";

const view = document.getElementById("view");
let timers = [];

function show(...nodes) {
  fill(view, ...nodes);
}

// What a refusal means to the person who met it (the API's own message and code kept).
function explain(error) {
  if (error instanceof TypeError && /fetch/i.test(error.message)) return "The gateway did not answer: is it running?";
  if (!(error instanceof ApiError)) return `Something went wrong in the console: ${error.message}`;
  if (error.status >= 500) return `The gateway could not do that just now (${error.status}); try again in a moment.`;
  return `${error.message} (code ${error.code})`;
}

async function guarded(action) {
  try {
    await action();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return signedOut(error);
    toast(explain(error));
  }
}

function every(seconds, action) {
  timers.push(setInterval(() => guarded(action), seconds * 1000));
}

// The catalogue's type names, offered as suggestions wherever a type is typed.
let typeNames = null;
function typeSuggestions() {
  let list = document.getElementById("event-types");
  if (!list) {
    list = h("datalist", { id: "event-types" });
    document.body.append(list);
  }
  typeNames = typeNames || all("/v1/Types?PageSize=100", "types").then((types) => types.map((t) => t.type), () => null);
  typeNames.then((names) => {
    if (names && !list.children.length) fill(list, names.map((name) => h("option", { value: name })));
    if (!names) typeNames = null;
  });
  return "event-types";
}

// --- sign in --------------------------------------------------------------------------------

const ACCOUNT_SID = /^AC[0-9a-f]{32}$/i;
const KEY_SID = /^SK[0-9a-f]{32}$/i;

// What is wrong with what was typed, before asking the gateway (null: nothing seen).
function signInProblem(account, secret, key) {
  if (!account) return "Enter your Account SID: AC followed by 32 hexadecimal characters.";
  if (!ACCOUNT_SID.test(account)) {
    return `"${account}" is not an Account SID: it starts with AC and has 32 hexadecimal characters after it (you entered ${account.length} characters in all).`;
  }
  if (key && !KEY_SID.test(key)) return `"${key}" is not an API key SID: it starts with SK and has 32 hexadecimal characters after it.`;
  if (!secret) return key ? "Enter the API key's secret." : "Enter the account's auth token.";
  return null;
}

function refusal(error, usingKey) {
  if (!(error instanceof ApiError)) return explain(error);
  if (error.status === 401 && /too many failed/i.test(error.message)) {
    return `${error.message.replace(/^Authenticate:\s*/, "")}. Sign-ins from this address are paused for a minute.`;
  }
  if (error.status === 401) {
    return usingKey
      ? "The API key SID and secret do not match an active key of this account: check the secret (it is shown once, when the key is made)."
      : "The Account SID and auth token do not match an active account: check the auth token (it is 32 characters), or sign in with an API key.";
  }
  return explain(error);
}

function signInView(problem = "") {
  setChrome(null);
  const error = h("p", { class: "error", id: "sign-in-error", role: "alert", hidden: !problem }, problem);
  const account = h("input", { id: "account-sid", name: "account-sid", placeholder: "AC…", autocomplete: "username",
    spellcheck: "false", "aria-describedby": "sign-in-error" });
  const secret = h("input", { id: "auth-token", name: "auth-token", type: "password", autocomplete: "current-password" });
  const key = h("input", { id: "api-key", name: "api-key", placeholder: "SK…", spellcheck: "false" });
  const button = h("button", { type: "submit", id: "sign-in-button", class: "primary" }, "Sign in");
  const say = (text) => { error.textContent = text; error.hidden = !text; };
  const form = h("form", { class: "card narrow", id: "sign-in", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    const sid = account.value.trim(), keySid = key.value.trim();
    const problem = signInProblem(sid, secret.value, keySid);
    if (problem) return say(problem);
    const identity = { account: sid, username: keySid || sid, password: secret.value };
    button.disabled = true;
    say("");
    try {
      await api("/v1/Sinks?PageSize=1", { identity });
      remember(identity);
      location.hash = "#/sinks";
      await route();
    } catch (failure) {
      // What was typed stays: only the secret is to be typed again.
      secret.value = "";
      say(refusal(failure, Boolean(keySid)));
      secret.focus();
    } finally {
      button.disabled = false;
    }
  } },
    h("h1", {}, "Sign in to Event Streams"),
    field("Account SID", account),
    field("Auth token (or the API key's secret)", secret),
    field("API key SID (optional)", key, "Sign in with an API key instead of the account's auth token."),
    button, error,
  );
  show(form);
}

function portalEnded(message) {
  forget();
  setChrome(null);
  show(h("section", { class: "card narrow", id: "portal-ended" }, h("h1", {}, "This portal session has ended"),
    h("p", { role: "alert" }, message),
    h("p", {}, "To come back, ask the service that sent you here for a new link.")));
}

function signedOut(error) {
  const identity = who();
  if (identity && identity.portal) return portalEnded(`${error.message.replace(/^Authenticate:\s*/, "")}.`);
  forget();
  signInView(error ? "Your session is no longer accepted: sign in again." : "");
}

async function signOut() {
  const identity = who();
  if (identity && identity.portal) {
    await api("/v1/PortalSessions", { method: "DELETE" }).catch(() => {});
    return portalEnded("You signed out.");
  }
  forget();
  signInView();
}

// The tenant portal: a link's token (in the fragment, never sent to a server by the browser)
// traded for the gateway's session cookie, then dropped from the address bar and history.
async function openPortal(token) {
  history.replaceState(null, "", location.pathname + "#/sinks");
  try {
    const session = await api("/v1/PortalSessions", { method: "POST", form: { Token: token }, identity: null });
    remember({ portal: true, account: session.account_sid, name: session.friendly_name, expires: session.date_expires });
    await route();
  } catch (error) {
    portalEnded(error instanceof ApiError ? `${error.message.replace(/^Authenticate:\s*/, "")}.` : explain(error));
  }
}

function setChrome(identity) {
  document.getElementById("nav").hidden = !identity;
  document.getElementById("account").hidden = !identity;
  document.getElementById("nav-types").hidden = Boolean(identity && identity.portal);
  document.body.classList.toggle("portal", Boolean(identity && identity.portal));
  if (identity) {
    fill(document.getElementById("who"), identity.portal
      ? [h("span", { class: "badge" }, "Portal"), ` ${identity.name || identity.account}`]
      : identity.account);
  }
}

// --- sinks ----------------------------------------------------------------------------------

// Used when the gateway has no sink-type registry to describe its types.
const CONFIG_TEMPLATES = {
  webhook: { destination: "https://example.com/events", method: "POST", batch_events: false },
  kinesis: { arn: "arn:aws:kinesis:us-east-1:111111111111:stream/events", role_arn: "arn:aws:iam::111111111111:role/events", external_id: "" },
  segment: { write_key: "" },
};

// The sink types the gateway offers, as its registry (GET /v1/SinkTypes) describes them —
// title, summary and configuration form as JSON Schema — or, from a gateway without one,
// the three Twilio has with an example configuration to edit as JSON.
async function sinkTypes() {
  if (await offers("/v1/SinkTypes")) {
    const found = (await api("/v1/SinkTypes")).sink_types || [];
    if (found.length) return found;
  }
  return Object.entries(CONFIG_TEMPLATES).map(([name, example]) => ({ sink_type: name, title: name, example }));
}

// A type's configuration as a form: one input per property of its schema (a choice as a
// select, a boolean as a checkbox), each with its description; `read` gives the JSON.
function configForm(kind) {
  const schema = kind.configuration_schema;
  if (!schema || !schema.properties) {
    const text = h("textarea", { id: "sink-configuration", rows: 6, spellcheck: "false" }, JSON.stringify(kind.example || {}, null, 1));
    return { node: field("Configuration (JSON)", text), read: () => JSON.parse(text.value), inputs: {} };
  }
  const required = new Set(schema.required || []);
  const inputs = {};
  const nodes = Object.entries(schema.properties).map(([name, property]) => {
    const id = `sink-config-${name}`;
    let input;
    if (property.type === "boolean") {
      input = h("input", { id, type: "checkbox", checked: property.default === true });
      inputs[name] = input;
      return h("div", { class: "field" }, h("label", { class: "inline", for: id }, input, ` ${name}`),
        h("p", { class: "hint" }, property.description || ""));
    }
    if (property.type === "object" || property.type === "array") {
      const empty = property.type === "object" ? {} : [];
      input = h("textarea", { id, rows: 3, spellcheck: "false", "data-json": "yes",
        placeholder: JSON.stringify((property.examples || [])[0] || empty) }, property.default !== undefined && JSON.stringify(property.default) !== JSON.stringify(empty) ? JSON.stringify(property.default) : "");
    } else if (property.enum) {
      input = h("select", { id }, property.enum.map((choice) => h("option", { value: choice, selected: choice === property.default }, choice)));
    } else {
      input = h("input", { id, spellcheck: "false", required: required.has(name),
        placeholder: (property.examples || [])[0] || "", value: property.default ?? "" });
    }
    inputs[name] = input;
    return field(required.has(name) ? name : `${name} (optional)`, input, property.description || null);
  });
  const value = (name, input) => {
    if (input.type === "checkbox") return input.checked;
    const text = input.value.trim();
    if (!input.dataset.json || text === "") return text;
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new Error(`${name} is not JSON: ${error.message}`);
    }
  };
  const read = () => Object.fromEntries(Object.entries(inputs)
    .map(([name, input]) => [name, value(name, input)])
    .filter(([name, found]) => found !== "" || required.has(name)));
  return { node: h("div", { class: "config-form" }, nodes), read, inputs };
}

// Pause and resume (POST /v1/Sinks/{Sid} Status=paused|active) are offered for sinks whose
// status the gateway reports as one of the two.
function pauseButton(sink, after) {
  if (!["active", "paused"].includes(sink.status)) return null;
  const pausing = sink.status === "active";
  return h("button", { type: "button", [pausing ? "data-pause" : "data-resume"]: sink.sid, onclick: () => guarded(async () => {
    if (pausing && !(await ask(`Pause sink ${sink.description || sink.sid}? Events for it wait, undelivered, until it is resumed.`, "Pause"))) return;
    await api(`/v1/Sinks/${sink.sid}`, { method: "POST", form: { Status: pausing ? "paused" : "active" } });
    toast(`Sink ${sink.sid} ${pausing ? "paused" : "resumed"}`);
    await after();
  }) }, pausing ? "Pause" : "Resume");
}

async function deleteSink(sink, after) {
  if (!(await ask(`Delete sink ${sink.description || sink.sid} (${sink.sid})? This cannot be undone.`, "Delete sink"))) return;
  await api(`/v1/Sinks/${sink.sid}`, { method: "DELETE" });
  toast(`Sink ${sink.sid} deleted`);
  await after();
}

async function sinksView() {
  const [sinks, types] = await Promise.all([all("/v1/Sinks?PageSize=100", "sinks"), sinkTypes()]);
  const byName = new Map(types.map((t) => [t.sink_type, t]));
  const kind = h("select", { id: "sink-type" }, types.map((t) => h("option", { value: t.sink_type }, t.title || t.sink_type)));
  const summary = h("p", { class: "hint", id: "sink-type-summary" });
  const configBox = h("div", { id: "sink-config" });
  let config = null;
  async function choose() {
    const chosen = byName.get(kind.value);
    summary.textContent = chosen.summary || "";
    config = configForm(chosen);
    fill(configBox, config.node);
    // A sink that assumes the tenant's role must carry the ExternalId issued to the account.
    const externalId = config.inputs.external_id;
    if (chosen.assumes_role || kind.value === "kinesis") {
      const issued = (await api("/v1/Sinks/Kinesis/ExternalId")).external_id;
      if (externalId) externalId.value = issued;
      else if (configBox.querySelector("textarea")) {
        const text = configBox.querySelector("textarea");
        text.value = JSON.stringify({ ...JSON.parse(text.value), external_id: issued }, null, 1);
      }
    }
  }
  kind.addEventListener("change", () => guarded(choose));
  const description = h("input", { id: "sink-description", placeholder: "what it is for", required: true });
  const problem = h("p", { class: "error", id: "create-sink-error", role: "alert", hidden: true });
  const create = h("form", { class: "card", id: "create-sink", onsubmit: (event) => guarded(async () => {
    event.preventDefault();
    let configuration;
    try {
      configuration = config.read();
    } catch (error) {
      problem.hidden = false;
      problem.textContent = error instanceof SyntaxError ? `The configuration is not JSON: ${error.message}` : error.message;
      return;
    }
    problem.hidden = true;
    try {
      const made = await api("/v1/Sinks", { method: "POST", form: { Description: description.value, SinkType: kind.value, SinkConfiguration: JSON.stringify(configuration) } });
      toast(`Sink ${made.sid} created (${made.status})`);
      await sinksView();
    } catch (error) {
      if (!(error instanceof ApiError) || error.status === 401) throw error;
      problem.hidden = false;
      problem.textContent = explain(error);
    }
  }) },
    h("h2", {}, "Create a sink"),
    field("Description", description), field("Type", kind), summary, configBox,
    h("button", { type: "submit", class: "primary" }, "Create sink"), problem,
  );
  await choose();
  const healthCells = new Map();
  const rows = table([
    ["Sink", (s) => [h("a", { href: `#/sinks/${s.sid}` }, s.description || s.sid), h("div", {}, h("code", {}, s.sid))]],
    ["Type", (s) => s.sink_type],
    ["Status", (s) => state(s.status)],
    ["Health", (s) => { const cell = h("span", { "data-health": s.sid }, "…"); healthCells.set(s.sid, cell); return cell; }],
    ["Actions", (s) => h("div", { class: "actions" },
      h("button", { type: "button", "data-test": s.sid, onclick: () => guarded(async () => {
        const result = await api(`/v1/Sinks/${s.sid}/Test`, { method: "POST", form: {} });
        toast(`Test event ${result.result} to ${s.sid}`);
      }) }, "Send test"),
      h("button", { type: "button", "data-validate": s.sid, onclick: () => guarded(async () => {
        const testId = await askFor(`Sink ${s.description || s.sid} is validated with the test_id of the test event it received (Send test sends one).`,
          "Validate", "The test event's test_id");
        if (!testId) return;
        const result = await api(`/v1/Sinks/${s.sid}/Validate`, { method: "POST", form: { TestId: testId } });
        toast(result.result === "valid" ? `Sink ${s.sid} validated` : `Validation: ${result.result}`);
        await sinksView();
      }) }, "Validate"),
      pauseButton(s, sinksView),
      h("button", { type: "button", class: "danger", "data-delete": s.sid, onclick: () => guarded(() => deleteSink(s, sinksView)) }, "Delete"),
    )],
  ], sinks, "sinks");
  show(h("h1", {}, "Sinks"), sinks.length ? rows : h("p", { class: "muted" }, "No sinks yet: create one below."), create);
  for (const [sid, cell] of healthCells) {
    api(`/v1/Sinks/${sid}/Health`).then((found) => fill(cell, state(found.state))).catch(() => fill(cell, "-"));
  }
}

// --- one sink: health, charts, delivery log, dead letters, replays ----------------------------

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

const RANGES = [["", "Any time"], ["15", "Last 15 minutes"], ["60", "Last hour"], ["1440", "Last 24 hours"], ["10080", "Last 7 days"], ["custom", "Between…"]];
const LOG_ROWS = 25;

// The delivery log's filters: outcome and event id asked of the API; the time range and
// event type applied to its pages, newest first, until a screenful is found or the range
// is passed.
function logFilters(onChange) {
  const range = h("select", { id: "log-range" }, RANGES.map(([value, text]) => h("option", { value }, text)));
  const from = h("input", { id: "log-from", type: "datetime-local", step: 1 });
  const to = h("input", { id: "log-to", type: "datetime-local", step: 1 });
  const outcome = h("select", { id: "log-outcome" }, h("option", { value: "" }, "Any outcome"), [...OUTCOMES, "parked"].map((o) => h("option", { value: o }, o)));
  const type = h("input", { id: "log-type", list: typeSuggestions(), placeholder: "e.g. com.twilio.messaging.message.delivered", spellcheck: "false" });
  const event = h("input", { id: "log-event", placeholder: "the event's id", spellcheck: "false" });
  const custom = h("div", { class: "custom-range", hidden: true }, field("From", from), field("To", to));
  range.addEventListener("change", () => { custom.hidden = range.value !== "custom"; });
  const clear = h("button", { type: "button", id: "log-clear", onclick: () => {
    range.value = ""; from.value = ""; to.value = ""; outcome.value = ""; type.value = ""; event.value = "";
    custom.hidden = true;
    onChange();
  } }, "Clear");
  const form = h("form", { class: "filters", id: "log-filters", onsubmit: (e) => { e.preventDefault(); onChange(); } },
    field("Time", range), custom, field("Outcome", outcome), field("Event type", type), field("Event id", event),
    h("div", { class: "filter-actions" }, h("button", { type: "submit", class: "primary" }, "Apply"), clear));
  form.addEventListener("change", (e) => { if (e.target !== type && e.target !== event) onChange(); });
  const read = () => {
    const minutes = Number(range.value);
    const since = range.value === "custom" ? (from.value ? Date.parse(from.value) : null)
      : range.value ? Date.now() - minutes * 60000 : null;
    const until = range.value === "custom" && to.value ? Date.parse(to.value) : null;
    return { since, until, outcome: outcome.value, type: type.value.trim(), event: event.value.trim() };
  };
  return { form, read };
}

async function queryLog(sid, filters, pages = 10) {
  const params = new URLSearchParams({ PageSize: filters.since || filters.until || filters.type ? "200" : String(LOG_ROWS) });
  if (filters.outcome) params.set("Outcome", filters.outcome);
  if (filters.event) params.set("EventId", filters.event);
  let page = await api(`/v1/Sinks/${sid}/Deliveries?${params}`);
  const rows = [];
  for (let read = 1; ; read += 1) {
    for (const a of page.deliveries) {
      const at = Date.parse(a.date_created);
      if (filters.until !== null && at > filters.until) continue;
      if (filters.since !== null && at < filters.since) return { rows, more: false };
      if (filters.type && a.type !== filters.type) continue;
      rows.push(a);
      if (rows.length === LOG_ROWS) return { rows, more: Boolean(page.meta.next_page_url) || a !== page.deliveries.at(-1) };
    }
    const next = page.meta.next_page_url;
    if (!next) return { rows, more: false };
    if (read >= pages) return { rows, more: true };
    page = await api(next);
  }
}

// One attempt in full: the call as sent and answered, when the gateway serves an attempt's
// detail (its `url`), and a resend of its event to this sink.
function keyValues(entries) {
  return h("dl", {}, entries.filter(([, v]) => v !== undefined).flatMap(([k, v]) => [h("dt", {}, k),
    h("dd", {}, v !== null && typeof v === "object" ? h("pre", {}, JSON.stringify(v, null, 1)) : String(v ?? "-"))]));
}

function callPart(title, part) {
  if (!part) return null;
  return h("div", { class: "call" }, h("h3", {}, title), keyValues(Object.entries(part)));
}

async function attemptDetail(a) {
  const box = h("div", { class: "detail", "data-attempt-detail": a.id });
  let found = a;
  if (a.url) {
    try {
      found = await api(a.url);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) throw error;
    }
  }
  const resend = found.links && found.links.resend;
  return fill(box,
    keyValues(Object.entries(found).filter(([k]) => !["links", "request", "response", "url"].includes(k))),
    callPart("Request", found.request), callPart("Response", found.response),
    resend ? h("button", { type: "button", "data-resend": a.id, onclick: () => guarded(async () => {
      if (!(await ask(`Send event ${a.event_id} to this sink again? It is delivered as a new attempt, marked a resend.`, "Resend"))) return;
      const done = await api(resend, { method: "POST", form: {} });
      toast(`Event ${a.event_id} sent again (${done.status || "queued"})`);
    }) }, "Resend this event") : null,
  );
}

async function sinkView(sid) {
  const sink = await api(`/v1/Sinks/${sid}`);
  const healthBox = h("section", { class: "card", id: "health", "aria-label": "Health" });
  const charts = h("section", { class: "card", id: "charts", "aria-label": "Charts" });
  const logRows = h("div", { id: "log-rows" });
  const letters = h("section", { id: "dead-letters", "aria-label": "Dead letters" });
  const replays = h("section", { id: "replays", "aria-label": "Replays" });
  const opened = new Map(); // attempt id -> its detail's row, kept across the log's refreshes

  async function refreshHealth() {
    const found = await api(`/v1/Sinks/${sid}/Health`);
    const hour = found.last_hour, latency = hour.latency_ms;
    fill(healthBox,
      h("h2", {}, "Health ", state(found.state)),
      h("p", {}, `Last hour: ${hour.delivered} delivered, ${hour.retried} retried, ${hour.failed} failed.`,
        latency ? ` Publish → success p50 ${latency.p50} ms, p95 ${latency.p95} ms, p99 ${latency.p99} ms.` : ""),
      found.throttle_cap ? h("p", {}, `Throttled to ${found.throttle_cap} calls/s.`) : null,
      found.last_error ? h("p", { class: "error" }, `Last error ${found.last_error.code} (`, when(found.last_error.date), `): ${found.last_error.message || ""}`) : null,
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
        fill(charts, h("h2", {}, "Delivery rate and latency"), h("div", { class: "charts" },
          rateChart(attempts, 30, partial), latencyChart(attempts, 60)));
      } finally {
        charting = null;
      }
    })();
    return charting;
  }

  const filters = logFilters(() => guarded(refreshLog));
  async function refreshLog() {
    const wanted = filters.read();
    const { rows, more } = await queryLog(sid, wanted);
    fill(logRows, rows.length ? table([
      ["When", (a) => when(a.date_created)],
      ["Event", (a) => [h("code", {}, a.event_id), h("div", { class: "muted" }, a.type)]],
      ["Attempt", (a) => a.attempt],
      ["Outcome", (a) => state(a.outcome)],
      ["Status", (a) => a.status_code ?? "-"],
      ["Latency", (a) => `${a.latency_ms} ms`],
      ["Error", (a) => a.error || ""],
      ["", (a) => h("button", { type: "button", "aria-expanded": String(opened.has(a.id)), "aria-controls": `attempt-${a.id}`, "data-details": a.id, onclick: (e) => guarded(async () => {
        const button = e.currentTarget, row = button.closest("tr");
        if (opened.has(a.id)) {
          opened.get(a.id).remove();
          opened.delete(a.id);
          button.setAttribute("aria-expanded", "false");
          return;
        }
        const detail = h("tr", { class: "detail-row", id: `attempt-${a.id}` }, h("td", { colspan: 8 }, await attemptDetail(a)));
        opened.set(a.id, detail);
        button.setAttribute("aria-expanded", "true");
        row.after(detail);
      }) }, "Details", h("span", { class: "visually-hidden" }, ` of attempt ${a.attempt} of ${a.event_id}`))],
    ], rows, "deliveries", (a) => ({ "data-attempt": a.id })) : h("p", { class: "muted", id: "no-deliveries" }, "No attempt matches these filters."),
    more ? h("p", { class: "muted more" }, `The newest ${rows.length} attempts are shown; there are more.`) : null);
    // An attempt opened stays open, below its row, as the log refreshes around it.
    for (const [id, detail] of opened) {
      const row = logRows.querySelector(`tr[data-attempt="${id}"]`);
      if (row) row.after(detail);
      else opened.delete(id);
    }
    if (rows.length && !wanted.since && !wanted.type && !wanted.outcome && !wanted.event && rows[0].id !== charted) await refreshCharts();
  }

  const showRedriven = h("input", { type: "checkbox", id: "show-redriven" });
  showRedriven.addEventListener("change", () => guarded(refreshLetters));
  const lettersBody = h("div", { id: "dead-letter-rows" });
  async function redrive(sids, count) {
    const what = sids.length ? `${sids.length} selected dead letter${sids.length > 1 ? "s" : ""}` : `all ${count} dead letter${count > 1 ? "s" : ""} waiting`;
    if (!(await ask(`Redrive ${what} to sink ${sink.description || sid}? Each is delivered again.`, "Redrive"))) return;
    const done = await api(`/v1/Sinks/${sid}/DeadLetters/Redrive`, { method: "POST", form: sids.length ? { Sid: sids } : {} });
    toast(`${done.redriven} dead letter(s) redriven`);
    await refreshLetters();
  }
  async function refreshLetters() {
    const found = await api(`/v1/Sinks/${sid}/DeadLetters?PageSize=50${showRedriven.checked ? "" : "&Redriven=false"}`);
    const list = found.dead_letters;
    const selected = new Set([...lettersBody.querySelectorAll("input[data-select]:checked")].map((box) => box.dataset.select));
    const waiting = list.filter((d) => !d.date_redriven).length;
    fill(lettersBody, list.length ? [
      table([
        ["", (d) => d.date_redriven ? "" : h("input", { type: "checkbox", "data-select": d.sid, checked: selected.has(d.sid), "aria-label": `Select dead letter ${d.sid}` })],
        ["Dead since", (d) => when(d.date_created)],
        ["Event", (d) => [h("code", {}, d.event_id), h("div", { class: "muted" }, d.type)]],
        ["Why", (d) => [`${d.error_code}: ${d.reason}`, h("div", { class: "muted" }, `after ${d.attempts} attempt(s)`)]],
        ["Redriven", (d) => d.date_redriven ? when(d.date_redriven) : "not yet"],
        ["The event", (d) => h("details", {}, h("summary", {}, "Show the event"), h("pre", { class: "payload", tabindex: "0", "aria-label": `The event ${d.event_id}` }, JSON.stringify(d.event, null, 2)))],
      ], list, "dead-letter-list"),
      found.meta && found.meta.next_page_url ? h("p", { class: "muted more" }, `The newest ${list.length} dead letters are shown; there are more.`) : null,
      waiting ? h("div", { class: "actions" },
        h("button", { type: "button", id: "redrive-selected", onclick: () => guarded(async () => {
          const sids = [...lettersBody.querySelectorAll("input[data-select]:checked")].map((box) => box.dataset.select);
          if (!sids.length) return toast("Select the dead letters to redrive first.");
          await redrive(sids, sids.length);
        }) }, "Redrive selected"),
        h("button", { type: "button", id: "redrive-all", class: "danger", onclick: () => guarded(() => redrive([], waiting)) }, "Redrive all")) : null,
    ] : h("p", { class: "muted", id: "no-dead-letters" }, "None waiting."));
  }
  fill(letters, h("h2", {}, "Dead letters"), h("label", { class: "inline" }, showRedriven, " Show those already redriven"), lettersBody);

  // The form stays put; only the list is refreshed (what is being typed is not wiped).
  const replayList = h("div", { id: "replay-rows" });
  const start = h("input", { id: "replay-start", value: new Date(Date.now() - 3600000).toISOString() });
  fill(replays, h("h2", {}, "Replays"), replayList,
    h("form", { class: "card", id: "start-replay", onsubmit: (event) => guarded(async () => {
      event.preventDefault();
      if (!(await ask(`Replay every event stored since ${start.value} to sink ${sink.description || sid}? They are delivered again.`, "Replay"))) return;
      const made = await api(`/v1/Sinks/${sid}/Replays`, { method: "POST", form: { StartTime: start.value } });
      toast(`Replay ${made.sid} ${made.status}`);
      await refreshReplays();
    }) }, field("Replay events stored since (ISO 8601)", start), h("button", { type: "submit" }, "Start replay")));

  async function refreshReplays() {
    const found = await api(`/v1/Sinks/${sid}/Replays`);
    fill(replayList, found.replays.length ? table([
      ["Replay", (r) => h("code", {}, r.sid)], ["Window", (r) => [when(r.start_time), " → ", when(r.end_time)]], ["Status", (r) => state(r.status)],
      ["Progress", (r) => {
        const total = Math.max(1, r.events_replayed + (r.events_remaining || 0));
        return [h("progress", { max: total, value: r.events_replayed, "aria-label": `Replay ${r.sid} progress` }), ` ${r.events_replayed} / ${total}`];
      }],
    ], found.replays, "replay-list") : h("p", { class: "muted" }, "No replays yet."));
  }

  const heading = h("div", { class: "title" }, h("h1", {}, sink.description || sink.sid, " ", state(sink.status)),
    h("div", { class: "actions" }, pauseButton(sink, route),
      h("button", { type: "button", class: "danger", "data-delete": sid, onclick: () => guarded(() => deleteSink(sink, async () => { location.hash = "#/sinks"; })) }, "Delete")));
  show(h("p", { class: "crumbs" }, h("a", { href: "#/sinks" }, "Sinks"), " / ", h("code", {}, sid)), heading,
    h("p", { class: "muted" }, sink.sink_type, " · ", h("code", { class: "config" }, JSON.stringify(sink.sink_configuration))),
    healthBox, charts,
    h("section", { id: "delivery-log", "aria-label": "Delivery log" }, h("h2", {}, "Delivery log (live, newest first)"), filters.form, logRows),
    letters, replays);
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
  const sinkName = new Map(sinks.map((s) => [s.sid, s.description || s.sid]));
  const sink = h("select", { id: "subscription-sink" }, sinks.map((s) => h("option", { value: s.sid }, `${s.description} (${s.sid})`)));
  const description = h("input", { id: "subscription-description" });
  const typesBox = h("textarea", { id: "subscription-types", rows: 3, spellcheck: "false", placeholder: "com.twilio.messaging.message.delivered:1" });
  const filter = h("input", { id: "subscription-filter", spellcheck: "false", placeholder: "e.g. data.status = 'delivered'" });
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
    field("Event types", typesBox, "One per line: a type, or type:version to pin a schema version."),
    field("Filter (optional)", filter), h("button", { type: "submit", class: "primary" }, "Subscribe"));

  const rows = table([
    ["Subscription", (s) => {
      const input = h("input", { value: s.description, "data-description": s.sid, "aria-label": `Description of ${s.sid}` });
      return [h("div", { class: "inline-edit" }, input, h("button", { type: "button", "data-save": s.sid, onclick: () => guarded(async () => {
        await api(`/v1/Subscriptions/${s.sid}`, { method: "POST", form: { Description: input.value } });
        toast("Saved");
      }) }, "Save")), h("code", {}, s.sid)];
    }],
    ["Sink", (s) => h("a", { href: `#/sinks/${s.sink_sid}` }, sinkName.get(s.sink_sid) || s.sink_sid)],
    ["Types (version)", (s) => {
      const adding = h("input", { list: typeSuggestions(), placeholder: "type or type:version", "data-add-type": s.sid, "aria-label": `Event type to add to ${s.sid}` });
      return [
        h("ul", { class: "chips" }, events[subscriptions.indexOf(s)].map((e) => h("li", {}, `${e.type} (v${e.schema_version}) `,
          h("button", { type: "button", class: "icon", "data-remove-type": e.type, "aria-label": `Remove ${e.type}`, onclick: () => guarded(async () => {
            await api(`/v1/Subscriptions/${s.sid}/SubscribedEvents/${e.type}`, { method: "DELETE" });
            await subscriptionsView();
          }) }, "×")))),
        h("div", { class: "inline-edit" }, adding,
          h("button", { type: "button", "data-add": s.sid, onclick: () => guarded(async () => {
            const [type, version] = adding.value.trim().split(":");
            await api(`/v1/Subscriptions/${s.sid}/SubscribedEvents`, { method: "POST", form: { Type: type, SchemaVersion: version } });
            await subscriptionsView();
          }) }, "Add")),
      ];
    }],
    ["Filter", (s) => s.filter ? h("code", {}, s.filter) : "-"],
    ["Actions", (s) => h("button", { type: "button", class: "danger", "data-delete": s.sid, onclick: () => guarded(async () => {
      if (!(await ask(`Delete subscription ${s.description || s.sid}? Its events stop reaching ${sinkName.get(s.sink_sid) || s.sink_sid}.`, "Delete subscription"))) return;
      await api(`/v1/Subscriptions/${s.sid}`, { method: "DELETE" });
      await subscriptionsView();
    }) }, "Delete")],
  ], subscriptions, "subscriptions");
  show(h("h1", {}, "Subscriptions"), subscriptions.length ? rows : h("p", { class: "muted" }, "No subscriptions yet."),
    sinks.length ? create : h("p", {}, "Create a sink first."));
}

// --- the error log --------------------------------------------------------------------------

function alertFields(alert) {
  return Object.fromEntries(new URLSearchParams(alert.alert_text));
}

async function alertsView() {
  const start = h("input", { id: "alerts-start", type: "date" });
  const end = h("input", { id: "alerts-end", type: "date" });
  const body = h("div", { id: "alert-rows" });
  let next = null;
  async function load(url, append) {
    const page = await api(url);
    next = page.meta && page.meta.next_page_url;
    const rows = page.alerts.map((a) => ({ ...a, fields: alertFields(a) }));
    const made = table([
      ["When", (a) => when(a.date_created)],
      ["Error", (a) => h("a", { href: a.more_info, rel: "noreferrer", target: "_blank" }, a.error_code)],
      ["Sink", (a) => h("a", { href: `#/sinks/${a.resource_sid}` }, h("code", {}, a.resource_sid))],
      ["Event", (a) => [h("code", {}, a.fields.eventId || "-"), h("div", { class: "muted" }, a.fields.eventType || "")]],
      ["What happened", (a) => [a.fields.Msg || "", a.fields.httpResponse ? ` (HTTP ${a.fields.httpResponse})` : "",
        h("div", { class: "muted" }, `attempt ${a.fields.attempt || "?"}, ${a.fields.outcome || ""}`)]],
    ], rows, append ? null : "alerts");
    if (append) body.querySelector("#alerts tbody").append(...made.querySelectorAll("tbody tr"));
    else fill(body, rows.length ? made : h("p", { class: "muted", id: "no-alerts" }, "No errors in this period."));
    fill(older, next ? h("button", { type: "button", id: "alerts-older", onclick: () => guarded(() => load(next, true)) }, "Older errors") : null);
  }
  const older = h("div", {});
  const query = () => {
    const params = new URLSearchParams({ PageSize: "50" });
    if (start.value) params.set("StartDate", start.value);
    if (end.value) params.set("EndDate", end.value);
    return `/v1/Alerts?${params}`;
  };
  const form = h("form", { class: "filters", id: "alert-filters", onsubmit: (e) => { e.preventDefault(); guarded(() => load(query(), false)); } },
    field("From (day)", start), field("To (day)", end), h("div", { class: "filter-actions" }, h("button", { type: "submit", class: "primary" }, "Apply")));
  show(h("h1", {}, "Error log"), h("p", { class: "muted" }, "Failed deliveries of every sink, newest first."), form, body, older);
  await load(query(), false);
}

// --- the catalogue --------------------------------------------------------------------------

function fieldsTable(found) {
  return table([
    ["Field", (f) => h("code", {}, f.path)],
    ["Type", (f) => [f.type || "any", f.format ? ` (${f.format})` : ""]],
    ["Required", (f) => f.required ? "required" : "optional"],
    ["Description", (f) => f.description || ""],
  ], found.fields, `fields-v${found.schema_version}`, () => ({}), false);
}

async function typesView(schemaId) {
  const types = await all("/v1/Types?PageSize=100", "types");
  const search = h("input", { id: "type-search", type: "search", placeholder: "filter by name" });
  const versions = h("section", { id: "schema-versions", "aria-label": "Schema versions" });
  const body = h("div", {});
  function render() {
    const wanted = search.value.toLowerCase();
    fill(body, table([
      ["Type", (t) => h("code", {}, t.type)], ["Schema", (t) => h("a", { href: `#/types/${t.schema_id}` }, t.schema_id)],
      ["Status", (t) => state(t.status)], ["Description", (t) => t.description],
    ], types.filter((t) => t.type.toLowerCase().includes(wanted)), "types"));
  }
  search.addEventListener("input", render);
  render();
  if (schemaId) {
    const found = (await all(`/v1/Schemas/${schemaId}/Versions?PageSize=100`, "schema_versions")).sort((a, b) => b.schema_version - a.schema_version);
    const hasFields = found.length > 0 && await offers(`/v1/Schemas/${schemaId}/Versions/${found[0].schema_version}/Fields`);
    fill(versions, h("h2", {}, `Schema ${schemaId}`), h("div", { id: "versions" }, found.map((v, i) => {
      const box = h("div", { class: "fields" }, hasFields ? "Loading the fields…" : h("a", { href: v.raw }, v.raw));
      const open = (details) => {
        if (!hasFields || details.dataset.loaded) return;
        details.dataset.loaded = "yes";
        guarded(async () => {
          const fields = await api(`/v1/Schemas/${schemaId}/Versions/${v.schema_version}/Fields`);
          fill(box, fieldsTable(fields), h("p", { class: "muted" }, "JSON Schema: ", h("a", { href: v.raw }, v.raw)));
        });
      };
      const details = h("details", { class: "version", "data-version": v.schema_version, open: i === 0,
        ontoggle: (e) => { if (e.target.open) open(e.target); } },
      h("summary", {}, `Version ${v.schema_version}`, " · created ", when(v.date_created), i === 0 ? " · newest" : ""), box);
      return details;
    })));
  }
  show(h("h1", {}, "Event types"), versions, field("Search", search), body);
  const first = versions.querySelector("details[open]");
  if (first) first.dispatchEvent(new Event("toggle"));
}

// --- routing --------------------------------------------------------------------------------

async function route() {
  for (const timer of timers) clearInterval(timer);
  timers = [];
  const [, section, id] = (location.hash || "#/sinks").split("/");
  if (section === "portal" && id) return openPortal(id);
  const identity = who();
  if (!identity) return signInView();
  setChrome(identity);
  for (const link of document.querySelectorAll("#nav a")) {
    const here = link.getAttribute("href") === `#/${section}`;
    link.classList.toggle("active", here);
    if (here) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  await guarded(async () => {
    if (section === "sinks" && id) await sinkView(id);
    else if (section === "subscriptions") await subscriptionsView();
    else if (section === "alerts") await alertsView();
    else if (section === "types" && !identity.portal) await typesView(id);
    else await sinksView();
  });
}

document.getElementById("sign-out").addEventListener("click", () => guarded(signOut));
window.addEventListener("hashchange", route);
route();
