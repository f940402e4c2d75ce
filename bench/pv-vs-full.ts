/**
 * pv vs full: the same kernel and initramfs on paravm's two machines in one run, and what
 * para-virtualization saves. pv = the hypervisor is the SBI (hypercalls) and the devices
 * are virtio; full = unmodified OpenSBI fw_jump in guest M-mode, CLINT, NS16550A UART,
 * ATA PIO disk, e1000 NIC. For each profile (median of --runs):
 *
 *   boot   `paravm run --exec true --stats` with the built disk as `paravm run` attaches it:
 *          bootMs (to the first user instruction), process wall time, guest instructions
 *          per privilege (M = firmware), exits to the hypervisor, traps into the firmware.
 *   timer  --timer-iters × `usleep 2000` timed in the guest with /proc/uptime; per iteration
 *          (run - the same script with 0 iterations): ms (ideal 2),
 *          timer events (pv: set_timer hypercalls; full: ecalls into OpenSBI + M-mode timer
 *          interrupts + CLINT writes), all exits, M-mode instructions.
 *   disk   busybox dd write (oflag=direct) then read (drop_caches, iflag=direct) of --disk-mib
 *          MiB on the raw device (pv /dev/vda, full /dev/sda) of a scratch file made with
 *          truncate (no filesystem; paravm.nodisk on the command line). MiB/s from dd's own
 *          time; exits, instructions, firmware traps per MiB (run - count=0 baseline).
 *   net    --net-mib MiB TCP with nc between two VMs of the same profile on one switch
 *          (`paravm multi`, bench/io.ts's method); exits etc. per MiB, both VMs summed,
 *          minus a 0-byte baseline.
 *
 * "Exits" are hypercalls, MMIO window accesses and WFI (as `paravm compare` counts them;
 * per-register rows are a breakdown). Traps into the guest's own M-mode firmware are
 * counted separately: they leave no guest, but pv never takes them. The "why" lines under
 * the table are computed from the per-reason counters.
 *
 *   npm run bench:pv-vs-full [-- options]      (or: node dist/bench/pv-vs-full.js [options])
 *
 * Options:
 *   --runs N          timed runs per measurement per profile, default 3
 *   --timer-iters N   usleep iterations, default 200
 *   --disk-mib N      MiB per dd, default 16 (ATA PIO is slow)
 *   --net-mib N       MiB per TCP transfer, default 16
 *   --guest-dir DIR   directory with Image and initramfs.cpio.gz (as bench/boot.ts)
 *   --timeout-s S     kill a run after this long, default 600
 *   --skip-timer / --skip-disk / --skip-net
 *   --no-json         do not write bench/results/pv-vs-full-<date>.json
 */
import { existsSync, mkdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { exitGroups } from "../src/control/stats-table.js";
import { fixed, gitInfo, group, hostInfo, intOption, printHeaderHelp, ROOT, table, writeResults, runMain } from "./lib/common.js";
import { blkScript, findGuest, median, tcpScripts, type GuestImages } from "./lib/iobench.js";
import {
  BOOTARGS,
  DISK_DEV,
  exitsPerUnit,
  fwTraps,
  guestCheck,
  hvExits,
  MiB,
  paravm,
  perUnit,
  PROFILES,
  sumOf,
  timerEvents,
  timerParts,
  timerScript,
  top,
  type Profile,
  type Run,
  type Sample,
} from "./lib/pvfull.js";

const WORK_DIR = join(ROOT, "build", "bench", "pv-vs-full");

interface Options {
  runs: number;
  timerIters: number;
  diskMib: number;
  netMib: number;
  guestDir: string | null;
  timeoutS: number;
  skipTimer: boolean;
  skipDisk: boolean;
  skipNet: boolean;
  json: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "3" },
      "timer-iters": { type: "string", default: "200" },
      "disk-mib": { type: "string", default: "16" },
      "net-mib": { type: "string", default: "16" },
      "guest-dir": { type: "string" },
      "timeout-s": { type: "string", default: "600" },
      "skip-timer": { type: "boolean", default: false },
      "skip-disk": { type: "boolean", default: false },
      "skip-net": { type: "boolean", default: false },
      "no-json": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) printHeaderHelp("pv-vs-full.ts");
  return {
    runs: intOption("runs", values.runs, 1),
    timerIters: intOption("timer-iters", values["timer-iters"], 1),
    diskMib: intOption("disk-mib", values["disk-mib"], 1),
    netMib: intOption("net-mib", values["net-mib"], 1),
    guestDir: values["guest-dir"] ?? null,
    timeoutS: intOption("timeout-s", values["timeout-s"], 1),
    skipTimer: values["skip-timer"] ?? false,
    skipDisk: values["skip-disk"] ?? false,
    skipNet: values["skip-net"] ?? false,
    json: !(values["no-json"] ?? false),
  };
}

// ---------------------------------------------------------------- running

interface Op {
  profile: Profile;
  name: string;
  runs: Run[];
  error: string | null;
}

let failed = false;

/** `n` runs of one measurement; stops at the first failure, which it prints with the output tails. */
async function op(
  profile: Profile,
  name: string,
  n: number,
  args: readonly string[],
  check: Parameters<typeof paravm>[2],
  timeoutMs: number,
  describe: (r: Run) => string,
): Promise<Op> {
  const res: Op = { profile, name, runs: [], error: null };
  for (let i = 0; i < n; i++) {
    const r = await paravm(args, timeoutMs, check);
    if (typeof r === "string") {
      res.error = r;
      failed = true;
      console.log(`  ${profile} ${name} run ${i + 1}/${n}: FAILED — ${r}`);
      break;
    }
    res.runs.push(r);
    console.log(
      `  ${profile} ${name} run ${i + 1}/${n}: ${describe(r)}process ${fixed(r.processMs / 1000, 2)} s, ` +
        `${group(r.sample.instructions)} insns, ${group(hvExits(r.sample.exits))} exits, ${group(fwTraps(r.sample.exits))} fw traps`,
    );
  }
  return res;
}

/** True when every op has at least one run: the "why" lines need both profiles' counters. */
const complete = (...ops: Partial<Record<Profile, Op>>[]): boolean => ops.every((o) => PROFILES.every((p) => (o[p]?.runs.length ?? 0) > 0));
const samples = (o: Op | undefined): Sample[] => (o ? o.runs.map((r) => r.sample) : []);
const med = (o: Op | undefined, f: (r: Run) => number): number => median((o?.runs ?? []).map(f));
/** MiB/s from dd's own elapsed time (microseconds), else /proc/uptime. */
const mibPerS = (r: Run): number => {
  const s = r.fig.ddS !== null && r.fig.ddS > 0 ? r.fig.ddS : r.fig.uptimeS;
  return s !== null && s > 0 ? (r.fig.ddBytes ?? 0) / MiB / s : NaN;
};
const runsJson = (o: Op | undefined) => ({
  error: o?.error ?? null,
  runs: (o?.runs ?? []).map((r) => ({ processMs: r.processMs, uptimeS: r.fig.uptimeS, ddS: r.fig.ddS, ddBytes: r.fig.ddBytes, stats: r.sample.raw })),
});

// ---------------------------------------------------------------- table

type Row = [metric: string, pv: string, full: string, ratio: string, note: string];
const rows: Row[] = [];
const why: string[] = [];
const per = <T>(f: (p: Profile) => T): Record<Profile, T> => ({ pv: f("pv"), full: f("full") });

/** 1234567 -> "1,234,567"; 12.3456 -> "12.3"; 1.2345 -> "1.23". */
function num(v: number): string {
  if (!Number.isFinite(v)) return "-";
  if (Number.isInteger(v)) return group(v);
  const a = Math.abs(v);
  return a >= 1000 ? group(v) : a >= 10 ? fixed(v, 1) : fixed(v, 2);
}

/** A row: pv, full, full/pv; for throughput (`faster`) the note says which is faster and by how much. */
function row(metric: string, v: Record<Profile, number>, opts: { fmt?: (x: number) => string; note?: string; faster?: boolean } = {}): void {
  const f = opts.fmt ?? num;
  const r = v.full / v.pv;
  const ok = Number.isFinite(r) && v.pv !== 0;
  let note = opts.note ?? "";
  if (opts.faster && ok && r > 0) note = r < 1 ? `pv ${fixed(1 / r, 1)}x faster` : `full ${fixed(r, 1)}x faster`;
  rows.push([metric, f(v.pv), f(v.full), ok ? `${r >= 100 ? group(r) : fixed(r, r >= 10 ? 1 : 2)}x` : "-", note]);
}

/** The biggest exit groups (as `paravm compare`): "mmio uart0 14,381, hypercalls (SBI) 4,900". */
const groupsNote = (exits: Record<string, number>, n: number): string =>
  [...exitGroups(exits).entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${k} ${num(v)}`)
    .join(", ");

// ---------------------------------------------------------------- sections

interface Ctx {
  opts: Options;
  g: GuestImages;
  timeoutMs: number;
  img: string[];
}

async function bootSection(c: Ctx): Promise<unknown> {
  const built = join(c.g.dir, "disk.ext2");
  const diskArg = (p: Profile): string[] => (existsSync(built) ? ["--disk", `${built},${p === "full" ? "snapshot" : "readonly"}`] : []);
  const boot: Partial<Record<Profile, Op>> = {};
  for (const p of PROFILES) {
    const args = ["run", "--profile", p, ...c.img, ...diskArg(p), "--exec", "true", "--stats"];
    const check = (fig: { exitStatus: number | null }) => (fig.exitStatus === 0 ? null : `PARAVM-EXIT-STATUS=${fig.exitStatus}`);
    boot[p] = await op(p, "boot", c.opts.runs, args, check, c.timeoutMs, (r) => `boot ${fixed((r.sample.bootMs ?? NaN) / 1000, 2)} s, `);
  }
  const m = (f: (s: Sample) => number) => per((p) => median(samples(boot[p]).map(f)));
  const M = m((s) => s.priv.M);
  const total = m((s) => s.instructions);
  row("boot: to first user insn, ms", m((s) => s.bootMs ?? NaN), { fmt: (x) => fixed(x, 0) });
  row("boot: `--exec true` process, s", per((p) => med(boot[p], (r) => r.processMs / 1000)), { fmt: (x) => fixed(x, 2) });
  row("boot: guest insns", total);
  row("boot: M-mode insns (firmware)", M, { note: `${fixed((100 * M.full) / total.full, 1)}% of full's guest insns` });
  row("boot: S-mode insns (kernel)", m((s) => s.priv.S));
  row("boot: U-mode insns (user)", m((s) => s.priv.U));
  const ex = m((s) => hvExits(s.exits));
  const zero: Sample = { bootMs: null, wallMs: 0, instructions: 0, priv: { M: 0, S: 0, U: 0 }, exits: {}, interrupts: {}, raw: null };
  const exMed = per((p) => exitsPerUnit(samples(boot[p]), zero, 1));
  row("boot: exits", ex, { note: complete(boot) ? `full: ${groupsNote(exMed.full, 2)}` : "" });
  const fw = m((s) => fwTraps(s.exits));
  row("boot: traps into firmware", fw);
  // why: the firmware and the console
  const fe = exMed.full;
  const pe = exMed.pv;
  if (complete(boot)) why.push(
    `boot: full runs ${num(M.full)} instructions (${fixed((100 * M.full) / total.full, 1)}%) in M-mode firmware (OpenSBI) and traps into it ${num(fw.full)} times ` +
      `(${top(fe, /^firmware\./, 4, (k) => k.slice(9), num)}); pv runs none and makes ${num(sumOf(pe, /^sbi\./))} hypercalls instead.`,
    `boot: console: full ${num(sumOf(fe, /^mmio\.uart\d*\.(read|write)$/))} UART exits (${top(fe, /^mmio\.uart\d*\.[^.]+\.(read|write)$/, 2, (k) => k.split(".").slice(2).join("."), num)}: ` +
      `a register access per character plus a status poll) vs pv ${num(sumOf(pe, /^sbi\.legacy\.console_putchar$/))} console hypercalls + ` +
      `${num(sumOf(pe, /^mmio\.virtio-console\d*\.(read|write)$/))} virtio-console exits; disk probe+mount: full ${num(sumOf(fe, /^mmio\.ata\d*\.(read|write)$/))} ATA exits vs pv ${num(sumOf(pe, /^mmio\.virtio-blk\d*\.(read|write)$/))} virtio-blk exits.`,
  );
  return per((p) => ({ ...runsJson(boot[p]), bootMsMedian: m((s) => s.bootMs ?? NaN)[p], instructionsMedian: total[p], mModeMedian: M[p], exitsMedian: ex[p], firmwareTrapsMedian: fw[p] }));
}

async function timerSection(c: Ctx): Promise<unknown> {
  const n = c.opts.timerIters;
  const base: Partial<Record<Profile, Op>> = {};
  const runs: Partial<Record<Profile, Op>> = {};
  for (const p of PROFILES) {
    const args = (k: number) => ["run", "--profile", p, ...c.img, "--exec", timerScript(k), "--stats"];
    base[p] = await op(p, "timer baseline (0 iterations)", 1, args(0), guestCheck(null), c.timeoutMs, () => "");
    runs[p] = await op(p, `timer ${n} x usleep 2000`, c.opts.runs, args(n), guestCheck(null), c.timeoutMs, (r) => `loop ${fixed(r.fig.uptimeS ?? NaN, 2)} s (guest uptime), `);
  }
  const pu = (f: (s: Sample) => number) => per((p) => perUnit(samples(runs[p]), base[p]?.runs[0]?.sample, n, f));
  // Minus the baseline's interval (the two /proc/uptime reads with no loop between them).
  const msIter = per((p) => med(runs[p], (r) => (((r.fig.uptimeS ?? NaN) - (base[p]?.runs[0]?.fig.uptimeS ?? NaN)) * 1000) / n));
  const ev = per((p) => pu((s) => timerEvents(p, s.exits))[p]);
  const parts = per((p) => {
    const e = exitsPerUnit(samples(runs[p]), base[p]?.runs[0]?.sample, n);
    return Object.fromEntries(Object.keys(timerParts(p, {})).map((k) => [k, e[k] ?? NaN])) as Record<string, number>;
  });
  const partsNote = (p: Profile) => Object.entries(parts[p]).map(([k, v]) => `${k.replace(/^(sbi\.time|firmware|mmio)\./, "")} ${num(v)}`).join(" + ");
  const ex = pu((s) => hvExits(s.exits));
  const M = pu((s) => s.priv.M);
  const irq = pu((s) => s.interrupts["timer"] ?? 0);
  row(`timer: ms per usleep 2000 (ideal 2)`, msIter);
  row("timer: timer events / iter", ev, { note: `full: ${partsNote("full")}` });
  row("timer: exits / iter", ex);
  row("timer: M-mode insns / iter", M);
  row("timer: guest insns / iter", pu((s) => s.instructions));
  if (complete(base, runs)) why.push(
    `timer: per usleep pv makes ${num(parts.pv["sbi.time.set_timer"] ?? NaN)} set_timer hypercalls (one exit each) and takes ${num(irq.pv)} timer interrupts in S-mode; ` +
      `full makes ${num(parts.full["firmware.ecall-s"] ?? NaN)} ecalls into OpenSBI, takes ${num(parts.full["firmware.mtimer"] ?? NaN)} M-mode timer interrupts that OpenSBI forwards, ` +
      `writes the CLINT ${num(parts.full["mmio.clint.write"] ?? NaN)} times (exits) and runs ${num(M.full)} M-mode instructions.`,
  );
  return per((p) => ({ baseline: runsJson(base[p]), ...runsJson(runs[p]), msPerIterationMedian: msIter[p], timerEventsPerIteration: ev[p], timerParts: parts[p], exitsPerIteration: ex[p], mModeInsnsPerIteration: M[p] }));
}

async function diskSection(c: Ctx): Promise<unknown> {
  const mib = c.opts.diskMib;
  mkdirSync(WORK_DIR, { recursive: true });
  const scratch = join(WORK_DIR, "scratch.img");
  writeFileSync(scratch, "");
  truncateSync(scratch, (mib + 16) * MiB);
  console.log(`scratch disk: ${relative(ROOT, scratch)} (${mib + 16} MiB, truncate, no filesystem)`);
  const out: Record<string, unknown> = {};
  try {
    for (const opName of ["write", "read"] as const) {
      const base: Partial<Record<Profile, Op>> = {};
      const runs: Partial<Record<Profile, Op>> = {};
      for (const p of PROFILES) {
        const args = (k: number) => [
          "run", "--profile", p, ...c.img, "--disk", scratch, "--append", `${BOOTARGS[p]} paravm.nodisk`,
          "--exec", blkScript(opName, DISK_DEV[p], k), "--stats",
        ];
        base[p] = await op(p, `disk ${opName} baseline (count=0)`, 1, args(0), guestCheck(0), c.timeoutMs, () => "");
        runs[p] = await op(p, `disk ${opName} ${mib} MiB`, c.opts.runs, args(mib), guestCheck(mib * MiB), c.timeoutMs, (r) => `${fixed(mibPerS(r), 2)} MiB/s (dd ${fixed(r.fig.ddS ?? NaN, 2)} s), `);
      }
      const pu = (f: (s: Sample) => number) => per((p) => perUnit(samples(runs[p]), base[p]?.runs[0]?.sample, mib, f));
      const e = per((p) => exitsPerUnit(samples(runs[p]), base[p]?.runs[0]?.sample, mib));
      const speed = per((p) => med(runs[p], mibPerS));
      const ex = pu((s) => hvExits(s.exits));
      const data = sumOf(e.full, /^mmio\.ata\d*\.data\.(read|write)$/);
      row(`disk ${opName}: MiB/s`, speed, { faster: true });
      row(`disk ${opName}: exits / MiB`, ex, { note: complete(base, runs) ? `full: ATA data port ${num(data)}` : "" });
      row(`disk ${opName}: guest insns / MiB`, pu((s) => s.instructions));
      row(`disk ${opName}: firmware traps / MiB`, pu((s) => fwTraps(s.exits)));
      const irq = pu((s) => s.interrupts["external"] ?? 0);
      if (complete(base, runs)) why.push(
        `disk ${opName}: ATA: ${num(ex.full)} exits per MiB, of which data-port ${opName === "read" ? "reads" : "writes"} ${num(data)} ` +
          `(${fixed(MiB / data, 1)} bytes per exit; then ${top(e.full, /^mmio\.ata\d*\.(?!data\.)[^.]+\.(read|write)$/, 3, (k) => k.split(".").slice(2).join("."), num)}) ` +
          `vs virtio-blk: ${num(ex.pv)} (${top(e.pv, /^(mmio\.[^.]+\.(read|write)|sbi\..*|wfi)$/, 3, (k) => k.replace(/^mmio\./, ""), num)}); ` +
          `external interrupts per MiB: full ${num(irq.full)}, pv ${num(irq.pv)}.`,
      );
      out[opName] = per((p) => ({ baseline: runsJson(base[p]), ...runsJson(runs[p]), mibPerSMedian: speed[p], exitsPerMiB: ex[p], exitReasonsPerMiB: e[p] }));
    }
  } finally {
    rmSync(scratch, { force: true });
  }
  return out;
}

async function netSection(c: Ctx): Promise<unknown> {
  const mib = c.opts.netMib;
  const base: Partial<Record<Profile, Op>> = {};
  const runs: Partial<Record<Profile, Op>> = {};
  for (const p of PROFILES) {
    const args = (k: number) => {
      const s = tcpScripts(k);
      return ["multi", ...c.img, "--vm", `name=a,profile=${p},net=lan0,exec=${s.a}`, "--vm", `name=b,profile=${p},net=lan0,exec=${s.b}`, "--stats"];
    };
    base[p] = await op(p, "tcp baseline (0 bytes)", 1, args(0), guestCheck(0), c.timeoutMs, () => "");
    runs[p] = await op(p, `tcp ${mib} MiB`, c.opts.runs, args(mib), guestCheck(mib * MiB - 1), c.timeoutMs, (r) => `${fixed(mibPerS(r), 2)} MiB/s (dd ${fixed(r.fig.ddS ?? NaN, 2)} s), `);
  }
  const pu = (f: (s: Sample) => number) => per((p) => perUnit(samples(runs[p]), base[p]?.runs[0]?.sample, mib, f));
  const e = per((p) => exitsPerUnit(samples(runs[p]), base[p]?.runs[0]?.sample, mib));
  const speed = per((p) => med(runs[p], mibPerS));
  const ex = pu((s) => hvExits(s.exits));
  const irq = pu((s) => s.interrupts["external"] ?? 0);
  row("tcp: MiB/s", speed, { faster: true });
  row("tcp: exits / MiB (2 VMs)", ex, { note: `full: ${top(e.full, /^mmio\.[^.]+\.e1000\.[^.]+\.(read|write)$/, 2, (k) => k.split(".").slice(3).join("."), num)}` });
  row("tcp: guest insns / MiB (2 VMs)", pu((s) => s.instructions));
  row("tcp: firmware traps / MiB", pu((s) => fwTraps(s.exits)));
  if (complete(base, runs)) why.push(
    `tcp: e1000: ${num(ex.full)} exits per MiB (registers: ${top(e.full, /^mmio\.[^.]+\.e1000\.[^.]+\.(read|write)$/, 5, (k) => k.split(".").slice(3).join("."), num)}; ` +
      `${num(irq.full)} external interrupts) vs virtio-net: ${num(ex.pv)} (${top(e.pv, /^(mmio\.[^.]+\.(read|write)|sbi\..*|wfi)$/, 4, (k) => k.replace(/^mmio\./, ""), num)}; ${num(irq.pv)} external interrupts).`,
  );
  const s = tcpScripts(mib);
  return { scripts: { receiver: s.a, sender: s.b }, ...per((p) => ({ baseline: runsJson(base[p]), ...runsJson(runs[p]), mibPerSMedian: speed[p], exitsPerMiB: ex[p], exitReasonsPerMiB: e[p] })) };
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const opts = parseOptions();
  const g = findGuest(opts.guestDir);
  const host = hostInfo();
  const t0 = performance.now();
  console.log(
    `pv vs full: boot${opts.skipTimer ? "" : `, ${opts.timerIters} x usleep 2000`}${opts.skipDisk ? "" : `, ${opts.diskMib} MiB dd write/read`}` +
      `${opts.skipNet ? "" : `, ${opts.netMib} MiB TCP between two VMs`}; ${opts.runs} run(s) each per profile`,
  );
  console.log(`guest: ${g.dir}  (${g.how})`);
  console.log(`host: ${host.cpuModel} x${host.cpuCount}, node ${host.node}, load ${host.loadAvg.join(" ")}`);
  const c: Ctx = { opts, g, timeoutMs: opts.timeoutS * 1000, img: ["--kernel", g.kernel.path, "--initrd", g.initrd.path] };
  const results: Record<string, unknown> = {};
  results["boot"] = await bootSection(c);
  results["timer"] = opts.skipTimer ? { skipped: "--skip-timer" } : await timerSection(c);
  results["disk"] = opts.skipDisk ? { skipped: "--skip-disk" } : await diskSection(c);
  results["net"] = opts.skipNet ? { skipped: "--skip-net" } : await netSection(c);
  const elapsedS = (performance.now() - t0) / 1000;

  console.log(`\npv vs full, median of ${opts.runs} (per iter / per MiB: run minus a baseline run of the same script with no work)`);
  // table() right-aligns every column but the first: the notes go after it, left-aligned.
  const lines = table(["metric", "pv", "full", "full/pv"], rows.map((r) => r.slice(0, 4))).split("\n");
  console.log(lines.map((l, i) => (i === 0 ? `${l}  note` : i === 1 ? `${l}  ----` : `${l}  ${rows[i - 2]?.[4] ?? ""}`).trimEnd()).join("\n"));
  console.log("\nwhy (computed from the per-reason exit counters):");
  for (const w of why) console.log(`  ${w}`);
  console.log(
    "  exits = hypercalls + MMIO window accesses + WFI (per-register counters are a breakdown); firmware traps = traps into\n" +
      "  OpenSBI in guest M-mode (full only), counted apart.",
  );
  console.log(`\nbench wall time: ${fixed(elapsedS / 60, 1)} min${failed ? "; some runs FAILED (see above)" : ""}`);

  if (opts.json) {
    const file = writeResults("pv-vs-full", {
      benchmark: "pv-vs-full",
      date: new Date().toISOString(),
      host,
      git: gitInfo(),
      options: opts,
      guest: { dir: g.dir, how: g.how, kernel: g.kernel, initrd: g.initrd },
      wallS: elapsedS,
      table: { header: ["metric", "pv", "full", "full/pv", "note"], rows },
      why,
      scripts: {
        timer: timerScript(opts.timerIters),
        write: per((p) => blkScript("write", DISK_DEV[p], opts.diskMib)),
        read: per((p) => blkScript("read", DISK_DEV[p], opts.diskMib)),
        bootargsDisk: per((p) => `${BOOTARGS[p]} paravm.nodisk`),
      },
      ...results,
    });
    console.log(`results: ${relative(ROOT, file)}`);
  }
  return failed ? 1 : 0;
}

runMain("pv-vs-full bench", main);
