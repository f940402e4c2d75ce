/**
 * paravm processes for bench:compare's pv and full columns: one `paravm run`/`multi`
 * process with its console on stdin/stdout, the host time at which a pattern first shows
 * on that console, and a kill of the process and its descendants. Every instance has a
 * deadline (the column's timeoutS) and is killed when the bench process exits, so no path
 * (an error, a timeout, Ctrl-C of the orchestrator) leaves a VM behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { ROOT } from "./common.js";
import { processTree } from "./compare-rows.js";

/** How a process ended. */
export interface Ended {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly spawnError?: string;
  /** Spawn to exit, ms. */
  readonly wallMs: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Console output kept per process (a boot prints ~30 KB; a runaway guest must not eat the host). */
const OUTPUT_CAP = 4 << 20;
/** Patterns are looked for in this much of the newest output (a prompt or a marker line is short). */
const MATCH_WINDOW = 4096;

interface Waiter {
  readonly re: RegExp;
  readonly from: number;
  readonly resolve: (atMs: number) => void;
  readonly reject: (err: Error) => void;
}

const live = new Set<Instance>();
let exitHookInstalled = false;

/** The environment of every VM: PARAVM_JIT unset, so the caller's shell cannot change the engine. */
function vmEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env["PARAVM_JIT"];
  return env;
}

/** One paravm process (node `args`), its console captured. */
export class Instance {
  readonly ended: Promise<Ended>;
  private out = "";
  private err = "";
  private readonly start = performance.now();
  private readonly child: ChildProcess;
  private waiters: Waiter[] = [];
  private finished = false;

  constructor(args: readonly string[], timeoutMs: number, stdin: "pipe" | "ignore") {
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on("exit", () => {
        for (const i of live) i.killTree();
      });
    }
    this.child = spawn(process.execPath, args, { cwd: ROOT, env: vmEnv(), stdio: [stdin, "pipe", "pipe"] });
    live.add(this);
    this.child.stdout?.setEncoding("latin1");
    this.child.stderr?.setEncoding("utf8");
    this.child.stdout?.on("data", (s: string) => this.onStdout(s));
    this.child.stderr?.on("data", (s: string) => {
      if (this.err.length < OUTPUT_CAP) this.err += s;
    });
    // A write to a VM that just died must not crash the bench.
    this.child.stdin?.on("error", () => undefined);
    this.ended = this.watch(timeoutMs);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get stdout(): string {
    return this.out;
  }

  /** Host ms since spawn. */
  elapsedMs(): number {
    return performance.now() - this.start;
  }

  /**
   * Resolves with the host ms since spawn at which `re` matched the console output after
   * offset `from` (checked as each chunk arrives); rejects if the process ends first.
   */
  waitFor(re: RegExp, from = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      const w: Waiter = { re, from, resolve, reject };
      if (this.matches(w)) resolve(this.elapsedMs());
      else if (this.finished) reject(new Error(this.endedWhy()));
      else this.waiters.push(w);
    });
  }

  /** Types `text` on the console. */
  send(text: string): void {
    this.child.stdin?.write(text);
  }

  /** Kills the process and its descendants and waits for it to be gone. */
  async stop(): Promise<Ended> {
    this.killTree();
    return this.ended;
  }

  /** SIGKILL to the process and every descendant (children first found, then killed leaves-first). */
  killTree(): void {
    const pid = this.child.pid;
    if (pid === undefined || this.finished) return;
    for (const p of processTree(pid).reverse()) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }

  private matches(w: Waiter): boolean {
    return w.re.test(this.out.slice(Math.max(w.from, this.out.length - MATCH_WINDOW)));
  }

  private onStdout(s: string): void {
    if (this.out.length < OUTPUT_CAP) this.out += s;
    if (this.waiters.length === 0) return;
    const at = this.elapsedMs();
    this.waiters = this.waiters.filter((w) => {
      if (!this.matches(w)) return true;
      w.resolve(at);
      return false;
    });
  }

  private endedWhy(): string {
    const last = this.out.trimEnd().split("\n").slice(-2).join(" | ").slice(-200);
    return `the process ended before that output (last console lines: ${last || "none"})`;
  }

  private watch(timeoutMs: number): Promise<Ended> {
    return new Promise((resolve) => {
      let timedOut = false;
      let exitedAt = 0;
      const timer = setTimeout(() => {
        timedOut = true;
        this.killTree();
      }, timeoutMs);
      this.child.on("exit", () => {
        exitedAt = performance.now();
      });
      const done = (code: number | null, signal: NodeJS.Signals | null, spawnError?: string): void => {
        if (this.finished) return;
        this.finished = true;
        clearTimeout(timer);
        live.delete(this);
        for (const w of this.waiters) w.reject(new Error(timedOut ? "timed out" : this.endedWhy()));
        this.waiters = [];
        resolve({
          code,
          signal,
          timedOut,
          ...(spawnError !== undefined ? { spawnError } : {}),
          wallMs: (exitedAt || performance.now()) - this.start,
          stdout: this.out,
          stderr: this.err,
        });
      };
      this.child.on("error", (e) => done(null, null, e.message));
      this.child.on("close", (code, signal) => done(code, signal));
    });
  }
}

/** Runs a paravm command to its end (stdin closed), killed after `timeoutMs`. */
export function runToEnd(args: readonly string[], timeoutMs: number): Promise<Ended> {
  return new Instance(args, timeoutMs, "ignore").ended;
}

/** Why a finished run does not count (null when it exited 0), with its last console line. */
export function endedProblem(e: Ended): string | null {
  if (e.spawnError !== undefined) return `could not start paravm: ${e.spawnError}`;
  if (e.timedOut) return `timed out after ${Math.round(e.wallMs / 1000)} s`;
  if (e.code === 0) return null;
  const err = e.stderr.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("{")).pop() ?? "";
  const out = e.stdout.trimEnd().split("\n").pop() ?? "";
  return `paravm exited ${e.code ?? e.signal}${err ? `: ${err.trim()}` : out ? ` (console: ${out.trim()})` : ""}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `p`, or a rejection saying what took longer than `ms` (the timer never outlives the race). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
