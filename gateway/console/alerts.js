// The error log: Monitor's alerts, the failed deliveries of every sink, newest first.
import { api } from "./api.js";
import { field, fill, h, table, when } from "./dom.js";
import { guarded, show } from "./shell.js";

function alertFields(alert) {
  return Object.fromEntries(new URLSearchParams(alert.alert_text));
}

export async function alertsView() {
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
