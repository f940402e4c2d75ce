/**
 * The worker side of the credit scheduler, and the scheduling rules both sides share.
 *
 * `SchedTable` holds the rules that run under the table lock: state changes with their
 * time accounting, credit debits, cap windows, picking the best waiter and handing it a
 * grant. The vCPU threads apply them at their own decision points (acquire, sliceEnd,
 * idle, offline), so a grant changes hands without the main thread; the main thread
 * (scheduler.ts) uses the same rules for accounting and settings changes.
 *
 * `VcpuSched` is what a vCPU worker holds: given the SharedArrayBuffer and its slot it
 * needs nothing else, and this file imports nothing from the main-thread side.
 */
import {
  G,
  GF,
  PRIO,
  S,
  SF,
  STATE,
  SchedViews,
  TIMING,
  V,
  VF,
  headerF,
  lockTable,
  monoMs,
  ringSlot,
  slotF,
  slotI,
} from "./sched-layout.js";

export type Clock = () => number;

/** Scheduling rules over one table. Every method except the lock itself expects the lock held. */
export class SchedTable {
  readonly v: SchedViews;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  private readonly epochIdx: number;
  private readonly seqIdx: number;
  private readonly grantsIdx: number;

  constructor(sab: SharedArrayBuffer) {
    this.v = new SchedViews(sab);
    this.i32 = this.v.i32;
    this.f64 = this.v.f64;
    this.epochIdx = headerF(GF.EPOCH_MS);
    this.seqIdx = headerF(GF.SEQ);
    this.grantsIdx = headerF(GF.GRANTS);
  }

  lock(): void {
    lockTable(this.i32);
  }
  unlock(): void {
    // Inline of unlockTable: the hot path (every sliceEnd) avoids one call.
    if (Atomics.sub(this.i32, G.LOCK, 1) !== 1) {
      Atomics.store(this.i32, G.LOCK, 0);
      Atomics.notify(this.i32, G.LOCK, 1);
    }
  }

  state(slot: number): number {
    return this.i32[slotI(slot, S.STATE)]!;
  }
  vmOf(slot: number): number {
    return this.i32[slotI(slot, S.VM)]!;
  }
  prio(slot: number): number {
    return this.i32[slotI(slot, S.PRIO)]!;
  }
  holds(slot: number): boolean {
    return Atomics.load(this.i32, slotI(slot, S.GRANT)) === 1;
  }
  credit(slot: number): number {
    return this.f64[slotF(slot, SF.CREDIT)]!;
  }
  creditPrio(slot: number): number {
    return this.f64[slotF(slot, SF.CREDIT)]! >= 0 ? PRIO.UNDER : PRIO.OVER;
  }

  /** Close the interval of the current state at `now` into its counter, then switch. */
  setState(slot: number, state: number, now: number): void {
    const f64 = this.f64;
    const stampIdx = slotF(slot, SF.STAMP_MS);
    const dNs = (now - f64[stampIdx]!) * 1e6;
    if (dNs > 0) {
      const old = this.state(slot);
      const field = old === STATE.RUNNING ? SF.RUN_NS : old === STATE.RUNNABLE ? SF.WAIT_NS : old === STATE.IDLE ? SF.IDLE_NS : -1;
      if (field >= 0) f64[slotF(slot, field)]! += dNs;
    }
    // A stamp never moves backwards: a clock read just before another thread's later
    // transition must not make the next interval count twice.
    if (now > f64[stampIdx]!) f64[stampIdx] = now;
    this.i32[slotI(slot, S.STATE)] = state;
  }

  /** ns spent in `field`'s state, including the interval still open at `now`. */
  liveNs(slot: number, field: number, now: number): number {
    const st = this.state(slot);
    const open = field === SF.RUN_NS ? STATE.RUNNING : field === SF.WAIT_NS ? STATE.RUNNABLE : STATE.IDLE;
    const base = this.f64[slotF(slot, field)]!;
    if (st !== open) return base;
    return base + Math.max(0, now - this.f64[slotF(slot, SF.STAMP_MS)]!) * 1e6;
  }

  /** Join the run queue at the back of priority `prio`. */
  enqueue(slot: number, prio: number, now: number): void {
    this.setState(slot, STATE.RUNNABLE, now);
    this.i32[slotI(slot, S.PRIO)] = prio;
    this.f64[slotF(slot, SF.SEQ)] = ++this.f64[this.seqIdx]!;
    this.i32[G.WAITING]!++;
  }

  /** Leave the run queue without a grant (to IDLE, OFFLINE or FREE). */
  dequeue(slot: number, state: number, now: number): void {
    if (this.state(slot) === STATE.RUNNABLE && !this.holds(slot)) this.i32[G.WAITING]!--;
    this.setState(slot, state, now);
  }

  // ---- caps: fixed windows of one period from EPOCH, so parking and unparking need no
  // timer on the main thread (a parked waiter sleeps until the next window itself).

  windowOf(now: number): number {
    return Math.floor((now - this.f64[this.epochIdx]!) / TIMING.periodMs);
  }
  nextWindowAt(now: number): number {
    return this.f64[this.epochIdx]! + (this.windowOf(now) + 1) * TIMING.periodMs;
  }
  capAllowanceMs(vm: number): number {
    return (this.i32[this.v.vmI(vm, V.CAP)]! / 100) * TIMING.periodMs;
  }

  /** Move a VM's cap budget to the window of `now`: unused allowance is not banked, overshoot is owed. */
  private rollCap(vm: number, now: number): void {
    const wIdx = this.v.vmI(vm, V.CAP_WINDOW);
    const w = this.windowOf(now);
    const old = this.i32[wIdx]!;
    if (w <= old) return;
    const usedIdx = this.v.vmF(vm, VF.CAP_USED_MS);
    const allowance = this.capAllowanceMs(vm);
    this.f64[usedIdx] = Math.max(0, this.f64[usedIdx]! - allowance * (w - old));
    this.i32[wIdx] = w;
  }

  /** True while the VM has used its cap's allowance for the current window (parked). */
  capBlocked(vm: number, now: number): boolean {
    if (this.i32[this.v.vmI(vm, V.CAP)] === 0) return false;
    this.rollCap(vm, now);
    return this.f64[this.v.vmF(vm, VF.CAP_USED_MS)]! >= this.capAllowanceMs(vm);
  }

  /** Charge a runner for the grant time since its last debit (credit, cap window, BOOST). */
  debit(slot: number, now: number): void {
    const f64 = this.f64;
    const debitIdx = slotF(slot, SF.DEBIT_MS);
    const heldMs = Math.max(0, now - f64[debitIdx]!);
    f64[debitIdx] = now;
    const creditIdx = slotF(slot, SF.CREDIT);
    f64[creditIdx] = Math.max(TIMING.creditMinMs, f64[creditIdx]! - heldMs);
    const vm = this.vmOf(slot);
    if (this.i32[this.v.vmI(vm, V.CAP)] !== 0) {
      this.rollCap(vm, now);
      f64[this.v.vmF(vm, VF.CAP_USED_MS)]! += heldMs;
    }
    const prio = this.prio(slot);
    const boostOver = prio === PRIO.BOOST && now - f64[slotF(slot, SF.STAMP_MS)]! >= TIMING.boostMs;
    if (prio !== PRIO.BOOST || boostOver) this.i32[slotI(slot, S.PRIO)] = this.creditPrio(slot);
  }

  /**
   * The best waiter that may run now, -1 if none: lowest priority value first; within
   * BOOST and UNDER the longest waiting (Xen's round robin); within OVER the least in
   * debt, then the longest waiting. Xen round-robins OVER too, but that is blind to
   * weight: a light VM that wins turns there overdraws until the credit floor forgives
   * it, and busy VMs drift towards equal shares. Debt order makes OVER time follow credit.
   */
  bestWaiter(now: number): number {
    if (this.i32[G.WAITING] === 0) return -1;
    const end = this.i32[G.SLOT_END]!;
    let best = -1;
    for (let s = 0; s < end; s++) {
      if (this.i32[slotI(s, S.STATE)] !== STATE.RUNNABLE || this.i32[slotI(s, S.GRANT)] !== 0) continue;
      if (best >= 0 && !this.before(s, best)) continue;
      if (this.capBlocked(this.vmOf(s), now)) continue;
      best = s;
    }
    return best;
  }

  /** True if waiter `a` goes before waiter `b` (see bestWaiter). */
  private before(a: number, b: number): boolean {
    const pa = this.prio(a);
    const pb = this.prio(b);
    if (pa !== pb) return pa < pb;
    if (pa === PRIO.OVER) {
      const ca = this.credit(a);
      const cb = this.credit(b);
      if (ca !== cb) return ca > cb;
    }
    return this.f64[slotF(a, SF.SEQ)]! < this.f64[slotF(b, SF.SEQ)]!;
  }

  /**
   * True if waiter `w` should take runner `r`'s grant at r's sliceEnd: a better priority,
   * or, once r's timeslice is over, the same priority (in OVER: only with more credit).
   */
  preempts(w: number, r: number, now: number): boolean {
    const pw = this.prio(w);
    const pr = this.prio(r);
    if (pw !== pr) return pw < pr;
    if (now - this.f64[slotF(r, SF.STAMP_MS)]! < TIMING.timesliceMs) return false;
    return pw !== PRIO.OVER || this.credit(w) > this.credit(r);
  }

  /** Hand a grant to waiter `slot` and wake it: grant word first, then the doorbell. */
  grant(slot: number, now: number): void {
    this.i32[G.WAITING]!--;
    this.i32[G.RUNNING]!++;
    this.setState(slot, STATE.RUNNING, now);
    this.f64[slotF(slot, SF.DEBIT_MS)] = now;
    this.f64[slotF(slot, SF.GRANTS)]!++;
    this.f64[this.grantsIdx]!++;
    Atomics.store(this.i32, slotI(slot, S.GRANT), 1);
    ringSlot(this.i32, slot);
  }

  /** Give free grants to the best eligible waiters. */
  dispatch(now: number): void {
    while (this.i32[G.RUNNING]! < this.i32[G.PCPUS]!) {
      const best = this.bestWaiter(now);
      if (best < 0) return;
      this.grant(best, now);
    }
  }

  /** A runner gives its grant back and goes to `state` (RUNNABLE: back of its class); free grants move on. */
  release(slot: number, state: number, now: number): void {
    Atomics.store(this.i32, slotI(slot, S.GRANT), 0);
    this.i32[G.RUNNING]!--;
    if (state === STATE.RUNNABLE) this.enqueue(slot, this.creditPrio(slot), now);
    else {
      this.setState(slot, state, now);
      // BOOST is for serving one wake-up; going to sleep ends it.
      this.i32[slotI(slot, S.PRIO)] = this.creditPrio(slot);
    }
    this.dispatch(now);
  }
}

/** One vCPU's handle on the scheduler, for use inside its worker thread. */
export class VcpuSched {
  private readonly t: SchedTable;
  private readonly bellIdx: number;
  private readonly grantIdx: number;
  private readonly now: Clock;

  /** `now`: the clock (tests inject one; it must be the clock the main side uses). */
  constructor(sab: SharedArrayBuffer, readonly slot: number, now: Clock = monoMs) {
    this.t = new SchedTable(sab);
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.t.v.maxVcpus) {
      throw new RangeError(`slot: must be an integer from 0 to ${this.t.v.maxVcpus - 1} (got ${slot})`);
    }
    this.bellIdx = slotI(slot, S.BELL);
    this.grantIdx = slotI(slot, S.GRANT);
    this.now = now;
  }

  get holdsGrant(): boolean {
    return Atomics.load(this.t.i32, this.grantIdx) === 1;
  }

  /** The doorbell's current value: read it before checking for work, pass it to a wait. */
  bell(): number {
    return Atomics.load(this.t.i32, this.bellIdx);
  }

  /**
   * Become RUNNABLE and block until this vCPU holds a grant (true), or until the doorbell
   * rings past `seen` or `timeoutMs` passes (false: it stays RUNNABLE; check the control
   * words, then call acquire again, or idle/offline). A ring that arrives together with
   * the grant is folded into `true`: check the control words after every return.
   */
  acquire(timeoutMs: number, seen: number = this.bell()): boolean {
    const t = this.t;
    const slot = this.slot;
    const deadline = this.now() + timeoutMs;
    for (;;) {
      let waitMs: number;
      t.lock();
      try {
        const now = this.now();
        if (this.holdsGrant) return true;
        const st = t.state(slot);
        if (st === STATE.FREE) throw new Error(`slot ${slot} is not allocated`);
        if (st !== STATE.RUNNABLE) {
          // Xen's BOOST: a wake-up from idle with credit left (UNDER) jumps the queue.
          const boost = st === STATE.IDLE && t.credit(slot) >= 0 && !t.capBlocked(t.vmOf(slot), now);
          t.enqueue(slot, boost ? PRIO.BOOST : t.creditPrio(slot), now);
        }
        t.dispatch(now);
        if (this.holdsGrant) return true;
        waitMs = deadline - now;
        // Parked by its cap: nobody will wake it when the next window opens, so it wakes itself.
        if (t.capBlocked(t.vmOf(slot), now)) waitMs = Math.min(waitMs, t.nextWindowAt(now) - now + 0.01);
      } finally {
        t.unlock();
      }
      if (this.bell() !== seen) return this.holdsGrant;
      if (waitMs <= 0) return false;
      Atomics.wait(t.i32, this.bellIdx, seen, waitMs);
      if (this.holdsGrant) return true;
      if (this.bell() !== seen) return false;
      if (this.now() >= deadline) return false;
    }
  }

  /**
   * Holding a grant, at the end of a slice that ran the guest for `ranMs`: true to keep
   * running; false when the grant had to go (a better-priority vCPU waits, the 30 ms
   * timeslice is over and an equal-priority one waits, the cap is used up for this window,
   * or pcpus went down). Credit and cap are charged the grant time since the last debit,
   * which covers `ranMs` plus hand-off latency and the caller's own overhead.
   */
  sliceEnd(ranMs: number): boolean {
    const t = this.t;
    const slot = this.slot;
    if (!this.holdsGrant) throw new Error(`sliceEnd: slot ${slot} holds no grant`);
    t.lock();
    try {
      const now = this.now();
      t.debit(slot, now);
      if (ranMs > 0) t.f64[slotF(slot, SF.GUEST_NS)]! += ranMs * 1e6;
      if (!this.mustYield(now)) return true;
      t.f64[slotF(slot, SF.YIELDS)]!++;
      t.release(slot, STATE.RUNNABLE, now);
      // Only possible when grants were free with nobody better eligible: keep running.
      return this.holdsGrant;
    } finally {
      t.unlock();
    }
  }

  private mustYield(now: number): boolean {
    const t = this.t;
    if (t.i32[G.RUNNING]! > t.i32[G.PCPUS]!) return true;
    if (t.capBlocked(t.vmOf(this.slot), now)) return true;
    const best = t.bestWaiter(now);
    return best >= 0 && t.preempts(best, this.slot, now);
  }

  /**
   * WFI with nothing pending: give the grant back (the best waiter gets it) and sleep
   * until the doorbell rings past `seen` or `timeoutMs` passes; true when it rang. The
   * next acquire() gets BOOST if credit is left. If the doorbell had already rung past
   * `seen`, the WFI is over before it began: true at once, grant and state untouched.
   */
  idle(timeoutMs: number, seen: number = this.bell()): boolean {
    if (this.bell() !== seen) return true;
    this.leave(STATE.IDLE);
    const rang = this.sleep(timeoutMs, seen);
    if (rang) {
      const t = this.t;
      t.lock();
      t.f64[slotF(this.slot, SF.WAKES)]!++;
      t.unlock();
    }
    return rang;
  }

  /** Leave scheduling (paused, stopped, HSM-stopped): the grant goes back; OFFLINE. */
  offline(): void {
    this.leave(STATE.OFFLINE);
  }

  private leave(state: number): void {
    const t = this.t;
    t.lock();
    try {
      const now = this.now();
      if (this.holdsGrant) {
        t.debit(this.slot, now);
        t.release(this.slot, state, now);
      } else if (t.state(this.slot) !== STATE.FREE) {
        t.dequeue(this.slot, state, now);
      }
    } finally {
      t.unlock();
    }
  }

  /** Wait on the doorbell without touching scheduling state (e.g. while OFFLINE). True if it rang. */
  waitDoorbell(timeoutMs: number, seen: number = this.bell()): boolean {
    return this.sleep(timeoutMs, seen);
  }

  private sleep(timeoutMs: number, seen: number): boolean {
    if (this.bell() !== seen) return true;
    if (timeoutMs > 0) Atomics.wait(this.t.i32, this.bellIdx, seen, timeoutMs);
    return this.bell() !== seen;
  }

  /** Ring a slot's doorbell from any thread (devices, other vCPUs, the main thread). */
  static ring(sab: SharedArrayBuffer, slot: number): void {
    let i32 = views.get(sab);
    if (i32 === undefined) views.set(sab, (i32 = new Int32Array(sab)));
    ringSlot(i32, slot);
  }

  /** Total ns this vCPU was runnable but not running (steal time, for SBI STA). */
  stealNs(): number {
    const t = this.t;
    t.lock();
    try {
      return t.liveNs(this.slot, SF.WAIT_NS, this.now());
    } finally {
      t.unlock();
    }
  }
}

/** Int32 views per buffer, so ring() from a device does not allocate each time. */
const views = new WeakMap<SharedArrayBuffer, Int32Array>();
