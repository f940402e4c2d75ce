import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  D,
  FDZ,
  FNV,
  FNX,
  FOF,
  FUF,
  type Fmt,
  MODES,
  MODE_NAMES,
  type Res,
  Rng,
  S,
  biasedExp,
  encR,
  hex,
  randVal,
  refAdd,
  refDiv,
  refMul,
  refSqrt,
  reg,
  runFp,
} from "./fpu-testkit.js";

type Op = "add" | "sub" | "mul" | "div" | "sqrt";
const F7: Record<Op, number> = { add: 0x00, sub: 0x04, mul: 0x08, div: 0x0c, sqrt: 0x2c };

/** Execute op on f1 (and f2) into f4 with static rm, or DYN (rm=7) with frm = mode. */
function exec(op: Op, f: Fmt, a: bigint, b: bigint, mode: number, dyn = false): Res & { boxed: boolean } {
  const funct7 = F7[op] | (f === D ? 1 : 0);
  const insn = encR(funct7, op === "sqrt" ? 0 : 2, 1, dyn ? 7 : mode, 4);
  const r = runFp(insn, [reg(a, f), reg(b, f)], false, dyn ? mode : 0);
  assert.ok(r.ok, "instruction must be legal");
  if (f === S) return { bits: r.bits & 0xffffffffn, flags: r.flags, boxed: r.bits >> 32n === 0xffffffffn };
  return { bits: r.bits, flags: r.flags, boxed: true };
}

function ref(op: Op, f: Fmt, a: bigint, b: bigint, mode: number): Res {
  switch (op) {
    case "add":
      return refAdd(a, b, f, mode);
    case "sub":
      return refAdd(a, b, f, mode, true);
    case "mul":
      return refMul(a, b, f, mode);
    case "div":
      return refDiv(a, b, f, mode);
    default:
      return refSqrt(a, f, mode);
  }
}

function check(failures: string[], op: Op, f: Fmt, a: bigint, b: bigint, mode: number, dyn = false): void {
  const got = exec(op, f, a, b, mode, dyn);
  const want = ref(op, f, a, b, mode);
  if (got.bits !== want.bits || got.flags !== want.flags || !got.boxed) {
    failures.push(
      `${op}.${f.name} ${MODE_NAMES[mode]}${dyn ? "(dyn)" : ""} a=${hex(a, f.w)} b=${hex(b, f.w)}: ` +
        `got ${hex(got.bits, f.w)} flags=${got.flags}${got.boxed ? "" : " UNBOXED"} want ${hex(want.bits, f.w)} flags=${want.flags}`,
    );
  }
}

/** A second operand whose exponent steers the result towards the interesting ranges. */
function partner(rng: Rng, op: Op, f: Fmt, a: bigint): bigint {
  const ea = biasedExp(a, f);
  const k = rng.int(10);
  if (op === "add" || op === "sub") return k < 5 ? randVal(rng, f, ea) : randVal(rng, f);
  if (op === "mul") {
    if (k < 3) return randVal(rng, f, f.bias + f.emin - (ea - f.bias)); // near underflow
    if (k < 5) return randVal(rng, f, f.bias + f.emax - (ea - f.bias)); // near overflow
    return randVal(rng, f);
  }
  if (op === "div") {
    if (k < 3) return randVal(rng, f, ea - f.emin); // near underflow
    if (k < 5) return randVal(rng, f, ea - f.emax); // near overflow
    return randVal(rng, f, k < 7 ? ea : undefined);
  }
  return 0n;
}

const D1 = 0x3ff0000000000000n;
const DMAX = 0x7fefffffffffffffn;
const DINF = 0x7ff0000000000000n;
const DCNAN = 0x7ff8000000000000n;
const S1 = 0x3f800000n;

describe("F/D computational instructions: FADD/FSUB/FMUL/FDIV/FSQRT", () => {
  for (const f of [S, D]) {
    for (const op of ["add", "sub", "mul", "div", "sqrt"] as Op[]) {
      test(`IEEE 754 correctly rounded ${op.toUpperCase()}.${f.name} in RNE/RTZ/RDN/RUP/RMM with exact flags (random vectors vs BigInt reference)`, () => {
        const rng = new Rng(0x5eed0000 + F7[op] * 2 + (f === D ? 1 : 0));
        const failures: string[] = [];
        for (const mode of MODES) {
          for (let i = 0; i < 400; i++) {
            const a = randVal(rng, f);
            const b = partner(rng, op, f, a);
            check(failures, op, f, a, b, mode);
          }
        }
        assert.deepEqual(failures.slice(0, 8), []);
      });
    }
  }

  test("rm=DYN (7) takes the rounding mode from frm", () => {
    const rng = new Rng(77);
    const failures: string[] = [];
    for (const f of [S, D]) {
      for (const mode of MODES) {
        for (let i = 0; i < 60; i++) {
          const a = randVal(rng, f);
          check(failures, "add", f, a, randVal(rng, f, biasedExp(a, f)), mode, true);
          check(failures, "div", f, a, randVal(rng, f), mode, true);
        }
      }
    }
    assert.deepEqual(failures.slice(0, 8), []);
  });

  test("halfway cases: 1 + 2^-53 (D) and 1 + 2^-24 (S) round per mode (ties-to-even vs ties-to-max-magnitude)", () => {
    const half53 = 0x3ca0000000000000n; // 2^-53
    const want = [D1, D1, D1, D1 + 1n, D1 + 1n];
    for (const mode of MODES) {
      const r = exec("add", D, D1, half53, mode);
      assert.equal(r.bits, want[mode], MODE_NAMES[mode]);
      assert.equal(r.flags, FNX);
      // negative: -1 - 2^-53
      const n = exec("add", D, D1 | (1n << 63n), half53 | (1n << 63n), mode);
      const wantNeg = [D1, D1, D1 + 1n, D1, D1 + 1n][mode] | (1n << 63n);
      assert.equal(n.bits, wantNeg, `neg ${MODE_NAMES[mode]}`);
    }
    // 1.5 ulp above 1: tie between 1+ulp (odd) and 1+2ulp (even): RNE rounds up
    const r = exec("add", D, D1 + 1n, half53, 0);
    assert.equal(r.bits, D1 + 2n);
    const s = exec("add", S, S1, 0x33800000n /* 2^-24 */, 4);
    assert.equal(s.bits, S1 + 1n);
    assert.equal(exec("add", S, S1, 0x33800000n, 0).bits, S1);
  });

  test("overflow: OF implies NX; RTZ/RDN give the largest finite for positive results, RNE/RUP/RMM infinity", () => {
    for (const mode of MODES) {
      const r = exec("add", D, DMAX, DMAX, mode);
      assert.equal(r.bits, mode === 1 || mode === 2 ? DMAX : DINF, MODE_NAMES[mode]);
      assert.equal(r.flags, FOF | FNX);
      const m = exec("mul", S, 0x7f000000n, 0x40000000n, mode); // 2^127 * 2
      assert.equal(m.bits, mode === 1 || mode === 2 ? 0x7f7fffffn : 0x7f800000n);
      assert.equal(m.flags, FOF | FNX);
    }
    // max + half an ulp: RNE ties to even (infinity, overflow), RTZ stays at max with NX only
    const halfUlp = 0x7c90000000000000n; // 2^970
    assert.deepEqual(exec("add", D, DMAX, halfUlp, 0), { bits: DINF, flags: FOF | FNX, boxed: true });
    assert.deepEqual(exec("add", D, DMAX, halfUlp, 1), { bits: DMAX, flags: FNX, boxed: true });
    // RUP just above max (no tie): overflow to infinity
    assert.deepEqual(exec("add", D, DMAX, 0x7c80000000000000n, 3), { bits: DINF, flags: FOF | FNX, boxed: true });
  });

  test("underflow: tininess is detected after rounding; UF only when tiny and inexact", () => {
    // (2^27-1)*2^-538 * (2^27+1)*2^-538 = (2^54-1) * 2^-1076 = 2^-1022 - 2^-1076
    const x = (511n << 52n) | (((1n << 26n) - 1n) << 26n); // (2^27-1) * 2^-538
    const y = (512n << 52n) | (1n << 25n); // (2^27+1) * 2^-538
    // RNE: rounds up to 2^-1022 with unbounded exponent too -> not tiny -> NX only
    assert.deepEqual(exec("mul", D, x, y, 0), { bits: 0x0010000000000000n, flags: FNX, boxed: true });
    // RTZ: rounds down -> tiny and inexact -> UF|NX, largest subnormal
    assert.deepEqual(exec("mul", D, x, y, 1), { bits: 0x000fffffffffffffn, flags: FUF | FNX, boxed: true });
    // single precision: 31*2^-80 * 1082401*2^-71 = (2^25-1) * 2^-151 = 2^-126 - 2^-151
    const sa = 0x19f80000n; // 31 * 2^-80 = 1.9375 * 2^-76
    const sb = 0x26042108n; // 1082401 * 2^-71 = 1.0322580... * 2^-51
    assert.deepEqual(exec("mul", S, sa, sb, 0), { bits: 0x00800000n, flags: FNX, boxed: true });
    assert.deepEqual(exec("mul", S, sa, sb, 4), { bits: 0x00800000n, flags: FNX, boxed: true });
    assert.deepEqual(exec("mul", S, sa, sb, 1), { bits: 0x007fffffn, flags: FUF | FNX, boxed: true });
    assert.deepEqual(exec("mul", S, sa | 0x80000000n, sb, 2), { bits: 0x80800000n, flags: FNX, boxed: true });
    // exact subnormal results raise nothing
    assert.deepEqual(exec("div", D, 2n, 0x4000000000000000n, 0), { bits: 1n, flags: 0, boxed: true });
    assert.deepEqual(exec("mul", S, 1n, S1, 0), { bits: 1n, flags: 0, boxed: true });
    // 3*2^-1074 / 2 is inexact and tiny
    assert.deepEqual(exec("div", D, 3n, 0x4000000000000000n, 0), { bits: 2n, flags: FUF | FNX, boxed: true });
    // smallest subnormal / 4 underflows to zero (RNE) or rounds up to the smallest subnormal (RUP)
    assert.deepEqual(exec("div", S, 1n, 0x40800000n, 0), { bits: 0n, flags: FUF | FNX, boxed: true });
    assert.deepEqual(exec("div", S, 1n, 0x40800000n, 3), { bits: 1n, flags: FUF | FNX, boxed: true });
  });

  test("signed zeros: x - x is +0 except -0 in RDN; -0 + -0 = -0; +0 + -0 = +0 (RDN: -0)", () => {
    const NEG0 = 1n << 63n;
    for (const mode of MODES) {
      assert.equal(exec("sub", D, D1, D1, mode).bits, mode === 2 ? NEG0 : 0n, MODE_NAMES[mode]);
      assert.equal(exec("add", D, NEG0, NEG0, mode).bits, NEG0);
      assert.equal(exec("add", D, 0n, NEG0, mode).bits, mode === 2 ? NEG0 : 0n);
      assert.equal(exec("sub", S, S1, S1, mode).bits, mode === 2 ? 0x80000000n : 0n);
    }
    assert.equal(exec("mul", D, NEG0, D1, 0).bits, NEG0);
    assert.equal(exec("sqrt", D, NEG0, 0n, 0).bits, NEG0);
    assert.equal(exec("sqrt", S, 0x80000000n, 0n, 0).bits, 0x80000000n);
  });

  test("invalid and divide-by-zero: inf-inf, 0*inf, 0/0, inf/inf, sqrt(<0) give the canonical NaN with NV; x/0 gives DZ", () => {
    const NINF = DINF | (1n << 63n);
    assert.deepEqual(exec("add", D, DINF, NINF, 0), { bits: DCNAN, flags: FNV, boxed: true });
    assert.deepEqual(exec("mul", D, 0n, DINF, 0), { bits: DCNAN, flags: FNV, boxed: true });
    assert.deepEqual(exec("div", D, 0n, 0n, 0), { bits: DCNAN, flags: FNV, boxed: true });
    assert.deepEqual(exec("div", D, DINF, NINF, 0), { bits: DCNAN, flags: FNV, boxed: true });
    assert.deepEqual(exec("sqrt", D, D1 | (1n << 63n), 0n, 0), { bits: DCNAN, flags: FNV, boxed: true });
    assert.deepEqual(exec("sqrt", S, 0xff800000n, 0n, 0), { bits: 0x7fc00000n, flags: FNV, boxed: true });
    assert.deepEqual(exec("div", D, D1 | (1n << 63n), 0n, 0), { bits: NINF, flags: FDZ, boxed: true });
    assert.deepEqual(exec("div", S, S1, 0x80000000n, 0), { bits: 0xff800000n, flags: FDZ, boxed: true });
    assert.deepEqual(exec("div", D, D1, DINF, 0), { bits: 0n, flags: 0, boxed: true });
    assert.deepEqual(exec("sqrt", D, DINF, 0n, 0), { bits: DINF, flags: 0, boxed: true });
  });

  test("NaN generation: results are the canonical NaN; sNaN operands raise NV, quiet NaNs do not", () => {
    const qnanPayload = 0xfff8000000000123n; // negative quiet NaN with payload
    const snan = 0x7ff0000000000001n;
    for (const op of ["add", "sub", "mul", "div"] as Op[]) {
      assert.deepEqual(exec(op, D, qnanPayload, D1, 0), { bits: DCNAN, flags: 0, boxed: true }, op);
      assert.deepEqual(exec(op, D, D1, snan, 0), { bits: DCNAN, flags: FNV, boxed: true }, op);
      assert.deepEqual(exec(op, S, 0xffc00001n, S1, 0), { bits: 0x7fc00000n, flags: 0, boxed: true }, op);
      assert.deepEqual(exec(op, S, S1, 0x7f800001n, 0), { bits: 0x7fc00000n, flags: FNV, boxed: true }, op);
    }
    assert.deepEqual(exec("sqrt", D, snan, 0n, 0), { bits: DCNAN, flags: FNV, boxed: true });
  });

  test("NaN-boxing: an S operand whose upper 32 bits are not all ones reads as the canonical NaN; S results are boxed", () => {
    // f1 holds 1.0f but unboxed (upper half zero): FADD.S gives the canonical NaN without NV
    const r = runFp(encR(0x00, 2, 1, 0, 4), [S1, 0xffffffff00000000n | S1]);
    assert.equal(r.bits, 0xffffffff7fc00000n);
    assert.equal(r.flags, 0);
    const ok = runFp(encR(0x00, 2, 1, 0, 4), [0xffffffff00000000n | S1, 0xffffffff00000000n | S1]);
    assert.equal(ok.bits, 0xffffffff40000000n);
  });

  test("directed rounding of inexact quotients and square roots (1/3, 2/3, sqrt 2) in every mode", () => {
    const failures: string[] = [];
    const three = 0x4008000000000000n;
    const two = 0x4000000000000000n;
    for (const mode of MODES) {
      for (const f of [S, D]) {
        const t = f === D ? three : 0x40400000n;
        const w = f === D ? two : 0x40000000n;
        const o = f === D ? D1 : S1;
        check(failures, "div", f, o, t, mode);
        check(failures, "div", f, w, t, mode);
        check(failures, "div", f, o | (1n << BigInt(f.w - 1)), t, mode);
        check(failures, "sqrt", f, w, 0n, mode);
        check(failures, "sqrt", f, 1n, 0n, mode); // smallest subnormal
        check(failures, "sqrt", f, (1n << BigInt(f.w - 1)) - (1n << BigInt(f.p - 1)) - 1n, 0n, mode); // max
      }
    }
    assert.deepEqual(failures, []);
  });
});
