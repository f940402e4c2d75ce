import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GuestRam } from "../../mem/ram.js";
import type { IrqLine } from "../device.js";
import { PLIC, PlicDevice } from "../plic/device.js";
import { MockDriver } from "./mock-driver.js";
import { VIRTIO_MMIO, VirtioMmioTransport } from "./mmio.js";
import { copyFromSegments, copyToSegments, VIRTQ, type VirtQueue } from "./queue.js";
import { bit, VIRTIO_F, VIRTIO_STATUS as S, type VirtioDevice } from "./virtio.js";

const RAM_BASE = 0x8000_0000;
const M = VIRTIO_MMIO;

/** A loopback device: copies each chain's readable bytes into its writable part. */
class EchoDevice implements VirtioDevice {
  readonly deviceId = 0x7e;
  readonly features = bit(0);
  readonly queueSizes = [16, 8];
  readonly config = new Uint8Array([0x11, 0x22, 0x33, 0x44, 0x55]);
  queues: readonly (VirtQueue | null)[] = [];
  mem: GuestRam | null = null;
  notifyGuest: () => void = () => {};
  acked = 0n;
  throwOnNotify = false;
  resets = 0;
  activate(mem: GuestRam, queues: readonly (VirtQueue | null)[], notifyGuest: () => void, acked: bigint): void {
    this.mem = mem;
    this.queues = queues;
    this.notifyGuest = notifyGuest;
    this.acked = acked;
  }
  onQueueNotify(queue: number): void {
    if (this.throwOnNotify) throw new Error("boom");
    const q = this.queues[queue];
    if (!q || !this.mem) return;
    let any = false;
    for (let c = q.pop(); c; c = q.pop()) {
      const buf = new Uint8Array(c.readableLen);
      copyFromSegments(this.mem, c.readable, buf);
      q.pushUsed(c.head, copyToSegments(this.mem, c.writable, buf));
      any = true;
    }
    if (any) this.notifyGuest();
  }
  reset(): void {
    this.resets++;
    this.queues = [];
  }
}

class Wire implements IrqLine {
  level = false;
  raised = 0;
  set(level: boolean): void {
    if (level && !this.level) this.raised++;
    this.level = level;
  }
}

function setup() {
  const mem = new GuestRam(RAM_BASE, 1 << 20);
  const irq = new Wire();
  const echo = new EchoDevice();
  const dev = new VirtioMmioTransport(echo, mem, irq);
  const drv = new MockDriver(mem, dev);
  return { mem, irq, echo, dev, drv };
}

const bytes = (...b: number[]) => new Uint8Array(b);

describe("4.2.2 MMIO device register layout", () => {
  test("magic, version 2, device and vendor id", () => {
    const { drv } = setup();
    assert.equal(drv.r(M.MAGIC_VALUE), 0x74726976);
    assert.equal(drv.r(M.VERSION), 2);
    assert.equal(drv.r(M.DEVICE_ID), 0x7e);
    assert.equal(drv.r(M.VENDOR_ID), M.VENDOR_PARAVM);
  });

  test("QueueNumMax per queue, 0 for a queue that does not exist", () => {
    const { drv } = setup();
    drv.w(M.QUEUE_SEL, 1);
    assert.equal(drv.r(M.QUEUE_NUM_MAX), 8);
    drv.w(M.QUEUE_SEL, 2);
    assert.equal(drv.r(M.QUEUE_NUM_MAX), 0);
    drv.w(M.QUEUE_READY, 1); // ignored, no throw
    assert.equal(drv.r(M.QUEUE_READY), 0);
  });

  test("config space at 0x100 in any width; past its end reads 0", () => {
    const { dev } = setup();
    assert.equal(dev.read(0x100, 1), 0x11);
    assert.equal(dev.read(0x101, 2), 0x3322);
    assert.equal(dev.read(0x100, 4) >>> 0, 0x44332211);
    assert.equal(dev.read(0x102, 4), 0);
  });

  test("shared memory regions: none, so SHMLen reads -1", () => {
    const { drv } = setup();
    drv.w(M.SHM_SEL, 0);
    assert.equal(drv.r(M.SHM_LEN_LOW), 0xffffffff);
    assert.equal(drv.r(M.SHM_LEN_HIGH), 0xffffffff);
  });

  test("4.2.3.3 a host config change bumps ConfigGeneration and raises a config interrupt", () => {
    const { drv, dev, irq } = setup();
    drv.bringUp();
    const gen = drv.r(M.CONFIG_GENERATION);
    dev.configChanged();
    assert.equal(drv.r(M.CONFIG_GENERATION), gen + 1);
    assert.equal(irq.level, true);
    assert.equal(drv.ackInterrupt(), M.INT_CONFIG);
  });

  test("4.2.2.2 non-32-bit register accesses read 0 and are ignored", () => {
    const { dev, drv } = setup();
    assert.equal(dev.read(M.MAGIC_VALUE, 1), 0);
    dev.write(M.STATUS, 1, S.ACKNOWLEDGE);
    assert.equal(drv.status, 0);
  });
});

describe("2.2 / 3.1.1 feature negotiation", () => {
  test("the transport offers VERSION_1, INDIRECT_DESC and EVENT_IDX next to the device's bits", () => {
    const { drv } = setup();
    const f = drv.deviceFeatures();
    assert.equal(f, bit(0) | bit(VIRTIO_F.VERSION_1) | bit(VIRTIO_F.RING_INDIRECT_DESC) | bit(VIRTIO_F.RING_EVENT_IDX));
  });

  test("FEATURES_OK is kept for a subset with VERSION_1, and the device is told what was acked", () => {
    const { drv, echo } = setup();
    assert.equal(drv.negotiate(bit(VIRTIO_F.VERSION_1)), true);
    drv.setupQueue(0);
    drv.driverOk();
    assert.equal(echo.acked, bit(VIRTIO_F.VERSION_1));
  });

  test("FEATURES_OK is refused without VERSION_1", () => {
    const { drv } = setup();
    assert.equal(drv.negotiate(bit(0)), false);
  });

  test("FEATURES_OK is refused for bits not offered, or in feature words past 1", () => {
    const { drv } = setup();
    assert.equal(drv.negotiate(bit(VIRTIO_F.VERSION_1) | bit(5)), false);
    drv.w(M.STATUS, 0);
    drv.w(M.STATUS, S.ACKNOWLEDGE | S.DRIVER);
    drv.w(M.DRIVER_FEATURES_SEL, 2);
    drv.w(M.DRIVER_FEATURES, 1);
    drv.w(M.DRIVER_FEATURES_SEL, 1);
    drv.w(M.DRIVER_FEATURES, 1); // VERSION_1
    drv.w(M.STATUS, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
    assert.equal(drv.status & S.FEATURES_OK, 0);
  });

  test("DRIVER_OK without FEATURES_OK is a protocol violation: DEVICE_NEEDS_RESET", () => {
    const { drv, dev } = setup();
    drv.w(M.STATUS, S.ACKNOWLEDGE | S.DRIVER | S.DRIVER_OK);
    assert.notEqual(drv.status & S.DEVICE_NEEDS_RESET, 0);
    assert.match(dev.lastError ?? "", /FEATURES_OK/);
  });
});

describe("4.2.3.2 virtqueue configuration", () => {
  test("queue registers read back; QueueReady 1 then 0", () => {
    const { drv } = setup();
    drv.negotiate();
    const q = drv.setupQueue(0, 8);
    assert.equal(drv.r(M.QUEUE_READY), 1);
    assert.equal(drv.r(M.QUEUE_NUM), 8);
    assert.equal(drv.r(M.QUEUE_DESC_LOW), q.desc >>> 0);
    assert.equal(drv.r(M.QUEUE_DEVICE_HIGH), 0);
    drv.w(M.QUEUE_READY, 0);
    assert.equal(drv.r(M.QUEUE_READY), 0);
  });

  test("QueueReady 0 on a live queue reads back 0 (Linux vm_del_vq) and stops the queue", () => {
    const { drv } = setup();
    const [q0] = drv.bringUp();
    drv.w(M.QUEUE_SEL, 0);
    drv.w(M.QUEUE_READY, 0);
    assert.equal(drv.r(M.QUEUE_READY), 0);
    q0!.add([{ len: 1, data: bytes(1) }, { len: 1, write: true }]);
    drv.notify(0);
    assert.equal(q0!.usedIdx(), 0);
  });

  for (const [name, reg, value] of [
    ["a size that is not a power of two", M.QUEUE_NUM, 6],
    ["a size above QueueNumMax", M.QUEUE_NUM, 32],
    ["a descriptor table outside RAM", M.QUEUE_DESC_LOW, 0x1000],
    ["a misaligned descriptor table", M.QUEUE_DESC_LOW, RAM_BASE + 0x8008],
    ["a used ring past the end of RAM", M.QUEUE_DEVICE_LOW, RAM_BASE + (1 << 20) - 8],
  ] as const) {
    test(`${name} sets DEVICE_NEEDS_RESET at QueueReady`, () => {
      const { drv } = setup();
      drv.negotiate();
      drv.w(M.QUEUE_SEL, 0);
      drv.w(M.QUEUE_NUM, 16);
      drv.w(M.QUEUE_DESC_LOW, RAM_BASE + 0x8000);
      drv.w(M.QUEUE_DRIVER_LOW, RAM_BASE + 0x9000);
      drv.w(M.QUEUE_DEVICE_LOW, RAM_BASE + 0xa000);
      drv.w(reg, value);
      drv.w(M.QUEUE_READY, 1);
      assert.equal(drv.r(M.QUEUE_READY), 0);
      assert.notEqual(drv.status & S.DEVICE_NEEDS_RESET, 0);
    });
  }
});

describe("2.7.13 supplying buffers; 2.7.8 the used ring", () => {
  test("notify → used ring entry with the written length, and a used-buffer interrupt", () => {
    const { drv, irq, mem } = setup();
    const [q0] = drv.bringUp();
    const { head, addrs } = q0!.add([{ len: 3, data: bytes(1, 2, 3) }, { len: 8, write: true }]);
    assert.equal(irq.level, false);
    drv.notify(0);
    assert.equal(q0!.usedIdx(), 1);
    assert.deepEqual(q0!.usedElem(0), { id: head, len: 3 });
    assert.deepEqual(mem.readBytes(addrs[1]!, 3), bytes(1, 2, 3));
    assert.equal(irq.level, true);
    assert.equal(drv.ackInterrupt(), M.INT_VRING);
    assert.equal(irq.level, false);
  });

  test("a notify before DRIVER_OK does nothing", () => {
    const { drv } = setup();
    drv.negotiate();
    const q = drv.setupQueue(0);
    q.add([{ len: 1, data: bytes(9) }, { len: 1, write: true }]);
    drv.notify(0);
    assert.equal(q.usedIdx(), 0);
  });

  test("segments spread over several descriptors are copied across boundaries", () => {
    const { drv, mem } = setup();
    const [q0] = drv.bringUp();
    const { addrs } = q0!.add([
      { len: 2, data: bytes(1, 2) },
      { len: 3, data: bytes(3, 4, 5) },
      { len: 4, write: true },
      { len: 4, write: true },
    ]);
    drv.notify(0);
    assert.equal(q0!.usedElem(0).len, 5);
    assert.deepEqual(mem.readBytes(addrs[2]!, 4), bytes(1, 2, 3, 4));
    assert.deepEqual(mem.readBytes(addrs[3]!, 1), bytes(5));
  });
});

describe("2.7.7 used buffer notification suppression", () => {
  test("without event-idx, VIRTQ_AVAIL_F_NO_INTERRUPT suppresses the interrupt", () => {
    const { drv, irq } = setup();
    const [q0] = drv.bringUp(bit(VIRTIO_F.VERSION_1));
    q0!.setAvailFlags(VIRTQ.AVAIL_F_NO_INTERRUPT);
    q0!.add([{ len: 1, data: bytes(7) }, { len: 1, write: true }]);
    drv.notify(0);
    assert.equal(q0!.usedIdx(), 1);
    assert.equal(irq.level, false);
    q0!.setAvailFlags(0);
    q0!.add([{ len: 1, data: bytes(7) }, { len: 1, write: true }]);
    drv.notify(0);
    assert.equal(irq.level, true);
  });

  test("with event-idx, the interrupt comes only when used idx passes used_event", () => {
    const { drv, irq } = setup();
    const [q0] = drv.bringUp();
    q0!.setUsedEvent(2); // interrupt me once the third buffer (index 2) is used
    for (let i = 0; i < 2; i++) {
      q0!.add([{ len: 1, data: bytes(i) }, { len: 1, write: true }]);
      drv.notify(0);
      assert.equal(irq.level, false, `buffer ${i}`);
    }
    q0!.add([{ len: 1, data: bytes(2) }, { len: 1, write: true }]);
    drv.notify(0);
    assert.equal(q0!.usedIdx(), 3);
    assert.equal(irq.level, true);
  });

  test("with event-idx the flags are ignored", () => {
    const { drv, irq } = setup();
    const [q0] = drv.bringUp();
    q0!.setAvailFlags(VIRTQ.AVAIL_F_NO_INTERRUPT);
    q0!.setUsedEvent(0);
    q0!.add([{ len: 1, data: bytes(1) }, { len: 1, write: true }]);
    drv.notify(0);
    assert.equal(irq.level, true);
  });
});

describe("2.7.10 available buffer notification suppression", () => {
  test("with event-idx the device asks to be notified at the next available index", () => {
    const { drv } = setup();
    const [q0] = drv.bringUp();
    for (let i = 0; i < 3; i++) q0!.add([{ len: 1, data: bytes(i) }, { len: 1, write: true }]);
    drv.notify(0);
    assert.equal(q0!.availEvent(), 3);
  });
});

describe("2.7.5.3 indirect descriptors", () => {
  test("a chain in an indirect table is served like a direct one", () => {
    const { drv, mem } = setup();
    const [q0] = drv.bringUp();
    const { head, addrs } = q0!.add([{ len: 2, data: bytes(4, 2) }, { len: 2, write: true }], { indirect: true });
    drv.notify(0);
    assert.deepEqual(q0!.usedElem(0), { id: head, len: 2 });
    assert.deepEqual(mem.readBytes(addrs[1]!, 2), bytes(4, 2));
  });

  test("an indirect descriptor without VIRTIO_F_RING_INDIRECT_DESC negotiated → DEVICE_NEEDS_RESET", () => {
    const { drv } = setup();
    const [q0] = drv.bringUp(bit(VIRTIO_F.VERSION_1));
    q0!.add([{ len: 2, data: bytes(4, 2) }, { len: 2, write: true }], { indirect: true });
    drv.notify(0);
    assert.notEqual(drv.status & S.DEVICE_NEEDS_RESET, 0);
  });
});

/** Bring up, let `hostile` corrupt queue 0, notify, and check the device is marked broken. */
function expectNeedsReset(hostile: (ctx: ReturnType<typeof setup> & { q: ReturnType<MockDriver["bringUp"]>[0] }) => void, why: RegExp) {
  const ctx = setup();
  const [q] = ctx.drv.bringUp();
  ctx.drv.ackInterrupt();
  assert.doesNotThrow(() => {
    hostile({ ...ctx, q });
    ctx.drv.notify(0);
  });
  assert.notEqual(ctx.drv.status & S.DEVICE_NEEDS_RESET, 0, "DEVICE_NEEDS_RESET");
  assert.match(ctx.dev.lastError ?? "", why);
  // §2.1.2: with DRIVER_OK set, the device sends a configuration change notification.
  assert.equal(ctx.irq.level, true);
  assert.equal(ctx.drv.ackInterrupt() & M.INT_CONFIG, M.INT_CONFIG);
  return { ...ctx, q };
}

describe("2.1.2 DEVICE_NEEDS_RESET on a hostile driver", () => {
  test("avail idx more than the queue size ahead", () => {
    expectNeedsReset(({ q }) => q!.setAvailIdx(17), /avail idx/);
  });

  test("a head index outside the descriptor table", () => {
    expectNeedsReset(({ q }) => q!.publish(200), /outside a table/);
  });

  test("a buffer outside RAM", () => {
    expectNeedsReset(({ q }) => {
      q!.writeDesc(0, { addr: 0x1000, len: 16, flags: 0, next: 0 });
      q!.publish(0);
    }, /outside RAM/);
  });

  test("a buffer that runs past the end of RAM", () => {
    expectNeedsReset(({ q }) => {
      q!.writeDesc(0, { addr: RAM_BASE + (1 << 20) - 4, len: 8, flags: VIRTQ.DESC_F_WRITE, next: 0 });
      q!.publish(0);
    }, /outside RAM/);
  });

  test("a 64-bit address far above RAM", () => {
    expectNeedsReset(({ q }) => {
      q!.writeDesc(0, { addr: 2 ** 60, len: 1, flags: 0, next: 0 });
      q!.publish(0);
    }, /outside RAM/);
  });

  test("a descriptor chain that loops", () => {
    expectNeedsReset(({ q }) => {
      q!.writeDesc(0, { addr: RAM_BASE + 0x100, len: 1, flags: VIRTQ.DESC_F_NEXT, next: 1 });
      q!.writeDesc(1, { addr: RAM_BASE + 0x100, len: 1, flags: VIRTQ.DESC_F_NEXT, next: 0 });
      q!.publish(0);
    }, /loops/);
  });

  test("a readable descriptor after a writable one", () => {
    expectNeedsReset(({ q }) => q!.add([{ len: 1, write: true }, { len: 1 }]), /readable descriptor after/);
  });

  test("a nested indirect table", () => {
    expectNeedsReset(({ q, drv }) => {
      const inner = drv.arena.alloc(16);
      const outer = drv.arena.alloc(16);
      q!.writeDesc(0, { addr: inner, len: 16, flags: VIRTQ.DESC_F_INDIRECT, next: 0 }, outer);
      q!.writeDesc(0, { addr: outer, len: 16, flags: VIRTQ.DESC_F_INDIRECT, next: 0 });
      q!.publish(0);
    }, /nested indirect/);
  });

  test("an indirect table with a length not a multiple of 16", () => {
    expectNeedsReset(({ q, drv }) => {
      q!.writeDesc(0, { addr: drv.arena.alloc(32), len: 24, flags: VIRTQ.DESC_F_INDIRECT, next: 0 });
      q!.publish(0);
    }, /indirect table length/);
  });

  test("an indirect table outside RAM", () => {
    expectNeedsReset(({ q }) => {
      q!.writeDesc(0, { addr: RAM_BASE + (1 << 20) - 16, len: 32, flags: VIRTQ.DESC_F_INDIRECT, next: 0 });
      q!.publish(0);
    }, /indirect table at/);
  });

  test("a loop inside an indirect table", () => {
    expectNeedsReset(({ q, drv }) => {
      const t = drv.arena.alloc(32);
      q!.writeDesc(0, { addr: RAM_BASE + 0x100, len: 1, flags: VIRTQ.DESC_F_NEXT, next: 1 }, t);
      q!.writeDesc(1, { addr: RAM_BASE + 0x100, len: 1, flags: VIRTQ.DESC_F_NEXT, next: 0 }, t);
      q!.writeDesc(0, { addr: t, len: 32, flags: VIRTQ.DESC_F_INDIRECT, next: 0 });
      q!.publish(0);
    }, /loops/);
  });

  test("an indirect descriptor with NEXT set", () => {
    expectNeedsReset(({ q, drv }) => {
      q!.writeDesc(0, { addr: drv.arena.alloc(16), len: 16, flags: VIRTQ.DESC_F_INDIRECT | VIRTQ.DESC_F_NEXT, next: 1 });
      q!.publish(0);
    }, /NEXT/);
  });

  test("a device that throws is marked broken instead of crashing the host", () => {
    expectNeedsReset(({ echo }) => (echo.throwOnNotify = true), /boom/);
  });

  test("once broken, notifies are ignored; the driver cannot clear the bit without a reset", () => {
    const { drv, q } = expectNeedsReset(({ q }) => q!.setAvailIdx(1000), /avail idx/);
    q!.setAvailIdx(0);
    q!.add([{ len: 1, data: bytes(1) }, { len: 1, write: true }]);
    drv.notify(0);
    assert.equal(q!.usedIdx(), 0);
    drv.w(M.STATUS, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
    assert.notEqual(drv.status & S.DEVICE_NEEDS_RESET, 0);
  });
});

describe("2.4 device reset", () => {
  test("writing 0 to Status resets the transport and the device, which then works again", () => {
    const { drv, echo, irq } = expectNeedsReset(({ q }) => q!.setAvailIdx(1000), /avail idx/);
    const resets = echo.resets;
    drv.w(M.STATUS, 0);
    assert.equal(drv.status, 0);
    assert.equal(echo.resets, resets + 1);
    assert.equal(irq.level, false);
    drv.w(M.QUEUE_SEL, 0);
    assert.equal(drv.r(M.QUEUE_READY), 0);
    const [q0] = drv.bringUp();
    q0!.add([{ len: 1, data: bytes(5) }, { len: 1, write: true }]);
    drv.notify(0);
    assert.equal(q0!.usedIdx(), 1);
  });
});

describe("transport save/load", () => {
  test("a restored transport continues the rings where they were", () => {
    const a = setup();
    const [q0] = a.drv.bringUp();
    q0!.add([{ len: 1, data: bytes(1) }, { len: 1, write: true }]);
    a.drv.notify(0);
    const state = JSON.parse(JSON.stringify(a.dev.save()));
    // Same RAM, new transport and device (as after a snapshot restore).
    const irq = new Wire();
    const echo = new EchoDevice();
    const dev = new VirtioMmioTransport(echo, a.mem, irq);
    dev.load(state);
    assert.equal(irq.level, true, "pending interrupt restored");
    q0!.add([{ len: 1, data: bytes(2) }, { len: 1, write: true }]);
    dev.write(M.QUEUE_NOTIFY, 4, 0);
    assert.equal(q0!.usedIdx(), 2);
  });
});

describe("wired to the PLIC", () => {
  test("a used-buffer interrupt reaches the hart as SEIP; ack + complete lowers it", () => {
    const hart = { mip: 0, setInterruptPending(b: number, l: boolean) { this.mip = l ? this.mip | (1 << b) : this.mip & ~(1 << b); } };
    const plic = new PlicDevice([hart]);
    const mem = new GuestRam(RAM_BASE, 1 << 20);
    const dev = new VirtioMmioTransport(new EchoDevice(), mem, plic.irqLine(1));
    const drv = new MockDriver(mem, dev);
    plic.write(PLIC.PRIORITY_BASE + 4, 4, 1);
    plic.write(PLIC.ENABLE_BASE + PLIC.ENABLE_STRIDE * 1, 4, 1 << 1);
    const [q0] = drv.bringUp();
    q0!.add([{ len: 1, data: bytes(1) }, { len: 1, write: true }]);
    drv.notify(0);
    assert.equal(hart.mip & (1 << PLIC.MIP_SEIP_BIT), 1 << PLIC.MIP_SEIP_BIT);
    const claim = PLIC.CONTEXT_BASE + PLIC.CONTEXT_STRIDE + PLIC.CTX_CLAIM;
    assert.equal(plic.read(claim, 4), 1);
    drv.ackInterrupt();
    plic.write(claim, 4, 1);
    assert.equal(hart.mip, 0);
  });
});
