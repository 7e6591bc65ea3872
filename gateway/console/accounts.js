// The account and its subaccounts, each with a tenant portal link to hand to its customer.
import { ApiError, api } from "./api.js";
import { ask, fill, h, state, table, toast } from "./dom.js";
import { guarded, show } from "./shell.js";

const LIFETIMES = [["900", "15 minutes"], ["3600", "1 hour"], ["86400", "24 hours"]];

function portalLink(account) {
  const ttl = h("select", { id: `portal-ttl-${account.sid}`, "aria-label": `How long the link for ${account.sid} works` },
    LIFETIMES.map(([value, text]) => h("option", { value, selected: value === "3600" }, text)));
  const out = h("div", { class: "portal-link" });
  const make = h("button", { type: "button", "data-portal-link": account.sid, onclick: () => guarded(async () => {
    const made = await api("/v1/PortalLinks", { method: "POST", form: { AccountSid: account.sid, Ttl: ttl.value } });
    const url = h("input", { readonly: true, value: made.url, "data-portal-url": account.sid, "aria-label": `Portal link for ${account.sid}`,
      onfocus: (e) => e.target.select() });
    fill(out, url, h("p", { class: "hint" }, `Works until ${new Date(made.date_expires).toLocaleString()}; whoever holds it sees this account's sinks, subscriptions, delivery logs and errors.`));
    url.focus();
    toast("Portal link made: hand it to the account's customer");
  }) }, "Make a portal link");
  const expire = h("button", { type: "button", class: "danger", "data-portal-expire": account.sid, onclick: () => guarded(async () => {
    if (!(await ask(`End every portal link and session made so far for ${account.friendly_name || account.sid}? Whoever holds one is signed out; links made afterwards work.`, "End portal links"))) return;
    const expired = await api("/v1/PortalLinks/ExpireAll", { method: "POST", form: { AccountSid: account.sid } });
    fill(out, h("p", { class: "hint", "data-portal-expired": account.sid }, `Links made until ${new Date(expired.date_expired).toLocaleString()} no longer open the portal.`));
    toast("Portal links ended");
  }) }, "End portal links");
  return [h("div", { class: "inline-edit wraps" }, ttl, make, expire), out];
}

export async function accountsView(identity) {
  let accounts;
  try {
    accounts = (await api("/2010-04-01/Accounts.json?PageSize=100")).accounts;
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 403) throw error;
    return show(h("h1", {}, "Accounts"), h("p", { class: "muted", id: "accounts-refused" },
      "Accounts and their portal links are managed with the account's auth token, not an API key."));
  }
  const own = accounts.filter((a) => a.sid === identity.account);
  const subs = accounts.filter((a) => a.sid !== identity.account);
  const rows = (list, id) => table([
    ["Account", (a) => [a.friendly_name, h("div", {}, h("code", {}, a.sid))]],
    ["Status", (a) => state(a.status)],
    ["Tenant portal", (a) => a.status === "active" ? portalLink(a) : "-"],
  ], list, id);
  show(h("h1", {}, "Accounts"),
    h("p", { class: "muted" }, "A portal link opens this console for one account only, without a credential — for the customer a subaccount serves."),
    own.length ? [h("h2", {}, "This account"), rows(own, "own-account")] : null,
    h("h2", {}, "Subaccounts"),
    subs.length ? rows(subs, "subaccounts") : h("p", { class: "muted" }, "No subaccounts."));
}
