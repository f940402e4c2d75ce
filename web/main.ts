/**
 * The dashboard's entry: ask for a token if the daemon wants one, open the live feeds,
 * and show the page the location's hash names:
 *   #/            the fleet (table, new VM, events)
 *   #/vm/NAME     one VM (console, charts, controls)
 *   #/compare     pv vs full exits
 *   #/events      the whole event log
 */
import { Api, ApiError, type HostView } from "./api.js";
import { compareView } from "./compare-view.js";
import { h, setText } from "./dom.js";
import { eventLog } from "./event-log.js";
import { fleetView } from "./fleet-view.js";
import { EventFeed, MetricsFeed } from "./live.js";
import { noticeBar } from "./notice.js";
import { askToken } from "./token-page.js";
import type { View } from "./view.js";
import { vmView } from "./vm-view.js";

const root = document.getElementById("app")!;
const api = new Api();

/** Check the daemon and the token; ask for a token for as long as it is refused. */
async function connect(): Promise<HostView> {
  try {
    return await api.get<HostView>("/host");
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      const hadToken = api.token !== null;
      api.token = null;
      return askToken(root, api, hadToken ? `The saved token was refused: ${e.message}` : "");
    }
    throw e;
  }
}

function shell(metrics: MetricsFeed, events: EventFeed): void {
  const live = h("span", { class: "live", id: "live" }, "connecting…");
  metrics.status.on((s) => {
    setText(live, s === "open" ? "live" : s === "connecting" ? "connecting…" : "disconnected: retrying");
    live.className = `live ${s}`;
  });
  const nav = h("nav", {}, ...[["#/", "Fleet"], ["#/compare", "pv vs full"], ["#/events", "Events"]].map(([href, label]) => {
    const a = h("a", {}, label!);
    a.href = href!;
    return a;
  }));
  const logout = h("button", { class: "link", title: "Forget the token in this tab" }, "forget token");
  logout.type = "button";
  logout.hidden = api.token === null;
  logout.addEventListener("click", () => {
    api.token = null;
    location.reload();
  });
  const main = h("main");
  root.replaceChildren(h("header", {}, h("a", { class: "brand" }, "paravm"), nav, live, logout), noticeBar, main);
  (root.querySelector(".brand") as HTMLAnchorElement).href = "#/";

  let view: View | null = null;
  const route = (): void => {
    view?.destroy();
    const hash = location.hash || "#/";
    const vm = /^#\/vm\/(.+)$/.exec(hash);
    if (vm !== null) view = vmView(api, decodeURIComponent(vm[1]!), metrics, events, (to) => (location.hash = to));
    else if (hash === "#/compare") view = compareView(api, metrics);
    else if (hash === "#/events") {
      const log = eventLog(events);
      view = { el: h("section", { class: "view" }, h("h1", {}, "Events and autoscaler decisions"), log.el), destroy: log.destroy };
    } else view = fleetView(api, metrics, events);
    main.replaceChildren(view.el);
    for (const a of nav.querySelectorAll("a")) a.classList.toggle("active", a.getAttribute("href") === hash);
    document.title = vm !== null ? `${decodeURIComponent(vm[1]!)} · paravm` : "paravm";
  };
  window.addEventListener("hashchange", route);
  route();
}

async function start(): Promise<void> {
  try {
    await connect();
  } catch (e) {
    root.replaceChildren(h("main", { class: "token-page" }, h("h1", {}, "paravm"), h("p", { class: "error" }, e instanceof Error ? e.message : String(e)), h("p", {}, "Reload the page once the daemon runs.")));
    return;
  }
  // A 401 from now on (the daemon restarted with another token) starts over at the token
  // page: the reload finds the saved token refused, forgets it and asks.
  api.onUnauthorized = () => location.reload();
  shell(new MetricsFeed(api), new EventFeed(api));
}

void start();
