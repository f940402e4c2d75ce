// The rate limiter on virtio-blk (the blk device's own tests live beside it; these cover
// only the optional limiter).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GuestRam } from "../mem/ram.js";
import { MemoryBackend, VIRTIO_BLK_T, VirtioBlk } from "./virtio/blk/device.js";
import { MockDriver } from "./virtio/mock-driver.js";
import { VirtioMmioTransport } from "./virtio/mmio.js";
import { RateLimiter } from "./rate-limiter.js";

function header(type: number, sector: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint32(0, type, true);
  v.setBigUint64(8, BigInt(sector), true);
  return b;
}

describe("virtio-blk with a rate limiter", () => {
  test("requests over the byte budget wait for the refill, in order, and all complete", () => {
    const clock = { t: 0 };
    const timers: { ms: number; fn: () => void }[] = [];
    const rateLimiter = new RateLimiter({ bandwidth: { size: 1024, refillTimeMs: 1000 } }, () => clock.t);
    const disk = new MemoryBackend(64 * 512);
    const mem = new GuestRam(0x8000_0000, 1 << 20);
    const irq = { level: false, set(l: boolean) { this.level = l; } };
    const blk = new VirtioBlk(disk, { rateLimiter, timer: (ms, fn) => timers.push({ ms, fn }) });
    const drv = new MockDriver(mem, new VirtioMmioTransport(blk, mem, irq));
    const [q] = drv.bringUp();
    for (let i = 0; i < 4; i++) {
      const data = new Uint8Array(512).fill(i + 1);
      q!.add([{ len: 16, data: header(VIRTIO_BLK_T.OUT, i) }, { len: 512, data }, { len: 1, write: true }]);
    }
    drv.notify(0);
    assert.equal(q!.usedIdx(), 2, "two 512-byte writes fit a 1024-byte bucket");
    assert.equal(blk.stats.throttled, 1);
    assert.equal(timers.length, 1);
    assert.equal(timers[0]!.ms, 500);
    clock.t = 500;
    timers.shift()!.fn();
    assert.equal(q!.usedIdx(), 3);
    clock.t = 1000;
    timers.shift()!.fn();
    assert.equal(q!.usedIdx(), 4);
    for (let i = 0; i < 4; i++) assert.equal(disk.bytes[i * 512], i + 1);
    assert.equal(blk.stats.bytesWritten, 2048);
  });

  test("a reset cancels the held request and its retry", () => {
    const clock = { t: 0 };
    const timers: (() => void)[] = [];
    const rateLimiter = new RateLimiter({ ops: { size: 1, refillTimeMs: 1000 } }, () => clock.t);
    const disk = new MemoryBackend(64 * 512);
    const mem = new GuestRam(0x8000_0000, 1 << 20);
    const irq = { level: false, set(l: boolean) { this.level = l; } };
    const blk = new VirtioBlk(disk, { rateLimiter, timer: (_ms, fn) => timers.push(fn) });
    const drv = new MockDriver(mem, new VirtioMmioTransport(blk, mem, irq));
    const [q] = drv.bringUp();
    q!.add([{ len: 16, data: header(VIRTIO_BLK_T.FLUSH, 0) }, { len: 1, write: true }]);
    q!.add([{ len: 16, data: header(VIRTIO_BLK_T.FLUSH, 0) }, { len: 1, write: true }]);
    drv.notify(0);
    assert.equal(disk.flushes, 1);
    drv.w(0x070, 0); // Status = 0: reset
    clock.t = 5000;
    timers.shift()!();
    assert.equal(disk.flushes, 1, "nothing runs after the reset");
  });
});
