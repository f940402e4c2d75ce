/**
 * The QEMU side of bench:compare's two QEMU columns: the command line of one
 * `qemu-system-riscv64 -M virt` instance (TCG, the project's kernel and initramfs, the
 * column's disk and network devices), an interactive instance whose console is read and
 * written through pipes, and the parsers of what the guest scripts print. compare-qemu.ts
 * turns these into the rows' cells.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { ROOT } from "./common.js";
import { OPENSBI } from "./boot-run.js";
import type { CompareOptions, WorkRun } from "./compare-rows.js";
import { pingAvgUs, workValue } from "./compare-rows.js";
import type { GuestImages } from "./iobench.js";

export type QemuColumn = "qemu-virtio" | "qemu-emulated";

/** The guest's raw disk on each column: virtio-blk is /dev/vda, a disk behind ICH9 AHCI is /dev/sda. */
export const DISK_DEVICE: Readonly<Record<QemuColumn, string>> = { "qemu-virtio": "/dev/vda", "qemu-emulated": "/dev/sda" };

/** Where the instance's NIC goes. */
export type QemuNet =
  /** Nowhere: a hub with no other port (the NIC is there and probed, nothing is connected). */
  | { readonly kind: "none" }
  /** A point-to-point link to another QEMU over a host TCP socket; `addr` is the guest's IPv4 address. */
  | { readonly kind: "listen" | "connect"; readonly port: number; readonly addr: string; readonly mac: string };

export interface QemuSpec {
  readonly column: QemuColumn;
  readonly guest: GuestImages;
  readonly memMib: number;
  readonly hostname: string;
  /** A raw image for the column's disk; `snapshot` keeps it unwritten (many instances may share it). */
  readonly disk: { readonly path: string; readonly snapshot: boolean };
  readonly net: QemuNet;
  /** The command /init runs instead of a shell (base64 on the command line), or none for a shell. */
  readonly exec?: string;
}

/** The kernel's `ip=` form (CONFIG_IP_PNP), as bench:io's QEMU pair uses: address, /24, device eth0, no autoconfiguration. */
export const kernelIp = (addr: string, hostname: string): string => `ip=${addr}:::255.255.255.0:${hostname}:eth0:off`;

function diskArgs(s: QemuSpec): string[] {
  // Host page cache as paravm's own disks use it (cache=writeback, QEMU's default): the
  // guest's O_DIRECT bypasses the guest cache; both emulators then write through the host's.
  const drive = `file=${s.disk.path},format=raw,if=none,id=d0${s.disk.snapshot ? ",snapshot=on" : ""}`;
  return s.column === "qemu-virtio"
    ? ["-drive", drive, "-device", "virtio-blk-device,drive=d0"]
    : ["-drive", drive, "-device", "ich9-ahci,id=ahci", "-device", "ide-hd,drive=d0,bus=ahci.0"];
}

function netArgs(s: QemuSpec): string[] {
  const n = s.net;
  const backend = n.kind === "none" ? "hubport,id=n0,hubid=0" : `socket,id=n0,${n.kind}=127.0.0.1:${n.port}`;
  const model = s.column === "qemu-virtio" ? "virtio-net-device" : "e1000";
  return ["-netdev", backend, "-device", `${model},netdev=n0${n.kind === "none" ? "" : `,mac=${n.mac}`}`];
}

/** The kernel command line: console on ttyS0 (both columns), the host name, no /mnt mount, the address, the command. */
export function qemuAppend(s: QemuSpec): string {
  const words = ["console=ttyS0", `paravm.hostname=${s.hostname}`, "paravm.nodisk"];
  if (s.net.kind !== "none") words.push(kernelIp(s.net.addr, s.hostname));
  if (s.exec !== undefined) words.push(`paravm.exec=${Buffer.from(s.exec, "utf8").toString("base64")}`);
  return words.join(" ");
}

/** The whole argv of one instance (after the program name). */
export function qemuCompareArgs(s: QemuSpec): string[] {
  return [
    "-M", "virt", "-m", `${s.memMib}M`, "-smp", "1",
    "-bios", OPENSBI,
    "-kernel", s.guest.kernel.path,
    "-initrd", s.guest.initrd.path,
    ...diskArgs(s),
    ...netArgs(s),
    "-append", qemuAppend(s),
    "-nographic", "-no-reboot",
  ];
}

// ---------------------------------------------------------------- a running instance

/** Console text kept per instance: enough for any reply we wait for, bounded for 32 idle instances. */
const KEEP_CHARS = 64 << 10;

/**
 * One QEMU process with its console on pipes. Everything it prints is appended to `text`
 * (bounded); `waitFor` resolves with the host time since spawn at which a pattern
 * appeared. Killed by its own timer after `timeoutMs` at the latest.
 */
export class QemuInstance {
  readonly child: ChildProcess;
  readonly startedAt = performance.now();
  text = "";
  /** Chars dropped from the front of `text` so far (so offsets stay comparable). */
  private dropped = 0;
  stderr = "";
  exited = false;
  private readonly listeners = new Set<() => void>();
  private readonly timer: NodeJS.Timeout;
  private readonly gone: Promise<void>;

  constructor(cmd: string, args: readonly string[], timeoutMs: number) {
    this.child = spawn(cmd, args, { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout!.setEncoding("latin1");
    this.child.stderr!.setEncoding("utf8");
    this.child.stdout!.on("data", (s: string) => {
      this.text += s;
      if (this.text.length > 2 * KEEP_CHARS) {
        this.dropped += this.text.length - KEEP_CHARS;
        this.text = this.text.slice(-KEEP_CHARS);
      }
      this.notify();
    });
    this.child.stderr!.on("data", (s: string) => {
      if (this.stderr.length < KEEP_CHARS) this.stderr += s;
    });
    this.child.stdin!.on("error", () => undefined); // writes after death are not an error worth a crash
    let resolveGone: () => void = () => undefined;
    this.gone = new Promise((r) => (resolveGone = r));
    const gone = () => {
      this.exited = true;
      this.notify();
      resolveGone();
    };
    // "close", not "exit": the console's last bytes (the exit-status line) may still be in
    // the pipe when the process has exited.
    this.child.on("close", gone);
    this.child.on("error", (e) => {
      this.stderr += `spawn error: ${e.message}\n`;
      gone();
    });
    this.timer = setTimeout(() => this.kill(), timeoutMs);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Offset of the end of the console text so far (for `waitFor` on what comes after). */
  get mark(): number {
    return this.dropped + this.text.length;
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  /** The console text since `mark` (what is still kept of it). */
  since(mark: number): string {
    return this.text.slice(Math.max(0, mark - this.dropped));
  }

  /**
   * Host ms since spawn when `test` first holds for the console text after `mark`; rejects
   * when the instance exits first or after `ms`.
   */
  waitFor(test: (text: string) => boolean, ms: number, mark = 0, what = "output"): Promise<number> {
    return new Promise((resolvePromise, reject) => {
      const finish = (err: Error | null) => {
        this.listeners.delete(check);
        clearTimeout(t);
        if (err) reject(err);
        else resolvePromise(performance.now() - this.startedAt);
      };
      const check = () => {
        if (test(this.since(mark))) finish(null);
        else if (this.exited) finish(new Error(`QEMU exited before ${what}: ${lastLine(this.stderr) || lastLine(this.text)}`));
      };
      const t = setTimeout(() => finish(new Error(`no ${what} after ${Math.round(ms / 1000)} s`)), ms);
      this.listeners.add(check);
      check();
    });
  }

  write(s: string): void {
    if (!this.exited) this.child.stdin!.write(s);
  }

  kill(): void {
    clearTimeout(this.timer);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }

  /** Resolves when the process is gone (after `kill`, or by itself). */
  closed(): Promise<void> {
    return this.gone;
  }
}

export const lastLine = (s: string): string =>
  s.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "").pop()?.slice(0, 200) ?? "";

// ---------------------------------------------------------------- what the guest printed

// Whole lines only: a console chunk may end inside a number ("MEMUSED 1" of "MEMUSED 10136").
export const EXIT_STATUS = /PARAVM-EXIT-STATUS=(\d+)\r?\n/;
export const MEM_USED_LINE = /MEMUSED \d+\r?\n/;
/** The receiver's dd summary as tcpScripts/blkScript print it, complete. */
export const DD_LINE = /IOBENCH-DD [^\n]* seconds[^\n]*\n/;

/** Per work row (cpu, syscall, timer): the values of its runs, and why the others do not count. */
export interface RowSamples {
  readonly samples: number[];
  readonly problems: string[];
}

/** The CMP runs of one row through `workValue`; a row with no run at all says so. */
export function workSamples(o: CompareOptions, runs: readonly WorkRun[], row: "cpu" | "syscall" | "timer"): RowSamples {
  const out: RowSamples = { samples: [], problems: [] };
  for (const r of runs.filter((x) => x.row === row)) {
    const v = workValue(o, r);
    if (typeof v === "number") out.samples.push(v);
    else out.problems.push(v);
  }
  if (out.samples.length + out.problems.length === 0) out.problems.push(`no CMP ${row} line on the console`);
  return out;
}

/** The marker the rtt script prints before each ping run. */
export const RTT_MARK = "CMP-RTT-RUN";

/**
 * The pinging side's script: wait until the peer answers (ARP resolved, its stack up),
 * then `runs` × `ping -c count`, each after a marker line, then tell the peer to stop.
 */
export function rttPingScript(peer: string, runs: number, count: number, stopPort: number): string {
  return [
    `for i in $(seq 60); do ping -c 1 -W 1 ${peer} >/dev/null 2>&1 && break; done`,
    `k=1; while [ $k -le ${runs} ]; do echo "${RTT_MARK} $k"; ping -c ${count} ${peer}; k=$((k+1)); done`,
    `for i in $(seq 20); do echo stop | nc -w 1 ${peer} ${stopPort} && break; sleep 1; done`,
  ].join("\n");
}

/** The pinged side's script: answer pings until told to stop (the host kills it if the word never comes). */
export const rttPeerScript = (stopPort: number): string => `nc -l -p ${stopPort} </dev/null >/dev/null`;

/** The average round trip (µs) of each ping run in the pinging side's console, in order (NaN for a run without a summary). */
export function rttSamples(text: string): number[] {
  const parts = text.split(new RegExp(`${RTT_MARK} \\d+`)).slice(1);
  return parts.map((p) => pingAvgUs(p) ?? NaN);
}

/** A unique-enough word for the first-output row (so no other console text can match it). */
export const nonce = (): string => Math.random().toString(36).slice(2, 10);
