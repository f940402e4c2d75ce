// bench:compare's pv and full columns, without booting: the command lines (the profile's
// console kept in --append, --mem on every instance), the disk and ping scripts against
// the parsers of what they print, the exit reasons under their --stats names (a window's
// total giving way to its registers), run-minus-baseline per operation, the TCP reading
// and the density count.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  bootCost,
  DATA_DEVICES,
  ddRunValue,
  densityCount,
  diskScript,
  leafExits,
  medianRecord,
  multiArgs,
  opCost,
  parseDiskRuns,
  parsePingRuns,
  pingScripts,
  runArgs,
  timerCost,
} from "./compare-paravm-lib.js";
import { tcpValue } from "./compare-paravm.js";
import type { Ended } from "./compare-paravm-proc.js";
import type { GuestImages } from "./iobench.js";
import type { Sample } from "./pvfull.js";

const MiB = 1 << 20;
const g: GuestImages = {
  dir: "/g",
  how: "test",
  kernel: { path: "/g/Image", bytes: 1, sha256: "k" },
  initrd: { path: "/g/initramfs.cpio.gz", bytes: 1, sha256: "i" },
};

const sample = (exits: Record<string, number>, instructions = 0, M = 0): Sample => ({
  bootMs: null,
  wallMs: 1,
  instructions,
  priv: { M, S: 0, U: 0 },
  exits,
  interrupts: {},
  raw: null,
});

/** The value after `flag` in an argument list. */
const after = (args: readonly string[], flag: string): string | undefined => args[args.indexOf(flag) + 1];

test("runArgs: profile, --mem in MiB, images, and --append after the profile's own console", () => {
  const pv = runArgs("pv", g, 128, { append: "paravm.hostname=x", exec: "true", stats: true });
  assert.equal(after(pv, "--profile"), "pv");
  assert.equal(after(pv, "--mem"), "128M");
  assert.equal(after(pv, "--kernel"), "/g/Image");
  assert.equal(after(pv, "--append"), "console=hvc0 earlycon=sbi paravm.hostname=x");
  assert.equal(after(pv, "--exec"), "true");
  assert.ok(pv.includes("--stats"));
  const full = runArgs("full", g, 64, { disk: "/d.img", append: "paravm.nodisk" });
  assert.equal(after(full, "--append"), "console=ttyS0 earlycon paravm.nodisk");
  assert.equal(after(full, "--disk"), "/d.img");
  assert.ok(!full.includes("--exec") && !full.includes("--stats"), "an interactive boot has neither --exec nor --stats");
  assert.ok(!runArgs("pv", g, 128).includes("--append"), "no --append: the profile's default command line");
});

test("multiArgs: two VMs of the profile on one network, mem set, exec last (commas survive)", () => {
  const args = multiArgs("full", g, 128, "echo a,b", "echo c");
  const vms = args.filter((_, i) => args[i - 1] === "--vm");
  assert.equal(vms.length, 2);
  assert.match(vms[0]!, /^name=a,profile=full,net=(\w+),mem=128M,exec=echo a,b$/);
  assert.match(vms[1]!, /^name=b,profile=full,net=\w+,mem=128M,exec=echo c$/);
  assert.equal(/net=(\w+)/.exec(vms[0]!)![1], /net=(\w+)/.exec(vms[1]!)![1], "one switch");
  assert.ok(args.includes("--stats"));
});

/** Runs a guest script with the host's sh, `dd` replaced by a function printing busybox's summary. */
function runScript(script: string, ddStatus: number, bytes: number): string {
  const fake =
    `dd(){ echo "${bytes / MiB}+0 records in" >&2; echo "${bytes} bytes (${bytes / MiB}.0MB) copied, 0.5 seconds, 2.0MB/s" >&2; return ${ddStatus}; }\n` +
    "sync(){ :; }\n";
  const log = join(tmpdir(), `cmp-paravm-test-${process.pid}.log`);
  try {
    const r = spawnSync("sh", ["-c", fake + script.replace(/echo 3 >\/proc\/sys\/vm\/drop_caches/g, ":").replace(/\/tmp\/dd\.log/g, "$T")], {
      encoding: "utf8",
      env: { ...process.env, T: log },
    });
    return `${r.stdout}EXIT=${r.status}`;
  } finally {
    rmSync(log, { force: true });
  }
}

test("diskScript + parseDiskRuns: every run's rate, the device and flags, the failure status", () => {
  const w = diskScript("write", "/dev/vda", 16, 3);
  assert.match(w, /dd if=\/dev\/zero of=\/dev\/vda bs=1M count=16 oflag=direct/);
  assert.match(diskScript("read", "/dev/sda", 16, 3), /drop_caches[\s\S]*dd if=\/dev\/sda of=\/dev\/null bs=1M count=16 iflag=direct/);
  const out = runScript(w, 0, 16 * MiB);
  assert.match(out, /EXIT=0$/);
  const runs = parseDiskRuns(out);
  assert.deepEqual(runs.map((r) => r.run), [1, 2, 3]);
  for (const r of runs) assert.equal(ddRunValue(r, 16), 32, "16 MiB in 0.5 s");
  assert.match(String(ddRunValue(runs[0]!, 8)), /copied 16777216 bytes, not 8388608/);
  const failed = runScript(w, 1, 16 * MiB);
  assert.match(failed, /EXIT=1$/, "a failed dd fails the script");
  assert.match(String(ddRunValue(parseDiskRuns(failed)[0]!, 16)), /exited 1/);
});

test("parsePingRuns: each run's average in µs, a failed run says so", () => {
  const s = pingScripts(20, 2);
  assert.match(s.b, /ping -c 20 10\.0\.2\.2/);
  assert.match(s.a, /nc -l -p \d+/);
  const out = [
    "CMPPING 1 0 PING 10.0.2.2 (10.0.2.2): 56 data bytes",
    "CMPPING 1 0 round-trip min/avg/max = 0.512/0.734/1.201 ms\r",
    "CMPPING 2 1 20 packets transmitted, 0 packets received, 100% packet loss",
  ].join("\n");
  const v = parsePingRuns(out);
  assert.equal(v.length, 2);
  assert.ok(Math.abs((v[0] as number) - 734) < 1e-9);
  assert.match(String(v[1]), /ping run 2 exited 1/);
});

test("leafExits: registers replace their window's total; virtio windows and hypercalls stay; firmware traps go", () => {
  const leaves = leafExits({
    "mmio.ata0.write": 1050,
    "mmio.ata0.data.write": 1024,
    "mmio.ata0.command.write": 26,
    "mmio.ata0.read": 7,
    "mmio.ata0.status.read": 7,
    "mmio.virtio-blk0.write": 30,
    "mmio.plic.read": 5,
    "sbi.time.set_timer": 3,
    wfi: 2,
    "firmware.ecall-s": 9,
  });
  assert.deepEqual(Object.keys(leaves).sort(), [
    "mmio.ata0.command.write",
    "mmio.ata0.data.write",
    "mmio.ata0.status.read",
    "mmio.plic.read",
    "mmio.virtio-blk0.write",
    "sbi.time.set_timer",
    "wfi",
  ]);
});

test("opCost: per unit, run minus baseline, the top reasons by --stats name", () => {
  const base = sample({ "mmio.ata0.write": 100, "mmio.ata0.data.write": 100, "firmware.ecall-s": 10, "sbi.x": 0 }, 1000);
  const run = sample({ "mmio.ata0.write": 4196, "mmio.ata0.data.write": 4196, "mmio.plic.read": 8, "firmware.ecall-s": 14 }, 9000);
  const c = opCost("full", run, base, 4);
  assert.equal(c["exits"], (4204 - 100) / 4);
  assert.equal(c["exits.mmio.ata0.data.write"], 1024);
  assert.equal(c["exits.mmio.plic.read"], 2);
  assert.equal(c["instructions"], 2000);
  assert.equal(c["firmware traps"], 1);
  assert.equal(opCost("pv", run, base, 4)["firmware traps"], undefined, "pv has no firmware");
});

test("timerCost and bootCost: the timer's own events per sleep; a boot's counters as they are", () => {
  const t = timerCost("pv", sample({ "sbi.time.set_timer": 250 }), sample({ "sbi.time.set_timer": 50 }), 100);
  assert.deepEqual(t, { exits: 2, "sbi.time.set_timer": 2 });
  const f = timerCost("full", sample({ "firmware.mtimer": 300, "mmio.clint.write": 200 }), sample({ "firmware.mtimer": 100 }), 100);
  assert.equal(f["firmware.mtimer"], 2);
  assert.equal(f["mmio.clint.write"], 2);
  assert.equal(f["exits"], 2, "CLINT writes are MMIO exits; M-mode timer interrupts are not");
  assert.deepEqual(bootCost("full", sample({ "sbi.a": 1, "firmware.ecall-s": 4 }, 50, 7)), { exits: 1, instructions: 50, "firmware traps": 4, "m-mode instructions": 7 });
});

test("medianRecord: per key, over the records that have it", () => {
  assert.deepEqual(medianRecord([{ a: 1, b: 5 }, { a: 3 }, { a: 2, b: 7 }]), { a: 2, b: 6 });
});

test("tcpValue: the receiver's dd rate; the swallowed first byte; a failed run", () => {
  const ended = (stdout: string, code = 0): Ended => ({ code, signal: null, timedOut: false, wallMs: 1, stdout, stderr: "" });
  const ok = `a| IOBENCH-DD ${2 * MiB - 1} bytes (2.0MB) copied, 0.5 seconds, 4.0MB/s\n`;
  assert.ok(Math.abs((tcpValue(ended(ok), 2) as number) - (2 * MiB - 1) / MiB / 0.5) < 1e-9);
  assert.match(String(tcpValue(ended(ok), 4)), /not 4194303/);
  assert.match(String(tcpValue(ended(ok, 3), 2)), /exited 3/);
});

test("densityCount: instances before the one that passes the budget; none passing is not a pass", () => {
  assert.deepEqual(densityCount([150, 300, 450], 400), { count: 2, passed: true });
  assert.deepEqual(densityCount([150, 300], 1024), { count: 2, passed: false });
  assert.deepEqual(densityCount([1500], 1024), { count: 0, passed: true });
});

test("opCost with DATA_DEVICES: a device's few exits per MiB are named even under bigger noise", () => {
  const base = sample({ "sbi.time.set_timer": 500, "mmio.virtio-blk0.write": 10 });
  const run = sample({ "sbi.time.set_timer": 900, "sbi.legacy.console_putchar": 300, "mmio.plic.read": 100, "wfi": 50, "mmio.virtio-blk0.write": 42, "mmio.virtio-blk0.read": 26 });
  const c = opCost("pv", run, base, 16, DATA_DEVICES);
  assert.equal(c["exits.sbi.time.set_timer"], 25);
  assert.equal(c["exits.mmio.virtio-blk0.write"], 2);
  assert.equal(c["exits.mmio.virtio-blk0.read"], 1.625);
  assert.equal(c["exits.wfi"], undefined, "fourth of the noise: not named");
  assert.equal(opCost("pv", run, base, 16)["exits.mmio.virtio-blk0.write"], undefined, "without it, only the top reasons");
  assert.ok(DATA_DEVICES.test("mmio.ata0.data.write") && DATA_DEVICES.test("mmio.pci.e1000.TDT.write") && !DATA_DEVICES.test("mmio.plic.read"));
});
