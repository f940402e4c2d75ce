import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { explainRow, headline, perOpText } from "./compare-explain.js";
import {
  ddRate,
  medianCell,
  parseMemUsedKiB,
  parseWork,
  pingAvgUs,
  promptRe,
  treeCpuSeconds,
  treeRssKiB,
  workScript,
  workValue,
  type CompareOptions,
} from "./compare-rows.js";
import { syntheticCompareResults } from "./compare-testkit.js";

const O = { runs: 2, cpuMib: 1, syscallBytes: 100, timerIters: 5 } as CompareOptions;

test("the work script runs under a POSIX shell and prints a CMP line per run with a checked result", (t) => {
  // The host's shell stands in for the guest's ash: the same script, real output. $EPOCHREALTIME
  // and usleep are ash's, so a shim provides them where the host shell lacks them.
  const sh = spawnSync("bash", ["-c", `usleep() { sleep "$(awk "BEGIN{print $1/1e6}")"; }\n${workScript(O, ["cpu", "syscall", "timer"])}`], { encoding: "utf8" });
  if (sh.error) return t.skip("no bash here");
  assert.equal(sh.status, 0, sh.stderr);
  const runs = parseWork(sh.stdout);
  assert.deepEqual(runs.map((r) => `${r.row} ${r.run}`), ["cpu 1", "cpu 2", "syscall 1", "syscall 2", "timer 1", "timer 2"]);
  for (const r of runs) assert.equal(typeof workValue(O, r), "number", `${r.row} ${r.run}: ${String(workValue(O, r))} (${r.result})`);
  const timer = runs.find((r) => r.row === "timer")!;
  assert.ok((workValue(O, timer) as number) >= 2, "a 2 ms sleep takes at least 2 ms");
  assert.match(sh.stdout, /CMP-DONE/);
  assert.ok(workScript({ ...O, syscallBytes: 20_000, timerIters: 200 }, ["cpu", "syscall", "timer"]).length < 600, "fits the kernel command line in base64");
});

test("a work run with the wrong result or status is refused with the reason", () => {
  const bad = parseWork("CMP cpu 1 10.000000 10.500000 0 0123abc  -\nCMP syscall 1 1.0 1.1 0 7+0 records in\nCMP timer 1 1 2 1 5\n");
  assert.match(String(workValue(O, bad[0]!)), /not the md5 of 1 MiB of zeros/);
  assert.match(String(workValue(O, bad[1]!)), /dd said "7\+0 records in"/);
  assert.match(String(workValue(O, bad[2]!)), /exited 1/);
  const good = parseWork("junk CMP syscall 2 5.000000 5.000400 0 100+0 records in\r\n");
  assert.ok(Math.abs((workValue(O, good[0]!) as number) - 2) < 1e-6, "µs per system call: a read and a write per byte");
});

test("dd, ping, meminfo and prompt parsers read busybox's words", () => {
  assert.deepEqual(ddRate("16+0 records in\n16+0 records out\n16777216 bytes (16.0MB) copied, 0.500000 seconds, 32.0MB/s\n"), { bytes: 16777216, seconds: 0.5, mibPerS: 32 });
  assert.equal(ddRate("dd: can't open '/dev/vdz'"), null);
  assert.equal(pingAvgUs("20 packets transmitted, 20 packets received, 0% packet loss\nround-trip min/avg/max = 1.102/3.970/9.001 ms\n"), 3970);
  assert.equal(pingAvgUs("ping: sendto: Network unreachable"), null);
  assert.equal(parseMemUsedKiB("x\r\nMEMUSED 20480\r\n"), 20480);
  assert.equal(parseMemUsedKiB("MEMUSED 1"), null, "a line cut at a chunk boundary is not read as a number");
  assert.ok(promptRe("vm-1").test("boot...\r\nvm-1:~# "));
  assert.ok(!promptRe("vm-1").test("vm-12:~# "), "another instance's prompt is not this one's");
});

test("median cells keep their samples; no finite sample is a why", () => {
  assert.deepEqual(medianCell([3, 1, 2], "x", { note: "n" }), { value: 2, samples: [3, 1, 2], note: "n" });
  assert.deepEqual(medianCell([NaN], "guest printed nothing"), { value: null, why: "guest printed nothing" });
});

test("host readings see this process: RSS and CPU time", () => {
  assert.ok(treeRssKiB(process.pid) > 1000);
  let x = 0;
  for (let i = 0; i < 3e7; i++) x += i;
  assert.ok(x > 0 && treeCpuSeconds(process.pid) > 0);
  assert.ok(Number.isNaN(treeRssKiB(2 ** 22 + 7)), "a process that does not exist has no RSS");
});

test("explanations come from the per-operation counters; the headline names the largest pv/full gap", () => {
  const rows = syntheticCompareResults().rows;
  const disk = rows.find((r) => r.id === "disk-write")!;
  const lines = explainRow(disk);
  assert.ok(lines.some((l) => /^paravm full: 524,354 exits \(data-port exits 524,288/.test(l)), lines.join("\n"));
  assert.ok(lines.some((l) => /full takes 16,806× pv's exits per MiB/.test(l)), lines.join("\n"));
  assert.equal(perOpText({ value: 1 }), null);
  assert.equal(
    perOpText({ value: 1, perOp: { exits: 14_660, "m-mode instructions": 6_151_000, "firmware traps": 1487, instructions: 115_700_000 } }),
    "14,660 exits, 1,487 traps into the guest's firmware, 115,700,000 guest instructions, 6,151,000 m-mode instructions",
    "instruction counts are not reasons for exits",
  );
  assert.equal(perOpText({ value: 1, perOp: { exits: -3.2, "sbi.time.set_timer": -1 } }), null, "a negative difference of two boots is noise, not a figure");
  const h = headline(rows);
  assert.match(h, /^Disk read: a pv guest does 52\.8 MiB\/s against 0\.98 MiB\/s for the same kernel on emulated hardware \(53\.9× better\)\./);
  const withCounters = headline(rows.filter((r) => r.id !== "disk-read"));
  assert.match(withCounters, /^Disk write: a pv guest does 41\.2 MiB\/s against 0\.93 MiB\/s .*\(44\.3× better\), because each MiB costs 31\.2 exits to the hypervisor instead of 524,354\./);
  assert.match(h, /Against QEMU TCG with virtio devices, pv is 3\.64× slower on CPU-bound code, 1\.42× slower on disk writes and 1\.29× slower to a shell\./);
  assert.equal(headline([]), "No figure could be measured in this run; each cell says why.");
});
