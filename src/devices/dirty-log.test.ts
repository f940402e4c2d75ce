// Device DMA and dirty-page logging (mem/dirty-log.ts): every page of guest RAM a device
// writes — data buffers, used rings, descriptor write-back, received FISes — is logged,
// checked by comparing RAM before and after each request against the pages logged. The
// mock drivers set up the request first; only the device's own writes happen in `act`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DirtyLog } from "../mem/dirty-log.js";
import { GuestRam, PAGE_SIZE } from "../mem/ram.js";
import { ATA_CMD } from "./ahci/disk.js";
import { MockAhciDriver, RAM_BASE } from "./ahci/mock-driver.js";
import { AHCI, PORT_REG } from "./ahci/regs.js";
import { ethFrame as e1000Frame, MockE1000Driver, NIC_MAC } from "./e1000/mock-driver.js";
import { RCTL } from "./e1000/regs.js";
import { MemoryBackend, VIRTIO_BLK_T, VirtioBlk } from "./virtio/blk/device.js";
import { MockDriver } from "./virtio/mock-driver.js";
import { VirtioMmioTransport } from "./virtio/mmio.js";
import { VIRTQ, VirtQueue } from "./virtio/queue.js";
import { A, B, ethFrame, setup as netSetup, TestBackend, up } from "./virtio/net/net-testkit.js";
import { VirtioRng } from "./virtio/rng/device.js";

/**
 * Run `act` with logging on; the RAM pages whose bytes it changed, and those of them that
 * were not logged.
 */
function deviceWrites(ram: GuestRam, act: () => void): { changed: number[]; unlogged: number[] } {
  const pages = ram.size / PAGE_SIZE;
  const log = (ram.dirty ??= DirtyLog.create(pages));
  log.start();
  const before = ram.u8.slice();
  act();
  const into = new Uint32Array(pages);
  const logged = new Set(into.subarray(0, log.take(into)));
  log.stop();
  const changed: number[] = [];
  for (let p = 0; p < pages; p++) {
    const at = p * PAGE_SIZE;
    if (Buffer.compare(before.subarray(at, at + PAGE_SIZE), ram.u8.subarray(at, at + PAGE_SIZE)) !== 0) changed.push(p);
  }
  return { changed, unlogged: changed.filter((p) => !logged.has(p)) };
}

function assertLogged(w: { changed: number[]; unlogged: number[] }, atLeast: number): void {
  assert.deepEqual(w.unlogged, [], `pages written but not logged (of ${w.changed.length} written)`);
  assert.ok(w.changed.length >= atLeast, `the device wrote ${w.changed.length} pages, expected at least ${atLeast}`);
}

const irqStub = () => ({ level: false, set(l: boolean) { this.level = l; } });
const pattern = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff);

describe("virtio devices (queue.ts: used ring, avail_event, copyToSegments; device-specific writes)", () => {
  test("virtqueue: avail_event, a used element and the used index are each logged (on pages of their own here)", () => {
    const base = 0x8000_0000;
    const ram = new GuestRam(base, 1 << 20);
    const size = 8;
    // The used ring's flags and idx end page 3; its elements and avail_event start page 4.
    const a = { size, desc: base + 0x1000, driver: base + 0x2000, device: base + 0x4000 - 4 };
    const q = new VirtQueue(ram, a, { eventIdx: true, indirect: false, onError: (r) => assert.fail(r) });
    const v = new DataView(ram.sab);
    v.setUint32(0x1000, base + 0x6000, true); // descriptor 0: 16 device-writable bytes at RAM + 0x6000
    v.setUint32(0x1000 + 4, 0, true);
    v.setUint32(0x1000 + 8, 16, true);
    v.setUint16(0x1000 + 12, VIRTQ.DESC_F_WRITE, true);
    v.setUint16(0x2000 + 2, 1, true); // avail idx 1, ring[0] = head 0
    const pop = deviceWrites(ram, () => assert.equal(q.pop()?.head, 0));
    assert.deepEqual(pop.changed, [4], "pop wrote avail_event");
    assertLogged(pop, 1);
    const push = deviceWrites(ram, () => q.pushUsed(0, 16, false));
    assert.deepEqual(push.changed, [4], "the used element");
    assertLogged(push, 1);
    const publish = deviceWrites(ram, () => q.publishUsed());
    assert.deepEqual(publish.changed, [3], "the used index");
    assertLogged(publish, 1);
  });

  test("virtio-blk read: the data pages (written by the backend in place), the status byte and the used ring", () => {
    const mem = new GuestRam(0x8000_0000, 4 << 20);
    const drv = new MockDriver(mem, new VirtioMmioTransport(new VirtioBlk(new MemoryBackend(pattern(64 * 512, 5))), mem, irqStub()));
    const [q] = drv.bringUp();
    const hdr = new Uint8Array(16);
    new DataView(hdr.buffer).setUint32(0, VIRTIO_BLK_T.IN, true);
    // Three pages of data: a request the size Linux sends for 12 KiB.
    q!.add([{ len: 16, data: hdr }, { len: 3 * PAGE_SIZE, write: true }, { len: 1, write: true }]);
    // data (3 pages, maybe 4 with alignment), status, used ring
    assertLogged(deviceWrites(mem, () => drv.notify(0)), 4);
  });

  test("virtio-net receive: header and frame across merged buffers, and the used ring", () => {
    const { mem, drv, backend } = netSetup(new TestBackend());
    const { rx } = up(drv, drv.deviceFeatures()); // MRG_RXBUF: one frame over several buffers
    for (let i = 0; i < 4; i++) rx.add([{ len: 1024, write: true }]);
    const frame = ethFrame(A, B, 3000, 9);
    assertLogged(deviceWrites(mem, () => assert.equal((backend as TestBackend).deliver(frame), true)), 2);
  });

  test("virtio-rng: the entropy buffer and the used ring", () => {
    const mem = new GuestRam(0x8000_0000, 1 << 20);
    const source = { fill: (b: Uint8Array) => b.fill(0xa5) };
    const drv = new MockDriver(mem, new VirtioMmioTransport(new VirtioRng(source), mem, irqStub()));
    const [q] = drv.bringUp();
    q!.add([{ len: 2 * PAGE_SIZE, write: true }]);
    assertLogged(deviceWrites(mem, () => drv.notify(0)), 3);
  });
});

describe("e1000 (full machine): DMA into receive buffers and descriptor write-back", () => {
  test("receive: the buffers of a frame split over three descriptors and the descriptor ring", () => {
    const d = new MockE1000Driver().probe();
    // The ring at the end of a page, 1024-byte buffers (BSIZE 01) a page apart after it: each
    // write lands on a page of its own. LPE: long frames.
    d.alloc(PAGE_SIZE - 128);
    d.setupRx(8, PAGE_SIZE, RCTL.EN | RCTL.BAM | RCTL.LPE | (1 << RCTL.BSIZE_SHIFT));
    const frame = e1000Frame(NIC_MAC, [2, 0, 0, 0, 0, 9], 0x88b5, 2800);
    assertLogged(deviceWrites(d.ram, () => assert.equal(d.backend.deliver(frame), true)), 4);
  });

  test("transmit: the DD status written back into the descriptor", () => {
    const d = new MockE1000Driver().probe();
    d.setupTx(8);
    d.queue(d.legacy(e1000Frame([2, 0, 0, 0, 0, 9], NIC_MAC, 0x88b5, 100)));
    assertLogged(deviceWrites(d.ram, () => d.kick()), 1);
    assert.equal(d.backend.sent.length, 1);
  });
});

describe("AHCI (full machine): PRD data, PRDBC and received FISes", () => {
  test("READ DMA EXT into two PRDs, then IDENTIFY (PIO data-in): data, PRDBC, the D2H and PIO Setup FISes", () => {
    const d = new MockAhciDriver(4096).probe();
    // The command list at the end of one page, the FIS area at the start of the next.
    d.alloc(PAGE_SIZE - AHCI.SLOTS * AHCI.CMD_HEADER_SIZE);
    d.start();
    const page = (pa: number): number => Math.floor((pa - RAM_BASE) / PAGE_SIZE);
    assert.equal(page(d.fb), page(d.clb) + 1);
    const [a, b] = [d.alloc(PAGE_SIZE, PAGE_SIZE), d.alloc(PAGE_SIZE, PAGE_SIZE)];
    d.prepare(0, { command: ATA_CMD.READ_DMA_EXT, lba: 100, count: 16, prds: [{ addr: a, len: PAGE_SIZE }, { addr: b, len: PAGE_SIZE }] });
    const read = deviceWrites(d.ram, () => d.pw(PORT_REG.CI, 1));
    assert.deepEqual(read.changed, [page(d.clb), page(d.fb), page(a), page(b)]);
    assertLogged(read, 4);
    const id = d.alloc(512, PAGE_SIZE);
    d.prepare(1, { command: ATA_CMD.IDENTIFY_DEVICE, prds: [{ addr: id, len: 512 }] });
    const identify = deviceWrites(d.ram, () => d.pw(PORT_REG.CI, 2));
    assert.deepEqual(identify.changed, [page(d.clb), page(d.fb), page(id)]);
    assertLogged(identify, 3);
  });
});
