/**
 * TEST SUPPORT ONLY (imported by fpu*.test.ts, never by the emulator): an exact BigInt
 * reference model of IEEE 754 binary32/binary64 arithmetic with RISC-V's choices (canonical
 * NaNs, tininess after rounding, saturating conversions), instruction encoders, a register
 * harness, and a seeded random-vector generator.
 */
import { type FpuHost, fpuExecute } from "./fpu.js";

export const FNV = 16;
export const FDZ = 8;
export const FOF = 4;
export const FUF = 2;
export const FNX = 1;
export const MODES = [0, 1, 2, 3, 4] as const;
export const MODE_NAMES = ["RNE", "RTZ", "RDN", "RUP", "RMM"];

export interface Fmt {
  readonly name: "S" | "D";
  readonly p: number; // precision incl. hidden bit
  readonly ebits: number;
  readonly bias: number;
  readonly emin: number;
  readonly emax: number;
  readonly w: number;
  readonly canon: bigint;
}
export const S: Fmt = { name: "S", p: 24, ebits: 8, bias: 127, emin: -126, emax: 127, w: 32, canon: 0x7fc00000n };
export const D: Fmt = { name: "D", p: 53, ebits: 11, bias: 1023, emin: -1022, emax: 1023, w: 64, canon: 0x7ff8000000000000n };

export interface Res {
  bits: bigint; // raw result bits in the format (for integer results: the 64-bit register value)
  flags: number;
}

// ---------------------------------------------------------------------------------------
// decoding / encoding
// ---------------------------------------------------------------------------------------

export type Val =
  | { kind: "nan"; snan: boolean }
  | { kind: "inf"; neg: boolean }
  | { kind: "fin"; neg: boolean; m: bigint; e: number }; // |v| = m * 2^e, m may be 0 (zero)

export function decode(bits: bigint, f: Fmt): Val {
  const fracBits = BigInt(f.p - 1);
  const neg = ((bits >> BigInt(f.w - 1)) & 1n) === 1n;
  const be = Number((bits >> fracBits) & ((1n << BigInt(f.ebits)) - 1n));
  const frac = bits & ((1n << fracBits) - 1n);
  const beMax = (1 << f.ebits) - 1;
  if (be === beMax) {
    if (frac === 0n) return { kind: "inf", neg };
    return { kind: "nan", snan: ((frac >> (fracBits - 1n)) & 1n) === 0n };
  }
  if (be === 0) return { kind: "fin", neg, m: frac, e: f.emin - (f.p - 1) };
  return { kind: "fin", neg, m: frac | (1n << fracBits), e: be - f.bias - (f.p - 1) };
}

function signBit(neg: boolean, f: Fmt): bigint {
  return neg ? 1n << BigInt(f.w - 1) : 0n;
}
export function infBits(neg: boolean, f: Fmt): bigint {
  return signBit(neg, f) | (((1n << BigInt(f.ebits)) - 1n) << BigInt(f.p - 1));
}
export function maxBits(neg: boolean, f: Fmt): bigint {
  return infBits(neg, f) - 1n;
}
export function zeroBits(neg: boolean, f: Fmt): bigint {
  return signBit(neg, f);
}

function bitlen(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

// ---------------------------------------------------------------------------------------
// exact rounding of a positive rational
// ---------------------------------------------------------------------------------------

/** Round num/den / 2^q to an integer in `mode` (sign `neg` for directed modes). */
function roundAt(num: bigint, den: bigint, q: number, neg: boolean, mode: number): { m: bigint; inexact: boolean } {
  let n = num;
  let d = den;
  if (q >= 0) d = den << BigInt(q);
  else n = num << BigInt(-q);
  const i = n / d;
  const r = n - i * d;
  if (r === 0n) return { m: i, inexact: false };
  const twice = 2n * r;
  const cmp = twice < d ? -1 : twice === d ? 0 : 1;
  let up: boolean;
  switch (mode) {
    case 0:
      up = cmp > 0 || (cmp === 0 && (i & 1n) === 1n);
      break;
    case 1:
      up = false;
      break;
    case 2:
      up = neg;
      break;
    case 3:
      up = !neg;
      break;
    default:
      up = cmp >= 0;
  }
  return { m: up ? i + 1n : i, inexact: true };
}

/** floor(log2(num/den)) for positive num, den. */
function ilog2(num: bigint, den: bigint): number {
  let e = bitlen(num) - bitlen(den);
  const below = e >= 0 ? num < den << BigInt(e) : num << BigInt(-e) < den;
  if (below) e--;
  return e;
}

/** Correctly round (-1)^neg * num/den (num, den > 0) to the format. */
export function roundRat(neg: boolean, num: bigint, den: bigint, f: Fmt, mode: number): Res {
  const E = ilog2(num, den);
  // rounding with unbounded exponent range: decides overflow and (after-rounding) tininess
  const u = roundAt(num, den, E - (f.p - 1), neg, mode);
  const eU = u.m === 1n << BigInt(f.p) ? E + 1 : E;
  if (eU > f.emax) {
    const toInf = mode === 0 || mode === 4 || (mode === 2 && neg) || (mode === 3 && !neg);
    return { bits: toInf ? infBits(neg, f) : maxBits(neg, f), flags: FOF | FNX };
  }
  const tiny = eU < f.emin;
  const qA = Math.max(E, f.emin) - (f.p - 1);
  const a = roundAt(num, den, qA, neg, mode);
  let m = a.m;
  const hidden = 1n << BigInt(f.p - 1);
  let bits: bigint;
  if (m >= hidden) {
    let e = qA + (f.p - 1);
    if (m === hidden << 1n) {
      m >>= 1n;
      e++;
    }
    bits = signBit(neg, f) | (BigInt(e + f.bias) << BigInt(f.p - 1)) | (m - hidden);
  } else {
    bits = signBit(neg, f) | m;
  }
  let flags = 0;
  if (a.inexact) flags |= FNX;
  if (a.inexact && tiny) flags |= FUF;
  return { bits, flags };
}

/** Round the exact value (-1)^neg * n * 2^e (n > 0). */
function roundScaled(neg: boolean, n: bigint, e: number, f: Fmt, mode: number): Res {
  return e >= 0 ? roundRat(neg, n << BigInt(e), 1n, f, mode) : roundRat(neg, n, 1n << BigInt(-e), f, mode);
}

function canon(f: Fmt, flags: number): Res {
  return { bits: f.canon, flags };
}
function isSnan(v: Val): boolean {
  return v.kind === "nan" && v.snan;
}
function isZero(v: Val): boolean {
  return v.kind === "fin" && v.m === 0n;
}
function negate<T extends Val>(v: T): T {
  if (v.kind === "nan") return v;
  return { ...v, neg: !v.neg };
}

/** Exact sum of two finite values as n * 2^e (n signed). */
function exactSum(an: boolean, am: bigint, ae: number, bn: boolean, bm: bigint, be: number): { n: bigint; e: number } {
  const e = Math.min(ae, be);
  const x = am << BigInt(ae - e);
  const y = bm << BigInt(be - e);
  return { n: (an ? -x : x) + (bn ? -y : y), e };
}

// ---------------------------------------------------------------------------------------
// reference operations
// ---------------------------------------------------------------------------------------

export function refAdd(a: bigint, b: bigint, f: Fmt, mode: number, sub = false): Res {
  const x = decode(a, f);
  let y = decode(b, f);
  if (sub) y = negate(y);
  if (x.kind === "nan" || y.kind === "nan") return canon(f, isSnan(x) || isSnan(y) ? FNV : 0);
  if (x.kind === "inf" || y.kind === "inf") {
    if (x.kind === "inf" && y.kind === "inf" && x.neg !== y.neg) return canon(f, FNV);
    const neg = x.kind === "inf" ? x.neg : (y as { neg: boolean }).neg;
    return { bits: infBits(neg, f), flags: 0 };
  }
  const s = exactSum(x.neg, x.m, x.e, y.neg, y.m, y.e);
  if (s.n === 0n) {
    const neg = isZero(x) && isZero(y) && x.neg === y.neg ? x.neg : mode === 2;
    return { bits: zeroBits(neg, f), flags: 0 };
  }
  return roundScaled(s.n < 0n, s.n < 0n ? -s.n : s.n, s.e, f, mode);
}

export function refMul(a: bigint, b: bigint, f: Fmt, mode: number): Res {
  const x = decode(a, f);
  const y = decode(b, f);
  const invalid = (x.kind === "inf" && isZero(y)) || (isZero(x) && y.kind === "inf");
  if (x.kind === "nan" || y.kind === "nan") return canon(f, isSnan(x) || isSnan(y) ? FNV : 0);
  if (invalid) return canon(f, FNV);
  const neg = x.neg !== y.neg;
  if (x.kind === "inf" || y.kind === "inf") return { bits: infBits(neg, f), flags: 0 };
  if (x.m === 0n || y.m === 0n) return { bits: zeroBits(neg, f), flags: 0 };
  return roundScaled(neg, x.m * y.m, x.e + y.e, f, mode);
}

export function refDiv(a: bigint, b: bigint, f: Fmt, mode: number): Res {
  const x = decode(a, f);
  const y = decode(b, f);
  if (x.kind === "nan" || y.kind === "nan") return canon(f, isSnan(x) || isSnan(y) ? FNV : 0);
  const neg = x.neg !== y.neg;
  if (x.kind === "inf") return y.kind === "inf" ? canon(f, FNV) : { bits: infBits(neg, f), flags: 0 };
  if (y.kind === "inf") return { bits: zeroBits(neg, f), flags: 0 };
  if (y.m === 0n) return x.m === 0n ? canon(f, FNV) : { bits: infBits(neg, f), flags: FDZ };
  if (x.m === 0n) return { bits: zeroBits(neg, f), flags: 0 };
  // x.m 2^x.e / (y.m 2^y.e)
  const k = x.e - y.e;
  return k >= 0
    ? roundRat(neg, x.m << BigInt(k), y.m, f, mode)
    : roundRat(neg, x.m, y.m << BigInt(-k), f, mode);
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(bitlen(n) / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

export function refSqrt(a: bigint, f: Fmt, mode: number): Res {
  const x = decode(a, f);
  if (x.kind === "nan") return canon(f, x.snan ? FNV : 0);
  if (x.kind === "fin" && x.m === 0n) return { bits: a, flags: 0 };
  if (x.neg) return canon(f, FNV);
  if (x.kind === "inf") return { bits: a, flags: 0 };
  // sqrt(m 2^e) = sqrt(m 2^T) 2^((e - T)/2) with T even-adjusted and large
  let T = 2 * (f.p + 8);
  if (((T - x.e) & 1) !== 0) T++;
  const n = x.m << BigInt(T);
  const r = isqrt(n);
  const half = (x.e - T) / 2; // value = sqrt(n) * 2^half
  if (r * r === n) return roundScaled(false, r, half, f, mode);
  // r < sqrt(n) < r + 1 and r has > p + 2 bits: r + 1/2 rounds the same way
  return roundScaled(false, 2n * r + 1n, half - 1, f, mode);
}

/** (+-a*b) +- c with one rounding. */
export function refFma(a: bigint, b: bigint, c: bigint, f: Fmt, mode: number, negProd: boolean, negAdd: boolean): Res {
  const x0 = decode(a, f);
  const y = decode(b, f);
  const z0 = decode(c, f);
  const x = negProd ? negate(x0) : x0;
  const z = negAdd ? negate(z0) : z0;
  const invalidProd = (x.kind === "inf" && isZero(y)) || (isZero(x) && y.kind === "inf");
  if (x.kind === "nan" || y.kind === "nan" || z.kind === "nan") {
    return canon(f, isSnan(x) || isSnan(y) || isSnan(z) || invalidProd ? FNV : 0);
  }
  if (invalidProd) return canon(f, FNV);
  const pNeg = x.neg !== y.neg;
  if (x.kind === "inf" || y.kind === "inf") {
    if (z.kind === "inf" && z.neg !== pNeg) return canon(f, FNV);
    return { bits: infBits(pNeg, f), flags: 0 };
  }
  if (z.kind === "inf") return { bits: infBits(z.neg, f), flags: 0 };
  const s = exactSum(pNeg, x.m * y.m, x.e + y.e, z.neg, z.m, z.e);
  if (s.n === 0n) {
    const prodZero = x.m === 0n || y.m === 0n;
    const neg = prodZero && z.m === 0n && pNeg === z.neg ? pNeg : mode === 2;
    return { bits: zeroBits(neg, f), flags: 0 };
  }
  return roundScaled(s.n < 0n, s.n < 0n ? -s.n : s.n, s.e, f, mode);
}

const M64 = (1n << 64n) - 1n;

/** FCVT.<int>.<f>: kind 0 W, 1 WU, 2 L, 3 LU. Result is the 64-bit register value. */
export function refCvtToInt(a: bigint, f: Fmt, kind: number, mode: number): Res {
  const x = decode(a, f);
  const lim: [bigint, bigint][] = [
    [-(1n << 31n), (1n << 31n) - 1n],
    [0n, (1n << 32n) - 1n],
    [-(1n << 63n), (1n << 63n) - 1n],
    [0n, (1n << 64n) - 1n],
  ];
  const [lo, hi] = lim[kind];
  const reg = (v: bigint): bigint => {
    // 32-bit results are sign-extended from bit 31
    if (kind < 2) {
      const w = v & 0xffffffffn;
      return (w & 0x80000000n ? w | (M64 ^ 0xffffffffn) : w) & M64;
    }
    return v & M64;
  };
  if (x.kind === "nan") return { bits: reg(hi), flags: FNV };
  if (x.kind === "inf") return { bits: reg(x.neg ? lo : hi), flags: FNV };
  let v: bigint;
  let inexact: boolean;
  if (x.m === 0n) {
    v = 0n;
    inexact = false;
  } else {
    const r = x.e >= 0 ? roundAt(x.m << BigInt(x.e), 1n, 0, x.neg, mode) : roundAt(x.m, 1n << BigInt(-x.e), 0, x.neg, mode);
    v = x.neg ? -r.m : r.m;
    inexact = r.inexact;
  }
  if (v < lo) return { bits: reg(lo), flags: FNV };
  if (v > hi) return { bits: reg(hi), flags: FNV };
  return { bits: reg(v), flags: inexact ? FNX : 0 };
}

/** FCVT.<f>.<int>: src is the 64-bit register value. */
export function refCvtFromInt(src: bigint, f: Fmt, kind: number, mode: number): Res {
  let v: bigint;
  const s = src & M64;
  if (kind === 0) v = BigInt.asIntN(32, s);
  else if (kind === 1) v = BigInt.asUintN(32, s);
  else if (kind === 2) v = BigInt.asIntN(64, s);
  else v = s;
  if (v === 0n) return { bits: 0n, flags: 0 };
  return roundRat(v < 0n, v < 0n ? -v : v, 1n, f, mode);
}

/** FCVT between formats. */
export function refCvtFF(a: bigint, from: Fmt, to: Fmt, mode: number): Res {
  const x = decode(a, from);
  if (x.kind === "nan") return canon(to, x.snan ? FNV : 0);
  if (x.kind === "inf") return { bits: infBits(x.neg, to), flags: 0 };
  if (x.m === 0n) return { bits: zeroBits(x.neg, to), flags: 0 };
  return roundScaled(x.neg, x.m, x.e, to, mode);
}

// ---------------------------------------------------------------------------------------
// harness
// ---------------------------------------------------------------------------------------

export function makeHost(): FpuHost {
  const f = new Float64Array(32);
  return { x: new Int32Array(66), f, fi: new Int32Array(f.buffer), fflags: 0, frm: 0 };
}
export function setF(h: FpuHost, r: number, bits: bigint): void {
  h.fi[2 * r] = Number(bits & 0xffffffffn) | 0;
  h.fi[2 * r + 1] = Number((bits >> 32n) & 0xffffffffn) | 0;
}
export function getF(h: FpuHost, r: number): bigint {
  return (BigInt(h.fi[2 * r + 1] >>> 0) << 32n) | BigInt(h.fi[2 * r] >>> 0);
}
export function setX(h: FpuHost, r: number, v: bigint): void {
  h.x[2 * r] = Number(v & 0xffffffffn) | 0;
  h.x[2 * r + 1] = Number((v >> 32n) & 0xffffffffn) | 0;
}
export function getX(h: FpuHost, r: number): bigint {
  return (BigInt(h.x[2 * r + 1] >>> 0) << 32n) | BigInt(h.x[2 * r] >>> 0);
}
/** NaN-box a 32-bit pattern into a 64-bit register value. */
export function box(bits32: bigint): bigint {
  return 0xffffffff00000000n | (bits32 & 0xffffffffn);
}
/** The register value for an operand of format f. */
export function reg(bits: bigint, f: Fmt): bigint {
  return f.w === 32 ? box(bits) : bits;
}

export function encR(funct7: number, rs2: number, rs1: number, rm: number, rd: number): number {
  return ((funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | 0x53) >>> 0;
}
export function encR4(opcode: number, fmt: number, rs3: number, rs2: number, rs1: number, rm: number, rd: number): number {
  return ((rs3 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | opcode) >>> 0;
}

/** Run one instruction on a fresh host with f1, f2, f3 = operands; returns rd=f4's bits (or x10) and flags. */
export function runFp(insn: number, ops: bigint[], intResult = false, frm = 0): Res & { ok: boolean } {
  const h = makeHost();
  h.frm = frm;
  ops.forEach((v, i) => setF(h, i + 1, v));
  const ok = fpuExecute(h, insn);
  return { ok, bits: intResult ? getX(h, 10) : getF(h, 4), flags: h.fflags };
}

// ---------------------------------------------------------------------------------------
// seeded random vectors
// ---------------------------------------------------------------------------------------

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** mulberry32 */
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  int(n: number): number {
    return this.u32() % n;
  }
  bits(n: number): bigint {
    let v = 0n;
    for (let i = 0; i < n; i += 32) v = (v << 32n) | BigInt(this.u32());
    return v & ((1n << BigInt(n)) - 1n);
  }
}

/** Interesting fixed values of a format (bit patterns). */
export function specials(f: Fmt): bigint[] {
  const fb = BigInt(f.p - 1);
  const one = BigInt(f.bias) << fb;
  const sb = 1n << BigInt(f.w - 1);
  const list = [
    0n,
    1n, // min subnormal
    (1n << fb) - 1n, // max subnormal
    1n << fb, // min normal
    maxBits(false, f),
    infBits(false, f),
    f.canon,
    f.canon | 1n, // quiet NaN with payload
    infBits(false, f) | 1n, // signalling NaN
    one, // 1.0
    one | (1n << (fb - 1n)), // 1.5
    one + (1n << fb), // 2.0
    one - 1n, // just below 1
    one + 1n, // just above 1
  ];
  return [...list, ...list.map((b) => b | sb)];
}

/** Random value of format f biased towards boundaries: subnormals, near overflow, near 1, sparse/dense mantissas. */
export function randVal(rng: Rng, f: Fmt, expHint?: number): bigint {
  const fb = f.p - 1;
  const sp = specials(f);
  if (expHint === undefined && rng.int(100) < 6) return sp[rng.int(sp.length)];
  const beMax = (1 << f.ebits) - 2;
  let be: number;
  const k = rng.int(100);
  if (expHint !== undefined) be = expHint + rng.int(2 * f.p + 5) - f.p - 2;
  else if (k < 25) be = rng.int(beMax + 1);
  else if (k < 45) be = rng.int(f.p + 4);
  else if (k < 60) be = beMax - rng.int(f.p + 4);
  else be = f.bias - 40 + rng.int(81);
  if (be < 0) be = 0;
  if (be > beMax) be = beMax;
  let m = rng.bits(fb);
  const mk = rng.int(10);
  if (mk < 2) m &= ~((1n << BigInt(rng.int(fb + 1))) - 1n); // trailing zeros
  else if (mk < 3) m |= (1n << BigInt(rng.int(fb + 1))) - 1n; // trailing ones
  else if (mk < 4) m = rng.int(3) === 0 ? 0n : 1n << BigInt(rng.int(fb));
  const neg = rng.int(2) === 1;
  return (neg ? 1n << BigInt(f.w - 1) : 0n) | (BigInt(be) << BigInt(fb)) | m;
}

/** Biased exponent field of a pattern. */
export function biasedExp(bits: bigint, f: Fmt): number {
  return Number((bits >> BigInt(f.p - 1)) & ((1n << BigInt(f.ebits)) - 1n));
}

export function hex(v: bigint, w = 64): string {
  return "0x" + (v & ((1n << BigInt(w)) - 1n)).toString(16).padStart(w / 4, "0");
}
