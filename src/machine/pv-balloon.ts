/**
 * The pv machine's memory balloon, from the host's side: the target (guest memory the
 * host wants the VM to keep), the statistics poll, and the report the owner thread sends
 * to the main thread (Vm.memoryStats()). The device itself is
 * devices/virtio/balloon/device.ts; this is the policy-free plumbing around it.
 *
 * Statistics cost the guest a wake-up each, so they are asked for only while someone
 * reads them: `wantStats(ms)` opens a lease, and while it lasts the device's stats buffer
 * is returned every STATS_PERIOD_MS (the driver refills it with fresh figures).
 */
import type { BalloonBadInput, GuestMemStats, VirtioBalloon } from "../devices/virtio/balloon/device.js";
import type { ReclaimMode } from "../mem/host-memory.js";
import { PAGE_SIZE, type GuestRam } from "../mem/ram.js";

export const BALLOON_TIMING = {
  /** How often the guest is asked for fresh statistics while a lease is open. */
  STATS_PERIOD_MS: 1000,
  /** At most one report to the main thread per this long (and only when something changed). */
  REPORT_PERIOD_MS: 1000,
} as const;

const MiB = 1 << 20;
export const MEM_TARGET = {
  /** The smallest target: a guest squeezed below this stops being useful (or OOMs). */
  MIN_BYTES: 32 * MiB,
  /** …and never below this fraction of its RAM. */
  MIN_FRACTION: 8,
} as const;

/** The lowest target a VM of `ramBytes` accepts. */
export function minMemTarget(ramBytes: number): number {
  const m = Math.max(MEM_TARGET.MIN_BYTES, Math.ceil(ramBytes / MEM_TARGET.MIN_FRACTION / PAGE_SIZE) * PAGE_SIZE);
  return Math.min(m, ramBytes);
}

/** Why `target` is not a usable memory target for a VM of `ramBytes`, or null. */
export function checkMemTarget(ramBytes: number, target: number): string | null {
  const mib = (b: number): string => `${+(b / MiB).toFixed(2)} MiB`;
  if (!Number.isInteger(target) || target <= 0) return `memory target must be a positive whole number of bytes, got ${target}`;
  if (target % PAGE_SIZE !== 0) return `memory target ${target} is not a multiple of ${PAGE_SIZE} bytes`;
  if (target > ramBytes) return `memory target ${mib(target)} is more than the VM's RAM (${mib(ramBytes)})`;
  const min = minMemTarget(ramBytes);
  if (target < min) return `memory target ${mib(target)} is below the minimum ${mib(min)} for ${mib(ramBytes)} of RAM (the larger of 32 MiB and RAM/8)`;
  return null;
}

/** The balloon's figures, as the owner thread reports them (plain data: it is posted). */
export interface BalloonReport {
  readonly ramBytes: number;
  /** Guest memory the host asked the VM to keep (RAM minus the balloon's target). */
  readonly targetBytes: number;
  /** What the guest says its balloon holds (`actual`). */
  readonly balloonBytes: number;
  /** What the device holds as inflated (its own bitmap). */
  readonly inflatedBytes: number;
  /** The guest's latest statistics (bytes for memory, counts for faults), null until the first. */
  readonly guest: GuestMemStats | null;
  /** Age of `guest` when the report was made (ms), null without statistics. */
  readonly guestAgeMs: number | null;
  /** Free page reporting: bytes given back without a target. */
  readonly reportedBytes: number;
  readonly inflates: number;
  readonly deflates: number;
  readonly statsUpdates: number;
  readonly bad: BalloonBadInput;
  readonly reclaim: ReclaimMode;
}

export class BalloonControl {
  private statsUntil = -Infinity;
  private nextStats = 0;
  private nextReport = 0;
  private lastSent = "";

  constructor(
    readonly device: VirtioBalloon,
    private readonly ram: GuestRam,
  ) {}

  /** Ask the guest to keep `bytes` of memory (checked: checkMemTarget). */
  setTarget(bytes: number): void {
    const why = checkMemTarget(this.ram.size, bytes);
    if (why !== null) throw new RangeError(why);
    this.device.setTargetPages((this.ram.size - bytes) / PAGE_SIZE);
  }

  /** Poll the guest's statistics for the next `ms` (renewed by each call). */
  wantStats(nowMs: number, ms: number): void {
    this.statsUntil = Math.max(this.statsUntil, nowMs + ms);
  }

  report(nowMs: number): BalloonReport {
    const d = this.device;
    const s = d.stats;
    return {
      ramBytes: this.ram.size,
      targetBytes: this.ram.size - d.targetPages * PAGE_SIZE,
      balloonBytes: d.actualPages * PAGE_SIZE,
      inflatedBytes: s.inflatedPages * PAGE_SIZE,
      guest: d.guest ? { ...d.guest } : null,
      guestAgeMs: d.guest ? Math.max(0, Math.round(nowMs - s.statsAtMs)) : null,
      reportedBytes: s.reportedBytes,
      inflates: s.inflates,
      deflates: s.deflates,
      statsUpdates: s.statsUpdates,
      bad: { ...s.bad },
      reclaim: this.ram.reclaim,
    };
  }

  /**
   * Between slices on the owner thread: ask for statistics when due, and return a report
   * when one is due and something changed since the last (else null). Cheap when idle:
   * two comparisons.
   */
  tick(nowMs: number): BalloonReport | null {
    if (nowMs < this.statsUntil && nowMs >= this.nextStats && this.device.statsReady) {
      this.device.requestStats();
      this.nextStats = nowMs + BALLOON_TIMING.STATS_PERIOD_MS;
    }
    if (nowMs < this.nextReport) return null;
    this.nextReport = nowMs + BALLOON_TIMING.REPORT_PERIOD_MS;
    const r = this.report(nowMs);
    const key = JSON.stringify({ ...r, guestAgeMs: 0 });
    if (key === this.lastSent) return null;
    this.lastSent = key;
    return r;
  }
}
