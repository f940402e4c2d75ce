/**
 * /usr/bin/paravm-atomics (guests/atomics/atomics.c) on the oracle, QEMU `-M virt -smp 2`
 * (multi-threaded TCG: one host thread per hart): two threads on two harts keep every
 * update with amoadd.w/.d, lr/sc.w/.d and a ticket lock; with plain ld/addi/sd they lose
 * some — the negative control, which shows that the harts really ran at the same time
 * and that the program can see a lost update. Skipped without built guest images.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { defaultGuestDir } from "../control/cli.js";
import { FULL_DEFAULTS } from "./full.js";

const dir = defaultGuestDir();
const hasQemu = spawnSync("qemu-system-riscv64", ["--version"]).status === 0;
const skip =
  dir === null
    ? "no guest images in ~/.cache/paravm"
    : !existsSync(join(dir, "paravm-atomics"))
      ? "guest images without paravm-atomics (rebuild: node scripts/build-guests.mjs)"
      : !hasQemu
        ? "no qemu-system-riscv64"
        : !existsSync(FULL_DEFAULTS.FIRMWARE)
          ? `no ${FULL_DEFAULTS.FIRMWARE}`
          : false;

const THREADS = 2;
/** Iterations per thread for the modes that must be exact. */
const ITERS = 200_000;
/** Plain: enough overlap that two harts collide; tried up to PLAIN_TRIES times until one run loses. */
const PLAIN_ITERS = 10_000_000;
const PLAIN_TRIES = 5;

interface Counter {
  total: number;
  expected: number;
  verdict: string;
}

/** `paravm-atomics <counter> total=N expected=N ok|LOST` lines; a later line of the same counter wins. */
function counters(out: string): Map<string, Counter> {
  const found = new Map<string, Counter>();
  for (const m of out.replace(/\r/g, "").matchAll(/^paravm-atomics (\S+) total=(\d+) expected=(\d+) (ok|LOST)$/gm)) {
    found.set(m[1]!, { total: Number(m[2]), expected: Number(m[3]), verdict: m[4]! });
  }
  return found;
}

/** `RC <name> <status> …` lines the script prints after each run. */
function statuses(out: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const m of out.replace(/\r/g, "").matchAll(/^RC (\S+) (.*)$/gm)) found.set(m[1]!, m[2]!.split(" "));
  return found;
}

describe("paravm-atomics on QEMU -smp 2 (the oracle)", () => {
  const work = mkdtempSync(join(tmpdir(), "paravm-atomics-"));
  after(() => rmSync(work, { recursive: true, force: true }));

  test("amo, lrsc and ticket keep every update; plain loses some; bad usage exits 2", { skip, timeout: 250_000 }, () => {
    const script = [
      "dmesg -n 1",
      'echo "CPUS $(nproc)"',
      `for m in amo lrsc ticket; do paravm-atomics $m ${THREADS} ${ITERS}; echo "RC $m $?"; done`,
      'paravm-atomics nonsense 2>/dev/null; echo "RC usage $?"',
      `paravm-atomics amo 0 2>/dev/null; echo "RC zero-threads $?"`,
      `t=0; while [ $t -lt ${PLAIN_TRIES} ]; do t=$((t+1)); paravm-atomics plain ${THREADS} ${PLAIN_ITERS}; rc=$?; [ $rc -eq 1 ] && break; done`,
      'echo "RC plain $rc $t"',
    ].join("\n");
    // The console goes to a file: QEMU drops output when a pipe is momentarily full.
    const outPath = join(work, "console");
    // Debian's OpenSBI 1.1 loses the second CPU in ~2.5% of QEMU MTTCG boots (its
    // secondary-start race, docs/full-machine.md): such a boot is retried, never a failure.
    let out = "";
    let r: ReturnType<typeof spawnSync> | null = null;
    for (let boot = 0; boot < 3; boot++) {
      const fd = openSync(outPath, "w");
      r = spawnSync(
        "qemu-system-riscv64",
        [
          ...["-M", "virt", "-m", "256M", "-smp", String(THREADS), "-nographic", "-no-reboot"],
          ...["-bios", FULL_DEFAULTS.FIRMWARE, "-kernel", join(dir!, "Image"), "-initrd", join(dir!, "initramfs.cpio.gz")],
          ...["-append", `console=ttyS0 quiet paravm.exec=${Buffer.from(script).toString("base64")}`],
        ],
        { stdio: ["ignore", fd, fd], timeout: 80_000 },
      );
      closeSync(fd);
      out = readFileSync(outPath, "utf8");
      if (!/^CPUS 1\r?$/m.test(out)) break;
    }
    assert.match(out, /^CPUS 2\r?$/m, `QEMU never brought both CPUs online in 3 boots\n${out.slice(-800)}`);
    assert.equal(r!.error, undefined, `QEMU: ${String(r!.error)}\n${out.slice(-1500)}`);
    assert.match(out, /PARAVM-EXIT-STATUS=0\r?$/m, out.slice(-1500));

    const rc = statuses(out);
    const c = counters(out);
    const exact = THREADS * ITERS;
    for (const mode of ["amo", "lrsc", "ticket"]) assert.deepEqual(rc.get(mode), ["0"], `${mode} exit status\n${out.slice(-1500)}`);
    for (const name of ["amo.w", "amo.d", "lrsc.w", "lrsc.d", "ticket", "ticket.next"]) {
      assert.deepEqual(c.get(name), { total: exact, expected: exact, verdict: "ok" }, name);
    }
    assert.deepEqual(rc.get("usage"), ["2"]);
    assert.deepEqual(rc.get("zero-threads"), ["2"]);

    // The negative control: the last plain run lost updates and said so.
    const [plainStatus, tries] = rc.get("plain") ?? [];
    const plain = c.get("plain");
    assert.equal(plainStatus, "1", `plain never lost an update in ${tries} runs:\n${out.slice(-1500)}`);
    assert.ok(plain, "a plain counter line");
    assert.equal(plain.expected, THREADS * PLAIN_ITERS);
    assert.equal(plain.verdict, "LOST");
    assert.ok(plain.total > 0 && plain.total < plain.expected, `plain total ${plain.total}`);
  });
});
