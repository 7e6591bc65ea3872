// The Event Streams console: a page of the gateway that calls the same REST API as any
// client, nothing else. Plain JavaScript modules, no framework and no build step; this one
// routes the address (#/section/id) to its view.
import { accountsView } from "./accounts.js";
import { who } from "./api.js";
import { alertsView } from "./alerts.js";
import { typesView } from "./catalogue.js";
import { clearTimers, guarded } from "./shell.js";
import { openPortal, setChrome, signInView, signOut } from "./signin.js";
import { sinkView } from "./sink.js";
import { sinksView } from "./sinks.js";
import { subscriptionsView } from "./subscriptions.js";

async function route() {
  clearTimers();
  const [, section, id] = (location.hash || "#/sinks").split("/");
  if (section === "portal" && id) return openPortal(id);
  const identity = who();
  if (!identity) return signInView();
  setChrome(identity);
  for (const link of document.querySelectorAll("#nav a")) {
    const here = link.getAttribute("href") === `#/${section}`;
    link.classList.toggle("active", here);
    if (here) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  await guarded(async () => {
    if (section === "sinks" && id) await sinkView(id);
    else if (section === "subscriptions") await subscriptionsView();
    else if (section === "alerts") await alertsView();
    else if (section === "types" && !identity.portal) await typesView(id);
    else if (section === "accounts" && !identity.portal) await accountsView(identity);
    else await sinksView();
  });
}

document.getElementById("sign-out").addEventListener("click", () => guarded(signOut));
window.addEventListener("hashchange", route);
route();
