/**
 * PLIC, the SiFive platform-level interrupt controller, in the layout QEMU `virt` uses
 * (and Linux's `irq-sifive-plic.c` drives):
 *
 *     0x00_0000 + 4·src          priority of source src (1..95; source 0 is hardwired 0)
 *     0x00_1000 + 4·word         pending bits, 32 sources per word (read-only)
 *     0x00_2000 + 0x80·ctx + 4·w enable bits of context ctx
 *     0x20_0000 + 0x1000·ctx     priority threshold of context ctx
 *     0x20_0004 + 0x1000·ctx     claim (read) / complete (write) of context ctx
 *
 * Contexts: 2h is hart h's M-mode (drives mip.MEIP, bit 11), 2h+1 its S-mode (drives
 * mip.SEIP, bit 9), as on QEMU virt.
 *
 * Sources are level-triggered (every device on the pv board holds its line while it has
 * something to say). The gateway per source: while the line is high and the source is
 * not claimed (in flight), it is pending; a claim clears pending and marks the source
 * claimed, so it cannot re-pend until the matching complete; a complete re-evaluates,
 * and a line still high pends again at once. A line dropping before the claim clears
 * pending, as QEMU does, so the guest sees no interrupt for a condition already gone.
 *
 * Priorities and thresholds are 3 bits (0..7), QEMU virt's choice: writes keep the low
 * bits (WARL). A context is interrupted when some source is pending, enabled for it and
 * of priority strictly above its threshold; priority 0 means "never".
 *
 * The guest is hostile: writes to reserved offsets, to source 0 or beyond the last
 * source, and completes of sources not claimed or not enabled are ignored.
 */
import type { DeviceState, IrqLine, MmioDevice } from "../device.js";

export const PLIC = {
  PRIORITY_BASE: 0x00_0000,
  PENDING_BASE: 0x00_1000,
  ENABLE_BASE: 0x00_2000,
  ENABLE_STRIDE: 0x80,
  CONTEXT_BASE: 0x20_0000,
  CONTEXT_STRIDE: 0x1000,
  /** Offsets inside a context's 4 KiB block. */
  CTX_THRESHOLD: 0x0,
  CTX_CLAIM: 0x4,
  SIZE: 0x60_0000,
  /** Sources including the reserved source 0 (QEMU virt: `riscv,ndev = <95>`). */
  NUM_SOURCES: 96,
  /** Priority and threshold registers keep this many low bits (QEMU virt: 3). */
  PRIORITY_MASK: 0x7,
  /** mip bits the PLIC drives: MEIP for M-mode contexts, SEIP for S-mode contexts. */
  MIP_MEIP_BIT: 11,
  MIP_SEIP_BIT: 9,
  /** Contexts that fit the window: (SIZE - CONTEXT_BASE) / CONTEXT_STRIDE. */
  MAX_CONTEXTS: 1024,
} as const;

const WORDS = PLIC.NUM_SOURCES >>> 5; // 3 words of 32 source bits

/** What the PLIC drives on each hart: the hardware-owned bits of mip. The hart implements it. */
export interface InterruptTarget {
  setInterruptPending(bit: number, level: boolean): void;
}

export class PlicDevice implements MmioDevice {
  readonly size = PLIC.SIZE;
  readonly numContexts: number;
  private readonly priority = new Uint8Array(PLIC.NUM_SOURCES);
  /** Line level as last driven by each source's device. */
  private readonly level = new Uint8Array(PLIC.NUM_SOURCES);
  /** Pending and claimed bitmaps, 32 sources per word. */
  private readonly pending = new Uint32Array(WORDS);
  private readonly claimed = new Uint32Array(WORDS);
  /** Enable bitmaps: WORDS words per context. */
  private readonly enable: Uint32Array;
  private readonly threshold: Uint8Array;
  /** Output level last driven per context (0/1), or -1 before the first update. */
  private readonly out: Int8Array;
  private readonly lines: IrqLine[] = [];

  constructor(private readonly harts: readonly InterruptTarget[]) {
    const n = 2 * harts.length;
    if (n < 2 || n > PLIC.MAX_CONTEXTS) {
      throw new RangeError(`plic: ${harts.length} harts; 1..${PLIC.MAX_CONTEXTS / 2} supported`);
    }
    this.numContexts = n;
    this.enable = new Uint32Array(WORDS * n);
    this.threshold = new Uint8Array(n);
    this.out = new Int8Array(n).fill(-1);
    for (let src = 0; src < PLIC.NUM_SOURCES; src++) {
      this.lines.push({ set: (lvl: boolean) => this.setLevel(src, lvl) });
    }
    this.update();
  }

  /** The wire a device drives for source `src` (1..95). */
  irqLine(src: number): IrqLine {
    if (!Number.isInteger(src) || src < 1 || src >= PLIC.NUM_SOURCES) {
      throw new RangeError(`plic: no source ${src}; 1..${PLIC.NUM_SOURCES - 1}`);
    }
    return this.lines[src]!;
  }

  read(offset: number, width: 1 | 2 | 4): number {
    const word = this.readWord(offset & ~3);
    if (width === 4) return word | 0;
    const shift = (offset & 3) * 8;
    return (word >>> shift) & (width === 1 ? 0xff : 0xffff);
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    const aligned = offset & ~3;
    if (width === 4) {
      this.writeWord(aligned, value >>> 0);
      return;
    }
    // Narrow store: merge into the containing word. Claim/complete is not read here
    // (a read would claim), so a narrow complete carries only the bytes written.
    const shift = (offset & 3) * 8;
    const mask = ((width === 1 ? 0xff : 0xffff) << shift) >>> 0;
    const isClaim = aligned >= PLIC.CONTEXT_BASE && (aligned & (PLIC.CONTEXT_STRIDE - 1)) === PLIC.CTX_CLAIM;
    const old = isClaim ? 0 : this.readWord(aligned);
    this.writeWord(aligned, ((old & ~mask) | ((value << shift) & mask)) >>> 0);
  }

  reset(): void {
    this.priority.fill(0);
    this.pending.fill(0);
    this.claimed.fill(0);
    this.enable.fill(0);
    this.threshold.fill(0);
    // Line levels belong to the devices, not to the PLIC: keep them and re-pend.
    for (let src = 1; src < PLIC.NUM_SOURCES; src++) if (this.level[src]) this.setBit(this.pending, src, true);
    this.update();
  }

  save(): DeviceState {
    return {
      priority: Array.from(this.priority),
      pending: Array.from(this.pending),
      claimed: Array.from(this.claimed),
      enable: Array.from(this.enable),
      threshold: Array.from(this.threshold),
      level: Array.from(this.level),
    };
  }

  load(s: DeviceState): void {
    const fill = (dst: Uint8Array | Uint32Array, v: unknown, mask: number) => {
      const a = Array.isArray(v) ? (v as unknown[]) : [];
      for (let i = 0; i < dst.length; i++) dst[i] = (Number(a[i] ?? 0) & mask) >>> 0;
    };
    fill(this.priority, s["priority"], PLIC.PRIORITY_MASK);
    fill(this.pending, s["pending"], 0xffffffff);
    fill(this.claimed, s["claimed"], 0xffffffff);
    fill(this.enable, s["enable"], 0xffffffff);
    fill(this.threshold, s["threshold"], PLIC.PRIORITY_MASK);
    fill(this.level, s["level"], 1);
    this.priority[0] = 0;
    this.pending[0]! &= ~1;
    this.claimed[0]! &= ~1;
    for (let c = 0; c < this.numContexts; c++) this.enable[c * WORDS]! &= ~1;
    this.out.fill(-1);
    this.update();
  }

  /** Claim for context `ctx`: the best pending source (0 when none), now in flight. */
  claim(ctx: number): number {
    const src = this.best(ctx);
    if (src !== 0) {
      this.setBit(this.pending, src, false);
      this.setBit(this.claimed, src, true);
      this.update();
    }
    return src;
  }

  /** Complete for context `ctx`: ends `src`'s service; a line still high pends again. */
  complete(ctx: number, src: number): void {
    if (src < 1 || src >= PLIC.NUM_SOURCES) return;
    // Spec: a completion for a source not enabled for the target is silently ignored
    // (Linux's plic_irq_eoi enables a masked source around its complete for this reason).
    if (!this.getBit(this.enable, ctx * WORDS, src)) return;
    if (!this.getBit(this.claimed, 0, src)) return;
    this.setBit(this.claimed, src, false);
    if (this.level[src]) this.setBit(this.pending, src, true);
    this.update();
  }

  private setLevel(src: number, lvl: boolean): void {
    const v = lvl ? 1 : 0;
    if (this.level[src] === v) return;
    this.level[src] = v;
    if (lvl) {
      if (!this.getBit(this.claimed, 0, src)) this.setBit(this.pending, src, true);
    } else {
      this.setBit(this.pending, src, false);
    }
    this.update();
  }

  /** Highest-priority pending source enabled for ctx above its threshold; ties → lowest id. */
  private best(ctx: number): number {
    const th = this.threshold[ctx]!;
    let bestSrc = 0;
    let bestPrio = th;
    const e = ctx * WORDS;
    for (let w = 0; w < WORDS; w++) {
      let bits = this.pending[w]! & this.enable[e + w]!;
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const src = (w << 5) | b;
        const p = this.priority[src]!;
        if (p > bestPrio) {
          bestPrio = p;
          bestSrc = src;
        }
      }
    }
    return bestSrc;
  }

  /** Drive each context's output (MEIP/SEIP of its hart); only changes are driven. */
  private update(): void {
    for (let ctx = 0; ctx < this.numContexts; ctx++) {
      const lvl = this.best(ctx) !== 0 ? 1 : 0;
      if (this.out[ctx] !== lvl) {
        this.out[ctx] = lvl;
        const bit = (ctx & 1) === 0 ? PLIC.MIP_MEIP_BIT : PLIC.MIP_SEIP_BIT;
        this.harts[ctx >> 1]!.setInterruptPending(bit, lvl === 1);
      }
    }
  }

  private getBit(words: Uint32Array, base: number, src: number): boolean {
    return ((words[base + (src >>> 5)]! >>> (src & 31)) & 1) === 1;
  }

  private setBit(words: Uint32Array, src: number, on: boolean): void {
    const w = src >>> 5;
    const m = 1 << (src & 31);
    words[w] = on ? words[w]! | m : words[w]! & ~m;
  }

  /** The context whose block holds `off`, or -1. */
  private contextOf(off: number): number {
    if (off < PLIC.CONTEXT_BASE) return -1;
    const ctx = Math.floor((off - PLIC.CONTEXT_BASE) / PLIC.CONTEXT_STRIDE);
    return ctx < this.numContexts ? ctx : -1;
  }

  private enableIndex(off: number): number {
    if (off < PLIC.ENABLE_BASE || off >= PLIC.CONTEXT_BASE) return -1;
    const rel = off - PLIC.ENABLE_BASE;
    const ctx = Math.floor(rel / PLIC.ENABLE_STRIDE);
    const w = (rel % PLIC.ENABLE_STRIDE) >> 2;
    return ctx < this.numContexts && w < WORDS ? ctx * WORDS + w : -1;
  }

  private readWord(off: number): number {
    if (off < PLIC.PENDING_BASE) {
      const src = off >> 2;
      return src < PLIC.NUM_SOURCES ? this.priority[src]! : 0;
    }
    if (off < PLIC.ENABLE_BASE) {
      const w = (off - PLIC.PENDING_BASE) >> 2;
      return w < WORDS ? this.pending[w]! : 0;
    }
    const ei = this.enableIndex(off);
    if (ei >= 0) return this.enable[ei]!;
    const ctx = this.contextOf(off);
    if (ctx < 0) return 0;
    const reg = (off - PLIC.CONTEXT_BASE) & (PLIC.CONTEXT_STRIDE - 1);
    if (reg === PLIC.CTX_THRESHOLD) return this.threshold[ctx]!;
    if (reg === PLIC.CTX_CLAIM) return this.claim(ctx);
    return 0;
  }

  private writeWord(off: number, value: number): void {
    if (off < PLIC.PENDING_BASE) {
      const src = off >> 2;
      if (src >= 1 && src < PLIC.NUM_SOURCES) {
        this.priority[src] = value & PLIC.PRIORITY_MASK;
        this.update();
      }
      return;
    }
    if (off < PLIC.ENABLE_BASE) return; // pending bits are read-only
    const ei = this.enableIndex(off);
    if (ei >= 0) {
      // Source 0 does not exist: its enable bit is hardwired to 0.
      this.enable[ei] = ei % WORDS === 0 ? value & ~1 : value;
      this.update();
      return;
    }
    const ctx = this.contextOf(off);
    if (ctx < 0) return;
    const reg = (off - PLIC.CONTEXT_BASE) & (PLIC.CONTEXT_STRIDE - 1);
    if (reg === PLIC.CTX_THRESHOLD) {
      this.threshold[ctx] = value & PLIC.PRIORITY_MASK;
      this.update();
    } else if (reg === PLIC.CTX_CLAIM) {
      this.complete(ctx, value);
    }
  }
}
