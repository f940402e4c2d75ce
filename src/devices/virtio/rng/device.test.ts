import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GuestRam } from "../../../mem/ram.js";
import { MockDriver } from "../mock-driver.js";
import { VIRTIO_MMIO, VirtioMmioTransport } from "../mmio.js";
import { VIRTIO_STATUS } from "../virtio.js";
import { type EntropySource, VIRTIO_RNG, VirtioRng } from "./device.js";

/** Bytes 0, 1, 2, … (mod 256), continuing across calls. */
class CountingSource implements EntropySource {
  n = 0;
  calls = 0;
  fill(buf: Uint8Array): void {
    this.calls++;
    for (let i = 0; i < buf.length; i++) buf[i] = this.n++ & 0xff;
  }
}

function setup(source: EntropySource = new CountingSource()) {
  const mem = new GuestRam(0x8000_0000, 1 << 20);
  const irq = { level: false, set(l: boolean) { this.level = l; } };
  const dev = new VirtioMmioTransport(new VirtioRng(source), mem, irq);
  const drv = new MockDriver(mem, dev);
  return { mem, irq, dev, drv };
}

describe("5.4 entropy device", () => {
  test("5.4.1 device id 4, 5.4.2 one virtqueue (requestq), 5.4.4 no config space", () => {
    const { drv, dev } = setup();
    assert.equal(drv.r(VIRTIO_MMIO.DEVICE_ID), 4);
    drv.w(VIRTIO_MMIO.QUEUE_SEL, 0);
    assert.equal(drv.r(VIRTIO_MMIO.QUEUE_NUM_MAX), VIRTIO_RNG.QUEUE_SIZE);
    drv.w(VIRTIO_MMIO.QUEUE_SEL, 1);
    assert.equal(drv.r(VIRTIO_MMIO.QUEUE_NUM_MAX), 0);
    assert.equal(dev.read(VIRTIO_MMIO.CONFIG, 4), 0);
  });

  test("5.4.6 a request's writable buffers are filled with entropy; used length = bytes written", () => {
    const { drv, mem, irq } = setup();
    const [q] = drv.bringUp();
    const { head, addrs } = q!.add([{ len: 5, write: true }, { len: 3, write: true }]);
    drv.notify(0);
    assert.deepEqual(q!.usedElem(0), { id: head, len: 8 });
    assert.deepEqual(mem.readBytes(addrs[0]!, 5), new Uint8Array([0, 1, 2, 3, 4]));
    assert.deepEqual(mem.readBytes(addrs[1]!, 3), new Uint8Array([5, 6, 7]));
    assert.equal(irq.level, true);
  });

  test("several requests in one notify, through indirect descriptors too", () => {
    const { drv } = setup();
    const [q] = drv.bringUp();
    q!.add([{ len: 4, write: true }]);
    q!.add([{ len: 16, write: true }], { indirect: true });
    drv.notify(0);
    assert.equal(q!.usedIdx(), 2);
    assert.equal(q!.usedElem(1).len, 16);
  });

  test("a request with no writable buffer completes with length 0", () => {
    const { drv } = setup();
    const [q] = drv.bringUp();
    q!.add([{ len: 4, data: new Uint8Array(4) }]);
    drv.notify(0);
    assert.deepEqual(q!.usedElem(0).len, 0);
  });

  test("a huge request gets at most one chunk", () => {
    const src = new CountingSource();
    const { drv, mem } = setup(src);
    const [q] = drv.bringUp();
    // Overlapping 512 KiB buffers, 64 of them via indirect: 32 MiB asked of a 1 MiB guest.
    const t = drv.arena.alloc(16 * 64);
    for (let i = 0; i < 64; i++) {
      q!.writeDesc(i, { addr: mem.base, len: 512 * 1024, flags: 2 | (i < 63 ? 1 : 0), next: i + 1 }, t);
    }
    q!.writeDesc(0, { addr: t, len: 16 * 64, flags: 4, next: 0 });
    q!.publish(0);
    drv.notify(0);
    assert.equal(q!.usedElem(0).len, VIRTIO_RNG.CHUNK);
    assert.equal(src.calls, 1);
  });

  test("the default source is the host's crypto", () => {
    const { drv, mem } = setup(undefined);
    const [q] = drv.bringUp();
    const { addrs } = q!.add([{ len: 64, write: true }]);
    drv.notify(0);
    assert.equal(q!.usedElem(0).len, 64);
    assert.ok(mem.readBytes(addrs[0]!, 64).some((b) => b !== 0));
  });

  test("a hostile chain sets DEVICE_NEEDS_RESET, and reset brings the device back", () => {
    const { drv } = setup();
    const [q] = drv.bringUp();
    q!.setAvailIdx(500);
    assert.doesNotThrow(() => drv.notify(0));
    assert.notEqual(drv.status & VIRTIO_STATUS.DEVICE_NEEDS_RESET, 0);
    const [q2] = drv.bringUp();
    q2!.add([{ len: 2, write: true }]);
    drv.notify(0);
    assert.equal(q2!.usedIdx(), 1);
  });
});
