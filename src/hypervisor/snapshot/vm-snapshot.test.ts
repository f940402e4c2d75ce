/**
 * Snapshots of running VMs through the hypervisor (vCPU worker threads), skipped without
 * built guest images: a pv and a full VM count on their consoles, are snapshotted while
 * they run (paused for the write, then resumed), and a second Hypervisor restores each
 * file. The counter goes on from where it was (no reboot), uptime continues, and the disk
 * marker written before the snapshot reads back. Files that must not restore are refused
 * with a message and leave no VM behind.
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { defaultGuestDir } from "../../control/args.js";
import { FULL_DEFAULTS } from "../../machine/full.js";
import { PV_DEFAULTS } from "../../machine/pv.js";
import { Hypervisor } from "../hypervisor.js";
import type { MachineSpec } from "../machine-spec.js";
import type { Vm } from "../vm.js";
import { VmSnapshotError } from "../vm.js";
import { SnapshotError } from "./format.js";
import { counterScript, CountingConsole, SNAP_MARKER } from "./snapshot-testkit.js";
import { EXTENDED } from "../../test-tier.js";

const guestDir = defaultGuestDir();
const skip = guestDir === null ? "no guest images in ~/.cache/paravm" : false;
const skipFull = skip || (!existsSync(FULL_DEFAULTS.FIRMWARE) ? `no ${FULL_DEFAULTS.FIRMWARE} (package opensbi)` : false);
const work = mkdtempSync(join(tmpdir(), "paravm-vmsnap-"));
after(() => rmSync(work, { recursive: true, force: true }));

const MiB = 1 << 20;
const DISK_BYTES = 4 * MiB;
const MARKER = SNAP_MARKER;
const counter = (dev: string): string => counterScript(dev, 200_000);

function spec(profile: "pv" | "full", disk: string): MachineSpec {
  const exec = Buffer.from(counter(profile === "pv" ? "/dev/vda" : "/dev/sda")).toString("base64");
  const base = profile === "pv" ? PV_DEFAULTS.BOOTARGS : FULL_DEFAULTS.BOOTARGS;
  return {
    profile,
    cpus: 1,
    memBytes: 64 * MiB,
    kernel: readFileSync(join(guestDir!, "Image")),
    initrd: readFileSync(join(guestDir!, "initramfs.cpio.gz")),
    ...(profile === "full" ? { firmware: readFileSync(FULL_DEFAULTS.FIRMWARE) } : {}),
    // pv keeps its agent: the restored VM's agent must answer without a second hello.
    bootargs: `${base} quiet paravm.nodisk${profile === "full" ? " paravm.noagent" : ""} paravm.exec=${exec}`,
    disk: { path: disk, readonly: false, snapshot: false, cache: "writeback" },
  };
}

for (const profile of ["pv", "full"] as const) {
  describe(`snapshot of a running ${profile} VM, restored by another hypervisor`, { skip: profile === "pv" ? skip : skipFull }, () => {
    const disk = join(work, `${profile}.img`);
    const file = join(work, `${profile}.snap`);
    const hvs: Hypervisor[] = [];
    after(async () => {
      for (const hv of hvs) await hv.close();
    });

    test("the counter and uptime go on after restore, the disk marker reads back; the source kept running", async () => {
      writeFileSync(disk, new Uint8Array(DISK_BYTES));
      const a = new Hypervisor({ pcpus: 1 });
      hvs.push(a);
      const vm = a.create({ name: `${profile}-src`, spec: spec(profile, disk) });
      const con = new CountingConsole(vm);
      await vm.start();
      await con.until("third count", (c) => c.length >= 3);
      const r = await vm.snapshot(file);
      assert.equal(vm.state, "running", "a running VM is resumed after its snapshot");
      assert.ok(r.ramPresent > 0 && r.ramPresent < r.ramPages, `zero pages left out: ${r.ramPresent} of ${r.ramPages} written`);
      const atSave = con.counts();
      const last = atSave[atSave.length - 1]!;
      await con.until("a count after the snapshot", (c) => c.length > atSave.length);
      await vm.stop();

      // The restore runs on a thread started ahead (vcpu-threads.ts), as in the daemon.
      const b = new Hypervisor({ pcpus: 1, spareThreads: 1 });
      hvs.push(b);
      const restoreAt = Date.now();
      const restored = await b.restore(file, { name: `${profile}-copy` });
      assert.equal(b.threads.taken, 1, "the restored VM's thread was the spare");
      assert.equal(b.threads.ready, 1, "another spare took its place");
      const con2 = new CountingConsole(restored);
      const after = await con2.until("three counts after restore", (c) => c.length >= 3);
      // Guest time goes on from the snapshot: it may not jump by more than the wall time since the restore began.
      const sinceRestoreS = (Date.now() - restoreAt) / 1000;
      assert.doesNotMatch(con2.text, /Linux version|OpenSBI/, "no reboot: no kernel or firmware banner");
      assert.ok(after[0]!.n > 1 && after[0]!.n <= last.n + 2, `the count goes on: ${last.n} at the snapshot, ${after[0]!.n} first after restore`);
      for (let i = 1; i < after.length; i++) assert.equal(after[i]!.n, after[i - 1]!.n + 1, "one count after another");
      assert.ok(
        after[0]!.up >= last.up && after[0]!.up < last.up + sinceRestoreS + 1,
        `uptime goes on: ${last.up} s at the snapshot, ${after[0]!.up} s after restore, ${sinceRestoreS.toFixed(1)} s since the restore began`,
      );
      assert.ok(after.every((c) => c.m === MARKER), "the marker written before the snapshot reads back from the disk");
      if (profile === "pv") {
        assert.equal(await restored.agentReady(1000), true, "the agent was up at the snapshot: it is up after restore (regression: it waited for a second hello)");
        assert.deepEqual(await restored.agentExec("echo restored-agent", { timeoutMs: 60_000 }), { status: 0, output: "restored-agent\n" });
      }
      await restored.stop();
    });

    test("refused: a corrupted file, a disk written since, a taken name; nothing is left behind", async () => {
      const b = new Hypervisor({ pcpus: 1 });
      hvs.push(b);
      const bad = join(work, `${profile}-bad.snap`);
      copyFileSync(file, bad);
      const bytes = readFileSync(bad);
      bytes[bytes.length - 100] ^= 0x40;
      writeFileSync(bad, bytes);
      await assert.rejects(b.restore(bad), (e: unknown) => e instanceof SnapshotError && /corrupt \(CRC-32/.test(e.message));
      await assert.rejects(b.restore(join(work, "none.snap")), (e: unknown) => e instanceof SnapshotError && /cannot open it: ENOENT/.test(e.message));
      b.create({ name: "taken", spec: spec(profile, join(work, "other.img")) });
      await assert.rejects(b.restore(file, { name: "taken" }), /a VM named "taken" already exists/);
      const now = new Date();
      utimesSync(disk, now, now);
      await assert.rejects(b.restore(file), (e: unknown) => e instanceof SnapshotError && /was written after the snapshot/.test(e.message));
      assert.deepEqual([...b.vms.keys()], ["taken"], "no VM was left by a refused restore");
      await assert.rejects(b.get("taken").snapshot(join(work, "x.snap")), (e: unknown) => e instanceof VmSnapshotError && /is created: only a running or paused VM/.test(e.message));
    });
  });
}

describe("clones: two VMs from one snapshot", { skip: skip || EXTENDED }, () => {
  const file = join(work, "clone.snap");
  const hvs: Hypervisor[] = [];
  after(async () => {
    for (const hv of hvs) await hv.close();
  });

  test("both run on, each with its own name, MAC and address, and they reach each other", async () => {
    const exec = Buffer.from("i=0; while :; do i=$((i+1)); echo n=$i up=0 m=-; usleep 300000; done").toString("base64");
    const spec: MachineSpec = {
      profile: "pv",
      cpus: 1,
      memBytes: 64 * MiB,
      kernel: readFileSync(join(guestDir!, "Image")),
      initrd: readFileSync(join(guestDir!, "initramfs.cpio.gz")),
      bootargs: `${PV_DEFAULTS.BOOTARGS} quiet ip=10.0.2.2::10.0.2.1:255.255.255.0::eth0:off paravm.exec=${exec}`,
      net: { mac: Uint8Array.from([2, 0, 0, 0, 0, 1]) },
    };
    const a = new Hypervisor({ pcpus: 1 });
    hvs.push(a);
    const src = a.create({ name: "origin", spec, network: "n" });
    const con = new CountingConsole(src);
    await src.start();
    await con.until("two counts", (c) => c.length >= 2);
    assert.equal(await src.agentReady(60_000), true);
    await src.snapshot(file);
    await src.stop();

    const b = new Hypervisor({ pcpus: 2 });
    hvs.push(b);
    const clones: Vm[] = [];
    const consoles: CountingConsole[] = [];
    for (const [name, ip] of [["clone-1", "10.0.2.11/24"], ["clone-2", "10.0.2.12/24"]] as const) {
      clones.push(await b.restore(file, { name, network: "n", clone: { ip }, onCreate: (v) => void consoles.push(new CountingConsole(v)) }));
    }
    for (const c of consoles) await c.until("counts after restore", (x) => x.length >= 2);
    const ids = await Promise.all(clones.map(async (v) => (await v.agentExec("hostname; cat /sys/class/net/eth0/address; ip -o -4 addr show dev eth0 | awk '{print $4}'")).output.trim().split("\n")));
    assert.equal(ids[0]![0], "clone-1");
    assert.equal(ids[1]![0], "clone-2");
    assert.notEqual(ids[0]![1], ids[1]![1], "each clone has a MAC of its own");
    assert.notEqual(ids[0]![1], "02:00:00:00:00:01", "not the original's MAC");
    assert.deepEqual([ids[0]![2], ids[1]![2]], ["10.0.2.11/24", "10.0.2.12/24"]);
    const ping = await clones[0]!.agentExec("ping -c 2 -W 5 10.0.2.12 >/dev/null && echo reached", { timeoutMs: 60_000 });
    assert.equal(ping.output.trim(), "reached", "clone-1 reaches clone-2 on the switch");
  });
});
