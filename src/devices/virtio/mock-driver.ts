/**
 * A fake virtio driver for device tests (in the spirit of rust-vmm's MockSplitQueue):
 * it speaks to a `VirtioMmioTransport` through its registers, as Linux's virtio_mmio.c
 * does, and builds split virtqueues in guest RAM — descriptor tables, available ring,
 * indirect tables — and reads the used ring back. It writes whatever it is told to,
 * hostile chains included: nothing here validates.
 */
import type { GuestRam } from "../../mem/ram.js";
import { areaSizes, VIRTQ } from "./queue.js";
import { VIRTIO_MMIO, type VirtioMmioTransport } from "./mmio.js";
import { VIRTIO_STATUS } from "./virtio.js";

export interface RawDesc {
  addr: number;
  len: number;
  flags: number;
  next: number;
}

/** One buffer of a chain to add: `len` bytes, device-writable or not, optional content. */
export interface BufSpec {
  len: number;
  write?: boolean;
  data?: Uint8Array;
}

/** A bump allocator over guest RAM, starting a page in. */
class Arena {
  private next: number;
  constructor(private readonly mem: GuestRam) {
    this.next = mem.base + 0x1000;
  }
  alloc(len: number, align = 16): number {
    const at = Math.ceil(this.next / align) * align;
    if (at + len > this.mem.base + this.mem.size) throw new RangeError("mock driver: out of guest RAM");
    this.next = at + Math.max(len, 1);
    return at;
  }
}

export class MockQueue {
  private readonly view: DataView;
  /** Next free descriptor id (the mock never recycles: tests are short). */
  private nextDesc = 0;
  /** The driver's avail idx (free-running). */
  availIdx = 0;

  constructor(
    private readonly mem: GuestRam,
    private readonly arena: { alloc(len: number, align?: number): number },
    readonly index: number,
    readonly size: number,
    readonly desc: number,
    readonly driver: number,
    readonly device: number,
  ) {
    this.view = new DataView(mem.sab);
  }

  private off(pa: number): number {
    return pa - this.mem.base;
  }

  /** Write descriptor `i` of the table at `table` (default: the queue's own). */
  writeDesc(i: number, d: RawDesc, table = this.desc): void {
    const o = this.off(table) + VIRTQ.DESC_SIZE * i;
    this.view.setUint32(o, d.addr % 0x1_0000_0000, true);
    this.view.setUint32(o + 4, Math.floor(d.addr / 0x1_0000_0000), true);
    this.view.setUint32(o + 8, d.len >>> 0, true);
    this.view.setUint16(o + 12, d.flags, true);
    this.view.setUint16(o + 14, d.next, true);
  }

  /** Allocate buffers and descriptors for a chain (in the ring's table, or indirect); returns head and buffer addresses. */
  buildChain(bufs: readonly BufSpec[], opts: { indirect?: boolean } = {}): { head: number; addrs: number[] } {
    const addrs = bufs.map((b) => {
      const a = this.arena.alloc(b.len);
      if (b.data) this.mem.writeBytes(a, b.data);
      return a;
    });
    const flagsOf = (b: BufSpec, last: boolean) =>
      (b.write ? VIRTQ.DESC_F_WRITE : 0) | (last ? 0 : VIRTQ.DESC_F_NEXT);
    if (opts.indirect) {
      const table = this.arena.alloc(VIRTQ.DESC_SIZE * bufs.length);
      bufs.forEach((b, i) =>
        this.writeDesc(i, { addr: addrs[i]!, len: b.len, flags: flagsOf(b, i === bufs.length - 1), next: i + 1 }, table),
      );
      const head = this.nextDesc++;
      this.writeDesc(head, { addr: table, len: VIRTQ.DESC_SIZE * bufs.length, flags: VIRTQ.DESC_F_INDIRECT, next: 0 });
      return { head, addrs };
    }
    const ids = bufs.map(() => this.nextDesc++ % this.size);
    bufs.forEach((b, i) =>
      this.writeDesc(ids[i]!, { addr: addrs[i]!, len: b.len, flags: flagsOf(b, i === bufs.length - 1), next: ids[i + 1] ?? 0 }),
    );
    return { head: ids[0]!, addrs };
  }

  /** Put `head` in the available ring and publish it (avail idx + 1). */
  publish(head: number): void {
    this.view.setUint16(this.off(this.driver) + 4 + 2 * (this.availIdx % this.size), head, true);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.setAvailIdx(this.availIdx);
  }

  /** Build a chain and publish it. */
  add(bufs: readonly BufSpec[], opts: { indirect?: boolean } = {}): { head: number; addrs: number[] } {
    const c = this.buildChain(bufs, opts);
    this.publish(c.head);
    return c;
  }

  /** Write the avail idx as is (hostile tests write impossible values). */
  setAvailIdx(v: number): void {
    this.view.setUint16(this.off(this.driver) + 2, v & 0xffff, true);
  }

  setAvailFlags(v: number): void {
    this.view.setUint16(this.off(this.driver), v, true);
  }

  /** used_event: the driver's "interrupt me when the used idx passes this". */
  setUsedEvent(v: number): void {
    this.view.setUint16(this.off(this.driver) + 4 + 2 * this.size, v & 0xffff, true);
  }

  /** avail_event, as the device wrote it. */
  availEvent(): number {
    return this.view.getUint16(this.off(this.device) + 4 + 8 * this.size, true);
  }

  usedIdx(): number {
    return this.view.getUint16(this.off(this.device) + 2, true);
  }

  usedElem(i: number): { id: number; len: number } {
    const o = this.off(this.device) + 4 + 8 * (i % this.size);
    return { id: this.view.getUint32(o, true), len: this.view.getUint32(o + 4, true) };
  }
}

export class MockDriver {
  readonly arena: Arena;

  constructor(
    readonly mem: GuestRam,
    readonly dev: VirtioMmioTransport,
  ) {
    this.arena = new Arena(mem);
  }

  r(off: number): number {
    return this.dev.read(off, 4) >>> 0;
  }

  w(off: number, v: number): void {
    this.dev.write(off, 4, v | 0);
  }

  get status(): number {
    return this.r(VIRTIO_MMIO.STATUS);
  }

  deviceFeatures(): bigint {
    this.w(VIRTIO_MMIO.DEVICE_FEATURES_SEL, 1);
    const hi = this.r(VIRTIO_MMIO.DEVICE_FEATURES);
    this.w(VIRTIO_MMIO.DEVICE_FEATURES_SEL, 0);
    return (BigInt(hi) << 32n) | BigInt(this.r(VIRTIO_MMIO.DEVICE_FEATURES));
  }

  /**
   * §3.1.1 steps 1–6: reset, ACKNOWLEDGE, DRIVER, write `features` (default: all the
   * device offers), FEATURES_OK; returns whether the device kept FEATURES_OK.
   */
  negotiate(features?: bigint): boolean {
    const S = VIRTIO_STATUS;
    this.w(VIRTIO_MMIO.STATUS, 0);
    this.w(VIRTIO_MMIO.STATUS, S.ACKNOWLEDGE);
    this.w(VIRTIO_MMIO.STATUS, S.ACKNOWLEDGE | S.DRIVER);
    const f = features ?? this.deviceFeatures();
    this.w(VIRTIO_MMIO.DRIVER_FEATURES_SEL, 1);
    this.w(VIRTIO_MMIO.DRIVER_FEATURES, Number((f >> 32n) & 0xffff_ffffn));
    this.w(VIRTIO_MMIO.DRIVER_FEATURES_SEL, 0);
    this.w(VIRTIO_MMIO.DRIVER_FEATURES, Number(f & 0xffff_ffffn));
    this.w(VIRTIO_MMIO.STATUS, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
    return (this.status & S.FEATURES_OK) !== 0;
  }

  /** §4.2.3.2: select, size, place the three areas, QueueReady = 1. */
  setupQueue(index: number, size?: number): MockQueue {
    const M = VIRTIO_MMIO;
    this.w(M.QUEUE_SEL, index);
    const n = size ?? this.r(M.QUEUE_NUM_MAX);
    const s = areaSizes(n);
    const desc = this.arena.alloc(s.desc, 16);
    const driver = this.arena.alloc(s.driver, 2);
    const device = this.arena.alloc(s.device, 4);
    this.w(M.QUEUE_NUM, n);
    this.w(M.QUEUE_DESC_LOW, desc % 0x1_0000_0000);
    this.w(M.QUEUE_DESC_HIGH, Math.floor(desc / 0x1_0000_0000));
    this.w(M.QUEUE_DRIVER_LOW, driver % 0x1_0000_0000);
    this.w(M.QUEUE_DRIVER_HIGH, Math.floor(driver / 0x1_0000_0000));
    this.w(M.QUEUE_DEVICE_LOW, device % 0x1_0000_0000);
    this.w(M.QUEUE_DEVICE_HIGH, Math.floor(device / 0x1_0000_0000));
    this.w(M.QUEUE_READY, 1);
    return new MockQueue(this.mem, this.arena, index, n, desc, driver, device);
  }

  driverOk(): void {
    const S = VIRTIO_STATUS;
    this.w(VIRTIO_MMIO.STATUS, this.status | S.DRIVER_OK);
  }

  /** Negotiate, set up every queue the device has, DRIVER_OK. */
  bringUp(features?: bigint): MockQueue[] {
    if (!this.negotiate(features)) throw new Error("mock driver: FEATURES_OK refused");
    const queues: MockQueue[] = [];
    for (let i = 0; ; i++) {
      this.w(VIRTIO_MMIO.QUEUE_SEL, i);
      if (this.r(VIRTIO_MMIO.QUEUE_NUM_MAX) === 0) break;
      queues.push(this.setupQueue(i));
    }
    this.driverOk();
    return queues;
  }

  notify(queue: number): void {
    this.w(VIRTIO_MMIO.QUEUE_NOTIFY, queue);
  }

  /** Read and acknowledge InterruptStatus, as vm_interrupt does; returns the bits. */
  ackInterrupt(): number {
    const bits = this.r(VIRTIO_MMIO.INTERRUPT_STATUS);
    this.w(VIRTIO_MMIO.INTERRUPT_ACK, bits);
    return bits;
  }
}
