/**
 * bench:compare's `pv` and `full` columns: the same guest work on paravm's two machines
 * (`paravm run`, default profile pv, or `--profile full`; every instance `--mem <memMib>M`).
 * The cells carry, next to each figure, what it cost in hypervisor exits, guest
 * instructions and (full) traps into OpenSBI per operation, from --stats of a counting run
 * minus a baseline run of the same script without the work. The command lines, scripts,
 * parsers and per-operation arithmetic are in compare-paravm-lib.ts; the processes in
 * compare-paravm-proc.ts.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  bootCost,
  DATA_DEVICES,
  ddRunValue,
  densityCount,
  diskScript,
  DISK_DEV,
  hostnameFor,
  idlePercent,
  medianRecord,
  multiArgs,
  opCost,
  parseDiskRuns,
  parsePingRuns,
  pingScripts,
  roundRecord,
  runArgs,
  tcpPair,
  timerCost,
} from "./compare-paravm-lib.js";
import { endedProblem, Instance, runToEnd, sleep, within, type Ended } from "./compare-paravm-proc.js";
import {
  ddRate,
  MEM_USED_CMD,
  medianCell,
  notMeasured,
  parseMemUsedKiB,
  parseWork,
  promptRe,
  round,
  treeCpuSeconds,
  treeRssKiB,
  workScript,
  workValue,
  type ColumnCells,
  type ColumnMeasurer,
  type CompareOptions,
  type Log,
  type RowId,
} from "./compare-rows.js";
import type { CompareCell } from "./compare-types.js";
import { MiB, multiSample, runSample, type Profile, type Sample } from "./pvfull.js";

/** What every row of one column works with. */
interface Ctx {
  readonly p: Profile;
  readonly o: CompareOptions;
  readonly log: Log;
  readonly timeoutMs: number;
  /** This column's scratch directory (under o.workDir). */
  readonly dir: string;
}

type RowGroup = (c: Ctx, want: ReadonlySet<RowId>) => Promise<ColumnCells>;

/** Rows measured together (one boot serves several), in the order they run. */
const GROUPS: readonly (readonly [readonly RowId[], RowGroup])[] = [
  [["boot-shell"], bootShell],
  [["boot-first-output"], bootFirstOutput],
  [["cpu", "syscall", "timer"], work],
  [["disk-write", "disk-read"], disk],
  [["net-throughput"], netThroughput],
  [["net-rtt"], netRtt],
  [["mem-overhead", "density", "idle-cpu"], measureFleet],
];

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export const measureParavm: ColumnMeasurer = async (column, rows, o, log) => {
  const cells: ColumnCells = {};
  if (column !== "pv" && column !== "full") {
    for (const r of rows) cells[r] = notMeasured(`compare-paravm measures the pv and full columns, not ${column}`);
    return cells;
  }
  const dir = join(o.workDir, `paravm-${column}`);
  mkdirSync(dir, { recursive: true });
  const c: Ctx = { p: column, o, log: (m) => log(`${column}: ${m}`), timeoutMs: o.timeoutS * 1000, dir };
  for (const [ids, measure] of GROUPS) {
    const want = new Set(ids.filter((r) => rows.has(r)));
    if (want.size === 0) continue;
    try {
      Object.assign(cells, await measure(c, want));
    } catch (e) {
      c.log(`${[...want].join(", ")} FAILED: ${message(e)}`);
      for (const r of want) cells[r] ??= notMeasured(message(e));
    }
  }
  for (const r of rows) cells[r] ??= notMeasured("no result from compare-paravm (a bug: see the log)");
  return cells;
};

// ---------------------------------------------------------------- helpers

/** --stats of a finished `run`, or why there is none. */
function statsOf(e: Ended, multi = false): Sample | string {
  const s = multi ? (multiSample(e.stderr)?.total ?? null) : runSample(e.stderr);
  if (s !== null) return s;
  return endedProblem(e) ?? "no --stats JSON on stderr";
}

/** The values that count, and the reasons of those that do not. */
function split(values: readonly (number | string)[]): { ok: number[]; whys: string[] } {
  return {
    ok: values.filter((v): v is number => typeof v === "number"),
    whys: values.filter((v): v is string => typeof v === "string"),
  };
}

/** The cell of `values` (median), or not measured with the first reason (else `fallback`). */
function cellOf(values: readonly (number | string)[], fallback: string, extra: Omit<CompareCell, "value" | "samples"> = {}): CompareCell {
  const { ok, whys } = split(values);
  const note = whys.length > 0 && ok.length > 0 ? `${extra.note ? `${extra.note}; ` : ""}${whys.length} run(s) left out: ${whys[0]}` : extra.note;
  return medianCell(ok, whys[0] ?? fallback, { ...extra, ...(note !== undefined ? { note } : {}) });
}

// ---------------------------------------------------------------- boot

/** Host time from spawn to the shell prompt (stdin a pipe, no --exec); perOp from one `--exec true --stats` boot. */
async function bootShell(c: Ctx): Promise<ColumnCells> {
  const values: (number | string)[] = [];
  for (let i = 1; i <= c.o.runs; i++) {
    const name = hostnameFor(c.p, i);
    const vm = new Instance(runArgs(c.p, c.o.guest, c.o.memMib, { append: `paravm.hostname=${name}` }), c.timeoutMs, "pipe");
    try {
      const ms = await within(vm.waitFor(promptRe(name)), c.timeoutMs, "the shell prompt");
      values.push(ms / 1000);
      c.log(`boot to shell ${i}/${c.o.runs} ${seconds(ms)}`);
    } catch (e) {
      values.push(`boot ${i}: ${message(e)}`);
      c.log(`boot to shell ${i}/${c.o.runs} FAILED: ${message(e)}`);
    } finally {
      await vm.stop();
    }
  }
  const counted = statsOf(await runToEnd(runArgs(c.p, c.o.guest, c.o.memMib, { exec: "true", stats: true }), c.timeoutMs));
  const extra: Omit<CompareCell, "value" | "samples"> =
    typeof counted === "string"
      ? { note: `the counting boot (--exec true --stats) failed: ${counted}` }
      : { perOp: roundRecord(bootCost(c.p, counted)), opUnit: "boot", note: "perOp: one `--exec true --stats` boot" };
  if (typeof counted !== "string") c.log(`counting boot: ${Math.round(counted.instructions / 1e6)} M instructions`);
  return { "boot-shell": cellOf(values, "no boot reached the prompt", extra) };
}

/** Host time from spawn to the output of `--exec 'echo first-<nonce>'`. */
async function bootFirstOutput(c: Ctx): Promise<ColumnCells> {
  const values: (number | string)[] = [];
  for (let i = 1; i <= c.o.runs; i++) {
    const marker = `first-${randomBytes(4).toString("hex")}`;
    const vm = new Instance(runArgs(c.p, c.o.guest, c.o.memMib, { exec: `echo ${marker}` }), c.timeoutMs, "ignore");
    try {
      const ms = await within(vm.waitFor(new RegExp(`${marker}\\r?\\n`)), c.timeoutMs, "the echo's output");
      values.push(ms / 1000);
      c.log(`boot to first output ${i}/${c.o.runs} ${seconds(ms)}`);
    } catch (e) {
      values.push(`boot ${i}: ${message(e)}`);
      c.log(`boot to first output ${i}/${c.o.runs} FAILED: ${message(e)}`);
    } finally {
      await vm.stop();
    }
  }
  return { "boot-first-output": cellOf(values, "no boot printed the echo") };
}

// ---------------------------------------------------------------- cpu, syscall, timer

const WORK_ROWS = ["cpu", "syscall", "timer"] as const;

/**
 * One `--exec <workScript> --stats` boot runs every asked row o.runs times. The timer's
 * perOp comes from two more boots of the timer alone, with timerIters and with 0 sleeps:
 * in the work boot the cpu and syscall runs take timer ticks of their own, as many as
 * their wall time under the host's load, which would swamp the per-sleep difference.
 */
async function work(c: Ctx, want: ReadonlySet<RowId>): Promise<ColumnCells> {
  const rows = WORK_ROWS.filter((r) => want.has(r));
  c.log(`${rows.join(", ")}: one boot, ${c.o.runs} run(s) of each`);
  const e = await runToEnd(runArgs(c.p, c.o.guest, c.o.memMib, { exec: workScript(c.o, rows) }), c.timeoutMs);
  const problem = endedProblem(e);
  const runs = parseWork(e.stdout);
  const cells: ColumnCells = {};
  for (const r of rows) {
    const values = runs.filter((w) => w.row === r).map((w) => workValue(c.o, w));
    cells[r] = cellOf(values, problem ?? `no CMP ${r} lines on the console`);
    c.log(`${r}: ${values.map((v) => (typeof v === "number" ? v.toPrecision(4) : v)).join(", ") || (problem ?? "no runs")}`);
  }
  if (cells.timer !== undefined && cells.timer.value !== null) cells.timer = await withTimerCost(c, cells.timer);
  return cells;
}

async function withTimerCost(c: Ctx, cell: CompareCell): Promise<CompareCell> {
  const count = (iters: number): Promise<Ended> =>
    runToEnd(runArgs(c.p, c.o.guest, c.o.memMib, { exec: workScript({ ...c.o, timerIters: iters }, ["timer"]), stats: true }), c.timeoutMs);
  const run = statsOf(await count(c.o.timerIters));
  const base = typeof run === "string" ? run : statsOf(await count(0));
  if (typeof run === "string" || typeof base === "string") return { ...cell, note: `no per-sleep counts: ${typeof run === "string" ? run : base}` };
  const sleeps = c.o.runs * c.o.timerIters;
  const perOp = roundRecord(timerCost(c.p, run, base, sleeps));
  c.log(`timer: ${perOp["exits"]} exits per sleep`);
  return { ...cell, perOp, opUnit: "sleep", note: `perOp: a boot of the timer script alone minus the same with 0 sleeps, over ${sleeps} sleeps (two boots differ by a few hundred timer exits either way)` };
}

// ---------------------------------------------------------------- disk

/**
 * A scratch raw disk (no filesystem, `paravm.nodisk`); per direction one boot runs dd
 * o.runs times (each a sample) and one boot the same loop with count=0 (the baseline of
 * perOp, per MiB).
 */
async function disk(c: Ctx, want: ReadonlySet<RowId>): Promise<ColumnCells> {
  const mib = c.o.diskMib;
  const scratch = join(c.dir, "scratch.img");
  writeFileSync(scratch, "");
  // Room past the dd's end, so the device is never smaller than what dd asks for.
  truncateSync(scratch, (mib + 16) * MiB);
  const cells: ColumnCells = {};
  try {
    for (const op of ["write", "read"] as const) {
      const id: RowId = op === "write" ? "disk-write" : "disk-read";
      if (want.has(id)) cells[id] = await diskRow(c, op, scratch);
    }
  } finally {
    rmSync(scratch, { force: true });
  }
  return cells;
}

async function diskRow(c: Ctx, op: "write" | "read", scratch: string): Promise<CompareCell> {
  const mib = c.o.diskMib;
  const dev = DISK_DEV[c.p];
  const boot = (k: number): string[] =>
    runArgs(c.p, c.o.guest, c.o.memMib, { disk: scratch, append: "paravm.nodisk", exec: diskScript(op, dev, k, c.o.runs), stats: true });
  const e = await runToEnd(boot(mib), c.timeoutMs);
  const values = parseDiskRuns(e.stdout).map((r) => ddRunValue(r, mib));
  c.log(`disk ${op}: ${values.map((v) => (typeof v === "number" ? `${v.toFixed(2)} MiB/s` : v)).join(", ") || (endedProblem(e) ?? "no dd output")}`);
  const device = c.p === "pv" ? "virtio-blk" : "ATA PIO";
  const note = `${c.o.runs} × dd of ${mib} MiB in one boot on ${dev} (${device}), a scratch raw disk file`;
  const run = statsOf(e);
  if (split(values).ok.length === 0 || typeof run === "string") return cellOf(values, endedProblem(e) ?? "no dd output", { note });
  const base = statsOf(await runToEnd(boot(0), c.timeoutMs));
  if (typeof base === "string") return cellOf(values, "", { note: `${note}; no per-MiB counts: the count=0 boot failed: ${base}` });
  const perOp = roundRecord(opCost(c.p, run, base, c.o.runs * mib, DATA_DEVICES));
  c.log(`disk ${op}: ${perOp["exits"]} exits per MiB`);
  return cellOf(values, "", { perOp, opUnit: "MiB", note: `${note}; perOp: that boot minus the same loop with count=0 (two boots differ by a few hundred timer and console exits either way)` });
}

// ---------------------------------------------------------------- network

/** o.runs `paravm multi` boots with one TCP transfer each (bench:io's method); perOp per MiB against a 0-byte boot, both VMs summed. */
async function netThroughput(c: Ctx): Promise<ColumnCells> {
  const mib = c.o.netMib;
  const values: (number | string)[] = [];
  const costs: Record<string, number>[] = [];
  const samples: Sample[] = [];
  const pair = tcpPair(mib);
  for (let i = 1; i <= c.o.runs; i++) {
    const e = await runToEnd(multiArgs(c.p, c.o.guest, c.o.memMib, pair.a, pair.b), c.timeoutMs);
    const v = tcpValue(e, mib);
    values.push(typeof v === "number" ? v : `run ${i}: ${v}`);
    c.log(`tcp ${i}/${c.o.runs}: ${typeof v === "number" ? `${v.toFixed(2)} MiB/s` : `FAILED: ${v}`}`);
    const s = statsOf(e, true);
    if (typeof v === "number" && typeof s !== "string") samples.push(s);
  }
  const note = `${mib} MiB per transfer, one transfer per \`paravm multi\` boot of two VMs on one switch`;
  if (samples.length === 0) return { "net-throughput": cellOf(values, "no transfer completed", { note }) };
  const zero = tcpPair(0);
  const base = statsOf(await runToEnd(multiArgs(c.p, c.o.guest, c.o.memMib, zero.a, zero.b), c.timeoutMs), true);
  if (typeof base === "string") return { "net-throughput": cellOf(values, "", { note: `${note}; no per-MiB counts: the 0-byte boot failed: ${base}` }) };
  for (const s of samples) costs.push(opCost(c.p, s, base, mib, DATA_DEVICES));
  const perOp = roundRecord(medianRecord(costs));
  return { "net-throughput": cellOf(values, "", { perOp, opUnit: "MiB", note: `${note}; perOp: both VMs, minus a 0-byte boot (two boots differ by a few hundred timer and console exits either way)` }) };
}

/** MiB/s the receiver's dd timed (it swallows the first byte before the clock starts), or why not. */
export function tcpValue(e: Ended, mib: number): number | string {
  const rate = ddRate(e.stdout);
  if (rate === null) return endedProblem(e) ?? "no dd summary from the receiver";
  if (rate.bytes !== mib * MiB - 1) return `the receiver got ${rate.bytes} bytes, not ${mib * MiB - 1}`;
  return endedProblem(e) ?? rate.mibPerS;
}

/** One `paravm multi` boot: b pings a `o.runs` times with `ping -c pingCount`. */
async function netRtt(c: Ctx): Promise<ColumnCells> {
  const s = pingScripts(c.o.pingCount, c.o.runs);
  const e = await runToEnd(multiArgs(c.p, c.o.guest, c.o.memMib, s.a, s.b), c.timeoutMs);
  const values = parsePingRuns(e.stdout);
  c.log(`ping: ${values.map((v) => (typeof v === "number" ? `${v.toFixed(0)} µs` : v)).join(", ") || (endedProblem(e) ?? "no ping output")}`);
  return { "net-rtt": cellOf(values, endedProblem(e) ?? "no ping output", { note: `${c.o.runs} × \`ping -c ${c.o.pingCount}\` in one \`paravm multi\` boot, after one warm-up ping` }) };
}

// ---------------------------------------------------------------- memory, density, idle CPU
//
// On instances idle at their shell prompts: mem-overhead (the first instance's host RSS
// minus the guest RAM it has touched), density (instances started one after another until
// their summed RSS passes the budget) and idle-cpu (host CPU of the first idleInstances
// over idleSeconds). One fleet serves all three, so the instances are booted once.

/** Time an instance gets at its prompt before it is read (the agent and the kernel's late work settle). */
const SETTLE_MS = 3000;
/**
 * Fleet instances live through many boots and the idle window, so their process deadline
 * is this many times the column's timeout; each step (a boot to its prompt, a reply) still
 * has the plain timeout.
 */
const FLEET_DEADLINE_FACTOR = 4;

const mibText = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;

interface Fleet {
  readonly c: Ctx;
  readonly vms: Instance[];
}

/** Starts instance number `vms.length + 1` and waits for its prompt; on failure it is stopped and the error thrown. */
async function addInstance(f: Fleet): Promise<Instance> {
  const i = f.vms.length + 1;
  const name = hostnameFor(f.c.p, i);
  const vm = new Instance(runArgs(f.c.p, f.c.o.guest, f.c.o.memMib, { append: `paravm.hostname=${name}` }), f.c.timeoutMs * FLEET_DEADLINE_FACTOR, "pipe");
  try {
    await within(vm.waitFor(promptRe(name)), f.c.timeoutMs, `instance ${i}'s prompt`);
  } catch (e) {
    await vm.stop();
    throw e;
  }
  f.vms.push(vm);
  return vm;
}

const rssSumKiB = (vms: readonly Instance[]): number => vms.reduce((t, v) => t + (v.pid === undefined ? NaN : treeRssKiB(v.pid)), 0);

export async function measureFleet(c: Ctx, want: ReadonlySet<RowId>): Promise<ColumnCells> {
  const f: Fleet = { c, vms: [] };
  const cells: ColumnCells = {};
  try {
    if (want.has("mem-overhead")) {
      cells["mem-overhead"] = await memOverhead(f);
    }
    if (want.has("density")) cells.density = await density(f);
    if (want.has("idle-cpu")) cells["idle-cpu"] = await idleCpu(f);
  } finally {
    await Promise.all(f.vms.map((v) => v.stop()));
  }
  return cells;
}

/** The first instance, settled at its prompt: RSS of its process tree minus the guest's MemTotal − MemFree. */
async function memOverhead(f: Fleet): Promise<CompareCell> {
  let vm: Instance;
  try {
    vm = f.vms[0] ?? (await addInstance(f));
  } catch (e) {
    return notMeasured(`the instance did not reach its prompt: ${message(e)}`);
  }
  await sleep(SETTLE_MS);
  const from = vm.stdout.length;
  vm.send(`${MEM_USED_CMD}\n`);
  try {
    await within(vm.waitFor(/MEMUSED \d+\r?\n/, from), f.c.timeoutMs, "the MEMUSED reply");
  } catch (e) {
    return notMeasured(`no MEMUSED reply: ${message(e)}`);
  }
  const usedKiB = parseMemUsedKiB(vm.stdout.slice(from));
  const rssKiB = vm.pid === undefined ? NaN : treeRssKiB(vm.pid);
  if (usedKiB === null || !Number.isFinite(rssKiB)) return notMeasured("could not read the RSS or the guest's MEMUSED");
  const value = (rssKiB - usedKiB) / 1024;
  f.c.log(`mem: RSS ${mibText(rssKiB)}, guest used ${mibText(usedKiB)}, overhead ${value.toFixed(1)} MiB`);
  return { value: round(value), note: `host RSS ${mibText(rssKiB)} − guest used ${mibText(usedKiB)} (MemTotal − MemFree) of ${f.c.o.memMib} MiB, at the shell after ${SETTLE_MS / 1000} s` };
}

/** Instances to their prompts one at a time until their summed RSS passes the budget (or the cap). */
async function density(f: Fleet): Promise<CompareCell> {
  const { o } = f.c;
  const sums: number[] = [];
  let stopped = "";
  // The instances already running (mem-overhead's) count as the first ones.
  for (let i = 1; i <= f.vms.length && i <= o.densityCap; i++) sums.push(rssSumKiB(f.vms.slice(0, i)) / 1024);
  while (sums.length < o.densityCap && !sums.some((s) => s > o.densityBudgetMib)) {
    try {
      await addInstance(f);
    } catch (e) {
      stopped = `instance ${f.vms.length + 1} did not start: ${message(e)}`;
      f.c.log(`density: ${stopped}`);
      break;
    }
    sums.push(rssSumKiB(f.vms) / 1024);
    f.c.log(`density: ${f.vms.length} instance(s), ${sums[sums.length - 1]!.toFixed(0)} MiB RSS (budget ${o.densityBudgetMib})`);
  }
  if (sums.length === 0) return notMeasured(stopped || "no instance started");
  const { count, passed } = densityCount(sums, o.densityBudgetMib);
  const last = sums[sums.length - 1]!;
  const why = passed
    ? `instance ${count + 1} took the RSS sum to ${sums[count]!.toFixed(0)} MiB, past ${o.densityBudgetMib} MiB`
    : stopped !== ""
      ? `stopped early: ${stopped}; ${count} instance(s) used ${last.toFixed(0)} MiB`
      : `at the cap of ${o.densityCap}: ${count} instances used ${last.toFixed(0)} MiB of ${o.densityBudgetMib} MiB`;
  return { value: count, samples: sums.map(round), note: `${why}; samples: RSS sum (MiB) after each instance` };
}

/** The first idleInstances at their prompts (more are started if the fleet is smaller; extra ones stopped first). */
async function idleCpu(f: Fleet): Promise<CompareCell> {
  const { o } = f.c;
  const extra = f.vms.splice(o.idleInstances);
  await Promise.all(extra.map((v) => v.stop()));
  let short = "";
  while (f.vms.length < o.idleInstances) {
    try {
      await addInstance(f);
    } catch (e) {
      short = `only ${f.vms.length} of ${o.idleInstances} instances started (${message(e)})`;
      break;
    }
  }
  if (f.vms.length === 0) return notMeasured(short || "no instance started");
  await sleep(SETTLE_MS);
  const cpu = (): number[] => f.vms.map((v) => (v.pid === undefined ? NaN : treeCpuSeconds(v.pid)));
  const before = cpu();
  const t0 = performance.now();
  await sleep(o.idleSeconds * 1000);
  const after = cpu();
  const wallS = (performance.now() - t0) / 1000;
  const per = after.map((a, i) => idlePercent(a - before[i]!, wallS, 1));
  if (per.some((x) => !Number.isFinite(x))) return notMeasured("an idle instance exited during the measurement");
  const mean = per.reduce((a, b) => a + b, 0) / per.length;
  f.c.log(`idle: ${per.map((x) => x.toFixed(2)).join(", ")} % of a core per instance`);
  return {
    value: round(mean),
    samples: per.map(round),
    note: `mean of ${per.length} instance(s) over ${wallS.toFixed(1)} s (samples: each instance)${short ? `; ${short}` : ""}`,
  };
}
