/**
 * bench:compare's `qemu-virtio` and `qemu-emulated` columns: the same kernel, initramfs
 * and guest scripts as paravm's columns on `qemu-system-riscv64 -M virt` (TCG, one hart,
 * Debian's OpenSBI), once with virtio-mmio devices (virtio-blk, virtio-net) and once with
 * emulated PCI hardware (a disk on ICH9 AHCI, an e1000 NIC). Every instance carries its
 * column's disk and NIC, so the boot rows include probing them. The console is the 16550
 * UART (ttyS0) on both: QEMU's virt has no SBI console of the kind paravm's pv offers.
 *
 * The instances are built and driven by compare-qemu-vm.ts; here each row is one small
 * function that returns its cell and never throws (measureQemu catches per row).
 */
import { openSync, closeSync, ftruncateSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { QEMU } from "./boot-run.js";
import { fixed } from "./common.js";
import type { CompareCell, CompareColumn } from "./compare-types.js";
import {
  ddRate,
  medianCell,
  MEM_USED_CMD,
  notMeasured,
  parseMemUsedKiB,
  parseWork,
  promptRe,
  round,
  treeCpuSeconds,
  treeRssKiB,
  workScript,
  type ColumnCells,
  type ColumnMeasurer,
  type CompareOptions,
  type Log,
  type RowId,
} from "./compare-rows.js";
import {
  DD_LINE,
  DISK_DEVICE,
  EXIT_STATUS,
  MEM_USED_LINE,
  nonce,
  QemuInstance,
  qemuCompareArgs,
  rttPeerScript,
  rttPingScript,
  rttSamples,
  workSamples,
  lastLine,
  type QemuColumn,
  type QemuNet,
  type QemuSpec,
} from "./compare-qemu-vm.js";
import { ADDR_A, ADDR_B, blkScript, tcpScripts } from "./iobench.js";

const MiB = 1 << 20;
/** Idle instances settle this long after their prompt before a reading (late boot work, the shell's first read). */
const SETTLE_MS = 3000;
/** Time the connecting instance of a pair waits for the listening one's process to come up (its socket bound). */
const LISTENER_UP_MS = 30_000;
/** After the one side finished, the other gets this long to print its figures. */
const PEER_GRACE_MS = 30_000;
/** How long an idle shell may take to answer MEM_USED_CMD. */
const MEM_REPLY_MS = 30_000;
/** Port the rtt pinger tells its peer to stop on. */
const STOP_PORT = 5002;
/** The disk every instance not measuring the disk attaches (so each column's boot probes its controller). */
const IDLE_DISK_MIB = 1;
const MACS = { a: "52:54:00:12:34:02", b: "52:54:00:12:34:03" } as const;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The column's state through one measureQemu call: its options, scratch directory, and every instance alive. */
interface Ctx {
  readonly column: QemuColumn;
  readonly o: CompareOptions;
  readonly log: Log;
  readonly dir: string;
  /** A small empty raw image every shell instance attaches with snapshot=on (never written). */
  readonly idleDisk: string;
  readonly live: Set<QemuInstance>;
  serial: number;
}

function rawImage(path: string, mib: number): string {
  const fd = openSync(path, "w");
  try {
    ftruncateSync(fd, mib * MiB);
  } finally {
    closeSync(fd);
  }
  return path;
}

/** Starts an instance and remembers it, so whatever happens it is killed at the end of the column. */
function start(c: Ctx, spec: Omit<QemuSpec, "column" | "guest" | "memMib">): QemuInstance {
  const inst = new QemuInstance(QEMU, qemuCompareArgs({ column: c.column, guest: c.o.guest, memMib: c.o.memMib, ...spec }), c.o.timeoutS * 1000);
  c.live.add(inst);
  void inst.closed().then(() => c.live.delete(inst));
  return inst;
}

async function stop(c: Ctx, inst: QemuInstance): Promise<void> {
  inst.kill();
  await inst.closed();
  c.live.delete(inst);
}

const hostname = (c: Ctx, what: string): string => `${c.column === "qemu-virtio" ? "qv" : "qe"}-${what}${++c.serial}`;

/** A shell instance (the column's devices, NIC unconnected) brought to its prompt; resolves with it and the ms it took. */
async function shellInstance(c: Ctx, what: string): Promise<{ inst: QemuInstance; ms: number }> {
  const h = hostname(c, what);
  const inst = start(c, { hostname: h, disk: { path: c.idleDisk, snapshot: true }, net: { kind: "none" } });
  const re = promptRe(h);
  try {
    const ms = await inst.waitFor((t) => re.test(t), c.o.timeoutS * 1000, 0, "shell prompt");
    return { inst, ms };
  } catch (e) {
    await stop(c, inst);
    throw e;
  }
}

/** Runs `exec` on a fresh instance to its PARAVM-EXIT-STATUS line; returns the console text and the status. */
async function oneShot(c: Ctx, what: string, exec: string, disk: QemuSpec["disk"], net: QemuNet = { kind: "none" }): Promise<{ text: string; status: number }> {
  const inst = start(c, { hostname: hostname(c, what), disk, net, exec });
  try {
    await inst.waitFor((t) => EXIT_STATUS.test(t), c.o.timeoutS * 1000, 0, "PARAVM-EXIT-STATUS line");
    const text = inst.since(0);
    return { text, status: Number(EXIT_STATUS.exec(text)![1]) };
  } finally {
    await stop(c, inst);
  }
}

/**
 * `o.runs` runs of `f`, each logged as "<column>: <label> i/n <value> <unit>": a number
 * is a sample, a thrown error is that run's failure (the others still run). `why` is the
 * last failure, for a cell with no sample.
 */
async function eachRun(c: Ctx, label: string, unit: string, f: (i: number) => Promise<number>): Promise<{ samples: number[]; why: string }> {
  const samples: number[] = [];
  let why = "no run counted";
  for (let i = 1; i <= c.o.runs; i++) {
    try {
      const v = await f(i);
      samples.push(v);
      c.log(`${c.column}: ${label} ${i}/${c.o.runs} ${fixed(v, 2)} ${unit}`);
    } catch (e) {
      why = `${label} run ${i}: ${message(e)}`;
      c.log(`${c.column}: ${label} ${i}/${c.o.runs} FAILED ${message(e)}`);
    }
  }
  return { samples, why };
}

// ---------------------------------------------------------------- boot rows

async function bootShell(c: Ctx): Promise<CompareCell> {
  const r = await eachRun(c, "boot to shell", "s", async () => {
    const { inst, ms } = await shellInstance(c, "boot");
    await stop(c, inst);
    return ms / 1000;
  });
  return medianCell(r.samples, r.why, {
    note: `console ttyS0 (16550 UART) on both QEMU columns; each instance has the column's disk and NIC (unconnected), ${c.o.memMib} MiB`,
  });
}

async function bootFirstOutput(c: Ctx): Promise<CompareCell> {
  const r = await eachRun(c, "boot to first output", "s", async () => {
    const word = `first-${nonce()}`;
    const inst = start(c, { hostname: hostname(c, "echo"), disk: { path: c.idleDisk, snapshot: true }, net: { kind: "none" }, exec: `echo ${word}` });
    try {
      return (await inst.waitFor((t) => t.includes(word), c.o.timeoutS * 1000, 0, `"${word}"`)) / 1000;
    } finally {
      await stop(c, inst);
    }
  });
  return medianCell(r.samples, r.why, { note: "`echo first-<nonce>` as paravm.exec; time to that text on ttyS0" });
}

// ---------------------------------------------------------------- cpu, syscall, timer

type WorkRow = "cpu" | "syscall" | "timer";
const WORK_ROWS: readonly WorkRow[] = ["cpu", "syscall", "timer"];

/** One instance runs workScript for the asked work rows (all runs); a cell per row. */
async function workRows(c: Ctx, rows: readonly WorkRow[]): Promise<Partial<Record<WorkRow, CompareCell>>> {
  c.log(`${c.column}: ${rows.join(", ")} (${c.o.runs} run(s) each, one boot)`);
  const r = await oneShot(c, "work", workScript(c.o, rows), { path: c.idleDisk, snapshot: true });
  const runs = parseWork(r.text);
  const out: Partial<Record<WorkRow, CompareCell>> = {};
  for (const row of rows) {
    const s = workSamples(c.o, runs, row);
    const why = s.problems[0] ?? (r.status !== 0 ? `the script exited ${r.status}` : "no run counted");
    out[row] = medianCell(s.samples, why, s.problems.length > 0 && s.samples.length > 0 ? { note: `${s.problems.length} run(s) left out: ${s.problems[0]}` } : {});
    c.log(`${c.column}: ${row} ${s.samples.map((x) => fixed(x, 3)).join(" ") || `not measured (${why})`}`);
  }
  return out;
}

// ---------------------------------------------------------------- disk

async function diskRow(c: Ctx, op: "write" | "read", disk: string): Promise<CompareCell> {
  const dev = DISK_DEVICE[c.column];
  const want = c.o.diskMib * MiB;
  const r = await eachRun(c, `disk ${op}`, "MiB/s", async () => {
    const res = await oneShot(c, `dd${op[0]}`, blkScript(op, dev, c.o.diskMib), { path: disk, snapshot: false });
    const rate = ddRate(res.text);
    if (res.status !== 0 || rate === null || rate.bytes !== want)
      throw new Error(`status ${res.status}, ${rate === null ? "no dd summary" : `${rate.bytes} bytes`}: ${lastLine(res.text.split(EXIT_STATUS)[0] ?? "")}`);
    return rate.mibPerS;
  });
  const ctl = c.column === "qemu-virtio" ? "virtio-blk (virtio-mmio)" : "ide-hd on ICH9 AHCI (PCI)";
  return medianCell(r.samples, r.why, {
    note: `${dev}, ${ctl}, raw image, QEMU cache=writeback; QEMU gives no exit counts, so no per-MiB figures`,
  });
}

// ---------------------------------------------------------------- network (two instances)

/** A TCP port nobody listens on now (the OS's pick), for one QEMU pair's socket link. */
function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const a = srv.address();
      srv.close(() => (a !== null && typeof a === "object" ? resolvePromise(a.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * Two instances joined by a QEMU socket link: `a` (ADDR_A) listens, `b` (ADDR_B)
 * connects once a's process is up. Waits for b's exit line, then for `aDone` on a's
 * console; returns both consoles. Both are killed on every path.
 */
async function pair(c: Ctx, what: string, scriptA: string, scriptB: string, aDone: RegExp): Promise<{ a: string; b: string }> {
  const port = await freePort();
  const none = { path: c.idleDisk, snapshot: true };
  const a = start(c, { hostname: hostname(c, `${what}a`), disk: none, exec: scriptA, net: { kind: "listen", port, addr: ADDR_A, mac: MACS.a } });
  let b: QemuInstance | null = null;
  try {
    // QEMU binds the listening socket before it runs the guest: its first console byte means it is there.
    await a.waitFor((t) => t.length > 0, LISTENER_UP_MS, 0, "first output of the listening instance");
    b = start(c, { hostname: hostname(c, `${what}b`), disk: none, exec: scriptB, net: { kind: "connect", port, addr: ADDR_B, mac: MACS.b } });
    await b.waitFor((t) => EXIT_STATUS.test(t), c.o.timeoutS * 1000, 0, "exit line of the second instance");
    await a.waitFor((t) => aDone.test(t), PEER_GRACE_MS, 0, "figures of the first instance");
    return { a: a.since(0), b: b.since(0) };
  } finally {
    await stop(c, a);
    if (b !== null) await stop(c, b);
  }
}

async function netThroughput(c: Ctx): Promise<CompareCell> {
  const s = tcpScripts(c.o.netMib);
  const want = c.o.netMib * MiB - 1; // the receiver's timed dd sees all but the first byte
  const r = await eachRun(c, "tcp", "MiB/s", async () => {
    const res = await pair(c, "tcp", s.a, s.b, DD_LINE);
    const rate = ddRate(res.a);
    if (rate === null || rate.bytes !== want) throw new Error(`receiver's dd: ${rate === null ? "no summary" : `${rate.bytes} bytes, expected ${want}`}`);
    return rate.mibPerS;
  });
  return medianCell(r.samples, r.why, { note: `${c.o.netMib} MiB, QEMU -netdev socket between the two processes (127.0.0.1 TCP), receiver's dd time` });
}

async function netRtt(c: Ctx): Promise<CompareCell> {
  c.log(`${c.column}: ping ${c.o.runs} × ${c.o.pingCount} (one pair)`);
  const r = await pair(c, "ping", rttPeerScript(STOP_PORT), rttPingScript(ADDR_A, c.o.runs, c.o.pingCount, STOP_PORT), EXIT_STATUS);
  const samples = rttSamples(r.b);
  c.log(`${c.column}: ping avg ${samples.map((x) => fixed(x, 0)).join(" ")} µs`);
  return medianCell(samples, `no ping summary: ${lastLine(r.b.split(EXIT_STATUS)[0] ?? "")}`, {
    note: `one pair of instances, ${c.o.runs} ping runs after a warm-up ping; QEMU -netdev socket between the two processes`,
  });
}

// ---------------------------------------------------------------- density, idle CPU, memory

const sumRssKiB = (xs: readonly QemuInstance[]): number => xs.reduce((s, x) => s + (x.pid !== undefined ? treeRssKiB(x.pid) : NaN), 0);

/** Instances to their prompts one after another until their RSS passes the budget or the cap. */
async function density(c: Ctx, fleet: QemuInstance[]): Promise<CompareCell> {
  const budgetKiB = c.o.densityBudgetMib * 1024;
  for (let n = 1; n <= c.o.densityCap; n++) {
    const { inst, ms } = await shellInstance(c, "d");
    fleet.push(inst);
    const rss = sumRssKiB(fleet);
    c.log(`${c.column}: density ${n}: prompt in ${fixed(ms / 1000, 1)} s, ${fixed(rss / 1024, 0)} MiB RSS in all`);
    if (!Number.isFinite(rss)) throw new Error(`cannot read the RSS of instance ${n}`);
    if (rss > budgetKiB) {
      return { value: n - 1, note: `instance ${n} took the RSS sum to ${fixed(rss / 1024, 0)} MiB > ${c.o.densityBudgetMib} MiB; ${fixed(rss / 1024 / n, 1)} MiB per instance` };
    }
  }
  const rss = sumRssKiB(fleet);
  return {
    value: c.o.densityCap,
    note: `stopped at the cap of ${c.o.densityCap}: ${fixed(rss / 1024, 0)} MiB RSS in all, ${fixed(rss / 1024 / c.o.densityCap, 1)} MiB per instance`,
  };
}

async function idleCpu(c: Ctx, idle: readonly QemuInstance[]): Promise<CompareCell> {
  const before = idle.map((x) => treeCpuSeconds(x.pid!));
  await sleep(c.o.idleSeconds * 1000);
  const per = idle.map((x, i) => ((treeCpuSeconds(x.pid!) - before[i]!) / c.o.idleSeconds) * 100);
  if (idle.some((x) => x.exited)) return notMeasured("an idle instance exited during the window");
  const mean = per.reduce((s, x) => s + x, 0) / per.length;
  c.log(`${c.column}: idle CPU ${per.map((x) => fixed(x, 1)).join(" ")} % of a core`);
  return { value: round(mean), samples: per.map(round), note: `mean of ${idle.length} instances over ${c.o.idleSeconds} s (samples: each instance)` };
}

/** RSS minus guest-touched RAM of each instance, from `MEM_USED_CMD` typed at its prompt. */
async function memOverhead(c: Ctx, idle: readonly QemuInstance[]): Promise<CompareCell> {
  const samples: number[] = [];
  const notes: string[] = [];
  for (const inst of idle) {
    const mark = inst.mark;
    inst.write(`${MEM_USED_CMD}\n`);
    await inst.waitFor((t) => MEM_USED_LINE.test(t), MEM_REPLY_MS, mark, "MEMUSED reply");
    const usedKiB = parseMemUsedKiB(inst.since(mark))!;
    const rssKiB = treeRssKiB(inst.pid!);
    samples.push(rssKiB / 1024 - usedKiB / 1024);
    notes.push(`${fixed(rssKiB / 1024, 1)}−${fixed(usedKiB / 1024, 1)}`);
  }
  c.log(`${c.column}: memory RSS−guest-used ${notes.join(", ")} MiB`);
  return medianCell(samples, "no reading", { note:
      `QEMU process RSS − guest (MemTotal − MemFree), MiB, per instance: ${notes.join(", ")}; median of ${samples.length}. ` +
      "The overhead holds TCG's translated code and guest RAM touched then freed (the initramfs unpacked)",
  });
}

/**
 * density, then (on the first idleInstances of the same instances, the rest killed)
 * idle-cpu, then mem-overhead. Every instance is killed at the end.
 */
async function fleetRows(c: Ctx, rows: ReadonlySet<RowId>): Promise<ColumnCells> {
  const out: ColumnCells = {};
  const fleet: QemuInstance[] = [];
  try {
    if (rows.has("density")) {
      try {
        out.density = await density(c, fleet);
      } catch (e) {
        out.density = notMeasured(`density: ${message(e)}`);
        c.log(`${c.column}: density FAILED ${message(e)}`);
      }
    }
    if (!rows.has("idle-cpu") && !rows.has("mem-overhead")) return out;
    const want = rows.has("idle-cpu") ? c.o.idleInstances : 1;
    for (const extra of fleet.splice(want)) await stop(c, extra);
    for (const x of fleet.filter((f) => f.exited)) fleet.splice(fleet.indexOf(x), 1);
    while (fleet.length < want) fleet.push((await shellInstance(c, "i")).inst);
    await sleep(SETTLE_MS);
    if (rows.has("idle-cpu")) out["idle-cpu"] = await cell(c, "idle-cpu", () => idleCpu(c, fleet));
    if (rows.has("mem-overhead")) out["mem-overhead"] = await cell(c, "mem-overhead", () => memOverhead(c, fleet));
    return out;
  } catch (e) {
    for (const r of ["idle-cpu", "mem-overhead"] as const) if (rows.has(r) && out[r] === undefined) out[r] = notMeasured(message(e));
    return out;
  } finally {
    for (const x of fleet) await stop(c, x);
  }
}

/** A row's cell, or why it could not be measured (logged). */
async function cell(c: Ctx, row: string, f: () => Promise<CompareCell>): Promise<CompareCell> {
  try {
    return await f();
  } catch (e) {
    c.log(`${c.column}: ${row} FAILED ${message(e)}`);
    return notMeasured(`${row}: ${message(e)}`);
  }
}

// ---------------------------------------------------------------- the column

const isQemuColumn = (x: CompareColumn): x is QemuColumn => x === "qemu-virtio" || x === "qemu-emulated";

export const measureQemu: ColumnMeasurer = async (column, rows, opts, log) => {
  const out: ColumnCells = {};
  if (!isQemuColumn(column)) {
    for (const r of rows) out[r] = notMeasured(`measureQemu does not measure the ${column} column`);
    return out;
  }
  const dir = join(opts.workDir, column);
  let idleDisk: string;
  try {
    mkdirSync(dir, { recursive: true });
    idleDisk = rawImage(join(dir, "idle.img"), IDLE_DISK_MIB);
  } catch (e) {
    for (const r of rows) out[r] = notMeasured(`scratch directory ${dir}: ${message(e)}`);
    return out;
  }
  const c: Ctx = { column, o: opts, log, dir, idleDisk, live: new Set(), serial: 0 };
  try {
    if (rows.has("boot-shell")) out["boot-shell"] = await cell(c, "boot-shell", () => bootShell(c));
    if (rows.has("boot-first-output")) out["boot-first-output"] = await cell(c, "boot-first-output", () => bootFirstOutput(c));
    const work = WORK_ROWS.filter((r) => rows.has(r));
    if (work.length > 0) {
      try {
        Object.assign(out, await workRows(c, work));
      } catch (e) {
        for (const r of work) out[r] = notMeasured(`${work.join("/")} boot: ${message(e)}`);
        log(`${column}: ${work.join(", ")} FAILED ${message(e)}`);
      }
    }
    if (rows.has("disk-write") || rows.has("disk-read")) {
      const disk = rawImage(join(dir, "disk.img"), opts.diskMib);
      for (const op of ["write", "read"] as const) {
        const id = `disk-${op}` as const;
        if (rows.has(id)) out[id] = await cell(c, id, () => diskRow(c, op, disk));
      }
    }
    if (rows.has("net-throughput")) out["net-throughput"] = await cell(c, "net-throughput", () => netThroughput(c));
    if (rows.has("net-rtt")) out["net-rtt"] = await cell(c, "net-rtt", () => netRtt(c));
    Object.assign(out, await fleetRows(c, rows));
  } finally {
    for (const x of [...c.live]) await stop(c, x);
  }
  return out;
};
