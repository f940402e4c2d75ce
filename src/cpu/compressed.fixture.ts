/**
 * Builds the RV64C expansion fixture used by compressed.test.ts.
 *
 * It writes an assembly source that lists every compressible RV64C form with many
 * register and immediate choices (written with the *uncompressed* mnemonics), assembles
 * it twice with GNU as — `-march=rv64gc` (gas picks the compressed encoding) and
 * `-march=rv64g` (no compression) — and pairs the two disassemblies line by line. Each
 * pair is (16-bit encoding, 32-bit encoding) of the same source line, which is exactly
 * what `expandCompressed` must map one to the other.
 *
 * The rv64gc source differs from the rv64g one only in the few lines that name the
 * compressed mnemonic explicitly (see {@link SourceLine.casm}).
 *
 * Only source forms whose compressed encoding expands back to the same 32-bit encoding
 * are emitted: e.g. `add rd, x0, rs2` for C.MV (gas also compresses `addi rd, rs, 0` to
 * C.MV, whose expansion is the ADD), and `op rd, rd, rs2` but never the commuted
 * `op rd, rs2, rd`.
 *
 * Output: build/compressed-fixture.json (under the repository root); the sources and
 * objects go to a temporary build/compressed-fixture-XXXXXX/ that is removed on success.
 * Run directly with `node dist/src/cpu/compressed.fixture.js`, or call
 * {@link buildCompressedFixture}.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface FixtureEntry {
  /** Name of the compressed form, e.g. "C.ADDI4SPN". */
  form: string;
  /** The source line. */
  asm: string;
  /** The encoding gas produced with -march=rv64gc: a 16-bit value (or 32-bit if it did not compress). */
  compressed: number;
  /** Size in bytes of that encoding: 2 when gas compressed the line. */
  compressedSize: number;
  /** The 32-bit encoding gas produced with -march=rv64g (uint32). */
  word: number;
}

export interface CompressedFixture {
  assembler: string;
  entries: FixtureEntry[];
}

/** Tool prefix; override with RISCV_PREFIX (e.g. "riscv64-linux-gnu-"). */
const PREFIX = process.env.RISCV_PREFIX ?? "riscv64-unknown-elf-";

/** One line of the generated source. */
export interface SourceLine {
  /** Name of the compressed form. */
  form: string;
  /** Uncompressed source line, assembled with both -march=rv64gc and -march=rv64g. */
  asm: string;
  /**
   * Explicit compressed mnemonic used instead of `asm` in the rv64gc source, for the
   * few encodings gas never picks on its own (C.ADDI16SP with an immediate C.ADDI can hold).
   */
  casm?: string;
}

/** Every compressible form with many register/immediate choices. */
export function generateCompressedSource(): SourceLine[] {
  const out: SourceLine[] = [];
  const emit = (form: string, asm: string, casm?: string): void => {
    out.push(casm === undefined ? { form, asm } : { form, asm, casm });
  };
  const range = (from: number, to: number, step = 1): number[] => {
    const r: number[] = [];
    for (let v = from; v <= to; v += step) r.push(v);
    return r;
  };
  const cregs = range(8, 15); // x8..x15 / f8..f15: the registers of the 3-bit fields
  const regs1 = range(1, 31); // any register but x0
  const regs0 = range(0, 31);
  const imm6 = range(-32, 31);
  const imm6nz = imm6.filter((v) => v !== 0);
  const shamt = range(1, 63);

  // ---- quadrant 0
  for (const rd of cregs) for (const u of range(4, 1020, 4)) emit("C.ADDI4SPN", `addi x${rd}, x2, ${u}`);
  for (const rs1 of cregs)
    for (const r of cregs)
      for (const off of range(0, 248, 8)) {
        emit("C.FLD", `fld f${r}, ${off}(x${rs1})`);
        emit("C.LD", `ld x${r}, ${off}(x${rs1})`);
        emit("C.FSD", `fsd f${r}, ${off}(x${rs1})`);
        emit("C.SD", `sd x${r}, ${off}(x${rs1})`);
      }
  for (const rs1 of cregs)
    for (const r of cregs)
      for (const off of range(0, 124, 4)) {
        emit("C.LW", `lw x${r}, ${off}(x${rs1})`);
        emit("C.SW", `sw x${r}, ${off}(x${rs1})`);
      }

  // ---- quadrant 1
  emit("C.NOP", `addi x0, x0, 0`);
  for (const rd of regs1) for (const i of imm6nz) emit("C.ADDI", `addi x${rd}, x${rd}, ${i}`);
  for (const rd of regs1) for (const i of imm6) emit("C.ADDIW", `addiw x${rd}, x${rd}, ${i}`);
  for (const rd of regs1) for (const i of imm6) emit("C.LI", `addi x${rd}, x0, ${i}`);
  for (const i of range(-512, 496, 16)) {
    if (i === 0) continue;
    // gas prefers C.ADDI sp for the immediates C.ADDI can hold, so name C.ADDI16SP for those.
    if (i >= -32 && i <= 31) emit("C.ADDI16SP", `addi x2, x2, ${i}`, `c.addi16sp x2, ${i}`);
    else emit("C.ADDI16SP", `addi x2, x2, ${i}`);
  }
  for (const rd of regs1)
    if (rd !== 2) for (const i of imm6nz) emit("C.LUI", `lui x${rd}, ${i < 0 ? i + 0x100000 : i}`);
  for (const rd of cregs)
    for (const s of shamt) {
      emit("C.SRLI", `srli x${rd}, x${rd}, ${s}`);
      emit("C.SRAI", `srai x${rd}, x${rd}, ${s}`);
    }
  for (const rd of cregs) for (const i of imm6) emit("C.ANDI", `andi x${rd}, x${rd}, ${i}`);
  for (const rd of cregs)
    for (const rs2 of cregs)
      for (const op of ["sub", "xor", "or", "and", "subw", "addw"])
        emit(`C.${op.toUpperCase()}`, `${op} x${rd}, x${rd}, x${rs2}`);
  // `j` (= jal x0): gas only picks C.J for the `j` mnemonic.
  for (const off of range(-2048, 2046, 2)) emit("C.J", `j .${off < 0 ? "" : "+"}${off}`);
  for (const rs1 of cregs)
    for (const off of range(-256, 254, 2)) {
      const target = `.${off < 0 ? "" : "+"}${off}`;
      emit("C.BEQZ", `beq x${rs1}, x0, ${target}`);
      emit("C.BNEZ", `bne x${rs1}, x0, ${target}`);
    }

  // ---- quadrant 2
  for (const rd of regs1) for (const s of shamt) emit("C.SLLI", `slli x${rd}, x${rd}, ${s}`);
  for (const r of regs0)
    for (const off of range(0, 504, 8)) {
      emit("C.FLDSP", `fld f${r}, ${off}(x2)`);
      emit("C.FSDSP", `fsd f${r}, ${off}(x2)`);
      emit("C.SDSP", `sd x${r}, ${off}(x2)`);
      if (r !== 0) emit("C.LDSP", `ld x${r}, ${off}(x2)`);
    }
  for (const r of regs0)
    for (const off of range(0, 252, 4)) {
      emit("C.SWSP", `sw x${r}, ${off}(x2)`);
      if (r !== 0) emit("C.LWSP", `lw x${r}, ${off}(x2)`);
    }
  for (const rs1 of regs1) {
    emit("C.JR", `jr x${rs1}`);
    emit("C.JALR", `jalr x${rs1}`);
  }
  for (const rd of regs1)
    for (const rs2 of regs1) {
      emit("C.MV", `add x${rd}, x0, x${rs2}`);
      emit("C.ADD", `add x${rd}, x${rd}, x${rs2}`);
    }
  emit("C.EBREAK", `ebreak`);
  return out;
}

/** Parse `objdump -d -z` output into the encoding and size of each instruction, in order. */
function parseObjdump(text: string): Array<{ enc: number; size: number }> {
  const res: Array<{ enc: number; size: number }> = [];
  for (const line of text.split("\n")) {
    const m = /^\s*[0-9a-f]+:\s+([0-9a-f]{8}|[0-9a-f]{4})\s/.exec(line);
    if (m) res.push({ enc: parseInt(m[1]!, 16), size: m[1]!.length / 2 });
  }
  return res;
}

function run(tool: string, args: string[]): string {
  const r = spawnSync(PREFIX + tool, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${PREFIX}${tool} ${args.join(" ")} failed:\n${r.stderr}`);
  return r.stdout;
}

/** True when the cross assembler and objdump can be run. */
export function assemblerAvailable(): boolean {
  for (const tool of ["as", "objdump"]) {
    const r = spawnSync(PREFIX + tool, ["--version"], { encoding: "utf8" });
    if (r.error || r.status !== 0) return false;
  }
  return true;
}

/** The repository root: the nearest directory above this module holding package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return dir;
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

/**
 * Assemble the generated source both ways and write the fixture JSON. Returns the
 * fixture and the path it was written to, or null when the assembler is not installed.
 * Throws if the two assemblies do not pair up one instruction per source line.
 */
export function buildCompressedFixture(
  buildDir = join(repoRoot(), "build"),
): { fixture: CompressedFixture; path: string } | null {
  if (!assemblerAvailable()) return null;
  mkdirSync(buildDir, { recursive: true });
  // A private scratch directory, so concurrent test runs in one tree do not collide.
  const work = mkdtempSync(join(buildDir, "compressed-fixture-"));
  const lines = generateCompressedSource();
  // norelax: branch/jump offsets to `.+n` are resolved by the assembler, not left to the linker.
  const source = (compressed: boolean): string =>
    [".option norelax", ".text", ...lines.map((l) => (compressed ? (l.casm ?? l.asm) : l.asm)), ""].join("\n");

  const dis: Array<Array<{ enc: number; size: number }>> = [];
  for (const march of ["rv64gc", "rv64g"]) {
    const srcPath = join(work, `rvc-${march}.s`);
    writeFileSync(srcPath, source(march === "rv64gc"));
    const obj = join(work, `rvc-${march}.o`);
    run("as", [`-march=${march}`, "-mabi=lp64d", "-o", obj, srcPath]);
    dis.push(parseObjdump(run("objdump", ["-d", "-z", obj])));
  }
  const [gc, g] = dis as [Array<{ enc: number; size: number }>, Array<{ enc: number; size: number }>];
  if (gc.length !== lines.length || g.length !== lines.length)
    throw new Error(
      `instruction count mismatch: ${lines.length} source lines, ${gc.length} with rv64gc, ${g.length} with rv64g`,
    );
  const entries: FixtureEntry[] = lines.map(({ form, asm, casm }, i) => {
    const wide = g[i]!;
    if (wide.size !== 4) throw new Error(`rv64g produced a ${wide.size}-byte encoding for "${asm}"`);
    const text = casm === undefined ? asm : `${asm} (rv64gc: ${casm})`;
    return { form, asm: text, compressed: gc[i]!.enc, compressedSize: gc[i]!.size, word: wide.enc };
  });
  const fixture: CompressedFixture = { assembler: run("as", ["--version"]).split("\n")[0]!, entries };
  const path = join(buildDir, "compressed-fixture.json");
  const tmp = join(work, "fixture.json");
  writeFileSync(tmp, JSON.stringify(fixture));
  renameSync(tmp, path); // atomic replace
  rmSync(work, { recursive: true, force: true });
  return { fixture, path };
}

// Run as a script: write the fixture and print a summary.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = buildCompressedFixture();
  if (!r) {
    console.error(`${PREFIX}as not found: no fixture written`);
    process.exitCode = 1;
  } else {
    console.log(`wrote ${r.fixture.entries.length} entries to ${r.path} (${r.fixture.assembler})`);
  }
}
