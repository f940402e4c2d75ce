import { test } from "node:test";
import assert from "node:assert/strict";
import { expandCompressed } from "./compressed.js";
import { buildCompressedFixture, type CompressedFixture } from "./compressed.fixture.js";

const hex = (v: number, digits = 8): string => "0x" + (v >>> 0).toString(16).padStart(digits, "0");

/** Every RV64C form the spec lists (C.NOP counted apart from C.ADDI). */
const FORMS = [
  "C.ADDI4SPN", "C.FLD", "C.LW", "C.LD", "C.FSD", "C.SW", "C.SD",
  "C.NOP", "C.ADDI", "C.ADDIW", "C.LI", "C.ADDI16SP", "C.LUI", "C.SRLI", "C.SRAI", "C.ANDI",
  "C.SUB", "C.XOR", "C.OR", "C.AND", "C.SUBW", "C.ADDW", "C.J", "C.BEQZ", "C.BNEZ",
  "C.SLLI", "C.FLDSP", "C.LWSP", "C.LDSP", "C.JR", "C.MV", "C.EBREAK", "C.JALR", "C.ADD",
  "C.FSDSP", "C.SWSP", "C.SDSP",
];

/**
 * The HINT code points (legal, expanded like any other, but gas never emits them for an
 * uncompressed source line, so the assembler fixture cannot cover them).
 */
function isHint(c: number): boolean {
  const q = c & 3;
  const f3 = c >>> 13;
  const rd = (c >> 7) & 0x1f;
  const low5 = (c >> 2) & 0x1f;
  const imm6 = ((c >> 7) & 0x20) | low5; // c[12] : c[6:2]
  if (q === 1 && f3 === 0) return rd === 0 ? imm6 !== 0 : imm6 === 0; // C.NOP imm!=0, C.ADDI imm=0
  if (q === 1 && f3 === 2) return rd === 0; // C.LI rd=0
  if (q === 1 && f3 === 3) return rd === 0 && imm6 !== 0; // C.LUI rd=0 (nzimm=0 is reserved)
  if (q === 1 && f3 === 4 && ((c >> 10) & 3) < 2) return imm6 === 0; // C.SRLI/C.SRAI shamt=0
  if (q === 2 && f3 === 0) return rd === 0 || imm6 === 0; // C.SLLI rd=0 or shamt=0
  if (q === 2 && f3 === 4) return low5 !== 0 && rd === 0; // C.MV / C.ADD rd=0
  return false;
}

let fixture: CompressedFixture | null | undefined;
function getFixture(): CompressedFixture | null {
  if (fixture === undefined) fixture = buildCompressedFixture()?.fixture ?? null;
  return fixture;
}
const NO_AS =
  "riscv64-unknown-elf-as / -objdump not found (set RISCV_PREFIX to use another toolchain): assembler fixture skipped";

test("expandCompressed matches GNU as: rv64gc encoding expands to the rv64g encoding", (t) => {
  const fx = getFixture();
  if (!fx) {
    t.skip(NO_AS);
    return;
  }
  t.diagnostic(`${fx.entries.length} lines assembled with ${fx.assembler}`);

  // The generator only emits lines gas compresses; if one did not, the generator is wrong.
  const wide = fx.entries.filter((e) => e.compressedSize !== 2);
  assert.deepEqual(
    wide.slice(0, 10).map((e) => `${e.form}: ${e.asm}`),
    [],
    `${wide.length} source lines were not compressed by gas`,
  );

  const perForm = new Map<string, number>();
  for (const e of fx.entries) perForm.set(e.form, (perForm.get(e.form) ?? 0) + 1);
  for (const f of FORMS) assert.ok((perForm.get(f) ?? 0) > 0, `fixture has no ${f}`);
  assert.deepEqual([...perForm.keys()].filter((f) => !FORMS.includes(f)), []);

  const bad: string[] = [];
  for (const e of fx.entries) {
    const got = expandCompressed(e.compressed);
    if (got !== (e.word | 0))
      bad.push(`${e.form} ${e.asm}: ${hex(e.compressed, 4)} -> ${hex(got)}, want ${hex(e.word)}`);
  }
  assert.deepEqual(bad.slice(0, 20), [], `${bad.length} mismatches`);
});

test("fixture covers every legal non-HINT 16-bit encoding", (t) => {
  const fx = getFixture();
  if (!fx) {
    t.skip(NO_AS);
    return;
  }
  const seen = new Set(fx.entries.map((e) => e.compressed));
  const missing: string[] = [];
  let legal = 0;
  for (let c = 0; c < 0x10000; c++) {
    if ((c & 3) === 3 || expandCompressed(c) === 0) continue;
    legal++;
    if (!seen.has(c) && !isHint(c)) missing.push(hex(c, 4));
  }
  t.diagnostic(`${legal} legal encodings, ${seen.size} checked against the assembler`);
  assert.deepEqual(missing.slice(0, 20), [], `${missing.length} legal encodings not in the fixture`);
});

test("exhaustive: every 16-bit value expands to 0 or a 32-bit instruction", () => {
  let legal = 0;
  for (let c = 0; c < 0x10000; c++) {
    const e = expandCompressed(c);
    assert.equal(e, e | 0, `${hex(c, 4)}: result must be an int32`);
    if ((c & 3) === 3) {
      assert.equal(e, 0, `${hex(c, 4)} is not a compressed instruction`);
      continue;
    }
    if (e !== 0) {
      legal++;
      assert.equal(e & 3, 3, `${hex(c, 4)} -> ${hex(e)} is not a 32-bit encoding`);
    }
    // Only the low 16 bits matter.
    assert.equal(expandCompressed(c | 0x7fff0000), e);
  }
  assert.ok(legal > 40000, `only ${legal} legal encodings`);
});

test("reserved and illegal encodings expand to 0", () => {
  const zero = (c: number, what: string): void => assert.equal(expandCompressed(c), 0, `${hex(c, 4)} ${what}`);
  zero(0x0000, "all-zero");
  for (let rd = 0; rd < 8; rd++) zero(rd << 2, "C.ADDI4SPN nzuimm=0");
  // Quadrant 0 funct3=100 is reserved whatever the other bits.
  for (let v = 0; v < 0x800; v++) zero(0x8000 | (v << 2), "quadrant 0 funct3=100");
  // C.ADDIW with rd=0 (any immediate).
  for (let imm = 0; imm < 64; imm++) zero(0x2001 | ((imm & 0x20) << 7) | ((imm & 0x1f) << 2), "C.ADDIW rd=0");
  zero(0x6101, "C.ADDI16SP nzimm=0");
  for (let rd = 0; rd < 32; rd++) if (rd !== 2) zero(0x6001 | (rd << 7), "C.LUI nzimm=0");
  // C.SUBW/C.ADDW neighbours 100 1 11 xxx 10/11 xxx 01 are reserved.
  for (let r1 = 0; r1 < 8; r1++)
    for (let r2 = 0; r2 < 8; r2++) {
      zero(0x9c01 | (r1 << 7) | (2 << 5) | (r2 << 2), "reserved 100 1 11 .. 10");
      zero(0x9c01 | (r1 << 7) | (3 << 5) | (r2 << 2), "reserved 100 1 11 .. 11");
    }
  for (let off = 0; off < 64; off++) {
    const bits = ((off & 0x20) << 7) | ((off & 0x1f) << 2);
    zero(0x4002 | bits, "C.LWSP rd=0");
    zero(0x6002 | bits, "C.LDSP rd=0");
  }
  zero(0x8002, "C.JR rs1=0");
  zero(0x0003, "low bits 11");
  zero(0xffff, "low bits 11");
});

test("HINT encodings expand to the corresponding 32-bit instruction", () => {
  const cases: Array<[number, number, string]> = [
    [0x0015, 0x00500013, "C.NOP imm=5 -> addi x0,x0,5"],
    [0x1001, 0xfe000013, "C.NOP imm=-32 -> addi x0,x0,-32"],
    [0x0501, 0x00050513, "C.ADDI a0,0 -> addi a0,a0,0"],
    [0x4015, 0x00500013, "C.LI x0,5 -> addi x0,x0,5"],
    [0x6005, 0x00001037, "C.LUI x0,1 -> lui x0,1"],
    [0x7001, 0xfffe0037, "C.LUI x0,0xfffe0 -> lui x0,0xfffe0"],
    [0x802e, 0x00b00033, "C.MV x0,a1 -> add x0,x0,a1"],
    [0x902e, 0x00b00033, "C.ADD x0,a1 -> add x0,x0,a1"],
    [0x000e, 0x00301013, "C.SLLI x0,3 -> slli x0,x0,3"],
    [0x0502, 0x00051513, "C.SLLI a0,0 -> slli a0,a0,0"],
    [0x0002, 0x00001013, "C.SLLI x0,0 -> slli x0,x0,0"],
    [0x8101, 0x00055513, "C.SRLI a0,0 -> srli a0,a0,0"],
    [0x8501, 0x40055513, "C.SRAI a0,0 -> srai a0,a0,0"],
  ];
  for (const [c, want, what] of cases) assert.equal(hex(expandCompressed(c)), hex(want), what);
  for (let c = 0; c < 0x10000; c++)
    if ((c & 3) !== 3 && isHint(c)) assert.notEqual(expandCompressed(c), 0, `HINT ${hex(c, 4)} must be legal`);
});

test("exact expansions of the forms with a choice of equivalent encodings", () => {
  const cases: Array<[number, number, string]> = [
    [0x0001, 0x00000013, "C.NOP -> addi x0,x0,0"],
    [0x9002, 0x00100073, "C.EBREAK -> ebreak"],
    [0x852e, 0x00b00533, "C.MV a0,a1 -> add a0,x0,a1 (not addi a0,a1,0)"],
    [0x8502, 0x00050067, "C.JR a0 -> jalr x0,0(a0)"],
    [0x9502, 0x000500e7, "C.JALR a0 -> jalr x1,0(a0)"],
    [0xa001, 0x0000006f, "C.J .+0 -> jal x0,0"],
    [0xbffd, 0xfffff06f, "C.J .-2 -> jal x0,-2"],
    [0x2501, 0x0005051b, "C.ADDIW a0,0 -> addiw a0,a0,0 (sext.w)"],
    [0x4501, 0x00000513, "C.LI a0,0 -> addi a0,x0,0"],
  ];
  for (const [c, want, what] of cases) assert.equal(hex(expandCompressed(c)), hex(want), what);
});
