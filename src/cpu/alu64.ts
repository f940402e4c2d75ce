/**
 * 64-bit integer arithmetic on int32 halves, for the interpreter.
 *
 * A 64-bit value is a pair (lo, hi) of int32s: lo holds bits 31:0 and hi bits 63:32
 * (so hi < 0 exactly when the value, read as signed, is negative). Every function that
 * produces a 64-bit value writes it into `x[d]` (low) and `x[d + 1]` (high), which is the
 * layout of the hart's register file (`x[2r]`, `x[2r + 1]`).
 *
 * Everything here runs once per guest instruction: no BigInt, no allocation, no throw.
 * Intermediate results are held in module-level scratch variables.
 *
 * Exactness notes used below:
 * - Any integer of magnitude < 2^53 is an exact double, and sums/products that stay below
 *   2^53 are computed exactly.
 * - `v | 0` and `v >>> 0` reduce any exact integer double modulo 2^32 (ToInt32/ToUint32),
 *   so they extract the low word of an exact result of any size.
 * - For integers 0 <= n < 2^53 and 1 <= m, `Math.floor(n / m)` is the exact quotient:
 *   the rounding error of n / m is below (n / m) * 2^-53 < 1/m, while a non-integer n / m
 *   is at least 1/m away from any integer, so rounding never crosses an integer. The same
 *   argument gives `Math.trunc(n / m)` for signed n, m with |n| < 2^53.
 */

const TWO32 = 4294967296;

/** Largest `hi` word for which (lo, hi) is below 2^53 in magnitude whatever lo is. */
const HI53 = 0x1fffff;

// Scratch results (module-level so nothing is allocated).
let sLo = 0; // mulhuCore result
let sHi = 0;
let qLo = 0; // divuCore quotient
let qHi = 0;
let rLo = 0; // divuCore remainder
let rHi = 0;

// ---------------------------------------------------------------------------
// Multiplication

/** High 32 bits (as int32) of the unsigned 64-bit product of two uint32s, from 16-bit limbs. */
export function mulhu32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  // Each partial product is below 2^32 and exact.
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  // Bits 16..47: the carry out of the middle column is (mid >>> 16).
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) | 0;
}

/** High 64 bits of the unsigned 128-bit product a * b, into (sLo, sHi). */
function mulhuCore(aLo: number, aHi: number, bLo: number, bHi: number): void {
  if (aHi === 0 && bHi === 0) {
    // Both below 2^32: the product is below 2^64.
    sLo = 0;
    sHi = 0;
    return;
  }
  // Schoolbook on 32-bit digits; column sums of a few uint32s are exact doubles.
  const h00 = mulhu32(aLo, bLo) >>> 0;
  const l01 = Math.imul(aLo, bHi) >>> 0;
  const h01 = mulhu32(aLo, bHi) >>> 0;
  const l10 = Math.imul(aHi, bLo) >>> 0;
  const h10 = mulhu32(aHi, bLo) >>> 0;
  const l11 = Math.imul(aHi, bHi) >>> 0;
  const h11 = mulhu32(aHi, bHi) >>> 0;
  const col1 = h00 + l01 + l10; // bits 32..63 (+ carry), < 3 * 2^32
  const col2 = h01 + h10 + l11 + Math.floor(col1 / TWO32); // bits 64..95
  sLo = col2 | 0;
  sHi = (h11 + Math.floor(col2 / TWO32)) | 0; // bits 96..127; cannot overflow
}

/** MUL: low 64 bits of a * b (the same for signed and unsigned operands). */
export function mul64(x: Int32Array, d: number, aLo: number, aHi: number, bLo: number, bHi: number): void {
  x[d] = Math.imul(aLo, bLo);
  // Cross terms only matter modulo 2^32; the three-term int32 sum is exact before `| 0`.
  x[d + 1] = (mulhu32(aLo, bLo) + Math.imul(aLo, bHi) + Math.imul(aHi, bLo)) | 0;
}

/** MULHU: high 64 bits of unsigned a * unsigned b. */
export function mulhu64(x: Int32Array, d: number, aLo: number, aHi: number, bLo: number, bHi: number): void {
  mulhuCore(aLo, aHi, bLo, bHi);
  x[d] = sLo;
  x[d + 1] = sHi;
}

/**
 * MULH: high 64 bits of signed a * signed b.
 * Uses hi_s(a*b) = hi_u(a*b) - (a < 0 ? b : 0) - (b < 0 ? a : 0) (mod 2^64).
 */
export function mulh64(x: Int32Array, d: number, aLo: number, aHi: number, bLo: number, bHi: number): void {
  if (aHi === aLo >> 31 && bHi === bLo >> 31) {
    // Both are sign-extended int32s: |a * b| <= 2^62, so the high half is just the sign.
    const s = (aLo < 0) !== (bLo < 0) && aLo !== 0 && bLo !== 0 ? -1 : 0;
    x[d] = s;
    x[d + 1] = s;
    return;
  }
  mulhuCore(aLo, aHi, bLo, bHi);
  let lo = sLo;
  let hi = sHi;
  if (aHi < 0) {
    const t = (lo - bLo) | 0;
    hi = (hi - bHi - ((lo >>> 0) < (bLo >>> 0) ? 1 : 0)) | 0;
    lo = t;
  }
  if (bHi < 0) {
    const t = (lo - aLo) | 0;
    hi = (hi - aHi - ((lo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
    lo = t;
  }
  x[d] = lo;
  x[d + 1] = hi;
}

/**
 * MULHSU: high 64 bits of signed a * unsigned b.
 * Uses hi(a*b) = hi_u(a*b) - (a < 0 ? b : 0) (mod 2^64).
 */
export function mulhsu64(x: Int32Array, d: number, aLo: number, aHi: number, bLo: number, bHi: number): void {
  mulhuCore(aLo, aHi, bLo, bHi);
  let lo = sLo;
  let hi = sHi;
  if (aHi < 0) {
    const t = (lo - bLo) | 0;
    hi = (hi - bHi - ((lo >>> 0) < (bLo >>> 0) ? 1 : 0)) | 0;
    lo = t;
  }
  x[d] = lo;
  x[d + 1] = hi;
}

// ---------------------------------------------------------------------------
// Division

/** Write an integer double v, |v| < 2^53, as (lo, hi) into x[d], x[d + 1]. */
function storeDouble(x: Int32Array, d: number, v: number): void {
  x[d] = v | 0;
  x[d + 1] = Math.floor(v / TWO32) | 0; // v / 2^32 is exact, so the floor is too
}

/**
 * Unsigned 64-bit division a / b for b != 0: quotient into (qLo, qHi), remainder into
 * (rLo, rHi).
 */
function divuCore(aLo: number, aHi: number, bLo: number, bHi: number): void {
  const aH = aHi >>> 0;
  const bH = bHi >>> 0;
  const aL = aLo >>> 0;
  const bL = bLo >>> 0;

  if (aH <= HI53 && bH <= HI53) {
    // Both below 2^53: one exact double division.
    const a = aH * TWO32 + aL;
    const b = bH * TWO32 + bL;
    const q = Math.floor(a / b);
    const r = a - q * b;
    qLo = q | 0;
    qHi = Math.floor(q / TWO32) | 0;
    rLo = r | 0;
    rHi = Math.floor(r / TWO32) | 0;
    return;
  }

  if (bH === 0) {
    // Divisor below 2^32: long division by one 32-bit word, then two 16-bit digits.
    // Each partial dividend is (r < b) * 2^16 + digit < 2^48, so each step is exact.
    const q2 = Math.floor(aH / bL);
    let r = aH - q2 * bL;
    let n = r * 65536 + (aL >>> 16);
    const q1 = Math.floor(n / bL);
    r = n - q1 * bL;
    n = r * 65536 + (aL & 0xffff);
    const q0 = Math.floor(n / bL);
    r = n - q0 * bL;
    qHi = q2 | 0;
    qLo = (q1 * 65536 + q0) | 0;
    rLo = r | 0;
    rHi = 0;
    return;
  }

  // Divisor >= 2^32, so the quotient is below 2^32: shift-subtract, one quotient bit per
  // step, at most 32 steps. Align the divisor's top bit with the dividend's.
  const shift = Math.clz32(bH) - Math.clz32(aH);
  if (shift < 0) {
    qLo = 0;
    qHi = 0;
    rLo = aLo;
    rHi = aHi;
    return;
  }
  let dL = (bL << shift) >>> 0;
  let dH = shift === 0 ? bH : ((bH << shift) | (bL >>> (32 - shift))) >>> 0;
  let remL = aL;
  let remH = aH;
  let q = 0;
  for (let i = shift; i >= 0; i--) {
    if (remH > dH || (remH === dH && remL >= dL)) {
      // rem -= divisor << i
      const borrow = remL < dL ? 1 : 0;
      remL = (remL - dL) >>> 0;
      remH = (remH - dH - borrow) >>> 0;
      q |= 1 << i;
    }
    dL = ((dL >>> 1) | (dH << 31)) >>> 0;
    dH >>>= 1;
  }
  qLo = q;
  qHi = 0;
  rLo = remL | 0;
  rHi = remH | 0;
}

/**
 * Signed 64-bit division for b != 0 via the unsigned core on magnitudes: quotient into
 * (qLo, qHi), remainder (sign of the dividend) into (rLo, rHi). INT64_MIN / -1 comes out
 * as quotient INT64_MIN, remainder 0, as RISC-V requires.
 */
function divCore(aLo: number, aHi: number, bLo: number, bHi: number): void {
  const negA = aHi < 0;
  const negB = bHi < 0;
  if (negA) {
    aLo = -aLo | 0;
    aHi = (~aHi + (aLo === 0 ? 1 : 0)) | 0;
  }
  if (negB) {
    bLo = -bLo | 0;
    bHi = (~bHi + (bLo === 0 ? 1 : 0)) | 0;
  }
  divuCore(aLo, aHi, bLo, bHi);
  if (negA !== negB) {
    qLo = -qLo | 0;
    qHi = (~qHi + (qLo === 0 ? 1 : 0)) | 0;
  }
  if (negA) {
    rLo = -rLo | 0;
    rHi = (~rHi + (rLo === 0 ? 1 : 0)) | 0;
  }
}

/** True when (lo, hi) read as signed has magnitude below 2^53 (with a little margin). */
function fits53(hi: number): boolean {
  return hi >= -HI53 && hi <= HI53;
}

/** DIV: signed a / b rounded toward zero; x / 0 = -1; INT64_MIN / -1 = INT64_MIN. */
export function div64(x: Int32Array, d: number, aLo: number, aHi: number, bLo: number, bHi: number): void {
  if (bLo === 0 && bHi === 0) {
    x[d] = -1;
    x[d + 1] = -1;
  } else if (fits53(aHi) && fits53(bHi)) {
    storeDouble(x, d, Math.trunc((aHi * TWO32 + (aLo >>> 0)) / (bHi * TWO32 + (bLo >>> 0))));
  } else {
    divCore(aLo, aHi, bLo, bHi);
    x[d] = qLo;
    x[d + 1] = qHi;
  }
}

/** DIVU: unsigned a / b; x / 0 = 2^64 - 1. */
export function divu64(x: Int32Array, d: number, aLo: number, aHi: number, bLo: number, bHi: number): void {
  if (bLo === 0 && bHi === 0) {
    x[d] = -1;
    x[d + 1] = -1;
  } else {
    divuCore(aLo, aHi, bLo, bHi);
    x[d] = qLo;
    x[d + 1] = qHi;
  }
}

/** REM: signed remainder with the sign of a; x % 0 = x; INT64_MIN % -1 = 0. */
export function rem64(x: Int32Array, d: number, aLo: number, aHi: number, bLo: number, bHi: number): void {
  if (bLo === 0 && bHi === 0) {
    x[d] = aLo;
    x[d + 1] = aHi;
  } else if (fits53(aHi) && fits53(bHi)) {
    const a = aHi * TWO32 + (aLo >>> 0);
    const b = bHi * TWO32 + (bLo >>> 0);
    storeDouble(x, d, a - Math.trunc(a / b) * b);
  } else {
    divCore(aLo, aHi, bLo, bHi);
    x[d] = rLo;
    x[d + 1] = rHi;
  }
}

/** REMU: unsigned remainder; x % 0 = x. */
export function remu64(x: Int32Array, d: number, aLo: number, aHi: number, bLo: number, bHi: number): void {
  if (bLo === 0 && bHi === 0) {
    x[d] = aLo;
    x[d + 1] = aHi;
  } else {
    divuCore(aLo, aHi, bLo, bHi);
    x[d] = rLo;
    x[d + 1] = rHi;
  }
}

// ---------------------------------------------------------------------------
// RV64M word forms: operands are the low 32 bits of the registers (as int32); the 32-bit
// result is sign-extended to 64 bits (also for the unsigned ones).

/** Write int32 r sign-extended into x[d], x[d + 1]. */
function storeW(x: Int32Array, d: number, r: number): void {
  x[d] = r;
  x[d + 1] = r >> 31;
}

/** MULW: low 32 bits of a * b, sign-extended. */
export function mulw(x: Int32Array, d: number, a: number, b: number): void {
  storeW(x, d, Math.imul(a, b));
}

/** DIVW: signed 32-bit a / b toward zero; x / 0 = -1; INT32_MIN / -1 = INT32_MIN. */
export function divw(x: Int32Array, d: number, a: number, b: number): void {
  a |= 0;
  b |= 0;
  if (b === 0) storeW(x, d, -1);
  else if (b === -1) storeW(x, d, -a | 0); // -INT32_MIN wraps to INT32_MIN
  else storeW(x, d, (a / b) | 0); // |a / b| < 2^31 here, and `| 0` truncates toward zero
}

/** DIVUW: unsigned 32-bit a / b, sign-extended; x / 0 = 2^64 - 1. */
export function divuw(x: Int32Array, d: number, a: number, b: number): void {
  if ((b | 0) === 0) storeW(x, d, -1);
  else storeW(x, d, ((a >>> 0) / (b >>> 0)) | 0); // |0 truncates the positive quotient
}

/** REMW: signed 32-bit remainder (sign of a), sign-extended; x % 0 = x; INT32_MIN % -1 = 0. */
export function remw(x: Int32Array, d: number, a: number, b: number): void {
  a |= 0;
  b |= 0;
  if (b === 0) storeW(x, d, a);
  else storeW(x, d, a % b | 0); // exact for int32s; `| 0` turns -0 into 0
}

/** REMUW: unsigned 32-bit remainder, sign-extended; x % 0 = x (sign-extended from bit 31). */
export function remuw(x: Int32Array, d: number, a: number, b: number): void {
  if ((b | 0) === 0) storeW(x, d, a | 0);
  else storeW(x, d, ((a >>> 0) % (b >>> 0)) | 0);
}

// ---------------------------------------------------------------------------
// Helpers for the rest of RV64I.

/** Unsigned a < b (SLTU, BLTU, BGEU). */
export function ltu64(aLo: number, aHi: number, bLo: number, bHi: number): boolean {
  return aHi === bHi ? aLo >>> 0 < bLo >>> 0 : aHi >>> 0 < bHi >>> 0;
}

/** Signed a < b (SLT, BLT, BGE). */
export function lt64(aLo: number, aHi: number, bLo: number, bHi: number): boolean {
  return aHi === bHi ? aLo >>> 0 < bLo >>> 0 : (aHi | 0) < (bHi | 0);
}

/** ADD: a + b modulo 2^64. */
export function add64(x: Int32Array, d: number, aLo: number, aHi: number, bLo: number, bHi: number): void {
  const lo = (aLo + bLo) | 0;
  x[d] = lo;
  x[d + 1] = (aHi + bHi + (lo >>> 0 < aLo >>> 0 ? 1 : 0)) | 0;
}

/** SUB: a - b modulo 2^64. */
export function sub64(x: Int32Array, d: number, aLo: number, aHi: number, bLo: number, bHi: number): void {
  x[d] = (aLo - bLo) | 0;
  x[d + 1] = (aHi - bHi - (aLo >>> 0 < bLo >>> 0 ? 1 : 0)) | 0;
}

/** SLL: (lo, hi) << (sh & 63). */
export function sll64(x: Int32Array, d: number, lo: number, hi: number, sh: number): void {
  sh &= 63;
  if (sh === 0) {
    x[d] = lo;
    x[d + 1] = hi;
  } else if (sh < 32) {
    x[d] = lo << sh;
    x[d + 1] = (hi << sh) | (lo >>> (32 - sh));
  } else {
    x[d] = 0;
    x[d + 1] = lo << (sh - 32);
  }
}

/** SRL: (lo, hi) >> (sh & 63), logical. */
export function srl64(x: Int32Array, d: number, lo: number, hi: number, sh: number): void {
  sh &= 63;
  if (sh === 0) {
    x[d] = lo;
    x[d + 1] = hi;
  } else if (sh < 32) {
    x[d] = (lo >>> sh) | (hi << (32 - sh));
    x[d + 1] = hi >>> sh;
  } else {
    x[d] = hi >>> (sh - 32);
    x[d + 1] = 0;
  }
}

/** SRA: (lo, hi) >> (sh & 63), arithmetic. */
export function sra64(x: Int32Array, d: number, lo: number, hi: number, sh: number): void {
  sh &= 63;
  if (sh === 0) {
    x[d] = lo;
    x[d + 1] = hi;
  } else if (sh < 32) {
    x[d] = (lo >>> sh) | (hi << (32 - sh));
    x[d + 1] = hi >> sh;
  } else {
    x[d] = hi >> (sh - 32);
    x[d + 1] = hi >> 31;
  }
}
