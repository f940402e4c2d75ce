/**
 * Trap entry and return (privileged spec §3.1.6–3.1.9, §3.3.2, §4.1.1): which interrupt
 * is taken when, delegation to S-mode, and mret/sret. Assigning `h.priv` swaps the TLB
 * set (tlb.ts); nothing here flushes.
 */
import { IRQ_PRIORITY, MSTATUS, Priv, Csr64 } from "./constants.js";
import type { Hart } from "./hart.js";

/** Interrupts that are pending, enabled in mie, and not masked by the current privilege/xIE bits. */
export function pendingAndEnabled(h: Hart): number {
  const pending = h.effectiveMip() & h.mie;
  if (pending === 0) return 0;
  const toM = pending & ~h.mideleg;
  const toS = pending & h.mideleg;
  const mOn = h.priv < Priv.M || (h.mstatus & MSTATUS.MIE) !== 0;
  const sOn = h.priv < Priv.S || (h.priv === Priv.S && (h.mstatus & MSTATUS.SIE) !== 0);
  return (mOn ? toM : 0) | (sOn ? toS : 0);
}

/**
 * Take the highest-priority interrupt that can be taken now, if any: interrupts for M-mode
 * come before those delegated to S-mode, and within a mode MEI, MSI, MTI, SEI, SSI, STI.
 */
export function checkInterrupts(h: Hart): boolean {
  const ready = pendingAndEnabled(h);
  if (ready === 0) return false;
  const toM = ready & ~h.mideleg;
  const set = toM !== 0 ? toM : ready;
  for (const irq of IRQ_PRIORITY) {
    if ((set & (1 << irq)) !== 0) {
      takeTrap(h, irq, true, 0, 0);
      return true;
    }
  }
  return false;
}

/**
 * Enter the trap handler for `cause` with pc at the faulting (or interrupted) instruction.
 * Synchronous exceptions mean the instruction did not retire.
 */
export function takeTrap(h: Hart, cause: number, interrupt: boolean, tvalLo: number, tvalHi: number): void {
  if (!interrupt) h.faults++;
  h.wfi = false;
  h.accountPriv();
  const deleg = interrupt ? h.mideleg : h.medeleg;
  const c = h.csr64;
  let tvec: number;
  let ms = h.mstatus;
  if (h.priv <= Priv.S && cause < 32 && (deleg & (1 << cause)) !== 0) {
    c[Csr64.SEPC] = h.pcLo;
    c[Csr64.SEPC + 1] = h.pcHi;
    c[Csr64.SCAUSE] = cause;
    c[Csr64.SCAUSE + 1] = interrupt ? 0x80000000 | 0 : 0;
    c[Csr64.STVAL] = tvalLo;
    c[Csr64.STVAL + 1] = tvalHi;
    ms = (ms & ~(MSTATUS.SPP | MSTATUS.SPIE | MSTATUS.SIE)) | (h.priv === Priv.S ? MSTATUS.SPP : 0);
    if ((h.mstatus & MSTATUS.SIE) !== 0) ms |= MSTATUS.SPIE;
    h.priv = Priv.S;
    tvec = Csr64.STVEC;
  } else {
    c[Csr64.MEPC] = h.pcLo;
    c[Csr64.MEPC + 1] = h.pcHi;
    c[Csr64.MCAUSE] = cause;
    c[Csr64.MCAUSE + 1] = interrupt ? 0x80000000 | 0 : 0;
    c[Csr64.MTVAL] = tvalLo;
    c[Csr64.MTVAL + 1] = tvalHi;
    ms = (ms & ~(MSTATUS.MPP | MSTATUS.MPIE | MSTATUS.MIE)) | (h.priv << MSTATUS.MPP_SHIFT);
    if ((h.mstatus & MSTATUS.MIE) !== 0) ms |= MSTATUS.MPIE;
    // An entry into M-mode firmware from the OS: on the full machine, the firmware's share of the work.
    if (h.priv !== Priv.M) h.mTraps[(interrupt ? 32 : 0) + (cause & 31)]++;
    h.priv = Priv.M;
    tvec = Csr64.MTVEC;
  }
  h.mstatus = ms;
  const base = c[tvec]!;
  const vectored = (base & 3) === 1 && interrupt;
  const sum = ((base & ~3) >>> 0) + (vectored ? cause * 4 : 0);
  h.pcLo = sum | 0;
  h.pcHi = (c[tvec + 1]! + (sum > 0xffffffff ? 1 : 0)) | 0;
}

/** MRET (caller has checked priv == M): back to MPP with MIE restored. */
export function doMret(h: Hart): void {
  h.accountPriv();
  const ms = h.mstatus;
  const mpp = (ms >>> MSTATUS.MPP_SHIFT) & 3;
  let next = ms & ~(MSTATUS.MPP | MSTATUS.MIE);
  if ((ms & MSTATUS.MPIE) !== 0) next |= MSTATUS.MIE;
  next |= MSTATUS.MPIE;
  if (mpp !== Priv.M) next &= ~MSTATUS.MPRV;
  h.mstatus = next;
  h.priv = mpp;
  h.pcLo = h.csr64[Csr64.MEPC]!;
  h.pcHi = h.csr64[Csr64.MEPC + 1]!;
}

/** SRET (caller has checked priv and TSR): back to SPP with SIE restored. */
export function doSret(h: Hart): void {
  h.accountPriv();
  const ms = h.mstatus;
  const spp = (ms & MSTATUS.SPP) !== 0 ? Priv.S : Priv.U;
  let next = ms & ~(MSTATUS.SPP | MSTATUS.SIE | MSTATUS.MPRV);
  if ((ms & MSTATUS.SPIE) !== 0) next |= MSTATUS.SIE;
  next |= MSTATUS.SPIE;
  h.mstatus = next;
  h.priv = spp;
  h.pcLo = h.csr64[Csr64.SEPC]!;
  h.pcHi = h.csr64[Csr64.SEPC + 1]!;
}
