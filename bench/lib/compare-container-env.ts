/**
 * The container column's surroundings: one `paravm serve` in the run's work directory, its
 * host VM (pv, with a scratch raw disk the disk rows hand to a container), the REST API
 * and the `paravm container …` command line against it, each with a timeout, and the
 * guest scripts and parsers of the rows that are not the shared work script. The rows
 * themselves are in compare-container.ts.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, PARAVM_BIN } from "../../src/control/client/daemon-harness.js";
import type { CompareOptions } from "./compare-rows.js";

const MIB = 1024 * 1024;

export const ENV = {
  /** The host VM every container of the column runs in (not the daemon's default, so its size is ours). */
  HOST_VM: "cmp-host",
  /** vCPUs of the host VM: the daemon's default container host has two. */
  HOST_CPUS: 2,
  /** The least RAM of the host VM (the daemon's default container host has 256 MiB). */
  HOST_MIN_MIB: 256,
  /** Scratch disk beyond the disk rows' dd size, MiB. */
  DISK_SLACK_MIB: 4,
  /** The scratch disk as the host's guest names it (the pv disk is virtio-blk). */
  GUEST_DISK: "/dev/vda",
  /** How long the daemon may take to answer /healthz. */
  READY_MS: 30_000,
  POLL_MS: 100,
  /** SIGTERM to the daemon (it stops its VMs), then SIGKILL after this. */
  STOP_GRACE_MS: 10_000,
  /** An idle container's PID 1: a sleep that outlives any run of the column. */
  IDLE_CMD: ["sleep", "1000000"],
  NET_PORT: 5000,
} as const;

/** The host VM as a fleet-file entry for POST /vms: big enough for the density row's memory.max, with the scratch disk. */
export function hostVmEntry(o: Pick<CompareOptions, "densityBudgetMib" | "memMib">, diskPath: string): Record<string, unknown> {
  const mib = Math.max(ENV.HOST_MIN_MIB, o.densityBudgetMib, o.memMib);
  return { name: ENV.HOST_VM, profile: "pv", cpus: ENV.HOST_CPUS, mem: `${mib}M`, disks: [{ path: diskPath }], start: true };
}

export interface RunFlags {
  readonly name?: string;
  readonly detach?: boolean;
  readonly rm?: boolean;
  readonly memMaxMib?: number;
  readonly devices?: readonly string[];
}

/** `paravm container run` arguments in the host VM, always on the bridge network (the library's default, said explicitly). */
export function runArgs(f: RunFlags, cmd: readonly string[]): string[] {
  const a = ["container", "run", "--host", ENV.HOST_VM, "--net", "bridge"];
  if (f.name !== undefined) a.push("--name", f.name);
  if (f.detach === true) a.push("-d");
  if (f.rm === true) a.push("--rm");
  if (f.memMaxMib !== undefined) a.push("--mem-max", `${f.memMaxMib}M`);
  for (const d of f.devices ?? []) a.push("--device", d);
  return [...a, "--", ...cmd];
}

/** A name unique to this run: [a-z0-9-], at most 32 characters, as the API wants. */
export const uniqueName = (prefix: string, i: number): string => `${prefix}-${randomBytes(3).toString("hex")}-${i}`;

// ---------------------------------------------------------------- guest scripts

/** One dd with direct I/O on the raw device, as rowDefs says; a read drops the guest's caches first. */
export function diskScript(op: "write" | "read", dev: string, mib: number): string {
  const dd = op === "read" ? `dd if=${dev} of=/dev/null bs=1M count=${mib} iflag=direct` : `dd if=/dev/zero of=${dev} bs=1M count=${mib} oflag=direct`;
  // A container's root is root in the guest: it may drop the guest's caches; if not, the note says so.
  const pre = op === "read" ? "sync; echo 3 > /proc/sys/vm/drop_caches || echo NO-DROP-CACHES" : "sync";
  return `${pre}; ${dd} 2>&1`;
}

/**
 * The receiver of one TCP transfer: the first byte, then dd times the rest itself (its own
 * summary line is the rate, as the receiver timed it). It waits for one connection.
 */
export const netReceiver = (): string => `nc -l -p ${ENV.NET_PORT} </dev/null | { dd bs=1 count=1 of=/dev/null 2>/dev/null; dd of=/dev/null bs=64k 2>&1; }`;

/** The sender: `mib` MiB of zeros to the receiver, retried until it listens (the two execs start together). */
export function netSender(ip: string, mib: number, tries: number): string {
  return `for i in $(seq ${tries}); do dd if=/dev/zero bs=64k count=${mib * 16} 2>/dev/null | nc -w 2 ${ip} ${ENV.NET_PORT} && break; sleep 1; done; echo SENT-TRY $i`;
}

/** What the receiver counts: every byte but the first, which started its clock. */
export const receivedBytes = (mib: number): number => mib * MIB - 1;

// ---------------------------------------------------------------- figures

/** Host CPU of one idle container, % of a core: the tree's CPU time with them minus without, per container per second. */
export function idleCpuPercent(withS: number, baselineS: number, seconds: number, instances: number): number {
  return ((withS - baselineS) / seconds / instances) * 100;
}

/** Guest RAM a container adds (MemTotal − MemFree, kB) between two readings n containers apart, MiB. */
export const perInstanceMib = (beforeKiB: number, afterKiB: number, n: number): number => (n > 0 ? (afterKiB - beforeKiB) / 1024 / n : NaN);

/**
 * Does the density row stop here, and why: the daemon's tree past the budget, the cap
 * reached, or out of time (the row must not outlast one instance's timeout).
 */
export function densityStop(count: number, rssMib: number, elapsedS: number, o: Pick<CompareOptions, "densityBudgetMib" | "densityCap" | "timeoutS">): "budget" | "cap" | "time" | null {
  if (rssMib > o.densityBudgetMib) return "budget";
  if (count >= o.densityCap) return "cap";
  if (elapsedS > o.timeoutS) return "time";
  return null;
}

/** A refusal from the guest or the daemon that means "no memory left" (the density row's honest stop). */
export const isOutOfMemory = (message: string): boolean => /out of memory|no-capacity|cannot allocate|ENOMEM|No space left|OOM/i.test(message);

// ---------------------------------------------------------------- the daemon

export interface CliRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** ms from spawn until stdout first matched `watch` (null: never). */
  readonly matchedMs: number | null;
  /** ms from spawn until the process exited. */
  readonly ms: number;
}

export interface ContainerView {
  readonly name: string;
  readonly state: string;
  readonly exitStatus: number | null;
  readonly ip: string | null;
  readonly usage: { readonly cpuSeconds: number | null; readonly memBytes: number | null };
}

/** One `paravm serve` for the column: its own state dir under the run's work dir, a free loopback port, a random token. */
export class CmpDaemon {
  private readonly children = new Set<ChildProcess>();
  private readonly onExit = (): void => void this.child.kill("SIGKILL");

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly token: string,
    readonly dir: string,
    readonly logFile: string,
  ) {
    // Should the orchestrator die without cleaning up, the daemon (and its VM) go with it.
    process.once("exit", this.onExit);
  }

  get pid(): number {
    return this.child.pid ?? NaN;
  }

  static async start(workDir: string): Promise<CmpDaemon> {
    const dir = mkdtempSync(join(workDir, "container-"));
    const port = await freePort();
    const token = `cmp-${randomBytes(8).toString("hex")}`;
    const logFile = join(dir, "serve.log");
    const fd = openSync(logFile, "a");
    const child = spawn(process.execPath, [PARAVM_BIN, "serve", "--listen", `127.0.0.1:${port}`, "--token", token, "--state-dir", join(dir, "state")], {
      stdio: ["ignore", fd, fd],
      env: { ...process.env, PARAVM_TOKEN: "" },
    });
    closeSync(fd);
    const d = new CmpDaemon(child, `http://127.0.0.1:${port}`, token, dir, logFile);
    try {
      await d.ready();
    } catch (e) {
      await d.stop();
      throw e;
    }
    return d;
  }

  private async ready(): Promise<void> {
    const t0 = Date.now();
    while (Date.now() - t0 < ENV.READY_MS) {
      if (this.child.exitCode !== null) throw new Error(`paravm serve exited ${this.child.exitCode}: ${this.logTail()}`);
      try {
        // /healthz is outside /api/v1.
        if ((await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(2000) })).ok) return;
      } catch {
        // not listening yet
      }
      await sleep(ENV.POLL_MS);
    }
    throw new Error(`paravm serve did not answer /healthz within ${ENV.READY_MS / 1000} s: ${this.logTail()}`);
  }

  logTail(chars = 400): string {
    try {
      return readFileSync(this.logFile, "utf8").slice(-chars).replace(/\s+/g, " ");
    } catch {
      return "";
    }
  }

  /** One API request; a non-2xx answer rejects with the API's message. */
  async api<T>(method: string, path: string, body: unknown, timeoutMs: number): Promise<T> {
    const r = await fetch(`${this.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await r.text();
    if (!r.ok) {
      let message = text;
      try {
        const j = JSON.parse(text) as { error?: string; message?: string };
        message = `${j.error ?? r.status}: ${j.message ?? text}`;
      } catch {
        // not JSON: the text as it is
      }
      throw new Error(`${method} ${path}: HTTP ${r.status} ${message}`);
    }
    return (text === "" ? null : JSON.parse(text)) as T;
  }

  /** `paravm ARGS` against this daemon, killed after timeoutMs; `watch` stamps when stdout first matches. */
  cli(args: readonly string[], timeoutMs: number, watch?: RegExp): Promise<CliRun> {
    return new Promise((resolve) => {
      const t0 = performance.now();
      const child = spawn(process.execPath, [PARAVM_BIN, ...args], {
        env: { ...process.env, PARAVM_HOST: this.url, PARAVM_TOKEN: this.token },
        stdio: ["ignore", "pipe", "pipe"],
      });
      this.children.add(child);
      let stdout = "";
      let stderr = "";
      let matchedMs: number | null = null;
      child.stdout.setEncoding("utf8").on("data", (s: string) => {
        stdout += s;
        if (matchedMs === null && watch?.test(stdout)) matchedMs = performance.now() - t0;
      });
      child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
      const timer = setTimeout(() => {
        stderr += `\n[killed after ${timeoutMs / 1000} s]`;
        child.kill("SIGKILL");
      }, timeoutMs);
      const done = (status: number | null): void => {
        clearTimeout(timer);
        this.children.delete(child);
        resolve({ status, stdout, stderr, matchedMs, ms: performance.now() - t0 });
      };
      child.on("error", (e) => {
        stderr += String(e);
        done(null);
      });
      child.on("close", done);
    });
  }

  /** SIGTERM (the daemon stops its VM), SIGKILL after the grace; CLI children still running are killed first. */
  async stop(): Promise<void> {
    for (const c of this.children) c.kill("SIGKILL");
    process.off("exit", this.onExit);
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once("exit", () => r()));
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), ENV.STOP_GRACE_MS);
    await exited;
    clearTimeout(t);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
