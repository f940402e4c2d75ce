// Hart state for snapshots (hart-state.ts): a hart saved mid-program, passed through JSON
// and loaded into a fresh hart over a copy of RAM, goes on to compute exactly what the
// original computes; a damaged state is refused whole and leaves the hart untouched.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "../mem/bus.js";
import { GuestRam } from "../mem/ram.js";
import { Csr64, Priv } from "./constants.js";
import { Hart } from "./hart.js";
import { hartStateProblem, loadHart, saveHart, type HartState } from "./hart-state.js";

const RAM = 0x8000_0000;
const DATA = 0x1000;

// RV64I/M/D encodings (unprivileged spec ch. 2, 7, 13) for the small program below.
const iType = (op: number, f3: number, rd: number, rs1: number, imm: number): number => (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const rType = (f7: number, f3: number, rd: number, rs1: number, rs2: number, op = 0x33): number => ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const sd = (rs2: number, rs1: number, imm: number): number => ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (3 << 12) | ((imm & 31) << 7) | 0x23) >>> 0;
const jal = (rd: number, off: number): number =>
  ((((off >> 20) & 1) << 31) | (((off >> 1) & 0x3ff) << 21) | (((off >> 11) & 1) << 20) | (((off >> 12) & 0xff) << 12) | (rd << 7) | 0x6f) >>> 0;

/** An endless loop mixing multiply, shifts, an FP accumulator and stores over a data page. */
const PROGRAM = [
  iType(0x13, 0, 10, 10, 1), //        loop: addi a0, a0, 1
  rType(1, 0, 11, 11, 10), //          mul  a1, a1, a0
  iType(0x13, 0, 11, 11, 0x2b), //     addi a1, a1, 43
  iType(0x13, 7, 12, 10, 0x1f8), //    andi a2, a0, 0x1f8
  rType(0, 0, 12, 12, 9), //           add  a2, a2, s1     (s1 = data page)
  sd(11, 12, 0), //                    sd   a1, 0(a2)
  rType(0x69, 3, 1, 10, 0, 0x53), //   fcvt.d.lu f1, a0 (rm=RUP)
  rType(0x01, 7, 2, 2, 1, 0x53), //    fadd.d f2, f2, f1 (rm=dyn)
  jal(0, -8 * 4), //                   j loop
];

function machine(): { h: Hart; ram: GuestRam } {
  const ram = new GuestRam(RAM, 1 << 20);
  new Uint32Array(ram.u8.buffer, ram.u8.byteOffset, PROGRAM.length).set(PROGRAM);
  return { h: new Hart(new Bus(ram), 0, null), ram };
}

function start(h: Hart): void {
  h.setPc(RAM);
  h.x[2 * 9] = RAM + DATA;
  h.x[2 * 9 + 1] = 0;
  h.mstatus |= 1 << 13; // FS = initial: FP on
  h.frm = 0;
  h.csr64[Csr64.MSCRATCH] = 0x1234_5678;
  h.csr64[Csr64.MSCRATCH + 1] = -0x2000_0000;
}

const view = (h: Hart, ram: GuestRam) => ({
  x: Array.from(h.x.subarray(0, 64)),
  f: Array.from(h.fi),
  pc: h.getPc(),
  instret: h.instret,
  csr64: Array.from(h.csr64),
  mstatus: h.mstatus,
  ram: Buffer.from(ram.u8.subarray(0, 2 * DATA)).toString("base64"),
});

describe("hart state (save/load for snapshots)", () => {
  test("a hart saved mid-run and loaded over a copy of RAM computes what the original computes", () => {
    const a = machine();
    start(a.h);
    a.h.run(12_345);
    const state = JSON.parse(JSON.stringify(saveHart(a.h))) as HartState;
    const b = machine();
    b.ram.u8.set(a.ram.u8);
    loadHart(b.h, state);
    assert.deepEqual(view(b.h, b.ram), view(a.h, a.ram), "identical right after the load");
    a.h.run(50_000);
    b.h.run(50_000);
    const va = view(a.h, a.ram);
    assert.ok(va.instret > 60_000, `the program ran (${va.instret} instructions)`);
    assert.notEqual(a.h.f[2], 0, "the FP accumulator moved");
    assert.deepEqual(view(b.h, b.ram), va);
  });

  test("privilege, satp and PMP come back (the TLB set follows the loaded privilege)", () => {
    const a = machine();
    start(a.h);
    a.h.pmpaddr[0] = -1; // TOR over everything for entry 0 … with cfg below
    a.h.pmpaddr[1] = 0x3f_ffff;
    a.h.pmpcfg[0] = 0x0f; // R W X, TOR
    a.h.csr64[Csr64.SATP] = 0;
    a.h.priv = Priv.S;
    const s = saveHart(a.h);
    const b = machine();
    loadHart(b.h, JSON.parse(JSON.stringify(s)) as HartState);
    assert.equal(b.h.priv, Priv.S);
    assert.equal(b.h.pmp.active, 1, "PMP regions recomputed from the loaded CSRs");
    assert.deepEqual(saveHart(b.h), s, "saving the loaded hart gives the same state back");
  });

  test("a damaged state is refused whole, naming the field, and the hart is left as it was", () => {
    const a = machine();
    start(a.h);
    a.h.run(1000);
    const good = saveHart(a.h);
    const b = machine();
    start(b.h);
    const before = view(b.h, b.ram);
    const bad: [Partial<Record<keyof HartState, unknown>>, RegExp][] = [
      [{ v: 99 }, /version 99/],
      [{ hartId: 3 }, /hart 3 offered to hart 0/],
      [{ x: good.x.slice(1) }, /x: expected 64/],
      [{ pc: [1.5, 0] }, /pc: 1.5 is out of range/],
      [{ priv: 2 }, /priv 2 is not U, S or M/],
      [{ pmpcfg: [...good.pmpcfg.slice(0, 15), 300] }, /pmpcfg: 300/],
      [{ instretByPriv: [0, NaN, 0, 0] }, /instretByPriv: NaN is not a count/],
      [{ wfi: "yes" }, /wfi is not a boolean/],
    ];
    for (const [patch, why] of bad) {
      const s = { ...good, ...patch } as HartState;
      assert.match(hartStateProblem(s, 0) ?? "", why);
      assert.throws(() => loadHart(b.h, s), why);
      assert.deepEqual(view(b.h, b.ram), before, `hart unchanged after refusing ${JSON.stringify(patch).slice(0, 40)}`);
    }
    assert.equal(hartStateProblem(null, 0), "not an object");
  });
});
