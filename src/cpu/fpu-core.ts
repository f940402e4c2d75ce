/**
 * Shared pieces of the F/D implementation: flag and rounding-mode constants, module-level
 * scratch views for bit access, error-free transformations (TwoSum, Dekker TwoProduct),
 * neighbour stepping, and the fast-path fix-ups that turn a host round-to-nearest result
 * plus the sign of its exact error into a correctly rounded result in any RISC-V mode.
 *
 * Nothing here allocates or throws; multi-value results go through module-level scratch.
 */

// ---- exception flags (fflags bits) ----
export const NV = 16;
export const DZ = 8;
export const OF = 4;
export const UF = 2;
export const NX = 1;

// ---- rounding modes (rm field / frm) ----
export const RNE = 0;
export const RTZ = 1;
export const RDN = 2;
export const RUP = 3;
export const RMM = 4;

/** Canonical NaN bit patterns. */
export const CNAN_S = 0x7fc00000;
export const CNAN_D_HI = 0x7ff80000;

// ---- scratch views (little-endian host: index 0 = low word) ----
export const F64 = new Float64Array(1);
export const I64 = new Int32Array(F64.buffer);
export const F32 = new Float32Array(1);
export const I32 = new Int32Array(F32.buffer);

/** Result bits of slow-path routines: RES[0] low word, RES[1] high word (S results are boxed: RES[1] = -1). */
export const RES = new Int32Array(2);

// ---- constants ----
export const TWO32 = 4294967296;
export const TWO52 = 4503599627370496;
export const TWO53 = 9007199254740992;
export const MIN_NORMAL_S = 1.1754943508222875e-38; // 2^-126
export const MAX_S = 3.4028234663852886e38;
/** Veltkamp splitter for doubles: 2^27 + 1. */
const SPLIT = 134217729;

/** 2^k for -1022 <= k <= 1023, built from bits (exact, no Math.pow). */
export function pow2(k: number): number {
  I64[0] = 0;
  I64[1] = (k + 1023) << 20;
  return F64[0];
}

// ---- bit helpers ----
export function f32FromBits(bits: number): number {
  I32[0] = bits;
  return F32[0];
}
export function isSNaN32(bits: number): boolean {
  return (bits & 0x7fc00000) === 0x7f800000 && (bits & 0x003fffff) !== 0;
}
export function isSNaN64(hi: number, lo: number): boolean {
  return (hi & 0x7ff80000) === 0x7ff00000 && ((hi & 0x0007ffff) | lo) !== 0;
}
export function isNaN32(bits: number): boolean {
  return (bits & 0x7fffffff) > 0x7f800000;
}

// ---- error-free transformations ----
/** Exact error of s = fl(a + b) (Knuth TwoSum); valid whenever s is finite. */
export function twoSumErr(a: number, b: number, s: number): number {
  const bb = s - a;
  return a - (s - bb) + (b - bb);
}

/**
 * Exact error of p = fl(a * b) (Dekker TwoProduct with Veltkamp splitting). Valid when
 * |a|, |b| <= 2^995, no partial product overflows, and lsb(a)*lsb(b) >= 2^-1074.
 */
export function twoProdErr(a: number, b: number, p: number): number {
  let t = SPLIT * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return al * bl - (p - ah * bh - al * bh - ah * bl);
}

// ---- neighbours ----
/** The double adjacent to finite nonzero r, one step in direction dir (+1 up, -1 down). */
export function nextD(r: number, dir: number): number {
  F64[0] = r;
  let lo = I64[0];
  let hi = I64[1];
  if (r > 0 === dir > 0) {
    lo = (lo + 1) | 0;
    if (lo === 0) hi = (hi + 1) | 0;
  } else {
    if (lo === 0) hi = (hi - 1) | 0;
    lo = (lo - 1) | 0;
  }
  I64[0] = lo;
  I64[1] = hi;
  return F64[0];
}

/** The float adjacent to finite nonzero float r, one step in direction dir. */
export function nextS(r: number, dir: number): number {
  F32[0] = r;
  I32[0] += r > 0 === dir > 0 ? 1 : -1;
  return F32[0];
}

// ---- fast-path fix-ups ----

/** Flags produced by the last finishD/finishS call. */
export let fixFlags = 0;

/**
 * r is the host round-to-nearest-even result (finite, nonzero, normal and not tiny);
 * err is the exact error (exact - r), or any value of the right sign when a tie is
 * impossible (then |err| must not equal half a gap; the callers pass +-5e-324).
 * Returns the correctly rounded result for `mode`; sets fixFlags (NX, and OF|NX when a
 * directed step goes past the largest finite value).
 */
export function finishD(r: number, err: number, mode: number): number {
  if (err === 0) {
    fixFlags = 0;
    return r;
  }
  let res = r;
  switch (mode) {
    case RTZ:
      if (err > 0 !== r > 0) res = nextD(r, err);
      break;
    case RDN:
      if (err < 0) res = nextD(r, -1);
      break;
    case RUP:
      if (err > 0) res = nextD(r, 1);
      break;
    case RMM: {
      const n = nextD(r, err);
      if (2 * err === n - r && Math.abs(n) > Math.abs(r)) res = n;
      break;
    }
  }
  fixFlags = res - res === 0 ? NX : OF | NX;
  return res;
}

/**
 * Single-precision rounding from a double: d = RN53(exact) and dir = sign(exact - d)
 * (-1, 0, 1). Returns the correctly rounded float value (as a double) for `mode`, setting
 * fixFlags, or NaN when the result is tiny, zero or overflows (the caller then takes the
 * exact slow path). Handles the double-rounding case where d sits exactly on a float midpoint.
 */
export function finishS(d: number, dir: number, mode: number): number {
  let r = Math.fround(d);
  const ar = Math.abs(r);
  if (!(ar > MIN_NORMAL_S && ar <= MAX_S)) {
    if (r === d && dir === 0) {
      fixFlags = 0;
      return r;
    }
    return NaN;
  }
  const diff = d - r; // exact
  let edir: number; // sign(exact - r)
  let tie = false;
  if (diff === 0) {
    if (dir === 0) {
      fixFlags = 0;
      return r;
    }
    edir = dir;
  } else {
    const up = diff > 0 ? 1 : -1;
    // n = 2d - r is exact in double; it is a float (the neighbour of r) iff d is a midpoint
    const n = r + 2 * diff;
    if (Math.fround(n) === n) {
      // d is exactly halfway between r and n
      if (dir === 0) {
        tie = true;
        edir = up;
      } else if (dir === up) {
        r = n; // exact lies beyond the midpoint, nearer to n
        edir = -up;
      } else {
        edir = up;
      }
    } else {
      edir = up;
    }
  }
  let res = r;
  switch (mode) {
    case RTZ:
      if (edir > 0 !== r > 0) res = nextS(r, edir);
      break;
    case RDN:
      if (edir < 0) res = nextS(r, -1);
      break;
    case RUP:
      if (edir > 0) res = nextS(r, 1);
      break;
    case RMM:
      if (tie) {
        const n = nextS(r, edir);
        if (Math.abs(n) > Math.abs(r)) res = n;
      }
      break;
  }
  fixFlags = res - res === 0 ? NX : OF | NX;
  return res;
}

/** The register state the FPU works on (implemented by the hart). */
export interface FpuHost {
  /** Integer registers as int32 halves: x[2r] low 32 bits, x[2r+1] high 32 bits. */
  readonly x: Int32Array;
  /** 32 floating-point registers. */
  readonly f: Float64Array;
  /** Same buffer as f: fi[2r] low 32 bits, fi[2r+1] high 32 bits. */
  readonly fi: Int32Array;
  /** Accrued exception flags NV=16 DZ=8 OF=4 UF=2 NX=1. */
  fflags: number;
  /** Dynamic rounding mode 0..7. */
  frm: number;
}

/** Unboxed single-precision operand bits: the canonical NaN unless the upper half is all ones. */
export function sBits(h: FpuHost, r: number): number {
  return h.fi[2 * r + 1] === -1 ? h.fi[2 * r] : CNAN_S;
}
export function writeS(h: FpuHost, rd: number, v: number): void {
  F32[0] = v;
  h.fi[2 * rd] = I32[0];
  h.fi[2 * rd + 1] = -1;
}
export function writeSBits(h: FpuHost, rd: number, bits: number): void {
  h.fi[2 * rd] = bits;
  h.fi[2 * rd + 1] = -1;
}
export function writeNaNS(h: FpuHost, rd: number): void {
  h.fi[2 * rd] = CNAN_S;
  h.fi[2 * rd + 1] = -1;
}
export function writeNaND(h: FpuHost, rd: number): void {
  h.fi[2 * rd] = 0;
  h.fi[2 * rd + 1] = CNAN_D_HI;
}
/** Copy the slow-path result RES into f[rd]. */
export function writeRes(h: FpuHost, rd: number): void {
  h.fi[2 * rd] = RES[0];
  h.fi[2 * rd + 1] = RES[1];
}
/** NV if f[r] holds a signalling NaN (double view). */
export function snanD(h: FpuHost, r: number): number {
  return isSNaN64(h.fi[2 * r + 1], h.fi[2 * r]) ? NV : 0;
}
/** NV if the unboxed single bits are a signalling NaN. */
export function snanS(bits: number): number {
  return isSNaN32(bits) ? NV : 0;
}
