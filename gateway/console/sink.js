// One sink: health, charts, the delivery log (filtered, each attempt in full), dead
// letters and replays.
import { ApiError, api } from "./api.js";
import { OUTCOMES, latencyChart, rateChart } from "./charts.js";
import { ask, field, fill, h, state, table, toast, when } from "./dom.js";
import { every, guarded, rerender, show, typeSuggestions } from "./shell.js";
import { deleteSink, pauseButton } from "./sinks.js";

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

// The delivery log's filters, every one asked of the API (its pages are filtered on the server).
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

// A time as the API's StartDate/EndDate take it (to the second, UTC; both inclusive).
const second = (ms) => new Date(ms).toISOString().slice(0, 19) + "Z";

async function queryLog(sid, filters) {
  const params = new URLSearchParams({ PageSize: String(LOG_ROWS) });
  if (filters.outcome) params.set("Outcome", filters.outcome);
  if (filters.event) params.set("EventId", filters.event);
  if (filters.type) params.set("EventType", filters.type);
  if (filters.since !== null) params.set("StartDate", second(filters.since));
  if (filters.until !== null) params.set("EndDate", second(filters.until));
  const page = await api(`/v1/Sinks/${sid}/Deliveries?${params}`);
  return { rows: page.deliveries, more: Boolean(page.meta.next_page_url) };
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

// A sink that signs with a secret of its own (Standard Webhooks): shown on asking, rotated
// after a confirmation (the old one keeps signing beside the new for a while).
function signingSecret(sink) {
  const url = sink.links && sink.links.signing_secret;
  if (!url) return null;
  const box = h("div", { id: "signing-secret", "aria-live": "polite" });
  const describe = (found) => fill(box, h("p", {}, h("code", { class: "secret" }, found.secret)),
    h("p", { class: "muted" }, "Made ", when(found.date_created),
      found.date_previous_expires ? [". The previous secret signs beside it until ", when(found.date_previous_expires)] : "", "."));
  return h("section", { class: "card", "aria-label": "Signing secret" },
    h("h2", {}, "Signing secret"),
    h("p", { class: "muted" }, "Deliveries carry webhook-signature, made with this secret (Standard Webhooks)."),
    box,
    h("div", { class: "actions" },
      h("button", { type: "button", id: "reveal-secret", onclick: () => guarded(async () => describe(await api(url))) }, "Show the secret"),
      h("button", { type: "button", id: "rotate-secret", class: "danger", onclick: () => guarded(async () => {
        if (!(await ask("Make a new signing secret? The current one keeps signing beside it for 24 hours, so receivers can move over.", "Rotate"))) return;
        describe(await api(`${url}/Rotate`, { method: "POST", form: {} }));
        toast("A new signing secret is in use");
      }) }, "Rotate")));
}

export async function sinkView(sid) {
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

  const filters = logFilters(() => guarded(() => refreshLog()));
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
    h("div", { class: "actions" }, pauseButton(sink, async () => rerender()),
      h("button", { type: "button", class: "danger", "data-delete": sid, onclick: () => guarded(() => deleteSink(sink, async () => { location.hash = "#/sinks"; })) }, "Delete")));
  show(h("p", { class: "crumbs" }, h("a", { href: "#/sinks" }, "Sinks"), " / ", h("code", {}, sid)), heading,
    h("p", { class: "muted" }, sink.sink_type, " · ", h("code", { class: "config" }, JSON.stringify(sink.sink_configuration))),
    signingSecret(sink), healthBox, charts,
    h("section", { id: "delivery-log", "aria-label": "Delivery log" }, h("h2", {}, "Delivery log (live, newest first)"), filters.form, logRows),
    letters, replays);
  await Promise.all([refreshHealth(), refreshLog(), refreshCharts(), refreshLetters(), refreshReplays()]);
  every(2, refreshLog);
  every(5, refreshCharts);
  every(5, refreshHealth);
  every(3, refreshReplays);
  every(3, refreshLetters);
}
