/**
 * Conversions: FCVT.{W,WU,L,LU}.{S,D}, FCVT.{S,D}.{W,WU,L,LU}, FCVT.S.D, FCVT.D.S, and the
 * bit moves FMV.X.W, FMV.W.X, FMV.X.D, FMV.D.X.
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

/** Integer register write helper shared with the compare/classify instructions. */
export { writeX };
