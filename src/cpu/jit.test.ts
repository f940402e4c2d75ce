/**
 * Differential tests for the block compiler: every program runs on the interpreter alone
 * and with the JIT in several settings (compile at once, no side exits, small run()
 * slices that cut loops and blocks short), and the register file, RAM, pc, CSRs and the
 * instruction counts must be identical. Programs are assembled with the cross toolchain
 * (the tests skip when it is not installed).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { DeviceState, MmioDevice } from "../devices/device.js";
import { Bus } from "../mem/bus.js";
import { GuestRam } from "../mem/ram.js";
import { Hart, RunStatus } from "./hart.js";
import { Jit, MAX_HOT, jitFor, setJit } from "./jit.js";

const RAM_BASE = 0x8000_0000;
const RAM_SIZE = 1024 * 1024;
const DEV_BASE = 0x1000_0000;
const PREFIX = "riscv64-unknown-elf-";

const haveToolchain = ["as", "ld", "objcopy"].every((t) => {
  const r = spawnSync(PREFIX + t, ["--version"], { encoding: "utf8" });
  return !r.error && r.status === 0;
});
const work = haveToolchain ? mkdtempSync(join(tmpdir(), "paravm-jit-")) : "";
after(() => {
  if (work !== "") rmSync(work, { recursive: true, force: true });
});

function tool(name: string, args: string[]): void {
  const r = spawnSync(PREFIX + name, args, { encoding: "utf8" });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${name} ${args.join(" ")}:\n${r.stderr}`);
}

let serial = 0;
/** Assemble `body` (with the common prologue and trap handler) into a flat image at RAM_BASE. */
function assemble(body: string): Uint8Array {
  const name = join(work, `p${serial++}`);
  const src = `
  .option norelax
  .text
  .globl _start
_start:
  la t0, trap
  csrw mtvec, t0
  la sp, stack_top
  la s8, traplog
${body}
done:
  wfi
  j done

  # Log mcause, mtval, mepc and step over the faulting instruction (2 or 4 bytes).
  .balign 4
trap:
  csrr s10, mcause
  sd s10, 0(s8)
  csrr s10, mtval
  sd s10, 8(s8)
  csrr s10, mepc
  sd s10, 16(s8)
  addi s8, s8, 24
  lhu s11, 0(s10)
  andi s11, s11, 3
  addi s10, s10, 2
  addi s11, s11, -3
  bnez s11, 1f
  addi s10, s10, 2
1:
  csrw mepc, s10
  mret

  .balign 4096
traplog:
  .zero 4096
  .zero 8192
stack_top:
`;
  writeFileSync(`${name}.S`, src);
  tool("as", ["-march=rv64gc", "-mabi=lp64d", "-o", `${name}.o`, `${name}.S`]);
  tool("ld", ["--no-relax", `-Ttext=0x${RAM_BASE.toString(16)}`, "-o", `${name}.elf`, `${name}.o`]);
  tool("objcopy", ["-O", "binary", `${name}.elf`, `${name}.bin`]);
  return new Uint8Array(readFileSync(`${name}.bin`));
}

/** A device whose reads count up and whose writes are summed; the `stopAt`-th write asks the hart to stop. */
class CounterDevice implements MmioDevice {
  readonly size = 0x1000;
  reads = 0;
  sum = 0;
  writes = 0;
  hart: Hart | null = null;
  constructor(readonly stopAt: number) {}
  read(offset: number, width: 1 | 2 | 4): number {
    this.reads++;
    return (this.reads * 0x01010101 + offset) & (width === 4 ? -1 : width === 2 ? 0xffff : 0xff);
  }
  write(offset: number, width: 1 | 2 | 4, value: number): void {
    this.writes++;
    this.sum = (this.sum + value + offset + width) | 0;
    if (this.writes === this.stopAt) this.hart?.requestStop();
  }
  reset(): void {}
  save(): DeviceState {
    return {};
  }
  load(): void {}
}

interface Config {
  name: string;
  jit: { hot: number; sideExits: boolean } | null;
  slice: number;
}

const CONFIGS: Config[] = [
  { name: "interpreter", jit: null, slice: 100_000 },
  { name: "jit hot=1", jit: { hot: 1, sideExits: true }, slice: 100_000 },
  { name: "jit hot=3 no side exits", jit: { hot: 3, sideExits: false }, slice: 100_000 },
  { name: "jit hot=1 slice=7", jit: { hot: 1, sideExits: true }, slice: 7 },
  { name: "jit hot=2 slice=61", jit: { hot: 2, sideExits: true }, slice: 61 },
];

interface Outcome {
  x: number[];
  ram: Uint8Array;
  pc: number;
  priv: number;
  instret: number;
  byPriv: number[];
  csr: number[];
  statuses: string;
  /** pc and instret after every run() call. */
  trail: string;
  dev: [number, number, number];
  blocks: number;
  loops: number;
  chained: number;
  followed: number;
}

/** Called after every run() slice with the RAM and the instructions retired so far (host-side "DMA"). */
type SliceHook = (ram: GuestRam, instret: number) => void;

function runProgram(image: Uint8Array, cfg: Config, stopAt = -1, hook?: SliceHook): Outcome {
  const ram = new GuestRam(RAM_BASE, RAM_SIZE);
  const bus = new Bus(ram);
  const dev = new CounterDevice(stopAt);
  bus.map(DEV_BASE, dev, "counter");
  const h = new Hart(bus, 0, { mtime: () => 0 });
  dev.hart = h;
  ram.u8.set(image, 0);
  h.setPc(RAM_BASE);
  const jit = cfg.jit === null ? null : new Jit(h, cfg.jit);
  setJit(h, jit);
  const statuses: number[] = [];
  const trail: string[] = [];
  let total = 0;
  for (;;) {
    const st = h.run(cfg.slice);
    trail.push(`${h.getPc().toString(16)}:${h.instret}`);
    hook?.(ram, h.instret);
    if (st !== RunStatus.Budget) statuses.push(st);
    if (st === RunStatus.Wfi) break;
    total += cfg.slice;
    if (total > 50_000_000) throw new Error("program did not finish");
  }
  return {
    x: Array.from(h.x.subarray(0, 64)),
    ram: ram.u8.slice(),
    pc: h.getPc(),
    priv: h.priv,
    instret: h.instret,
    byPriv: Array.from(h.instretByPriv),
    csr: Array.from(h.csr64),
    statuses: statuses.join(","),
    trail: trail.join(" "),
    dev: [dev.reads, dev.sum, dev.writes],
    blocks: jit?.blocks ?? 0,
    loops: jit?.loops ?? 0,
    chained: jit?.chained ?? 0,
    followed: jit?.followed ?? 0,
  };
}

/**
 * Run `body` in every configuration; each must agree exactly with the interpreter run with
 * the same slice size (final state, and pc/instret after every run() call). Without a
 * hook, the interpreter's final state does not depend on the slice size either. Returns
 * the outcomes, CONFIGS order.
 */
function differential(body: string, stopAt = -1, alwaysCompiles = true, hook?: () => SliceHook): Outcome[] {
  const image = assemble(body);
  const outs = CONFIGS.map((c) => runProgram(image, c, stopAt, hook?.()));
  const interp = new Map<number, Outcome>([[CONFIGS[0]!.slice, outs[0]!]]);
  for (let i = 1; i < outs.length; i++) {
    const o = outs[i]!;
    const name = CONFIGS[i]!.name;
    const slice = CONFIGS[i]!.slice;
    if (!interp.has(slice)) {
      interp.set(slice, runProgram(image, { name: "interpreter", jit: null, slice }, stopAt, hook?.()));
    }
    const ref = interp.get(slice)!;
    if (hook === undefined) assert.deepEqual(ref.x, outs[0]!.x, `interpreter, slice ${slice}: registers`);
    // Slice by slice, the JIT must stop exactly where the interpreter does (no budget overrun).
    if (o.trail !== ref.trail) assert.fail(`${name}: pc/instret after some run() differ from the interpreter's`);
    assert.deepEqual(o.x, ref.x, `${name}: registers`);
    assert.equal(o.pc, ref.pc, `${name}: pc`);
    assert.equal(o.instret, ref.instret, `${name}: instret`);
    assert.deepEqual(o.byPriv, ref.byPriv, `${name}: instret by privilege`);
    assert.deepEqual(o.csr, ref.csr, `${name}: CSRs`);
    assert.equal(o.priv, ref.priv, `${name}: privilege`);
    assert.equal(o.statuses, ref.statuses, `${name}: run statuses`);
    assert.deepEqual(o.dev, ref.dev, `${name}: device accesses`);
    if (Buffer.compare(o.ram, ref.ram) !== 0) {
      const at = o.ram.findIndex((b, k) => b !== ref.ram[k]);
      assert.fail(`${name}: RAM differs first at 0x${(RAM_BASE + at).toString(16)}`);
    }
    if (alwaysCompiles || CONFIGS[i]!.jit!.hot === 1) assert.ok(o.blocks > 0, `${name}: nothing was compiled`);
  }
  return outs;
}

const VALUES = [
  "0",
  "1",
  "-1",
  "2",
  "0x7fffffff",
  "0x80000000",
  "0xffffffff",
  "0x100000000",
  "0xffffffff00000000",
  "0x8000000000000000",
  "0x7fffffffffffffff",
  "0x123456789abcdef0",
  "-0x123456789abcdef0",
  "-2",
  "63",
  "0x00000000fffffffe",
];

/** Loop i, j over VALUES with a0 = VALUES[i], a1 = VALUES[j]; `inner` stores results through s2. */
function pairLoop(inner: string): string {
  return `
  la s2, out
  la s0, vals
  li s3, ${VALUES.length}
  li s4, 0
1:
  la s1, vals
  li s5, 0
2:
  ld a0, 0(s0)
  ld a1, 0(s1)
${inner}
  addi s1, s1, 8
  addi s5, s5, 1
  blt s5, s3, 2b
  addi s0, s0, 8
  addi s4, s4, 1
  blt s4, s3, 1b
  j done
  .balign 8
vals:
  .dword ${VALUES.join(", ")}
  .balign 4096
out:
  .zero 0x70000
`;
}

const RR = (
  "add sub sll srl sra slt sltu xor or and addw subw sllw srlw sraw " +
  "mul mulh mulhsu mulhu div divu rem remu mulw divw divuw remw remuw"
).split(" ");

const suite = { skip: !haveToolchain && "riscv64-unknown-elf toolchain not installed", timeout: 120_000 };
describe("jit: differential against the interpreter", suite, () => {
  test("register-register ALU and M ops, including aliasing and x0", () => {
    const lines: string[] = [];
    for (const op of RR) {
      lines.push(`${op} t0, a0, a1`, "sd t0, 0(s2)");
      lines.push("mv t1, a0", `${op} t1, t1, a1`, "sd t1, 8(s2)");
      lines.push("mv t2, a1", `${op} t2, a0, t2`, "sd t2, 16(s2)");
      lines.push(`${op} t3, a1, a1`, "sd t3, 24(s2)");
      lines.push(`${op} t4, zero, a1`, `${op} t5, a0, zero`, `${op} zero, a0, a1`);
      lines.push("sd t4, 32(s2)", "sd t5, 40(s2)", "sd zero, 48(s2)");
      lines.push("addi s2, s2, 56");
    }
    differential(pairLoop(lines.join("\n")));
  });

  test("register-immediate ALU ops, shifts by every interesting amount, lui and auipc", () => {
    const lines: string[] = [];
    for (const imm of [0, 1, -1, 2047, -2048, 0x555, -0x556]) {
      for (const op of ["addi", "addiw", "slti", "sltiu", "xori", "ori", "andi"]) {
        lines.push(`${op} t0, a0, ${imm}`, "sd t0, 0(s2)", `${op} a2, a2, ${imm}`, "addi s2, s2, 8");
      }
    }
    for (const sh of [0, 1, 5, 31, 32, 33, 63]) {
      for (const op of ["slli", "srli", "srai"]) lines.push(`${op} t0, a0, ${sh}`, "sd t0, 0(s2)", "addi s2, s2, 8");
      if (sh >= 32) continue;
      for (const op of ["slliw", "srliw", "sraiw"]) lines.push(`${op} t0, a1, ${sh}`, "sd t0, 0(s2)", "addi s2, s2, 8");
    }
    for (const u of ["0", "1", "0x7ffff", "0x80000", "0xfffff"]) {
      lines.push(`lui t0, ${u}`, "sd t0, 0(s2)", `auipc t1, ${u}`, "sub t1, t1, s0", "sd t1, 8(s2)", "addi s2, s2, 16");
    }
    // Compressed forms the assembler picks for small registers.
    lines.push("mv a4, a0", "c.addi a4, -7", "c.slli a4, 3", "c.srli a4, 2", "c.srai a4, 1", "c.andi a4, 13");
    lines.push("sd a4, 0(s2)", "mv a5, a1", "c.addiw a5, 5", "c.addw a5, a4", "c.subw a5, a4", "c.sub a5, a4");
    lines.push("c.xor a5, a4", "sd a5, 8(s2)", "addi s2, s2, 16");
    differential(pairLoop(lines.join("\n")));
  });

  test("branches both ways, with x0 and compressed forms", () => {
    const lines = ["li t0, 0"];
    const br = ["beq", "bne", "blt", "bge", "bltu", "bgeu"];
    // Each branch shifts in one bit: 1 when it falls through.
    const bit = (b: string): void => void lines.push("slli t0, t0, 1", b, "ori t0, t0, 1", "3:");
    for (const b of br) {
      bit(`${b} a0, a1, 3f`);
      bit(`${b} a1, a0, 3f`);
    }
    for (const b of ["beqz a0, 3f", "bnez a1, 3f", "bltz a0, 3f", "bgez a1, 3f", "blez a0, 3f", "bgtz a1, 3f"]) bit(b);
    lines.push("mv a4, a0");
    bit("c.beqz a4, 3f");
    bit("c.bnez a4, 3f");
    lines.push("sd t0, 0(s2)", "addi s2, s2, 8");
    differential(pairLoop(lines.join("\n")));
  });

  test("loads and stores of every width, aligned and misaligned", () => {
    const body = `
  la s0, buf
  la s2, out
  li s3, 0
  li s9, 3
4:
  li s1, 0
5:
  add t6, s0, s1
  lb t0, 0(t6)
  lbu t1, 1(t6)
  lh t2, 0(t6)
  lhu t3, 2(t6)
  lw t4, 0(t6)
  lwu t5, 4(t6)
  ld a0, 0(t6)
  ld a1, -8(t6)
  lw zero, 0(t6)
  sd t0, 0(s2)
  sd t1, 8(s2)
  sd t2, 16(s2)
  sd t3, 24(s2)
  sd t4, 32(s2)
  sd t5, 40(s2)
  sd a0, 48(s2)
  sd a1, 56(s2)
  addi s2, s2, 64
  la t6, buf2
  add t6, t6, s1
  not a2, a0
  sb a0, 0(t6)
  sh a2, 17(t6)
  sw a0, 33(t6)
  sd a2, 50(t6)
  c.sw a0, 4(s0)
  c.ld a3, 8(s0)
  sd a3, 0(s2)
  addi s2, s2, 8
  addi s1, s1, 1
  li t0, 16
  blt s1, t0, 5b
  addi s3, s3, 1
  blt s3, s9, 4b
  j done
  .balign 4096
  .zero 8
buf:
  .dword 0x8182838485868788, 0xf1e2d3c4b5a69788, 0x0102030405060708, 0x7fffffff80000000
  .dword 0xdeadbeefcafef00d, 0x0123456789abcdef, 0x8000000000000001, 0xffffffffffffffff
buf2:
  .zero 256
out:
  .zero 8192
`;
    differential(body);
  });

  test("jal and jalr: calls, returns, indirect jumps, odd targets, rd = rs1, link into x0", () => {
    const body = `
  li a0, 0
  li s1, 300
  la s2, out
6:
  call f1
  la t1, table
  andi t2, s1, 3
  slli t2, t2, 3
  add t1, t1, t2
  ld t1, 0(t1)
  jalr t1
  la t3, g1
  jalr t3, 0(t3)
  jal t4, g2
  la t5, f3
  addi t5, t5, 1
  jalr t5
  sd a0, 0(s2)
  addi s2, s2, 8
  addi s1, s1, -1
  bnez s1, 6b
  j done
f1:
  addi a0, a0, 3
  ret
f2:
  slli a0, a0, 1
  jr ra
f3:
  xori a0, a0, 0x55
  c.jr ra
f4:
  addi a0, a0, -1
  jalr zero, 0(ra)
g1:
  addi a0, a0, 7
  jr t3
g2:
  sub a0, a0, t4
  c.jr t4
  .balign 8
table:
  .dword f1, f2, f3, f4
  .balign 4096
out:
  .zero 4096
`;
    differential(body);
  });

  test("a hot loop compiles into a looping block and honours the budget exactly", () => {
    const body = `
  li a0, 0
  li a1, 100000
  li a2, 0
7:
  add a0, a0, a1
  xor a2, a2, a0
  addi a1, a1, -1
  bnez a1, 7b
8:
  addi a2, a2, 1
  j 9f
9:
  li t0, 200
  blt a2, t0, 8b
`;
    const outs = differential(body);
    assert.ok(outs[1]!.loops > 0, "the loop became a loop block");
  });

  test("self-modifying code with fence.i recompiles the patched block", () => {
    const body = `
  .option push
  .option norvc
  li a0, 0
  li s1, 100
10:
  call p
  addi s1, s1, -1
  bnez s1, 10b
  la t0, p
  lw t1, tmpl
  sw t1, 0(t0)
  fence.i
  li s1, 100
11:
  call p
  addi s1, s1, -1
  bnez s1, 11b
  j done
p:
  addi a0, a0, 1
  ret
tmpl:
  addi a0, a0, 5
  .option pop
`;
    const outs = differential(body);
    assert.equal(outs[0]!.x[20], 600, "a0 = 100 * 1 + 100 * 5");
  });

  test("code changed behind the hart's back (DMA) is seen, compiled afresh, after fence.i", () => {
    const body = `
  .option push
  .option norvc
  li a0, 0
  li s1, 400
15:
  call q
  fence.i
  addi s1, s1, -1
  bnez s1, 15b
  j done
  .balign 64
q:
  addi a0, a0, 1
  ret
  .option pop
`;
    // After 1,000 instructions (q compiled by then), the host rewrites q's addi to add 9.
    const image = assemble(body);
    const addi1 = (i: number): boolean => image[i] === 0x13 && image[i + 1] === 0x05 && image[i + 2] === 0x15;
    const q = image.findIndex((_, i) => i % 64 === 0 && i > 0 && addi1(i));
    assert.ok(q > 0, "found q");
    const patch = (): SliceHook => {
      let done = false;
      return (ram, instret) => {
        if (!done && instret >= 1000) {
          ram.u8[q + 2] = 0x95; // addi a0, a0, 1 -> addi a0, a0, 9
          done = true;
        }
      };
    };
    const outs = differential(body, -1, true, patch);
    assert.ok(outs[3]!.x[20]! > 400, "with 7-instruction slices, the patched code ran");
  });

  test("direct jumps and calls within a page are followed inside one block, forwards and backwards", () => {
    const body = `
  li a0, 0
  li s1, 200
  j 31f
32:
  addi a0, a0, 3
  j 33f
31:
  addi a0, a0, 1
  jal ra, inc
  j 32b
33:
  addi s1, s1, -1
  bnez s1, 31b
  li s1, 50
34:
  addi a0, a0, 1
  j 35f
35:
  addi s1, s1, -1
  bnez s1, 34b
  j done
inc:
  addi a0, a0, 2
  ret
`;
    const outs = differential(body);
    assert.equal(outs[0]!.x[20], 1250, "a0 = 200 * 6 + 50");
    // The block at 31 runs on into inc; the one after the call follows both jumps.
    assert.ok(outs[1]!.followed >= 3, `jumps followed: ${outs[1]!.followed}`);
  });

  test("blocks chain across pages: calls and returns between pages, TLB misses on the far page", () => {
    const body = `
  li a0, 0
  li s1, 300
  la s2, data
20:
  call far
  addi s1, s1, -1
  bnez s1, 20b
  j done
  .balign 4096
far:
  ld t0, 0(s2)
  addi t0, t0, 3
  sd t0, 0(s2)
  add a0, a0, t0
  addi s2, s2, 72
  ret
  .balign 4096
data:
  .zero 0x6000
`;
    const outs = differential(body);
    // s2 walks over 5 data pages, so loads and stores on the far page miss the TLB.
    assert.equal(outs[0]!.x[20], 900, "a0 = 300 * 3");
    assert.ok(outs[1]!.chained > 0, "blocks chained from page to page");
  });

  test("a far page patched behind the hart's back is not chained into after fence.i", () => {
    const body = `
  .option push
  .option norvc
  li a0, 0
  li s1, 400
21:
  call r
  addi s1, s1, -1
  andi t0, s1, 31
  bnez t0, 22f
  fence.i
22:
  bnez s1, 21b
  j done
  .balign 4096
r:
  addi a0, a0, 1
  ret
  .option pop
`;
    const image = assemble(body);
    const r = 4096;
    assert.ok(image[r] === 0x13 && image[r + 1] === 0x05 && image[r + 2] === 0x15, "found r");
    const patch = (): SliceHook => {
      let done = false;
      return (ram, instret) => {
        if (!done && instret >= 2000) {
          ram.u8[r + 2] = 0x95; // addi a0, a0, 1 -> addi a0, a0, 9
          done = true;
        }
      };
    };
    const outs = differential(body, -1, true, patch);
    // Slices of 7 and 61 instructions let the host patch mid-run.
    assert.ok(outs[3]!.x[20]! > 400 && outs[4]!.x[20]! > 400, "the patched code ran");
    assert.ok(outs[4]!.chained > 0, "blocks chained from page to page");
  });

  test("a store into the executing block's own page and instruction stream", () => {
    const body = `
  .option push
  .option norvc
  lw t3, patchA
  lw t5, patchB
  xor t5, t5, t3
  li a0, 0
  li a1, 64
  la t4, 12f
  la s6, counter
12:
  sw t3, 8(t4)
  addi a2, a2, 1
  addi a0, a0, 1
  addi a3, a3, 2
  xor t3, t3, t5
  ld t0, 0(s6)
  addi t0, t0, 1
  sd t0, 0(s6)
  addi a1, a1, -1
  bnez a1, 12b
  j done
patchA:
  addi a0, a0, 1
patchB:
  addi a0, a0, 16
  .balign 8
counter:
  .dword 0
  .option pop
`;
    // Every store to the code page drops its blocks, so only hot=1 gets to compile here.
    differential(body, -1, false);
  });

  test("traps in the middle of blocks: access faults, misaligned emulation, ecall", () => {
    const body = `
  li s1, 40
  li a0, 0
13:
  addi a0, a0, 1
  slli a1, a0, 2
  li t0, 0x1000
  ld t1, 0(t0)
  addi a0, a0, 1
  la t2, buf
  ld t1, 3(t2)
  add a0, a0, t1
  sw a0, 0(t0)
  ecall
  addi a0, a0, 1
  lb t1, 0(zero)
  addi s1, s1, -1
  bnez s1, 13b
  j done
  .balign 8
buf:
  .dword 0x1122334455667788, 0x99aabbccddeeff00
`;
    differential(body);
  });

  test("MMIO loads and stores go through the interpreter; a device stop ends run()", () => {
    const body = `
  li s1, 500
  li t0, 0x${DEV_BASE.toString(16)}
  li a0, 0
14:
  lw t1, 0(t0)
  add a0, a0, t1
  lbu t2, 5(t0)
  add a0, a0, t2
  sw a0, 8(t0)
  sh a0, 2(t0)
  ld t3, 16(t0)
  xor a0, a0, t3
  sd a0, 24(t0)
  addi s1, s1, -1
  bnez s1, 14b
`;
    const outs = differential(body, 777);
    assert.ok(outs[0]!.statuses.includes(String(RunStatus.Stopped)), "the device stopped the hart");
  });
});

describe("jit: switches", () => {
  test("PARAVM_JIT=0 gives a hart no compiler", () => {
    const saved = process.env["PARAVM_JIT"];
    process.env["PARAVM_JIT"] = "0";
    try {
      const h = new Hart(new Bus(new GuestRam(RAM_BASE, 64 * 1024)), 0, { mtime: () => 0 });
      assert.equal(jitFor(h), null);
    } finally {
      if (saved === undefined) delete process.env["PARAVM_JIT"];
      else process.env["PARAVM_JIT"] = saved;
    }
    const h2 = new Hart(new Bus(new GuestRam(RAM_BASE, 64 * 1024)), 0, { mtime: () => 0 });
    if (saved !== "0") assert.ok(jitFor(h2) instanceof Jit);
  });
});

describe("jit: adaptive threshold", () => {
  test("rises while blocks outrun the allowance and falls back to the base", () => {
    const h = new Hart(new Bus(new GuestRam(RAM_BASE, 64 * 1024)), 0, { mtime: () => 0 });
    const jit = new Jit(h, { adaptive: true });
    const base = jit.hotNow();
    jit.blocks = 10_000;
    assert.equal(jit.hotNow(), base * 2);
    assert.equal(jit.hotNow(), base * 4);
    for (let i = 0; i < 40; i++) jit.hotNow();
    assert.equal(jit.hot, MAX_HOT);
    h.instret = 1e12;
    for (let i = 0; i < 40; i++) jit.hotNow();
    assert.equal(jit.hot, base);
    const fixed = new Jit(h, { hot: 5 });
    fixed.blocks = 10_000;
    h.instret = 0;
    assert.equal(fixed.hotNow(), 5);
  });
});
