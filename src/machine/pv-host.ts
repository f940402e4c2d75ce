/**
 * The host side of the pv machine's SBI: console, timers, IPIs, fences, HSM, reset and
 * guest memory, implemented over the harts and RAM (see src/sbi/host.ts).
 */
import { Priv } from "../cpu/constants.js";
import { pmpAllowAll } from "../cpu/pmp.js";
import type { Hart } from "../cpu/hart.js";
import type { GuestRam } from "../mem/ram.js";
import { FenceKind, type FenceKindValue, type SbiHost } from "../sbi/host.js";
import { applyFence } from "../sbi/rfence.js";
import { fenceRangeIsWhole } from "../cpu/tlb.js";
import { FenceBits, LinkStop, MboxOp, type VcpuLink } from "./vcpu-link.js";

/** Remote fences queued per hart before it runs again; past this many, everything is flushed. */
const FENCE_QUEUE = 8;

/** A fence queued for a hart of this thread (SBI RFENCE arguments). */
interface QueuedFence {
  readonly kind: FenceKindValue;
  readonly start: number;
  readonly size: number;
  readonly asid: number;
}

export const MTIME_HZ = 10_000_000;
/** Console input bytes kept for SBI getchar before the oldest are dropped. */
const INPUT_MAX = 1 << 20;
const STIP = 1 << 5;
const SSIP = 1 << 1;

export interface PvHostOptions {
  /** Console output (SBI putchar / DBCN write). */
  readonly output: (bytes: Uint8Array) => void;
  /** Host monotonic clock in ms (default performance.now). */
  readonly clockMs?: () => number;
  /** The clockMs value at which mtime is 0 (default: clockMs() at construction). Threads of one VM share it. */
  readonly epochMs?: number;
  /**
   * Threaded VMs: this host serves hart `self` only; the other harts run on other threads,
   * reached through `link` (IPIs, fences, starts, console input from the owner).
   */
  readonly threads?: { readonly link: VcpuLink; readonly self: number; readonly whileWaiting: () => void };
}

export class PvHost implements SbiHost {
  readonly harts: number;
  /** Timer deadline per hart (mtime ticks), Infinity when not armed. */
  readonly deadlines: number[];
  /** Fences for each hart of this thread, applied before its next slice; null: more than FENCE_QUEUE, flush all. */
  readonly pendingFence: (QueuedFence[] | null)[];
  /** Harts parked by HSM hart_stop (not woken by interrupts). */
  readonly parked: boolean[];
  /** Non-retentive HSM suspends: where each hart restarts when it wakes (null: none pending). */
  readonly resumeAt: ({ addr: number; opaque: bigint } | null)[];
  /** Interrupts raised on each hart's mip by the host: timer (STIP rising) and IPI (SSIP). */
  readonly timerIrqs: number[];
  readonly ipis: number[];
  /** Set by SRST / legacy shutdown. */
  resetRequest: { type: number; reason: number } | null = null;
  private input: number[] = [];
  private inputHead = 0;
  private readonly clockMs: () => number;
  /** The clockMs value at which mtime was 0 (moved by setNow when a snapshot is restored). */
  private t0: number;

  constructor(
    private readonly hartList: readonly Hart[],
    private readonly ram: GuestRam,
    private readonly options: PvHostOptions,
  ) {
    this.harts = hartList.length;
    this.deadlines = hartList.map(() => Infinity);
    this.pendingFence = hartList.map(() => []);
    // Threaded: the harts of other threads are never run here.
    this.parked = hartList.map((_, i) => i !== 0 || (options.threads !== undefined && options.threads.self !== 0));
    this.resumeAt = hartList.map(() => null);
    this.timerIrqs = hartList.map(() => 0);
    this.ipis = hartList.map(() => 0);
    this.clockMs = options.clockMs ?? (() => performance.now());
    this.t0 = options.epochMs ?? this.clockMs();
  }

  /** True when hart `i` runs on another thread. */
  private remote(i: number): boolean {
    const t = this.options.threads;
    return t !== undefined && t.self !== i;
  }

  /** Queue bytes for consoleGetchar (at most INPUT_MAX waiting; older bytes are dropped first). */
  pushInput(bytes: Uint8Array): void {
    for (const b of bytes) this.input.push(b);
    if (this.input.length - this.inputHead > INPUT_MAX) this.inputHead = this.input.length - INPUT_MAX;
  }

  /** Bytes waiting for consoleGetchar. */
  inputPending(): number {
    return this.input.length - this.inputHead;
  }

  consolePutchar(byte: number): void {
    this.options.output(Uint8Array.of(byte & 0xff));
  }

  consoleWrite(bytes: Uint8Array): void {
    this.options.output(bytes);
  }

  consoleGetchar(): number {
    const t = this.options.threads;
    if (t !== undefined && t.self !== 0) return t.link.call(t.self, MboxOp.GETCHAR, 0, 1, 0, t.whileWaiting).result;
    if (this.inputHead >= this.input.length) return -1;
    const b = this.input[this.inputHead++]!;
    if (this.inputHead >= 4096 && this.inputHead * 2 >= this.input.length) {
      this.input = this.input.slice(this.inputHead);
      this.inputHead = 0;
    }
    return b;
  }

  setTimer(hartId: number, deadlineTicks: number): void {
    this.deadlines[hartId] = deadlineTicks;
    const h = this.hartList[hartId]!;
    // Writing the timer clears the pending STIP (SBI spec); it is raised again when due.
    h.mip &= ~STIP;
    h.event = true;
    this.updateTimer(hartId);
  }

  now(): number {
    return Math.floor((this.clockMs() - this.t0) * (MTIME_HZ / 1000));
  }

  /**
   * Make mtime read `ticks` now: a restored guest's time goes on from where it was saved,
   * whatever the host clock did meanwhile (as on a paused VM). Threaded VMs share one epoch:
   * their owner computes it with `epochForMtime` instead.
   */
  setNow(ticks: number): void {
    this.t0 = epochForMtime(ticks, this.clockMs());
  }

  /** The clockMs value at which mtime was 0: the other threads of a restored VM take it (their time must be this one). */
  epochMs(): number {
    return this.t0;
  }

  /** Input waiting for consoleGetchar, as one byte string (a snapshot). */
  savedInput(): Uint8Array {
    return Uint8Array.from(this.input.slice(this.inputHead));
  }

  restoreInput(bytes: Uint8Array): void {
    this.input = Array.from(bytes.subarray(Math.max(0, bytes.length - INPUT_MAX)));
    this.inputHead = 0;
  }

  /** Raise STIP on each hart whose deadline has passed. */
  updateTimers(): void {
    for (let i = 0; i < this.harts; i++) this.updateTimer(i);
  }

  private updateTimer(i: number): void {
    if (this.deadlines[i]! <= this.now()) {
      const h = this.hartList[i]!;
      if ((h.mip & STIP) === 0) {
        h.mip |= STIP;
        h.event = true;
        this.timerIrqs[i]!++;
      }
    }
  }

  /**
   * Milliseconds until the earliest deadline still ahead on a hart that is not parked
   * (Infinity when none). Deadlines already passed have raised STIP and wake nothing more.
   */
  msToNextDeadline(): number {
    const now = this.now();
    let d = Infinity;
    for (let i = 0; i < this.harts; i++) {
      const t = this.deadlines[i]!;
      if (t > now && t < d && !this.parked[i]) d = t;
    }
    if (d === Infinity) return Infinity;
    return Math.max(0, (d - now) / (MTIME_HZ / 1000));
  }

  sendIpi(targets: number[]): void {
    for (const t of targets) {
      if (this.remote(t)) {
        this.options.threads!.link.postSoft(t, SSIP);
        continue;
      }
      const h = this.hartList[t]!;
      h.mip |= SSIP;
      h.event = true;
      this.ipis[t]!++;
    }
  }

  remoteFence(kind: FenceKindValue, harts: number[], start: number, size: number, asid: number): void {
    const th = this.options.threads;
    const tickets: number[] = [];
    for (const t of harts) {
      if (this.remote(t)) {
        const link = th!.link;
        const whole = fenceRangeIsWhole(start, size);
        let ticket: number;
        if (kind === FenceKind.FenceI) ticket = link.requestFence(t, FenceBits.CODE);
        else if (whole && kind === FenceKind.SfenceVma) ticket = link.requestFence(t, FenceBits.TLB);
        else ticket = link.requestRangeFence(t, { start, size: whole ? -1 : size, asid: kind === FenceKind.SfenceVmaAsid ? asid % 65536 : -1 });
        tickets.push(t, ticket);
        continue;
      }
      const q = this.pendingFence[t]!;
      if (q === null) continue;
      if (q.length < FENCE_QUEUE) q.push({ kind, start, size, asid });
      else this.pendingFence[t] = null;
    }
    // Linux reuses the memory once the SBI call returns: wait until every remote hart has
    // flushed (each acknowledges at its next slice boundary, or at once if it sleeps).
    for (let i = 0; i < tickets.length; i += 2) {
      while (!th!.link.fenceDone(tickets[i]!, tickets[i + 1]!)) {
        th!.whileWaiting();
        if (th!.link.stopKind() !== LinkStop.NONE) return;
        th!.link.waitFenceAck(tickets[i]!, tickets[i + 1]!, 1);
      }
    }
  }

  /** Apply fences queued for hart i before it runs: each as narrow as it was asked. */
  applyFences(i: number): void {
    const q = this.pendingFence[i];
    if (q !== null && q!.length === 0) return;
    const h = this.hartList[i]!;
    if (q === null) {
      h.tlb.flushTranslated("remoteFence");
      h.flushDecoded();
    } else {
      for (const f of q!) applyFence(h, f.kind, f.start, f.size, f.asid);
    }
    this.pendingFence[i] = [];
  }

  hartStart(hartId: number, startAddr: number, opaque: bigint): number {
    const h = this.hartList[hartId]!;
    if (h === undefined) return -3; // SBI_ERR_INVALID_PARAM (the SBI checked the id already)
    if (this.remote(hartId)) {
      this.options.threads!.link.requestStart(hartId, startAddr, Number(opaque & 0xffffffffn), Number((opaque >> 32n) & 0xffffffffn));
      return 0;
    }
    bootHart(h, startAddr, opaque);
    this.parked[hartId] = false;
    this.resumeAt[hartId] = null;
    this.deadlines[hartId] = Infinity;
    return 0;
  }

  hartStop(hartId: number): void {
    this.parked[hartId] = true;
    this.resumeAt[hartId] = null;
    this.deadlines[hartId] = Infinity;
  }

  hartSuspend(hartId: number, suspendType: number, resumeAddr: number, opaque: bigint): void {
    // The SBI set h.wfi; the run loop wakes the hart on an interrupt. Non-retentive: it
    // restarts at resumeAddr then (see PvMachine).
    this.resumeAt[hartId] = (suspendType & 0x80000000) !== 0 ? { addr: resumeAddr, opaque } : null;
  }

  reset(type: number, reason: number): void {
    this.resetRequest = { type, reason };
    for (const h of this.hartList) h.requestStop();
    this.options.threads?.link.requestStop(type === 0 ? LinkStop.SHUTDOWN : LinkStop.REBOOT, reason);
  }

  readGuest(pa: number, len: number): Uint8Array | null {
    return this.ram.contains(pa, len) ? this.ram.readBytes(pa, len) : null;
  }

  writeGuest(pa: number, bytes: Uint8Array): boolean {
    if (!this.ram.contains(pa, bytes.length)) return false;
    this.ram.writeBytes(pa, bytes);
    return true;
  }
}

/** The clock reading (ms) at which mtime was 0, for mtime to read `ticks` at `nowMs`. */
export function epochForMtime(ticks: number, nowMs: number): number {
  // Half a tick earlier: mtime is floor((now - epoch)·rate), and a double's rounding must
  // never make it read ticks - 1, a time the guest may already have seen.
  return nowMs - (ticks + 0.5) / (MTIME_HZ / 1000);
}

/**
 * Put a hart where the SBI leaves a hart it starts: S-mode at `pc`, a0 = hartid, a1 = opaque,
 * satp = 0, the delegations and counter access OpenSBI gives the kernel, and an allow-all PMP
 * entry (15) so S-mode can reach memory.
 */
export function bootHart(h: Hart, pc: number, a1: bigint): void {
  h.reset();
  // Exceptions delegated as OpenSBI does (misaligned fetch, breakpoints, ecall from U, page
  // faults, illegal instruction); S-level interrupts to S.
  h.medeleg = 0xb1ff & ~(1 << 9) & ~(1 << 10) & ~(1 << 11);
  h.mideleg = (1 << 1) | (1 << 5) | (1 << 9);
  h.mcounteren = 7;
  // OpenSBI also opens cycle/time/instret to U-mode; Linux 6.1 never writes scounteren, and
  // its vDSO reads `time` from U-mode (clock_gettime: busybox dd died with SIGILL without this).
  h.scounteren = 7;
  pmpAllowAll(h);
  h.x[20] = h.hartId;
  h.x[21] = 0;
  h.x[22] = Number(a1 & 0xffffffffn) | 0;
  h.x[23] = Number((a1 >> 32n) & 0xffffffffn) | 0;
  h.priv = Priv.S;
  h.setPc(pc);
  h.event = true;
}
