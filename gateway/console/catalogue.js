// The catalogue: event types, and each schema version with its fields.
import { all, api, offers } from "./api.js";
import { field, fill, h, state, table, when } from "./dom.js";
import { guarded, show } from "./shell.js";

function fieldsTable(found) {
  return table([
    ["Field", (f) => h("code", {}, f.path)],
    ["Type", (f) => [f.type || "any", f.format ? ` (${f.format})` : ""]],
    ["Required", (f) => f.required ? "required" : "optional"],
    ["Description", (f) => f.description || ""],
  ], found.fields, `fields-v${found.schema_version}`, () => ({}), false);
}

export async function typesView(schemaId) {
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
