import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadHostMemory, nativeAddonPath, NATIVE, type HostMemory } from "./host-memory.js";
import { GuestRam } from "./ram.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const native = loadHostMemory();
const plain = loadHostMemory({ [NATIVE.ENV]: "0" });
const MiB = 1 << 20;

/** Resident set of this process, from /proc (bytes). */
function rss(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return Number(m![1]) * 1024;
}

function behaviour(name: string, mem: HostMemory): void {
  describe(`${name} host memory`, () => {
    test("discard zeroes exactly the pages asked, and the rest keeps its bytes", () => {
      const sab = mem.alloc(16 * 4096);
      const u8 = new Uint8Array(sab);
      u8.fill(0xa5);
      mem.discard(sab, 4096, 2 * 4096);
      assert.equal(u8[4095], 0xa5);
      assert.ok(u8.subarray(4096, 3 * 4096).every((b) => b === 0));
      assert.equal(u8[3 * 4096], 0xa5);
      // Still usable afterwards, by this thread's views.
      u8[5000] = 7;
      assert.equal(u8[5000], 7);
    });

    test("bad ranges are refused with a RangeError and change nothing", () => {
      const sab = mem.alloc(4 * 4096);
      const u8 = new Uint8Array(sab);
      u8.fill(1);
      for (const [off, len] of [
        [1, 4096],
        [0, 100],
        [3 * 4096, 2 * 4096],
        [-4096, 4096],
        [0, 1.5],
        [8 * 4096, 0],
      ] as const) {
        assert.throws(() => mem.discard(sab, off, len), RangeError, `${off}+${len}`);
      }
      assert.ok(u8.every((b) => b === 1));
    });
  });
}

behaviour("plain (zero-fill)", plain);
behaviour(native.reclaim, native);

describe("host memory modes", () => {
  test("PARAVM_NATIVE_RAM=0 selects zero-fill and says why", () => {
    assert.equal(plain.reclaim, "zero-fill");
    assert.match(plain.why ?? "", /PARAVM_NATIVE_RAM=0/);
    assert.equal(plain.reclaimOf(plain.alloc(4096)), "zero-fill");
  });

  const skip = native.reclaim === "madvise" ? false : `addon not loaded: ${native.why}`;

  test("the addon's buffers are page-aligned; a plain SharedArrayBuffer is not", { skip }, () => {
    assert.equal(native.reclaimOf(native.alloc(1 << 16)), "madvise");
    assert.equal(native.reclaimOf(new SharedArrayBuffer(1 << 16)), "zero-fill");
    const ram = new GuestRam(0x8000_0000, 1 << 20);
    assert.equal(ram.reclaim, "madvise");
  });

  test("discarding 64 MiB of touched RAM lowers this process's RSS by about that much", { skip }, () => {
    const sab = native.alloc(96 * MiB);
    new Uint8Array(sab).fill(3);
    const before = rss();
    native.discard(sab, 16 * MiB, 64 * MiB);
    const drop = before - rss();
    assert.ok(drop >= 60 * MiB, `RSS fell by ${(drop / MiB).toFixed(1)} MiB`);
    // A plain buffer zero-fills and keeps its memory.
    const p = plain.alloc(32 * MiB);
    new Uint8Array(p).fill(3);
    const b2 = rss();
    plain.discard(p, 0, 32 * MiB);
    assert.ok(b2 - rss() < 8 * MiB, "zero-fill should not return memory");
  });

  test("a worker sees the addon's buffer and its discards", { skip }, async () => {
    const { Worker } = await import("node:worker_threads");
    const sab = native.alloc(8 * 4096);
    new Uint8Array(sab).fill(9);
    native.discard(sab, 4096, 4096);
    const w = new Worker("const { workerData, parentPort } = require('node:worker_threads'); const u = new Uint8Array(workerData); parentPort.postMessage([u[0], u[4096], u[8192]]);", {
      eval: true,
      workerData: sab,
    });
    const got = await new Promise((r) => w.once("message", r));
    await w.terminate();
    assert.deepEqual(got, [9, 0, 9]);
  });
});

test("RAM a worker allocated outlives the worker: no crash when it is freed after the worker exited", { skip: native.reclaim === "madvise" ? false : "addon not loaded", timeout: 60_000 }, () => {
  // Regression: Node unloads an addon with the worker that loaded it; the buffer's
  // deleter lived in the unloaded library and the process died with SIGSEGV at exit.
  const mod = new URL("./host-memory.js", import.meta.url).href;
  const script = `
    import { Worker } from "node:worker_threads";
    const w = new Worker(${JSON.stringify(`import { parentPort } from "node:worker_threads"; import { hostMemory } from ${JSON.stringify(mod)}; const m = hostMemory(); if (m.reclaim !== "madvise") throw new Error(m.why); parentPort.postMessage(m.alloc(1 << 20));`)}, { eval: true, type: "module" });
    const exited = new Promise((r) => w.once("exit", r));
    let sab = await new Promise((r) => w.once("message", r));
    await exited;
    new Uint8Array(sab).fill(1);
    sab = null;
    globalThis.gc();
    console.log("survived");
  `;
  const r = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(r.signal, null, `killed by ${r.signal}`);
  // 13 is Node's "unsettled top-level await": the exit listener must exist before the worker
  // can exit (it used to be added after the message, and a quick worker's exit was missed).
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /survived/);
});

test("every worker of a process loads the addon, not only the first (each VM's owner thread allocates its RAM)", { skip: native.reclaim === "madvise" ? false : "addon not loaded", timeout: 60_000 }, () => {
  // Regression: the library is pinned, so once the worker that loaded it had exited, a later
  // worker's load found it still mapped, its static registration did not run again, and Node
  // said "Module did not self-register": every VM after the first in a process got zero-fill
  // RAM and its balloon gave nothing back. A child process whose main thread never loads it.
  const mod = new URL("./host-memory.js", import.meta.url).href;
  const inner = `import { parentPort } from "node:worker_threads"; import { hostMemory } from ${JSON.stringify(mod)}; const m = hostMemory(); parentPort.postMessage(m.reclaim + " " + (m.why ?? ""));`;
  const script = `
    import { Worker } from "node:worker_threads";
    for (let i = 0; i < 3; i++) {
      const w = new Worker(${JSON.stringify(inner)}, { eval: true, type: "module" });
      const exited = new Promise((r) => w.once("exit", r));
      console.log(await new Promise((r) => w.once("message", r)));
      await exited;
    }
  `;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n").map((l) => l.trim()), ["madvise", "madvise", "madvise"], r.stdout);
});

describe("setup builds the addon", () => {
  const work = mkdtempSync(join(tmpdir(), "paravm-native-"));
  after(() => rmSync(work, { recursive: true, force: true }));
  const noGxx = spawnSync("sh", ["-c", "command -v g++"]).status !== 0;

  test("once into the cache key the loader looks for, and a second run does nothing", { skip: noGxx ? "no g++" : false, timeout: 120_000 }, () => {
    const checkout = join(work, "checkout");
    const cache = join(work, "cache");
    mkdirSync(join(checkout, "scripts"), { recursive: true });
    mkdirSync(join(checkout, "native"));
    copyFileSync(join(root, "scripts", "setup.mjs"), join(checkout, "scripts", "setup.mjs"));
    // A source of its own, so this build is not one already cached.
    const source = `${readFileSync(join(root, NATIVE.SOURCE), "utf8")}\n// ${process.pid} ${Date.now()}\n`;
    writeFileSync(join(checkout, NATIVE.SOURCE), source);
    // node_modules present and newer than the (absent) lock: setup runs no npm.
    mkdirSync(join(checkout, "node_modules"));
    writeFileSync(join(checkout, "package.json"), JSON.stringify({ name: "native-test", private: true }));
    const env = { ...process.env, PARAVM_CACHE: cache };
    const run = () => spawnSync(process.execPath, [join(checkout, "scripts", "setup.mjs"), "--quiet"], { cwd: checkout, encoding: "utf8", env });

    const first = run();
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /built the guest-RAM addon/);
    const out = nativeAddonPath(source, cache);
    assert.ok(existsSync(out), `${out} missing`);
    const t = statSync(out).mtimeMs;

    const second = run();
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.stdout, "");
    assert.equal(statSync(out).mtimeMs, t);
  });
});
