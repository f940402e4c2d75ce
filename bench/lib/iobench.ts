/**
 * Helpers for bench/io.ts: finding the built guest images, running a VM to completion
 * with a timeout, reading paravm's --stats JSON, and reading the figures the guest
 * script prints (IOBENCH lines and busybox dd's "copied, S seconds" line).
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./common.js";

// ---------------------------------------------------------------- guest images

export interface GuestImages {
  dir: string;
  how: string;
  kernel: { path: string; bytes: number; sha256: string };
  initrd: { path: string; bytes: number; sha256: string };
}

const complete = (dir: string): boolean =>
  existsSync(join(dir, "Image")) && existsSync(join(dir, "initramfs.cpio.gz"));

/** The images to boot (bench:boot and bench:io): --guest-dir, else build-guests --print-dir (the current inputs), else the newest complete cache dir. */
export function findGuest(guestDir: string | null): GuestImages {
  let dir: string | null = null;
  let how = "";
  if (guestDir !== null) {
    if (!complete(guestDir)) throw new Error(`--guest-dir ${guestDir} has no Image + initramfs.cpio.gz`);
    dir = guestDir;
    how = "--guest-dir";
  }
  if (dir === null) {
    const r = spawnSync(process.execPath, [join(ROOT, "scripts", "build-guests.mjs"), "--print-dir"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    const printed = (r.stdout ?? "").trim().split("\n").pop()?.trim() ?? "";
    if (r.status === 0 && printed && complete(printed)) {
      dir = printed;
      how = "build-guests --print-dir (current inputs)";
    }
  }
  if (dir === null) {
    const root = process.env["PARAVM_CACHE"] ?? join(homedir(), ".cache", "paravm");
    let best: { d: string; t: number } | null = null;
    try {
      for (const name of readdirSync(root)) {
        const d = join(root, name);
        if (!complete(d)) continue;
        const t = statSync(join(d, "Image")).mtimeMs;
        if (best === null || t > best.t) best = { d, t };
      }
    } catch {
      // no cache dir
    }
    if (best === null) throw new Error("no built guest images found (run: node scripts/build-guests.mjs)");
    dir = best.d;
    how = "newest complete dir in the cache (the current inputs are not built)";
  }
  const describe = (path: string) => {
    const data = readFileSync(path);
    return { path, bytes: data.length, sha256: createHash("sha256").update(data).digest("hex") };
  };
  return { dir, how, kernel: describe(join(dir, "Image")), initrd: describe(join(dir, "initramfs.cpio.gz")) };
}

// ---------------------------------------------------------------- processes

export interface VmRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  spawnError?: string;
  wallMs: number;
  stdout: string;
  stderr: string;
}

const OUTPUT_CAP = 4 << 20;

export interface Spawned {
  done: Promise<VmRun>;
  kill: () => void;
}

/** Starts a VM process (stdin closed); `done` resolves at close. */
export function startVm(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Spawned {
  let stdout = "";
  let stderr = "";
  let timedOut = false;
  let exitedAt = 0;
  const start = performance.now();
  const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.setEncoding("latin1");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (s: string) => {
    if (stdout.length < OUTPUT_CAP) stdout += s;
  });
  child.stderr.on("data", (s: string) => {
    if (stderr.length < OUTPUT_CAP) stderr += s;
  });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  const done = new Promise<VmRun>((resolvePromise) => {
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    child.on("exit", () => {
      exitedAt = performance.now();
    });
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolvePromise({
        code,
        signal,
        timedOut,
        ...(spawnError !== undefined ? { spawnError } : {}),
        wallMs: (exitedAt || performance.now()) - start,
        stdout,
        stderr,
      });
    };
    child.on("error", (err) => finish(null, null, err.message));
    child.on("close", (code, signal) => finish(code, signal));
  });
  return { done, kill };
}

// ---------------------------------------------------------------- paravm stats

export interface PvStats {
  instructions: number;
  wallMs: number;
  exits: Record<string, number>;
  /** disk.requests.* and disk.bytesRead/bytesWritten, flattened ("disk.requests.out"). */
  disk: Record<string, number>;
  /** Sum of harts[].interrupts.* ("irq.external"). */
  interrupts: Record<string, number>;
  raw: unknown;
}

const numbers = (o: unknown, prefix: string, into: Record<string, number>): void => {
  if (!o || typeof o !== "object") return;
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    if (typeof v === "number") into[prefix + k] = (into[prefix + k] ?? 0) + v;
    else if (v && typeof v === "object" && !Array.isArray(v)) numbers(v, `${prefix}${k}.`, into);
  }
};

function statsOf(o: Record<string, unknown>): PvStats | null {
  if (typeof o["instructions"] !== "number" || typeof o["wallMs"] !== "number") return null;
  const exits: Record<string, number> = {};
  numbers(o["exits"], "", exits);
  const disk: Record<string, number> = {};
  const d = o["disk"];
  if (d && typeof d === "object") {
    const dd = d as Record<string, unknown>;
    numbers(dd["requests"], "disk.requests.", disk);
    for (const k of ["bytesRead", "bytesWritten", "ioErrors"]) if (typeof dd[k] === "number") disk[`disk.${k}`] = dd[k] as number;
  }
  const interrupts: Record<string, number> = {};
  if (Array.isArray(o["harts"])) for (const h of o["harts"] as unknown[]) if (h && typeof h === "object") numbers((h as Record<string, unknown>)["interrupts"], "irq.", interrupts);
  return { instructions: o["instructions"], wallMs: o["wallMs"], exits, disk, interrupts, raw: o };
}

/** Adds b into a (per key). */
function addStats(a: PvStats, b: PvStats): PvStats {
  const add = (x: Record<string, number>, y: Record<string, number>) => {
    const r = { ...x };
    for (const [k, v] of Object.entries(y)) r[k] = (r[k] ?? 0) + v;
    return r;
  };
  return {
    instructions: a.instructions + b.instructions,
    wallMs: Math.max(a.wallMs, b.wallMs),
    exits: add(a.exits, b.exits),
    disk: add(a.disk, b.disk),
    interrupts: add(a.interrupts, b.interrupts),
    raw: Array.isArray(a.raw) ? [...(a.raw as unknown[]), b.raw] : [a.raw, b.raw],
  };
}

/**
 * paravm's stats from stderr. `run --stats` prints one JSON object; for `multi` (format
 * not fixed yet) every JSON line with instructions + wallMs counts, and so does every
 * element of an array-valued field of a JSON line (e.g. {"vms":[{...},{...}]}); all of
 * them are summed (wallMs: the largest).
 */
export function parseStats(stderr: string, sumAll = false): PvStats | null {
  const found: PvStats[] = [];
  for (const line of stderr.split(/\r?\n/).reverse()) {
    const t = line.replace(/^[^{]*(?=\{)/, "").trim();
    if (!t.startsWith("{")) continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(t) as Record<string, unknown>;
    } catch {
      continue;
    }
    const s = statsOf(o);
    if (s && !sumAll) return s;
    if (s) {
      found.push(s);
      continue;
    }
    for (const v of Object.values(o)) {
      if (!Array.isArray(v)) continue;
      for (const e of v) if (e && typeof e === "object") {
        const es = statsOf(e as Record<string, unknown>);
        if (es) found.push(es);
      }
    }
    if (found.length > 0 && sumAll) break;
  }
  if (found.length === 0) return null;
  return found.slice(1).reduce(addStats, { ...found[0]!, raw: [found[0]!.raw] });
}

/** b - a for every key of either. */
export function diff(b: Record<string, number>, a: Record<string, number>): Record<string, number> {
  const r: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) r[k] = (b[k] ?? 0) - (a[k] ?? 0);
  return r;
}

export const sum = (o: Record<string, number>): number => Object.values(o).reduce((x, y) => x + y, 0);

// ---------------------------------------------------------------- guest output

export interface GuestFigures {
  /** From `/proc/uptime` before and after (10 ms resolution). */
  uptimeS: number | null;
  /** From busybox dd's "N bytes (...) copied, S seconds" line (microseconds). */
  ddS: number | null;
  ddBytes: number | null;
  status: number | null;
  exitStatus: number | null;
}

/** Reads the IOBENCH line (t0, t1, status) and the IOBENCH-DD lines a bench script prints. */
export function guestFigures(stdout: string, tag = "IOBENCH"): GuestFigures {
  const re = new RegExp(`${tag} t0=([0-9.]+) t1=([0-9.]+) status=(\\d+)`);
  const m = re.exec(stdout);
  const dd = new RegExp(`${tag}-DD (\\d+) bytes \\([^)]*\\) copied, ([0-9.]+) seconds`).exec(stdout);
  const ex = /PARAVM-EXIT-STATUS=(\d+)/.exec(stdout);
  return {
    uptimeS: m ? Number(m[2]) - Number(m[1]) : null,
    status: m ? Number(m[3]) : null,
    ddBytes: dd ? Number(dd[1]) : null,
    ddS: dd ? Number(dd[2]) : null,
    exitStatus: ex ? Number(ex[1]) : null,
  };
}

export const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/**
 * `paravm multi --stats`: one JSON line {"vms":{"a":{...},"b":{...}},"networks":{...}}.
 * Returns the per-VM stats summed (wallMs: the largest; raw: the whole document) and the
 * per-VM ones, or null when there is no such line.
 */
export function parseMultiStats(stderr: string): { total: PvStats; perVm: Record<string, PvStats>; networks: unknown } | null {
  for (const line of stderr.split(/\r?\n/).reverse()) {
    const t = line.trim();
    if (!t.startsWith("{")) continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(t) as Record<string, unknown>;
    } catch {
      continue;
    }
    const vms = o["vms"];
    if (!vms || typeof vms !== "object" || Array.isArray(vms)) continue;
    const perVm: Record<string, PvStats> = {};
    for (const [name, v] of Object.entries(vms as Record<string, unknown>)) {
      const s = v && typeof v === "object" ? statsOf(v as Record<string, unknown>) : null;
      if (s) perVm[name] = s;
    }
    const all = Object.values(perVm);
    if (all.length === 0) continue;
    const total = all.slice(1).reduce(addStats, { ...all[0]! });
    return { total: { ...total, raw: o }, perVm, networks: o["networks"] ?? null };
  }
  return null;
}

export const NET_PORT = 5000;
export const ACK_PORT = 5001;
export const ADDR_A = "10.0.2.2"; // receiver: the first --vm
export const ADDR_B = "10.0.2.3"; // sender

/**
 * The TCP method of bench:io and bench:pv-vs-full. Receiver (a): listens, swallows the
 * first byte with `dd bs=1 count=1`, then times the rest with dd (so the sender's connect
 * retries and boot skew are excluded), then sends the ack the sender waits for (busybox nc
 * quirks: see src/machine/pv-net.test.ts). Sender (b): dd of /dev/zero (64 KiB blocks)
 * piped into `nc -w 2`, retried until the listener is up, then waits for the ack.
 * `mib` = 0 is the baseline.
 */
export function tcpScripts(mib: number): { a: string; b: string } {
  const retry = (cmd: string): string => `for i in $(seq 60); do ${cmd} && break; sleep 1; done`;
  const a = [
    `nc -l -p ${NET_PORT} </dev/null | { dd bs=1 count=1 of=/dev/null 2>/dev/null; ` +
      "t0=$(cut -d' ' -f1 /proc/uptime); dd of=/dev/null bs=64k 2>/tmp/dd.log; s=$?; " +
      "t1=$(cut -d' ' -f1 /proc/uptime); " +
      'echo "IOBENCH t0=$t0 t1=$t1 status=$s"; ' +
      "sed 's/^/IOBENCH-DD /' /tmp/dd.log; }",
    retry(`echo ack | nc -w 1 ${ADDR_B} ${ACK_PORT}`),
    "sleep 1",
  ].join("; ");
  const b = [
    retry(`dd if=/dev/zero bs=64k count=${mib * 16} 2>/dev/null | nc -w 2 ${ADDR_A} ${NET_PORT}`),
    `nc -l -p ${ACK_PORT} </dev/null >/dev/null`,
  ].join("; ");
  return { a, b };
}

/**
 * The disk method of bench:io and bench:pv-vs-full: time one dd of `mib` MiB on the raw
 * device (`mib` = 0 is the baseline), print IOBENCH t0/t1/status and dd's stderr as
 * IOBENCH-DD lines. Reads drop the guest's caches first.
 */
export function blkScript(op: "write" | "read", dev: string, mib: number): string {
  const dd =
    op === "read"
      ? `dd if=${dev} of=/dev/null bs=1M count=${mib} iflag=direct`
      : `dd if=/dev/zero of=${dev} bs=1M count=${mib} oflag=direct`;
  return [
    op === "read" ? "sync; echo 3 > /proc/sys/vm/drop_caches" : "sync",
    "t0=$(cut -d' ' -f1 /proc/uptime)",
    `${dd} 2>/tmp/dd.log; s=$?`,
    "t1=$(cut -d' ' -f1 /proc/uptime)",
    'echo "IOBENCH t0=$t0 t1=$t1 status=$s"',
    "sed 's/^/IOBENCH-DD /' /tmp/dd.log",
    "exit $s",
  ].join("\n");
}
