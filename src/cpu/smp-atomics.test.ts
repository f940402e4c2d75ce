/**
 * The guest memory model with real threads (docs/memory-model.md): harts on separate
 * worker_threads over one shared GuestRam run a bare-metal program (assembled with the
 * cross toolchain; skipped when it is not installed) that hammers shared counters with
 * amoadd.w/d, LR/SC loops and a ticket lock around plain increments; the totals must be
 * exact. The negative control (plain load/add/store) must lose updates. Also: 64-bit swap
 * and LR.D never return a torn value, concurrent min/max and bit operations end exact, a
 * compiled spin loop sees another thread's store, and fences are host barriers exactly
 * when the hart is marked smp.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { after, describe, test } from "node:test";
import { Bus } from "../mem/bus.js";
import { GuestRam } from "../mem/ram.js";
import { Hart, RunStatus } from "./hart.js";
import { Jit, setJit } from "./jit.js";
import type { SmpJob, SmpReport } from "./smp-atomics.worker.js";

const RAM_BASE = 0x8000_0000;
const RAM_SIZE = 1 << 20;
const DATA = RAM_BASE + 0x10000;
const PREFIX = "riscv64-unknown-elf-";

// Byte offsets in the data block (see the program below).
const D = {
  READY: 0,
  NHARTS: 4,
  N: 8,
  PHASE: 16,
  CNT_W: 64,
  CNT_D: 128,
  LRSC_W: 192,
  LRSC_D: 256,
  TICKET_NEXT: 320,
  TICKET_SERVING: 324,
  TICKET_P64: 384,
  TICKET_P32: 392,
  PLAIN: 448,
  SWAP: 512,
  /** One 64-bit error counter per hart. */
  ERR: 576,
  MAXU_D: 640,
  MIN_D: 648,
  MAX_W: 656,
  XOR_D: 768,
  BITS_D: 776,
  ADD_D: 784,
  /** Per hart: the value it xors in, and the bit mask it sets and clears. */
  K: 800,
  M: 864,
  FLAG: 960,
  /** Set by the spinning hart as it enters its loop (p_spin). */
  SPINNING: 964,
  /** Per hart: mcause of an unexpected trap (0: none). */
  TRAP: 1024,
} as const;

const Phase = {
  AmoAddW: 0,
  AmoAddD: 1,
  LrScW: 2,
  LrScD: 3,
  Ticket: 4,
  Plain: 5,
  Swap64: 6,
  MinMax: 7,
  Bits: 8,
  Spin: 9,
  Fences: 10,
} as const;

/** amoadd.d's wide addend: carries out of the low half on most additions. */
const ADD_WIDE = 0x0000_0001_8000_0001n;

const PROGRAM = `
  .option norelax
  .text
  .globl _start
_start:
  la t0, trap
  csrw mtvec, t0
  csrr s0, mhartid
  li s1, ${DATA}
  # Start barrier: count in, then wait until every hart has.
  li t0, 1
  amoadd.w zero, t0, (s1)
  lw s2, ${D.NHARTS}(s1)
0:
  lw t1, ${D.READY}(s1)
  blt t1, s2, 0b
  ld s3, ${D.N}(s1)
  addi s4, s3, 1
  slli s5, s0, 3
  add s5, s5, s1          # s5 = data + 8 * hart
  lw t0, ${D.PHASE}(s1)
  li t1, ${Phase.AmoAddW}
  beq t0, t1, p_amoadd_w
  li t1, ${Phase.AmoAddD}
  beq t0, t1, p_amoadd_d
  li t1, ${Phase.LrScW}
  beq t0, t1, p_lrsc_w
  li t1, ${Phase.LrScD}
  beq t0, t1, p_lrsc_d
  li t1, ${Phase.Ticket}
  beq t0, t1, p_ticket
  li t1, ${Phase.Plain}
  beq t0, t1, p_plain
  li t1, ${Phase.Swap64}
  beq t0, t1, p_swap64
  li t1, ${Phase.MinMax}
  beq t0, t1, p_minmax
  li t1, ${Phase.Bits}
  beq t0, t1, p_bits
  li t1, ${Phase.Spin}
  beq t0, t1, p_spin
  li t1, ${Phase.Fences}
  beq t0, t1, p_fences
done:
  wfi
  j done

# Count an error for this hart (plain: only this hart writes its counter).
err:
  ld t6, ${D.ERR}(s5)
  addi t6, t6, 1
  sd t6, ${D.ERR}(s5)
  ret

p_amoadd_w:
  addi a0, s1, ${D.CNT_W}
  li t5, 1
1:
  amoadd.w zero, t5, (a0)
  addi s3, s3, -1
  bnez s3, 1b
  j done

p_amoadd_d:
  addi a0, s1, ${D.CNT_D}
  li t5, 1
1:
  amoadd.d zero, t5, (a0)
  addi s3, s3, -1
  bnez s3, 1b
  j done

p_lrsc_w:
  addi a0, s1, ${D.LRSC_W}
1:
  lr.w t0, (a0)
  addiw t0, t0, 1
  sc.w t1, t0, (a0)
  bnez t1, 1b
  addi s3, s3, -1
  bnez s3, 1b
  j done

p_lrsc_d:
  addi a0, s1, ${D.LRSC_D}
1:
  lr.d t0, (a0)
  addi t0, t0, 1
  sc.d t1, t0, (a0)
  bnez t1, 1b
  addi s3, s3, -1
  bnez s3, 1b
  j done

# Ticket lock (amoadd.w takes a ticket, a plain spin waits for it) around plain 64- and
# 32-bit increments; acquire and release are fences, as Linux's smp_load_acquire and
# smp_store_release compile on RISC-V.
p_ticket:
  addi a0, s1, ${D.TICKET_NEXT}
  addi a1, s1, ${D.TICKET_SERVING}
  addi a2, s1, ${D.TICKET_P64}
  addi a3, s1, ${D.TICKET_P32}
  li t5, 1
1:
  amoadd.w t0, t5, (a0)
2:
  lw t1, 0(a1)
  bne t1, t0, 2b
  fence r, rw
  ld t2, 0(a2)
  addi t2, t2, 1
  sd t2, 0(a2)
  lw t3, 0(a3)
  addiw t3, t3, 1
  sw t3, 0(a3)
  fence rw, w
  addiw t1, t1, 1
  sw t1, 0(a1)
  addi s3, s3, -1
  bnez s3, 1b
  j done

# The negative control: a plain read-modify-write loses other harts' updates.
p_plain:
  addi a0, s1, ${D.PLAIN}
1:
  lw t0, 0(a0)
  addiw t0, t0, 1
  sw t0, 0(a0)
  addi s3, s3, -1
  bnez s3, 1b
  j done

# Every value ever stored at SWAP has equal halves: amoswap.d and lr.d must never return
# one with unequal halves (a torn 64-bit access), and sc.d writes only such values too.
p_swap64:
  addi a0, s1, ${D.SWAP}
1:
  slli t2, s0, 28
  or t2, t2, s3           # < 2^31: hart in bits 28..30, the count below
  slli t3, t2, 32
  or t3, t3, t2           # (t2 << 32) | t2
  amoswap.d t0, t3, (a0)
  srli t1, t0, 32
  slli t4, t0, 32
  srli t4, t4, 32
  beq t1, t4, 2f
  call err
2:
  lr.d t0, (a0)
  srli t1, t0, 32
  slli t4, t0, 32
  srli t4, t4, 32
  beq t1, t4, 3f
  call err
3:
  xori t2, t2, 0x555
  slli t3, t2, 32
  or t3, t3, t2
  sc.d t1, t3, (a0)
  addi s3, s3, -1
  bnez s3, 1b
  j done

# k = 1..N: amomaxu.d of (k << 32) | (0x80000000 + hart), amomin.d of its negation,
# amomax.w of k * 2 + hart - 0x7fff0000 (negative).
p_minmax:
  addi a0, s1, ${D.MAXU_D}
  addi a1, s1, ${D.MIN_D}
  addi a2, s1, ${D.MAX_W}
  li t6, 0x80000000
  add t6, t6, s0
  li t5, 0x7fff0000
  sub t5, s0, t5
1:
  sub t2, s4, s3          # k
  slli t3, t2, 32
  or t3, t3, t6
  amomaxu.d zero, t3, (a0)
  neg t3, t3
  amomin.d zero, t3, (a1)
  slli t4, t2, 1
  add t4, t4, t5
  amomax.w zero, t4, (a2)
  addi s3, s3, -1
  bnez s3, 1b
  j done

# amoxor.d of this hart's K (both halves); amoor.d then amoand.d of its mask M (bits in
# both halves; the old value amoand.d returns must hold all of M); amoadd.d of ADD_WIDE.
p_bits:
  addi a0, s1, ${D.XOR_D}
  addi a1, s1, ${D.BITS_D}
  addi a2, s1, ${D.ADD_D}
  ld s6, ${D.K}(s5)
  ld s7, ${D.M}(s5)
  not s8, s7
  li s9, ${ADD_WIDE}
1:
  amoxor.d zero, s6, (a0)
  amoor.d zero, s7, (a1)
  amoand.d t1, s8, (a1)
  and t1, t1, s7
  beq t1, s7, 2f
  call err
2:
  amoadd.d zero, s9, (a2)
  addi s3, s3, -1
  bnez s3, 1b
  j done

# Wait for another thread to set FLAG.
p_spin:
  addi a0, s1, ${D.FLAG}
  li t1, 1
  sw t1, ${D.SPINNING - D.FLAG}(a0)
1:
  lw t0, 0(a0)
  beqz t0, 1b
  j done

# Four fences that order something per pass, and a PAUSE (fence w,0) that orders nothing.
p_fences:
1:
  fence rw, rw
  fence r, rw
  fence rw, w
  .4byte 0x0100000f
  fence.tso
  addi s3, s3, -1
  bnez s3, 1b
  j done

  .balign 4
trap:
  csrr t0, mcause
  sd t0, ${D.TRAP}(s5)
  j done
`;

const haveToolchain = ["as", "ld", "objcopy"].every((t) => {
  const r = spawnSync(PREFIX + t, ["--version"], { encoding: "utf8" });
  return !r.error && r.status === 0;
});
const work = haveToolchain ? mkdtempSync(join(tmpdir(), "paravm-smp-")) : "";
after(() => {
  if (work !== "") rmSync(work, { recursive: true, force: true });
});

function tool(name: string, args: string[]): void {
  const r = spawnSync(PREFIX + name, args, { encoding: "utf8" });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${name} ${args.join(" ")}:\n${r.stderr}`);
}

let image: Uint8Array | null = null;
function program(): Uint8Array {
  if (image !== null) return image;
  const name = join(work, "smp");
  writeFileSync(`${name}.S`, PROGRAM);
  tool("as", ["-march=rv64gc", "-mabi=lp64d", "-o", `${name}.o`, `${name}.S`]);
  tool("ld", ["--no-relax", `-Ttext=0x${RAM_BASE.toString(16)}`, "-o", `${name}.elf`, `${name}.o`]);
  tool("objcopy", ["-O", "binary", `${name}.elf`, `${name}.bin`]);
  image = new Uint8Array(readFileSync(`${name}.bin`));
  assert.ok(image.length < DATA - RAM_BASE, "the program must end below the data block");
  return image;
}

/** Fresh shared RAM holding the program and the parameters of one run. */
function setup(phase: number, nharts: number, n: number): GuestRam {
  const ram = new GuestRam(RAM_BASE, RAM_SIZE);
  ram.u8.set(program(), 0);
  put32(ram, D.NHARTS, nharts);
  put64(ram, D.N, BigInt(n));
  put32(ram, D.PHASE, phase);
  return ram;
}

const at = (off: number): number => DATA - RAM_BASE + off;
const put32 = (ram: GuestRam, off: number, v: number): void => {
  ram.i32[at(off) >> 2] = v;
};
const get32 = (ram: GuestRam, off: number): number => ram.i32[at(off) >> 2]!;
const view = (ram: GuestRam): DataView => new DataView(ram.sab);
const put64 = (ram: GuestRam, off: number, v: bigint): void => view(ram).setBigUint64(at(off), BigInt.asUintN(64, v), true);
const get64 = (ram: GuestRam, off: number): bigint => view(ram).getBigUint64(at(off), true);
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);

interface RunOptions {
  jit?: boolean;
  smp?: boolean;
  budget?: number;
  maxInsns?: number;
  timeoutMs?: number;
}

/** Run `nharts` harts, one worker thread each, over `ram`; resolves when all are in WFI. */
function runHarts(ram: GuestRam, nharts: number, o: RunOptions = {}): Promise<SmpReport[]> {
  const workers: Worker[] = [];
  const reports: Promise<SmpReport>[] = [];
  for (let id = 0; id < nharts; id++) {
    const job: SmpJob = {
      sab: ram.sab,
      base: ram.base,
      size: ram.size,
      hartId: id,
      entry: RAM_BASE,
      jit: o.jit ?? true,
      smp: o.smp ?? true,
      budget: o.budget ?? 100_000,
      // No instruction cap by default: a hart spinning on a lock whose holder the host has
      // descheduled legitimately runs for a long time; the timeout is the backstop.
      maxInsns: o.maxInsns ?? Number.MAX_SAFE_INTEGER,
    };
    const w = new Worker(new URL("./smp-atomics.worker.js", import.meta.url), { workerData: job });
    workers.push(w);
    reports.push(
      new Promise<SmpReport>((resolve, reject) => {
        w.once("message", (m: SmpReport) => resolve(m));
        w.once("error", reject);
        w.once("exit", (code) => reject(new Error(`hart ${id}: worker exited (${code}) without a report`)));
      }),
    );
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`harts did not finish in ${o.timeoutMs ?? 120_000} ms`)), o.timeoutMs ?? 120_000);
  });
  return Promise.race([Promise.all(reports), timeout]).finally(() => {
    clearTimeout(timer);
    for (const w of workers) void w.terminate();
  });
}

/** Every hart finished its program (WFI) without an unexpected trap. */
function assertFinished(ram: GuestRam, reports: SmpReport[]): void {
  for (const r of reports) {
    assert.equal(r.status, RunStatus.Wfi, `hart ${r.hartId} did not finish (status ${r.status}, ${r.instret} insns)`);
    assert.equal(get64(ram, D.TRAP + 8 * r.hartId), 0n, `hart ${r.hartId} trapped`);
  }
}

const HARTS = 2;

describe("smp: atomics across worker threads", { skip: haveToolchain ? false : "riscv64-unknown-elf toolchain not installed" }, () => {
  test("amoadd.w: every increment counts", { timeout: 120_000 }, async () => {
    const n = 200_000;
    const ram = setup(Phase.AmoAddW, HARTS, n);
    put32(ram, D.CNT_W, -5);
    assertFinished(ram, await runHarts(ram, HARTS));
    assert.equal(get32(ram, D.CNT_W), HARTS * n - 5);
  });

  test("amoadd.d: every increment counts, across the carry into the high half", { timeout: 120_000 }, async () => {
    const n = 200_000;
    const ram = setup(Phase.AmoAddD, HARTS, n);
    const init = 0x1_0000_0000n - BigInt(n); // the count crosses 2^32 half way
    put64(ram, D.CNT_D, init);
    assertFinished(ram, await runHarts(ram, HARTS));
    assert.equal(get64(ram, D.CNT_D), init + BigInt(HARTS * n));
  });

  for (const jit of [true, false]) {
    test(`lr.w/sc.w increment loop (${jit ? "jit" : "interpreter"}): exact`, { timeout: 120_000 }, async () => {
      const n = 150_000;
      const ram = setup(Phase.LrScW, HARTS, n);
      put32(ram, D.LRSC_W, 0x7fff_ff00);
      assertFinished(ram, await runHarts(ram, HARTS, { jit }));
      assert.equal(get32(ram, D.LRSC_W), (0x7fff_ff00 + HARTS * n) | 0);
    });

    test(`lr.d/sc.d increment loop (${jit ? "jit" : "interpreter"}): exact, across the carry`, { timeout: 120_000 }, async () => {
      const n = 150_000;
      const ram = setup(Phase.LrScD, HARTS, n);
      const init = 0xffff_ffffn - BigInt(n);
      put64(ram, D.LRSC_D, init);
      assertFinished(ram, await runHarts(ram, HARTS, { jit }));
      assert.equal(get64(ram, D.LRSC_D), init + BigInt(HARTS * n));
    });

    test(`ticket lock around plain 64- and 32-bit increments (${jit ? "jit" : "interpreter"}): exact`, { timeout: 180_000 }, async () => {
      // Every acquisition waits for the other hart's release: when the host is busy and
      // deschedules the holder, a handoff takes a host time slice (lock-holder preemption,
      // measured at ~5 ms per handoff with 2 cores under load), hence few iterations.
      const n = 2_000;
      const ram = setup(Phase.Ticket, HARTS, n);
      put64(ram, D.TICKET_P64, 0xffff_fff0n);
      assertFinished(ram, await runHarts(ram, HARTS, { jit }));
      assert.equal(get64(ram, D.TICKET_P64), 0xffff_fff0n + BigInt(HARTS * n));
      assert.equal(get32(ram, D.TICKET_P32), HARTS * n);
      assert.equal(get32(ram, D.TICKET_NEXT), HARTS * n, "tickets taken");
      assert.equal(get32(ram, D.TICKET_SERVING), HARTS * n, "tickets served");
    });
  }

  test("negative control: plain load/add/store loses updates", { timeout: 300_000 }, async () => {
    // Lost updates need the harts to overlap in time; on a busy host one run might not, so
    // up to 8 runs, at least one of which must lose some.
    const n = 2_000_000;
    const losses: number[] = [];
    for (let run = 0; run < 8; run++) {
      const ram = setup(Phase.Plain, HARTS, n);
      assertFinished(ram, await runHarts(ram, HARTS));
      const total = get32(ram, D.PLAIN);
      assert.ok(total > 0 && total <= HARTS * n, `total ${total}`);
      losses.push(HARTS * n - total);
      if (HARTS * n - total > 0) break;
    }
    assert.ok(
      losses.some((l) => l > 0),
      `no lost update in ${losses.length} runs: the harts never raced (are they on one core?)`,
    );
  });

  test("amoswap.d / lr.d / sc.d: 64-bit single-copy atomic (no torn value)", { timeout: 120_000 }, async () => {
    const n = 150_000;
    const ram = setup(Phase.Swap64, HARTS, n);
    assertFinished(ram, await runHarts(ram, HARTS));
    for (let h = 0; h < HARTS; h++) assert.equal(get64(ram, D.ERR + 8 * h), 0n, `hart ${h} saw torn values`);
    const v = get64(ram, D.SWAP);
    assert.equal(v >> 32n, v & 0xffff_ffffn, "the final value has equal halves");
  });

  test("amomaxu.d / amomin.d / amomax.w racing: the extreme value wins", { timeout: 120_000 }, async () => {
    const n = 100_000;
    const ram = setup(Phase.MinMax, HARTS, n);
    put32(ram, D.MAX_W, -0x8000_0000);
    assertFinished(ram, await runHarts(ram, HARTS));
    const top = (BigInt(n) << 32n) | (0x8000_0000n + BigInt(HARTS - 1));
    assert.equal(get64(ram, D.MAXU_D), top);
    assert.equal(get64(ram, D.MIN_D), u64(-top));
    assert.equal(get32(ram, D.MAX_W), n * 2 + (HARTS - 1) - 0x7fff_0000);
  });

  test("amoxor.d / amoor.d / amoand.d / wide amoadd.d racing: exact final values", { timeout: 120_000 }, async () => {
    const n = 100_001;
    const ram = setup(Phase.Bits, HARTS, n);
    const ks = [0x9e37_79b9_7f4a_7c15n, 0xc2b2_ae3d_27d4_eb4fn, 0x1656_67b1_9e37_79f9n, 0x27d4_eb2f_1656_67c5n];
    const ms = [0x0000_0009_0000_0030n, 0x0000_0030_0000_0900n, 0x0000_0900_0000_3000n, 0x0000_3000_0009_0000n];
    for (let h = 0; h < HARTS; h++) {
      put64(ram, D.K + 8 * h, ks[h]!);
      put64(ram, D.M + 8 * h, ms[h]!);
    }
    const xorInit = 0x0123_4567_89ab_cdefn;
    const addInit = 0xffff_ffff_0000_0000n;
    put64(ram, D.XOR_D, xorInit);
    put64(ram, D.ADD_D, addInit);
    assertFinished(ram, await runHarts(ram, HARTS));
    let xor = xorInit;
    for (let h = 0; h < HARTS; h++) if (n % 2 === 1) xor ^= ks[h]!;
    assert.equal(get64(ram, D.XOR_D), xor);
    assert.equal(get64(ram, D.BITS_D), 0n, "every set bit was cleared");
    for (let h = 0; h < HARTS; h++) assert.equal(get64(ram, D.ERR + 8 * h), 0n, `hart ${h}: amoand.d returned an old value without its own bits`);
    assert.equal(get64(ram, D.ADD_D), u64(addInit + BigInt(HARTS * n) * ADD_WIDE));
  });

  test("a compiled spin loop sees a store from another thread", { timeout: 60_000 }, async () => {
    const ram = setup(Phase.Spin, 1, 0);
    // One run() call with a budget far beyond the wait: it returns only when the spin
    // ends and the program reaches WFI (or, if the flag were never seen, when the budget
    // is spent: status Budget).
    const budget = 4_000_000_000;
    const running = runHarts(ram, 1, { budget, maxInsns: budget });
    // Let the loop get compiled and optimized by V8 (OSR) before the flag is set: 400 ms
    // from the moment it spins (regression: timed from the worker's start, a loaded host
    // left it only 40 thousand instructions).
    const t0 = Date.now();
    while (Atomics.load(ram.i32, at(D.SPINNING) >> 2) === 0) {
      assert.ok(Date.now() - t0 < 30_000, "the hart never reached its spin loop");
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 400));
    Atomics.store(ram.i32, at(D.FLAG) >> 2, 1);
    const [r] = await running;
    assertFinished(ram, [r!]);
    assert.equal(r!.runCalls, 1);
    assert.ok(r!.loops >= 1, "the spin loop was compiled as a loop block");
    assert.ok(r!.instret > 1_000_000 && r!.instret < budget, `spun ${r!.instret} instructions`);
  });
});

describe("smp: fence", { skip: haveToolchain ? false : "riscv64-unknown-elf toolchain not installed" }, () => {
  for (const jit of [false, true]) {
    for (const smp of [false, true]) {
      test(`fences that order something are host barriers only when smp (${jit ? "jit" : "interpreter"}, smp=${smp})`, () => {
        const n = 5000;
        const ram = setup(Phase.Fences, 1, n);
        const h = new Hart(new Bus(ram), 0, null);
        const j = jit ? new Jit(h, { hot: 1 }) : null;
        setJit(h, j);
        h.smp = smp;
        h.setPc(RAM_BASE);
        const before = h.fenceWord[0]!;
        let st: number = RunStatus.Budget;
        for (let i = 0; i < 100 && st === RunStatus.Budget; i++) st = h.run(100_000);
        assert.equal(st, RunStatus.Wfi);
        // fence rw,rw; fence r,rw; fence rw,w; fence.tso: four per pass. PAUSE: none.
        assert.equal(h.fenceWord[0]! - before, smp ? 4 * n : 0);
        if (j !== null) assert.ok(j.loops >= 1, "the fence loop ran compiled");
      });
    }
  }
});
