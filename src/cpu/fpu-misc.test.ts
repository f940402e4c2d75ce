import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fpuExecute } from "./fpu.js";
import {
  D,
  FNV,
  type Fmt,
  Rng,
  S,
  type Val,
  box,
  decode,
  encR,
  encR4,
  getF,
  getX,
  hex,
  makeHost,
  randVal,
  reg,
  setF,
  specials,
} from "./fpu-testkit.js";

function run2(funct7: number, funct3: number, a: bigint, b: bigint): { f4: bigint; x10: bigint; flags: number } {
  const h = makeHost();
  setF(h, 1, a);
  setF(h, 2, b);
  assert.ok(fpuExecute(h, encR(funct7, 2, 1, funct3, 4)));
  const f4 = getF(h, 4);
  const g = makeHost();
  setF(g, 1, a);
  setF(g, 2, b);
  fpuExecute(g, encR(funct7, 2, 1, funct3, 10));
  return { f4, x10: getX(g, 10), flags: h.fflags };
}

/** Exact ordering of two non-NaN values of a format: -1, 0, 1 (-0 == +0). */
function cmpVal(x: Val, y: Val): number {
  if (x.kind === "nan" || y.kind === "nan") throw new Error("NaN");
  if (x.kind === "inf" && y.kind === "inf") return x.neg === y.neg ? 0 : x.neg ? -1 : 1;
  if (x.kind === "inf") return x.neg ? -1 : 1;
  if (y.kind === "inf") return y.neg ? 1 : -1;
  const sx = x.m === 0n ? 0 : x.neg ? -1 : 1;
  const sy = y.m === 0n ? 0 : y.neg ? -1 : 1;
  if (sx !== sy) return Math.sign(sx - sy);
  if (sx === 0) return 0;
  const e = Math.min(x.e, y.e);
  const a = x.m << BigInt(x.e - e);
  const b = y.m << BigInt(y.e - e);
  return a === b ? 0 : (a > b ? 1 : -1) * sx;
}

describe("F/D sign injection: FSGNJ, FSGNJN, FSGNJX", () => {
  test("operate on raw bits and keep NaN payloads (no canonicalisation, no flags)", () => {
    const a = 0x7ff0000000000123n; // sNaN with payload
    const neg = 0x8000000000000000n;
    assert.deepEqual(run2(0x11, 0, a, neg).f4, a | neg);
    assert.deepEqual(run2(0x11, 1, a, neg).f4, a);
    assert.deepEqual(run2(0x11, 2, a | neg, neg).f4, a);
    assert.equal(run2(0x11, 0, a, neg).flags, 0);
    assert.deepEqual(run2(0x10, 1, box(0x7f800001n), box(0n)).f4, box(0xff800001n));
    assert.deepEqual(run2(0x10, 2, box(0xbf800000n), box(0x80000000n)).f4, box(0x3f800000n));
  });

  test("FSGNJ.S reads an improperly NaN-boxed operand as the canonical NaN", () => {
    assert.equal(run2(0x10, 0, 0x3f800000n, box(0x80000000n)).f4, box(0xffc00000n));
    assert.equal(run2(0x10, 0, box(0x3f800000n), 0x80000000n).f4, box(0x3f800000n)); // rs2 unboxed: +qNaN sign
  });
});

describe("F/D minimumNumber/maximumNumber: FMIN, FMAX", () => {
  const DCNAN = 0x7ff8000000000000n;
  test("-0 is less than +0", () => {
    const n0 = 1n << 63n;
    assert.equal(run2(0x15, 0, 0n, n0).f4, n0);
    assert.equal(run2(0x15, 0, n0, 0n).f4, n0);
    assert.equal(run2(0x15, 1, n0, 0n).f4, 0n);
    assert.equal(run2(0x15, 1, 0n, n0).f4, 0n);
    assert.equal(run2(0x14, 0, box(0n), box(0x80000000n)).f4, box(0x80000000n));
    assert.equal(run2(0x14, 1, box(0x80000000n), box(0n)).f4, box(0n));
  });

  test("one NaN operand yields the other operand; two NaNs the canonical NaN; sNaN raises NV even when the result is a number", () => {
    const one = 0x3ff0000000000000n;
    const q = 0xfff8000000000005n;
    const s = 0x7ff0000000000005n;
    assert.deepEqual(run2(0x15, 0, q, one), { f4: one, x10: 0n, flags: 0 });
    assert.deepEqual(run2(0x15, 1, one, s), { f4: one, x10: 0n, flags: FNV });
    assert.deepEqual(run2(0x15, 0, q, s), { f4: DCNAN, x10: 0n, flags: FNV });
    assert.deepEqual(run2(0x15, 1, q, q), { f4: DCNAN, x10: 0n, flags: 0 });
    assert.deepEqual(run2(0x14, 0, box(0x7f800001n), box(0x3f800000n)), { f4: box(0x3f800000n), x10: 0n, flags: FNV });
    // unboxed operand is a quiet NaN: the other operand wins without NV
    assert.deepEqual(run2(0x14, 1, 0x3f800000n, box(0xc0000000n)), { f4: box(0xc0000000n), x10: 0n, flags: 0 });
  });

  for (const f of [S, D]) {
    test(`FMIN.${f.name}/FMAX.${f.name} agree with an exact ordering on random and special values`, () => {
      const rng = new Rng(0x313 + f.w);
      const failures: string[] = [];
      const sp = specials(f);
      for (let i = 0; i < 1500; i++) {
        const a = i < sp.length * sp.length ? sp[i % sp.length] : randVal(rng, f);
        const b = i < sp.length * sp.length ? sp[Math.floor(i / sp.length)] : rng.int(4) === 0 ? a : randVal(rng, f);
        const x = decode(a, f);
        const y = decode(b, f);
        for (const isMax of [0, 1]) {
          const r = run2(f === D ? 0x15 : 0x14, isMax, reg(a, f), reg(b, f));
          let want: bigint;
          let flags = (x.kind === "nan" && x.snan) || (y.kind === "nan" && y.snan) ? FNV : 0;
          if (x.kind === "nan" && y.kind === "nan") want = f.canon;
          else if (x.kind === "nan") want = b;
          else if (y.kind === "nan") want = a;
          else {
            let c = cmpVal(x, y);
            if (c === 0) c = a === b ? 0 : (a >> BigInt(f.w - 1)) === 1n ? -1 : 1; // -0 < +0
            want = (c <= 0) !== (isMax === 1) ? a : b;
          }
          if (r.f4 !== reg(want, f) || r.flags !== flags) {
            failures.push(`${isMax ? "FMAX" : "FMIN"}.${f.name} ${hex(a, f.w)} ${hex(b, f.w)}: got ${hex(r.f4)}/${r.flags} want ${hex(want, f.w)}/${flags}`);
          }
          flags = 0;
        }
      }
      assert.deepEqual(failures.slice(0, 8), []);
    });
  }
});

describe("F/D compare: FEQ (quiet), FLT and FLE (signalling)", () => {
  for (const f of [S, D]) {
    test(`FEQ/FLT/FLE.${f.name} results and NV flags on random and special values`, () => {
      const rng = new Rng(0xc3 + f.w);
      const failures: string[] = [];
      const sp = specials(f);
      for (let i = 0; i < 1500; i++) {
        const a = i < sp.length * sp.length ? sp[i % sp.length] : randVal(rng, f);
        const b = i < sp.length * sp.length ? sp[Math.floor(i / sp.length)] : rng.int(4) === 0 ? a : randVal(rng, f, rng.int(2) ? undefined : Number((a >> BigInt(f.p - 1)) & ((1n << BigInt(f.ebits)) - 1n)));
        const x = decode(a, f);
        const y = decode(b, f);
        const anyNaN = x.kind === "nan" || y.kind === "nan";
        const anySNaN = (x.kind === "nan" && x.snan) || (y.kind === "nan" && y.snan);
        const c = anyNaN ? 2 : cmpVal(x, y);
        for (const [funct3, name] of [[2, "FEQ"], [1, "FLT"], [0, "FLE"]] as const) {
          const r = run2(f === D ? 0x51 : 0x50, funct3, reg(a, f), reg(b, f));
          const want = anyNaN ? 0n : BigInt(funct3 === 2 ? +(c === 0) : funct3 === 1 ? +(c < 0) : +(c <= 0));
          const wantFlags = funct3 === 2 ? (anySNaN ? FNV : 0) : anyNaN ? FNV : 0;
          if (r.x10 !== want || r.flags !== wantFlags) {
            failures.push(`${name}.${f.name} ${hex(a, f.w)} ${hex(b, f.w)}: got ${r.x10}/${r.flags} want ${want}/${wantFlags}`);
          }
        }
      }
      assert.deepEqual(failures.slice(0, 8), []);
    });
  }

  test("an improperly boxed S operand compares as a quiet NaN", () => {
    assert.deepEqual(run2(0x50, 2, 0x3f800000n, box(0x3f800000n)), { f4: 0n, x10: 0n, flags: 0 });
    assert.deepEqual(run2(0x50, 0, 0x3f800000n, box(0x3f800000n)), { f4: 0n, x10: 0n, flags: FNV });
  });
});

describe("F/D classify: FCLASS", () => {
  function fclass(f: Fmt, bits: bigint): bigint {
    const h = makeHost();
    setF(h, 1, bits);
    assert.ok(fpuExecute(h, encR(f === D ? 0x71 : 0x70, 0, 1, 1, 10)));
    assert.equal(h.fflags, 0);
    return getX(h, 10);
  }
  test("each of the ten classes sets exactly its bit", () => {
    const dCases: [bigint, number][] = [
      [0xfff0000000000000n, 0],
      [0xbff0000000000000n, 1],
      [0x800fffffffffffffn, 2],
      [0x8000000000000000n, 3],
      [0n, 4],
      [1n, 5],
      [0x0010000000000000n, 6],
      [0x7ff0000000000000n, 7],
      [0x7ff0000000000001n, 8],
      [0x7ff8000000000000n, 9],
      [0xfff8000000000001n, 9],
    ];
    for (const [b, bit] of dCases) assert.equal(fclass(D, b), 1n << BigInt(bit), hex(b));
    const sCases: [bigint, number][] = [
      [0xff800000n, 0],
      [0xbf800000n, 1],
      [0x807fffffn, 2],
      [0x80000000n, 3],
      [0n, 4],
      [1n, 5],
      [0x00800000n, 6],
      [0x7f800000n, 7],
      [0x7fbfffffn, 8],
      [0x7fc00000n, 9],
    ];
    for (const [b, bit] of sCases) assert.equal(fclass(S, box(b)), 1n << BigInt(bit), hex(b, 32));
    // NaN-boxing: an improperly boxed value classifies as the canonical (quiet) NaN
    assert.equal(fclass(S, 0x00000000_3f800000n), 1n << 9n);
  });
});

describe("F/D decoding: legal and reserved encodings", () => {
  function unchanged(insn: number, frm = 0): void {
    const h = makeHost();
    h.frm = frm;
    for (let r = 0; r < 32; r++) setF(h, r, 0x3ff0000000000000n + BigInt(r));
    h.x.fill(7);
    const f0 = h.fi.slice();
    const x0 = h.x.slice();
    assert.equal(fpuExecute(h, insn), false, `insn ${insn.toString(16)} must be illegal`);
    assert.deepEqual(h.fi, f0);
    assert.deepEqual(h.x, x0);
    assert.equal(h.fflags, 0);
  }

  test("rm field 5 and 6 are reserved; DYN (7) is reserved when frm is 5, 6 or 7", () => {
    for (const rm of [5, 6]) {
      unchanged(encR(0x01, 2, 1, rm, 4)); // FADD.D
      unchanged(encR(0x61, 0, 1, rm, 4)); // FCVT.W.D
      unchanged(encR(0x21, 0, 1, rm, 4)); // FCVT.D.S: no rounding but rm still decoded
      unchanged(encR4(0x43, 1, 3, 2, 1, rm, 4));
    }
    for (const frm of [5, 6, 7]) {
      unchanged(encR(0x00, 2, 1, 7, 4), frm);
      unchanged(encR(0x2d, 0, 1, 7, 4), frm);
      unchanged(encR4(0x4f, 0, 3, 2, 1, 7, 4), frm);
    }
    const h = makeHost();
    h.frm = 3;
    setF(h, 1, 0x3ff0000000000000n);
    setF(h, 2, 0x3ca0000000000000n);
    assert.equal(fpuExecute(h, encR(0x01, 2, 1, 7, 4)), true); // DYN with frm = RUP
    assert.equal(getF(h, 4), 0x3ff0000000000001n);
  });

  test("non-rounding instructions reject unknown funct3; H/Q formats, nonzero rs2 and unknown funct7 are illegal", () => {
    unchanged(encR(0x11, 2, 1, 3, 4)); // FSGNJ funct3 3
    unchanged(encR(0x15, 2, 1, 2, 4)); // FMIN/FMAX funct3 2
    unchanged(encR(0x51, 2, 1, 3, 4)); // FEQ.D funct3 3
    unchanged(encR(0x71, 0, 1, 2, 4)); // FMV.X.D/FCLASS funct3 2
    unchanged(encR(0x71, 1, 1, 0, 4)); // FMV.X.D with rs2 != 0
    unchanged(encR(0x79, 0, 1, 1, 4)); // FMV.D.X funct3 1
    unchanged(encR(0x2d, 1, 1, 0, 4)); // FSQRT.D rs2 != 0
    unchanged(encR(0x20, 0, 1, 0, 4)); // FCVT.S.D needs rs2 = 1
    unchanged(encR(0x21, 1, 1, 0, 4)); // FCVT.D.S needs rs2 = 0
    unchanged(encR(0x61, 4, 1, 0, 4)); // FCVT.?.D rs2 = 4
    unchanged(encR(0x02, 2, 1, 0, 4)); // FADD.H
    unchanged(encR(0x03, 2, 1, 0, 4)); // FADD.Q
    unchanged(encR(0x7f, 2, 1, 0, 4)); // unknown
    unchanged(encR4(0x43, 2, 3, 2, 1, 0, 4)); // FMADD.H
    unchanged(encR4(0x43, 3, 3, 2, 1, 0, 4)); // FMADD.Q
    unchanged(0x00000013); // not an FP opcode (addi)
  });
});
