/**
 * `paravm run --snapshot-to FILE` (SIGUSR1) and `paravm run --restore FILE`, as two
 * processes: the guest's counter goes on in the second process where the first left it,
 * with no reboot. Options that describe a machine are refused beside --restore, and a
 * file that is not a snapshot is a usage error naming the file.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { PARAVM_BIN } from "../machine/cli-run-testkit.js";
import { defaultGuestDir, EXIT } from "./args.js";

const skip = defaultGuestDir() === null ? "no guest images in ~/.cache/paravm" : false;
const work = mkdtempSync(join(tmpdir(), "paravm-runrestore-"));
after(() => rmSync(work, { recursive: true, force: true }));
const WAIT_MS = 240_000;

/** A `paravm run` child whose stdout and stderr are collected as they come. */
class Child {
  out = "";
  err = "";
  readonly p: ChildProcess;
  constructor(args: readonly string[]) {
    this.p = spawn(process.execPath, [PARAVM_BIN, "run", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    this.p.stdout!.on("data", (b: Buffer) => (this.out += b.toString("latin1")));
    this.p.stderr!.on("data", (b: Buffer) => (this.err += b.toString("utf8")));
  }
  counts(): number[] {
    return [...this.out.matchAll(/^n=(\d+)\r?$/gm)].map((m) => Number(m[1]));
  }
  async until(what: string, ok: () => boolean): Promise<void> {
    const t0 = Date.now();
    while (!ok()) {
      if (this.p.exitCode !== null) throw new Error(`exited ${this.p.exitCode} before ${what}: ${this.err.slice(-400)}`);
      if (Date.now() - t0 > WAIT_MS) throw new Error(`no ${what} in ${WAIT_MS / 1000} s; stdout ends ${this.out.slice(-300)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  kill(): void {
    if (this.p.exitCode === null) this.p.kill("SIGKILL");
  }
}

describe("paravm run --snapshot-to / --restore across processes", { skip }, () => {
  const file = join(work, "run.snap");

  test("SIGUSR1 writes the snapshot; another process restores it and the count goes on", async () => {
    const a = new Child(["--mem", "64M", "--exec", "i=0; while :; do i=$((i+1)); echo n=$i; usleep 200000; done", "--snapshot-to", file]);
    const b: Child[] = [];
    try {
      await a.until("the third count", () => a.counts().length >= 3);
      a.p.kill("SIGUSR1");
      await a.until("the snapshot line", () => /paravm: snapshot written to /.test(a.err));
      assert.match(a.err, /snapshot written to .*run\.snap: [\d.]+ MiB, \d+ of 16384 RAM pages, guest paused \d+ ms/);
      const atSave = a.counts().length;
      await a.until("a count after the snapshot", () => a.counts().length > atSave + 1);
      a.kill();
      b.push(new Child(["--restore", file]));
      const r = b[0]!;
      await r.until("three counts", () => r.counts().length >= 3);
      const got = r.counts();
      assert.doesNotMatch(r.out, /Linux version/, "no boot");
      assert.ok(got[0]! > 1 && got[0]! <= atSave + 2, `the count goes on: ${atSave} lines at the snapshot, ${got[0]} first after restore`);
      for (let i = 1; i < got.length; i++) assert.equal(got[i], got[i - 1]! + 1);
    } finally {
      a.kill();
      for (const c of b) c.kill();
    }
  });

  test("--restore with a machine option, or with a file that is not a snapshot: exit 2 with the reason", () => {
    const both = spawnSync(process.execPath, [PARAVM_BIN, "run", "--restore", file, "--mem", "64M", "--cpus", "1"], { encoding: "utf8" });
    assert.equal(both.status, EXIT.USAGE, both.stderr);
    assert.match(both.stderr, /--restore takes the VM from the file: --mem, --cpus cannot be given with it/);
    const junk = join(work, "junk.snap");
    writeFileSync(junk, "not a snapshot at all");
    const bad = spawnSync(process.execPath, [PARAVM_BIN, "run", "--restore", junk], { encoding: "utf8" });
    assert.equal(bad.status, EXIT.USAGE, bad.stderr);
    assert.match(bad.stderr, /snapshot .*junk\.snap: not a paravm snapshot/);
  });
});
