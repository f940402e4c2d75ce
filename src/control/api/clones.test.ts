/**
 * Clones through the daemon (clones.ts): `restore` with `clones: N`.
 *
 * Without a guest: every refusal (the count, the address range, a file that cannot be
 * cloned, taken names, an address another VM holds, the memory for all N) comes before
 * anything is made and leaves nothing; a batch whose clone k fails removes the k-1 made
 * before it, with their addresses and the network made for them. Here the hypervisor's
 * restore is replaced by one that only creates the VM (no guest runs), so what the daemon
 * does around it is seen alone.
 *
 * With a real 64 MiB guest (through fastify's inject, as a client would): two clones run,
 * each with its name, MAC and address, and ping each other by those addresses; an address
 * the second one holds is refused to a new batch, naming it; destroying it frees it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { macFromName } from "../../devices/virtio/net/mac.js";
import type { Hypervisor, RestoreOptions } from "../../hypervisor/hypervisor.js";
import type { MachineSpec } from "../../hypervisor/machine-spec.js";
import type { Vm } from "../../hypervisor/vm.js";
import { CLONES, type CloneBatch } from "./clones.js";
import type { VmmEvent } from "./events.js";
import { buildServer } from "./server.js";
import { writeFakeSnapshot } from "./snapshot-fakes.js";
import { diskFile, newVmm, noGuest, REAL_IMAGES, refused, tempDir, until } from "./testkit.js";
import type { Vmm } from "./vmm.js";
import { EXTENDED } from "../../test-tier.js";

const tmp = tempDir("paravm-clones-");
after(tmp.done);
let seq = 0;
const fresh = (prefix: string): string => join(tmp.dir, `${prefix}-${seq++}`);
const MiB = 1 << 20;

/** A well-formed snapshot of a small pv machine (snapshot-fakes.ts) with a NIC and whose agent had said hello, unless told otherwise. */
function fakeSnapshot(o: { name?: string; memBytes?: number; nic?: boolean; disk?: { path: string; readonly: boolean }; agent?: boolean } = {}): string {
  return writeFakeSnapshot(`${fresh("snap")}.snap`, {
    ...(o.name !== undefined ? { name: o.name } : {}),
    ...(o.memBytes !== undefined ? { memBytes: o.memBytes } : {}),
    bootargs: "console=hvc0 ip=10.0.2.2::10.0.2.1:255.255.255.0:saved:eth0:off",
    ...(o.nic !== false ? { mac: "02:00:00:00:00:01" } : {}),
    ...(o.disk ? { disk: o.disk } : {}),
    ...(o.agent !== false ? { agentHello: "paravm-agent 1" } : {}),
  });
}

/**
 * The hypervisor's restore replaced by one that creates the clone's VM as the real one
 * would (its name, a MAC from its name, its network) and hands it over, without running a
 * guest; `failAt` (1-based) makes that call fail after its VM exists, as a clone whose
 * agent did not answer does.
 */
function fakeRestore(hv: Hypervisor, failAt = 0): { calls: string[] } {
  const calls: string[] = [];
  hv.restore = async (_file: string, opts: RestoreOptions = {}): Promise<Vm> => {
    const name = opts.name!;
    calls.push(name);
    const spec: MachineSpec = { profile: "pv", cpus: 1, memBytes: 4 * MiB, kernel: new Uint8Array(4), bootargs: "", net: { mac: macFromName(`clone:${name}`) } };
    const vm = hv.create({ name, spec, ...(opts.network !== undefined ? { network: opts.network } : {}) });
    opts.onCreate?.(vm);
    if (calls.length === failAt) {
      await hv.destroy(name);
      throw new Error(`VM ${name}: the clone did not take its new identity (exit 1): injected`);
    }
    return vm;
  };
  return { calls };
}

async function withVmm(f: (vmm: Vmm) => Promise<void>, opts = {}): Promise<void> {
  const vmm = newVmm(null, opts);
  try {
    await f(vmm);
  } finally {
    await vmm.close();
  }
}

/** No record, no hypervisor VM, no reservation beyond `names`; the networks are `networks`. */
function only(vmm: Vmm, names: readonly string[], networks: readonly string[]): void {
  assert.deepEqual([...vmm.records.keys()].sort(), [...names].sort());
  assert.deepEqual([...vmm.hv.vms.keys()].sort(), [...names].sort());
  assert.deepEqual(Object.keys(vmm.networks).sort(), [...networks].sort());
  for (const n of ["web-1", "web-2", "web-3", "web-4", "web-5"]) if (!names.includes(n)) assert.equal(vmm.addresses.of(n), undefined, `${n} holds no address`);
}

describe("clones: refusals come before anything is made", () => {
  test("a count below 1, above the limit or not whole, and ip without clones: 422 saying so", () =>
    withVmm(async (vmm) => {
      const file = fakeSnapshot();
      await refused(vmm.do({ kind: "restore", file, clones: 0 }), "invalid", /^clones: 0: give at least 1$/);
      await refused(vmm.do({ kind: "restore", file, clones: -3 }), "invalid", /^clones: -3: give at least 1$/);
      await refused(vmm.do({ kind: "restore", file, clones: CLONES.MAX + 1 }), "invalid", new RegExp(`^clones: ${CLONES.MAX + 1} is more than ${CLONES.MAX}, the most one request makes`));
      await refused(vmm.do({ kind: "restore", file, clones: 2.5 }), "invalid", /clones: 2\.5 is not a whole number/);
      await refused(vmm.do({ kind: "restore", file, ip: "10.0.0.10/24" }), "invalid", /^ip: only with clones/);
      only(vmm, [], []);
    }));

  test("an address range that leaves its subnet or reaches its broadcast address, or an address without a prefix: 422", () =>
    withVmm(async (vmm) => {
      const file = fakeSnapshot();
      await refused(vmm.do({ kind: "restore", file, clones: 10, ip: "10.0.0.250/24" }), "invalid", /^ip: 10 addresses from 10\.0\.0\.250\/24 run past the subnet 10\.0\.0\.0\/24/);
      await refused(vmm.do({ kind: "restore", file, clones: 6, ip: "10.0.0.250/24" }), "invalid", /the broadcast address of 10\.0\.0\.0\/24/);
      await refused(vmm.do({ kind: "restore", file, clones: 2, ip: "10.0.0.0/24" }), "invalid", /is the address of the network 10\.0\.0\.0\/24 itself/);
      await refused(vmm.do({ kind: "restore", file, clones: 2, ip: "10.0.0.10" }), "invalid", /^ip: "10\.0\.0\.10" has no prefix length/);
      only(vmm, [], []);
    }));

  test("a snapshot whose agent had not started, one with a writable disk, or an address for a VM without a NIC: 422", () =>
    withVmm(async (vmm) => {
      await refused(vmm.do({ kind: "restore", file: fakeSnapshot({ agent: false }), clones: 2 }), "invalid", /cannot be cloned: its guest agent had not started when it was saved/);
      const disk = diskFile(tmp.dir, "shared.img");
      await refused(vmm.do({ kind: "restore", file: fakeSnapshot({ disk: { path: disk, readonly: false } }), clones: 2 }), "invalid", /cannot be cloned: its disk .*shared\.img is writable/);
      await refused(vmm.do({ kind: "restore", file: fakeSnapshot({ nic: false }), clones: 2, ip: "10.0.0.10/24" }), "invalid", /^ip: the VM in .* has no NIC/);
      await refused(vmm.do({ kind: "restore", file: fakeSnapshot({ nic: false }), clones: 2, network: "lan" }), "invalid", /^network: the VM in .* has no NIC/);
      only(vmm, [], []);
    }));

  test("taken names are a conflict listing each (409); a prefix too long for the names is 422", () =>
    withVmm(async (vmm) => {
      await vmm.do({ kind: "create", vm: { name: "web-2" } });
      await vmm.do({ kind: "create", vm: { name: "web-3" } });
      const file = fakeSnapshot();
      const e = await refused(vmm.do({ kind: "restore", file, name: "web", clones: 3 }), "conflict", /^2 of the 3 names are taken: VMs named "web-2", "web-3" already exist$/);
      assert.deepEqual(e.problems, ["web-2: in use", "web-3: in use"]);
      await refused(vmm.do({ kind: "restore", file, name: "web", clones: 2 }), "conflict", /^a VM named "web-2" already exists$/);
      await refused(vmm.do({ kind: "restore", file, name: "x".repeat(31), clones: 2 }), "invalid", /cannot be cloned as x+-1\.\.x+-2: 2 problems: x+-1: name/);
      only(vmm, ["web-2", "web-3"], []);
    }));

  test("an address another VM holds is a conflict naming that VM (409): a VM's command line, or another clone's", () =>
    withVmm(async (vmm) => {
      fakeRestore(vmm.hv);
      // The daemon's plan gives the first VM on lan 10.0.2.2 (ip= on its command line).
      await vmm.do({ kind: "create", vm: { name: "plain", nics: [{ network: "lan" }] } });
      const file = fakeSnapshot();
      await refused(vmm.do({ kind: "restore", file, name: "web", network: "lan", clones: 3, ip: "10.0.2.1/24" }), "conflict", /^ip: the 3 addresses from 10\.0\.2\.1\/24 cannot all be given: 10\.0\.2\.2 is held by VM plain on network lan \(on its kernel command line\)$/);
      // On another network the same address is free.
      await vmm.do({ kind: "restore", file, name: "web", network: "dmz", clones: 2, ip: "10.0.2.2/24" });
      assert.equal(vmm.addresses.of("web-2")?.address, "10.0.2.3/24");
      const e = await refused(vmm.do({ kind: "restore", file, name: "db", network: "dmz", clones: 3, ip: "10.0.2.1/24" }), "conflict", /2 problems: 10\.0\.2\.2 is held by VM web-1 on network dmz \(given to it as a clone\); 10\.0\.2\.3 is held by VM web-2/);
      assert.equal(e.problems?.length, 2);
      only(vmm, ["plain", "web-1", "web-2"], ["lan", "dmz"]);
    }));

  test("clones that do not fit the memory budget together are refused whole (507), though each would fit alone", () =>
    withVmm(
      async (vmm) => {
        const { calls } = fakeRestore(vmm.hv);
        // 64 MiB of RAM and 64 MiB of overhead each: four fill the 512 MiB budget, five do not.
        const file = fakeSnapshot({ memBytes: 64 * MiB });
        await refused(vmm.do({ kind: "restore", file, name: "web", network: "lan", clones: 5, ip: "10.0.0.10/24" }), "no-capacity", /the VMs need 640 MiB of host memory \(web-1 128 MiB, .*web-5 128 MiB.*but only 512 MiB of the 512 MiB budget is free/);
        assert.deepEqual(calls, [], "no clone was begun");
        only(vmm, [], []);
      },
      { hostMemBytes: 512 * MiB },
    ));
});

describe("clones: a batch whose clone k fails leaves nothing", () => {
  test("the clones made before it are removed with their addresses and the network made for them; the events say why", () =>
    withVmm(async (vmm) => {
      const { calls } = fakeRestore(vmm.hv, 3);
      const since = vmm.events.since().at(-1)?.seq ?? 0;
      const file = fakeSnapshot();
      await refused(
        vmm.do({ kind: "restore", file, name: "web", network: "fresh", clones: 4, ip: "10.0.0.10/24" }),
        "internal",
        /^clone 3 of 4 \(web-3\) failed: VM web-3: the clone did not take its new identity \(exit 1\): injected; the 2 made before it were removed$/,
      );
      assert.deepEqual(calls, ["web-1", "web-2", "web-3"], "clone 4 was never begun");
      only(vmm, [], []);
      const log = vmm.events.since(since).filter((e: VmmEvent) => e.type !== "state").map((e) => `${e.type} ${e.vm}`);
      assert.deepEqual(log, ["created web-1", "clone web-1", "created web-2", "clone web-2", "created web-3", "destroyed web-3", "destroyed web-2", "destroyed web-1"]);
      // The addresses are free again: the same batch goes through now.
      fakeRestore(vmm.hv);
      const b = (await vmm.do({ kind: "restore", file, name: "web", network: "fresh", clones: 4, ip: "10.0.0.10/24" })) as CloneBatch;
      assert.deepEqual(b.clones.map((c) => c.ip), ["10.0.0.10/24", "10.0.0.11/24", "10.0.0.12/24", "10.0.0.13/24"]);
    }));
});

describe("clones: the route", () => {
  test("clones and ip are typed by the schema (400); the answer lists each clone with its name, MAC, address and times (201)", () =>
    withVmm(async (vmm) => {
      fakeRestore(vmm.hv);
      const app = await buildServer({ vmm, token: null, version: "test", webRoot: join(tmp.dir, "no-web") });
      try {
        const post = (body: object) => app.inject({ method: "POST", url: "/api/v1/vms/restore", payload: body });
        const file = fakeSnapshot();
        for (const [body, why] of [
          [{ file, clones: "2" }, /body\.clones: must be integer/],
          [{ file, clones: 1.5 }, /body\.clones: must be integer/],
          [{ file, clones: 2, ip: 10 }, /body\.ip: must be string/],
        ] as const) {
          const r = await post(body);
          assert.equal(r.statusCode, 400, r.body);
          assert.match(r.json().message, why);
        }
        let r = await post({ file, clones: 65 });
        assert.deepEqual([r.statusCode, r.json().error], [422, "invalid"]);
        r = await post({ file, name: "web", network: "lan", clones: 2, ip: "10.9.0.5/16" });
        assert.equal(r.statusCode, 201, r.body);
        const b = r.json() as CloneBatch;
        assert.deepEqual(Object.keys(b).sort(), ["clones", "file", "network", "totalMs"]);
        assert.deepEqual([b.file, b.network], [file, "lan"]);
        assert.deepEqual(b.clones.map((c) => [c.name, c.ip]), [["web-1", "10.9.0.5/16"], ["web-2", "10.9.0.6/16"]]);
        for (const c of b.clones) {
          assert.match(String(c.mac), /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
          assert.ok(c.runningMs <= c.readyMs && c.readyMs <= b.totalMs, JSON.stringify(c));
        }
        assert.notEqual(b.clones[0]!.mac, b.clones[1]!.mac);
        // Each port lists the address it holds.
        const nets = (await app.inject({ url: "/api/v1/networks" })).json() as { name: string; ports: { vm: string; mac: string; ip: string | null }[] }[];
        assert.deepEqual(nets.find((n) => n.name === "lan")!.ports.map((p) => [p.vm, p.mac, p.ip]), b.clones.map((c) => [c.name, c.mac, c.ip]));
        const doc = (await app.inject({ url: "/openapi.json" })).json() as { components: { schemas: Record<string, unknown> } };
        assert.ok(doc.components.schemas.CloneBatch, "CloneBatch is documented");
      } finally {
        await app.close();
      }
    }));
});

const BOOT_TIMEOUT_MS = 120_000;
const AGENT_TIMEOUT_MS = 60_000;
const COUNTER = "i=0; while :; do i=$((i+1)); echo n=$i; usleep 300000; done";

describe("clones of a real guest through the API", { skip: noGuest || EXTENDED, timeout: 300_000 }, () => {
  let vmm: Vmm;
  let app: Awaited<ReturnType<typeof buildServer>>;
  const file = join(tmp.dir, "origin.snap");
  let batch: CloneBatch;
  const post = (body: object) => app.inject({ method: "POST", url: "/api/v1/vms/restore", payload: body });
  const exec = (vm: string, cmd: string) => vmm.record(vm).vm.agentExec(cmd, { timeoutMs: AGENT_TIMEOUT_MS });

  before(async () => {
    vmm = newVmm(null, { images: REAL_IMAGES });
    app = await buildServer({ vmm, token: null, version: "test", webRoot: join(tmp.dir, "no-web") });
    await vmm.do({ kind: "create", vm: { name: "origin", mem: "64M", exec: COUNTER, nics: [{ network: "lan" }] }, start: true });
    await until("origin counting", BOOT_TIMEOUT_MS, () => /n=2\r?\n/.test(vmm.consoleTail("origin").toString()));
    assert.equal(await vmm.record("origin").vm.agentReady(AGENT_TIMEOUT_MS), true);
    await vmm.do({ kind: "snapshot", name: "origin", file });
    // Stopped, not destroyed: it still holds 10.0.2.2 on lan, and the clones get the cores.
    await vmm.do({ kind: "stop", name: "origin" });
  });
  after(async () => {
    await app?.close();
    await vmm?.close();
  });

  test("two clones run with their own names, MACs and addresses, and ping each other by those addresses", async () => {
    const since = vmm.events.since().at(-1)?.seq ?? 0;
    const r = await post({ file, name: "web", network: "lan", clones: 2, ip: "10.0.0.10/24" });
    assert.equal(r.statusCode, 201, r.body);
    batch = r.json() as CloneBatch;
    assert.deepEqual(batch.clones.map((c) => [c.name, c.ip]), [["web-1", "10.0.0.10/24"], ["web-2", "10.0.0.11/24"]]);
    for (const c of batch.clones) {
      assert.equal(vmm.view(c.name).state, "running");
      const [host, mac, addr] = (await exec(c.name, "hostname; cat /sys/class/net/eth0/address; ip -o -4 addr show dev eth0 | awk '{print $4}'")).output.trim().split("\n");
      assert.deepEqual([host, mac, addr], [c.name, c.mac, c.ip]);
      assert.ok(c.runningMs > 0 && c.runningMs <= c.readyMs, JSON.stringify(c));
    }
    const ping = async (from: string, to: string) => (await exec(from, `ping -c 2 -W 5 ${to} >/dev/null && echo reached`)).output.trim();
    assert.equal(await ping("web-1", "10.0.0.11"), "reached");
    assert.equal(await ping("web-2", "10.0.0.10"), "reached");
    // Their guests went on from the snapshot: counting, not booting.
    await until("web-2 counting", AGENT_TIMEOUT_MS, () => /n=\d+\r?\n/.test(vmm.consoleTail("web-2").toString()));
    assert.doesNotMatch(vmm.consoleTail("web-2").toString(), /Linux version/);
    const clones = vmm.events.since(since).filter((e) => e.type === "clone");
    assert.deepEqual(clones.map((e) => [e.vm, e.index, e.of, e.ip, e.file]), [["web-1", 1, 2, "10.0.0.10/24", file], ["web-2", 2, 2, "10.0.0.11/24", file]]);
  });

  test("an address a clone holds is refused to another batch, naming it, and nothing is made", async () => {
    const before = [...vmm.records.keys()].sort();
    const r = await post({ file, name: "db", network: "lan", clones: 2, ip: "10.0.0.11/24" });
    assert.equal(r.statusCode, 409, r.body);
    assert.match(r.json().message, /10\.0\.0\.11 is held by VM web-2 on network lan \(given to it as a clone\)/);
    assert.deepEqual([...vmm.records.keys()].sort(), before);
  });

  test("destroying a clone frees its address: a new clone takes it", async () => {
    assert.equal((await app.inject({ method: "POST", url: "/api/v1/vms/web-2/stop" })).statusCode, 200);
    assert.equal((await app.inject({ method: "DELETE", url: "/api/v1/vms/web-2" })).statusCode, 204);
    assert.equal(vmm.addresses.of("web-2"), undefined);
    const r = await post({ file, name: "db", network: "lan", clones: 1, ip: "10.0.0.11/24" });
    assert.equal(r.statusCode, 201, r.body);
    const [c] = (r.json() as CloneBatch).clones;
    assert.deepEqual([c!.name, c!.ip], ["db-1", "10.0.0.11/24"]);
    // From the new clone: web-1 still has web-2's MAC for 10.0.0.11 in its ARP cache (the
    // guest has no arping to announce the new one), and learns db-1's from its ARP request.
    assert.equal((await exec("db-1", "ping -c 2 -W 5 10.0.0.10 >/dev/null && echo reached")).output.trim(), "reached");
  });
});
