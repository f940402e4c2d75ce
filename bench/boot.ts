/**
 * Boot benchmark: the same kernel Image + initramfs booted to a `paravm.exec` command
 * that runs `true`, on paravm (pv machine, the hypervisor is the SBI) and on
 * `qemu-system-riscv64 -M virt` with Debian's OpenSBI fw_jump.bin, in the same run.
 * Prints wall time to the guest's PARAVM-EXIT-STATUS line and to process exit (best and
 * median), paravm's guest instructions and exits per reason, the ratio paravm/QEMU and
 * the goal (paravm within 10x of QEMU). A PARAVM_JIT=0 row (interpreter only) shows
 * what the block compiler costs or saves during boot.
 *
 *   npm run bench:boot [-- options]      (or: node dist/bench/boot.js [options])
 *
 * Options:
 *   --runs N           timed runs of QEMU and of paravm (JIT on), default 3
 *   --interp-runs N    timed runs of paravm with PARAVM_JIT=0, default 1 (0 = skip)
 *   --command CMD      what the guest runs (default "true")
 *   --guest-dir DIR    directory with Image and initramfs.cpio.gz (default: the one
 *                      `scripts/build-guests.mjs --print-dir` names, else the newest
 *                      complete one in ~/.cache/paravm)
 *   --timeout-s S      kill a run after this long (default 600)
 *   --skip-qemu / --skip-paravm
 *   --profile          only profile paravm: one boot under `node --cpu-prof`, then the
 *                      top 15 functions and source lines by self time (build/bench/prof/)
 *   --no-json          do not write bench/results/boot-<date>.json
 */
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { fixed, gitInfo, group, hostInfo, ROOT, table, tail, toolVersion, writeResults, intOption, printHeaderHelp, runMain } from "./lib/common.js";
import { findGuest, type GuestImages } from "./lib/iobench.js";
import { summarizeProfile, type HotSpot } from "./lib/cpuprofile.js";
import { bootProblem, describeFailure, OPENSBI, paravmArgs, PARAVM_BIN, QEMU, qemuArgs, runBoot, type BootRun } from "./lib/boot-run.js";

const PROF_DIR = join(ROOT, "build", "bench", "prof");
const GOAL_RATIO = 10;
const ms = (x: number): number => Math.round(x * 10) / 10;

interface Options {
  runs: number;
  interpRuns: number;
  command: string;
  guestDir: string | null;
  timeoutS: number;
  skipQemu: boolean;
  skipParavm: boolean;
  profile: boolean;
  json: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "3" },
      "interp-runs": { type: "string", default: "1" },
      command: { type: "string", default: "true" },
      "guest-dir": { type: "string" },
      "timeout-s": { type: "string", default: "600" },
      "skip-qemu": { type: "boolean", default: false },
      "skip-paravm": { type: "boolean", default: false },
      profile: { type: "boolean", default: false },
      "no-json": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) printHeaderHelp("boot.ts");
  const int = intOption;
  return {
    runs: int("runs", values.runs, 1),
    interpRuns: int("interp-runs", values["interp-runs"], 0),
    command: values.command ?? "true",
    guestDir: values["guest-dir"] ?? null,
    timeoutS: int("timeout-s", values["timeout-s"], 1),
    skipQemu: values["skip-qemu"] ?? false,
    skipParavm: values["skip-paravm"] ?? false,
    profile: values.profile ?? false,
    json: !(values["no-json"] ?? false),
  };
}

// ---------------------------------------------------------------- guest images

// findGuest (bench/lib/iobench.ts): --guest-dir, else build-guests' dir for the current inputs, else the newest built one.

// ---------------------------------------------------------------- paravm stats

interface PvStats {
  stop: string | null;
  instructions: number;
  instructionsByPrivilege: Record<string, number> | null;
  /** The VM's own run time (after node start-up and image loading). */
  wallMs: number;
  exits: Record<string, number>;
  /** The whole line, for fields this bench does not know yet. */
  raw: Record<string, unknown>;
}

/** The last stderr line that is a JSON object with numeric instructions and wallMs. */
function parseStats(stderr: string): PvStats | null {
  for (const line of stderr.split(/\r?\n/).reverse()) {
    const t = line.trim();
    if (!t.startsWith("{")) continue;
    try {
      const o = JSON.parse(t) as Record<string, unknown>;
      if (typeof o["instructions"] !== "number" || typeof o["wallMs"] !== "number") continue;
      const exits: Record<string, number> = {};
      const e = o["exits"];
      if (e && typeof e === "object") {
        for (const [k, v] of Object.entries(e as Record<string, unknown>)) if (typeof v === "number") exits[k] = v;
      }
      const byPriv = o["instructionsByPrivilege"];
      return {
        stop: typeof o["stop"] === "string" ? o["stop"] : null,
        instructions: o["instructions"],
        instructionsByPrivilege: byPriv && typeof byPriv === "object" ? (byPriv as Record<string, number>) : null,
        wallMs: o["wallMs"],
        exits,
        raw: o,
      };
    } catch {
      // not the stats line
    }
  }
  return null;
}

// ---------------------------------------------------------------- the three rows

interface Row {
  name: string;
  runs: BootRun[];
  stats: (PvStats | null)[];
  error: string | null;
  /** Runs that reached the guest's exit line but had a problem afterwards. */
  warnings: string[];
}

const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const best = (xs: number[]): number => (xs.length ? Math.min(...xs) : NaN);

async function runRow(
  name: string,
  n: number,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  isParavm: boolean,
  timeoutMs: number,
): Promise<Row> {
  const row: Row = { name, runs: [], stats: [], error: null, warnings: [] };
  for (let i = 0; i < n; i++) {
    const r = await runBoot(cmd, args, env, timeoutMs);
    const stats = isParavm ? parseStats(r.stderr) : null;
    let problem = bootProblem(r, name) ?? (isParavm && !stats ? "no --stats JSON line on stderr" : null);
    // paravm: a boot that reached the exit line with status 0 still counts when only the
    // stats line or the process exit went wrong (the CLI is developed in parallel); noted.
    if (problem && isParavm && !r.timedOut && r.exitLineMs !== null && r.guestStatus === 0) {
      const err = tail(r.stderr.split(/\r?\n/).filter((l) => !l.trim().startsWith("{")).join("\n"), 1, "");
      const warning = `${problem}${err ? `: ${err.trim()}` : ""}`;
      row.warnings.push(`run ${i + 1}: ${warning}`);
      console.log(`  ${name} run ${i + 1}/${n}: WARNING ${warning} (timing kept)`);
      problem = null;
    }
    if (problem) {
      row.error = describeFailure(r, problem);
      console.log(`  ${name} run ${i + 1}/${n}: FAILED — ${problem}`);
      break;
    }
    r.stdout = "";
    r.stderr = "";
    row.runs.push(r);
    row.stats.push(stats);
    console.log(
      `  ${name} run ${i + 1}/${n}: exit line ${fixed((r.exitLineMs as number) / 1000, 3)} s, ` +
        `process ${fixed(r.processMs / 1000, 3)} s` +
        (stats
          ? ` (VM ${fixed(stats.wallMs / 1000, 3)} s, ${group(stats.instructions)} instructions, ` +
            `${fixed(stats.instructions / Math.max(1, stats.wallMs) / 1000, 1)} MIPS)`
          : ""),
    );
  }
  return row;
}

function summarize(row: Row) {
  const exitLine = row.runs.map((r) => r.exitLineMs as number);
  const proc = row.runs.map((r) => r.processMs);
  const stats = row.stats.filter((s): s is PvStats => s !== null);
  const vm = stats.map((s) => s.wallMs);
  const insns = stats.map((s) => s.instructions);
  return {
    runs: row.runs.length,
    exitLineBestMs: best(exitLine),
    exitLineMedianMs: median(exitLine),
    processBestMs: best(proc),
    processMedianMs: median(proc),
    vmBestMs: best(vm),
    vmMedianMs: median(vm),
    instructionsMedian: median(insns),
    mipsMedian: median(stats.map((s) => s.instructions / Math.max(1, s.wallMs) / 1000)),
  };
}

// ---------------------------------------------------------------- profile

async function profileParavm(opts: Options, g: GuestImages): Promise<number> {
  if (!existsSync(PARAVM_BIN)) {
    console.log(`paravm: ERROR ${relative(ROOT, PARAVM_BIN)} not found`);
    return 1;
  }
  mkdirSync(PROF_DIR, { recursive: true });
  const before = new Set(readdirSync(PROF_DIR));
  const env = { ...process.env };
  console.log(
    `profiling: node --cpu-prof ${relative(ROOT, PARAVM_BIN)} run --exec ${JSON.stringify(opts.command)} --stats` +
      (env["PARAVM_JIT"] === "0" ? "  (PARAVM_JIT=0)" : ""),
  );
  const r = await runBoot(
    process.execPath,
    ["--cpu-prof", "--cpu-prof-dir", PROF_DIR, ...paravmArgs(g, opts.command)],
    env,
    opts.timeoutS * 1000,
  );
  const stats = parseStats(r.stderr);
  const problem = bootProblem(r, "paravm");
  if (problem) console.log(`paravm: run FAILED — ${describeFailure(r, problem)}`);
  else
    console.log(
      `paravm (under the profiler): exit line ${fixed((r.exitLineMs as number) / 1000, 2)} s, process ${fixed(r.processMs / 1000, 2)} s` +
        (stats ? `, ${group(stats.instructions)} instructions, VM ${fixed(stats.wallMs / 1000, 2)} s` : ""),
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
    list.map((h) => [withName ? h.name : h.location, fixed(h.selfMs, 1), fixed(h.percent, 1), withName ? h.location : h.name]);
  console.log(`\nprofile ${relative(ROOT, newest)}: ${group(s.samples)} samples, ${fixed(s.totalMs / 1000, 2)} s`);
  console.log("\ntop 15 functions by self time");
  console.log(table(["function", "self ms", "%", "where"], rows(s.functions, true)));
  if (s.lines.length > 0) {
    console.log("\ntop 15 source lines by self time");
    console.log(table(["line", "self ms", "%", "function"], rows(s.lines, false)));
  }
  console.log("\n(open the .cpuprofile in Chrome DevTools > Performance, or VS Code, for the call tree)");
  if (opts.json) {
    const file = writeResults("boot-profile", {
      benchmark: "boot-profile",
      date: new Date().toISOString(),
      host: hostInfo(),
      git: gitInfo(),
      options: opts,
      jit: env["PARAVM_JIT"] !== "0",
      guest: { dir: g.dir, kernel: g.kernel, initrd: g.initrd },
      run: {
        exitLineMs: r.exitLineMs === null ? null : ms(r.exitLineMs),
        processMs: ms(r.processMs),
        error: problem,
        stats: stats?.raw ?? null,
      },
      profile: { file: relative(ROOT, newest), ...s },
    });
    console.log(`results: ${relative(ROOT, file)}`);
  }
  return problem ? 1 : 0;
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const opts = parseOptions();
  const g = findGuest(opts.guestDir);
  if (opts.profile) return profileParavm(opts, g);

  const host = hostInfo();
  const qemuVersion = toolVersion(QEMU);
  console.log(
    `boot bench: boot to \`${opts.command}\` via paravm.exec, ${opts.runs} run(s) each` +
      (opts.interpRuns > 0 && !opts.skipParavm ? `, ${opts.interpRuns} with PARAVM_JIT=0` : ""),
  );
  console.log(`guest: ${g.dir}  (${g.how})`);
  console.log(`host: ${host.cpuModel} x${host.cpuCount}, node ${host.node}, load ${host.loadAvg.join(" ")}`);

  const timeoutMs = opts.timeoutS * 1000;
  let failed = false;
  const rows: Row[] = [];

  let qemu: Row | null = null;
  if (!opts.skipQemu) {
    if (qemuVersion === null) qemu = { name: "QEMU", runs: [], stats: [], error: `${QEMU} not found`, warnings: [] };
    else if (!existsSync(OPENSBI)) qemu = { name: "QEMU", runs: [], stats: [], error: `${OPENSBI} not found`, warnings: [] };
    else qemu = await runRow("QEMU", opts.runs, QEMU, qemuArgs(g, opts.command), process.env, false, timeoutMs);
    rows.push(qemu);
  }

  let pv: Row | null = null;
  let interp: Row | null = null;
  if (!opts.skipParavm) {
    if (!existsSync(PARAVM_BIN)) pv = { name: "paravm", runs: [], stats: [], error: `${relative(ROOT, PARAVM_BIN)} not found`, warnings: [] };
    else {
      const jitEnv = { ...process.env };
      delete jitEnv["PARAVM_JIT"];
      pv = await runRow("paravm", opts.runs, process.execPath, paravmArgs(g, opts.command), jitEnv, true, timeoutMs);
      if (opts.interpRuns > 0)
        interp = await runRow(
          "paravm PARAVM_JIT=0",
          opts.interpRuns,
          process.execPath,
          paravmArgs(g, opts.command),
          { ...process.env, PARAVM_JIT: "0" },
          true,
          timeoutMs,
        );
    }
    rows.push(pv);
    if (interp) rows.push(interp);
  }
  for (const r of rows) {
    if (r.error) {
      failed = true;
      console.log(`${r.name}: ERROR ${r.error}`);
    }
  }

  // ---- wall times
  const sums = new Map(rows.map((r) => [r.name, summarize(r)]));
  const q = qemu ? sums.get(qemu.name) : undefined;
  const ratioOf = (a: number, b: number | undefined): number => (b !== undefined && b > 0 ? a / b : NaN);
  const timeRows = rows.map((r) => {
    const s = sums.get(r.name)!;
    if (s.runs === 0) return [r.name, "0", "ERROR", "-", "-", "-", "-", "-", "-", "-"];
    const isQ = r === qemu;
    return [
      r.name,
      String(s.runs),
      fixed(s.exitLineBestMs / 1000, 3),
      fixed(s.exitLineMedianMs / 1000, 3),
      fixed(s.processBestMs / 1000, 3),
      fixed(s.processMedianMs / 1000, 3),
      isQ ? "-" : fixed(s.vmMedianMs / 1000, 3),
      isQ || !Number.isFinite(s.instructionsMedian) ? "-" : group(s.instructionsMedian),
      isQ ? "-" : fixed(s.mipsMedian, 1),
      isQ ? "1.0x" : q && q.runs ? `${fixed(ratioOf(s.processBestMs, q.processBestMs), 1)}x` : "-",
    ];
  });
  console.log(`\nboot to \`${opts.command}\` and power-off (seconds)`);
  console.log(
    table(
      ["emulator", "runs", "exit line best", "median", "process best", "median", "VM run (med)", "guest insns", "MIPS", "vs QEMU"],
      timeRows,
    ),
  );
  console.log(
    "  exit line = spawn to the guest's PARAVM-EXIT-STATUS line; process = spawn to process exit;\n" +
      "  VM run = paravm --stats wallMs (boot without node start-up and image loading); vs QEMU = best process / best process",
  );

  // ---- exits
  const pvStats = pv?.stats.find((s): s is PvStats => s !== null) ?? null;
  let exitsTop: [string, number][] = [];
  let exitsTotal = 0;
  if (pvStats) {
    const entries = Object.entries(pvStats.exits).sort((a, b) => b[1] - a[1]);
    exitsTotal = entries.reduce((a, [, n]) => a + n, 0);
    exitsTop = entries.slice(0, 15);
    console.log(`\nparavm exits per reason (first run; ${group(exitsTotal)} in all, ${entries.length} reasons)`);
    console.log(
      table(
        ["reason", "count", "per M insns"],
        exitsTop.map(([k, n]) => [k, group(n), fixed((n / pvStats.instructions) * 1e6, 2)]),
      ),
    );
    if (pvStats.instructionsByPrivilege)
      console.log(
        "  guest instructions by privilege: " +
          Object.entries(pvStats.instructionsByPrivilege)
            .map(([k, v]) => `${k} ${group(v)}`)
            .join(", "),
      );
  }

  // ---- goal
  const pvSum = pv ? sums.get(pv.name) : undefined;
  const interpSum = interp ? sums.get(interp.name) : undefined;
  const ratioBest = pvSum && q ? ratioOf(pvSum.processBestMs, q.processBestMs) : NaN;
  const ratioMedian = pvSum && q ? ratioOf(pvSum.processMedianMs, q.processMedianMs) : NaN;
  const ratioExitLine = pvSum && q ? ratioOf(pvSum.exitLineBestMs, q.exitLineBestMs) : NaN;
  const ratioInterp = interpSum && q ? ratioOf(interpSum.processBestMs, q.processBestMs) : NaN;
  const goalPass = ratioBest <= GOAL_RATIO;
  console.log(
    `\ngoal: paravm within ${GOAL_RATIO}x of QEMU (best process wall): ` +
      (Number.isFinite(ratioBest)
        ? `${fixed(ratioBest, 1)}x (median ${fixed(ratioMedian, 1)}x, to the exit line ${fixed(ratioExitLine, 1)}x) -> ${goalPass ? "PASS" : "MISS"}`
        : "no figure -> MISS"),
  );
  if (Number.isFinite(ratioInterp))
    console.log(`  interpreter only (PARAVM_JIT=0): ${fixed(ratioInterp, 1)}x of QEMU -> ${ratioInterp <= GOAL_RATIO ? "within" : "outside"} the goal`);
  if (pvSum && pvSum.runs > 0 && pvStats) {
    const startup = pvSum.processMedianMs - pvSum.vmMedianMs;
    console.log(
      `  where paravm's time goes (median): node start-up + image load + exit ${fixed(startup / 1000, 2)} s, ` +
        `guest execution ${fixed(pvSum.vmMedianMs / 1000, 2)} s at ${fixed(pvSum.mipsMedian, 1)} MIPS, ` +
        `${group(exitsTotal)} exits (${fixed((exitsTotal / pvStats.instructions) * 1e6, 1)} per M insns)`,
    );
    if (Number.isFinite(q?.processBestMs ?? NaN))
      console.log(
        `  to be within ${GOAL_RATIO}x, paravm must boot in <= ${fixed(((q?.processBestMs ?? 0) * GOAL_RATIO) / 1000, 2)} s: ` +
          `${fixed(pvSum.instructionsMedian / 1e6, 1)} M guest insns need >= ` +
          `${fixed(pvSum.instructionsMedian / Math.max(1, (q?.processBestMs ?? 0) * GOAL_RATIO - startup) / 1000, 1)} MIPS`,
      );
  }

  if (opts.json) {
    const rowJson = (r: Row | null) =>
      r === null
        ? { error: "skipped" }
        : {
            error: r.error,
            warnings: r.warnings,
            ...Object.fromEntries(Object.entries(sums.get(r.name)!).map(([k, v]) => [k, Number.isFinite(v) ? ms(v) : null])),
            runs: r.runs.map((x, i) => ({
              exitLineMs: x.exitLineMs === null ? null : ms(x.exitLineMs),
              processMs: ms(x.processMs),
              stats: r.stats[i]?.raw ?? null,
            })),
          };
    const file = writeResults("boot", {
      benchmark: "boot",
      date: new Date().toISOString(),
      host: { ...host, qemu: qemuVersion, opensbi: OPENSBI },
      git: gitInfo(),
      options: opts,
      guest: { dir: g.dir, how: g.how, kernel: g.kernel, initrd: g.initrd, command: opts.command },
      qemu: { args: qemuArgs(g, opts.command), ...rowJson(qemu) },
      paravm: rowJson(pv),
      paravmInterpreter: rowJson(interp),
      exits: { total: exitsTotal, top: Object.fromEntries(exitsTop) },
      ratio: {
        processBest: Number.isFinite(ratioBest) ? Math.round(ratioBest * 100) / 100 : null,
        processMedian: Number.isFinite(ratioMedian) ? Math.round(ratioMedian * 100) / 100 : null,
        exitLineBest: Number.isFinite(ratioExitLine) ? Math.round(ratioExitLine * 100) / 100 : null,
        interpreterProcessBest: Number.isFinite(ratioInterp) ? Math.round(ratioInterp * 100) / 100 : null,
      },
      goal: { ratio: GOAL_RATIO, pass: goalPass },
    });
    console.log(`results: ${relative(ROOT, file)}`);
  }
  return failed ? 1 : 0;
}

runMain("boot bench", main);
