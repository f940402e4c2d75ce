/**
 * AMO and LR/SC semantics on one thread (the Atomics-based implementation in mmu.ts):
 * every AMO at both widths over edge values (sign boundaries, carries between the halves,
 * garbage in the upper half of rs2 for .W) against a BigInt reference model, and the
 * compare-and-swap rules of SC. Threads racing are in smp-atomics.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Bus } from "../mem/bus.js";
import { GuestRam } from "../mem/ram.js";
import { Amo, Op } from "./decode.js";
import { Hart } from "./hart.js";
import { amo, lrsc } from "./mmu.js";

const RAM = 0x8000_0000;
/** The 8-byte cell the tests operate on (RAM offset), and a second one 4 KiB away. */
const CELL = 0x100;
const FAR = 0x1100;
// Register slots as the decoder packs them (2 × register number); 64 is the x0 sink.
const RD = 2 * 10;
const RS1 = 2 * 11;
const RS2 = 2 * 12;
const X0 = 64;

function hart(): Hart {
  return new Hart(new Bus(new GuestRam(RAM, 1 << 16)), 0, null);
}

const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
function setReg(h: Hart, slot: number, v: bigint): void {
  h.x[slot] = Number(BigInt.asIntN(32, v));
  h.x[slot + 1] = Number(BigInt.asIntN(32, v >> 32n));
}
const reg = (h: Hart, slot: number): bigint => (BigInt(h.x[slot + 1]! >>> 0) << 32n) | BigInt(h.x[slot]! >>> 0);
const mem64 = (h: Hart, off: number): bigint => new DataView(h.bus.ram.sab).getBigUint64(off, true);
const setMem64 = (h: Hart, off: number, v: bigint): void => new DataView(h.bus.ram.sab).setBigUint64(off, u64(v), true);

const EDGES: bigint[] = [
  0n,
  1n,
  2n,
  -1n,
  -2n,
  0x7fff_ffffn,
  0x8000_0000n,
  0xffff_ffffn,
  0x1_0000_0000n,
  0x1_7fff_ffffn,
  0x7fff_ffff_ffff_ffffn,
  -0x8000_0000_0000_0000n,
  -0x7fff_ffff_ffff_ffffn,
  0xffff_ffff_0000_0000n,
  0xffff_ffff_7fff_ffffn,
  0xffff_ffff_8000_0000n,
  0x8000_0000_ffff_ffffn,
  0x7fff_ffff_0000_0000n,
  0x1234_5678_9abc_def0n,
  0xfedc_ba98_7654_3210n,
].map(u64);

const OPS: [string, number][] = [
  ["add", Amo.Add],
  ["swap", Amo.Swap],
  ["xor", Amo.Xor],
  ["or", Amo.Or],
  ["and", Amo.And],
  ["min", Amo.Min],
  ["max", Amo.Max],
  ["minu", Amo.Minu],
  ["maxu", Amo.Maxu],
];

/** The spec's AMO on `bits`-bit values: [new memory value, value written to rd (sign-extended)]. */
function reference(f5: number, bits: number, old: bigint, b: bigint): [bigint, bigint] {
  const m = (1n << BigInt(bits)) - 1n;
  const o = old & m;
  const v = b & m;
  const s = (x: bigint): bigint => BigInt.asIntN(bits, x);
  let n: bigint;
  switch (f5) {
    case Amo.Add:
      n = (o + v) & m;
      break;
    case Amo.Swap:
      n = v;
      break;
    case Amo.Xor:
      n = o ^ v;
      break;
    case Amo.Or:
      n = o | v;
      break;
    case Amo.And:
      n = o & v;
      break;
    case Amo.Min:
      n = s(o) < s(v) ? o : v;
      break;
    case Amo.Max:
      n = s(o) > s(v) ? o : v;
      break;
    case Amo.Minu:
      n = o < v ? o : v;
      break;
    default:
      n = o > v ? o : v;
  }
  return [n, u64(s(o))];
}

describe("AMOs against a reference model", () => {
  for (const [name, f5] of OPS) {
    test(`amo${name}.d over edge values`, () => {
      const h = hart();
      setReg(h, RS1, BigInt(RAM + CELL));
      for (const old of EDGES) {
        for (const b of EDGES) {
          setMem64(h, CELL, old);
          setReg(h, RS2, b);
          assert.equal(amo(h, 8, f5, RD, RS1, RS2), true);
          const [n, rd] = reference(f5, 64, old, b);
          assert.equal(mem64(h, CELL), n, `mem: amo${name}.d old=${old.toString(16)} rs2=${b.toString(16)}`);
          assert.equal(reg(h, RD), rd, `rd: amo${name}.d old=${old.toString(16)} rs2=${b.toString(16)}`);
        }
      }
    });

    test(`amo${name}.w over edge values, both words of a doubleword; rs2's upper half ignored`, () => {
      const h = hart();
      for (const word of [0, 4]) {
        setReg(h, RS1, BigInt(RAM + CELL + word));
        const sentinel = 0x5a5a_5a5an;
        for (const old of EDGES) {
          for (const b of EDGES) {
            const o32 = old & 0xffff_ffffn;
            setMem64(h, CELL, word === 0 ? (sentinel << 32n) | o32 : (o32 << 32n) | sentinel);
            setReg(h, RS2, b);
            assert.equal(amo(h, 4, f5, RD, RS1, RS2), true);
            const [n, rd] = reference(f5, 32, old, b);
            const m = mem64(h, CELL);
            const [got, other] = word === 0 ? [m & 0xffff_ffffn, m >> 32n] : [m >> 32n, m & 0xffff_ffffn];
            const what = `amo${name}.w @+${word} old=${o32.toString(16)} rs2=${b.toString(16)}`;
            assert.equal(got, n, `mem: ${what}`);
            assert.equal(other, sentinel, `the other word: ${what}`);
            assert.equal(reg(h, RD), rd, `rd: ${what}`);
          }
        }
      }
    });
  }

  test("rd = rs2 reads rs2 before writing the old value; rd = x0 discards it", () => {
    const h = hart();
    setReg(h, RS1, BigInt(RAM + CELL));
    setMem64(h, CELL, 0x1_0000_0005n);
    setReg(h, RS2, 0xffff_ffff_ffff_fffdn); // -3
    amo(h, 8, Amo.Add, RS2, RS1, RS2);
    assert.equal(mem64(h, CELL), 0x1_0000_0002n);
    assert.equal(reg(h, RS2), 0x1_0000_0005n);
    setReg(h, RS2, 7n);
    amo(h, 8, Amo.Swap, X0, RS1, RS2);
    assert.equal(mem64(h, CELL), 7n);
    assert.equal(reg(h, 0), 0n, "x0 stays 0");
  });
});

describe("LR/SC: compare-and-swap of the value LR loaded", () => {
  function lr(h: Hart, width: 4 | 8, off: number): bigint {
    setReg(h, RS1, BigInt(RAM + off));
    assert.equal(lrsc(h, width === 8 ? Op.LrD : Op.LrW, RD, RS1, 0), true);
    return reg(h, RD);
  }
  /** SC; returns rd (0 = success). */
  function sc(h: Hart, width: 4 | 8, off: number, v: bigint): bigint {
    setReg(h, RS1, BigInt(RAM + off));
    setReg(h, RS2, v);
    assert.equal(lrsc(h, width === 8 ? Op.ScD : Op.ScW, RD, RS1, RS2), true);
    return reg(h, RD);
  }

  test("LR.D then SC.D succeeds and writes; the reservation is gone afterwards", () => {
    const h = hart();
    setMem64(h, CELL, 0x1111_2222_3333_4444n);
    assert.equal(lr(h, 8, CELL), 0x1111_2222_3333_4444n);
    assert.equal(sc(h, 8, CELL, 0x5555_6666_7777_8888n), 0n);
    assert.equal(mem64(h, CELL), 0x5555_6666_7777_8888n);
    assert.equal(sc(h, 8, CELL, 1n), 1n);
    assert.equal(mem64(h, CELL), 0x5555_6666_7777_8888n);
  });

  for (const [what, change] of [
    ["the low half", 0x1n],
    ["the high half", 0x1_0000_0000n],
  ] as const) {
    test(`another hart's store that changes only ${what} makes SC.D fail without writing`, () => {
      const h = hart();
      setMem64(h, CELL, 0xaaaa_aaaa_bbbb_bbbbn);
      lr(h, 8, CELL);
      setMem64(h, CELL, 0xaaaa_aaaa_bbbb_bbbbn ^ change); // as another thread would
      assert.equal(sc(h, 8, CELL, 42n), 1n);
      assert.equal(mem64(h, CELL), 0xaaaa_aaaa_bbbb_bbbbn ^ change);
    });
  }

  test("SC.W fails after a change to its word, and leaves the other word alone when it succeeds", () => {
    const h = hart();
    setMem64(h, CELL, 0x7777_7777_8000_0000n);
    assert.equal(lr(h, 4, CELL), 0xffff_ffff_8000_0000n, "LR.W sign-extends");
    h.bus.ram.i32[CELL >> 2] = 5;
    assert.equal(sc(h, 4, CELL, 9n), 1n);
    assert.equal(mem64(h, CELL), 0x7777_7777_0000_0005n);
    lr(h, 4, CELL);
    assert.equal(sc(h, 4, CELL, 0xdead_0000_0000_0009n), 0n);
    assert.equal(mem64(h, CELL), 0x7777_7777_0000_0009n);
  });

  test("ABA: a value changed and changed back does not make SC fail (as QEMU's MTTCG)", () => {
    const h = hart();
    setMem64(h, CELL, 3n);
    lr(h, 8, CELL);
    setMem64(h, CELL, 4n);
    setMem64(h, CELL, 3n);
    assert.equal(sc(h, 8, CELL, 10n), 0n);
    assert.equal(mem64(h, CELL), 10n);
  });

  test("SC to another address fails without touching memory and ends the reservation", () => {
    const h = hart();
    setMem64(h, CELL, 1n);
    setMem64(h, FAR, 2n);
    lr(h, 8, CELL);
    assert.equal(sc(h, 8, FAR, 99n), 1n);
    assert.equal(mem64(h, FAR), 2n);
    assert.equal(sc(h, 8, CELL, 99n), 1n, "the reservation ended with the failed SC");
    assert.equal(mem64(h, CELL), 1n);
  });

  test("an LR and its SC of different widths compare what LR returned at the SC's width", () => {
    const h = hart();
    // LR.W returns 0xffffffff_80000000; the doubleword holds 0x00000000_80000000: SC.D fails.
    setMem64(h, CELL, 0x8000_0000n);
    lr(h, 4, CELL);
    assert.equal(sc(h, 8, CELL, 1n), 1n);
    assert.equal(mem64(h, CELL), 0x8000_0000n);
    // With the upper word all ones the doubleword equals the sign-extended value: it succeeds.
    setMem64(h, CELL, 0xffff_ffff_8000_0000n);
    lr(h, 4, CELL);
    assert.equal(sc(h, 8, CELL, 1n), 0n);
    assert.equal(mem64(h, CELL), 1n);
    // LR.D then SC.W: the low word of what LR.D loaded. (QEMU 7.2 writes here too but
    // returns rd = 1; an SC that stores must report success, so paravm returns 0.)
    setMem64(h, CELL, 0x1234_5678_0000_0007n);
    lr(h, 8, CELL);
    assert.equal(sc(h, 4, CELL, 8n), 0n);
    assert.equal(mem64(h, CELL), 0x1234_5678_0000_0008n);
  });
});
