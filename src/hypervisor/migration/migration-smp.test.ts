/**
 * Live migration of VMs with two vCPUs between two hypervisors in one process (a link
 * pair for the wire), skipped without built guest images. A pv and a full guest count in
 * two busy loops spread over both CPUs (snapshot/smp-testkit.ts): at the destination both
 * loops go on where they were with the same CPUs online, and vCPU 1's new thread runs the
 * guest. The pv guest then takes one vCPU offline and moves back: it stays offline. A
 * migrated state without hart 1, or for another hart count, is refused by the destination.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, describe, test } from "node:test";
import { defaultGuestDir } from "../../control/args.js";
import { FULL_DEFAULTS } from "../../machine/full.js";
import type { MachineState } from "../../machine/machine-state.js";
import { Hypervisor } from "../hypervisor.js";
import { continued, SmpConsole, smpSpec } from "../snapshot/smp-testkit.js";
import { VmBuildError, type Vm } from "../vm.js";
import { acceptMigration } from "./dest.js";
import { linkPair } from "./link.js";
import { migrateOut, type MigrationResult } from "./source.js";
import { EXTENDED } from "../../test-tier.js";

const guestDir = defaultGuestDir();
const skip = guestDir === null ? "no guest images in ~/.cache/paravm" : false;
const skipFull = skip || (!existsSync(FULL_DEFAULTS.FIRMWARE) ? `no ${FULL_DEFAULTS.FIRMWARE} (package opensbi)` : false);
/** Host CPU time vCPU 1 must have had at the destination to count as running the guest (an idle vCPU has next to none). */
const BUSY_VCPU_MS = 200;

async function migrate(from: Hypervisor, to: Hypervisor, name: string): Promise<MigrationResult> {
  const { a, b } = linkPair();
  const incoming = acceptMigration(to, b, { from: "test source" });
  incoming.catch(() => undefined);
  return migrateOut(from, name, a, { to: "test destination" });
}

/** vCPU 1's host CPU time so far in this run (scheduler figures). */
const vcpu1Ms = (vm: Vm): number => vm.schedStats()!.vcpus[1]!.cpuMs;

for (const profile of ["pv", "full"] as const) {
  describe(`live migration of a running 2-vCPU ${profile} VM`, { skip: profile === "pv" ? skip : skipFull || EXTENDED }, () => {
    const a = new Hypervisor({ pcpus: 2 });
    const b = new Hypervisor({ pcpus: 2 });
    after(async () => {
      await a.close();
      await b.close();
    });
    const name = `${profile}-smp-mover`;

    test("both loops go on counting at the destination with both CPUs online; vCPU 1's new thread runs the guest", async () => {
      const vm = a.create({ name, spec: smpSpec(guestDir!, profile) });
      const con = new SmpConsole(vm);
      await vm.start();
      await con.each(3, "three lines from each loop");
      const r = await migrate(a, b, name);
      // The source printed everything up to its pause before it handed over its state.
      const before = con.lines();
      assert.equal(a.vms.has(name), false, "the source let it go");
      assert.ok(r.rounds.length >= 2, JSON.stringify(r.rounds));
      const moved = b.get(name);
      const con2 = new SmpConsole(moved);
      await con2.each(3, "three lines from each loop at the destination");
      assert.doesNotMatch(con2.text, /Linux version|OpenSBI/, "no reboot");
      assert.deepEqual([before[0]!.online, before[0]!.nproc], ["0-1", 2]);
      assert.deepEqual(continued(before, con2), []);
      assert.ok(vcpu1Ms(moved) > BUSY_VCPU_MS, `vCPU 1 ran at the destination: ${vcpu1Ms(moved).toFixed(0)} ms of host CPU`);
      if (profile === "pv") assert.deepEqual(moved.vcpus, { online: 2, max: 2 });
    });

    if (profile === "pv") {
      test("with one vCPU taken offline it moves back, and that vCPU stays offline", { skip: EXTENDED }, async () => {
        const vm = b.get(name);
        await vm.setVcpus(1, { timeoutMs: 240_000 });
        const con = new SmpConsole(vm);
        await con.each(2, "two lines from each loop with one CPU online");
        await migrate(b, a, name);
        const before = con.lines();
        assert.ok(before.slice(-2).every((l) => l.online === "0" && l.nproc === 1), JSON.stringify(before.slice(-2)));
        const back = a.get(name);
        const con2 = new SmpConsole(back);
        await con2.each(2, "two lines from each loop after moving back");
        assert.deepEqual(continued(before, con2), []);
        assert.deepEqual(back.vcpus, { online: 1, max: 2 }, "the destination knows one vCPU is online");
        assert.ok(con2.lines().every((l) => l.cpu === 0), "everything runs on CPU 0");
      });

      test("a migrated state without hart 1, or for another hart count, is refused and the incoming VM dropped", async () => {
        // At a, or still at b when the test that moves it back was skipped (extended run only).
        const vm = a.vms.get(name) ?? b.get(name);
        await vm.pause();
        const { machine } = await vm.machineState();
        vm.resume();
        const m = machine as MachineState;
        const c = new Hypervisor({ pcpus: 1 });
        try {
          for (const [bad, re] of [
            [{ ...m, harts: [m.harts[0]] }, /harts: 1 states for 2 harts/],
            [{ ...m, cpus: 1, harts: [m.harts[0]] }, /the saved machine had 1 harts, this one has 2/],
            [{ ...m, sbi: { ...m.sbi!, parked: [false] } }, /parked: 1 entries for 2 harts/],
          ] as const) {
            const incoming = c.create({ name: "incoming", spec: smpSpec(guestDir!, "pv") });
            await incoming.start({ incoming: true });
            await assert.rejects(incoming.completeIncoming(bad, null), (e: unknown) => e instanceof VmBuildError && re.test(e.message), `expected ${re}`);
            assert.equal(incoming.state, "stopped");
            await c.destroy("incoming");
          }
        } finally {
          await c.close();
        }
      });
    }
  });
}
