// The REST API, as the console calls it: the same API as any client. Signed in, with Basic
// auth (Account SID and auth token, or an API key) kept for the tab only; in the tenant
// portal, with the session cookie the gateway set (HttpOnly: no script here can read it).

const SESSION = "event-streams-console";

export function who() {
  const saved = sessionStorage.getItem(SESSION);
  return saved ? JSON.parse(saved) : null;
}

export function remember(identity) {
  sessionStorage.setItem(SESSION, JSON.stringify(identity));
}

export function forget() {
  sessionStorage.removeItem(SESSION);
}

// A refusal from the API, in Twilio's shape: status, code and the message it gave.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function encode(form) {
  const body = new URLSearchParams();
  for (const [key, value] of Object.entries(form)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && item !== null && item !== "") body.append(key, item);
    }
  }
  return body;
}

export async function api(path, { method = "GET", form = null, identity = who() } = {}) {
  const headers = {};
  if (identity && !identity.portal) headers.Authorization = "Basic " + btoa(`${identity.username}:${identity.password}`);
  const response = await fetch(path, { method, headers, body: form ? encode(form) : null, credentials: "same-origin" });
  if (response.status === 204) return {};
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.code || response.status, data.message || response.statusText);
  return data;
}

// Every item of a paged list, following next_page_url (at most `limit`).
export async function all(path, key, limit = Infinity) {
  const items = [];
  let page = await api(path);
  for (;;) {
    items.push(...(page[key] || []));
    const next = page.meta && page.meta.next_page_url;
    if (!next || items.length >= limit) return items;
    page = await api(next);
  }
}

// Whether the gateway serves a resource: the console offers what the API it talks to has
// (a newer or older gateway behind it), rather than a button that can only fail.
const served = new Map();
export function offers(path) {
  if (!served.has(path)) {
    served.set(path, api(path).then(() => true, (error) => !(error instanceof ApiError) || ![404, 405].includes(error.status)));
  }
  return served.get(path);
}
