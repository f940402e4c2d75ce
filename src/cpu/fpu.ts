/**
 * The F and D extensions' computational instructions (RV64F/RV64D): decode and dispatch.
 *
 * The interpreter calls fpuExecute for every instruction with major opcode OP-FP (0x53) or
 * one of the fused multiply-add opcodes (0x43 FMADD, 0x47 FMSUB, 0x4b FNMSUB, 0x4f FNMADD).
 * Loads/stores and mstatus.FS are handled by the hart.
 *
 * Module map:
 *   fpu-core.ts     flags, rounding modes, scratch views, EFTs, fast-path fix-ups, register helpers
 *   fpu-soft.ts     exact slow path: fixed-point accumulator + round/pack for S and D
 *   fpu-arith.ts    FADD/FSUB/FMUL/FDIV/FSQRT
 *   fpu-fma.ts      FMADD/FMSUB/FNMSUB/FNMADD
 *   fpu-convert.ts  FCVT.*, FMV.*, FSGNJ*, FMIN/FMAX, FEQ/FLT/FLE, FCLASS
 */
import { addD, addS, divD, divS, mulD, mulS, sqrtD, sqrtS } from "./fpu-arith.js";
import type { FpuHost } from "./fpu-core.js";
import {
  classD,
  classS,
  cmpD,
  cmpS,
  cvtDS,
  cvtDToInt,
  cvtFromInt,
  cvtSD,
  cvtSToInt,
  fmvDX,
  fmvWX,
  fmvXD,
  fmvXW,
  minMaxD,
  minMaxS,
  sgnjD,
  sgnjS,
} from "./fpu-convert.js";
import { fmaD, fmaS } from "./fpu-fma.js";

export type { FpuHost } from "./fpu-core.js";
export { NV, DZ, OF, UF, NX, RNE, RTZ, RDN, RUP, RMM } from "./fpu-core.js";

/**
 * Execute one F/D computational instruction (raw 32-bit encoding). Returns false if the
 * encoding is illegal (unknown funct, H/Q formats, nonzero reserved rs2, rm field 5/6, or
 * rm=7 (DYN) while frm is not a valid mode), in which case nothing is modified.
 */
export function fpuExecute(h: FpuHost, insn: number): boolean {
  const opcode = insn & 0x7f;
  const rd = (insn >>> 7) & 31;
  const funct3 = (insn >>> 12) & 7;
  const rs1 = (insn >>> 15) & 31;
  const rs2 = (insn >>> 20) & 31;
  // rounding mode, for the instructions that have an rm field
  const rm = funct3 === 7 ? h.frm : funct3;
  const rmOk = rm >= 0 && rm <= 4;

  if (opcode !== 0x53) {
    if ((opcode & 0x73) !== 0x43) return false; // 0x43, 0x47, 0x4b, 0x4f
    const fmt = (insn >>> 25) & 3;
    if (fmt > 1 || !rmOk) return false;
    const rs3 = insn >>> 27;
    const negProd = opcode === 0x4b || opcode === 0x4f;
    const negAdd = opcode === 0x47 || opcode === 0x4f;
    if (fmt === 0) fmaS(h, rd, rs1, rs2, rs3, negProd, negAdd, rm);
    else fmaD(h, rd, rs1, rs2, rs3, negProd, negAdd, rm);
    return true;
  }

  switch (insn >>> 25) {
    case 0x00: // FADD.S
      if (!rmOk) return false;
      addS(h, rd, rs1, rs2, false, rm);
      return true;
    case 0x01: // FADD.D
      if (!rmOk) return false;
      addD(h, rd, rs1, rs2, false, rm);
      return true;
    case 0x04: // FSUB.S
      if (!rmOk) return false;
      addS(h, rd, rs1, rs2, true, rm);
      return true;
    case 0x05: // FSUB.D
      if (!rmOk) return false;
      addD(h, rd, rs1, rs2, true, rm);
      return true;
    case 0x08: // FMUL.S
      if (!rmOk) return false;
      mulS(h, rd, rs1, rs2, rm);
      return true;
    case 0x09: // FMUL.D
      if (!rmOk) return false;
      mulD(h, rd, rs1, rs2, rm);
      return true;
    case 0x0c: // FDIV.S
      if (!rmOk) return false;
      divS(h, rd, rs1, rs2, rm);
      return true;
    case 0x0d: // FDIV.D
      if (!rmOk) return false;
      divD(h, rd, rs1, rs2, rm);
      return true;
    case 0x2c: // FSQRT.S
      if (!rmOk || rs2 !== 0) return false;
      sqrtS(h, rd, rs1, rm);
      return true;
    case 0x2d: // FSQRT.D
      if (!rmOk || rs2 !== 0) return false;
      sqrtD(h, rd, rs1, rm);
      return true;
    case 0x10: // FSGNJ[N|X].S
      if (funct3 > 2) return false;
      sgnjS(h, rd, rs1, rs2, funct3);
      return true;
    case 0x11: // FSGNJ[N|X].D
      if (funct3 > 2) return false;
      sgnjD(h, rd, rs1, rs2, funct3);
      return true;
    case 0x14: // FMIN.S / FMAX.S
      if (funct3 > 1) return false;
      minMaxS(h, rd, rs1, rs2, funct3 === 1);
      return true;
    case 0x15: // FMIN.D / FMAX.D
      if (funct3 > 1) return false;
      minMaxD(h, rd, rs1, rs2, funct3 === 1);
      return true;
    case 0x20: // FCVT.S.D
      if (!rmOk || rs2 !== 1) return false;
      cvtSD(h, rd, rs1, rm);
      return true;
    case 0x21: // FCVT.D.S
      if (!rmOk || rs2 !== 0) return false;
      cvtDS(h, rd, rs1);
      return true;
    case 0x50: // FLE.S / FLT.S / FEQ.S
      if (funct3 > 2) return false;
      cmpS(h, rd, rs1, rs2, funct3);
      return true;
    case 0x51: // FLE.D / FLT.D / FEQ.D
      if (funct3 > 2) return false;
      cmpD(h, rd, rs1, rs2, funct3);
      return true;
    case 0x60: // FCVT.{W,WU,L,LU}.S
      if (!rmOk || rs2 > 3) return false;
      cvtSToInt(h, rd, rs1, rs2, rm);
      return true;
    case 0x61: // FCVT.{W,WU,L,LU}.D
      if (!rmOk || rs2 > 3) return false;
      cvtDToInt(h, rd, rs1, rs2, rm);
      return true;
    case 0x68: // FCVT.S.{W,WU,L,LU}
      if (!rmOk || rs2 > 3) return false;
      cvtFromInt(h, rd, rs1, rs2, true, rm);
      return true;
    case 0x69: // FCVT.D.{W,WU,L,LU}
      if (!rmOk || rs2 > 3) return false;
      cvtFromInt(h, rd, rs1, rs2, false, rm);
      return true;
    case 0x70: // FMV.X.W / FCLASS.S
      if (rs2 !== 0 || funct3 > 1) return false;
      if (funct3 === 0) fmvXW(h, rd, rs1);
      else classS(h, rd, rs1);
      return true;
    case 0x71: // FMV.X.D / FCLASS.D
      if (rs2 !== 0 || funct3 > 1) return false;
      if (funct3 === 0) fmvXD(h, rd, rs1);
      else classD(h, rd, rs1);
      return true;
    case 0x78: // FMV.W.X
      if (rs2 !== 0 || funct3 !== 0) return false;
      fmvWX(h, rd, rs1);
      return true;
    case 0x79: // FMV.D.X
      if (rs2 !== 0 || funct3 !== 0) return false;
      fmvDX(h, rd, rs1);
      return true;
    default:
      return false;
  }
}
