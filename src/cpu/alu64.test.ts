import { test } from "node:test";
import assert from "node:assert/strict";
import {
  add64, div64, divu64, divuw, divw, lt64, ltu64, mul64, mulh64, mulhsu64, mulhu64, mulw,
  rem64, remu64, remuw, remw, sll64, sra64, srl64, sub64,
} from "./alu64.js";

// ---------------------------------------------------------------------------
// BigInt reference model (BigInt is fine here: only the implementation must avoid it).

const M64 = (1n << 64n) - 1n;
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const loOf = (v: bigint): number => Number(v & 0xffffffffn) | 0;
const hiOf = (v: bigint): number => Number((u64(v) >> 32n) & 0xffffffffn) | 0;
const join = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
const hex = (v: bigint): string => "0x" + u64(v).toString(16).padStart(16, "0");
const INT64_MIN = -(1n << 63n);

type Op64 = (x: Int32Array, d: number, aLo: number, aHi: number, bLo: number, bHi: number) => void;
type OpW = (x: Int32Array, d: number, a: number, b: number) => void;

/** Reference results; a and b are unsigned 64-bit values, the result is taken modulo 2^64. */
const OPS64: Array<[string, Op64, (a: bigint, b: bigint) => bigint]> = [
  ["mul", mul64, (a, b) => a * b],
  ["mulh", mulh64, (a, b) => (s64(a) * s64(b)) >> 64n],
  ["mulhsu", mulhsu64, (a, b) => (s64(a) * b) >> 64n],
  ["mulhu", mulhu64, (a, b) => (a * b) >> 64n],
  [
    "div",
    div64,
    (a, b) => (b === 0n ? -1n : s64(a) === INT64_MIN && s64(b) === -1n ? INT64_MIN : s64(a) / s64(b)),
  ],
  ["divu", divu64, (a, b) => (b === 0n ? M64 : a / b)],
  ["rem", rem64, (a, b) => (b === 0n ? a : s64(a) === INT64_MIN && s64(b) === -1n ? 0n : s64(a) % s64(b))],
  ["remu", remu64, (a, b) => (b === 0n ? a : a % b)],
  ["add", add64, (a, b) => a + b],
  ["sub", sub64, (a, b) => a - b],
];

/** Word forms: a and b are the low 32 bits as signed BigInts; result is sign-extended from 32 bits. */
const INT32_MIN = -(1n << 31n);
const u32 = (v: bigint): bigint => BigInt.asUintN(32, v);
const OPSW: Array<[string, OpW, (a: bigint, b: bigint) => bigint]> = [
  ["mulw", mulw, (a, b) => a * b],
  ["divw", divw, (a, b) => (b === 0n ? -1n : a === INT32_MIN && b === -1n ? INT32_MIN : a / b)],
  ["divuw", divuw, (a, b) => (b === 0n ? -1n : u32(a) / u32(b))],
  ["remw", remw, (a, b) => (b === 0n ? a : a === INT32_MIN && b === -1n ? 0n : a % b)],
  ["remuw", remuw, (a, b) => (b === 0n ? a : u32(a) % u32(b))],
];

const x = new Int32Array(8);
const D = 2; // write into the middle of the array so stray writes would show

/** Check every 64-bit op on (a, b); collects failures instead of throwing per case. */
function check64(a: bigint, b: bigint, bad: string[]): void {
  a = u64(a);
  b = u64(b);
  for (const [name, fn, ref] of OPS64) {
    x.fill(0x5a5a5a5a);
    fn(x, D, loOf(a), hiOf(a), loOf(b), hiOf(b));
    const got = join(x[D]!, x[D + 1]!);
    const want = u64(ref(a, b));
    if (got !== want || x[D - 1] !== 0x5a5a5a5a || x[D + 2] !== 0x5a5a5a5a)
      bad.push(`${name}(${hex(a)}, ${hex(b)}) = ${hex(got)}, want ${hex(want)}`);
  }
  const ltu = ltu64(loOf(a), hiOf(a), loOf(b), hiOf(b));
  if (ltu !== a < b) bad.push(`ltu64(${hex(a)}, ${hex(b)}) = ${ltu}`);
  const lt = lt64(loOf(a), hiOf(a), loOf(b), hiOf(b));
  if (lt !== s64(a) < s64(b)) bad.push(`lt64(${hex(a)}, ${hex(b)}) = ${lt}`);
}

function checkW(a: number, b: number, bad: string[]): void {
  a |= 0;
  b |= 0;
  for (const [name, fn, ref] of OPSW) {
    x.fill(0x5a5a5a5a);
    fn(x, D, a, b);
    const got = join(x[D]!, x[D + 1]!);
    const want = u64(BigInt.asIntN(32, ref(BigInt(a), BigInt(b))));
    if (got !== want || x[D - 1] !== 0x5a5a5a5a || x[D + 2] !== 0x5a5a5a5a)
      bad.push(`${name}(${a}, ${b}) = ${hex(got)}, want ${hex(want)}`);
  }
}

function report(bad: string[]): void {
  assert.deepEqual(bad.slice(0, 20), [], `${bad.length} failures`);
}

// ---------------------------------------------------------------------------
// Inputs

const P = (n: bigint | number): bigint => 1n << BigInt(n);

/** Spec corner cases and the boundaries of every fast path in alu64.ts. */
const CORNERS: bigint[] = (() => {
  const base = [
    0n, 1n, 2n, 3n, 7n, 10n, 0x55555555n, INT64_MIN, INT64_MIN + 1n, P(63) - 1n, M64, M64 - 1n,
    P(31) - 1n, P(31), P(31) + 1n, P(32) - 1n, P(32), P(32) + 1n, P(33), 0xffffffff00000000n,
    P(48) - 1n, P(48), P(52), P(53) - 1n, P(53), P(53) + 1n, P(54), P(21) << 32n, (P(21) - 1n) << 32n,
    P(63) - P(32), 0x5555555555555555n, 0xaaaaaaaaaaaaaaaan, 0x123456789abcdef0n, 0x8000000000000001n,
    0x00000001ffffffffn, 0x7fffffff80000000n, 0xfffffffe00000001n,
  ];
  const all = new Set<bigint>();
  for (const v of base) for (const w of [v, -v]) all.add(u64(w));
  return [...all];
})();

const CORNERS32 = [0, 1, -1, 2, -2, 3, 7, -7, 10, 0x7fffffff, -0x80000000, -0x7fffffff, 0xffff, 0x10000, -0x10000, 0x55555555, -0x55555556];

/** xorshift32 with a fixed seed: reproducible random words. */
let seed = 0x9e3779b9;
function rnd32(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}
const rnd64 = (): bigint => (BigInt(rnd32()) << 32n) | BigInt(rnd32());
/** Random value of a uniformly chosen bit width 0..64, randomly negated. */
function rndWidth(): bigint {
  const w = rnd32() % 65;
  const v = w === 0 ? 0n : rnd64() & (P(w) - 1n);
  return rnd32() & 1 ? -v : v;
}
const rndSmall = (): bigint => BigInt((rnd32() % 0x20001) - 0x10000); // [-2^16, 2^16]
const rnd53 = (): bigint => {
  const v = rnd64() & (P(53) - 1n);
  return rnd32() & 1 ? -v : v;
};
const rndInt32 = (): bigint => BigInt(rnd32() | 0);
const GENERATORS: Array<[string, () => bigint]> = [
  ["small", rndSmall],
  ["int32", rndInt32],
  ["53-bit", rnd53],
  ["64-bit", rnd64],
  ["any width", rndWidth],
];

// ---------------------------------------------------------------------------

test("64-bit ops: all pairs of corner cases match BigInt", () => {
  const bad: string[] = [];
  for (const a of CORNERS) for (const b of CORNERS) check64(a, b, bad);
  report(bad);
});

test("64-bit ops: ~100k random pairs from several distributions match BigInt", () => {
  seed = 0x9e3779b9;
  const bad: string[] = [];
  // Every pairing of distributions (25 of them), 4000 pairs each.
  for (const [, ga] of GENERATORS)
    for (const [, gb] of GENERATORS) for (let i = 0; i < 4000; i++) check64(ga(), gb(), bad);
  report(bad);
});

test("64-bit division: dividends near multiples of the divisor (quotient rounding)", () => {
  seed = 0x12345678;
  const bad: string[] = [];
  for (let i = 0; i < 20000; i++) {
    const b = u64(rndWidth()) || 1n;
    const q = rndWidth();
    const base = q * b;
    for (const delta of [-1n, 0n, 1n]) check64(base + delta, b, bad);
  }
  report(bad);
});

test("word ops: corner cases and random pairs match BigInt (sign-extended results)", () => {
  const bad: string[] = [];
  for (const a of CORNERS32) for (const b of CORNERS32) checkW(a, b, bad);
  seed = 0xdeadbeef;
  for (let i = 0; i < 50000; i++) {
    const a = i & 1 ? rnd32() : Number(rndSmall());
    const b = i & 2 ? rnd32() : Number(rndSmall());
    checkW(a, b, bad);
  }
  report(bad);
});

test("spec division-by-zero and overflow results", () => {
  const r = (fn: Op64, a: bigint, b: bigint): bigint => {
    fn(x, 0, loOf(u64(a)), hiOf(a), loOf(u64(b)), hiOf(b));
    return s64(join(x[0]!, x[1]!));
  };
  assert.equal(r(div64, 12345n, 0n), -1n);
  assert.equal(r(divu64, 12345n, 0n), -1n); // 2^64 - 1
  assert.equal(r(rem64, -12345n, 0n), -12345n);
  assert.equal(r(remu64, M64 - 5n, 0n), -6n);
  assert.equal(r(div64, INT64_MIN, -1n), INT64_MIN);
  assert.equal(r(rem64, INT64_MIN, -1n), 0n);
  const w = (fn: OpW, a: number, b: number): bigint => {
    fn(x, 0, a, b);
    return s64(join(x[0]!, x[1]!));
  };
  assert.equal(w(divw, 5, 0), -1n);
  assert.equal(w(divuw, 5, 0), -1n);
  assert.equal(w(remw, -5, 0), -5n);
  assert.equal(w(remuw, -5, 0), -5n); // remainder 0xfffffffb, sign-extended
  assert.equal(w(divw, -0x80000000, -1), -0x80000000n);
  assert.equal(w(remw, -0x80000000, -1), 0n);
  assert.equal(w(divuw, -1, 1), -1n); // 0xffffffff sign-extended
  assert.equal(w(mulw, 0x10000, 0x8000), -0x80000000n);
});

test("shifts: every amount 0..63 (and masking of larger amounts) match BigInt", () => {
  seed = 0x0badf00d;
  const bad: string[] = [];
  const values = [...CORNERS, ...Array.from({ length: 200 }, rnd64)];
  for (const v0 of values) {
    const v = u64(v0);
    for (let sh = 0; sh < 130; sh++) {
      const s = BigInt(sh & 63);
      const cases: Array<[string, typeof sll64, bigint]> = [
        ["sll", sll64, u64(v << s)],
        ["srl", srl64, v >> s],
        ["sra", sra64, u64(s64(v) >> s)],
      ];
      for (const [name, fn, want] of cases) {
        x.fill(0x5a5a5a5a);
        fn(x, D, loOf(v), hiOf(v), sh);
        const got = join(x[D]!, x[D + 1]!);
        if (got !== want || x[D - 1] !== 0x5a5a5a5a || x[D + 2] !== 0x5a5a5a5a)
          bad.push(`${name}(${hex(v)}, ${sh}) = ${hex(got)}, want ${hex(want)}`);
      }
    }
  }
  report(bad);
});

test("results are written as int32 halves into x[d], x[d+1] only", () => {
  const y = new Int32Array(4);
  mul64(y, 1, -1, -1, -1, -1); // (-1) * (-1) = 1
  assert.deepEqual([...y], [0, 1, 0, 0]);
  divu64(y, 2, 0, 1, 2, 0); // 2^32 / 2 = 2^31
  assert.deepEqual([...y], [0, 1, -0x80000000, 0]);
});
