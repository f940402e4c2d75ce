// Dirty-page logging on the hart (mem/dirty-log.ts, mmu.ts): the fast path writes through
// live store TLB entries and logs nothing, so every way a store entry becomes live (a page
// walk, a refill from its set's backing) logs its page first, a flush takes the live entries
// away, and every RAM write made without one (AMOs, SC, the walker's A/D update, misaligned
// stores) logs its page itself. Real instructions run through Hart.run in S-mode under Sv39.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "../mem/bus.js";
import { DirtyLog } from "../mem/dirty-log.js";
import { GuestRam } from "../mem/ram.js";
import { CSR, PTE, Priv } from "./constants.js";
import { csrWrite } from "./csr.js";
import { Hart } from "./hart.js";
import { pmpAllowAll } from "./pmp.js";

const RAM = 0x8000_0000;
const RAM_SIZE = 4 << 20;
const RW = PTE.R | PTE.W;

// Encoders (unprivileged spec ch. 2 and 8).
const lw = (rd: number, rs1: number): number => ((rs1 << 15) | (2 << 12) | (rd << 7) | 0x03) >>> 0;
const sw = (rs2: number, rs1: number, imm = 0): number =>
  ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (2 << 12) | ((imm & 0x1f) << 7) | 0x23) >>> 0;
const amoW = (funct5: number, rd: number, rs1: number, rs2: number): number =>
  ((funct5 << 27) | (rs2 << 20) | (rs1 << 15) | (2 << 12) | (rd << 7) | 0x2f) >>> 0;
const AMOADD_W = (rd: number, rs1: number, rs2: number): number => amoW(0, rd, rs1, rs2);
const LR_W = (rd: number, rs1: number): number => amoW(2, rd, rs1, 0);
const SC_W = (rd: number, rs1: number, rs2: number): number => amoW(3, rd, rs1, rs2);

/** A hart in S-mode over RAM whose dirty log is attached (not yet started), with a page-table builder. */
class Rig {
  readonly ram = new GuestRam(RAM, RAM_SIZE);
  readonly hart = new Hart(new Bus(this.ram), 0, null);
  readonly log = DirtyLog.create(RAM_SIZE / 4096);
  readonly root: number;
  private next = 0x10_0000; // page tables and data from RAM + 1 MiB

  constructor() {
    this.ram.dirty = this.log;
    pmpAllowAll(this.hart);
    this.hart.priv = Priv.S;
    this.root = this.page();
    // VA 0x8000_0000 (gigapage 2) maps RAM itself, A and D already set: code runs there.
    this.w32(this.root + 2 * 8, ((RAM / 4096) << 10) | PTE.V | PTE.R | PTE.W | PTE.X | PTE.A | PTE.D | PTE.G);
    csrWrite(this.hart, CSR.satp, this.root / 4096, (8 << 28) | (1 << 12));
  }

  page(): number {
    const pa = RAM + this.next;
    this.next += 4096;
    return pa;
  }

  w32(pa: number, v: number): void {
    this.ram.i32[(pa - RAM) >> 2] = v | 0;
  }

  r32(pa: number): number {
    return this.ram.i32[(pa - RAM) >> 2]!;
  }

  /** Map the 4 KiB page at `va` (below 1 GiB) to `pa`; returns the leaf PTE's address. A and D only when `ad`. */
  map(va: number, pa: number, ad = true): number {
    let table = this.root;
    for (let l = 2; l > 0; l--) {
      const slot = table + ((va >>> (12 + 9 * l)) & 0x1ff) * 8;
      if ((this.r32(slot) & PTE.V) === 0) this.w32(slot, ((this.page() / 4096) << 10) | PTE.V);
      table = ((this.r32(slot) >>> 10) * 4096) >>> 0;
    }
    const leaf = table + ((va >>> 12) & 0x1ff) * 8;
    this.w32(leaf, ((pa / 4096) << 10) | RW | PTE.V | (ad ? PTE.A | PTE.D : 0));
    return leaf;
  }

  reg(r: number, v: number): void {
    this.hart.x[2 * r] = v | 0;
    this.hart.x[2 * r + 1] = 0;
  }

  /** Run `words` as S-mode code from a fresh page (written by the host: not logged). */
  run(words: number[]): void {
    const pa = this.page();
    words.forEach((w, i) => this.w32(pa + 4 * i, w));
    this.hart.setPc(pa);
    this.hart.run(words.length);
    assert.equal(this.hart.getPc(), pa + 4 * words.length, "the code ran to its end without a trap");
  }

  /** RAM page numbers the log hands out now. */
  taken(): number[] {
    const into = new Uint32Array(this.log.pages);
    return Array.from(into.subarray(0, this.log.take(into)));
  }

  /** What every runner does at its next turn when a flush is wanted (RunLoop.obeyDirtyFlush). */
  obeyFlush(): void {
    if (this.log.flushWanted(0)) {
      this.hart.tlb.dropLiveStores();
      this.log.ackFlush(0);
    }
  }
}

const pageOf = (pa: number): number => (pa - RAM) / 4096;

test("a store entry made live before logging started: its stores are logged once the flush is obeyed", () => {
  const g = new Rig();
  const data = g.page();
  g.map(0x2000, data);
  g.reg(5, 0x2000);
  g.reg(6, 0x1234);
  g.run([sw(6, 5)]); // walks, installs the store entry: logging is off
  g.log.start();
  g.run([sw(6, 5, 8)]);
  assert.deepEqual(g.taken(), [], "the fast path logs nothing: this is why the collector flushes");
  const n = g.log.requestFlush();
  assert.equal(g.log.flushedAll(n, 1), false);
  g.obeyFlush();
  assert.equal(g.log.flushedAll(n, 1), true);
  g.run([sw(6, 5, 16)]);
  assert.deepEqual(g.taken(), [pageOf(data)], "after the flush the store took the slow path and logged its page");
  assert.equal(g.r32(data + 16), 0x1234);
  g.run([sw(6, 5, 24)]);
  assert.deepEqual(g.taken(), [], "the entry is live again: later stores go through it unlogged until the next flush");
});

test("a flush keeps the fetch and load entries live: only stores must come back through the slow path", () => {
  const g = new Rig();
  const data = g.page();
  g.map(0x2000, data);
  g.reg(5, 0x2000);
  g.run([lw(7, 5), sw(7, 5, 4)]);
  const before = g.hart.tlb.stats();
  g.log.start();
  g.log.requestFlush();
  g.obeyFlush();
  g.run([lw(7, 5), sw(7, 5, 4)]);
  const after = g.hart.tlb.stats();
  assert.equal(after.setHits - before.setHits, 1, "one refill from the set's backing: the store's, not the load's");
  assert.deepEqual(g.taken(), [pageOf(data)]);
});

test("a store to a page whose entry waits in its set's backing is logged when the entry is made live again", () => {
  const g = new Rig();
  const data = g.page();
  g.map(0x3000, data);
  g.reg(5, 0x3000);
  g.reg(6, 7);
  g.run([sw(6, 5)]);
  // A trap to M and back: the S set keeps its entries in its backing, the live arrays are emptied.
  g.hart.priv = Priv.M;
  g.hart.priv = Priv.S;
  g.log.start();
  const hits = g.hart.tlb.stats().setHits;
  g.run([sw(6, 5, 4)]);
  assert.equal(g.hart.tlb.stats().setHits, hits + 1, "the store was served by a refill from the backing, not a walk");
  assert.deepEqual(g.taken(), [pageOf(data)]);
});

test("a first store to a page (page walk, new entry) is logged, and so is each page of a misaligned store across two", () => {
  const g = new Rig();
  const [a, b] = [g.page(), g.page()];
  g.map(0x4000, a);
  g.map(0x5000, b); // contiguous virtual pages on scattered physical ones
  g.log.start();
  g.reg(5, 0x4000);
  g.reg(6, -1);
  const walks = g.hart.tlb.stats().refills.store;
  g.run([sw(6, 5)]);
  assert.equal(g.hart.tlb.stats().refills.store, walks + 1);
  assert.deepEqual(g.taken(), [pageOf(a)]);
  g.log.requestFlush();
  g.obeyFlush();
  g.reg(5, 0x4ffe);
  g.run([sw(6, 5)]);
  assert.deepEqual(g.taken(), [pageOf(a), pageOf(b)]);
  assert.equal(g.r32(b) & 0xffff, 0xffff, "the second half landed on the other page");
});

test("AMOs and SC log the page they write; LR (a load) does not", () => {
  const g = new Rig();
  const [a, b] = [g.page(), g.page()];
  g.map(0x6000, a);
  g.map(0x7000, b);
  g.log.start();
  g.reg(5, 0x6000);
  g.reg(6, 3);
  g.run([AMOADD_W(7, 5, 6)]);
  assert.deepEqual(g.taken(), [pageOf(a)], "amoadd.w");
  assert.equal(g.r32(a), 3);
  g.reg(5, 0x7000);
  g.run([LR_W(7, 5)]);
  assert.deepEqual(g.taken(), [], "lr.w writes nothing");
  g.run([LR_W(7, 5), SC_W(8, 5, 6)]);
  assert.equal(g.hart.x[16], 0, "sc.w succeeded");
  assert.equal(g.r32(b), 3);
  assert.deepEqual(g.taken(), [pageOf(b)], "sc.w");
});

test("the page walker's A and D updates log the page holding the PTE", () => {
  const g = new Rig();
  const data = g.page();
  const leaf = g.map(0x8000, data, false);
  g.log.start();
  g.reg(5, 0x8000);
  g.run([lw(7, 5)]);
  assert.equal(g.r32(leaf) & (PTE.A | PTE.D), PTE.A, "the load set A");
  assert.deepEqual(g.taken(), [pageOf(leaf - (leaf % 4096))], "the walker's write to the table page");
  g.run([sw(7, 5)]);
  assert.equal(g.r32(leaf) & PTE.D, PTE.D, "the store set D");
  assert.deepEqual(
    g.taken().sort((x, y) => x - y),
    [pageOf(data), pageOf(leaf - (leaf % 4096))].sort((x, y) => x - y),
  );
});
