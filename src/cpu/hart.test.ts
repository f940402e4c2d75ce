// Hart behaviour that the QEMU-compared ISA suite cannot reach: the time CSR (QEMU's
// spike board has none), decoded-cache coherence without fence.i, exact budgets, WFI,
// and per-privilege instruction accounting.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "../mem/bus.js";
import { GuestRam } from "../mem/ram.js";
import { Hart, RunStatus, type TimeSource } from "./hart.js";
import { Cause, CSR, Csr64, Priv } from "./constants.js";
import { pmpAllowAll } from "./pmp.js";

const RAM = 0x8000_0000;

// Minimal encoders for the few instructions these tests need (RISC-V unprivileged spec ch. 2, 9).
const itype = (imm: number, rs1: number, f3: number, rd: number, op: number): number =>
  (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const addi = (rd: number, rs1: number, imm: number): number => itype(imm, rs1, 0, rd, 0x13);
const csrrs = (rd: number, csr: number, rs1: number): number => itype(csr, rs1, 2, rd, 0x73);
const sw = (rs2: number, rs1: number, imm: number): number =>
  ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (2 << 12) | ((imm & 31) << 7) | 0x23) >>> 0;
const WFI = 0x10500073;
const ECALL = 0x00000073;
const MRET = 0x30200073;

function machine(words: number[], time: TimeSource | null = null): { hart: Hart; ram: GuestRam } {
  const ram = new GuestRam(RAM, 1 << 20);
  words.forEach((w, i) => {
    ram.i32[i] = w | 0;
  });
  const hart = new Hart(new Bus(ram), 0, time);
  hart.setPc(RAM);
  return { hart, ram };
}

const reg = (h: Hart, r: number): bigint =>
  (BigInt(h.x[2 * r + 1]! >>> 0) << 32n) | BigInt(h.x[2 * r]! >>> 0);

test("Zicntr: rdtime reads the time source's mtime (10 MHz ticks)", () => {
  const { hart } = machine([csrrs(5, CSR.time, 0)], { mtime: () => 0x1_2345_6789 });
  hart.run(1);
  assert.equal(reg(hart, 5), 0x1_2345_6789n);
});

test("priv 3.1.9: csrrs/csrrc on mip modify the software SEIP bit, not the PLIC wire a read shows", () => {
  // csrrs x5, mip, x6 (x6 = STIP) while the external wire is high; then csrrc x0, mip, x6.
  const csrrc = (rd: number, csr: number, rs1: number): number => itype(csr, rs1, 3, rd, 0x73);
  const { hart } = machine([csrrs(5, CSR.mip, 6), csrrc(0, CSR.mip, 6)]);
  hart.x[12] = 1 << 5;
  hart.setInterruptPending(9, true);
  hart.run(1);
  assert.equal(reg(hart, 5) & 0x200n, 0x200n, "the read shows the wire");
  assert.equal(hart.mip & 0x220, 0x20, "STIP set, SEIP not latched (regression: OpenSBI SMP storm)");
  hart.setInterruptPending(9, false);
  hart.run(1);
  assert.equal(hart.effectiveMip() & 0x220, 0);
});

test("Zicntr: without a time source (spike-like board) rdtime is an illegal instruction", () => {
  const { hart } = machine([csrrs(5, CSR.time, 0)]);
  hart.csr64[Csr64.MTVEC] = RAM + 0x100;
  hart.run(1);
  assert.equal(hart.csr64[Csr64.MCAUSE], Cause.IllegalInsn);
  assert.equal(hart.getPc(), RAM + 0x100);
});

test("decoded-instruction cache: a store over already-executed code is seen without fence.i", () => {
  // Loop body at RAM+8 executes once as "addi x6, x6, 1", then the program overwrites it
  // with "addi x6, x6, 100" and jumps back. Coherence comes from the store path dropping
  // the decoded page.
  const { hart, ram } = machine([
    addi(0, 0, 0),
    addi(0, 0, 0),
    addi(6, 6, 1), // RAM+8: patched below
    addi(7, 7, 1), // count passes
    addi(28, 0, 2),
    0x01c38663, // beq x7, x28, +12 → done
    sw(11, 10, 8), // patch RAM+8 with x11
    0xfedff06f, // jal x0, -20 → RAM+8
    WFI, // done
  ]);
  hart.x[22] = addi(6, 6, 100) | 0; // x11 = the new instruction
  hart.x[20] = RAM | 0; // x10 = RAM
  hart.x[21] = 0;
  assert.equal(hart.run(1000), RunStatus.Wfi);
  assert.equal(reg(hart, 6), 101n, "first pass adds 1, second pass runs the patched instruction");
  assert.equal(ram.i32[2], addi(6, 6, 100) | 0);
});

test("run(budget) executes exactly `budget` instructions", () => {
  const words = Array.from({ length: 64 }, () => addi(5, 5, 1));
  const { hart } = machine(words);
  assert.equal(hart.run(37), RunStatus.Budget);
  assert.equal(hart.instret, 37);
  assert.equal(reg(hart, 5), 37n);
  assert.equal(hart.getPc(), RAM + 37 * 4);
});

test("WFI: stops the slice with nothing pending, resumes once an enabled interrupt is pending", () => {
  const { hart } = machine([WFI, addi(5, 5, 1), WFI]);
  assert.equal(hart.run(100), RunStatus.Wfi);
  assert.equal(hart.getPc(), RAM + 4);
  assert.equal(hart.run(100), RunStatus.Wfi, "still nothing pending: stays asleep");
  assert.equal(reg(hart, 5), 0n);
  hart.mie = 1 << 7; // MTIE, with mstatus.MIE clear: wakes but takes no trap
  hart.setInterruptPending(7, true);
  // The addi runs, and the second WFI falls through because MTIP is still pending.
  assert.equal(hart.run(2), RunStatus.Budget);
  assert.equal(reg(hart, 5), 1n);
  assert.equal(hart.getPc(), RAM + 12);
  assert.equal(hart.wfi, false);
});

test("instructions retired are counted per privilege mode; trapping instructions do not retire", () => {
  // M: set mepc to U code, MPP = U, mret; U: two addi then ecall back to M (mtvec → WFI).
  const u = RAM + 0x40;
  const words = new Array<number>(0x20).fill(addi(0, 0, 0));
  words[0] = MRET;
  words[0x10] = addi(5, 5, 1);
  words[0x11] = addi(5, 5, 1);
  words[0x12] = ECALL;
  words[0x18] = WFI; // mtvec
  const { hart } = machine(words);
  hart.csr64[Csr64.MEPC] = u;
  hart.csr64[Csr64.MTVEC] = RAM + 0x60;
  // An allow-all PMP entry so U-mode may run (spec: no match fails for U).
  pmpAllowAll(hart);
  assert.equal(hart.run(100), RunStatus.Wfi);
  assert.equal(hart.priv, Priv.M);
  assert.equal(hart.csr64[Csr64.MCAUSE], Cause.EcallU);
  assert.equal(hart.instretByPriv[Priv.U], 2, "two addi retired in U; the ecall traps");
  assert.equal(hart.instretByPriv[Priv.M], 2, "mret and wfi retired in M");
  assert.equal(hart.instret, 4);
});

test("fence.i after a write the hart did not make (DMA): the changed page is decoded afresh", () => {
  // x5 += 1 at RAM, then WFI. Run it, rewrite the first word behind the hart's back (as a
  // device would), fence (flushDecoded), rerun from the start: the new instruction runs.
  const { hart, ram } = machine([addi(5, 5, 1), WFI]);
  assert.equal(hart.run(10), RunStatus.Wfi);
  assert.equal(reg(hart, 5), 1n);
  ram.i32[0] = addi(5, 5, 40) | 0;
  hart.flushDecoded();
  hart.wfi = false;
  hart.setPc(RAM);
  assert.equal(hart.run(10), RunStatus.Wfi);
  assert.equal(reg(hart, 5), 41n);
});

test("fence.i with code unchanged keeps the decoded page (no re-decode)", () => {
  const { hart } = machine([addi(5, 5, 1), WFI]);
  hart.run(10);
  const page = hart.code.find(0)?.dp;
  assert.ok(page !== undefined);
  hart.flushDecoded();
  hart.wfi = false;
  hart.setPc(RAM);
  hart.run(10);
  assert.equal(hart.code.find(0)?.dp, page, "same decoded array after the re-check");
  assert.equal(reg(hart, 5), 2n);
});

test("sequential execution across a 4 GiB boundary carries into the high half of pc", () => {
  // Sv39 maps VA 0x0_ffff_f000 and 0x1_0000_0000 to two RAM pages: addi at the end of the
  // first page falls through to the second (pc lo wraps to 0, hi must become 1).
  const { hart, ram } = machine([]);
  const root = 0x1000; // RAM offsets of the page tables and code
  const l1 = 0x2000;
  const l0a = 0x3000;
  const l0b = 0x4000;
  const codeA = 0x5000;
  const codeB = 0x6000;
  const pte = (off: number, flags: number): [number, number] => {
    const ppn = (RAM + off) / 4096;
    return [((ppn << 10) | flags) | 0, Math.floor(ppn / 4194304)];
  };
  const put = (off: number, [lo, hi]: [number, number]): void => {
    ram.i32[off >> 2] = lo;
    ram.i32[(off >> 2) + 1] = hi;
  };
  const V = 1, R = 2, X = 8, A = 64;
  // VA 0x0_ffff_f000: vpn2 = 3, vpn1 = 511, vpn0 = 511. VA 0x1_0000_0000: vpn2 = 4, vpn1 = 0, vpn0 = 0.
  put(root + 3 * 8, pte(l1, V));
  const l1b = 0x7000;
  put(root + 4 * 8, pte(l1b, V));
  put(l1 + 511 * 8, pte(l0a, V));
  put(l1b + 0, pte(l0b, V));
  put(l0a + 511 * 8, pte(codeA, V | R | X | A));
  put(l0b + 0, pte(codeB, V | R | X | A));
  ram.i32[(codeA + 0xffc) >> 2] = addi(5, 5, 1);
  ram.i32[codeB >> 2] = addi(5, 5, 10);
  ram.i32[(codeB + 4) >> 2] = WFI;
  hart.priv = Priv.S;
  pmpAllowAll(hart);
  hart.csr64[Csr64.SATP] = (RAM + root) / 4096;
  hart.csr64[Csr64.SATP + 1] = 8 << 28;
  hart.pcLo = 0xfffffffc | 0;
  hart.pcHi = 0;
  hart.run(2);
  assert.equal(reg(hart, 5), 11n, "both instructions ran");
  assert.equal(hart.pcHi, 1);
  assert.equal(hart.pcLo, 4);
});

test("Sv39 TLB: clearing sstatus.SUM takes back S-mode access to a U page it already cached", () => {
  // Gigapages: VA 0x8000_0000 → PA 0x8000_0000 S-only RWX (the code), VA 0 → the same
  // memory as a U page. S-mode loads VA 0x100 with SUM=1 (the TLB caches it), clears SUM,
  // loads again: that must be a load page fault, not a TLB hit.
  const csrrc = (rd: number, csr: number, rs1: number): number => itype(csr, rs1, 3, rd, 0x73);
  const ld = (rd: number, rs1: number, imm: number): number => itype(imm, rs1, 3, rd, 0x03);
  const { hart, ram } = machine([ld(5, 0, 0x100), csrrc(0, CSR.sstatus, 6), ld(7, 0, 0x100)]);
  const root = 0x1_0000; // PA RAM + 64 KiB
  const pte = (flags: number): number => (0x80000 << 10) | flags;
  ram.i32[(root + 2 * 8) / 4] = pte(0xcf); // V R W X A D
  ram.i32[(root + 0 * 8) / 4] = pte(0xd7); // V R W U A D
  pmpAllowAll(hart);
  hart.csr64[Csr64.SATP] = (RAM + root) / 4096;
  hart.csr64[Csr64.SATP + 1] = 0x8000_0000 | 0; // mode 8 = Sv39
  hart.csr64[Csr64.MTVEC] = RAM + 0x400;
  hart.mstatus |= 1 << 18; // SUM
  hart.x[12] = 1 << 18;
  hart.priv = Priv.S;
  hart.run(3);
  assert.equal(hart.x[10], ram.i32[0x100 / 4], "the first load went through (SUM=1)");
  assert.equal(hart.csr64[Csr64.MCAUSE], Cause.LoadPageFault, "after SUM is cleared the cached entry must not be used");
  assert.equal(hart.getPc(), RAM + 0x400);
});
