// Signing in (Basic auth kept for the tab), signing out, and the tenant portal's way in.
import { ApiError, api, forget, remember, who } from "./api.js";
import { field, fill, h } from "./dom.js";
import { explain, go, rerender, show } from "./shell.js";

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

export function signInView(problem = "") {
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
      go("#/sinks");
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

export function signedOut(error) {
  const identity = who();
  if (identity && identity.portal) return portalEnded(`${error.message.replace(/^Authenticate:\s*/, "")}.`);
  forget();
  signInView(error ? "Your session is no longer accepted: sign in again." : "");
}

export async function signOut() {
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
export async function openPortal(token) {
  history.replaceState(null, "", location.pathname + "#/sinks");
  try {
    const session = await api("/v1/PortalSessions", { method: "POST", form: { Token: token }, identity: null });
    remember({ portal: true, account: session.account_sid, name: session.friendly_name, expires: session.date_expires });
    rerender();
  } catch (error) {
    portalEnded(error instanceof ApiError ? `${error.message.replace(/^Authenticate:\s*/, "")}.` : explain(error));
  }
}

export function setChrome(identity) {
  document.getElementById("nav").hidden = !identity;
  document.getElementById("account").hidden = !identity;
  for (const id of ["nav-types", "nav-accounts"]) document.getElementById(id).hidden = Boolean(identity && identity.portal);
  document.body.classList.toggle("portal", Boolean(identity && identity.portal));
  if (identity) {
    fill(document.getElementById("who"), identity.portal
      ? [h("span", { class: "badge" }, "Portal"), ` ${identity.name || identity.account}`]
      : identity.account);
  }
}
