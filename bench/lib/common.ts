/**
 * Helpers shared by the benchmarks: running a child process with a timeout and a wall
 * clock, host facts for the results file, writing results, formatting numbers.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file runs as dist/bench/lib/common.js). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export interface ProcResult {
  /** Exit status, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Host wall time from spawn to exit, in milliseconds. */
  wallMs: number;
  timedOut: boolean;
  /** Set when the process could not be started at all (e.g. ENOENT). */
  spawnError?: string;
}

const OUTPUT_CAP = 4 << 20;

/** Runs a command to completion (stdin closed), keeping at most 4 MiB of each stream. */
export function runProcess(
  cmd: string,
  args: readonly string[],
  opts: { timeoutMs: number; cwd?: string },
): Promise<ProcResult> {
  return new Promise((resolvePromise) => {
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    let exitedAt = 0;
    const start = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (s: string) => {
      if (stdout.length < OUTPUT_CAP) stdout += s;
    });
    child.stderr.on("data", (s: string) => {
      if (stderr.length < OUTPUT_CAP) stderr += s;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs);
    child.on("exit", () => {
      exitedAt = performance.now();
    });
    child.on("error", (err) => {
      clearTimeout(timer);
      resolvePromise({
        code: null,
        signal: null,
        stdout,
        stderr,
        wallMs: performance.now() - start,
        timedOut: false,
        spawnError: err.message,
      });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({
        code,
        signal,
        stdout,
        stderr,
        wallMs: (exitedAt || performance.now()) - start,
        timedOut,
      });
    });
  });
}

/** First line of `cmd --version`, or null when the tool is missing. */
export function toolVersion(cmd: string, args: readonly string[] = ["--version"]): string | null {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.error || r.status !== 0) return null;
  return (r.stdout.split("\n")[0] ?? "").trim();
}

export interface HostInfo {
  cpuModel: string;
  cpuCount: number;
  totalMemGiB: number;
  platform: string;
  release: string;
  arch: string;
  node: string;
  loadAvg: number[];
}

export function hostInfo(): HostInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? "unknown",
    cpuCount: cpus.length,
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: os.platform(),
    release: os.release(),
    arch: os.arch(),
    node: process.version,
    loadAvg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/** The checked-out commit and whether the tree has local changes (read-only git). */
export function gitInfo(): { commit: string | null; dirty: boolean | null } {
  const head = spawnSync("git", ["rev-parse", "HEAD"], { cwd: ROOT, encoding: "utf8" });
  if (head.error || head.status !== 0) return { commit: null, dirty: null };
  const st = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: ROOT, encoding: "utf8" });
  return { commit: head.stdout.trim(), dirty: st.status === 0 ? st.stdout.trim().length > 0 : null };
}

/** Writes bench/results/<name>-<YYYY-MM-DDTHH-MM-SS>.json and returns its path. */
export function writeResults(name: string, data: unknown, when = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  const stamp =
    `${when.getFullYear()}-${p(when.getMonth() + 1)}-${p(when.getDate())}` +
    `T${p(when.getHours())}-${p(when.getMinutes())}-${p(when.getSeconds())}`;
  const dir = join(ROOT, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${stamp}.json`);
  writeFileSync(file, JSON.stringify(data, null, 2) + "\n");
  return file;
}

/** 1234567 -> "1,234,567". */
export function group(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

export function fixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "-";
}

/** A plain text table: columns right-aligned except the first. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** The last `n` non-empty lines of a text, indented, for error reports. */
export function tail(text: string, n: number, indent = "    "): string {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  return lines
    .slice(-n)
    .map((l) => indent + l)
    .join("\n");
}

/** `--help` for a bench script: print the script's header comment (its usage) and exit. */
export function printHeaderHelp(script: string): never {
  const src = readFileSync(join(ROOT, "bench", script), "utf8");
  const doc = /\/\*\*([\s\S]*?)\*\//.exec(src)?.[1] ?? "";
  console.log(doc.replace(/^ ?\* ?/gm, "").trim());
  process.exit(0);
}

/** A whole-number option value, at least `min`; otherwise an error naming the option. */
export function intOption(name: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${v}`);
  return n;
}

/** Run a bench's main: its status becomes the exit code; a crash prints one ERROR line and exits 1. */
export function runMain(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.log(`${name}: ERROR ${(e as Error).message ?? String(e)}`);
      process.exitCode = 1;
    },
  );
}
