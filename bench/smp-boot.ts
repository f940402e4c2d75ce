/**
 * SMP boot reliability: boot a 2-hart full guest (Debian's OpenSBI 1.1 `fw_jump.bin` in
 * M-mode on every hart, the project's kernel + initramfs) many times, on paravm and on
 * `qemu-system-riscv64 -M virt -smp 2 -accel tcg,thread=multi` with the same images, and
 * classify every boot:
 *
 *   ok           the guest printed NPROC=2 and exited 0
 *   cpu missing  the guest finished with fewer CPUs (Linux: "CPU1: failed to come online")
 *   hung early   timed out before the first kernel line ("Linux version")
 *   hung late    timed out after it
 *   other        anything else (crash, bad exit status, no exit after the guest finished)
 *
 * OpenSBI 1.1 has a secondary-hart start race (fixed upstream in 1.3 by c6a092c and
 * e8e9ed3; docs/full-machine.md "The OpenSBI 1.1 secondary-start race"): a secondary can
 * leave the firmware with the stale next address, the kernel's boot entry, instead of the
 * one given to SBI HSM hart_start. With this kernel it ends spinning in _start_kernel's
 * spin-wait loop and Linux boots with one CPU. A QEMU boot that fails is asked, through its
 * monitor, where each hart is (`info registers -a`), so the table says how many failures
 * were that (a secondary at the kernel's boot entry, physical DRAM + 2 MiB, MMU off).
 *
 * The guest runs `n=$(nproc); echo NPROC=$n; [ "$n" = 2 ] || sleep 4` (the sleep leaves
 * QEMU's monitor time to look at a failed boot; an ok boot does not wait).
 *
 *   npm run bench:smp-boot [-- options]     (or: node dist/bench/smp-boot.js [options])
 *
 * Options:
 *   --runs N            boots on each emulator, default 40
 *   --parallel P        boots at once on each emulator, default 1 (the host's load is
 *                       recorded either way: the race depends on host scheduling)
 *   --timeout-s S       kill a paravm boot after S seconds, default 300
 *   --qemu-timeout-s S  kill a QEMU boot after S seconds, default 60
 *   --pcpus N           pass --pcpus N to paravm (host cores its scheduler hands out;
 *                       1 = the two vCPUs share one core)
 *   --paravm-bin FILE   the paravm CLI to run, default bin/paravm.js of this checkout
 *                       (e.g. a worktree of an older commit, for a before/after)
 *   --label TEXT        name of the paravm row, default "paravm"
 *   --guest-dir DIR     directory with Image and initramfs.cpio.gz (default as bench:boot)
 *   --skip-qemu / --skip-paravm
 *   --no-json           do not write bench/results/smp-boot-<date>.json
 *
 * Exit status 1 when a paravm boot was not ok (QEMU's failures are the reference, not an error).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import os from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fixed, gitInfo, hostInfo, intOption, printHeaderHelp, ROOT, runMain, table, tail, toolVersion, writeResults } from "./lib/common.js";
import { findGuest, type GuestImages } from "./lib/iobench.js";

const QEMU = "qemu-system-riscv64";
const OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin";
const DRAM = 0x8000_0000;
/** fw_jump's FW_JUMP_ADDR: where the kernel's boot entry (the Image header) is. */
const KERNEL_ENTRY = DRAM + 0x20_0000;
const COMMAND = 'n=$(nproc); echo NPROC=$n; [ "$n" = 2 ] || sleep 4';
const EXIT_LINE = /PARAVM-EXIT-STATUS=(\d+)/;
const NPROC_LINE = /NPROC=(\d+)/;
const FIRST_KERNEL_LINE = /Linux version /;
const OUTPUT_CAP = 1 << 20;

type Outcome = "ok" | "cpu-missing" | "hung-early" | "hung-late" | "other";
const OUTCOMES: readonly Outcome[] = ["ok", "cpu-missing", "hung-early", "hung-late", "other"];

interface Options {
  runs: number;
  parallel: number;
  timeoutS: number;
  qemuTimeoutS: number;
  pcpus: number | null;
  paravmBin: string;
  label: string;
  guestDir: string | null;
  skipQemu: boolean;
  skipParavm: boolean;
  json: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "40" },
      parallel: { type: "string", default: "1" },
      "timeout-s": { type: "string", default: "300" },
      "qemu-timeout-s": { type: "string", default: "60" },
      pcpus: { type: "string" },
      "paravm-bin": { type: "string" },
      label: { type: "string", default: "paravm" },
      "guest-dir": { type: "string" },
      "skip-qemu": { type: "boolean", default: false },
      "skip-paravm": { type: "boolean", default: false },
      "no-json": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) printHeaderHelp("smp-boot.ts");
  return {
    runs: intOption("runs", values.runs, 1),
    parallel: intOption("parallel", values.parallel, 1),
    timeoutS: intOption("timeout-s", values["timeout-s"], 1),
    qemuTimeoutS: intOption("qemu-timeout-s", values["qemu-timeout-s"], 1),
    pcpus: values.pcpus === undefined ? null : intOption("pcpus", values.pcpus, 1),
    paravmBin: resolve(values["paravm-bin"] ?? join(ROOT, "bin", "paravm.js")),
    label: values.label ?? "paravm",
    guestDir: values["guest-dir"] ?? null,
    skipQemu: values["skip-qemu"] ?? false,
    skipParavm: values["skip-paravm"] ?? false,
    json: !(values["no-json"] ?? false),
  };
}

// ---------------------------------------------------------------- one boot

interface HartPc {
  cpu: number;
  pc: string;
}

interface Boot {
  index: number;
  outcome: Outcome;
  /** Why, for anything but ok. */
  reason: string | null;
  nproc: number | null;
  guestStatus: number | null;
  /** Spawn to process exit (or to the kill). */
  wallMs: number;
  /** 1-minute load average of the host when the boot started, and boots running beside it (this bench's). */
  load1: number;
  concurrent: number;
  /** QEMU, failed boots: each hart's pc from the monitor, and whether a (secondary) hart sat at the kernel's boot entry. */
  harts?: HartPc[];
  secondaryAtKernelEntry?: boolean;
  /** paravm: per-hart instructions by privilege from --stats. */
  stats?: { wallMs: number; harts: { hart: number; M: number; S: number; U: number }[] } | null;
  /** The last lines of the console, for failures. */
  tail?: string;
}

interface Spawned {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  spawnError?: string;
  wallMs: number;
}

/**
 * Runs a command (stdin closed) until it exits or `timeoutMs` passes (SIGKILL). Every 200 ms
 * `wantsLook` sees the console text (`console_()`, else stdout); once it says so, or at the
 * timeout, `onLook` runs (QEMU's monitor) — before the kill, and the result waits for it.
 */
function runWatched(
  cmd: string,
  args: readonly string[],
  timeoutMs: number,
  console_: () => string | null,
  onLook: (reason: "timeout" | "watch") => Promise<void>,
  wantsLook: (text: string) => boolean,
): Promise<Spawned> {
  return new Promise((resolveRun) => {
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    let looked: Promise<void> | null = null;
    let exitedAt = 0;
    const start = performance.now();
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.setEncoding("latin1");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (s: string) => {
      if (stdout.length < OUTPUT_CAP) stdout += s;
    });
    child.stderr.on("data", (s: string) => {
      if (stderr.length < OUTPUT_CAP) stderr += s;
    });
    const look = (why: "timeout" | "watch"): void => {
      if (looked) return;
      looked = onLook(why)
        .catch(() => {})
        .finally(() => {
          if (why === "timeout") child.kill("SIGKILL");
        });
    };
    const poll = setInterval(() => {
      const text = console_() ?? stdout;
      if (!looked && wantsLook(text)) look("watch");
    }, 200);
    const timer = setTimeout(() => {
      timedOut = true;
      if (looked) child.kill("SIGKILL");
      else look("timeout");
    }, timeoutMs);
    child.on("exit", () => {
      exitedAt = performance.now();
    });
    const done = (code: number | null, signal: NodeJS.Signals | null, spawnError?: string): void => {
      clearTimeout(timer);
      clearInterval(poll);
      const wallMs = (exitedAt || performance.now()) - start;
      void (looked ?? Promise.resolve()).then(() =>
        resolveRun({ stdout, stderr, code, signal, timedOut, ...(spawnError !== undefined ? { spawnError } : {}), wallMs }),
      );
    };
    child.on("error", (e) => done(null, null, e.message));
    child.on("close", (code, signal) => done(code, signal));
  });
}

/** `info registers -a` through QEMU's monitor socket: each CPU's pc. */
function monitorPcs(socket: string): Promise<HartPc[]> {
  return new Promise((resolvePcs) => {
    let text = "";
    let sent = false;
    const c = createConnection(socket);
    const finish = (): void => {
      c.destroy();
      const harts: HartPc[] = [];
      let cpu = -1;
      for (const line of text.split(/\r?\n/)) {
        const m = /^CPU#(\d+)/.exec(line);
        if (m) cpu = Number(m[1]);
        const pc = /^\s*pc\s+([0-9a-f]+)/.exec(line);
        if (pc && cpu >= 0 && !harts.some((h) => h.cpu === cpu)) harts.push({ cpu, pc: pc[1]! });
      }
      resolvePcs(harts);
    };
    c.setEncoding("utf8");
    c.on("data", (d: string) => {
      text += d;
      if (!sent && text.includes("(qemu)")) {
        sent = true;
        text = "";
        c.write("info registers -a\n");
      }
    });
    c.on("error", () => finish());
    setTimeout(finish, 1500);
  });
}

/**
 * A hart stuck at the kernel's boot entry: physical pc in the Image's first page (MMU off).
 * Only a secondary can be there once the guest runs (on QEMU either hart may have won
 * OpenSBI's boot-hart lottery).
 */
function atKernelEntry(h: HartPc): boolean {
  const pc = Number.parseInt(h.pc, 16);
  return pc >= KERNEL_ENTRY && pc < KERNEL_ENTRY + 0x1000;
}

function classify(text: string, r: Spawned, who: "qemu" | "paravm"): Pick<Boot, "outcome" | "reason" | "nproc" | "guestStatus"> {
  const nprocM = NPROC_LINE.exec(text);
  const exitM = EXIT_LINE.exec(text);
  const nproc = nprocM ? Number(nprocM[1]) : null;
  const guestStatus = exitM ? Number(exitM[1]) : null;
  const base = { nproc, guestStatus };
  if (r.spawnError) return { ...base, outcome: "other", reason: `could not start: ${r.spawnError}` };
  if (nproc !== null && nproc !== 2) {
    const why = /CPU(\d+): failed to come online/.exec(text);
    return { ...base, outcome: "cpu-missing", reason: `nproc ${nproc}${why ? ` (${why[0]})` : ""}` };
  }
  if (r.timedOut) {
    if (exitM) return { ...base, outcome: "other", reason: "the guest finished but the process did not exit" };
    if (!FIRST_KERNEL_LINE.test(text)) return { ...base, outcome: "hung-early", reason: "no kernel line before the timeout" };
    const last = tail(text, 1, "").trim();
    return { ...base, outcome: "hung-late", reason: `timed out; last line: ${last.slice(0, 120)}` };
  }
  if (r.signal) return { ...base, outcome: "other", reason: `killed by ${r.signal}` };
  if (nproc === null) return { ...base, outcome: "other", reason: `no NPROC line (exit status ${r.code})` };
  if (guestStatus !== 0) return { ...base, outcome: "other", reason: `guest command exited ${guestStatus}` };
  if (r.code !== 0) return { ...base, outcome: "other", reason: `${who} exited with status ${r.code}` };
  return { ...base, outcome: "ok", reason: null };
}

function qemuArgs(g: GuestImages, serial: string, monitor: string): string[] {
  const b64 = Buffer.from(COMMAND, "utf8").toString("base64");
  return [
    "-M", "virt", "-m", "256M", "-smp", "2", "-accel", "tcg,thread=multi",
    "-bios", OPENSBI,
    "-kernel", g.kernel.path,
    "-initrd", g.initrd.path,
    "-append", `console=ttyS0 paravm.exec=${b64}`,
    // The console goes to a file: QEMU may drop output when a pipe is momentarily full.
    "-display", "none", "-serial", `file:${serial}`, "-monitor", `unix:${monitor},server=on,wait=off`,
    "-no-reboot",
  ];
}

function paravmArgs(opts: Options, g: GuestImages): string[] {
  return [
    opts.paravmBin, "run", "--profile", "full", "--cpus", "2",
    "--kernel", g.kernel.path, "--initrd", g.initrd.path,
    ...(opts.pcpus !== null ? ["--pcpus", String(opts.pcpus)] : []),
    "--exec", COMMAND, "--stats",
  ];
}

const wantsLook = (text: string): boolean => {
  const m = NPROC_LINE.exec(text);
  return m !== null && m[1] !== "2";
};

async function bootQemu(g: GuestImages, opts: Options, index: number, work: string, running: number): Promise<Boot> {
  const serial = join(work, `console-${index}.txt`);
  const monitor = join(work, `monitor-${index}.sock`);
  const load1 = os.loadavg()[0]!;
  let harts: HartPc[] | undefined;
  const readConsole = (): string | null => {
    try {
      return readFileSync(serial, "latin1");
    } catch {
      return null;
    }
  };
  const r = await runWatched(
    QEMU,
    qemuArgs(g, serial, monitor),
    opts.qemuTimeoutS * 1000,
    readConsole,
    async () => {
      harts = await monitorPcs(monitor);
    },
    wantsLook,
  );
  const text = readConsole() ?? "";
  const c = classify(text, r, "qemu");
  rmSync(serial, { force: true });
  rmSync(monitor, { force: true });
  return {
    index,
    ...c,
    wallMs: Math.round(r.wallMs),
    load1: Math.round(load1 * 100) / 100,
    concurrent: running,
    ...(harts ? { harts, secondaryAtKernelEntry: harts.some(atKernelEntry) } : {}),
    ...(c.outcome !== "ok" ? { tail: tail(text, 6) } : {}),
  };
}

/** The --stats line (the last JSON object on stderr): per-hart instructions by privilege. */
function paravmStats(stderr: string): Boot["stats"] {
  for (const line of stderr.split(/\r?\n/).reverse()) {
    if (!line.trim().startsWith("{")) continue;
    try {
      const o = JSON.parse(line) as { wallMs?: number; harts?: { hart: number; instructionsByPrivilege?: Record<string, number> }[] };
      if (typeof o.wallMs !== "number" || !Array.isArray(o.harts)) continue;
      return {
        wallMs: Math.round(o.wallMs),
        harts: o.harts.map((h) => ({
          hart: h.hart,
          M: h.instructionsByPrivilege?.["M"] ?? 0,
          S: h.instructionsByPrivilege?.["S"] ?? 0,
          U: h.instructionsByPrivilege?.["U"] ?? 0,
        })),
      };
    } catch {
      // not the stats line
    }
  }
  return null;
}

async function bootParavm(g: GuestImages, opts: Options, index: number, running: number): Promise<Boot> {
  const load1 = os.loadavg()[0]!;
  const r = await runWatched(process.execPath, paravmArgs(opts, g), opts.timeoutS * 1000, () => null, async () => {}, () => false);
  const c = classify(r.stdout, r, "paravm");
  const reason = c.outcome === "other" && r.stderr.trim() ? `${c.reason}: ${tail(r.stderr.split("\n").filter((l) => !l.startsWith("{")).join("\n"), 1, "").trim().slice(0, 160)}` : c.reason;
  return {
    index,
    ...c,
    reason,
    wallMs: Math.round(r.wallMs),
    load1: Math.round(load1 * 100) / 100,
    concurrent: running,
    stats: paravmStats(r.stderr),
    ...(c.outcome !== "ok" ? { tail: tail(r.stdout, 6) } : {}),
  };
}

/** Runs `n` boots, `parallel` at a time, printing one line per boot as it ends. */
async function series(name: string, n: number, parallel: number, boot: (index: number, running: number) => Promise<Boot>): Promise<Boot[]> {
  const boots: Boot[] = [];
  let next = 0;
  let running = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      running++;
      const b = await boot(i + 1, running);
      running--;
      boots.push(b);
      const extra =
        b.outcome === "ok"
          ? ""
          : ` — ${b.reason}` + (b.harts ? ` [${b.harts.map((h) => `hart ${h.cpu} pc ${h.pc}`).join(", ")}]` : "");
      console.log(`  ${name} boot ${i + 1}/${n}: ${b.outcome} ${fixed(b.wallMs / 1000, 1)} s (load ${fixed(b.load1, 2)})${extra}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, worker));
  return boots.sort((a, b) => a.index - b.index);
}

// ---------------------------------------------------------------- summary

/** Wilson score interval (95%) for k failures in n trials, in %. */
function wilson(k: number, n: number): [number, number] {
  if (n === 0) return [NaN, NaN];
  const z = 1.96;
  const p = k / n;
  const d = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / d;
  const h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, c - h) * 100, Math.min(1, c + h) * 100];
}

const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function summarize(boots: Boot[]) {
  const counts = Object.fromEntries(OUTCOMES.map((o) => [o, boots.filter((b) => b.outcome === o).length])) as Record<Outcome, number>;
  const failures = boots.length - counts.ok;
  const [lo, hi] = wilson(failures, boots.length);
  return {
    boots: boots.length,
    counts,
    failures,
    failureRatePct: boots.length ? (failures / boots.length) * 100 : NaN,
    ci95Pct: [lo, hi],
    secondaryAtKernelEntry: boots.filter((b) => b.secondaryAtKernelEntry === true).length,
    okWallMedianMs: median(boots.filter((b) => b.outcome === "ok").map((b) => b.wallMs)),
    load1Mean: boots.length ? boots.reduce((s, b) => s + b.load1, 0) / boots.length : NaN,
  };
}

/** The checkout a paravm CLI belongs to (for --paravm-bin pointing at another worktree). */
function gitOf(bin: string): { commit: string | null; dirty: boolean | null; dir: string } {
  const dir = dirname(dirname(bin));
  if (dir === ROOT) return { ...gitInfo(), dir: "." };
  const head = spawnSync("git", ["rev-parse", "HEAD"], { cwd: dir, encoding: "utf8" });
  const st = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: dir, encoding: "utf8" });
  return {
    commit: head.status === 0 ? head.stdout.trim() : null,
    dirty: st.status === 0 ? st.stdout.trim().length > 0 : null,
    dir,
  };
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const opts = parseOptions();
  const g = findGuest(opts.guestDir);
  const host = hostInfo();
  const qemuVersion = toolVersion(QEMU);
  console.log(`smp-boot bench: 2-hart full guest (OpenSBI fw_jump.bin in M-mode), ${opts.runs} boot(s) each, ${opts.parallel} at a time`);
  console.log(`guest: ${g.dir}  (${g.how})`);
  console.log(`host: ${host.cpuModel} x${host.cpuCount}, node ${host.node}, load ${host.loadAvg.join(" ")}`);

  const rows: { name: string; boots: Boot[]; error: string | null; cmd: string[] }[] = [];
  if (!opts.skipQemu) {
    const work = mkdtempSync(join(os.tmpdir(), "paravm-smp-boot-"));
    const name = "QEMU -smp 2 MTTCG";
    const cmd = [QEMU, ...qemuArgs(g, "<console>", "<monitor>")];
    if (qemuVersion === null) rows.push({ name, boots: [], error: `${QEMU} not found`, cmd });
    else if (!existsSync(OPENSBI)) rows.push({ name, boots: [], error: `${OPENSBI} not found`, cmd });
    else rows.push({ name, boots: await series("QEMU", opts.runs, opts.parallel, (i, n) => bootQemu(g, opts, i, work, n)), error: null, cmd });
    rmSync(work, { recursive: true, force: true });
  }
  if (!opts.skipParavm) {
    const cmd = [process.execPath, ...paravmArgs(opts, g)];
    if (!existsSync(opts.paravmBin)) rows.push({ name: opts.label, boots: [], error: `${opts.paravmBin} not found`, cmd });
    else rows.push({ name: opts.label, boots: await series(opts.label, opts.runs, opts.parallel, (i, n) => bootParavm(g, opts, i, n)), error: null, cmd });
  }

  const sums = rows.map((r) => ({ row: r, s: summarize(r.boots) }));
  console.log(`\n2-hart full boots to \`nproc\` (${opts.runs} each, ${opts.parallel} at a time)`);
  console.log(
    table(
      ["emulator", "boots", "ok", "cpu missing", "hung early", "hung late", "other", "failure rate", "95% CI", "at kernel entry", "ok boot s (med)", "load (mean)"],
      sums.map(({ row, s }) =>
        row.error
          ? [row.name, "0", "ERROR", "-", "-", "-", "-", "-", "-", "-", "-", "-"]
          : [
              row.name,
              String(s.boots),
              String(s.counts.ok),
              String(s.counts["cpu-missing"]),
              String(s.counts["hung-early"]),
              String(s.counts["hung-late"]),
              String(s.counts.other),
              `${fixed(s.failureRatePct, 1)}%`,
              `${fixed(s.ci95Pct[0]!, 1)}–${fixed(s.ci95Pct[1]!, 1)}%`,
              row.name.startsWith("QEMU") ? String(s.secondaryAtKernelEntry) : "-",
              fixed(s.okWallMedianMs / 1000, 1),
              fixed(s.load1Mean, 2),
            ],
      ),
    ),
  );
  console.log(
    "  ok = NPROC=2 and exit 0; cpu missing = the guest finished with fewer CPUs; hung early/late = timed out before/after\n" +
      "  the first kernel line; at kernel entry = failed QEMU boots with a secondary hart in the Image's first page (the\n" +
      "  OpenSBI 1.1 race: it left the firmware at the stale FW_JUMP_ADDR); 95% CI = Wilson interval of the failure rate;\n" +
      `  load = host 1-minute load average at each boot's start (${host.cpuCount} cores)`,
  );
  for (const { row } of sums) {
    if (row.error) console.log(`${row.name}: ERROR ${row.error}`);
    for (const b of row.boots.filter((x) => x.outcome !== "ok")) {
      console.log(`  ${row.name} boot ${b.index}: ${b.outcome} — ${b.reason}`);
      if (b.harts) console.log(`    harts: ${b.harts.map((h) => `${h.cpu}: pc ${h.pc}${atKernelEntry(h) ? " (kernel boot entry)" : ""}`).join(", ")}`);
      if (b.tail) console.log(b.tail);
    }
  }

  if (opts.json) {
    const file = writeResults("smp-boot", {
      benchmark: "smp-boot",
      date: new Date().toISOString(),
      host: { ...host, qemu: qemuVersion, opensbi: OPENSBI, loadAvgEnd: os.loadavg().map((x) => Math.round(x * 100) / 100) },
      git: gitInfo(),
      options: opts,
      guest: { dir: g.dir, how: g.how, kernel: g.kernel, initrd: g.initrd, command: COMMAND },
      rows: sums.map(({ row, s }) => ({
        name: row.name,
        error: row.error,
        command: row.cmd,
        ...(row.name === opts.label ? { paravmGit: gitOf(opts.paravmBin) } : {}),
        summary: s,
        boots: row.boots,
      })),
    });
    console.log(`results: ${relative(ROOT, file)}`);
  }
  const paravmRow = sums.find(({ row }) => row.name === opts.label);
  return rows.some((r) => r.error) || (paravmRow !== undefined && paravmRow.s.failures > 0) ? 1 : 0;
}

runMain("smp-boot bench", main);
