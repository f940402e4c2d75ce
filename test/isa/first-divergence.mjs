#!/usr/bin/env node
// Differential aid: run one ISA program on QEMU (single-stepped, exec trace)
// and on paravm (--trace), and report the first instruction where the two
// streams of executed pcs part, with the instructions before it (disassembled
// with objdump when available) and the first differing signature line.
//
// Usage: node test/isa/first-divergence.mjs build/isa/<prog> [--context N] [--keep]
//   --context N   instructions shown before the divergence (default 12)
//   --keep        keep the raw traces (their paths are printed)
//
// QEMU: -singlestep -d exec,nochain prints "Trace 0: 0x<host> [<...>/<pc>/...]"
// once per executed instruction; it starts in the spike boot ROM at 0x1000, so
// lines before the ELF entry point are skipped. paravm --trace prints
// "core 0: 0x<pc, 16 hex> (0x<insn, 8 hex>)" lines on stderr.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, createReadStream, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..", "..");
const config = JSON.parse(readFileSync(join(here, "emulators.json"), "utf8"));
if (process.env.ISA_PARAVM_CMD) config.paravm = JSON.parse(process.env.ISA_PARAVM_CMD);

const args = process.argv.slice(2);
const prog = args.find((a) => !a.startsWith("--") && !/^\d+$/.test(a));
const ctxIdx = args.indexOf("--context");
const context = ctxIdx >= 0 ? Number(args[ctxIdx + 1]) : 12;
const keep = args.includes("--keep");
if (!prog) {
  process.stderr.write("usage: node test/isa/first-divergence.mjs <elf> [--context N] [--keep]\n");
  process.exit(2);
}
const elf = resolve(prog);

function elfEntry(path) {
  const b = readFileSync(path);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) throw new Error(`${path}: not an ELF64 file`);
  return b.readBigUInt64LE(24);
}

function runToFiles(argv, outPath, errPath, timeoutSeconds) {
  return new Promise((res) => {
    const out = openSync(outPath, "w");
    const err = openSync(errPath, "w");
    const child = spawn(argv[0], argv.slice(1), { cwd: root, stdio: ["ignore", out, err] });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutSeconds * 1000);
    const done = (code, signal) => {
      clearTimeout(timer);
      closeSync(out);
      closeSync(err);
      res({ code, signal });
    };
    child.on("error", (e) => {
      process.stderr.write(`${argv[0]}: ${e}\n`);
      done(null, null);
    });
    child.on("close", done);
  });
}

/** Async iterator of { pc, insn } from a trace file. */
async function* trace(path, parse) {
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of rl) {
    const t = parse(line);
    if (t) yield t;
  }
}

const qemuLine = /^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+\/([0-9a-f]+)\//;
const paravmLine = /core\s+\d+:\s+0x([0-9a-f]+)\s+\(0x([0-9a-f]+)\)/;

function disassembler() {
  const r = spawnSync("riscv64-unknown-elf-objdump", ["-d", "-M", "no-aliases", elf], { encoding: "utf8", maxBuffer: 1 << 28 });
  const map = new Map();
  if (r.status !== 0) return map;
  for (const line of r.stdout.split("\n")) {
    const m = /^\s*([0-9a-f]+):\s+([0-9a-f]+)\s+(.*)$/.exec(line);
    if (m) map.set(BigInt("0x" + m[1]), `${m[2].padStart(8)}  ${m[3].replace(/\s+/g, " ")}`);
  }
  return map;
}

function firstSignatureDifference(a, b) {
  const x = a.split("\n");
  const y = b.split("\n");
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] !== y[i]) return `line ${i + 1}:\n  qemu:   ${x[i] ?? "<end>"}\n  paravm: ${y[i] ?? "<end>"}`;
  }
  return "identical";
}

const dir = mkdtempSync(join(tmpdir(), "paravm-diverge-"));
const qTrace = join(dir, "qemu.trace");
const files = {
  qOut: join(dir, "qemu.out"),
  qErr: join(dir, "qemu.err"),
  pOut: join(dir, "paravm.out"),
  pErr: join(dir, "paravm.trace"),
};
const entry = elfEntry(elf);
const qemuArgv = [...config.qemu.slice(0, -1), "-singlestep", "-d", "exec,nochain", "-D", qTrace, "-kernel", elf];
const paravmArgv = [...config.paravm, "--trace", elf];
const [q, p] = await Promise.all([
  runToFiles(qemuArgv, files.qOut, files.qErr, 300),
  runToFiles(paravmArgv, files.pOut, files.pErr, 600),
]);
console.log(`qemu exit ${q.code}${q.signal ? ` (${q.signal})` : ""}, paravm exit ${p.code}${p.signal ? ` (${p.signal})` : ""}`);

const dis = disassembler();
const show = (pc) => `0x${pc.toString(16).padStart(16, "0")}  ${dis.get(pc) ?? ""}`;

const qi = trace(qTrace, (line) => {
  const m = qemuLine.exec(line);
  return m ? { pc: BigInt("0x" + m[1]) } : null;
});
const pi = trace(files.pErr, (line) => {
  const m = paravmLine.exec(line);
  return m ? { pc: BigInt("0x" + m[1]), insn: m[2] } : null;
});

// Skip QEMU's boot ROM.
let qn = await qi.next();
while (!qn.done && qn.value.pc !== entry) qn = await qi.next();

const history = [];
let n = 0;
let diverged = false;
for (;;) {
  const pn = await pi.next();
  if (qn.done && pn.done) break;
  if (qn.done || pn.done || qn.value.pc !== pn.value.pc) {
    diverged = true;
    console.log(`first divergence after ${n} instructions (from the entry point 0x${entry.toString(16)}):`);
    for (const h of history) console.log(`    ${show(h)}`);
    console.log(`  qemu   next: ${qn.done ? "<end of trace>" : show(qn.value.pc)}`);
    console.log(`  paravm next: ${pn.done ? "<end of trace>" : show(pn.value.pc) + (pn.value.insn ? ` (insn 0x${pn.value.insn})` : "")}`);
    break;
  }
  history.push(qn.value.pc);
  if (history.length > context) history.shift();
  n++;
  qn = await qi.next();
}
if (!diverged) console.log(`no divergence: ${n} instructions executed identically`);
console.log(`signature: ${firstSignatureDifference(readFileSync(files.qOut, "utf8"), readFileSync(files.pOut, "utf8"))}`);
if (keep) console.log(`traces kept in ${dir}`);
else rmSync(dir, { recursive: true, force: true });
process.exit(diverged ? 1 : 0);
