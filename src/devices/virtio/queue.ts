/**
 * The split virtqueue (virtio 1.2 §2.7), device side, over guest RAM.
 *
 *     descriptor table  16·size bytes, 16-aligned   { addr u64, len u32, flags u16, next u16 }
 *     available ring    6 + 2·size, 2-aligned       { flags, idx, ring[size], used_event }
 *     used ring         6 + 8·size, 4-aligned       { flags, idx, ring[size] {id u32, len u32}, avail_event }
 *
 * The guest is hostile: every index, length and address read from the rings is checked
 * before use. A violation puts the queue into its error state (reported once through
 * `onError`, which the transport turns into DEVICE_NEEDS_RESET); after that `pop`
 * returns null and `pushUsed` does nothing, until the transport makes a new queue.
 *
 * Ring indices are read with `Atomics.load` and the used index published with
 * `Atomics.store`, so the ordering is right when the guest's harts run in other threads.
 * Every write into guest RAM here (used ring, avail_event, copyToSegments) is logged for
 * live migration (GuestRam.markDirty); devices that write RAM another way log it themselves.
 */
import type { GuestRam } from "../../mem/ram.js";

export const VIRTQ = {
  DESC_SIZE: 16,
  DESC_F_NEXT: 1,
  DESC_F_WRITE: 2,
  DESC_F_INDIRECT: 4,
  AVAIL_F_NO_INTERRUPT: 1,
  USED_F_NO_NOTIFY: 1,
  /** Largest split queue (§2.7: Queue Size ≤ 32768). */
  MAX_SIZE: 32768,
} as const;

/** A guest-physical buffer: already checked to lie in RAM. */
export interface Segment {
  addr: number;
  len: number;
}

/** One available buffer: its head descriptor id and its segments, readable ones first. */
export interface DescChain {
  head: number;
  readable: Segment[];
  writable: Segment[];
  readableLen: number;
  writableLen: number;
}

export interface QueueAddresses {
  size: number;
  desc: number;
  driver: number;
  device: number;
}

/** Bytes each area takes for a queue of `size` (with the event-idx words, always reserved). */
export function areaSizes(size: number): { desc: number; driver: number; device: number } {
  return { desc: VIRTQ.DESC_SIZE * size, driver: 6 + 2 * size, device: 6 + 8 * size };
}

/**
 * Why a queue layout cannot be used, or null when it can: size a power of two in
 * 1..maxSize, each area aligned (§2.7 table "Virtqueue Part Alignment") and inside RAM.
 */
export function checkLayout(mem: GuestRam, a: QueueAddresses, maxSize: number): string | null {
  const { size } = a;
  if (!Number.isInteger(size) || size < 1 || size > maxSize || (size & (size - 1)) !== 0) {
    return `queue size ${size} is not a power of two in 1..${maxSize}`;
  }
  const s = areaSizes(size);
  if (a.desc % 16 !== 0 || !mem.contains(a.desc, s.desc)) return `descriptor table at 0x${a.desc.toString(16)}`;
  if (a.driver % 2 !== 0 || !mem.contains(a.driver, s.driver)) return `driver area at 0x${a.driver.toString(16)}`;
  if (a.device % 4 !== 0 || !mem.contains(a.device, s.device)) return `device area at 0x${a.device.toString(16)}`;
  return null;
}

export interface QueueOptions {
  /** VIRTIO_F_RING_EVENT_IDX negotiated: used_event/avail_event replace the flags. */
  eventIdx: boolean;
  /** VIRTIO_F_RING_INDIRECT_DESC negotiated. */
  indirect: boolean;
  /** Called once, at the first guest error, with a reason. */
  onError: (reason: string) => void;
}

export class VirtQueue {
  readonly size: number;
  /** Next available-ring index to consume (free-running, mod 2^16). */
  private lastAvail = 0;
  /** Our used index (free-running, mod 2^16), published after each pushUsed. */
  private usedIdx = 0;
  /** Used index when the guest was last considered for a notification. */
  private signalledUsed = 0;
  private broken: string | null = null;
  /** While set, a bad chain is reported here instead of breaking the queue (chainAt). */
  private quietError: string | null = null;
  private quiet = false;
  private readonly view: DataView;
  /** Offsets into RAM of each area. */
  private readonly descOff: number;
  private readonly availOff: number;
  private readonly usedOff: number;

  /** `a` must have passed `checkLayout`. */
  constructor(
    private readonly mem: GuestRam,
    a: QueueAddresses,
    private readonly opts: QueueOptions,
  ) {
    this.size = a.size;
    this.view = new DataView(mem.sab);
    this.descOff = a.desc - mem.base;
    this.availOff = a.driver - mem.base;
    this.usedOff = a.device - mem.base;
  }

  /** The reason the queue stopped, or null while it works. */
  get error(): string | null {
    return this.broken;
  }

  /** Whether the guest has made buffers available that `pop` has not taken yet. */
  hasAvailable(): boolean {
    return this.broken === null && this.availIdx() !== this.lastAvail;
  }

  /**
   * The next available descriptor chain, or null when there is none or the queue is in
   * its error state. With event-idx, also asks the driver to notify at the next buffer.
   */
  pop(): DescChain | null {
    if (this.broken !== null) return null;
    let avail = this.availIdx();
    if (avail === this.lastAvail && this.opts.eventIdx) {
      // Ask for a notification at the next buffer, then look again: the driver may have
      // added one between our read and the store (§2.7.10).
      this.setAvailEvent(this.lastAvail);
      avail = this.availIdx();
    }
    const pending = (avail - this.lastAvail) & 0xffff;
    if (pending === 0) return null;
    if (pending > this.size) {
      this.fail(`avail idx ${avail} is ${pending} ahead of ${this.lastAvail} (queue size ${this.size})`);
      return null;
    }
    const head = this.view.getUint16(this.availOff + 4 + 2 * (this.lastAvail % this.size), true);
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    if (this.opts.eventIdx) this.setAvailEvent(this.lastAvail);
    return this.walk(head);
  }

  /**
   * Return chain `head` to the driver with `len` bytes written into its writable part.
   * `publish` false leaves the used index where the driver sees it until publishUsed():
   * the buffers of one merged receive frame must appear together (a driver on another
   * hart reads num_buffers elements as soon as it sees the first).
   */
  pushUsed(head: number, len: number, publish = true): void {
    if (this.broken !== null) return;
    const slot = this.usedOff + 4 + 8 * (this.usedIdx % this.size);
    this.view.setUint32(slot, head >>> 0, true);
    this.view.setUint32(slot + 4, len >>> 0, true);
    this.mem.markDirty(slot, 8);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    if (publish) this.publishUsed();
  }

  /** Make every element pushed so far visible to the driver. */
  publishUsed(): void {
    if (this.broken !== null) return;
    // The used index is published last, after the elements it covers (§2.7.8).
    Atomics.store(this.mem.u16, (this.usedOff + 2) >> 1, this.usedIdx);
    this.mem.markDirty(this.usedOff + 2, 2);
  }

  /**
   * Whether the used buffers added since the last call should interrupt the driver
   * (§2.7.7): with event-idx, when the used index passed used_event; otherwise unless
   * the driver set VIRTQ_AVAIL_F_NO_INTERRUPT. Consumes the "new used buffers" state.
   */
  takeNotification(): boolean {
    if (this.broken !== null || this.usedIdx === this.signalledUsed) return false;
    const old = this.signalledUsed;
    const now = this.usedIdx;
    this.signalledUsed = now;
    if (this.opts.eventIdx) {
      const ev = this.view.getUint16(this.availOff + 4 + 2 * this.size, true);
      return ((now - ev - 1) & 0xffff) < ((now - old) & 0xffff);
    }
    return (this.view.getUint16(this.availOff, true) & VIRTQ.AVAIL_F_NO_INTERRUPT) === 0;
  }

  /** Ring state for snapshots. */
  save(): { lastAvail: number; usedIdx: number; signalledUsed: number } {
    return { lastAvail: this.lastAvail, usedIdx: this.usedIdx, signalledUsed: this.signalledUsed };
  }

  load(s: { lastAvail?: unknown; usedIdx?: unknown; signalledUsed?: unknown }): void {
    this.lastAvail = Number(s.lastAvail ?? 0) & 0xffff;
    this.usedIdx = Number(s.usedIdx ?? 0) & 0xffff;
    this.signalledUsed = Number(s.signalledUsed ?? 0) & 0xffff;
  }

  /**
   * The chain at `head` again, for a device restored from a snapshot that had popped it and
   * held it (a rate-limited request, receive buffers gathered for a frame): the driver does
   * not touch descriptors it made available, so the restored RAM still holds the chain.
   * Returns why it cannot be read instead of breaking the queue: the fault is the saved
   * state's, not the guest's.
   */
  chainAt(head: number): DescChain | string {
    if (!Number.isInteger(head) || head < 0 || head >= this.size) return `head ${head} is outside a queue of ${this.size}`;
    this.quiet = true;
    this.quietError = null;
    try {
      const c = this.walk(head);
      return c ?? this.quietError ?? "unreadable chain";
    } finally {
      this.quiet = false;
    }
  }

  private availIdx(): number {
    return Atomics.load(this.mem.u16, (this.availOff + 2) >> 1);
  }

  private setAvailEvent(idx: number): void {
    this.view.setUint16(this.usedOff + 4 + 8 * this.size, idx, true);
    this.mem.markDirty(this.usedOff + 4 + 8 * this.size, 2);
  }

  private fail(reason: string): void {
    if (this.broken !== null) return;
    this.broken = reason;
    this.opts.onError(reason);
  }

  /** Follow a chain from `head`, checking every descriptor (§2.7.5, §2.7.5.3). */
  private walk(head: number): DescChain | null {
    const chain: DescChain = { head, readable: [], writable: [], readableLen: 0, writableLen: 0 };
    let table = this.descOff;
    let tableLen = this.size;
    let inIndirect = false;
    let idx = head;
    let seen = 0;
    for (;;) {
      if (idx >= tableLen) return this.bad(`descriptor ${idx} outside a table of ${tableLen}`);
      // A chain visits each descriptor of its table at most once: more is a loop.
      if (++seen > tableLen) return this.bad(`descriptor chain from ${head} loops`);
      const d = table + VIRTQ.DESC_SIZE * idx;
      const addr = this.view.getUint32(d, true) + this.view.getUint32(d + 4, true) * 0x1_0000_0000;
      const len = this.view.getUint32(d + 8, true);
      const flags = this.view.getUint16(d + 12, true);
      const next = this.view.getUint16(d + 14, true);
      if ((flags & VIRTQ.DESC_F_INDIRECT) !== 0) {
        if (!this.opts.indirect) return this.bad("indirect descriptor without VIRTIO_F_RING_INDIRECT_DESC");
        if (inIndirect) return this.bad("nested indirect descriptor");
        if ((flags & VIRTQ.DESC_F_NEXT) !== 0) return this.bad("indirect descriptor with NEXT set");
        if (len === 0 || len % VIRTQ.DESC_SIZE !== 0 || len / VIRTQ.DESC_SIZE > VIRTQ.MAX_SIZE) {
          return this.bad(`indirect table length ${len}`);
        }
        if (!this.mem.contains(addr, len)) return this.bad(`indirect table at 0x${addr.toString(16)}+${len}`);
        table = addr - this.mem.base;
        tableLen = len / VIRTQ.DESC_SIZE;
        inIndirect = true;
        idx = 0;
        seen = 0;
        continue;
      }
      if (!this.mem.contains(addr, len)) return this.bad(`buffer at 0x${addr.toString(16)}+${len} outside RAM`);
      if ((flags & VIRTQ.DESC_F_WRITE) !== 0) {
        chain.writable.push({ addr, len });
        chain.writableLen += len;
      } else {
        // §2.7.4.2: device-readable descriptors come before device-writable ones.
        if (chain.writable.length > 0) return this.bad("readable descriptor after a writable one");
        chain.readable.push({ addr, len });
        chain.readableLen += len;
      }
      if ((flags & VIRTQ.DESC_F_NEXT) === 0) return chain;
      idx = next;
    }
  }

  private bad(reason: string): null {
    if (this.quiet) this.quietError = reason;
    else this.fail(reason);
    return null;
  }
}

/**
 * Copy from the segments into `dst`, skipping the first `skip` bytes of the segments;
 * returns the bytes copied (whole spans at a time, never per byte).
 */
export function copyFromSegments(mem: GuestRam, segs: readonly Segment[], dst: Uint8Array, skip = 0): number {
  let done = 0;
  for (const s of segs) {
    if (done >= dst.length) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const n = Math.min(s.len - skip, dst.length - done);
    const from = s.addr - mem.base + skip;
    dst.set(mem.u8.subarray(from, from + n), done);
    done += n;
    skip = 0;
  }
  return done;
}

/** Copy `src` into the segments, from `skip` bytes in; returns the bytes copied. */
export function copyToSegments(mem: GuestRam, segs: readonly Segment[], src: Uint8Array, skip = 0): number {
  let done = 0;
  for (const s of segs) {
    if (done >= src.length) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const n = Math.min(s.len - skip, src.length - done);
    mem.u8.set(src.subarray(done, done + n), s.addr - mem.base + skip);
    mem.markDirty(s.addr - mem.base + skip, n);
    done += n;
    skip = 0;
  }
  return done;
}
