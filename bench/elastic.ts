/**
 * Elasticity benchmark: real pv Linux guests in this process (it holds their RAM, so its
 * own /proc/self figures are the host's), in three parts:
 *
 *   1  balloon   a 256 MiB guest that touched 200 MiB: host RSS before and after its
 *                memory target drops to 128 MiB (inflate by 128 MiB), and the time until
 *                RSS fell by 100 MiB (goal: ≥ 100 MiB within 2 s); the deflate back; then
 *                free page reporting: RSS after a guest frees a 200 MiB buffer, no target.
 *   2  density   64 MiB guests started one after another (each to a shell, then idle)
 *                under a --density-budget host memory budget until admission refuses
 *                one; then the idle ones are squeezed to a 32 MiB target and more are
 *                admitted until refused again. Host memory per VM beyond its guest RAM
 *                (goal ≤ 8 MiB; Firecracker's promise is 5 MiB): process RSS minus the
 *                guests' resident RAM (their mappings in /proc/self/smaps), per VM.
 *   3  autoscale two guests capped at 20% of a core; the load starts on one: time from
 *                the load change to the autoscaler's decision, and the guest's work rate
 *                (TICKs per second, counted on the host) before and after.
 *
 *   npm run bench:elastic [-- options]      (or: node dist/bench/elastic.js [options])
 *
 * Options:
 *   --only=LIST           parts to run, e.g. --only=1,3 (default 1,2,3)
 *   --density-budget SIZE the budget of part 2 (default 1G: the default budget, 75% of the
 *                         host's available memory, would boot hundreds of guests on 2 cores;
 *                         the figure per VM extrapolates, and is printed)
 *   --density-max N       stop part 2 at N guests (default 40)
 *   --guest-dir DIR       directory with Image and initramfs.cpio.gz
 *   --no-json             do not write bench/results/elastic-<date>.json
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fixed, gitInfo, hostInfo, intOption, printHeaderHelp, runMain, table, writeResults } from "./lib/common.js";
import { findGuest } from "./lib/iobench.js";
import { parseHostMem } from "../src/control/args.js";
import type { AutoscaleDecision } from "../src/hypervisor/autoscaler.js";
import { Hypervisor } from "../src/hypervisor/hypervisor.js";
import type { MachineSpec } from "../src/hypervisor/machine-spec.js";
import { AdmissionError, defaultBudget, vmChargeBytes } from "../src/hypervisor/memory-pool.js";
import type { Vm } from "../src/hypervisor/vm.js";
import { PV_DEFAULTS } from "../src/machine/pv.js";

const MiB = 1024 * 1024;
const GOALS = { inflateDropMiB: 100, inflateWithinMs: 2000, overheadMiB: 8 } as const;

interface Options {
  only: number[];
  densityBudget: number;
  densityMax: number;
  guestDir: string | null;
  json: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      only: { type: "string" },
      "density-budget": { type: "string" },
      "density-max": { type: "string" },
      "guest-dir": { type: "string" },
      "no-json": { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help) printHeaderHelp("elastic.ts");
  return {
    only: (values.only ?? "1,2,3").split(",").map((s) => intOption("only", s, 1)),
    densityBudget: parseHostMem(values["density-budget"] ?? "1G"),
    densityMax: values["density-max"] !== undefined ? intOption("density-max", values["density-max"], 1) : 40,
    guestDir: values["guest-dir"] ?? null,
    json: values["no-json"] !== true,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function rssBytes(): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Resident bytes of the mappings that are guest RAM of `memBytes` (the addon maps each exactly; the fallback adds a page). */
function guestResidentBytes(memBytes: number): number {
  let total = 0;
  let size = 0;
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    const s = /^Size:\s+(\d+) kB$/.exec(line);
    if (s) size = Number(s[1]) * 1024;
    const r = /^Rss:\s+(\d+) kB$/.exec(line);
    if (r && size >= memBytes && size <= memBytes + 8192) total += Number(r[1]) * 1024;
  }
  return total;
}

class Guest {
  text = "";
  ticks: number[] = [];
  constructor(readonly vm: Vm) {
    vm.on("output", (b: Uint8Array) => {
      const s = Buffer.from(b).toString("latin1");
      this.text += s;
      const now = performance.now();
      for (const _ of s.matchAll(/TICK/g)) this.ticks.push(now);
    });
  }
  async until(re: RegExp, ms = 300_000): Promise<void> {
    const t0 = Date.now();
    while (!re.test(this.text)) {
      if (this.vm.state !== "running") throw new Error(`${this.vm.name} is ${this.vm.state} (${this.vm.reason ?? ""}) waiting for ${re}`);
      if (Date.now() - t0 > ms) throw new Error(`${this.vm.name}: no ${re} within ${ms} ms; console tail: ${this.text.slice(-300)}`);
      await sleep(50);
    }
  }
  send(line: string): void {
    this.vm.input(new TextEncoder().encode(`${line}\n`));
  }
  async rate(ms: number): Promise<number> {
    const from = performance.now();
    await sleep(ms);
    return (this.ticks.filter((t) => t >= from).length * 1000) / (performance.now() - from);
  }
}

function pvSpec(img: { kernel: Uint8Array; initrd: Uint8Array }, memBytes: number, script: string, extra: Partial<MachineSpec> = {}): MachineSpec {
  return {
    profile: "pv",
    cpus: 1,
    memBytes,
    kernel: img.kernel,
    initrd: img.initrd,
    bootargs: `${PV_DEFAULTS.BOOTARGS} quiet paravm.exec=${Buffer.from(script).toString("base64")}`,
    ...extra,
  };
}

/** A shell that does what the host types: "fill N" (N MiB into /dev/shm), "free", "load", "idle". */
const DRIVER = [
  "stty -echo 2>/dev/null",
  "mount -o remount,size=90% /dev/shm", // tmpfs defaults to half of RAM
  "burn() { while :; do n=0; while [ $n -lt 200 ]; do n=$((n+1)); done; echo TICK; done; }",
  "echo READY",
  'while read c a; do case "$c" in',
  "  fill) dd if=/dev/zero of=/dev/shm/f bs=1M count=$a 2>/dev/null; echo FILLED;;",
  "  free) rm -f /dev/shm/f; echo FREED;;",
  "  load) burn & P=$!;;",
  "  idle) kill $P;;",
  "esac; done",
].join("\n");

async function waitFor(what: string, ok: () => boolean, ms: number, step = 20): Promise<number> {
  const t0 = performance.now();
  while (!ok()) {
    if (performance.now() - t0 > ms) throw new Error(`no ${what} within ${ms} ms`);
    await sleep(step);
  }
  return performance.now() - t0;
}

async function partBalloon(img: { kernel: Uint8Array; initrd: Uint8Array }): Promise<Record<string, number | string>> {
  const hv = new Hypervisor();
  try {
    const out: Record<string, number | string> = {};
    // (a) inflate alone: free page reporting off, so only the balloon gives memory back.
    const a = new Guest(hv.create({ name: "inflate", spec: pvSpec(img, 256 * MiB, DRIVER, { freePageReporting: false }) }));
    await a.vm.start();
    await a.until(/READY/);
    a.send("fill 200");
    await a.until(/FILLED/);
    a.send("free");
    await a.until(/FREED/);
    await sleep(1000);
    out.reclaim = a.vm.memoryStats().reclaim;
    const before = rssBytes();
    const t0 = performance.now();
    a.vm.setMemoryTarget(128 * MiB);
    let at2s = 0;
    const toGoal = await waitFor(
      "RSS drop of 100 MiB after inflating",
      () => {
        const drop = before - rssBytes();
        if (performance.now() - t0 <= GOALS.inflateWithinMs) at2s = drop;
        return drop >= GOALS.inflateDropMiB * MiB;
      },
      20_000,
    ).catch(() => Number.NaN);
    await waitFor("balloon at 128 MiB", () => a.vm.memoryStats().balloonBytes >= 128 * MiB, 30_000);
    const inflatedMs = performance.now() - t0;
    out.rssBeforeMiB = before / MiB;
    out.rssAfterMiB = rssBytes() / MiB;
    out.dropAt2sMiB = at2s / MiB;
    out.msTo100MiB = toGoal;
    out.inflateMs = inflatedMs;
    const t1 = performance.now();
    a.vm.setMemoryTarget(256 * MiB);
    out.deflateMs = await waitFor("balloon empty", () => a.vm.memoryStats().balloonBytes === 0, 30_000);
    void t1;
    await a.vm.stop();

    // (b) free page reporting: no target; the guest frees a 200 MiB buffer.
    const b = new Guest(hv.create({ name: "report", spec: pvSpec(img, 256 * MiB, DRIVER) }));
    await b.vm.start();
    await b.until(/READY/);
    b.send("fill 200");
    await b.until(/FILLED/);
    await sleep(1000);
    out.reportedBeforeFreeMiB = b.vm.memoryStats().reportedBytes / MiB;
    const full = rssBytes();
    const t2 = performance.now();
    b.send("free");
    out.reportMsTo100MiB = await waitFor("RSS drop of 100 MiB after the guest freed 200 MiB", () => full - rssBytes() >= 100 * MiB, 30_000, 50).catch(() => Number.NaN);
    await sleep(Math.max(0, 5000 - (performance.now() - t2)));
    out.reportDropAt5sMiB = (full - rssBytes()) / MiB;
    out.reportedMiB = b.vm.memoryStats().reportedBytes / MiB;
    await b.vm.stop();
    return out;
  } finally {
    await hv.close();
  }
}

async function partDensity(img: { kernel: Uint8Array; initrd: Uint8Array }, budget: number, max: number): Promise<Record<string, number | string>> {
  const hv = new Hypervisor({ hostMemBytes: budget });
  const mem = 64 * MiB;
  const squeezed = 32 * MiB;
  const guests: Guest[] = [];
  const base = rssBytes();
  const startOne = async (): Promise<boolean> => {
    const g = new Guest(hv.create({ name: `d${guests.length}`, spec: pvSpec(img, mem, "echo UP; exec sleep 100000") }));
    try {
      await g.vm.start();
    } catch (e) {
      await hv.destroy(g.vm.name);
      if (e instanceof AdmissionError) return false;
      throw e;
    }
    guests.push(g);
    await g.until(/UP/);
    return true;
  };
  try {
    while (guests.length < max && (await startOne()));
    const plain = guests.length;
    await sleep(2000);
    const rss = rssBytes();
    const resident = guestResidentBytes(mem);
    const overhead = (rss - base - resident) / plain;
    // Squeeze the idle ones; each charge shrinks, more fit.
    for (const g of guests) g.vm.setMemoryTarget(squeezed);
    await waitFor("the idle guests' balloons", () => guests.every((g) => g.vm.memoryStats().balloonBytes >= mem - squeezed), 120_000, 200);
    while (guests.length < max && (await startOne())) guests.at(-1)!.vm.setMemoryTarget(squeezed);
    return {
      budgetMiB: budget / MiB,
      chargePerVmMiB: vmChargeBytes(mem, 1) / MiB,
      withoutBalloon: plain,
      withBalloon: guests.length,
      rssMiB: rss / MiB,
      guestResidentMiB: resident / MiB,
      overheadPerVmMiB: overhead / MiB,
      defaultBudgetMiB: defaultBudget().bytes / MiB,
      extrapolatedAtDefault: Math.floor(defaultBudget().bytes / vmChargeBytes(mem, 1)),
      hitMax: guests.length >= max ? "yes" : "no",
    };
  } finally {
    await hv.close();
  }
}

async function partAutoscale(img: { kernel: Uint8Array; initrd: Uint8Array }): Promise<Record<string, number | string>> {
  const hv = new Hypervisor();
  const decisions: (AutoscaleDecision & { ms: number })[] = [];
  let loadAt = 0;
  hv.on("decision", (d: AutoscaleDecision) => decisions.push({ ...d, ms: performance.now() - loadAt }));
  try {
    const a = new Guest(hv.create({ name: "a", spec: pvSpec(img, 64 * MiB, DRIVER), cap: 20 }));
    const b = new Guest(hv.create({ name: "b", spec: pvSpec(img, 64 * MiB, DRIVER), cap: 20 }));
    await Promise.all([a.vm.start(), b.vm.start()]);
    await Promise.all([a.until(/READY/), b.until(/READY/)]);
    const limits = { cpu: { cap: { min: 20, max: 80 } } };
    hv.setAutoscale("a", limits);
    hv.setAutoscale("b", limits);
    await sleep(3000);
    loadAt = performance.now();
    a.send("load");
    const before = await a.rate(1500); // inside the 2 s streak the autoscaler needs
    await waitFor("a's cap at 80%", () => a.vm.settings.cap === 80, 60_000, 50);
    const top = performance.now() - loadAt;
    await sleep(1000);
    const after = await a.rate(5000);
    const first = decisions.find((d) => d.vm === "a");
    return {
      firstDecisionMs: first?.ms ?? Number.NaN,
      firstDecision: first?.reason ?? "-",
      msToCap80: top,
      rateBefore: before,
      rateAfter: after,
      gain: after / before,
    };
  } finally {
    await hv.close();
  }
}

async function main(): Promise<number> {
  const opts = parseOptions();
  const host = hostInfo();
  const g = findGuest(opts.guestDir);
  const img = { kernel: readFileSync(join(g.dir, "Image")), initrd: readFileSync(join(g.dir, "initramfs.cpio.gz")) };
  console.log(`elastic bench: parts ${opts.only.join(",")}; guest ${g.dir}`);
  console.log(`host: ${host.cpuModel} x${host.cpuCount}, ${host.totalMemGiB} GiB, node ${host.node}, load ${host.loadAvg.join(" ")}`);
  const results: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  const rows: string[][] = [];
  const part = async <T>(n: number, name: string, f: () => Promise<T>): Promise<T | null> => {
    if (!opts.only.includes(n)) return null;
    console.log(`[${n}] ${name}…`);
    try {
      const r = await f();
      results[name] = r;
      return r;
    } catch (e) {
      errors[name] = (e as Error).message;
      console.log(`[${n}] ${name}: ERROR ${(e as Error).message}`);
      return null;
    }
  };
  const b = await part(1, "balloon", () => partBalloon(img));
  if (b) {
    rows.push(["1", "inflate 128 MiB: RSS before → after", "-", `${fixed(b.rssBeforeMiB as number, 0)} → ${fixed(b.rssAfterMiB as number, 0)} MiB (${b.reclaim})`]);
    rows.push(["1", "  RSS drop within 2 s / time to −100 MiB", "≥ 100 MiB in 2 s", `${fixed(b.dropAt2sMiB as number, 0)} MiB / ${fixed(b.msTo100MiB as number, 0)} ms`]);
    rows.push(["1", "  balloon full / deflate back", "-", `${fixed(b.inflateMs as number, 0)} / ${fixed(b.deflateMs as number, 0)} ms`]);
    rows.push(["1", "free page reporting: RSS drop 5 s after the guest freed 200 MiB", "-", `${fixed(b.reportDropAt5sMiB as number, 0)} MiB (−100 MiB after ${fixed(b.reportMsTo100MiB as number, 0)} ms; ${fixed(b.reportedMiB as number, 0)} MiB reported in all)`]);
  }
  const d = await part(2, "density", () => partDensity(img, opts.densityBudget, opts.densityMax));
  if (d) {
    rows.push(["2", `64 MiB guests admitted in ${d.budgetMiB} MiB: without / with ballooning idle ones`, "-", `${d.withoutBalloon} / ${d.withBalloon}${d.hitMax === "yes" ? " (hit --density-max)" : ""}`]);
    rows.push(["2", "  host memory per VM beyond its guest RAM", `≤ ${GOALS.overheadMiB} MiB`, `${fixed(d.overheadPerVmMiB as number, 1)} MiB (charged ${fixed((d.chargePerVmMiB as number) - 64, 0)})`]);
    rows.push(["2", `  at the default budget (${fixed(d.defaultBudgetMiB as number, 0)} MiB), without ballooning`, "-", `${d.extrapolatedAtDefault} guests (extrapolated)`]);
  }
  const a = await part(3, "autoscale", () => partAutoscale(img));
  if (a) {
    rows.push(["3", "load change → first decision", "-", `${fixed(a.firstDecisionMs as number, 0)} ms (${a.firstDecision})`]);
    rows.push(["3", "  → cap at its 80% limit", "-", `${fixed(a.msToCap80 as number, 0)} ms`]);
    rows.push(["3", "  work rate before → after (TICK/s)", "-", `${fixed(a.rateBefore as number, 1)} → ${fixed(a.rateAfter as number, 1)} (${fixed(a.gain as number, 2)}×)`]);
  }
  console.log(`\n${table(["measure", "goal", "measured"], rows.map(([p, m, g, v]) => [`${p} ${m}`, g!, v!]))}`);
  if (opts.json) {
    const file = writeResults("elastic", { host, endLoad: hostInfo().loadAvg, git: gitInfo(), options: opts, results, errors });
    console.log(`\nresults: ${file}`);
  }
  return Object.keys(errors).length > 0 ? 1 : 0;
}

runMain("elastic bench", main);
