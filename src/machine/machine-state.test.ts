/**
 * machine-state.ts without booting Linux (the real-guest tests are in
 * src/hypervisor/snapshot/machine-restore.test.ts): a machine's state survives JSON, guest
 * time goes on from the saved mtime whatever the new host clock says, and a state for
 * another version, profile, RAM size, hart count or device set — or with a corrupt field —
 * is refused with a message before the machine is touched.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryBackend } from "../devices/virtio/blk/device.js";
import { IMAGE } from "./linux-image.js";
import { FullMachine } from "./full.js";
import { configProblem, loadMachine, MachineStateError, restoreFull, restorePv, saveMachine, type MachineState } from "./machine-state.js";
import { PvMachine, type PvOptions } from "./pv.js";

const MiB = 1 << 20;

/** A tiny kernel: an Image header and a loop (`j .`), enough to build and run a machine. */
function kernel(): Uint8Array {
  const b = new Uint8Array(0x1000);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x0000_006f, true); // j .
  v.setBigUint64(0x08, 0x20_0000n, true);
  v.setBigUint64(0x10, 0x1000n, true);
  b.set(new TextEncoder().encode(IMAGE.MAGIC), IMAGE.MAGIC_OFFSET);
  return b;
}

const clockAt = (c: { ms: number }) => () => c.ms;
const pvOpts = (c: { ms: number }, extra: Partial<PvOptions> = {}): PvOptions => ({
  kernel: kernel(),
  memBytes: 16 * MiB,
  output: () => {},
  clockMs: clockAt(c),
  maxInsns: 10_000,
  ...extra,
});
const json = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

describe("machine state of a pv machine", () => {
  test("survives JSON into a new machine: registers, RAM and devices as saved, guest time from the saved mtime", () => {
    const c1 = { ms: 0 };
    const a = new PvMachine(pvOpts(c1));
    a.run();
    c1.ms = 5_000;
    a.host.setTimer(0, 123_456_789);
    a.ram.writeBytes(a.ram.base + 8 * MiB, Uint8Array.of(1, 2, 3));
    const saved = saveMachine(a);
    const state = json(saved.state);
    assert.equal(state.profile, "pv");
    assert.equal(state.mtime, 50_000_000, "5 s of guest time at 10 MHz");
    assert.deepEqual(Object.keys(state.devices).sort(), ["plic", "virtio-balloon0", "virtio-console0", "virtio-rng0"]);

    // An hour later on the host clock (or another process whose clock started elsewhere).
    const c2 = { ms: 3_600_000 };
    const b = restorePv(pvOpts(c2), { state, ram: saved.ram.slice() });
    assert.equal(b.host.now(), 50_000_000, "the guest's time goes on from where it was saved");
    c2.ms += 1000;
    assert.equal(b.host.now(), 60_000_000, "and runs at 10 MHz from there");
    assert.equal(b.hart.getPc(), a.hart.getPc());
    assert.equal(b.hart.instret, a.hart.instret);
    assert.equal(b.host.deadlines[0], 123_456_789);
    assert.deepEqual(b.ram.readBytes(b.ram.base + 8 * MiB, 3), Uint8Array.of(1, 2, 3));
    assert.deepEqual(json(saveMachine(b).state.devices), state.devices);
  });

  test("a state for another version, profile, RAM size or number of harts is refused before a machine is built", () => {
    const c = { ms: 0 };
    const { state, ram } = saveMachine(new PvMachine(pvOpts(c)));
    const s = json(state);
    const refused = (st: unknown, opts: PvOptions, re: RegExp) =>
      assert.throws(() => restorePv(opts, { state: st, ram }), (e: unknown) => e instanceof MachineStateError && re.test((e as Error).message));
    refused({ ...s, v: 99 }, pvOpts(c), /machine state version 99; this paravm restores version 1 only/);
    refused({ ...s, profile: "full" }, pvOpts(c), /a full machine's state cannot be restored as a pv machine/);
    refused(s, pvOpts(c, { memBytes: 32 * MiB }), /the saved machine had 16 MiB of RAM, this one has 32 MiB/);
    refused(s, pvOpts(c, { cpus: 2 }), /the saved machine had 1 harts, this one has 2/);
    assert.equal(configProblem(s, { profile: "full", memBytes: 16 * MiB, cpus: 1 }), "a pv machine's state cannot be restored as a full machine");
    const fw = new Uint8Array(64);
    assert.throws(
      () => restoreFull({ kernel: kernel(), firmware: fw, memBytes: 16 * MiB, output: () => {} }, { state: s, ram }),
      /a pv machine's state cannot be restored as a full machine/,
    );
  });

  test("corrupt harts, devices or SBI fields are refused and the new machine's RAM and harts are left alone", () => {
    const c = { ms: 0 };
    const { state, ram } = saveMachine(new PvMachine(pvOpts(c)));
    const s = json(state);
    const target = new PvMachine(pvOpts(c));
    const pc = target.hart.getPc();
    const before = target.ram.u8.slice(0, 0x40_0000);
    const refused = (st: unknown, re: RegExp) =>
      assert.throws(() => loadMachine(target, st, ram), (e: unknown) => e instanceof MachineStateError && re.test((e as Error).message));
    refused({ ...s, harts: [{ ...s.harts[0], priv: 2 }] }, /harts\[0\]: priv 2 is not U, S or M/);
    refused({ ...s, harts: [{ ...s.harts[0], x: [1, 2] }] }, /harts\[0\]: x: expected 64 numbers/);
    refused({ ...s, harts: [] }, /harts: 0 states for 1 harts/);
    refused({ ...s, mtime: -5 }, /mtime: -5 is not a count/);
    const { "virtio-rng0": _rng, ...fewer } = s.devices;
    refused({ ...s, devices: fewer }, /the snapshot's machine had plic, virtio-balloon0, virtio-console0; this one has plic, virtio-balloon0, virtio-console0, virtio-rng0/);
    const sbi = s.sbi!;
    refused({ ...s, sbi: { ...sbi, hsm: [9] } }, /pv sbi: hsm: 9 is not in 0\.\.6/);
    refused({ ...s, sbi: { ...sbi, sta: { ...sbi.sta, shmem: [0x1234] } } }, /sta: shmem: 0x1234 is not a record in RAM/);
    refused({ ...s, sbi: { ...sbi, deadlines: ["soon"] } }, /deadlines\[0\]: x: soon is not a deadline/);
    refused({ ...s, sbi: { ...sbi, resumeAt: [{ addr: 3, opaque: [0, 0] }] } }, /resumeAt\[0\]: addr: 0x3 is not code in RAM/);
    assert.throws(() => loadMachine(target, s, new Uint8Array(4 * MiB)), /the saved RAM is 4194304 bytes, this machine has 16777216/);
    assert.equal(target.hart.getPc(), pc, "the hart was not touched");
    assert.deepEqual(target.ram.u8.slice(0, 0x40_0000), before, "nor the RAM");
  });

  test("a device state found bad while loading names the device", () => {
    const c = { ms: 0 };
    const disk = new MemoryBackend(64 * 512);
    const { state, ram } = saveMachine(new PvMachine(pvOpts(c, { disk: { backend: disk } })));
    const s = json(state) as MachineState & { devices: Record<string, Record<string, unknown>> };
    const bad = { ...s, devices: { ...s.devices, "virtio-blk0": { ...s.devices["virtio-blk0"], status: "ok" } } };
    assert.throws(() => restorePv(pvOpts(c, { disk: { backend: disk } }), { state: bad, ram }), /device virtio-blk0: virtio device 2: status: ok is not a whole number/);
    assert.throws(
      () => restorePv(pvOpts(c, { disk: { backend: new MemoryBackend(32 * 512) } }), { state: s, ram }),
      /device virtio-blk0: virtio-blk: sectors: the snapshot's disk had 64 sectors, this one has 32: not the same disk/,
    );
  });
});

describe("machine state of a full machine", () => {
  test("survives JSON into a new machine; the CLINT's mtime goes on from the saved value", () => {
    const c = { ms: 0 };
    const opts = { kernel: kernel(), firmware: Uint8Array.of(0x6f, 0, 0, 0), memBytes: 64 * MiB, output: () => {}, clockMs: clockAt(c), maxInsns: 10_000 };
    const a = new FullMachine(opts);
    a.run();
    c.ms = 2_000;
    const saved = saveMachine(a);
    const state = json(saved.state);
    assert.equal(state.profile, "full");
    assert.equal(state.mtime, 20_000_000);
    assert.ok("clint" in state.devices && "uart0" in state.devices && "test" in state.devices);
    c.ms = 9_999_000;
    const b = restoreFull(opts, { state, ram: saved.ram.slice() });
    assert.equal(b.clint.mtime(), 20_000_000);
    assert.equal(b.hart.getPc(), a.hart.getPc());
    assert.equal(b.secondariesInReset, a.secondariesInReset);
    assert.throws(() => restorePv(pvOpts(c, { memBytes: 64 * MiB }), { state, ram: saved.ram }), /a full machine's state cannot be restored as a pv machine/);
  });
});
