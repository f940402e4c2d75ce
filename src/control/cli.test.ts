/**
 * The `paravm` command line, run as a user would: `node bin/paravm.js …` in a child
 * process. The first group checks usage errors and needs no working hart; the second
 * ("needs the hart") runs real programs and passes once the interpreter is in.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const bin = join(root, "bin", "paravm.js");
const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;

function paravm(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** stderr must be exactly one line (no stack trace) matching `pattern`. */
function assertOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.match(lines[0]!, pattern);
}

const gccMissing = spawnSync("riscv64-unknown-elf-gcc", ["--version"]).error !== undefined;
const needGcc = gccMissing ? "riscv64-unknown-elf-gcc is not installed (node scripts/setup.mjs installs it)" : false;

const dir = mkdtempSync(join(tmpdir(), "paravm-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let hello = "";
before(() => {
  if (gccMissing) return;
  const r = spawnSync(process.execPath, [join(root, "scripts", "demo.mjs"), "--build-only", "--out", dir], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, `building examples/hello failed:\n${r.stderr}`);
  hello = r.stdout.trim();
});

/** Assemble and link a tiny bare-metal program with the demo's linker script. */
function buildAsm(name: string, source: string): string {
  const src = join(dir, `${name}.S`);
  const out = join(dir, `${name}.elf`);
  writeFileSync(src, source);
  const r = spawnSync(
    "riscv64-unknown-elf-gcc",
    [
      "-march=rv64gc",
      "-mabi=lp64d",
      "-nostdlib",
      "-nostartfiles",
      "-static",
      "-T",
      join(root, "examples", "hello", "link.ld"),
      src,
      "-o",
      out,
    ],
    { encoding: "utf8" },
  );
  assert.equal(r.status, 0, r.stderr);
  return out;
}

const TOHOST_DECL = [
  '  .section .tohost, "aw", @progbits',
  "  .align 3",
  "  .globl tohost",
  "  .type tohost, @object",
  "  .size tohost, 8",
  "tohost: .dword 0",
  "  .globl fromhost",
  "  .type fromhost, @object",
  "  .size fromhost, 8",
  "fromhost: .dword 0",
  "",
].join("\n");

describe("paravm CLI: usage errors exit 2 with one line", () => {
  test("a missing file", () => {
    const r = paravm("elf", "/nonexistent");
    assert.equal(r.status, 2);
    assertOneLine(r.stderr, /^paravm: error: cannot read '\/nonexistent': no such file$/);
  });

  test("a file that is not an ELF", () => {
    const f = join(dir, "not-elf.txt");
    writeFileSync(f, "hello\n");
    const r = paravm("elf", f);
    assert.equal(r.status, 2);
    assertOneLine(r.stderr, /^paravm: error: .*not-elf\.txt: not an ELF file/);
  });

  test("a directory instead of a file", () => {
    const r = paravm("elf", dir);
    assert.equal(r.status, 2);
    assertOneLine(r.stderr, /is a directory/);
  });

  for (const bad of ["banana", "0", "12abc", "3000", "1.5K", "8G", "-1M"]) {
    test(`--mem ${bad} is refused, naming the option`, () => {
      const r = paravm("elf", "/nonexistent", "--mem", bad);
      assert.equal(r.status, 2);
      assertOneLine(r.stderr, /--mem/);
    });
  }

  for (const bad of ["abc", "0", "1e6", "-3"]) {
    test(`--max-insns ${bad} is refused, naming the option`, () => {
      const r = paravm("elf", "/nonexistent", `--max-insns=${bad}`);
      assert.equal(r.status, 2);
      assertOneLine(r.stderr, /--max-insns/);
    });
  }

  for (const bad of ["9", "-1", "two", "1.5"]) {
    test(`serve --spare-threads ${bad} is refused before the daemon starts, naming the option`, () => {
      const r = paravm("serve", "--listen", "127.0.0.1:0", "--spare-threads", bad);
      assert.equal(r.status, 2);
      assertOneLine(r.stderr, /--spare-threads.*(0 to 8|whole number)/);
    });
  }

  test("an unknown option", () => {
    const r = paravm("elf", "/nonexistent", "--frobnicate");
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown option '--frobnicate'/);
  });

  test("an unknown command", () => {
    const r = paravm("boot-the-moon");
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command 'boot-the-moon'/);
  });

  test("elf without a file", () => {
    const r = paravm("elf");
    assert.equal(r.status, 2);
    assert.match(r.stderr, /missing required argument 'file'/);
  });

  test("--version prints the package version and exits 0", () => {
    const r = paravm("--version");
    assert.equal(r.status, 0);
    assert.equal(r.stdout.trim(), version);
  });

  test("--help lists the elf command and exits 0", () => {
    const r = paravm("elf", "--help");
    assert.equal(r.status, 0);
    assert.match(r.stdout, /--max-insns/);
    assert.match(r.stdout, /--mem/);
  });

  test("a program that does not fit in --mem is refused and the message suggests --mem", { skip: needGcc }, () => {
    const r = paravm("elf", hello, "--mem", "4K");
    assert.equal(r.status, 2);
    assertOneLine(r.stderr, /outside RAM 0x80000000\.\.0x80001000; try a larger --mem/);
  });

  test("sizes with units are accepted (512MiB, 1G, 64k, bytes)", { skip: needGcc }, () => {
    // --max-insns 1 keeps the run short whether or not the hart works yet.
    for (const size of ["512MiB", "1G", "64k", "1048576"]) {
      const r = paravm("elf", hello, "--mem", size, "--max-insns", "1");
      assert.equal(r.status, 124, `--mem ${size}: ${r.stderr}`);
    }
  });

  test("--max-insns stops the run with status 124 and says so", { skip: needGcc }, () => {
    const r = paravm("elf", hello, "--max-insns", "1000");
    assert.equal(r.status, 124);
    assert.match(r.stderr, /^paravm: stopped after 1000 instructions \(--max-insns\)$/m);
  });
});

describe("paravm elf runs programs (needs the hart)", () => {
  test("the demo program prints through HTIF and exits 0", { skip: needGcc }, () => {
    const r = paravm("elf", hello);
    assert.equal(r.status, 0, `stderr: ${r.stderr}\nstdout: ${r.stdout}`);
    assert.match(r.stdout, /^Hello from RV64 on paravm\n/);
    assert.match(r.stdout, /misa: rv64\w*i\w*m/);
    assert.match(r.stdout, /sum of primes below 10000: 5736396 \(ok\)/);
    assert.match(r.stdout, /sqrt\(2\) \* 1e6: 1414213 \(ok\)/);
    assert.match(r.stdout, /timer: woke from wfi after 1 ms \(ok\)/);
    assert.equal(r.stderr, "");
  });

  test("the exit status is the HTIF exit code", { skip: needGcc }, () => {
    const prog = buildAsm(
      "exit5",
      [
        '  .section .text.init, "ax"',
        "  .globl _start",
        "_start:",
        "  li t0, (5 << 1) | 1",
        "  la t1, tohost",
        "  sd t0, 0(t1)",
        "1: j 1b",
        TOHOST_DECL,
      ].join("\n"),
    );
    const r = paravm("elf", prog);
    assert.equal(r.status, 5, r.stderr);
  });

  test("--stats prints one JSON line with counts per privilege and speed", { skip: needGcc }, () => {
    const r = paravm("elf", hello, "--stats");
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("{"));
    assert.equal(lines.length, 1, r.stderr);
    const stats = JSON.parse(lines[0]!) as {
      instructions: number;
      instructionsByPrivilege: { M: number; S: number; U: number };
      wallMs: number;
      mips: number;
    };
    assert.ok(stats.instructions > 100_000, `instructions ${stats.instructions}`);
    assert.equal(stats.instructionsByPrivilege.M, stats.instructions, "the demo runs in M-mode only");
    assert.equal(stats.instructionsByPrivilege.S, 0);
    assert.equal(stats.instructionsByPrivilege.U, 0);
    assert.ok(stats.wallMs > 0);
    assert.ok(stats.mips > 0);
  });

  test(
    "--trace prints 'core 0: 0x<pc> (0x<insn>)' for each instruction from the entry point",
    { skip: needGcc },
    () => {
      const r = paravm("elf", hello, "--trace", "--max-insns", "5");
      assert.equal(r.status, 124);
      const lines = r.stderr.split("\n").filter((l) => l.startsWith("core"));
      assert.equal(lines.length, 5, r.stderr);
      for (const l of lines) assert.match(l, /^core 0: 0x[0-9a-f]{16} \(0x[0-9a-f]{8}\)$/);
      assert.match(lines[0]!, /^core 0: 0x0000000080000000 /);
    },
  );

  test("a program that waits in WFI with no timer armed is stopped with a message", { skip: needGcc }, () => {
    const prog = buildAsm(
      "sleeper",
      [
        '  .section .text.init, "ax"',
        "  .globl _start",
        "_start:",
        "  li t0, -1",
        "  li t1, 0x2004000",
        "  sd t0, 0(t1)", // mtimecmp = never
        "1: wfi",
        "  j 1b",
        TOHOST_DECL,
      ].join("\n"),
    );
    const r = paravm("elf", prog);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /WFI .*nothing can wake it/);
  });
});
