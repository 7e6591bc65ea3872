// Subscriptions: their types, versions and filters, created and edited in place.
import { all, api } from "./api.js";
import { ask, field, h, table, toast } from "./dom.js";
import { guarded, show, typeSuggestions } from "./shell.js";

export async function subscriptionsView() {
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
