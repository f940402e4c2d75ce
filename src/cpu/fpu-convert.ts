/**
 * Conversions and the other instructions that read or write integer registers or do not
 * round: FCVT.{W,WU,L,LU}.{S,D}, FCVT.{S,D}.{W,WU,L,LU}, FCVT.S.D, FCVT.D.S, the bit moves
 * FMV.X.W, FMV.W.X, FMV.X.D, FMV.D.X, and FSGNJ*, FMIN/FMAX, FEQ/FLT/FLE, FCLASS.
 *
 * Float to integer: round to an integral value in the requested mode (host arithmetic is
 * exact here: every |v| >= 2^52 is already an integer), then check the range on the ROUNDED
 * value; out of range or NaN saturates as the spec's table says and raises NV only; otherwise
 * NX when the rounded value differs from the operand. 32-bit results (W and WU) are
 * sign-extended to 64 bits.
 */
import {
  type FpuHost,
  NV,
  NX,
  RDN,
  RMM,
  RNE,
  RTZ,
  TWO32,
  TWO52,
  f32FromBits,
  finishD,
  finishS,
  fixFlags,
  isNaN32,
  sBits,
  snanD,
  snanS,
  twoSumErr,
  writeNaND,
  writeNaNS,
  writeRes,
  writeS,
  writeSBits,
} from "./fpu-core.js";
import { softRound } from "./fpu-soft.js";

/** Integer kinds, as encoded in rs2 of FCVT. */
export const CVT_W = 0;
export const CVT_WU = 1;
export const CVT_L = 2;
export const CVT_LU = 3;

const TWO31 = 2147483648;
const TWO63 = 9223372036854775808;
const TWO64 = 18446744073709551616;

/** Round finite-or-infinite v to an integral value in `mode` (exact). */
export function roundIntegral(v: number, mode: number): number {
  if (!(Math.abs(v) < TWO52)) return v; // already integral (or infinite)
  switch (mode) {
    case RNE: {
      const a = Math.abs(v);
      const t = a + TWO52 - TWO52; // the host rounds to nearest even at unit precision
      return v < 0 ? -t : t;
    }
    case RTZ:
      return Math.trunc(v);
    case RDN:
      return Math.floor(v);
    case RMM: {
      const t = Math.trunc(v);
      const fr = v - t; // exact
      return fr >= 0.5 ? t + 1 : fr <= -0.5 ? t - 1 : t;
    }
    default: // RUP
      return Math.ceil(v);
  }
}

function writeX(h: FpuHost, rd: number, lo: number, hi: number): void {
  if (rd !== 0) {
    h.x[2 * rd] = lo;
    h.x[2 * rd + 1] = hi;
  }
}

/** Write the integral value r (|r| < 2^64) as a 64-bit two's complement integer. */
function writeX64(h: FpuHost, rd: number, r: number): void {
  const m = Math.abs(r);
  const hi = Math.floor(m / TWO32);
  let lo = (m - hi * TWO32) | 0;
  let h32 = hi | 0;
  if (r < 0) {
    lo = (~lo + 1) | 0;
    h32 = (~h32 + (lo === 0 ? 1 : 0)) | 0;
  }
  writeX(h, rd, lo, h32);
}

/**
 * FCVT.<kind>.{S,D}: convert the exact operand value v (NaN for any NaN) to an integer
 * register. Returns flags.
 */
export function cvtToInt(h: FpuHost, rd: number, v: number, kind: number, mode: number): number {
  const r = v !== v ? v : roundIntegral(v, mode);
  const pos = !(v < 0); // NaN saturates to the maximum
  switch (kind) {
    case CVT_W:
      if (r >= -TWO31 && r < TWO31) {
        const lo = r | 0;
        writeX(h, rd, lo, lo >> 31);
        break;
      }
      writeX(h, rd, pos ? 0x7fffffff : -2147483648, pos ? 0 : -1);
      return NV;
    case CVT_WU:
      if (r >= 0 && r < TWO32) {
        const lo = r | 0;
        writeX(h, rd, lo, lo >> 31);
        break;
      }
      writeX(h, rd, pos ? -1 : 0, pos ? -1 : 0);
      return NV;
    case CVT_L:
      if (r >= -TWO63 && r < TWO63) {
        writeX64(h, rd, r);
        break;
      }
      writeX(h, rd, pos ? -1 : 0, pos ? 0x7fffffff : -2147483648);
      return NV;
    default: // CVT_LU
      if (r >= 0 && r < TWO64) {
        writeX64(h, rd, r);
        break;
      }
      writeX(h, rd, pos ? -1 : 0, pos ? -1 : 0);
      return NV;
  }
  return r === v ? 0 : NX;
}

/** FCVT.W[U]/L[U].D */
export function cvtDToInt(h: FpuHost, rd: number, rs1: number, kind: number, mode: number): void {
  const v = h.f[rs1];
  h.fflags |= (v !== v ? snanD(h, rs1) : 0) | cvtToInt(h, rd, v, kind, mode);
}

/** FCVT.W[U]/L[U].S */
export function cvtSToInt(h: FpuHost, rd: number, rs1: number, kind: number, mode: number): void {
  const bits = sBits(h, rs1);
  const v = f32FromBits(bits);
  h.fflags |= snanS(bits) | cvtToInt(h, rd, v, kind, mode);
}

/**
 * FCVT.{S,D}.<kind>: integer register rs1 to floating point. 32-bit sources are exact in
 * double; 64-bit sources are summed from their halves with one rounding and the exact
 * TwoSum error, which gives every rounding mode.
 */
export function cvtFromInt(h: FpuHost, rd: number, rs1: number, kind: number, isS: boolean, mode: number): void {
  const lo = h.x[2 * rs1];
  let d: number;
  let e = 0;
  if (kind === CVT_W) {
    d = lo;
  } else if (kind === CVT_WU) {
    d = lo >>> 0;
  } else {
    let hi = h.x[2 * rs1 + 1];
    let l = lo;
    const neg = kind === CVT_L && hi < 0;
    if (neg) {
      l = (~l + 1) | 0;
      hi = (~hi + (l === 0 ? 1 : 0)) | 0;
    }
    const big = (hi >>> 0) * TWO32;
    const small = l >>> 0;
    d = big + small;
    e = twoSumErr(big, small, d);
    if (neg) {
      d = -d;
      e = -e;
    }
  }
  if (isS) {
    if (d === 0) {
      writeS(h, rd, 0);
      return;
    }
    writeS(h, rd, finishS(d, e > 0 ? 1 : e < 0 ? -1 : 0, mode)); // |d| >= 1: never tiny
    h.fflags |= fixFlags;
  } else if (e === 0) {
    h.f[rd] = d;
  } else {
    h.f[rd] = finishD(d, e, mode);
    h.fflags |= fixFlags;
  }
}

/** FCVT.S.D */
export function cvtSD(h: FpuHost, rd: number, rs1: number, mode: number): void {
  const x = h.f[rs1];
  if (x - x === 0) {
    if (x === 0) {
      writeS(h, rd, x);
      return;
    }
    const r = finishS(x, 0, mode);
    if (r === r) {
      writeS(h, rd, r);
      h.fflags |= fixFlags;
    } else {
      h.fflags |= softRound(x, true, mode);
      writeRes(h, rd);
    }
    return;
  }
  if (x !== x) {
    h.fflags |= snanD(h, rs1);
    writeNaNS(h, rd);
  } else {
    writeS(h, rd, x); // infinity
  }
}

/** FCVT.D.S (exact) */
export function cvtDS(h: FpuHost, rd: number, rs1: number): void {
  const bits = sBits(h, rs1);
  if (isNaN32(bits)) {
    h.fflags |= snanS(bits);
    writeNaND(h, rd);
  } else {
    h.f[rd] = f32FromBits(bits);
  }
}

/** FMV.X.W: low 32 bits, sign-extended, without checking the NaN box. */
export function fmvXW(h: FpuHost, rd: number, rs1: number): void {
  const v = h.fi[2 * rs1];
  writeX(h, rd, v, v >> 31);
}
/** FMV.X.D */
export function fmvXD(h: FpuHost, rd: number, rs1: number): void {
  writeX(h, rd, h.fi[2 * rs1], h.fi[2 * rs1 + 1]);
}
/** FMV.W.X: NaN-box the low 32 bits of x[rs1]. */
export function fmvWX(h: FpuHost, rd: number, rs1: number): void {
  h.fi[2 * rd] = h.x[2 * rs1];
  h.fi[2 * rd + 1] = -1;
}
/** FMV.D.X */
export function fmvDX(h: FpuHost, rd: number, rs1: number): void {
  const lo = h.x[2 * rs1];
  const hi = h.x[2 * rs1 + 1];
  h.fi[2 * rd] = lo;
  h.fi[2 * rd + 1] = hi;
}

// ---------------------------------------------------------------------------------------
// Non-rounding F/D instructions: FSGNJ/FSGNJN/FSGNJX (raw bit operations, no NaN
// canonicalisation), FMIN/FMAX (IEEE 754-2019 minimumNumber/maximumNumber: -0 < +0, a
// single NaN operand yields the other operand, two NaNs the canonical NaN, sNaN raises NV),
// FEQ (quiet) / FLT / FLE (signalling), and FCLASS.
// Single-precision operands go through the NaN-box check (sBits): a value whose upper 32
// bits are not all ones reads as the canonical NaN.
// ---------------------------------------------------------------------------------------


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
