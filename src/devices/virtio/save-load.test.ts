/**
 * Snapshots of virtio devices: a transport and its device saved to JSON and loaded into a
 * new transport and device over the same RAM (as after a restore) go on where they were —
 * input, frames and requests they held included — and a bad state is refused with a
 * message naming the field, leaving the new transport reset.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GuestRam } from "../../mem/ram.js";
import { RateLimiter } from "../rate-limiter.js";
import { StateError } from "../state.js";
import { BALLOON_CONFIG, VirtioBalloon } from "./balloon/device.js";
import { MemoryBackend, VIRTIO_BLK_S, VIRTIO_BLK_T, VirtioBlk } from "./blk/device.js";
import { CONSOLE_CTL, VirtioConsole, type CharBackend } from "./console/device.js";
import { MockDriver } from "./mock-driver.js";
import { VIRTIO_MMIO, VirtioMmioTransport } from "./mmio.js";
import { A, B, ethFrame, HDR, postRx, TestBackend, up } from "./net/net-testkit.js";
import { VirtioNet } from "./net/device.js";
import { VirtioRng } from "./rng/device.js";
import type { VirtioDevice } from "./virtio.js";
import { VIRTIO_STATUS } from "./virtio.js";

const BASE = 0x8000_0000;
type Wire = { level: boolean; set(l: boolean): void };
const wire = (): Wire => ({ level: false, set(l: boolean) { this.level = l; } });

/** A device behind a transport and a mock driver, on `mem` (new RAM when not given). */
function rig<D extends VirtioDevice>(device: D, mem = new GuestRam(BASE, 4 << 20)) {
  const irq = wire();
  const tr = new VirtioMmioTransport(device, mem, irq);
  return { mem, irq, tr, device, drv: new MockDriver(mem, tr) };
}

/** The transport's state as it would travel: through JSON. */
const snap = (tr: VirtioMmioTransport): Record<string, unknown> => JSON.parse(JSON.stringify(tr.save())) as Record<string, unknown>;

/** A console backend whose input the test drives. */
class Term implements CharBackend {
  out: Uint8Array[] = [];
  cb: ((b: Uint8Array) => void) | null = null;
  write(b: Uint8Array): void {
    this.out.push(b.slice());
  }
  onInput(cb: (b: Uint8Array) => void): void {
    this.cb = cb;
  }
}

const ctl = (id: number, event: number, value: number): Uint8Array => {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, id, true);
  v.setUint16(4, event, true);
  v.setUint16(6, value, true);
  return b;
};

describe("virtio-console save/load", () => {
  test("host input waiting for buffers and control messages waiting in the backlog reach the guest after a restore", () => {
    const term = new Term();
    const a = rig(new VirtioConsole(term, { ports: [{ name: "org.test", backend: new Term() }] }));
    const qs = a.drv.bringUp();
    // DEVICE_READY with no control receive buffers posted: PORT_ADD 0 and 1 wait in the backlog.
    qs[3]!.add([{ len: 8, data: ctl(CONSOLE_CTL.BAD_ID, CONSOLE_CTL.DEVICE_READY, 1) }]);
    a.drv.notify(3);
    qs[3]!.add([{ len: 8, data: ctl(1, CONSOLE_CTL.PORT_OPEN, 1) }]);
    a.drv.notify(3);
    term.cb!(new TextEncoder().encode("typed before the snapshot"));
    assert.equal(a.device.pendingInput, 25);
    const state = snap(a.tr);

    const b = rig(new VirtioConsole(new Term(), { ports: [{ name: "org.test", backend: new Term() }] }), a.mem);
    b.tr.load(state);
    assert.equal(b.device.pendingInput, 25);
    assert.equal(b.device.guestOpen(1), true);
    const rx = qs[0]!.add([{ len: 64, write: true }]);
    b.drv.notify(0);
    assert.equal(qs[0]!.usedIdx(), 1);
    assert.equal(new TextDecoder().decode(b.mem.readBytes(rx.addrs[0]!, qs[0]!.usedElem(0).len)), "typed before the snapshot");
    const c0 = qs[2]!.add([{ len: 8, write: true }]);
    const c1 = qs[2]!.add([{ len: 8, write: true }]);
    b.drv.notify(2);
    assert.equal(qs[2]!.usedIdx(), 2);
    const msg = (addr: number) => new DataView(b.mem.readBytes(addr, 8).buffer);
    assert.deepEqual([msg(c0.addrs[0]!).getUint32(0, true), msg(c0.addrs[0]!).getUint16(4, true)], [0, CONSOLE_CTL.PORT_ADD]);
    assert.deepEqual([msg(c1.addrs[0]!).getUint32(0, true), msg(c1.addrs[0]!).getUint16(4, true)], [1, CONSOLE_CTL.PORT_ADD]);
  });

  test("a state for another number of ports is refused and the transport is left reset", () => {
    const a = rig(new VirtioConsole(new Term(), { ports: [{ name: "org.test", backend: new Term() }] }));
    a.drv.bringUp();
    const state = snap(a.tr);
    const b = rig(new VirtioConsole(new Term(), { ports: [{ name: "org.test", backend: new Term() }, { name: "x", backend: new Term() }] }), a.mem);
    // Another queue count: the transport refuses before the device is asked.
    assert.throws(() => b.tr.load(state), (e: Error) => e instanceof StateError && /queueRegs: 6 queues, this device has 8/.test(e.message));
    assert.equal(b.tr.read(VIRTIO_MMIO.STATUS, 4), 0);
    const dev = state["device"] as Record<string, unknown>;
    const c = rig(new VirtioConsole(new Term(), { ports: [{ name: "org.test", backend: new Term() }] }), a.mem);
    assert.throws(() => c.tr.load({ ...state, device: { ...dev, ports: 3 } }), /virtio-console: ports: 3 ports saved, this console has 2/);
    assert.equal(c.tr.read(VIRTIO_MMIO.STATUS, 4), 0, "nothing half applied");
    assert.throws(() => c.tr.load({ ...state, device: { ...dev, input: ["!!", ""] } }), /input\[0\]: b: not base64/);
  });
});

describe("virtio-blk save/load", () => {
  test("a request the rate limiter held is read again from RAM after a restore and completes", () => {
    const clock = { t: 0 };
    const disk = new MemoryBackend(64 * 512);
    disk.bytes.fill(0x5a, 512, 1024);
    const limiter = new RateLimiter({ ops: { size: 1, refillTimeMs: 1000 } }, () => clock.t);
    const a = rig(new VirtioBlk(disk, { rateLimiter: limiter, timer: () => {} }));
    const [q] = a.drv.bringUp();
    const hdr = (sector: number) => {
      const h = new Uint8Array(16);
      new DataView(h.buffer).setUint32(0, VIRTIO_BLK_T.IN, true);
      new DataView(h.buffer).setUint32(8, sector, true);
      return h;
    };
    q!.add([{ len: 16, data: hdr(0) }, { len: 512, write: true }, { len: 1, write: true }]);
    const held = q!.add([{ len: 16, data: hdr(1) }, { len: 512, write: true }, { len: 1, write: true }]);
    a.drv.notify(0);
    assert.equal(q!.usedIdx(), 1, "the second request is held by the limiter");
    const state = snap(a.tr);
    assert.equal((state["device"] as Record<string, unknown>)["held"], held.head);

    const retries: (() => void)[] = [];
    const b = rig(new VirtioBlk(disk, { timer: (_ms, fn) => retries.push(fn) }), a.mem);
    b.tr.load(state);
    assert.equal(retries.length, 1, "a retry is armed for the held request");
    retries[0]!();
    assert.equal(q!.usedIdx(), 2);
    assert.equal(q!.usedElem(1).id, held.head);
    assert.deepEqual(b.mem.readBytes(held.addrs[1]!, 512), new Uint8Array(512).fill(0x5a));
    assert.equal(b.mem.readBytes(held.addrs[2]!, 1)[0], VIRTIO_BLK_S.OK);
    assert.equal(b.device.stats.requests.in, 2, "counters go on");
  });

  test("a disk of another size, another mode, or a held head out of range is refused", () => {
    const a = rig(new VirtioBlk(new MemoryBackend(64 * 512)));
    a.drv.bringUp();
    const state = snap(a.tr);
    const other = rig(new VirtioBlk(new MemoryBackend(128 * 512)), a.mem);
    assert.throws(() => other.tr.load(state), /sectors: the snapshot's disk had 64 sectors, this one has 128: not the same disk/);
    const ro = rig(new VirtioBlk(new MemoryBackend(64 * 512, true)), a.mem);
    assert.throws(() => ro.tr.load(state), /driverFeatures: the driver accepted features .* \(its configuration changed since the snapshot\)/);
    const same = rig(new VirtioBlk(new MemoryBackend(64 * 512)), a.mem);
    const dev = state["device"] as Record<string, unknown>;
    assert.throws(() => same.tr.load({ ...state, device: { ...dev, held: 999 } }), /virtio-blk: held: 999 is not a whole number in 0\.\.255/);
    assert.throws(() => same.tr.load({ ...state, device: { ...dev, stats: { ...(dev["stats"] as object), bytesRead: -1 } } }), /stats: bytesRead: -1 is not a count/);
    same.tr.load(state);
    assert.equal(same.tr.read(VIRTIO_MMIO.STATUS, 4) & VIRTIO_STATUS.DRIVER_OK, VIRTIO_STATUS.DRIVER_OK);
  });
});

describe("virtio-net save/load", () => {
  test("frames waiting for receive buffers are delivered after a restore", () => {
    const be = new TestBackend();
    const a = rig(new VirtioNet(be, { mac: new Uint8Array(A) }));
    const { rx } = up(a.drv);
    const f1 = ethFrame(A, B, 60, 1);
    const f2 = ethFrame(A, B, 1514, 2);
    assert.ok(be.deliver(f1));
    assert.ok(be.deliver(f2));
    assert.equal(a.device.rxPending, 2);
    const state = snap(a.tr);

    const retries: (() => void)[] = [];
    const b = rig(new VirtioNet(new TestBackend(), { mac: new Uint8Array(B), timer: (_ms, fn) => retries.push(fn) }), a.mem);
    b.tr.load(state);
    assert.equal(b.device.rxPending, 2);
    const r1 = postRx(rx);
    const r2 = postRx(rx);
    b.drv.notify(0);
    assert.equal(rx.usedIdx(), 2);
    assert.deepEqual(b.mem.readBytes(r1.addrs[0]! + HDR, 60), f1);
    assert.deepEqual(b.mem.readBytes(r2.addrs[0]! + HDR, 1514), f2);
    assert.equal(b.device.rxPending, 0);
    assert.equal((state["device"] as Record<string, unknown>)["mac"], "02:00:00:00:00:0a", "the saved MAC is recorded");
  });

  test("hostile states: frames for a receive queue that is not live, bytes that are not base64, a runt frame", () => {
    const a = rig(new VirtioNet(new TestBackend(), { mac: new Uint8Array(A) }));
    up(a.drv);
    const state = snap(a.tr);
    const dev = state["device"] as Record<string, unknown>;
    const b = rig(new VirtioNet(new TestBackend(), { mac: new Uint8Array(A) }), a.mem);
    const frame = Buffer.from(ethFrame(A, B, 60)).toString("base64");
    assert.throws(() => b.tr.load({ ...state, status: 0, device: { ...dev, pending: [{ frame, gso: null }] } }), /pending: frames waiting but the receive queue is not live/);
    assert.throws(() => b.tr.load({ ...state, device: { ...dev, pending: [{ frame: "%%%", gso: null }] } }), /pending\[0\]: frame: not base64/);
    assert.throws(() => b.tr.load({ ...state, device: { ...dev, pending: [{ frame: "AAAA", gso: null }] } }), /3 bytes is not a frame/);
    assert.throws(() => b.tr.load({ ...state, device: { ...dev, rxChains: [7] } }), /receive buffers held with no frame waiting/);
    assert.equal(b.device.rxPending, 0);
  });
});

describe("virtio-balloon save/load", () => {
  const PFN0 = BASE / 4096;
  const u32s = (...v: number[]): Uint8Array => {
    const b = new Uint8Array(4 * v.length);
    v.forEach((x, i) => new DataView(b.buffer).setUint32(4 * i, x, true));
    return b;
  };

  test("target, actual, inflated pages, the held stats buffer and the guest's figures survive a restore", () => {
    const a = rig(new VirtioBalloon(new GuestRam(BASE, 1 << 20)), new GuestRam(BASE, 1 << 20));
    const qs = a.drv.bringUp();
    a.device.setTargetPages(3);
    qs[0]!.add([{ len: 12, data: u32s(PFN0 + 200, PFN0 + 201, PFN0 + 202) }]);
    a.drv.notify(0);
    a.tr.write(VIRTIO_MMIO.CONFIG + BALLOON_CONFIG.ACTUAL, 4, 3);
    const stats = new Uint8Array(10);
    new DataView(stats.buffer).setUint16(0, 4, true); // free
    new DataView(stats.buffer).setUint32(2, 12345, true);
    qs[2]!.add([{ len: 10, data: stats }]);
    a.drv.notify(2);
    assert.ok(a.device.statsReady);
    const state = snap(a.tr);

    const b = rig(new VirtioBalloon(new GuestRam(BASE, 1 << 20)), a.mem);
    let configChanges = 0;
    b.device.onConfigChange = () => configChanges++;
    b.tr.load(state);
    assert.equal(b.device.targetPages, 3);
    assert.equal(b.device.actualPages, 3);
    assert.equal(b.device.stats.inflatedPages, 3);
    assert.equal(b.device.guest?.free, 12345);
    assert.equal(configChanges, 0, "the guest saw the target already: no config interrupt");
    assert.ok(b.device.statsReady, "the stats buffer is still held");
    assert.ok(b.device.requestStats());
    assert.equal(qs[2]!.usedIdx(), 1, "and goes back to the guest when asked");
    // A page inflated before the snapshot is not inflated twice.
    qs[0]!.add([{ len: 4, data: u32s(PFN0 + 201) }]);
    b.drv.notify(0);
    assert.equal(b.device.stats.bad.inflatedTwice, 1);
  });

  test("a bitmap for another RAM size and a held stats buffer on a queue that is not statsq are refused", () => {
    const a = rig(new VirtioBalloon(new GuestRam(BASE, 1 << 20)), new GuestRam(BASE, 1 << 20));
    a.drv.bringUp();
    const state = snap(a.tr);
    const dev = state["device"] as Record<string, unknown>;
    const b = rig(new VirtioBalloon(new GuestRam(BASE, 2 << 20)), a.mem);
    assert.throws(() => b.tr.load(state), /inflated: a bitmap of 32 bytes, this RAM needs 64/);
    const c = rig(new VirtioBalloon(new GuestRam(BASE, 1 << 20)), a.mem);
    assert.throws(() => c.tr.load({ ...state, device: { ...dev, heldStats: { queue: 0, head: 0 } } }), /heldStats: queue: queue 0 is not a live statsq/);
    assert.throws(() => c.tr.load({ ...state, device: { ...dev, numPages: 1e9 } }), /numPages: 1000000000 is not a whole number/);
  });
});

describe("virtio-rng and the transport save/load", () => {
  test("rng has no state of its own; a restored rng serves the next request", () => {
    const a = rig(new VirtioRng({ fill: (b) => b.fill(7) }));
    const [q] = a.drv.bringUp();
    const state = snap(a.tr);
    assert.deepEqual(state["device"], {});
    const b = rig(new VirtioRng({ fill: (x) => x.fill(9) }), a.mem);
    b.tr.load(state);
    const r = q!.add([{ len: 8, write: true }]);
    b.drv.notify(0);
    assert.deepEqual(b.mem.readBytes(r.addrs[0]!, 8), new Uint8Array(8).fill(9));
    assert.throws(() => new VirtioRng().loadDevice(null as never), StateError);
  });

  test("another device's state, a ready queue outside RAM and a bad field are refused before anything is applied", () => {
    const a = rig(new VirtioRng());
    a.drv.bringUp();
    const state = snap(a.tr);
    const blk = rig(new VirtioBlk(new MemoryBackend(512)), a.mem);
    assert.throws(() => blk.tr.load(state), /deviceId: a state of virtio device 4, this is device 2/);
    const b = rig(new VirtioRng(), a.mem);
    const regs = state["queueRegs"] as Record<string, unknown>[];
    assert.throws(() => b.tr.load({ ...state, queueRegs: [{ ...regs[0], desc: [0, 0x10] }] }), /queueRegs\[0\]: a ready queue with an unusable layout: descriptor table/);
    assert.throws(() => b.tr.load({ ...state, interruptStatus: 9 }), /interruptStatus: 9 is not a whole number in 0\.\.3/);
    assert.throws(() => b.tr.load({ ...state, queues: [{ lastAvail: 70000, usedIdx: 0, signalledUsed: 0 }] }), /lastAvail: 70000/);
    assert.throws(() => b.tr.load("nonsense" as never), /not an object/);
    assert.equal(b.irq.level, false);
    assert.equal(b.tr.read(VIRTIO_MMIO.STATUS, 4), 0);
  });
});
