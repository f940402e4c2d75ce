/**
 * The credit scheduler's shared table: one SharedArrayBuffer that the main thread (the
 * hypervisor: accounting, settings, metrics) and every vCPU worker thread (grant
 * hand-off at its own decision points) read and write without messages.
 *
 * Byte layout (every region 8-byte aligned, so an Int32Array and a Float64Array over the
 * whole buffer address all of it):
 *
 *     [0, 64)                 header, Int32 words G.*
 *     [64, 128)               header, Float64 entries GF.*
 *     [128 + s·192, …)        vCPU slot s: Int32 words S.* in its first 64 bytes,
 *                             Float64 entries SF.* in the next 128
 *     [128 + maxVcpus·192 + v·64, …)  VM entry v: Int32 words V.* in 32 bytes, Float64 VF.* in 32
 *
 * A slot is 192 bytes so that two slots' doorbell words never share a 64-byte cache
 * line: a ring on one vCPU does not slow another's wait.
 *
 * Everything except the doorbell and the grant word is read and written only under the
 * table lock (G.LOCK, a futex-style mutex: a short spin, then Atomics.wait). The lock's
 * Atomics operations order the plain Float64 accesses between threads.
 */

/** Bounds on settings and sizes (the RangeError messages quote them). */
export const LIMITS = {
  pcpusMin: 1,
  pcpusMax: 256,
  vcpusMin: 1,
  vcpusMax: 4096,
  vcpusDefault: 256,
  weightMin: 1,
  weightMax: 65535,
  weightDefault: 256,
  capMin: 0,
  /** cap is in % of one host core; the bound is 100 × pcpusMax so that no cap ever
   *  becomes invalid when pcpus changes. A cap above 100 × (the VM's vCPUs or pcpus)
   *  cannot bind and acts like no cap. */
  capMax: 100 * 256,
} as const;

/** The scheduler's clock constants, in milliseconds (Xen credit's defaults). */
export const TIMING = {
  /** Main-thread timer: samples for the share window, and runs accounting when due. */
  tickMs: 10,
  /** Accounting period: credits are handed out, and caps are budgeted, per period. */
  periodMs: 30,
  /** A runner keeps its grant this long before an equal-priority waiter gets a turn. */
  timesliceMs: 30,
  /** BOOST lasts at most this much running after the wake-up (one Xen tick). */
  boostMs: 10,
  /**
   * Credit clamp. Xen banks at most one period; here three, and debt goes ten deep: a
   * vCPU thread that the host deschedules while it holds a grant is charged for all of
   * it (tens of ms on a busy host), and debt forgiven at the floor is time the other
   * VMs never get back. Idle vCPUs earn nothing, so they cannot bank more than this.
   */
  creditMaxMs: 90,
  creditMinMs: -300,
  /** vmStats().share: cores received over this trailing window. */
  shareWindowMs: 1000,
  /** After a stalled main thread, accounting hands out at most this many periods' credit. */
  maxCatchUpPeriods: 4,
  /** Lock: CAS attempts before sleeping on the lock word; sleep bound (a safety net only). */
  lockSpins: 200,
  lockWaitMs: 50,
} as const;

export const STATE = { FREE: 0, OFFLINE: 1, RUNNABLE: 2, RUNNING: 3, IDLE: 4 } as const;
export type SchedState = (typeof STATE)[keyof typeof STATE];
export const STATE_NAMES = ["free", "offline", "runnable", "running", "idle"] as const;

/** Lower is better. */
export const PRIO = { BOOST: 0, UNDER: 1, OVER: 2 } as const;
export const PRIO_NAMES = ["boost", "under", "over"] as const;

export const REGION = {
  headerI32Bytes: 64,
  headerBytes: 128,
  slotBytes: 192,
  slotI32Bytes: 64,
  vmBytes: 64,
  vmI32Bytes: 32,
} as const;

/** Header Int32 words. */
export const G = {
  LOCK: 0,
  /** Run grants that may be held at once. */
  PCPUS: 1,
  /** Grants held now (≤ PCPUS except right after setPcpus lowered it). */
  RUNNING: 2,
  /** vCPUs RUNNABLE without a grant (the run queue length, parked ones included). */
  WAITING: 3,
  MAX_VCPUS: 4,
  MAX_VMS: 5,
  /** One past the highest slot ever allocated: scans stop here. */
  SLOT_END: 6,
  MAGIC: 7,
} as const;

/** Header Float64 entries. */
export const GF = {
  /** Clock value at creation: cap windows are [EPOCH + k·period, EPOCH + (k+1)·period). */
  EPOCH_MS: 0,
  /** Enqueue sequence (longest-waiting-first among equal priorities); float64 never wraps. */
  SEQ: 1,
  /** Grants handed out, ever. */
  GRANTS: 2,
} as const;

/** Slot Int32 words. */
export const S = {
  STATE: 0,
  /** 1 while this vCPU holds a run grant; written before the doorbell is bumped. */
  GRANT: 1,
  /** The doorbell: a counter bumped (and notified) by ring() and by a grant hand-off. */
  BELL: 2,
  VM: 3,
  PRIO: 4,
} as const;

/** Slot Float64 entries. Times are ns except the *_MS clock stamps. */
export const SF = {
  /** Credit in ms of host time (positive = UNDER). */
  CREDIT: 0,
  RUN_NS: 1,
  /** RUNNABLE without a grant: steal time. */
  WAIT_NS: 2,
  IDLE_NS: 3,
  /** Clock at the last state change (for RUNNING: when the grant was handed over). */
  STAMP_MS: 4,
  /** Clock at the last credit debit while RUNNING. */
  DEBIT_MS: 5,
  /** Enqueue sequence number while RUNNABLE. */
  SEQ: 6,
  /** Sum of the ranMs that sliceEnd reported (guest execution inside the grant time). */
  GUEST_NS: 7,
  /** Grants received. */
  GRANTS: 8,
  /** Grants given up in sliceEnd (preempted, timeslice over, capped, pcpus lowered). */
  YIELDS: 9,
  /** Doorbell-driven wake-ups from idle(). */
  WAKES: 10,
} as const;

/** VM entry Int32 words. */
export const V = {
  /** 1 while the entry is in use. */
  USED: 0,
  WEIGHT: 1,
  /** % of one host core; 0 = none. */
  CAP: 2,
  /** Cap window index that CAP_USED_MS belongs to. */
  CAP_WINDOW: 3,
} as const;

/** VM entry Float64 entries. */
export const VF = {
  /** Host ms this VM held grants in its current cap window (overshoot carries over). */
  CAP_USED_MS: 0,
} as const;

const MAGIC = 0x53434844; // "SCHD"
const CLOCK_CALIBRATION_ROUNDS = 20;

/** Bytes of a table with these sizes. */
export function tableBytes(maxVcpus: number, maxVms: number): number {
  return REGION.headerBytes + maxVcpus * REGION.slotBytes + maxVms * REGION.vmBytes;
}

/** Int32 index of slot field `field`. Depends only on constants, so ring() needs no header. */
export function slotI(slot: number, field: number): number {
  return ((REGION.headerBytes + slot * REGION.slotBytes) >> 2) + field;
}
export function slotF(slot: number, field: number): number {
  return ((REGION.headerBytes + slot * REGION.slotBytes + REGION.slotI32Bytes) >> 3) + field;
}
export function headerF(field: number): number {
  return (REGION.headerI32Bytes >> 3) + field;
}

/** Typed views over a table plus its dimensions, read back from the header. */
export class SchedViews {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly maxVcpus: number;
  readonly maxVms: number;
  private readonly vmBase: number;

  constructor(readonly sab: SharedArrayBuffer) {
    this.i32 = new Int32Array(sab);
    this.f64 = new Float64Array(sab);
    if (Atomics.load(this.i32, G.MAGIC) !== MAGIC) throw new Error("not a credit-scheduler table (bad magic)");
    this.maxVcpus = this.i32[G.MAX_VCPUS]!;
    this.maxVms = this.i32[G.MAX_VMS]!;
    this.vmBase = REGION.headerBytes + this.maxVcpus * REGION.slotBytes;
  }

  /** Lay out a fresh table in `sab` (all zero) and return its views. */
  static init(sab: SharedArrayBuffer, maxVcpus: number, maxVms: number, pcpus: number, nowMs: number): SchedViews {
    const i32 = new Int32Array(sab);
    const f64 = new Float64Array(sab);
    i32[G.PCPUS] = pcpus;
    i32[G.MAX_VCPUS] = maxVcpus;
    i32[G.MAX_VMS] = maxVms;
    f64[headerF(GF.EPOCH_MS)] = nowMs;
    Atomics.store(i32, G.MAGIC, MAGIC);
    return new SchedViews(sab);
  }

  vmI(vm: number, field: number): number {
    return ((this.vmBase + vm * REGION.vmBytes) >> 2) + field;
  }
  vmF(vm: number, field: number): number {
    return ((this.vmBase + vm * REGION.vmBytes + REGION.vmI32Bytes) >> 3) + field;
  }
}

/**
 * A monotonic clock in ms that agrees across threads. performance.now() counts from
 * each thread's own time origin, so two workers' values are not comparable; the offset
 * to uv_hrtime (one clock for the whole process) is measured once per thread.
 */
const HRTIME_OFFSET_MS = calibrate();
function calibrate(): number {
  // The first calls are slow (lazy initialisation): keep the tightest of a few brackets.
  let best = Infinity;
  let offset = 0;
  for (let i = 0; i < CLOCK_CALIBRATION_ROUNDS; i++) {
    const before = performance.now();
    const hr = Number(process.hrtime.bigint()) / 1e6;
    const after = performance.now();
    if (after - before < best) {
      best = after - before;
      offset = hr - (before + after) / 2;
    }
  }
  return offset;
}
export function monoMs(): number {
  return performance.now() + HRTIME_OFFSET_MS;
}

/**
 * Table lock: 0 free, 1 held, 2 held with sleepers (Drepper's futex mutex). Holders only
 * run short, non-throwing bookkeeping, so a brief spin usually wins; when the holder's
 * thread has been descheduled by the host, waiters sleep instead of burning a core.
 */
export function lockTable(i32: Int32Array): void {
  let c = Atomics.compareExchange(i32, G.LOCK, 0, 1);
  if (c === 0) return;
  for (let i = 0; i < TIMING.lockSpins; i++) {
    if (Atomics.load(i32, G.LOCK) === 0) {
      c = Atomics.compareExchange(i32, G.LOCK, 0, 1);
      if (c === 0) return;
    }
  }
  c = Atomics.exchange(i32, G.LOCK, 2);
  while (c !== 0) {
    Atomics.wait(i32, G.LOCK, 2, TIMING.lockWaitMs);
    c = Atomics.exchange(i32, G.LOCK, 2);
  }
}

export function unlockTable(i32: Int32Array): void {
  if (Atomics.sub(i32, G.LOCK, 1) !== 1) {
    Atomics.store(i32, G.LOCK, 0);
    Atomics.notify(i32, G.LOCK, 1);
  }
}

/** Bump a slot's doorbell and wake whoever waits on it. */
export function ringSlot(i32: Int32Array, slot: number): void {
  const i = slotI(slot, S.BELL);
  Atomics.add(i32, i, 1);
  Atomics.notify(i32, i);
}
