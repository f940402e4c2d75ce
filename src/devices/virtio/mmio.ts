/**
 * The virtio-mmio transport, version 2 (virtio 1.2 §4.2.2; Linux
 * `include/uapi/linux/virtio_mmio.h`, `drivers/virtio/virtio_mmio.c`): one 0x200-byte
 * register window that wraps any `VirtioDevice`, so register decoding exists once.
 *
 * Only the modern (version 2) interface: the legacy registers (GuestPageSize, QueueAlign,
 * QueuePFN) read 0 and ignore writes. Registers below 0x100 are 32-bit (§4.2.2.2: the
 * driver MUST use aligned 32-bit accesses); narrower accesses to them read 0 and are
 * ignored. The config space at 0x100 takes any width.
 *
 * The guest is hostile. A protocol violation (a bad queue layout, a broken ring, a
 * device error) sets DEVICE_NEEDS_RESET; once DRIVER_OK is set, that also raises a
 * configuration-change interrupt (§2.1.2). The device then ignores notifications until
 * the driver resets it by writing 0 to Status. Nothing the guest does throws.
 */
import type { GuestRam } from "../../mem/ram.js";
import type { DeviceState, IrqLine, MmioDevice } from "../device.js";
import { checkLayout, VirtQueue } from "./queue.js";
import { readTransportState } from "./mmio-state.js";
import { bit, VIRTIO_F, VIRTIO_STATUS, type VirtioDevice } from "./virtio.js";

export const VIRTIO_MMIO = {
  MAGIC_VALUE: 0x000,
  VERSION: 0x004,
  DEVICE_ID: 0x008,
  VENDOR_ID: 0x00c,
  DEVICE_FEATURES: 0x010,
  DEVICE_FEATURES_SEL: 0x014,
  DRIVER_FEATURES: 0x020,
  DRIVER_FEATURES_SEL: 0x024,
  QUEUE_SEL: 0x030,
  QUEUE_NUM_MAX: 0x034,
  QUEUE_NUM: 0x038,
  QUEUE_READY: 0x044,
  QUEUE_NOTIFY: 0x050,
  INTERRUPT_STATUS: 0x060,
  INTERRUPT_ACK: 0x064,
  STATUS: 0x070,
  QUEUE_DESC_LOW: 0x080,
  QUEUE_DESC_HIGH: 0x084,
  QUEUE_DRIVER_LOW: 0x090,
  QUEUE_DRIVER_HIGH: 0x094,
  QUEUE_DEVICE_LOW: 0x0a0,
  QUEUE_DEVICE_HIGH: 0x0a4,
  /** Shared memory regions (§4.2.2): we have none, so their length and base read as -1. */
  SHM_SEL: 0x0ac,
  SHM_LEN_LOW: 0x0b0,
  SHM_LEN_HIGH: 0x0b4,
  SHM_BASE_LOW: 0x0b8,
  SHM_BASE_HIGH: 0x0bc,
  CONFIG_GENERATION: 0x0fc,
  CONFIG: 0x100,
  SIZE: 0x200,
  /** "virt" in little-endian ASCII. */
  MAGIC: 0x74726976,
  /** The modern (virtio 1.x) register layout; 1 would be legacy. */
  VERSION_MODERN: 2,
  /**
   * Our vendor id: the bytes "PRVM" ("paravm") read as a little-endian word. Linux only
   * passes it on (sysfs `vendor`); QEMU uses "QEMU" (0x554d4551) the same way.
   */
  VENDOR_PARAVM: 0x4d565250,
  /** InterruptStatus bits. */
  INT_VRING: 0x1,
  INT_CONFIG: 0x2,
} as const;

/** Features the transport offers on behalf of every device. */
export const TRANSPORT_FEATURES = bit(VIRTIO_F.VERSION_1) | bit(VIRTIO_F.RING_INDIRECT_DESC) | bit(VIRTIO_F.RING_EVENT_IDX);
const TWO32 = 0x1_0000_0000;

/** Per-queue registers as the driver wrote them. */
export interface QueueRegs {
  num: number;
  ready: boolean;
  desc: number[]; // [low, high]
  driver: number[];
  device: number[];
}

export const newQueueRegs = (max: number): QueueRegs => ({
  num: max,
  ready: false,
  desc: [0, 0],
  driver: [0, 0],
  device: [0, 0],
});

export class VirtioMmioTransport implements MmioDevice {
  readonly size = VIRTIO_MMIO.SIZE;
  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  /** Driver feature words 0 and 1; `driverFeaturesExtra` notes bits written to higher words. */
  private driverFeatures = [0, 0];
  private driverFeaturesExtra = false;
  private queueSel = 0;
  private queueRegs: QueueRegs[];
  private queues: (VirtQueue | null)[];
  private interruptStatus = 0;
  private configGeneration = 0;
  private activated = false;
  /** Why the device last entered DEVICE_NEEDS_RESET (for tests and diagnostics). */
  lastError: string | null = null;

  constructor(
    readonly device: VirtioDevice,
    private readonly mem: GuestRam,
    private readonly irq: IrqLine,
  ) {
    this.queueRegs = device.queueSizes.map(newQueueRegs);
    this.queues = device.queueSizes.map(() => null);
  }

  /** All features offered: the device's own and the transport's. */
  get offeredFeatures(): bigint {
    return this.device.features | TRANSPORT_FEATURES;
  }

  /** The features the driver wrote (meaningful once FEATURES_OK is set). */
  get driverFeatureBits(): bigint {
    return (BigInt(this.driverFeatures[1]! >>> 0) << 32n) | BigInt(this.driverFeatures[0]! >>> 0);
  }

  /**
   * The host changed the device's config space: bump ConfigGeneration and raise a
   * configuration-change interrupt (§2.5.1, §4.2.3.3).
   */
  configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    if (this.status & VIRTIO_STATUS.DRIVER_OK) this.raise(VIRTIO_MMIO.INT_CONFIG);
  }

  read(offset: number, width: 1 | 2 | 4): number {
    if (offset >= VIRTIO_MMIO.CONFIG) return this.readConfig(offset - VIRTIO_MMIO.CONFIG, width);
    if (width !== 4 || (offset & 3) !== 0) return 0;
    const M = VIRTIO_MMIO;
    switch (offset) {
      case M.MAGIC_VALUE:
        return M.MAGIC;
      case M.VERSION:
        return M.VERSION_MODERN;
      case M.DEVICE_ID:
        return this.device.deviceId;
      case M.VENDOR_ID:
        return M.VENDOR_PARAVM;
      case M.DEVICE_FEATURES: {
        if (this.deviceFeaturesSel > 1) return 0;
        const f = this.offeredFeatures >> BigInt(32 * this.deviceFeaturesSel);
        return Number(f & 0xffff_ffffn) | 0;
      }
      case M.QUEUE_NUM_MAX:
        return this.device.queueSizes[this.queueSel] ?? 0;
      case M.QUEUE_READY:
        return this.queueRegs[this.queueSel]?.ready ? 1 : 0;
      case M.INTERRUPT_STATUS:
        return this.interruptStatus;
      case M.STATUS:
        return this.status;
      case M.CONFIG_GENERATION:
        return this.configGeneration | 0;
      case M.SHM_LEN_LOW:
      case M.SHM_LEN_HIGH:
      case M.SHM_BASE_LOW:
      case M.SHM_BASE_HIGH:
        return -1;
      default: {
        // Some drivers read back what they wrote (the "write-only" registers read as such).
        const q = this.queueRegs[this.queueSel];
        if (!q) return 0;
        if (offset === M.QUEUE_NUM) return q.num;
        const pair = this.addrRegs(q, offset);
        return pair ? pair[(offset >> 2) & 1]! | 0 : 0;
      }
    }
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    if (offset >= VIRTIO_MMIO.CONFIG) {
      this.device.writeConfig?.(offset - VIRTIO_MMIO.CONFIG, width, value);
      return;
    }
    if (width !== 4 || (offset & 3) !== 0) return;
    const v = value >>> 0;
    const M = VIRTIO_MMIO;
    switch (offset) {
      case M.DEVICE_FEATURES_SEL:
        this.deviceFeaturesSel = v;
        return;
      case M.DRIVER_FEATURES_SEL:
        this.driverFeaturesSel = v;
        return;
      case M.DRIVER_FEATURES:
        // §2.2.1: features are fixed once FEATURES_OK is set.
        if (this.status & VIRTIO_STATUS.FEATURES_OK) return;
        if (this.driverFeaturesSel <= 1) this.driverFeatures[this.driverFeaturesSel] = v;
        else if (v !== 0) this.driverFeaturesExtra = true;
        return;
      case M.QUEUE_SEL:
        this.queueSel = v;
        return;
      case M.QUEUE_NOTIFY:
        this.notify(v);
        return;
      case M.INTERRUPT_ACK:
        this.interruptStatus &= ~v;
        if (this.interruptStatus === 0) this.irq.set(false);
        return;
      case M.STATUS:
        this.writeStatus(v);
        return;
      default:
        this.writeQueueReg(offset, v);
    }
  }

  reset(): void {
    this.device.reset();
    this.activated = false;
    this.status = 0;
    this.deviceFeaturesSel = 0;
    this.driverFeaturesSel = 0;
    this.driverFeatures = [0, 0];
    this.driverFeaturesExtra = false;
    this.queueSel = 0;
    this.queueRegs = this.device.queueSizes.map(newQueueRegs);
    this.queues = this.device.queueSizes.map(() => null);
    this.interruptStatus = 0;
    this.irq.set(false);
  }

  /**
   * The transport's registers, each queue's ring positions and the device's own state
   * (`saveDevice`), as plain data. Taken between guest instructions, a consistent point:
   * every device serves its requests synchronously, so nothing is half done.
   */
  save(): DeviceState {
    return {
      deviceId: this.device.deviceId,
      status: this.status,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: [...this.driverFeatures],
      driverFeaturesExtra: this.driverFeaturesExtra,
      queueSel: this.queueSel,
      queueRegs: this.queueRegs.map((q) => ({ ...q, desc: [...q.desc], driver: [...q.driver], device: [...q.device] })),
      queues: this.queues.map((q) => (q ? q.save() : null)),
      interruptStatus: this.interruptStatus,
      configGeneration: this.configGeneration,
      lastError: this.lastError,
      device: this.device.saveDevice?.() ?? {},
    };
  }

  /**
   * Restores the transport and its rings' positions, re-activating the device if it was
   * live, then the device's own state. Everything the transport reads is checked before
   * any of it is applied (a ready queue's layout included: a hostile state must not point
   * a ring outside RAM); a bad state throws a StateError and leaves the transport reset.
   */
  load(s: DeviceState): void {
    const st = readTransportState(s, this.device, this.mem, this.offeredFeatures);
    this.reset();
    this.status = st.status;
    this.deviceFeaturesSel = st.deviceFeaturesSel;
    this.driverFeaturesSel = st.driverFeaturesSel;
    this.driverFeatures = st.driverFeatures;
    this.driverFeaturesExtra = st.driverFeaturesExtra;
    this.queueSel = st.queueSel;
    this.queueRegs = st.queueRegs;
    this.configGeneration = st.configGeneration;
    this.lastError = st.lastError;
    try {
      if (st.live) {
        // The rings get their positions before the device sees them: a device that looks
        // at its queues when activated (the balloon's statsq) must find them as they were.
        this.buildQueues();
        this.queues.forEach((q, i) => {
          const qs = st.queues[i];
          if (q && qs) q.load(qs);
        });
        this.device.activate(this.mem, this.queues, () => this.usedBuffers(), this.driverFeatureBits);
      }
      this.device.loadDevice?.(st.device);
    } catch (e) {
      this.reset();
      throw e;
    }
    this.interruptStatus = st.interruptStatus;
    this.irq.set(this.interruptStatus !== 0);
  }

  private readConfig(off: number, width: 1 | 2 | 4): number {
    const cfg = this.device.config;
    if (off + width > cfg.length) return 0;
    let v = 0;
    for (let i = width - 1; i >= 0; i--) v = (v << 8) | cfg[off + i]!;
    return width === 4 ? v | 0 : v;
  }

  /** The [low, high] address pair a queue address register names, or null. */
  private addrRegs(q: QueueRegs, offset: number): number[] | null {
    const M = VIRTIO_MMIO;
    if (offset === M.QUEUE_DESC_LOW || offset === M.QUEUE_DESC_HIGH) return q.desc;
    if (offset === M.QUEUE_DRIVER_LOW || offset === M.QUEUE_DRIVER_HIGH) return q.driver;
    if (offset === M.QUEUE_DEVICE_LOW || offset === M.QUEUE_DEVICE_HIGH) return q.device;
    return null;
  }

  private writeQueueReg(offset: number, v: number): void {
    const q = this.queueRegs[this.queueSel];
    if (!q) return; // QueueSel names no queue: ignored
    if (offset === VIRTIO_MMIO.QUEUE_READY && (v & 1) === 0) {
      // Linux's vm_del_vq writes 0 and WARNs unless it reads back 0; the queue stops.
      q.ready = false;
      return;
    }
    // §4.2.2.3: the layout is fixed while the queue is ready, and once the device is live.
    if (this.status & VIRTIO_STATUS.DRIVER_OK) return;
    if (offset === VIRTIO_MMIO.QUEUE_READY) {
      const why = checkLayout(this.mem, this.layout(q), this.device.queueSizes[this.queueSel]!);
      if (why !== null) {
        this.needsReset(`queue ${this.queueSel}: ${why}`);
        return;
      }
      q.ready = true;
      return;
    }
    if (q.ready) return;
    if (offset === VIRTIO_MMIO.QUEUE_NUM) {
      q.num = v;
      return;
    }
    const pair = this.addrRegs(q, offset);
    if (pair) pair[(offset >> 2) & 1] = v;
  }

  private layout(q: QueueRegs) {
    return {
      size: q.num,
      desc: q.desc[1]! * TWO32 + q.desc[0]!,
      driver: q.driver[1]! * TWO32 + q.driver[0]!,
      device: q.device[1]! * TWO32 + q.device[0]!,
    };
  }

  private writeStatus(v: number): void {
    const S = VIRTIO_STATUS;
    if (v === 0) {
      this.reset();
      return;
    }
    // DEVICE_NEEDS_RESET belongs to the device: the driver can neither set nor clear it.
    const old = this.status;
    let next = (v & 0xff & ~S.DEVICE_NEEDS_RESET) | (old & S.DEVICE_NEEDS_RESET);
    if ((next & S.FEATURES_OK) && !(old & S.FEATURES_OK)) {
      // §2.2.2 / §3.1.1: accept the driver's features only if we offered them all and
      // VERSION_1 is among them (a version-2 transport has no legacy interface);
      // otherwise FEATURES_OK stays clear and the driver sees the refusal.
      const f = this.driverFeatureBits;
      const ok = !this.driverFeaturesExtra && (f & ~this.offeredFeatures) === 0n && (f & bit(VIRTIO_F.VERSION_1)) !== 0n;
      if (!ok) next &= ~S.FEATURES_OK;
    }
    this.status = next;
    if ((next & S.DRIVER_OK) && !(old & S.DRIVER_OK)) {
      if (!(next & S.FEATURES_OK)) {
        this.needsReset("DRIVER_OK without FEATURES_OK");
        return;
      }
      if (!(next & S.DEVICE_NEEDS_RESET)) this.activate();
    }
  }

  /** Build the queues the driver made ready and hand them to the device. */
  private activate(): void {
    this.buildQueues();
    this.guarded(() => this.device.activate(this.mem, this.queues, () => this.usedBuffers(), this.driverFeatureBits));
  }

  /** One VirtQueue per ready queue, from the driver's layout and features. */
  private buildQueues(): void {
    const f = this.driverFeatureBits;
    const eventIdx = (f & bit(VIRTIO_F.RING_EVENT_IDX)) !== 0n;
    const indirect = (f & bit(VIRTIO_F.RING_INDIRECT_DESC)) !== 0n;
    this.queues = this.queueRegs.map((q, i) => {
      if (!q.ready) return null;
      const onError = (reason: string) => this.needsReset(`queue ${i}: ${reason}`);
      return new VirtQueue(this.mem, this.layout(q), { eventIdx, indirect, onError });
    });
    this.activated = true;
  }

  private notify(queue: number): void {
    const S = VIRTIO_STATUS;
    if (!this.activated || !(this.status & S.DRIVER_OK) || (this.status & S.DEVICE_NEEDS_RESET)) return;
    if (!this.queues[queue] || !this.queueRegs[queue]!.ready) return; // not a live queue
    this.guarded(() => this.device.onQueueNotify(queue));
  }

  /** The device added used buffers: interrupt unless every queue's driver suppressed it. */
  private usedBuffers(): void {
    let want = false;
    for (const q of this.queues) if (q && q.takeNotification()) want = true;
    if (want) this.raise(VIRTIO_MMIO.INT_VRING);
  }

  /** Run device code; a device that throws is a device error, not a host crash. */
  private guarded(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.needsReset(`device error: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private needsReset(reason: string): void {
    if (this.status & VIRTIO_STATUS.DEVICE_NEEDS_RESET) return;
    this.lastError = reason;
    this.status |= VIRTIO_STATUS.DEVICE_NEEDS_RESET;
    if (this.status & VIRTIO_STATUS.DRIVER_OK) {
      this.configGeneration = (this.configGeneration + 1) >>> 0;
      this.raise(VIRTIO_MMIO.INT_CONFIG);
    }
  }

  private raise(bits: number): void {
    this.interruptStatus |= bits;
    this.irq.set(true);
  }
}
