/**
 * Command-line argument parsing and checks shared by the `paravm` commands: sizes, counts,
 * profiles, files. Every problem is a one-line `UsageError` (exit status 2).
 */
import { checkMemTarget } from "../machine/pv-balloon.js";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidArgumentError } from "commander";
import { PV_DEFAULTS } from "../machine/pv.js";
import { parseRateLimit, type RateLimiter } from "../devices/rate-limiter.js";
import { MEMORY_DEFAULTS } from "../hypervisor/memory-pool.js";
import { SpecError } from "../hypervisor/vm-spec.js";
import { VCPU_THREADS } from "../hypervisor/vcpu-threads.js";


export const EXIT = {
  OK: 0,
  GUEST_FAILED: 1,
  USAGE: 2,
  /** The host memory budget cannot admit the VM (AdmissionError). */
  NO_CAPACITY: 3,
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
  const bytes = sizeBytes(text);
  if (bytes < MEM_MIN || bytes > MEM_MAX) throw new InvalidArgumentError("must be between 4K and 4G.");
  if (bytes % 4096 !== 0) throw new InvalidArgumentError("must be a multiple of 4 KiB.");
  return bytes;
}

function sizeBytes(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|b)?\s*$/i.exec(text);
  if (m === null) throw new InvalidArgumentError("expected a size such as 256M, 1G, 512MiB or a byte count.");
  const unit = (m[2] ?? "").toLowerCase();
  const scale =
    unit === "k" ? 1024 : unit === "m" ? MIB : unit === "g" ? 1024 * MIB : unit === "t" ? 1024 * 1024 * MIB : 1;
  const bytes = Number(m[1]) * scale;
  if (!Number.isSafeInteger(bytes)) throw new InvalidArgumentError("not a whole number of bytes.");
  return bytes;
}

/** `--host-mem`: a size (as --mem, no upper bound) of at least the memory pool's minimum. */
export function parseHostMem(text: string): number {
  const bytes = Math.floor(sizeBytes(text) / MIB) * MIB;
  if (bytes < MEMORY_DEFAULTS.MIN_BUDGET_BYTES) {
    throw new InvalidArgumentError(`the budget must be at least ${MEMORY_DEFAULTS.MIN_BUDGET_BYTES / MIB} MiB.`);
  }
  return bytes;
}

/**
 * `--mem-target` (or `mem-target=`) for a VM of `memBytes`: pv only (the balloon), within
 * the range checkMemTarget allows; a UsageError naming `what` otherwise.
 */
export function checkMemTargetArg(what: string, profile: MachineProfile, memBytes: number, target: number | undefined): void {
  if (target === undefined) return;
  if (profile !== "pv") throw new UsageError(`${what}: the ${profile} profile has no balloon (pv only)`);
  const why = checkMemTarget(memBytes, target);
  if (why !== null) throw new UsageError(`${what}: ${why}`);
}

/** Parse a positive instruction count; `_` separators allowed (1_000_000). */
export function parseCount(text: string): number {
  if (!/^\s*\d[\d_]*\s*$/.test(text)) throw new InvalidArgumentError("expected a positive whole number.");
  const n = Number(text.trim().replace(/_/g, ""));
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError("expected a positive whole number.");
  return n;
}


export function readProgram(file: string, what?: string): Uint8Array {
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


export type MachineProfile = "pv" | "full";

/** Parse --profile. */
export function parseProfile(text: string): MachineProfile {
  if (text === "pv" || text === "full") return text;
  throw new InvalidArgumentError(`expected "pv" or "full".`);
}

/** Parse --disk-controller: the full machine's disk on the ATA PIO controller or on AHCI (DMA). */
export function parseDiskControllerArg(text: string): "ata" | "ahci" {
  if (text === "ata" || text === "ahci") return text;
  throw new InvalidArgumentError(`expected "ata" (PIO, the default) or "ahci" (DMA).`);
}

/** Parse --cpus: a whole number of harts, 1..PV_DEFAULTS.MAX_CPUS. */
export function parseCpus(text: string): number {
  if (!/^\s*\d+\s*$/.test(text)) throw new InvalidArgumentError(`expected a whole number from 1 to ${PV_DEFAULTS.MAX_CPUS}.`);
  const n = Number(text.trim());
  if (n < 1 || n > PV_DEFAULTS.MAX_CPUS) throw new InvalidArgumentError(`must be from 1 to ${PV_DEFAULTS.MAX_CPUS}.`);
  return n;
}

/**
 * `--cpus N --max-cpus M` (or cpus=/max-cpus= in a --vm spec): M harts present, N online at
 * boot; the rest come online live through the guest agent (Vm.setVcpus), so pv only.
 * Returns the MachineSpec fields.
 */
export function cpuCounts(cpus: number, maxCpus: number | undefined, profile: "pv" | "full", where?: string): { cpus: number; onlineCpus?: number } {
  if (maxCpus === undefined || maxCpus === cpus) return { cpus };
  const what = where ?? `--max-cpus ${maxCpus}`;
  if (maxCpus < cpus) throw new UsageError(`${what} is less than the ${cpus} vCPUs online at boot`);
  if (profile !== "pv") throw new UsageError(`${what}: vCPUs come online live through the guest agent, which only pv guests have`);
  return { cpus: maxCpus, onlineCpus: cpus };
}

/** `--pcpus`: host cores the scheduler hands out (1..256; more than the host has oversubscribes nothing, fewer does on purpose). */
export function parsePcpus(text: string): number {
  if (!/^\s*\d+\s*$/.test(text)) throw new InvalidArgumentError("expected a whole number from 1 to 256.");
  const n = Number(text.trim());
  if (n < 1 || n > 256) throw new InvalidArgumentError("must be from 1 to 256.");
  return n;
}

/** `--spare-threads`: vCPU threads the daemon keeps started ahead (0..MAX_SPARES; hypervisor/vcpu-threads.ts). */
export function parseSpareThreads(text: string): number {
  const max = VCPU_THREADS.MAX_SPARES;
  if (!/^\s*\d+\s*$/.test(text)) throw new InvalidArgumentError(`expected a whole number from 0 to ${max}.`);
  const n = Number(text.trim());
  if (n > max) throw new InvalidArgumentError(`must be from 0 to ${max}.`);
  return n;
}

/** `--code-cache`: the per-hart code-cache budget in MiB (1..65536), as bytes (cpu/code-cache.ts). */
export function parseCodeCacheMib(text: string): number {
  if (!/^\s*\d+\s*$/.test(text)) throw new InvalidArgumentError("expected a whole number of MiB from 1 to 65536.");
  const n = Number(text.trim());
  if (n < 1 || n > 65536) throw new InvalidArgumentError("must be from 1 to 65536 (MiB).");
  return n * MIB;
}

/** A disk image: a readable regular file, non-empty, a whole number of 512-byte sectors. */
export function checkDisk(file: string): void {
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


/** A rate-limit spec (parseRateLimit) or a one-line usage error naming `what`. */
export function rateLimiter(spec: string | undefined, what: string): RateLimiter | undefined {
  if (spec === undefined) return undefined;
  try {
    return parseRateLimit(spec) ?? undefined;
  } catch (e) {
    throw new UsageError(`${what}: ${(e as Error).message}`);
  }
}

export function specOrUsage<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof SpecError) throw new UsageError(e.message);
    throw e;
  }
}


/** The guest to boot: --kernel/--initrd, or the built images (the cache dir for the current guest inputs). */
export function loadGuest(opts: { kernel?: string; initrd?: string }): {
  dir: string | null;
  kernel: Uint8Array;
  initrd: Uint8Array | undefined;
} {
  const dir = opts.kernel !== undefined && opts.initrd !== undefined ? null : defaultGuestDir();
  const kernelFile = opts.kernel ?? (dir ? join(dir, "Image") : null);
  if (kernelFile === null) throw new UsageError("no --kernel given and no built guest images found (run: node scripts/build-guests.mjs)");
  const initrdFile = opts.initrd ?? (dir ? join(dir, "initramfs.cpio.gz") : undefined);
  return { dir, kernel: readProgram(kernelFile), initrd: initrdFile !== undefined ? readProgram(initrdFile) : undefined };
}
