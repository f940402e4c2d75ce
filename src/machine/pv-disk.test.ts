/**
 * virtio-blk on real Linux (skipped without built guest images): the guest's /init mounts
 * /dev/vda (a copy of the built disk.ext2) at /mnt; a file written and synced in one boot
 * is read back in the next, and a read-only disk cannot be written.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
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
