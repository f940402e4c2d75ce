import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  D,
  FNV,
  FNX,
  FUF,
  type Fmt,
  MODES,
  MODE_NAMES,
  type Res,
  Rng,
  S,
  biasedExp,
  encR4,
  hex,
  randVal,
  refFma,
  reg,
  runFp,
} from "./fpu-testkit.js";

const OPS = [
  { name: "FMADD", opcode: 0x43, negProd: false, negAdd: false },
  { name: "FMSUB", opcode: 0x47, negProd: false, negAdd: true },
  { name: "FNMSUB", opcode: 0x4b, negProd: true, negAdd: false },
  { name: "FNMADD", opcode: 0x4f, negProd: true, negAdd: true },
] as const;
type FmaOp = (typeof OPS)[number];

function exec(op: FmaOp, f: Fmt, a: bigint, b: bigint, c: bigint, mode: number): Res {
  const r = runFp(encR4(op.opcode, f === D ? 1 : 0, 3, 2, 1, mode, 4), [reg(a, f), reg(b, f), reg(c, f)]);
  assert.ok(r.ok);
  if (f === S) {
    assert.equal(r.bits >> 32n, 0xffffffffn, "S result must be NaN-boxed");
    return { bits: r.bits & 0xffffffffn, flags: r.flags };
  }
  return { bits: r.bits, flags: r.flags };
}

function check(failures: string[], op: FmaOp, f: Fmt, a: bigint, b: bigint, c: bigint, mode: number): void {
  const got = exec(op, f, a, b, c, mode);
  const want = refFma(a, b, c, f, mode, op.negProd, op.negAdd);
  if (got.bits !== want.bits || got.flags !== want.flags) {
    failures.push(
      `${op.name}.${f.name} ${MODE_NAMES[mode]} a=${hex(a, f.w)} b=${hex(b, f.w)} c=${hex(c, f.w)}: ` +
        `got ${hex(got.bits, f.w)}/${got.flags} want ${hex(want.bits, f.w)}/${want.flags}`,
    );
  }
}

const D1 = 0x3ff0000000000000n;
const DM1 = D1 | (1n << 63n);
const DINF = 0x7ff0000000000000n;
const DCNAN = 0x7ff8000000000000n;
const NEG0 = 1n << 63n;

describe("F/D fused multiply-add: FMADD/FMSUB/FNMSUB/FNMADD", () => {
  for (const f of [S, D]) {
    for (const op of OPS) {
      test(`${op.name}.${f.name} is computed exactly with one rounding in all five modes (random vectors vs BigInt reference)`, () => {
        const rng = new Rng(0xf3a0000 + op.opcode * 2 + (f === D ? 1 : 0));
        const failures: string[] = [];
        const top = (1 << f.ebits) - 2;
        for (const mode of MODES) {
          for (let i = 0; i < 300; i++) {
            const a = randVal(rng, f);
            const k = rng.int(10);
            const ea = biasedExp(a, f);
            const b =
              k < 2
                ? randVal(rng, f, f.bias + f.emin - (ea - f.bias)) // product near underflow
                : k < 3
                  ? randVal(rng, f, f.bias + f.emax - (ea - f.bias)) // product near overflow
                  : randVal(rng, f);
            // addend near the product's magnitude (cancellation, ties) most of the time
            const pe = Math.max(0, Math.min(top, ea + biasedExp(b, f) - f.bias));
            const c = rng.int(10) < 6 ? randVal(rng, f, pe) : randVal(rng, f);
            check(failures, op, f, a, b, c, mode);
          }
        }
        assert.deepEqual(failures.slice(0, 8), []);
      });
    }
  }

  test("exact cancellation: a*b - RN(a*b) recovers the rounding error (not zero as with an unfused multiply-add)", () => {
    // a = 1 + 2^-52, b = 1 - 2^-52: a*b = 1 - 2^-104 exactly; fmsub(a, b, 1) = -2^-104
    const a = D1 + 1n;
    const b = 0x3feffffffffffffen; // 1 - 2^-52
    const r = exec(OPS[1], D, a, b, D1, 0);
    assert.equal(r.bits, 0xb970000000000000n); // -2^-104
    assert.equal(r.flags, 0);
    // the unfused host computation loses it entirely
    assert.equal((1 + 2 ** -52) * (1 - 2 ** -52) - 1, 0);
  });

  test("single rounding of a tie created by the addend: 1 + 2^-53 + tiny rounds up in RNE", () => {
    // (1 + 2^-52) * 2^-53 + 1 = 1 + 2^-53 + 2^-105: just above the midpoint
    const failures: string[] = [];
    for (const mode of MODES) check(failures, OPS[0], D, D1 + 1n, 0x3ca0000000000000n, D1, mode);
    for (const mode of MODES) check(failures, OPS[0], S, 0x3f800001n, 0x33800000n, 0x3f800000n, mode);
    assert.deepEqual(failures, []);
    assert.deepEqual(exec(OPS[0], D, D1 + 1n, 0x3ca0000000000000n, D1, 0), { bits: D1 + 1n, flags: FNX });
  });

  test("a partial sum that lands exactly on a midpoint with a nonzero tail below it is rounded by the exact value", () => {
    // a*b = 2^-53 + 2^-106 - 2^-158 rounds to 2^-53, so 1 + RN(a*b) is a tie; the tail decides (up)
    const failures: string[] = [];
    const vectors: [bigint, bigint, bigint][] = [
      [D1 + 1n, 0x3c9fffffffffffffn, D1],
      // found by searching random products for the same situation
      [0x4316a1ed5d25ac46n, 0x4364000000000000n, 0xbfa2394000000000n],
      [0x3e78000000000000n, 0xbce24d3f2d6eff4bn, 0xb4a63fd497528d5cn],
      [0xc10e0d40640a410an, 0x3dc8000000000000n, 0x381722b9e3459437n],
      [0x41f8000000000000n, 0xbcb1434cf03fffffn, 0x37d457bd8f2fc6e5n],
    ];
    for (const mode of MODES) for (const [a, b, c] of vectors) for (const op of OPS) check(failures, op, D, a, b, c, mode);
    assert.deepEqual(failures, []);
    assert.deepEqual(exec(OPS[0], D, D1 + 1n, 0x3c9fffffffffffffn, D1, 0), { bits: D1 + 1n, flags: FNX });
  });

  test("fused results that are tiny: tininess after rounding, UF only when inexact", () => {
    const failures: string[] = [];
    const minNorm = 0x0010000000000000n;
    for (const mode of MODES) {
      // 2^-1022 * (1 - 2^-53) is representable only with unbounded exponent: tiny and inexact
      check(failures, OPS[0], D, minNorm, 0x3fefffffffffffffn, 0n, mode);
      check(failures, OPS[1], D, minNorm, D1, 1n, mode); // 2^-1022 - 2^-1074: exact subnormal
      check(failures, OPS[0], S, 0x00800000n, 0x3f7fffffn, 0x80000001n, mode);
    }
    assert.deepEqual(failures, []);
    assert.deepEqual(exec(OPS[1], D, minNorm, D1, 1n, 0), { bits: 0x000fffffffffffffn, flags: 0 });
    assert.equal(exec(OPS[0], D, minNorm, 0x3fefffffffffffffn, 0n, 1).flags, FUF | FNX);
  });

  test("invalid: inf*0 raises NV even when the addend is a quiet NaN; sNaN operands raise NV; inf - inf is NV", () => {
    const qnan = 0x7ff8000000000000n;
    const snan = 0x7ff4000000000000n;
    assert.deepEqual(exec(OPS[0], D, DINF, 0n, qnan, 0), { bits: DCNAN, flags: FNV });
    assert.deepEqual(exec(OPS[0], D, 0n, DINF, qnan, 0), { bits: DCNAN, flags: FNV });
    assert.deepEqual(exec(OPS[0], S, 0x7f800000n, 0n, 0x7fc00000n, 0), { bits: 0x7fc00000n, flags: FNV });
    assert.deepEqual(exec(OPS[0], D, D1, D1, qnan, 0), { bits: DCNAN, flags: 0 });
    assert.deepEqual(exec(OPS[0], D, D1, D1, snan, 0), { bits: DCNAN, flags: FNV });
    assert.deepEqual(exec(OPS[0], D, DINF, D1, DINF | NEG0, 0), { bits: DCNAN, flags: FNV });
    assert.deepEqual(exec(OPS[1], D, DINF, D1, DINF, 0), { bits: DCNAN, flags: FNV }); // inf*1 - inf
    assert.deepEqual(exec(OPS[0], D, DINF, DM1, D1, 0), { bits: DINF | NEG0, flags: 0 });
    assert.deepEqual(exec(OPS[0], D, D1, D1, DINF | NEG0, 0), { bits: DINF | NEG0, flags: 0 });
    // NaN payloads never leak: the result is the canonical NaN
    assert.deepEqual(exec(OPS[2], D, 0xfff8000000000abcn, D1, D1, 0), { bits: DCNAN, flags: 0 });
  });

  test("signed zeros: product and addend of equal sign keep it; opposite signs give +0 (RDN: -0); negations apply to the product", () => {
    for (const mode of MODES) {
      const rdn = mode === 2;
      assert.equal(exec(OPS[0], D, 0n, D1, NEG0, mode).bits, rdn ? NEG0 : 0n, MODE_NAMES[mode]); // +0 + -0
      assert.equal(exec(OPS[0], D, NEG0, D1, NEG0, mode).bits, NEG0); // -0 + -0
      assert.equal(exec(OPS[3], D, 0n, D1, 0n, mode).bits, NEG0); // -(+0) - (+0) = -0
      assert.equal(exec(OPS[2], D, 0n, D1, 0n, mode).bits, rdn ? NEG0 : 0n); // -(+0) + +0
      assert.equal(exec(OPS[0], D, D1, D1, DM1, mode).bits, rdn ? NEG0 : 0n); // 1*1 - 1: exact zero
      assert.equal(exec(OPS[0], S, 0x3f800000n, 0x3f800000n, 0xbf800000n, mode).bits, rdn ? 0x80000000n : 0n);
    }
    // zero product plus a nonzero addend returns the addend exactly
    assert.deepEqual(exec(OPS[0], D, 0n, DINF - 1n, 1n, 3), { bits: 1n, flags: 0 });
  });

  test("overflow and huge exponent gaps between product and addend", () => {
    const failures: string[] = [];
    const big = 0x7fe0000000000000n; // 2^1023
    for (const mode of MODES) {
      check(failures, OPS[0], D, big, 0x4000000000000000n, 0n, mode); // overflow
      check(failures, OPS[0], D, big, 0x4000000000000000n, big | NEG0, mode); // 2^1024 - 2^1023: fits
      check(failures, OPS[0], D, 1n, 1n, D1, mode); // product far below the addend (sticky only)
      check(failures, OPS[0], D, 1n, 1n, DM1, mode);
      check(failures, OPS[0], D, D1, D1, 1n, mode); // addend far below the product
      check(failures, OPS[1], D, D1, D1, 1n, mode);
      check(failures, OPS[0], D, 0x7fefffffffffffffn, 0x7fefffffffffffffn, 0xffefffffffffffffn, mode);
      check(failures, OPS[0], S, 0x7f7fffffn, 0x3f800001n, 0xff7fffffn, mode);
      check(failures, OPS[0], S, 1n, 1n, 0x3f800000n, mode);
    }
    assert.deepEqual(failures, []);
  });
});
