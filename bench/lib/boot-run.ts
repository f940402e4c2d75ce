/**
 * Booting the project's guest images to a `paravm.exec` command on QEMU and on paravm and
 * timing it (bench:boot, bench:guest): the command lines of both emulators, one boot with
 * the time to the guest's PARAVM-EXIT-STATUS line and to process exit, and why a boot
 * does not count.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PV_DEFAULTS } from "../../src/machine/pv.js";
import { fixed, ROOT, tail } from "./common.js";
import type { GuestImages } from "./iobench.js";

export const QEMU = "qemu-system-riscv64";
export const OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin";
/** The same OpenSBI build's fw_dynamic: it leaves the device tree where QEMU put it (64 MiB guests, bench:snapshot's migrations). */
export const OPENSBI_DYNAMIC = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";
export const PARAVM_BIN = join(ROOT, "bin", "paravm.js");
const EXIT_LINE = /PARAVM-EXIT-STATUS=(\d+)\r?\n/;
const OUTPUT_CAP = 4 << 20;

/** Extras for a boot: a raw disk (virtio-blk, /dev/vda, read-only) and words added to the kernel command line. */
export interface BootExtras {
  readonly disk?: string;
  readonly append?: string;
}

const b64 = (command: string): string => Buffer.from(command, "utf8").toString("base64");

/** QEMU `-M virt` with Debian's OpenSBI, 256 MiB, one hart, console on ttyS0. */
export function qemuArgs(g: GuestImages, command: string, extras: BootExtras = {}): string[] {
  return [
    "-M", "virt", "-m", "256M", "-smp", "1",
    "-bios", OPENSBI,
    "-kernel", g.kernel.path,
    "-initrd", g.initrd.path,
    ...(extras.disk !== undefined
      ? ["-drive", `file=${extras.disk},format=raw,if=none,id=d0,readonly=on`, "-device", "virtio-blk-device,drive=d0"]
      : []),
    "-append", `console=ttyS0${extras.append ? ` ${extras.append}` : ""} paravm.exec=${b64(command)}`,
    "-nographic", "-no-reboot",
  ];
}

/**
 * `paravm run` (pv machine, its default 256 MiB and console) with --stats. With `--kernel`
 * given, paravm attaches no disk of its own; `--append` replaces the command line, so
 * `extras.append` goes after the pv default console.
 */
export function paravmArgs(g: GuestImages, command: string, extras: BootExtras = {}): string[] {
  return [
    PARAVM_BIN, "run", "--kernel", g.kernel.path, "--initrd", g.initrd.path,
    ...(extras.disk !== undefined ? ["--disk", `${extras.disk},readonly`] : []),
    ...(extras.append ? ["--append", `${PV_DEFAULTS.BOOTARGS} ${extras.append}`] : []),
    "--exec", command, "--stats",
  ];
}

export interface BootRun {
  /** Spawn to the first complete PARAVM-EXIT-STATUS line on stdout, or null if never seen. */
  exitLineMs: number | null;
  /** Spawn to process exit. */
  processMs: number;
  guestStatus: number | null;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  spawnError?: string;
  stdout: string;
  stderr: string;
}

/**
 * Runs a boot to completion (stdin closed), timing the exit-status line and the process
 * exit. `onStdout` sees every chunk of the console as it arrives, with the host time since
 * spawn (ms) and the process id.
 */
export function runBoot(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  onStdout?: (chunk: string, atMs: number, pid: number | undefined) => void,
): Promise<BootRun> {
  return new Promise((resolvePromise) => {
    let stdout = "";
    let stderr = "";
    let window = "";
    let exitLineMs: number | null = null;
    let guestStatus: number | null = null;
    let exitedAt = 0;
    let timedOut = false;
    const start = performance.now();
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.setEncoding("latin1");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (s: string) => {
      onStdout?.(s, performance.now() - start, child.pid);
      if (exitLineMs === null) {
        window = (window + s).slice(-512);
        const m = EXIT_LINE.exec(window);
        if (m) {
          exitLineMs = performance.now() - start;
          guestStatus = Number(m[1]);
        }
      }
      if (stdout.length < OUTPUT_CAP) stdout += s;
    });
    child.stderr.on("data", (s: string) => {
      if (stderr.length < OUTPUT_CAP) stderr += s;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("exit", () => {
      exitedAt = performance.now();
    });
    const done = (code: number | null, signal: NodeJS.Signals | null, spawnError?: string) => {
      clearTimeout(timer);
      resolvePromise({
        exitLineMs,
        processMs: (exitedAt || performance.now()) - start,
        guestStatus,
        code,
        signal,
        timedOut,
        ...(spawnError !== undefined ? { spawnError } : {}),
        stdout,
        stderr,
      });
    };
    child.on("error", (err) => done(null, null, err.message));
    child.on("close", (code, signal) => done(code, signal));
  });
}

/** Why a boot does not count, or null when it does. */
export function bootProblem(r: BootRun, who: string): string | null {
  if (r.spawnError) return `could not start: ${r.spawnError}`;
  if (r.timedOut)
    return `timed out after ${fixed(r.processMs / 1000, 0)} s` + (r.exitLineMs !== null ? " (printed the exit line, did not exit by itself)" : "");
  if (r.signal) return `killed by ${r.signal}`;
  if (r.exitLineMs === null) return `no PARAVM-EXIT-STATUS line (exit status ${r.code})`;
  if (r.guestStatus !== 0) return `the guest command exited ${r.guestStatus}`;
  if (r.code !== 0) return `${who} exited with status ${r.code}`;
  return null;
}

export function describeFailure(r: BootRun, problem: string): string {
  const out = tail(r.stdout, 8);
  const err = tail(r.stderr, 8);
  return `${problem}${out ? `\n  stdout (last lines):\n${out}` : ""}${err ? `\n  stderr (last lines):\n${err}` : ""}`;
}


/**
 * Host CPU time of every thread of a process so far, in ns (the sum of
 * /proc/PID/task/TID/schedstat's first field), or NaN when it cannot be read. Threads that
 * already exited are not in it: compare two reads of long-lived threads only.
 */
export function processCpuNs(pid: number): number {
  let sum = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        sum += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "latin1").split(" ")[0]);
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    return NaN;
  }
  return sum;
}
