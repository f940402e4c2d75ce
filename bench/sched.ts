/**
 * Scheduler benchmark: real Linux guests under paravm's hypervisor (one worker thread per
 * vCPU, the credit scheduler handing out `pcpus` host cores), in four parts:
 *
 *   1  shares   two CPU-bound 1-vCPU pv VMs on pcpus = 1, weights 512:256: the ratio of
 *               the host CPU time the scheduler gave each over a window (goal 2.00 ± 0.10);
 *               then a cap of 25 % on the heavier one: its share of one core (goal 25 ± 2 %).
 *               Each guest's own steal (/proc/stat, cpu line, 8th field, USER_HZ 100)
 *               against wall time, beside the scheduler's wait (steal) time.
 *   2  smp      one 2-vCPU pv guest (pcpus = the host's cores): iterations per second of a
 *               busybox ash arithmetic loop, one process and then two, each counted over
 *               --window-s of guest time (/proc/uptime); the two/one ratio (goal >= 1.8x),
 *               and the same guest script on qemu-system-riscv64 -M virt -smp 2 with
 *               multi-threaded TCG in the same run.
 *   3  idle     host CPU of the whole process (process.cpuUsage: every thread) while
 *               --idle-vms pv VMs sit in `sleep` for --idle-s (goal < 2 % of one core),
 *               after a --idle-warm-s warm-up window (measured and printed too): each
 *               vCPU thread is its own V8 isolate, and for the first tens of seconds
 *               after boot V8 still optimizes the interpreter (50-80 ms TurboFan jobs
 *               per isolate) and its memory reducer runs full GCs on the boot garbage.
 *   4  ping     busybox ping between two VMs on one virtual network, pcpus = 1, without
 *               and then with a third, CPU-bound VM: median and p90 RTT (goal: median
 *               under 2 ms with the CPU-bound VM).
 *
 *   npm run bench:sched [-- options]      (or: node dist/bench/sched.js [options])
 *
 * Options:
 *   --only=LIST        parts to run, e.g. --only=1,3 (default 1,2,3,4)
 *   --window-s S       measuring window of each share phase and each SMP phase (default 10)
 *   --settle-s S       wait after a setting changes before a window starts (default 2)
 *   --idle-s S         how long the idle VMs are measured (default 30)
 *   --idle-vms N       how many idle VMs (default 10)
 *   --idle-warm-s S    warm-up before the idle window, measured apart (default 30)
 *   --pings N          pings per phase, 0.2 s apart (default 50)
 *   --guest-dir DIR    directory with Image and initramfs.cpio.gz (default: as bench:boot)
 *   --timeout-s S      give up on a guest that does not reach its next step (default 300)
 *   --skip-qemu        part 2 without the QEMU reference
 *   --no-json          do not write bench/results/sched-<date>.json
 *
 * Guest time is host time, and the host is shared: every part records the load average
 * and how many cores other processes kept busy while it ran (from /proc/stat).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import os from "node:os";
import { parseArgs } from "node:util";
import { spawn } from "node:child_process";
import { fixed, gitInfo, group, hostInfo, intOption, printHeaderHelp, ROOT, runMain, table, tail, toolVersion, writeResults } from "./lib/common.js";
import { findGuest, type GuestImages } from "./lib/iobench.js";
import { Hypervisor } from "../src/hypervisor/hypervisor.js";
import type { MachineSpec } from "../src/hypervisor/machine-spec.js";
import type { Vm, VmEvent, VmSchedStats } from "../src/hypervisor/vm.js";
import { PV_DEFAULTS } from "../src/machine/pv.js";
import { ipBootArg, Subnet } from "../src/devices/virtio/net/ip.js";
import { macFromName } from "../src/devices/virtio/net/mac.js";

const QEMU = "qemu-system-riscv64";
const OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin";
const USER_HZ = 100;

const GOALS = {
  weightRatio: { target: 2.0, tol: 0.1 },
  capPercent: { target: 25, tol: 2 },
  smpRatio: 1.8,
  idlePercent: 2,
  pingMedianMs: 2,
} as const;

interface Options {
  only: number[];
  windowS: number;
  settleS: number;
  idleS: number;
  idleVms: number;
  idleWarmS: number;
  pings: number;
  guestDir: string | null;
  timeoutS: number;
  skipQemu: boolean;
  json: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      only: { type: "string", default: "1,2,3,4" },
      "window-s": { type: "string", default: "10" },
      "settle-s": { type: "string", default: "2" },
      "idle-s": { type: "string", default: "30" },
      "idle-vms": { type: "string", default: "10" },
      "idle-warm-s": { type: "string", default: "30" },
      pings: { type: "string", default: "50" },
      "guest-dir": { type: "string" },
      "timeout-s": { type: "string", default: "300" },
      "skip-qemu": { type: "boolean", default: false },
      "no-json": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) printHeaderHelp("sched.ts");
  const only = [...new Set((values.only ?? "").split(",").map((s) => s.trim()).filter((s) => s !== ""))].map((s) => {
    const n = Number(s);
    if (![1, 2, 3, 4].includes(n)) throw new Error(`--only: parts are 1, 2, 3 and 4, got "${s}"`);
    return n;
  });
  if (only.length === 0) throw new Error("--only: name at least one part (1-4)");
  return {
    only: only.sort(),
    windowS: intOption("window-s", values["window-s"], 2),
    settleS: intOption("settle-s", values["settle-s"], 0),
    idleS: intOption("idle-s", values["idle-s"], 1),
    idleVms: intOption("idle-vms", values["idle-vms"], 1),
    idleWarmS: intOption("idle-warm-s", values["idle-warm-s"], 0),
    pings: intOption("pings", values.pings, 3),
    guestDir: values["guest-dir"] ?? null,
    timeoutS: intOption("timeout-s", values["timeout-s"], 10),
    skipQemu: values["skip-qemu"] ?? false,
    json: !(values["no-json"] ?? false),
  };
}

// ---------------------------------------------------------------- small helpers

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const r2 = (x: number): number => Math.round(x * 100) / 100;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;
const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

/** Linear-interpolated quantile of a sample (q in 0..1). */
function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** Host CPU over an interval: all cores busy (from /proc/stat), this process, and the rest. */
class LoadProbe {
  private readonly t0 = performance.now();
  private readonly cpu0 = process.cpuUsage();
  private readonly stat0 = LoadProbe.procStat();
  readonly loadAvgStart = os.loadavg().map(r2);

  static procStat(): { busy: number; total: number } | null {
    try {
      const line = readFileSync("/proc/stat", "latin1").split("\n")[0] ?? "";
      const f = line.trim().split(/\s+/).slice(1).map(Number);
      const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
      const idle = (f[3] ?? 0) + (f[4] ?? 0);
      return { busy: total - idle, total };
    } catch {
      return null;
    }
  }

  end(): { wallS: number; loadAvgStart: number[]; loadAvgEnd: number[]; hostBusyCores: number | null; ownCores: number; otherCores: number | null } {
    const wallS = (performance.now() - this.t0) / 1000;
    const cpu = process.cpuUsage(this.cpu0);
    const ownCores = (cpu.user + cpu.system) / 1e6 / wallS;
    const s1 = LoadProbe.procStat();
    let hostBusyCores: number | null = null;
    if (this.stat0 && s1 && s1.total > this.stat0.total) {
      hostBusyCores = ((s1.busy - this.stat0.busy) / (s1.total - this.stat0.total)) * os.cpus().length;
    }
    return {
      wallS: r2(wallS),
      loadAvgStart: this.loadAvgStart,
      loadAvgEnd: os.loadavg().map(r2),
      hostBusyCores: hostBusyCores === null ? null : r2(hostBusyCores),
      ownCores: r2(ownCores),
      otherCores: hostBusyCores === null ? null : r2(Math.max(0, hostBusyCores - ownCores)),
    };
  }
}
type Load = ReturnType<LoadProbe["end"]>;

/**
 * Host CPU time and host run-queue wait of every thread of a process, in ns
 * (/proc/PID/task/TID/schedstat: "run wait slices"). The host's own view, beside the
 * hypervisor's: a vCPU thread can hold a grant while the host runs something else.
 */
type TaskTimes = Map<number, { runNs: number; waitNs: number; comm: string }>;

function taskTimes(pid: number | "self" = "self"): TaskTimes {
  const out: TaskTimes = new Map();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "latin1").trim().split(/\s+/).map(Number);
        const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, "latin1").trim();
        out.set(Number(tid), { runNs: run ?? 0, waitNs: wait ?? 0, comm });
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    // no /proc, or the process is gone
  }
  return out;
}

/** Threads in `after` that were not in `before` (the threads a VM start created). */
function newTids(before: TaskTimes, after: TaskTimes): number[] {
  return [...after.keys()].filter((t) => !before.has(t));
}

interface HostThreads {
  /** Host CPU the threads got, and how long they sat runnable in the host's run queue, over the interval. */
  cpuMs: number;
  waitMs: number;
  threads: number;
}

/** CPU and run-queue wait of `tids` (default: every thread in `b`) between two snapshots. */
function threadDelta(a: TaskTimes, b: TaskTimes, tids?: Iterable<number>): HostThreads {
  let run = 0;
  let wait = 0;
  let n = 0;
  for (const t of tids ?? b.keys()) {
    const y = b.get(t);
    if (!y) continue;
    const x = a.get(t) ?? { runNs: 0, waitNs: 0 };
    run += y.runNs - x.runNs;
    wait += y.waitNs - x.waitNs;
    n++;
  }
  return { cpuMs: r2(run / 1e6), waitMs: r2(wait / 1e6), threads: n };
}

// ---------------------------------------------------------------- guests

interface Images {
  kernel: Uint8Array;
  initrd: Uint8Array;
  g: GuestImages;
  patches: Record<string, string> | null;
}

function loadImages(opts: Options): Images {
  const g = findGuest(opts.guestDir);
  let patches: Record<string, string> | null = null;
  try {
    const m = JSON.parse(readFileSync(join(g.dir, "manifest.json"), "utf8")) as { kernel?: { patches?: Record<string, string> } };
    patches = m.kernel?.patches ?? null;
  } catch {
    // no manifest: an older build
  }
  return { kernel: readFileSync(g.kernel.path), initrd: readFileSync(g.initrd.path), g, patches };
}

function pvSpec(img: Images, exec: string, o: { cpus?: number; memMiB?: number; extraArgs?: string; net?: Uint8Array } = {}): MachineSpec {
  return {
    profile: "pv",
    cpus: o.cpus ?? 1,
    memBytes: (o.memMiB ?? 128) * 1024 * 1024,
    kernel: img.kernel,
    initrd: img.initrd,
    bootargs: `${PV_DEFAULTS.BOOTARGS} quiet${o.extraArgs ? ` ${o.extraArgs}` : ""} paravm.exec=${b64(exec)}`,
    ...(o.net ? { net: { mac: o.net } } : {}),
  };
}

interface Line {
  /** Index in GuestLog.lines. */
  i: number;
  /** performance.now() when the line arrived. */
  at: number;
  text: string;
}

/** A VM's console as lines with their host arrival time; waits for a line that matches. */
class GuestLog {
  readonly lines: Line[] = [];
  /** Called for every complete line as it arrives. */
  onLine: ((l: Line) => void) | null = null;
  private partial = "";
  private ended: string | null = null;
  private waiters: { re: RegExp; from: number; resolve: (l: Line) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];

  constructor(readonly vm: Vm) {
    vm.on("output", (b: Uint8Array) => this.push(Buffer.from(b).toString("latin1")));
    vm.on("state", (e: VmEvent) => {
      if (e.state === "stopped" || e.state === "crashed") {
        this.ended = `VM ${vm.name} ${e.state}${e.reason ? ` (${e.reason.split("\n")[0]})` : ""}`;
        for (const w of this.waiters.splice(0)) {
          clearTimeout(w.timer);
          const hit = this.find(w.re, w.from);
          if (hit) w.resolve(hit);
          else w.reject(new Error(`${this.ended} while waiting for ${w.re}; console:\n${this.tail()}`));
        }
      }
    });
  }

  private push(s: string): void {
    const now = performance.now();
    const parts = (this.partial + s).split("\n");
    this.partial = parts.pop() ?? "";
    if (this.partial.length > 4096) this.partial = this.partial.slice(-4096);
    const first = this.lines.length;
    for (const p of parts) {
      const line = { i: this.lines.length, at: now, text: p.replace(/\r/g, "") };
      this.lines.push(line);
      this.onLine?.(line);
    }
    if (this.lines.length === first) return;
    this.waiters = this.waiters.filter((w) => {
      const hit = this.find(w.re, Math.max(w.from, first));
      if (!hit) return true;
      clearTimeout(w.timer);
      w.resolve(hit);
      return false;
    });
  }

  find(re: RegExp, from = 0): Line | null {
    for (let i = from; i < this.lines.length; i++) if (re.test(this.lines[i]!.text)) return this.lines[i]!;
    return null;
  }

  /** The first line from index `from` on that matches `re`. */
  waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<Line> {
    const hit = this.find(re, from);
    if (hit) return Promise.resolve(hit);
    if (this.ended) return Promise.reject(new Error(`${this.ended} while waiting for ${re}; console:\n${this.tail()}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`VM ${this.vm.name}: no ${re} within ${timeoutMs / 1000} s; console:\n${this.tail()}`));
      }, timeoutMs);
      this.waiters.push({ re, from, resolve, reject, timer });
    });
  }

  tail(n = 8): string {
    return tail([...this.lines.slice(-n).map((l) => l.text), this.partial].join("\n"), n);
  }
}

function addVm(hv: Hypervisor, name: string, spec: MachineSpec, extra: { weight?: number; cap?: number; network?: string } = {}): GuestLog {
  const vm = hv.create({ name, spec, ...extra });
  return new GuestLog(vm);
}

/** Start VMs one after the other; the threads each start created, by VM name. */
async function startTracked(logs: GuestLog[]): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const l of logs) {
    const before = taskTimes();
    await l.vm.start();
    out.set(l.vm.name, newTids(before, taskTimes()));
  }
  return out;
}

function sched(hv: Hypervisor, name: string): VmSchedStats {
  const s = hv.schedStats(name);
  if (!s) throw new Error(`no scheduler figures for VM ${name}`);
  return s;
}

// ---------------------------------------------------------------- part 1: shares and caps

/** One background CPU hog, and once a second the guest's uptime and /proc/stat cpu line (builtins only). */
const HOG_AND_STAT =
  `(while :; do :; done) & ` +
  `while :; do read -r up _ </proc/uptime; read -r cpu </proc/stat; echo "STAT $up $cpu"; sleep 1; done`;
const STAT_LINE = /^STAT ([\d.]+) cpu +(\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)/;

interface GuestSteal {
  /** STAT lines that arrived inside the window: the first and the last are used. */
  lines: number;
  uptimeS: number;
  stealTicks: number;
  /** Steal / guest uptime over the same two lines (guest time is host time). */
  stealFraction: number;
  /** All eight cpu-line fields summed / uptime: about 1 per vCPU if the guest accounts every tick. */
  ticksPerSecond: number;
}

function guestSteal(log: GuestLog, t0: number, t1: number): GuestSteal | null {
  const inside = log.lines.filter((l) => l.at >= t0 && l.at <= t1 && STAT_LINE.test(l.text));
  if (inside.length < 2) return null;
  const parse = (l: Line) => {
    const m = STAT_LINE.exec(l.text)!;
    const f = m.slice(2, 10).map(Number);
    return { up: Number(m[1]), steal: f[7]!, sum: f.reduce((a, b) => a + b, 0) };
  };
  const a = parse(inside[0]!);
  const b = parse(inside[inside.length - 1]!);
  const uptimeS = b.up - a.up;
  return {
    lines: inside.length,
    uptimeS: r2(uptimeS),
    stealTicks: b.steal - a.steal,
    stealFraction: r3((b.steal - a.steal) / USER_HZ / uptimeS),
    ticksPerSecond: r2((b.sum - a.sum) / uptimeS),
  };
}

interface VmWindow {
  cpuMs: number;
  waitMs: number;
  idleMs: number;
  /** cpuMs / wall: cores received. */
  share: number;
  /** waitMs / wall: the scheduler's steal. */
  waitFraction: number;
  guest: GuestSteal | null;
  /** Guest execution inside the grants (sliceEnd's ranMs), and grants received, from the scheduler's per-vCPU figures. */
  guestExecMs: number;
  grants: number;
  /** The VM's vCPU threads as the host saw them. */
  host: HostThreads;
  settings: { weight: number; cap: number };
  before: VmSchedStats;
  after: VmSchedStats;
}

/** Guest execution ms and grants received, summed over a VM's vCPUs. */
function vcpuSums(hv: Hypervisor, vm: Vm): { guestMs: number; grants: number; wakes: number } {
  let guestMs = 0;
  let grants = 0;
  let wakes = 0;
  for (const slot of vm.slots) {
    const v = hv.scheduler.vcpuStats(slot);
    guestMs += v.guestMs;
    grants += v.grants;
    wakes += v.wakes;
  }
  return { guestMs, grants, wakes };
}

async function measureWindow(
  hv: Hypervisor,
  logs: GuestLog[],
  tids: Map<string, number[]>,
  ms: number,
): Promise<{ wallMs: number; vms: Record<string, VmWindow>; load: Load }> {
  const probe = new LoadProbe();
  const before = logs.map((l) => sched(hv, l.vm.name));
  const sums0 = logs.map((l) => vcpuSums(hv, l.vm));
  const th0 = taskTimes();
  const t0 = performance.now();
  await sleep(ms);
  const after = logs.map((l) => sched(hv, l.vm.name));
  const sums1 = logs.map((l) => vcpuSums(hv, l.vm));
  const th1 = taskTimes();
  const t1 = performance.now();
  const wallMs = t1 - t0;
  const vms: Record<string, VmWindow> = {};
  logs.forEach((l, i) => {
    const a = before[i]!;
    const b = after[i]!;
    vms[l.vm.name] = {
      cpuMs: r2(b.cpuMs - a.cpuMs),
      waitMs: r2(b.waitMs - a.waitMs),
      idleMs: r2(b.idleMs - a.idleMs),
      share: r3((b.cpuMs - a.cpuMs) / wallMs),
      waitFraction: r3((b.waitMs - a.waitMs) / wallMs),
      guest: guestSteal(l, t0, t1),
      guestExecMs: r2(sums1[i]!.guestMs - sums0[i]!.guestMs),
      grants: sums1[i]!.grants - sums0[i]!.grants,
      host: threadDelta(th0, th1, tids.get(l.vm.name) ?? []),
      settings: { weight: b.weight, cap: b.cap },
      before: a,
      after: b,
    };
  });
  return { wallMs: r2(wallMs), vms, load: probe.end() };
}

interface SharesResult {
  bootS: number;
  weighted: Awaited<ReturnType<typeof measureWindow>>;
  capped: Awaited<ReturnType<typeof measureWindow>>;
  ratio: number;
  capShare: number;
}

async function partShares(opts: Options, img: Images): Promise<SharesResult> {
  console.log(`\n[1] shares: two CPU-bound 1-vCPU VMs on pcpus = 1, weights 512:256, then a 25% cap on the heavier`);
  const hv = new Hypervisor({ pcpus: 1 });
  try {
    const a = addVm(hv, "heavy", pvSpec(img, HOG_AND_STAT, { extraArgs: "paravm.hostname=heavy" }), { weight: 512 });
    const b = addVm(hv, "light", pvSpec(img, HOG_AND_STAT, { extraArgs: "paravm.hostname=light" }), { weight: 256 });
    const t0 = performance.now();
    // One at a time, so each VM's new threads are known (start resolves once the machine is built).
    const tids = await startTracked([a, b]);
    // The second STAT line: booted, the hog and the reporter both running.
    await Promise.all(
      [a, b].map(async (l) => {
        const first = await l.waitFor(STAT_LINE, opts.timeoutS * 1000);
        await l.waitFor(STAT_LINE, opts.timeoutS * 1000, first.i + 1);
      }),
    );
    const bootS = (performance.now() - t0) / 1000;
    console.log(`  both guests up in ${fixed(bootS, 1)} s; settling ${opts.settleS} s, then ${opts.windowS} s windows`);
    await sleep(opts.settleS * 1000);
    const weighted = await measureWindow(hv, [a, b], tids, opts.windowS * 1000);
    const wa = weighted.vms["heavy"]!;
    const wb = weighted.vms["light"]!;
    const ratio = wa.cpuMs / wb.cpuMs;
    console.log(
      `  512:256  heavy ${fixed(wa.share * 100, 1)}% light ${fixed(wb.share * 100, 1)}% of a core -> ratio ${fixed(ratio, 2)} ` +
        `(guest execution ratio ${fixed(wa.guestExecMs / wb.guestExecMs, 2)}, host CPU ratio ${fixed(wa.host.cpuMs / wb.host.cpuMs, 2)}, ${wa.grants}+${wb.grants} grants); ` +
        `guest steal ${fmtPct(wa.guest?.stealFraction)} / ${fmtPct(wb.guest?.stealFraction)} (others busy ${fmtCores(weighted.load.otherCores)})`,
    );
    a.vm.setCap(25);
    await sleep(opts.settleS * 1000);
    const capped = await measureWindow(hv, [a, b], tids, opts.windowS * 1000);
    const ca = capped.vms["heavy"]!;
    const cb = capped.vms["light"]!;
    console.log(
      `  cap 25%  heavy ${fixed(ca.share * 100, 1)}% light ${fixed(cb.share * 100, 1)}% of a core ` +
        `(heavy's guest execution ${fixed((ca.guestExecMs / capped.wallMs) * 100, 1)}%, host CPU ${fixed((ca.host.cpuMs / capped.wallMs) * 100, 1)}%, ` +
        `${ca.grants} grants in ${Math.round(capped.wallMs / 30)} cap windows); ` +
        `guest steal ${fmtPct(ca.guest?.stealFraction)} / ${fmtPct(cb.guest?.stealFraction)} (others busy ${fmtCores(capped.load.otherCores)})`,
    );
    return { bootS: r2(bootS), weighted, capped, ratio: r3(ratio), capShare: ca.share };
  } finally {
    await hv.close();
  }
}

const fmtPct = (x: number | null | undefined, d = 1): string => (x === null || x === undefined || !Number.isFinite(x) ? "-" : `${fixed(x * 100, d)}%`);
const fmtCores = (x: number | null | undefined): string => (x === null || x === undefined ? "-" : `${fixed(x, 2)} cores`);

// ---------------------------------------------------------------- part 2: SMP scaling

/**
 * The SMP workload, the same on paravm and QEMU: `work` counts iterations of an ash
 * arithmetic loop until SIGTERM and reports its count with its own guest-time window
 * (read from /proc/uptime by builtins). A warm-up with two processes (each vCPU thread
 * of paravm has its own JIT), then one process, then two, each for `w` seconds.
 */
function smpScript(w: number): string {
  return [
    `echo "SMP nproc=$(nproc)"`,
    `work() { i=0; read -r s _ </proc/uptime; trap 'read -r e _ </proc/uptime; echo "WORK $1 $i $s $e"; exit 0' TERM; while :; do i=$((i+1)); done; }`,
    `phase() { echo "PHASE $1 start"; pids=""; k=0; while [ $k -lt $2 ]; do work "$1" & pids="$pids $!"; k=$((k+1)); done; sleep $3; kill $pids; wait; echo "PHASE $1 end"; }`,
    `phase warm 2 3`,
    `phase one 1 ${w}`,
    `phase two 2 ${w}`,
  ].join("\n");
}
const WORK_LINE = /^WORK (\w+) (\d+) ([\d.]+) ([\d.]+)/;

interface SmpRun {
  nproc: number | null;
  /** Per phase: every process's count and window. */
  work: Record<string, { iters: number; startS: number; endS: number; perS: number }[]>;
  /** Iterations per second, summed over the phase's processes. */
  one: number;
  two: number;
  ratio: number;
  wallS: number;
  error: string | null;
}

function parseSmp(lines: readonly string[]): Omit<SmpRun, "wallS" | "error"> {
  const work: SmpRun["work"] = {};
  let nproc: number | null = null;
  for (const t of lines) {
    const n = /SMP nproc=(\d+)/.exec(t);
    if (n) nproc = Number(n[1]);
    const m = WORK_LINE.exec(t);
    if (!m) continue;
    const startS = Number(m[3]);
    const endS = Number(m[4]);
    const iters = Number(m[2]);
    (work[m[1]!] ??= []).push({ iters, startS, endS, perS: Math.round(iters / Math.max(0.01, endS - startS)) });
  }
  const rate = (p: string): number => (work[p] ?? []).reduce((a, x) => a + x.perS, 0);
  const one = rate("one");
  const two = rate("two");
  return { nproc, work, one, two, ratio: r3(two / one) };
}

/** Per phase of the SMP script: host CPU the emulator's threads got (cores = cpu / wall) and host load. */
interface PhaseHost {
  wallS: number;
  host: HostThreads;
  /** Host cores the emulator's threads received during the phase. */
  cores: number;
  /** paravm only: the rest of this process (main thread; V8 and libuv helper threads), which competes with the vCPU threads. */
  rest?: { main: HostThreads; other: HostThreads };
  load: Load;
}

/** Watches PHASE lines: at each start and end, a snapshot of the threads' host times and the load. */
class PhaseClock {
  readonly phases: Record<string, PhaseHost> = {};
  private open = new Map<string, { t: number; tasks: TaskTimes; probe: LoadProbe }>();
  /** `external`: the threads are another process's (QEMU), so its CPU is not in the "other processes" figure. */
  constructor(
    private readonly snapshot: () => TaskTimes,
    private readonly tids: () => number[] | undefined,
    private readonly external = false,
  ) {}

  line(text: string): void {
    const m = /PHASE (\w+) (start|end)/.exec(text);
    if (!m) return;
    const name = m[1]!;
    if (m[2] === "start") {
      this.open.set(name, { t: performance.now(), tasks: this.snapshot(), probe: new LoadProbe() });
      return;
    }
    const o = this.open.get(name);
    if (!o) return;
    const wallS = (performance.now() - o.t) / 1000;
    const now = this.snapshot();
    const tids = this.tids();
    const host = threadDelta(o.tasks, now, tids);
    const cores = host.cpuMs / 1000 / wallS;
    const load = o.probe.end();
    if (this.external && load.otherCores !== null) load.otherCores = r2(Math.max(0, load.otherCores - cores));
    let rest: PhaseHost["rest"];
    if (!this.external && tids) {
      const mine = new Set(tids);
      rest = {
        main: threadDelta(o.tasks, now, [process.pid]),
        other: threadDelta(o.tasks, now, [...now.keys()].filter((t) => t !== process.pid && !mine.has(t))),
      };
    }
    this.phases[name] = { wallS: r2(wallS), host, cores: r2(cores), ...(rest ? { rest } : {}), load };
  }
}

interface SmpResult {
  paravm: SmpRun & { host: Record<string, PhaseHost>; sched: { phase: string; at: number; vcpus: { vcpu: number; cpuMs: number; waitMs: number; idleMs: number }[] }[] };
  qemu: (SmpRun & { version: string | null; args: string[]; host: Record<string, PhaseHost> }) | null;
}

/** Host CPU-seconds per iteration ratio: (two / cores in two) / (one / cores in one); 1.0 = no SMP overhead per core. */
function perCore(r: SmpRun, host: Record<string, PhaseHost>): number {
  const c1 = host["one"]?.cores ?? NaN;
  const c2 = host["two"]?.cores ?? NaN;
  return r3(r.two / c2 / (r.one / c1));
}

/** Run QEMU to its end, feeding each stdout line (with the child's pid) to `onLine`. */
function runQemu(args: string[], timeoutMs: number, onLine: (text: string, pid: number) => void): Promise<{ code: number | null; stdout: string; stderr: string; wallMs: number; timedOut: boolean; spawnError?: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let stdout = "";
    let stderr = "";
    let partial = "";
    let timedOut = false;
    const child = spawn(QEMU, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.setEncoding("latin1");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      if (stdout.length < 1 << 20) stdout += d;
      const parts = (partial + d).split("\n");
      partial = parts.pop() ?? "";
      for (const p of parts) onLine(p.replace(/\r/g, ""), child.pid ?? -1);
    });
    child.stderr.on("data", (d: string) => {
      if (stderr.length < 1 << 20) stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr, wallMs: performance.now() - t0, timedOut: false, spawnError: e.message });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, wallMs: performance.now() - t0, timedOut });
    });
  });
}

async function partSmp(opts: Options, img: Images): Promise<SmpResult> {
  const pcpus = Math.min(os.availableParallelism(), 256);
  console.log(`\n[2] SMP: one 2-vCPU guest (pcpus = ${pcpus}), ash loop iterations/s with one process and with two, ${opts.windowS} s each`);
  const script = smpScript(opts.windowS);
  const timeoutMs = opts.timeoutS * 1000;

  // paravm
  const hv = new Hypervisor({ pcpus });
  const schedAt: SmpResult["paravm"]["sched"] = [];
  let pv: SmpResult["paravm"];
  const t0 = performance.now();
  try {
    const log = addVm(hv, "smp", pvSpec(img, script, { cpus: 2, memMiB: 256, extraArgs: "paravm.hostname=smp" }));
    const before = taskTimes();
    let tids: number[] | undefined;
    const clock = new PhaseClock(() => taskTimes(), () => tids);
    // Scheduler figures and host times at each phase boundary, as the lines arrive.
    log.onLine = (l) => {
      const m = /^PHASE (\w+) (start|end)$/.exec(l.text);
      if (!m) return;
      // By the first phase every vCPU thread exists: the VM's threads are the new ones.
      tids ??= newTids(before, taskTimes());
      clock.line(l.text);
      const s = log.vm.schedStats();
      schedAt.push({ phase: `${m[1]} ${m[2]}`, at: r2(l.at - t0), vcpus: (s?.vcpus ?? []).map((v) => ({ vcpu: v.vcpu, cpuMs: r2(v.cpuMs), waitMs: r2(v.waitMs), idleMs: r2(v.idleMs) })) });
    };
    await log.vm.start();
    let error: string | null = null;
    try {
      await log.waitFor(/PARAVM-EXIT-STATUS=\d+/, timeoutMs);
    } catch (e) {
      error = (e as Error).message;
    }
    const wallS = (performance.now() - t0) / 1000;
    if (log.vm.state === "running") await log.vm.stop();
    pv = { ...parseSmp(log.lines.map((l) => l.text)), wallS: r2(wallS), error, host: clock.phases, sched: schedAt };
    if (!error && !(pv.one > 0 && pv.two > 0)) pv.error = `no WORK lines for both phases; console:\n${log.tail()}`;
  } finally {
    await hv.close();
  }
  const hostNote = (h: Record<string, PhaseHost>): string =>
    `host cores received ${fixed(h["one"]?.cores ?? NaN, 2)} / ${fixed(h["two"]?.cores ?? NaN, 2)}, others busy ${fmtCores(h["two"]?.load.otherCores)} during "two"`;
  console.log(
    `  paravm: nproc ${pv.nproc ?? "?"}, one ${group(pv.one)}/s, two ${group(pv.two)}/s -> ${fixed(pv.ratio, 2)}x (${hostNote(pv.host)})` +
      (pv.error ? `  ERROR ${pv.error}` : ""),
  );

  // QEMU, the same script
  let qemu: SmpResult["qemu"] = null;
  if (!opts.skipQemu) {
    const version = toolVersion(QEMU);
    const args = [
      "-M", "virt", "-accel", "tcg,thread=multi", "-smp", "2", "-m", "256M",
      "-bios", OPENSBI,
      "-kernel", img.g.kernel.path,
      "-initrd", img.g.initrd.path,
      "-append", `console=ttyS0 quiet paravm.hostname=smp paravm.exec=${b64(script)}`,
      "-nographic", "-no-reboot",
    ];
    if (version === null || !existsSync(OPENSBI)) {
      qemu = { nproc: null, work: {}, one: NaN, two: NaN, ratio: NaN, wallS: 0, error: version === null ? `${QEMU} not found` : `${OPENSBI} not found`, version, args, host: {} };
    } else {
      let pid = -1;
      const clock = new PhaseClock(() => taskTimes(pid), () => undefined, true);
      const r = await runQemu(args, timeoutMs, (text, p) => {
        pid = p;
        clock.line(text);
      });
      const parsed = parseSmp(r.stdout.split("\n").map((l) => l.replace(/\r/g, "")));
      let error: string | null = null;
      if (r.spawnError) error = `could not start: ${r.spawnError}`;
      else if (r.timedOut) error = `timed out after ${opts.timeoutS} s`;
      else if (!/PARAVM-EXIT-STATUS=0/.test(r.stdout)) error = `no PARAVM-EXIT-STATUS=0 (exit ${r.code})\n${tail(r.stdout, 6)}\n${tail(r.stderr, 4)}`;
      else if (!(parsed.one > 0 && parsed.two > 0)) error = `no WORK lines for both phases\n${tail(r.stdout, 6)}`;
      qemu = { ...parsed, wallS: r2(r.wallMs / 1000), error, version, args, host: clock.phases };
    }
    console.log(
      `  QEMU:   nproc ${qemu.nproc ?? "?"}, one ${group(qemu.one)}/s, two ${group(qemu.two)}/s -> ${fixed(qemu.ratio, 2)}x (${hostNote(qemu.host)})` +
        (qemu.error ? `  ERROR ${qemu.error}` : ""),
    );
  }
  return { paravm: pv, qemu };
}

// ---------------------------------------------------------------- part 3: idle VMs

interface IdleResult {
  vms: number;
  bootS: number;
  quiesceS: number;
  /** Fleet CPU per second (scheduler run time) when the measurement began. */
  quiesceCores: number;
  /** The warm-up window before the measured one: its length and the process's CPU in it. */
  warmS: number;
  warmPercent: number;
  windowS: number;
  processCpuMs: { user: number; system: number };
  /** process CPU / wall, in % of one core. */
  percentOfCore: number;
  /** What the scheduler says the vCPUs ran (guest execution + hand-offs), % of one core. */
  vcpuRunPercent: number;
  /** Per VM over the window: grant time, wake-ups from idle and grants received. */
  perVm: { name: string; cpuMs: number; idleMs: number; wakes: number; grants: number }[];
  /** Host CPU by thread (schedstat): the main thread, the vCPU threads, the rest (V8 and libuv helpers). */
  threads: { main: HostThreads; vcpus: HostThreads; other: HostThreads };
  /** The rest by thread (comm/tid), % of one core, the busy ones only. */
  otherByName: Record<string, number>;
  load: Load;
}

async function partIdle(opts: Options, img: Images): Promise<IdleResult> {
  console.log(`\n[3] idle: ${opts.idleVms} pv VMs in \`sleep\`, host CPU of this process over ${opts.idleS} s`);
  const hv = new Hypervisor();
  try {
    const logs: GuestLog[] = [];
    for (let i = 0; i < opts.idleVms; i++) {
      const name = `idle${i}`;
      logs.push(addVm(hv, name, pvSpec(img, `echo IDLE-READY; exec sleep 100000`, { memMiB: 64, extraArgs: `paravm.hostname=${name}` })));
    }
    const t0 = performance.now();
    const tasks0 = taskTimes();
    await Promise.all(logs.map((l) => l.vm.start()));
    await Promise.all(logs.map((l) => l.waitFor(/^IDLE-READY$/, opts.timeoutS * 1000)));
    const vcpuTids = newTids(tasks0, taskTimes());
    const bootS = (performance.now() - t0) / 1000;
    // Idle in userspace: the whole fleet below 1% of a core over a second (at most 30 s).
    const fleetCpu = (): number => logs.reduce((a, l) => a + sched(hv, l.vm.name).cpuMs, 0);
    const q0 = performance.now();
    let quiesceCores = NaN;
    for (;;) {
      const c0 = fleetCpu();
      const s0 = performance.now();
      await sleep(1000);
      quiesceCores = (fleetCpu() - c0) / (performance.now() - s0);
      if (quiesceCores < 0.01 || performance.now() - q0 > 30_000) break;
    }
    const quiesceS = (performance.now() - q0) / 1000;
    console.log(`  all up in ${fixed(bootS, 1)} s, quiet after ${fixed(quiesceS, 1)} s (fleet at ${fixed(quiesceCores * 100, 2)}% of a core)`);
    const warm0 = process.cpuUsage();
    const warmT0 = performance.now();
    await sleep(opts.idleWarmS * 1000);
    const warmCpu = process.cpuUsage(warm0);
    const warmPercent = opts.idleWarmS > 0 ? ((warmCpu.user + warmCpu.system) / 1000 / (performance.now() - warmT0)) * 100 : NaN;
    if (opts.idleWarmS > 0) console.log(`  warm-up ${opts.idleWarmS} s (V8 still tiering up and collecting boot garbage): process ${fixed(warmPercent, 2)}% of one core`);
    console.log(`  measuring ${opts.idleS} s`);

    const per0 = logs.map((l) => ({ s: sched(hv, l.vm.name), v: vcpuSums(hv, l.vm) }));
    const th0 = taskTimes();
    const probe = new LoadProbe();
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    await sleep(opts.idleS * 1000);
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - w0;
    const load = probe.end();
    const th1 = taskTimes();
    const per1 = logs.map((l) => ({ s: sched(hv, l.vm.name), v: vcpuSums(hv, l.vm) }));

    const perVm = logs.map((l, i) => ({
      name: l.vm.name,
      cpuMs: r2(per1[i]!.s.cpuMs - per0[i]!.s.cpuMs),
      idleMs: r2(per1[i]!.s.idleMs - per0[i]!.s.idleMs),
      wakes: per1[i]!.v.wakes - per0[i]!.v.wakes,
      grants: per1[i]!.v.grants - per0[i]!.v.grants,
    }));
    const vcpuSet = new Set(vcpuTids);
    const threads = {
      main: threadDelta(th0, th1, [process.pid]),
      vcpus: threadDelta(th0, th1, vcpuTids),
      other: threadDelta(th0, th1, [...th1.keys()].filter((t) => t !== process.pid && !vcpuSet.has(t))),
    };
    const percentOfCore = ((cpu.user + cpu.system) / 1000 / wallMs) * 100;
    const vcpuRunPercent = (perVm.reduce((a, v) => a + v.cpuMs, 0) / wallMs) * 100;
    const wakesPerS = perVm.reduce((a, v) => a + v.wakes, 0) / (wallMs / 1000) / perVm.length;
    const pct = (h: HostThreads): string => `${fixed((h.cpuMs / wallMs) * 100, 2)}%`;
    console.log(
      `  process ${fixed(percentOfCore, 2)}% of one core (user ${group(cpu.user / 1000)} ms, system ${group(cpu.system / 1000)} ms); ` +
        `vCPUs held a grant ${fixed(vcpuRunPercent, 2)}%, ${fixed(wakesPerS, 1)} wake-ups/s per VM; ` +
        `threads: main ${pct(threads.main)}, vCPUs ${pct(threads.vcpus)} (${threads.vcpus.threads}), others ${pct(threads.other)} (${threads.other.threads})`,
    );
    // The helper threads one by one (all are named "node": V8's platform workers, libuv's pool…): which of them an idle fleet wakes.
    const byComm = new Map<string, number>();
    for (const [tid, t1] of th1) {
      if (tid === process.pid || vcpuSet.has(tid)) continue;
      const ms = (t1.runNs - (th0.get(tid)?.runNs ?? 0)) / 1e6;
      byComm.set(`${t1.comm}/${tid}`, ms);
    }
    const otherByName = Object.fromEntries([...byComm].filter(([, ms]) => ms >= 1).sort((a, b) => b[1] - a[1]).map(([k, ms]) => [k, r2((ms / wallMs) * 100)]));
    console.log(`  busy helper threads, % of one core: ${Object.entries(otherByName).map(([k, v]) => `${k} ${fixed(v, 2)}`).join(", ")}`);
    return {
      vms: opts.idleVms,
      bootS: r2(bootS),
      quiesceS: r2(quiesceS),
      quiesceCores: r3(quiesceCores),
      warmS: opts.idleWarmS,
      warmPercent: r3(warmPercent),
      windowS: r2(wallMs / 1000),
      processCpuMs: { user: r2(cpu.user / 1000), system: r2(cpu.system / 1000) },
      percentOfCore: r3(percentOfCore),
      vcpuRunPercent: r3(vcpuRunPercent),
      perVm,
      threads,
      otherByName,
      load,
    };
  } finally {
    await hv.close();
  }
}

// ---------------------------------------------------------------- part 4: ping wake-up latency

const PING_RTT = /seq=(\d+) ttl=\d+ time=([\d.]+) ms/;

/** An ICMP echo frame as a VM's NIC hands it to the switch: type 8 request, 0 reply. */
function icmpEcho(f: Uint8Array): { type: number; seq: number } | null {
  let off = 12;
  if (f.length > 16 && f[off] === 0x81 && f[off + 1] === 0x00) off += 4; // 802.1Q tag
  if (f.length < off + 2 + 20 + 8 || f[off] !== 0x08 || f[off + 1] !== 0x00) return null;
  const ip = off + 2;
  if (f[ip]! >> 4 !== 4 || f[ip + 9] !== 1) return null;
  const icmp = ip + (f[ip]! & 0x0f) * 4;
  if (f.length < icmp + 8) return null;
  const type = f[icmp]!;
  if (type !== 0 && type !== 8) return null;
  return { type, seq: (f[icmp + 6]! << 8) | f[icmp + 7]! };
}

/**
 * Watch the ICMP echo frames each VM sends, on the main thread as they reach its switch
 * port (the port's send, wrapped here): request-to-reply time there is the target's
 * turnaround (frame to its thread, wake-up, grant, guest work, frame back).
 */
function tapIcmp(hv: Hypervisor, name: string, sink: (type: number, seq: number, at: number) => void): void {
  const port = hv.port(name);
  if (!port) throw new Error(`VM ${name} has no switch port`);
  const send = port.send.bind(port);
  port.send = (frame: Uint8Array): void => {
    const e = icmpEcho(frame);
    if (e) sink(e.type, e.seq, performance.now());
    send(frame);
  };
}

interface PingPhase {
  sent: number;
  received: number;
  rttMs: number[];
  medianMs: number;
  p90Ms: number;
  maxMs: number;
  summary: string | null;
  /** The CPU-bound VM's share of the core during the phase (null when absent). */
  hogShare: number | null;
  /** Scheduler time per VM during the phase, and what the host gave its threads. */
  sched: Record<string, { cpuMs: number; waitMs: number; host: HostThreads }>;
  /**
   * Host-side split, per sequence number with both frames seen: the target's turnaround
   * (request at the switch to reply at the switch) and the rest of the guest's RTT (the
   * pinger's transmit path, the reply's way into the pinger and its wake-up).
   */
  split: { seqs: number; targetMedianMs: number; targetP90Ms: number; pingerMedianMs: number; pingerP90Ms: number; perSeq: { seq: number; rttMs: number; targetMs: number }[] };
  load: Load;
}

interface PingResult {
  bootS: number;
  addresses: Record<string, string>;
  /** Host CPU per second of each VM's thread with no pings (the background the per-ping cost is net of). */
  baseline: { wallMs: number; hostCpuMsPerS: Record<string, number> };
  idle: PingPhase;
  loaded: PingPhase;
  /** Host CPU per ping net of the baseline, by VM, per phase. */
  netCpuPerPingMs: { idle: Record<string, number>; loaded: Record<string, number> };
  /** Each VM's whole run (boot included), from its result when stopped. */
  totals: Record<string, { instructions: number; exits: number; topExits: Record<string, number> } | null>;
}

async function partPing(opts: Options, img: Images): Promise<PingResult> {
  console.log(`\n[4] ping between two VMs on one network, pcpus = 1: ${opts.pings} pings 0.2 s apart, without and with a CPU-bound third VM`);
  const hv = new Hypervisor({ pcpus: 1 });
  const timeoutMs = opts.timeoutS * 1000;
  try {
    const subnet = new Subnet("10.0.2.0/24");
    const netVm = (name: string, exec: string): GuestLog => {
      const address = subnet.assign(name);
      const ip = ipBootArg({ address, netmask: subnet.netmask, hostname: name, device: "eth0" });
      return addVm(hv, name, pvSpec(img, exec, { extraArgs: `paravm.hostname=${name} ${ip}`, net: macFromName(name) }), { network: "bench" });
    };
    // The pinger runs what it reads from its console; the target only answers (in its kernel).
    const pinger = netVm("pinger", `echo READY; while read -r cmd; do eval "$cmd"; done`);
    const target = netVm("target", `echo READY; exec sleep 100000`);
    const addresses = { pinger: subnet.assign("pinger"), target: subnet.assign("target") };
    const t0 = performance.now();
    const tids = await startTracked([pinger, target]);
    await Promise.all([pinger, target].map((l) => l.waitFor(/^READY$/, timeoutMs)));
    const bootS = (performance.now() - t0) / 1000;
    console.log(`  pinger ${addresses.pinger} and target ${addresses.target} up in ${fixed(bootS, 1)} s`);

    // seq -> host time of the request (from the pinger) and of the reply (from the target)
    let icmp = new Map<number, { req?: number; rep?: number }>();
    tapIcmp(hv, "pinger", (type, seq, at) => {
      if (type === 8) icmp.set(seq, { ...icmp.get(seq), req: at });
    });
    tapIcmp(hv, "target", (type, seq, at) => {
      if (type === 0) icmp.set(seq, { ...icmp.get(seq), rep: at });
    });
    let runs = 0;
    const ping = async (count: number, hog: GuestLog | null): Promise<PingPhase> => {
      const tag = `p${++runs}`;
      const from = pinger.lines.length;
      const names = [pinger, target, ...(hog ? [hog] : [])].map((l) => l.vm.name);
      const before = names.map((n) => sched(hv, n));
      const th0 = taskTimes();
      const probe = new LoadProbe();
      icmp = new Map();
      const w0 = performance.now();
      // The tty echoes this line back; only the guest's own output carries the digits.
      pinger.vm.input(Buffer.from(`ping -c ${count} -i 0.2 -W 2 ${addresses.target}; echo "PING-END ${tag} $?"\n`));
      const endRe = new RegExp(`^PING-END ${tag} (\\d+)$`);
      await pinger.waitFor(endRe, timeoutMs, from);
      const wallMs = performance.now() - w0;
      const load = probe.end();
      const after = names.map((n) => sched(hv, n));
      const th1 = taskTimes();
      const lines = pinger.lines.slice(from).map((l) => l.text);
      const replies = lines.map((t) => PING_RTT.exec(t)).filter((m): m is RegExpExecArray => m !== null);
      const rttMs = replies.map((m) => Number(m[2]));
      const perSeq: PingPhase["split"]["perSeq"] = [];
      for (const m of replies) {
        const e = icmp.get(Number(m[1]));
        if (e?.req !== undefined && e.rep !== undefined) perSeq.push({ seq: Number(m[1]), rttMs: Number(m[2]), targetMs: r3(e.rep - e.req) });
      }
      const targetMs = perSeq.map((x) => x.targetMs);
      const pingerMs = perSeq.map((x) => x.rttMs - x.targetMs);
      const summary = lines.find((t) => /packets transmitted/.test(t)) ?? null;
      const schedDelta: PingPhase["sched"] = {};
      names.forEach(
        (n, i) =>
          (schedDelta[n] = {
            cpuMs: r2(after[i]!.cpuMs - before[i]!.cpuMs),
            waitMs: r2(after[i]!.waitMs - before[i]!.waitMs),
            host: threadDelta(th0, th1, tids.get(n) ?? []),
          }),
      );
      return {
        sent: count,
        received: rttMs.length,
        rttMs,
        medianMs: r3(quantile(rttMs, 0.5)),
        p90Ms: r3(quantile(rttMs, 0.9)),
        maxMs: rttMs.length ? Math.max(...rttMs) : NaN,
        summary,
        hogShare: hog ? r3(schedDelta[hog.vm.name]!.cpuMs / wallMs) : null,
        sched: schedDelta,
        split: {
          seqs: perSeq.length,
          targetMedianMs: r3(quantile(targetMs, 0.5)),
          targetP90Ms: r3(quantile(targetMs, 0.9)),
          pingerMedianMs: r3(quantile(pingerMs, 0.5)),
          pingerP90Ms: r3(quantile(pingerMs, 0.9)),
          perSeq,
        },
        load,
      };
    };
    await ping(3, null); // ARP, and the code paths of both guests warm
    // Background host CPU of the two threads with nothing to do (timer wake-ups), over 3 s.
    const b0 = taskTimes();
    const bt0 = performance.now();
    await sleep(3000);
    const baseWall = performance.now() - bt0;
    const b1 = taskTimes();
    const hostCpuMsPerS: Record<string, number> = {};
    for (const n of ["pinger", "target"]) hostCpuMsPerS[n] = r3((threadDelta(b0, b1, tids.get(n) ?? []).cpuMs / baseWall) * 1000);
    const idle = await ping(opts.pings, null);
    const split = (p: PingPhase): string =>
      `host split: target turnaround median ${fixed(p.split.targetMedianMs, 2)} ms (p90 ${fixed(p.split.targetP90Ms, 2)}), ` +
      `pinger side median ${fixed(p.split.pingerMedianMs, 2)} ms (p90 ${fixed(p.split.pingerP90Ms, 2)}); ` +
      `per ping: target grant ${fixed(p.sched["target"]!.cpuMs / p.sent, 2)} ms (host CPU ${fixed(p.sched["target"]!.host.cpuMs / p.sent, 2)}, host run-queue wait ${fixed(p.sched["target"]!.host.waitMs / p.sent, 2)}), ` +
      `pinger grant ${fixed(p.sched["pinger"]!.cpuMs / p.sent, 2)} ms (host CPU ${fixed(p.sched["pinger"]!.host.cpuMs / p.sent, 2)}, wait ${fixed(p.sched["pinger"]!.host.waitMs / p.sent, 2)})`;
    console.log(`  without a CPU-bound VM: median ${fixed(idle.medianMs, 2)} ms, p90 ${fixed(idle.p90Ms, 2)} ms, ${idle.received}/${idle.sent} replies`);
    console.log(`    ${split(idle)}`);

    const hog = addVm(hv, "hog", pvSpec(img, `echo HOG; while :; do :; done`, { extraArgs: "paravm.hostname=hog" }));
    for (const [k, v] of await startTracked([hog])) tids.set(k, v);
    await hog.waitFor(/^HOG$/, timeoutMs);
    await sleep(opts.settleS * 1000);
    const loaded = await ping(opts.pings, hog);
    console.log(
      `  with a CPU-bound VM:    median ${fixed(loaded.medianMs, 2)} ms, p90 ${fixed(loaded.p90Ms, 2)} ms, ${loaded.received}/${loaded.sent} replies ` +
        `(the hog had ${fmtPct(loaded.hogShare)} of the core)`,
    );
    console.log(`    ${split(loaded)}`);
    const net = (p: PingPhase): Record<string, number> => {
      const out: Record<string, number> = {};
      const wallS = p.load.wallS;
      for (const n of ["pinger", "target"]) out[n] = r3((p.sched[n]!.host.cpuMs - hostCpuMsPerS[n]! * wallS) / p.sent);
      return out;
    };
    const netCpuPerPingMs = { idle: net(idle), loaded: net(loaded) };
    console.log(
      `  host CPU per ping net of the background (${fixed(hostCpuMsPerS["target"]!, 1)} ms/s): target ${fixed(netCpuPerPingMs.idle["target"]!, 2)} / ${fixed(netCpuPerPingMs.loaded["target"]!, 2)} ms, ` +
        `pinger ${fixed(netCpuPerPingMs.idle["pinger"]!, 2)} / ${fixed(netCpuPerPingMs.loaded["pinger"]!, 2)} ms (without / with the CPU-bound VM)`,
    );
    const totals: PingResult["totals"] = {};
    for (const l of [pinger, target, hog]) {
      const o = await l.vm.stop().catch(() => null);
      const r = o && o.kind === "stopped" ? o.result : null;
      const exits = r ? Object.entries(r.exits).sort((x, y) => y[1] - x[1]) : [];
      totals[l.vm.name] = r ? { instructions: r.instret, exits: exits.reduce((a, [, v]) => a + v, 0), topExits: Object.fromEntries(exits.slice(0, 8)) } : null;
    }
    return { bootS: r2(bootS), addresses, baseline: { wallMs: r2(baseWall), hostCpuMsPerS }, idle, loaded, netCpuPerPingMs, totals };
  } finally {
    await hv.close();
  }
}

// ---------------------------------------------------------------- main

type Verdict = "pass" | "miss" | "-";
interface Row {
  part: string;
  measure: string;
  goal: string;
  measured: string;
  verdict: Verdict;
}
const within = (x: number, target: number, tol: number): Verdict => (Number.isFinite(x) ? (Math.abs(x - target) <= tol + 1e-9 ? "pass" : "miss") : "miss");

async function main(): Promise<number> {
  const opts = parseOptions();
  const host = hostInfo();
  const img = loadImages(opts);
  console.log(`sched bench: parts ${opts.only.join(",")}, window ${opts.windowS} s, idle ${opts.idleS} s × ${opts.idleVms} VMs, ${opts.pings} pings`);
  console.log(`guest: ${img.g.dir}  (${img.g.how})${img.patches && Object.keys(img.patches).some((p) => /sta/.test(p)) ? ", kernel with the SBI STA steal-time patch" : ""}`);
  console.log(`host: ${host.cpuModel} x${host.cpuCount}, node ${host.node}, load ${host.loadAvg.join(" ")}`);

  const rows: Row[] = [];
  const errors: Record<string, string> = {};
  const results: Record<string, unknown> = {};
  const started = performance.now();

  const run = async <T>(part: number, name: string, f: () => Promise<T>): Promise<T | null> => {
    if (!opts.only.includes(part)) return null;
    try {
      const r = await f();
      results[name] = r;
      return r;
    } catch (e) {
      const msg = (e as Error).message ?? String(e);
      errors[name] = msg;
      console.log(`  [${part}] ${name}: ERROR ${msg}`);
      return null;
    }
  };

  const shares = await run(1, "shares", () => partShares(opts, img));
  if (shares) {
    const w = shares.weighted.vms;
    const c = shares.capped.vms;
    rows.push({ part: "1", measure: "weight 512:256, received-CPU ratio", goal: "2.00 ± 0.10", measured: fixed(shares.ratio, 2), verdict: within(shares.ratio, GOALS.weightRatio.target, GOALS.weightRatio.tol) });
    for (const [n, v] of Object.entries(w))
      rows.push({ part: "1", measure: `  ${n}: share / guest steal / sched wait`, goal: "-", measured: `${fmtPct(v.share)} / ${fmtPct(v.guest?.stealFraction)} / ${fmtPct(v.waitFraction)}`, verdict: "-" });
    rows.push({
      part: "1",
      measure: "  host CPU of their threads: ratio (run-queue wait)",
      goal: "-",
      measured: `${fixed(w["heavy"]!.host.cpuMs / w["light"]!.host.cpuMs, 2)} (${fmtPct((w["heavy"]!.host.waitMs + w["light"]!.host.waitMs) / shares.weighted.wallMs)})`,
      verdict: "-",
    });
    rows.push({ part: "1", measure: "cap 25% on heavy: its share of a core", goal: "25 ± 2 %", measured: fmtPct(shares.capShare), verdict: within(shares.capShare * 100, GOALS.capPercent.target, GOALS.capPercent.tol) });
    for (const [n, v] of Object.entries(c))
      rows.push({ part: "1", measure: `  ${n}: share / guest steal / sched wait`, goal: "-", measured: `${fmtPct(v.share)} / ${fmtPct(v.guest?.stealFraction)} / ${fmtPct(v.waitFraction)}`, verdict: "-" });
  } else if (opts.only.includes(1)) rows.push({ part: "1", measure: "shares", goal: "-", measured: "ERROR", verdict: "miss" });

  const smp = await run(2, "smp", () => partSmp(opts, img));
  if (smp) {
    const p = smp.paravm;
    rows.push({ part: "2", measure: "paravm 2 vCPUs: ash loop iter/s, 1 process", goal: "-", measured: p.error ? "ERROR" : group(p.one), verdict: "-" });
    rows.push({ part: "2", measure: "paravm 2 vCPUs: ash loop iter/s, 2 processes", goal: "-", measured: p.error ? "ERROR" : group(p.two), verdict: "-" });
    rows.push({ part: "2", measure: "paravm SMP scaling (2 / 1)", goal: `>= ${GOALS.smpRatio.toFixed(2)}x`, measured: p.error ? "ERROR" : `${fixed(p.ratio, 2)}x`, verdict: !p.error && p.ratio >= GOALS.smpRatio ? "pass" : "miss" });
    rows.push({ part: "2", measure: "  host cores its threads got, 1 / 2 processes", goal: "-", measured: `${fixed(p.host["one"]?.cores ?? NaN, 2)} / ${fixed(p.host["two"]?.cores ?? NaN, 2)}`, verdict: "-" });
    rows.push({ part: "2", measure: "  iterations per host CPU-second, 2 / 1", goal: "-", measured: `${fixed(perCore(p, p.host), 2)}x`, verdict: "-" });
    const restTwo = p.host["two"]?.rest;
    if (restTwo) {
      const w = p.host["two"]!.wallS * 1000;
      rows.push({ part: "2", measure: "  rest of the process in \"two\": main / helper threads, cores", goal: "-", measured: `${fixed(restTwo.main.cpuMs / w, 2)} / ${fixed(restTwo.other.cpuMs / w, 2)}`, verdict: "-" });
    }
    if (smp.qemu) {
      const q = smp.qemu;
      rows.push({ part: "2", measure: "QEMU -smp 2 MTTCG: iter/s, 1 / 2 processes", goal: "-", measured: q.error ? "ERROR" : `${group(q.one)} / ${group(q.two)}`, verdict: "-" });
      rows.push({ part: "2", measure: "QEMU SMP scaling (2 / 1)", goal: "(reference)", measured: q.error ? "ERROR" : `${fixed(q.ratio, 2)}x`, verdict: "-" });
      rows.push({ part: "2", measure: "  host cores QEMU got, 1 / 2 processes", goal: "-", measured: `${fixed(q.host["one"]?.cores ?? NaN, 2)} / ${fixed(q.host["two"]?.cores ?? NaN, 2)}`, verdict: "-" });
      rows.push({ part: "2", measure: "  iterations per host CPU-second, 2 / 1", goal: "-", measured: `${fixed(perCore(q, q.host), 2)}x`, verdict: "-" });
      if (!q.error && !p.error)
        rows.push({ part: "2", measure: "QEMU / paravm throughput, 2 processes", goal: "-", measured: `${fixed(q.two / p.two, 1)}x`, verdict: "-" });
    }
  } else if (opts.only.includes(2)) rows.push({ part: "2", measure: "SMP scaling", goal: "-", measured: "ERROR", verdict: "miss" });

  const idle = await run(3, "idle", () => partIdle(opts, img));
  if (idle) {
    rows.push({
      part: "3",
      measure: `${idle.vms} idle VMs, ${fixed(idle.windowS, 0)} s: process CPU, % of one core`,
      goal: `< ${GOALS.idlePercent} %`,
      measured: `${fixed(idle.percentOfCore, 2)} %`,
      verdict: idle.percentOfCore < GOALS.idlePercent ? "pass" : "miss",
    });
    rows.push({ part: "3", measure: "  vCPUs holding a grant (guest work)", goal: "-", measured: `${fixed(idle.vcpuRunPercent, 2)} %`, verdict: "-" });
    const pc = (h: HostThreads): string => fixed(h.cpuMs / 10 / idle.windowS, 2);
    rows.push({
      part: "3",
      measure: "  host CPU: main thread / vCPU threads / others, %",
      goal: "-",
      measured: `${pc(idle.threads.main)} / ${pc(idle.threads.vcpus)} / ${pc(idle.threads.other)}`,
      verdict: "-",
    });
  } else if (opts.only.includes(3)) rows.push({ part: "3", measure: "idle VMs", goal: "-", measured: "ERROR", verdict: "miss" });

  const ping = await run(4, "ping", () => partPing(opts, img));
  if (ping) {
    const lost = (p: PingPhase) => (p.received < p.sent ? `, ${p.sent - p.received} lost` : "");
    rows.push({ part: "4", measure: "ping RTT, no CPU-bound VM: median / p90 ms", goal: `median < ${GOALS.pingMedianMs}`, measured: `${fixed(ping.idle.medianMs, 2)} / ${fixed(ping.idle.p90Ms, 2)}${lost(ping.idle)}`, verdict: ping.idle.medianMs < GOALS.pingMedianMs ? "pass" : "miss" });
    rows.push({ part: "4", measure: "ping RTT, CPU-bound VM on the pcpu: median / p90 ms", goal: `median < ${GOALS.pingMedianMs}`, measured: `${fixed(ping.loaded.medianMs, 2)} / ${fixed(ping.loaded.p90Ms, 2)}${lost(ping.loaded)}`, verdict: ping.loaded.medianMs < GOALS.pingMedianMs ? "pass" : "miss" });
    rows.push({
      part: "4",
      measure: "  target host CPU per echo (net), no / with CPU-bound VM, ms",
      goal: "-",
      measured: `${fixed(ping.netCpuPerPingMs.idle["target"]!, 2)} / ${fixed(ping.netCpuPerPingMs.loaded["target"]!, 2)}`,
      verdict: "-",
    });
    for (const [label, p] of [["no CPU-bound VM", ping.idle], ["CPU-bound VM", ping.loaded]] as const)
      rows.push({
        part: "4",
        measure: `  ${label}: target turnaround / pinger side, median ms (host run-queue wait of both per ping)`,
        goal: "-",
        measured: `${fixed(p.split.targetMedianMs, 2)} / ${fixed(p.split.pingerMedianMs, 2)} (${fixed((p.sched["target"]!.host.waitMs + p.sched["pinger"]!.host.waitMs) / p.sent, 2)})`,
        verdict: "-",
      });
  } else if (opts.only.includes(4)) rows.push({ part: "4", measure: "ping", goal: "-", measured: "ERROR", verdict: "miss" });

  const totalS = (performance.now() - started) / 1000;
  const endHost = hostInfo();
  console.log(`\nsched bench results (${fixed(totalS, 0)} s; load average ${host.loadAvg.join(" ")} at start, ${endHost.loadAvg.join(" ")} at end)`);
  console.log(table(["part", "measure", "goal", "measured", "verdict"], rows.map((r) => [r.part, r.measure, r.goal, r.measured, r.verdict])));
  const loadNotes: string[] = [];
  if (shares) loadNotes.push(`[1] ${fmtCores(shares.weighted.load.otherCores)} / ${fmtCores(shares.capped.load.otherCores)}`);
  if (smp) loadNotes.push(`[2] ${fmtCores(smp.paravm.host["one"]?.load.otherCores)} / ${fmtCores(smp.paravm.host["two"]?.load.otherCores)}`);
  if (idle) loadNotes.push(`[3] ${fmtCores(idle.load.otherCores)}`);
  if (ping) loadNotes.push(`[4] ${fmtCores(ping.idle.load.otherCores)} / ${fmtCores(ping.loaded.load.otherCores)}`);
  if (loadNotes.length) console.log(`  other processes kept busy (per window): ${loadNotes.join("; ")} of ${host.cpuCount}`);
  console.log(
    "  share = scheduler CPU time / wall; guest steal = /proc/stat steal ticks / guest uptime over the window;\n" +
      "  sched wait = time runnable without a core (what SBI STA reports to the guest)",
  );
  const misses = rows.filter((r) => r.verdict === "miss").length;
  console.log(`goals: ${rows.filter((r) => r.verdict === "pass").length} pass, ${misses} miss` + (Object.keys(errors).length ? `, errors in ${Object.keys(errors).join(", ")}` : ""));

  if (opts.json) {
    const file = writeResults("sched", {
      benchmark: "sched",
      date: new Date().toISOString(),
      host: { ...host, loadAvgEnd: endHost.loadAvg, qemu: toolVersion(QEMU), opensbi: OPENSBI },
      git: gitInfo(),
      options: opts,
      guest: { dir: img.g.dir, how: img.g.how, kernel: img.g.kernel, initrd: img.g.initrd, kernelPatches: img.patches },
      goals: GOALS,
      totalS: r2(totalS),
      rows,
      errors,
      results,
    });
    console.log(`results: ${relative(ROOT, file)}`);
  }
  return Object.keys(errors).length > 0 ? 1 : 0;
}

runMain("sched bench", main);
