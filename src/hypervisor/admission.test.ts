/**
 * Admission against the host memory budget with real Linux guests: a VM that does not fit
 * is refused at start with one message and changes nothing (the running VM goes on, the
 * pool is as it was); once the first stops its memory returns and the second starts. The
 * CLI says the same with exit status 3, before any guest boots.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { EXIT } from "../control/args.js";
import { Hypervisor } from "./hypervisor.js";
import { NO_GUEST, pvExecSpec } from "../control/guest-testkit.js";
import type { MachineSpec } from "./machine-spec.js";
import type { Vm } from "./vm.js";
import { AdmissionError, vmChargeBytes } from "./memory-pool.js";
import { readVmSnapshotInfo } from "./snapshot/vm-file.js";

const skip = NO_GUEST;
const MiB = 1024 * 1024;
const bin = fileURLToPath(new URL("../../../bin/paravm.js", import.meta.url));

function spec(exec: string): MachineSpec {
  return pvExecSpec(exec);
}

async function waitText(text: () => string, re: RegExp, ms = 240_000): Promise<void> {
  const t0 = Date.now();
  while (!re.test(text())) {
    assert.ok(Date.now() - t0 < ms, `no ${re} within ${ms} ms: ${text().slice(-300)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("admission against the host memory budget (real Linux)", { skip, timeout: 300_000 }, () => {
  test("a VM that does not fit is refused with what it asked and what is free; the running VM goes on; memory returns at stop", async () => {
    const one = vmChargeBytes(128 * MiB, 1);
    const hv = new Hypervisor({ hostMemBytes: Math.floor((one * 1.5) / MiB) * MiB });
    try {
      const a = hv.create({ name: "a", spec: spec("echo A-UP; sleep 600") });
      const b = hv.create({ name: "b", spec: spec("echo B-RAN") });
      // a has stopped when b runs: their output never interleaves.
      let text = "";
      a.on("output", (x: Uint8Array) => (text += Buffer.from(x).toString("latin1")));
      b.on("output", (x: Uint8Array) => (text += Buffer.from(x).toString("latin1")));
      await a.start();
      assert.equal(hv.memory.chargeOf("a"), one);
      const t0 = Date.now();
      while (!/^A-UP/m.test(text)) {
        assert.ok(Date.now() - t0 < 240_000, `a did not come up: ${text.slice(-300)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const before = hv.memory.snapshot();
      await assert.rejects(
        () => b.start(),
        (e: unknown) => e instanceof AdmissionError && /VM b needs \d+ MiB of host memory, but only \d+ MiB of the \d+ MiB budget is free/.test(e.message),
      );
      assert.equal(b.state, "created", "the refused VM did not start");
      assert.equal(a.state, "running", "the running VM is untouched");
      assert.deepEqual(hv.memory.snapshot(), before, "the pool is as it was");
      await a.stop();
      assert.equal(hv.memory.chargeOf("a"), undefined, "a's memory returned to the pool");
      await b.start();
      const o = await b.wait();
      assert.equal(o.kind, "stopped");
      assert.match(text, /^B-RAN/m);
      assert.equal(hv.memory.chargedBytes, 0, "every charge returned once the VMs stopped");
    } finally {
      await hv.close();
    }
  });

  test("overcommit: squeezing two idle guests with their balloons admits a third; growing one back without room is refused", async () => {
    const full = vmChargeBytes(128 * MiB, 1);
    const hv = new Hypervisor({ hostMemBytes: Math.floor((full * 2.3) / MiB) * MiB });
    try {
      const vms = ["a", "b", "c"].map((n) => hv.create({ name: n, spec: spec(`echo ${n.toUpperCase()}-UP; sleep 600`) }));
      // One console text per VM: two guests that print at once interleave their bytes
      // (regression: "B-UPA-UP" in one shared text never matched /^A-UP/m).
      const texts = new Map<Vm, string>(vms.map((vm) => [vm, ""]));
      for (const vm of vms) vm.on("output", (x: Uint8Array) => texts.set(vm, texts.get(vm)! + Buffer.from(x).toString("latin1")));
      const [a, b, c] = vms as [Vm, Vm, Vm];
      await Promise.all([a.start(), b.start()]);
      await assert.rejects(() => c.start(), AdmissionError, "two full guests leave no room for a third");
      await waitText(() => texts.get(a)!, /^A-UP/m);
      await waitText(() => texts.get(b)!, /^B-UP/m);
      // Squeeze the idle ones to 48 MiB each: their charges shrink at once, the balloons follow.
      a.setMemoryTarget(48 * MiB);
      b.setMemoryTarget(48 * MiB);
      assert.equal(hv.memory.chargeOf("a"), vmChargeBytes(128 * MiB, 1, 80 * MiB));
      await c.start();
      await waitText(() => texts.get(c)!, /^C-UP/m);
      const t0 = Date.now();
      while (a.memoryStats().balloonBytes < 80 * MiB) {
        assert.ok(Date.now() - t0 < 60_000, `a's balloon reached ${a.memoryStats().balloonBytes} bytes`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const before = hv.memory.snapshot();
      assert.throws(() => a.setMemoryTarget(128 * MiB), (e: unknown) => e instanceof AdmissionError && /VM a would grow from \d+ MiB to \d+ MiB/.test(e.message));
      assert.deepEqual(hv.memory.snapshot(), before, "a refused growth changes nothing");
      assert.equal(a.memoryStats().targetBytes, 48 * MiB);
      assert.ok(hv.memory.chargedBytes <= hv.memory.budgetBytes);
      // A snapshot records the target as it is now, so the VM restored from it is charged the same (regression: the boot-time target).
      const dir = mkdtempSync(join(tmpdir(), "paravm-admission-"));
      try {
        await a.snapshot(join(dir, "a.snap"));
        assert.equal(readVmSnapshotInfo(join(dir, "a.snap")).memTargetBytes, 48 * MiB);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    } finally {
      await hv.close();
    }
  });

  test("paravm run: a VM larger than --host-mem is refused before it boots (exit 3); a bad --host-mem is a usage error (exit 2)", () => {
    const r = spawnSync(process.execPath, [bin, "run", "--host-mem", "100M", "--mem", "128M", "--exec", "true"], { encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, EXIT.NO_CAPACITY, r.stderr);
    assert.match(r.stderr, /paravm: error: VM vm needs \d+ MiB of host memory \(RAM plus overhead\), more than the whole 100 MiB budget/);
    const bad = spawnSync(process.execPath, [bin, "run", "--host-mem", "1M", "--exec", "true"], { encoding: "utf8", timeout: 60_000 });
    assert.equal(bad.status, EXIT.USAGE, bad.stderr);
    assert.match(bad.stderr, /--host-mem.*at least 64 MiB/);
  });

  test("paravm multi: a fleet that does not fit starts no VM at all, and says what each needs", () => {
    const r = spawnSync(
      process.execPath,
      [bin, "multi", "--host-mem", "300M", "--vm", "name=x,mem=128M,exec=echo X", "--vm", "name=y,mem=128M,exec=echo Y"],
      { encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(r.status, EXIT.NO_CAPACITY, r.stderr);
    assert.match(r.stderr, /the VMs need \d+ MiB of host memory \(x \d+ MiB, y \d+ MiB; RAM plus overhead each\), but only 300 MiB of the 300 MiB budget is free/);
    assert.doesNotMatch(r.stdout, /\bX\b|\bY\b/, "no VM ran");
  });
});
