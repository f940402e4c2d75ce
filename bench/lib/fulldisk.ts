/**
 * bench:io's full-machine disk section: the same dd write/read on /dev/sda of the full
 * machine (OpenSBI + emulated hardware) through its two disk controllers, ATA PIO
 * (`--disk-controller ata`, every data word a trapped register access) and AHCI DMA
 * (`--disk-controller ahci`, PRD tables in guest memory), and on QEMU `-M virt` with the
 * same firmware, kernel and initramfs on an ich9-ahci controller (QEMU `virt` has no
 * platform ATA controller, so PIO has no QEMU counterpart). io.ts measures pv virtio-blk
 * and QEMU virtio-blk in the same run, so all four paths sit side by side.
 *
 * MiB/s is from dd's own time inside the guest; paravm's exits and interrupts per MiB are
 * (run − the same script with count=0) / MiB, as in io.ts.
 */
import { fixed, group, table } from "./common.js";
import { blkScript, diff, guestFigures, median, parseStats, startVm, sum, type GuestImages, type PvStats } from "./iobench.js";

export const FULL_CONTROLLERS = ["ata", "ahci"] as const;
type Controller = (typeof FULL_CONTROLLERS)[number];
type Op = "write" | "read";
const MiB = 1 << 20;

export interface FullDiskEnv {
  readonly g: GuestImages;
  readonly disk: string;
  readonly mib: number;
  readonly runs: number;
  readonly timeoutMs: number;
  readonly paravmBin: string;
  readonly qemu: string | null;
  readonly opensbi: string;
}

interface Run {
  mibPerS: number;
  ddS: number | null;
  processMs: number;
  stats: PvStats | null;
}

interface Cell {
  runs: Run[];
  error: string | null;
  perMiB: {
    /** Every exit (timer and console ones scale with the dd's wall time). */
    exits: number;
    /** Accesses to the disk controller's registers only (ATA window, or the PCI window holding the AHCI BAR). */
    controllerExits: number;
    /** Device interrupts (AHCI's own counter; the ATA controller has none). */
    interrupts: number;
    instructions: number;
    exitReasons: [string, number][];
  } | null;
}

function paravmArgs(e: FullDiskEnv, c: Controller, script: string): string[] {
  return [
    e.paravmBin, "run", "--profile", "full", "--kernel", e.g.kernel.path, "--initrd", e.g.initrd.path,
    "--disk", e.disk, "--disk-controller", c, "--append", "console=ttyS0 paravm.nodisk", "--exec", script, "--stats",
  ];
}

/** QEMU virt with the same firmware, kernel and initramfs, the disk on an ich9-ahci at 00:02.0 (where paravm puts its AHCI). */
export function qemuAhciArgs(e: FullDiskEnv, script: string): string[] {
  const b64 = Buffer.from(script, "utf8").toString("base64");
  return [
    "-M", "virt", "-m", "256M", "-smp", "1", "-bios", e.opensbi, "-kernel", e.g.kernel.path, "-initrd", e.g.initrd.path,
    "-drive", `file=${e.disk},format=raw,if=none,id=d0`,
    "-device", "ich9-ahci,id=ahci,addr=02.0", "-device", "ide-hd,drive=d0,bus=ahci.0",
    "-append", `console=ttyS0 paravm.nodisk paravm.exec=${b64}`, "-nographic", "-no-reboot",
  ];
}

/** A number from the run's `--stats` disk counters (iobench's PvStats keeps only virtio-blk's). */
function rawDisk(s: PvStats, key: string): number {
  const d = (s.raw as { disk?: Record<string, unknown> } | null)?.disk;
  const v = d?.[key];
  return typeof v === "number" ? v : 0;
}

async function once(cmd: string, args: string[], wantBytes: number, timeoutMs: number, paravm: boolean): Promise<Run | string> {
  const env = { ...process.env };
  delete env["PARAVM_JIT"];
  const r = await startVm(cmd, args, env, timeoutMs).done;
  const fig = guestFigures(r.stdout);
  if (r.timedOut) return `timed out after ${fixed(r.wallMs / 1000, 0)} s`;
  if (fig.status !== 0) return `guest dd status ${fig.status} (exit ${r.code}): ${r.stdout.slice(-400)}`;
  if (fig.ddBytes !== wantBytes) return `dd copied ${fig.ddBytes} bytes, expected ${wantBytes}`;
  const stats = paravm ? parseStats(r.stderr) : null;
  if (paravm && stats === null) return "no --stats JSON line on stderr";
  const secs = fig.ddS !== null && fig.ddS > 0 ? fig.ddS : fig.uptimeS;
  return { mibPerS: secs ? wantBytes / MiB / secs : NaN, ddS: fig.ddS, processMs: r.wallMs, stats };
}

async function cell(e: FullDiskEnv, who: "paravm" | "QEMU", c: Controller, op: Op): Promise<Cell> {
  const res: Cell = { runs: [], error: null, perMiB: null };
  const run = (mib: number) =>
    who === "QEMU"
      ? once(e.qemu!, qemuAhciArgs(e, blkScript(op, "/dev/sda", mib)), mib * MiB, e.timeoutMs, false)
      : once(process.execPath, paravmArgs(e, c, blkScript(op, "/dev/sda", mib)), mib * MiB, e.timeoutMs, true);
  let base: Run | null = null;
  if (who === "paravm") {
    const b = await run(0);
    if (typeof b === "string") {
      res.error = `baseline: ${b}`;
      return res;
    }
    base = b;
  }
  for (let i = 0; i < e.runs; i++) {
    const m = await run(e.mib);
    if (typeof m === "string") {
      res.error = m;
      console.log(`  ${who} full/${c} ${op} run ${i + 1}/${e.runs}: FAILED — ${m.split("\n")[0]}`);
      return res;
    }
    res.runs.push(m);
    console.log(
      `  ${who} ${c} ${op} run ${i + 1}/${e.runs}: ${fixed(m.mibPerS, 2)} MiB/s (dd ${fixed(m.ddS ?? NaN, 2)} s), process ${fixed(m.processMs / 1000, 1)} s` +
        (m.stats ? `, ${group(sum(m.stats.exits))} exits` : ""),
    );
  }
  const b = base?.stats;
  const stats = res.runs.map((r) => r.stats).filter((s): s is PvStats => s !== null);
  if (b && stats.length) {
    const reasons = new Map<string, number[]>();
    for (const s of stats) for (const [k, v] of Object.entries(diff(s.exits, b.exits))) reasons.set(k, [...(reasons.get(k) ?? []), v / e.mib]);
    // Per-device totals ("mmio.ata0.read"), not the per-register breakdown under them.
    const ctl = (x: Record<string, number>) => sum(Object.fromEntries(Object.entries(x).filter(([k]) => /^mmio\.(ata0|pcie-mmio)\.(read|write)$/.test(k))));
    const perRun = (f: (s: PvStats) => number) => median(stats.map((s) => (f(s) - f(b)) / e.mib));
    res.perMiB = {
      exits: perRun((s) => sum(s.exits)),
      controllerExits: perRun((s) => ctl(s.exits)),
      interrupts: perRun((s) => rawDisk(s, "interrupts")),
      instructions: perRun((s) => s.instructions),
      exitReasons: [...reasons]
        .map(([k, v]): [string, number] => [k, median(v)])
        .filter(([, v]) => Math.abs(v) >= 0.5)
        .sort((x, y) => y[1] - x[1])
        .slice(0, 6),
    };
  }
  return res;
}

/**
 * Runs the section; `virtio` gives io.ts's pv and QEMU virtio-blk medians (MiB/s) so the
 * table shows every path. Returns the JSON part and whether anything failed.
 */
export async function fullDiskSection(
  e: FullDiskEnv,
  virtio: Record<Op, { paravm: number; qemu: number }>,
): Promise<{ json: Record<string, unknown>; failed: boolean }> {
  console.log(`\nfull machine disk controllers: ${e.mib} MiB dd on /dev/sda, ${e.runs} run(s) each`);
  const ops: Op[] = ["write", "read"];
  const cells: Record<string, Cell> = {};
  for (const op of ops) {
    for (const c of FULL_CONTROLLERS) cells[`paravm.${c}.${op}`] = await cell(e, "paravm", c, op);
    cells[`QEMU.ahci.${op}`] = e.qemu ? await cell(e, "QEMU", "ahci", op) : { runs: [], error: "qemu-system-riscv64 not found", perMiB: null };
  }
  let failed = false;
  const med = (k: string) => median((cells[k]?.runs ?? []).map((r) => r.mibPerS));
  const rows: string[][] = [];
  for (const op of ops) {
    const pio = med(`paravm.ata.${op}`);
    const dma = med(`paravm.ahci.${op}`);
    const q = med(`QEMU.ahci.${op}`);
    const per = (k: string, f: (p: NonNullable<Cell["perMiB"]>) => string) => {
      const p = cells[k]?.perMiB;
      return p ? f(p) : "-";
    };
    rows.push([
      op,
      fixed(pio, 2),
      fixed(dma, 2),
      fixed(q, 2),
      Number.isFinite(dma / q) ? `${fixed(dma / q, 2)}x` : "-",
      Number.isFinite(dma / pio) ? `${fixed(dma / pio, 1)}x` : "-",
      fixed(virtio[op].paravm, 1),
      fixed(virtio[op].qemu, 1),
      per(`paravm.ata.${op}`, (p) => group(Math.round(p.controllerExits))),
      per(`paravm.ahci.${op}`, (p) => fixed(p.controllerExits, 1)),
      per(`paravm.ahci.${op}`, (p) => fixed(p.interrupts, 1)),
      per(`paravm.ata.${op}`, (p) => group(Math.round(p.instructions))),
      per(`paravm.ahci.${op}`, (p) => group(Math.round(p.instructions))),
    ]);
  }
  for (const [k, v] of Object.entries(cells)) {
    if (v.error) {
      failed = true;
      console.log(`${k}: ERROR ${v.error}`);
    }
  }
  console.log(`\n${e.mib} MiB on /dev/sda of the full machine (median MiB/s), beside virtio-blk from the section above`);
  console.log(
    table(
      [
        "dd", "full ATA PIO", "full AHCI DMA", "QEMU AHCI", "AHCI/QEMU", "DMA/PIO", "pv virtio-blk", "QEMU virtio-blk",
        "PIO ctl exits/MiB", "DMA ctl exits/MiB", "DMA irqs/MiB", "PIO insns/MiB", "DMA insns/MiB",
      ],
      rows,
    ),
  );
  console.log(
    "  MiB/s medians; ctl exits = accesses to the controller's registers, per MiB (run - count=0 baseline), paravm only;\n" +
      "  all exits per MiB, by reason (timer and console exits grow with the dd's wall time):",
  );
  for (const op of ops) {
    for (const c of FULL_CONTROLLERS) {
      const p = cells[`paravm.${c}.${op}`]?.perMiB;
      if (p) console.log(`  ${c} ${op}: ${fixed(p.exits, 1)}: ${p.exitReasons.map(([k, v]) => `${k} ${fixed(v, 1)}`).join(", ")}`);
    }
  }
  const json = Object.fromEntries(
    Object.entries(cells).map(([k, v]) => [
      k,
      { mibPerSMedian: Number.isFinite(med(k)) ? med(k) : null, error: v.error, perMiB: v.perMiB, runs: v.runs.map((r) => ({ ...r, stats: r.stats?.raw ?? null })) },
    ]),
  );
  return {
    json: { mib: e.mib, runs: e.runs, qemuArgsExample: qemuAhciArgs(e, "<script>"), paravmArgsExample: paravmArgs(e, "ahci", "<script>"), cells: json },
    failed,
  };
}
