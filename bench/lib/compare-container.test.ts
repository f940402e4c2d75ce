// The container column's pure parts: the host VM's entry, the `container run` command
// lines, the guest scripts (checked by the host's own sh for syntax, and by the shared
// parsers on busybox-shaped output), and the idle, memory and density arithmetic. No
// daemon and no guest here: the column itself is checked by running it (bench:compare).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { densityStop, diskScript, ENV, hostVmEntry, idleCpuPercent, isOutOfMemory, netReceiver, netSender, perInstanceMib, receivedBytes, runArgs, uniqueName } from "./compare-container-env.js";
import { ddRate, workScript, type CompareOptions } from "./compare-rows.js";

const o = { runs: 3, cpuMib: 4, syscallBytes: 20000, timerIters: 200, diskMib: 16, netMib: 16, pingCount: 20, memMib: 128, densityBudgetMib: 1024, densityCap: 32, idleInstances: 4, idleSeconds: 20, timeoutS: 300 };

/** The host's sh parses the script without running it (exit 0), or says why not. */
function shSyntax(script: string): { status: number | null; stderr: string } {
  const r = spawnSync("sh", ["-n", "-c", script], { encoding: "utf8" });
  return { status: r.status, stderr: r.stderr };
}

test("the host VM: pv, two vCPUs, RAM for the density budget (never under 256 MiB), the scratch disk, started", () => {
  assert.deepEqual(hostVmEntry(o, "/w/scratch.img"), { name: ENV.HOST_VM, profile: "pv", cpus: 2, mem: "1024M", disks: [{ path: "/w/scratch.img" }], start: true });
  assert.equal(hostVmEntry({ densityBudgetMib: 64, memMib: 32 }, "/d").mem, "256M", "at least the default container host's RAM");
  assert.equal(hostVmEntry({ densityBudgetMib: 64, memMib: 512 }, "/d").mem, "512M", "memory.max may not exceed the VM's RAM");
});

test("container run: the host VM, the bridge, the flags, and the command after -- as separate words", () => {
  assert.deepEqual(runArgs({ rm: true }, ["echo", "first-x"]), ["container", "run", "--host", ENV.HOST_VM, "--net", "bridge", "--rm", "--", "echo", "first-x"]);
  assert.deepEqual(runArgs({ name: "d1", detach: true, memMaxMib: 128, devices: ["/dev/vda"] }, ["sleep", "9"]), [
    "container", "run", "--host", ENV.HOST_VM, "--net", "bridge", "--name", "d1", "-d", "--mem-max", "128M", "--device", "/dev/vda", "--", "sleep", "9",
  ]);
  // The work script travels as one argument, byte for byte the one every column runs.
  const script = workScript(o as CompareOptions, ["cpu", "syscall", "timer"]);
  const args = runArgs({ rm: true }, ["sh", "-c", script]);
  assert.equal(args.at(-1), script);
  assert.equal(args.at(-3), "sh");
});

test("container names are the API's kind ([a-z0-9-], at most 32) and differ between calls", () => {
  const a = uniqueName("idl", 12);
  assert.match(a, /^idl-[0-9a-f]{6}-12$/);
  assert.ok(a.length <= 32);
  assert.notEqual(uniqueName("x", 1), uniqueName("x", 1));
});

test("the disk scripts: dd with direct I/O on the device, the read after dropping caches, stderr merged", () => {
  const w = diskScript("write", "/dev/vda", 16);
  assert.match(w, /^sync; dd if=\/dev\/zero of=\/dev\/vda bs=1M count=16 oflag=direct 2>&1$/);
  const r = diskScript("read", "/dev/vda", 16);
  assert.match(r, /echo 3 > \/proc\/sys\/vm\/drop_caches \|\| echo NO-DROP-CACHES; dd if=\/dev\/vda of=\/dev\/null bs=1M count=16 iflag=direct 2>&1$/);
  for (const s of [w, r]) assert.equal(shSyntax(s).status, 0, shSyntax(s).stderr);
  // What busybox dd prints is what the cell is made of.
  const rate = ddRate("16+0 records in\n16+0 records out\n16777216 bytes (16.0MB) copied, 0.5 seconds, 32.0MB/s\n");
  assert.equal(rate?.bytes, 16 * 1024 * 1024);
  assert.equal(rate?.mibPerS, 32);
});

test("the TCP pair: the receiver listens once and times all but the first byte; the sender retries until it connects", () => {
  const recv = netReceiver();
  assert.match(recv, new RegExp(`^nc -l -p ${ENV.NET_PORT} `));
  assert.match(recv, /dd bs=1 count=1 of=\/dev\/null.*dd of=\/dev\/null bs=64k 2>&1/);
  const send = netSender("10.88.0.7", 16, 60);
  assert.match(send, /^for i in \$\(seq 60\); do dd if=\/dev\/zero bs=64k count=256 2>\/dev\/null \| nc -w 2 10\.88\.0\.7 5000 && break; sleep 1; done/);
  for (const s of [recv, send]) assert.equal(shSyntax(s).status, 0, shSyntax(s).stderr);
  assert.equal(receivedBytes(16), 16 * 1024 * 1024 - 1);
  // The receiver's dd line for such a transfer is accepted with exactly that many bytes.
  assert.equal(ddRate("255+256 records in\n255+256 records out\n16777215 bytes (16.0MB) copied, 2.0 seconds, 8.0MB/s")?.bytes, receivedBytes(16));
});

test("idle CPU per container: the tree's time with them minus the baseline, per container, per second, in %", () => {
  // 20 s: 6 s of CPU with 4 containers, 2 s without → 4 s / 20 s / 4 = 5 % each.
  assert.equal(idleCpuPercent(6, 2, 20, 4), 5);
  assert.equal(idleCpuPercent(2, 2, 20, 4), 0);
  assert.ok(idleCpuPercent(1, 2, 20, 4) < 0, "noise below the baseline shows as it is, not clamped");
});

test("guest memory per container: the growth between two readings over the containers between them", () => {
  assert.equal(perInstanceMib(20_000, 26_144, 3), 2);
  assert.ok(Number.isNaN(perInstanceMib(1, 2, 0)), "one container: no second reading to compare");
});

test("density stops at the budget first, then the cap, then the time limit", () => {
  const lim = { densityBudgetMib: 1024, densityCap: 32, timeoutS: 120 };
  assert.equal(densityStop(5, 900, 10, lim), null);
  assert.equal(densityStop(5, 1025, 10, lim), "budget");
  assert.equal(densityStop(32, 1025, 500, lim), "budget", "past the budget counts before the cap");
  assert.equal(densityStop(32, 900, 500, lim), "cap");
  assert.equal(densityStop(31, 900, 121, lim), "time");
});

test("a refusal for memory is told from other failures", () => {
  assert.equal(isOutOfMemory("POST /containers: HTTP 502 guest-error: create: No space left on device"), true);
  assert.equal(isOutOfMemory("HTTP 507 no-capacity: the memory budget cannot admit"), true);
  assert.equal(isOutOfMemory("HTTP 409 conflict: VM cmp-host is stopped"), false);
});
