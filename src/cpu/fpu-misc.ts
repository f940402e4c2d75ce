/**
 * Non-rounding F/D instructions: FSGNJ/FSGNJN/FSGNJX (raw bit operations, no NaN
 * canonicalisation), FMIN/FMAX (IEEE 754-2019 minimumNumber/maximumNumber: -0 < +0, a
 * single NaN operand yields the other operand, two NaNs the canonical NaN, sNaN raises NV),
 * FEQ (quiet) / FLT / FLE (signalling), and FCLASS.
 *
 * Single-precision operands go through the NaN-box check (sBits): a value whose upper 32
 * bits are not all ones reads as the canonical NaN.
 */
import {
  type FpuHost,
  NV,
  f32FromBits,
  isNaN32,
  sBits,
  snanD,
  snanS,
  writeNaND,
  writeNaNS,
  writeSBits,
} from "./fpu-core.js";
import { writeX } from "./fpu-convert.js";

/** funct3 of FSGNJ*: 0 = J, 1 = JN, 2 = JX. */
export function sgnjD(h: FpuHost, rd: number, rs1: number, rs2: number, op: number): void {
  const fi = h.fi;
  const hiA = fi[2 * rs1 + 1];
  const lo = fi[2 * rs1];
  const sB = fi[2 * rs2 + 1] & 0x80000000;
  const hi = op === 0 ? (hiA & 0x7fffffff) | sB : op === 1 ? (hiA & 0x7fffffff) | (sB ^ 0x80000000) : hiA ^ sB;
  fi[2 * rd] = lo;
  fi[2 * rd + 1] = hi;
}

export function sgnjS(h: FpuHost, rd: number, rs1: number, rs2: number, op: number): void {
  const a = sBits(h, rs1);
  const sB = sBits(h, rs2) & 0x80000000;
  const r = op === 0 ? (a & 0x7fffffff) | sB : op === 1 ? (a & 0x7fffffff) | (sB ^ 0x80000000) : a ^ sB;
  writeSBits(h, rd, r);
}

/** FMIN.D (isMax false) / FMAX.D. */
export function minMaxD(h: FpuHost, rd: number, rs1: number, rs2: number, isMax: boolean): void {
  const a = h.f[rs1];
  const b = h.f[rs2];
  let pick: number;
  if (a !== a || b !== b) {
    h.fflags |= snanD(h, rs1) | snanD(h, rs2);
    if (a !== a && b !== b) {
      writeNaND(h, rd);
      return;
    }
    pick = a !== a ? rs2 : rs1;
  } else if (a < b) {
    pick = isMax ? rs2 : rs1;
  } else if (b < a) {
    pick = isMax ? rs1 : rs2;
  } else {
    // equal values; only +-0 differ in bits: min takes the negative one, max the positive
    const aNeg = h.fi[2 * rs1 + 1] < 0;
    pick = aNeg !== isMax ? rs1 : rs2;
  }
  const lo = h.fi[2 * pick];
  const hi = h.fi[2 * pick + 1];
  h.fi[2 * rd] = lo;
  h.fi[2 * rd + 1] = hi;
}

/** FMIN.S / FMAX.S. */
export function minMaxS(h: FpuHost, rd: number, rs1: number, rs2: number, isMax: boolean): void {
  const ab = sBits(h, rs1);
  const bb = sBits(h, rs2);
  const aN = isNaN32(ab);
  const bN = isNaN32(bb);
  let r: number;
  if (aN || bN) {
    h.fflags |= snanS(ab) | snanS(bb);
    if (aN && bN) {
      writeNaNS(h, rd);
      return;
    }
    r = aN ? bb : ab;
  } else {
    const a = f32FromBits(ab);
    const b = f32FromBits(bb);
    if (a < b) r = isMax ? bb : ab;
    else if (b < a) r = isMax ? ab : bb;
    else r = ab < 0 !== isMax ? ab : bb;
  }
  writeSBits(h, rd, r);
}

/** funct3 of FEQ/FLT/FLE: 2 = EQ, 1 = LT, 0 = LE. */
export function cmpD(h: FpuHost, rd: number, rs1: number, rs2: number, op: number): void {
  const a = h.f[rs1];
  const b = h.f[rs2];
  let r = 0;
  if (a !== a || b !== b) {
    h.fflags |= op === 2 ? snanD(h, rs1) | snanD(h, rs2) : NV;
  } else {
    r = (op === 2 ? a === b : op === 1 ? a < b : a <= b) ? 1 : 0;
  }
  writeX(h, rd, r, 0);
}

export function cmpS(h: FpuHost, rd: number, rs1: number, rs2: number, op: number): void {
  const ab = sBits(h, rs1);
  const bb = sBits(h, rs2);
  let r = 0;
  if (isNaN32(ab) || isNaN32(bb)) {
    h.fflags |= op === 2 ? snanS(ab) | snanS(bb) : NV;
  } else {
    const a = f32FromBits(ab);
    const b = f32FromBits(bb);
    r = (op === 2 ? a === b : op === 1 ? a < b : a <= b) ? 1 : 0;
  }
  writeX(h, rd, r, 0);
}

/**
 * FCLASS mask from sign, "exponent all ones", "exponent zero", "fraction zero" and the
 * quiet bit: bit 0 -inf, 1 -normal, 2 -subnormal, 3 -0, 4 +0, 5 +subnormal, 6 +normal,
 * 7 +inf, 8 sNaN, 9 qNaN.
 */
function classMask(neg: boolean, expMax: boolean, expZero: boolean, fracZero: boolean, quiet: boolean): number {
  if (expMax) {
    if (fracZero) return neg ? 1 : 128;
    return quiet ? 512 : 256;
  }
  if (expZero) {
    if (fracZero) return neg ? 8 : 16;
    return neg ? 4 : 32;
  }
  return neg ? 2 : 64;
}

export function classD(h: FpuHost, rd: number, rs1: number): void {
  const hi = h.fi[2 * rs1 + 1];
  const lo = h.fi[2 * rs1];
  const e = (hi >>> 20) & 0x7ff;
  const m = classMask(hi < 0, e === 0x7ff, e === 0, ((hi & 0xfffff) | lo) === 0, (hi & 0x80000) !== 0);
  writeX(h, rd, m, 0);
}

export function classS(h: FpuHost, rd: number, rs1: number): void {
  const b = sBits(h, rs1);
  const e = (b >>> 23) & 0xff;
  const m = classMask(b < 0, e === 0xff, e === 0, (b & 0x7fffff) === 0, (b & 0x400000) !== 0);
  writeX(h, rd, m, 0);
}
