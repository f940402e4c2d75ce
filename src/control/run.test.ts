/**
 * `paravm run` as a user runs it: the errors a busy user meets (each one line on stderr,
 * exit status 2, no stack trace), and, when guest images are built, real Linux boots
 * (SMP through HSM, console input from a pipe).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, test } from "node:test";
import { defaultGuestDir, EscapeFilter } from "./cli.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const bin = join(root, "bin", "paravm.js");
const MiB = 1024 * 1024;

function paravm(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertUsage(r: { status: number | null; stderr: string }, pattern: RegExp): void {
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.equal(r.status, 2, r.stderr);
}

/** A minimal Linux Image header (magic, text_offset 2 MiB, image_size) padded to `size`. */
function fakeImage(imageSize: number, size = 0x1000): Uint8Array {
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  v.setBigUint64(0x08, 0x20_0000n, true);
  v.setBigUint64(0x10, BigInt(imageSize), true);
  b.set([0x52, 0x53, 0x43, 0x05], 0x38);
  return b;
}

const dir = mkdtempSync(join(tmpdir(), "paravm-run-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, bytes: Uint8Array | string): string => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};
const kernel = file("Image", fakeImage(0x1000));
const bigKernel = file("Big", fakeImage(30 * MiB));
const notKernel = file("junk", "this is not a kernel at all, just some text that is long enough to fill a header....");
const initrd = file("initrd.gz", Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0));
const notInitrd = file("initrd.txt", "hello");
const emptyInitrd = file("empty", "");
const oddDisk = file("disk.img", new Uint8Array(1000));
const disk = file("good.img", new Uint8Array(4096));
const aDir = join(dir, "adir");
mkdirSync(aDir);

describe("paravm run: one-line errors, exit status 2", () => {
  const k = ["--kernel", kernel, "--initrd", initrd];
  test("missing kernel / initrd / disk files", () => {
    assertUsage(paravm("run", "--kernel", join(dir, "nope"), "--initrd", initrd), /cannot read '.*nope': no such file/);
    assertUsage(paravm("run", "--kernel", kernel, "--initrd", join(dir, "nope")), /cannot read '.*nope': no such file/);
    assertUsage(paravm("run", ...k, "--disk", join(dir, "nope")), /cannot read '.*nope': no such file/);
    assertUsage(paravm("run", "--kernel", aDir, "--initrd", initrd), /is a directory/);
    assertUsage(paravm("run", ...k, "--disk", aDir), /is a directory/);
  });
  test("corrupt kernel / initrd / disk files", () => {
    assertUsage(paravm("run", "--kernel", notKernel, "--initrd", initrd), /kernel: not a RISC-V Linux Image/);
    assertUsage(paravm("run", "--kernel", kernel, "--initrd", notInitrd), /initrd: not a gzip-compressed or newc cpio/);
    assertUsage(paravm("run", "--kernel", kernel, "--initrd", emptyInitrd), /initrd: empty file/);
    assertUsage(paravm("run", ...k, "--disk", oddDisk), /not a whole number of 512-byte sectors/);
  });
  test("a kernel too big for --mem", () => {
    assertUsage(paravm("run", "--kernel", bigKernel, "--initrd", initrd, "--mem", "16M"), /kernel needs .* --mem is 16 MiB/);
  });
  test("nonsense --cpus, --mem, --max-insns", () => {
    for (const v of ["0", "9", "-1", "1.5", "two", ""]) assertUsage(paravm("run", ...k, "--cpus", v), /--cpus/);
    for (const v of ["0", "lots", "5G", "12345", "-1M"]) assertUsage(paravm("run", ...k, "--mem", v), /--mem/);
    for (const v of ["0", "-5", "1e6", "many"]) assertUsage(paravm("run", ...k, "--max-insns", v), /--max-insns/);
  });
  test("a good disk file is accepted and the run goes on", () => {
    const r = paravm("run", ...k, "--disk", disk, "--exec", "true", "--max-insns", "1000");
    assert.equal(r.status, 124, r.stderr);
  });
  test("nonsense --disk options", () => {
    assertUsage(paravm("run", ...k, "--disk", `${disk},fast`), /--disk: unknown option 'fast'/);
    assertUsage(paravm("run", ...k, "--disk", `${disk},cache=unsafe`), /--disk: cache=unsafe/);
  });
});

describe("Ctrl-A escapes", () => {
  test("Ctrl-A x quits; Ctrl-A Ctrl-A sends one Ctrl-A; other bytes pass", () => {
    let quit = 0;
    const f = new EscapeFilter(() => quit++);
    assert.deepEqual([...f.filter(Uint8Array.of(0x61, 0x01, 0x01, 0x62))], [0x61, 0x01, 0x62]);
    assert.equal(quit, 0);
    assert.deepEqual([...f.filter(Uint8Array.of(0x63, 0x01))], [0x63]);
    assert.deepEqual([...f.filter(Uint8Array.of(0x78, 0x64))], []);
    assert.equal(quit, 1);
  });
});

/** Run paravm; past `ms`, ask it where its vCPUs are (SIGUSR2, printed on stderr), then kill it. */
function runWithWhere(args: string[], ms: number): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("latin1")));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("latin1")));
    const timer = setTimeout(() => {
      child.kill("SIGUSR2");
      setTimeout(() => child.kill("SIGKILL"), 2000);
    }, ms);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe("paravm run on real Linux (skipped without built guest images)", () => {
  const skip = defaultGuestDir() === null ? "no guest images in ~/.cache/paravm" : false;
  test("--cpus 2: the guest sees two harts", { skip, timeout: 400_000 }, async () => {
    // If it ever hangs, SIGUSR2 makes paravm say where each vCPU is before it is killed.
    const r = await runWithWhere([bin, "run", "--cpus", "2", "--exec", "dmesg -n 1; nproc; cat /proc/cpuinfo | grep -c processor"], 300_000);
    assert.equal(r.status, 0, `stderr: ${r.stderr}\nstdout tail: ${r.stdout.slice(-800)}`);
    assert.match(r.stdout, /\n2\r?\n2\r?\nPARAVM-EXIT-STATUS=0/);
  });
  for (const profile of ["pv", "full"] as const) {
    test(`${profile}: plain run forwards piped stdin to the guest console and exits 0 on poweroff`, { skip, timeout: 400_000 }, async () => {
      const child = spawn(process.execPath, [bin, "run", "--profile", profile, "--stats"], { stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString("latin1")));
      child.stderr.on("data", (d: Buffer) => (err += d.toString("latin1")));
      // Longer than the 16550's 16-byte FIFO: the host must feed it as the guest drains it.
      const marker = `hello-from-host-${"0123456789".repeat(12)}`;
      child.stdin.write(`echo ${marker}; poweroff -f\n`);
      const timer = setTimeout(() => child.kill("SIGKILL"), 390_000);
      const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
      clearTimeout(timer);
      assert.equal(code, 0, `stderr: ${err}\nstdout tail: ${out.slice(-800)}`);
      assert.match(out, new RegExp(`\\n${marker}\\r?\\n`));
      const stats = JSON.parse(err.trim().split("\n").pop()!) as { bootMs: number; stop: string; harts: unknown[]; profile: string };
      assert.equal(stats.profile, profile);
      assert.equal(stats.stop, "shutdown");
      assert.ok(stats.bootMs > 0);
      assert.equal(stats.harts.length, 1);
    });
  }
});
