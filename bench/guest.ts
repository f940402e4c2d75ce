/**
 * Guest benchmark (issue 11): real in-guest workloads — a busybox ash loop, fork+exec,
 * dd | md5sum, seq | gzip, an awk floating-point loop, sort, a system-call loop — on
 * paravm (pv machine) and on `qemu-system-riscv64 -M virt` (OpenSBI, virtio), the same
 * kernel Image and initramfs, in one run. One boot per emulator runs every workload
 * `--runs` times; each run is timed inside the guest (ash's $EPOCHREALTIME, microseconds,
 * checked against /proc/uptime), the best run counts. Prints per workload paravm/QEMU, the geometric mean and the worst against the
 * goals (geomean <= 3x, none worse than 4x), paravm's guest MIPS per workload and on the
 * set (goal >= 150), boot to `--exec true` on both, and the load average at start and end.
 * Every workload's output (a count or an md5sum) must be the same on every run of both
 * emulators; a mismatch fails the bench.
 *
 *   npm run bench:guest [-- options]      (or: node dist/bench/guest.js [options])
 *
 * Options:
 *   --only=NAMES       comma-separated workloads (default: all): ash-loop, fork-exec,
 *                      dd-md5, seq-gzip, awk-fp, sort, syscall
 *   --runs N           timed runs of each workload per boot, best kept (default 3)
 *   --scale X          multiply every workload's size (default 1)
 *   --boot-runs N      boots to `--exec true` per emulator for the boot line (default 1, 0 = skip)
 *   --skip-qemu        paravm only (no ratios)
 *   --skip-count       no counting run (no instructions, no MIPS)
 *   --guest-dir DIR    directory with Image and initramfs.cpio.gz (default: the one
 *                      `scripts/build-guests.mjs --print-dir` names, else the newest
 *                      complete one in ~/.cache/paravm)
 *   --timeout-s S      kill a boot after this long (default 900)
 *   --profile NAME     only profile paravm on workload NAME: the counting run under the V8
 *                      CPU profiler from its first run's start to its last run's end,
 *                      written to build/bench/prof/, then the top functions and lines
 *   --no-json          do not write bench/results/guest-<date>.json
 *
 * PARAVM_* environment variables (PARAVM_JIT=0, …) reach every paravm process unchanged
 * and are printed and recorded.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { fixed, gitInfo, group, hostInfo, intOption, printHeaderHelp, ROOT, runMain, table, toolVersion, writeResults } from "./lib/common.js";
import { findGuest, type GuestImages } from "./lib/iobench.js";
import { bootProblem, describeFailure, OPENSBI, paravmArgs, processCpuNs, QEMU, qemuArgs, runBoot, type BootRun } from "./lib/boot-run.js";
import { EXEC_COMMAND, GUEST_APPEND, guestScript, parseGuestRuns, selectWorkloads, countOf, markerOf, type GuestRun, type Workload } from "./lib/guest-workloads.js";
import { countRun, profileRun, type CountRun } from "./lib/guest-report.js";

const GOAL = { GEOMEAN: 3, WORST: 4, MIPS: 150, BOOT: 3 } as const;
const SCRIPT_DIR = join(ROOT, "build", "bench", "guest");

interface Options {
  only: string | null;
  runs: number;
  scale: number;
  bootRuns: number;
  skipQemu: boolean;
  skipCount: boolean;
  guestDir: string | null;
  timeoutS: number;
  profile: string | null;
  json: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      only: { type: "string" },
      runs: { type: "string", default: "3" },
      scale: { type: "string", default: "1" },
      "boot-runs": { type: "string", default: "1" },
      "skip-qemu": { type: "boolean", default: false },
      "skip-count": { type: "boolean", default: false },
      "guest-dir": { type: "string" },
      "timeout-s": { type: "string", default: "900" },
      profile: { type: "string" },
      "no-json": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) printHeaderHelp("guest.ts");
  const scale = Number(values.scale);
  if (!Number.isFinite(scale) || scale <= 0) throw new Error(`--scale must be a number > 0, got ${values.scale}`);
  return {
    only: values.only ?? null,
    runs: intOption("runs", values.runs, 1),
    scale,
    bootRuns: intOption("boot-runs", values["boot-runs"], 0),
    skipQemu: values["skip-qemu"] ?? false,
    skipCount: values["skip-count"] ?? false,
    guestDir: values["guest-dir"] ?? null,
    timeoutS: intOption("timeout-s", values["timeout-s"], 1),
    profile: values.profile ?? null,
    json: !(values["no-json"] ?? false),
  };
}

/** The script disk for this selection, under build/bench/guest/ (named by its content). */
function writeScriptDisk(workloads: readonly Workload[], runs: number, scale: number): { path: string; text: string; sha256: string } {
  const { text, disk } = guestScript(workloads, runs, scale);
  const sha256 = createHash("sha256").update(disk).digest("hex");
  mkdirSync(SCRIPT_DIR, { recursive: true });
  const path = join(SCRIPT_DIR, `script-${sha256.slice(0, 12)}.img`);
  writeFileSync(path, disk);
  return { path, text, sha256 };
}

// ---------------------------------------------------------------- one timed boot

/** Runs whose two guest clocks disagreed (reported, kept in the JSON). */
const clockWarnings: string[] = [];

interface TimedBoot {
  who: string;
  boot: BootRun | null;
  runs: GuestRun[];
  /** Host ms between a run's GB-BEGIN and GB-END lines on the console ("name run" -> ms). */
  hostMs: Map<string, number>;
  /** Host CPU ms of the emulator process (all its threads) between the two lines. */
  cpuMs: Map<string, number>;
  error: string | null;
}

/** Boots once and runs the script; every workload must report `runs` runs with status 0. */
async function timedBoot(who: string, cmd: string, args: string[], workloads: readonly Workload[], runs: number, timeoutMs: number): Promise<TimedBoot> {
  const hostMs = new Map<string, number>();
  const cpuMs = new Map<string, number>();
  const begun = new Map<string, { atMs: number; cpuNs: number }>();
  let partial = "";
  // Read as each marker line arrives: the emulator has gone on by a pipe's latency, a few
  // console characters' worth of work against runs of a tenth of a second or more.
  const onStdout = (chunk: string, atMs: number, pid: number | undefined): void => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    if (partial.length > 4096) partial = "";
    for (const l of lines) {
      const m = markerOf(l);
      if (!m) continue;
      const key = `${m.name} ${m.run}`;
      const cpuNs = pid === undefined ? NaN : processCpuNs(pid);
      const b = begun.get(key);
      if (m.kind === "begin") begun.set(key, { atMs, cpuNs });
      else if (b) {
        hostMs.set(key, atMs - b.atMs);
        cpuMs.set(key, (cpuNs - b.cpuNs) / 1e6);
      }
    }
  };
  const env = { ...process.env };
  console.log(`  ${who}: booting, ${workloads.length} workload(s) x ${runs} run(s) ...`);
  const boot = await runBoot(cmd, args, env, timeoutMs, onStdout);
  const got = parseGuestRuns(boot.stdout);
  let error = bootProblem(boot, who);
  if (error === null && !/GB-DONE/.test(boot.stdout)) error = "the guest script did not reach GB-DONE";
  for (const w of workloads) {
    const mine = got.filter((r) => r.name === w.name);
    const bad = mine.find((r) => r.status !== 0);
    if (error === null && bad) error = `${w.name} run ${bad.run} exited ${bad.status}`;
    if (error === null && mine.length !== runs) error = `${w.name}: ${mine.length} of ${runs} runs reported`;
  }
  for (const r of got) {
    const h = hostMs.get(`${r.name} ${r.run}`);
    const c = cpuMs.get(`${r.name} ${r.run}`);
    console.log(
      `    ${who} ${r.name} run ${r.run}: ${fixed(r.seconds, 3)} s in the guest (uptime ${fixed(r.uptimeSeconds, 2)}` +
        (h !== undefined ? `, host ${fixed(h / 1000, 3)}` : "") +
        (c !== undefined ? `, host CPU ${fixed(c / 1000, 3)}` : "") +
        `)  ${r.result}`,
    );
    // The realtime window lies inside the uptime one (read before and after it), so it can
    // only exceed it by uptime's 10 ms step; much shorter means the host stalled the guest
    // between the two reads (load), or a clock jumped.
    if (r.seconds > r.uptimeSeconds + 0.012 || r.seconds < r.uptimeSeconds - 0.1) {
      console.log(`    WARNING ${who} ${r.name} run ${r.run}: $EPOCHREALTIME says ${fixed(r.seconds, 3)} s, /proc/uptime ${fixed(r.uptimeSeconds, 2)} s`);
      clockWarnings.push(`${who} ${r.name} run ${r.run}: realtime ${r.seconds} s, uptime ${r.uptimeSeconds} s`);
    }
  }
  if (error !== null) {
    console.log(`  ${who}: ERROR ${describeFailure(boot, error)}`);
  }
  const keep = { ...boot, stdout: "", stderr: error !== null ? boot.stderr.slice(-4000) : "" };
  return { who, boot: keep, runs: got, hostMs, cpuMs, error };
}

// ---------------------------------------------------------------- boot to `true`

interface BootLine {
  who: string;
  processMs: number[];
  exitLineMs: number[];
  error: string | null;
}

async function bootLine(who: string, cmd: string, args: string[], n: number, timeoutMs: number): Promise<BootLine> {
  const out: BootLine = { who, processMs: [], exitLineMs: [], error: null };
  const env = { ...process.env };
  for (let i = 0; i < n; i++) {
    const r = await runBoot(cmd, args, env, timeoutMs);
    const problem = bootProblem(r, who);
    if (problem) {
      out.error = describeFailure(r, problem);
      console.log(`  boot ${who} run ${i + 1}/${n}: FAILED — ${problem}`);
      break;
    }
    out.processMs.push(r.processMs);
    out.exitLineMs.push(r.exitLineMs as number);
    console.log(`  boot ${who} run ${i + 1}/${n}: exit line ${fixed((r.exitLineMs as number) / 1000, 3)} s, process ${fixed(r.processMs / 1000, 3)} s`);
  }
  return out;
}

// ---------------------------------------------------------------- main

const best = (xs: number[]): number => (xs.length ? Math.min(...xs) : NaN);
const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const r3 = (x: number): number | null => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null);
const load = (): number[] => os.loadavg().map((x) => Math.round(x * 100) / 100);

async function main(): Promise<number> {
  const opts = parseOptions();
  const g: GuestImages = findGuest(opts.guestDir);
  const workloads = selectWorkloads(opts.profile ?? opts.only);
  const timeoutMs = opts.timeoutS * 1000;
  if (opts.profile !== null) return profileRun(g, workloads[0]!, opts.runs, opts.scale, timeoutMs, opts.json, writeScriptDisk);

  const host = hostInfo();
  const loadStart = load();
  const qemuVersion = toolVersion(QEMU);
  const script = writeScriptDisk(workloads, opts.runs, opts.scale);
  console.log(`guest bench: ${workloads.length} workload(s), ${opts.runs} run(s) each in one boot per emulator, best run counts, scale ${opts.scale}`);
  console.log(`guest: ${g.dir}  (${g.how})`);
  console.log(`script disk: ${relative(ROOT, script.path)}`);
  console.log(`host: ${host.cpuModel} x${host.cpuCount}, node ${host.node}, load at start ${loadStart.join(" ")}`);
  // Passed on to paravm as they are (e.g. PARAVM_JIT=0 to time the interpreter alone).
  const paravmEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("PARAVM_")));
  if (Object.keys(paravmEnv).length > 0) console.log(`paravm environment: ${Object.entries(paravmEnv).map(([k, v]) => `${k}=${v}`).join(" ")}`);

  const extras = { disk: script.path, append: GUEST_APPEND };
  let failed = false;
  let qemu: TimedBoot | null = null;
  if (!opts.skipQemu) {
    if (qemuVersion === null) qemu = { who: "QEMU", boot: null, runs: [], hostMs: new Map(), cpuMs: new Map(), error: `${QEMU} not found` };
    else qemu = await timedBoot("QEMU", QEMU, qemuArgs(g, EXEC_COMMAND, extras), workloads, opts.runs, timeoutMs);
  }
  const pv = await timedBoot("paravm", process.execPath, paravmArgs(g, EXEC_COMMAND, extras), workloads, opts.runs, timeoutMs);
  let count: CountRun | null = null;
  if (!opts.skipCount) {
    console.log("  paravm counting run (instructions per workload, 1 run each) ...");
    count = await countRun(g, writeScriptDisk(workloads, 1, opts.scale).path, timeoutMs);
    if (count.error) console.log(`  counting run: ERROR ${count.error}`);
  }
  const boots: BootLine[] = [];
  if (opts.bootRuns > 0) {
    if (!opts.skipQemu && qemuVersion !== null) boots.push(await bootLine("QEMU", QEMU, qemuArgs(g, "true"), opts.bootRuns, timeoutMs));
    boots.push(await bootLine("paravm", process.execPath, paravmArgs(g, "true"), opts.bootRuns, timeoutMs));
  }
  const loadEnd = load();
  for (const t of [qemu, pv]) if (t?.error) failed = true;
  if (count?.error) failed = true;

  // ---- per workload
  const mismatches: string[] = [];
  const rows = workloads.map((w) => {
    const q = qemu?.runs.filter((r) => r.name === w.name) ?? [];
    const p = pv.runs.filter((r) => r.name === w.name);
    const c = count?.runs.filter((r) => r.name === w.name) ?? [];
    const results = new Set([...q, ...p, ...c].map((r) => r.result));
    if (results.size > 1) mismatches.push(`${w.name}: ${[...results].map((x) => JSON.stringify(x)).join(" vs ")}`);
    const qBest = best(q.map((r) => r.seconds));
    const pBest = best(p.map((r) => r.seconds));
    const cpuOf = (t: TimedBoot | null, runs: GuestRun[]): number[] => runs.map((r) => (t?.cpuMs.get(`${r.name} ${r.run}`) ?? NaN) / 1000);
    const qCpu = best(cpuOf(qemu, q).filter(Number.isFinite));
    const pCpu = best(cpuOf(pv, p).filter(Number.isFinite));
    const insns = median(c.map((r) => r.instret));
    return {
      name: w.name,
      what: w.what,
      count: countOf(w, opts.scale),
      unit: w.unit,
      qemuS: qBest,
      qemuRunsS: q.map((r) => r.seconds),
      qemuHostS: q.map((r) => (qemu?.hostMs.get(`${r.name} ${r.run}`) ?? NaN) / 1000),
      paravmS: pBest,
      paravmRunsS: p.map((r) => r.seconds),
      paravmHostS: p.map((r) => (pv.hostMs.get(`${r.name} ${r.run}`) ?? NaN) / 1000),
      ratio: pBest / qBest,
      qemuCpuRunsS: cpuOf(qemu, q),
      paravmCpuRunsS: cpuOf(pv, p),
      qemuCpuS: qCpu,
      paravmCpuS: pCpu,
      cpuRatio: pCpu / qCpu,
      instructions: insns,
      mips: insns / pBest / 1e6,
      mipsPerCpuS: insns / pCpu / 1e6,
      countS: c[0]?.seconds ?? NaN,
      countMips: insns / (c[0]?.seconds ?? NaN) / 1e6,
      result: [...results][0] ?? null,
      same: results.size === 1,
    };
  });
  if (mismatches.length > 0) failed = true;

  console.log(`\nper workload: best of ${opts.runs}, seconds inside the guest ($EPOCHREALTIME)`);
  console.log(
    table(
      ["workload", "size", "QEMU s", "paravm s", "paravm/QEMU", "CPU s QEMU", "paravm", "CPU ratio", "M insns", "paravm MIPS", "output"],
      rows.map((r) => [
        r.name,
        `${group(r.count)}`,
        fixed(r.qemuS, 3),
        fixed(r.paravmS, 3),
        Number.isFinite(r.ratio) ? `${fixed(r.ratio, 2)}x` : "-",
        fixed(r.qemuCpuS, 3),
        fixed(r.paravmCpuS, 3),
        Number.isFinite(r.cpuRatio) ? `${fixed(r.cpuRatio, 2)}x` : "-",
        fixed(r.instructions / 1e6, 1),
        fixed(r.mips, 1),
        r.same ? "same" : "MISMATCH",
      ]),
    ),
  );
  console.log(
    "  s = best in-guest seconds; CPU s = least host CPU time of the emulator process (all threads) over the same\n" +
      "  runs, read on the host as the marker lines arrive: less sensitive to host load than guest (= host wall) time",
  );
  for (const w of workloads) console.log(`  ${w.name.padEnd(10)} ${w.what} (size in ${w.unit})`);

  // ---- the set
  const ratios = rows.map((r) => r.ratio).filter((x) => Number.isFinite(x) && x > 0);
  const geomean = ratios.length === rows.length && ratios.length > 0 ? Math.exp(ratios.reduce((a, x) => a + Math.log(x), 0) / ratios.length) : NaN;
  const worst = ratios.length === rows.length ? Math.max(...ratios) : NaN;
  const cpuRatios = rows.map((r) => r.cpuRatio).filter((x) => Number.isFinite(x) && x > 0);
  const cpuGeomean = cpuRatios.length === rows.length && cpuRatios.length > 0 ? Math.exp(cpuRatios.reduce((a, x) => a + Math.log(x), 0) / cpuRatios.length) : NaN;
  const worstName = rows.find((r) => r.ratio === worst)?.name ?? "-";
  const counted = rows.filter((r) => Number.isFinite(r.instructions) && Number.isFinite(r.paravmS));
  const setInsns = counted.reduce((a, r) => a + r.instructions, 0);
  const setS = counted.reduce((a, r) => a + r.paravmS, 0);
  const setMips = counted.length === rows.length && setS > 0 ? setInsns / setS / 1e6 : NaN;
  const setCpuS = counted.reduce((a, r) => a + r.paravmCpuS, 0);
  const setMipsCpu = counted.length === rows.length && setCpuS > 0 ? setInsns / setCpuS / 1e6 : NaN;
  const bootOf = (who: string): number => best(boots.find((b) => b.who === who)?.processMs ?? []);
  const bootRatio = bootOf("paravm") / bootOf("QEMU");

  const verdict = (ok: boolean, x: number): string => (Number.isFinite(x) ? (ok ? "PASS" : "MISS") : "no figure");
  console.log("\ngoals (issue 11)");
  console.log(
    table(
      ["measure", "now", "goal", "verdict"],
      [
        ["geometric mean paravm/QEMU", Number.isFinite(geomean) ? `${fixed(geomean, 2)}x` : "-", `<= ${GOAL.GEOMEAN}x`, verdict(geomean <= GOAL.GEOMEAN, geomean)],
        ["worst paravm/QEMU", Number.isFinite(worst) ? `${fixed(worst, 2)}x (${worstName})` : "-", `<= ${GOAL.WORST}x`, verdict(worst <= GOAL.WORST, worst)],
        ["paravm guest MIPS on the set", fixed(setMips, 1), `>= ${GOAL.MIPS}`, verdict(setMips >= GOAL.MIPS, setMips)],
        ["(geometric mean of host CPU time)", Number.isFinite(cpuGeomean) ? `${fixed(cpuGeomean, 2)}x` : "-", "-", "reported"],
        ["(paravm MIPS per host CPU second)", fixed(setMipsCpu, 1), "-", "reported"],
        [
          "boot to --exec true, process wall",
          Number.isFinite(bootRatio) ? `${fixed(bootRatio, 2)}x (${fixed(bootOf("paravm") / 1000, 2)} s vs ${fixed(bootOf("QEMU") / 1000, 2)} s)` : "-",
          `<= ${GOAL.BOOT}x`,
          verdict(bootRatio <= GOAL.BOOT, bootRatio),
        ],
      ],
    ),
  );
  console.log(
    `  MIPS = instructions retired between a run's GB-BEGIN and GB-END lines (counting run, read from the hart) / best guest seconds;` +
      ` set = all instructions / all best seconds`,
  );
  console.log(`load average: start ${loadStart.join(" ")}, end ${loadEnd.join(" ")} (guest time is host time: load slows both emulators)`);
  if (mismatches.length > 0) {
    console.log("\n!!!!!!!! OUTPUT MISMATCH: paravm and QEMU (or two runs) disagree !!!!!!!!");
    for (const m of mismatches) console.log(`  ${m}`);
  }

  if (opts.json) {
    const file = writeResults("guest", {
      benchmark: "guest",
      date: new Date().toISOString(),
      host: { ...host, loadAvgStart: loadStart, loadAvgEnd: loadEnd, qemu: qemuVersion, opensbi: OPENSBI },
      git: gitInfo(),
      options: opts,
      paravmEnv,
      guest: { dir: g.dir, how: g.how, kernel: g.kernel, initrd: g.initrd },
      script: { path: relative(ROOT, script.path), sha256: script.sha256, text: script.text },
      qemu: qemu ? { args: qemuArgs(g, EXEC_COMMAND, extras), error: qemu.error, processMs: r3(qemu.boot?.processMs ?? NaN) } : null,
      paravm: { args: paravmArgs(g, EXEC_COMMAND, extras), error: pv.error, processMs: r3(pv.boot?.processMs ?? NaN) },
      count: count ? { error: count.error, stats: count.stats } : null,
      workloads: rows.map((r) => ({
        ...r,
        qemuS: r3(r.qemuS),
        paravmS: r3(r.paravmS),
        ratio: r3(r.ratio),
        mips: r3(r.mips),
        mipsPerCpuS: r3(r.mipsPerCpuS),
        countS: r3(r.countS),
        countMips: r3(r.countMips),
        instructions: Number.isFinite(r.instructions) ? r.instructions : null,
        qemuHostS: r.qemuHostS.map(r3),
        paravmHostS: r.paravmHostS.map(r3),
        qemuCpuS: r3(r.qemuCpuS),
        paravmCpuS: r3(r.paravmCpuS),
        cpuRatio: r3(r.cpuRatio),
        qemuCpuRunsS: r.qemuCpuRunsS.map(r3),
        paravmCpuRunsS: r.paravmCpuRunsS.map(r3),
      })),
      set: {
        geomean: r3(geomean),
        cpuGeomean: r3(cpuGeomean),
        worst: r3(worst),
        worstName,
        instructions: setInsns,
        paravmS: r3(setS),
        mips: r3(setMips),
        paravmCpuS: r3(setCpuS),
        mipsPerCpuS: r3(setMipsCpu),
      },
      boot: boots.map((b) => ({ who: b.who, error: b.error, processMs: b.processMs.map(r3), exitLineMs: b.exitLineMs.map(r3) })),
      bootRatio: r3(bootRatio),
      mismatches,
      clockWarnings,
      goals: {
        geomean: { goal: GOAL.GEOMEAN, pass: geomean <= GOAL.GEOMEAN },
        worst: { goal: GOAL.WORST, pass: worst <= GOAL.WORST },
        mips: { goal: GOAL.MIPS, pass: setMips >= GOAL.MIPS },
        boot: { goal: GOAL.BOOT, pass: bootRatio <= GOAL.BOOT },
      },
    });
    console.log(`results: ${relative(ROOT, file)}`);
  }
  return failed ? 1 : 0;
}

runMain("guest bench", main);
