/**
 * virtio-blk on real Linux (skipped without built guest images): the guest's /init mounts
 * /dev/vda (a copy of the built disk.ext2) at /mnt; a file written and synced in one boot
 * is read back in the next, and a read-only disk cannot be written.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, test } from "node:test";
import { defaultGuestDir } from "../control/cli.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const bin = join(root, "bin", "paravm.js");
const guestDir = defaultGuestDir();
const skip = guestDir === null ? "no guest images in ~/.cache/paravm" : false;

function boot(disk: string, cmd: string) {
  const r = spawnSync(process.execPath, [bin, "run", "--disk", disk, "--append", "console=hvc0 quiet", "--stats", "--exec", cmd], {
    encoding: "utf8",
    timeout: 300_000,
  });
  const stats = JSON.parse(r.stderr.trim().split("\n").pop() ?? "{}") as { disk?: { requests: Record<string, number>; ioErrors: number } };
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, stats };
}

describe("pv machine with a virtio-blk disk", () => {
  const dir = mkdtempSync(join(tmpdir(), "paravm-disk-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("data written and synced survives a reboot", { skip, timeout: 620_000 }, () => {
    const disk = join(dir, "disk.img");
    copyFileSync(join(guestDir!, "disk.ext2"), disk);
    const a = boot(disk, "cat /mnt/hello.txt; echo persisted > /mnt/new.txt; sync");
    assert.equal(a.status, 0, `stderr: ${a.stderr}\nstdout tail: ${a.stdout.slice(-800)}`);
    assert.match(a.stdout, /hello from the paravm disk image/);
    assert.ok((a.stats.disk?.requests["out"] ?? 0) > 0, "the guest wrote to the disk");
    assert.equal(a.stats.disk?.ioErrors, 0);
    const b = boot(disk, "cat /mnt/new.txt; cat /sys/block/vda/serial; echo");
    assert.equal(b.status, 0, `stderr: ${b.stderr}\nstdout tail: ${b.stdout.slice(-800)}`);
    assert.match(b.stdout, /(^|\n)persisted\r?\nparavm-0\r?\nPARAVM-EXIT-STATUS=0/);
  });

  test("a guest killed (SIGKILL) after sync loses nothing it flushed", { skip, timeout: 620_000 }, async () => {
    const disk = join(dir, "killed.img");
    copyFileSync(join(guestDir!, "disk.ext2"), disk);
    // The guest writes and syncs, says so, then keeps writing until the host kills paravm.
    const cmd = "echo flushed-before-kill > /mnt/k.txt; sync; echo SYNCED; while true; do echo more >> /mnt/junk; done";
    const child = spawn(process.execPath, [bin, "run", "--disk", disk, "--append", "console=hvc0 quiet", "--exec", cmd], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const synced = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 300_000);
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("SYNCED")) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      child.on("exit", () => resolve(out.includes("SYNCED")));
    });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    assert.ok(synced, `the guest never reported its sync:\n${out.slice(-800)}`);
    const b = boot(disk, "cat /mnt/k.txt");
    assert.equal(b.status, 0, `stderr: ${b.stderr}\nstdout tail: ${b.stdout.slice(-800)}`);
    assert.match(b.stdout, /(^|\n)flushed-before-kill\r?\n/);
  });

  test("without --disk the default guest mounts the built ext2 disk, read-only", { skip, timeout: 320_000 }, () => {
    const r = spawnSync(process.execPath, [bin, "run", "--append", "console=hvc0 quiet", "--exec", "cat /mnt/hello.txt; grep -c '^/dev/vda /mnt ext2 ro' /proc/mounts"], {
      encoding: "utf8",
      timeout: 300_000,
    });
    assert.equal(r.status, 0, `stderr: ${r.stderr}\nstdout tail: ${r.stdout.slice(-800)}`);
    assert.match(r.stdout, /hello from the paravm disk image\r?\n1\r?\n/);
  });

  test("a read-only disk is mounted, read, and refuses writes", { skip, timeout: 320_000 }, () => {
    const disk = join(dir, "ro.img");
    copyFileSync(join(guestDir!, "disk.ext2"), disk);
    const r = boot(`${disk},readonly`, "cat /sys/block/vda/ro; cat /mnt/hello.txt; echo x > /mnt/x.txt || echo refused");
    assert.equal(r.status, 0, `stderr: ${r.stderr}\nstdout tail: ${r.stdout.slice(-800)}`);
    assert.match(r.stdout, /(^|\n)1\r?\n/);
    assert.match(r.stdout, /hello from the paravm disk image/);
    assert.match(r.stdout, /refused/);
  });
});
