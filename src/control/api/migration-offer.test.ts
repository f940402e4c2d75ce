/**
 * What a destination daemon checks of an incoming VM beyond the hypervisor's checks
 * (migration.ts checkIncomingOffer), and how a migrated VM's address enters its plan: its
 * guest keeps the address another daemon gave it, which the destination numbered on its own.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Offer } from "../../hypervisor/migration/dest.js";
import { MIGRATION } from "../../hypervisor/migration/wire.js";
import { MACHINE_STATE } from "../../machine/machine-state.js";
import { VM_SNAPSHOT, type VmSnapshotInfo } from "../../hypervisor/snapshot/vm-file.js";
import { checkIncomingOffer } from "./migration.js";
import { newVmm } from "./testkit.js";
import type { VmView } from "./vmm.js";

const MiB = 1 << 20;

function offer(name: string, ip: string): Offer {
  const info: VmSnapshotInfo = {
    v: VM_SNAPSHOT.VERSION,
    name,
    savedAt: new Date().toISOString(),
    profile: "pv",
    cpus: 1,
    memBytes: 64 * MiB,
    bootargs: `console=hvc0 ip=${ip}:::255.255.255.0:${name}:eth0:off`,
    net: { mac: "02:00:00:00:00:42" },
    weight: 256,
    cap: 0,
  };
  return { t: "offer", protocol: MIGRATION.PROTOCOL, vmVersion: VM_SNAPSHOT.VERSION, machineVersion: MACHINE_STATE.VERSION, paravm: "test", info, network: "lan" };
}

describe("an incoming VM's address at the destination daemon", () => {
  test("one a VM here holds on the same network is refused, naming that VM; a free one passes", async () => {
    const vmm = newVmm(null);
    try {
      const local = (await vmm.do({ kind: "create", vm: { name: "local", mem: "64M", nics: [{ network: "lan" }] } })) as VmView;
      assert.match(local.entry.nics?.[0]?.network ?? "", /^lan$/);
      assert.throws(() => checkIncomingOffer(vmm, offer("mover", "10.0.2.2")), /mover's address conflicts with a VM here.*10\.0\.2\.2 is held by VM local on network lan/s);
      assert.equal(checkIncomingOffer(vmm, offer("mover", "10.0.2.7")).entry.name, "mover");
    } finally {
      await vmm.close();
    }
  });

  test("a VM created after one migrated in is not given the migrated VM's address", async () => {
    const vmm = newVmm(null);
    try {
      // As the migration route keeps an arrived VM: the hypervisor's VM, adopted with its entry.
      const k = checkIncomingOffer(vmm, offer("mover", "10.0.2.2"));
      const vm = vmm.hv.create({ name: "mover", spec: { profile: "pv", cpus: 1, memBytes: 64 * MiB, kernel: new Uint8Array(4), bootargs: offer("mover", "10.0.2.2").info.bootargs, net: { mac: Uint8Array.of(2, 0, 0, 0, 0, 0x42) } }, network: "lan" });
      if (!("lan" in vmm.networks)) vmm.networks["lan"] = "10.0.2.0/24";
      vmm.adopt(vm, k.entry, k.createdAt, null);
      await vmm.do({ kind: "create", vm: { name: "fresh", mem: "64M", nics: [{ network: "lan" }] } });
      assert.match(vmm.hv.get("fresh").spec.bootargs, /ip=10\.0\.2\.3:/, "not 10.0.2.2: mover holds it");
    } finally {
      await vmm.close();
    }
  });
});
