/**
 * bench:snapshot's live migrations on QEMU, the reference: two qemu-system-riscv64
 * processes on this machine with the same kernel, initramfs, RAM and workload as paravm's
 * VM, the destination started with `-incoming tcp:127.0.0.1:PORT`. On the source's HMP
 * monitor: `migrate_set_parameter downtime-limit 30` (paravm's downtime target),
 * `max-bandwidth` far above what loopback carries (QEMU 7.2 caps a migration at 32 MiB/s
 * by default, which would be the figure measured otherwise), `migrate -d`, then
 * `info migrate` polled until completed. A migration still going after paravm's round
 * limit (30 dirty syncs) has its downtime limit raised so the next pass is the last:
 * QEMU's own way to force the stop-and-copy, reported as not converged.
 *
 * QEMU 7.2 does not carry the RISC-V timers in its migration stream (the ACLINT timer
 * and the Sstc stimecmp timer are re-armed by nothing on the destination; fixed upstream
 * in 2025, "Save timers array in RISC-V mtimer VMState" and "Save stimer and vstimer in
 * CPU vmstate"): the guest arrives, reports "running", and never wakes from its next
 * idle. So each run boots a fresh pair, and the guest's console view says so when the
 * destination prints nothing.
 */
import { rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { MIGRATE_DEFAULTS } from "../../src/hypervisor/migration/source.js";
import { freePort } from "../../src/control/client/daemon-harness.js";
import { OPENSBI_DYNAMIC, QEMU } from "./boot-run.js";
import { hmp, Proc } from "./console-proc.js";
import type { GuestImages } from "./iobench.js";
import {
  churnPlan,
  consoleGap,
  describeSample,
  lapRateMiBps,
  PAGE_BYTES,
  parseInfoMigrate,
  counting,
  guestScript,
  switchCommand,
  workloadReady,
  type MigrateLoad,
  type MigrationCell,
  type MigrationSample,
  type QemuMigrateInfo,
} from "./snapshot-migrate.js";

export const QEMU_MIGRATE = {
  /** paravm's downtime target (MIGRATE_DEFAULTS.DOWNTIME_MS), in QEMU's parameter. */
  DOWNTIME_LIMIT_MS: MIGRATE_DEFAULTS.DOWNTIME_MS,
  /** Bytes/s: far above loopback's rate, so the link, not the cap, sets the pace. */
  MAX_BANDWIDTH: "100G",
  /** Dirty syncs before the stop-and-copy is forced: paravm's round limit. */
  MAX_SYNCS: MIGRATE_DEFAULTS.MAX_ROUNDS,
  /** The downtime limit that forces it: any remainder fits. */
  FORCE_DOWNTIME_MS: 60_000,
  POLL_MS: 10,
  BOOT_MS: 120_000,
  MIGRATE_MS: 300_000,
  /** How long the destination's console is watched for counts after the move: ten of the counter's periods. */
  AFTER_MS: 2_000,
  /** Counts at the destination that end the watch: the one after the move and enough to read the pace there. */
  COUNTS_AFTER: 5,
} as const;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const b64 = (s: string): string => Buffer.from(s).toString("base64");

/**
 * QEMU `-M virt` for this guest and RAM. fw_dynamic rather than the other benches'
 * fw_jump: fw_jump copies the device tree to a fixed address (0x82200000), which in a
 * 64 MiB guest is where QEMU put the initramfs, and the guest never boots; fw_dynamic
 * leaves it where QEMU placed it. Same OpenSBI build otherwise.
 */
export function qemuMigrateArgs(g: GuestImages, mib: number, script: string, monitorSock: string, incomingPort?: number): string[] {
  return [
    "-M", "virt", "-m", `${mib}M`, "-smp", "1", "-bios", OPENSBI_DYNAMIC, "-kernel", g.kernel.path, "-initrd", g.initrd.path,
    "-append", `console=ttyS0 quiet paravm.exec=${b64(script)}`, "-nographic", "-no-reboot",
    "-monitor", `unix:${monitorSock},server,nowait`,
    ...(incomingPort !== undefined ? ["-incoming", `tcp:127.0.0.1:${incomingPort}`] : []),
  ];
}

/** A monitor command that must not fail (QEMU answers errors as text). */
async function hmpOk(sock: string, cmd: string): Promise<string> {
  const out = await hmp(sock, cmd);
  if (/Error|error:|Parameter .* expects|unknown command/.test(out)) throw new Error(`QEMU refused "${cmd}": ${out.split("\n").slice(1).join(" ").trim()}`);
  return out;
}

/** The destination's monitor answers once QEMU is up (its socket appears a little after spawn). */
async function monitorUp(sock: string, p: Proc): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    if (p.p.exitCode !== null) throw new Error(`the destination QEMU exited ${p.p.exitCode}: ${p.err.slice(-300)}`);
    const st = await hmp(sock, "info status").catch(() => "");
    if (/VM status/.test(st)) return;
    if (performance.now() - t0 > QEMU_MIGRATE.BOOT_MS) throw new Error("the destination QEMU's monitor never answered");
    await sleep(QEMU_MIGRATE.POLL_MS);
  }
}

/** Poll `info migrate` until completed; force the last pass after MAX_SYNCS. */
async function follow(sock: string): Promise<{ info: QemuMigrateInfo; rates: number[]; forcedAt: number | null }> {
  const t0 = performance.now();
  const rates: number[] = [];
  let forcedAt: number | null = null;
  for (;;) {
    const info = parseInfoMigrate(await hmp(sock, "info migrate"));
    if (info.status === "completed") return { info, rates, forcedAt };
    if (info.status === "failed" || info.status === "cancelled") throw new Error(`QEMU's migration ${info.status}`);
    if (info.dirtyPagesRate !== null && info.dirtyPagesRate > 0) rates.push(info.dirtyPagesRate);
    if (forcedAt === null && (info.dirtySyncCount ?? 0) >= QEMU_MIGRATE.MAX_SYNCS) {
      forcedAt = info.dirtySyncCount;
      await hmpOk(sock, `migrate_set_parameter downtime-limit ${QEMU_MIGRATE.FORCE_DOWNTIME_MS}`);
    }
    if (performance.now() - t0 > QEMU_MIGRATE.MIGRATE_MS) throw new Error(`QEMU's migration did not complete in ${QEMU_MIGRATE.MIGRATE_MS / 1000} s (status ${info.status})`);
    await sleep(QEMU_MIGRATE.POLL_MS);
  }
}

async function qemuOnce(g: GuestImages, mib: number, load: MigrateLoad, dirtyMiBps: number, work: string, run: number): Promise<MigrationSample> {
  const script = guestScript();
  const sa = join(work, `mig-${mib}-a.sock`);
  const sb = join(work, `mig-${mib}-b.sock`);
  rmSync(sa, { force: true });
  rmSync(sb, { force: true });
  const port = await freePort();
  const a = new Proc(QEMU, qemuMigrateArgs(g, mib, script, sa));
  let b: Proc | null = null;
  try {
    await a.waitFor(counting, "QEMU boot", QEMU_MIGRATE.BOOT_MS);
    // Typed on its serial console, as on paravm's: the guest's shell reads it.
    a.p.stdin!.write(`${switchCommand(load, dirtyMiBps)}\n`);
    await a.waitFor((out) => workloadReady(load, out), `QEMU's ${load} workload`, QEMU_MIGRATE.BOOT_MS);
    b = new Proc(QEMU, qemuMigrateArgs(g, mib, script, sb, port));
    await monitorUp(sb, b);
    await hmpOk(sa, `migrate_set_parameter downtime-limit ${QEMU_MIGRATE.DOWNTIME_LIMIT_MS}`);
    await hmpOk(sa, `migrate_set_parameter max-bandwidth ${QEMU_MIGRATE.MAX_BANDWIDTH}`);
    const loadAvg = os.loadavg()[0]!;
    const wrote = load === "shell" ? null : lapRateMiBps([{ atMs: 0, text: a.out }], churnPlan(null).lapBytes);
    await hmpOk(sa, `migrate -d tcp:127.0.0.1:${port}`);
    const { info, rates, forcedAt } = await follow(sa);
    const t0 = performance.now();
    const dest = b;
    while (consoleGap([], dest.chunks).atDest < QEMU_MIGRATE.COUNTS_AFTER && performance.now() - t0 < QEMU_MIGRATE.AFTER_MS) await sleep(QEMU_MIGRATE.POLL_MS);
    const status = await hmp(sb, "info status").catch(() => "");
    let gap = consoleGap(a.chunks, b.chunks);
    if (gap.atDest === 0) {
      const running = /VM status: running/.test(status) ? "its monitor says running" : "not running";
      gap = { ...gap, problem: `the guest printed nothing at the destination in ${QEMU_MIGRATE.AFTER_MS / 1000} s (${running}; QEMU 7.2 does not migrate the RISC-V timers)` };
    }
    const converged = forcedAt === null;
    return {
      run,
      totalMs: info.totalMs ?? NaN,
      downtimeMs: info.downtimeMs ?? NaN,
      rounds: info.dirtySyncCount ?? NaN,
      mibSent: (info.transferredKiB ?? NaN) / 1024,
      round0MiB: null,
      linkMiBps: info.throughputMbps !== null ? (info.throughputMbps * 1e6) / 8 / 2 ** 20 : null,
      converged,
      note: converged
        ? `completed after ${info.dirtySyncCount} dirty syncs within downtime-limit ${QEMU_MIGRATE.DOWNTIME_LIMIT_MS} ms`
        : `did not converge: downtime-limit raised to ${QEMU_MIGRATE.FORCE_DOWNTIME_MS} ms after ${forcedAt} dirty syncs; completed after ${info.dirtySyncCount}`,
      dirtyMiBps: rates.length > 0 ? (rates[rates.length - 1]! * PAGE_BYTES) / 2 ** 20 : null,
      wroteMiBps: wrote,
      gap,
      loadAvg,
      detail: { info, dirtyPagesRates: rates },
    };
  } finally {
    a.kill();
    b?.kill();
  }
}

/** `runs` migrations of a freshly booted pair each (the moved guest stalls on QEMU 7.2, see above). */
export async function qemuMigrations(
  g: GuestImages,
  mib: number,
  load: MigrateLoad,
  opts: { runs: number; dirtyMiBps: number; work: string; log: (line: string) => void },
): Promise<MigrationCell> {
  const samples: MigrationSample[] = [];
  const failures: string[] = [];
  for (let k = 1; k <= opts.runs; k++) {
    try {
      const s = await qemuOnce(g, mib, load, opts.dirtyMiBps, opts.work, k);
      samples.push(s);
      opts.log(`qemu ${mib} MiB ${load} run ${k}: ${describeSample(s)}`);
    } catch (e) {
      failures.push((e as Error).message);
      opts.log(`qemu ${mib} MiB ${load} run ${k}: ${(e as Error).message}`);
    }
  }
  return { who: "qemu", mib, load, samples, failures };
}
