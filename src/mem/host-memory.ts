/**
 * Where guest RAM comes from, and how pages of it go back to the host (docs/memory.md).
 *
 * JavaScript cannot free part of a SharedArrayBuffer, and a plain one does not even start
 * on a page boundary. So guest RAM is mapped by a small native addon (native/guest-ram.cc,
 * built by scripts/setup.mjs into the cache, keyed by its source, Node's ABI and the CPU):
 * an mmap'd, page-aligned SharedArrayBuffer that `discard` hands back with
 * madvise(MADV_DONTNEED) — the host's resident memory falls at once, and the pages read
 * as zeros afterwards.
 *
 * Without the addon (no compiler at setup, another Node ABI, PARAVM_NATIVE_RAM=0) RAM is
 * a plain SharedArrayBuffer and `discard` only zero-fills: the guest sees the same thing,
 * the host keeps the memory. `reclaim` says which of the two is in force.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export type ReclaimMode = "madvise" | "zero-fill";

/** Guest page: the unit a discard works in (guest pages are 4 KiB on RISC-V). */
const GUEST_PAGE = 4096;

/** What native/guest-ram.cc exports. */
interface GuestRamAddon {
  alloc(bytes: number): SharedArrayBuffer;
  discard(sab: SharedArrayBuffer, offset: number, length: number): void;
  pageSize(): number;
  isPageAligned(sab: SharedArrayBuffer): boolean;
}

export const NATIVE = {
  SOURCE: "native/guest-ram.cc",
  FILE: "guest-ram.node",
  /** PARAVM_NATIVE_RAM=0 turns the addon off (to compare, or to rule it out). */
  ENV: "PARAVM_NATIVE_RAM",
} as const;

/** The repository root, from dist/src/mem/ or src/mem/. */
function repoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(`${join("dist", "src")}`) ? join(here, "..", "..", "..") : join(here, "..", "..");
}

/**
 * The cache directory the addon for `source` is built into. scripts/setup.mjs computes
 * the same key (its test checks that the two agree): a changed source, Node ABI or CPU
 * gets a build of its own.
 */
export function nativeAddonPath(source: string | Buffer, cacheRoot = process.env["PARAVM_CACHE"] ?? join(homedir(), ".cache", "paravm")): string {
  const key = createHash("sha256").update(source).update(`\0${process.versions.modules}\0${process.arch}`).digest("hex").slice(0, 16);
  return join(cacheRoot, "native", key, NATIVE.FILE);
}

export interface HostMemory {
  readonly reclaim: ReclaimMode;
  /** Why the addon is not in use (zero-fill mode), for --stats and the docs. */
  readonly why: string | null;
  /** A page-aligned shared buffer of `bytes` (a positive multiple of 4 KiB), reading zero. */
  alloc(bytes: number): SharedArrayBuffer;
  /**
   * Give [offset, offset+length) of `sab` back to the host; it reads as zeros afterwards.
   * Offset and length: multiples of 4 KiB inside the buffer, else a RangeError (nothing changed).
   */
  discard(sab: SharedArrayBuffer, offset: number, length: number): void;
  /** How `discard` treats this buffer: a plain SharedArrayBuffer can only be zero-filled. */
  reclaimOf(sab: SharedArrayBuffer): ReclaimMode;
}

function checkRange(sab: SharedArrayBuffer, offset: number, length: number): void {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0) {
    throw new RangeError(`discard: offset ${offset} and length ${length} must be whole non-negative numbers`);
  }
  if (offset % GUEST_PAGE !== 0 || length % GUEST_PAGE !== 0) {
    throw new RangeError(`discard: offset 0x${offset.toString(16)} and length 0x${length.toString(16)} must be multiples of ${GUEST_PAGE}`);
  }
  if (offset + length > sab.byteLength) {
    throw new RangeError(`discard: 0x${offset.toString(16)}+0x${length.toString(16)} is outside a buffer of 0x${sab.byteLength.toString(16)} bytes`);
  }
}

function zeroFill(sab: SharedArrayBuffer, offset: number, length: number): void {
  if (length > 0) new Uint8Array(sab, offset, length).fill(0);
}

class PlainMemory implements HostMemory {
  readonly reclaim = "zero-fill" as const;
  constructor(readonly why: string) {}
  alloc(bytes: number): SharedArrayBuffer {
    return new SharedArrayBuffer(bytes);
  }
  discard(sab: SharedArrayBuffer, offset: number, length: number): void {
    checkRange(sab, offset, length);
    zeroFill(sab, offset, length);
  }
  reclaimOf(): ReclaimMode {
    return "zero-fill";
  }
}

class NativeMemory implements HostMemory {
  readonly reclaim = "madvise" as const;
  readonly why = null;
  private readonly hostPage: number;
  constructor(private readonly addon: GuestRamAddon) {
    this.hostPage = addon.pageSize();
  }
  alloc(bytes: number): SharedArrayBuffer {
    // The mapping is in host pages; a guest size that is not a multiple keeps its own length.
    if (bytes % this.hostPage !== 0) return new SharedArrayBuffer(bytes);
    return this.addon.alloc(bytes);
  }
  reclaimOf(sab: SharedArrayBuffer): ReclaimMode {
    return this.addon.isPageAligned(sab) ? "madvise" : "zero-fill";
  }
  discard(sab: SharedArrayBuffer, offset: number, length: number): void {
    checkRange(sab, offset, length);
    if (length === 0) return;
    if (!this.addon.isPageAligned(sab)) {
      zeroFill(sab, offset, length);
      return;
    }
    // Host pages larger than a guest page (64 KiB arm64 kernels): madvise the whole host
    // pages inside the range, zero the guest pages at its edges.
    const p = this.hostPage;
    const start = Math.ceil(offset / p) * p;
    const end = Math.floor((offset + length) / p) * p;
    if (end <= start) {
      zeroFill(sab, offset, length);
      return;
    }
    zeroFill(sab, offset, start - offset);
    this.addon.discard(sab, start, end - start);
    zeroFill(sab, end, offset + length - end);
  }
}

/** Load the addon built for this source, ABI and CPU, or say why not. */
export function loadHostMemory(env: NodeJS.ProcessEnv = process.env): HostMemory {
  if (env[NATIVE.ENV] === "0") return new PlainMemory(`${NATIVE.ENV}=0`);
  let source: Buffer;
  try {
    source = readFileSync(join(repoRoot(), NATIVE.SOURCE));
  } catch {
    return new PlainMemory(`${NATIVE.SOURCE} not found`);
  }
  const path = nativeAddonPath(source, env["PARAVM_CACHE"] ?? join(homedir(), ".cache", "paravm"));
  try {
    const addon = createRequire(import.meta.url)(path) as GuestRamAddon;
    if (typeof addon.alloc !== "function" || typeof addon.discard !== "function") return new PlainMemory(`${path} is not the guest-ram addon`);
    return new NativeMemory(addon);
  } catch (e) {
    return new PlainMemory(`addon not loaded (${path}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}); run scripts/setup.mjs`);
  }
}

let shared: HostMemory | null = null;

/** This thread's host memory (loaded once; every worker loads its own). */
export function hostMemory(): HostMemory {
  shared ??= loadHostMemory();
  return shared;
}
