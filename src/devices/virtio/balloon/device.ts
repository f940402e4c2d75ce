/**
 * virtio-balloon (virtio 1.2 §5.5, device id 5; Linux `include/uapi/linux/virtio_balloon.h`,
 * `drivers/virtio/virtio_balloon.c`): the host asks for memory back by raising `num_pages`
 * in the config space; the guest allocates that many pages and hands their PFNs over on
 * inflateq, and the device gives each page's host memory back (`GuestRam.discard`: madvise,
 * so the host's resident memory falls). Pages come back to the guest on deflateq, reading
 * zero. The guest writes how many pages it holds in `actual`.
 *
 * Queues, in the order the driver finds them (Linux numbers only the queues whose feature
 * was accepted, so their indices depend on the features): inflateq, deflateq, statsq
 * (STATS_VQ), reporting_vq (REPORTING). FREE_PAGE_HINT and PAGE_POISON are not offered.
 *
 * - statsq: the driver posts one buffer of (u16 tag, u64 value) entries; the device keeps
 *   it and returns it (`requestStats`) when it wants fresh figures; the driver refills and
 *   posts it again (§5.5.6.3).
 * - reporting_vq: each buffer's segments are free guest pages (2 MiB chunks in Linux):
 *   discarded without any target (free page reporting, §5.5.6.7).
 *
 * The guest is hostile: a PFN outside RAM, a page inflated twice, a deflate of a page that
 * was never inflated, a stats buffer of the wrong size, a report that is not whole pages
 * are each ignored and counted (`stats.bad`); nothing here throws because of the guest, and
 * nothing outside this VM's RAM is touched (the queue checks every buffer against RAM).
 *
 * Snapshots (saveDevice/loadDevice): the target and `actual` (the config space), the
 * inflated-page bitmap, the stats buffer the device holds (its queue and head), the
 * guest's latest figures (with their age, not a host clock reading) and the counters.
 */
import type { GuestRam } from "../../../mem/ram.js";
import type { DeviceState } from "../../device.js";
import { StateReader, toBase64 } from "../../state.js";
import { PAGE_SIZE } from "../../../mem/ram.js";
import { copyFromSegments, type DescChain, type VirtQueue } from "../queue.js";
import { bit, VIRTIO_ID, type VirtioDevice } from "../virtio.js";

/** Feature bit numbers (§5.5.3). */
export const VIRTIO_BALLOON_F = {
  MUST_TELL_HOST: 0,
  STATS_VQ: 1,
  DEFLATE_ON_OOM: 2,
  FREE_PAGE_HINT: 3,
  PAGE_POISON: 4,
  REPORTING: 5,
} as const;

/** Config space (§5.5.4): le32 num_pages, le32 actual, le32 free_page_hint_cmd_id, le32 poison_val. */
export const BALLOON_CONFIG = { NUM_PAGES: 0, ACTUAL: 4, SIZE: 16 } as const;

/** Statistic tags (§5.5.6.3) and the names we keep them under. */
export const BALLOON_STAT_TAGS = [
  "swapIn",
  "swapOut",
  "majorFaults",
  "minorFaults",
  "free",
  "total",
  "available",
  "caches",
  "hugetlbAllocs",
  "hugetlbFailures",
] as const;
export type GuestStatName = (typeof BALLOON_STAT_TAGS)[number];

export const VIRTIO_BALLOON = {
  /** Queue sizes: inflate/deflate carry one buffer at a time; reporting needs ≥ 32 (PAGE_REPORTING_CAPACITY). */
  QUEUE_SIZE: 128,
  STATS_QUEUE_SIZE: 16,
  /** A PFN is a 4 KiB page number whatever the guest's page size (VIRTIO_BALLOON_PFN_SHIFT). */
  PFN_SHIFT: 12,
  STAT_ENTRY: 10,
  /** More entries than any driver sends (Linux: 10); a longer buffer is hostile. */
  MAX_STATS: 64,
  /** PFNs read per inflate/deflate buffer at most (Linux sends ≤ 256). */
  MAX_PFNS: 65536,
} as const;

/** Why guest input was ignored, one counter each. */
export interface BalloonBadInput {
  /** An inflate/deflate PFN outside RAM. */
  pfnOutsideRam: number;
  inflatedTwice: number;
  deflateNotInflated: number;
  /** An inflate/deflate buffer that is not whole u32s, or has device-writable parts. */
  badPfnBuffer: number;
  /** A stats buffer that is empty, not whole entries, or longer than MAX_STATS. */
  statsWrongSize: number;
  /** A stats entry with a tag we do not know (skipped; the others are kept). */
  statsUnknownTag: number;
  /** A free-page report segment that is not whole 4 KiB pages (its whole pages are still taken). */
  reportUnaligned: number;
}

export interface BalloonStats {
  /** Pages the device holds as inflated (its bitmap), whatever the guest says in `actual`. */
  inflatedPages: number;
  inflates: number;
  deflates: number;
  /** Stats buffers received, and when the last one arrived (host ms, performance.now). */
  statsUpdates: number;
  statsAtMs: number;
  /** Free page reporting: buffers and bytes given back. */
  reports: number;
  reportedBytes: number;
  bad: BalloonBadInput;
}

export type GuestMemStats = Partial<Record<GuestStatName, number>>;

const newBad = (): BalloonBadInput => ({
  pfnOutsideRam: 0,
  inflatedTwice: 0,
  deflateNotInflated: 0,
  badPfnBuffer: 0,
  statsWrongSize: 0,
  statsUnknownTag: 0,
  reportUnaligned: 0,
});

/** What each queue index carries, once the features are known. */
const Role = { INFLATE: 0, DEFLATE: 1, STATS: 2, REPORTING: 3 } as const;
type RoleValue = (typeof Role)[keyof typeof Role];

export class VirtioBalloon implements VirtioDevice {
  readonly deviceId = VIRTIO_ID.BALLOON;
  readonly features: bigint;
  readonly queueSizes = [VIRTIO_BALLOON.QUEUE_SIZE, VIRTIO_BALLOON.QUEUE_SIZE, VIRTIO_BALLOON.STATS_QUEUE_SIZE, VIRTIO_BALLOON.QUEUE_SIZE];
  readonly config = new Uint8Array(BALLOON_CONFIG.SIZE);
  readonly stats: BalloonStats = { inflatedPages: 0, inflates: 0, deflates: 0, statsUpdates: 0, statsAtMs: 0, reports: 0, reportedBytes: 0, bad: newBad() };
  /** The latest figures the guest sent on statsq, by name (null until the first). */
  guest: GuestMemStats | null = null;
  /** Set by the board: raises the configuration-change interrupt (transport.configChanged). */
  onConfigChange: () => void = () => {};
  /** One bit per 4 KiB page of RAM: inflated. Kept across driver resets: the memory stays given back. */
  private readonly inflated: Uint8Array;
  private readonly cfg = new DataView(this.config.buffer);
  private mem: GuestRam | null = null;
  private roles: (RoleValue | null)[] = [];
  private queues: readonly (VirtQueue | null)[] = [];
  private notifyGuest: () => void = () => {};
  /** The stats buffer the device holds until it wants new figures. */
  private heldStats: { q: VirtQueue; head: number } | null = null;
  private readonly statsScratch = new Uint8Array(VIRTIO_BALLOON.STAT_ENTRY * VIRTIO_BALLOON.MAX_STATS);
  private pfnScratch = new Uint8Array(1024);

  constructor(
    ram: GuestRam,
    private readonly clockMs: () => number = () => performance.now(),
    /** Offer free page reporting (default): off only to measure an inflate on its own. */
    reporting = true,
  ) {
    this.features = bit(VIRTIO_BALLOON_F.STATS_VQ) | bit(VIRTIO_BALLOON_F.DEFLATE_ON_OOM) | (reporting ? bit(VIRTIO_BALLOON_F.REPORTING) : 0n);
    this.inflated = new Uint8Array(Math.ceil(ram.size / PAGE_SIZE / 8));
  }

  /** The host's target: how many 4 KiB pages the guest should hold in the balloon. */
  get targetPages(): number {
    return this.cfg.getUint32(BALLOON_CONFIG.NUM_PAGES, true);
  }

  /** What the guest says it holds (`actual`, written by the driver). */
  get actualPages(): number {
    return this.cfg.getUint32(BALLOON_CONFIG.ACTUAL, true);
  }

  /** Ask the guest to hold `pages` pages (the caller checks the range). */
  setTargetPages(pages: number): void {
    if (pages === this.targetPages) return;
    this.cfg.setUint32(BALLOON_CONFIG.NUM_PAGES, pages >>> 0, true);
    this.onConfigChange();
  }

  /** Whether a stats buffer is waiting to be returned (the driver negotiated statsq). */
  get statsReady(): boolean {
    return this.heldStats !== null;
  }

  /** Give the held stats buffer back so the driver refills it; false when there is none. */
  requestStats(): boolean {
    const h = this.heldStats;
    if (h === null) return false;
    this.heldStats = null;
    h.q.pushUsed(h.head, 0);
    this.notifyGuest();
    return true;
  }

  activate(mem: GuestRam, queues: readonly (VirtQueue | null)[], notifyGuest: () => void, acked: bigint): void {
    this.mem = mem;
    this.queues = queues;
    this.notifyGuest = notifyGuest;
    // Linux numbers queues consecutively over the ones whose features were accepted.
    const roles: (RoleValue | null)[] = [Role.INFLATE, Role.DEFLATE];
    if ((acked & bit(VIRTIO_BALLOON_F.STATS_VQ)) !== 0n) roles.push(Role.STATS);
    if ((acked & bit(VIRTIO_BALLOON_F.REPORTING)) !== 0n) roles.push(Role.REPORTING);
    while (roles.length < queues.length) roles.push(null);
    this.roles = roles;
    // The driver primes statsq before DRIVER_OK (virtballoon_probe): take that buffer now.
    for (let i = 0; i < queues.length; i++) if (roles[i] === Role.STATS) this.onQueueNotify(i);
  }

  onQueueNotify(queue: number): void {
    const q = this.queues[queue];
    const role = this.roles[queue];
    if (!q || !this.mem || role === null || role === undefined) return;
    let used = false;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      if (role === Role.STATS) {
        this.takeStats(q, chain);
        continue;
      }
      if (role === Role.REPORTING) this.report(chain);
      else this.pfns(chain, role === Role.INFLATE);
      q.pushUsed(chain.head, 0);
      used = true;
    }
    if (used) this.notifyGuest();
  }

  writeConfig(offset: number, width: 1 | 2 | 4, value: number): void {
    // Only `actual` is the driver's to write (§5.5.4); any width, as the transport allows.
    for (let i = 0; i < width; i++) {
      const at = offset + i;
      if (at >= BALLOON_CONFIG.ACTUAL && at < BALLOON_CONFIG.ACTUAL + 4) this.config[at] = (value >>> (8 * i)) & 0xff;
    }
  }

  reset(): void {
    // The driver gives up on every page when it resets (§5.5.6.1): they are the guest's again.
    this.inflated.fill(0);
    this.stats.inflatedPages = 0;
    this.cfg.setUint32(BALLOON_CONFIG.ACTUAL, 0, true);
    this.mem = null;
    this.queues = [];
    this.roles = [];
    this.heldStats = null;
    this.notifyGuest = () => {};
  }

  saveDevice(): DeviceState {
    const held = this.heldStats;
    return {
      numPages: this.targetPages,
      actual: this.actualPages,
      inflated: toBase64(this.inflated),
      heldStats: held ? { queue: this.queues.indexOf(held.q), head: held.head } : null,
      guest: this.guest ? { ...this.guest } : null,
      statsAgeMs: this.guest ? Math.max(0, this.clockMs() - this.stats.statsAtMs) : null,
      stats: { ...this.stats, bad: { ...this.stats.bad } },
    };
  }

  /**
   * After activate and the queues' positions. The target is set without a config-change
   * interrupt: the restored guest has already seen it.
   */
  loadDevice(s: DeviceState): void {
    const r: StateReader = StateReader.of(s, "virtio-balloon");
    const pages = this.inflated.length * 8;
    const numPages = r.int("numPages", 0, pages);
    const actual = r.int("actual", 0, 0xffff_ffff);
    const inflated = r.bytes("inflated", this.inflated.length);
    if (inflated.length !== this.inflated.length) r.fail("inflated", `a bitmap of ${inflated.length} bytes, this RAM needs ${this.inflated.length}`);
    let inflatedPages = 0;
    for (const b of inflated) for (let x = b; x !== 0; x &= x - 1) inflatedPages++;
    let held: { q: VirtQueue; head: number } | null = null;
    if (r.has("heldStats")) {
      const h: StateReader = r.obj("heldStats");
      const qi = h.int("queue", 0, this.queueSizes.length - 1);
      const q = this.queues[qi];
      if (!q || this.roles[qi] !== Role.STATS) h.fail("queue", `queue ${qi} is not a live statsq`);
      held = { q, head: h.int("head", 0, q.size - 1) };
    }
    let guest: GuestMemStats | null = null;
    if (r.has("guest")) {
      const g: StateReader = r.obj("guest");
      guest = {};
      for (const name of BALLOON_STAT_TAGS) if (g.has(name)) guest[name] = g.count(name);
    }
    const age = guest ? r.count("statsAgeMs") : 0;
    const stats = r.counters("stats", { ...this.stats, bad: newBad() });
    // Checked: apply.
    this.cfg.setUint32(BALLOON_CONFIG.NUM_PAGES, numPages, true);
    this.cfg.setUint32(BALLOON_CONFIG.ACTUAL, actual, true);
    this.inflated.set(inflated);
    Object.assign(this.stats, stats, { bad: stats.bad, inflatedPages, statsAtMs: guest ? this.clockMs() - age : 0 });
    this.guest = guest;
    this.heldStats = held;
  }

  /** An inflate or deflate buffer: little-endian u32 PFNs (§5.5.6.1, §5.5.6.2). */
  private pfns(chain: DescChain, inflate: boolean): void {
    const mem = this.mem!;
    if (chain.writable.length > 0 || chain.readableLen % 4 !== 0) {
      this.stats.bad.badPfnBuffer++;
      return;
    }
    const n = Math.min(chain.readableLen / 4, VIRTIO_BALLOON.MAX_PFNS);
    if (this.pfnScratch.length < 4 * n) this.pfnScratch = new Uint8Array(4 * n);
    const buf = this.pfnScratch.subarray(0, 4 * n);
    copyFromSegments(mem, chain.readable, buf);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const first = mem.base / PAGE_SIZE;
    const pages = mem.size / PAGE_SIZE;
    if (inflate) this.stats.inflates++;
    else this.stats.deflates++;
    for (let i = 0; i < n; i++) {
      const page = view.getUint32(4 * i, true) - first;
      if (page < 0 || page >= pages) {
        this.stats.bad.pfnOutsideRam++;
        continue;
      }
      const byte = page >>> 3;
      const mask = 1 << (page & 7);
      const was = (this.inflated[byte]! & mask) !== 0;
      if (inflate) {
        if (was) {
          this.stats.bad.inflatedTwice++;
          continue;
        }
        this.inflated[byte]! |= mask;
        this.stats.inflatedPages++;
        mem.discard(mem.base + page * PAGE_SIZE, PAGE_SIZE);
      } else {
        if (!was) {
          this.stats.bad.deflateNotInflated++;
          continue;
        }
        // Already zero since its inflate (unless the guest wrote to a page it gave away:
        // its own business, and still only its own memory).
        this.inflated[byte]! &= ~mask;
        this.stats.inflatedPages--;
      }
    }
  }

  /** A free page report: device-writable segments naming free guest memory (§5.5.6.7). */
  private report(chain: DescChain): void {
    const mem = this.mem!;
    this.stats.reports++;
    for (const seg of chain.writable) {
      const start = Math.ceil((seg.addr - mem.base) / PAGE_SIZE) * PAGE_SIZE;
      const end = Math.floor((seg.addr - mem.base + seg.len) / PAGE_SIZE) * PAGE_SIZE;
      if (start !== seg.addr - mem.base || end !== seg.addr - mem.base + seg.len) this.stats.bad.reportUnaligned++;
      if (end <= start) continue;
      mem.discard(mem.base + start, end - start);
      this.stats.reportedBytes += end - start;
    }
  }

  /** A stats buffer: read it, keep it until the next request (§5.5.6.3). */
  private takeStats(q: VirtQueue, chain: DescChain): void {
    // A second buffer while one is held: give the older back at once (Linux never has two).
    if (this.heldStats !== null) this.requestStats();
    this.heldStats = { q, head: chain.head };
    const len = chain.readableLen;
    const E = VIRTIO_BALLOON.STAT_ENTRY;
    if (len === 0 || len % E !== 0 || len > E * VIRTIO_BALLOON.MAX_STATS) {
      this.stats.bad.statsWrongSize++;
      return;
    }
    const buf = this.statsScratch.subarray(0, len);
    copyFromSegments(this.mem!, chain.readable, buf);
    const view = new DataView(buf.buffer, buf.byteOffset, len);
    const got: GuestMemStats = { ...this.guest };
    for (let off = 0; off < len; off += E) {
      const name = BALLOON_STAT_TAGS[view.getUint16(off, true)];
      if (name === undefined) {
        this.stats.bad.statsUnknownTag++;
        continue;
      }
      got[name] = view.getUint32(off + 2, true) + view.getUint32(off + 6, true) * 0x1_0000_0000;
    }
    this.guest = got;
    this.stats.statsUpdates++;
    this.stats.statsAtMs = this.clockMs();
  }
}
