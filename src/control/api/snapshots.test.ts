/**
 * The Vmm's `snapshot` and `restore` actions without booting a guest: every refusal has
 * its class (400 path, 404 VM, 409 state/unsupported/name/MAC/disk/target, 422 bad or
 * changed file, 507 memory) and leaves nothing behind (no record, no hypervisor VM, no
 * network, no file); a restored VM is listed with its file but never written to vms.json
 * nor given by GET /fleet. Snapshot files here are made by the real writer from a small
 * fake machine, so the file is well formed and each test damages one thing.
 */
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { VmmError } from "./errors.js";
import { buildServer } from "./server.js";
import { writeFakeSnapshot, type FakeSnapshot } from "./snapshot-fakes.js";
import { checkSnapshotPath } from "./snapshots.js";
import { STATE_FILE } from "./state.js";
import { diskFile, newVmm, refused, tempDir } from "./testkit.js";
import type { Vmm, VmView } from "./vmm.js";

const tmp = tempDir("paravm-snapapi-");
after(tmp.done);
let n = 0;
const fresh = (prefix: string): string => join(tmp.dir, `${prefix}-${n++}`);

const MiB = 1 << 20;
const MAC = "52:54:00:12:34:56";

async function withVmm(f: (vmm: Vmm, dir: string) => Promise<void>, opts = {}): Promise<void> {
  const dir = fresh("state");
  const vmm = newVmm(dir, opts);
  try {
    await f(vmm, dir);
  } finally {
    await vmm.close();
  }
}

/** A well-formed snapshot of a small fake pv machine (snapshot-fakes.ts): `disk` is written by it, `nic` gives it MAC. */
function fakeSnapshot(o: { name?: string; memBytes?: number; disk?: string; nic?: boolean; edit?: FakeSnapshot["edit"] } = {}): string {
  return writeFakeSnapshot(`${fresh("snap")}.snap`, {
    ...(o.name !== undefined ? { name: o.name } : {}),
    ...(o.memBytes !== undefined ? { memBytes: o.memBytes } : {}),
    bootargs: `console=hvc0 paravm.exec=${Buffer.from("echo hi").toString("base64")}`,
    ...(o.disk !== undefined ? { disk: { path: o.disk } } : {}),
    ...(o.nic === true ? { mac: MAC } : {}),
    ...(o.edit ? { edit: o.edit } : {}),
  });
}

/** Nothing of a refused restore is left: no record, no hypervisor VM. */
function nothingLeft(vmm: Vmm, names: readonly string[] = []): void {
  assert.deepEqual([...vmm.records.keys()], [...names]);
  assert.deepEqual([...vmm.hv.vms.keys()], [...names]);
}

describe("snapshot/restore file paths", () => {
  test("only absolute paths without NUL bytes are taken (400 otherwise), normalized", () => {
    assert.equal(checkSnapshotPath("/tmp/a/../b.snap"), "/tmp/b.snap");
    for (const [bad, why] of [
      ["", /file: is empty/],
      ["rel.snap", /file: "rel\.snap" is not an absolute path/],
      ["/tmp/x\0y", /file: contains a NUL byte/],
      [42, /file: must be a string, got number/],
      [null, /file: must be a string, got null/],
      ["/tmp/dir/", /names a directory/],
    ] as const) {
      assert.throws(() => checkSnapshotPath(bad), (e: unknown) => e instanceof VmmError && e.error === "bad-request" && why.test(e.message));
    }
  });
});

describe("Vmm snapshot action: refusals", () => {
  test("an unknown VM is not-found (404), a bad path a bad request (400) before anything else", () =>
    withVmm(async (vmm) => {
      await refused(vmm.do({ kind: "snapshot", name: "ghost", file: join(tmp.dir, "g.snap") }), "not-found", /no VM named "ghost"/);
      await refused(vmm.do({ kind: "snapshot", name: "ghost", file: "g.snap" }), "bad-request", /not an absolute path/);
    }));

  test("a VM that is not running or paused is a conflict (409), and no file appears", () =>
    withVmm(async (vmm) => {
      await vmm.do({ kind: "create", vm: { name: "a" } });
      const file = join(fresh("dir"), "..", "a.snap");
      await refused(vmm.do({ kind: "snapshot", name: "a", file }), "conflict", /VM a is created: snapshot needs it running or paused/);
      assert.equal(existsSync(file), false);
    }));

  test("a target that is not a snapshot is never replaced (409); a missing or read-only directory is 422", () =>
    withVmm(async (vmm) => {
      const disk = diskFile(tmp.dir, "own.img");
      await vmm.do({ kind: "create", vm: { name: "a", disks: [{ path: disk }] } });
      const doc = join(tmp.dir, "notes.txt");
      writeFileSync(doc, "precious");
      await refused(vmm.do({ kind: "snapshot", name: "a", file: doc }), "conflict", /notes\.txt exists and is not a paravm snapshot: it is not replaced/);
      assert.equal(readFileSync(doc, "utf8"), "precious");
      await refused(vmm.do({ kind: "snapshot", name: "a", file: disk }), "conflict", /own\.img is the disk of VM a/);
      await refused(vmm.do({ kind: "snapshot", name: "a", file: join(tmp.dir, "no-such-dir", "a.snap") }), "invalid", /the directory .*no-such-dir does not exist/);
      await refused(vmm.do({ kind: "snapshot", name: "a", file: tmp.dir }), "invalid", /is a directory/);
      if (process.getuid?.() !== 0) {
        const ro = fresh("ro");
        mkdirSync(ro);
        chmodSync(ro, 0o555);
        await refused(vmm.do({ kind: "snapshot", name: "a", file: join(ro, "a.snap") }), "invalid", /cannot write in/);
      }
      // An existing snapshot may be replaced: the check passes it, and the state refuses (the VM is not running).
      await refused(vmm.do({ kind: "snapshot", name: "a", file: fakeSnapshot() }), "conflict", /snapshot needs it running or paused/);
    }));
});

describe("Vmm restore action: refusals leave nothing", () => {
  test("a missing file, another kind of file, a truncated one and a corrupt one: 422 with the snapshot's message", () =>
    withVmm(async (vmm) => {
      const events = vmm.events.since().length;
      await refused(vmm.do({ kind: "restore", file: join(tmp.dir, "none.snap") }), "invalid", /snapshot .*none\.snap: cannot open it: ENOENT/);
      const junk = join(tmp.dir, "junk.snap");
      writeFileSync(junk, "this is not a snapshot, just text");
      await refused(vmm.do({ kind: "restore", file: junk }), "invalid", /junk\.snap: not a paravm snapshot/);
      const cut = fakeSnapshot();
      truncateSync(cut, readFileSync(cut).length - 100);
      await refused(vmm.do({ kind: "restore", file: cut }), "invalid", /truncated/);
      const bad = fakeSnapshot();
      const bytes = readFileSync(bad);
      bytes[bytes.length - 5]! ^= 0xff; // in the RAM section, the last one: the vm section still reads
      writeFileSync(bad, bytes);
      await refused(vmm.do({ kind: "restore", file: bad }), "invalid", /section ram is corrupt \(CRC-32/);
      nothingLeft(vmm);
      assert.equal(vmm.events.since().length, events, "no event for a refused restore");
    }));

  test("a file of another version is refused (422) naming the version", () =>
    withVmm(async (vmm) => {
      const file = fakeSnapshot({ edit: (i) => ({ ...i, v: 99 }) });
      await refused(vmm.do({ kind: "restore", file }), "invalid", /section vm: version 99; this paravm restores VM snapshots of version 1 only/);
      nothingLeft(vmm);
    }));

  test("a disk written since the snapshot is refused (422)", () =>
    withVmm(async (vmm) => {
      const disk = diskFile(tmp.dir, "changed.img");
      const file = fakeSnapshot({ disk });
      utimesSync(disk, new Date(), new Date(Date.now() + 5000));
      await refused(vmm.do({ kind: "restore", file }), "invalid", /cannot be restored: its disk .*changed\.img was written after the snapshot/);
      nothingLeft(vmm);
    }));

  test("a name in use is a conflict (409): the saved name, or the one given", () =>
    withVmm(async (vmm) => {
      await vmm.do({ kind: "create", vm: { name: "saved" } });
      const file = fakeSnapshot();
      await refused(vmm.do({ kind: "restore", file }), "conflict", /a VM named "saved" already exists/);
      await vmm.do({ kind: "create", vm: { name: "other" } });
      await refused(vmm.do({ kind: "restore", file, name: "other" }), "conflict", /a VM named "other" already exists/);
      await refused(vmm.do({ kind: "restore", file, name: "bad name!" }), "invalid", /cannot be restored as "bad name!": name/);
      nothingLeft(vmm, ["saved", "other"]);
    }));

  test("its MAC on the same network, or its disk written by another VM, is a conflict (409); no network is left made", () =>
    withVmm(async (vmm) => {
      await vmm.do({ kind: "create", vm: { name: "twin", nics: [{ network: "lan", mac: MAC }] } });
      const file = fakeSnapshot({ nic: true });
      await refused(vmm.do({ kind: "restore", file, name: "copy", network: "lan" }), "conflict", /nics\[0\]\.mac: 52:54:00:12:34:56 is already the MAC of VM twin on network lan/);
      const disk = diskFile(tmp.dir, "busy.img");
      await vmm.do({ kind: "create", vm: { name: "writer", disks: [{ path: disk }] } });
      await refused(vmm.do({ kind: "restore", file: fakeSnapshot({ disk }), name: "reader" }), "conflict", /busy\.img is written by this VM and written by VM writer/);
      await refused(vmm.do({ kind: "restore", file: fakeSnapshot(), network: "lan" }), "invalid", /network: the VM in .* has no NIC/);
      nothingLeft(vmm, ["twin", "writer"]);
      assert.deepEqual(Object.keys(vmm.networks), ["lan"]);
    }));

  test("a file whose machine the new VM refuses (a bad kernel): 422 naming the file, its record and hypervisor VM removed again, the log says so", () =>
    withVmm(async (vmm) => {
      // Well formed, but its kernel is 4 bytes: the owner thread refuses it while building the VM.
      const file = fakeSnapshot({ name: "doomed" });
      const before = vmm.events.since().length;
      await refused(vmm.do({ kind: "restore", file }), "invalid", /^snapshot .*\.snap: cannot be restored: kernel: not a RISC-V Linux Image/);
      nothingLeft(vmm);
      const log = vmm.events.since().slice(before).filter((e) => e.type !== "state");
      assert.deepEqual(log.map((e) => [e.type, e.vm]), [["created", "doomed"], ["destroyed", "doomed"]]);
      assert.equal(log[0]!.restoredFrom, file);
      assert.match(String(log[1]!.reason), /^the restore failed: /);
    }));

  test("a VM bigger than the memory budget is refused with the budget's message (507); no network is left made", () =>
    withVmm(
      async (vmm) => {
        const file = fakeSnapshot({ memBytes: 160 * MiB, nic: true });
        await refused(vmm.do({ kind: "restore", file, network: "fresh" }), "no-capacity", /more than the whole 128 MiB budget/);
        nothingLeft(vmm);
        assert.deepEqual(Object.keys(vmm.networks), []);
      },
      { hostMemBytes: 128 * MiB },
    ));
});

describe("Vmm: a restored VM is held, not kept", () => {
  test("listed with its file and a descriptive entry, but not in vms.json, GET /fleet, or a restarted daemon", async () => {
    const dir = fresh("state");
    const first = newVmm(dir);
    const file = fakeSnapshot({ nic: true });
    await first.do({ kind: "create", vm: { name: "kept" } });
    // The record as the restore action makes it, without running the guest (adopt is what onCreate calls).
    const vm = first.hv.create({ name: "r1", spec: { profile: "pv", cpus: 1, memBytes: 4 * MiB, kernel: new Uint8Array(4), bootargs: "" } });
    first.adopt(vm, { name: "r1", profile: "pv", cpus: 1, "max-cpus": 1, mem: 4 * MiB, exec: "echo hi" }, Date.now(), file);
    first.persist();
    const v = first.view("r1") as VmView;
    assert.equal(v.restoredFrom, file);
    assert.equal(first.view("kept").restoredFrom, undefined);
    const stored = JSON.parse(readFileSync(join(dir, STATE_FILE), "utf8")) as { vms: { entry: { name: string } }[] };
    assert.deepEqual(stored.vms.map((s) => s.entry.name), ["kept"]);
    assert.deepEqual(first.fleet().vms.map((e) => e.name), ["kept"]);
    // A fleet may not rebuild it from an entry.
    await refused(first.do({ kind: "fleet-apply", fleet: { vms: [{ name: "r1", mem: "8M" }] }, start: false }), "conflict", /VM r1 was restored from .* and its machine would change: remove it first/);
    await first.close();
    const second = newVmm(dir);
    try {
      assert.deepEqual(second.list().map((x) => x.name), ["kept"]);
    } finally {
      await second.close();
    }
  });

  test("no temporary files are left in a snapshot's directory after refusals", () => {
    assert.deepEqual(readdirSync(tmp.dir).filter((f) => f.endsWith(".tmp")), []);
  });
});

describe("the routes: POST /vms/{name}/snapshot and POST /vms/restore", () => {
  test("bad bodies are 400s naming the field; the action's refusals keep their status and message", () =>
    withVmm(async (vmm) => {
      const app = await buildServer({ vmm, token: null, version: "test", webRoot: join(tmp.dir, "no-web") });
      try {
        const post = (url: string, body?: unknown) => app.inject({ method: "POST", url, ...(body !== undefined ? { payload: body as object } : {}) });
        await vmm.do({ kind: "create", vm: { name: "a" } });
        for (const [body, why] of [
          [{}, /body: must have required property 'file'/],
          [{ file: "" }, /body\.file: must NOT have fewer than 1 characters/],
          [{ file: 7 }, /body\.file: must be string/],
          [{ file: "/x.snap", colour: "red" }, /body\.colour: unknown field/],
          [{ file: "x.snap" }, /file: "x\.snap" is not an absolute path/],
          [{ file: "/tmp/a\u0000b" }, /file: contains a NUL byte/],
        ] as const) {
          const r = await post("/api/v1/vms/a/snapshot", body);
          assert.equal(r.statusCode, 400, r.body);
          assert.equal(r.json().error, "bad-request");
          assert.match(r.json().message, why);
        }
        let r = await post("/api/v1/vms/nope/snapshot", { file: join(tmp.dir, "n.snap") });
        assert.deepEqual([r.statusCode, r.json().message], [404, 'no VM named "nope"']);
        r = await post("/api/v1/vms/a/snapshot", { file: join(tmp.dir, "a.snap") });
        assert.deepEqual([r.statusCode, r.json().message], [409, "VM a is created: snapshot needs it running or paused"]);
        r = await post("/api/v1/vms/restore", { file: "rel.snap" });
        assert.equal(r.statusCode, 400, r.body);
        r = await post("/api/v1/vms/restore", { file: join(tmp.dir, "gone.snap"), name: "b", colour: 1 });
        assert.equal(r.statusCode, 400, r.body);
        const junk = join(tmp.dir, "junk2.snap");
        writeFileSync(junk, "junk");
        r = await post("/api/v1/vms/restore", { file: junk });
        assert.equal(r.statusCode, 422, r.body);
        assert.equal(r.json().error, "invalid");
        assert.match(r.json().message, /^snapshot .*junk2\.snap: not a paravm snapshot/);
        r = await post("/api/v1/vms/restore", { file: fakeSnapshot(), name: "a" });
        assert.deepEqual([r.statusCode, r.json().message], [409, 'a VM named "a" already exists']);
        assert.deepEqual((await app.inject({ url: "/api/v1/vms" })).json().map((v: VmView) => v.name), ["a"]);
        const doc = (await app.inject({ url: "/openapi.json" })).json() as { paths: Record<string, Record<string, unknown>> };
        assert.ok(doc.paths["/api/v1/vms/{name}/snapshot"]?.post, "snapshot route documented");
        assert.ok(doc.paths["/api/v1/vms/restore"]?.post, "restore route documented");
      } finally {
        await app.close();
      }
    }));
});
