/**
 * SYSTEM and MISC-MEM instructions that leave the fast path: CSR access, ecall/ebreak,
 * xRET, WFI, SFENCE.VMA, FENCE.I, and illegal encodings. Each sets h.pc to the next
 * instruction or the trap handler, then checks interrupts that the change made takeable.
 */
import { Cause, CSR, MSTATUS, Priv } from "./constants.js";
import { affectsInterrupts, csrAccessAllowed, csrRead, csrWrite } from "./csr.js";
import { Op } from "./decode.js";
import { RunStatus, type Hart } from "./hart.js";
import { checkInterrupts, doMret, doSret, takeTrap } from "./trap.js";

function advance(h: Hart, len: number): void {
  const lo = (h.pcLo + len) | 0;
  if (lo >>> 0 < h.pcLo >>> 0) h.pcHi = (h.pcHi + 1) | 0;
  h.pcLo = lo;
}

function illegal(h: Hart, raw: number): number {
  takeTrap(h, Cause.IllegalInsn, false, raw, 0);
  return RunStatus.Budget;
}

/** Execute one system instruction; returns RunStatus.Wfi when the hart should sleep. */
export function execSystem(h: Hart, w: number, imm: number, raw: number, len: number): number {
  const op = w & 0xff;
  switch (op) {
    case Op.Csrrw:
    case Op.Csrrs:
    case Op.Csrrc:
    case Op.Csrrwi:
    case Op.Csrrsi:
    case Op.Csrrci:
      return execCsr(h, w, imm, raw, len);
    case Op.Ecall:
      if (h.priv === Priv.S && h.hypercalls !== null) {
        h.hypercallCount++;
        advance(h, len);
        return h.hypercalls.ecall(h);
      }
      takeTrap(h, h.priv === Priv.U ? Cause.EcallU : h.priv === Priv.S ? Cause.EcallS : Cause.EcallM, false, 0, 0);
      return RunStatus.Budget;
    case Op.Ebreak:
      // mtval may be 0 or the pc; QEMU (the oracle) writes 0.
      takeTrap(h, Cause.Breakpoint, false, 0, 0);
      return RunStatus.Budget;
    case Op.Mret:
      if (h.priv !== Priv.M) return illegal(h, raw);
      doMret(h);
      checkInterrupts(h);
      return RunStatus.Budget;
    case Op.Sret:
      if (h.priv === Priv.U || (h.priv === Priv.S && (h.mstatus & MSTATUS.TSR) !== 0)) return illegal(h, raw);
      doSret(h);
      checkInterrupts(h);
      return RunStatus.Budget;
    case Op.Wfi:
      // WFI is illegal in U-mode, and in S-mode when TW is set.
      if (h.priv === Priv.U || (h.priv === Priv.S && (h.mstatus & MSTATUS.TW) !== 0)) return illegal(h, raw);
      advance(h, len);
      if ((h.mie & h.effectiveMip()) !== 0) {
        checkInterrupts(h);
        return RunStatus.Budget;
      }
      h.wfi = true;
      return RunStatus.Wfi;
    case Op.SfenceVma:
      if (h.priv === Priv.U || (h.priv === Priv.S && (h.mstatus & MSTATUS.TVM) !== 0)) return illegal(h, raw);
      sfenceVma(h, raw);
      advance(h, len);
      return RunStatus.Budget;
    case Op.FenceI:
      h.flushDecoded();
      advance(h, len);
      return RunStatus.Budget;
    default:
      return illegal(h, raw);
  }
}

/**
 * SFENCE.VMA rs1, rs2 (privileged spec §4.2.1): rs1 = x0 means every address, rs2 = x0
 * every address space; a register other than x0 narrows the fence to its value, even
 * when that value is 0 (ASID 0, address 0).
 */
function sfenceVma(h: Hart, raw: number): void {
  const rs1 = (raw >>> 15) & 31;
  const rs2 = (raw >>> 20) & 31;
  h.tlb.sfence(rs1 !== 0, h.x[2 * rs1]!, h.x[2 * rs1 + 1]!, rs2 !== 0, h.x[2 * rs2]!);
}

function execCsr(h: Hart, w: number, csr: number, raw: number, len: number): number {
  const op = w & 0xff;
  const rd = (w >>> 8) & 127;
  const r1 = (w >>> 15) & 63;
  const immForm = op >= Op.Csrrwi;
  // For the immediate forms the rs1 field is the 5-bit zero-extended immediate.
  const srcLo = immForm ? r1 >>> 1 : h.x[r1]!;
  const srcHi = immForm ? 0 : h.x[r1 + 1]!;
  const base = immForm ? op - 3 : op;
  const writes = base === Op.Csrrw || r1 !== 0;
  if (!csrAccessAllowed(h, csr, writes)) return illegal(h, raw);
  csrRead(h, csr);
  const oldLo = h.memLo;
  const oldHi = h.memHi;
  if (writes) {
    let nLo = srcLo;
    let nHi = srcHi;
    // Privileged spec 3.1.9: CSRRS/CSRRC on mip/sip modify the software-writable SEIP bit,
    // not the OR with the PLIC's wire that a read returns. Otherwise firmware setting
    // STIP while the wire is high latches SEIP forever (an interrupt storm under OpenSBI).
    const modLo = csr === CSR.mip ? h.mip : csr === CSR.sip ? h.mip & h.mideleg : oldLo;
    if (base === Op.Csrrs) {
      nLo = modLo | srcLo;
      nHi = oldHi | srcHi;
    } else if (base === Op.Csrrc) {
      nLo = modLo & ~srcLo;
      nHi = oldHi & ~srcHi;
    }
    csrWrite(h, csr, nLo, nHi);
  }
  h.x[rd] = oldLo;
  h.x[rd + 1] = oldHi;
  advance(h, len);
  if (writes && affectsInterrupts(csr)) checkInterrupts(h);
  return RunStatus.Budget;
}
