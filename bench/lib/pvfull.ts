/**
 * Helpers for bench/pv-vs-full.ts: the guest scripts (timer loop, dd on the raw disk, a
 * TCP transfer with nc), one paravm run with its --stats read into a `Sample`, the
 * per-unit arithmetic (run minus baseline, median over runs) and the exit groupings the
 * "why" notes are computed from.
 */
import { join } from "node:path";
import { totalExits } from "../../src/control/stats-table.js";
import { FULL_DEFAULTS } from "../../src/machine/full.js";
import { PV_DEFAULTS } from "../../src/machine/pv.js";
import { ROOT, tail } from "./common.js";
import { guestFigures, median, parseMultiStats, startVm, type GuestFigures, type VmRun } from "./iobench.js";

export type Profile = "pv" | "full";
export const PROFILES: readonly Profile[] = ["pv", "full"];
export const PARAVM_BIN = join(ROOT, "bin", "paravm.js");
export const MiB = 1 << 20;

/** The raw disk each profile's guest sees, and its default console (kept when --append replaces the command line). */
export const DISK_DEV: Record<Profile, string> = { pv: "/dev/vda", full: "/dev/sda" };
export const BOOTARGS: Record<Profile, string> = { pv: PV_DEFAULTS.BOOTARGS, full: FULL_DEFAULTS.BOOTARGS };

// ---------------------------------------------------------------- stats

/** One VM's --stats (or several VMs summed). */
export interface Sample {
  bootMs: number | null;
  wallMs: number;
  instructions: number;
  priv: { M: number; S: number; U: number };
  /** Every counter of --stats "exits": window totals, per-register breakdown, firmware.* traps. */
  exits: Record<string, number>;
  /** --stats "interrupts": timer, ipi, external, irq.<device>. */
  interrupts: Record<string, number>;
  raw: unknown;
}

const numRecord = (o: unknown): Record<string, number> => {
  const r: Record<string, number> = {};
  if (o && typeof o === "object") for (const [k, v] of Object.entries(o)) if (typeof v === "number") r[k] = v;
  return r;
};

function sampleOf(o: Record<string, unknown>): Sample | null {
  if (typeof o["instructions"] !== "number" || typeof o["wallMs"] !== "number") return null;
  const p = numRecord(o["instructionsByPrivilege"]);
  return {
    bootMs: typeof o["bootMs"] === "number" ? o["bootMs"] : null,
    wallMs: o["wallMs"],
    instructions: o["instructions"],
    priv: { M: p["M"] ?? 0, S: p["S"] ?? 0, U: p["U"] ?? 0 },
    exits: numRecord(o["exits"]),
    interrupts: numRecord(o["interrupts"]),
    raw: o,
  };
}

const addRec = (a: Record<string, number>, b: Record<string, number>): Record<string, number> => {
  const r = { ...a };
  for (const [k, v] of Object.entries(b)) r[k] = (r[k] ?? 0) + v;
  return r;
};

/** `paravm run --stats`: the last JSON line of stderr that is a stats document. */
export function runSample(stderr: string): Sample | null {
  for (const line of stderr.split(/\r?\n/).reverse()) {
    const t = line.trim();
    if (!t.startsWith("{")) continue;
    try {
      const s = sampleOf(JSON.parse(t) as Record<string, unknown>);
      if (s) return s;
    } catch {
      // not JSON
    }
  }
  return null;
}

/** `paravm multi --stats`: every VM summed (wallMs, bootMs: the largest), or null. */
export function multiSample(stderr: string): { total: Sample; vms: number } | null {
  const m = parseMultiStats(stderr);
  if (m === null) return null;
  const all = Object.values(m.perVm).map((s) => sampleOf(s.raw as Record<string, unknown>)).filter((s): s is Sample => s !== null);
  if (all.length === 0) return null;
  const total = all.slice(1).reduce<Sample>(
    (a, b) => ({
      bootMs: a.bootMs === null || b.bootMs === null ? null : Math.max(a.bootMs, b.bootMs),
      wallMs: Math.max(a.wallMs, b.wallMs),
      instructions: a.instructions + b.instructions,
      priv: { M: a.priv.M + b.priv.M, S: a.priv.S + b.priv.S, U: a.priv.U + b.priv.U },
      exits: addRec(a.exits, b.exits),
      interrupts: addRec(a.interrupts, b.interrupts),
      raw: a.raw,
    }),
    all[0]!,
  );
  return { total: { ...total, raw: m.total.raw }, vms: all.length };
}

/** Exits to the hypervisor (hypercalls, MMIO window accesses, WFI), as `paravm compare` counts them: per-register rows and firmware traps are not added. */
export const hvExits = (exits: Record<string, number>): number => totalExits(exits);

/** Traps into the guest's own M-mode firmware (full only): not exits, but work pv never does. */
export const fwTraps = (exits: Record<string, number>): number =>
  Object.entries(exits).reduce((t, [k, v]) => (k.startsWith("firmware.") ? t + v : t), 0);

/** The timer's part: pv = set_timer hypercalls; full = SBI ecalls into OpenSBI + M-mode timer interrupts + CLINT writes. */
export function timerParts(profile: Profile, e: Record<string, number>): Record<string, number> {
  if (profile === "pv") return { "sbi.time.set_timer": e["sbi.time.set_timer"] ?? 0 };
  return {
    "firmware.ecall-s": e["firmware.ecall-s"] ?? 0,
    "firmware.mtimer": e["firmware.mtimer"] ?? 0,
    "mmio.clint.write": e["mmio.clint.write"] ?? 0,
  };
}
export const timerEvents = (profile: Profile, e: Record<string, number>): number =>
  Object.values(timerParts(profile, e)).reduce((a, b) => a + b, 0);

/** median over runs of (f(run) - f(baseline)) / units. */
export function perUnit(runs: readonly Sample[], base: Sample | undefined, units: number, f: (s: Sample) => number): number {
  if (base === undefined || runs.length === 0 || units <= 0) return NaN;
  return median(runs.map((s) => (f(s) - f(base)) / units));
}

/** Every exit counter (run - baseline) / units, median over runs. */
export function exitsPerUnit(runs: readonly Sample[], base: Sample | undefined, units: number): Record<string, number> {
  if (base === undefined || runs.length === 0) return {};
  const keys = new Set<string>([...Object.keys(base.exits), ...runs.flatMap((s) => Object.keys(s.exits))]);
  const r: Record<string, number> = {};
  for (const k of keys) r[k] = median(runs.map((s) => ((s.exits[k] ?? 0) - (base.exits[k] ?? 0)) / units));
  return r;
}

/** The `n` largest of `rec` whose keys match `re` (key shortened by `short`), as "name value" text. */
export function top(rec: Record<string, number>, re: RegExp, n: number, short: (k: string) => string, fmt: (v: number) => string): string {
  return Object.entries(rec)
    .filter(([k, v]) => re.test(k) && v >= 0.05)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${short(k)} ${fmt(v)}`)
    .join(", ");
}

/** Sum of `rec` over keys matching `re`. */
export const sumOf = (rec: Record<string, number>, re: RegExp): number =>
  Object.entries(rec).reduce((t, [k, v]) => (re.test(k) ? t + v : t), 0);

// ---------------------------------------------------------------- guest scripts

/** `n` × `usleep 2000`, timed with /proc/uptime (10 ms resolution); n = 0 is the baseline. */
export function timerScript(n: number): string {
  return [
    "t0=$(cut -d' ' -f1 /proc/uptime)",
    `i=0; while [ $i -lt ${n} ]; do usleep 2000; i=$((i+1)); done`,
    "t1=$(cut -d' ' -f1 /proc/uptime)",
    'echo "IOBENCH t0=$t0 t1=$t1 status=0"',
  ].join("\n");
}


// ---------------------------------------------------------------- one run

export interface Run {
  sample: Sample;
  fig: GuestFigures;
  /** Host wall time of the paravm process, spawn to exit. */
  processMs: number;
}

/**
 * Runs `node bin/paravm.js ARGS` (run or multi, with --stats) and checks it: exit status 0,
 * a stats document (two VMs for multi), and whatever `check` asks of the guest's figures.
 * Returns the run, or the reason it failed followed by the tails of its output.
 */
export async function paravm(
  args: readonly string[],
  timeoutMs: number,
  check: (fig: GuestFigures) => string | null,
): Promise<Run | string> {
  const env = { ...process.env };
  delete env["PARAVM_JIT"];
  const r: VmRun = await startVm(process.execPath, [PARAVM_BIN, ...args], env, timeoutMs).done;
  const fig = guestFigures(r.stdout);
  const multi = args[0] === "multi";
  const ms = multi ? multiSample(r.stderr) : null;
  const sample = multi ? (ms?.total ?? null) : runSample(r.stderr);
  let why: string | null = null;
  if (r.spawnError) why = `could not start: ${r.spawnError}`;
  else if (r.timedOut) why = `timed out after ${Math.round(r.wallMs / 1000)} s (--timeout-s)`;
  else if (r.code !== 0) why = `paravm exited ${r.code}${r.signal ? ` (${r.signal})` : ""}`;
  else if (sample === null) why = "no --stats JSON line on stderr";
  else if (multi && ms?.vms !== 2) why = `--stats has ${ms?.vms} VMs, expected 2`;
  else why = check(fig);
  if (why !== null || sample === null) {
    const err = r.stderr.split("\n").filter((l) => !l.startsWith("{")).join("\n");
    return `${why}\n  stdout (last lines):\n${tail(r.stdout, 8)}\n  stderr (last lines):\n${tail(err, 6)}`;
  }
  return { sample, fig, processMs: r.wallMs };
}

/** Checks for a script that prints IOBENCH (and, for dd, exactly `wantBytes` copied). */
export function guestCheck(wantBytes: number | null): (fig: GuestFigures) => string | null {
  return (fig) => {
    if (fig.status === null) return "no IOBENCH line from the guest";
    if (fig.status !== 0) return `the guest command exited ${fig.status}`;
    if (wantBytes !== null && fig.ddBytes !== wantBytes) return `dd copied ${fig.ddBytes} bytes, expected ${wantBytes}`;
    if (fig.exitStatus !== 0) return `PARAVM-EXIT-STATUS=${fig.exitStatus}`;
    return null;
  };
}
