/**
 * `paravm run`: boot Linux on the pv or the full machine, with the terminal attached or
 * running one `--exec` command, and the `--stats` document.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { PvMachine, PV_DEFAULTS, type PvResult } from "../machine/pv.js";
import { FullMachine, FULL_DEFAULTS, type FullResult } from "../machine/full.js";
import { FileBackend, parseDiskSpec } from "../devices/virtio/blk/file-backend.js";
import { OverlayBackend } from "../devices/virtio/blk/overlay-backend.js";
import type { BlockBackend } from "../devices/virtio/blk/device.js";
import { ipBootArg, Subnet } from "../devices/virtio/net/ip.js";
import { macFromName } from "../devices/virtio/net/mac.js";
import { SwitchBackend } from "../net/switch-backend.js";
import { type RateLimiter } from "../devices/rate-limiter.js";
import { Networks } from "../net/switch.js";
import { parseNetSpec, type NetSpec } from "../hypervisor/vm-spec.js";
import { MULTI_DEFAULTS } from "../machine/pv-multi.js";

import { checkDisk, EXIT, loadGuest, rateLimiter, readProgram, specOrUsage, UsageError, type MachineProfile } from "./args.js";

export interface RunOptions {
  profile: MachineProfile;
  firmware?: string;
  kernel?: string;
  initrd?: string;
  disk?: string;
  diskRate?: string;
  net?: string;
  append?: string;
  mem: number;
  cpus: number;
  exec?: string;
  stats?: boolean;
  maxInsns?: number;
}

export const EXIT_LINE = /PARAVM-EXIT-STATUS=(\d+)/;


/** The `--stats` JSON document (README, "Command line", lists the fields). */
export function statsJson(result: PvResult | FullResult, setupMs: number): Record<string, unknown> {
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
    ...("blk" in result && result.blk ? { disk: result.blk } : {}),
    ...("ata" in result && result.ata ? { disk: result.ata } : {}),
    ...("net" in result && result.net ? { net: result.net } : {}),
    ...("e1000" in result && result.e1000 ? { net: result.e1000 } : {}),
    harts: result.harts.map((h) => ({
      hart: h.hart,
      instructions: h.instret,
      instructionsByPrivilege: h.instretByPriv,
      exits: h.exits,
      interrupts: h.interrupts,
    })),
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


/** `paravm run`: boot Linux on the pv machine; resolves to the exit status. */
export async function runPv(opts: RunOptions): Promise<number> {
  const t0 = performance.now();
  const { dir, kernel, initrd } = loadGuest(opts);
  let file: FileBackend | null = null;
  // The default guest also gets the ext2 disk the image builder made: that file is the
  // pristine image every run shares, so it is attached read-only (pv: virtio-blk tells the
  // guest) or as a snapshot (full: ATA cannot say read-only; writes stay in memory).
  // Pass --disk with a copy for a writable one.
  const builtDisk = dir !== null && opts.kernel === undefined ? join(dir, "disk.ext2") : null;
  const builtMode = opts.profile === "full" ? "snapshot" : "readonly";
  const diskArg = opts.disk ?? (builtDisk !== null && existsSync(builtDisk) ? `${builtDisk},${builtMode}` : undefined);
  let disk: BlockBackend | null = null;
  if (diskArg !== undefined) {
    const spec = parseDiskSpec(diskArg);
    checkDisk(spec.path);
    file = new FileBackend(spec.path, { readonly: spec.readonly || spec.snapshot, cache: spec.cache });
    disk = spec.snapshot ? new OverlayBackend(file) : file;
  } else if (opts.diskRate !== undefined) {
    throw new UsageError("--disk-rate without --disk");
  }
  try {
    return await runPvWithDisk(opts, kernel, initrd, disk, t0);
  } finally {
    file?.close();
  }
}

async function runPvWithDisk(
  opts: RunOptions,
  kernel: Uint8Array,
  initrd: Uint8Array | undefined,
  disk: BlockBackend | null,
  t0: number,
): Promise<number> {
  const full = opts.profile === "full";
  let bootargs = opts.append ?? (full ? FULL_DEFAULTS.BOOTARGS : PV_DEFAULTS.BOOTARGS);
  const firmware = full ? readProgram(opts.firmware ?? FULL_DEFAULTS.FIRMWARE, "firmware") : null;
  // --net: one VM on a network of its own (frames to nobody), with an address from the
  // kernel command line; useful for the counters (and as the single-VM form of `multi`).
  let net: { spec: NetSpec; backend: SwitchBackend; tx?: RateLimiter; rx?: RateLimiter } | null = null;
  if (opts.net !== undefined) {
    const spec = specOrUsage(() => parseNetSpec(opts.net!));
    if (full && spec.rate !== undefined) throw new UsageError("--net rate=: the full profile's e1000 has no rate limiter (pv only)");
    const tx = rateLimiter(spec.rate, "--net rate");
    const rx = rateLimiter(spec.rate, "--net rate");
    const backend = new SwitchBackend(new Networks().get(spec.network), "vm");
    net = { spec, backend, ...(tx ? { tx } : {}), ...(rx ? { rx } : {}) };
    const subnet = new Subnet(MULTI_DEFAULTS.SUBNET);
    bootargs += ` ${ipBootArg({ address: subnet.assign("vm"), netmask: subnet.netmask, device: "eth0" })}`;
  }
  const diskLimiter = rateLimiter(opts.diskRate, "--disk-rate");
  if (full && diskLimiter) throw new UsageError("--disk-rate: the full profile's ATA disk has no rate limiter (pv only)");
  if (opts.exec !== undefined) bootargs += ` paravm.exec=${Buffer.from(opts.exec, "utf8").toString("base64")}`;
  const stdout = process.stdout;
  stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_DESTROYED") throw e;
  });
  let tail = "";
  let exitStatus: number | null = null;
  const output = (bytes: Uint8Array): void => {
    stdout.write(bytes);
    if (opts.exec !== undefined && exitStatus === null) {
      tail = (tail + Buffer.from(bytes).toString("latin1")).slice(-256);
      const m = EXIT_LINE.exec(tail);
      if (m && /\r?\n/.test(tail.slice(m.index))) exitStatus = Number(m[1]);
    }
  };
  let machine: PvMachine | FullMachine;
  try {
    machine = firmware !== null ? new FullMachine({
      kernel,
      initrd,
      firmware,
      bootargs,
      memBytes: opts.mem,
      cpus: opts.cpus,
      maxInsns: opts.maxInsns,
      ...(disk ? { disk: { backend: disk, serial: "paravm-0" } } : {}),
      ...(net ? { net: { backend: net.backend, mac: net.spec.mac ?? macFromName(net.spec.network) } } : {}),
      output,
    }) : new PvMachine({
      kernel,
      initrd,
      bootargs,
      memBytes: opts.mem,
      cpus: opts.cpus,
      maxInsns: opts.maxInsns,
      ...(disk ? { disk: { backend: disk, serial: "paravm-0", ...(diskLimiter ? { rateLimiter: diskLimiter } : {}) } } : {}),
      ...(net
        ? {
            net: {
              backend: net.backend,
              mac: net.spec.mac ?? macFromName(net.spec.network),
              ...(net.tx ? { txRateLimiter: net.tx } : {}),
              ...(net.rx ? { rxRateLimiter: net.rx } : {}),
            },
          }
        : {}),
      output,
    });
  } catch (e) {
    if (e instanceof RangeError && /alloc|memory/i.test(e.message)) {
      throw new UsageError(`--mem: cannot allocate ${opts.mem} bytes of guest RAM on this host`);
    }
    throw e;
  }
  const setupMs = performance.now() - t0;

  // The terminal: without --exec, stdin goes to the guest console (raw mode on a TTY).
  const stdin = process.stdin;
  const interactive = opts.exec === undefined;
  const tty = interactive && stdin.isTTY === true;
  let quit = false;
  const restore = (): void => {
    if (tty && stdin.isTTY) stdin.setRawMode(false);
  };
  const onSignal = (): void => {
    machine.stop();
  };
  if (interactive) {
    const esc = new EscapeFilter(() => {
      quit = true;
      machine.stop();
    });
    if (tty) {
      stdin.setRawMode(true);
      process.on("exit", restore);
    }
    stdin.on("data", (chunk: Buffer) => {
      const bytes = tty ? esc.filter(chunk) : new Uint8Array(chunk);
      if (bytes.length > 0) machine.input(bytes);
    });
    stdin.on("error", () => {});
    stdin.resume();
  }
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let result: PvResult | FullResult;
  try {
    result = await machine.runAsync({ waitForInput: interactive });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (interactive) {
      restore();
      stdin.pause();
      stdin.destroy();
    }
  }
  if (opts.stats === true) {
    const doc = statsJson(result, setupMs);
    if (net) doc.switchPort = { network: net.spec.network, ...structuredClone(net.backend.port.stats) };
    process.stderr.write(`${JSON.stringify(doc)}\n`);
  }
  net?.backend.close();
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
    if (exitStatus === null) {
      process.stderr.write("paravm: the guest powered off without printing PARAVM-EXIT-STATUS\n");
      return EXIT.GUEST_FAILED;
    }
    return exitStatus > 255 ? EXIT.GUEST_FAILED : exitStatus;
  }
  return result.resetReason === 1 ? EXIT.GUEST_FAILED : EXIT.OK;
}

