/**
 * `paravm run`: boot Linux on the pv or the full machine, with the terminal attached or
 * running one `--exec` command, and the `--stats` document.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { PV_DEFAULTS, type PvResult } from "../machine/pv.js";
import { FULL_DEFAULTS, type FullResult } from "../machine/full.js";
import { parseDiskSpec } from "../devices/virtio/blk/file-backend.js";
import { ipBootArg, Subnet } from "../devices/virtio/net/ip.js";
import { macFromName } from "../devices/virtio/net/mac.js";
import { parseNetSpec, type NetSpec } from "../hypervisor/vm-spec.js";
import { Hypervisor } from "../hypervisor/hypervisor.js";
import type { DiskSpecData, MachineSpec } from "../hypervisor/machine-spec.js";
import { VmBuildError, type Vm, type VmOutcome, type VmSchedStats, type VmSnapshotResult } from "../hypervisor/vm.js";
import { SnapshotError } from "../hypervisor/snapshot/format.js";
import { readVmSnapshot, type VmSnapshot } from "../hypervisor/snapshot/vm-file.js";
import { ExecStatusReader, FLEET_DEFAULTS as MULTI_DEFAULTS } from "../hypervisor/fleet-run.js";

import { checkDisk, checkMemTargetArg, cpuCounts, EXIT, loadGuest, rateLimiter, readProgram, specOrUsage, UsageError, type MachineProfile } from "./args.js";

export interface RunOptions {
  profile: MachineProfile;
  firmware?: string;
  kernel?: string;
  initrd?: string;
  disk?: string;
  diskRate?: string;
  /** Full profile: "ata" (PIO, default) or "ahci" (DMA). */
  diskController?: "ata" | "ahci";
  net?: string;
  append?: string;
  mem: number;
  /** pv: boot with the balloon holding guest memory down to this. */
  memTarget?: number;
  cpus: number;
  /** Harts present (default --cpus): the most the guest can bring online live (pv). */
  maxCpus?: number;
  /** Host cores the scheduler hands out (default: all). */
  pcpus?: number;
  hostMem?: number;
  exec?: string;
  stats?: boolean;
  maxInsns?: number;
  /** `--code-cache`: per-hart code-cache budget, bytes. */
  codeCache?: number;
  /** `--restore FILE`: continue the VM saved in FILE instead of booting. */
  restore?: string;
  /** `--snapshot-to FILE`: SIGUSR1 writes the VM's snapshot there. */
  snapshotTo?: string;
}



/** The `--stats` JSON document (README, "Command line", lists the fields). */
export function statsJson(result: PvResult | FullResult, setupMs: number, sched?: VmSchedStats | null): Record<string, unknown> {
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    profile: result.profile,
    stop: result.stop,
    cpus: result.cpus,
    setupMs: r3(setupMs),
    bootMs: result.bootMs === null ? null : r3(result.bootMs),
    wallMs: r3(result.wallMs),
    instructions: result.instret,
    instructionsByPrivilege: result.instretByPriv,
    mips: result.wallMs > 0 ? r3(result.instret / result.wallMs / 1000) : 0,
    exits: result.exits,
    interrupts: result.interrupts,
    wfiSleepMs: r3(result.sleptMs),
    wfiSleeps: result.sleeps,
    balloon: "balloon" in result && result.balloon ? result.balloon : "none (full profile)",
    ...("blk" in result && result.blk ? { disk: result.blk } : {}),
    ...("ata" in result && result.ata ? { disk: result.ata } : {}),
    ...("ahci" in result && result.ahci ? { disk: result.ahci } : {}),
    ...("net" in result && result.net ? { net: result.net } : {}),
    ...("e1000" in result && result.e1000 ? { net: result.e1000 } : {}),
    ...(sched ? { sched: roundSched(sched) } : {}),
    harts: result.harts.map((h) => ({
      hart: h.hart,
      instructions: h.instret,
      instructionsByPrivilege: h.instretByPriv,
      exits: h.exits,
      interrupts: h.interrupts,
      ...(h.tlb ? { tlb: h.tlb } : {}),
      ...(h.code ? { code: h.code } : {}),
    })),
  };
}

/** The scheduler's figures with times in whole-microsecond ms and shares to 3 places. */
function roundSched(s: VmSchedStats): Record<string, unknown> {
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    weight: s.weight,
    cap: s.cap,
    cpuMs: r3(s.cpuMs),
    waitMs: r3(s.waitMs),
    idleMs: r3(s.idleMs),
    share: r3(s.share),
    entitlement: r3(s.entitlement),
    vcpus: s.vcpus.map((v) => ({ vcpu: v.vcpu, cpuMs: r3(v.cpuMs), waitMs: r3(v.waitMs), idleMs: r3(v.idleMs) })),
  };
}

/** Ctrl-A then x/X quits (as QEMU's -nographic); Ctrl-A Ctrl-A sends one Ctrl-A. */
export class EscapeFilter {
  private pendingCtrlA = false;
  constructor(private readonly onQuit: () => void) {}
  /** The bytes to forward to the guest. */
  filter(bytes: Uint8Array): Uint8Array {
    const out: number[] = [];
    for (const b of bytes) {
      if (this.pendingCtrlA) {
        this.pendingCtrlA = false;
        if (b === 0x78 || b === 0x58) {
          this.onQuit();
          return Uint8Array.from(out);
        }
        if (b === 0x01) out.push(0x01);
        // Ctrl-A followed by anything else: both dropped, as QEMU does for unknown commands.
        continue;
      }
      if (b === 0x01) this.pendingCtrlA = true;
      else out.push(b);
    }
    return Uint8Array.from(out);
  }
}


/** `paravm run`: boot Linux on the pv or full machine (one VM of a hypervisor); resolves to the exit status. */
export async function runPv(opts: RunOptions): Promise<number> {
  const t0 = performance.now();
  const { dir, kernel, initrd } = loadGuest(opts);
  const full = opts.profile === "full";
  // The default guest also gets the ext2 disk the image builder made: that file is the
  // pristine image every run shares, so it is attached read-only (pv: virtio-blk tells the
  // guest) or as a snapshot (full: ATA cannot say read-only; writes stay in memory).
  // Pass --disk with a copy for a writable one.
  const builtDisk = dir !== null && opts.kernel === undefined ? join(dir, "disk.ext2") : null;
  const builtMode = full ? "snapshot" : "readonly";
  const diskArg = opts.disk ?? (builtDisk !== null && existsSync(builtDisk) ? `${builtDisk},${builtMode}` : undefined);
  let disk: DiskSpecData | undefined;
  const diskLimiter = rateLimiter(opts.diskRate, "--disk-rate");
  if (full && diskLimiter) throw new UsageError("--disk-rate: the full profile's ATA disk has no rate limiter (pv only)");
  if (!full && opts.diskController !== undefined) {
    throw new UsageError("--disk-controller: only the full profile has a choice of disk controller (pv: virtio-blk)");
  }
  if (diskArg !== undefined) {
    const spec = parseDiskSpec(diskArg);
    checkDisk(spec.path);
    disk = {
      path: spec.path,
      readonly: spec.readonly,
      snapshot: spec.snapshot,
      cache: spec.cache,
      serial: "paravm-0",
      ...(opts.diskRate !== undefined ? { rate: opts.diskRate } : {}),
      ...(opts.diskController !== undefined ? { controller: opts.diskController } : {}),
    };
  } else if (opts.diskRate !== undefined) {
    throw new UsageError("--disk-rate without --disk");
  } else if (opts.diskController !== undefined) {
    throw new UsageError("--disk-controller without a disk");
  }
  checkMemTargetArg("--mem-target", opts.profile, opts.mem, opts.memTarget);
  let bootargs = opts.append ?? (full ? FULL_DEFAULTS.BOOTARGS : PV_DEFAULTS.BOOTARGS);
  const firmware = full ? readProgram(opts.firmware ?? FULL_DEFAULTS.FIRMWARE, "firmware") : null;
  // --net: one VM on a network of its own (frames to nobody), with an address from the
  // kernel command line; useful for the counters (and as the single-VM form of `multi`).
  let net: NetSpec | null = null;
  if (opts.net !== undefined) {
    net = specOrUsage(() => parseNetSpec(opts.net!));
    if (full && net.rate !== undefined) throw new UsageError("--net rate=: the full profile's e1000 has no rate limiter (pv only)");
    rateLimiter(net.rate, "--net rate");
    const subnet = new Subnet(MULTI_DEFAULTS.SUBNET);
    bootargs += ` ${ipBootArg({ address: subnet.assign("vm"), netmask: subnet.netmask, device: "eth0" })}`;
  }
  if (opts.exec !== undefined) bootargs += ` paravm.exec=${Buffer.from(opts.exec, "utf8").toString("base64")}`;
  const spec: MachineSpec = {
    profile: opts.profile,
    ...cpuCounts(opts.cpus, opts.maxCpus, opts.profile),
    memBytes: opts.mem,
    ...(opts.memTarget !== undefined ? { memTargetBytes: opts.memTarget } : {}),
    kernel,
    ...(initrd ? { initrd } : {}),
    ...(firmware ? { firmware } : {}),
    bootargs,
    ...(opts.maxInsns !== undefined ? { maxInsns: opts.maxInsns } : {}),
    ...(opts.codeCache !== undefined ? { codeCacheBytes: opts.codeCache } : {}),
    ...(disk ? { disk } : {}),
    ...(net ? { net: { mac: net.mac ?? macFromName(net.network), ...(net.rate !== undefined ? { rate: net.rate } : {}) } } : {}),
  };
  const interactive = opts.exec === undefined;
  const hv = new Hypervisor({
    ...(opts.pcpus !== undefined ? { pcpus: opts.pcpus } : {}),
    ...(opts.hostMem !== undefined ? { hostMemBytes: opts.hostMem } : {}),
  });
  const vm = hv.create({
    name: "vm",
    spec,
    ...(net ? { network: net.network } : {}),
    waitsForInput: interactive,
  });
  const session = new Session(vm, interactive, opts);
  try {
    await vm.start();
  } catch (e) {
    await hv.close();
    if (e instanceof VmBuildError && e.usage) {
      if (/alloc/i.test(e.message)) throw new UsageError(`--mem: cannot allocate ${opts.mem} bytes of guest RAM on this host`);
      throw new UsageError(e.message);
    }
    throw e;
  }
  return session.attach(hv, performance.now() - t0, net?.network ?? null);
}

/**
 * `paravm run --restore FILE`: continue the VM a snapshot file holds (its machine, images
 * and disk come from the file; only host-side options apply), in this process.
 */
export async function runRestore(opts: RunOptions & { restore: string }): Promise<number> {
  const t0 = performance.now();
  const hv = new Hypervisor({
    ...(opts.pcpus !== undefined ? { pcpus: opts.pcpus } : {}),
    ...(opts.hostMem !== undefined ? { hostMemBytes: opts.hostMem } : {}),
  });
  let snap: VmSnapshot;
  try {
    snap = readVmSnapshot(opts.restore);
  } catch (e) {
    await hv.close();
    if (e instanceof SnapshotError) throw new UsageError(e.message);
    throw e;
  }
  // An --exec VM prints its status at the end; without one the console is the terminal's.
  const exec = /(^| )paravm\.exec=/.test(snap.spec.bootargs);
  const network = snap.spec.net ? RESTORE_NETWORK : null;
  let session: Session | null = null;
  try {
    await hv.restore(opts.restore, {
      name: "vm",
      ...(network !== null ? { network } : {}),
      waitsForInput: !exec,
      // Attached before the guest runs again, so no output is lost.
      onCreate: (v: Vm) => (session = new Session(v, !exec, { ...opts, ...(exec ? { exec: "(restored)" } : {}) })),
    });
  } catch (e) {
    await hv.close();
    if (e instanceof SnapshotError || (e instanceof VmBuildError && e.usage)) throw new UsageError(e.message);
    throw e;
  }
  return session!.attach(hv, performance.now() - t0, network);
}

/** Network name a restored VM's NIC is plugged into (`run` has one VM: frames go nowhere, counters count). */
const RESTORE_NETWORK = "restored";

/** The terminal and signals around one VM of `paravm run`, and its exit status. */
class Session {
  private readonly exit = new ExecStatusReader();

  constructor(
    private readonly vm: Vm,
    private readonly interactive: boolean,
    private readonly opts: Pick<RunOptions, "exec" | "stats" | "maxInsns" | "snapshotTo">,
  ) {
    const stdout = process.stdout;
    stdout.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_DESTROYED") throw e;
    });
    vm.on("output", (bytes: Uint8Array): void => {
      stdout.write(bytes);
      if (opts.exec !== undefined) this.exit.push(bytes);
    });
  }

  async attach(hv: Hypervisor, setupMs: number, network: string | null): Promise<number> {
    const { vm, interactive, opts } = this;
    const stopVm = (): void => void vm.stop().catch(() => {});

    // The terminal: without --exec, stdin goes to the guest console (raw mode on a TTY).
    const stdin = process.stdin;
    const tty = interactive && stdin.isTTY === true;
    let quit = false;
    const restore = (): void => {
      if (tty && stdin.isTTY) stdin.setRawMode(false);
    };
    const onSignal = stopVm;
    if (interactive) {
      const esc = new EscapeFilter(() => {
        quit = true;
        stopVm();
      });
      if (tty) {
        stdin.setRawMode(true);
        process.on("exit", restore);
      }
      stdin.on("data", (chunk: Buffer) => {
        const bytes = tty ? esc.filter(chunk) : new Uint8Array(chunk);
        if (bytes.length > 0) vm.input(bytes);
      });
      stdin.on("error", () => {});
      stdin.resume();
    }
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    // `kill -USR2 <pid>`: where every vCPU is (pc, loop step, scheduler and link words), on stderr.
    const onWhere = (): void => void process.stderr.write(`${hv.where().join("\n")}\n`);
    process.on("SIGUSR2", onWhere);
    // `kill -USR1 <pid>` with --snapshot-to FILE: snapshot the VM there and keep running.
    const snapshotTo = opts.snapshotTo;
    const onSnapshot = (): void => {
      if (snapshotTo === undefined) return;
      vm.snapshot(snapshotTo).then(
        (r) => process.stderr.write(`paravm: snapshot written to ${r.file}: ${snapshotSummary(r)}\n`),
        (e: unknown) => process.stderr.write(`paravm: snapshot failed: ${e instanceof Error ? e.message : String(e)}\n`),
      );
    };
    if (snapshotTo !== undefined) process.on("SIGUSR1", onSnapshot);
    let outcome: VmOutcome;
    try {
      outcome = await vm.wait();
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.off("SIGUSR2", onWhere);
      process.off("SIGUSR1", onSnapshot);
      if (interactive) {
        restore();
        stdin.pause();
        stdin.destroy();
      }
    }
    const sched = vm.schedStats();
    const port = hv.port("vm");
    const portStats = port ? structuredClone(port.port.stats) : null;
    await hv.close();
    if (outcome.kind === "crashed") {
      process.stderr.write(`paravm: the VM crashed: ${outcome.reason}\n`);
      return EXIT.GUEST_FAILED;
    }
    const result = outcome.result;
    if (opts.stats === true) {
      const doc = statsJson(result, setupMs, sched);
      if (network !== null && portStats) doc.switchPort = { network, ...portStats };
      process.stderr.write(`${JSON.stringify(doc)}\n`);
    }
    if (result.stop === "stopped") {
      if (tty) process.stderr.write("\r\nparavm: terminated\r\n");
      return quit ? EXIT.OK : 130;
    }
    if (result.stop === "maxInsns") {
      process.stderr.write(`paravm: stopped after ${opts.maxInsns} instructions (--max-insns) at pc 0x${result.pc.toString(16)}\n`);
      return EXIT.MAX_INSNS;
    }
    if (result.stop === "wfiDeadlock") {
      process.stderr.write(`paravm: every hart waits in WFI (hart 0 at 0x${result.pc.toString(16)}) with no timer armed\n`);
      return EXIT.GUEST_FAILED;
    }
    if (opts.exec !== undefined) {
      const exitStatus = this.exit.status;
      if (exitStatus === null) {
        process.stderr.write("paravm: the guest powered off without printing PARAVM-EXIT-STATUS\n");
        return EXIT.GUEST_FAILED;
      }
      return exitStatus > 255 ? EXIT.GUEST_FAILED : exitStatus;
    }
    return result.resetReason === 1 ? EXIT.GUEST_FAILED : EXIT.OK;
  }
}

/** "12.3 MiB, 4,120 of 16,384 RAM pages, guest paused 85 ms". */
export function snapshotSummary(r: VmSnapshotResult): string {
  return `${(r.bytes / 2 ** 20).toFixed(1)} MiB, ${r.ramPresent} of ${r.ramPages} RAM pages, guest paused ${Math.round(r.pausedMs)} ms`;
}

