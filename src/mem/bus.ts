/**
 * The system bus: guest RAM plus non-overlapping MMIO windows.
 *
 * The hart's fast path goes straight to RAM through its TLB; everything else (MMIO,
 * misaligned and page-crossing accesses, the first touch of a page) comes here.
 * A device window may sit on top of RAM (HTIF's tohost/fromhost words live inside the
 * program image); devices win, and `isPlainRamPage` tells the hart not to cache such
 * pages in its TLB.
 */
import type { MmioDevice } from "../devices/device.js";
import { GuestRam, PAGE_SIZE } from "./ram.js";

export interface BusRegion {
  readonly base: number;
  readonly size: number;
  readonly name: string;
  readonly device: MmioDevice;
  /** Exit counters: how many reads/writes the guest made to this window. */
  reads: number;
  writes: number;
}

export class Bus {
  readonly regions: BusRegion[] = [];
  /** Set by `read`/`write` when nothing answers at the address (the hart raises an access fault). */
  fault = false;
  /** Last region hit, checked first: device accesses come in runs. */
  private last: BusRegion | null = null;

  constructor(readonly ram: GuestRam) {}

  /** Map `device` at guest-physical `base`. Overlapping another device is a programming error. */
  map(base: number, device: MmioDevice, name: string): BusRegion {
    const size = device.size;
    for (const r of this.regions) {
      if (base < r.base + r.size && r.base < base + size) {
        throw new Error(`bus: ${name} at 0x${base.toString(16)} overlaps ${r.name} at 0x${r.base.toString(16)}`);
      }
    }
    const region: BusRegion = { base, size, name, device, reads: 0, writes: 0 };
    this.regions.push(region);
    this.regions.sort((a, b) => a.base - b.base);
    return region;
  }

  findRegion(pa: number): BusRegion | null {
    const last = this.last;
    if (last !== null && pa >= last.base && pa < last.base + last.size) return last;
    const rs = this.regions;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i]!;
      if (pa >= r.base && pa < r.base + r.size) {
        this.last = r;
        return r;
      }
    }
    return null;
  }

  /** True when the whole page at `pagePa` is RAM with no device window on it. */
  isPlainRamPage(pagePa: number): boolean {
    const ram = this.ram;
    if (pagePa < ram.base || pagePa + PAGE_SIZE > ram.base + ram.size) return false;
    for (const r of this.regions) {
      if (r.base < pagePa + PAGE_SIZE && pagePa < r.base + r.size) return false;
    }
    return true;
  }

  /** Read 1, 2 or 4 bytes (zero-extended for 1 and 2, signed 32-bit for 4). Sets `fault` when unmapped. */
  read(pa: number, width: 1 | 2 | 4): number {
    const r = this.findRegion(pa);
    if (r !== null && pa + width <= r.base + r.size) {
      r.reads++;
      return r.device.read(pa - r.base, width);
    }
    const ram = this.ram;
    if (r === null && pa >= ram.base && pa + width <= ram.base + ram.size) {
      const off = pa - ram.base;
      if (width === 1) return ram.u8[off]!;
      if (width === 2) return ram.u8[off]! | (ram.u8[off + 1]! << 8);
      return ram.u8[off]! | (ram.u8[off + 1]! << 8) | (ram.u8[off + 2]! << 16) | (ram.u8[off + 3]! << 24);
    }
    this.fault = true;
    return 0;
  }

  write(pa: number, width: 1 | 2 | 4, value: number): void {
    const r = this.findRegion(pa);
    if (r !== null && pa + width <= r.base + r.size) {
      r.writes++;
      r.device.write(pa - r.base, width, value);
      return;
    }
    const ram = this.ram;
    if (r === null && pa >= ram.base && pa + width <= ram.base + ram.size) {
      const off = pa - ram.base;
      ram.u8[off] = value;
      if (width >= 2) ram.u8[off + 1] = value >>> 8;
      if (width === 4) {
        ram.u8[off + 2] = value >>> 16;
        ram.u8[off + 3] = value >>> 24;
      }
      // Not through a store TLB entry: log the page here (mem/dirty-log.ts).
      ram.markDirty(off, width);
      return;
    }
    this.fault = true;
  }
}
