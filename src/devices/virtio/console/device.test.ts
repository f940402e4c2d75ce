import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GuestRam } from "../../../mem/ram.js";
import { MockDriver } from "../mock-driver.js";
import { VIRTIO_MMIO, VirtioMmioTransport } from "../mmio.js";
import { VIRTIO_STATUS } from "../virtio.js";
import { type CharBackend, VIRTIO_CONSOLE, VirtioConsole } from "./device.js";

class TestBackend implements CharBackend {
  out: number[] = [];
  private cb: ((b: Uint8Array) => void) | null = null;
  write(bytes: Uint8Array): void {
    this.out.push(...bytes);
  }
  onInput(cb: (b: Uint8Array) => void): void {
    this.cb = cb;
  }
  type(s: string): void {
    this.cb?.(new TextEncoder().encode(s));
  }
  get text(): string {
    return new TextDecoder().decode(new Uint8Array(this.out));
  }
}

function setup() {
  const mem = new GuestRam(0x8000_0000, 1 << 20);
  const irq = { level: false, set(l: boolean) { this.level = l; } };
  const backend = new TestBackend();
  const con = new VirtioConsole(backend);
  const dev = new VirtioMmioTransport(con, mem, irq);
  const drv = new MockDriver(mem, dev);
  return { mem, irq, backend, con, dev, drv };
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe("5.3 console device", () => {
  test("5.3.1 device id 3; 5.3.2 receiveq0 and transmitq0; 5.3.4 a 12-byte config", () => {
    const { drv, dev } = setup();
    assert.equal(drv.r(VIRTIO_MMIO.DEVICE_ID), 3);
    for (const q of [0, 1]) {
      drv.w(VIRTIO_MMIO.QUEUE_SEL, q);
      assert.equal(drv.r(VIRTIO_MMIO.QUEUE_NUM_MAX), VIRTIO_CONSOLE.QUEUE_SIZE);
    }
    drv.w(VIRTIO_MMIO.QUEUE_SEL, 2);
    assert.equal(drv.r(VIRTIO_MMIO.QUEUE_NUM_MAX), 0);
    assert.equal(dev.read(VIRTIO_MMIO.CONFIG + 8, 4), 0);
  });

  test("5.3.6 transmitq0 output goes to the backend; the buffer returns at once with length 0", () => {
    const { drv, backend, irq } = setup();
    const [, tx] = drv.bringUp();
    const { head } = tx!.add([{ len: 6, data: enc("hello ") }, { len: 5, data: enc("world") }]);
    drv.notify(1);
    assert.equal(backend.text, "hello world");
    assert.deepEqual(tx!.usedElem(0), { id: head, len: 0 });
    assert.equal(irq.level, true);
  });

  test("5.3.6 host input waits for receive buffers, then fills them across chains", () => {
    const { drv, backend, mem, con } = setup();
    const [rx] = drv.bringUp();
    backend.type("abc");
    backend.type("defgh");
    assert.equal(con.pendingInput, 8);
    const a = rx!.add([{ len: 5, write: true }]);
    const b = rx!.add([{ len: 16, write: true }]);
    drv.notify(0);
    assert.equal(rx!.usedIdx(), 2);
    assert.deepEqual(rx!.usedElem(0), { id: a.head, len: 5 });
    assert.deepEqual(rx!.usedElem(1), { id: b.head, len: 3 });
    assert.equal(dec(mem.readBytes(a.addrs[0]!, 5)), "abcde");
    assert.equal(dec(mem.readBytes(b.addrs[0]!, 3)), "fgh");
    assert.equal(con.pendingInput, 0);
  });

  test("input typed while buffers are posted is delivered at once", () => {
    const { drv, backend, mem, irq } = setup();
    const [rx] = drv.bringUp();
    const a = rx!.add([{ len: 64, write: true }]);
    drv.notify(0);
    assert.equal(rx!.usedIdx(), 0, "no input yet: the buffer stays with the device");
    backend.type("ls\n");
    assert.deepEqual(rx!.usedElem(0), { id: a.head, len: 3 });
    assert.equal(dec(mem.readBytes(a.addrs[0]!, 3)), "ls\n");
    assert.equal(irq.level, true);
  });

  test("input typed before the driver is ready is kept, and survives a device reset", () => {
    const { drv, backend, mem } = setup();
    backend.type("early");
    drv.w(VIRTIO_MMIO.STATUS, 0);
    const [rx] = drv.bringUp();
    const a = rx!.add([{ len: 8, write: true }]);
    drv.notify(0);
    assert.equal(dec(mem.readBytes(a.addrs[0]!, 5)), "early");
  });

  test("input beyond the limit is dropped and counted", () => {
    const { backend, con } = setup();
    backend.type("x".repeat(VIRTIO_CONSOLE.INPUT_LIMIT + 10));
    assert.equal(con.pendingInput, VIRTIO_CONSOLE.INPUT_LIMIT);
    assert.equal(con.droppedInput, 10);
  });

  test("a hostile transmit chain sets DEVICE_NEEDS_RESET and writes nothing", () => {
    const { drv, backend } = setup();
    const [, tx] = drv.bringUp();
    tx!.writeDesc(0, { addr: 0x10, len: 4, flags: 0, next: 0 });
    tx!.publish(0);
    assert.doesNotThrow(() => drv.notify(1));
    assert.notEqual(drv.status & VIRTIO_STATUS.DEVICE_NEEDS_RESET, 0);
    assert.equal(backend.out.length, 0);
  });
});
