/**
 * The exact slow path of the FPU: a small fixed-point accumulator that sums a few doubles
 * (each scaled by a power of two) exactly, and one rounding routine per format that turns
 * the normalized sum into IEEE bits for any rounding mode with exact flags (tininess after
 * rounding, UF only when tiny and inexact, OF with NX).
 *
 * Every slow operation reduces to "exact value = sum of doubles (+ a sticky tail of known
 * sign)": a product of two 53-bit significands is P + E (Dekker, exact on integers), a
 * quotient or square root is the host result plus the sign of its exact residual.
 * No BigInt, no allocation: state is module-level.
 */
import {
  F64,
  I64,
  NX,
  OF,
  RDN,
  RES,
  RMM,
  RNE,
  RTZ,
  RUP,
  TWO32,
  TWO52,
  TWO53,
  UF,
  pow2,
  twoProdErr,
} from "./fpu-core.js";

// ---------------------------------------------------------------------------------------
// Accumulator: value = sum ACC[i] * 2^(32 i + accBase)  (+ tail * epsilon)
// Limbs are doubles holding integers; carries are resolved lazily in accFinish.
// ---------------------------------------------------------------------------------------

const NL = 8;
const ACC = new Float64Array(NL);
let accBase = 0;
/** Sign of the part that fell below the window (-1, 0, +1); the first tail recorded wins. */
let accTail = 0;

/** Normalized result of accFinish: value = (-1)^uNeg * sig * 2^(uExp - 62), sig = uHi:uLo with bit 62 set, bit 0 sticky. */
let uNeg = false;
let uExp = 0;
let uHi = 0;
let uLo = 0;

/** Exponent of the most significant bit of finite nonzero x (an upper bound -1023 for subnormals). */
export function topExp(x: number): number {
  F64[0] = x;
  const be = (I64[1] >>> 20) & 0x7ff;
  return be === 0 ? -1023 : be - 1023;
}

function accReset(top: number): void {
  for (let i = 0; i < NL; i++) ACC[i] = 0;
  accBase = top - 200;
  accTail = 0;
}

/**
 * Add x * 2^off exactly (x finite; zero is ignored). Terms must be added so that the first
 * term with bits below the window dominates every later such term (callers guarantee it).
 */
function accAdd(x: number, off: number): void {
  if (x === 0) return;
  F64[0] = x;
  const hi = I64[1];
  const lo = I64[0];
  const neg = hi < 0;
  const be = (hi >>> 20) & 0x7ff;
  let mHi = (hi & 0xfffff) | (be !== 0 ? 0x100000 : 0);
  let mLo = lo >>> 0;
  let sh = (be === 0 ? 1 : be) - 1075 + off - accBase;
  if (sh < 0) {
    const k = -sh;
    let lost: boolean;
    if (k >= 53) {
      lost = true;
      mHi = 0;
      mLo = 0;
    } else if (k >= 32) {
      const j = k - 32;
      lost = mLo !== 0 || (j !== 0 && mHi << (32 - j) !== 0);
      mLo = mHi >>> j;
      mHi = 0;
    } else {
      lost = mLo << (32 - k) !== 0;
      mLo = ((mLo >>> k) | (mHi << (32 - k))) >>> 0;
      mHi = mHi >>> k;
    }
    if (lost && accTail === 0) accTail = neg ? -1 : 1;
    sh = 0;
  }
  const i = sh >>> 5;
  const b = sh & 31;
  let w0: number, w1: number, w2: number;
  if (b === 0) {
    w0 = mLo;
    w1 = mHi;
    w2 = 0;
  } else {
    w0 = (mLo << b) >>> 0;
    w1 = ((mLo >>> (32 - b)) | (mHi << b)) >>> 0;
    w2 = mHi >>> (32 - b);
  }
  if (neg) {
    ACC[i] -= w0;
    ACC[i + 1] -= w1;
    if (w2 !== 0) ACC[i + 2] -= w2;
  } else {
    ACC[i] += w0;
    ACC[i + 1] += w1;
    if (w2 !== 0) ACC[i + 2] += w2;
  }
}

/** Resolve carries and normalize into uNeg/uExp/uHi/uLo. Returns false if the sum is exactly zero. */
function accFinish(): boolean {
  const sticky = accTail !== 0;
  if (accTail < 0) ACC[0] -= 1; // v = (acc - 1) + (1 - eps)
  for (let i = 0; i < NL - 1; i++) {
    const v = ACC[i];
    const c = Math.floor(v / TWO32);
    ACC[i] = v - c * TWO32;
    ACC[i + 1] += c;
  }
  const neg = ACC[NL - 1] < 0;
  if (neg) {
    // |v| = ~acc (+1 when there is no fractional tail)
    for (let i = 0; i < NL - 1; i++) ACC[i] = 4294967295 - ACC[i];
    ACC[NL - 1] = -1 - ACC[NL - 1];
    if (!sticky) {
      for (let i = 0; i < NL; i++) {
        const v = ACC[i] + 1;
        if (v === TWO32 && i < NL - 1) {
          ACC[i] = 0;
        } else {
          ACC[i] = v;
          break;
        }
      }
    }
  }
  let t = NL - 1;
  while (t >= 0 && ACC[t] === 0) t--;
  uNeg = neg;
  if (t < 0) {
    if (!sticky) return false;
    // Only a sub-window tail remains (not produced by the callers' window choices): a tiny nonzero.
    uExp = accBase - 1;
    uHi = 0x40000000;
    uLo = 1;
    return true;
  }
  const top = ACC[t];
  const z = Math.clz32(top);
  const w2 = top >>> 0;
  const w1 = t >= 1 ? ACC[t - 1] >>> 0 : 0;
  const w0 = t >= 2 ? ACC[t - 2] >>> 0 : 0;
  let st = sticky;
  for (let i = t - 3; i >= 0; i--) if (ACC[i] !== 0) st = true;
  let H: number, L: number, rest: number;
  if (z === 0) {
    H = w2 >>> 1;
    L = (w2 << 31) | (w1 >>> 1);
    rest = (w1 & 1) | w0;
  } else if (z === 1) {
    H = w2;
    L = w1;
    rest = w0;
  } else {
    const s = z - 1;
    H = (w2 << s) | (w1 >>> (32 - s));
    L = (w1 << s) | (w0 >>> (32 - s));
    rest = w0 << s;
  }
  if (rest !== 0 || st) L |= 1;
  uExp = accBase + 32 * t + 31 - z;
  uHi = H | 0;
  uLo = L | 0;
  return true;
}

// ---------------------------------------------------------------------------------------
// Rounding and packing
// ---------------------------------------------------------------------------------------

let sjHi = 0;
let sjLo = 0;
/** Shift the 64-bit hi:lo right by n >= 1, OR-ing lost bits into bit 0. */
function shiftRightJam(hi: number, lo: number, n: number): void {
  if (n >= 64) {
    sjHi = 0;
    sjLo = (hi | lo) !== 0 ? 1 : 0;
  } else if (n >= 32) {
    const k = n - 32;
    const lost = (k === 0 ? 0 : hi << (32 - k)) | lo;
    sjLo = (hi >>> k) | (lost !== 0 ? 1 : 0);
    sjHi = 0;
  } else {
    sjLo = (lo >>> n) | (hi << (32 - n)) | (lo << (32 - n) !== 0 ? 1 : 0);
    sjHi = hi >>> n;
  }
}

/** rest: 0 exact, 1 below half, 2 exactly half, 3 above half. Returns 1 to round the magnitude up. */
function roundInc(m: number, rest: number, neg: boolean, mode: number): number {
  if (rest === 0) return 0;
  switch (mode) {
    case RNE:
      return rest === 3 || (rest === 2 && (m & 1) !== 0) ? 1 : 0;
    case RTZ:
      return 0;
    case RDN:
      return neg ? 1 : 0;
    case RUP:
      return neg ? 0 : 1;
    default: // RMM
      return rest >= 2 ? 1 : 0;
  }
}

function restD(lo: number): number {
  const r = lo & 0x3ff;
  return r === 0 ? 0 : r < 0x200 ? 1 : r === 0x200 ? 2 : 3;
}

function restS(hi: number, lo: number): number {
  const r = hi & 0x7f;
  if (r === 0 && lo === 0) return 0;
  if (r < 0x40) return 1;
  return r === 0x40 && lo === 0 ? 2 : 3;
}

/** True when overflow in `mode` yields infinity (otherwise the largest finite magnitude). */
function overflowToInf(neg: boolean, mode: number): boolean {
  return mode === RNE || mode === RMM || (mode === RDN && neg) || (mode === RUP && !neg);
}

/** Round (-1)^neg * (hi:lo) * 2^(exp-62) (bit 62 set, bit 0 sticky) to binary64 into RES. Returns flags. */
export function roundPackD(neg: boolean, exp: number, hi: number, lo: number, mode: number): number {
  let tiny = false;
  if (exp < -1022) {
    tiny = true;
    if (exp === -1023) {
      // tininess after rounding: does rounding to 53 bits with unbounded exponent reach 2^-1022?
      const m = hi * 4194304 + (lo >>> 10);
      if (m + roundInc(m, restD(lo), neg, mode) === TWO53) tiny = false;
    }
    shiftRightJam(hi, lo, -1022 - exp);
    hi = sjHi;
    lo = sjLo;
    exp = -1022;
  }
  let m = hi * 4194304 + (lo >>> 10);
  const rest = restD(lo);
  let flags = 0;
  if (rest !== 0) flags = tiny ? NX | UF : NX;
  m += roundInc(m, rest, neg, mode);
  if (m === TWO53) {
    m = TWO52;
    exp++;
  }
  const sign = neg ? 0x80000000 : 0;
  if (exp > 1023) {
    if (overflowToInf(neg, mode)) {
      RES[1] = sign | 0x7ff00000;
      RES[0] = 0;
    } else {
      RES[1] = sign | 0x7fefffff;
      RES[0] = -1;
    }
    return OF | NX;
  }
  let be = 0;
  if (m >= TWO52) {
    be = exp + 1023;
    m -= TWO52;
  }
  const mh = Math.floor(m / TWO32);
  RES[1] = sign | (be << 20) | mh;
  RES[0] = m - mh * TWO32;
  return flags;
}

/** Round (-1)^neg * (hi:lo) * 2^(exp-62) to binary32 into RES (boxed). Returns flags. */
export function roundPackS(neg: boolean, exp: number, hi: number, lo: number, mode: number): number {
  let tiny = false;
  if (exp < -126) {
    tiny = true;
    if (exp === -127) {
      const m = hi >>> 7;
      if (m + roundInc(m, restS(hi, lo), neg, mode) === 0x1000000) tiny = false;
    }
    shiftRightJam(hi, lo, -126 - exp);
    hi = sjHi;
    lo = sjLo;
    exp = -126;
  }
  let m = hi >>> 7;
  const rest = restS(hi, lo);
  let flags = 0;
  if (rest !== 0) flags = tiny ? NX | UF : NX;
  m += roundInc(m, rest, neg, mode);
  if (m === 0x1000000) {
    m = 0x800000;
    exp++;
  }
  const sign = neg ? 0x80000000 : 0;
  RES[1] = -1;
  if (exp > 127) {
    RES[0] = overflowToInf(neg, mode) ? sign | 0x7f800000 : sign | 0x7f7fffff;
    return OF | NX;
  }
  let be = 0;
  if (m >= 0x800000) {
    be = exp + 127;
    m -= 0x800000;
  }
  RES[0] = sign | (be << 23) | m;
  return flags;
}

function packAcc(isS: boolean, mode: number): number {
  return isS ? roundPackS(uNeg, uExp, uHi, uLo, mode) : roundPackD(uNeg, uExp, uHi, uLo, mode);
}

/** Exact zero result: +0, or -0 in RDN (the IEEE sign rule for an exact zero sum of opposite signs). */
function packZero(isS: boolean, mode: number): number {
  const sign = mode === RDN ? 0x80000000 : 0;
  if (isS) {
    RES[0] = sign;
    RES[1] = -1;
  } else {
    RES[0] = 0;
    RES[1] = sign;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------
// Significand extraction: x = +-sigM * 2^sigE, sigM an integer held exactly in a double
// ---------------------------------------------------------------------------------------

let sigM = 0;
let sigE = 0;
function sigOf(x: number): void {
  F64[0] = x;
  const hi = I64[1];
  const be = (hi >>> 20) & 0x7ff;
  sigM = ((hi & 0xfffff) + (be !== 0 ? 0x100000 : 0)) * TWO32 + (I64[0] >>> 0);
  sigE = (be !== 0 ? be : 1) - 1075;
}
/** sigOf followed by normalization of sigM into [2^52, 2^53). */
function normSigOf(x: number): void {
  sigOf(x);
  if (sigM < TWO52) {
    F64[0] = sigM;
    const k = 52 - (((I64[1] >>> 20) & 0x7ff) - 1023);
    sigM *= pow2(k);
    sigE -= k;
  }
}

// ---------------------------------------------------------------------------------------
// Slow operations. Inputs are exact values (floats widened to double for isS); operands are
// finite, and NaN/infinity/zero special cases are resolved by the callers unless noted.
// Each writes RES and returns flags.
// ---------------------------------------------------------------------------------------

/** Round the finite nonzero double x to the format (FCVT.S.D, or re-rounding a value). */
export function softRound(x: number, isS: boolean, mode: number): number {
  accReset(topExp(x));
  accAdd(x, 0);
  accFinish();
  return packAcc(isS, mode);
}

/** a + b, exactly rounded (zero operands allowed). */
export function softAdd(a: number, b: number, isS: boolean, mode: number): number {
  if (a === 0 && b === 0) {
    // +0 + +0 = +0, -0 + -0 = -0, mixed: +0 (RDN: -0)
    const na = 1 / a < 0;
    const nb = 1 / b < 0;
    const neg = na === nb ? na : mode === RDN;
    RES[1] = isS ? -1 : neg ? 0x80000000 | 0 : 0;
    RES[0] = isS && neg ? 0x80000000 | 0 : 0;
    return 0;
  }
  const big = Math.abs(a) >= Math.abs(b);
  const x = big ? a : b;
  const y = big ? b : a;
  accReset(topExp(x));
  accAdd(x, 0);
  accAdd(y, 0);
  if (!accFinish()) return packZero(isS, mode);
  return packAcc(isS, mode);
}

/** a * b with a, b finite nonzero. */
export function softMul(a: number, b: number, isS: boolean, mode: number): number {
  sigOf(a);
  const ma = sigM;
  const ea = sigE;
  sigOf(b);
  const mb = sigM;
  const off = ea + sigE;
  let p = ma * mb;
  let e = twoProdErr(ma, mb, p); // exact: integers below 2^53
  if (a < 0 !== b < 0) {
    p = -p;
    e = -e;
  }
  accReset(topExp(p) + off);
  accAdd(p, off);
  accAdd(e, off);
  accFinish();
  return packAcc(isS, mode);
}

/** a / b with a, b finite nonzero. */
export function softDiv(a: number, b: number, isS: boolean, mode: number): number {
  normSigOf(a);
  const ma = sigM;
  const ea = sigE;
  normSigOf(b);
  const mb = sigM;
  const off = ea - sigE;
  let q = ma / mb; // in (1/2, 2)
  const pq = q * mb;
  const rem = ma - pq - twoProdErr(q, mb, pq); // sign of (exact - q) * mb
  let tail = rem > 0 ? 1 : rem < 0 ? -1 : 0;
  if (a < 0 !== b < 0) {
    q = -q;
    tail = -tail;
  }
  accReset(topExp(q) + off);
  accAdd(q, off);
  accTail = tail;
  accFinish();
  return packAcc(isS, mode);
}

/** sqrt(a) with a finite and > 0. */
export function softSqrt(a: number, isS: boolean, mode: number): number {
  normSigOf(a);
  let m = sigM;
  let e = sigE;
  if ((e & 1) !== 0) {
    m *= 2;
    e -= 1;
  }
  const s = Math.sqrt(m); // in [2^26, 2^27)
  const ps = s * s;
  const rem = m - ps - twoProdErr(s, s, ps);
  const off = e / 2;
  accReset(topExp(s) + off);
  accAdd(s, off);
  accTail = rem > 0 ? 1 : rem < 0 ? -1 : 0;
  accFinish();
  return packAcc(isS, mode);
}

/** a * b + c with a, b finite nonzero and c finite (possibly zero). */
export function softFma(a: number, b: number, c: number, isS: boolean, mode: number): number {
  sigOf(a);
  const ma = sigM;
  const ea = sigE;
  sigOf(b);
  const mb = sigM;
  const off = ea + sigE;
  let p = ma * mb;
  let e = twoProdErr(ma, mb, p);
  if (a < 0 !== b < 0) {
    p = -p;
    e = -e;
  }
  const topP = topExp(p) + off;
  let top = topP;
  if (c !== 0) {
    const topC = topExp(c);
    if (topC > top) top = topC;
  }
  accReset(top);
  // Either c lies wholly in the window (then only p/e can have a tail, p dominating e), or
  // p and e lie wholly in it (then only c can have a tail).
  accAdd(c, 0);
  accAdd(p, off);
  accAdd(e, off);
  if (!accFinish()) return packZero(isS, mode);
  return packAcc(isS, mode);
}
