/**
 * `paravm compare --exec CMD`: the same command on the pv and the full machine, one after
 * the other, each in a `paravm run --stats` child process (a crash or hang in one run
 * cannot take the other down), then the two `--stats` documents side by side.
 * `paravm stats-table A.json B.json …` prints the same table from saved `--stats` lines.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseStatsDoc, sideBySide, type StatsDoc } from "./stats-table.js";

export interface CompareOptions {
  exec: string;
  kernel?: string;
  initrd?: string;
  disk?: string;
  mem?: string;
  cpus?: string;
  timeoutS: number;
}

export interface CompareOutcome {
  readonly table: string;
  readonly docs: StatsDoc[];
  /** The guest's exit status per profile. */
  readonly statuses: (number | null)[];
}

const BIN = fileURLToPath(new URL("../../../bin/paravm.js", import.meta.url));
export const PROFILES = ["pv", "full"] as const;

/** Run CMD under both profiles; throws an Error with the run's output tail when one fails to produce stats. */
export function compareProfiles(opts: CompareOptions, progress: (line: string) => void): CompareOutcome {
  const docs: StatsDoc[] = [];
  const statuses: (number | null)[] = [];
  for (const profile of PROFILES) {
    const args = [BIN, "run", "--profile", profile, "--stats", "--exec", opts.exec];
    if (opts.kernel !== undefined) args.push("--kernel", opts.kernel);
    if (opts.initrd !== undefined) args.push("--initrd", opts.initrd);
    if (opts.disk !== undefined) args.push("--disk", opts.disk);
    if (opts.mem !== undefined) args.push("--mem", opts.mem);
    if (opts.cpus !== undefined) args.push("--cpus", opts.cpus);
    progress(`paravm compare: running on ${profile}…`);
    const r = spawnSync(process.execPath, args, { encoding: "utf8", timeout: opts.timeoutS * 1000, maxBuffer: 64 << 20 });
    const tail = (s: string): string => s.replace(/\r/g, "").trimEnd().split("\n").slice(-15).join("\n");
    if (r.error) throw new Error(`${profile}: ${r.error.message}\n${tail(r.stdout ?? "")}`);
    let doc: StatsDoc;
    try {
      doc = parseStatsDoc(r.stderr, `${profile} run`);
    } catch (e) {
      throw new Error(`${(e as Error).message} (exit status ${r.status})\n${tail(r.stdout)}\n${tail(r.stderr)}`);
    }
    docs.push(doc);
    statuses.push(r.status);
  }
  return { table: sideBySide([...PROFILES], docs), docs, statuses };
}

/** `paravm stats-table FILE…`: each file holds a `--stats` line (the last JSON line is used). */
export function statsTableFromFiles(files: readonly string[]): string {
  const docs = files.map((f) => parseStatsDoc(readFileSync(f, "utf8"), f));
  const labels = docs.map((d, i) => d.profile ?? `#${i + 1}`);
  return sideBySide(labels, docs);
}
