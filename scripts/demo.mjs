#!/usr/bin/env node
// `npm run demo`: build examples/hello with the RISC-V cross compiler into build/hello/
// and run it on paravm's bare board (`paravm elf`), showing its HTIF console output.
//
//   node scripts/demo.mjs [--build-only] [--out DIR]
//
// --build-only prints the path of the built ELF and stops (the tests use it);
// --out puts the build somewhere else than build/hello/.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const buildOnly = args.includes("--build-only");
const outIndex = args.indexOf("--out");
const outDir = outIndex >= 0 && args[outIndex + 1] ? resolve(args[outIndex + 1]) : join(root, "build", "hello");

const src = join(root, "examples", "hello");
const elf = join(outDir, "hello.elf");
const CFLAGS = [
  "-march=rv64gc",
  "-mabi=lp64d",
  "-mcmodel=medany",
  "-O2",
  "-g",
  "-ffreestanding",
  "-nostdlib",
  "-nostartfiles",
  "-static",
];

mkdirSync(outDir, { recursive: true });
const cc = spawnSync(
  "riscv64-unknown-elf-gcc",
  [...CFLAGS, "-T", join(src, "link.ld"), join(src, "start.S"), join(src, "hello.c"), "-o", elf],
  { stdio: ["ignore", "inherit", "inherit"] },
);
if (cc.error) {
  process.stderr.write(`demo: cannot run riscv64-unknown-elf-gcc (${cc.error.message}); run: node scripts/setup.mjs\n`);
  process.exit(1);
}
if (cc.status !== 0) process.exit(cc.status ?? 1);

if (buildOnly) {
  process.stdout.write(`${elf}\n`);
  process.exit(0);
}

process.stderr.write(`demo: built ${elf}; running: paravm elf ${elf} --stats\n`);
const run = spawnSync(process.execPath, [join(root, "bin", "paravm.js"), "elf", elf, "--stats"], { stdio: "inherit" });
process.exit(run.status ?? 1);
