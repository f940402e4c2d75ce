/**
 * The Vmm without booting a guest: every action checked whole and applied whole, each
 * refusal of its class (404/409/422/507), fleet apply, and the state file across a
 * restart (a second Vmm on the same directory).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { STATE_FILE } from "./state.js";
import { diskFile, newVmm, refused, tempDir } from "./testkit.js";
import type { FleetApplied, Vmm, VmView } from "./vmm.js";

const tmp = tempDir("paravm-vmm-");
after(tmp.done);
let n = 0;
const stateDir = (): string => join(tmp.dir, `state-${n++}`);

async function withVmm(f: (vmm: Vmm, dir: string) => Promise<void>, opts = {}): Promise<void> {
  const dir = stateDir();
  const vmm = newVmm(dir, opts);
  try {
    await f(vmm, dir);
  } finally {
    await vmm.close();
  }
}

describe("Vmm: create, list, destroy", () => {
  test("a VM is created from a fleet-file entry, normalized, listed, and destroyed", () =>
    withVmm(async (vmm) => {
      const v = (await vmm.do({ kind: "create", vm: { name: "web", mem: "64M", weight: 512, nics: [{ network: "lan" }] } })) as VmView;
      assert.equal(v.name, "web");
      assert.equal(v.state, "created");
      assert.equal(v.entry.mem, 64 * 1024 * 1024);
      assert.equal(v.settings.weight, 512);
      assert.match(String(v.entry.nics?.[0]?.mac), /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      assert.deepEqual(vmm.list().map((x) => x.name), ["web"]);
      assert.equal(vmm.networks.lan, "10.0.2.0/24");
      assert.deepEqual(vmm.events.since().map((e) => e.type), ["created"]);
      assert.equal(await vmm.do({ kind: "destroy", name: "web" }), null);
      assert.deepEqual(vmm.list(), []);
      assert.deepEqual(vmm.events.since(1).map((e) => e.type), ["destroyed"]);
    }));

  test("every problem of an entry is listed with its field (422), and nothing is created", () =>
    withVmm(async (vmm) => {
      const e = await refused(vmm.do({ kind: "create", vm: { name: "x", mem: "12Q", cpus: 99, colour: "red" } }), "invalid", /3 problems/);
      assert.equal(e.status, 422);
      assert.ok(e.problems!.some((p) => p.startsWith("mem: ")), e.message);
      assert.ok(e.problems!.some((p) => p.startsWith("cpus: ")), e.message);
      assert.ok(e.problems!.some((p) => p.startsWith("colour: unknown key")), e.message);
      assert.equal(vmm.records.size, 0);
      assert.equal(vmm.hv.vms.size, 0);
    }));

  test("a name in use, and a disk written by two VMs, are conflicts (409)", () =>
    withVmm(async (vmm) => {
      const disk = diskFile(tmp.dir, "shared.img");
      await vmm.do({ kind: "create", vm: { name: "a", disks: [{ path: disk }] } });
      await refused(vmm.do({ kind: "create", vm: { name: "a" } }), "conflict", /a VM named "a" already exists/);
      const e = await refused(vmm.do({ kind: "create", vm: { name: "b", disks: [{ path: disk, readonly: true }] } }), "conflict", /shared\.img is attached here and written by VM a/);
      assert.equal(e.status, 409);
      // A copy-on-write view of a disk nobody writes is fine.
      const ro = diskFile(tmp.dir, "ro.img");
      await vmm.do({ kind: "create", vm: { name: "c", disks: [{ path: ro, readonly: true }] } });
      await vmm.do({ kind: "create", vm: { name: "d", disks: [{ path: ro, snapshot: true }] } });
      assert.deepEqual(vmm.list().map((v) => v.name), ["a", "c", "d"]);
    }));

  test("a VM bigger than the host memory budget is refused with the budget's message (507)", () =>
    withVmm(
      async (vmm) => {
        const e = await refused(vmm.do({ kind: "create", vm: { name: "big", mem: "256M" } }), "no-capacity", /more than the whole 128 MiB budget/);
        assert.equal(e.status, 507);
        assert.equal(vmm.records.size, 0);
      },
      { hostMemBytes: 128 * 1024 * 1024 },
    ));

  test("an unknown VM is not-found (404) for every action", () =>
    withVmm(async (vmm) => {
      for (const kind of ["start", "stop", "pause", "resume", "reboot", "destroy"] as const) await refused(vmm.do({ kind, name: "ghost" }), "not-found", /no VM named "ghost"/);
      await refused(vmm.do({ kind: "set", name: "ghost", weight: 5 }), "not-found", /ghost/);
      await refused(vmm.do({ kind: "console-input", name: "ghost", data: "x" }), "not-found", /ghost/);
    }));

  test("lifecycle actions a VM's state does not allow are conflicts (409)", () =>
    withVmm(async (vmm) => {
      await vmm.do({ kind: "create", vm: { name: "a" } });
      for (const kind of ["stop", "pause", "resume", "reboot"] as const) await refused(vmm.do({ kind, name: "a" }), "conflict", new RegExp(`VM a is created: ${kind} needs it`));
      await refused(vmm.do({ kind: "console-input", name: "a", data: "ls\n" }), "conflict", /takes input only while it runs/);
    }));
});

describe("Vmm: live settings", () => {
  test("weight, cap, memory target and autoscale are applied together and kept in the entry", () =>
    withVmm(async (vmm) => {
      await vmm.do({ kind: "create", vm: { name: "a", mem: "128M" } });
      const v = (await vmm.do({ kind: "set", name: "a", weight: 1024, cap: 50, memTargetBytes: 64 * 1024 * 1024, autoscale: { cpu: { weight: { min: 128, max: 2048 } } } })) as VmView;
      assert.deepEqual({ w: v.settings.weight, c: v.settings.cap, m: v.settings.memTargetBytes }, { w: 1024, c: 50, m: 64 * 1024 * 1024 });
      assert.deepEqual(v.autoscale, { cpu: { weight: { min: 128, max: 2048 } } });
      assert.equal(v.entry["mem-target"], 64 * 1024 * 1024);
      const ev = vmm.events.since().at(-1)!;
      assert.equal(ev.type, "settings");
      assert.equal(ev.weight, 1024);
      const off = (await vmm.do({ kind: "set-autoscale", name: "a", limits: null })) as VmView;
      assert.equal(off.autoscale, null);
    }));

  test("one bad value refuses them all (422), every problem named", () =>
    withVmm(async (vmm) => {
      await vmm.do({ kind: "create", vm: { name: "a", mem: "128M", "max-cpus": 2 } });
      const e = await refused(vmm.do({ kind: "set", name: "a", weight: 700, cap: -1, memTargetBytes: 1024 * 1024, vcpus: 3 }), "invalid", /3 problems/);
      assert.ok(e.problems!.some((p) => p.startsWith("cap: ")), e.message);
      assert.ok(e.problems!.some((p) => p.startsWith("memTargetBytes: ")), e.message);
      assert.ok(e.problems!.some((p) => p.startsWith("vcpus: 3 is outside 1..2")), e.message);
      assert.equal(vmm.view("a").settings.weight, 256, "weight was not applied");
      await refused(vmm.do({ kind: "set", name: "a", vcpus: 2 }), "conflict", /vCPUs change only while it runs/);
    }));
});

describe("Vmm: fleet apply", () => {
  const fleet = (webMem: string, weight = 256): unknown => ({
    networks: { lan: { subnet: "10.9.0.0/24" } },
    vms: [
      { name: "web", mem: webMem, weight, nics: [{ network: "lan" }] },
      { name: "db", mem: "64M", nics: [{ network: "lan" }] },
    ],
  });

  test("creates what is new, leaves what is equal, updates settings, replaces a stopped VM's machine", () =>
    withVmm(async (vmm) => {
      const a = (await vmm.do({ kind: "fleet-apply", fleet: fleet("64M"), start: false })) as FleetApplied;
      assert.deepEqual(a, { created: ["web", "db"], replaced: [], updated: [], unchanged: [], started: [] });
      assert.equal(vmm.networks.lan, "10.9.0.0/24");
      const b = (await vmm.do({ kind: "fleet-apply", fleet: fleet("64M", 300), start: false })) as FleetApplied;
      assert.deepEqual(b, { created: [], replaced: [], updated: ["web"], unchanged: ["db"], started: [] });
      assert.equal(vmm.view("web").settings.weight, 300);
      const c = (await vmm.do({ kind: "fleet-apply", fleet: fleet("96M", 300), start: false })) as FleetApplied;
      assert.deepEqual(c.replaced, ["web"]);
      assert.equal(vmm.view("web").entry.mem, 96 * 1024 * 1024);
      assert.deepEqual(vmm.fleet().vms.map((v) => v.name).sort(), ["db", "web"]);
    }));

  test("a fleet with problems is refused whole (422), listing each with its path", () =>
    withVmm(async (vmm) => {
      const e = await refused(vmm.do({ kind: "fleet-apply", fleet: { vms: [{ name: "a", mem: "1Q" }, { name: "a" }] } }), "invalid", /2 problems/);
      assert.ok(e.problems!.some((p) => p.startsWith("vms[0].mem")), e.message);
      assert.ok(e.problems!.some((p) => p.startsWith("vms[1].name")), e.message);
      assert.equal(vmm.records.size, 0);
    }));

  test("a fleet that does not fit the budget when started is refused (507) and nothing is created", () =>
    withVmm(
      async (vmm) => {
        await refused(vmm.do({ kind: "fleet-apply", fleet: { vms: [{ name: "a", mem: "96M" }, { name: "b", mem: "96M" }] } }), "no-capacity", /only 160 MiB of the 160 MiB budget is free/);
        assert.equal(vmm.records.size, 0);
      },
      { hostMemBytes: 160 * 1024 * 1024 },
    ));
});

describe("Vmm: durable state", () => {
  test("a second Vmm on the same state directory lists the same VMs, stopped, with their settings", async () => {
    const dir = stateDir();
    const disk = diskFile(tmp.dir, "kept.img");
    const first = newVmm(dir);
    await first.do({ kind: "create", vm: { name: "a", mem: "64M", nics: [{ network: "lan" }], disks: [{ path: disk }] } });
    await first.do({ kind: "create", vm: { name: "b", workload: "idle" } });
    await first.do({ kind: "set", name: "a", weight: 777 });
    await first.do({ kind: "create", vm: { name: "gone" } });
    await first.do({ kind: "destroy", name: "gone" });
    const stored = JSON.parse(readFileSync(join(dir, STATE_FILE), "utf8")) as { vms: { entry: { name: string } }[] };
    assert.deepEqual(stored.vms.map((v) => v.entry.name), ["a", "b"]);
    const before = first.list();
    await first.close();

    const second = newVmm(dir);
    try {
      const after = second.list();
      assert.deepEqual(after.map((v) => [v.name, v.state, v.reason]), [["a", "stopped", "the daemon restarted"], ["b", "stopped", "the daemon restarted"]]);
      assert.deepEqual(after.map((v) => v.entry), before.map((v) => v.entry));
      assert.equal(second.view("a").settings.weight, 777);
      assert.deepEqual(second.view("b").entry.workload, "idle");
      assert.equal(second.networks.lan, "10.0.2.0/24");
    } finally {
      await second.close();
    }
  });
});
