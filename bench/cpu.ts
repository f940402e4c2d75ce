/**
 * CPU benchmark: the same bare-metal RV64GC program (bench/cpu/, a CoreMark-like
 * integer/memory/branch workload) on QEMU and on paravm; wall time, guest instruction
 * count and guest MIPS for both, their ratio, and the goal (paravm >= 100 MIPS and
 * within 10x of QEMU's wall time).
 *
 *   npm run bench:cpu [-- options]      (or: node dist/bench/cpu.js [options])
 *
 * Options:
 *   --runs N           timed runs per emulator, best kept (default 3; paravm drops to 1
 *                      when a run takes longer than --slow-s)
 *   --iterations N     benchmark iterations compiled into the guest (default 4000)
 *   --slow-s S         a paravm run longer than this is not repeated (default 20)
 *   --timeout-s S      kill a run after this long (default 900)
 *   --skip-qemu / --skip-paravm
 *   --check-count      also run the counter build on paravm and require its loop
 *                      instret to equal QEMU's exactly (needs CLINT mtime + minstret)
 *   --profile          only profile paravm: one run under `node --cpu-prof`, then the
 *                      top 15 functions and lines by self time (build/bench/prof/)
 *   --no-json          do not write bench/results/cpu-<date>.json
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { fixed,
  gitInfo,
  group,
  hostInfo,
  ROOT,
  runProcess,
  table,
  tail,
  toolVersion,
  writeResults,
  type ProcResult,
  intOption,
  printHeaderHelp,
  runMain,
} from "./lib/common.js";
import { summarizeProfile, type HotSpot } from "./lib/cpuprofile.js";

const CC = "riscv64-unknown-elf-gcc";
const OBJDUMP = "riscv64-unknown-elf-objdump";
const QEMU = "qemu-system-riscv64";
const SRC_DIR = join(ROOT, "bench", "cpu");
const OUT_DIR = join(ROOT, "build", "bench");
const PROF_DIR = join(OUT_DIR, "prof");
const PARAVM_BIN = join(ROOT, "bin", "paravm.js");
const DEFAULT_ITERATIONS = 4000; // keep equal to DEFAULT_ITERATIONS in bench/cpu/main.c
const CFLAGS = [
  "-O2",
  "-march=rv64gc",
  "-mabi=lp64d",
  "-ffreestanding",
  "-nostdlib",
  "-nostartfiles",
  "-static",
  "-mcmodel=medany",
  "-g",
  "-Wall",
  "-Wextra",
];
const ms = (x: number): number => Math.round(x * 10) / 10;
const GOAL_MIPS = 100;
const GOAL_RATIO = 10;
/**
 * Accepted gap between paravm's whole-program count and QEMU's loop-only count: start-up
 * (CRC table, character classes) and console output, about 27,000 instructions.
 */
const COUNT_OVERHEAD_MAX = 200_000;

interface Options {
  runs: number;
  iterations: number;
  slowS: number;
  timeoutS: number;
  skipQemu: boolean;
  skipParavm: boolean;
  checkCount: boolean;
  profile: boolean;
  json: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "3" },
      iterations: { type: "string", default: String(DEFAULT_ITERATIONS) },
      "slow-s": { type: "string", default: "20" },
      "timeout-s": { type: "string", default: "900" },
      "skip-qemu": { type: "boolean", default: false },
      "skip-paravm": { type: "boolean", default: false },
      "check-count": { type: "boolean", default: false },
      profile: { type: "boolean", default: false },
      "no-json": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) printHeaderHelp("cpu.ts");
  const int = intOption;
  return {
    runs: int("runs", values.runs, 1),
    iterations: int("iterations", values.iterations, 0),
    slowS: int("slow-s", values["slow-s"], 0),
    timeoutS: int("timeout-s", values["timeout-s"], 1),
    skipQemu: values["skip-qemu"] ?? false,
    skipParavm: values["skip-paravm"] ?? false,
    checkCount: values["check-count"] ?? false,
    profile: values.profile ?? false,
    json: !(values["no-json"] ?? false),
  };
}

// ---------------------------------------------------------------- build

interface Elf {
  path: string;
  sha256: string;
  bytes: number;
}

/** Compiles bench/cpu into build/bench/<name>.elf unless it is up to date. */
function buildElf(name: string, defines: string[], disassemble: boolean): Elf {
  mkdirSync(OUT_DIR, { recursive: true });
  const out = join(OUT_DIR, `${name}.elf`);
  const stampFile = join(OUT_DIR, `${name}.cmd`);
  const files = readdirSync(SRC_DIR).sort();
  const sources = [
    join(SRC_DIR, "start.S"),
    ...files.filter((f) => f.endsWith(".c")).map((f) => join(SRC_DIR, f)),
  ];
  const args = [...CFLAGS, ...defines.map((d) => `-D${d}`), "-T", join(SRC_DIR, "link.ld"), "-o", out, ...sources];
  const stamp = [CC, ...args].join(" ");
  const newestSource = Math.max(...files.map((f) => statSync(join(SRC_DIR, f)).mtimeMs));
  const upToDate =
    existsSync(out) &&
    existsSync(stampFile) &&
    readFileSync(stampFile, "utf8") === stamp &&
    statSync(out).mtimeMs >= newestSource;
  if (!upToDate) {
    const r = spawnSync(CC, args, { encoding: "utf8" });
    if (r.error) throw new Error(`cannot run ${CC}: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`building ${name}.elf failed:\n${r.stderr}`);
    if (r.stderr.trim()) process.stderr.write(r.stderr);
    writeFileSync(stampFile, stamp);
    if (disassemble) {
      const d = spawnSync(OBJDUMP, ["-d", "-S", "--no-show-raw-insn", out], {
        encoding: "utf8",
        maxBuffer: 64 << 20,
      });
      if (d.status === 0) writeFileSync(join(OUT_DIR, `${name}.dis`), d.stdout);
    }
    console.log(`built ${relative(ROOT, out)}`);
  }
  const data = readFileSync(out);
  return { path: out, sha256: createHash("sha256").update(data).digest("hex"), bytes: data.length };
}

// ---------------------------------------------------------------- guest output

interface GuestReport {
  iterations: number | null;
  crc: string | null;
  result: string | null;
  mtimeDelta: number | null;
  instretDelta: number | null;
}

function parseGuest(stdout: string): GuestReport {
  const get = (key: string): string | null => {
    const m = new RegExp(`^${key}=(\\S+)`, "m").exec(stdout.replace(/\r/g, ""));
    return m ? (m[1] as string) : null;
  };
  const num = (key: string): number | null => {
    const v = get(key);
    return v === null ? null : Number(v);
  };
  return {
    iterations: num("iterations"),
    crc: get("crc"),
    result: get("result"),
    mtimeDelta: num("mtime_delta"),
    instretDelta: num("instret_delta"),
  };
}

/** Why a run does not count as a validated run, or null when it does. */
function runProblem(r: ProcResult, g: GuestReport, expectCrc: string | null): string | null {
  if (r.spawnError) return `could not start: ${r.spawnError}`;
  if (r.timedOut) return `timed out after ${fixed(r.wallMs / 1000, 0)} s`;
  if (r.signal) return `killed by ${r.signal}`;
  if (g.crc === null) return `no "crc=" line in the guest output (exit status ${r.code})`;
  if (g.result !== "pass" && g.result !== "unchecked") return `guest reported result=${g.result ?? "?"}`;
  if (expectCrc !== null && g.crc !== expectCrc) return `crc ${g.crc} differs from QEMU's ${expectCrc}`;
  if (r.code !== 0) return `exit status ${r.code}`;
  return null;
}

// ---------------------------------------------------------------- QEMU

interface QemuResult {
  version: string | null;
  runsMs: number[];
  bestMs: number;
  startupMs: number;
  crc: string;
  guestResult: string;
  icount: { mtimeDelta: number; instretDelta: number; wallMs: number } | null;
  icountError?: string;
}

function qemuArgs(elf: string, extra: string[] = []): string[] {
  return ["-M", "spike", "-bios", "none", "-nographic", ...extra, "-kernel", elf];
}

async function benchQemu(opts: Options, main: Elf, empty: Elf, counters: Elf): Promise<QemuResult> {
  const timeoutMs = opts.timeoutS * 1000;
  const runsMs: number[] = [];
  let crc = "";
  let guestResult = "";
  for (let i = 0; i < opts.runs; i++) {
    const r = await runProcess(QEMU, qemuArgs(main.path), { timeoutMs });
    const g = parseGuest(r.stdout);
    const problem = runProblem(r, g, null);
    if (problem) throw new Error(`QEMU run failed: ${problem}\n${tail(r.stdout + r.stderr, 10)}`);
    if (crc && g.crc !== crc) throw new Error(`QEMU runs disagree: crc ${g.crc} vs ${crc}`);
    crc = g.crc as string;
    guestResult = g.result as string;
    runsMs.push(r.wallMs);
    console.log(`  QEMU run ${i + 1}/${opts.runs}: ${fixed(r.wallMs / 1000, 3)} s  crc=${crc} result=${guestResult}`);
  }

  // Process start-up and teardown: the same program with zero iterations.
  const startups: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await runProcess(QEMU, qemuArgs(empty.path), { timeoutMs });
    if (r.code === 0) startups.push(r.wallMs);
  }
  const startupMs = startups.length ? Math.min(...startups) : 0;

  // Instruction count: with -icount shift=0 each instruction advances virtual time by
  // 1 ns, so the 10 MHz CLINT mtime ticks once per 100 instructions; minstret is exact.
  let icount: QemuResult["icount"] = null;
  let icountError: string | undefined;
  const r = await runProcess(QEMU, qemuArgs(counters.path, ["-icount", "shift=0"]), { timeoutMs });
  const g = parseGuest(r.stdout);
  const problem = runProblem(r, g, crc);
  if (problem) icountError = problem;
  else if (g.mtimeDelta === null || g.instretDelta === null) icountError = "no mtime_delta/instret_delta lines";
  else icount = { mtimeDelta: g.mtimeDelta, instretDelta: g.instretDelta, wallMs: r.wallMs };

  return {
    version: toolVersion(QEMU),
    runsMs,
    bestMs: Math.min(...runsMs),
    startupMs,
    crc,
    guestResult,
    icount,
    ...(icountError ? { icountError } : {}),
  };
}

// ---------------------------------------------------------------- paravm

interface ParavmStats {
  instructions: number;
  instructionsByPrivilege?: Record<string, number>;
  wallMs: number;
  mips: number;
}

interface ParavmRun {
  processMs: number;
  stats: ParavmStats;
}

interface ParavmResult {
  runs: ParavmRun[];
  best: ParavmRun | null;
  crc: string | null;
  error: string | null;
  countCheck?: { instretDelta: number | null; error: string | null };
}

/** The last stderr line that is a JSON object with numeric instructions and wallMs. */
function parseStats(stderr: string): ParavmStats | null {
  const lines = stderr.split(/\r?\n/).reverse();
  for (const line of lines) {
    const t = line.trim();
    if (!t.startsWith("{")) continue;
    try {
      const o = JSON.parse(t) as Partial<ParavmStats>;
      if (typeof o.instructions === "number" && typeof o.wallMs === "number") {
        return {
          instructions: o.instructions,
          wallMs: o.wallMs,
          mips: typeof o.mips === "number" ? o.mips : o.instructions / o.wallMs / 1000,
          ...(o.instructionsByPrivilege ? { instructionsByPrivilege: o.instructionsByPrivilege } : {}),
        };
      }
    } catch {
      // not the stats line
    }
  }
  return null;
}

function paravmArgs(elf: string): string[] {
  return [PARAVM_BIN, "elf", elf, "--stats"];
}

function describeFailure(r: ProcResult, problem: string): string {
  const out = tail(r.stdout, 5);
  const err = tail(r.stderr, 12);
  return `${problem}${out ? `\n  guest/stdout (last lines):\n${out}` : ""}${err ? `\n  stderr (last lines):\n${err}` : ""}`;
}

async function benchParavm(opts: Options, main: Elf, counters: Elf, qemuCrc: string | null): Promise<ParavmResult> {
  const res: ParavmResult = { runs: [], best: null, crc: null, error: null };
  if (!existsSync(PARAVM_BIN)) {
    res.error = `${relative(ROOT, PARAVM_BIN)} not found (paravm CLI not written yet?)`;
    return res;
  }
  const timeoutMs = opts.timeoutS * 1000;
  for (let i = 0; i < opts.runs; i++) {
    const r = await runProcess(process.execPath, paravmArgs(main.path), { timeoutMs });
    const g = parseGuest(r.stdout);
    const problem = runProblem(r, g, qemuCrc);
    const stats = parseStats(r.stderr);
    if (problem || !stats) {
      res.error = describeFailure(r, problem ?? "no --stats JSON line on stderr");
      return res;
    }
    res.crc = g.crc;
    res.runs.push({ processMs: r.wallMs, stats });
    console.log(
      `  paravm run ${i + 1}/${opts.runs}: ${fixed(r.wallMs / 1000, 3)} s (guest ${fixed(stats.wallMs / 1000, 3)} s, ` +
        `${fixed(stats.mips, 1)} MIPS)  crc=${g.crc} result=${g.result}`,
    );
    if (r.wallMs > opts.slowS * 1000 && i + 1 < opts.runs) {
      console.log(`  paravm: slower than ${opts.slowS} s, not repeating`);
      break;
    }
  }
  res.best = res.runs.reduce((a, b) => (b.processMs < a.processMs ? b : a));

  if (opts.checkCount) {
    const r = await runProcess(process.execPath, paravmArgs(counters.path), { timeoutMs });
    const g = parseGuest(r.stdout);
    const problem = runProblem(r, g, qemuCrc);
    res.countCheck = problem
      ? { instretDelta: null, error: describeFailure(r, problem) }
      : { instretDelta: g.instretDelta, error: g.instretDelta === null ? "no instret_delta line" : null };
  }
  return res;
}

// ---------------------------------------------------------------- profile

async function profileParavm(opts: Options, main: Elf): Promise<number> {
  if (!existsSync(PARAVM_BIN)) {
    console.log(`paravm: ERROR ${relative(ROOT, PARAVM_BIN)} not found (paravm CLI not written yet?)`);
    return 1;
  }
  mkdirSync(PROF_DIR, { recursive: true });
  const before = new Set(readdirSync(PROF_DIR));
  console.log(`profiling: node --cpu-prof ${relative(ROOT, PARAVM_BIN)} elf ${relative(ROOT, main.path)} --stats`);
  const r = await runProcess(
    process.execPath,
    ["--cpu-prof", "--cpu-prof-dir", PROF_DIR, ...paravmArgs(main.path)],
    { timeoutMs: opts.timeoutS * 1000 },
  );
  const g = parseGuest(r.stdout);
  const problem = runProblem(r, g, null);
  const stats = parseStats(r.stderr);
  if (problem) console.log(`paravm: run FAILED — ${describeFailure(r, problem)}`);
  else
    console.log(
      `paravm: ${fixed(r.wallMs / 1000, 2)} s` +
        (stats ? `, ${group(stats.instructions)} instructions, ${fixed(stats.mips, 1)} MIPS (under the profiler)` : "") +
        `, crc=${g.crc}`,
    );

  const fresh = readdirSync(PROF_DIR).filter((f) => f.endsWith(".cpuprofile") && !before.has(f));
  if (fresh.length === 0) {
    console.log("no .cpuprofile was written (did the process crash before exit?)");
    return 1;
  }
  const newest = fresh
    .map((f) => join(PROF_DIR, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0] as string;
  const s = summarizeProfile(newest, ROOT, 15);
  const rows = (list: HotSpot[], withName: boolean) =>
    list.map((h) => [
      withName ? h.name : h.location,
      fixed(h.selfMs, 1),
      fixed(h.percent, 1),
      withName ? h.location : h.name,
    ]);
  console.log(`\nprofile ${relative(ROOT, newest)}: ${group(s.samples)} samples, ${fixed(s.totalMs / 1000, 2)} s`);
  console.log("\ntop 15 functions by self time");
  console.log(table(["function", "self ms", "%", "where"], rows(s.functions, true)));
  if (s.lines.length > 0) {
    console.log("\ntop 15 source lines by self time");
    console.log(table(["line", "self ms", "%", "function"], rows(s.lines, false)));
  }
  console.log("\n(open the .cpuprofile in Chrome DevTools > Performance, or VS Code, for the call tree)");
  return problem ? 1 : 0;
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const opts = parseOptions();
  const gccVersion = toolVersion(CC);
  if (gccVersion === null) {
    console.log(`cpu bench: ERROR ${CC} not found (the RISC-V bare-metal cross compiler is needed)`);
    return 1;
  }
  const it = opts.iterations;
  const elf = buildElf(`cpu-i${it}`, [`ITERATIONS=${it}`], true);
  if (opts.profile) return profileParavm(opts, elf);
  const empty = buildElf("cpu-i0", ["ITERATIONS=0"], false);
  const counters = buildElf(`cpu-i${it}-counters`, [`ITERATIONS=${it}`, "REPORT_COUNTERS"], false);

  const host = hostInfo();
  console.log(`cpu bench: ${it} iterations, ${opts.runs} run(s) each`);
  console.log(`host: ${host.cpuModel} x${host.cpuCount}, node ${host.node}, load ${host.loadAvg.join(" ")}`);

  let failed = false;
  let qemu: QemuResult | null = null;
  let qemuError: string | null = null;
  if (!opts.skipQemu) {
    if (toolVersion(QEMU) === null) qemuError = `${QEMU} not found`;
    else {
      try {
        qemu = await benchQemu(opts, elf, empty, counters);
      } catch (e) {
        qemuError = (e as Error).message;
      }
    }
    if (qemuError) {
      failed = true;
      console.log(`QEMU: ERROR ${qemuError}`);
    }
  }

  let paravm: ParavmResult | null = null;
  if (!opts.skipParavm) {
    paravm = await benchParavm(opts, elf, counters, qemu?.crc ?? null);
    if (paravm.error) {
      failed = true;
      console.log(`paravm: ERROR ${paravm.error}`);
    }
  }

  // ---- instruction counts
  const loopQemu = qemu?.icount?.instretDelta ?? null;
  const loopIcount = qemu?.icount ? qemu.icount.mtimeDelta * 100 : null;
  const totalParavm = paravm?.best?.stats.instructions ?? null;
  console.log("\nguest instructions");
  const countRows: string[][] = [];
  if (loopIcount !== null) countRows.push(["QEMU -icount shift=0: mtime delta x 100 (loop)", group(loopIcount), "±100"]);
  if (loopQemu !== null) countRows.push(["QEMU -icount shift=0: minstret delta (loop)", group(loopQemu), "exact"]);
  if (qemu?.icountError) countRows.push(["QEMU -icount", `ERROR ${qemu.icountError}`, ""]);
  let countConsistent: boolean | null = null;
  if (totalParavm !== null) {
    let note = "";
    if (loopQemu !== null) {
      const diff = totalParavm - loopQemu;
      countConsistent = diff >= 0 && diff < COUNT_OVERHEAD_MAX;
      note = `${diff >= 0 ? "+" : ""}${group(diff)} ${countConsistent ? "consistent" : "MISMATCH"}`;
      if (!countConsistent) failed = true;
    }
    countRows.push(["paravm instret (whole program)", group(totalParavm), note]);
  }
  const cc = paravm?.countCheck;
  if (cc) {
    if (cc.error) countRows.push(["paravm minstret delta (loop, --check-count)", `ERROR ${cc.error}`, ""]);
    else if (cc.instretDelta !== null) {
      const same = cc.instretDelta === loopQemu;
      if (!same) failed = true;
      countRows.push([
        "paravm minstret delta (loop, --check-count)",
        group(cc.instretDelta),
        same ? "identical to QEMU" : "DIFFERS from QEMU",
      ]);
    }
  }
  console.log(countRows.length ? table(["source", "instructions", "note"], countRows) : "  (none measured)");
  if (totalParavm !== null && loopQemu !== null)
    console.log(
      `  paravm's whole-program count exceeds the loop count by start-up and console output (expected < ${group(COUNT_OVERHEAD_MAX)}).`,
    );

  // The count used for MIPS: the same deterministic program retires the same instructions
  // on both emulators, so one figure serves both.
  const instructions = countConsistent !== false && totalParavm !== null ? totalParavm : (loopQemu ?? totalParavm);

  // ---- summary
  const rows: string[][] = [];
  let qemuMips = NaN;
  let paravmMips = NaN;
  let ratio = NaN;
  if (qemu) {
    const runMs = Math.max(1, qemu.bestMs - qemu.startupMs);
    qemuMips = instructions !== null ? instructions / runMs / 1000 : NaN;
    rows.push([
      qemu.version?.replace(/^QEMU emulator version (\S+).*$/, "QEMU $1") ?? "QEMU",
      fixed(qemu.bestMs / 1000, 3),
      fixed(runMs / 1000, 3),
      fixed(qemuMips, 0),
      "1.0x",
    ]);
  }
  if (paravm?.best) {
    const b = paravm.best;
    paravmMips = instructions !== null ? instructions / b.stats.wallMs / 1000 : b.stats.mips;
    ratio = qemu ? b.processMs / qemu.bestMs : NaN;
    rows.push([
      "paravm",
      fixed(b.processMs / 1000, 3),
      fixed(b.stats.wallMs / 1000, 3),
      fixed(paravmMips, 1),
      qemu ? `${fixed(ratio, 1)}x` : "-",
    ]);
  } else if (!opts.skipParavm) {
    rows.push(["paravm", "ERROR", "-", "-", "-"]);
  }
  console.log(`\ncpu bench, ${it} iterations, best of ${opts.runs}${instructions !== null ? `, ${group(instructions)} guest instructions` : ""}`);
  console.log(table(["emulator", "wall s", "run s", "guest MIPS", "wall vs QEMU"], rows));
  console.log(
    "  wall s = whole process; run s = guest execution (QEMU: wall minus a zero-iteration run; paravm: --stats wallMs)",
  );

  const mipsOk = paravmMips >= GOAL_MIPS;
  const ratioOk = ratio <= GOAL_RATIO;
  const goalPass = mipsOk && ratioOk;
  console.log(
    `goal: >= ${GOAL_MIPS} MIPS and within ${GOAL_RATIO}x of QEMU wall time: ` +
      (paravm?.best
        ? `${fixed(paravmMips, 1)} MIPS (${mipsOk ? "pass" : "miss"}), ` +
          `${Number.isFinite(ratio) ? `${fixed(ratio, 1)}x` : "no QEMU figure"} (${ratioOk ? "pass" : "miss"}) -> ` +
          (goalPass ? "PASS" : "MISS")
        : "no paravm figure -> MISS"),
  );

  if (opts.json) {
    const file = writeResults("cpu", {
      benchmark: "cpu",
      date: new Date().toISOString(),
      host: { ...host, qemu: toolVersion(QEMU), gcc: gccVersion },
      git: gitInfo(),
      options: opts,
      program: {
        iterations: it,
        cflags: CFLAGS,
        elf: { path: relative(ROOT, elf.path), sha256: elf.sha256, bytes: elf.bytes },
        crc: qemu?.crc ?? paravm?.crc ?? null,
      },
      instructions: {
        used: instructions,
        qemuLoopMinstret: loopQemu,
        qemuLoopIcountMtimeX100: loopIcount,
        paravmWholeProgram: totalParavm,
        paravmLoopMinstret: cc?.instretDelta ?? null,
        consistent: countConsistent,
      },
      qemu: qemu
        ? {
            version: qemu.version,
            runsMs: qemu.runsMs.map(ms),
            bestWallMs: ms(qemu.bestMs),
            startupMs: ms(qemu.startupMs),
            mips: ms(qemuMips),
            icount: qemu.icount ? { ...qemu.icount, wallMs: ms(qemu.icount.wallMs) } : null,
            icountError: qemu.icountError ?? null,
          }
        : { error: qemuError ?? "skipped" },
      paravm: paravm
        ? {
            runs: paravm.runs.map((r) => ({ processMs: ms(r.processMs), stats: r.stats })),
            bestWallMs: paravm.best ? ms(paravm.best.processMs) : null,
            runMs: paravm.best?.stats.wallMs ?? null,
            mips: Number.isFinite(paravmMips) ? ms(paravmMips) : null,
            error: paravm.error,
            countCheckError: paravm.countCheck?.error ?? null,
          }
        : { error: "skipped" },
      ratioWall: Number.isFinite(ratio) ? Math.round(ratio * 100) / 100 : null,
      goal: { mips: GOAL_MIPS, ratio: GOAL_RATIO, mipsOk, ratioOk, pass: goalPass },
    });
    console.log(`results: ${relative(ROOT, file)}`);
  }
  return failed ? 1 : 0;
}

runMain("cpu bench", main);
