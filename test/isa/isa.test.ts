// ISA conformance suite: every program in test/isa/src runs on QEMU (the
// reference) and on paravm; both must exit 0 and print the same signature.
// Programs are built by test/isa/build.mjs (incremental) into build/isa/.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

interface EmulatorConfig {
  qemu: string[];
  qemuTimeoutSeconds: number;
  paravm: string[];
  paravmTimeoutSeconds: number;
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "test", "isa", "build.mjs"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the repository root above ${start}`);
    dir = up;
  }
}

const root = findRoot(dirname(fileURLToPath(import.meta.url)));
const isaDir = join(root, "test", "isa");
const config = JSON.parse(readFileSync(join(isaDir, "emulators.json"), "utf8")) as EmulatorConfig;
// ISA_PARAVM_CMD='["node","bin/paravm.js","elf","--trace"]' replaces the paravm
// command line (the ELF path is appended), e.g. to check the harness itself.
if (process.env.ISA_PARAVM_CMD) config.paravm = JSON.parse(process.env.ISA_PARAVM_CMD) as string[];

function programNames(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.(S|c)$/.test(f))
    .map((f) => f.replace(/\.(S|c)$/, ""))
    .sort();
}

// Output goes to files, not pipes: QEMU writes the HTIF console one byte at a
// time without blocking, and drops bytes when a pipe (node uses socketpairs)
// is momentarily full.
function run(argv: string[], timeoutSeconds: number): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    const [cmd, ...args] = argv;
    const dir = mkdtempSync(join(tmpdir(), "paravm-isa-"));
    const outPath = join(dir, "stdout");
    const errPath = join(dir, "stderr");
    const outFd = openSync(outPath, "w");
    const errFd = openSync(errPath, "w");
    let timedOut = false;
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null, extra = "") => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      closeSync(outFd);
      closeSync(errFd);
      const stdout = readFileSync(outPath, "utf8");
      const stderr = readFileSync(errPath, "utf8").slice(-(1 << 20)) + extra;
      rmSync(dir, { recursive: true, force: true });
      resolvePromise({ code, signal, stdout, stderr, timedOut });
    };
    const child = spawn(cmd!, args, { cwd: root, stdio: ["ignore", outFd, errFd] });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutSeconds * 1000);
    child.on("error", (err) => finish(null, null, String(err)));
    child.on("close", (code, signal) => finish(code, signal));
  });
}

/** Both emulators at once (two processes: the suite never runs more). */
function runBoth(elf: string): Promise<[RunResult, RunResult]> {
  return Promise.all([runQemu(elf), run([...config.paravm, elf], config.paravmTimeoutSeconds)]);
}

/**
 * The reference run. QEMU very rarely misses the timer wake-up of a WFI on a loaded host
 * and hangs (seen once in priv-irq; the same binary passes on rerun), so a timed-out
 * QEMU run is tried once more. paravm's run is never retried.
 */
async function runQemu(elf: string): Promise<RunResult> {
  const first = await run([...config.qemu, elf], config.qemuTimeoutSeconds);
  return first.timedOut ? run([...config.qemu, elf], config.qemuTimeoutSeconds) : first;
}

function describeRun(who: string, r: RunResult): string {
  const how = r.timedOut ? "timed out" : r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
  const err = r.stderr.trim() ? `\n${who} stderr (tail):\n${r.stderr.trim().split("\n").slice(-15).join("\n")}` : "";
  return `${who}: ${how}${err}`;
}

/** A readable report of where two signatures part. */
function firstDifference(expected: string, actual: string): string {
  const e = expected.split("\n");
  const a = actual.split("\n");
  const n = Math.max(e.length, a.length);
  for (let i = 0; i < n; i++) {
    if (e[i] !== a[i]) {
      const out = [`first difference at line ${i + 1}:`];
      for (let j = Math.max(0, i - 3); j < Math.min(n, i + 6); j++) {
        if (j < i) out.push(`  ${e[j] ?? ""}`);
        else {
          if (e[j] !== undefined) out.push(`- qemu   ${e[j]}`);
          if (a[j] !== undefined) out.push(`+ paravm ${a[j]}`);
        }
      }
      return out.join("\n");
    }
  }
  return "no difference";
}

/**
 * Where QEMU 7.2 departs from the specification, paravm follows the specification. Each
 * such case is listed in qemu-divergences.json: QEMU's line must still show QEMU's
 * behaviour (so the list cannot go stale unnoticed), and paravm's line must be QEMU's
 * with that part replaced by the spec's answer. Everything else must match exactly.
 */
interface Divergence {
  case: string;
  qemu: string;
  paravm: string;
  why: string;
}
const divergences = JSON.parse(readFileSync(join(isaDir, "qemu-divergences.json"), "utf8")) as Record<
  string,
  Divergence[] | string
>;

function applyDivergences(name: string, qemuOut: string): string {
  const list = divergences[name];
  if (list === undefined || typeof list === "string") return qemuOut;
  const lines = qemuOut.split("\n");
  for (const d of list) {
    const i = lines.findIndex((l) => l.startsWith(`${d.case} `));
    assert.ok(i >= 0, `${name}: case "${d.case}" (listed in qemu-divergences.json) is missing from QEMU's output`);
    const line = lines[i]!;
    assert.ok(
      line.includes(d.qemu),
      `${name}: QEMU no longer shows the listed divergence for "${d.case}": expected "${d.qemu}" in "${line}"`,
    );
    lines[i] = line.replace(d.qemu, d.paravm);
  }
  return lines.join("\n");
}

before(() => {
  const r = spawnSync(process.execPath, [join(isaDir, "build.mjs"), "--quiet"], { cwd: root, encoding: "utf8" });
  assert.equal(r.status, 0, `building the ISA programs failed (is riscv64-unknown-elf-gcc installed?):\n${r.stdout}${r.stderr}`);
});

for (const name of programNames(join(isaDir, "src"))) {
  test(`isa ${name}`, { timeout: (config.qemuTimeoutSeconds + config.paravmTimeoutSeconds + 30) * 1000 }, async () => {
    const elf = join(root, "build", "isa", name);
    const [q, p] = await runBoth(elf);
    assert.ok(q.code === 0 && !q.timedOut, `QEMU did not pass ${name} (the reference must pass).\n${describeRun("qemu", q)}\n${q.stdout}`);
    assert.ok(!p.timedOut && p.signal === null, describeRun("paravm", p));
    const expected = applyDivergences(name, q.stdout);
    if (p.stdout !== expected) {
      assert.fail(`${name}: paravm's signature differs from QEMU's\n${firstDifference(expected, p.stdout)}\n${describeRun("paravm", p)}`);
    }
    assert.equal(p.code, 0, `${name}: paravm exited ${p.code}\n${describeRun("paravm", p)}`);
  });
}

test("isa negative control: a failing program fails on both, with the same code", async () => {
  const names = programNames(join(isaDir, "negative"));
  assert.ok(names.length > 0, "no negative-control program");
  for (const name of names) {
    const elf = join(root, "build", "isa", "negative", name);
    const [q, p] = await runBoth(elf);
    assert.ok(!q.timedOut && q.code !== null && q.code !== 0, `QEMU should fail ${name}: ${describeRun("qemu", q)}`);
    assert.ok(!p.timedOut && p.code !== null && p.code !== 0, `paravm should fail ${name}: ${describeRun("paravm", p)}`);
    assert.equal(p.code, q.code, `${name}: exit codes differ (qemu ${q.code}, paravm ${p.code})`);
    assert.equal(p.stdout, q.stdout, `${name}: signatures differ\n${firstDifference(q.stdout, p.stdout)}`);
  }
});
