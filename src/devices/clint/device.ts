/**
 * CLINT, the SiFive core-local interruptor (the layout QEMU `virt`/`spike` and OpenSBI
 * use): per hart a software-interrupt bit (MSIP) and a timer compare register
 * (mtimecmp), plus one shared 64-bit `mtime`.
 *
 *     0x0000 + 4·hart   msip       bit 0 drives mip.MSIP (bit 3)
 *     0x4000 + 8·hart   mtimecmp   mip.MTIP (bit 7) = mtime >= mtimecmp
 *     0xbff8            mtime      10 MHz, from the host's monotonic clock; writable
 *
 * `mtime` is real time: ticks since the device was made, plus an offset that guest
 * writes set. MTIP is a level re-evaluated by `update()` (the run loop calls it between
 * slices) and at once on every mtimecmp/mtime write. Registers start at zero, as in QEMU
 * and Spike, so MTIP is pending until software programs mtimecmp.
 *
 * 64-bit values are kept as doubles: exact below 2^53 ticks (28 years at 10 MHz); the
 * usual "disable" value mtimecmp = ~0 compares correctly and reads back exactly
 * because the register halves are stored as written.
 */
import type { DeviceState, MmioDevice } from "../device.js";

export const CLINT = {
  MSIP_BASE: 0x0000,
  MTIMECMP_BASE: 0x4000,
  MTIME: 0xbff8,
  SIZE: 0x10000,
  /** The mtime frequency: 10 MHz, as on QEMU virt. */
  TIMEBASE_HZ: 10_000_000,
  /** mip bits the CLINT drives. */
  MIP_MSIP_BIT: 3,
  MIP_MTIP_BIT: 7,
  /** Most harts that fit the msip array below mtimecmp (0x4000 / 4). */
  MAX_HARTS: 4095,
} as const;

const TICKS_PER_MS = CLINT.TIMEBASE_HZ / 1000;
const TWO32 = 0x1_0000_0000;
const TWO64 = TWO32 * TWO32;
/** mtimecmp at or past this (signed-negative) is taken as "timer disabled" by nextDeadline. */
const NEVER = TWO64 / 2;

/** What the CLINT drives on each hart: the hardware-owned bits of mip. The hart implements it. */
export interface InterruptTarget {
  setInterruptPending(bit: number, level: boolean): void;
}

export interface ClintOptions {
  /** Host monotonic clock in milliseconds (default `performance.now`); tests pass a fake one. */
  readonly clockMs?: () => number;
  /** The clockMs value at which mtime is 0 (default: at construction); the threads of one VM share it. */
  readonly epochMs?: number;
}

/** Also the harts' `TimeSource` (structurally: `mtime()`), so the CPU needs no import from here. */
export class ClintDevice implements MmioDevice {
  readonly size = CLINT.SIZE;
  private readonly clockMs: () => number;
  /** Host clock reading when mtime was zero (before the offset). */
  private readonly epochMs: number;
  /** Ticks added to the host-derived count; guest writes to mtime change it. */
  private offsetTicks = 0;
  private readonly msip: Uint8Array;
  /** mtimecmp halves as written: [lo0, hi0, lo1, hi1, ...]. */
  private readonly cmpHalves: Uint32Array;
  /** mtimecmp as a double, for comparisons. */
  private readonly cmp: Float64Array;
  /** MTIP level last driven per hart (0/1), or -1 before the first update. */
  private readonly mtip: Int8Array;

  constructor(
    private readonly harts: readonly InterruptTarget[],
    options: ClintOptions = {},
  ) {
    if (harts.length < 1 || harts.length > CLINT.MAX_HARTS) {
      throw new RangeError(`clint: ${harts.length} harts; 1..${CLINT.MAX_HARTS} supported`);
    }
    this.clockMs = options.clockMs ?? (() => performance.now());
    this.epochMs = options.epochMs ?? this.clockMs();
    const n = harts.length;
    this.msip = new Uint8Array(n);
    this.cmpHalves = new Uint32Array(2 * n);
    this.cmp = new Float64Array(n);
    this.mtip = new Int8Array(n).fill(-1);
    this.update();
  }

  /** Current mtime in ticks (also the harts' `time` CSR). */
  mtime(): number {
    return this.wrap(this.rawTicks() + this.offsetTicks);
  }

  /** Set mtime (what a guest write does). */
  setMtime(ticks: number): void {
    this.offsetTicks = this.wrap(ticks) - this.rawTicks();
    this.update();
  }

  /**
   * What mtime is made of: mtime = floor((clockMs() - epochMs) · 10 MHz) + offsetTicks. A
   * threaded VM's harts on other threads read their `time` CSR with the same formula, so a
   * restored VM (whose offset moved) tells them both numbers.
   */
  timeBase(): { epochMs: number; offsetTicks: number } {
    return { epochMs: this.epochMs, offsetTicks: this.offsetTicks };
  }

  /** Re-evaluate every hart's MTIP against the current mtime; drives only changes. */
  update(): void {
    const now = this.mtime();
    for (let h = 0; h < this.harts.length; h++) this.driveMtip(h, now);
  }

  /**
   * Milliseconds until the earliest mtimecmp still in the future (0 when one is due but
   * not yet seen by `update`), or Infinity when no timer is armed in the future. An
   * mtimecmp of 2^63 or more (software's "disabled", usually all ones) counts as never.
   */
  nextDeadline(): number {
    const now = this.mtime();
    let best = Infinity;
    for (let h = 0; h < this.harts.length; h++) {
      const c = this.cmp[h]!;
      if (c >= NEVER) continue;
      if (c > now) {
        if (c < best) best = c;
      } else if (this.mtip[h] !== 1) {
        return 0;
      }
    }
    return best === Infinity ? Infinity : (best - now) / TICKS_PER_MS;
  }

  read(offset: number, width: 1 | 2 | 4): number {
    const word = this.readWord(offset & ~3);
    if (width === 4 && (offset & 3) === 0) return word | 0;
    const shift = (offset & 3) * 8;
    const mask = width === 1 ? 0xff : width === 2 ? 0xffff : 0xffffffff;
    return width === 4 ? (word >>> shift) | 0 : (word >>> shift) & mask;
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    const aligned = offset & ~3;
    if (width === 4 && aligned === offset) {
      this.writeWord(aligned, value >>> 0);
      return;
    }
    // Narrow (or misaligned) store: read-modify-write the containing word.
    const shift = (offset & 3) * 8;
    const mask = ((width === 1 ? 0xff : width === 2 ? 0xffff : 0xffffffff) << shift) >>> 0;
    const word = this.readWord(aligned);
    this.writeWord(aligned, ((word & ~mask) | ((value << shift) & mask)) >>> 0);
  }

  reset(): void {
    this.msip.fill(0);
    this.cmpHalves.fill(0);
    this.cmp.fill(0);
    this.offsetTicks = -this.rawTicks();
    for (let h = 0; h < this.harts.length; h++) this.harts[h]!.setInterruptPending(CLINT.MIP_MSIP_BIT, false);
    this.mtip.fill(-1);
    this.update();
  }

  save(): DeviceState {
    return {
      mtime: this.mtime(),
      msip: Array.from(this.msip),
      mtimecmp: Array.from(this.cmpHalves),
    };
  }

  load(s: DeviceState): void {
    const n = this.harts.length;
    const msip = Array.isArray(s["msip"]) ? (s["msip"] as unknown[]) : [];
    const cmp = Array.isArray(s["mtimecmp"]) ? (s["mtimecmp"] as unknown[]) : [];
    for (let h = 0; h < n; h++) {
      this.msip[h] = Number(msip[h] ?? 0) & 1;
      this.harts[h]!.setInterruptPending(CLINT.MIP_MSIP_BIT, this.msip[h] === 1);
      this.cmpHalves[2 * h] = Number(cmp[2 * h] ?? 0) >>> 0;
      this.cmpHalves[2 * h + 1] = Number(cmp[2 * h + 1] ?? 0) >>> 0;
      this.cmp[h] = this.cmpHalves[2 * h + 1]! * TWO32 + this.cmpHalves[2 * h]!;
    }
    const t = Number(s["mtime"]);
    this.mtip.fill(-1);
    this.setMtime(Number.isFinite(t) && t >= 0 ? t : 0);
  }

  private rawTicks(): number {
    return Math.floor((this.clockMs() - this.epochMs) * TICKS_PER_MS);
  }

  private wrap(ticks: number): number {
    if (ticks >= 0 && ticks < TWO64) return ticks;
    const m = ticks % TWO64;
    return m < 0 ? m + TWO64 : m;
  }

  private driveMtip(h: number, now: number): void {
    const level = now >= this.cmp[h]! ? 1 : 0;
    if (this.mtip[h] !== level) {
      this.mtip[h] = level;
      this.harts[h]!.setInterruptPending(CLINT.MIP_MTIP_BIT, level === 1);
    }
  }

  private readWord(off: number): number {
    const n = this.harts.length;
    if (off < CLINT.MSIP_BASE + 4 * n) return this.msip[off >> 2]!;
    if (off >= CLINT.MTIMECMP_BASE && off < CLINT.MTIMECMP_BASE + 8 * n) {
      return this.cmpHalves[(off - CLINT.MTIMECMP_BASE) >> 2]!;
    }
    if (off === CLINT.MTIME || off === CLINT.MTIME + 4) {
      const t = this.mtime();
      const hi = Math.floor(t / TWO32);
      return off === CLINT.MTIME ? (t - hi * TWO32) >>> 0 : hi >>> 0;
    }
    return 0;
  }

  private writeWord(off: number, value: number): void {
    const n = this.harts.length;
    if (off < CLINT.MSIP_BASE + 4 * n) {
      const h = off >> 2;
      this.msip[h] = value & 1;
      this.harts[h]!.setInterruptPending(CLINT.MIP_MSIP_BIT, (value & 1) === 1);
      return;
    }
    if (off >= CLINT.MTIMECMP_BASE && off < CLINT.MTIMECMP_BASE + 8 * n) {
      const i = (off - CLINT.MTIMECMP_BASE) >> 2;
      const h = i >> 1;
      this.cmpHalves[i] = value;
      this.cmp[h] = this.cmpHalves[2 * h + 1]! * TWO32 + this.cmpHalves[2 * h]!;
      this.driveMtip(h, this.mtime());
      return;
    }
    if (off === CLINT.MTIME || off === CLINT.MTIME + 4) {
      const t = this.mtime();
      const hi = Math.floor(t / TWO32);
      const lo = t - hi * TWO32;
      this.setMtime(off === CLINT.MTIME ? hi * TWO32 + value : value * TWO32 + lo);
    }
    // Other offsets are reserved: writes are ignored.
  }
}
