// The TLB's sets (tlb.ts) against the privileged spec: SFENCE.VMA by address, by ASID and
// for global mappings (§4.2.1), satp ASID switches (§4.1.11), privilege and SUM (§4.3.1,
// §3.1.6.3). Values show that no stale translation is used; the refill counters show that
// a fence or switch dropped only what it names (QEMU flushes more, so it cannot be the
// oracle for that part).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "../mem/bus.js";
import { GuestRam } from "../mem/ram.js";
import { Hart } from "./hart.js";
import { Cause, CSR, Csr64, MSTATUS, PTE, Priv } from "./constants.js";
import { csrWrite } from "./csr.js";
import { pmpAllowAll } from "./pmp.js";

const RAM = 0x8000_0000;
const RAM_SIZE = 4 << 20;

// Encoders (unprivileged spec ch. 2, privileged spec ch. 3-4).
const itype = (imm: number, rs1: number, f3: number, rd: number, op: number): number =>
  (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const lw = (rd: number, rs1: number, imm = 0): number => itype(imm, rs1, 2, rd, 0x03);
const addi = (rd: number, rs1: number, imm: number): number => itype(imm, rs1, 0, rd, 0x13);
const csrrw = (rd: number, csr: number, rs1: number): number => itype(csr, rs1, 1, rd, 0x73);
const csrrc = (rd: number, csr: number, rs1: number): number => itype(csr, rs1, 3, rd, 0x73);
const sfence = (rs1: number, rs2: number): number => (0x12000073 | (rs2 << 20) | (rs1 << 15)) >>> 0;
const ECALL = 0x00000073;
const SRET = 0x10200073;
const JAL_SELF = 0x0000006f;

/** A hart in S-mode over 4 MiB of RAM, with a page-table builder. */
class Rig {
  readonly ram = new GuestRam(RAM, RAM_SIZE);
  readonly hart = new Hart(new Bus(this.ram), 0, null);
  private next = 0x10_0000; // page tables from RAM + 1 MiB

  constructor() {
    pmpAllowAll(this.hart);
    this.hart.priv = Priv.S;
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

  code(pa: number, words: number[]): void {
    words.forEach((w, i) => this.w32(pa + 4 * i, w));
  }

  /** A new root table whose VA 0x8000_0000 gigapage maps RAM for S (global, RWX). */
  root(): number {
    const r = this.page();
    this.w32(r + 2 * 8, ((RAM / 4096) << 10) | PTE.V | PTE.R | PTE.W | PTE.X | PTE.A | PTE.D | PTE.G);
    return r;
  }

  /** Map the page at `va` (below 1 GiB) at `level` (0: 4 KiB, 1: 2 MiB) to `pa`. */
  map(root: number, va: number, pa: number, flags: number, level = 0): void {
    let table = root;
    for (let l = 2; l > level; l--) {
      const slot = table + ((va >>> (12 + 9 * l)) & 0x1ff) * 8;
      if ((this.r32(slot) & PTE.V) === 0) this.w32(slot, ((this.page() / 4096) << 10) | PTE.V);
      table = ((this.r32(slot) >>> 10) * 4096) >>> 0;
    }
    this.w32(table + ((va >>> (12 + 9 * level)) & 0x1ff) * 8, ((pa / 4096) << 10) | flags | PTE.V | PTE.A | PTE.D);
  }

  satp(root: number, asid: number): [number, number] {
    return [root / 4096, (8 << 28) | (asid << 12)];
  }

  setSatp(v: [number, number]): void {
    csrWrite(this.hart, CSR.satp, v[0], v[1]);
  }

  reg(r: number, v: number): void {
    this.hart.x[2 * r] = v | 0;
    this.hart.x[2 * r + 1] = v < 0 ? -1 : 0;
  }

  /** Run `words` as S-mode code at a fresh page; returns after they all ran. */
  runS(words: number[]): void {
    const pa = this.page();
    this.code(pa, words);
    this.hart.setPc(pa);
    this.hart.run(words.length);
  }

  loadWalks(): number {
    return this.hart.tlb.stats().refills.load;
  }
}

const RW = PTE.R | PTE.W;

test("priv 4.2.1: sfence.vma rs1=addr drops that page; other pages keep their entries", () => {
  const g = new Rig();
  const root = g.root();
  const [p1, p2, q1] = [g.page(), g.page(), g.page()];
  g.w32(p1, 111);
  g.w32(p2, 222);
  g.w32(q1, 333);
  g.map(root, 0x2000, p1, RW);
  g.map(root, 0x5000, q1, RW);
  g.setSatp(g.satp(root, 1));
  g.reg(6, 0x2000);
  g.reg(7, 0x5000);
  g.runS([lw(5, 6), lw(8, 7)]);
  assert.equal(g.hart.x[10], 111);
  assert.equal(g.hart.x[16], 333);
  g.map(root, 0x2000, p2, RW); // the guest remaps the page, then fences that address
  const walks = g.loadWalks();
  g.runS([sfence(6, 0), lw(5, 6), lw(8, 7)]);
  assert.equal(g.hart.x[10], 222, "after sfence.vma of the address, the new mapping is used");
  assert.equal(g.hart.x[16], 333);
  assert.equal(g.loadWalks() - walks, 1, "only the fenced page was walked again");
});

test("priv 4.2.1: sfence.vma rs1=addr inside a megapage drops every 4 KiB entry cut from that leaf", () => {
  const g = new Rig();
  const root = g.root();
  const big1 = RAM + (2 << 20); // a 2 MiB-aligned physical region
  g.w32(big1, 1);
  g.w32(big1 + 0x3000, 2);
  g.map(root, 0x20_0000, big1, RW, 1);
  g.setSatp(g.satp(root, 3));
  g.reg(6, 0x20_0000);
  g.reg(7, 0x20_3000);
  g.runS([lw(5, 6), lw(8, 7)]);
  assert.deepEqual([g.hart.x[10], g.hart.x[16]], [1, 2]);
  // Remap the megapage as 4 KiB pages elsewhere; fence only the first page's address.
  const l0 = g.page();
  const [a, b] = [g.page(), g.page()];
  g.w32(a, 10);
  g.w32(b, 20);
  for (let i = 0; i < 512; i++) g.w32(l0 + 8 * i, 0);
  g.w32(l0 + 0 * 8, ((a / 4096) << 10) | PTE.V | RW | PTE.A | PTE.D);
  g.w32(l0 + 3 * 8, ((b / 4096) << 10) | PTE.V | RW | PTE.A | PTE.D);
  const l1 = ((g.r32(root) >>> 10) * 4096) >>> 0;
  g.w32(l1 + 1 * 8, ((l0 / 4096) << 10) | PTE.V);
  g.runS([sfence(6, 0), lw(5, 6), lw(8, 7)]);
  assert.deepEqual([g.hart.x[10], g.hart.x[16]], [10, 20], "the second 4 KiB entry of the old megapage went too");
});

test("priv 4.2.1: sfence.vma x0, rs2=ASID drops that ASID's non-global entries; global ones and other ASIDs stay", () => {
  const g = new Rig();
  const root = g.root();
  const [d1, d2, k1, k2] = [g.page(), g.page(), g.page(), g.page()];
  g.w32(d1, 1);
  g.w32(d2, 2);
  g.w32(k1, 10);
  g.w32(k2, 20);
  g.map(root, 0x3000, d1, RW);
  g.map(root, 0x4000, k1, RW | PTE.G);
  g.setSatp(g.satp(root, 5));
  g.reg(6, 0x3000);
  g.reg(7, 0x4000);
  g.runS([lw(5, 6), lw(8, 7)]);
  g.map(root, 0x3000, d2, RW);
  g.map(root, 0x4000, k2, RW | PTE.G);
  // rs2 = x9 holding another ASID: nothing of ASID 5 is dropped.
  g.reg(9, 6);
  let walks = g.loadWalks();
  g.runS([sfence(0, 9), lw(5, 6)]);
  assert.equal(g.loadWalks() - walks, 0, "a fence for ASID 6 keeps ASID 5's entries");
  // rs2 = x9 holding ASID 5: the non-global page is walked again, the global one is not.
  g.reg(9, 5);
  walks = g.loadWalks();
  g.runS([sfence(0, 9), lw(5, 6), lw(8, 7)]);
  assert.equal(g.hart.x[10], 2, "the non-global mapping of ASID 5 is fresh");
  assert.equal(g.loadWalks() - walks, 1, "the global entry survived the ASID fence");
  // rs2 = x0: every address space, global mappings too.
  g.runS([sfence(0, 0), lw(8, 7)]);
  assert.equal(g.hart.x[16], 20);
});

test("priv 4.2.1: rs2 naming a register that holds 0 fences ASID 0 only, unlike rs2 = x0", () => {
  const g = new Rig();
  const root = g.root();
  const [k1, k2] = [g.page(), g.page()];
  g.w32(k1, 7);
  g.w32(k2, 8);
  g.map(root, 0x4000, k1, RW | PTE.G);
  g.setSatp(g.satp(root, 0));
  g.reg(7, 0x4000);
  g.reg(9, 0);
  g.runS([lw(8, 7)]);
  g.map(root, 0x4000, k2, RW | PTE.G);
  const walks = g.loadWalks();
  g.runS([sfence(0, 9), lw(8, 7)]);
  assert.equal(g.loadWalks() - walks, 0, "ASID 0's fence leaves the global entry");
  g.runS([sfence(0, 0), lw(8, 7)]);
  assert.equal(g.hart.x[16], 8, "x0 fences global mappings too");
});

/**
 * Two address spaces (ASID 1 and 2, own roots) map the same user VA to different pages.
 * U-mode loads it, ecalls; the S handler swaps satp (csrrw) and srets; repeat.
 */
function asidRig(): { g: Rig; sa: [number, number]; sb: [number, number] } {
  const g = new Rig();
  const [ra, rb] = [g.root(), g.root()];
  const [ucode, dA, dB] = [g.page(), g.page(), g.page()];
  g.w32(dA, 0xa);
  g.w32(dB, 0xb);
  for (const r of [ra, rb]) g.map(r, 0x1000, ucode, PTE.R | PTE.X | PTE.U);
  g.map(ra, 0x2000, dA, RW | PTE.U);
  g.map(rb, 0x2000, dB, RW | PTE.U);
  g.code(ucode, [lw(5, 6), ECALL, lw(10, 6), ECALL, lw(11, 6), ECALL, lw(12, 6), JAL_SELF]);
  const handler = g.page();
  // sepc += 4; swap satp with x29; back to U.
  g.code(handler, [csrrw(28, CSR.sepc, 0), addi(28, 28, 4), csrrw(0, CSR.sepc, 28), csrrw(29, CSR.satp, 29), SRET]);
  const h = g.hart;
  h.medeleg = 1 << Cause.EcallU;
  h.csr64[Csr64.STVEC] = handler;
  const sa = g.satp(ra, 1);
  const sb = g.satp(rb, 2);
  return { g, sa, sb };
}

test("priv 4.1.11: a satp ASID switch never uses the other address space's translation; each keeps its own", () => {
  const { g, sa, sb } = asidRig();
  const h = g.hart;
  g.setSatp(sa);
  g.reg(29, 0);
  h.x[58] = sb[0];
  h.x[59] = sb[1];
  g.reg(6, 0x2000);
  h.csr64[Csr64.SEPC] = 0x1000;
  h.mstatus &= ~MSTATUS.SPP;
  const start = g.page();
  g.code(start, [SRET]);
  h.setPc(start);
  h.run(1 + 2 + 5 + 2 + 5 + 2 + 5 + 1 + 3);
  assert.equal(h.priv, Priv.U);
  assert.deepEqual([h.x[10], h.x[20], h.x[22], h.x[24]], [0xa, 0xb, 0xa, 0xb], "A, B, A, B: never the other's page");
  const s = h.tlb.stats();
  assert.equal(s.refills.load, 2, "each address space walked its page once; the switches back reused the kept sets");
  assert.ok(s.satpSwitches >= 3);
});

test("priv 4.1.11: a U set kept for a satp value is not reused after that ASID is fenced", () => {
  const { g, sa, sb } = asidRig();
  const h = g.hart;
  g.setSatp(sa);
  h.x[58] = sb[0];
  h.x[59] = sb[1];
  g.reg(6, 0x2000);
  h.csr64[Csr64.SEPC] = 0x1000;
  h.mstatus &= ~MSTATUS.SPP;
  const start = g.page();
  g.code(start, [SRET]);
  h.setPc(start);
  h.run(1 + 2 + 5); // U loaded A's page, now back in U under B
  assert.equal(h.x[10], 0xa);
  // While B runs, the guest points A's VA at another page and fences ASID 1 (from S: host-side here).
  const fresh = g.page();
  g.w32(fresh, 0xaa);
  g.map(sa[0] * 4096, 0x2000, fresh, RW | PTE.U);
  h.tlb.sfence(false, 0, 0, true, 1);
  h.run(2 + 5 + 2); // B's load, back to A, A's load
  assert.equal(h.x[20], 0xb);
  assert.equal(h.x[22], 0xaa, "A's set was fenced while B ran: the new mapping is used");
});

test("priv 4.3.1: U-mode never uses an S-mode entry (a kernel page cached by S faults in U)", () => {
  const g = new Rig();
  const root = g.root();
  const [ucode, kpage] = [g.page(), g.page()];
  g.w32(kpage, 99);
  g.map(root, 0x1000, ucode, PTE.R | PTE.X | PTE.U);
  g.map(root, 0x7000, kpage, RW); // S-only
  g.code(ucode, [lw(5, 6), JAL_SELF]);
  const handler = g.page();
  g.code(handler, [JAL_SELF]);
  const h = g.hart;
  h.medeleg = 1 << Cause.LoadPageFault;
  h.csr64[Csr64.STVEC] = handler;
  g.setSatp(g.satp(root, 1));
  g.reg(6, 0x7000);
  h.csr64[Csr64.SEPC] = 0x1000;
  h.mstatus &= ~MSTATUS.SPP;
  g.runS([lw(8, 6), SRET]); // S caches the kernel page, then enters U at 0x1000
  assert.equal(h.x[16], 99);
  h.run(2);
  assert.equal(h.csr64[Csr64.SCAUSE], Cause.LoadPageFault, "U's load of an S page faults despite S's cached entry");
  assert.equal(h.priv, Priv.S);
  assert.equal(h.x[10], 0);
});

test("priv 3.1.6.3: S entries allowed by SUM go when SUM is cleared, also after a round trip through U", () => {
  const g = new Rig();
  const root = g.root();
  const [ucode, upage] = [g.page(), g.page()];
  g.w32(upage, 42);
  g.map(root, 0x1000, ucode, PTE.R | PTE.X | PTE.U);
  g.map(root, 0x2000, upage, RW | PTE.U);
  g.code(ucode, [lw(5, 6), ECALL]);
  const handler = g.page();
  // Back in S from U: clear SUM (x7 = SUM), then load the U page: must fault.
  g.code(handler, [csrrc(0, CSR.sstatus, 7), lw(9, 6), JAL_SELF]);
  const h = g.hart;
  h.medeleg = 1 << Cause.EcallU;
  h.csr64[Csr64.STVEC] = handler;
  const mtvec = g.page();
  g.code(mtvec, [JAL_SELF]);
  h.csr64[Csr64.MTVEC] = mtvec;
  g.setSatp(g.satp(root, 1));
  g.reg(6, 0x2000);
  g.reg(7, MSTATUS.SUM);
  h.mstatus |= MSTATUS.SUM;
  h.csr64[Csr64.SEPC] = 0x1000;
  h.mstatus &= ~MSTATUS.SPP;
  g.runS([lw(8, 6), SRET]);
  assert.equal(h.x[16], 42, "S reads the U page with SUM=1");
  h.run(2 + 2);
  assert.equal(h.x[10], 42, "U reads its own page");
  assert.equal(h.priv, Priv.M, "the S load after clearing SUM faulted (not delegated: into M)");
  assert.equal(h.csr64[Csr64.MCAUSE], Cause.LoadPageFault);
  assert.equal(h.x[18], 0);
});

test("more address spaces than U sets: every switch still sees its own mapping", () => {
  const g = new Rig();
  const h = g.hart;
  const spaces: { satp: [number, number]; value: number }[] = [];
  for (let i = 0; i < 7; i++) {
    const root = g.root();
    const d = g.page();
    g.w32(d, 100 + i);
    g.map(root, 0x2000, d, RW | PTE.U);
    g.map(root, 0x1000, RAM + 0x3000, PTE.R | PTE.X | PTE.U);
    spaces.push({ satp: g.satp(root, i + 1), value: 100 + i });
  }
  g.code(RAM + 0x3000, [lw(5, 6), ECALL]);
  const handler = g.page();
  g.code(handler, [JAL_SELF]);
  h.medeleg = 1 << Cause.EcallU;
  h.csr64[Csr64.STVEC] = handler;
  g.reg(6, 0x2000);
  const order = [0, 1, 2, 3, 4, 5, 6, 0, 3, 6, 1, 1, 5, 2];
  for (const i of order) {
    h.priv = Priv.S;
    g.setSatp(spaces[i]!.satp);
    h.csr64[Csr64.SEPC] = 0x1000;
    h.mstatus &= ~MSTATUS.SPP;
    g.runS([SRET]);
    h.run(2);
    assert.equal(h.x[10], spaces[i]!.value, `address space ${i}`);
  }
});

test("priv 4.1.11: S-mode after a satp write sees the new address space's non-global pages, and keeps global ones", () => {
  const g = new Rig();
  const [ra, rb] = [g.root(), g.root()];
  const [dA, dB, k] = [g.page(), g.page(), g.page()];
  g.w32(dA, 0xa);
  g.w32(dB, 0xb);
  g.w32(k, 0xc);
  g.map(ra, 0x2000, dA, RW);
  g.map(rb, 0x2000, dB, RW);
  for (const r of [ra, rb]) g.map(r, 0x9000, k, RW | PTE.G);
  g.setSatp(g.satp(ra, 1));
  g.reg(6, 0x2000);
  g.reg(7, 0x9000);
  const [lo, hi] = g.satp(rb, 2);
  g.hart.x[2 * 29] = lo;
  g.hart.x[2 * 29 + 1] = hi;
  g.runS([lw(5, 6), lw(8, 7)]);
  const walks = g.loadWalks();
  g.runS([csrrw(0, CSR.satp, 29), lw(5, 6), lw(8, 7)]);
  assert.equal(g.hart.x[10], 0xb, "the non-global page is B's");
  assert.equal(g.hart.x[16], 0xc);
  assert.equal(g.loadWalks() - walks, 1, "the global page needed no walk");
});
