/**
 * Control and status registers (privileged spec §2, §3.1, §4.1; unprivileged Zicsr,
 * Zicntr, F). Access rules are checked in `csrAccessAllowed`; `csrRead`/`csrWrite` hold
 * the WARL behaviour of each register.
 */
import {
  CSR,
  FsState,
  MEDELEG_MASK,
  MIP_ALL,
  MIP_S_BITS,
  MISA_HI,
  MISA_LO,
  MSTATUS,
  MSTATUS_HI_FIXED,
  MSTATUS_HI_SD,
  Priv,
  SatpMode,
  Csr64,
} from "./constants.js";
import type { Hart } from "./hart.js";
import { pmpReadCfg, pmpWriteAddr, pmpWriteCfg } from "./pmp.js";

const TWO32 = 4294967296;

const MSTATUS_WRITABLE =
  MSTATUS.SIE |
  MSTATUS.MIE |
  MSTATUS.SPIE |
  MSTATUS.MPIE |
  MSTATUS.SPP |
  MSTATUS.MPP |
  MSTATUS.FS |
  MSTATUS.MPRV |
  MSTATUS.SUM |
  MSTATUS.MXR |
  MSTATUS.TVM |
  MSTATUS.TW |
  MSTATUS.TSR;
const SSTATUS_VISIBLE = MSTATUS.SIE | MSTATUS.SPIE | MSTATUS.UBE | MSTATUS.SPP | MSTATUS.FS | MSTATUS.XS | MSTATUS.SUM | MSTATUS.MXR;
const SSTATUS_WRITABLE = MSTATUS.SIE | MSTATUS.SPIE | MSTATUS.SPP | MSTATUS.FS | MSTATUS.SUM | MSTATUS.MXR;
/** menvcfg: FIOM (bit 0) in the low half; nothing we implement in the high half (no Svpbmt, no Sstc). */
const MENVCFG_LO_MASK = 1;
const SENVCFG_MASK = 1;

/** PMP registers: a write can change any cached permission, in every TLB set. */
function isPmp(csr: number): boolean {
  return csr >= CSR.pmpcfg0 && csr <= CSR.pmpaddr63;
}

/** Writes to these CSRs can make an interrupt takeable. */
export function affectsInterrupts(csr: number): boolean {
  return (
    csr === CSR.mstatus ||
    csr === CSR.sstatus ||
    csr === CSR.mie ||
    csr === CSR.sie ||
    csr === CSR.mip ||
    csr === CSR.sip ||
    csr === CSR.mideleg
  );
}

/** Privilege, read-only and per-register gates (counteren, TVM, FS). */
export function csrAccessAllowed(h: Hart, csr: number, write: boolean): boolean {
  if (h.priv < ((csr >>> 8) & 3)) return false;
  if (write && csr >>> 10 === 3) return false;
  if (csr >= CSR.fflags && csr <= CSR.fcsr) return (h.mstatus & MSTATUS.FS) !== 0;
  if (csr === CSR.satp && h.priv === Priv.S && (h.mstatus & MSTATUS.TVM) !== 0) return false;
  if (csr === CSR.time && h.time === null) return false;
  if (csr >= CSR.cycle && csr <= CSR.hpmcounter31) {
    const bit = 1 << (csr - CSR.cycle);
    if (h.priv < Priv.M && (h.mcounteren & bit) === 0) return false;
    if (h.priv < Priv.S && (h.scounteren & bit) === 0) return false;
  }
  return csrExists(csr);
}

function csrExists(csr: number): boolean {
  if (csr >= CSR.hpmcounter3 && csr <= CSR.hpmcounter31) return true;
  if (csr >= CSR.mhpmcounter3 && csr <= CSR.mhpmcounter31) return true;
  if (csr >= CSR.mhpmevent3 && csr <= CSR.mhpmevent31) return true;
  // RV64 has only the even pmpcfg registers; we implement 16 PMP entries.
  if (csr >= CSR.pmpcfg0 && csr <= CSR.pmpcfg15) return (csr & 1) === 0;
  if (csr >= CSR.pmpaddr0 && csr <= CSR.pmpaddr63) return true;
  switch (csr) {
    case CSR.fflags:
    case CSR.frm:
    case CSR.fcsr:
    case CSR.cycle:
    case CSR.time:
    case CSR.instret:
    case CSR.sstatus:
    case CSR.sie:
    case CSR.stvec:
    case CSR.scounteren:
    case CSR.senvcfg:
    case CSR.sscratch:
    case CSR.sepc:
    case CSR.scause:
    case CSR.stval:
    case CSR.sip:
    case CSR.satp:
    case CSR.mvendorid:
    case CSR.marchid:
    case CSR.mimpid:
    case CSR.mhartid:
    case CSR.mconfigptr:
    case CSR.mstatus:
    case CSR.misa:
    case CSR.medeleg:
    case CSR.mideleg:
    case CSR.mie:
    case CSR.mtvec:
    case CSR.mcounteren:
    case CSR.menvcfg:
    case CSR.mcountinhibit:
    case CSR.mscratch:
    case CSR.mepc:
    case CSR.mcause:
    case CSR.mtval:
    case CSR.mip:
    case CSR.mcycle:
    case CSR.minstret:
      return true;
    default:
      return false;
  }
}

function mstatusHi(h: Hart): number {
  const fsDirty = ((h.mstatus & MSTATUS.FS) >>> MSTATUS.FS_SHIFT) === FsState.Dirty;
  return MSTATUS_HI_FIXED | (fsDirty ? MSTATUS_HI_SD : 0);
}

function set64(h: Hart, v: number): void {
  h.memLo = v | 0;
  h.memHi = Math.floor(v / TWO32) | 0;
}

/** Read a CSR (access already checked) into h.memLo / h.memHi. */
export function csrRead(h: Hart, csr: number): void {
  const c = h.csr64;
  h.memHi = 0;
  switch (csr) {
    case CSR.fflags:
      h.memLo = h.fflags;
      return;
    case CSR.frm:
      h.memLo = h.frm;
      return;
    case CSR.fcsr:
      h.memLo = (h.frm << 5) | h.fflags;
      return;
    case CSR.cycle:
    case CSR.mcycle:
      set64(h, h.retired() + h.cycleOffset);
      return;
    case CSR.instret:
    case CSR.minstret:
      set64(h, h.retired() + h.instretOffset);
      return;
    case CSR.time:
      set64(h, h.time === null ? 0 : h.time.mtime());
      return;
    case CSR.sstatus: {
      h.memLo = h.mstatus & SSTATUS_VISIBLE;
      // UXL = 2 (bits 33:32) and SD.
      h.memHi = (mstatusHi(h) & MSTATUS_HI_SD) | 2;
      return;
    }
    case CSR.mstatus:
      h.memLo = h.mstatus;
      h.memHi = mstatusHi(h);
      return;
    case CSR.sie:
      h.memLo = h.mie & h.mideleg;
      return;
    case CSR.sip:
      h.memLo = h.effectiveMip() & h.mideleg;
      return;
    case CSR.mie:
      h.memLo = h.mie;
      return;
    case CSR.mip:
      h.memLo = h.effectiveMip();
      return;
    case CSR.stvec:
    case CSR.sscratch:
    case CSR.sepc:
    case CSR.scause:
    case CSR.stval:
    case CSR.satp:
    case CSR.mtvec:
    case CSR.mscratch:
    case CSR.mepc:
    case CSR.mcause:
    case CSR.mtval: {
      const slot = SLOT_OF[csr - 0x100]!;
      h.memLo = c[slot]!;
      h.memHi = c[slot + 1]!;
      return;
    }
    case CSR.scounteren:
      h.memLo = h.scounteren;
      return;
    case CSR.mcounteren:
      h.memLo = h.mcounteren;
      return;
    case CSR.mcountinhibit:
      h.memLo = h.mcountinhibit;
      return;
    case CSR.senvcfg:
      h.memLo = h.senvcfg;
      return;
    case CSR.menvcfg:
      h.memLo = h.menvcfgLo;
      h.memHi = h.menvcfgHi;
      return;
    case CSR.misa:
      h.memLo = MISA_LO;
      h.memHi = MISA_HI;
      return;
    case CSR.medeleg:
      h.memLo = h.medeleg;
      return;
    case CSR.mideleg:
      h.memLo = h.mideleg;
      return;
    case CSR.mhartid:
      h.memLo = h.hartId;
      return;
    default:
      if (csr >= CSR.pmpcfg0 && csr <= CSR.pmpcfg15) {
        const [lo, hi] = pmpReadCfg(h, csr - CSR.pmpcfg0);
        h.memLo = lo;
        h.memHi = hi;
      } else if (csr >= CSR.pmpaddr0 && csr <= CSR.pmpaddr63) {
        const i = csr - CSR.pmpaddr0;
        h.memLo = i < 16 ? h.pmpaddr[2 * i]! : 0;
        h.memHi = i < 16 ? h.pmpaddr[2 * i + 1]! : 0;
      } else {
        // mvendorid, marchid, mimpid, mconfigptr, hpm counters and events: zero.
        h.memLo = 0;
      }
  }
}

/** Write a CSR (access already checked). Returns nothing: every write is WARL-legalised. */
export function csrWrite(h: Hart, csr: number, lo: number, hi: number): void {
  const c = h.csr64;
  const statusBefore = h.mstatus;
  const satpLo = c[Csr64.SATP]!;
  const satpHi = c[Csr64.SATP + 1]!;
  switch (csr) {
    case CSR.fflags:
      h.fflags = lo & 0x1f;
      h.markFpDirty();
      break;
    case CSR.frm:
      h.frm = lo & 7;
      h.markFpDirty();
      break;
    case CSR.fcsr:
      h.fflags = lo & 0x1f;
      h.frm = (lo >>> 5) & 7;
      h.markFpDirty();
      break;
    case CSR.mstatus: {
      let v = (h.mstatus & ~MSTATUS_WRITABLE) | (lo & MSTATUS_WRITABLE);
      // MPP = 2 (reserved, no H-mode) keeps the previous value.
      if (((v >>> MSTATUS.MPP_SHIFT) & 3) === 2) v = (v & ~MSTATUS.MPP) | (h.mstatus & MSTATUS.MPP);
      h.mstatus = v;
      break;
    }
    case CSR.sstatus:
      h.mstatus = (h.mstatus & ~SSTATUS_WRITABLE) | (lo & SSTATUS_WRITABLE);
      break;
    case CSR.mie:
      h.mie = lo & MIP_ALL;
      break;
    case CSR.sie:
      h.mie = (h.mie & ~h.mideleg) | (lo & h.mideleg & MIP_S_BITS);
      break;
    case CSR.mip:
      h.mip = (h.mip & ~MIP_S_BITS) | (lo & MIP_S_BITS);
      break;
    case CSR.sip: {
      // Only SSIP is writable from S-mode, and only when delegated.
      const m = h.mideleg & (1 << 1);
      h.mip = (h.mip & ~m) | (lo & m);
      break;
    }
    case CSR.mideleg:
      h.mideleg = lo & MIP_S_BITS;
      break;
    case CSR.medeleg:
      h.medeleg = lo & MEDELEG_MASK;
      break;
    case CSR.mtvec:
    case CSR.stvec: {
      // Modes 0 (direct) and 1 (vectored); a reserved mode leaves the register unchanged.
      if ((lo & 3) >= 2) break;
      const slot = SLOT_OF[csr - 0x100]!;
      c[slot] = lo;
      c[slot + 1] = hi;
      break;
    }
    case CSR.mepc:
    case CSR.sepc: {
      const slot = SLOT_OF[csr - 0x100]!;
      c[slot] = lo & ~1;
      c[slot + 1] = hi;
      break;
    }
    case CSR.mscratch:
    case CSR.sscratch:
    case CSR.mtval:
    case CSR.stval: {
      const slot = SLOT_OF[csr - 0x100]!;
      c[slot] = lo;
      c[slot + 1] = hi;
      break;
    }
    case CSR.mcause:
    case CSR.scause: {
      const slot = SLOT_OF[csr - 0x100]!;
      c[slot] = lo;
      c[slot + 1] = hi & (0x80000000 | 0);
      break;
    }
    case CSR.satp: {
      const mode = hi >>> 28;
      // Writing an unsupported mode has no effect at all (WARL).
      if (mode !== SatpMode.Bare && mode !== SatpMode.Sv39) break;
      c[Csr64.SATP] = lo;
      c[Csr64.SATP + 1] = hi;
      break;
    }
    case CSR.scounteren:
      h.scounteren = lo;
      break;
    case CSR.mcounteren:
      h.mcounteren = lo;
      break;
    case CSR.mcountinhibit:
      h.mcountinhibit = lo & ~2;
      break;
    case CSR.senvcfg:
      h.senvcfg = lo & SENVCFG_MASK;
      break;
    case CSR.menvcfg:
      h.menvcfgLo = lo & MENVCFG_LO_MASK;
      h.menvcfgHi = 0;
      break;
    case CSR.mcycle:
      h.cycleOffset = hi * TWO32 + (lo >>> 0) - h.retired() - 1;
      break;
    case CSR.minstret:
      // The write takes effect after this instruction retires, which would count it.
      h.instretOffset = hi * TWO32 + (lo >>> 0) - h.retired() - 1;
      break;
    default:
      if (csr >= CSR.pmpcfg0 && csr <= CSR.pmpcfg15) pmpWriteCfg(h, csr - CSR.pmpcfg0, lo, hi);
      else if (csr >= CSR.pmpaddr0 && csr <= CSR.pmpaddr63) pmpWriteAddr(h, csr - CSR.pmpaddr0, lo, hi);
    // misa, menvcfg high bits, hpm events: read-only zero / ignored.
  }
  if (csr === CSR.mstatus || csr === CSR.sstatus) statusChanged(h, statusBefore, h.mstatus);
  else if (csr === CSR.satp) h.tlb.satpWritten(satpLo, satpHi);
  else if (isPmp(csr)) h.flushTlb("pmp");
}

/**
 * An mstatus/sstatus write: drop the cached translations it made wrong. Most writes
 * toggle SIE (Linux's local_irq_save/restore) and change nothing the TLB depends on;
 * flushing on each cost a refill every few hundred instructions. The entries depend on:
 * - SUM or MXR going 0 → 1 only adds permissions: every cached entry stays right.
 * - SUM going 1 → 0 removes S-mode access to U pages: only the S entries cached for such
 *   accesses are dropped (the MMU notes them when it fills them; tlb.ts).
 * - MXR going 1 → 0: the S and U sets (loads from execute-only pages).
 * - MPRV going 0 → 1: M-mode's data entries (the MMU caches M data accesses only while
 *   MPRV is 0, so MPP changes and MPRV going 0 never matter).
 */
function statusChanged(h: Hart, before: number, after: number): void {
  const changed = before ^ after;
  if ((changed & (MSTATUS.SUM | MSTATUS.MXR | MSTATUS.MPRV)) === 0) return;
  if ((before & MSTATUS.MXR) !== 0 && (after & MSTATUS.MXR) === 0) h.tlb.flushTranslated("mxr");
  if ((after & MSTATUS.MPRV) !== 0 && (before & MSTATUS.MPRV) === 0) h.tlb.flushMachine();
  if ((before & MSTATUS.SUM) !== 0 && (after & MSTATUS.SUM) === 0) h.tlb.revokeSum();
}

/** csr64 slot for each 64-bit CSR, indexed by (csr - 0x100). */
const SLOT_OF = new Int8Array(0x300).fill(-1);
SLOT_OF[CSR.stvec - 0x100] = Csr64.STVEC;
SLOT_OF[CSR.sscratch - 0x100] = Csr64.SSCRATCH;
SLOT_OF[CSR.sepc - 0x100] = Csr64.SEPC;
SLOT_OF[CSR.scause - 0x100] = Csr64.SCAUSE;
SLOT_OF[CSR.stval - 0x100] = Csr64.STVAL;
SLOT_OF[CSR.satp - 0x100] = Csr64.SATP;
SLOT_OF[CSR.mtvec - 0x100] = Csr64.MTVEC;
SLOT_OF[CSR.mscratch - 0x100] = Csr64.MSCRATCH;
SLOT_OF[CSR.mepc - 0x100] = Csr64.MEPC;
SLOT_OF[CSR.mcause - 0x100] = Csr64.MCAUSE;
SLOT_OF[CSR.mtval - 0x100] = Csr64.MTVAL;
