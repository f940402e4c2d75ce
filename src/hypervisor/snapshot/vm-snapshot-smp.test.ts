/**
 * Snapshots of running VMs with two vCPUs (each on a thread of its own), restored by another
 * Hypervisor; skipped without built guest images. A pv and a full guest count in two
 * busy loops that Linux spreads over both CPUs (smp-testkit.ts): after the restore both
 * loops go on counting where they were, the same CPUs are online, and hart 1 runs guest
 * code on its new thread. A pv VM that boots with one of its two vCPUs online keeps the
 * other offline across the restore (and can still bring it online after). Files whose
 * machine lacks a hart or has another hart count are refused and leave no VM.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { defaultGuestDir } from "../../control/args.js";
import { FULL_DEFAULTS } from "../../machine/full.js";
import type { MachineState } from "../../machine/machine-state.js";
import { Hypervisor } from "../hypervisor.js";
import { VmBuildError, type Vm } from "../vm.js";
import { readSnapshot, SnapshotWriter } from "./format.js";
import { continued, SmpConsole, smpSpec } from "./smp-testkit.js";
import { readVmSnapshot } from "./vm-file.js";
import { EXTENDED } from "../../test-tier.js";

const guestDir = defaultGuestDir();
const skip = guestDir === null ? "no guest images in ~/.cache/paravm" : false;
const skipFull = skip || (!existsSync(FULL_DEFAULTS.FIRMWARE) ? `no ${FULL_DEFAULTS.FIRMWARE} (package opensbi)` : false);
const work = mkdtempSync(join(tmpdir(), "paravm-smpsnap-"));
after(() => rmSync(work, { recursive: true, force: true }));

/** Instructions hart `k` retired in the run that ended, against the saved state's count. */
async function retiredSince(vm: Vm, saved: MachineState, k: number): Promise<number> {
  const o = await vm.stop();
  assert.equal(o.kind, "stopped", o.kind === "crashed" ? o.reason : "");
  return o.kind === "stopped" ? o.result.harts[k]!.instret - saved.harts[k]!.instret : 0;
}

for (const profile of ["pv", "full"] as const) {
  describe(`snapshot of a running 2-vCPU ${profile} VM, restored by another hypervisor`, { skip: profile === "pv" ? skip : skipFull || EXTENDED }, () => {
    const file = join(work, `${profile}.snap`);
    const hvs: Hypervisor[] = [];
    after(async () => {
      for (const hv of hvs) await hv.close();
    });

    test("both loops go on counting where they were, with both CPUs online; hart 1 runs on its new thread", async () => {
      const a = new Hypervisor({ pcpus: 2 });
      hvs.push(a);
      const vm = a.create({ name: `${profile}-smp`, spec: smpSpec(guestDir!, profile) });
      const con = new SmpConsole(vm);
      await vm.start();
      await con.each(3, "three lines from each loop");
      await vm.pause();
      await vm.snapshot(file);
      // After the owner's answer: every line it printed before the pause has arrived.
      const before = con.lines();
      assert.equal(vm.state, "paused", "a paused VM stays paused");
      await vm.stop();
      assert.deepEqual([before[0]!.online, before[0]!.nproc], ["0-1", 2], "both CPUs were online");

      const b = new Hypervisor({ pcpus: 2 });
      hvs.push(b);
      const restored = await b.restore(file, { name: `${profile}-copy` });
      const con2 = new SmpConsole(restored);
      await con2.each(3, "three lines from each loop after restore");
      assert.doesNotMatch(con2.text, /Linux version|OpenSBI/, "no reboot: no kernel or firmware banner");
      assert.deepEqual(continued(before, con2), []);
      if (profile === "pv") assert.deepEqual(restored.vcpus, { online: 2, max: 2 });
      const saved = readVmSnapshot(file).machine;
      assert.ok((await retiredSince(restored, saved, 1)) > 0, "hart 1 ran guest code after the restore");
    });

    test("a snapshot taken while the VM runs restores too (the VM is paused for it and resumed)", { skip: EXTENDED }, async () => {
      const a = new Hypervisor({ pcpus: 2 });
      hvs.push(a);
      const b = new Hypervisor({ pcpus: 2 });
      hvs.push(b);
      const restored = await b.restore(file, { name: `${profile}-again` });
      const con = new SmpConsole(restored);
      await con.each(2, "two lines from each loop");
      const live = join(work, `${profile}-live.snap`);
      const r = await restored.snapshot(live);
      assert.equal(restored.state, "running", "resumed after its snapshot");
      assert.ok(r.pausedMs > 0);
      const seen = con.lines().length;
      const again = await a.restore(live, { name: `${profile}-third` });
      const con3 = new SmpConsole(again);
      await con3.each(2, "two lines from each loop of the second restore");
      assert.doesNotMatch(con3.text, /Linux version|OpenSBI/);
      assert.ok(seen > 0 && con3.lines("A")[0]!.n > 1 && con3.lines("B")[0]!.n > 1, "the counts carried on");
      await again.stop();
      await restored.stop();
    });
  });
}

describe("a 2-vCPU pv VM with one vCPU online", { skip: skip || EXTENDED }, () => {
  const file = join(work, "offline.snap");
  const hvs: Hypervisor[] = [];
  after(async () => {
    for (const hv of hvs) await hv.close();
  });

  test("keeps the other offline across a snapshot and restore, and can still bring it online after", async () => {
    const a = new Hypervisor({ pcpus: 2 });
    hvs.push(a);
    const vm = a.create({ name: "half", spec: smpSpec(guestDir!, "pv", { onlineCpus: 1 }) });
    const con = new SmpConsole(vm);
    await vm.start();
    await con.each(2, "two lines from each loop");
    assert.deepEqual(vm.vcpus, { online: 1, max: 2 });
    await vm.pause();
    await vm.snapshot(file);
    const before = con.lines();
    await vm.stop();
    assert.deepEqual([before[0]!.online, before[0]!.nproc], ["0", 1], "one CPU was online");

    const b = new Hypervisor({ pcpus: 2 });
    hvs.push(b);
    const restored = await b.restore(file, { name: "half-copy" });
    const con2 = new SmpConsole(restored);
    await con2.each(2, "two lines from each loop after restore");
    assert.deepEqual(continued(before, con2), []);
    assert.deepEqual(restored.vcpus, { online: 1, max: 2 }, "the restored VM knows one vCPU is online");
    assert.ok(con2.lines().every((l) => l.cpu === 0 && l.online === "0"), "everything ran on CPU 0");

    // Its hart 1 thread, parked since the restore, still answers a hart_start.
    await restored.setVcpus(2, { timeoutMs: 240_000 });
    assert.deepEqual(restored.vcpus, { online: 2, max: 2 });
    const n = con2.lines().length;
    await con2.each(Math.max(con2.lines("A").length, con2.lines("B").length) + 2, "lines with both CPUs online");
    assert.ok(con2.lines().slice(n).some((l) => l.online === "0-1" && l.nproc === 2), "CPU 1 is online in the guest");
    assert.ok((await retiredSince(restored, readVmSnapshot(file).machine, 1)) > 0, "hart 1 ran once brought online");
  });

  test("refused: a file whose machine lacks hart 1's state, or has another hart count; nothing is left behind", async () => {
    const b = new Hypervisor({ pcpus: 2 });
    hvs.push(b);
    const tampered = (name: string, change: (m: MachineState) => unknown): string => {
      const out = join(work, name);
      const w = new SnapshotWriter(out);
      for (const s of readSnapshot(file).values()) {
        if (s.name === "machine") w.json("machine", change(JSON.parse(new TextDecoder().decode(s.payload)) as MachineState));
        else w.section(s.name, s.kind, s.payload);
      }
      w.close();
      return out;
    };
    const refused = async (f: string, re: RegExp): Promise<void> => {
      await assert.rejects(b.restore(f), (e: unknown) => e instanceof VmBuildError && re.test(e.message), `expected ${re}`);
      assert.equal(b.vms.size, 0, "no VM was left by a refused restore");
    };
    await refused(tampered("no-hart1.snap", (m) => ({ ...m, harts: [m.harts[0]] })), /harts: 1 states for 2 harts/);
    await refused(tampered("null-hart1.snap", (m) => ({ ...m, harts: [m.harts[0], null] })), /harts\[1\]: not an object/);
    await refused(tampered("one-hart.snap", (m) => ({ ...m, cpus: 1, harts: [m.harts[0]] })), /the saved machine had 1 harts, this one has 2/);
    await refused(tampered("no-link.snap", (m) => ({ ...m, link: [m.link![0]] })), /link: harts: 1 states for 2 harts/);
  });
});
