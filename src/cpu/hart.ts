/**
 * One RV64GC hart: architectural state plus the interpreter loop.
 *
 * Speed comes from three things (see DESIGN.md, "The hart"):
 *  - 64-bit registers are int32 lo/hi halves in one Int32Array: no BigInt, no boxing;
 *  - instructions are decoded once into a per-page cache (decode.ts) and dispatched by
 *    one dense `switch`;
 *  - loads, stores and fetches go through software TLBs (exact page tags, RAM offset as
 *    payload); anything unusual (a miss, MMIO, misalignment, a code page) takes the slow
 *    path in mmu.ts, which also raises the architectural trap.
 * Traps never throw: the slow paths redirect pc and return false, and the loop reloads pc.
 */
import type { Bus } from "../mem/bus.js";
import {
  ltu64,
  sll64,
  srl64,
  sra64,
  mul64,
  mulh64,
  mulhsu64,
  mulhu64,
  div64,
  divu64,
  rem64,
  remu64,
  mulw,
  divw,
  divuw,
  remw,
  remuw,
} from "./alu64.js";
import { Cause, Csr64, FsState, MSTATUS, Priv } from "./constants.js";
import { Op } from "./decode.js";
import { fpuExecute } from "./fpu.js";
import { TLB_MASK, TLB_SIZE, amo, decodeMiss, loadSlow, lrsc, refillFetch, storeSlow } from "./mmu.js";
import { TlbSets } from "./tlb.js";
import { execSystem } from "./system.js";
import { JIT_DONE, jitFor, runBlocks, type JitPage } from "./jit.js";
import { CodeCache, PAGE_SLOTS, type CodePage } from "./code-cache.js";
import { PmpRegions } from "./pmp.js";
import { checkInterrupts, pendingAndEnabled, takeTrap } from "./trap.js";

export const RunStatus = {
  /** The instruction budget ran out. */
  Budget: 0,
  /** The hart executed WFI with no interrupt pending: the caller may sleep until the next event. */
  Wfi: 1,
  /** A device asked the hart to stop (`requestStop`), e.g. HTIF exit. */
  Stopped: 2,
} as const;

/**
 * The hypervisor side of a para-virtualized hart: when set, an `ecall` from S-mode is a
 * hypercall (SBI) served by the host instead of a trap into guest M-mode. The handler
 * reads a0–a7 from `h.x`, writes a0/a1, and returns a RunStatus (Budget to go on; Stopped
 * after e.g. a shutdown request; Wfi to idle the hart, e.g. HSM stop/suspend). The hart
 * advances pc past the ecall before calling it.
 */
export interface HypercallHandler {
  ecall(h: Hart): number;
}

/** Where the hart reads `mtime` for the `time` CSR (10 MHz ticks); null: no `time` CSR (QEMU's spike board). */
export interface TimeSource {
  mtime(): number;
}

export { Csr64 };

export class Hart {
  // ---- architectural state ----
  /** Integer registers as lo/hi int32 halves: x[2r] low, x[2r+1] high. Slot 32 is a sink for writes to x0. */
  readonly x = new Int32Array(66);
  readonly f = new Float64Array(32);
  /** The same bytes as `f`: fi[2r] low 32 bits, fi[2r+1] high 32 bits. */
  readonly fi = new Int32Array(this.f.buffer);
  fflags = 0;
  frm = 0;
  pcLo = 0;
  pcHi = 0;
  /** Current privilege (0 U, 1 S, 3 M) behind `priv`, which also selects the TLB set. */
  private privNow: number = Priv.M;
  /** Low 32 bits of mstatus (the high half is fixed UXL/SXL plus the derived SD bit). */
  mstatus = 0;
  mie = 0;
  /** Interrupt-pending bits: hardware-driven (MSIP, MTIP, MEIP) and software-writable (SSIP, STIP, SEIP). */
  mip = 0;
  /** SEIP as driven by an external interrupt controller, OR-ed with the software-written bit on reads. */
  seipWire = false;
  mideleg = 0;
  medeleg = 0;
  mcounteren = 0;
  scounteren = 0;
  mcountinhibit = 0;
  menvcfgLo = 0;
  menvcfgHi = 0;
  senvcfg = 0;
  /** 64-bit CSRs as lo/hi pairs, indexed by Csr64 below. */
  readonly csr64 = new Int32Array(2 * 11);
  /** PMP: 16 config bytes and 16 address registers (lo/hi of pmpaddr, i.e. address >> 2). */
  readonly pmpcfg = new Uint8Array(16);
  readonly pmpaddr = new Int32Array(32);
  /** True when some PMP entry is locked, so PMP applies to M-mode too. */
  pmpLocked = false;
  readonly pmp = new PmpRegions();
  /** LR/SC reservation: RAM byte offset of the reserved address, or -1 for none. */
  resv = -1;
  /** Virtual address the reservation was made with: an SC elsewhere fails before translation. */
  resvVaLo = 0;
  resvVaHi = 0;
  /**
   * The value LR loaded (as written to rd: LR.W sign-extended). SC succeeds only if it can
   * compare-and-swap this value for the new one (docs/memory-model.md, "LR/SC").
   */
  resvLo = 0;
  resvHi = 0;
  /**
   * Set by the machine while other threads run harts over the same RAM: `fence` then
   * executes a sequentially consistent Atomics operation on `fenceWord` (a host barrier).
   * False: fence costs nothing (one thread cannot observe reordering of its own accesses).
   */
  smp = false;
  /**
   * The word a fence's host barrier goes to (index 0). Default: a word of this hart's own,
   * on its own cache line (no contention); a machine may point every hart of a VM at one
   * shared word (see docs/memory-model.md, "fence").
   */
  fenceWord: Int32Array = new Int32Array(new SharedArrayBuffer(128), 64, 1);
  /** Guest RAM as 64-bit words, for the 64-bit atomics (mmu.ts). */
  readonly ram64: BigInt64Array;
  /** Counters: instructions retired (total and per privilege), and offsets from guest writes. */
  instret = 0;
  /** Traps taken into M-mode from S or U, by cause: [0, 32) exceptions, [32, 64) interrupts. */
  readonly mTraps = new Float64Array(64);
  readonly instretByPriv = new Float64Array(4);
  cycleOffset = 0;
  instretOffset = 0;
  /** True while the hart sits in WFI. */
  wfi = false;
  /** Set by a pv machine: S-mode ecalls become hypercalls (no guest firmware). */
  hypercalls: HypercallHandler | null = null;
  /** Exits counted by reason: hypercalls taken (the handler counts per extension/function). */
  hypercallCount = 0;

  // ---- host bookkeeping ----
  /** Instructions attempted in the current run() slice, published before calls into slow paths. */
  liveCount = 0;
  /** Instructions that trapped (did not retire) in the current run() slice. */
  faults = 0;
  /** Instruction count at which instretByPriv was last brought up to date. */
  privMark = 0;
  stopRequested = false;
  /** Set when something outside the instruction stream changed (interrupt wire, stop request). */
  event = false;
  /** Results of slow-path loads. */
  memLo = 0;
  memHi = 0;

  // Software TLBs: tag = virtual page (lo >>> 12 and the full high half), payload = RAM byte offset of the page.
  readonly tlbFetchLo = new Int32Array(TLB_SIZE).fill(-1);
  readonly tlbFetchHi = new Int32Array(TLB_SIZE);
  readonly tlbFetchOff = new Int32Array(TLB_SIZE);
  readonly tlbLoadLo = new Int32Array(TLB_SIZE).fill(-1);
  readonly tlbLoadHi = new Int32Array(TLB_SIZE);
  readonly tlbLoadOff = new Int32Array(TLB_SIZE);
  readonly tlbStoreLo = new Int32Array(TLB_SIZE).fill(-1);
  readonly tlbStoreHi = new Int32Array(TLB_SIZE);
  readonly tlbStoreOff = new Int32Array(TLB_SIZE);
  /**
   * The TLB's sets (tlb.ts): the arrays above hold the entries of the current privilege's
   * set (and, in U-mode, the current satp's); traps and xRETs swap sets instead of flushing.
   */
  readonly tlb: TlbSets = new TlbSets(this);

  /**
   * Decoded-instruction cache (code-cache.ts): per RAM page that holds code, its decoded
   * slots (2048 × 3 words), the RAM words they were decoded from and the fence.i epoch at
   * which those were last known to be current, within a host-memory budget. fence.i only
   * bumps the epoch; a page is re-checked against RAM when next entered and dropped only
   * if its bytes changed (by DMA or another hart — this hart's own stores already drop
   * the page). Linux issues hundreds of remote fence.i during boot; re-decoding and
   * re-compiling everything each time was most of the boot time.
   */
  readonly code: CodeCache;
  fenceEpoch = 1;
  /** Where an instruction that cannot be cached (crosses a page, PMP-split page) is decoded. */
  readonly scratchPage = new Int32Array(PAGE_SLOTS);
  /** The fetch page the loop is executing from, and its cache entry (null: the scratch page). */
  fetchVpnLo = -1;
  fetchVpnHi = 0;
  fetchPage: Int32Array;
  fetchCode: CodePage | null = null;
  fetchRamOff = 0;

  constructor(
    readonly bus: Bus,
    readonly hartId: number,
    readonly time: TimeSource | null,
  ) {
    this.code = new CodeCache(bus.ram.size >>> 12);
    this.ram64 = new BigInt64Array(bus.ram.sab);
    this.fetchPage = this.scratchPage;
    this.reset();
  }

  /** Architectural reset: M-mode, interrupts off, FPU off, no translation. */
  reset(): void {
    this.x.fill(0);
    this.f.fill(0);
    this.fflags = 0;
    this.frm = 0;
    this.priv = Priv.M;
    this.mstatus = 0;
    this.mie = 0;
    this.mip = 0;
    this.mideleg = 0;
    this.medeleg = 0;
    this.csr64.fill(0);
    this.pmpcfg.fill(0);
    this.pmpaddr.fill(0);
    this.pmpLocked = false;
    this.resv = -1;
    this.wfi = false;
    this.flushTlb();
    this.dropDecoded();
  }

  get priv(): number {
    return this.privNow;
  }

  /** Every privilege change (trap, xRET, the host starting a hart) swaps the TLB set. */
  set priv(p: number) {
    if (p === this.privNow) return;
    this.privNow = p;
    this.tlb.select(p);
  }

  setPc(addr: number): void {
    this.pcLo = addr | 0;
    this.pcHi = Math.floor(addr / 4294967296) | 0;
  }

  getPc(): number {
    return this.pcHi * 4294967296 + (this.pcLo >>> 0);
  }

  /** Drive an interrupt-pending bit that hardware owns (MSIP=3, MTIP=7, MEIP=11, SEIP=9). */
  setInterruptPending(bit: number, level: boolean): void {
    if (bit === 9) {
      this.seipWire = level;
    } else if (level) {
      this.mip |= 1 << bit;
    } else {
      this.mip &= ~(1 << bit);
    }
    this.event = true;
  }

  /** mip as the guest sees it: the software bits plus the external SEIP wire. */
  effectiveMip(): number {
    return this.seipWire ? this.mip | (1 << 9) : this.mip;
  }

  /** Ask `run` to return at the next instruction boundary after the current device access. */
  requestStop(): void {
    this.stopRequested = true;
    this.event = true;
  }

  /** The raw instruction at pc (for --trace), or -1 when it cannot be fetched without side effects. */
  peekInsn(): number {
    const ram = this.bus.ram;
    const pc = this.getPc();
    if (this.priv === Priv.M || (this.csr64[Csr64.SATP + 1]! >>> 28) === 0) {
      if (!ram.contains(pc, 2)) return -1;
      const lo = ram.u8[pc - ram.base]! | (ram.u8[pc - ram.base + 1]! << 8);
      if ((lo & 3) !== 3) return lo;
      if (!ram.contains(pc, 4)) return -1;
      return (lo | (ram.u8[pc - ram.base + 2]! << 16) | (ram.u8[pc - ram.base + 3]! << 24)) >>> 0;
    }
    return -1;
  }

  /** Drop every cached translation of every set (reset, PMP, a fence of unknown scope). */
  flushTlb(reason = "host"): void {
    this.tlb.flushAll(reason);
  }

  /**
   * fence.i (or a write the hart did not see, e.g. DMA): every decoded page must be
   * re-checked against RAM before it is used again (see `code`).
   */
  flushDecoded(): void {
    this.fenceEpoch = (this.fenceEpoch + 1) >>> 0;
    this.fetchVpnLo = -1;
  }

  /** Drop every decoded page and compiled block outright (reset). */
  dropDecoded(): void {
    this.code.clear();
    this.fetchVpnLo = -1;
    this.fetchCode = null;
    this.fetchPage = this.scratchPage;
  }

  /** FS must not be Off for any FP instruction; FP state writes make it Dirty. */
  fpEnabled(): boolean {
    return (this.mstatus & MSTATUS.FS) !== 0;
  }

  markFpDirty(): void {
    this.mstatus |= FsState.Dirty << MSTATUS.FS_SHIFT;
  }

  /** Bring per-privilege instruction counts up to date (call before any privilege change). */
  accountPriv(): void {
    const total = this.instret + this.liveCount - this.faults;
    this.instretByPriv[this.priv] += total - this.privMark;
    this.privMark = total;
  }

  /** Instructions retired so far, including the current slice. */
  retired(): number {
    return this.instret + this.liveCount - this.faults;
  }

  /**
   * Run up to `budget` instructions; returns a RunStatus. The loop body is the one big
   * switch of the project; everything rare is a call out to mmu.ts, system.ts, trap.ts.
   */
  run(budget: number): number {
    if (this.wfi) {
      // WFI resumes when any interrupt is pending and locally enabled, even if globally masked.
      if ((this.mie & this.effectiveMip()) === 0) return RunStatus.Wfi;
      this.wfi = false;
    }
    this.stopRequested = false;
    this.event = false;
    this.liveCount = 0;
    this.faults = 0;
    this.privMark = this.instret;
    if (pendingAndEnabled(this) !== 0) checkInterrupts(this);

    const x = this.x;
    const ram = this.bus.ram;
    const i32 = ram.i32;
    const u8 = ram.u8;
    const i8 = ram.i8;
    const u16 = ram.u16;
    const i16 = ram.i16;
    const ltLo = this.tlbLoadLo;
    const ltHi = this.tlbLoadHi;
    const ltOff = this.tlbLoadOff;
    const stLo = this.tlbStoreLo;
    const stHi = this.tlbStoreHi;
    const stOff = this.tlbStoreOff;
    let pcLo = this.pcLo | 0;
    let pcHi = this.pcHi | 0;
    let fLo = -1;
    let fHi = 0;
    let dp: Int32Array = this.scratchPage;
    let n = 0;
    let slow = false;
    let status: number = RunStatus.Budget;
    // Block compiler (jit.ts): blocks of the current fetch page, and the heat threshold.
    const jit = jitFor(this);
    const jitHot = jit === null ? 0 : jit.hotNow();
    let jp: JitPage | null = null;
    let jheat: Uint16Array | null = null;
    // The block lookup runs only where the interpreter did not just step here in sequence
    // (seqPc is the pc after the last sequentially interpreted instruction; odd = none).
    let seqPc = 1;
    let jmiss = 0;

    loop: while (n < budget) {
      if (pcLo >>> 12 !== fLo || pcHi !== fHi) {
        this.pcLo = pcLo;
        this.pcHi = pcHi;
        this.liveCount = ++n;
        if (!refillFetch(this)) {
          pcLo = this.pcLo;
          pcHi = this.pcHi;
          fLo = -1;
          continue;
        }
        fLo = this.fetchVpnLo;
        fHi = this.fetchVpnHi;
        dp = this.fetchPage;
        jp = jit === null ? null : jit.page();
        jheat = jp === null ? null : jp.heat;
        n--;
      }
      if (jheat !== null && pcLo !== seqPc) {
        // Heat counts interpreted executions up to jitHot; compiling sets JIT_DONE.
        const slot = (pcLo & 0xfff) >>> 1;
        const heat = jheat[slot]!;
        if (heat === JIT_DONE) {
          // 0: no block ran (the instruction here cannot start one, or too little budget
          // left): interpret it, and look for a block again after it.
          const r = runBlocks(this, jit!, jp!, pcLo, pcHi, budget - n);
          if (r === 0) jmiss = 1;
          else {
            pcLo = this.pcLo;
            pcHi = this.pcHi;
            seqPc = 1;
            if (r > 0) {
              n += r;
              continue;
            }
            // ~r instructions ran, then a load/store left the TLB fast path: the
            // interpreter executes it next (after a fetch refill if the blocks chained
            // to another page), and the instruction after it looks for a block again (jmiss).
            n += ~r;
            jmiss = 1;
            if (pcLo >>> 12 !== fLo || pcHi !== fHi) {
              seqPc = pcLo;
              continue;
            }
          }
        } else if (heat + 1 < jitHot) {
          jheat[slot] = heat + 1;
        } else {
          jit!.compile(jp!, slot);
        }
      }
      n++;
      const s = ((pcLo & 0xfff) >>> 1) * 3;
      let w = dp[s]!;
      if (w === 0) {
        this.pcLo = pcLo;
        this.pcHi = pcHi;
        this.liveCount = n;
        const page = decodeMiss(this, dp, s);
        if (page === null) {
          pcLo = this.pcLo;
          pcHi = this.pcHi;
          fLo = -1;
          continue;
        }
        if (page !== dp) {
          dp = page;
          fLo = -1;
        }
        w = dp[s]!;
      }
      const imm = dp[s + 1]!;
      const rd = (w >>> 8) & 127;
      const r1 = (w >>> 15) & 63;
      const r2 = (w >>> 21) & 63;
      const len = 4 - ((w >>> 26) & 2);

      switch (w & 0xff) {
        // ---------------- integer register-immediate ----------------
        case Op.Li:
          x[rd] = imm;
          x[rd + 1] = imm >> 31;
          break;
        case Op.Mv:
          x[rd + 1] = x[r1 + 1]!;
          x[rd] = x[r1]!;
          break;
        case Op.Addi: {
          const a = x[r1]!;
          const lo = (a + imm) | 0;
          x[rd + 1] = (x[r1 + 1]! + (imm >> 31) + (lo >>> 0 < a >>> 0 ? 1 : 0)) | 0;
          x[rd] = lo;
          break;
        }
        case Op.Addiw: {
          const lo = (x[r1]! + imm) | 0;
          x[rd] = lo;
          x[rd + 1] = lo >> 31;
          break;
        }
        case Op.Slti: {
          const h = x[r1 + 1]!;
          const ih = imm >> 31;
          x[rd] = h < ih || (h === ih && x[r1]! >>> 0 < imm >>> 0) ? 1 : 0;
          x[rd + 1] = 0;
          break;
        }
        case Op.Sltiu: {
          const h = x[r1 + 1]! >>> 0;
          const ih = (imm >> 31) >>> 0;
          x[rd] = h < ih || (h === ih && x[r1]! >>> 0 < imm >>> 0) ? 1 : 0;
          x[rd + 1] = 0;
          break;
        }
        case Op.Xori:
          x[rd + 1] = x[r1 + 1]! ^ (imm >> 31);
          x[rd] = x[r1]! ^ imm;
          break;
        case Op.Ori:
          x[rd + 1] = x[r1 + 1]! | (imm >> 31);
          x[rd] = x[r1]! | imm;
          break;
        case Op.Andi:
          x[rd + 1] = x[r1 + 1]! & (imm >> 31);
          x[rd] = x[r1]! & imm;
          break;
        case Op.Slli:
          sll64(x, rd, x[r1]!, x[r1 + 1]!, imm);
          break;
        case Op.Srli:
          srl64(x, rd, x[r1]!, x[r1 + 1]!, imm);
          break;
        case Op.Srai:
          sra64(x, rd, x[r1]!, x[r1 + 1]!, imm);
          break;
        case Op.Slliw: {
          const v = x[r1]! << imm;
          x[rd] = v;
          x[rd + 1] = v >> 31;
          break;
        }
        case Op.Srliw: {
          const v = (x[r1]! >>> imm) | 0;
          x[rd] = v;
          x[rd + 1] = v >> 31;
          break;
        }
        case Op.Sraiw: {
          const v = x[r1]! >> imm;
          x[rd] = v;
          x[rd + 1] = v >> 31;
          break;
        }
        case Op.Lui:
          x[rd] = imm;
          x[rd + 1] = imm >> 31;
          break;
        case Op.Auipc: {
          const lo = (pcLo + imm) | 0;
          x[rd + 1] = (pcHi + (imm >> 31) + (lo >>> 0 < pcLo >>> 0 ? 1 : 0)) | 0;
          x[rd] = lo;
          break;
        }

        // ---------------- integer register-register ----------------
        case Op.Add: {
          const a = x[r1]!;
          const lo = (a + x[r2]!) | 0;
          x[rd + 1] = (x[r1 + 1]! + x[r2 + 1]! + (lo >>> 0 < a >>> 0 ? 1 : 0)) | 0;
          x[rd] = lo;
          break;
        }
        case Op.Sub: {
          const a = x[r1]!;
          const b = x[r2]!;
          x[rd + 1] = (x[r1 + 1]! - x[r2 + 1]! - (a >>> 0 < b >>> 0 ? 1 : 0)) | 0;
          x[rd] = (a - b) | 0;
          break;
        }
        case Op.Sll:
          sll64(x, rd, x[r1]!, x[r1 + 1]!, x[r2]!);
          break;
        case Op.Srl:
          srl64(x, rd, x[r1]!, x[r1 + 1]!, x[r2]!);
          break;
        case Op.Sra:
          sra64(x, rd, x[r1]!, x[r1 + 1]!, x[r2]!);
          break;
        case Op.Slt: {
          const ah = x[r1 + 1]!;
          const bh = x[r2 + 1]!;
          x[rd] = ah < bh || (ah === bh && x[r1]! >>> 0 < x[r2]! >>> 0) ? 1 : 0;
          x[rd + 1] = 0;
          break;
        }
        case Op.Sltu:
          x[rd] = ltu64(x[r1]!, x[r1 + 1]!, x[r2]!, x[r2 + 1]!) ? 1 : 0;
          x[rd + 1] = 0;
          break;
        case Op.Xor:
          x[rd + 1] = x[r1 + 1]! ^ x[r2 + 1]!;
          x[rd] = x[r1]! ^ x[r2]!;
          break;
        case Op.Or:
          x[rd + 1] = x[r1 + 1]! | x[r2 + 1]!;
          x[rd] = x[r1]! | x[r2]!;
          break;
        case Op.And:
          x[rd + 1] = x[r1 + 1]! & x[r2 + 1]!;
          x[rd] = x[r1]! & x[r2]!;
          break;
        case Op.Addw: {
          const v = (x[r1]! + x[r2]!) | 0;
          x[rd] = v;
          x[rd + 1] = v >> 31;
          break;
        }
        case Op.Subw: {
          const v = (x[r1]! - x[r2]!) | 0;
          x[rd] = v;
          x[rd + 1] = v >> 31;
          break;
        }
        case Op.Sllw: {
          const v = x[r1]! << (x[r2]! & 31);
          x[rd] = v;
          x[rd + 1] = v >> 31;
          break;
        }
        case Op.Srlw: {
          const v = (x[r1]! >>> (x[r2]! & 31)) | 0;
          x[rd] = v;
          x[rd + 1] = v >> 31;
          break;
        }
        case Op.Sraw: {
          const v = x[r1]! >> (x[r2]! & 31);
          x[rd] = v;
          x[rd + 1] = v >> 31;
          break;
        }

        // ---------------- M extension ----------------
        case Op.Mul:
          mul64(x, rd, x[r1]!, x[r1 + 1]!, x[r2]!, x[r2 + 1]!);
          break;
        case Op.Mulh:
          mulh64(x, rd, x[r1]!, x[r1 + 1]!, x[r2]!, x[r2 + 1]!);
          break;
        case Op.Mulhsu:
          mulhsu64(x, rd, x[r1]!, x[r1 + 1]!, x[r2]!, x[r2 + 1]!);
          break;
        case Op.Mulhu:
          mulhu64(x, rd, x[r1]!, x[r1 + 1]!, x[r2]!, x[r2 + 1]!);
          break;
        case Op.Div:
          div64(x, rd, x[r1]!, x[r1 + 1]!, x[r2]!, x[r2 + 1]!);
          break;
        case Op.Divu:
          divu64(x, rd, x[r1]!, x[r1 + 1]!, x[r2]!, x[r2 + 1]!);
          break;
        case Op.Rem:
          rem64(x, rd, x[r1]!, x[r1 + 1]!, x[r2]!, x[r2 + 1]!);
          break;
        case Op.Remu:
          remu64(x, rd, x[r1]!, x[r1 + 1]!, x[r2]!, x[r2 + 1]!);
          break;
        case Op.Mulw:
          mulw(x, rd, x[r1]!, x[r2]!);
          break;
        case Op.Divw:
          divw(x, rd, x[r1]!, x[r2]!);
          break;
        case Op.Divuw:
          divuw(x, rd, x[r1]!, x[r2]!);
          break;
        case Op.Remw:
          remw(x, rd, x[r1]!, x[r2]!);
          break;
        case Op.Remuw:
          remuw(x, rd, x[r1]!, x[r2]!);
          break;

        // ---------------- control transfer ----------------
        case Op.Jal: {
          const lo = (pcLo + len) | 0;
          x[rd + 1] = (pcHi + (lo >>> 0 < pcLo >>> 0 ? 1 : 0)) | 0;
          x[rd] = lo;
          const t = (pcLo + imm) | 0;
          pcHi = (pcHi + (imm >> 31) + (t >>> 0 < pcLo >>> 0 ? 1 : 0)) | 0;
          pcLo = t;
          continue;
        }
        case Op.Jalr: {
          const a = x[r1]!;
          const t = (a + imm) & ~1;
          const th = (x[r1 + 1]! + (imm >> 31) + (((a + imm) | 0) >>> 0 < a >>> 0 ? 1 : 0)) | 0;
          const lo = (pcLo + len) | 0;
          x[rd + 1] = (pcHi + (lo >>> 0 < pcLo >>> 0 ? 1 : 0)) | 0;
          x[rd] = lo;
          pcLo = t;
          pcHi = th;
          continue;
        }
        case Op.Beq:
        case Op.Bne:
        case Op.Blt:
        case Op.Bge:
        case Op.Bltu:
        case Op.Bgeu: {
          const op = w & 0xff;
          let taken: boolean;
          if (op === Op.Beq) taken = x[r1] === x[r2] && x[r1 + 1] === x[r2 + 1];
          else if (op === Op.Bne) taken = x[r1] !== x[r2] || x[r1 + 1] !== x[r2 + 1];
          else if (op === Op.Blt || op === Op.Bge) {
            const ah = x[r1 + 1]!;
            const bh = x[r2 + 1]!;
            taken = (ah < bh || (ah === bh && x[r1]! >>> 0 < x[r2]! >>> 0)) === (op === Op.Blt);
          } else taken = ltu64(x[r1]!, x[r1 + 1]!, x[r2]!, x[r2 + 1]!) === (op === Op.Bltu);
          if (taken) {
            const t = (pcLo + imm) | 0;
            pcHi = (pcHi + (imm >> 31) + (t >>> 0 < pcLo >>> 0 ? 1 : 0)) | 0;
            pcLo = t;
            continue;
          }
          break;
        }

        // ---------------- loads: TLB hit → RAM view, else mmu.loadSlow ----------------
        case Op.Lb:
        case Op.Lbu:
        case Op.Lh:
        case Op.Lhu:
        case Op.Lw:
        case Op.Lwu:
        case Op.Ld:
        case Op.Flw:
        case Op.Fld: {
          const op = w & 0xff;
          const a = x[r1]!;
          const lo = (a + imm) | 0;
          const hi = (x[r1 + 1]! + (imm >> 31) + (lo >>> 0 < a >>> 0 ? 1 : 0)) | 0;
          const width = LOAD_WIDTH[op]!;
          if (op >= Op.Flw && !this.fpEnabled()) {
            this.pcLo = pcLo;
            this.pcHi = pcHi;
            this.liveCount = n;
            takeTrap(this, Cause.IllegalInsn, false, dp[s + 2]!, 0);
            pcLo = this.pcLo;
            pcHi = this.pcHi;
            fLo = -1;
            continue;
          }
          let vlo: number;
          let vhi = 0;
          const e = (lo >>> 12) & TLB_MASK;
          if (ltLo[e] === lo >>> 12 && ltHi[e] === hi && (lo & (width - 1)) === 0) {
            const off = ltOff[e]! + (lo & 0xfff);
            switch (width) {
              case 1:
                vlo = op === Op.Lb ? i8[off]! : u8[off]!;
                break;
              case 2:
                vlo = op === Op.Lh ? i16[off >> 1]! : u16[off >> 1]!;
                break;
              case 4:
                vlo = i32[off >> 2]!;
                break;
              default:
                vlo = i32[off >> 2]!;
                vhi = i32[(off >> 2) + 1]!;
            }
          } else {
            this.pcLo = pcLo;
            this.pcHi = pcHi;
            this.liveCount = n;
            if (!loadSlow(this, lo, hi, width)) {
              pcLo = this.pcLo;
              pcHi = this.pcHi;
              fLo = -1;
              continue;
            }
            slow = true;
            vlo = this.memLo;
            vhi = this.memHi;
            if (op === Op.Lb) vlo = (vlo << 24) >> 24;
            else if (op === Op.Lh) vlo = (vlo << 16) >> 16;
          }
          switch (op) {
            case Op.Ld:
              x[rd] = vlo;
              x[rd + 1] = vhi;
              break;
            case Op.Lbu:
            case Op.Lhu:
            case Op.Lwu:
              x[rd] = vlo;
              x[rd + 1] = 0;
              break;
            case Op.Flw:
              this.fi[rd] = vlo;
              this.fi[rd + 1] = -1;
              this.markFpDirty();
              break;
            case Op.Fld:
              this.fi[rd] = vlo;
              this.fi[rd + 1] = vhi;
              this.markFpDirty();
              break;
            default:
              x[rd] = vlo;
              x[rd + 1] = vlo >> 31;
          }
          break;
        }

        // ---------------- stores ----------------
        case Op.Sb:
        case Op.Sh:
        case Op.Sw:
        case Op.Sd:
        case Op.Fsw:
        case Op.Fsd: {
          const op = w & 0xff;
          const a = x[r1]!;
          const lo = (a + imm) | 0;
          const hi = (x[r1 + 1]! + (imm >> 31) + (lo >>> 0 < a >>> 0 ? 1 : 0)) | 0;
          const width = STORE_WIDTH[op]!;
          let vlo: number;
          let vhi: number;
          if (op >= Op.Fsw) {
            if (!this.fpEnabled()) {
              this.pcLo = pcLo;
              this.pcHi = pcHi;
              this.liveCount = n;
              takeTrap(this, Cause.IllegalInsn, false, dp[s + 2]!, 0);
              pcLo = this.pcLo;
              pcHi = this.pcHi;
              fLo = -1;
              continue;
            }
            vlo = this.fi[r2]!;
            vhi = this.fi[r2 + 1]!;
          } else {
            vlo = x[r2]!;
            vhi = x[r2 + 1]!;
          }
          const e = (lo >>> 12) & TLB_MASK;
          if (stLo[e] === lo >>> 12 && stHi[e] === hi && (lo & (width - 1)) === 0) {
            const off = stOff[e]! + (lo & 0xfff);
            switch (width) {
              case 1:
                u8[off] = vlo;
                break;
              case 2:
                u16[off >> 1] = vlo;
                break;
              case 4:
                i32[off >> 2] = vlo;
                break;
              default:
                i32[off >> 2] = vlo;
                i32[(off >> 2) + 1] = vhi;
            }
          } else {
            this.pcLo = pcLo;
            this.pcHi = pcHi;
            this.liveCount = n;
            if (!storeSlow(this, lo, hi, width, vlo, vhi)) {
              pcLo = this.pcLo;
              pcHi = this.pcHi;
              fLo = -1;
              continue;
            }
            slow = true;
            // The store may have hit the page being executed (self-modifying code).
            if (this.fetchVpnLo === -1) fLo = -1;
          }
          break;
        }

        // ---------------- everything rare: out of line ----------------
        case Op.LrW:
        case Op.LrD:
        case Op.ScW:
        case Op.ScD:
        case Op.AmoW:
        case Op.AmoD: {
          this.pcLo = pcLo;
          this.pcHi = pcHi;
          this.liveCount = n;
          const op = w & 0xff;
          const ok =
            op === Op.AmoW || op === Op.AmoD
              ? amo(this, op === Op.AmoD ? 8 : 4, imm, rd, r1, r2)
              : lrsc(this, op, rd, r1, r2);
          if (!ok) {
            pcLo = this.pcLo;
            pcHi = this.pcHi;
            fLo = -1;
            continue;
          }
          slow = true;
          if (this.fetchVpnLo === -1) fLo = -1;
          break;
        }
        case Op.Fp: {
          const flagsBefore = this.fflags;
          if (!this.fpEnabled() || !fpuExecute(this, dp[s + 2]!)) {
            this.pcLo = pcLo;
            this.pcHi = pcHi;
            this.liveCount = n;
            takeTrap(this, Cause.IllegalInsn, false, dp[s + 2]!, 0);
            pcLo = this.pcLo;
            pcHi = this.pcHi;
            fLo = -1;
            continue;
          }
          // FS becomes Dirty when FP state changes: an FP register, or new flags. Compares,
          // classify, moves and conversions to an integer register leave it alone (as QEMU).
          if (fpWritesFpReg(dp[s + 2]!) || this.fflags !== flagsBefore) this.markFpDirty();
          break;
        }
        case Op.Fence:
          // imm = 1: the fence orders something (decode.ts). See docs/memory-model.md.
          if (imm !== 0 && this.smp) Atomics.add(this.fenceWord, 0, 1);
          break;
        default: {
          // System instructions, CSRs, fence.i, illegal: may trap, change privilege or translation.
          this.pcLo = pcLo;
          this.pcHi = pcHi;
          this.liveCount = n;
          const st = execSystem(this, w, imm, dp[s + 2]!, len);
          pcLo = this.pcLo;
          pcHi = this.pcHi;
          fLo = -1;
          if (st !== RunStatus.Budget || this.stopRequested) {
            status = st === RunStatus.Budget ? RunStatus.Stopped : st;
            break loop;
          }
          continue;
        }
      }
      pcLo = (pcLo + len) | 0;
      // Carry into the high half when sequential execution crosses a 4 GiB boundary.
      if (pcLo >>> 0 < len) pcHi = (pcHi + 1) | 0;
      seqPc = pcLo | jmiss;
      jmiss = 0;
      if (slow) {
        slow = false;
        if (this.event) {
          this.event = false;
          if (this.stopRequested) {
            status = RunStatus.Stopped;
            break loop;
          }
          if (pendingAndEnabled(this) !== 0) {
            this.pcLo = pcLo;
            this.pcHi = pcHi;
            this.liveCount = n;
            checkInterrupts(this);
            pcLo = this.pcLo;
            pcHi = this.pcHi;
            fLo = -1;
          }
        }
      }
    }
    this.pcLo = pcLo;
    this.pcHi = pcHi;
    this.liveCount = n;
    this.accountPriv();
    this.instret += n - this.faults;
    this.liveCount = 0;
    this.faults = 0;
    this.privMark = this.instret;
    if (status === RunStatus.Budget && this.stopRequested) status = RunStatus.Stopped;
    return status;
  }
}


/** OP-FP instructions whose destination is an integer register: compare, classify, fmv.x, fcvt to int. */
function fpWritesFpReg(raw: number): boolean {
  if ((raw & 0x7f) !== 0x53) return true;
  const f5 = raw >>> 27;
  return f5 !== 0x14 && f5 !== 0x18 && f5 !== 0x1c;
}

const LOAD_WIDTH = new Int8Array(128);
LOAD_WIDTH[Op.Lb] = 1;
LOAD_WIDTH[Op.Lbu] = 1;
LOAD_WIDTH[Op.Lh] = 2;
LOAD_WIDTH[Op.Lhu] = 2;
LOAD_WIDTH[Op.Lw] = 4;
LOAD_WIDTH[Op.Lwu] = 4;
LOAD_WIDTH[Op.Flw] = 4;
LOAD_WIDTH[Op.Ld] = 8;
LOAD_WIDTH[Op.Fld] = 8;
const STORE_WIDTH = new Int8Array(128);
STORE_WIDTH[Op.Sb] = 1;
STORE_WIDTH[Op.Sh] = 2;
STORE_WIDTH[Op.Sw] = 4;
STORE_WIDTH[Op.Fsw] = 4;
STORE_WIDTH[Op.Sd] = 8;
STORE_WIDTH[Op.Fsd] = 8;
