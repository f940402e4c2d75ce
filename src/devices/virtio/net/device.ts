/**
 * virtio-net (virtio 1.2 §5.1, device id 1; Linux `include/uapi/linux/virtio_net.h`,
 * `drivers/net/virtio_net.c`): one queue pair, receiveq1 (0) and transmitq1 (1).
 *
 * Features: VIRTIO_NET_F_MAC (the config space holds the MAC), VIRTIO_NET_F_STATUS (link
 * up), and the offloads that matter most to a guest paying per instruction (offload.ts):
 * CSUM (the device fills in transmit checksums), HOST_TSO4 (the guest sends TCP packets of
 * up to 64 KiB), GUEST_CSUM (received TCP/UDP frames whose checksums the host verified are
 * marked DATA_VALID, so the guest does not sum them again), GUEST_TSO4 (the guest takes
 * such 64 KiB packets whole) and MRG_RXBUF (a received frame may span several buffers,
 * their count in num_buffers). A TSO packet goes to the backend whole when the backend
 * takes GSO packets (the switch does) and is cut into MSS-sized frames otherwise; a whole
 * one arriving for a driver that did not accept GUEST_TSO4 is cut here (offload.ts). So
 * between two pv guests 64 KiB of TCP is one packet end to end, as with vhost-net. Not
 * offered: control queue, multiqueue, TSO6/ECN/UFO. `offloads: false` turns all five off.
 *
 * Every buffer starts with struct virtio_net_hdr, 12 bytes with VERSION_1 (which the
 * transport always negotiates; §5.1.6: num_buffers is always present then):
 *
 *     u8 flags; u8 gso_type; le16 hdr_len; le16 gso_size; le16 csum_start; le16 csum_offset; le16 num_buffers
 *
 * Transmit: a chain of readable segments, header then frame; the device reads the header
 * (checksum and GSO requests, if those features were accepted), checks the frame, hands it
 * (or its segments) to the backend and returns the chain with used length 0. A chain with a
 * writable segment, shorter than header + 14 bytes, longer than header + 1518 bytes (64 KiB
 * for a GSO packet), or with offload fields that do not fit the packet is malformed:
 * returned unsent, counted. When the frame lies in one segment the backend gets a view of guest RAM, valid
 * only during `send` (the switch copies it once); otherwise it is gathered into a scratch
 * buffer first.
 *
 * Receive: frames from the backend wait in a bounded queue (RX_PENDING_MAX frames; over
 * that they are dropped and counted, and the backend learns it from the false return) until
 * the driver posts buffers. Each frame is written after its header into one buffer, or
 * with MRG_RXBUF into as many as it takes (num_buffers of them, made used together); a
 * whole GSO packet's header says NEEDS_CSUM + GSO_TCPV4. A buffer too small for the frame
 * (without MRG_RXBUF; with it, a whole ring too small) gets used length 0 and the frame is
 * dropped and counted (Linux counts it as a length error).
 *
 * An optional rate limiter per direction (ops = frames, bytes = frame bytes) applies
 * back-pressure, as Firecracker's does: the chain at hand is held and retried after
 * `nextRefillMs()` via the injectable timer; nothing is dropped for rate.
 *
 * The guest is hostile: nothing here throws on guest input; broken rings are the queue's
 * business (DEVICE_NEEDS_RESET through the transport).
 *
 * Snapshots (saveDevice/loadDevice): the frames waiting for receive buffers, the receive
 * chains gathered for the first of them and a transmit chain a limiter holds (both by
 * their heads, re-read from the restored RAM), and the counters. The MAC is the caller's
 * configuration, not state: a clone gets its own (the saved one is kept for the record).
 * The link is always up.
 */
import type { GuestRam } from "../../../mem/ram.js";
import type { DeviceState } from "../../device.js";
import { StateReader, toBase64 } from "../../state.js";
import { defaultRetryTimer, type RateLimiter, type RetryTimer } from "../../rate-limiter.js";
import { copyFromSegments, copyToSegments, type DescChain, type VirtQueue } from "../queue.js";
import { bit, VIRTIO_ID, type VirtioDevice } from "../virtio.js";
import { checkRx, type RxChecksum } from "../../e1000/packet.js";
import { checkGsoTcp4, forEachPlainFrame, insertChecksum, segmentTcp4, TCP_CSUM_OFFSET, VIRTIO_NET_HDR, type FrameOffload } from "./offload.js";

export type { FrameOffload } from "./offload.js";

export const VIRTIO_NET = {
  QUEUE_SIZE: 256,
  RX_QUEUE: 0,
  TX_QUEUE: 1,
  /** struct virtio_net_hdr with num_buffers (VERSION_1). */
  HDR_SIZE: 12,
  ETH_HEADER: 14,
  /** Largest frame without offloads: 1500-byte MTU + 14-byte header + 4-byte VLAN tag. */
  MAX_FRAME: 1518,
  /** Largest GSO packet: 64 KiB plus headers. */
  MAX_GSO_PACKET: 0x1_0000 + 128,
  /** Frames waiting for receive buffers, at most. */
  RX_PENDING_MAX: 256,
  /** mac[6], le16 status, le16 max_virtqueue_pairs. */
  CONFIG_SIZE: 10,
} as const;

/** Feature bits (§5.1.3). */
export const VIRTIO_NET_F = {
  CSUM: 0,
  GUEST_CSUM: 1,
  MTU: 3,
  MAC: 5,
  GUEST_TSO4: 7,
  HOST_TSO4: 11,
  MRG_RXBUF: 15,
  STATUS: 16,
  CTRL_VQ: 17,
  MQ: 22,
} as const;

export const VIRTIO_NET_S_LINK_UP = 1;

/**
 * Where frames go and come from: a switch port, a TAP device, a test. `send`'s frame is
 * valid only during the call (copy it to keep it). A frame given to the receive callback
 * becomes the device's, which keeps it until a buffer takes it and never writes to it; the
 * callback returns false when the device dropped it (not ready, or its queue is full).
 */
export interface NetBackend {
  /** `send` takes whole GSO packets (with their FrameOffload); without it, only plain frames. */
  readonly gso?: boolean;
  send(frame: Uint8Array, gso?: FrameOffload | null): void;
  /** Frames for the device; `gso` non-null: a whole TCP packet to take or cut (offload.ts). */
  onReceive(cb: (frame: Uint8Array, gso: FrameOffload | null) => boolean): void;
}

export interface NetStats {
  txFrames: number;
  txBytes: number;
  /** Transmit chains rejected (writable segment, too short, too long). */
  txMalformed: number;
  /** Backend exceptions on send. */
  txErrors: number;
  /** Times transmission paused for the rate limiter. */
  txThrottled: number;
  /** GSO packets the device cut, and the frames they became (counted in txFrames too). */
  txGsoPackets: number;
  txSegments: number;
  /** GSO packets handed to the backend whole (counted once in txFrames). */
  txGsoWhole: number;
  /** Whole GSO packets given to the driver as such (GUEST_TSO4), and ones cut for a driver without it. */
  rxGsoPackets: number;
  rxGsoCut: number;
  /** Receive buffers beyond the first that merged frames took (MRG_RXBUF). */
  rxMergedBuffers: number;
  /** Received frames whose checksum the host verified and marked DATA_VALID. */
  rxChecksumValid: number;
  rxFrames: number;
  rxBytes: number;
  /** Frames dropped because RX_PENDING_MAX frames were already waiting. */
  rxDroppedQueueFull: number;
  /** Frames dropped because the driver has not set the device up (or reset it). */
  rxDroppedNotReady: number;
  /** Receive buffers too small for the frame (frame dropped, buffer returned empty). */
  rxBufferTooSmall: number;
  rxThrottled: number;
}

export const newNetStats = (): NetStats => ({
  txFrames: 0,
  txBytes: 0,
  txMalformed: 0,
  txErrors: 0,
  txThrottled: 0,
  txGsoPackets: 0,
  txSegments: 0,
  txGsoWhole: 0,
  rxGsoPackets: 0,
  rxGsoCut: 0,
  rxMergedBuffers: 0,
  rxChecksumValid: 0,
  rxFrames: 0,
  rxBytes: 0,
  rxDroppedQueueFull: 0,
  rxDroppedNotReady: 0,
  rxBufferTooSmall: 0,
  rxThrottled: 0,
});

export interface VirtioNetOptions {
  /** The MAC offered in the config space (6 bytes). */
  readonly mac: Uint8Array;
  readonly rxRateLimiter?: RateLimiter;
  readonly txRateLimiter?: RateLimiter;
  /** Schedules retries after a limiter refused (default: an unref'd setTimeout). */
  readonly timer?: RetryTimer;
  /** Receive queue bound (default RX_PENDING_MAX). */
  readonly rxPendingMax?: number;
  /** Offer CSUM, HOST_TSO4, GUEST_CSUM, GUEST_TSO4 and MRG_RXBUF (default true). */
  readonly offloads?: boolean;
}

export class VirtioNet implements VirtioDevice {
  readonly deviceId = VIRTIO_ID.NET;
  readonly features: bigint;
  readonly queueSizes = [VIRTIO_NET.QUEUE_SIZE, VIRTIO_NET.QUEUE_SIZE];
  readonly config = new Uint8Array(VIRTIO_NET.CONFIG_SIZE);
  readonly stats: NetStats = newNetStats();
  readonly mac: Uint8Array;
  private mem: GuestRam | null = null;
  private rxq: VirtQueue | null = null;
  private txq: VirtQueue | null = null;
  private notifyGuest: () => void = () => {};
  private readonly pending: Uint8Array[] = [];
  /** The offload of each pending frame (null: a plain frame). */
  private readonly pendingGso: (FrameOffload | null)[] = [];
  /** Receive chains popped for the frame at the head of `pending`, and their writable bytes. */
  private readonly rxChains: DescChain[] = [];
  private rxRoom = 0;
  /** The rate limiter has been charged for the frame at the head of `pending`. */
  private rxCharged = false;
  private readonly rxPendingMax: number;
  /** A transmit chain popped but held back by a rate limiter. */
  private heldTx: DescChain | null = null;
  private rxRetryArmed = false;
  private txRetryArmed = false;
  /** Bumped on reset, so a retry timer armed before it does nothing. */
  private epoch = 0;
  /** Gathered packets (up to a GSO packet) and the segment being built. */
  private readonly scratch = new Uint8Array(VIRTIO_NET.MAX_GSO_PACKET);
  private readonly segment = new Uint8Array(VIRTIO_NET.MAX_GSO_PACKET);
  /** Where whole GSO packets are cut for a driver without GUEST_TSO4 (one frame). */
  private readonly rxSegment = new Uint8Array(VIRTIO_NET.MAX_FRAME);
  private readonly txHdr = new Uint8Array(VIRTIO_NET.HDR_SIZE);
  private readonly rxCheck: RxChecksum = { ipChecked: false, ipBad: false, l4Checked: false, l4Bad: false };
  /** Offloads the driver accepted. */
  private csum = false;
  private tso4 = false;
  private guestCsum = false;
  private guestTso4 = false;
  private mergeable = false;
  /** The header written before each received frame. */
  private readonly rxHdr = new Uint8Array(VIRTIO_NET.HDR_SIZE);
  private readonly rxHdrView = new DataView(this.rxHdr.buffer);
  private readonly rxLimiter: RateLimiter | null;
  private readonly txLimiter: RateLimiter | null;
  private readonly timer: RetryTimer;

  constructor(
    readonly backend: NetBackend,
    opts: VirtioNetOptions,
  ) {
    if (opts.mac.length !== 6) throw new RangeError(`MAC of ${opts.mac.length} bytes`);
    const offloads =
      opts.offloads === false
        ? 0n
        : bit(VIRTIO_NET_F.CSUM) | bit(VIRTIO_NET_F.GUEST_CSUM) | bit(VIRTIO_NET_F.HOST_TSO4) | bit(VIRTIO_NET_F.GUEST_TSO4) | bit(VIRTIO_NET_F.MRG_RXBUF);
    this.features = bit(VIRTIO_NET_F.MAC) | bit(VIRTIO_NET_F.STATUS) | offloads;
    this.mac = opts.mac.slice();
    this.config.set(this.mac, 0);
    new DataView(this.config.buffer).setUint16(6, VIRTIO_NET_S_LINK_UP, true);
    new DataView(this.config.buffer).setUint16(8, 1, true);
    this.rxLimiter = opts.rxRateLimiter ?? null;
    this.txLimiter = opts.txRateLimiter ?? null;
    this.timer = opts.timer ?? defaultRetryTimer;
    this.rxPendingMax = opts.rxPendingMax ?? VIRTIO_NET.RX_PENDING_MAX;
    backend.onReceive((frame, gso) => this.receive(frame, gso));
  }

  /** Frames waiting for receive buffers. */
  get rxPending(): number {
    return this.pending.length;
  }

  activate(mem: GuestRam, queues: readonly (VirtQueue | null)[], notifyGuest: () => void, acked: bigint): void {
    const has = (f: number): boolean => (acked & this.features & bit(f)) !== 0n;
    this.csum = has(VIRTIO_NET_F.CSUM);
    // TSO needs the device to fill in checksums: without CSUM the driver may not use it (§5.1.3.1).
    this.tso4 = this.csum && has(VIRTIO_NET_F.HOST_TSO4);
    this.guestCsum = has(VIRTIO_NET_F.GUEST_CSUM);
    // GUEST_TSO4 requires GUEST_CSUM (§5.1.3.1): whole packets come with NEEDS_CSUM.
    this.guestTso4 = this.guestCsum && has(VIRTIO_NET_F.GUEST_TSO4);
    this.mergeable = has(VIRTIO_NET_F.MRG_RXBUF);
    this.mem = mem;
    this.rxq = queues[VIRTIO_NET.RX_QUEUE] ?? null;
    this.txq = queues[VIRTIO_NET.TX_QUEUE] ?? null;
    this.notifyGuest = notifyGuest;
  }

  onQueueNotify(queue: number): void {
    if (queue === VIRTIO_NET.RX_QUEUE) this.processRx();
    else if (queue === VIRTIO_NET.TX_QUEUE) this.processTx();
  }

  saveDevice(): DeviceState {
    return {
      mac: Array.from(this.mac, (b) => b.toString(16).padStart(2, "0")).join(":"),
      pending: this.pending.map((f, i) => ({ frame: toBase64(f), gso: this.pendingGso[i] ?? null })),
      rxChains: this.rxChains.map((c) => c.head),
      rxCharged: this.rxCharged,
      heldTx: this.heldTx ? this.heldTx.head : null,
      stats: structuredClone(this.stats),
    };
  }

  /** After activate and the queues' positions (see VirtioDevice). Held work is retried soon. */
  loadDevice(s: DeviceState): void {
    const r: StateReader = StateReader.of(s, "virtio-net");
    const N = VIRTIO_NET;
    const pendingRaw = r.array("pending", this.rxPendingMax);
    if (pendingRaw.length > 0 && !this.rxq) r.fail("pending", "frames waiting but the receive queue is not live");
    const pending = pendingRaw.map((v, i) => {
      const p: StateReader = StateReader.of(v, `${r.where}: pending[${i}]`);
      const frame = p.bytes("frame", N.MAX_GSO_PACKET);
      if (frame.length < N.ETH_HEADER) p.fail("frame", `${frame.length} bytes is not a frame`);
      let gso: FrameOffload | null = null;
      if (p.has("gso")) {
        if (!this.guestTso4) p.fail("gso", "a whole TCP packet for a driver that did not accept GUEST_TSO4");
        const g = p.obj("gso");
        gso = { mss: g.int("mss", 1, 0xffff), l4Start: g.int("l4Start", 0, frame.length), hdrLen: g.int("hdrLen", 0, frame.length) };
      } else if (frame.length > N.MAX_FRAME) p.fail("frame", `${frame.length} bytes without an offload (at most ${N.MAX_FRAME})`);
      return { frame, gso };
    });
    const heads = r.ints("rxChains", N.QUEUE_SIZE, 0, 0xffff);
    if (heads.length > 0 && pending.length === 0) r.fail("rxChains", "receive buffers held with no frame waiting");
    if (heads.length > 1 && !this.mergeable) r.fail("rxChains", "several buffers held for one frame without MRG_RXBUF");
    const chains = this.rebuild(r, "rxChains", this.rxq, N.QUEUE_SIZE);
    const rxCharged = r.bool("rxCharged");
    const tx = r.has("heldTx") ? this.rebuild(r, "heldTx", this.txq, 1) : [];
    const stats = r.counters("stats", newNetStats());
    // Checked: apply.
    this.pending.length = 0;
    this.pendingGso.length = 0;
    for (const p of pending) {
      this.pending.push(p.frame);
      this.pendingGso.push(p.gso);
    }
    this.rxChains.length = 0;
    this.rxRoom = 0;
    for (const c of chains) {
      this.rxChains.push(c);
      this.rxRoom += c.writableLen;
    }
    this.rxCharged = rxCharged && pending.length > 0;
    this.heldTx = tx[0] ?? null;
    Object.assign(this.stats, stats);
    if (this.pending.length > 0) this.armRetry("rx", this.rxLimiter);
    if (this.heldTx) this.armRetry("tx", this.txLimiter);
  }

  /** Chains saved by head (one number or a list), read again from `q`; at most `max`. */
  private rebuild(r: StateReader, key: string, q: VirtQueue | null, max: number): DescChain[] {
    const v = r.raw(key);
    const heads = Array.isArray(v) ? r.ints(key, max, 0, 0xffff) : [r.int(key, 0, 0xffff)];
    if (heads.length === 0) return [];
    if (!q) r.fail(key, "chains held but the queue is not live");
    return heads.map((h) => {
      const c = q.chainAt(h);
      if (typeof c === "string") r.fail(key, c);
      return c;
    });
  }

  reset(): void {
    this.epoch++;
    this.mem = null;
    this.rxq = null;
    this.txq = null;
    this.notifyGuest = () => {};
    this.stats.rxDroppedNotReady += this.pending.length;
    this.pending.length = 0;
    this.pendingGso.length = 0;
    this.rxChains.length = 0;
    this.rxRoom = 0;
    this.rxCharged = false;
    this.heldTx = null;
    this.rxRetryArmed = false;
    this.txRetryArmed = false;
  }

  /** A frame from the backend (`gso`: a whole TCP packet); false when dropped. */
  receive(frame: Uint8Array, gso: FrameOffload | null = null): boolean {
    if (!this.mem || !this.rxq || this.rxq.error !== null) {
      this.stats.rxDroppedNotReady++;
      return false;
    }
    if (this.pending.length >= this.rxPendingMax) {
      this.stats.rxDroppedQueueFull++;
      return false;
    }
    if (gso !== null && !this.guestTso4) {
      // The driver takes plain frames only: cut the packet here (each segment a copy).
      const n = forEachPlainFrame(frame, gso, this.rxSegment, (seg) => {
        this.pending.push(seg);
        this.pendingGso.push(null);
        return true;
      });
      if (n < 0) {
        this.stats.rxDroppedNotReady++;
        return false;
      }
      this.stats.rxGsoCut++;
    } else {
      this.pending.push(frame);
      this.pendingGso.push(gso);
    }
    this.processRx();
    return true;
  }

  /** Move waiting frames into posted receive buffers. */
  private processRx(): void {
    const q = this.rxq;
    const mem = this.mem;
    if (!q || !mem) return;
    let used = false;
    while (this.pending.length > 0) {
      const frame = this.pending[0]!;
      if (!this.rxCharged) {
        if (this.rxLimiter && !this.rxLimiter.consume(1, frame.length)) {
          this.stats.rxThrottled++;
          this.armRetry("rx", this.rxLimiter);
          break;
        }
        this.rxCharged = true;
      }
      const need = VIRTIO_NET.HDR_SIZE + frame.length;
      const chains = this.rxChains;
      // One buffer, or with MRG_RXBUF as many as the frame takes.
      while (this.rxRoom < need && (chains.length === 0 || this.mergeable)) {
        const c = q.pop();
        if (!c) break;
        if (this.mergeable && c.writableLen === 0) {
          // Nothing can be merged into a read-only buffer: back at once, empty.
          q.pushUsed(c.head, 0);
          this.stats.rxBufferTooSmall++;
          used = true;
          continue;
        }
        chains.push(c);
        this.rxRoom += c.writableLen;
      }
      if (this.rxRoom < need) {
        // Without MRG_RXBUF one buffer must hold it; with it, a whole ring that cannot is
        // as hopeless. Otherwise wait, holding the chains, for the driver to post more.
        const hopeless = chains.length > 0 && (!this.mergeable || chains.length >= q.size);
        if (!hopeless) break;
        for (let i = 0; i < chains.length; i++) q.pushUsed(chains[i]!.head, 0, false);
        q.publishUsed();
        this.stats.rxBufferTooSmall++;
      } else {
        this.fillRx(mem, q, frame, this.pendingGso[0]!);
      }
      chains.length = 0;
      this.rxRoom = 0;
      this.rxCharged = false;
      this.pending.shift();
      this.pendingGso.shift();
      used = true;
    }
    if (used) this.notifyGuest();
  }

  /** Write header + frame across the held chains and make them used together. */
  private fillRx(mem: GuestRam, q: VirtQueue, frame: Uint8Array, gso: FrameOffload | null): void {
    const chains = this.rxChains;
    const hdr = this.rxHdr;
    const v = this.rxHdrView;
    hdr.fill(0);
    if (gso !== null) {
      hdr[0] = VIRTIO_NET_HDR.F_NEEDS_CSUM;
      hdr[1] = VIRTIO_NET_HDR.GSO_TCPV4;
      v.setUint16(2, gso.hdrLen, true);
      v.setUint16(4, gso.mss, true);
      v.setUint16(6, gso.l4Start, true);
      v.setUint16(8, TCP_CSUM_OFFSET, true);
      this.stats.rxGsoPackets++;
    } else if (this.guestCsum && this.checksumValid(frame)) {
      hdr[0] = VIRTIO_NET_HDR.F_DATA_VALID;
    }
    v.setUint16(10, chains.length, true);
    let at = 0;
    for (let i = 0; i < chains.length; i++) {
      const c = chains[i]!;
      let n = 0;
      if (i === 0) {
        n = copyToSegments(mem, c.writable, hdr);
        n += copyToSegments(mem, c.writable, frame.subarray(0, c.writableLen - n), n);
        at = n - VIRTIO_NET.HDR_SIZE;
      } else {
        n = copyToSegments(mem, c.writable, frame.subarray(at, at + c.writableLen));
        at += n;
      }
      q.pushUsed(c.head, n, false);
    }
    q.publishUsed();
    this.stats.rxMergedBuffers += chains.length - 1;
    this.stats.rxFrames++;
    this.stats.rxBytes += frame.length;
  }

  /** Send every frame the driver queued (until the rate limiter says wait). */
  private processTx(): void {
    const q = this.txq;
    const mem = this.mem;
    if (!q || !mem) return;
    let used = false;
    for (;;) {
      const chain = this.heldTx ?? q.pop();
      this.heldTx = null;
      if (!chain) break;
      const len = chain.readableLen - VIRTIO_NET.HDR_SIZE;
      const max = this.tso4 ? VIRTIO_NET.MAX_GSO_PACKET : VIRTIO_NET.MAX_FRAME;
      const ok = chain.writable.length === 0 && len >= VIRTIO_NET.ETH_HEADER && len <= max;
      if (!ok) {
        this.stats.txMalformed++;
      } else {
        if (this.txLimiter && !this.txLimiter.consume(1, len)) {
          this.heldTx = chain;
          this.stats.txThrottled++;
          this.armRetry("tx", this.txLimiter);
          break;
        }
        this.transmit(mem, chain, len);
      }
      q.pushUsed(chain.head, 0);
      used = true;
    }
    if (used) this.notifyGuest();
  }

  private transmit(mem: GuestRam, chain: DescChain, len: number): void {
    const hdr = this.txHdr;
    hdr.fill(0);
    if (this.csum) copyFromSegments(mem, chain.readable, hdr);
    const needsCsum = (hdr[0]! & VIRTIO_NET_HDR.F_NEEDS_CSUM) !== 0;
    const gso = hdr[1]! & ~VIRTIO_NET_HDR.GSO_ECN;
    if (!needsCsum && gso === VIRTIO_NET_HDR.GSO_NONE) {
      if (len > VIRTIO_NET.MAX_FRAME) {
        this.stats.txMalformed++;
        return;
      }
      this.send(this.plainFrame(mem, chain, len), len);
      return;
    }
    // Offloads write into the packet: always work on a copy, never on guest RAM.
    const packet = this.scratch.subarray(0, len);
    copyFromSegments(mem, chain.readable, packet, VIRTIO_NET.HDR_SIZE);
    const v = new DataView(hdr.buffer);
    if (gso === VIRTIO_NET_HDR.GSO_TCPV4 && this.tso4) {
      // Whole to a backend that takes it (ECN-marked packets are cut: no GUEST_ECN anywhere).
      if (this.backend.gso === true && needsCsum && (hdr[1]! & VIRTIO_NET_HDR.GSO_ECN) === 0) {
        const off = checkGsoTcp4(packet, len, v.getUint16(4, true), v.getUint16(6, true), v.getUint16(8, true));
        if (off !== null) {
          this.send(packet, len, off);
          this.stats.txGsoWhole++;
          return;
        }
      }
      // segmentTcp4 computes every segment's checksums itself.
      const n = segmentTcp4(packet, len, v.getUint16(4, true), this.segment, (seg) => this.send(seg, seg.length));
      if (n < 0) this.stats.txMalformed++;
      else {
        this.stats.txGsoPackets++;
        this.stats.txSegments += n;
      }
      return;
    }
    if (gso !== VIRTIO_NET_HDR.GSO_NONE || len > VIRTIO_NET.MAX_FRAME) {
      // A GSO type not offered (UDP, TCPv6) or not accepted.
      this.stats.txMalformed++;
      return;
    }
    if (!insertChecksum(packet, len, v.getUint16(6, true), v.getUint16(8, true))) {
      this.stats.txMalformed++;
      return;
    }
    this.send(packet, len);
  }

  /** The frame as one view of guest RAM when it lies in one segment, else gathered. */
  private plainFrame(mem: GuestRam, chain: DescChain, len: number): Uint8Array {
    let skip = VIRTIO_NET.HDR_SIZE;
    for (const s of chain.readable) {
      if (skip >= s.len) {
        skip -= s.len;
        continue;
      }
      if (s.len - skip >= len) {
        const at = s.addr - mem.base + skip;
        return mem.u8.subarray(at, at + len);
      }
      break;
    }
    const frame = this.scratch.subarray(0, len);
    copyFromSegments(mem, chain.readable, frame, VIRTIO_NET.HDR_SIZE);
    return frame;
  }

  private send(frame: Uint8Array, len: number, gso: FrameOffload | null = null): void {
    try {
      this.backend.send(frame, gso);
      this.stats.txFrames++;
      this.stats.txBytes += len;
    } catch {
      this.stats.txErrors++;
    }
  }

  /** TCP/UDP checksum present and correct (verified here, in the host). */
  private checksumValid(frame: Uint8Array): boolean {
    const c = this.rxCheck;
    checkRx(frame, frame.length, 0x8100, true, true, c);
    const ok = c.l4Checked && !c.l4Bad && !c.ipBad;
    if (ok) this.stats.rxChecksumValid++;
    return ok;
  }

  private armRetry(dir: "rx" | "tx", limiter: RateLimiter | null): void {
    if (dir === "rx" ? this.rxRetryArmed : this.txRetryArmed) return;
    if (dir === "rx") this.rxRetryArmed = true;
    else this.txRetryArmed = true;
    const epoch = this.epoch;
    this.timer(Math.max(1, limiter?.nextRefillMs() ?? 1), () => {
      if (epoch !== this.epoch) return;
      if (dir === "rx") {
        this.rxRetryArmed = false;
        this.processRx();
      } else {
        this.txRetryArmed = false;
        this.processTx();
      }
    });
  }
}
