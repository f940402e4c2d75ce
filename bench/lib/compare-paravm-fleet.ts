/**
 * bench:compare's memory rows for the pv and full columns, on instances idle at their
 * shell prompts: mem-overhead (the first instance's host RSS minus the guest RAM it has
 * touched), density (instances started one after another until their summed RSS passes
 * the budget) and idle-cpu (host CPU of the first idleInstances over idleSeconds). One
 * fleet serves all three so the instances are booted once.
 */
import { hostnameFor, densityCount, idlePercent, runArgs } from "./compare-paravm-lib.js";
import { Instance, sleep, within } from "./compare-paravm-proc.js";
import type { Ctx } from "./compare-paravm.js";
import { MEM_USED_CMD, notMeasured, parseMemUsedKiB, promptRe, round, treeCpuSeconds, treeRssKiB, type ColumnCells, type RowId } from "./compare-rows.js";
import type { CompareCell } from "./compare-types.js";

/** Time an instance gets at its prompt before it is read (the agent and the kernel's late work settle). */
const SETTLE_MS = 3000;
/**
 * Fleet instances live through many boots and the idle window, so their process deadline
 * is this many times the column's timeout; each step (a boot to its prompt, a reply) still
 * has the plain timeout.
 */
const FLEET_DEADLINE_FACTOR = 4;

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;

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
  f.c.log(`mem: RSS ${mib(rssKiB)}, guest used ${mib(usedKiB)}, overhead ${value.toFixed(1)} MiB`);
  return { value: round(value), note: `host RSS ${mib(rssKiB)} − guest used ${mib(usedKiB)} (MemTotal − MemFree) of ${f.c.o.memMib} MiB, at the shell after ${SETTLE_MS / 1000} s` };
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
