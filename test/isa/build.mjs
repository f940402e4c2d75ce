#!/usr/bin/env node
// Builds the ISA conformance programs: test/isa/src/*.{S,c} -> build/isa/<name>,
// test/isa/negative/*.{S,c} -> build/isa/negative/<name>. Incremental: a program
// is rebuilt only when its source or anything in test/isa/common/ is newer than
// the ELF. Usage: node test/isa/build.mjs [--quiet] [--force] [--list]
// Prints (with --list) one "<kind> <name> <elf path>" line per program.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..", "..");
const common = join(here, "common");
const CC = process.env.RISCV_CC ?? "riscv64-unknown-elf-gcc";
const CFLAGS = [
  "-march=rv64gc",
  "-mabi=lp64d",
  "-mcmodel=medany",
  "-nostdlib",
  "-nostartfiles",
  "-static",
  "-O0",
  "-g",
  "-fno-builtin",
  "-Wl,--no-relax",
  "-Wl,--build-id=none",
  "-T",
  join(common, "link.ld"),
  "-I",
  common,
];

function mtime(p) {
  return statSync(p).mtimeMs;
}

/** Every program: { kind: "isa" | "negative", name, src, elf }. */
export function programs() {
  const out = [];
  for (const [kind, dir, outDir] of [
    ["isa", join(here, "src"), join(root, "build", "isa")],
    ["negative", join(here, "negative"), join(root, "build", "isa", "negative")],
  ]) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) {
      const m = /^(.*)\.(S|c)$/.exec(f);
      if (!m) continue;
      out.push({ kind, name: m[1], src: join(dir, f), elf: join(outDir, m[1]) });
    }
  }
  return out;
}

/** Build what is out of date. Returns { built, upToDate, failed: [{name, log}] }. */
export function buildAll({ force = false, quiet = false } = {}) {
  const commonFiles = readdirSync(common).map((f) => join(common, f));
  const commonTime = Math.max(...commonFiles.map(mtime), mtime(fileURLToPath(import.meta.url)));
  const runtime = join(common, "runtime.S");
  const result = { built: [], upToDate: [], failed: [] };
  for (const p of programs()) {
    mkdirSync(dirname(p.elf), { recursive: true });
    if (!force && existsSync(p.elf) && mtime(p.elf) >= Math.max(commonTime, mtime(p.src))) {
      result.upToDate.push(p.name);
      continue;
    }
    const r = spawnSync(CC, [...CFLAGS, "-o", p.elf, runtime, p.src], { encoding: "utf8" });
    if (r.error || r.status !== 0) {
      const log = r.error ? String(r.error) : `${r.stdout}${r.stderr}`;
      result.failed.push({ name: p.name, log });
      if (!quiet) process.stderr.write(`FAILED ${p.name}\n${log}\n`);
      continue;
    }
    result.built.push(p.name);
    if (!quiet) process.stderr.write(`built ${p.kind}/${p.name}\n`);
  }
  return result;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = new Set(process.argv.slice(2));
  const r = buildAll({ force: args.has("--force"), quiet: args.has("--quiet") });
  if (args.has("--list")) {
    for (const p of programs()) process.stdout.write(`${p.kind} ${p.name} ${p.elf}\n`);
  }
  if (!args.has("--quiet")) {
    process.stderr.write(
      `isa build: ${r.built.length} built, ${r.upToDate.length} up to date, ${r.failed.length} failed\n`,
    );
  }
  process.exit(r.failed.length ? 1 : 0);
}
