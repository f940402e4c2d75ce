/**
 * What every column of `npm run bench:compare` shares: the options, the twelve rows (their
 * ids, titles, units and methods), the guest scripts that run the same bytes on every kind
 * of instance, the parsers of what those scripts print, and the host-side readings (RSS,
 * CPU time) the memory, density and idle rows are made of. Each column's module
 * (compare-paravm.ts for pv and full, compare-container.ts, compare-qemu.ts for both QEMU
 * columns) measures with these and returns its cells; bench/compare.ts puts them together.
 */
import { readdirSync, readFileSync } from "node:fs";
import type { CompareCell, CompareColumn } from "./compare-types.js";
import type { GuestImages } from "./iobench.js";
import { median } from "./iobench.js";

export const ROW_IDS = [
  "boot-shell",
  "boot-first-output",
  "cpu",
  "syscall",
  "timer",
  "disk-write",
  "disk-read",
  "net-throughput",
  "net-rtt",
  "mem-overhead",
  "density",
  "idle-cpu",
] as const;
export type RowId = (typeof ROW_IDS)[number];

export interface CompareOptions {
  /** Timed runs per measurement (the cell is their median). */
  readonly runs: number;
  /** MiB of zeros md5summed by the CPU row. */
  readonly cpuMib: number;
  /** Bytes copied by `dd bs=1` in the syscall row (a read and a write each). */
  readonly syscallBytes: number;
  /** `usleep 2000` calls in the timer row. */
  readonly timerIters: number;
  /** MiB per dd in the disk rows. */
  readonly diskMib: number;
  /** MiB per TCP transfer. */
  readonly netMib: number;
  /** Pings in the round-trip row. */
  readonly pingCount: number;
  /** Guest RAM of every instance, MiB (a container's memory.max is the same). */
  readonly memMib: number;
  /** Host memory the density row fills with instances, MiB. */
  readonly densityBudgetMib: number;
  /** The density row stops counting here (a cell at the cap says so). */
  readonly densityCap: number;
  /** Idle instances the idle-CPU row runs side by side. */
  readonly idleInstances: number;
  /** Seconds the idle-CPU row measures over (after the instances settle). */
  readonly idleSeconds: number;
  /** Kill one instance after this long. */
  readonly timeoutS: number;
  readonly guest: GuestImages;
  /** Scratch directory of this run (disk images, logs); the column may make subdirectories. */
  readonly workDir: string;
}

export type Log = (message: string) => void;
export type ColumnCells = Partial<Record<RowId, CompareCell>>;

/** One column's module: measures the asked rows and returns a cell for each (a null value with `why` when it could not). */
export type ColumnMeasurer = (column: CompareColumn, rows: ReadonlySet<RowId>, o: CompareOptions, log: Log) => Promise<ColumnCells>;

export interface RowDef {
  readonly title: string;
  readonly unit: string;
  readonly better: "lower" | "higher";
  readonly method: string;
}

export function rowDefs(o: CompareOptions): Record<RowId, RowDef> {
  const med = `median of ${o.runs} run${o.runs === 1 ? "" : "s"}`;
  return {
    "boot-shell": {
      title: "Start-up to a ready shell",
      unit: "s",
      better: "lower",
      method: `Host time from starting the instance to the shell prompt on its console (a container, on a running host VM: \`paravm container run -d … sleep\` then \`paravm container exec\` of an echo, to its output), ${med}.`,
    },
    "boot-first-output": {
      title: "Start-up to the first command's output",
      unit: "s",
      better: "lower",
      method: `Host time from starting the instance with \`echo\` as its command to that output on the console, ${med}.`,
    },
    cpu: {
      title: "CPU-bound program",
      unit: "s",
      better: "lower",
      method: `\`dd if=/dev/zero bs=64k count=${o.cpuMib * 16} | md5sum\` (${o.cpuMib} MiB), timed in the guest with $EPOCHREALTIME, ${med}.`,
    },
    syscall: {
      title: "System call",
      unit: "µs",
      better: "lower",
      method: `\`dd bs=1 count=${o.syscallBytes}\` from /dev/zero to /dev/null (a read and a write per byte), time per system call, ${med}.`,
    },
    timer: {
      title: "Timer: one 2 ms sleep",
      unit: "ms",
      better: "lower",
      method: `${o.timerIters} × \`usleep 2000\`, time per sleep (ideal 2 ms), ${med}.`,
    },
    "disk-write": {
      title: "Disk write (direct I/O)",
      unit: "MiB/s",
      better: "higher",
      method: `\`dd if=/dev/zero bs=1M count=${o.diskMib} oflag=direct\` to the raw disk device, dd's own rate, ${med}.`,
    },
    "disk-read": {
      title: "Disk read (direct I/O)",
      unit: "MiB/s",
      better: "higher",
      method: `\`dd bs=1M count=${o.diskMib} iflag=direct\` from the raw disk device after drop_caches, dd's own rate, ${med}.`,
    },
    "net-throughput": {
      title: "TCP transfer between two instances",
      unit: "MiB/s",
      better: "higher",
      method: `${o.netMib} MiB through busybox nc from one instance to another of the same kind, timed by the receiver, ${med}.`,
    },
    "net-rtt": {
      title: "Round-trip latency between two instances",
      unit: "µs",
      better: "lower",
      method: `busybox \`ping -c ${o.pingCount}\` from one instance to another of the same kind, average round trip, ${med}.`,
    },
    "mem-overhead": {
      title: "Host memory per instance beyond its guest RAM",
      unit: "MiB",
      better: "lower",
      method: `Host memory of an instance idle at its shell (${o.memMib} MiB of guest RAM) minus the guest RAM in use: RSS of its processes minus (MemTotal − MemFree) in the guest, so it includes the emulator's own memory (translated code, device buffers) and guest RAM touched then freed (the unpacked initramfs); a container: its cgroup's memory.current.`,
    },
    density: {
      title: "Instances in a memory budget",
      unit: "instances",
      better: "higher",
      method: `Instances of ${o.memMib} MiB started one after another, each to a ready shell, until their host memory passes ${o.densityBudgetMib} MiB (stopping at ${o.densityCap}).`,
    },
    "idle-cpu": {
      title: "Host CPU of an idle instance",
      unit: "% of a core",
      better: "lower",
      method: `${o.idleInstances} instances idle at their shells for ${o.idleSeconds} s, host CPU time per instance.`,
    },
  };
}

// ---------------------------------------------------------------- cells

/** A cell that could not be measured, with the reason (one line; the report prints it). */
export const notMeasured = (why: string): CompareCell => ({ value: null, why: why.split("\n")[0]!.slice(0, 300) });

/** The median of the samples as the cell's value (none: not measured, with `why`). */
export function medianCell(samples: readonly number[], why: string, extra: Omit<CompareCell, "value" | "samples"> = {}): CompareCell {
  const ok = samples.filter((x) => Number.isFinite(x));
  if (ok.length === 0) return notMeasured(why);
  return { value: round(median([...ok])), samples: ok.map(round), ...extra };
}

/** Four significant digits: the report does not need more and the JSON stays readable. */
export const round = (x: number): number => (x === 0 || !Number.isFinite(x) ? x : Number(x.toPrecision(4)));

// ---------------------------------------------------------------- guest scripts

/**
 * The in-guest timed workloads (cpu, syscall, timer), `runs` times each, as one `sh -c`
 * script short enough for the kernel command line (paravm.exec) and for `container run`.
 * Each run prints `CMP <row> <run> <e0> <e1> <status> <result…>`; e0/e1 are ash's
 * $EPOCHREALTIME (µs resolution), read without a fork around the work.
 */
export function workScript(o: CompareOptions, rows: readonly ("cpu" | "syscall" | "timer")[]): string {
  const body: Record<"cpu" | "syscall" | "timer", string> = {
    cpu: `dd if=/dev/zero bs=64k count=${o.cpuMib * 16} 2>/dev/null|md5sum`,
    syscall: `dd if=/dev/zero of=/dev/null bs=1 count=${o.syscallBytes} 2>&1|head -1`,
    timer: `i=0;while [ $i -lt ${o.timerIters} ];do usleep 2000;i=$((i+1));done;echo $i`,
  };
  const parts = ["c(){ k=1;while [ $k -le " + o.runs + " ];do e0=$EPOCHREALTIME;r=$($2);s=$?;e1=$EPOCHREALTIME;echo \"CMP $1 $k $e0 $e1 $s $r\";k=$((k+1));done;}"];
  for (const r of rows) parts.push(`w_${r}(){ ${body[r]};}`, `c ${r} w_${r}`);
  parts.push("echo CMP-DONE");
  return parts.join("\n");
}

export interface WorkRun {
  readonly row: string;
  readonly run: number;
  readonly seconds: number;
  readonly status: number;
  readonly result: string;
}

const WORK_LINE = /CMP (\S+) (\d+) ([0-9]+(?:\.[0-9]+)?) ([0-9]+(?:\.[0-9]+)?) (\d+) ?([^\r\n]*)/;

/** Every CMP line of a console transcript. */
export function parseWork(stdout: string): WorkRun[] {
  const out: WorkRun[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const m = WORK_LINE.exec(line);
    if (!m) continue;
    out.push({ row: m[1]!, run: Number(m[2]), seconds: Number(m[4]) - Number(m[3]), status: Number(m[5]), result: m[6]!.trim() });
  }
  return out;
}

/** The md5 of `mib` MiB of zeros, which every column's cpu runs must print. */
export const ZEROS_MD5: Readonly<Record<number, string>> = { 1: "b6d81b360a5672d80c27430f39153e2c", 4: "b5cfa9d6c8febd618f91ac2843d50a1c" };

/**
 * The value of one work run in its row's unit, or why the run does not count: cpu in s,
 * syscall in µs per system call, timer in ms per sleep.
 */
export function workValue(o: CompareOptions, w: WorkRun): number | string {
  if (w.status !== 0) return `${w.row} run ${w.run} exited ${w.status}`;
  if (w.row === "cpu") {
    const want = ZEROS_MD5[o.cpuMib];
    if (want !== undefined && !w.result.startsWith(want)) return `cpu run ${w.run} printed "${w.result}", not the md5 of ${o.cpuMib} MiB of zeros`;
    return w.seconds;
  }
  if (w.row === "syscall") {
    if (!w.result.startsWith(`${o.syscallBytes}+0 records in`)) return `syscall run ${w.run}: dd said "${w.result}"`;
    return (w.seconds * 1e6) / (2 * o.syscallBytes);
  }
  if (w.row === "timer") {
    if (w.result !== String(o.timerIters)) return `timer run ${w.run} printed "${w.result}"`;
    return (w.seconds * 1e3) / o.timerIters;
  }
  return `unknown row ${w.row}`;
}

/** busybox dd's summary line: "16777216 bytes (16.0MB) copied, 0.5 seconds, 32.0MB/s". */
export function ddRate(stderr: string): { bytes: number; seconds: number; mibPerS: number } | null {
  const m = /(\d+) bytes \([^)]*\) copied, ([0-9.]+) seconds/.exec(stderr);
  if (!m) return null;
  const bytes = Number(m[1]);
  const seconds = Number(m[2]);
  if (!(seconds > 0)) return null;
  return { bytes, seconds, mibPerS: bytes / (1 << 20) / seconds };
}

/** busybox ping's summary: "round-trip min/avg/max = 0.512/0.734/1.201 ms" → the average in µs. */
export function pingAvgUs(text: string): number | null {
  const m = /round-trip min\/avg\/max = [0-9.]+\/([0-9.]+)\/[0-9.]+ ms/.exec(text);
  return m ? Number(m[1]) * 1000 : null;
}

/** The guest's /init prompt (PS1='\h:\w\$ ') for a host name, as the console shows it. */
export const promptRe = (hostname: string): RegExp => new RegExp(`${hostname.replace(/[^A-Za-z0-9_-]/g, ".")}:[^\\r\\n]*# $`);

/** A command whose output says how much guest RAM is touched: "MEMUSED <kB>". */
export const MEM_USED_CMD = "awk '/^MemTotal/{t=$2}/^MemFree/{f=$2}END{print \"MEMUSED\",t-f}' /proc/meminfo";
export const parseMemUsedKiB = (text: string): number | null => {
  // Whole lines only: console output arrives in chunks, and "MEMUSED 1" is a prefix of "MEMUSED 10136".
  const m = /MEMUSED (\d+)\r?\n/.exec(text);
  return m ? Number(m[1]) : null;
};

// ---------------------------------------------------------------- host readings

/** Children of a process (from /proc/PID/task/*\/children), recursively, the process first. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const tid of readdirSync(`/proc/${out[i]}/task`)) {
        const kids = readFileSync(`/proc/${out[i]}/task/${tid}/children`, "latin1").trim();
        if (kids !== "") for (const k of kids.split(/\s+/)) out.push(Number(k));
      }
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Resident memory of a process and its descendants, KiB (VmRSS summed; NaN if the process is gone). */
export function treeRssKiB(pid: number): number {
  let sum = 0;
  let any = false;
  for (const p of processTree(pid)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, "latin1"));
      if (m) {
        sum += Number(m[1]);
        any = true;
      }
    } catch {
      // exited meanwhile
    }
  }
  return any ? sum : NaN;
}

const CLK_TCK = 100;

/** CPU time (user + system, every thread) of a process and its descendants so far, seconds. */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "latin1");
      // Fields after the command name (which may hold spaces) start after the last ')'.
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
    } catch {
      // exited meanwhile
    }
  }
  return ticks / CLK_TCK;
}
