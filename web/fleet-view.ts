/**
 * The fleet at a glance: one row per VM (state, vCPUs, CPU vs entitlement, steal, memory
 * and balloon, exits/s), refreshed from the metrics socket every second; the VM list is
 * re-read when an event says it changed. Under it the containers in the VMs
 * (containers-table.ts); beside them the form for a new VM and the log.
 */
import type { Api, HostView, VmMetrics, VmView } from "./api.js";
import { h, setText, syncKeyedRows } from "./dom.js";
import { bytes, pct, rate, UNKNOWN } from "./format.js";
import { containersTable } from "./containers-table.js";
import { createForm } from "./create-form.js";
import { eventLog } from "./event-log.js";
import type { EventFeed, MetricsFeed } from "./live.js";
import { notifyError } from "./notice.js";
import { actionBar, type ActionBar } from "./vm-actions.js";
import type { View } from "./view.js";

/** Events after which the list of VMs (not just their figures) may have changed. */
const LIST_EVENTS = new Set(["created", "destroyed", "state", "settings"]);
/** Re-read the list this often anyway (a missed event must not leave a stale row). */
const LIST_POLL_MS = 5000;

const COLUMNS = ["VM", "profile", "state", "vCPUs", "CPU / entitled", "steal", "weight", "cap", "RAM", "balloon", "available", "exits/s", ""] as const;

interface Row {
  tr: HTMLTableRowElement;
  cells: HTMLTableCellElement[];
  bar: HTMLElement;
  barEnt: HTMLElement;
  actions: ActionBar;
}

/** Sum of per-reason exit rates, or null when the daemon does not give them for this VM. */
export function totalExits(m: VmMetrics | undefined): number | null {
  if (m === undefined || m.exitsPerS === null || m.exitsPerS === undefined) return null;
  return Object.values(m.exitsPerS).reduce((a, b) => a + b, 0);
}

export function fleetView(api: Api, metrics: MetricsFeed, events: EventFeed): View {
  const hostLine = h("p", { class: "host-line", id: "host-line" }, "…");
  const tbody = h("tbody");
  const table = h("table", { class: "fleet", id: "fleet-table" }, h("thead", {}, h("tr", {}, ...COLUMNS.map((c) => h("th", {}, c)))), tbody);
  const empty = h("p", { class: "empty" }, "No VMs yet: create one with the form.");
  const rows = new Map<string, Row>();
  let views: VmView[] = [];

  const refresh = async (): Promise<void> => {
    try {
      const [host, list] = await Promise.all([api.get<HostView>("/host"), api.get<VmView[]>("/vms")]);
      setText(
        hostLine,
        `${host.pcpus} host cores · memory budget ${bytes(host.memory.budgetBytes)}, ${bytes(host.memory.freeBytes)} free (${host.memory.source}) · ${host.vms} VMs · paravm ${host.version}`,
      );
      views = list.sort((a, b) => a.name.localeCompare(b.name));
      syncRows();
      paint();
    } catch (e) {
      notifyError("reading the fleet", e);
    }
  };

  function syncRows(): void {
    syncKeyedRows(tbody, rows, views, makeRow); // in sorted order
    empty.hidden = views.length > 0;
  }

  function makeRow(name: string): Row {
    const cells = COLUMNS.map(() => h("td"));
    const link = h("a", { class: "vm-link" }, name);
    link.href = `#/vm/${encodeURIComponent(name)}`;
    cells[0]!.append(link);
    const bar = h("span", { class: "bar-fill" });
    const barEnt = h("span", { class: "bar-ent" });
    const label = h("span", { class: "bar-label" });
    cells[4]!.append(h("span", { class: "bar" }, bar, barEnt), label);
    const actions = actionBar(api, name, (view) => (view === null ? void refresh() : undefined));
    cells[12]!.append(actions.el);
    const tr = h("tr", { "data-vm": name }, ...cells);
    return { tr, cells, bar, barEnt, actions };
  }

  /** Write the latest figures into every row (called once a second). */
  function paint(): void {
    for (const v of views) {
      const row = rows.get(v.name)!;
      const m = metrics.latest.get(v.name);
      const state = m?.state ?? v.state;
      const c = row.cells;
      setText(c[1]!, v.profile);
      setText(c[2]!, v.reason ? `${state} (${v.reason})` : state);
      c[2]!.className = `state state-${state}`;
      const vcpus = m?.vcpus ?? v.settings.vcpus;
      setText(c[3]!, `${vcpus.online}/${vcpus.max}`);
      const cpuText = m && m.cpuPct !== null ? `${pct(m.cpuPct)} / ${pct(m.entitlementPct)}` : UNKNOWN;
      setText(c[4]!.lastChild as Element, cpuText);
      // The bar's scale is the VM's vCPUs: 100% of the bar = every vCPU busy.
      const full = Math.max(1, vcpus.online) * 100;
      row.bar.style.width = `${Math.min(100, ((m?.cpuPct ?? 0) / full) * 100)}%`;
      row.barEnt.style.left = `${Math.min(100, ((m?.entitlementPct ?? 0) / full) * 100)}%`;
      row.barEnt.hidden = m?.entitlementPct === null || m?.entitlementPct === undefined;
      setText(c[5]!, m ? pct(m.stealPct) : UNKNOWN);
      setText(c[6]!, String(m?.weight ?? v.settings.weight));
      const cap: number = m?.cap ?? v.settings.cap;
      setText(c[7]!, cap === 0 ? "none" : `${cap}%`);
      setText(c[8]!, bytes(m?.ramBytes ?? null));
      setText(c[9]!, bytes(m?.balloonBytes ?? null));
      setText(c[10]!, bytes(m?.availableBytes ?? null));
      setText(c[11]!, rate(totalExits(m)));
      row.actions.update(state);
    }
  }

  const containers = containersTable(api, events);
  const create = createForm(api, () => void refresh());
  const log = eventLog(events);
  const offFrames = metrics.frames.on(paint);
  const offEvents = events.added.on((e) => {
    if (LIST_EVENTS.has(e.type)) void refresh();
  });
  const poll = window.setInterval(() => void refresh(), LIST_POLL_MS);
  void refresh();

  const el = h(
    "section",
    { class: "view fleet-view" },
    h("h1", {}, "Fleet"),
    hostLine,
    h("div", { class: "table-wrap" }, table, empty),
    h("h2", { class: "section" }, "Containers"),
    containers.el,
    h("div", { class: "columns" }, create, h("section", { class: "panel" }, h("h2", {}, "Events and autoscaler decisions"), log.el)),
  );
  return {
    el,
    destroy() {
      offFrames();
      offEvents();
      log.destroy();
      containers.destroy();
      window.clearInterval(poll);
    },
  };
}
