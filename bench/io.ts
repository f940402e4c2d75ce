/**
 * I/O benchmark: in-guest sequential write and read of 64 MiB with busybox `dd` on
 * virtio-blk (/dev/vda, a raw 160 MiB scratch file, no filesystem), on paravm
 * (`paravm run --disk`) and on `qemu-system-riscv64 -M virt -device virtio-blk-device`
 * with the same kernel, initramfs and guest commands, in the same run.
 *
 *   write: dd if=/dev/zero of=/dev/vda bs=1M count=64 oflag=direct
 *   read:  sync; echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda of=/dev/null bs=1M count=64 iflag=direct
 *
 * Time is measured in the guest, so boot is excluded: MiB/s = bytes / dd's own elapsed
 * time ("copied, S seconds", microseconds; busybox `date` has no %N), cross-checked with
 * /proc/uptime before/after (10 ms). paravm's exits and guest instructions per MiB are
 * (run - baseline) / MiB, where the baseline run is the identical script with count=0
 * (same boot, same drop_caches and dd start-up, no data; one per operation); timer/console exits that scale with the dd's
 * wall time are part of the cost. Both hosts back the disk with the host page cache
 * (paravm cache=writeback, QEMU's default cache=writeback): O_DIRECT bypasses the guest
 * page cache, not the host's.
 *
 * Network: 64 MiB TCP with busybox nc between two pv guests (`paravm multi`, one switch,
 * a=10.0.2.2 receives, b=10.0.2.3 sends `dd if=/dev/zero bs=64k | nc -w 2`), and the same
 * guest commands on two `qemu-system-riscv64 -M virt` joined by `-netdev socket`
 * (listen/connect) + virtio-net-device, addresses via the kernel's ip=. The receiver
 * swallows the first byte, then times the rest with dd (connect retries excluded).
 * exits/insns per MiB: both VMs summed, minus a baseline run that sends 0 bytes. When
 * `paravm multi --help` fails the bench prints "net: skipped (paravm multi not available)".
 *
 *   npm run bench:io [-- options]      (or: node dist/bench/io.js [options])
 *
 * Full machine disk (bench/lib/fulldisk.ts): the same dd on the full machine's /dev/sda
 * through ATA PIO (`--disk-controller ata`) and AHCI DMA (`--disk-controller ahci`), and on
 * QEMU -M virt with an ich9-ahci, printed beside the virtio-blk figures above.
 *
 * Options:
 *   --runs N          timed runs per operation per emulator, default 3
 *   --full-mib N      MiB per dd on the full machine's disk, default 16 (ATA PIO is slow)
 *   --mib N           MiB per transfer, default 64
 *   --disk-mib N      scratch disk size, default 160
 *   --guest-dir DIR   directory with Image and initramfs.cpio.gz (as bench/boot.ts)
 *   --timeout-s S     kill a run after this long, default 600
 *   --skip-qemu / --skip-paravm / --skip-net / --skip-blk / --skip-full-disk
 *   --no-json         do not write bench/results/io-<date>.json
 */
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { fixed, gitInfo, group, hostInfo, ROOT, table, tail, toolVersion, writeResults, intOption, printHeaderHelp, runMain } from "./lib/common.js";
import {
  diff,
  findGuest,
  guestFigures,
  median,
  parseMultiStats,
  parseStats,
  startVm,
  sum,
  type GuestFigures,
  type GuestImages,
  type PvStats,
  type VmRun,
  ADDR_A,
  ADDR_B,
  tcpScripts,
  blkScript,
} from "./lib/iobench.js";
import { fullDiskSection } from "./lib/fulldisk.js";

const QEMU = "qemu-system-riscv64";
const OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin";
const PARAVM_BIN = join(ROOT, "bin", "paravm.js");
const WORK_DIR = join(ROOT, "build", "bench", "io");
const MiB = 1 << 20;

interface Options {
  runs: number;
  mib: number;
  diskMib: number;
  guestDir: string | null;
  timeoutS: number;
  skipQemu: boolean;
  skipParavm: boolean;
  skipNet: boolean;
  skipFullDisk: boolean;
  skipBlk: boolean;
  fullMib: number;
  json: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "3" },
      mib: { type: "string", default: "64" },
      "disk-mib": { type: "string", default: "160" },
      "guest-dir": { type: "string" },
      "timeout-s": { type: "string", default: "600" },
      "skip-qemu": { type: "boolean", default: false },
      "skip-paravm": { type: "boolean", default: false },
      "skip-net": { type: "boolean", default: false },
      "skip-full-disk": { type: "boolean", default: false },
      "skip-blk": { type: "boolean", default: false },
      "full-mib": { type: "string", default: "16" },
      "no-json": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) printHeaderHelp("io.ts");
  const int = intOption;
  const o: Options = {
    runs: int("runs", values.runs, 1),
    mib: int("mib", values.mib, 1),
    diskMib: int("disk-mib", values["disk-mib"], 2),
    guestDir: values["guest-dir"] ?? null,
    timeoutS: int("timeout-s", values["timeout-s"], 1),
    skipQemu: values["skip-qemu"] ?? false,
    skipParavm: values["skip-paravm"] ?? false,
    skipNet: values["skip-net"] ?? false,
    skipFullDisk: values["skip-full-disk"] ?? false,
    skipBlk: values["skip-blk"] ?? false,
    fullMib: int("full-mib", values["full-mib"], 1),
    json: !(values["no-json"] ?? false),
  };
  if (o.mib > o.diskMib) throw new Error(`--mib ${o.mib} is larger than --disk-mib ${o.diskMib}`);
  if (o.fullMib > o.diskMib) throw new Error(`--full-mib ${o.fullMib} is larger than --disk-mib ${o.diskMib}`);
  return o;
}

// ---------------------------------------------------------------- guest scripts

type BlkOp = "write" | "read" | "baseline-write" | "baseline-read";

/** The guest script for an operation on /dev/vda (the baselines move 0 MiB). */
function vdaScript(op: BlkOp, mib: number): string {
  const read = op === "read" || op === "baseline-read";
  return blkScript(read ? "read" : "write", "/dev/vda", op === "read" || op === "write" ? mib : 0);
}

function qemuBlkArgs(g: GuestImages, disk: string, script: string): string[] {
  const b64 = Buffer.from(script, "utf8").toString("base64");
  return [
    "-M", "virt", "-m", "256M", "-smp", "1",
    "-bios", OPENSBI,
    "-kernel", g.kernel.path,
    "-initrd", g.initrd.path,
    "-drive", `file=${disk},format=raw,if=none,id=d0`,
    "-device", "virtio-blk-device,drive=d0",
    "-append", `console=ttyS0 paravm.exec=${b64}`,
    "-nographic", "-no-reboot",
  ];
}

function paravmBlkArgs(g: GuestImages, disk: string, script: string): string[] {
  return [PARAVM_BIN, "run", "--kernel", g.kernel.path, "--initrd", g.initrd.path, "--disk", disk, "--exec", script, "--stats"];
}

/** A fully allocated scratch file (0x5a bytes written, not sparse), so reads hit real blocks. */
function makeScratch(path: string, mib: number): void {
  const fd = openSync(path, "w");
  try {
    const buf = Buffer.alloc(MiB, 0x5a);
    for (let i = 0; i < mib; i++) writeSync(fd, buf);
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------- one measured run

interface Measured {
  ok: boolean;
  problem: string | null;
  fig: GuestFigures;
  mibPerS: number;
  hostWallMs: number;
  stats: PvStats | null;
}

function judge(r: VmRun, fig: GuestFigures, wantBytes: number, who: string, pv: boolean): string | null {
  if (r.spawnError) return `could not start: ${r.spawnError}`;
  if (r.timedOut) return `timed out after ${fixed(r.wallMs / 1000, 0)} s`;
  if (fig.status === null) return `no IOBENCH line from the guest (${who} exit ${r.code}${r.signal ? `, ${r.signal}` : ""})`;
  if (fig.status !== 0) return `the guest dd exited ${fig.status}`;
  if (fig.ddBytes !== wantBytes) return `dd copied ${fig.ddBytes} bytes, expected ${wantBytes}`;
  if (pv && parseStats(r.stderr) === null) return "no --stats JSON line on stderr";
  return null;
}

async function measure(cmd: string, args: string[], pv: boolean, wantBytes: number, timeoutMs: number, who: string): Promise<Measured> {
  const env = { ...process.env };
  delete env["PARAVM_JIT"];
  const r = await startVm(cmd, args, env, timeoutMs).done;
  const fig = guestFigures(r.stdout);
  const problem = judge(r, fig, wantBytes, who, pv);
  const secs = fig.ddS !== null && fig.ddS > 0 ? fig.ddS : fig.uptimeS;
  const m: Measured = {
    ok: problem === null,
    problem: problem === null ? null : `${problem}\n  stdout (last lines):\n${tail(r.stdout, 6)}\n  stderr (last lines):\n${tail(r.stderr.split("\n").filter((l) => !l.startsWith("{")).join("\n"), 6)}`,
    fig,
    mibPerS: secs !== null && secs > 0 ? wantBytes / MiB / secs : NaN,
    hostWallMs: r.wallMs,
    stats: pv ? parseStats(r.stderr) : null,
  };
  return m;
}

// ---------------------------------------------------------------- rows

interface OpResult {
  emulator: "paravm" | "QEMU";
  op: BlkOp | NetOp;
  runs: Measured[];
  error: string | null;
}

async function runOp(
  emulator: "paravm" | "QEMU",
  op: BlkOp,
  n: number,
  opts: Options,
  g: GuestImages,
  disk: string,
): Promise<OpResult> {
  const res: OpResult = { emulator, op, runs: [], error: null };
  const script = vdaScript(op, opts.mib);
  const want = op.startsWith("baseline") ? 0 : opts.mib * MiB;
  for (let i = 0; i < n; i++) {
    const m =
      emulator === "QEMU"
        ? await measure(QEMU, qemuBlkArgs(g, disk, script), false, want, opts.timeoutS * 1000, emulator)
        : await measure(process.execPath, paravmBlkArgs(g, disk, script), true, want, opts.timeoutS * 1000, emulator);
    if (!m.ok) {
      res.error = m.problem;
      console.log(`  ${emulator} ${op} run ${i + 1}/${n}: FAILED — ${m.problem?.split("\n")[0]}`);
      break;
    }
    res.runs.push(m);
    console.log(
      `  ${emulator} ${op} run ${i + 1}/${n}: ` +
        (op.startsWith("baseline") ? "" : `${fixed(m.mibPerS, 1)} MiB/s (dd ${fixed(m.fig.ddS ?? NaN, 3)} s, uptime ${fixed(m.fig.uptimeS ?? NaN, 2)} s), `) +
        `process ${fixed(m.hostWallMs / 1000, 2)} s` +
        (m.stats ? `, ${group(m.stats.instructions)} insns, ${group(sum(m.stats.exits))} exits` : ""),
    );
  }
  return res;
}

interface PerMiB {
  runs: number;
  exitsPerMiB: number;
  instructionsPerMiB: number;
  /** Per-reason exits per MiB (median over runs), largest first. */
  exitReasons: [string, number][];
  disk: Record<string, number>;
  interrupts: Record<string, number>;
  /** Guest dd time vs host VM time delta (sanity: the guest clock is host time). */
  vmWallDeltaMs: number;
}

/** (run - baseline)/MiB, median over the op's runs. */
function perMiB(op: OpResult, base: OpResult, mib: number): PerMiB | null {
  const b = base.runs[0]?.stats;
  const runs = op.runs.map((r) => r.stats).filter((s): s is PvStats => s !== null && s !== undefined);
  if (!b || runs.length === 0) return null;
  const reasons = new Map<string, number[]>();
  const disk = new Map<string, number[]>();
  const irq = new Map<string, number[]>();
  const push = (m: Map<string, number[]>, o: Record<string, number>) => {
    for (const [k, v] of Object.entries(o)) m.set(k, [...(m.get(k) ?? []), v / mib]);
  };
  for (const s of runs) {
    push(reasons, diff(s.exits, b.exits));
    push(disk, diff(s.disk, b.disk));
    push(irq, diff(s.interrupts, b.interrupts));
  }
  const med = (m: Map<string, number[]>) => Object.fromEntries([...m].map(([k, v]) => [k, median(v)]));
  const exitReasons = Object.entries(med(reasons))
    .filter(([, v]) => Math.abs(v) >= 0.05)
    .sort((x, y) => y[1] - x[1]);
  return {
    runs: runs.length,
    exitsPerMiB: median(runs.map((s) => (sum(s.exits) - sum(b.exits)) / mib)),
    instructionsPerMiB: median(runs.map((s) => (s.instructions - b.instructions) / mib)),
    exitReasons,
    disk: med(disk),
    interrupts: med(irq),
    vmWallDeltaMs: median(runs.map((s) => s.wallMs - b.wallMs)),
  };
}


// ---------------------------------------------------------------- net (TCP with nc)

type NetOp = "tcp" | "baseline-tcp";
/** Bytes the receiver's timed dd should see: all but the first (0 for the baseline). */
const tcpWantBytes = (op: NetOp, mib: number): number => (op === "tcp" ? mib * MiB - 1 : 0);

function paravmMultiArgs(g: GuestImages, s: { a: string; b: string }): string[] {
  return [
    PARAVM_BIN, "multi", "--kernel", g.kernel.path, "--initrd", g.initrd.path,
    "--vm", `name=a,net=lan0,exec=${s.a}`,
    "--vm", `name=b,net=lan0,exec=${s.b}`,
    "--stats",
  ];
}

function qemuNetArgs(g: GuestImages, role: "a" | "b", port: number, script: string): string[] {
  const b64 = Buffer.from(script, "utf8").toString("base64");
  const addr = role === "a" ? ADDR_A : ADDR_B;
  return [
    "-M", "virt", "-m", "256M", "-smp", "1",
    "-bios", OPENSBI,
    "-kernel", g.kernel.path,
    "-initrd", g.initrd.path,
    "-netdev", role === "a" ? `socket,id=n0,listen=127.0.0.1:${port}` : `socket,id=n0,connect=127.0.0.1:${port}`,
    "-device", `virtio-net-device,netdev=n0,mac=52:54:00:12:34:${role === "a" ? "02" : "03"}`,
    // Same address mechanism as paravm multi: the kernel's ip= (CONFIG_IP_PNP).
    "-append", `console=ttyS0 ip=${addr}:::255.255.255.0:${role}:eth0:off paravm.nodisk paravm.exec=${b64}`,
    "-nographic", "-no-reboot",
  ];
}

const sleepMs = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function measureNet(emulator: "paravm" | "QEMU", op: NetOp, opts: Options, g: GuestImages): Promise<Measured> {
  const env = { ...process.env };
  delete env["PARAVM_JIT"];
  const s = tcpScripts(op === "tcp" ? opts.mib : 0);
  const want = tcpWantBytes(op, opts.mib);
  const timeoutMs = opts.timeoutS * 1000;
  let r: VmRun;
  let stats: PvStats | null = null;
  let extra: string | null = null;
  if (emulator === "paravm") {
    r = await startVm(process.execPath, paravmMultiArgs(g, s), env, timeoutMs).done;
    const ms = parseMultiStats(r.stderr);
    stats = ms?.total ?? null;
    if (ms === null) extra = "no --stats JSON line on stderr";
    else if (Object.keys(ms.perVm).length !== 2) extra = `--stats has ${Object.keys(ms.perVm).length} VMs, expected 2`;
    else if (r.code !== 0) extra = `paravm multi exited ${r.code}`;
  } else {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const a = startVm(QEMU, qemuNetArgs(g, "a", port, s.a), env, timeoutMs);
    await sleepMs(1500); // the listener's socket must be bound before the connecting VM starts
    const b = startVm(QEMU, qemuNetArgs(g, "b", port, s.b), env, timeoutMs);
    const rb = await b.done;
    if (rb.code !== 0 || !/PARAVM-EXIT-STATUS=0/.test(rb.stdout)) {
      // the receiver would wait for a connection forever
      await sleepMs(2000);
      a.kill();
      extra = `sender VM exited ${rb.code}${rb.signal ? ` (${rb.signal})` : ""}: ${tail(rb.stdout + rb.stderr, 3)}`;
    }
    r = await a.done;
  }
  const fig = guestFigures(r.stdout);
  const problem = extra ?? judge(r, fig, want, emulator, false);
  const secs = fig.ddS !== null && fig.ddS > 0 ? fig.ddS : fig.uptimeS;
  return {
    ok: problem === null,
    problem:
      problem === null
        ? null
        : `${problem}\n  stdout (last lines):\n${tail(r.stdout, 6)}\n  stderr (last lines):\n${tail(r.stderr.split("\n").filter((l) => !l.startsWith("{")).join("\n"), 6)}`,
    fig,
    mibPerS: secs !== null && secs > 0 ? (fig.ddBytes ?? want) / MiB / secs : NaN,
    hostWallMs: r.wallMs,
    stats,
  };
}

async function runNetOp(emulator: "paravm" | "QEMU", op: NetOp, n: number, opts: Options, g: GuestImages): Promise<OpResult> {
  const res: OpResult = { emulator, op, runs: [], error: null };
  for (let i = 0; i < n; i++) {
    const m = await measureNet(emulator, op, opts, g);
    if (!m.ok) {
      res.error = m.problem;
      console.log(`  ${emulator} ${op} run ${i + 1}/${n}: FAILED — ${m.problem?.split("\n")[0]}`);
      break;
    }
    res.runs.push(m);
    console.log(
      `  ${emulator} ${op} run ${i + 1}/${n}: ` +
        (op === "tcp" ? `${fixed(m.mibPerS, 1)} MiB/s (dd ${fixed(m.fig.ddS ?? NaN, 3)} s, uptime ${fixed(m.fig.uptimeS ?? NaN, 2)} s), ` : "") +
        `process ${fixed(m.hostWallMs / 1000, 2)} s` +
        (m.stats ? `, ${group(m.stats.instructions)} insns, ${group(sum(m.stats.exits))} exits (both VMs)` : ""),
    );
  }
  return res;
}

// ---------------------------------------------------------------- main

function paravmMultiAvailable(): boolean {
  const r = spawnSync(process.execPath, [PARAVM_BIN, "multi", "--help"], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
  return r.status === 0 && /multi/.test(r.stdout) && /--vm/.test(r.stdout);
}

async function main(): Promise<number> {
  const opts = parseOptions();
  const g = findGuest(opts.guestDir);
  const host = hostInfo();
  const qemuVersion = toolVersion(QEMU);
  console.log(`io bench: ${opts.mib} MiB sequential dd write/read on virtio-blk${opts.skipNet ? "" : " and a TCP transfer with nc between two guests"}, ${opts.runs} run(s) each`);
  console.log(`guest: ${g.dir}  (${g.how})`);
  console.log(`host: ${host.cpuModel} x${host.cpuCount}, node ${host.node}, load ${host.loadAvg.join(" ")}; qemu: ${qemuVersion ?? "not found"}`);

  mkdirSync(WORK_DIR, { recursive: true });
  const disk = join(WORK_DIR, "scratch.img");
  makeScratch(disk, opts.diskMib);
  console.log(`scratch disk: ${relative(ROOT, disk)} (${opts.diskMib} MiB raw, no filesystem; /init's ext2 mount of it fails, as expected)`);

  let failed = false;
  const results: OpResult[] = [];
  const errorRow = (emulator: "paravm" | "QEMU", op: BlkOp | NetOp, e: string): OpResult => ({ emulator, op, runs: [], error: e });
  const ops: BlkOp[] = opts.skipBlk ? [] : ["write", "read"];

  if (!opts.skipQemu) {
    const why = qemuVersion === null ? `${QEMU} not found` : !existsSync(OPENSBI) ? `${OPENSBI} not found` : null;
    for (const op of ops) results.push(why ? errorRow("QEMU", op, why) : await runOp("QEMU", op, opts.runs, opts, g, disk));
  }
  const bases: OpResult[] = [];
  if (!opts.skipParavm) {
    const why = existsSync(PARAVM_BIN) ? null : `${relative(ROOT, PARAVM_BIN)} not found`;
    for (const op of ops) {
      const b: BlkOp = op === "read" ? "baseline-read" : "baseline-write";
      bases.push(why ? errorRow("paravm", b, why) : await runOp("paravm", b, 1, opts, g, disk));
      results.push(why ? errorRow("paravm", op, why) : await runOp("paravm", op, opts.runs, opts, g, disk));
    }
  }
  for (const r of [...results, ...bases]) {
    if (r.error) {
      failed = true;
      console.log(`${r.emulator} ${r.op}: ERROR ${r.error}`);
    }
  }

  // ---- table
  const find = (e: string, op: BlkOp) => results.find((r) => r.emulator === e && r.op === op);
  const mibs = (r: OpResult | undefined) => (r ? r.runs.map((m) => m.mibPerS) : []);
  const bestOf = (xs: number[]) => (xs.length ? Math.max(...xs) : NaN);
  const summary: Record<string, unknown> = {};
  const rows: string[][] = [];
  for (const op of ops) {
    const pv = find("paravm", op);
    const q = find("QEMU", op);
    const pvMed = median(mibs(pv));
    const qMed = median(mibs(q));
    const base = bases.find((b) => b.op === `baseline-${op}`);
    const per = pv && base ? perMiB(pv, base, opts.mib) : null;
    rows.push([
      `blk ${op}`,
      fixed(pvMed, 1),
      fixed(bestOf(mibs(pv)), 1),
      fixed(qMed, 1),
      fixed(bestOf(mibs(q)), 1),
      Number.isFinite(pvMed / qMed) ? `${fixed(pvMed / qMed, 3)}x` : "-",
      per ? fixed(per.exitsPerMiB, 1) : "-",
      per ? group(per.instructionsPerMiB) : "-",
    ]);
    summary[op] = {
      paravm: {
        mibPerSMedian: Number.isFinite(pvMed) ? pvMed : null,
        runs: pv?.runs.map((m) => ({ mibPerS: m.mibPerS, ddS: m.fig.ddS, uptimeS: m.fig.uptimeS, processMs: m.hostWallMs, stats: m.stats?.raw ?? null })) ?? [],
        error: pv?.error ?? null,
        perMiB: per,
      },
      qemu: {
        mibPerSMedian: Number.isFinite(qMed) ? qMed : null,
        runs: q?.runs.map((m) => ({ mibPerS: m.mibPerS, ddS: m.fig.ddS, uptimeS: m.fig.uptimeS, processMs: m.hostWallMs })) ?? [],
        error: q?.error ?? null,
      },
      ratioParavmOverQemu: Number.isFinite(pvMed / qMed) ? pvMed / qMed : null,
    };
  }

  // ---- net
  let net: Record<string, unknown> = { skipped: "--skip-net" };
  let netLine: string | null = null;
  let netPer: PerMiB | null = null;
  if (!opts.skipNet) {
    if (!paravmMultiAvailable()) {
      netLine = "net: skipped (paravm multi not available)";
      net = { skipped: "paravm multi not available" };
      rows.push(["tcp nc", "skipped", "-", "-", "-", "-", "-", "-"]);
    } else {
      const netResults: OpResult[] = [];
      let netBase: OpResult | null = null;
      if (!opts.skipQemu) {
        const why = qemuVersion === null ? `${QEMU} not found` : !existsSync(OPENSBI) ? `${OPENSBI} not found` : null;
        netResults.push(why ? errorRow("QEMU", "tcp", why) : await runNetOp("QEMU", "tcp", opts.runs, opts, g));
      }
      if (!opts.skipParavm) {
        netBase = await runNetOp("paravm", "baseline-tcp", 1, opts, g);
        netResults.push(await runNetOp("paravm", "tcp", opts.runs, opts, g));
      }
      for (const r of [...netResults, ...(netBase ? [netBase] : [])]) {
        if (r.error) {
          failed = true;
          console.log(`${r.emulator} ${r.op}: ERROR ${r.error}`);
        }
      }
      const pv = netResults.find((r) => r.emulator === "paravm");
      const q = netResults.find((r) => r.emulator === "QEMU");
      const pvMed = median(mibs(pv));
      const qMed = median(mibs(q));
      const per = pv && netBase ? perMiB(pv, netBase, opts.mib) : null;
      netPer = per;
      rows.push([
        "tcp nc",
        fixed(pvMed, 1),
        fixed(bestOf(mibs(pv)), 1),
        fixed(qMed, 1),
        fixed(bestOf(mibs(q)), 1),
        Number.isFinite(pvMed / qMed) ? `${fixed(pvMed / qMed, 3)}x` : "-",
        per ? fixed(per.exitsPerMiB, 1) : "-",
        per ? group(per.instructionsPerMiB) : "-",
      ]);
      const s = tcpScripts(opts.mib);
      const sb = tcpScripts(0);
      net = {
        method:
          "receiver a=10.0.2.2 `nc -l | dd`, first byte swallowed, the rest timed by dd (MiB/s = dd bytes / dd seconds); " +
          "sender b=10.0.2.3 `dd if=/dev/zero bs=64k | nc -w 2`; exits/insns per MiB: both VMs summed, minus the 0-byte baseline",
        scripts: { receiver: s.a, sender: s.b },
        scriptsBaseline: { receiver: sb.a, sender: sb.b },
        qemuArgsExample: { listener: qemuNetArgs(g, "a", 0, "<script>"), connector: qemuNetArgs(g, "b", 0, "<script>") },
        paravm: {
          mibPerSMedian: Number.isFinite(pvMed) ? pvMed : null,
          runs: pv?.runs.map((m) => ({ mibPerS: m.mibPerS, ddBytes: m.fig.ddBytes, ddS: m.fig.ddS, uptimeS: m.fig.uptimeS, processMs: m.hostWallMs, stats: m.stats?.raw ?? null })) ?? [],
          error: pv?.error ?? null,
          perMiB: per,
          baseline: netBase ? { error: netBase.error, stats: netBase.runs[0]?.stats?.raw ?? null, processMs: netBase.runs[0]?.hostWallMs ?? null } : null,
        },
        qemu: {
          mibPerSMedian: Number.isFinite(qMed) ? qMed : null,
          runs: q?.runs.map((m) => ({ mibPerS: m.mibPerS, ddBytes: m.fig.ddBytes, ddS: m.fig.ddS, uptimeS: m.fig.uptimeS, processMs: m.hostWallMs })) ?? [],
          error: q?.error ?? null,
        },
        ratioParavmOverQemu: Number.isFinite(pvMed / qMed) ? pvMed / qMed : null,
      };
    }
  }

  console.log(`\n${opts.mib} MiB sequential, guest-measured (median of ${opts.runs}; MiB/s = bytes / dd's elapsed time)`);
  console.log(
    table(["transfer", "paravm MiB/s", "best", "QEMU MiB/s", "best", "paravm/QEMU", "exits/MiB", "guest insns/MiB"], rows),
  );
  console.log(
    "  exits/MiB and insns/MiB: paravm only, (run - the same script with count=0) / MiB, median over runs;\n" +
      "  both emulators read/write the host page cache (cache=writeback); O_DIRECT only bypasses the guest's.",
  );
  if (netLine) console.log(netLine);
  if (netPer) {
    console.log(`\nparavm tcp nc: exits per MiB by reason, both VMs (|x| >= 0.05)`);
    console.log(table(["reason", "per MiB"], netPer.exitReasons.slice(0, 12).map(([k, v]) => [k, fixed(v, 2)])));
    const i = Object.entries(netPer.interrupts).filter(([, v]) => v !== 0).map(([k, v]) => `${k} ${fixed(v, 2)}`);
    console.log(`  per MiB: ${i.join(", ")}`);
  }

  for (const op of ops) {
    const per = (summary[op] as { paravm: { perMiB: PerMiB | null } }).paravm.perMiB;
    if (!per) continue;
    console.log(`\nparavm blk ${op}: exits per MiB by reason (|x| >= 0.05)`);
    console.log(table(["reason", "per MiB"], per.exitReasons.slice(0, 12).map(([k, v]) => [k, fixed(v, 2)])));
    const d = Object.entries(per.disk).filter(([, v]) => v !== 0).map(([k, v]) => `${k} ${fixed(v, k.includes("bytes") ? 0 : 2)}`);
    const i = Object.entries(per.interrupts).filter(([, v]) => v !== 0).map(([k, v]) => `${k} ${fixed(v, 2)}`);
    console.log(`  per MiB: ${[...d, ...i].join(", ")}`);
    const pv = find("paravm", op);
    const dd = median((pv?.runs ?? []).map((m) => m.fig.ddS ?? NaN));
    console.log(
      `  VM wallMs minus baseline: ${fixed(per.vmWallDeltaMs / 1000, 2)} s (guest dd ${fixed(dd, 2)} s); ` +
        `guest MIPS during the dd ~ ${fixed((per.instructionsPerMiB * opts.mib) / dd / 1e6, 1)}`,
    );
  }

  let fullDisk: Record<string, unknown> = { skipped: "--skip-full-disk" };
  if (!opts.skipFullDisk && !opts.skipParavm) {
    const med = (e: string, op: BlkOp) => median(mibs(find(e, op)));
    const r = await fullDiskSection(
      {
        g,
        disk,
        mib: opts.fullMib,
        runs: opts.runs,
        timeoutMs: opts.timeoutS * 1000,
        paravmBin: PARAVM_BIN,
        qemu: opts.skipQemu || qemuVersion === null ? null : QEMU,
        opensbi: OPENSBI,
      },
      { write: { paravm: med("paravm", "write"), qemu: med("QEMU", "write") }, read: { paravm: med("paravm", "read"), qemu: med("QEMU", "read") } },
    );
    fullDisk = r.json;
    if (r.failed) failed = true;
  }

  if (opts.json) {
    const file = writeResults("io", {
      benchmark: "io",
      date: new Date().toISOString(),
      host: { ...host, qemu: qemuVersion, opensbi: OPENSBI },
      git: gitInfo(),
      options: opts,
      guest: { dir: g.dir, how: g.how, kernel: g.kernel, initrd: g.initrd },
      scripts: { write: vdaScript("write", opts.mib), read: vdaScript("read", opts.mib) },
      qemuArgsExample: qemuBlkArgs(g, disk, "<script>"),
      scriptsBaseline: { write: vdaScript("baseline-write", opts.mib), read: vdaScript("baseline-read", opts.mib) },
      paravmBaselines: bases.map((b) => ({ op: b.op, error: b.error, stats: b.runs[0]?.stats?.raw ?? null, processMs: b.runs[0]?.hostWallMs ?? null })),
      blk: summary,
      net,
      fullDisk,
    });
    console.log(`\nresults: ${relative(ROOT, file)}`);
  }
  rmSync(disk, { force: true });
  return failed ? 1 : 0;
}

runMain("io bench", main);
