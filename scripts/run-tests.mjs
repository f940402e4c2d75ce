#!/usr/bin/env node
// Run the compiled tests with node's test runner. Node 20's `node --test` does not
// expand globs, so this finds dist/**/*.test.js itself.
//
//   node scripts/run-tests.mjs [PATH…] [--node-test-flag…]
//
// PATHs (files or directories, under dist/ or as source paths like src/cpu/) select
// tests; flags such as --test-name-pattern=… are passed through to `node --test`.
// A compiled test whose .ts source is gone (stale dist/) is skipped. Two files run at a
// time (PARAVM_TEST_CONCURRENCY, default 2).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = join(root, "dist");

function findTests(dir, out = []) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) findTests(p, out);
    else if (e.isFile() && e.name.endsWith(".test.js")) out.push(p);
  }
  return out;
}

/** dist/src/x/y.test.js → src/x/y.test.ts (rootDir is the repo root). */
function sourceOf(file) {
  return join(root, relative(dist, file)).replace(/\.js$/, ".ts");
}

const flags = [];
const filters = [];
for (const arg of process.argv.slice(2)) {
  if (arg.startsWith("-")) flags.push(arg);
  else filters.push(arg);
}

/** A filter names dist paths directly, or source paths that map into dist/. */
function matchers(filter) {
  const abs = resolve(process.cwd(), filter);
  const out = [abs];
  const rel = relative(root, abs);
  if (!rel.startsWith("..") && !rel.startsWith(`dist${sep}`) && rel !== "dist") {
    out.push(join(dist, rel).replace(/\.ts$/, ".js"));
  }
  return out;
}

const within = (file, base) => file === base || file.startsWith(base.endsWith(sep) ? base : base + sep);

let files = findTests(dist).filter((f) => existsSync(sourceOf(f)));
if (filters.length > 0) {
  const bases = filters.flatMap(matchers);
  files = files.filter((f) => bases.some((b) => within(f, b)));
}
files.sort();

if (files.length === 0) {
  const where = filters.length > 0 ? `matching ${filters.join(" ")}` : "under dist/";
  process.stderr.write(`run-tests: no compiled tests ${where} (build first: npx tsc -p tsconfig.json)\n`);
  process.exit(1);
}

const hasReporter = flags.some((f) => f.startsWith("--test-reporter"));
// Two test files at a time: most of the suite's time is guests booting in files that
// leave the second core idle (a 1-vCPU guest is one busy thread), so on the 2-core CI
// machine two at a time finish sooner. Three was tried (2026-12-03, a clean clone with
// the images built: 14.7 and 17.8 min of tests against 19.4 at two) and dropped: tests
// that measure what a guest receives of a host core (a 25% cap gave 10%, a balloon's
// pace) failed when three files shared the two cores; a later run at two took 11.2 min
// (this host's speed varies more than that). PARAVM_TEST_CONCURRENCY=1 runs one.
const concurrency = Number.parseInt(process.env.PARAVM_TEST_CONCURRENCY ?? "2", 10);
const hasConcurrency = flags.some((f) => f.startsWith("--test-concurrency"));
const args = [
  "--test",
  ...(hasReporter ? [] : ["--test-reporter=spec"]),
  ...(hasConcurrency || !(concurrency >= 1) ? [] : [`--test-concurrency=${concurrency}`]),
  ...flags,
  ...files.map((f) => relative(root, f)),
];
const r = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });
if (r.error) {
  process.stderr.write(`run-tests: ${r.error.message}\n`);
  process.exit(1);
}
process.exit(r.status ?? 1);
