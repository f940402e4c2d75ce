// The code cache's bound (code-cache.ts, issue 11 "Memory"): a guest that runs through
// more code than the budget holds keeps the host within it, and evicting never changes
// what the guest computes — registers, RAM, pc and instret slice by slice are those of
// an unbounded run, with the block compiler and without (the PARAVM_JIT=0 interpreter).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "../mem/bus.js";
import { GuestRam } from "../mem/ram.js";
import { CodeCache, DECODED_PAGE_BYTES, defaultCodeCacheBytes, CODE_CACHE_ENV, DEFAULT_CODE_CACHE_MIB } from "./code-cache.js";
import { Hart, RunStatus } from "./hart.js";
import { JIT_HEAT_BYTES, Jit, setJit } from "./jit.js";

const RAM = 0x8000_0000;
const PAGE = 4096;

// Encoders for the few RV64I instructions the generated program needs (unprivileged spec ch. 2, 4).
const R = { zero: 0, ra: 1, t0: 5, t1: 6, t2: 7, s0: 8, s1: 9, a0: 10, a1: 11, a2: 12, a3: 13, s2: 18, s3: 19, s4: 20, s6: 22, t3: 28, t4: 29, t5: 30, t6: 31 } as const;
const iType = (op: number, f3: number, rd: number, rs1: number, imm: number): number => (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const rType = (f7: number, f3: number, rd: number, rs1: number, rs2: number): number => ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x33) >>> 0;
const sType = (f3: number, rs2: number, rs1: number, imm: number): number =>
  ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | 0x23) >>> 0;
const bType = (f3: number, rs1: number, rs2: number, off: number): number =>
  ((((off >> 12) & 1) << 31) | (((off >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (((off >> 1) & 0xf) << 8) | (((off >> 11) & 1) << 7) | 0x63) >>> 0;
const asm = {
  addi: (rd: number, rs1: number, imm: number) => iType(0x13, 0, rd, rs1, imm),
  slli: (rd: number, rs1: number, sh: number) => iType(0x13, 1, rd, rs1, sh),
  add: (rd: number, rs1: number, rs2: number) => rType(0, 0, rd, rs1, rs2),
  sub: (rd: number, rs1: number, rs2: number) => rType(0x20, 0, rd, rs1, rs2),
  xor: (rd: number, rs1: number, rs2: number) => rType(0, 4, rd, rs1, rs2),
  or: (rd: number, rs1: number, rs2: number) => rType(0, 6, rd, rs1, rs2),
  lui: (rd: number, imm20: number) => (((imm20 & 0xfffff) << 12) | (rd << 7) | 0x37) >>> 0,
  auipc: (rd: number, imm20: number) => (((imm20 & 0xfffff) << 12) | (rd << 7) | 0x17) >>> 0,
  jalr: (rd: number, rs1: number, imm: number) => iType(0x67, 0, rd, rs1, imm),
  ld: (rd: number, rs1: number, imm: number) => iType(0x03, 3, rd, rs1, imm),
  sd: (rs2: number, rs1: number, imm: number) => sType(3, rs2, rs1, imm),
  sw: (rs2: number, rs1: number, imm: number) => sType(2, rs2, rs1, imm),
  bne: (rs1: number, rs2: number, off: number) => bType(1, rs1, rs2, off),
  blt: (rs1: number, rs2: number, off: number) => bType(4, rs1, rs2, off),
  fenceI: () => 0x0000100f,
  wfi: () => 0x10500073,
  jal: (rd: number, off: number) =>
    ((((off >> 20) & 1) << 31) | (((off >> 1) & 0x3ff) << 21) | (((off >> 11) & 1) << 20) | (((off >> 12) & 0xff) << 12) | (rd << 7) | 0x6f) >>> 0,
};

/** Functions, one per page after the driver's; then a data page with one doubleword per function. */
const FUNCS = 300;
/** Order of calls: function i·STEP mod FUNCS, so consecutive calls land on distant pages. */
const STEP = 7;
const ROUNDS = 5;
/** `addi a2, a2, 0`: the first instruction of every function; the driver patches function 0's immediate. */
const ADDI_A2 = asm.addi(R.a2, R.a2, 0);

/**
 * Page 0: a driver calling every function once per round, then rewriting function 0's
 * first instruction to add the round number (a store into a code page, then fence.i).
 * Page 1 + k: function k, a small loop (hot enough to compile), then a load-add-store of
 * its doubleword on the data page, then ret.
 */
function program(): Uint32Array {
  const words = new Uint32Array((FUNCS + 2) * (PAGE / 4));
  const driver = [
    asm.auipc(R.s4, 0),
    asm.lui(R.t0, 1),
    asm.add(R.s4, R.s4, R.t0), // s4: function 0
    asm.lui(R.t0, FUNCS),
    asm.add(R.s6, R.s4, R.t0),
    asm.addi(R.s6, R.s6, 1024),
    asm.addi(R.s6, R.s6, 1024), // s6: the middle of the data page (12-bit offsets reach all of it)
    asm.addi(R.s0, R.zero, 0),
    asm.addi(R.s1, R.zero, ROUNDS),
    asm.addi(R.s3, R.zero, FUNCS),
    // outer (10):
    asm.addi(R.s2, R.zero, 0),
    asm.addi(R.t1, R.zero, 0),
    // inner (12):
    asm.slli(R.t2, R.t1, 12),
    asm.add(R.t2, R.t2, R.s4),
    asm.jalr(R.ra, R.t2, 0),
    asm.addi(R.t1, R.t1, STEP),
    asm.blt(R.t1, R.s3, 8),
    asm.sub(R.t1, R.t1, R.s3),
    asm.addi(R.s2, R.s2, 1),
    asm.blt(R.s2, R.s3, (12 - 19) * 4),
    asm.slli(R.t3, R.s0, 20),
    asm.lui(R.t4, ADDI_A2 >>> 12),
    asm.addi(R.t4, R.t4, ADDI_A2 & 0xfff),
    asm.or(R.t3, R.t3, R.t4),
    asm.sw(R.t3, R.s4, 0),
    asm.fenceI(),
    asm.addi(R.s0, R.s0, 1),
    asm.blt(R.s0, R.s1, (10 - 27) * 4),
    asm.wfi(),
    asm.jal(R.zero, -4),
  ];
  words.set(driver, 0);
  for (let k = 0; k < FUNCS; k++) {
    const f = [
      ADDI_A2,
      asm.addi(R.t5, R.zero, 20 + (k % 7)),
      asm.addi(R.a0, R.a0, (k & 0x3ff) + 1),
      asm.xor(R.a1, R.a1, R.a0),
      asm.slli(R.a3, R.a1, 1),
      asm.add(R.a1, R.a3, R.a0),
      asm.addi(R.t5, R.t5, -1),
      asm.bne(R.t5, R.zero, -5 * 4),
      asm.ld(R.t6, R.s6, k * 8 - 2048),
      asm.add(R.t6, R.t6, R.a1),
      asm.sd(R.t6, R.s6, k * 8 - 2048),
      asm.jalr(R.zero, R.ra, 0),
    ];
    words.set(f, (1 + k) * (PAGE / 4));
  }
  return words;
}

interface Outcome {
  x: number[];
  ram: Uint8Array;
  pc: number;
  instret: number;
  byPriv: number[];
  /** pc:instret after every run() call. */
  trail: string;
  evictions: number;
  peakBytes: number;
  blocks: number;
  pages: number;
}

const SLICE = 1000;

function runGenerated(opts: { jit: boolean; budget: number }): Outcome {
  const ram = new GuestRam(RAM, 2 << 20);
  new Uint32Array(ram.u8.buffer, ram.u8.byteOffset, (FUNCS + 2) * (PAGE / 4)).set(program());
  const h = new Hart(new Bus(ram), 0, null);
  h.code.setBudget(opts.budget);
  h.setPc(RAM);
  const jit = opts.jit ? new Jit(h, { hot: 4 }) : null;
  setJit(h, jit);
  const trail: string[] = [];
  for (let total = 0; ; total += SLICE) {
    const st = h.run(SLICE);
    trail.push(`${h.getPc().toString(16)}:${h.instret}`);
    assert.ok(h.code.bytes <= opts.budget, `${h.code.bytes} bytes held, over the budget of ${opts.budget}`);
    if (st === RunStatus.Wfi) break;
    if (total > 20_000_000) throw new Error("program did not finish");
  }
  return {
    x: Array.from(h.x.subarray(0, 64)),
    ram: ram.u8.slice(),
    pc: h.getPc(),
    instret: h.instret,
    byPriv: Array.from(h.instretByPriv),
    trail: trail.join(" "),
    evictions: h.code.evictions,
    peakBytes: h.code.peakBytes,
    blocks: jit?.blocks ?? 0,
    pages: h.code.list.length,
  };
}

const reg = (o: Outcome, r: number): bigint => (BigInt(o.x[2 * r + 1]! >>> 0) << 32n) | BigInt(o.x[2 * r]! >>> 0);

describe("code cache bound", () => {
  test("a guest running through more code than the budget stays within it; results and instret equal unbounded runs, with and without the JIT", () => {
    // Room for about 40 of the program's 302 code pages (each a decoded page plus heat counters).
    const budget = 40 * (DECODED_PAGE_BYTES + JIT_HEAT_BYTES);
    const runs = {
      jitBounded: runGenerated({ jit: true, budget }),
      jitUnbounded: runGenerated({ jit: true, budget: Infinity }),
      interpBounded: runGenerated({ jit: false, budget }),
      interpUnbounded: runGenerated({ jit: false, budget: Infinity }),
    };
    const ref = runs.interpUnbounded;
    // Sanity of the reference: every round called every function, and each call of
    // function 0 after round r's patch added r (0 + 1 + … + ROUNDS-2).
    assert.equal(reg(ref, R.s0), BigInt(ROUNDS));
    assert.equal(reg(ref, R.a2), BigInt(((ROUNDS - 1) * (ROUNDS - 2)) / 2), "the patched instruction ran");
    assert.equal(ref.evictions, 0);
    // Unbounded, every code page stays cached but function 0's, patched after its last call.
    assert.equal(ref.pages, 1 + FUNCS - 1, "unbounded: every code page run since its last store stays cached");
    for (const [name, o] of Object.entries(runs)) {
      assert.equal(o.trail, ref.trail, `${name}: pc/instret after each run() slice`);
      assert.deepEqual(o.x, ref.x, `${name}: registers`);
      assert.equal(o.pc, ref.pc, `${name}: pc`);
      assert.equal(o.instret, ref.instret, `${name}: instret`);
      assert.deepEqual(o.byPriv, ref.byPriv, `${name}: instret by privilege`);
      assert.ok(Buffer.compare(o.ram, ref.ram) === 0, `${name}: RAM`);
    }
    for (const o of [runs.jitBounded, runs.interpBounded]) {
      assert.ok(o.evictions > 0, "the bounded runs evicted");
      assert.ok(o.peakBytes <= budget, `peak ${o.peakBytes} within ${budget}`);
      assert.ok(o.pages * DECODED_PAGE_BYTES <= budget, `${o.pages} pages cached`);
    }
    assert.equal(runs.jitUnbounded.evictions, 0);
    assert.ok(runs.jitUnbounded.peakBytes > budget, "the unbounded run needed more than the budget");
    assert.ok(runs.jitBounded.blocks > 0 && runs.jitUnbounded.blocks > 0, "blocks were compiled");
  });

  test("CLOCK: a page entered since the last sweep survives the next eviction; an untouched one goes", () => {
    const c = new CodeCache(64, 3 * DECODED_PAGE_BYTES);
    const snap = new Int32Array(1024);
    const p = [0, 1, 2].map((n) => c.add(n, snap, 1));
    // A fourth page: one sweep clears every used bit, then the first page at the hand goes.
    c.add(3, snap, 1);
    assert.equal(c.evictions, 1);
    assert.equal(c.find(0), null);
    p[1]!.used = 1; // page 1 is entered again
    c.add(4, snap, 1);
    assert.equal(c.evictions, 2);
    assert.notEqual(c.find(1), null, "the page used since the sweep stays");
    assert.equal(c.find(2), null, "the untouched page goes");
    assert.notEqual(c.find(3), null);
    assert.equal(c.bytes, 3 * DECODED_PAGE_BYTES);
    assert.equal(c.list.length, 3);
  });

  test("the page being executed is kept even when it alone is over the budget", () => {
    const c = new CodeCache(64, DECODED_PAGE_BYTES);
    const snap = new Int32Array(1024);
    const a = c.add(7, snap, 1);
    c.makeRoom(JIT_HEAT_BYTES, a);
    assert.equal(c.find(7), a);
    assert.equal(c.evictions, 0);
  });

  test("the index grows with the 2 MiB regions that hold code, and shrinks when they are dropped", () => {
    const c = new CodeCache(65536, Infinity);
    const snap = new Int32Array(1024);
    const empty = c.indexBytes();
    const a = c.add(5, snap, 1);
    c.add(6, snap, 1);
    const one = c.indexBytes();
    assert.ok(one > empty);
    const far = c.add(60000, snap, 1);
    assert.ok(c.indexBytes() > one);
    c.remove(far);
    assert.equal(c.indexBytes(), one);
    c.clear();
    assert.equal(c.indexBytes(), empty);
    assert.equal(c.bytes, 0);
    assert.equal(a.index, -1);
  });

  test(`${CODE_CACHE_ENV} sets the default budget; nonsense falls back to ${DEFAULT_CODE_CACHE_MIB} MiB`, () => {
    const saved = process.env[CODE_CACHE_ENV];
    try {
      process.env[CODE_CACHE_ENV] = "0.5";
      assert.equal(defaultCodeCacheBytes(), 512 * 1024);
      for (const bad of ["0", "-3", "lots"]) {
        process.env[CODE_CACHE_ENV] = bad;
        assert.equal(defaultCodeCacheBytes(), DEFAULT_CODE_CACHE_MIB * 1024 * 1024, bad);
      }
    } finally {
      if (saved === undefined) delete process.env[CODE_CACHE_ENV];
      else process.env[CODE_CACHE_ENV] = saved;
    }
  });
});
