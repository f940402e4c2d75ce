/**
 * `paravm` command line. Commands translate their options into calls on the machine
 * layer; nothing here knows about instructions or devices.
 *
 *     paravm elf FILE [--max-insns N] [--trace] [--mem SIZE] [--stats]
 *
 * Exit status: the guest's HTIF exit code; 124 when --max-insns stopped the run; 2 for
 * usage errors (bad option, missing file, an ELF that cannot run); 1 when the guest
 * cannot go on (HTIF request the host cannot serve, WFI with nothing to wake it).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { BareBoard, BARE_MAP } from "../machine/bare.js";
import { ElfError } from "../machine/elf.js";
import { ImageError } from "../machine/linux-image.js";
import { PvMachine, PV_DEFAULTS, type PvResult } from "../machine/pv.js";
import { FullMachine, FULL_DEFAULTS, type FullResult } from "../machine/full.js";
import { DiskError, FileBackend, parseDiskSpec } from "../devices/virtio/blk/file-backend.js";
import { OverlayBackend } from "../devices/virtio/blk/overlay-backend.js";
import type { BlockBackend } from "../devices/virtio/blk/device.js";
import { ipBootArg, Subnet } from "../devices/virtio/net/ip.js";
import { macFromName } from "../devices/virtio/net/mac.js";
import { SwitchBackend } from "../devices/virtio/net/switch-backend.js";
import { parseRateLimit, type RateLimiter } from "../hypervisor/rate-limiter.js";
import { Networks } from "../hypervisor/switch.js";
import { parseNetSpec, parseVmSpecs, SpecError, type NetSpec } from "../hypervisor/vm-spec.js";
import { LinePrefixer, MULTI_DEFAULTS, MultiRun, type VmConfig } from "../machine/pv-multi.js";
import { compareProfiles, statsTableFromFiles, type CompareOptions } from "./compare.js";

export const EXIT = {
  OK: 0,
  GUEST_FAILED: 1,
  USAGE: 2,
  INTERNAL: 70,
  /** As timeout(1): the run was cut short by --max-insns. */
  MAX_INSNS: 124,
} as const;

/** A usage problem: printed as one line, exit status 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

const MIB = 1024 * 1024;
const MEM_MIN = 4096;
/** The largest SharedArrayBuffer a typed array can fully cover on Node 20. */
const MEM_MAX = 4096 * MIB;

/**
 * Parse a memory size: a byte count, or a number with K/M/G (optionally KB/KiB, …)
 * meaning powers of 1024, as QEMU's -m does. Must be a multiple of 4 KiB, 4 KiB..4 GiB.
 */
export function parseMemSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|b)?\s*$/i.exec(text);
  if (m === null) throw new InvalidArgumentError("expected a size such as 256M, 1G, 512MiB or a byte count.");
  const unit = (m[2] ?? "").toLowerCase();
  const scale =
    unit === "k" ? 1024 : unit === "m" ? MIB : unit === "g" ? 1024 * MIB : unit === "t" ? 1024 * 1024 * MIB : 1;
  const bytes = Number(m[1]) * scale;
  if (!Number.isSafeInteger(bytes)) throw new InvalidArgumentError("not a whole number of bytes.");
  if (bytes < MEM_MIN || bytes > MEM_MAX) throw new InvalidArgumentError("must be between 4K and 4G.");
  if (bytes % 4096 !== 0) throw new InvalidArgumentError("must be a multiple of 4 KiB.");
  return bytes;
}

/** Parse a positive instruction count; `_` separators allowed (1_000_000). */
export function parseCount(text: string): number {
  if (!/^\s*\d[\d_]*\s*$/.test(text)) throw new InvalidArgumentError("expected a positive whole number.");
  const n = Number(text.trim().replace(/_/g, ""));
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError("expected a positive whole number.");
  return n;
}

function packageVersion(): string {
  // dist/src/control/cli.js → package.json three levels up (two when run from src/ directly).
  for (const rel of ["../../../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "paravm" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // not there: try the next location
    }
  }
  return "0.0.0";
}

function readProgram(file: string, what?: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EACCES"
          ? "permission denied"
          : code === "EISDIR"
            ? "is a directory"
            : ((e as Error).message ?? String(e));
    const hint = what === "firmware" && code === "ENOENT" ? " (install Debian's opensbi package: npm run setup)" : "";
    throw new UsageError(`cannot read ${what ? `${what} ` : ""}'${file}': ${why}${hint}`);
  }
}

interface ElfOptions {
  maxInsns?: number;
  trace?: boolean;
  mem: number;
  stats?: boolean;
}

/** `paravm elf`: run a bare-metal program; returns the exit status. */
function runElf(file: string, opts: ElfOptions): number {
  const bytes = readProgram(file);
  const stdout = process.stdout;
  // A reader that goes away (`paravm elf … | head -1`) is not an error of ours: drop the output.
  stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_DESTROYED") throw e;
  });
  let board: BareBoard;
  try {
    board = new BareBoard(bytes, {
      name: file,
      memBytes: opts.mem,
      maxInsns: opts.maxInsns,
      trace: opts.trace === true,
      output: (chunk) => void stdout.write(chunk),
      log: (line) => void process.stderr.write(`${line}\n`),
    });
  } catch (e) {
    if (e instanceof RangeError && /alloc/i.test(e.message)) {
      throw new UsageError(`--mem: cannot allocate ${opts.mem} bytes of guest RAM on this host`);
    }
    throw e;
  }
  const result = board.run();

  if (opts.stats === true) {
    const seconds = result.wallMs / 1000;
    const stats = {
      instructions: result.instret,
      instructionsByPrivilege: result.instretByPriv,
      wallMs: Math.round(result.wallMs * 1000) / 1000,
      mips: seconds > 0 ? Math.round((result.instret / seconds / 1e6) * 1000) / 1000 : 0,
    };
    process.stderr.write(`${JSON.stringify(stats)}\n`);
  }

  switch (result.stop) {
    case "exit": {
      const code = result.exitCode ?? 0;
      if (code > 255) {
        process.stderr.write(`paravm: guest exit code ${code} does not fit an exit status; exiting with 1\n`);
        return EXIT.GUEST_FAILED;
      }
      return code;
    }
    case "maxInsns":
      process.stderr.write(`paravm: stopped after ${opts.maxInsns ?? result.instret} instructions (--max-insns)\n`);
      return EXIT.MAX_INSNS;
    case "htifError":
    case "wfiDeadlock":
      process.stderr.write(`paravm: ${result.message ?? result.stop}\n`);
      return EXIT.GUEST_FAILED;
  }
}

/** The newest guest-image cache dir that holds an Image and an initramfs, or null. */
export function defaultGuestDir(): string | null {
  // The builder knows the cache directory for the current guest inputs (a hash of them).
  const builder = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "scripts", "build-guests.mjs");
  if (existsSync(builder)) {
    const r = spawnSync(process.execPath, [builder, "--print-dir"], { encoding: "utf8" });
    const dir = r.status === 0 ? r.stdout.trim().split("\n").pop() : undefined;
    if (dir !== undefined && existsSync(join(dir, "Image")) && existsSync(join(dir, "initramfs.cpio.gz"))) return dir;
  }
  // Otherwise (an installed copy without the builder, or inputs changed and not rebuilt): the newest build.
  const root = join(process.env.PARAVM_CACHE ?? join(homedir(), ".cache", "paravm"));
  let best: { dir: string; t: number } | null = null;
  try {
    for (const name of readdirSync(root)) {
      const dir = join(root, name);
      if (!existsSync(join(dir, "Image")) || !existsSync(join(dir, "initramfs.cpio.gz"))) continue;
      const t = statSync(join(dir, "Image")).mtimeMs;
      if (best === null || t > best.t) best = { dir, t };
    }
  } catch {
    return null;
  }
  return best?.dir ?? null;
}

interface RunOptions {
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

const EXIT_LINE = /PARAVM-EXIT-STATUS=(\d+)/;

export type MachineProfile = "pv" | "full";

/** Parse --profile. */
export function parseProfile(text: string): MachineProfile {
  if (text === "pv" || text === "full") return text;
  throw new InvalidArgumentError(`expected "pv" or "full".`);
}

/** Parse --cpus: a whole number of harts, 1..PV_DEFAULTS.MAX_CPUS. */
export function parseCpus(text: string): number {
  if (!/^\s*\d+\s*$/.test(text)) throw new InvalidArgumentError(`expected a whole number from 1 to ${PV_DEFAULTS.MAX_CPUS}.`);
  const n = Number(text.trim());
  if (n < 1 || n > PV_DEFAULTS.MAX_CPUS) throw new InvalidArgumentError(`must be from 1 to ${PV_DEFAULTS.MAX_CPUS}.`);
  return n;
}

/** A disk image: a readable regular file, non-empty, a whole number of 512-byte sectors. */
function checkDisk(file: string): void {
  let size: number;
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw new UsageError(`cannot read '${file}': is a directory`);
    size = st.size;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    readProgram(file); // the same one-line message as for the other files
    throw e;
  }
  if (size === 0) throw new UsageError(`--disk '${file}': empty file`);
  if (size % 512 !== 0) throw new UsageError(`--disk '${file}': ${size} bytes is not a whole number of 512-byte sectors`);
}

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

/** A rate-limit spec (parseRateLimit) or a one-line usage error naming `what`. */
function rateLimiter(spec: string | undefined, what: string): RateLimiter | undefined {
  if (spec === undefined) return undefined;
  try {
    return parseRateLimit(spec) ?? undefined;
  } catch (e) {
    throw new UsageError(`${what}: ${(e as Error).message}`);
  }
}

function specOrUsage<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof SpecError) throw new UsageError(e.message);
    throw e;
  }
}

/** `paravm run`: boot Linux on the pv machine; resolves to the exit status. */
async function runPv(opts: RunOptions): Promise<number> {
  const t0 = performance.now();
  const dir = opts.kernel !== undefined && opts.initrd !== undefined ? null : defaultGuestDir();
  const kernelFile = opts.kernel ?? (dir ? join(dir, "Image") : null);
  if (kernelFile === null) throw new UsageError("no --kernel given and no built guest images found (run: node scripts/build-guests.mjs)");
  const initrdFile = opts.initrd ?? (dir ? join(dir, "initramfs.cpio.gz") : undefined);
  const kernel = readProgram(kernelFile);
  const initrd = initrdFile !== undefined ? readProgram(initrdFile) : undefined;
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

interface MultiOptions {
  firmware?: string;
  kernel?: string;
  initrd?: string;
  vm: string[];
  stats?: boolean;
  maxInsns?: number;
}

/**
 * `paravm multi`: several VMs in this process on shared networks (src/machine/pv-multi.ts).
 * Addresses come from the kernel command line (`ip=`, CONFIG_IP_PNP), not DHCP: per
 * network, 10.0.2.2, .3, … in --vm order. Console lines are prefixed "[name] ".
 */
async function runMulti(opts: MultiOptions): Promise<number> {
  const specs = specOrUsage(() => parseVmSpecs(opts.vm));
  const dir = opts.kernel !== undefined && opts.initrd !== undefined ? null : defaultGuestDir();
  const kernelFile = opts.kernel ?? (dir ? join(dir, "Image") : null);
  if (kernelFile === null) throw new UsageError("no --kernel given and no built guest images found (run: node scripts/build-guests.mjs)");
  const initrdFile = opts.initrd ?? (dir ? join(dir, "initramfs.cpio.gz") : undefined);
  const kernel = readProgram(kernelFile);
  const initrd = initrdFile !== undefined ? readProgram(initrdFile) : undefined;
  const disks: FileBackend[] = [];
  const configs: VmConfig[] = [];
  const t0 = performance.now();
  try {
    for (const v of specs) {
      const what = `--vm ${v.name}`;
      const opt = <T>(text: string | undefined, parse: (s: string) => T, key: string): T | undefined => {
        if (text === undefined) return undefined;
        try {
          return parse(text);
        } catch (e) {
          throw new UsageError(`${what}: ${key}=${text}: ${(e as Error).message}`);
        }
      };
      let disk: VmConfig["disk"];
      if (v.disk !== undefined) {
        const ds = parseDiskSpec(v.disk);
        checkDisk(ds.path);
        const file = new FileBackend(ds.path, { readonly: ds.readonly || ds.snapshot, cache: ds.cache });
        const backend = ds.snapshot ? new OverlayBackend(file) : file;
        disks.push(file);
        const rl = rateLimiter(v.diskRate, `${what} disk-rate`);
        disk = { backend, serial: `paravm-${v.name}`.slice(0, 20), ...(rl ? { rateLimiter: rl } : {}) };
      }
      const tx = rateLimiter(v.netRate, `${what} net-rate`);
      const rx = rateLimiter(v.netRate, `${what} net-rate`);
      configs.push({
        name: v.name,
        ...(v.profile ? { profile: v.profile } : {}),
        memBytes: opt(v.mem, parseMemSize, "mem"),
        cpus: opt(v.cpus, parseCpus, "cpus"),
        maxInsns: opts.maxInsns,
        ...(v.exec !== undefined ? { exec: v.exec } : {}),
        ...(disk ? { disk } : {}),
        net: {
          network: v.net!,
          ...(v.mac ? { mac: v.mac } : {}),
          ...(tx ? { txRateLimiter: tx } : {}),
          ...(rx ? { rxRateLimiter: rx } : {}),
        },
      });
    }
    const stdout = process.stdout;
    stdout.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_DESTROYED") throw e;
    });
    const lines = new LinePrefixer((text) => void stdout.write(text));
    let multi: MultiRun;
    try {
      const firmware = configs.some((c) => c.profile === "full") ? readProgram(opts.firmware ?? FULL_DEFAULTS.FIRMWARE, "firmware") : undefined;
      multi = new MultiRun(configs, { kernel, initrd, ...(firmware ? { firmware } : {}), output: (name, bytes) => lines.push(name, bytes) });
    } catch (e) {
      if (e instanceof RangeError && /alloc|memory/i.test(e.message)) {
        throw new UsageError(`mem: cannot allocate guest RAM for ${configs.length} VMs on this host`);
      }
      throw e;
    }
    const setupMs = performance.now() - t0;
    const onSignal = (): void => multi.stop();
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    let r: Awaited<ReturnType<MultiRun["run"]>>;
    try {
      r = await multi.run();
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      lines.flush();
    }
    for (const o of r.vms) {
      if (o.status !== 0 && o.result.stop !== "stopped") {
        const why =
          o.result.stop === "wfiDeadlock"
            ? "every hart waits with no timer armed"
            : o.result.stop === "maxInsns"
              ? "stopped by --max-insns"
              : o.execStatus === null
                ? "powered off without printing PARAVM-EXIT-STATUS"
                : `exit status ${o.execStatus}`;
        process.stderr.write(`paravm: vm ${o.name}: ${why}\n`);
      }
    }
    if (opts.stats === true) {
      const doc = {
        vms: Object.fromEntries(
          r.vms.map((o) => [
            o.name,
            { status: o.status, network: o.network, address: o.address, mac: o.mac, ...statsJson(o.result, setupMs) },
          ]),
        ),
        networks: Object.fromEntries(
          Object.entries(r.ports).map(([n, ports]) => [n, { ports, switch: { ...r.networks.get(n).stats } }]),
        ),
      };
      process.stderr.write(`${JSON.stringify(doc)}\n`);
    }
    return r.status;
  } finally {
    for (const d of disks) d.close();
  }
}

/** Collect repeated --vm options. */
const collect = (value: string, prev: string[]): string[] => [...prev, value];

function buildProgram(setStatus: (code: number | Promise<number>) => void): Command {
  const program = new Command("paravm");
  program
    .description("A hypervisor in TypeScript: RISC-V RV64GC guests, para-virtualized and fully virtualized.")
    .version(packageVersion(), "-V, --version", "print the version")
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      // Commander's own errors are one line; keep them prefixed like ours.
      outputError: (text, write) => write(text.startsWith("error:") ? `paravm: ${text}` : text),
    });

  program
    .command("elf")
    .description("run a bare-metal RV64 ELF on one hart (RAM at 0x80000000, CLINT, HTIF console and exit)")
    .argument("<file>", "the ELF program (riscv-tests, or anything with tohost/fromhost)")
    .option("--max-insns <n>", "stop after N instructions (exit status 124)", parseCount)
    .option("--trace", "print each instruction's pc and bits to stderr, like spike -l")
    .option(
      "--mem <size>",
      "RAM size: bytes, or K/M/G (e.g. 256M, 1G, 512MiB)",
      parseMemSize,
      BARE_MAP.DEFAULT_RAM_SIZE,
    )
    .option("--stats", "print a JSON line with instruction counts and speed to stderr at the end")
    .action((file: string, opts: ElfOptions) => {
      setStatus(runElf(file, opts));
    });

  program
    .command("run")
    .description("boot Linux: pv machine (SBI as hypercalls, virtio devices) or full (OpenSBI on emulated hardware)")
    .option(
      "--profile <pv|full>",
      "pv: the kernel's SBI calls are hypercalls, virtio devices; full: unmodified OpenSBI in guest M-mode, 16550 UART, ATA disk, e1000",
      parseProfile,
      "pv",
    )
    .option("--firmware <file>", `M-mode firmware for --profile full (default ${FULL_DEFAULTS.FIRMWARE})`)
    .option("--kernel <file>", "RISC-V Linux Image (default: the built guest image)")
    .option("--initrd <file>", "initramfs (default: the built guest initramfs)")
    .option("--append <args>", `kernel command line (default "${PV_DEFAULTS.BOOTARGS}")`)
    .option("--disk <file[,readonly][,cache=writeback|none]>", "raw disk image: virtio-blk /dev/vda (pv) or ATA /dev/sda (full); size a multiple of 512; snapshot: writes kept in memory only")
    .option("--mem <size>", "RAM size: bytes, or K/M/G", parseMemSize, PV_DEFAULTS.MEM)
    .option("--cpus <n>", `harts, 1..${PV_DEFAULTS.MAX_CPUS} (secondaries started by the guest through SBI HSM)`, parseCpus, 1)
    .option("--exec <cmd>", "run CMD in the guest instead of a shell, exit with its status")
    .option("--stats", "print a JSON summary to stderr at the end")
    .option("--max-insns <n>", "stop after N instructions (exit status 124)", parseCount)
    .option("--disk-rate <spec>", "rate limit for the disk: bw=BYTES/s,ops=REQS/s[,bw_burst=…,ops_burst=…] (K/M/G)")
    .option(
      "--net <name[,mac=…][,rate=bw=…,ops=…]>",
      `virtio-net eth0 on network NAME (alone: for counters); address ${MULTI_DEFAULTS.SUBNET.replace(".0/", ".2/")} by ip= on the kernel command line`,
    )
    .action((opts: RunOptions) => {
      setStatus(runPv(opts));
    });

  program
    .command("multi")
    .description("run several VMs (pv or full) in this process on shared virtual networks; ends when all have exited")
    .option("--firmware <file>", `M-mode firmware for profile=full VMs (default ${FULL_DEFAULTS.FIRMWARE})`)
    .requiredOption(
      "--vm <spec>",
      "name=N[,profile=pv|full],net=NET[,mac=…][,mem=…][,cpus=…][,disk=FILE][,net-rate=bw=…,ops=…][,disk-rate=…],exec=CMD (exec last; repeat per VM)",
      collect,
      [],
    )
    .option("--kernel <file>", "RISC-V Linux Image (default: the built guest image)")
    .option("--initrd <file>", "initramfs (default: the built guest initramfs)")
    .option("--stats", "print a JSON summary (per VM, and per switch port) to stderr at the end")
    .option("--max-insns <n>", "stop each VM after N instructions", parseCount)
    .addHelpText(
      "after",
      `\nEach VM joins network NET (one learning switch per name) and gets an address from\n${MULTI_DEFAULTS.SUBNET} in --vm order (.2, .3, …), given to the kernel as ip= (no DHCP).\nExit status: the first non-zero guest status (the other VMs are then stopped), else 0.`,
    )
    .action((opts: MultiOptions) => {
      setStatus(runMulti(opts));
    });

  program
    .command("compare")
    .description("run one command on the pv and on the full machine and print their --stats side by side")
    .requiredOption("--exec <cmd>", "the guest command (run once per profile)")
    .option("--kernel <file>", "RISC-V Linux Image (default: the built guest image)")
    .option("--initrd <file>", "initramfs (default: the built guest initramfs)")
    .option("--disk <file[,readonly|,snapshot]>", "disk for both runs (pv: virtio-blk /dev/vda, full: ATA /dev/sda)")
    .option("--mem <size>", "RAM size for both")
    .option("--cpus <n>", "harts for both")
    .option("--timeout-s <s>", "give up on a run after this long", parseCount, 600)
    .action((opts: CompareOptions) => {
      setStatus(
        (async () => {
          let out;
          try {
            out = compareProfiles(opts, (line) => process.stderr.write(`${line}\n`));
          } catch (e) {
            throw new UsageError((e as Error).message.split("\n")[0]!);
          }
          process.stdout.write(`${out.table}\n`);
          const bad = out.statuses.findIndex((s) => s !== 0);
          if (bad >= 0) process.stderr.write(`paravm: the command exited ${out.statuses[bad]} on ${bad === 0 ? "pv" : "full"}\n`);
          return bad >= 0 ? EXIT.GUEST_FAILED : EXIT.OK;
        })(),
      );
    });

  program
    .command("stats-table")
    .description("print saved --stats lines (one file each) side by side")
    .argument("<files...>", "files holding `paravm run --stats` output (stderr)")
    .action((files: string[]) => {
      setStatus(
        (async () => {
          try {
            process.stdout.write(`${statsTableFromFiles(files)}\n`);
          } catch (e) {
            throw new UsageError((e as Error).message);
          }
          return EXIT.OK;
        })(),
      );
    });

  return program;
}

/** The exit status for an error thrown by a command: one line on stderr, never a stack trace for usage errors. */
function errorStatus(e: unknown): number {
  if (e instanceof CommanderError) {
    // --help and --version end with exit code 0; every parse error is a usage error.
    return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  }
  if (e instanceof UsageError || e instanceof ElfError || e instanceof ImageError || e instanceof DiskError) {
    process.stderr.write(`paravm: error: ${e.message}\n`);
    return EXIT.USAGE;
  }
  process.stderr.write(`paravm: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
  return EXIT.INTERNAL;
}

/**
 * Run the CLI on `argv` (as process.argv); returns the process exit status. Never throws.
 * Commands that keep running (`run`) finish asynchronously: main returns 0 at once and
 * sets `process.exitCode` when the command ends (after bin/paravm.js has stored the 0).
 * `mainAsync` resolves to the final status instead.
 */
export function main(argv: readonly string[] = process.argv): number {
  const r = start(argv);
  if (typeof r === "number") return r;
  void r.then((code) => {
    process.exitCode = code;
  });
  return EXIT.OK;
}

/** As `main`, but resolves to the final exit status of every command. */
export async function mainAsync(argv: readonly string[] = process.argv): Promise<number> {
  return start(argv);
}

function start(argv: readonly string[]): number | Promise<number> {
  let status: number | Promise<number> = EXIT.OK;
  const program = buildProgram((code) => {
    status = code;
  });
  try {
    program.parse([...argv]);
  } catch (e) {
    return errorStatus(e);
  }
  const s = status as number | Promise<number>;
  return typeof s === "number" ? s : s.catch(errorStatus);
}
