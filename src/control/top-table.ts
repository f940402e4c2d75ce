/**
 * What `paravm up` shows each second: per-VM metrics made from the hypervisor's counters
 * (rates from the difference between two samples), as a top-like table, as one JSON line
 * per VM (`--json`), or as a plain progress line. No I/O here: the caller samples the VMs
 * and writes the text.
 *
 * Exits per second are not shown: the vCPU threads count exits in their own result and
 * hand it over when the VM stops, so there is no live figure to read cheaply.
 */
import type { PortStats } from "../net/switch.js";
import type { VmSchedStats } from "../hypervisor/vm.js";

export const TOP = {
  /** How many of the latest events the table keeps under the VMs. */
  EVENT_LINES: 8,
  /** The table's name column. */
  NAME_WIDTH: 12,
} as const;

/** What the caller reads from one VM at one moment; null where this build has no such figure. */
export interface VmProbe {
  readonly name: string;
  readonly state: string;
  readonly sched: VmSchedStats | null;
  readonly vcpus: { readonly online: number; readonly max: number };
  readonly mem: { readonly ramBytes: number; readonly balloonBytes: number | null; readonly guestAvailableBytes: number | null };
  readonly port: PortStats | null;
  /** Exits by reason and instructions so far this run (Vm.liveCounters), null before the first report. */
  readonly counters?: {
    readonly exits: Readonly<Record<string, number>>;
    readonly instret: number;
    readonly disk: { readonly read: number; readonly written: number } | null;
  } | null;
}

/** One VM's figures over the last interval (the `--json` line). */
export interface VmMetrics {
  /** Seconds since the fleet started. */
  readonly t: number;
  readonly vm: string;
  readonly state: string;
  readonly vcpus: { readonly online: number; readonly max: number };
  /** Host CPU the VM received, in % of one core (over the scheduler's last second), and what its weight and cap entitle it to. */
  readonly cpuPct: number | null;
  readonly entitlementPct: number | null;
  /** Time runnable but waiting for a host core, in % of the interval per online vCPU. */
  readonly stealPct: number | null;
  readonly weight: number | null;
  readonly cap: number | null;
  readonly mem: { readonly ramBytes: number; readonly balloonBytes: number | null; readonly guestAvailableBytes: number | null };
  /** Switch-port bytes per second (rx: to the guest), null without a NIC. */
  readonly net: { readonly rxBytesPerS: number; readonly txBytesPerS: number } | null;
  /** Exits per second by reason over the interval (reasons with none left out), and guest MIPS; null until two reports. */
  readonly exitsPerS: Record<string, number> | null;
  readonly mips: number | null;
  /** The guest disk's bytes per second over the interval; null without a disk or before two reports. */
  readonly disk: { readonly readBytesPerS: number; readonly writeBytesPerS: number } | null;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/** Turns successive probes into per-interval metrics. */
export class MetricsSampler {
  private readonly last = new Map<string, { atMs: number; waitMs: number; rx: number; tx: number; counters: VmProbe["counters"] }>();

  constructor(private readonly startMs: number) {}

  sample(probes: readonly VmProbe[], nowMs: number): VmMetrics[] {
    return probes.map((p) => {
      const prev = this.last.get(p.name);
      const dt = prev ? (nowMs - prev.atMs) / 1000 : 0;
      const s = p.sched;
      const live = p.state === "running" || p.state === "paused";
      const waitMs = s?.waitMs ?? 0;
      const rx = p.port?.rxBytes ?? 0;
      const tx = p.port?.txBytes ?? 0;
      this.last.set(p.name, { atMs: nowMs, waitMs, rx, tx, counters: p.counters ?? null });
      const c = p.counters ?? null;
      const pc = prev?.counters ?? null;
      let exitsPerS: Record<string, number> | null = null;
      if (c && pc && dt > 0 && live && c.instret >= pc.instret) {
        exitsPerS = {};
        for (const [k, v] of Object.entries(c.exits)) {
          const d = v - (pc.exits[k] ?? 0);
          if (d > 0) exitsPerS[k] = Math.round(d / dt);
        }
      }
      const rate = (now: number, before: number | undefined): number => (dt > 0 && before !== undefined ? Math.max(0, Math.round((now - before) / dt)) : 0);
      return {
        t: round1((nowMs - this.startMs) / 1000),
        vm: p.name,
        state: p.state,
        vcpus: p.vcpus,
        cpuPct: s && live ? round1(s.share * 100) : null,
        entitlementPct: s && live ? round1(s.entitlement * 100) : null,
        stealPct: s && live && dt > 0 && prev ? round1(Math.max(0, (waitMs - prev.waitMs) / (dt * 1000 * Math.max(1, p.vcpus.online))) * 100) : null,
        weight: s?.weight ?? null,
        cap: s?.cap ?? null,
        mem: p.mem,
        net: p.port ? { rxBytesPerS: rate(rx, prev?.rx), txBytesPerS: rate(tx, prev?.tx) } : null,
        exitsPerS,
        mips: exitsPerS && c && pc ? round1((c.instret - pc.instret) / dt / 1e6) : null,
        disk: exitsPerS && c?.disk && pc?.disk ? { readBytesPerS: rate(c.disk.read, pc.disk.read), writeBytesPerS: rate(c.disk.written, pc.disk.written) } : null,
      };
    });
  }
}

/** Bytes as a short figure: 512B, 12K, 128M, 1.5G. */
export function shortBytes(n: number | null): string {
  if (n === null) return "-";
  const units = [
    ["G", 1024 ** 3],
    ["M", 1024 ** 2],
    ["K", 1024],
  ] as const;
  for (const [u, size] of units) {
    if (n >= size) {
      const v = n / size;
      return `${v >= 10 || Number.isInteger(v) ? Math.round(v) : v.toFixed(1)}${u}`;
    }
  }
  return `${n}B`;
}

const pct = (x: number | null): string => (x === null ? "-" : x.toFixed(1));

const COLUMNS = [
  { head: "#", width: 2, cell: (_m: VmMetrics, i: number) => String(i + 1) },
  { head: "NAME", width: TOP.NAME_WIDTH, cell: (m: VmMetrics) => m.vm },
  { head: "STATE", width: 8, cell: (m: VmMetrics) => m.state },
  { head: "VCPU", width: 5, cell: (m: VmMetrics) => `${m.vcpus.online}/${m.vcpus.max}` },
  { head: "CPU%", width: 6, cell: (m: VmMetrics) => pct(m.cpuPct) },
  { head: "ENT%", width: 6, cell: (m: VmMetrics) => pct(m.entitlementPct) },
  { head: "STEAL%", width: 6, cell: (m: VmMetrics) => pct(m.stealPct) },
  { head: "WEIGHT", width: 6, cell: (m: VmMetrics) => (m.weight === null ? "-" : String(m.weight)) },
  { head: "RAM", width: 6, cell: (m: VmMetrics) => shortBytes(m.mem.ramBytes) },
  { head: "BALLOON", width: 7, cell: (m: VmMetrics) => shortBytes(m.mem.balloonBytes) },
  { head: "AVAIL", width: 6, cell: (m: VmMetrics) => shortBytes(m.mem.guestAvailableBytes) },
  { head: "NET-RX/s", width: 8, cell: (m: VmMetrics) => (m.net ? shortBytes(m.net.rxBytesPerS) : "-") },
  { head: "NET-TX/s", width: 8, cell: (m: VmMetrics) => (m.net ? shortBytes(m.net.txBytesPerS) : "-") },
  { head: "DISK-R/s", width: 8, cell: (m: VmMetrics) => (m.disk ? shortBytes(m.disk.readBytesPerS) : "-") },
  { head: "DISK-W/s", width: 8, cell: (m: VmMetrics) => (m.disk ? shortBytes(m.disk.writeBytesPerS) : "-") },
  { head: "EXITS/s", width: 8, cell: (m: VmMetrics) => (m.exitsPerS ? String(totalExits(m.exitsPerS)) : "-") },
  { head: "TOP EXIT", width: 18, cell: (m: VmMetrics) => topExit(m.exitsPerS) },
] as const;

function totalExits(e: Readonly<Record<string, number>>): number {
  let n = 0;
  for (const v of Object.values(e)) n += v;
  return n;
}

/** The busiest exit reason of the interval, e.g. "wfi 812". */
function topExit(e: Readonly<Record<string, number>> | null): string {
  if (!e) return "-";
  let best = "";
  let n = 0;
  for (const [k, v] of Object.entries(e)) if (v > n) (best = k), (n = v);
  return n > 0 ? `${best} ${n}` : "-";
}

const fit = (s: string, w: number): string => (s.length > w ? `${s.slice(0, w - 1)}~` : s.padEnd(w));

export interface TableView {
  readonly title: string;
  readonly metrics: readonly VmMetrics[];
  /** Index of the selected VM (marked with '>'). */
  readonly selected: number;
  /** Newest last. */
  readonly events: readonly string[];
  readonly keys: string;
  /** Terminal width: longer lines are cut. */
  readonly columns: number;
}

/** The whole screen as lines (no control codes). */
export function renderTable(v: TableView): string[] {
  const row = (cells: string[]): string => cells.map((c, i) => fit(c, COLUMNS[i]!.width)).join(" ");
  const lines = [v.title, "", `  ${row(COLUMNS.map((c) => c.head))}`];
  v.metrics.forEach((m, i) => lines.push(`${i === v.selected ? ">" : " "} ${row(COLUMNS.map((c) => c.cell(m, i)))}`));
  lines.push("", "events:");
  const evs = v.events.slice(-TOP.EVENT_LINES);
  for (const e of evs) lines.push(`  ${e}`);
  for (let i = evs.length; i < TOP.EVENT_LINES; i++) lines.push("");
  lines.push("", v.keys);
  return lines.map((l) => (l.length > v.columns ? l.slice(0, v.columns) : l));
}

/** One plain progress line for a VM (no TTY, no --json). */
export function plainLine(m: VmMetrics): string {
  return (
    `[${m.t.toFixed(0)}s] ${m.vm}: ${m.state}, vcpus ${m.vcpus.online}/${m.vcpus.max}, cpu ${pct(m.cpuPct)}% of ${pct(m.entitlementPct)}%, steal ${pct(m.stealPct)}%, ` +
    `ram ${shortBytes(m.mem.ramBytes)} balloon ${shortBytes(m.mem.balloonBytes)} available ${shortBytes(m.mem.guestAvailableBytes)}` +
    (m.net ? `, net rx ${shortBytes(m.net.rxBytesPerS)}/s tx ${shortBytes(m.net.txBytesPerS)}/s` : "") +
    (m.disk ? `, disk read ${shortBytes(m.disk.readBytesPerS)}/s write ${shortBytes(m.disk.writeBytesPerS)}/s` : "") +
    (m.exitsPerS ? `, exits ${totalExits(m.exitsPerS)}/s (top: ${topExit(m.exitsPerS)})` : "")
  );
}
