/**
 * The client's human output: the VM list, one VM, a fleet apply's outcome, and the API's
 * metrics frames turned into `paravm up`'s top table (top-table.ts). No I/O here.
 */
import type { SnapshotAnswer } from "../api/snapshots.js";
import type { ApiVmMetrics as ServerVmMetrics } from "../api/telemetry.js";
import { shortBytes, type VmMetrics as TopMetrics } from "../top-table.js";

/** A VM as GET /vms gives it (docs/api.md, `VmView`); fields the client does not show are left out. */
export interface VmView {
  readonly name: string;
  readonly state: string;
  readonly reason?: string;
  readonly profile: string;
  readonly entry: Record<string, unknown>;
  readonly settings: {
    readonly weight: number;
    readonly cap: number;
    readonly vcpus: { readonly online: number; readonly max: number };
    readonly memTargetBytes: number | null;
  };
  readonly autoscale: unknown;
  readonly createdAt?: string | number;
  /** Set on a VM restored from a snapshot (it is not kept across daemon restarts). */
  readonly restoredFrom?: string;
}

/** POST /vms/{name}/snapshot's answer (docs/api.md, `SnapshotResult`): the daemon's own type. */
export type SnapshotResult = SnapshotAnswer;

/** One VM's sample on the metrics stream (docs/api.md, `VmMetrics`), as it arrives over JSON: its `at` may be a number or an ISO date, and an older daemon may leave the newer fields out. */
export type ApiVmMetrics = Omit<ServerVmMetrics, "at" | "exitsPerS" | "diskReadBps" | "diskWriteBps" | "mips"> & {
  readonly at: number | string;
  readonly exitsPerS?: Record<string, number> | null;
  readonly diskReadBps?: number | null;
  readonly diskWriteBps?: number | null;
  readonly mips?: number | null;
};

/** POST /fleet's answer: names of the VMs each step touched. */
export interface FleetApplied {
  readonly created: readonly string[];
  /** Stopped VMs whose machine changed: made again. */
  readonly replaced?: readonly string[];
  /** Same machine, new live settings. */
  readonly updated?: readonly string[];
  readonly unchanged: readonly string[];
  readonly started: readonly string[];
}

/** The RAM a view's entry asks for, in bytes (sizes may be numbers or "256M"), or null when not given. */
function entryMem(v: VmView): number | null {
  const m = v.entry.mem;
  return typeof m === "number" ? m : null;
}

const dash = (s: string | number | null | undefined): string => (s === null || s === undefined || s === "" ? "-" : String(s));

/** The balloon's target, or null when there is none to show (the daemon reports the whole RAM then). */
function memTarget(v: VmView): number | null {
  const t = v.settings.memTargetBytes;
  return t === null || t === undefined || t === entryMem(v) ? null : t;
}

/** Why the VM is in its state, unless that only repeats the state ("stopped (stopped)"). */
function reasonOf(v: VmView): string | null {
  return v.reason === undefined || v.reason === null || v.reason === "" || v.reason === v.state ? null : v.reason;
}

const VM_COLUMNS: readonly { head: string; cell: (v: VmView) => string }[] = [
  { head: "NAME", cell: (v) => v.name },
  { head: "STATE", cell: (v) => v.state },
  { head: "PROFILE", cell: (v) => v.profile },
  { head: "VCPUS", cell: (v) => `${v.settings.vcpus.online}/${v.settings.vcpus.max}` },
  { head: "MEM", cell: (v) => (entryMem(v) === null ? dash(v.entry.mem as string | undefined) : shortBytes(entryMem(v))) },
  { head: "TARGET", cell: (v) => (memTarget(v) === null ? "-" : shortBytes(memTarget(v))) },
  { head: "WEIGHT", cell: (v) => String(v.settings.weight) },
  { head: "CAP", cell: (v) => (v.settings.cap === 0 ? "-" : `${v.settings.cap}%`) },
  { head: "AUTOSCALE", cell: (v) => (v.autoscale === null || v.autoscale === undefined ? "off" : "on") },
  { head: "REASON", cell: (v) => dash(reasonOf(v)) },
];

/** Columns padded to their widest cell, two spaces apart, trailing blanks trimmed. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}

/** `vm ls`: one row per VM; a hint instead of an empty table. */
export function vmTable(vms: readonly VmView[]): string[] {
  if (vms.length === 0) return ["no VMs (create one with `paravm vm create NAME`)"];
  return textTable(
    VM_COLUMNS.map((c) => c.head),
    vms.map((v) => VM_COLUMNS.map((c) => c.cell(v))),
  );
}

/** After a state change or `set`: the VM in one line. */
export function vmLine(v: VmView): string {
  const cap = v.settings.cap === 0 ? "no cap" : `cap ${v.settings.cap}%`;
  const target = memTarget(v) === null ? "" : `, mem target ${shortBytes(memTarget(v))}`;
  const reason = reasonOf(v) === null ? "" : ` (${reasonOf(v)})`;
  const restored = v.restoredFrom === undefined ? "" : `, restored from ${v.restoredFrom}`;
  return `${v.name}: ${v.state}${reason}, vcpus ${v.settings.vcpus.online}/${v.settings.vcpus.max}, weight ${v.settings.weight}, ${cap}${target}, autoscale ${v.autoscale === null || v.autoscale === undefined ? "off" : "on"}${restored}`;
}

/** `vm snapshot`: "web: snapshot written to /x/web.snap (12.3 MiB, 3071 of 16384 RAM pages, written in 140 ms, guest paused 152 ms)". */
export function snapshotLine(r: SnapshotResult): string {
  const mib = (r.bytes / 2 ** 20).toFixed(1);
  return `${r.name}: snapshot written to ${r.file} (${mib} MiB, ${r.ramPresent} of ${r.ramPages} RAM pages, written in ${Math.round(r.writeMs)} ms, guest paused ${Math.round(r.pausedMs)} ms)`;
}

/** `fleet apply`: what was created, replaced, updated, left alone and started. */
export function fleetLines(r: FleetApplied): string[] {
  const list = (xs: readonly string[] | undefined): string => (xs === undefined || xs.length === 0 ? "none" : xs.join(", "));
  return [
    `created: ${list(r.created)}`,
    `replaced: ${list(r.replaced)}`,
    `updated: ${list(r.updated)}`,
    `unchanged: ${list(r.unchanged)}`,
    `started: ${list(r.started)}`,
  ];
}

/** Milliseconds since the epoch from the API's `at` (a number of ms or an ISO date). */
function atMs(at: number | string): number {
  return typeof at === "number" ? at : Date.parse(at);
}

/** The API's metrics sample in the shape `paravm up`'s table renders; `t` is seconds since `sinceMs`. */
export function topMetrics(m: ApiVmMetrics, sinceMs: number): TopMetrics {
  const t = Math.max(0, Math.round((atMs(m.at) - sinceMs) / 100) / 10);
  return {
    t: Number.isFinite(t) ? t : 0,
    vm: m.vm,
    state: m.state,
    vcpus: m.vcpus,
    cpuPct: m.cpuPct,
    entitlementPct: m.entitlementPct,
    stealPct: m.stealPct,
    weight: m.weight,
    cap: m.cap,
    mem: { ramBytes: m.ramBytes, balloonBytes: m.balloonBytes, guestAvailableBytes: m.availableBytes },
    net: m.netRxBps === null || m.netTxBps === null || m.netRxBps === undefined ? null : { rxBytesPerS: m.netRxBps, txBytesPerS: m.netTxBps },
    exitsPerS: m.exitsPerS ?? null,
    mips: m.mips ?? null,
    disk: m.diskReadBps === null || m.diskReadBps === undefined || m.diskWriteBps === null || m.diskWriteBps === undefined ? null : { readBytesPerS: m.diskReadBps, writeBytesPerS: m.diskWriteBps },
  };
}

/** An event from the stream as one line for top's event area. */
export function eventLine(e: Record<string, unknown>): string {
  // UTC, as top's title: the daemon may be in another time zone than this terminal.
  const time = typeof e.at === "number" || typeof e.at === "string" ? new Date(e.at).toISOString().slice(11, 19) : "--:--:--";
  const vm = typeof e.vm === "string" ? e.vm : "-";
  switch (e.type) {
    case "state":
      return `${time} ${vm}: ${String(e.state)}${e.reason !== undefined && e.reason !== null ? ` (${String(e.reason)})` : ""}`;
    case "decision":
      return `${time} ${vm}: ${String(e.resource)} ${String(e.from)} -> ${String(e.to)}${e.applied === false ? " (not applied)" : ""}: ${String(e.reason)}`;
    case "container":
      // Its message names the container and says what happened.
      return `${time} ${vm}: ${String(e.message)}`;
    case "snapshot":
      return `${time} ${vm}: snapshot written to ${String(e.file)}`;
    case "created":
      return `${time} ${vm}: created${typeof e.restoredFrom === "string" ? ` (restored from ${e.restoredFrom})` : ""}`;
    case "clone":
      return `${time} ${vm}: clone ${String(e.index)} of ${String(e.of)} of ${String(e.file)} ready${typeof e.ip === "string" ? ` as ${e.ip}` : ""}`;
    default:
      return `${time} ${vm}: ${String(e.type)}`;
  }
}
