/**
 * The machine state of a VM whose harts run on threads of their own (hart-part.ts,
 * machine-state.ts, remote-vcpu.ts, vcpu-link.ts), without booting Linux and without
 * threads: the owner machine and a RemoteVcpu for hart 1 live in this thread over the same
 * RAM and link, as two vCPU threads would. Hart 1's part (registers, its share of the SBI,
 * whether it is held in reset) and what waits in the link (an IPI, a start request) make one
 * state; a new owner and a new hart-1 "thread" continue it, reading the same guest time.
 * States with a hart missing, a wrong hart count or bad link words are refused whole.
 * (Real 2-vCPU guests: src/hypervisor/snapshot/vm-snapshot-smp.test.ts.)
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StateError } from "../devices/state.js";
import { HartState as HsmState } from "../sbi/hsm.js";
import { IMAGE } from "./linux-image.js";
import { FullMachine, type FullOptions } from "./full.js";
import type { HartPart, RemoteHarts } from "./hart-part.js";
import { loadMachine, MachineStateError, saveMachine, type MachineState } from "./machine-state.js";
import { PvMachine, type PvOptions } from "./pv.js";
import { RemoteVcpu } from "./remote-vcpu.js";
import { HART_WORD, LINK, VcpuLink, type MachineThreads } from "./vcpu-link.js";

const MiB = 1 << 20;
const SSIP = 1 << 1;
/** Where hart 1 is started in the tests: an instruction in the tiny kernel's RAM. */
const START_OFFSET = 0x20_0000;

/** A tiny kernel: an Image header and a loop (`j .`). */
function kernel(): Uint8Array {
  const b = new Uint8Array(0x1000);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x0000_006f, true); // j .
  v.setBigUint64(0x08, 0x20_0000n, true);
  v.setBigUint64(0x10, 0x1000n, true);
  b.set(new TextEncoder().encode(IMAGE.MAGIC), IMAGE.MAGIC_OFFSET);
  return b;
}

const json = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** An owner of a 2-hart VM on `clock`, as hart 0's thread builds it. */
function owner(profile: "pv", clock: { ms: number }): { owner: PvMachine; link: VcpuLink };
function owner(profile: "full", clock: { ms: number }): { owner: FullMachine; link: VcpuLink };
function owner(profile: "pv" | "full", clock: { ms: number }): { owner: PvMachine | FullMachine; link: VcpuLink } {
  const link = VcpuLink.create(2);
  const threads: MachineThreads = { link, epochMs: 0, slice: 1000 };
  const clockMs = (): number => clock.ms;
  if (profile === "pv") {
    const opts: PvOptions = { kernel: kernel(), memBytes: 16 * MiB, cpus: 2, output: () => {}, clockMs, threads };
    return { owner: new PvMachine(opts), link };
  }
  const opts: FullOptions = { kernel: kernel(), firmware: Uint8Array.of(0x6f, 0, 0, 0), memBytes: 64 * MiB, cpus: 2, output: () => {}, clockMs, threads };
  return { owner: new FullMachine(opts), link };
}

/** Hart 1 of the owner's VM, as its own thread builds it (a restored VM's with the owner's time base). */
function hart1(o: { owner: PvMachine | FullMachine; link: VcpuLink }, clock: { ms: number }, time?: RemoteHarts["time"]): RemoteVcpu {
  const m = o.owner;
  return new RemoteVcpu({
    profile: m.profile,
    hartId: 1,
    cpus: 2,
    ram: { sab: m.ram.sab, base: m.ram.base, size: m.ram.size },
    regions: m.bus.regions.map((r) => ({ base: r.base, size: r.size, name: r.name })),
    threads: { link: o.link, epochMs: 0, slice: 1000 },
    ...(m instanceof FullMachine ? { firmwareEntry: { pc: m.ram.base, fdt: m.layout.fdtAddr } } : {}),
    output: () => {},
    clockMs: () => clock.ms,
    ...(time ? { time } : {}),
  });
}

/** Both threads of a VM. */
function pvPair(clock: { ms: number }): { owner: PvMachine; remote: RemoteVcpu; link: VcpuLink } {
  const o = owner("pv", clock);
  return { ...o, remote: hart1(o, clock) };
}

function fullPair(clock: { ms: number }): { owner: FullMachine; remote: RemoteVcpu; link: VcpuLink } {
  const o = owner("full", clock);
  return { ...o, remote: hart1(o, clock) };
}

/** A new VM continuing `s`: its owner loads the state, then hart 1's thread is built with the time base and loads its part. */
function restored(profile: "pv" | "full", clock: { ms: number }, s: MachineState, ram: Uint8Array | null): { owner: PvMachine | FullMachine; remote: RemoteVcpu; harts: RemoteHarts } {
  const o = profile === "pv" ? owner("pv", clock) : owner("full", clock);
  const harts = loadMachine(o.owner, s, ram);
  assert.ok(harts !== null, "a threaded owner hands the other harts' parts back");
  assert.equal(harts.parts.length, 2);
  const remote = hart1(o, clock, harts.time);
  remote.loadPart(json(harts.parts[1]));
  return { owner: o.owner, remote, harts };
}

describe("a threaded pv VM's state", () => {
  test("holds hart 1's part from its thread and the IPI waiting for it; a new owner and thread continue it on the same guest time", () => {
    const c1 = { ms: 1000 };
    const a = pvPair(c1);
    // Hart 1 was started (on its own thread), armed its timer, served a hypercall; then hart 0 sent it an IPI it has not taken.
    const start = a.owner.ram.base + START_OFFSET;
    assert.equal(a.owner.host.hartStart(1, start, 0x1234n), 0);
    a.link.hsmStates[1] = HsmState.STARTED; // as the SBI's hart_start leaves it
    assert.equal(a.remote.loop.runnable(), true, "hart 1's thread took the start");
    a.remote.host!.setTimer(1, 99_000_000);
    a.remote.harts[1]!.x[2 * 10] = 77; // a0
    a.owner.host.sendIpi([1]);
    c1.ms = 4000;
    const part = json(a.remote.savePart());
    const { state, ram } = saveMachine(a.owner, [null, part]);
    const s = json(state);
    assert.equal(s.harts.length, 2);
    assert.equal(s.harts[1]!.x[20], 77, "hart 1's registers are its thread's");
    assert.deepEqual([s.sbi!.deadlines[1], s.sbi!.parked[1]], [99_000_000, false], "hart 1's timer and HSM parking are its thread's");
    assert.equal(s.sbi!.parked[0], false);
    assert.equal(s.link![1]!.soft, SSIP, "the IPI hart 1 had not taken is in the link's words");
    assert.equal(s.mtime, 40_000_000, "4 s since the VM's epoch at 10 MHz");

    // Another host, another clock: the new owner loads hart 0, devices and link; hart 1's thread gets its part and the time base.
    const c2 = { ms: 500_000 };
    const b = restored("pv", c2, s, ram.slice()) as { owner: PvMachine; remote: RemoteVcpu };
    assert.equal(b.owner.host.now(), 40_000_000, "guest time continues from the saved mtime");
    assert.equal(b.remote.host!.now(), b.owner.host.now(), "and hart 1's thread reads the same time");
    c2.ms += 250.3;
    assert.equal(b.remote.host!.now(), b.owner.host.now());
    const h1 = b.remote.harts[1]!;
    assert.equal(h1.getPc(), start);
    assert.equal(h1.x[20], 77);
    assert.deepEqual([b.remote.host!.deadlines[1], b.remote.host!.parked[1]], [99_000_000, false]);
    assert.equal(b.owner.host.parked[1], true, "the owner never runs hart 1 itself");
    assert.equal(b.owner.sbi.hsm.state(1), HsmState.STARTED, "HSM says so in the array every thread shares");
    assert.equal(h1.mip & SSIP, 0);
    b.remote.loop.runnable();
    assert.equal(h1.mip & SSIP, SSIP, "the waiting IPI reaches hart 1 from the restored link");
  });

  test("a hart that was never started stays stopped and parked after the restore", () => {
    const c = { ms: 0 };
    const a = pvPair(c);
    const { state, ram } = saveMachine(a.owner, [null, a.remote.savePart()]);
    const s = json(state);
    assert.deepEqual([s.sbi!.hsm, s.sbi!.parked], [[0, 1], [false, true]]);
    const b = restored("pv", c, s, ram.slice());
    assert.equal(b.remote.host!.parked[1], true);
    assert.equal(b.remote.loop.runnable(), false, "nothing to run on hart 1's thread");
  });

  test("a start request hart 1 had not taken is in the state, and it takes it after the restore", () => {
    const c = { ms: 0 };
    const a = pvPair(c);
    const start = a.owner.ram.base + START_OFFSET;
    // Hart 0's hart_start: the request waits in the link for hart 1's thread.
    assert.equal(a.owner.host.hartStart(1, start, 5n), 0);
    const { state, ram } = saveMachine(a.owner, [null, a.remote.savePart()]);
    const s = json(state);
    assert.deepEqual(s.link![1]!.start, { pc: [start | 0, 0], a1: [5, 0] });
    const b = restored("pv", c, s, ram.slice());
    assert.equal(b.remote.loop.runnable(), true, "hart 1 took its start");
    assert.equal(b.remote.harts[1]!.getPc(), start);
    assert.equal(b.remote.harts[1]!.x[22], 5, "a1 as asked");
  });
});

describe("a threaded full VM's state", () => {
  test("a secondary still in reset with its start request waiting comes out of reset after the restore; the CLINT's time is every thread's", () => {
    const c1 = { ms: 0 };
    const a = fullPair(c1);
    // Hart 0 left the firmware: the owner released the secondaries (their start requests sent), hart 1 has not taken its own yet.
    a.owner.restoreBoardState({ secondariesHeld: false, pendingInput: new Uint8Array(0) });
    a.link.requestStart(1, a.owner.ram.base, a.owner.layout.fdtAddr, 0);
    c1.ms = 3000;
    const part = json(a.remote.savePart());
    assert.equal(part.inReset, true);
    const { state, ram } = saveMachine(a.owner, [null, part]);
    const s = json(state);
    assert.equal(s.board!.secondariesHeld, false);
    assert.notEqual(s.link![1]!.start, null);

    const c2 = { ms: 77_000 };
    const b = restored("full", c2, s, ram.slice()) as { owner: FullMachine; remote: RemoteVcpu; harts: RemoteHarts };
    assert.equal(b.harts.parts[1]!.inReset, true, "in reset until it takes the waiting request");
    assert.equal(b.owner.clint.mtime(), 30_000_000);
    const time = (m: RemoteVcpu): number => m.harts[1]!.time!.mtime();
    assert.equal(time(b.remote), b.owner.clint.mtime(), "hart 1's time CSR reads the owner's CLINT");
    c2.ms += 1234.5;
    assert.equal(time(b.remote), b.owner.clint.mtime());
    assert.equal(b.remote.loop.runnable(), true, "it took the start request and left reset");
  });

  test("a secondary out of reset stays out; one the owner still holds stays in", () => {
    const c = { ms: 0 };
    const held = fullPair(c);
    const s1 = json(saveMachine(held.owner, [null, held.remote.savePart()]).state);
    assert.equal(s1.board!.secondariesHeld, true);
    assert.equal(restored("full", c, s1, null).harts.parts[1]!.inReset, true);

    const out = fullPair(c);
    out.owner.restoreBoardState({ secondariesHeld: false, pendingInput: new Uint8Array(0) });
    out.link.requestStart(1, out.owner.ram.base, out.owner.layout.fdtAddr, 0);
    out.remote.loop.runnable(); // takes the request: out of reset
    const part = out.remote.savePart();
    assert.equal(part.inReset, false);
    const s2 = json(saveMachine(out.owner, [null, part]).state);
    assert.equal(s2.link![1]!.start, null);
    assert.equal(restored("full", c, s2, null).harts.parts[1]!.inReset, false);
  });
});

describe("hostile or incomplete threaded states are refused", () => {
  const c = { ms: 0 };
  const a = pvPair(c);
  const part = json(a.remote.savePart());
  const { state, ram } = saveMachine(a.owner, [null, part]);
  const s = json(state) as MachineState;

  test("saving without hart 1's part, or with another hart's part in its place, is refused", () => {
    assert.throws(() => saveMachine(a.owner), (e: unknown) => e instanceof MachineStateError && /hart 1 runs on a thread of its own, and its state was not handed over/.test(e.message));
    const wrong = { ...part, hart: { ...part.hart, hartId: 0 } } as HartPart;
    assert.throws(() => saveMachine(a.owner, [null, wrong]), /hart 1's state from its thread: state of hart 0 offered to hart 1/);
    const { sbi: _sbi, ...noSbi } = part;
    assert.throws(() => saveMachine(a.owner, [null, noSbi]), /hart 1's thread handed over no SBI share/);
  });

  test("a device access in flight cannot be saved", () => {
    const b = pvPair(c);
    // Hart 1's mailbox holds a request the owner has not served (its thread would be inside a slice).
    Atomics.store(b.link.i32, LINK.HART_BASE + 1 * LINK.HART_STRIDE + HART_WORD.MBOX_STATE, 1);
    assert.throws(() => saveMachine(b.owner, [null, b.remote.savePart()]), /hart 1 has a device access in flight: the VM is not paused/);
  });

  test("a hart missing, a wrong hart count or bad link words are refused before the new owner is touched", () => {
    const b = pvPair(c);
    const pc = b.owner.hart.getPc();
    const refused = (st: unknown, re: RegExp): void =>
      assert.throws(() => loadMachine(b.owner, st, ram), (e: unknown) => e instanceof MachineStateError && re.test(e.message), `expected ${re}`);
    refused({ ...s, harts: [s.harts[0]] }, /harts: 1 states for 2 harts/);
    refused({ ...s, harts: [s.harts[0], null] }, /harts\[1\]: not an object/);
    refused({ ...s, harts: [s.harts[0], s.harts[0]] }, /harts\[1\]: state of hart 0 offered to hart 1/);
    refused({ ...s, cpus: 1, harts: [s.harts[0]] }, /the saved machine had 1 harts, this one has 2/);
    refused({ ...s, sbi: { ...s.sbi!, deadlines: [null] } }, /deadlines: 1 entries for 2 harts/);
    refused({ ...s, link: [s.link![0]] }, /link: harts: 1 states for 2 harts/);
    refused({ ...s, link: [s.link![0], { ...s.link![1], soft: 1 << 20 }] }, /link: harts\[1\]: soft: 1048576 is not a whole number in 0\.\.2730/);
    refused({ ...s, link: [s.link![0], { ...s.link![1], levels: 1 << 5 }] }, /link: harts\[1\]: levels: 0x20 has bits other threads do not drive/);
    refused({ ...s, link: [s.link![0], { ...s.link![1], start: { pc: [0], a1: [0, 0] } }] }, /link: harts\[1\]: start: pc/);
    assert.equal(b.owner.hart.getPc(), pc, "hart 0 was not touched");
    const one = new PvMachine({ kernel: kernel(), memBytes: 16 * MiB, cpus: 2, output: () => {}, clockMs: () => c.ms });
    assert.throws(() => loadMachine(one, s, ram), /the saved VM's harts ran on threads of their own, and this machine runs them on one/);
  });

  test("a hart's thread refuses a part that is not its hart's or is bad, and keeps its hart as it was", () => {
    const b = pvPair(c);
    const h = b.remote.harts[1]!;
    const pc = h.getPc();
    const bad = (p: unknown, re: RegExp): void => assert.throws(() => b.remote.loadPart(p), (e: unknown) => e instanceof StateError && re.test(e.message), `expected ${re}`);
    bad(null, /hart 1's part: not an object/);
    bad({ ...part, hart: s.harts[0] }, /hart 1's part: hart: state of hart 0 offered to hart 1/);
    bad({ hart: part.hart }, /hart 1's part: sbi: missing/);
    bad({ ...part, sbi: { ...part.sbi, deadline: "soon" } }, /hart 1's part: sbi: deadline: soon is not a deadline/);
    bad({ ...part, sbi: { ...part.sbi, sta: { shmem: 3, seq: 0 } } }, /sbi: sta: shmem: 0x3 is not a record in RAM/);
    assert.equal(h.getPc(), pc);
    assert.equal(b.remote.host!.parked[1], true);
  });
});
