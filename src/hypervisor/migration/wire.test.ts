/**
 * The migration protocol's messages (wire.ts) and the destination's checks of an offer
 * (dest.ts offerProblem): round trips, and what a hostile or mismatched source sends is
 * refused with a sentence, never thrown.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { MACHINE_STATE } from "../../machine/machine-state.js";
import { Hypervisor } from "../hypervisor.js";
import { VM_SNAPSHOT, type VmSnapshotInfo } from "../snapshot/vm-file.js";
import { offerProblem, type Offer } from "./dest.js";
import { linkPair } from "./link.js";
import { controlText, encodeBlob, encodeBlobPieces, encodePages, encodeZeros, FRAME, MIGRATION, parseBinary, parseControl } from "./wire.js";

const PAGES = 16;

describe("migration wire format", () => {
  test("pages and zeros round-trip with their page numbers and bytes", () => {
    const ram = new Uint8Array(PAGES * MIGRATION.PAGE);
    for (let i = 0; i < ram.length; i++) ram[i] = (i * 7 + (i >> 12)) & 0xff;
    const list = Uint32Array.from([3, 9, 15]);
    const m = parseBinary(encodePages(list, 1, 2, ram), PAGES);
    assert.ok(typeof m !== "string" && m.kind === "pages");
    assert.deepEqual([...m.pages], [9, 15]);
    assert.deepEqual(m.data.subarray(0, MIGRATION.PAGE), ram.subarray(9 * MIGRATION.PAGE, 10 * MIGRATION.PAGE));
    assert.deepEqual(m.data.subarray(MIGRATION.PAGE), ram.subarray(15 * MIGRATION.PAGE, 16 * MIGRATION.PAGE));
    const z = parseBinary(encodeZeros(list, 0, 3), PAGES);
    assert.ok(typeof z !== "string" && z.kind === "zeros");
    assert.deepEqual([...z.pages], [3, 9, 15]);
  });

  test("a batch fits the daemon's 1 MiB WebSocket message limit; blobs travel in pieces that do too", () => {
    assert.ok(8 + MIGRATION.BATCH_PAGES * (4 + MIGRATION.PAGE) <= 1024 * 1024);
    const kernel = new Uint8Array(2 * MIGRATION.BLOB_CHUNK + 5).fill(0x5a);
    const pieces = encodeBlobPieces("kernel", kernel);
    assert.equal(pieces.length, 3);
    assert.ok(pieces.every((p) => p.length <= 1024 * 1024));
    const back = pieces.map((p) => parseBinary(p, PAGES)).map((b) => (typeof b !== "string" && b.kind === "blob" ? b.bytes : new Uint8Array()));
    assert.deepEqual(Buffer.concat(back), Buffer.from(kernel));
    assert.equal(encodeBlobPieces("overlay", new Uint8Array(0)).length, 1, "an empty blob still arrives");
  });

  test("hostile binary messages are refused with a reason", () => {
    const ram = new Uint8Array(PAGES * MIGRATION.PAGE);
    const good = encodePages(Uint32Array.from([1]), 0, 1, ram);
    assert.match(parseBinary(good.subarray(0, 3), PAGES) as string, /3-byte binary message/);
    assert.match(parseBinary(good.subarray(0, good.length - 1), PAGES) as string, /bytes for 1 pages/);
    const beyond = encodePages(Uint32Array.from([1]), 0, 1, ram);
    new DataView(beyond.buffer).setUint32(8, PAGES, true);
    assert.match(parseBinary(beyond, PAGES) as string, /page 16 is beyond the 16 pages of RAM/);
    const huge = new Uint8Array(8);
    huge[0] = FRAME.ZEROS;
    new DataView(huge.buffer).setUint32(4, 0xffffffff, true);
    assert.match(parseBinary(huge, PAGES) as string, /for 4294967295 pages/);
    assert.match(parseBinary(Uint8Array.from([9, 0, 0, 0]), PAGES) as string, /unknown kind 9/);
    const blob = encodeBlob("kernel", new Uint8Array(4));
    blob.set(new TextEncoder().encode("evil!!"), 4);
    assert.match(parseBinary(blob, PAGES) as string, /a blob named "evil!!/);
  });

  test("control messages: parsed when well formed, else a reason", () => {
    assert.deepEqual(parseControl(controlText({ t: "round", n: 2, pages: 40 })), { t: "round", n: 2, pages: 40 });
    assert.match(parseControl("{") as string, /not JSON/);
    assert.match(parseControl("[]") as string, /without a type/);
    assert.match(parseControl('{"t":"refuse"}') as string, /without a reason/);
    assert.match(parseControl('{"t":"launch"}') as string, /unknown control message "launch"/);
    assert.match(parseControl('{"t":"round","n":"x","pages":1}') as string, /without numbers/);
  });

  test("a link pair delivers in order, later, and tells both ends when it is cut", async () => {
    const { a, b, cut } = linkPair();
    const got: (string | Uint8Array)[] = [];
    b.onMessage((m) => got.push(m));
    const closed: string[] = [];
    a.onClose((w) => closed.push(`a:${w}`));
    b.onClose((w) => closed.push(`b:${w}`));
    const buf = Uint8Array.from([1, 2, 3]);
    a.send("one");
    a.send(buf);
    buf[0] = 9;
    assert.equal(got.length, 0, "nothing arrives in the same turn");
    assert.equal(a.bufferedBytes(), 6);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(got, ["one", Uint8Array.from([1, 2, 3])], "a copy of what was sent, in order");
    cut("gone");
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(closed.sort(), ["a:gone", "b:gone"]);
    a.send("lost");
    await new Promise((r) => setImmediate(r));
    assert.equal(got.length, 2);
  });
});

describe("the destination's checks of an offer", () => {
  const work = mkdtempSync(join(tmpdir(), "paravm-offer-"));
  const hv = new Hypervisor({ pcpus: 1, hostMemBytes: 256 * 2 ** 20 });
  after(async () => {
    await hv.close();
    rmSync(work, { recursive: true, force: true });
  });
  const disk = join(work, "d.img");
  writeFileSync(disk, new Uint8Array(8192));
  const info: VmSnapshotInfo = {
    v: VM_SNAPSHOT.VERSION,
    name: "m",
    savedAt: new Date().toISOString(),
    profile: "pv",
    cpus: 1,
    memBytes: 64 * 2 ** 20,
    bootargs: "console=hvc0",
    weight: 256,
    cap: 0,
    disk: { spec: { path: disk, readonly: false, snapshot: false, cache: "writeback" }, size: 8192, mtimeMs: 0 },
  };
  const offer = (o: Partial<Offer> = {}, i: Partial<VmSnapshotInfo> = {}): Offer => ({
    t: "offer",
    protocol: MIGRATION.PROTOCOL,
    vmVersion: VM_SNAPSHOT.VERSION,
    machineVersion: MACHINE_STATE.VERSION,
    paravm: "test",
    info: { ...info, ...i },
    ...o,
  });

  test("a good offer passes (the disk is shared: written since is fine, resized is not), with more than one vCPU too", () => {
    assert.equal(offerProblem(hv, offer()), null);
    assert.equal(offerProblem(hv, offer({}, { cpus: 2, onlineCpus: 1 })), null);
  });

  test("each mismatch is refused with its reason", () => {
    assert.match(offerProblem(hv, offer({ protocol: 2 }))!, /speaks migration protocol 2, this paravm speaks 1/);
    assert.match(offerProblem(hv, offer({ machineVersion: 99 }))!, /state versions are 1\/99/);
    assert.match(offerProblem(hv, offer({}, { cpus: 9 }))!, /cpus is 9, not an integer in 1\.\.8/);
    assert.match(offerProblem(hv, offer({}, { memBytes: 512 * 2 ** 20 }))!, /needs .* of host memory, only .* is free here/);
    assert.match(offerProblem(hv, offer({}, { disk: { ...info.disk!, size: 4096 } }))!, /d\.img is 8192 bytes here, 4096 at the source/);
    assert.match(offerProblem(hv, offer({}, { disk: { ...info.disk!, spec: { ...info.disk!.spec, path: join(work, "none.img") } } }))!, /not reachable here \(ENOENT\)/);
    assert.match(offerProblem(hv, offer({}, { profile: "mips" as "pv" }))!, /profile "mips"/);
    assert.match(offerProblem(hv, offer({ network: "lan" }))!, /names network lan but has no NIC/);
    hv.create({ name: "m", spec: { profile: "pv", cpus: 1, memBytes: 64 * 2 ** 20, kernel: new Uint8Array(0), bootargs: "" } });
    assert.match(offerProblem(hv, offer())!, /a VM named "m" exists here already/);
  });
});
