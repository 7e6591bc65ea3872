// The sinks: listed with their health, created from their type's form, paused, deleted.
import { ApiError, all, api, offers } from "./api.js";
import { ask, askFor, field, fill, h, state, table, toast } from "./dom.js";
import { explain, guarded, show } from "./shell.js";

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
    } else if (property.type === "string" && property.contentMediaType) {
      // Multi-line text (a PEM certificate, a .creds file): its line breaks kept.
      input = h("textarea", { id, rows: 4, spellcheck: "false", required: required.has(name),
        placeholder: (property.examples || [])[0] || "" }, property.default ?? "");
    } else if (property.enum) {
      // An optional choice without a default starts at none: the first choice is not a default.
      const none = required.has(name) || property.default !== undefined ? [] : [h("option", { value: "" }, "(none)")];
      input = h("select", { id }, none, property.enum.map((choice) => h("option", { value: choice, selected: choice === property.default }, choice)));
    } else if (property.type === "integer" || property.type === "number") {
      input = h("input", { id, type: "number", step: property.type === "integer" ? 1 : "any", required: required.has(name),
        min: property.minimum, max: property.maximum, value: property.default ?? "", "data-number": "yes" });
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
    if (input.dataset.number && text !== "") return Number(text);
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
export function pauseButton(sink, after) {
  if (!["active", "paused"].includes(sink.status)) return null;
  const pausing = sink.status === "active";
  return h("button", { type: "button", [pausing ? "data-pause" : "data-resume"]: sink.sid, onclick: () => guarded(async () => {
    if (pausing && !(await ask(`Pause sink ${sink.description || sink.sid}? Events for it wait, undelivered, until it is resumed.`, "Pause"))) return;
    await api(`/v1/Sinks/${sink.sid}`, { method: "POST", form: { Status: pausing ? "paused" : "active" } });
    toast(`Sink ${sink.sid} ${pausing ? "paused" : "resumed"}`);
    await after();
  }) }, pausing ? "Pause" : "Resume");
}

export async function deleteSink(sink, after) {
  if (!(await ask(`Delete sink ${sink.description || sink.sid} (${sink.sid})? This cannot be undone.`, "Delete sink"))) return;
  await api(`/v1/Sinks/${sink.sid}`, { method: "DELETE" });
  toast(`Sink ${sink.sid} deleted`);
  await after();
}

export async function sinksView() {
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
