/**
 * virtio-blk (virtio 1.2 §5.2, device id 2; Linux `include/uapi/linux/virtio_blk.h`,
 * `drivers/block/virtio_blk.c`): one request queue. Each request is one descriptor chain:
 *
 *     struct virtio_blk_outhdr { le32 type; le32 reserved (ioprio); le64 sector; }   readable, 16 bytes
 *     data                                                                          readable (OUT, DISCARD, WRITE_ZEROES) or writable (IN, GET_ID)
 *     u8 status                                                                     the last writable byte
 *
 * The header may be split over several readable segments and the status byte may share a
 * segment with IN data: the device looks at byte ranges, never at descriptor boundaries.
 *
 * Requests are served synchronously in `onQueueNotify`, straight between the backend and
 * guest RAM (no bounce buffer): when the used element appears, the data is in RAM (IN) or
 * handed to the backend (OUT), and FLUSH has returned from `backend.flush()`.
 *
 * The guest is hostile. A request the device cannot serve — a header shorter than 16 bytes,
 * a data length that is not a whole number of sectors, sectors past the end, a write to a
 * read-only disk, a transfer larger than MAX_REQUEST_BYTES, a host I/O error — completes
 * with VIRTIO_BLK_S_IOERR; an unknown type (or a discard/write-zeroes the device did not
 * offer, or with reserved flags) with VIRTIO_BLK_S_UNSUPP. A chain with no writable byte
 * has nowhere to put a status: it is returned with used length 0 and counted as malformed.
 * A broken ring (bad descriptor, loop, …) is the queue's business: DEVICE_NEEDS_RESET.
 *
 * Snapshots: requests complete inside `onQueueNotify`, so between guest instructions no
 * request is half served — every snapshot point is quiescent, no draining needed. The one
 * request that can be in flight is a chain the rate limiter holds: saved by its head and
 * re-read from the restored RAM, then retried. The disk's bytes are the backend's (the
 * caller's file); the state records its size and whether it was read-only, and a restore
 * onto a disk of another size or mode is refused.
 */
import type { GuestRam } from "../../../mem/ram.js";
import type { DeviceState } from "../../device.js";
import { StateReader } from "../../state.js";
import { copyFromSegments, copyToSegments, type DescChain, type Segment, type VirtQueue } from "../queue.js";
import { bit, VIRTIO_ID, type VirtioDevice } from "../virtio.js";
import { defaultRetryTimer, type RateLimiter, type RetryTimer } from "../../rate-limiter.js";

export const VIRTIO_BLK = {
  SECTOR: 512,
  QUEUE_SIZE: 256,
  /** Data segments per request: a direct chain of seg_max + header + status fits the ring. */
  SEG_MAX: 254,
  HEADER_SIZE: 16,
  /** VIRTIO_BLK_ID_BYTES. */
  ID_BYTES: 20,
  /** Most data bytes one request may move (Linux's default max_sectors_kb is 1280). */
  MAX_REQUEST_BYTES: 32 * 1024 * 1024,
  /** Discard / write-zeroes limits offered in the config space. */
  MAX_DISCARD_SECTORS: 0x40_0000, // 2 GiB per range
  MAX_DISCARD_SEG: 32,
  DISCARD_SECTOR_ALIGNMENT: 1,
  MAX_WRITE_ZEROES_SECTORS: 0x40_0000,
  MAX_WRITE_ZEROES_SEG: 32,
  /** One struct virtio_blk_discard_write_zeroes { le64 sector; le32 num_sectors; le32 flags; }. */
  RANGE_SIZE: 16,
  /** struct virtio_blk_config through the secure-erase fields (we offer none of those). */
  CONFIG_SIZE: 72,
} as const;

/** Feature bits (§5.2.3). */
export const VIRTIO_BLK_F = {
  SIZE_MAX: 1,
  SEG_MAX: 2,
  GEOMETRY: 4,
  RO: 5,
  BLK_SIZE: 6,
  FLUSH: 9,
  TOPOLOGY: 10,
  CONFIG_WCE: 11,
  MQ: 12,
  DISCARD: 13,
  WRITE_ZEROES: 14,
} as const;

/** Request types (§5.2.6). */
export const VIRTIO_BLK_T = {
  IN: 0,
  OUT: 1,
  FLUSH: 4,
  GET_ID: 8,
  GET_LIFETIME: 10,
  DISCARD: 11,
  WRITE_ZEROES: 13,
  SECURE_ERASE: 14,
} as const;

/** Status byte values. */
export const VIRTIO_BLK_S = { OK: 0, IOERR: 1, UNSUPP: 2 } as const;

/** Offsets in struct virtio_blk_config (§5.2.4). */
export const VIRTIO_BLK_CONFIG = {
  CAPACITY: 0,
  SIZE_MAX: 8,
  SEG_MAX: 12,
  GEOMETRY: 16,
  BLK_SIZE: 20,
  NUM_QUEUES: 34,
  MAX_DISCARD_SECTORS: 36,
  MAX_DISCARD_SEG: 40,
  DISCARD_SECTOR_ALIGNMENT: 44,
  MAX_WRITE_ZEROES_SECTORS: 48,
  MAX_WRITE_ZEROES_SEG: 52,
  WRITE_ZEROES_MAY_UNMAP: 56,
} as const;

/** VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP. */
const FLAG_UNMAP = 1;

/**
 * Where the bytes live: a file, RAM, later a browser's storage. Offsets and lengths are in
 * bytes and always whole sectors inside the disk (the device checks). A backend may throw
 * on a host I/O error; the request then completes with IOERR.
 */
export interface BlockBackend {
  /** Capacity in 512-byte sectors. */
  readonly sectors: number;
  readonly readonly: boolean;
  read(offset: number, dst: Uint8Array): void;
  write(offset: number, src: Uint8Array): void;
  /** Make every completed write durable. */
  flush(): void;
  /** Optional: the range's content becomes unspecified (absent: discard is a no-op). */
  discard?(offset: number, len: number): void;
  /** Optional: the range reads as zeroes (absent: the device writes zeroes). */
  writeZeroes?(offset: number, len: number): void;
}

/** A disk in host memory, for tests (and scratch disks). */
export class MemoryBackend implements BlockBackend {
  readonly sectors: number;
  readonly bytes: Uint8Array;
  flushes = 0;
  /** Called at the start of each flush (tests observe ordering). */
  onFlush: (() => void) | null = null;

  constructor(
    bytesOrSize: Uint8Array | number,
    readonly readonly = false,
  ) {
    this.bytes = typeof bytesOrSize === "number" ? new Uint8Array(bytesOrSize) : bytesOrSize;
    if (this.bytes.length % VIRTIO_BLK.SECTOR !== 0) throw new RangeError("disk size is not a whole number of sectors");
    this.sectors = this.bytes.length / VIRTIO_BLK.SECTOR;
  }

  read(offset: number, dst: Uint8Array): void {
    dst.set(this.bytes.subarray(offset, offset + dst.length));
  }

  write(offset: number, src: Uint8Array): void {
    this.bytes.set(src, offset);
  }

  flush(): void {
    this.onFlush?.();
    this.flushes++;
  }

  discard(offset: number, len: number): void {
    this.bytes.fill(0, offset, offset + len);
  }

  writeZeroes(offset: number, len: number): void {
    this.bytes.fill(0, offset, offset + len);
  }
}

/** Per-device counters (for --stats and the API). */
export interface BlkStats {
  /** Requests completed, by type ("other": types we do not support). */
  requests: { in: number; out: number; flush: number; getId: number; discard: number; writeZeroes: number; other: number };
  bytesRead: number;
  bytesWritten: number;
  /** Requests completed with IOERR, with UNSUPP. */
  ioErrors: number;
  unsupported: number;
  /** Chains with no status byte (returned with used length 0). */
  malformed: number;
  /** Backend exceptions (host I/O errors), each also an IOERR. */
  hostErrors: number;
  lastHostError: string | null;
  /** Times the rate limiter held a request back. */
  throttled: number;
}

export const newBlkStats = (): BlkStats => ({
  requests: { in: 0, out: 0, flush: 0, getId: 0, discard: 0, writeZeroes: 0, other: 0 },
  bytesRead: 0,
  bytesWritten: 0,
  ioErrors: 0,
  unsupported: 0,
  malformed: 0,
  hostErrors: 0,
  lastHostError: null,
  throttled: 0,
});

export interface VirtioBlkOptions {
  /** GET_ID answer, at most 20 bytes of ASCII (default "paravm-0"). */
  readonly serial?: string;
  /**
   * Optional limiter (ops = requests, bytes = data bytes moved). Over the limit the
   * request at hand is held and retried after `nextRefillMs()` (back-pressure, as
   * Firecracker does); nothing fails for rate.
   */
  readonly rateLimiter?: RateLimiter;
  /** Schedules those retries (default: an unref'd setTimeout). */
  readonly timer?: RetryTimer;
}

const ZEROES = new Uint8Array(1024 * 1024);

export class VirtioBlk implements VirtioDevice {
  readonly deviceId = VIRTIO_ID.BLOCK;
  readonly features: bigint;
  readonly queueSizes = [VIRTIO_BLK.QUEUE_SIZE];
  readonly config = new Uint8Array(VIRTIO_BLK.CONFIG_SIZE);
  readonly stats: BlkStats = newBlkStats();
  private readonly serial: Uint8Array;
  private readonly capacityBytes: number;
  private mem: GuestRam | null = null;
  private queue: VirtQueue | null = null;
  private notifyGuest: () => void = () => {};
  private acked = 0n;
  private readonly header = new Uint8Array(VIRTIO_BLK.HEADER_SIZE);
  private readonly headerView = new DataView(this.header.buffer);
  private readonly ranges = new Uint8Array(VIRTIO_BLK.RANGE_SIZE * Math.max(VIRTIO_BLK.MAX_DISCARD_SEG, VIRTIO_BLK.MAX_WRITE_ZEROES_SEG));
  private readonly rangesView = new DataView(this.ranges.buffer);
  private readonly statusByte = new Uint8Array(1);
  private readonly limiter: RateLimiter | null;
  private readonly timer: RetryTimer;
  /** A request popped but held back by the rate limiter; a retry is armed while set. */
  private held: DescChain | null = null;
  private retryArmed = false;
  /** Bumped on reset, so a retry armed before it does nothing. */
  private epoch = 0;

  constructor(
    readonly backend: BlockBackend,
    opts: VirtioBlkOptions = {},
  ) {
    const sectors = backend.sectors;
    if (!Number.isSafeInteger(sectors) || sectors < 0 || sectors * VIRTIO_BLK.SECTOR > Number.MAX_SAFE_INTEGER) {
      throw new RangeError(`disk of ${sectors} sectors`);
    }
    this.capacityBytes = sectors * VIRTIO_BLK.SECTOR;
    this.limiter = opts.rateLimiter ?? null;
    this.timer = opts.timer ?? defaultRetryTimer;
    const F = VIRTIO_BLK_F;
    let f = bit(F.SEG_MAX) | bit(F.BLK_SIZE) | bit(F.FLUSH);
    f |= backend.readonly ? bit(F.RO) : bit(F.DISCARD) | bit(F.WRITE_ZEROES);
    this.features = f;
    const id = new TextEncoder().encode(opts.serial ?? "paravm-0");
    this.serial = new Uint8Array(VIRTIO_BLK.ID_BYTES);
    this.serial.set(id.subarray(0, VIRTIO_BLK.ID_BYTES));

    const c = new DataView(this.config.buffer);
    const C = VIRTIO_BLK_CONFIG;
    c.setBigUint64(C.CAPACITY, BigInt(sectors), true);
    c.setUint32(C.SEG_MAX, VIRTIO_BLK.SEG_MAX, true);
    c.setUint32(C.BLK_SIZE, VIRTIO_BLK.SECTOR, true);
    if (!backend.readonly) {
      c.setUint32(C.MAX_DISCARD_SECTORS, VIRTIO_BLK.MAX_DISCARD_SECTORS, true);
      c.setUint32(C.MAX_DISCARD_SEG, VIRTIO_BLK.MAX_DISCARD_SEG, true);
      c.setUint32(C.DISCARD_SECTOR_ALIGNMENT, VIRTIO_BLK.DISCARD_SECTOR_ALIGNMENT, true);
      c.setUint32(C.MAX_WRITE_ZEROES_SECTORS, VIRTIO_BLK.MAX_WRITE_ZEROES_SECTORS, true);
      c.setUint32(C.MAX_WRITE_ZEROES_SEG, VIRTIO_BLK.MAX_WRITE_ZEROES_SEG, true);
      this.config[C.WRITE_ZEROES_MAY_UNMAP] = 0;
    }
  }

  activate(mem: GuestRam, queues: readonly (VirtQueue | null)[], notifyGuest: () => void, ackedFeatures: bigint): void {
    this.mem = mem;
    this.queue = queues[0] ?? null;
    this.notifyGuest = notifyGuest;
    this.acked = ackedFeatures;
  }

  onQueueNotify(queue: number): void {
    const q = this.queue;
    const mem = this.mem;
    if (queue !== 0 || !q || !mem) return;
    let used = false;
    for (;;) {
      const chain = this.held ?? q.pop();
      this.held = null;
      if (!chain) break;
      if (this.limiter && !this.limiter.consume(1, dataBytes(chain))) {
        this.held = chain;
        this.stats.throttled++;
        this.armRetry(this.limiter);
        break;
      }
      q.pushUsed(chain.head, this.serve(mem, chain));
      used = true;
    }
    if (used) this.notifyGuest();
  }

  private armRetry(limiter: RateLimiter | null): void {
    if (this.retryArmed) return;
    this.retryArmed = true;
    const epoch = this.epoch;
    this.timer(Math.max(1, limiter?.nextRefillMs() ?? 1), () => {
      if (epoch !== this.epoch) return;
      this.retryArmed = false;
      this.onQueueNotify(0);
    });
  }

  /** Snapshot: the disk's geometry (checked on load), a held request's head, the counters. */
  saveDevice(): DeviceState {
    return {
      sectors: this.backend.sectors,
      readonly: this.backend.readonly,
      held: this.held ? this.held.head : null,
      stats: structuredClone(this.stats),
    };
  }

  /** After activate and the queue's positions: a held request is read again from RAM and retried soon. */
  loadDevice(s: DeviceState): void {
    const r: StateReader = StateReader.of(s, "virtio-blk");
    const sectors = r.int("sectors", 0, Number.MAX_SAFE_INTEGER);
    if (sectors !== this.backend.sectors) {
      r.fail("sectors", `the snapshot's disk had ${sectors} sectors, this one has ${this.backend.sectors}: not the same disk`);
    }
    const ro = r.bool("readonly");
    if (ro !== this.backend.readonly) r.fail("readonly", `the snapshot's disk was ${ro ? "read-only" : "writable"}, this one is not`);
    const stats = r.counters("stats", newBlkStats());
    let held: DescChain | null = null;
    if (r.has("held")) {
      const head = r.int("held", 0, VIRTIO_BLK.QUEUE_SIZE - 1);
      if (!this.queue) r.fail("held", "a held request but the queue is not live");
      const c = this.queue.chainAt(head);
      if (typeof c === "string") r.fail("held", c);
      held = c;
    }
    Object.assign(this.stats, stats);
    this.held = held;
    if (held) this.armRetry(this.limiter);
  }

  reset(): void {
    this.epoch++;
    this.held = null;
    this.retryArmed = false;
    this.mem = null;
    this.queue = null;
    this.notifyGuest = () => {};
    this.acked = 0n;
  }

  /** Serve one request; returns the used length (bytes written into the chain). */
  private serve(mem: GuestRam, chain: DescChain): number {
    // The status byte: the last byte of the writable part.
    if (chain.writableLen === 0) {
      this.stats.malformed++;
      return 0;
    }
    const inLen = chain.writableLen - 1;
    let status: number;
    let written = 0;
    if (chain.readableLen < VIRTIO_BLK.HEADER_SIZE) {
      status = VIRTIO_BLK_S.IOERR;
    } else {
      copyFromSegments(mem, chain.readable, this.header);
      const h = this.headerView;
      const type = h.getUint32(0, true);
      const sector = h.getUint32(8, true) + h.getUint32(12, true) * 0x1_0000_0000;
      const outLen = chain.readableLen - VIRTIO_BLK.HEADER_SIZE;
      try {
        const r = this.execute(mem, chain, type, sector, outLen, inLen);
        status = r.status;
        written = r.written;
      } catch (e) {
        this.stats.hostErrors++;
        this.stats.lastHostError = e instanceof Error ? e.message : String(e);
        status = VIRTIO_BLK_S.IOERR;
        written = 0;
      }
    }
    if (status === VIRTIO_BLK_S.IOERR) this.stats.ioErrors++;
    else if (status === VIRTIO_BLK_S.UNSUPP) this.stats.unsupported++;
    this.statusByte[0] = status;
    copyToSegments(mem, chain.writable, this.statusByte, inLen);
    return written + 1;
  }

  private execute(
    mem: GuestRam,
    chain: DescChain,
    type: number,
    sector: number,
    outLen: number,
    inLen: number,
  ): { status: number; written: number } {
    const T = VIRTIO_BLK_T;
    const S = VIRTIO_BLK_S;
    const st = this.stats;
    const fail = { status: S.IOERR, written: 0 };
    switch (type) {
      case T.IN: {
        st.requests.in++;
        if (inLen > VIRTIO_BLK.MAX_REQUEST_BYTES || !this.rangeOk(sector, inLen)) return fail;
        let pos = sector * VIRTIO_BLK.SECTOR;
        forEachSpan(chain.writable, 0, inLen, (addr, len) => {
          this.backend.read(pos, mem.u8.subarray(addr - mem.base, addr - mem.base + len));
          mem.markDirty(addr - mem.base, len);
          pos += len;
        });
        st.bytesRead += inLen;
        return { status: S.OK, written: inLen };
      }
      case T.OUT: {
        st.requests.out++;
        if (this.backend.readonly || outLen > VIRTIO_BLK.MAX_REQUEST_BYTES || !this.rangeOk(sector, outLen)) return fail;
        let pos = sector * VIRTIO_BLK.SECTOR;
        forEachSpan(chain.readable, VIRTIO_BLK.HEADER_SIZE, outLen, (addr, len) => {
          this.backend.write(pos, mem.u8.subarray(addr - mem.base, addr - mem.base + len));
          pos += len;
        });
        st.bytesWritten += outLen;
        return { status: S.OK, written: 0 };
      }
      case T.FLUSH:
        st.requests.flush++;
        this.backend.flush();
        return { status: S.OK, written: 0 };
      case T.GET_ID: {
        st.requests.getId++;
        const n = copyToSegments(mem, chain.writable, this.serial.subarray(0, Math.min(VIRTIO_BLK.ID_BYTES, inLen)));
        return { status: S.OK, written: n };
      }
      case T.DISCARD:
      case T.WRITE_ZEROES: {
        const zero = type === T.WRITE_ZEROES;
        if (zero) st.requests.writeZeroes++;
        else st.requests.discard++;
        const feature = zero ? VIRTIO_BLK_F.WRITE_ZEROES : VIRTIO_BLK_F.DISCARD;
        if ((this.acked & bit(feature)) === 0n || (this.features & bit(feature)) === 0n) {
          return { status: S.UNSUPP, written: 0 };
        }
        return { status: this.discardOrZero(mem, chain, outLen, zero), written: 0 };
      }
      default:
        st.requests.other++;
        return { status: S.UNSUPP, written: 0 };
    }
  }

  /** §5.2.6.2: check every range first, then apply them all (nothing half-applied on error). */
  private discardOrZero(mem: GuestRam, chain: DescChain, outLen: number, zero: boolean): number {
    const S = VIRTIO_BLK_S;
    const maxSeg = zero ? VIRTIO_BLK.MAX_WRITE_ZEROES_SEG : VIRTIO_BLK.MAX_DISCARD_SEG;
    const maxSectors = zero ? VIRTIO_BLK.MAX_WRITE_ZEROES_SECTORS : VIRTIO_BLK.MAX_DISCARD_SECTORS;
    if (outLen === 0 || outLen % VIRTIO_BLK.RANGE_SIZE !== 0) return S.IOERR;
    const count = outLen / VIRTIO_BLK.RANGE_SIZE;
    if (count > maxSeg) return S.IOERR;
    copyFromSegments(mem, chain.readable, this.ranges.subarray(0, outLen), VIRTIO_BLK.HEADER_SIZE);
    const v = this.rangesView;
    for (let i = 0; i < count; i++) {
      const o = i * VIRTIO_BLK.RANGE_SIZE;
      const sector = v.getUint32(o, true) + v.getUint32(o + 4, true) * 0x1_0000_0000;
      const num = v.getUint32(o + 8, true);
      const flags = v.getUint32(o + 12, true);
      // Discard has no flags; write-zeroes may ask to unmap (we may ignore that).
      if ((flags & ~(zero ? FLAG_UNMAP : 0)) !== 0) return S.UNSUPP;
      if (num > maxSectors || !this.rangeOk(sector, num * VIRTIO_BLK.SECTOR)) return S.IOERR;
      if (this.backend.readonly) return S.IOERR;
    }
    for (let i = 0; i < count; i++) {
      const o = i * VIRTIO_BLK.RANGE_SIZE;
      const off = (v.getUint32(o, true) + v.getUint32(o + 4, true) * 0x1_0000_0000) * VIRTIO_BLK.SECTOR;
      const len = v.getUint32(o + 8, true) * VIRTIO_BLK.SECTOR;
      if (len === 0) continue;
      if (!zero) this.backend.discard?.(off, len);
      else if (this.backend.writeZeroes) this.backend.writeZeroes(off, len);
      else {
        for (let done = 0; done < len; ) {
          const n = Math.min(ZEROES.length, len - done);
          this.backend.write(off + done, ZEROES.subarray(0, n));
          done += n;
        }
      }
      if (zero) this.stats.bytesWritten += len;
    }
    return S.OK;
  }

  /** Whole sectors, not too many, inside the disk. */
  private rangeOk(sector: number, len: number): boolean {
    if (len % VIRTIO_BLK.SECTOR !== 0) return false;
    const sectors = this.capacityBytes / VIRTIO_BLK.SECTOR;
    return sector <= sectors && len / VIRTIO_BLK.SECTOR <= sectors - sector;
  }
}

/** Data bytes a request moves, for the rate limiter: beyond the header, before the status. */
function dataBytes(chain: DescChain): number {
  return Math.max(0, chain.readableLen - VIRTIO_BLK.HEADER_SIZE) + Math.max(0, chain.writableLen - 1);
}

/** Call `fn` on each span of `segs` covering bytes [skip, skip + len). */
function forEachSpan(segs: readonly Segment[], skip: number, len: number, fn: (addr: number, len: number) => void): void {
  let left = len;
  for (const s of segs) {
    if (left <= 0) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const n = Math.min(s.len - skip, left);
    if (n > 0) fn(s.addr + skip, n);
    left -= n;
    skip = 0;
  }
}
