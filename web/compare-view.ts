/**
 * pv against full: two VMs running the same workload, their exits per second by reason
 * side by side, and the totals since this page opened. The figures are the daemon's
 * `exitsPerS`; where it gives none for a VM (null), the page says so instead of guessing.
 * A button creates the pair (one pv, one full, same command) to compare.
 */
import type { Api, VmMetrics, VmView } from "./api.js";
import { button, field, h, input, replace, select, setText } from "./dom.js";
import { rate, UNKNOWN } from "./format.js";
import type { MetricsFeed } from "./live.js";
import { notify, notifyError } from "./notice.js";
import type { View } from "./view.js";

/** The default workload of the pair: disk and console work, where the two machines differ most. */
const PAIR_COMMAND = "while :; do dd if=/dev/vda of=/dev/null bs=4k count=256 2>/dev/null || dd if=/dev/sda of=/dev/null bs=4k count=256 2>/dev/null; echo tick; done";
const PAIR_NAMES = { pv: "cmp-pv", full: "cmp-full" } as const;
const PAIR_MEM = "64M";
const NONE = "(none)";

/** Running totals of exits per reason, from once-a-second rates. */
class Totals {
  readonly byReason = new Map<string, number>();
  seconds = 0;
  add(m: VmMetrics | undefined): void {
    if (m?.exitsPerS === null || m?.exitsPerS === undefined) return;
    this.seconds++;
    for (const [r, n] of Object.entries(m.exitsPerS)) this.byReason.set(r, (this.byReason.get(r) ?? 0) + n);
  }
  reset(): void {
    this.byReason.clear();
    this.seconds = 0;
  }
}

export function compareView(api: Api, metrics: MetricsFeed): View {
  const pick = { pv: select("cmp-a", [NONE], NONE), full: select("cmp-b", [NONE], NONE) };
  const totals = { pv: new Totals(), full: new Totals() };
  const note = h("p", { class: "note", id: "compare-note" });
  const tbody = h("tbody");
  const headA = h("th", {}, "pv");
  const headB = h("th", {}, "full");
  const table = h("table", { class: "compare", id: "compare-table" }, h("thead", {}, h("tr", {}, h("th", {}, "exit reason"), headA, h("th", {}, "share"), headB, h("th", {}, "share"))), tbody);
  const command = input("cmp-exec", PAIR_COMMAND);

  const fillPicks = async (): Promise<void> => {
    try {
      const vms = await api.get<VmView[]>("/vms");
      for (const side of ["pv", "full"] as const) {
        const sel = pick[side];
        const keep = sel.value;
        const names = vms.filter((v) => v.profile === side).map((v) => v.name).sort();
        replace(sel, h("option", {}, NONE), ...names.map((n) => h("option", {}, n)));
        sel.value = names.includes(keep) ? keep : (names[0] ?? NONE);
      }
    } catch (e) {
      notifyError("reading the VMs", e);
    }
  };
  for (const side of ["pv", "full"] as const) pick[side].addEventListener("change", () => totals[side].reset());

  const createPair = async (): Promise<void> => {
    try {
      for (const profile of ["pv", "full"] as const) {
        await api.post("/vms", { name: PAIR_NAMES[profile], profile, mem: PAIR_MEM, exec: command.value, start: true });
      }
      notify(`created and started ${PAIR_NAMES.pv} and ${PAIR_NAMES.full}`);
      await fillPicks();
      pick.pv.value = PAIR_NAMES.pv;
      pick.full.value = PAIR_NAMES.full;
      totals.pv.reset();
      totals.full.reset();
    } catch (e) {
      notifyError("creating the pair", e);
    }
  };

  function paint(): void {
    const m = { pv: metrics.latest.get(pick.pv.value), full: metrics.latest.get(pick.full.value) };
    totals.pv.add(m.pv);
    totals.full.add(m.full);
    setText(headA, `${pick.pv.value} (pv) exits/s · total`);
    setText(headB, `${pick.full.value} (full) exits/s · total`);
    const reasons = new Set([...Object.keys(m.pv?.exitsPerS ?? {}), ...Object.keys(m.full?.exitsPerS ?? {}), ...totals.pv.byReason.keys(), ...totals.full.byReason.keys()]);
    const sum = (t: Totals): number => [...t.byReason.values()].reduce((a, b) => a + b, 0);
    const all = { pv: sum(totals.pv), full: sum(totals.full) };
    const cell = (side: "pv" | "full", reason: string): HTMLElement[] => {
      const now = m[side]?.exitsPerS?.[reason];
      const total = totals[side].byReason.get(reason) ?? 0;
      const share = all[side] > 0 ? (total / all[side]) * 100 : 0;
      return [
        h("td", { class: "num" }, now === undefined ? UNKNOWN : rate(now), " · ", Math.round(total).toLocaleString()),
        h("td", { class: "share" }, h("span", { class: `bar-fill side-${side}`, style: `width:${share.toFixed(1)}%` })),
      ];
    };
    const sorted = [...reasons].sort((a, b) => (totals.pv.byReason.get(b) ?? 0) + (totals.full.byReason.get(b) ?? 0) - (totals.pv.byReason.get(a) ?? 0) - (totals.full.byReason.get(a) ?? 0));
    tbody.replaceChildren(...sorted.map((r) => h("tr", {}, h("td", {}, r), ...cell("pv", r), ...cell("full", r))));
    // No sample with exits yet is "unknown", not zero exits.
    const total = (side: "pv" | "full"): string => (totals[side].seconds === 0 ? UNKNOWN : Math.round(all[side]).toLocaleString());
    tbody.append(h("tr", { class: "total" }, h("td", {}, "all exits"), h("td", { class: "num" }, total("pv")), h("td"), h("td", { class: "num" }, total("full")), h("td")));

    const missing = (["pv", "full"] as const).filter((s) => pick[s].value !== NONE && m[s] !== undefined && m[s]!.exitsPerS === null);
    const idle = (["pv", "full"] as const).filter((s) => pick[s].value !== NONE && m[s] === undefined);
    const lines: string[] = [];
    if (missing.length > 0) lines.push(`The daemon gives no per-reason exits live for ${missing.map((s) => pick[s].value).join(" and ")} (exitsPerS is null); \`paravm compare --exec CMD\` or \`paravm run --stats\` prints the full table at exit.`);
    if (idle.length > 0) lines.push(`${idle.map((s) => pick[s].value).join(" and ")}: not running, no figures.`);
    setText(note, lines.join(" "));
  }
  const off = metrics.frames.on(paint);
  void fillPicks().then(paint);

  const el = h(
    "section",
    { class: "view compare-view" },
    h("h1", {}, "pv vs full: exits"),
    h("p", {}, "An exit is each time guest execution leaves the fast path for the hypervisor. Run the same workload on a pv and a full VM and watch where their exits go: a pv guest asks for service in hypercalls and virtio notifications, a full guest traps on every device register it touches."),
    h("div", { class: "grid" }, field("pv VM", pick.pv), field("full VM", pick.full)),
    h("details", {}, h("summary", {}, "Create a pair running the same command"), field("Command", command, `creates ${PAIR_NAMES.pv} and ${PAIR_NAMES.full} (${PAIR_MEM} each) and starts them`), button("Create and start both", () => void createPair(), "primary")),
    note,
    table,
  );
  return {
    el,
    destroy: off,
  };
}
