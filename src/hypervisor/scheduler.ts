/**
 * The main-thread side of the credit scheduler (Xen credit semantics; see
 * docs/scheduler.md): VM and vCPU slots in the shared table, settings (weight, cap,
 * pcpus), the periodic credit accounting, and the measurements.
 *
 * Grants change hands in the vCPU threads (vcpu-sched.ts) without this thread: it only
 * refills credits every accounting period and applies settings. If its event loop stalls,
 * vCPUs keep running and handing grants over, caps keep binding (their windows are timed
 * by the vCPUs themselves); only weights blur, because credits stop being refilled.
 */
import { availableParallelism } from "node:os";
import {
  G,
  GF,
  LIMITS,
  PRIO,
  PRIO_NAMES,
  S,
  SF,
  STATE,
  STATE_NAMES,
  TIMING,
  V,
  VF,
  SchedViews,
  headerF,
  monoMs,
  slotF,
  slotI,
  tableBytes,
} from "./sched-layout.js";
import { SchedTable, type Clock } from "./vcpu-sched.js";

/** With nothing running or waiting, the tick does its work this often instead of every tick. */
const IDLE_TICK_MS = 100;

export interface SchedVmSettings {
  /** 1..65535, default 256. */
  weight?: number;
  /** % of one host core, 0..25600 (100 × LIMITS.pcpusMax); 0 = no cap. */
  cap?: number;
}

export interface VcpuStats {
  state: (typeof STATE_NAMES)[number];
  priority: (typeof PRIO_NAMES)[number];
  vm: number;
  holdsGrant: boolean;
  runMs: number;
  /** Runnable but not running: steal time. */
  waitMs: number;
  idleMs: number;
  /** ranMs reported by sliceEnd: guest execution inside runMs. */
  guestMs: number;
  /** ms of host time; negative = OVER. */
  credit: number;
  grants: number;
  yields: number;
  wakes: number;
}

export interface VmStats {
  runMs: number;
  waitMs: number;
  idleMs: number;
  /** Cores received over the last TIMING.shareWindowMs (or since the VM was added). */
  share: number;
  /** Cores the VM is entitled to now, given weights, caps, pcpus and who is runnable. */
  entitlement: number;
  weight: number;
  cap: number;
  vcpus: number;
}

function checkInt(field: string, value: unknown, min: number, max: number, unit = ""): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${field}: must be an integer from ${min} to ${max}${unit} (got ${String(value)})`);
  }
  return value;
}
const CAP_UNIT = " (% of one host core; 0 = no cap)";

/** A VM's weight or cap, checked as addVm/setWeight/setCap check them (also for a VM not yet added). */
export function checkWeight(weight: number): number {
  return checkInt("weight", weight, LIMITS.weightMin, LIMITS.weightMax);
}
export function checkCap(cap: number): number {
  return checkInt("cap", cap, LIMITS.capMin, LIMITS.capMax, CAP_UNIT);
}


/**
 * Divide `total` by weight among entries, none above its `max`; what a saturated entry
 * cannot take goes to the others (Xen's accounting does the same with the credit a
 * capped or small domain cannot use). Entries with weight 0 or max 0 get nothing.
 */
export function waterFill(total: number, weights: readonly number[], maxes: readonly number[]): number[] {
  const out = weights.map(() => 0);
  const open = new Set<number>();
  weights.forEach((w, i) => {
    if (w > 0 && maxes[i]! > 0) open.add(i);
  });
  let left = total;
  while (open.size > 0 && left > 1e-9) {
    let wsum = 0;
    for (const i of open) wsum += weights[i]!;
    let saturated = false;
    for (const i of open) {
      const fair = (left * weights[i]!) / wsum;
      if (out[i]! + fair >= maxes[i]!) {
        left -= maxes[i]! - out[i]!;
        out[i] = maxes[i]!;
        open.delete(i);
        saturated = true;
      }
    }
    if (saturated) continue;
    for (const i of open) out[i]! += (left * weights[i]!) / wsum;
    left = 0;
  }
  return out;
}

/** One share-window sample: clock and every VM's cumulative run ns. */
interface Sample {
  t: number;
  run: Float64Array;
}

export class CreditScheduler {
  readonly sab: SharedArrayBuffer;
  readonly maxVcpus: number;
  readonly maxVms: number;
  private readonly t: SchedTable;
  private readonly v: SchedViews;
  private readonly now: Clock;
  private timer: NodeJS.Timeout | undefined;
  private lastAccount: number;
  /** Run ns per slot at the last accounting: a vCPU that ran since then is active. */
  private readonly runAtAccount: Float64Array;
  private readonly vmAddedAt: Float64Array;
  private readonly samples: Sample[] = [];
  private accountings = 0;

  constructor(opts: { pcpus?: number; maxVcpus?: number; maxVms?: number; now?: Clock } = {}) {
    const pcpus = checkInt("pcpus", opts.pcpus ?? Math.min(availableParallelism(), LIMITS.pcpusMax), LIMITS.pcpusMin, LIMITS.pcpusMax);
    this.maxVcpus = checkInt("maxVcpus", opts.maxVcpus ?? LIMITS.vcpusDefault, LIMITS.vcpusMin, LIMITS.vcpusMax);
    this.maxVms = checkInt("maxVms", opts.maxVms ?? this.maxVcpus, 1, LIMITS.vcpusMax);
    this.now = opts.now ?? monoMs;
    this.sab = new SharedArrayBuffer(tableBytes(this.maxVcpus, this.maxVms));
    const start = this.now();
    SchedViews.init(this.sab, this.maxVcpus, this.maxVms, pcpus, start);
    this.t = new SchedTable(this.sab);
    this.v = this.t.v;
    this.lastAccount = start;
    this.runAtAccount = new Float64Array(this.maxVcpus);
    this.vmAddedAt = new Float64Array(this.maxVms);
  }

  get pcpus(): number {
    return Atomics.load(this.t.i32, G.PCPUS);
  }
  /** Grants held now. */
  get running(): number {
    return Atomics.load(this.t.i32, G.RUNNING);
  }
  /** vCPUs waiting for a grant now (run-queue length, cap-parked ones included). */
  get waiting(): number {
    return Atomics.load(this.t.i32, G.WAITING);
  }
  /** Accounting periods run so far. */
  get accounted(): number {
    return this.accountings;
  }
  /** Grants handed out so far (each one a vCPU switch on some pcpu). */
  get grants(): number {
    this.t.lock();
    const n = this.t.f64[headerF(GF.GRANTS)]!;
    this.t.unlock();
    return n;
  }

  /** Every VM's stats at once (for metrics and benchmarks). */
  stats(): { pcpus: number; running: number; waiting: number; grants: number; vms: ({ vm: number } & VmStats)[] } {
    const vms: ({ vm: number } & VmStats)[] = [];
    for (let vm = 0; vm < this.maxVms; vm++) {
      if (this.t.i32[this.v.vmI(vm, V.USED)] === 1) vms.push({ vm, ...this.vmStats(vm) });
    }
    return { pcpus: this.pcpus, running: this.running, waiting: this.waiting, grants: this.grants, vms };
  }

  addVm(settings: SchedVmSettings = {}): number {
    const weight = checkWeight(settings.weight ?? LIMITS.weightDefault);
    const cap = checkCap(settings.cap ?? 0);
    const i32 = this.t.i32;
    let vm = 0;
    while (vm < this.maxVms && i32[this.v.vmI(vm, V.USED)] !== 0) vm++;
    if (vm === this.maxVms) throw new RangeError(`maxVms: all ${this.maxVms} VM entries are in use`);
    this.locked((now) => {
      i32[this.v.vmI(vm, V.WEIGHT)] = weight;
      i32[this.v.vmI(vm, V.CAP)] = cap;
      i32[this.v.vmI(vm, V.CAP_WINDOW)] = this.t.windowOf(now);
      this.t.f64[this.v.vmF(vm, VF.CAP_USED_MS)] = 0;
      i32[this.v.vmI(vm, V.USED)] = 1;
      this.vmAddedAt[vm] = now;
    });
    return vm;
  }

  /** A new vCPU slot of `vm`, OFFLINE until its worker calls acquire(). */
  addVcpu(vm: number): number {
    this.checkVm(vm);
    const i32 = this.t.i32;
    let slot = 0;
    while (slot < this.maxVcpus && i32[slotI(slot, S.STATE)] !== STATE.FREE) slot++;
    if (slot === this.maxVcpus) throw new RangeError(`maxVcpus: all ${this.maxVcpus} vCPU slots are in use`);
    this.locked((now) => {
      const f64 = this.t.f64;
      for (let f = 0; f <= SF.WAKES; f++) f64[slotF(slot, f)] = 0;
      f64[slotF(slot, SF.STAMP_MS)] = now;
      i32[slotI(slot, S.VM)] = vm;
      i32[slotI(slot, S.PRIO)] = PRIO.UNDER;
      Atomics.store(i32, slotI(slot, S.GRANT), 0);
      i32[slotI(slot, S.STATE)] = STATE.OFFLINE;
      if (slot >= i32[G.SLOT_END]!) i32[G.SLOT_END] = slot + 1;
      this.runAtAccount[slot] = 0;
    });
    return slot;
  }

  /** Free a slot whose worker is gone (a grant it still held moves on). */
  removeVcpu(slot: number): void {
    this.checkSlot(slot);
    this.locked((now) => this.freeSlot(slot, now));
  }

  /** Free a VM and its slots; their workers must be gone. */
  removeVm(vm: number): void {
    this.checkVm(vm);
    this.locked((now) => {
      for (let s = 0; s < this.t.i32[G.SLOT_END]!; s++) {
        if (this.t.state(s) !== STATE.FREE && this.t.vmOf(s) === vm) this.freeSlot(s, now);
      }
      this.t.i32[this.v.vmI(vm, V.USED)] = 0;
    });
  }

  private freeSlot(slot: number, now: number): void {
    const t = this.t;
    if (t.holds(slot)) t.release(slot, STATE.FREE, now);
    else t.dequeue(slot, STATE.FREE, now);
  }

  setWeight(vm: number, weight: number): void {
    this.checkVm(vm);
    checkWeight(weight);
    this.locked(() => {
      this.t.i32[this.v.vmI(vm, V.WEIGHT)] = weight;
    });
  }

  /** Takes effect at once: a raised cap may unpark the VM now, a lowered one parks it at its next sliceEnd. */
  setCap(vm: number, cap: number): void {
    this.checkVm(vm);
    checkCap(cap);
    this.locked((now) => {
      this.t.i32[this.v.vmI(vm, V.CAP)] = cap;
      this.t.dispatch(now);
    });
  }

  /** More grants are handed out at once; with fewer, surplus runners give theirs up at their next sliceEnd. */
  setPcpus(n: number): void {
    checkInt("pcpus", n, LIMITS.pcpusMin, LIMITS.pcpusMax);
    this.locked((now) => {
      Atomics.store(this.t.i32, G.PCPUS, n);
      this.t.dispatch(now);
    });
  }

  /** Start the accounting timer (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.timer !== undefined) return;
    this.lastAccount = this.now();
    // A timer chain rather than an interval: with nothing running or waiting the next
    // tick comes IDLE_TICK_MS later, so an idle fleet wakes the main thread 10 times a second.
    const next = (): void => {
      this.tick();
      if (this.timer === undefined) return;
      this.timer = setTimeout(next, this.running + this.waiting === 0 ? IDLE_TICK_MS : TIMING.tickMs);
      this.timer.unref();
    };
    this.timer = setTimeout(next, TIMING.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One timer tick: a share-window sample, and the accounting when a period is due. */
  tick(): void {
    const now = this.now();
    // An idle host (no vCPU running or waiting) needs no 10 ms bookkeeping: sample and
    // account ten times less often, so a fleet of idle VMs costs next to nothing.
    if (this.running + this.waiting === 0 && now - this.lastTickWork < IDLE_TICK_MS) return;
    this.lastTickWork = now;
    this.sample(now);
    if (now - this.lastAccount >= TIMING.periodMs) this.account(now);
  }

  private lastTickWork = -Infinity;

  /**
   * Xen's csched_acct: hand out the host time since the last accounting (pcpus × elapsed,
   * at most maxCatchUpPeriods periods after a stall) among the VMs with active vCPUs, by
   * weight, none above its cap or above one core per active vCPU (the rest goes to the
   * others); each VM's credit is split among its active vCPUs and clamped so an idle vCPU
   * cannot hoard. A vCPU is active if it is runnable or running, or ran since the last
   * accounting. Priorities follow the new credits (BOOST is left alone).
   *
   * Two refinements over Xen keep weights exact among busy VMs (docs/scheduler.md):
   *  - a VM gets no more than its active vCPUs have room for below the upper clamp
   *    (Xen drops a vCPU over the clamp from the active list instead), so a mostly idle
   *    VM that is active now and then does not swallow the busy VMs' credit;
   *  - if even the richest vCPU that wants to run is in debt after the refill, every
   *    active vCPU is lifted by that debt. Credit lost to clamps and to VMs that bank
   *    it would otherwise sink the busy VMs to the floor, where debt is forgiven and
   *    weights stop counting; a common shift keeps their differences, which are what
   *    order them.
   */
  account(now: number = this.now()): void {
    const elapsed = Math.min(Math.max(0, now - this.lastAccount), TIMING.periodMs * TIMING.maxCatchUpPeriods);
    this.lastAccount = now;
    this.accountings++;
    const t = this.t;
    const i32 = t.i32;
    const f64 = t.f64;
    this.locked(() => {
      const end = i32[G.SLOT_END]!;
      const active = new Uint8Array(end);
      const nActive = new Array<number>(this.maxVms).fill(0);
      const roomMs = new Array<number>(this.maxVms).fill(0);
      for (let s = 0; s < end; s++) {
        const st = t.state(s);
        if (st === STATE.FREE) continue;
        const run = t.liveNs(s, SF.RUN_NS, now);
        const vm = t.vmOf(s);
        if (st === STATE.RUNNABLE || st === STATE.RUNNING || run > this.runAtAccount[s]!) {
          active[s] = 1;
          nActive[vm]!++;
          roomMs[vm]! += TIMING.creditMaxMs - t.credit(s);
        }
        this.runAtAccount[s] = run;
      }
      const weights: number[] = [];
      const maxes: number[] = [];
      for (let vm = 0; vm < this.maxVms; vm++) {
        const used = i32[this.v.vmI(vm, V.USED)] === 1 && nActive[vm]! > 0;
        const cap = i32[this.v.vmI(vm, V.CAP)]!;
        weights.push(used ? i32[this.v.vmI(vm, V.WEIGHT)]! : 0);
        const bound = Math.min(nActive[vm]! * elapsed, cap > 0 ? (cap / 100) * elapsed : Infinity, roomMs[vm]!);
        maxes.push(used ? bound : 0);
      }
      const credit = waterFill(elapsed * i32[G.PCPUS]!, weights, maxes);
      let richest = -Infinity;
      for (let s = 0; s < end; s++) {
        if (active[s] !== 1) continue;
        const vm = t.vmOf(s);
        const c = t.credit(s) + credit[vm]! / nActive[vm]!;
        f64[slotF(s, SF.CREDIT)] = c;
        const st = t.state(s);
        if (st === STATE.RUNNABLE || st === STATE.RUNNING) richest = Math.max(richest, c);
      }
      const lift = richest < 0 ? -richest : 0;
      for (let s = 0; s < end; s++) {
        if (t.state(s) === STATE.FREE) continue;
        if (active[s] === 1) {
          const ci = slotF(s, SF.CREDIT);
          f64[ci] = Math.min(TIMING.creditMaxMs, Math.max(TIMING.creditMinMs, f64[ci]! + lift));
        }
        if (t.prio(s) !== PRIO.BOOST) i32[slotI(s, S.PRIO)] = t.creditPrio(s);
      }
      t.dispatch(now);
    });
  }

  vcpuStats(slot: number): VcpuStats {
    this.checkSlot(slot);
    const t = this.t;
    const f = (field: number) => t.f64[slotF(slot, field)]!;
    return this.locked((now) => ({
      state: STATE_NAMES[t.state(slot)]!,
      priority: PRIO_NAMES[t.prio(slot)]!,
      vm: t.vmOf(slot),
      holdsGrant: t.holds(slot),
      runMs: t.liveNs(slot, SF.RUN_NS, now) / 1e6,
      waitMs: t.liveNs(slot, SF.WAIT_NS, now) / 1e6,
      idleMs: t.liveNs(slot, SF.IDLE_NS, now) / 1e6,
      guestMs: f(SF.GUEST_NS) / 1e6,
      credit: f(SF.CREDIT),
      grants: f(SF.GRANTS),
      yields: f(SF.YIELDS),
      wakes: f(SF.WAKES),
    }));
  }

  /**
   * A slot's words read without the table lock, for diagnosing a stuck VM (a thread that
   * died holding the lock must not hang the one asking): racy, never used to decide.
   */
  peekSlot(slot: number): { state: string; priority: string; grant: boolean; bell: number; tableLocked: boolean } {
    this.checkSlot(slot);
    const t = this.t;
    return {
      state: STATE_NAMES[t.state(slot)] ?? "?",
      priority: PRIO_NAMES[t.prio(slot)] ?? "?",
      grant: t.holds(slot),
      bell: Atomics.load(t.i32, slotI(slot, S.BELL)),
      tableLocked: Atomics.load(t.i32, G.LOCK) !== 0,
    };
  }

  /** Slots of `vm`, in slot order. */
  vcpusOf(vm: number): number[] {
    this.checkVm(vm);
    const out: number[] = [];
    for (let s = 0; s < this.t.i32[G.SLOT_END]!; s++) {
      if (this.t.state(s) !== STATE.FREE && this.t.vmOf(s) === vm) out.push(s);
    }
    return out;
  }

  vmStats(vm: number): VmStats {
    this.checkVm(vm);
    const t = this.t;
    return this.locked((now) => {
      const out = { runMs: 0, waitMs: 0, idleMs: 0, vcpus: 0 };
      const end = t.i32[G.SLOT_END]!;
      for (let s = 0; s < end; s++) {
        if (t.state(s) === STATE.FREE || t.vmOf(s) !== vm) continue;
        out.vcpus++;
        out.runMs += t.liveNs(s, SF.RUN_NS, now) / 1e6;
        out.waitMs += t.liveNs(s, SF.WAIT_NS, now) / 1e6;
        out.idleMs += t.liveNs(s, SF.IDLE_NS, now) / 1e6;
      }
      return {
        ...out,
        share: this.shareOf(vm, now, out.runMs * 1e6),
        entitlement: this.entitlements(now)[vm]!,
        weight: t.i32[this.v.vmI(vm, V.WEIGHT)]!,
        cap: t.i32[this.v.vmI(vm, V.CAP)]!,
      };
    });
  }

  /** Cores each VM is entitled to now: pcpus divided by weight among VMs with runnable or running vCPUs, each bounded by its cap and its count of such vCPUs. Lock held. */
  private entitlements(_now: number): number[] {
    const t = this.t;
    const demand = new Array<number>(this.maxVms).fill(0);
    for (let s = 0; s < t.i32[G.SLOT_END]!; s++) {
      const st = t.state(s);
      if (st === STATE.RUNNABLE || st === STATE.RUNNING) demand[t.vmOf(s)]!++;
    }
    const weights: number[] = [];
    const maxes: number[] = [];
    for (let vm = 0; vm < this.maxVms; vm++) {
      const used = t.i32[this.v.vmI(vm, V.USED)] === 1;
      const cap = t.i32[this.v.vmI(vm, V.CAP)]!;
      weights.push(used ? t.i32[this.v.vmI(vm, V.WEIGHT)]! : 0);
      maxes.push(used ? Math.min(demand[vm]!, cap > 0 ? cap / 100 : Infinity) : 0);
    }
    return waterFill(t.i32[G.PCPUS]!, weights, maxes);
  }

  /** Record every VM's cumulative run ns; keep one window's worth of samples. */
  private sample(now: number): void {
    const run = this.samples.length > TIMING.shareWindowMs / TIMING.tickMs + 2 ? this.samples.shift()!.run : new Float64Array(this.maxVms);
    run.fill(0);
    this.locked(() => {
      const t = this.t;
      for (let s = 0; s < t.i32[G.SLOT_END]!; s++) {
        if (t.state(s) !== STATE.FREE) run[t.vmOf(s)]! += t.liveNs(s, SF.RUN_NS, now);
      }
    });
    this.samples.push({ t: now, run });
  }

  /** Cores received since the oldest sample inside the window taken after the VM was added. */
  private shareOf(vm: number, now: number, runNs: number): number {
    const from = Math.max(now - TIMING.shareWindowMs, this.vmAddedAt[vm]!);
    const old = this.samples.find((s) => s.t >= from);
    if (old === undefined || now - old.t <= 0) return 0;
    return (runNs - old.run[vm]!) / ((now - old.t) * 1e6);
  }

  private locked<T>(fn: (now: number) => T): T {
    this.t.lock();
    try {
      return fn(this.now());
    } finally {
      this.t.unlock();
    }
  }

  private checkVm(vm: number): void {
    if (!Number.isInteger(vm) || vm < 0 || vm >= this.maxVms || this.t.i32[this.v.vmI(vm, V.USED)] !== 1) {
      throw new RangeError(`vm: no VM with index ${String(vm)}`);
    }
  }

  private checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.maxVcpus || this.t.state(slot) === STATE.FREE) {
      throw new RangeError(`slot: no vCPU in slot ${String(slot)}`);
    }
  }
}
