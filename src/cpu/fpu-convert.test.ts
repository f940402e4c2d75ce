import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fpuExecute } from "./fpu.js";
import {
  D,
  FNV,
  FNX,
  type Fmt,
  MODES,
  MODE_NAMES,
  type Res,
  Rng,
  S,
  box,
  encR,
  getF,
  getX,
  hex,
  makeHost,
  randVal,
  refCvtFF,
  refCvtFromInt,
  refCvtToInt,
  reg,
  setF,
  setX,
} from "./fpu-testkit.js";

const KIND = ["W", "WU", "L", "LU"];
const M64 = (1n << 64n) - 1n;

/** FCVT.<int>.<f> x10, f1 */
function toInt(f: Fmt, bits: bigint, kind: number, mode: number): Res {
  const h = makeHost();
  setF(h, 1, reg(bits, f));
  setX(h, 10, 0x5555555555555555n);
  assert.ok(fpuExecute(h, encR(f === D ? 0x61 : 0x60, kind, 1, mode, 10)));
  return { bits: getX(h, 10), flags: h.fflags };
}
/** FCVT.<f>.<int> f4, x5 */
function fromInt(f: Fmt, v: bigint, kind: number, mode: number): Res {
  const h = makeHost();
  setX(h, 5, v & M64);
  assert.ok(fpuExecute(h, encR(f === D ? 0x69 : 0x68, kind, 5, mode, 4)));
  const r = getF(h, 4);
  if (f === S) {
    assert.equal(r >> 32n, 0xffffffffn, "boxed");
    return { bits: r & 0xffffffffn, flags: h.fflags };
  }
  return { bits: r, flags: h.fflags };
}

function dbl(x: number): bigint {
  const b = new Float64Array([x]);
  return new BigUint64Array(b.buffer)[0];
}
function flt(x: number): bigint {
  const b = new Float32Array([x]);
  return BigInt(new Uint32Array(b.buffer)[0]);
}
function sx(v: bigint): bigint {
  return v & M64;
}

describe("F/D conversions: FCVT.int.fp, FCVT.fp.int, FCVT.S.D, FCVT.D.S", () => {
  test("FCVT.W/L.D of 0.5, 1.5, 2.5, -0.5, -1.5, -2.5 in each rounding mode", () => {
    const xs = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5];
    //            RNE              RTZ              RDN               RUP             RMM
    const want = [
      [0, 0, 0, 1, 1],
      [2, 1, 1, 2, 2],
      [2, 2, 2, 3, 3],
      [0, 0, -1, 0, -1],
      [-2, -1, -2, -1, -2],
      [-2, -2, -3, -2, -3],
    ];
    xs.forEach((x, i) => {
      for (const mode of MODES) {
        for (const kind of [0, 2]) {
          const r = toInt(D, dbl(x), kind, mode);
          assert.equal(r.bits, sx(BigInt(want[i][mode])), `${x} ${MODE_NAMES[mode]} ${KIND[kind]}`);
          assert.equal(r.flags, FNX);
        }
        const s = toInt(S, flt(x), 0, mode);
        assert.equal(s.bits, sx(BigInt(want[i][mode])));
      }
    });
  });

  test("conversion domains (spec table): out-of-range and NaN saturate with NV only; infinities saturate", () => {
    const cases: [number, number, bigint, number][] = [
      // value, kind, result, flags
      [2147483647, 0, 0x7fffffffn, 0],
      [2147483648, 0, 0x7fffffffn, FNV],
      [-2147483648, 0, sx(-2147483648n), 0],
      [-2147483649, 0, sx(-2147483648n), FNV],
      [-2147483648.5, 0, sx(-2147483648n), FNX], // RNE: rounds to -2^31, valid
      [4294967295, 1, M64, 0], // 2^32-1 sign-extended from bit 31
      [3e9, 1, sx(BigInt.asIntN(32, 3000000000n)), 0],
      [4294967296, 1, M64, FNV],
      [-1, 1, 0n, FNV],
      [-0.4, 1, 0n, FNX], // rounds to -0 = 0: valid
      [2 ** 63, 2, 0x7fffffffffffffffn, FNV],
      [-(2 ** 63), 2, 1n << 63n, 0],
      [-(2 ** 63) - 2048, 2, 1n << 63n, FNV],
      [2 ** 63 - 1024, 2, (1n << 63n) - 1024n, 0],
      [2 ** 64, 3, M64, FNV],
      [2 ** 64 - 2048, 3, (1n << 64n) - 2048n, 0],
      [2 ** 63, 3, 1n << 63n, 0],
      [-0, 3, 0n, 0],
      [Infinity, 0, 0x7fffffffn, FNV],
      [-Infinity, 0, sx(-2147483648n), FNV],
      [Infinity, 1, M64, FNV],
      [-Infinity, 1, 0n, FNV],
      [Infinity, 3, M64, FNV],
      [-Infinity, 3, 0n, FNV],
      [-Infinity, 2, 1n << 63n, FNV],
      [NaN, 0, 0x7fffffffn, FNV],
      [NaN, 1, M64, FNV],
      [NaN, 2, 0x7fffffffffffffffn, FNV],
      [NaN, 3, M64, FNV],
    ];
    for (const [v, kind, bits, flags] of cases) {
      const r = toInt(D, dbl(v), kind, 0);
      assert.deepEqual(r, { bits, flags }, `FCVT.${KIND[kind]}.D ${v}`);
    }
    // a negative NaN still saturates to the maximum
    assert.deepEqual(toInt(D, 0xfff8000000000000n, 2, 0), { bits: 0x7fffffffffffffffn, flags: FNV });
    assert.deepEqual(toInt(S, 0xffc00000n, 0, 0), { bits: 0x7fffffffn, flags: FNV });
    // the range is checked after rounding: -0.5 is valid for WU under RTZ/RNE/RUP, not under RDN
    assert.deepEqual(toInt(D, dbl(-0.5), 1, 1), { bits: 0n, flags: FNX });
    assert.deepEqual(toInt(D, dbl(-0.5), 1, 2), { bits: 0n, flags: FNV });
    assert.deepEqual(toInt(D, dbl(2147483647.5), 0, 1), { bits: 0x7fffffffn, flags: FNX });
    assert.deepEqual(toInt(D, dbl(2147483647.5), 0, 0), { bits: 0x7fffffffn, flags: FNV });
  });

  for (const f of [S, D]) {
    test(`FCVT.{W,WU,L,LU}.${f.name} match the reference in all modes (random vectors, values near integers and range limits)`, () => {
      const rng = new Rng(0xc0de + f.w);
      const failures: string[] = [];
      for (const mode of MODES) {
        for (let i = 0; i < 300; i++) {
          const k = rng.int(4);
          // exponents up to just beyond 2^64, concentrated on small integers and range edges
          const hint = k === 0 ? f.bias + rng.int(4) : k === 1 ? f.bias + 30 + rng.int(4) : k === 2 ? f.bias + 62 + rng.int(4) : undefined;
          const a = randVal(rng, f, hint);
          for (let kind = 0; kind < 4; kind++) {
            const got = toInt(f, a, kind, mode);
            const want = refCvtToInt(a, f, kind, mode);
            if (got.bits !== want.bits || got.flags !== want.flags) {
              failures.push(`FCVT.${KIND[kind]}.${f.name} ${MODE_NAMES[mode]} ${hex(a, f.w)}: got ${hex(got.bits)}/${got.flags} want ${hex(want.bits)}/${want.flags}`);
            }
          }
        }
      }
      assert.deepEqual(failures.slice(0, 8), []);
    });

    test(`FCVT.${f.name}.{W,WU,L,LU} round correctly in all modes (random widths, ties at 2^24/2^53 boundaries)`, () => {
      const rng = new Rng(0x1a7 + f.w);
      const failures: string[] = [];
      const fixed = [
        0n, 1n, M64, (1n << 63n) - 1n, 1n << 63n, (1n << 53n) + 1n, (1n << 53n) + 3n, (1n << 24n) + 1n,
        (1n << 24n) + 3n, 0x7fffffffn, 0x80000000n, 0xffffffffn, (1n << 64n) - 1024n, sx(-((1n << 53n) + 1n)),
      ];
      for (const mode of MODES) {
        const vs = [...fixed];
        for (let i = 0; i < 200; i++) {
          const w = 1 + rng.int(64);
          let v = rng.bits(w);
          if (rng.int(3) === 0) v |= 1n << BigInt(w - 1);
          if (rng.int(4) === 0) v = v & ~((1n << BigInt(rng.int(w))) - 1n);
          vs.push(v);
        }
        for (const v of vs) {
          for (let kind = 0; kind < 4; kind++) {
            const got = fromInt(f, v, kind, mode);
            const want = refCvtFromInt(v, f, kind, mode);
            if (got.bits !== want.bits || got.flags !== want.flags) {
              failures.push(`FCVT.${f.name}.${KIND[kind]} ${MODE_NAMES[mode]} ${hex(v)}: got ${hex(got.bits, f.w)}/${got.flags} want ${hex(want.bits, f.w)}/${want.flags}`);
            }
          }
        }
      }
      assert.deepEqual(failures.slice(0, 8), []);
    });
  }

  test("FCVT.S.W x0 gives +0 without flags; W sources use only the low 32 bits", () => {
    assert.deepEqual(fromInt(S, 0n, 0, 0), { bits: 0n, flags: 0 });
    assert.deepEqual(fromInt(D, 0xdeadbeef00000001n, 0, 0), { bits: dbl(1), flags: 0 });
    assert.deepEqual(fromInt(D, 0x00000000ffffffffn, 0, 0), { bits: dbl(-1), flags: 0 });
    assert.deepEqual(fromInt(D, 0x12345678ffffffffn, 1, 0), { bits: dbl(4294967295), flags: 0 });
    assert.deepEqual(fromInt(D, M64, 3, 0), { bits: dbl(2 ** 64), flags: FNX });
    assert.deepEqual(fromInt(D, M64, 3, 1), { bits: dbl(2 ** 64 - 2048), flags: FNX });
  });

  test("FCVT.S.D rounds (subnormal, overflow, all modes) and FCVT.D.S is exact; NaNs become canonical, sNaN raises NV", () => {
    const rng = new Rng(0x5d);
    const failures: string[] = [];
    for (const mode of MODES) {
      for (let i = 0; i < 400; i++) {
        const k = rng.int(4);
        // exponents around the single-precision range
        const hint = k === 0 ? 1023 - 126 + rng.int(5) - 30 : k === 1 ? 1023 + 127 : k === 2 ? 1023 - 150 : undefined;
        const a = randVal(rng, D, hint);
        const r = makeHost();
        setF(r, 1, a);
        fpuExecute(r, encR(0x20, 1, 1, mode, 4));
        const got = getF(r, 4);
        const want = refCvtFF(a, D, S, mode);
        if (got !== box(want.bits) || r.fflags !== want.flags) {
          failures.push(`FCVT.S.D ${MODE_NAMES[mode]} ${hex(a)}: got ${hex(got)}/${r.fflags} want ${hex(want.bits, 32)}/${want.flags}`);
        }
        const b = randVal(rng, S);
        const q = makeHost();
        setF(q, 1, box(b));
        fpuExecute(q, encR(0x21, 0, 1, mode, 4));
        const wantD = refCvtFF(b, S, D, mode);
        if (getF(q, 4) !== wantD.bits || q.fflags !== wantD.flags) {
          failures.push(`FCVT.D.S ${hex(b, 32)}: got ${hex(getF(q, 4))}/${q.fflags} want ${hex(wantD.bits)}/${wantD.flags}`);
        }
      }
    }
    assert.deepEqual(failures.slice(0, 8), []);
    const h = makeHost();
    setF(h, 1, 0x7ff0000000000001n); // sNaN
    fpuExecute(h, encR(0x20, 1, 1, 0, 4));
    assert.equal(getF(h, 4), 0xffffffff7fc00000n);
    assert.equal(h.fflags, FNV);
    const g = makeHost();
    setF(g, 1, 0x0000000000000000n | 0x3f800000n); // improperly boxed 1.0f -> canonical NaN, quiet
    fpuExecute(g, encR(0x21, 0, 1, 0, 4));
    assert.equal(getF(g, 4), 0x7ff8000000000000n);
    assert.equal(g.fflags, 0);
  });
});

describe("F/D moves: FMV.X.W, FMV.W.X, FMV.X.D, FMV.D.X", () => {
  test("FMV.X.W sign-extends the low 32 bits and does not check the NaN box", () => {
    const h = makeHost();
    setF(h, 1, 0x12345678_87654321n); // not a boxed value
    assert.ok(fpuExecute(h, encR(0x70, 0, 1, 0, 10)));
    assert.equal(getX(h, 10), 0xffffffff87654321n);
    setF(h, 1, 0xffffffff_7fa00001n); // sNaN payload preserved, positive: zero-filled
    fpuExecute(h, encR(0x70, 0, 1, 0, 10));
    assert.equal(getX(h, 10), 0x7fa00001n);
    assert.equal(h.fflags, 0);
  });

  test("FMV.W.X NaN-boxes; FMV.D.X / FMV.X.D move 64 bits unchanged (NaN payloads preserved)", () => {
    const h = makeHost();
    setX(h, 5, 0xdeadbeef_ff800001n);
    fpuExecute(h, encR(0x78, 0, 5, 0, 4));
    assert.equal(getF(h, 4), 0xffffffff_ff800001n);
    setX(h, 6, 0xfff0000000000001n);
    fpuExecute(h, encR(0x79, 0, 6, 0, 7));
    assert.equal(getF(h, 7), 0xfff0000000000001n);
    fpuExecute(h, encR(0x71, 0, 7, 0, 11));
    assert.equal(getX(h, 11), 0xfff0000000000001n);
    assert.equal(h.fflags, 0);
  });

  test("integer results are never written to x0", () => {
    const h = makeHost();
    setF(h, 1, 0x4000000000000000n);
    fpuExecute(h, encR(0x71, 0, 1, 0, 0)); // FMV.X.D x0, f1
    fpuExecute(h, encR(0x61, 2, 1, 0, 0)); // FCVT.L.D x0, f1
    assert.equal(getX(h, 0), 0n);
  });
});
