import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GuestRam } from "../../../mem/ram.js";
import { MockDriver, type MockQueue } from "../mock-driver.js";
import { VIRTIO_MMIO, VirtioMmioTransport } from "../mmio.js";
import { bit, VIRTIO_F, VIRTIO_STATUS } from "../virtio.js";
import { BALLOON_CONFIG, VIRTIO_BALLOON, VIRTIO_BALLOON_F, VirtioBalloon } from "./device.js";

const BASE = 0x8000_0000;
const SIZE = 1 << 20;
const PFN0 = BASE / 4096;
/** Pages from here on are never used by the mock driver's arena (it allocates upwards from the bottom). */
const HIGH = 192;

function setup() {
  const mem = new GuestRam(BASE, SIZE);
  const irq = { level: false, set(l: boolean) { this.level = l; } };
  const dev = new VirtioBalloon(mem, () => 1234);
  const tr = new VirtioMmioTransport(dev, mem, irq);
  dev.onConfigChange = () => tr.configChanged();
  const drv = new MockDriver(mem, tr);
  // The high pages hold a pattern, so a discard (or a stray write) shows.
  mem.u8.fill(0xa5, HIGH * 4096);
  return { mem, irq, dev, tr, drv };
}

const u32s = (...v: number[]): Uint8Array => {
  const b = new Uint8Array(4 * v.length);
  const dv = new DataView(b.buffer);
  v.forEach((x, i) => dv.setUint32(4 * i, x >>> 0, true));
  return b;
};

function statsBuf(entries: [number, number][]): Uint8Array {
  const b = new Uint8Array(10 * entries.length);
  const dv = new DataView(b.buffer);
  entries.forEach(([tag, val], i) => {
    dv.setUint16(10 * i, tag, true);
    dv.setUint32(10 * i + 2, val % 0x1_0000_0000, true);
    dv.setUint32(10 * i + 6, Math.floor(val / 0x1_0000_0000), true);
  });
  return b;
}

const pageIs = (mem: GuestRam, page: number, byte: number): boolean => mem.u8.subarray(page * 4096, (page + 1) * 4096).every((b) => b === byte);

/** Negotiate everything offered, set up the four queues, prime statsq, DRIVER_OK (as virtballoon_probe). */
function probe(drv: MockDriver, stats: Uint8Array | null = statsBuf([[4, 100 * 4096], [5, 256 * 4096]])): MockQueue[] {
  assert.ok(drv.negotiate());
  const qs = [0, 1, 2, 3].map((i) => drv.setupQueue(i));
  if (stats) {
    qs[2]!.add([{ len: stats.length, data: stats }]);
    drv.notify(2); // before DRIVER_OK: the transport ignores it, activate takes the buffer
  }
  drv.driverOk();
  return qs;
}

describe("5.5 traditional memory balloon device", () => {
  test("5.5.1 device id 5; 5.5.3 STATS_VQ, DEFLATE_ON_OOM and REPORTING offered; 5.5.2 four queues", () => {
    const { drv } = setup();
    assert.equal(drv.r(VIRTIO_MMIO.DEVICE_ID), 5);
    const f = drv.deviceFeatures();
    for (const b of [VIRTIO_BALLOON_F.STATS_VQ, VIRTIO_BALLOON_F.DEFLATE_ON_OOM, VIRTIO_BALLOON_F.REPORTING]) assert.notEqual(f & bit(b), 0n);
    assert.equal(f & bit(VIRTIO_BALLOON_F.FREE_PAGE_HINT), 0n);
    for (let i = 0; i < 4; i++) {
      drv.w(VIRTIO_MMIO.QUEUE_SEL, i);
      assert.ok(drv.r(VIRTIO_MMIO.QUEUE_NUM_MAX) >= (i === 2 ? 1 : 32), `queue ${i}`);
    }
  });

  test("5.5.4 num_pages set by the host raises a config-change interrupt; actual is the driver's to write", () => {
    const { drv, dev, irq } = setup();
    probe(drv);
    dev.setTargetPages(300);
    assert.equal(irq.level, true);
    assert.equal(drv.ackInterrupt() & VIRTIO_MMIO.INT_CONFIG, VIRTIO_MMIO.INT_CONFIG);
    assert.equal(drv.r(VIRTIO_MMIO.CONFIG + BALLOON_CONFIG.NUM_PAGES), 300);
    drv.w(VIRTIO_MMIO.CONFIG + BALLOON_CONFIG.ACTUAL, 42);
    drv.w(VIRTIO_MMIO.CONFIG + BALLOON_CONFIG.NUM_PAGES, 7); // not the driver's: ignored
    assert.equal(dev.actualPages, 42);
    assert.equal(dev.targetPages, 300);
  });

  test("5.5.6.1 inflate gives the pages' memory back (they read zero); 5.5.6.2 deflate returns them", () => {
    const { drv, dev, mem, irq } = setup();
    const [inf, def] = probe(drv);
    inf!.add([{ len: 12, data: u32s(PFN0 + HIGH, PFN0 + HIGH + 2, PFN0 + HIGH + 5) }]);
    drv.notify(0);
    assert.equal(inf!.usedIdx(), 1);
    assert.equal(irq.level, true);
    for (const p of [0, 2, 5]) assert.ok(pageIs(mem, HIGH + p, 0), `page ${p} zero`);
    for (const p of [1, 3, 4, 6]) assert.ok(pageIs(mem, HIGH + p, 0xa5), `page ${p} untouched`);
    assert.equal(dev.stats.inflatedPages, 3);
    def!.add([{ len: 8, data: u32s(PFN0 + HIGH, PFN0 + HIGH + 5) }]);
    drv.notify(1);
    assert.equal(def!.usedIdx(), 1);
    assert.equal(dev.stats.inflatedPages, 1);
    assert.ok(pageIs(mem, HIGH, 0), "a deflated page comes back zero");
  });

  test("hostile PFNs: outside RAM, inflated twice, deflated never inflated — counted, ignored, nothing else touched", () => {
    const { drv, dev, mem, tr } = setup();
    const [inf, def] = probe(drv);
    const before = mem.u8.slice(HIGH * 4096);
    inf!.add([{ len: 20, data: u32s(0, PFN0 - 1, PFN0 + SIZE / 4096, 0xffff_ffff, PFN0 + HIGH + 1) }]);
    inf!.add([{ len: 4, data: u32s(PFN0 + HIGH + 1) }]);
    def!.add([{ len: 8, data: u32s(PFN0 + HIGH + 3, 0x7fff_ffff) }]);
    inf!.add([{ len: 6, data: new Uint8Array(6).fill(0xff) }]);
    inf!.add([{ len: 4, data: u32s(PFN0 + HIGH + 4) }, { len: 4, write: true }]);
    assert.doesNotThrow(() => {
      drv.notify(0);
      drv.notify(1);
    });
    const b = dev.stats.bad;
    assert.equal(b.pfnOutsideRam, 5);
    assert.equal(b.inflatedTwice, 1);
    assert.equal(b.deflateNotInflated, 1);
    assert.equal(b.badPfnBuffer, 2);
    assert.equal(dev.stats.inflatedPages, 1);
    assert.equal(drv.status & VIRTIO_STATUS.DEVICE_NEEDS_RESET, 0, tr.lastError ?? "");
    // Only the one good page changed.
    before.fill(0, 4096, 8192);
    assert.deepEqual(mem.u8.slice(HIGH * 4096), before);
  });

  test("a descriptor pointing outside RAM sets DEVICE_NEEDS_RESET without touching memory", () => {
    const { drv, mem, tr } = setup();
    const [inf] = probe(drv);
    const snapshot = mem.u8.slice();
    inf!.writeDesc(0, { addr: BASE + SIZE - 4, len: 4096, flags: 0, next: 0 });
    inf!.publish(0);
    assert.doesNotThrow(() => drv.notify(0));
    assert.notEqual(drv.status & VIRTIO_STATUS.DEVICE_NEEDS_RESET, 0);
    assert.match(tr.lastError ?? "", /outside RAM/);
    assert.deepEqual(mem.u8.subarray(HIGH * 4096), snapshot.subarray(HIGH * 4096));
  });

  test("5.5.6.3 the primed stats buffer is read at once; the host returns it to ask again and keeps the latest", () => {
    const { drv, dev } = setup();
    const [, , st] = probe(drv, statsBuf([[4, 100 * 4096], [5, 256 * 4096], [6, 120 * 4096], [2, 7], [3, 2 ** 40]]));
    assert.deepEqual(dev.guest, { free: 100 * 4096, total: 256 * 4096, available: 120 * 4096, majorFaults: 7, minorFaults: 2 ** 40 });
    assert.equal(dev.stats.statsAtMs, 1234);
    assert.equal(st!.usedIdx(), 0, "held until the host asks");
    assert.equal(dev.requestStats(), true);
    assert.equal(st!.usedIdx(), 1);
    assert.equal(dev.requestStats(), false, "nothing held until the driver refills");
    st!.add([{ len: 20, data: statsBuf([[4, 50 * 4096], [99, 1]]) }]);
    drv.notify(2);
    assert.equal(dev.guest!.free, 50 * 4096);
    assert.equal(dev.guest!.total, 256 * 4096, "a stat not sent this time keeps its last value");
    assert.equal(dev.stats.bad.statsUnknownTag, 1);
    assert.equal(dev.stats.statsUpdates, 2);
  });

  test("a stats buffer of the wrong size is counted and ignored, and still returned to be refilled", () => {
    const { drv, dev } = setup();
    const [, , st] = probe(drv, new Uint8Array(7).fill(1));
    assert.equal(dev.guest, null);
    assert.equal(dev.stats.bad.statsWrongSize, 1);
    assert.equal(dev.requestStats(), true);
    st!.add([{ len: 10 * (VIRTIO_BALLOON.MAX_STATS + 1) }]);
    drv.notify(2);
    assert.equal(dev.stats.bad.statsWrongSize, 2);
    assert.equal(dev.guest, null);
  });

  test("5.5.6.7 free page reporting discards the reported pages and returns the buffer", () => {
    const { drv, dev, mem } = setup();
    const [, , , rep] = probe(drv);
    const q = rep!;
    // Two reported ranges, written straight into the descriptor table (device-writable).
    q.writeDesc(0, { addr: BASE + HIGH * 4096, len: 2 * 4096, flags: 2 | 1, next: 1 });
    q.writeDesc(1, { addr: BASE + (HIGH + 4) * 4096 + 100, len: 2 * 4096, flags: 2, next: 0 });
    q.publish(0);
    drv.notify(3);
    assert.equal(q.usedIdx(), 1);
    assert.ok(pageIs(mem, HIGH, 0) && pageIs(mem, HIGH + 1, 0));
    assert.ok(pageIs(mem, HIGH + 2, 0xa5) && pageIs(mem, HIGH + 4, 0xa5) && pageIs(mem, HIGH + 6, 0xa5));
    assert.ok(pageIs(mem, HIGH + 5, 0), "the whole page inside an unaligned range");
    assert.equal(dev.stats.reportedBytes, 3 * 4096);
    assert.equal(dev.stats.bad.reportUnaligned, 1);
  });

  test("without STATS_VQ the reporting queue is the third (Linux numbers only the queues it uses)", () => {
    const { drv, dev, mem } = setup();
    const f = bit(VIRTIO_F.VERSION_1) | bit(VIRTIO_BALLOON_F.REPORTING);
    assert.ok(drv.negotiate(f));
    const qs = [0, 1, 2].map((i) => drv.setupQueue(i));
    drv.driverOk();
    qs[2]!.writeDesc(0, { addr: BASE + HIGH * 4096, len: 4096, flags: 2, next: 0 });
    qs[2]!.publish(0);
    drv.notify(2);
    assert.equal(dev.stats.reportedBytes, 4096);
    assert.ok(pageIs(mem, HIGH, 0));
    assert.equal(dev.statsReady, false);
  });

  test("a driver reset returns every inflated page to the guest", () => {
    const { drv, dev } = setup();
    const [inf] = probe(drv);
    inf!.add([{ len: 8, data: u32s(PFN0 + HIGH, PFN0 + HIGH + 1) }]);
    drv.notify(0);
    assert.equal(dev.stats.inflatedPages, 2);
    drv.w(VIRTIO_MMIO.STATUS, 0);
    assert.equal(dev.stats.inflatedPages, 0);
    const [inf2] = probe(drv);
    inf2!.add([{ len: 4, data: u32s(PFN0 + HIGH) }]);
    drv.notify(0);
    assert.equal(dev.stats.bad.inflatedTwice, 0);
  });
});
