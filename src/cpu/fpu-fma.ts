/**
 * FMADD/FMSUB/FNMSUB/FNMADD for S and D: (+-rs1 * rs2) +- rs3 with a single rounding.
 *
 * The negations are applied to the operands (-(a*b) = (-a)*b), which gives the RISC-V
 * signed-zero behaviour. Special cases follow the spec: sNaN operands and inf*0 raise NV
 * (inf*0 even when the addend is a quiet NaN), inf + -inf raises NV, NaN results are canonical.
 *
 * D fast path: with p + e = a*b exactly (Dekker) the exact value a*b + c is rewritten by
 * TwoSum steps as r + f + f2 where r = fl(s + w) and |f2| <= ulp(f)/2. If r + f rounds back
 * to r and f is not exactly half a gap (unless f2 = 0) then r is the correctly rounded
 * nearest-even result and sign(f) is the direction of the exact value, which fixes up the
 * other modes; otherwise the exact integer slow path decides. (The half-gap case really
 * occurs: s + w can be an exact midpoint with a nonzero tail f2. The "r + f rounds back to r"
 * test is defensive: when p + c is inexact |s| >= |p|/2, so |w| is a few ulps of s and it holds.)
 * S fast path: a*b is exact in double, so a*b + c is one double rounding away from exact,
 * with its exact error from TwoSum; finishS rounds to single.
 */
import {
  type FpuHost,
  NV,
  RDN,
  f32FromBits,
  finishD,
  finishS,
  fixFlags,
  nextD,
  pow2,
  sBits,
  snanD,
  snanS,
  twoProdErr,
  twoSumErr,
  writeNaND,
  writeNaNS,
  writeRes,
  writeS,
} from "./fpu-core.js";
import { softFma } from "./fpu-soft.js";

const P2_M1000 = pow2(-1000);
const P2_M960 = pow2(-960);
const P2_M1020 = pow2(-1020);
const P2_995 = pow2(995);
const P2_1020 = pow2(1020);

function isInf(x: number): boolean {
  return x === Infinity || x === -Infinity;
}

/**
 * Result of a fused multiply-add with a zero product (a or b is zero, all finite): c itself
 * when c != 0; otherwise the IEEE sign rule for the exact zero sum.
 */
function zeroProduct(a: number, b: number, c: number, mode: number): number {
  if (c !== 0) return c;
  const pNeg = 1 / a < 0 !== 1 / b < 0;
  const cNeg = 1 / c < 0;
  if (pNeg === cNeg) return c;
  return mode === RDN ? -0 : 0;
}

/**
 * Non-finite operands (at least one is NaN or infinite). Returns 0 for a NaN result (flags in
 * `specialFlags`), or the infinite result.
 */
let specialFlags = 0;
function special(a: number, b: number, c: number, snan: number): number {
  const invalidProduct = (isInf(a) && b === 0) || (a === 0 && isInf(b));
  if (a !== a || b !== b || c !== c) {
    specialFlags = snan | (invalidProduct ? NV : 0);
    return 0;
  }
  if (invalidProduct) {
    specialFlags = NV;
    return 0;
  }
  if (isInf(a) || isInf(b)) {
    const pNeg = a < 0 !== b < 0;
    if (isInf(c) && c < 0 !== pNeg) {
      specialFlags = NV; // inf - inf
      return 0;
    }
    specialFlags = 0;
    return pNeg ? -Infinity : Infinity;
  }
  specialFlags = 0;
  return c; // c infinite, product finite
}

export function fmaD(
  h: FpuHost,
  rd: number,
  rs1: number,
  rs2: number,
  rs3: number,
  negProd: boolean,
  negAdd: boolean,
  mode: number,
): void {
  const a = negProd ? -h.f[rs1] : h.f[rs1];
  const b = h.f[rs2];
  const c = negAdd ? -h.f[rs3] : h.f[rs3];
  if (!(a - a === 0 && b - b === 0 && c - c === 0)) {
    const r = special(a, b, c, snanD(h, rs1) | snanD(h, rs2) | snanD(h, rs3));
    h.fflags |= specialFlags;
    if (r === 0) writeNaND(h, rd);
    else h.f[rd] = r;
    return;
  }
  if (a === 0 || b === 0) {
    h.f[rd] = zeroProduct(a, b, c, mode);
    return;
  }
  const p = a * b;
  const ap = Math.abs(p);
  const aa = Math.abs(a);
  const ab = Math.abs(b);
  if (ap >= P2_M960 && ap <= P2_1020 && aa >= P2_M1000 && aa <= P2_995 && ab >= P2_M1000 && ab <= P2_995) {
    const e = twoProdErr(a, b, p);
    const s = p + c;
    const t = twoSumErr(p, c, s);
    const w = t + e;
    const w2 = twoSumErr(t, e, w);
    const r = s + w;
    const e3 = twoSumErr(s, w, r);
    const f = e3 + w2;
    const f2 = twoSumErr(e3, w2, f);
    const ar = Math.abs(r);
    if (ar >= P2_M1020 && ar <= P2_1020 && r + f === r) {
      if (f === 0) {
        h.f[rd] = r; // exact
        return;
      }
      if (f2 === 0 || 2 * f !== nextD(r, f) - r) {
        h.f[rd] = finishD(r, f, mode);
        h.fflags |= fixFlags;
        return;
      }
    }
  }
  h.fflags |= softFma(a, b, c, false, mode);
  writeRes(h, rd);
}

export function fmaS(
  h: FpuHost,
  rd: number,
  rs1: number,
  rs2: number,
  rs3: number,
  negProd: boolean,
  negAdd: boolean,
  mode: number,
): void {
  const ab = sBits(h, rs1);
  const bb = sBits(h, rs2);
  const cb = sBits(h, rs3);
  const a = negProd ? -f32FromBits(ab) : f32FromBits(ab);
  const b = f32FromBits(bb);
  const c = negAdd ? -f32FromBits(cb) : f32FromBits(cb);
  if (!(a - a === 0 && b - b === 0 && c - c === 0)) {
    const r = special(a, b, c, snanS(ab) | snanS(bb) | snanS(cb));
    h.fflags |= specialFlags;
    if (r === 0) writeNaNS(h, rd);
    else writeS(h, rd, r);
    return;
  }
  if (a === 0 || b === 0) {
    writeS(h, rd, zeroProduct(a, b, c, mode));
    return;
  }
  const p = a * b; // exact
  const d = p + c;
  const e = twoSumErr(p, c, d);
  if (d === 0) {
    writeS(h, rd, mode === RDN ? -0 : 0); // exact cancellation of nonzero terms
    return;
  }
  const r = finishS(d, e > 0 ? 1 : e < 0 ? -1 : 0, mode);
  if (r === r) {
    writeS(h, rd, r);
    h.fflags |= fixFlags;
  } else {
    h.fflags |= softFma(a, b, c, true, mode);
    writeRes(h, rd);
  }
}
