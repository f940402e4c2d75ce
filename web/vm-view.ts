/**
 * One VM's page: its state and controls, live settings, charts (CPU share against
 * entitlement and weight, steal, memory and balloon), its console, the containers it
 * hosts, and its events.
 */
import { ApiError, type Api, type VmView } from "./api.js";
import { lineChart, type Chart } from "./charts.js";
import { consoleView } from "./console-view.js";
import { containersTable } from "./containers-table.js";
import { h, setText } from "./dom.js";
import { eventLog } from "./event-log.js";
import { bytes, parseSize, pct, UNKNOWN } from "./format.js";
import type { EventFeed, MetricsFeed } from "./live.js";
import { notifyError } from "./notice.js";
import { settingsPanel } from "./settings-panel.js";
import { actionBar } from "./vm-actions.js";
import type { View } from "./view.js";

const COLORS = { cpu: "#2f81f7", entitled: "#8b949e", weight: "#d29922", steal: "#db6d28", ram: "#8b949e", available: "#3fb950", balloon: "#a371f7" } as const;
/** Events about this VM that mean its view (state, settings) changed. */
const VIEW_EVENTS = new Set(["state", "settings", "decision"]);

const num = (digits: number, unit = "") => (v: number | null): string => (v === null ? UNKNOWN : `${v.toFixed(digits)}${unit}`);

function charts(): Chart[] {
  return [
    lineChart({
      id: "chart-cpu",
      title: "CPU share vs entitlement",
      unit: "% of a host core",
      rightUnit: "weight",
      range: [0, 100],
      series: [
        { label: "CPU", color: COLORS.cpu, column: "cpuPct", fmt: num(1, "%") },
        { label: "entitled", color: COLORS.entitled, column: "entitlementPct", dash: [6, 4], fmt: num(0, "%") },
        { label: "weight", color: COLORS.weight, column: "weight", side: "right", fmt: num(0) },
      ],
    }),
    lineChart({
      id: "chart-steal",
      title: "Steal",
      unit: "% of vCPU time",
      range: [0, 10],
      series: [{ label: "steal", color: COLORS.steal, column: "stealPct", fmt: num(1, "%") }],
    }),
    lineChart({
      id: "chart-mem",
      title: "Memory",
      unit: "MiB",
      range: [0, 64],
      series: [
        { label: "RAM", color: COLORS.ram, column: "ramMiB", dash: [6, 4], fmt: num(0, " MiB") },
        { label: "available", color: COLORS.available, column: "availableMiB", fmt: num(0, " MiB") },
        { label: "balloon", color: COLORS.balloon, column: "balloonMiB", fmt: num(0, " MiB") },
      ],
    }),
  ];
}

export function vmView(api: Api, name: string, metrics: MetricsFeed, events: EventFeed, go: (hash: string) => void): View {
  const title = h("h1", {}, name);
  const stateEl = h("span", { class: "state", id: "vm-state" }, "…");
  const summary = h("p", { class: "vm-summary", id: "vm-summary" });
  const actions = actionBar(api, name, (view) => (view === null ? go("#/") : show(view)));
  const settings = settingsPanel(api, name, (view) => show(view));
  const chartList = charts();
  const term = consoleView(api, name);
  const log = eventLog(events, name);
  const containers = containersTable(api, events, name);

  let view: VmView | null = null;
  let shownState = "";
  function show(v: VmView): void {
    view = v;
    const m = metrics.latest.get(name);
    const state = m?.state ?? v.state;
    shownState = state;
    setText(stateEl, v.reason ? `${state} (${v.reason})` : state);
    stateEl.className = `state state-${state}`;
    actions.update(state);
    settings.update(v);
    const e = v.entry;
    const runs = e.exec !== undefined ? `exec: ${e.exec}` : e.workload !== undefined ? `workload: ${e.workload}` : "a shell";
    setText(summary, `${v.profile} · ${v.settings.vcpus.online}/${v.settings.vcpus.max} vCPUs · RAM ${bytes(parseSize(e.mem))} · runs ${runs}`);
  }

  const load = async (): Promise<void> => {
    try {
      show(await api.get<VmView>(api.vmPath(name)));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        notifyError(`VM ${name}`, e);
        go("#/");
      } else notifyError(`reading ${name}`, e);
    }
  };

  const now = h("p", { class: "vm-now", id: "vm-now" });
  const paint = (): void => {
    const m = metrics.latest.get(name);
    for (const c of chartList) c.update(metrics.history.get(name));
    setText(
      now,
      m === undefined || m.cpuPct === null
        ? `${m?.state ?? "Not running"}: no live figures.`
        : `CPU ${pct(m.cpuPct, 1)} of ${pct(m.entitlementPct)} entitled · steal ${pct(m.stealPct, 1)} · weight ${m.weight} · RAM ${bytes(m.ramBytes)}, balloon ${bytes(m.balloonBytes)}, available ${bytes(m.availableBytes)}`,
    );
    if (view !== null && m !== undefined && m.state !== shownState) show(view);
  };
  paint();
  const offFrames = metrics.frames.on(paint);
  const offEvents = events.added.on((e) => {
    if (e.vm === name && VIEW_EVENTS.has(e.type)) void load();
  });
  void load();

  const el = h(
    "section",
    { class: "view vm-view", "data-vm": name },
    h("div", { class: "vm-head" }, title, stateEl, actions.el),
    summary,
    now,
    h(
      "div",
      { class: "vm-body" },
      h("div", { class: "vm-left" }, term.el, settings.el, h("section", { class: "panel vm-containers" }, h("h3", {}, "Containers"), containers.el)),
      h("div", { class: "vm-right" }, ...chartList.map((c) => c.el), h("section", { class: "panel" }, h("h3", {}, "Events"), log.el)),
    ),
  );
  return {
    el,
    destroy() {
      offFrames();
      offEvents();
      log.destroy();
      containers.destroy();
      term.destroy();
      for (const c of chartList) c.destroy();
    },
  };
}
