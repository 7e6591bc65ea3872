// Building the page without a framework: a small hyperscript helper, tables that become
// cards on a narrow screen, a toast, and a confirmation dialog.

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(key, value === true ? "" : value);
  }
  return fill(node, ...children);
}

// Replace a node's children: nested lists flattened, null / false left out, text as text.
export function fill(node, ...children) {
  node.replaceChildren();
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

export function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 5000);
}

export function state(text) {
  return h("span", { class: `state ${text}`, "data-state": text }, text);
}

// A date as the reader's local time, the exact instant in the element (and its tooltip).
export function when(iso) {
  if (!iso) return "-";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return h("time", { datetime: iso, title: iso }, date.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  }));
}

// `columns`: [title, cell(row)]. Each cell carries its column's title, which a narrow
// screen shows beside it when the table is laid out as one card per row (console.css);
// a table of a few short columns (`stack` false) stays a table there.
export function table(columns, rows, id, rowAttrs = () => ({}), stack = true) {
  return h("div", { class: "table-wrap" }, h("table", { id, class: stack ? "stack" : "compact" },
    h("thead", {}, h("tr", {}, columns.map(([title]) => h("th", { scope: "col" }, title)))),
    h("tbody", {}, rows.map((row) => h("tr", rowAttrs(row),
      columns.map(([title, cell]) => h("td", { "data-label": title }, h("div", { class: "cell" }, cell(row))))))),
  ));
}

export function field(label, input, hint = null) {
  const hintId = hint ? `${input.id}-hint` : null;
  if (hintId) input.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input,
    hint ? h("p", { class: "hint", id: hintId }, hint) : null);
}

// Ask before an action that cannot be taken back or that touches many things at once.
export function ask(message, action = "Confirm") {
  return dialogue(message, action, null).then((answer) => answer !== null);
}

// Ask for one value (null: cancelled).
export function askFor(message, action, label) {
  return dialogue(message, action, label);
}

function dialogue(message, action, label) {
  const dialog = document.getElementById("confirm");
  const box = dialog.querySelector("#confirm-input-box"), input = dialog.querySelector("#confirm-input");
  fill(dialog.querySelector("#confirm-message"), message);
  dialog.querySelector("#confirm-ok").textContent = action;
  box.hidden = label === null;
  input.required = label !== null;
  input.value = "";
  if (label !== null) dialog.querySelector("#confirm-input-label").textContent = label;
  dialog.returnValue = "";
  dialog.showModal();
  if (label !== null) input.focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok" ? input.value.trim() : null), { once: true });
  });
}
