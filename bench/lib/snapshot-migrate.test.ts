import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  CHURN,
  churnFunction,
  churnPlan,
  consoleGap,
  countArrivals,
  counting,
  guestScript,
  dirtyRateMiBps,
  lapRateMiBps,
  migrationRow,
  parseInfoMigrate,
  ratioLine,
  switchCommand,
  workloadReady,
  type MigrationCell,
  type MigrationSample,
} from "./snapshot-migrate.js";
import { OPENSBI_DYNAMIC } from "./boot-run.js";
import { QEMU_MIGRATE, qemuMigrateArgs } from "./snapshot-migrate-qemu.js";

/** What QEMU 7.2's monitor sent for `info migrate` (its line editor's echo included), trimmed. */
const ECHO = "QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu) i\u001b[K\u001b[Din\u001b[K\u001b[D\u001b[Dinfo migrate\u001b[K\r\n";
const COMPLETED =
  ECHO +
  "globals:\r\nstore-global-state: on\r\nclear-bitmap-shift: 18\r\nMigration status: completed\r\ntotal time: 730 ms\r\ndowntime: 4 ms\r\nsetup: 1 ms\r\n" +
  "transferred ram: 16011 kbytes\r\nthroughput: 180.09 mbps\r\nremaining ram: 0 kbytes\r\ntotal ram: 327740 kbytes\r\nduplicate: 82513 pages\r\n" +
  "dirty sync count: 4\r\npage size: 4 kbytes\r\npages-per-second: 5120\r\nprecopy ram: 15842 kbytes\r\ndowntime ram: 168 kbytes\r\n(qemu) ";
const ACTIVE =
  ECHO +
  "Migration status: active\r\ntotal time: 1517 ms\r\nexpected downtime: 30 ms\r\nsetup: 1 ms\r\ntransferred ram: 12294 kbytes\r\n" +
  "remaining ram: 68444 kbytes\r\ntotal ram: 327740 kbytes\r\ndirty sync count: 1\r\ndirty pages rate: 2560 pages\r\n(qemu) ";

test("info migrate: the completed and the active forms, fields QEMU did not print are null", () => {
  assert.deepEqual(parseInfoMigrate(COMPLETED), {
    status: "completed", totalMs: 730, downtimeMs: 4, expectedDowntimeMs: null, setupMs: 1, transferredKiB: 16011, throughputMbps: 180.09, totalRamKiB: 327740, dirtySyncCount: 4, dirtyPagesRate: null,
  });
  const a = parseInfoMigrate(ACTIVE);
  assert.equal(a.status, "active");
  assert.equal(a.downtimeMs, null, "no downtime before the end");
  assert.equal(a.expectedDowntimeMs, 30);
  assert.equal(a.dirtyPagesRate, 2560);
  assert.equal(parseInfoMigrate(ECHO + "(qemu) ").status, null, "a migration never started");
});

test("console counts: lines split across chunks are stamped when they end; other text is not a count", () => {
  const got = countArrivals([
    { atMs: 10, text: "boot\r\nn=1\r\nn=" },
    { atMs: 20, text: "2\r\nxn=9\r\n" },
    { atMs: 30, text: "lap=5.000000\r\nn=3\r" },
    { atMs: 40, text: "\nn=4" },
  ]);
  assert.deepEqual(got, [
    { n: 1, atMs: 10 },
    { n: 2, atMs: 20 },
    { n: 3, atMs: 40 },
  ]);
  assert.deepEqual(countArrivals([{ atMs: 1, text: "n=7\nn=8\n" }]), [{ n: 7, atMs: 1 }, { n: 8, atMs: 1 }], "a stream starts at a line's beginning");
});

const stamps = (pairs: [number, number][]): { atMs: number; text: string }[] => pairs.map(([n, atMs]) => ({ atMs, text: `n=${n}\r\n` }));

test("the console gap: across the move, the largest interval, the pace on each side, lost or repeated counts", () => {
  const g = consoleGap(stamps([[1, 0], [2, 200], [3, 400]]), stamps([[4, 1400], [5, 1900], [6, 2200]]));
  assert.deepEqual(g, { atSource: 3, atDest: 3, crossMs: 1000, gapMs: 1000, gapAfter: 3, paceBeforeMs: 200, paceAfterMs: 400, missing: 0, repeated: 0, problem: null });
  // A relay that held lines back makes the largest gap one at the source, not the move.
  const held = consoleGap(stamps([[1, 0], [2, 900], [3, 901]]), stamps([[4, 1100]]));
  assert.equal(held.crossMs, 199);
  assert.equal(held.gapMs, 900);
  assert.equal(held.gapAfter, 1);
  const lost = consoleGap(stamps([[1, 0], [2, 200]]), stamps([[2, 500], [5, 700]]));
  assert.equal(lost.repeated, 1);
  assert.equal(lost.missing, 2);
  const none = consoleGap(stamps([[1, 0], [2, 200]]), []);
  assert.equal(none.crossMs, null);
  assert.equal(none.gapMs, null);
  assert.equal(none.problem, "no count at the destination after the move");
  assert.equal(none.paceBeforeMs, 200);
});

test("dirty rate from paravm's rounds: later rounds' pages over the earlier rounds' time", () => {
  const r = dirtyRateMiBps([
    { round: 0, pages: 3000, ms: 500 },
    { round: 1, pages: 256, ms: 100 },
    { round: "final", pages: 64, ms: 5 },
  ]);
  assert.ok(Math.abs(r! - (320 * 4096) / 2 ** 20 / 0.6) < 1e-9, String(r));
  assert.equal(dirtyRateMiBps([{ round: 0, pages: 10, ms: 5 }]), null);
});

test("the churn's plan: period from the target rate, the ring and the lap in bytes; bad rates refused", () => {
  assert.deepEqual(churnPlan(8), { chunkBytes: 1 << 20, ringBytes: 16 << 20, lapBytes: 2 << 20, periodUs: 125_000, targetMiBps: 8 });
  assert.equal(churnPlan(4).periodUs, 250_000);
  assert.equal(churnPlan(3).periodUs, 333_333);
  assert.equal(churnPlan(null).periodUs, 0, "as fast as it can: no pause");
  for (const bad of [0, -1, NaN, Infinity]) assert.throws(() => churnPlan(bad), /positive number of MiB\/s/);
});

/**
 * The churn under bash with a fake clock: $EPOCHREALTIME becomes `clk` (seconds.micros
 * with leading zeros, as ash prints it), usleep and dd advance it. dd really writes the
 * ring into a temporary file; each call "takes" 20 ms, the 7th (the 6th chunk) 300 ms.
 */
function runChurn(targetMiBps: number | null, chunks: number): { lines: string[]; file: string; dir: string } | null {
  const dir = mkdtempSync(join(tmpdir(), "churn-"));
  const file = join(dir, "ring");
  const script = `${churnFunction(file).replaceAll("$EPOCHREALTIME", "$(clk)")}; c ${churnPlan(targetMiBps).periodUs}&`;
  const shims = `
CLOCK_US=100012345; calls=0
clk() { printf '%d.%06d' $((CLOCK_US/1000000)) $((CLOCK_US%1000000)); }
usleep() { echo "sleep $1"; CLOCK_US=$((CLOCK_US+$1)); }
dd() {
  command dd "$@"; calls=$((calls+1))
  if [ $calls = 7 ]; then CLOCK_US=$((CLOCK_US+300000)); else CLOCK_US=$((CLOCK_US+20000)); fi
  for a in "$@"; do case $a in seek=*) echo "dd $a";; count=*) [ $calls = 1 ] && echo "fill $a";; esac; done
  [ $calls -gt ${chunks} ] && exit 0
}
${script} wait`;
  const sh = spawnSync("bash", ["-c", shims], { encoding: "utf8" });
  if (sh.error) return null;
  assert.equal(sh.status, 0, sh.stderr);
  return { lines: sh.stdout.trim().split("\n"), file, dir };
}

test("the paced churn under a shell: sleeps make up the period, a late chunk is not caught up, the ring turns, laps are stamped", (t) => {
  const r = runChurn(8, 9);
  if (r === null) return t.skip("no bash here");
  try {
    assert.equal(statSync(r.file).size, 16 << 20, "the fill wrote the whole ring, chunks write inside it");
    assert.deepEqual(r.lines, [
      "fill count=256",
      "dd seek=0", "sleep 105000",
      "dd seek=16", "lap=100.177345", "sleep 105000",
      "dd seek=32", "sleep 105000",
      "dd seek=48", "lap=100.427345", "sleep 105000",
      "dd seek=64", "sleep 105000",
      // The 7th dd call (the 6th chunk) took 300 ms: no sleep, the next deadline counts from now.
      "dd seek=80", "lap=100.957345",
      "dd seek=96", "sleep 105000",
      "dd seek=112", "lap=101.102345", "sleep 105000",
      "dd seek=128",
    ]);
  } finally {
    rmSync(r.dir, { recursive: true, force: true });
  }
});

test("the churn as fast as it can never sleeps and wraps around its ring", (t) => {
  const r = runChurn(null, 18);
  if (r === null) return t.skip("no bash here");
  try {
    assert.ok(!r.lines.some((l) => l.startsWith("sleep")), r.lines.join("\n"));
    const seeks = r.lines.filter((l) => l.startsWith("dd ")).map((l) => Number(l.slice("dd seek=".length)));
    assert.deepEqual(seeks, [0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 0, 16]);
    assert.equal(r.lines.filter((l) => l.startsWith(CHURN.LAP)).length, 8, "a lap line every 2 chunks");
  } finally {
    rmSync(r.dir, { recursive: true, force: true });
  }
});

test("one guest script for every workload, switched by a typed line; readiness and the written rate read the console", () => {
  // 1024 bytes of command line: base64 of the script plus the rest (console=, quiet, paravm.exec=) under it.
  assert.ok(Buffer.from(guestScript()).toString("base64").length < 800);
  assert.equal(switchCommand("dirty", 4), "kill $w 2>/dev/null;echo load=dirty;c 250000& w=$!");
  assert.equal(switchCommand("dirty-max", 4), "kill $w 2>/dev/null;echo load=dirty-max;c 0& w=$!");
  assert.equal(switchCommand("shell", 4), "kill $w 2>/dev/null;echo load=shell");
  assert.ok(!counting("boot\r\n") && counting("boot\r\nn=1\r\n"));
  const counts = "n=1\r\nn=2\r\nn=3\r\n";
  assert.ok(workloadReady("shell", counts), "a console without a marker: all of it counts");
  assert.ok(!workloadReady("shell", "n=1\r\nn=13\r\n"), "n=13 is one count, not a third");
  assert.ok(!workloadReady("shell", `${counts}load=shell\r\nn=4\r\n`), "only what came after the switch");
  const laps = "lap=10.000000\r\nn=1\r\nlap=10.500000\r\nn=2\r\nlap=11.000000\r\n";
  // The console echoes the typed line (not a marker), then the marker, then the workload's lines.
  const typed = `${switchCommand("dirty", 4)}\r\nload=dirty\r\n`;
  assert.ok(!workloadReady("dirty", `${typed}${laps}`), "two counts only");
  assert.ok(workloadReady("dirty", `${typed}${laps}${counts}`));
  assert.ok(!workloadReady("dirty-max", `${typed}${laps}${counts}`), "another workload's lines");
  assert.ok(!workloadReady("dirty", `${laps}${counts}${typed}n=9\r\n`), "the laps came before this switch");
  assert.equal(lapRateMiBps([{ atMs: 0, text: laps }], 4 << 20), 8, "4 MiB every half second of the guest's clock");
  assert.equal(lapRateMiBps([{ atMs: 0, text: "lap=1.000000\r\n" }], 4 << 20), null);
});

const sample = (over: Partial<MigrationSample>): MigrationSample => ({
  run: 1, totalMs: 1000, downtimeMs: 40, rounds: 2, mibSent: 12.5, round0MiB: 12, linkMiBps: 50, converged: true, note: "", dirtyMiBps: 1, wroteMiBps: null, loadAvg: 1, detail: null,
  gap: { atSource: 3, atDest: 3, crossMs: 600, gapMs: 600, gapAfter: 3, paceBeforeMs: 200, paceAfterMs: 300, missing: 0, repeated: 0, problem: null },
  ...over,
});

test("table rows are medians; a cell without counts at the destination says so; ratios of like figures", () => {
  const p: MigrationCell = { who: "paravm", mib: 64, load: "shell", failures: [], samples: [sample({}), sample({ totalMs: 3000, converged: false }), sample({ totalMs: 2000 })] };
  assert.deepEqual(migrationRow(p), ["paravm", "64 MiB", "shell", "-", "1.0", "2000", "40", "2", "12.5", "50", "2/3", "600", "600", "200 → 300"]);
  const noCount = { atSource: 3, atDest: 0, crossMs: null, gapMs: null, gapAfter: null, paceBeforeMs: 200, paceAfterMs: null, missing: 0, repeated: 0, problem: "x" };
  const q: MigrationCell = { who: "qemu", mib: 64, load: "shell", failures: [], samples: [sample({ totalMs: 100, mibSent: 12.5, gap: noCount })] };
  assert.equal(migrationRow(q)[11], "none at the destination");
  assert.equal(ratioLine(p, q), "64 MiB shell: paravm/QEMU total time 20.00×, MiB sent 1.00×");
  assert.equal(migrationRow({ ...q, samples: [], failures: ["boom"] })[10], "0/1");
});

test("QEMU's command lines: the same guest, RAM and script on both ends, fw_dynamic, the destination waits on loopback", () => {
  const g = { kernel: { path: "/k/Image" }, initrd: { path: "/k/initramfs.cpio.gz" } } as Parameters<typeof qemuMigrateArgs>[0];
  const src = qemuMigrateArgs(g, 64, "echo hi", "/w/a.sock");
  const dst = qemuMigrateArgs(g, 64, "echo hi", "/w/b.sock", 4567);
  const after = (args: string[], flag: string): string | undefined => args[args.indexOf(flag) + 1];
  assert.equal(after(src, "-m"), "64M");
  assert.equal(after(src, "-bios"), OPENSBI_DYNAMIC);
  assert.equal(after(src, "-append"), `console=ttyS0 quiet paravm.exec=${Buffer.from("echo hi").toString("base64")}`);
  assert.equal(after(src, "-monitor"), "unix:/w/a.sock,server,nowait");
  assert.ok(!src.includes("-incoming"));
  assert.equal(after(dst, "-incoming"), "tcp:127.0.0.1:4567");
  assert.deepEqual(dst.slice(0, dst.indexOf("-monitor")), src.slice(0, src.indexOf("-monitor")), "the destination is the same machine");
  assert.equal(QEMU_MIGRATE.DOWNTIME_LIMIT_MS, 30, "paravm's downtime target");
  assert.equal(QEMU_MIGRATE.MAX_SYNCS, 30, "paravm's round limit");
});
