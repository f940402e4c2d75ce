/**
 * bench:guest's paravm counting run and its --profile mode: both start
 * bench/lib/guest-count.ts (dist/bench/lib/guest-count.js) as a child process and read
 * what it prints — the guest console (GB-END lines) on stdout, GBCOUNT lines and the
 * run's stats on stderr.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fixed, gitInfo, group, hostInfo, ROOT, table, writeResults } from "./common.js";
import { summarizeProfile, type HotSpot } from "./cpuprofile.js";
import { bootProblem, describeFailure, runBoot } from "./boot-run.js";
import type { GuestImages } from "./iobench.js";
import { parseGuestRuns, type GuestRun, type Workload } from "./guest-workloads.js";

const COUNTER = join(ROOT, "dist", "bench", "lib", "guest-count.js");
const PROF_DIR = join(ROOT, "build", "bench", "prof");

export interface CountedRun extends GuestRun {
  /** Guest instructions between the run's GB-BEGIN and GB-END lines. */
  instret: number;
  /** Host ms between the two lines, in the counting process. */
  hostMs: number;
}

export interface CountRun {
  runs: CountedRun[];
  /** The counting run's own stats line ({instructions, wallMs, stop}). */
  stats: Record<string, unknown> | null;
  processMs: number;
  error: string | null;
}

const GBCOUNT = /^GBCOUNT (\{.*\})\s*$/;

/** The GB-END lines of stdout joined with the GBCOUNT lines of stderr (by name and run). */
function joinCounts(stdout: string, stderr: string): { runs: CountedRun[]; stats: Record<string, unknown> | null } {
  const counts = new Map<string, { instret: number; hostMs: number }>();
  let stats: Record<string, unknown> | null = null;
  for (const line of stderr.split(/\r?\n/)) {
    const m = GBCOUNT.exec(line);
    try {
      if (m) {
        const o = JSON.parse(m[1]!) as { name: string; run: number; instret: number; hostMs: number };
        counts.set(`${o.name} ${o.run}`, { instret: o.instret, hostMs: o.hostMs });
      } else if (line.startsWith("{")) {
        const o = JSON.parse(line) as Record<string, unknown>;
        if (typeof o["instructions"] === "number") stats = o;
      }
    } catch {
      // not one of ours
    }
  }
  const runs: CountedRun[] = [];
  for (const r of parseGuestRuns(stdout)) {
    const c = counts.get(`${r.name} ${r.run}`);
    if (c) runs.push({ ...r, ...c });
  }
  return { runs, stats };
}

function counterArgs(g: GuestImages, disk: string, extra: string[] = []): string[] {
  return [COUNTER, "--kernel", g.kernel.path, "--initrd", g.initrd.path, "--disk", disk, ...extra];
}

/** One boot of the counting process over `disk` (the script with one run of each workload). */
export async function countRun(g: GuestImages, disk: string, timeoutMs: number, nodeFlags: string[] = [], extra: string[] = []): Promise<CountRun> {
  if (!existsSync(COUNTER)) return { runs: [], stats: null, processMs: 0, error: `${relative(ROOT, COUNTER)} not found (run tsc)` };
  const env = { ...process.env };
  const r = await runBoot(process.execPath, [...nodeFlags, ...counterArgs(g, disk, extra)], env, timeoutMs);
  const { runs, stats } = joinCounts(r.stdout, r.stderr);
  let problem = bootProblem(r, "the counting process");
  if (problem === null && runs.length === 0) problem = "no counted workload runs (GB-END + GBCOUNT)";
  if (problem === null && runs.some((x) => x.status !== 0)) problem = "a workload exited non-zero";
  for (const x of runs)
    console.log(`    count ${x.name}: ${group(x.instret)} instructions in ${fixed(x.seconds, 2)} s (${fixed(x.instret / x.seconds / 1e6, 1)} MIPS)`);
  return { runs, stats, processMs: r.processMs, error: problem === null ? null : describeFailure(r, problem) };
}

/**
 * `--profile NAME`: the counting process with the V8 CPU profiler running from the first
 * GB-BEGIN of `w` to its last GB-END (`runs` runs), then the top functions and lines.
 */
export async function profileRun(
  g: GuestImages,
  w: Workload,
  runs: number,
  scale: number,
  timeoutMs: number,
  json: boolean,
  writeScriptDisk: (ws: readonly Workload[], runs: number, scale: number) => { path: string; sha256: string },
): Promise<number> {
  mkdirSync(PROF_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const out = join(PROF_DIR, `guest-${w.name}-${stamp}.cpuprofile`);
  const disk = writeScriptDisk([w], runs, scale);
  console.log(`profiling paravm on ${w.name} (${w.what}), ${runs} run(s), scale ${scale}: counting process under the V8 CPU profiler`);
  const c = await countRun(g, disk.path, timeoutMs, [], ["--prof-workload", w.name, "--prof-runs", String(runs), "--prof-out", out]);
  if (c.error) {
    console.log(`paravm: run FAILED — ${c.error}`);
    return 1;
  }
  if (!existsSync(out)) {
    console.log("no .cpuprofile was written");
    return 1;
  }
  const s = summarizeProfile(out, ROOT, 15);
  const insns = c.runs.reduce((a, r) => a + r.instret, 0);
  const secs = c.runs.reduce((a, r) => a + r.seconds, 0);
  const rows = (list: HotSpot[], withName: boolean) =>
    list.map((h) => [withName ? h.name : h.location, fixed(h.selfMs, 1), fixed(h.percent, 1), withName ? h.location : h.name]);
  console.log(`\nprofile ${relative(ROOT, out)}: ${group(s.samples)} samples, ${fixed(s.totalMs / 1000, 2)} s; ${group(insns)} guest instructions in ${fixed(secs, 2)} guest s (${fixed(insns / secs / 1e6, 1)} MIPS under the profiler)`);
  console.log("\ntop 15 functions by self time");
  console.log(table(["function", "self ms", "%", "where"], rows(s.functions, true)));
  if (s.lines.length > 0) {
    console.log("\ntop 15 source lines by self time");
    console.log(table(["line", "self ms", "%", "function"], rows(s.lines, false)));
  }
  console.log("\n(open the .cpuprofile in Chrome DevTools > Performance, or VS Code, for the call tree)");
  if (json) {
    const file = writeResults("guest-profile", {
      benchmark: "guest-profile",
      date: new Date().toISOString(),
      host: hostInfo(),
      git: gitInfo(),
      workload: { name: w.name, what: w.what, runs, scale },
      guest: { dir: g.dir, kernel: g.kernel, initrd: g.initrd },
      runs: c.runs,
      stats: c.stats,
      profile: { file: relative(ROOT, out), ...s },
    });
    console.log(`results: ${relative(ROOT, file)}`);
  }
  return 0;
}
