import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ClintDevice } from "../devices/clint/device.js";
import { HtifDevice } from "../devices/htif/device.js";
import { BARE_MAP, BareBoard } from "./bare.js";
import { ELF, ElfError } from "./elf.js";

/** A minimal ELF: one segment at RAM_BASE holding `code`, plus a symbol table with `symbols`. */
function elfWithSymbols(code: Uint8Array, symbols: Record<string, number>): Uint8Array {
  const names = Object.keys(symbols);
  const strtab = new TextEncoder().encode(`\0${names.join("\0")}\0`);
  const symCount = names.length + 1;
  const phoff = 64;
  const codeOff = phoff + ELF.PHDR_SIZE;
  const symOff = codeOff + code.length + ((8 - (code.length % 8)) % 8);
  const strOff = symOff + symCount * ELF.SYM_SIZE;
  const shoff = strOff + strtab.length + ((8 - ((strOff + strtab.length) % 8)) % 8);
  const bytes = new Uint8Array(shoff + 3 * ELF.SHDR_SIZE);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, ELF.MAGIC, true);
  v.setUint8(4, 2);
  v.setUint8(5, 1);
  v.setUint8(6, 1);
  v.setUint16(16, ELF.ET_EXEC, true);
  v.setUint16(18, ELF.EM_RISCV, true);
  v.setBigUint64(24, BigInt(BARE_MAP.RAM_BASE), true);
  v.setBigUint64(32, BigInt(phoff), true);
  v.setBigUint64(40, BigInt(shoff), true);
  v.setUint16(54, ELF.PHDR_SIZE, true);
  v.setUint16(56, 1, true);
  v.setUint16(58, ELF.SHDR_SIZE, true);
  v.setUint16(60, 3, true);
  // PT_LOAD
  v.setUint32(phoff, ELF.PT_LOAD, true);
  v.setBigUint64(phoff + 8, BigInt(codeOff), true);
  v.setBigUint64(phoff + 16, BigInt(BARE_MAP.RAM_BASE), true);
  v.setBigUint64(phoff + 24, BigInt(BARE_MAP.RAM_BASE), true);
  v.setBigUint64(phoff + 32, BigInt(code.length), true);
  v.setBigUint64(phoff + 40, 0x2000n, true);
  bytes.set(code, codeOff);
  // symbols (entry 0 is the null symbol)
  let nameOff = 1;
  names.forEach((n, i) => {
    const e = symOff + (i + 1) * ELF.SYM_SIZE;
    v.setUint32(e, nameOff, true);
    v.setBigUint64(e + 8, BigInt(symbols[n]!), true);
    v.setBigUint64(e + 16, 8n, true);
    nameOff += n.length + 1;
  });
  bytes.set(strtab, strOff);
  // section 1: .symtab (link 2), section 2: .strtab
  const sh1 = shoff + ELF.SHDR_SIZE;
  v.setUint32(sh1 + 4, ELF.SHT_SYMTAB, true);
  v.setBigUint64(sh1 + 24, BigInt(symOff), true);
  v.setBigUint64(sh1 + 32, BigInt(symCount * ELF.SYM_SIZE), true);
  v.setUint32(sh1 + 40, 2, true);
  v.setBigUint64(sh1 + 56, BigInt(ELF.SYM_SIZE), true);
  const sh2 = shoff + 2 * ELF.SHDR_SIZE;
  v.setUint32(sh2 + 4, 3, true);
  v.setBigUint64(sh2 + 24, BigInt(strOff), true);
  v.setBigUint64(sh2 + 32, BigInt(strtab.length), true);
  return bytes;
}

const loop = new Uint8Array([0x6f, 0x00, 0x00, 0x00]); // j .
const MEM = 1024 * 1024;

describe("bare board wiring", () => {
  test("maps the CLINT at 0x0200_0000 and HTIF over the program's tohost/fromhost", () => {
    const tohost = BARE_MAP.RAM_BASE + 0x1000;
    const board = new BareBoard(elfWithSymbols(loop, { tohost, fromhost: tohost + 8 }), { memBytes: MEM });
    assert.ok(board.bus.findRegion(BARE_MAP.CLINT_BASE)?.device instanceof ClintDevice);
    assert.ok(board.bus.findRegion(tohost)?.device instanceof HtifDevice);
    assert.equal(board.bus.findRegion(tohost + 8)?.device, board.htif);
    assert.equal(board.bus.isPlainRamPage(tohost), false, "the HTIF page is not plain RAM");
    assert.equal(board.bus.isPlainRamPage(BARE_MAP.RAM_BASE), true);
    assert.equal(board.hart.getPc(), BARE_MAP.RAM_BASE);
    assert.equal(board.ram.size, MEM);
  });

  test("a program without tohost still loads, with a warning", () => {
    const lines: string[] = [];
    const board = new BareBoard(elfWithSymbols(loop, { other: BARE_MAP.RAM_BASE }), {
      memBytes: MEM,
      log: (l) => lines.push(l),
    });
    assert.equal(board.htif, null);
    assert.match(lines.join("\n"), /no 'tohost' symbol/);
  });

  test("overlapping tohost and fromhost are refused as a bad ELF", () => {
    const tohost = BARE_MAP.RAM_BASE + 0x1000;
    assert.throws(
      () => new BareBoard(elfWithSymbols(loop, { tohost, fromhost: tohost + 4 }), { memBytes: MEM }),
      (e: unknown) => e instanceof ElfError && /overlap/.test(e.message),
    );
  });

  test("HTIF console output reaches the output sink when the run loop flushes", () => {
    const tohost = BARE_MAP.RAM_BASE + 0x1000;
    const chunks: Uint8Array[] = [];
    const board = new BareBoard(elfWithSymbols(loop, { tohost, fromhost: tohost + 8 }), {
      memBytes: MEM,
      output: (c) => chunks.push(c),
    });
    // What the hart's `sd` to tohost does on the bus: two 4-byte writes, low half first.
    board.bus.write(tohost, 4, 0x48);
    board.bus.write(tohost + 4, 4, 0x0101_0000);
    board.flush();
    assert.deepEqual(
      chunks.map((c) => Array.from(c)),
      [[0x48]],
    );
  });

  test("--max-insns ends the run as timed out (needs the hart)", () => {
    const board = new BareBoard(elfWithSymbols(loop, {}), { memBytes: MEM, maxInsns: 250_000 });
    const r = board.run();
    assert.equal(r.stop, "maxInsns");
    assert.equal(r.timedOut, true);
    assert.equal(r.exitCode, null);
    assert.equal(r.instret, 250_000);
    assert.equal(r.instretByPriv.M, 250_000);
  });
});
