/**
 * Steal time on real Linux (skipped without built guest images): the guest kernel's SBI
 * STA driver (guests/patches/0001-riscv-sbi-sta-steal-time.patch) registers one record per
 * hart; what the host reports there with `sbi.sta.report()` shows up as the steal column
 * of the guest's /proc/stat. On the full machine (OpenSBI, which has no STA) the driver
 * finds no STA and the column stays 0.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { defaultGuestDir } from "../control/cli.js";
import { FULL_DEFAULTS } from "./full.js";
import { PvMachine } from "./pv.js";

const dir = defaultGuestDir();
const bin = fileURLToPath(new URL("../../../bin/paravm.js", import.meta.url));
/** The built kernel has the driver: its config says so (older images do not). */
const hasSta = dir !== null && /^CONFIG_PARAVIRT=y$/m.test(readFileSync(join(dir, "kernel.config"), "utf8"));
const skip = dir === null ? "no guest images in ~/.cache/paravm" : !hasSta ? "guest kernel built without CONFIG_PARAVIRT (rebuild: node scripts/build-guests.mjs)" : false;

const exec = (script: string) => `paravm.exec=${Buffer.from(script).toString("base64")}`;
/** USER_HZ: /proc/stat counts in 1/100 s. */
const NS_PER_TICK = 10_000_000;

/** The guest prints `STA <tag> cpu=<steal> cpu0=<steal> …` lines: /proc/stat's 8th value per cpu line. */
const SHOW_STEAL = `st() { echo "STA $1 $(awk '/^cpu/ { printf "%s=%s ", $1, $9 }' /proc/stat)"; }`;

function stealLine(out: string, tag: string): Record<string, number> {
  const m = new RegExp(`^STA ${tag} (.*)$`, "m").exec(out.replace(/\r/g, ""));
  assert.ok(m, `no "STA ${tag}" line in:\n${out.slice(-1500)}`);
  return Object.fromEntries(
    m[1]!
      .trim()
      .split(/\s+/)
      .map((kv) => kv.split("="))
      .map(([k, v]) => [k!, Number(v)]),
  );
}

describe("steal time through SBI STA (real Linux)", () => {
  test("the pv guest registers a record per hart and its /proc/stat shows the steal the host reports", { skip, timeout: 300_000 }, async () => {
    // Host steal per hart, reported in STEPS increasing steps while the guest waits.
    const target = [2_000_000_000, 1_000_000_000];
    const STEPS = 40;
    const script = [
      "dmesg -n 1",
      SHOW_STEAL,
      'echo "STA-DMESG $(dmesg | grep -c "sbi-sta: steal time from the SBI STA extension")"',
      "st before",
      "echo STA-READY",
      "read go", // the host answers once it has reported everything
      // Run something on each CPU: leaving idle (or a tick) is when the kernel accounts steal.
      "taskset -c 0 sleep 0.1; taskset -c 1 sleep 0.1",
      "st after",
    ].join("\n");
    let out = "";
    const decoder = new TextDecoder();
    let reporting: ReturnType<typeof setInterval> | null = null;
    const reports: boolean[] = [];
    let reportError: unknown = null;
    const m: PvMachine = new PvMachine({
      kernel: readFileSync(join(dir!, "Image")),
      initrd: readFileSync(join(dir!, "initramfs.cpio.gz")),
      cpus: 2,
      bootargs: `console=hvc0 quiet ${exec(script)}`,
      output: (bytes) => {
        out += decoder.decode(bytes, { stream: true });
        if (reporting === null && out.includes("STA-READY")) {
          let step = 0;
          reporting = setInterval(() => {
            step++;
            try {
              for (let h = 0; h < 2; h++) reports.push(m.sbi.sta.report(h, (target[h]! * step) / STEPS, false));
            } catch (e) {
              reportError = e; // answer the guest all the same, so that it finishes
              step = STEPS;
            }
            if (step === STEPS) {
              clearInterval(reporting!);
              m.input(new TextEncoder().encode("go\n"));
            }
          }, 10);
        }
      },
    });
    // A guest left waiting must not keep the test process alive: stop the machine in time.
    const deadline = setTimeout(() => m.stop(), 240_000);
    const r = await m.runAsync().finally(() => {
      clearTimeout(deadline);
      if (reporting !== null) clearInterval(reporting);
    });
    assert.equal(reportError, null, "sbi.sta.report threw");
    assert.equal(r.stop, "shutdown", out.slice(-1500));
    assert.match(out, /PARAVM-EXIT-STATUS=0\r?$/m, out.slice(-1500));

    // Each hart registered its own 64-byte-aligned record (spec 16.1), and every report reached one.
    const pa = [m.sbi.sta.shmemOf(0), m.sbi.sta.shmemOf(1)];
    for (const a of pa) {
      assert.ok(a >= m.layout.kernelAddr, `record at 0x${a.toString(16)} is in guest RAM`);
      assert.equal(a % 64, 0, `record at 0x${a.toString(16)} is 64-byte aligned`);
    }
    assert.notEqual(pa[0], pa[1]);
    assert.equal(reports.length, 2 * STEPS);
    assert.ok(reports.every((ok) => ok), "every report found a registered record");
    assert.match(out, /^STA-DMESG 1\r?$/m, "the driver says it uses STA");

    const before = stealLine(out, "before");
    const after = stealLine(out, "after");
    assert.deepEqual([before.cpu, before.cpu0, before.cpu1], [0, 0, 0], "no steal before the host reports any");
    // All of it shows up (at most what was reported: the clock is the host's figure).
    const ticks = target.map((ns) => ns / NS_PER_TICK);
    assert.ok(after.cpu0! >= 0.75 * ticks[0]! && after.cpu0! <= ticks[0]!, `cpu0 steal ${after.cpu0} of ${ticks[0]} ticks`);
    assert.ok(after.cpu1! >= 0.75 * ticks[1]! && after.cpu1! <= ticks[1]!, `cpu1 steal ${after.cpu1} of ${ticks[1]} ticks`);
    assert.ok(Math.abs(after.cpu! - after.cpu0! - after.cpu1!) <= 1, `the cpu line sums the CPUs: ${JSON.stringify(after)}`);
  });

  test(
    "the full machine (OpenSBI, no STA) boots with no steal and no driver errors",
    { skip: skip || (!existsSync(FULL_DEFAULTS.FIRMWARE) ? `no ${FULL_DEFAULTS.FIRMWARE}` : false), timeout: 300_000 },
    () => {
      const script = ["dmesg -n 1", SHOW_STEAL, "st full", 'echo "STA-DMESG $(dmesg | grep sbi-sta)"'].join("\n");
      const r = spawnSync(process.execPath, [bin, "run", "--profile", "full", "--cpus", "2", "--append", "console=ttyS0 quiet", "--exec", script], {
        encoding: "utf8",
        timeout: 280_000,
      });
      assert.equal(r.status, 0, `stderr: ${r.stderr}\nstdout tail: ${r.stdout.slice(-1500)}`);
      const steal = stealLine(r.stdout, "full");
      assert.deepEqual([steal.cpu, steal.cpu0, steal.cpu1], [0, 0, 0]);
      // The driver's only message: the probe failed, so nothing was registered.
      assert.match(r.stdout, /^STA-DMESG sbi-sta: no STA extension: no steal time\r?$/m, r.stdout.slice(-1500));
    },
  );
});
