// What every view shares: the page's main area, the refreshes a view runs (stopped when
// another is shown), what a refusal means to the reader, and the catalogue's type names.
import { ApiError, all } from "./api.js";
import { fill, h, toast } from "./dom.js";
import { signedOut } from "./signin.js";

const view = document.getElementById("view");
let timers = [];

export function clearTimers() {
  for (const timer of timers) clearInterval(timer);
  timers = [];
}

// Show the view the address names again (after signing in, or a change made from a view).
export function rerender() {
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

// Show the view at `hash`: a new address renders by itself (hashchange), the same one is
// rendered again — never both, or a second rendering would replace the first under the reader.
export function go(hash) {
  if (location.hash === hash) rerender();
  else location.hash = hash;
}

export function show(...nodes) {
  fill(view, ...nodes);
}

// What a refusal means to the person who met it (the API's own message and code kept).
export function explain(error) {
  if (error instanceof TypeError && /fetch/i.test(error.message)) return "The gateway did not answer: is it running?";
  if (!(error instanceof ApiError)) return `Something went wrong in the console: ${error.message}`;
  if (error.status >= 500) return `The gateway could not do that just now (${error.status}); try again in a moment.`;
  return `${error.message} (code ${error.code})`;
}

export async function guarded(action) {
  try {
    await action();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return signedOut(error);
    toast(explain(error));
  }
}

export function every(seconds, action) {
  timers.push(setInterval(() => guarded(action), seconds * 1000));
}

// The catalogue's type names, offered as suggestions wherever a type is typed.
let typeNames = null;
export function typeSuggestions() {
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
