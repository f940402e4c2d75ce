import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { GuestRam } from "../mem/ram.js";
import { ELF, ElfError, loadElf, parseElf } from "./elf.js";

const RAM_BASE = 0x8000_0000;

/** A minimal ELF64 LE image with the given PT_LOAD segments (data placed after the headers). */
function buildElf(opts: {
  segments: { paddr: number; data: Uint8Array; memSize?: number }[];
  entry?: number;
  cls?: number;
  dataEnc?: number;
  type?: number;
  machine?: number;
}): Uint8Array {
  const phoff = ELF.EHDR_SIZE;
  let dataOff = phoff + ELF.PHDR_SIZE * opts.segments.length;
  const total = dataOff + opts.segments.reduce((n, s) => n + s.data.length, 0);
  const bytes = new Uint8Array(total);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, ELF.MAGIC, true);
  v.setUint8(4, opts.cls ?? ELF.CLASS64);
  v.setUint8(5, opts.dataEnc ?? ELF.DATA_LSB);
  v.setUint8(6, 1);
  v.setUint16(16, opts.type ?? ELF.ET_EXEC, true);
  v.setUint16(18, opts.machine ?? ELF.EM_RISCV, true);
  v.setUint32(20, 1, true);
  v.setBigUint64(24, BigInt(opts.entry ?? RAM_BASE), true);
  v.setBigUint64(32, BigInt(phoff), true);
  v.setUint16(52, ELF.EHDR_SIZE, true);
  v.setUint16(54, ELF.PHDR_SIZE, true);
  v.setUint16(56, opts.segments.length, true);
  v.setUint16(58, ELF.SHDR_SIZE, true);
  opts.segments.forEach((s, i) => {
    const p = phoff + i * ELF.PHDR_SIZE;
    v.setUint32(p, ELF.PT_LOAD, true);
    v.setUint32(p + 4, 5, true);
    v.setBigUint64(p + 8, BigInt(dataOff), true);
    v.setBigUint64(p + 16, BigInt(s.paddr), true);
    v.setBigUint64(p + 24, BigInt(s.paddr), true);
    v.setBigUint64(p + 32, BigInt(s.data.length), true);
    v.setBigUint64(p + 40, BigInt(s.memSize ?? s.data.length), true);
    v.setBigUint64(p + 48, 0x1000n, true);
    bytes.set(s.data, dataOff);
    dataOff += s.data.length;
  });
  return bytes;
}

const nop = new Uint8Array([0x13, 0, 0, 0]);

describe("ELF loader: header validation", () => {
  test("accepts a minimal RV64 executable and reports its entry point", () => {
    const img = parseElf(buildElf({ segments: [{ paddr: RAM_BASE, data: nop }], entry: RAM_BASE + 0 }));
    assert.equal(img.entry, RAM_BASE);
    assert.equal(img.segments.length, 1);
    assert.equal(img.symbols.size, 0);
  });

  const rejects = (name: string, bytes: Uint8Array, pattern: RegExp) =>
    test(name, () => {
      assert.throws(
        () => parseElf(bytes, "prog"),
        (e: unknown) => {
          assert.ok(e instanceof ElfError, `expected ElfError, got ${String(e)}`);
          assert.match(e.message, pattern);
          assert.ok(!e.message.includes("\n"), "message must be one line");
          assert.ok(e.message.startsWith("prog: "), "message names the file");
          return true;
        },
      );
    });

  rejects("rejects a file without the ELF magic", new TextEncoder().encode("#!/bin/sh\necho hi\n"), /not an ELF file/);
  rejects("rejects an empty file", new Uint8Array(0), /not an ELF file/);
  rejects(
    "rejects a truncated ELF header",
    buildElf({ segments: [{ paddr: RAM_BASE, data: nop }] }).slice(0, 40),
    /truncated/,
  );
  rejects("rejects a 32-bit ELF", buildElf({ segments: [{ paddr: RAM_BASE, data: nop }], cls: 1 }), /not a 64-bit ELF/);
  rejects(
    "rejects a big-endian ELF",
    buildElf({ segments: [{ paddr: RAM_BASE, data: nop }], dataEnc: 2 }),
    /little-endian/,
  );
  rejects(
    "rejects a non-RISC-V machine (x86-64)",
    buildElf({ segments: [{ paddr: RAM_BASE, data: nop }], machine: 62 }),
    /not a RISC-V ELF \(e_machine 62/,
  );
  rejects(
    "rejects a relocatable object",
    buildElf({ segments: [{ paddr: RAM_BASE, data: nop }], type: ELF.ET_REL }),
    /relocatable object/,
  );
  rejects("rejects an ELF without segments", buildElf({ segments: [] }), /no program headers/);

  test("rejects a segment whose file bytes run past the end of the file", () => {
    const bytes = buildElf({ segments: [{ paddr: RAM_BASE, data: new Uint8Array(64) }] });
    assert.throws(() => parseElf(bytes.slice(0, bytes.length - 10), "prog"), /prog: truncated file \(segment 0/);
  });

  test("rejects a segment with p_filesz larger than p_memsz", () => {
    const bytes = buildElf({ segments: [{ paddr: RAM_BASE, data: new Uint8Array(64), memSize: 16 }] });
    assert.throws(() => parseElf(bytes, "prog"), /segment 0 has p_filesz 64 larger than p_memsz 16/);
  });
});

describe("ELF loader: loading into RAM", () => {
  test("copies p_filesz bytes and zero-fills up to p_memsz", () => {
    const ram = new GuestRam(RAM_BASE, 64 * 1024);
    ram.u8.fill(0xaa);
    const data = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    loadElf(buildElf({ segments: [{ paddr: RAM_BASE + 0x100, data, memSize: 0x20 }] }), ram);
    assert.deepEqual(Array.from(ram.readBytes(RAM_BASE + 0x100, 8)), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(Array.from(ram.readBytes(RAM_BASE + 0x108, 0x18)), new Array(0x18).fill(0));
    assert.equal(ram.u8[0xff], 0xaa, "bytes before the segment are untouched");
    assert.equal(ram.u8[0x120], 0xaa, "bytes after p_memsz are untouched");
  });

  test("refuses a segment below RAM, naming the segment and its address", () => {
    const ram = new GuestRam(RAM_BASE, 64 * 1024);
    const elf = buildElf({
      segments: [
        { paddr: RAM_BASE, data: nop },
        { paddr: 0x1000, data: nop },
      ],
    });
    assert.throws(
      () => loadElf(elf, ram, "prog"),
      /^ElfError: prog: segment 1 \(0x1000\.\.0x1004, 4 bytes\) is outside RAM 0x80000000\.\.0x80010000$/,
    );
    assert.equal(ram.u8[0], 0, "nothing is written when any segment is refused");
  });

  test("refuses a segment that runs past the end of RAM and suggests --mem", () => {
    const ram = new GuestRam(RAM_BASE, 64 * 1024);
    const elf = buildElf({ segments: [{ paddr: RAM_BASE + 0xf000, data: nop, memSize: 0x2000 }] });
    assert.throws(
      () => loadElf(elf, ram, "prog"),
      /segment 0 \(0x8000f000\.\.0x80011000, 8192 bytes\) is outside RAM .*try a larger --mem/,
    );
  });
});

describe("ELF loader: a program built by riscv64-unknown-elf-gcc", () => {
  const dir = mkdtempSync(join(tmpdir(), "paravm-elf-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const gcc = spawnSync("riscv64-unknown-elf-gcc", ["--version"]);
  const skip = gcc.error ? "riscv64-unknown-elf-gcc is not installed (node scripts/setup.mjs installs it)" : false;

  test("loads .text/.data/.bss and finds _start, tohost and fromhost by symbol", { skip }, () => {
    writeFileSync(
      join(dir, "tiny.S"),
      [
        '  .section .text.init, "ax"',
        "  .globl _start",
        "_start:",
        "  li a0, 1",
        "  la t0, tohost",
        "  sd a0, 0(t0)",
        "1: j 1b",
        "  .data",
        "  .globl magic",
        "  .type magic, @object",
        "  .size magic, 8",
        "magic: .quad 0x1122334455667788",
        "  .bss",
        "  .globl zeros",
        "zeros: .space 256",
        '  .section .tohost, "aw", @progbits',
        "  .align 6",
        "  .globl tohost",
        "  .type tohost, @object",
        "  .size tohost, 8",
        "tohost: .dword 0",
        "  .globl fromhost",
        "  .type fromhost, @object",
        "  .size fromhost, 8",
        "fromhost: .dword 0",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(dir, "tiny.ld"),
      "ENTRY(_start)\nSECTIONS {\n  . = 0x80000000;\n  .text : { *(.text.init) *(.text*) }\n" +
        "  .data : { *(.data*) }\n  .bss : { *(.bss*) }\n  .tohost : { *(.tohost) }\n}\n",
    );
    const out = join(dir, "tiny.elf");
    const cc = spawnSync(
      "riscv64-unknown-elf-gcc",
      [
        "-march=rv64gc",
        "-mabi=lp64d",
        "-nostdlib",
        "-nostartfiles",
        "-static",
        "-T",
        join(dir, "tiny.ld"),
        join(dir, "tiny.S"),
        "-o",
        out,
      ],
      { encoding: "utf8" },
    );
    assert.equal(cc.status, 0, cc.stderr);

    const bytes = new Uint8Array(readFileSync(out));
    const ram = new GuestRam(RAM_BASE, 1024 * 1024);
    ram.u8.fill(0xcc);
    const img = loadElf(bytes, ram, "tiny.elf");

    const start = img.symbol("_start");
    assert.ok(start);
    assert.equal(img.entry, start.value);
    assert.equal(img.entry, RAM_BASE);
    // li a0, 1 = addi a0, x0, 1 = 0x00100513 (compressed to c.li a0, 1 = 0x4505 with the C extension)
    const first = ram.u8[0]! | (ram.u8[1]! << 8);
    assert.ok(first === 0x4505 || first === 0x0513, `first instruction bits 0x${first.toString(16)}`);

    const magic = img.symbol("magic");
    assert.ok(magic);
    assert.equal(magic.size, 8);
    const magicBytes = ram.readBytes(magic.value, 8);
    assert.equal(new DataView(magicBytes.buffer).getBigUint64(0, true), 0x1122334455667788n);

    const zeros = img.symbol("zeros");
    assert.ok(zeros);
    assert.deepEqual(Array.from(ram.readBytes(zeros.value, 256)), new Array(256).fill(0), ".bss is zero-filled");

    const tohost = img.symbol("tohost");
    const fromhost = img.symbol("fromhost");
    assert.ok(tohost && fromhost);
    assert.equal(tohost.size, 8);
    assert.equal(fromhost.size, 8);
    assert.equal(fromhost.value, tohost.value + 8);
    assert.equal(tohost.value % 64, 0);
    assert.ok(img.segments.length >= 1);
    for (const s of img.segments) assert.ok(ram.contains(s.paddr, s.memSize));
  });

  test("a linked program placed below RAM is refused with the segment's address", { skip }, () => {
    writeFileSync(join(dir, "low.S"), "  .globl _start\n_start:\n  j _start\n");
    const out = join(dir, "low.elf");
    const cc = spawnSync(
      "riscv64-unknown-elf-gcc",
      ["-nostdlib", "-nostartfiles", "-static", "-Wl,-Ttext=0x10000", join(dir, "low.S"), "-o", out],
      { encoding: "utf8" },
    );
    assert.equal(cc.status, 0, cc.stderr);
    const ram = new GuestRam(RAM_BASE, 1024 * 1024);
    assert.throws(
      () => loadElf(new Uint8Array(readFileSync(out)), ram, "low.elf"),
      /^ElfError: low\.elf: segment \d+ \(0x[0-9a-f]+\.\.0x[0-9a-f]+, \d+ bytes\) is outside RAM 0x80000000\.\.0x80100000$/,
    );
  });
});
