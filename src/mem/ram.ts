/**
 * Guest RAM: one SharedArrayBuffer with typed-array views over it, so worker threads
 * (one per VM, later one per hart) and the main thread (metrics) see the same bytes.
 * The buffer comes from host-memory.ts: page-aligned and mapped by the native addon when
 * it is built, so pages the guest gives back (balloon, free page reporting) leave the
 * host's resident memory (`discard`).
 *
 * Views assume a little-endian host, as RISC-V is little-endian: every host Node runs
 * on in practice (x86-64, arm64) is.
 */
import type { DirtyLog } from "./dirty-log.js";
import { hostMemory, type ReclaimMode } from "./host-memory.js";

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

export class GuestRam {
  readonly sab: SharedArrayBuffer;
  readonly u8: Uint8Array;
  readonly i8: Int8Array;
  readonly u16: Uint16Array;
  readonly i16: Int16Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly f32: Float32Array;
  /** How `discard` gives pages back: madvise (host memory falls) or zero-fill (it does not). */
  readonly reclaim: ReclaimMode;
  /**
   * The VM's dirty-page log (live migration), attached after construction on every thread's
   * view of this RAM, or null. Host writers (loaders, DMA, SBI) call markDirty after they
   * write; harts mark in their slow paths only (cpu/mmu.ts): see mem/dirty-log.ts.
   */
  dirty: DirtyLog | null = null;

  /**
   * `base` is the guest-physical address of byte 0; `size` a multiple of the page size.
   * `shared`: an existing buffer of exactly `size` bytes (another thread's view of the same RAM).
   */
  constructor(
    readonly base: number,
    readonly size: number,
    shared?: SharedArrayBuffer,
  ) {
    if (!Number.isInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) {
      throw new RangeError(`RAM size must be a positive multiple of ${PAGE_SIZE} bytes, got ${size}`);
    }
    if (shared !== undefined && shared.byteLength !== size) {
      throw new RangeError(`shared RAM buffer holds ${shared.byteLength} bytes, expected ${size}`);
    }
    this.sab = shared ?? hostMemory().alloc(size);
    this.reclaim = hostMemory().reclaimOf(this.sab);
    this.u8 = new Uint8Array(this.sab);
    this.i8 = new Int8Array(this.sab);
    this.u16 = new Uint16Array(this.sab);
    this.i16 = new Int16Array(this.sab);
    this.i32 = new Int32Array(this.sab);
    this.f64 = new Float64Array(this.sab);
    this.f32 = new Float32Array(this.sab);
  }

  /** True when [pa, pa+len) lies inside RAM. */
  contains(pa: number, len: number): boolean {
    return pa >= this.base && pa + len <= this.base + this.size;
  }

  /** Copy host bytes into guest RAM at guest-physical `pa` (loaders, DMA). */
  writeBytes(pa: number, bytes: Uint8Array): void {
    if (!this.contains(pa, bytes.length)) {
      throw new RangeError(`0x${pa.toString(16)}+${bytes.length} is outside RAM`);
    }
    this.u8.set(bytes, pa - this.base);
    this.markDirty(pa - this.base, bytes.length);
  }

  /**
   * A host writer changed RAM bytes [off, off + len) (offsets from `base`): log their pages
   * while dirty logging is on. Called after the write, on a thread that acknowledges the
   * log's flushes (the owner for devices), so a page taken before this mark is copied only
   * after that thread's next acknowledgement, which follows the write.
   */
  markDirty(off: number, len: number): void {
    const d = this.dirty;
    if (d !== null) d.markRange(off, len);
  }

  /**
   * Give the whole pages [pa, pa+len) back to the host; they read as zeros afterwards.
   * The caller checks guest-supplied ranges first (RangeError here is a host bug).
   * Decoded-code caches need nothing more than for a DMA write: a guest that puts new code
   * in a page it got back executes fence.i first (Linux does when it maps the page
   * executable), after which every hart checks its cached pages against the RAM words they
   * were decoded from (hart.ts, decodedSnap) and decodes changed ones again.
   */
  discard(pa: number, len: number): void {
    if (!this.contains(pa, len) || (pa - this.base) % PAGE_SIZE !== 0 || len % PAGE_SIZE !== 0) {
      throw new RangeError(`discard 0x${pa.toString(16)}+0x${len.toString(16)}: not whole pages inside RAM`);
    }
    hostMemory().discard(this.sab, pa - this.base, len);
    // The pages now read as zeros: a migration must send them again.
    this.markDirty(pa - this.base, len);
  }

  readBytes(pa: number, len: number): Uint8Array {
    if (!this.contains(pa, len)) throw new RangeError(`0x${pa.toString(16)}+${len} is outside RAM`);
    return this.u8.slice(pa - this.base, pa - this.base + len);
  }
}
