/**
 * The run loop both machine profiles share: it gives each runnable hart a slice of
 * instructions in turn (round robin, one thread), counts exits, and sleeps when every
 * hart waits — until the earliest timer deadline, console input or a network frame.
 *
 * What differs between profiles sits behind `RunHooks`: on the pv machine the hypervisor
 * is the SBI (HSM parks harts, remote fences are queued, STIP comes from SBI set_timer);
 * on the full machine the harts are never parked by the host (OpenSBI parks secondaries in
 * its own WFI loop), the CLINT drives MTIP and the sifive-test device powers off.
 *
 * Accounting is measured, not modelled: instructions per privilege mode come from the
 * harts, MMIO exits per bus region per hart from the bus counters read around each slice,
 * and WFI exits from the run status.
 */
import { RunStatus, type Hart } from "../cpu/hart.js";
import type { TlbStats } from "../cpu/tlb.js";
import { jitStatsOf } from "../cpu/jit.js";
import { DECODED_PAGE_BYTES } from "../cpu/code-cache.js";
import type { IrqLine } from "../devices/device.js";
import type { Bus } from "../mem/bus.js";

export const RUN_DEFAULTS = {
  /** Instructions per slice with one hart, and with several (smaller: a hart spinning on another wastes less). */
  SLICE: 200_000,
  SMP_SLICE: 20_000,
  /**
   * A slice ends at the next timer deadline (at the measured speed, see RunLoop.rate) so
   * the timer interrupt is raised on time, not up to a slice late; it runs at least this
   * many instructions (the loop's own cost stays small next to it).
   */
  MIN_SLICE: 2_000,
  MAX_SLEEP_MS: 100,
  /** `runAsync` returns to the event loop after this much wall time of guest execution. */
  YIELD_MS: 8,
  /** Input typed before userspace prints is released this long after the first U-mode instruction anyway. */
  INPUT_GATE_MS: 2000,
} as const;

export type MachineStop = "shutdown" | "reboot" | "maxInsns" | "wfiDeadlock" | "stopped";

export interface PrivCounts {
  readonly M: number;
  readonly S: number;
  readonly U: number;
}

export interface HartResult {
  readonly hart: number;
  readonly instret: number;
  readonly instretByPriv: PrivCounts;
  /** Exits by reason ("sbi.<ext>.<fn>", "mmio.<region>.read|write", "mmio.<dev>.<reg>.read", "wfi"). Non-zero only. */
  readonly exits: Record<string, number>;
  /** Interrupts raised on this hart, by source ("timer", "ipi", "external", "irq.<device>" …). */
  readonly interrupts: Record<string, number>;
  /** The software TLB: page walks, refills from a kept set, set swaps, flushes and fences (cpu/tlb.ts), and its host bytes. */
  readonly tlb?: TlbStats & { readonly hostBytes: number };
  /**
   * Host memory for guest code beyond guest RAM (cpu/code-cache.ts): decoded pages (each a
   * decoded array and a copy of the RAM words it came from), the block compiler's tables
   * (jit.ts stats), the cache's index; the most it held at once, its budget and the pages
   * evicted to stay within it.
   */
  readonly code?: {
    readonly decodedPages: number;
    readonly decodedBytes: number;
    readonly jitPages: number;
    readonly blocks: number;
    readonly compiledInsns: number;
    readonly compileMs: number;
    readonly jitTableBytes: number;
    readonly indexBytes: number;
    readonly peakBytes: number;
    readonly evictions: number;
    readonly budgetBytes: number;
  };
}

/** What a run ended with: the same shape for every profile, so they compare side by side. */
export interface RunResult {
  readonly profile: "pv" | "full";
  readonly stop: MachineStop;
  /** SBI SRST reason (pv) or the sifive-test fail code (full). */
  readonly resetReason?: number;
  readonly cpus: number;
  readonly instret: number;
  readonly instretByPriv: PrivCounts;
  readonly wallMs: number;
  /** Wall ms from the start of the run to the boot hart's first U-mode instruction (null: never got there). */
  readonly bootMs: number | null;
  /** Exits by reason summed over harts, non-zero only. */
  readonly exits: Record<string, number>;
  /** Interrupts summed over harts, by source. */
  readonly interrupts: Record<string, number>;
  readonly harts: readonly HartResult[];
  /** The boot hart's pc at the end. */
  readonly pc: number;
  /** Host time spent asleep because every hart waited (ms), and how many sleeps. */
  readonly sleptMs: number;
  readonly sleeps: number;
}

/** What the profile provides to the loop. */
export interface RunHooks {
  /** True when hart i must not run at all (pv: stopped by SBI HSM). */
  parked(i: number): boolean;
  /** Hart i was in WFI and has an interrupt to take (pv: HSM resume bookkeeping). */
  woke(i: number): void;
  /** Just before hart i's slice (pv: apply queued remote fences). */
  beforeSlice(i: number): void;
  /** Raise the timer interrupts that are due. */
  updateTimers(): void;
  /** Milliseconds to the earliest timer deadline still ahead (Infinity: none). */
  msToNextDeadline(): number;
  /** A power-off or reset the guest asked for, checked after every slice. */
  stopRequest(): "shutdown" | "reboot" | null;
  /** Host console input, once the gate is open. */
  deliverInput(bytes: Uint8Array): void;
  /** Profile-specific exits and interrupts for hart i, added to the result. */
  hartExtras(i: number, exits: Record<string, number>, interrupts: Record<string, number>): void;
  /** Interrupts raised per device ("irq.<device>": rising edges on its wire). */
  readonly sources: IrqSources;
  /**
   * Threaded VMs: take what other threads left for this thread's harts (interrupt levels,
   * IPIs, fences, starts) and serve their device accesses. Called before every round of
   * slices and before deciding that every hart waits.
   */
  poll?(): void;
}

/** Counts rising edges on device interrupt wires, per device: interrupts raised per source. */
export class IrqSources {
  readonly counts: Record<string, number> = {};

  /** `line`, counting each low→high change as an interrupt from `name`. */
  wrap(name: string, line: IrqLine): IrqLine {
    const key = `irq.${name}`;
    const counts = this.counts;
    counts[key] = 0;
    let level = false;
    return {
      set(on: boolean): void {
        if (on && !level) counts[key]!++;
        level = on;
        line.set(on);
      },
    };
  }
}

export interface RunLoopOptions {
  readonly maxInsns?: number;
  /** A network device is attached: never report a WFI deadlock in `runAsync`, a frame may come. */
  readonly waitsForFrames?: boolean;
  /** Instructions per slice (default RUN_DEFAULTS.SLICE, or SMP_SLICE with several harts). */
  readonly slice?: number;
  /** Threaded VMs: the one hart this thread runs (it answers dirty-log flushes for no other). Unset: all. */
  readonly self?: number;
}

/** Per-hart bookkeeping. */
interface HartAcct {
  wfi: number;
  /** reads/writes per bus region, same order as bus.regions. */
  mmio: Float64Array;
}

/** What one call of `advance` ended with. */
export type Step = { kind: "stop"; stop: MachineStop } | { kind: "yield" } | { kind: "idle"; waitMs: number };

export class RunLoop {
  /** The hart whose slice is running (devices that count per hart read it). */
  current = 0;
  private readonly sleepCell = new Int32Array(new SharedArrayBuffer(4));
  private readonly acct: HartAcct[];
  private readonly slice: number;
  private spent = 0;
  /**
   * Guest instructions per host millisecond over recent slices (0 until measured), to turn
   * the time to the next timer deadline into a budget.
   */
  rate = 0;
  private idleRounds = 0;
  private sleptMs = 0;
  private sleeps = 0;
  private startMs = 0;
  private bootMs: number | null = null;
  private stopRequested = false;
  /**
   * Host input held back until userspace has printed on the console (a shell prompt):
   * bytes typed or piped in during boot are otherwise lost in the guest. null once released.
   */
  private held: Uint8Array[] | null = [];
  private inputOpen = false;
  /** Wakes `runAsync` from an idle sleep (console input, a frame, stop). */
  private wakeFn: (() => void) | null = null;

  constructor(
    readonly harts: readonly Hart[],
    private readonly bus: Bus,
    private readonly hooks: RunHooks,
    private readonly options: RunLoopOptions = {},
  ) {
    this.slice = options.slice ?? (harts.length === 1 ? RUN_DEFAULTS.SLICE : RUN_DEFAULTS.SMP_SLICE);
    this.acct = harts.map(() => ({ wfi: 0, mmio: new Float64Array(0) }));
  }

  /** Call after the last device is mapped on the bus (the MMIO counters follow bus.regions). */
  devicesMapped(): void {
    for (const a of this.acct) a.mmio = new Float64Array(2 * this.bus.regions.length);
  }

  /** Console output passes through here: the first output after userspace ran opens the input gate. */
  noteOutput(): void {
    if (this.inputOpen) return;
    for (const h of this.harts) if (h.instretByPriv[0]! > 0) this.inputOpen = true;
  }

  /** Host terminal input for the guest console. */
  input(bytes: Uint8Array): void {
    if (this.held !== null) this.held.push(bytes.slice());
    else this.hooks.deliverInput(bytes);
    this.wake();
  }

  /** Wake a sleeping `runAsync` (a frame arrived, a rate-limit retry fired). */
  wake(): void {
    this.wakeFn?.();
  }

  /** Ask a running `run`/`runAsync` to return (stop "stopped") at the end of the current slice. */
  stop(): void {
    this.stopRequested = true;
    for (const h of this.harts) h.requestStop();
    this.wake();
  }

  /** Between slices: pass held input on once the guest's userspace has written to the console. */
  private releaseInput(): void {
    const held = this.held;
    if (held === null || !this.inputOpen) return;
    this.held = null;
    for (const b of held) this.hooks.deliverInput(b);
  }

  /**
   * One round-robin pass over the harts, repeated until `untilMs` (performance.now) passes,
   * the machine stops, or every hart waits.
   */
  private advance(untilMs: number): Step {
    const { maxInsns } = this.options;
    const { harts, hooks } = this;
    const regions = this.bus.regions;
    const n = harts.length;
    for (;;) {
      hooks.poll?.();
      if (this.bus.ram.dirty !== null) this.obeyDirtyFlush();
      let ran = false;
      for (let i = 0; i < n; i++) {
        if (this.stopRequested) return { kind: "stop", stop: "stopped" };
        if (maxInsns !== undefined && this.spent >= maxInsns) return { kind: "stop", stop: "maxInsns" };
        if (hooks.parked(i)) continue;
        const h = harts[i]!;
        const wasWfi = h.wfi;
        if (wasWfi) {
          if ((h.mie & h.effectiveMip()) === 0) continue;
          hooks.woke(i);
        }
        hooks.beforeSlice(i);
        this.current = i;
        const budget = this.budgetFor(maxInsns === undefined ? this.slice : Math.min(this.slice, maxInsns - this.spent));
        const a = this.acct[i]!;
        const mm = a.mmio;
        for (let r = 0; r < regions.length; r++) {
          mm[2 * r] -= regions[r]!.reads;
          mm[2 * r + 1] -= regions[r]!.writes;
        }
        const before = h.instret;
        const t0 = performance.now();
        const status = h.run(budget);
        const dt = performance.now() - t0;
        for (let r = 0; r < regions.length; r++) {
          mm[2 * r] += regions[r]!.reads;
          mm[2 * r + 1] += regions[r]!.writes;
        }
        const retired = Math.max(0, h.instret - before);
        if (retired >= RUN_DEFAULTS.MIN_SLICE && dt > 0) {
          const r = retired / dt;
          this.rate = this.rate === 0 ? r : 0.75 * this.rate + 0.25 * r;
        }
        this.spent += status === RunStatus.Budget ? Math.max(budget, retired) : retired;
        if (retired > 0) ran = true;
        if (status === RunStatus.Wfi && (retired > 0 || !wasWfi) && !hooks.parked(i)) a.wfi++;
        // An LR reservation does not survive a switch to another hart (SC may fail spuriously).
        if (n > 1) h.resv = -1;
        if (i === 0 && this.bootMs === null && h.instretByPriv[0]! > 0) this.bootMs = performance.now() - this.startMs;
        if (this.held !== null) {
          // A userspace that never prints still gets its input a while after it started.
          if (this.bootMs !== null && performance.now() - this.startMs - this.bootMs > RUN_DEFAULTS.INPUT_GATE_MS) {
            this.inputOpen = true;
          }
          if (this.inputOpen) this.releaseInput();
        }
        const power = hooks.stopRequest();
        if (power !== null) return { kind: "stop", stop: power };
        if (this.stopRequested) return { kind: "stop", stop: "stopped" };
      }
      hooks.updateTimers();
      if (!ran) hooks.poll?.();
      if (!ran && !this.anyRunnable()) return { kind: "idle", waitMs: hooks.msToNextDeadline() };
      this.idleRounds = 0;
      if (performance.now() >= untilMs) return { kind: "yield" };
    }
  }

  /**
   * The slice for `budget` instructions, cut at the next timer deadline: with the rate
   * known, a deadline 0.3 ms away at 50 instructions/µs gives 15,000 instructions (never
   * fewer than MIN_SLICE). Nothing armed, or the rate not yet measured: `budget` as is.
   */
  budgetFor(budget: number): number {
    if (this.rate === 0 || budget <= RUN_DEFAULTS.MIN_SLICE) return budget;
    const ms = this.hooks.msToNextDeadline();
    if (!(ms < budget / this.rate)) return budget;
    return Math.max(RUN_DEFAULTS.MIN_SLICE, Math.ceil(ms * this.rate));
  }

  /** True when some hart would execute if given a slice now. */
  private anyRunnable(): boolean {
    for (let i = 0; i < this.harts.length; i++) {
      if (this.hooks.parked(i)) continue;
      const h = this.harts[i]!;
      if (!h.wfi || (h.mie & h.effectiveMip()) !== 0) return true;
    }
    return false;
  }

  /**
   * For a caller that drives the loop itself (a vCPU thread under the scheduler): `begin`
   * once, then `step` until it returns "stop" (or the caller stops), sleeping as it likes
   * on "idle" (then `timersDue`), and `finish` for the result.
   */
  begin(): void {
    this.startMs = performance.now();
  }

  step(untilMs: number): Step {
    return this.advance(untilMs);
  }

  /**
   * A dirty-log flush (mem/dirty-log.ts): the harts this thread runs drop their live store
   * entries, then acknowledge, with nothing run in between (DirtyLog.ackFlush). Every round
   * passes here; a vCPU thread also calls it while idle or paused (the collector rings it).
   */
  obeyDirtyFlush(): void {
    const d = this.bus.ram.dirty;
    if (d === null) return;
    const self = this.options.self;
    for (let i = self ?? 0; i <= (self ?? this.harts.length - 1); i++) {
      if (!d.flushWanted(i)) continue;
      this.harts[i]!.tlb.dropLiveStores();
      d.ackFlush(i);
    }
  }

  /** Whether some hart of this loop would execute now (after taking what other threads left). */
  runnable(): boolean {
    this.hooks.poll?.();
    this.hooks.updateTimers();
    return this.anyRunnable();
  }

  /** Milliseconds until the next timer deadline of this loop's harts (Infinity: none). */
  msToNextDeadline(): number {
    return this.hooks.msToNextDeadline();
  }

  /** The guest's power request, or the host's stop, if any (checked between steps). */
  pendingStop(): MachineStop | null {
    if (this.stopRequested) return "stopped";
    return this.hooks.stopRequest();
  }

  /** After a sleep: raise what came due, and count the sleep. */
  slept(ms: number): void {
    this.sleptMs += ms;
    this.sleeps++;
    this.hooks.updateTimers();
  }

  finish(profile: RunResult["profile"], stop: MachineStop, resetReason: number | undefined): RunResult {
    return this.result(profile, stop, resetReason);
  }

  /** Run to a stop without returning to the event loop (no console input arrives meanwhile). */
  run(profile: RunResult["profile"], resetReason?: () => number | undefined): RunResult {
    this.startMs = performance.now();
    for (;;) {
      const step = this.advance(Infinity);
      if (step.kind === "stop") return this.result(profile, step.stop, resetReason?.());
      if (step.kind === "idle") {
        if (step.waitMs === Infinity) {
          if (++this.idleRounds >= 2) return this.result(profile, "wfiDeadlock", resetReason?.());
          continue;
        }
        this.idleRounds = 0;
        if (step.waitMs > 0) {
          const t = performance.now();
          Atomics.wait(this.sleepCell, 0, 0, Math.min(step.waitMs, RUN_DEFAULTS.MAX_SLEEP_MS));
          this.sleptMs += performance.now() - t;
          this.sleeps++;
        }
        this.hooks.updateTimers();
      }
    }
  }

  /**
   * Run to a stop, returning to Node's event loop every few ms so that console input
   * (`input`) and signals are seen. When every hart waits, sleeps on a timer until the next
   * deadline or input. `waitForInput`: with no timer armed, wait for input instead of
   * reporting a WFI deadlock (always so when frames may arrive).
   */
  async runAsync(
    profile: RunResult["profile"],
    opts: { waitForInput?: boolean } = {},
    resetReason?: () => number | undefined,
  ): Promise<RunResult> {
    const waitForInput = opts.waitForInput === true || this.options.waitsForFrames === true;
    this.startMs = performance.now();
    for (;;) {
      const step = this.advance(performance.now() + RUN_DEFAULTS.YIELD_MS);
      if (step.kind === "stop") return this.result(profile, step.stop, resetReason?.());
      if (step.kind === "yield") {
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      let wait = step.waitMs;
      if (wait === Infinity) {
        if (!waitForInput && ++this.idleRounds >= 2) return this.result(profile, "wfiDeadlock", resetReason?.());
        if (!waitForInput) continue;
        wait = RUN_DEFAULTS.MAX_SLEEP_MS;
      }
      this.idleRounds = 0;
      const t = performance.now();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(wait, RUN_DEFAULTS.MAX_SLEEP_MS));
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.wakeFn = done;
      });
      this.wakeFn = null;
      this.sleptMs += performance.now() - t;
      this.sleeps++;
      this.hooks.updateTimers();
    }
  }

  /** Hart i's exits by reason (MMIO per bus region, WFI, the profile's own) and interrupts, so far. */
  private hartCounts(i: number, exits: Record<string, number>, interrupts: Record<string, number>): void {
    const regions = this.bus.regions;
    const a = this.acct[i]!;
    for (let r = 0; r < regions.length; r++) {
      const name = regions[r]!.name;
      if (a.mmio[2 * r]! > 0) exits[`mmio.${name}.read`] = a.mmio[2 * r]!;
      if (a.mmio[2 * r + 1]! > 0) exits[`mmio.${name}.write`] = a.mmio[2 * r + 1]!;
    }
    if (a.wfi > 0) exits.wfi = a.wfi;
    this.hooks.hartExtras(i, exits, interrupts);
  }

  /**
   * Every hart's exits and instructions so far, while the machine runs (the live figures a
   * vCPU thread posts once a second; the result at the end has the same numbers).
   */
  liveCounters(): { exits: Record<string, number>[]; instret: number[] } {
    const exits = this.harts.map((_, i) => {
      const e: Record<string, number> = {};
      this.hartCounts(i, e, {});
      return e;
    });
    return { exits, instret: this.harts.map((h) => h.instret) };
  }

  private result(profile: RunResult["profile"], stop: MachineStop, resetReason: number | undefined): RunResult {
    const priv = (p: Float64Array): PrivCounts => ({ M: p[3]!, S: p[1]!, U: p[0]! });
    const exitsTotal: Record<string, number> = {};
    const irqTotal: Record<string, number> = {};
    const add = (into: Record<string, number>, k: string, v: number): void => {
      if (v !== 0) into[k] = (into[k] ?? 0) + v;
    };
    const harts = this.harts.map((h, i): HartResult => {
      const exits: Record<string, number> = {};
      const interrupts: Record<string, number> = {};
      this.hartCounts(i, exits, interrupts);
      for (const [k, v] of Object.entries(exits)) add(exitsTotal, k, v);
      for (const [k, v] of Object.entries(interrupts)) add(irqTotal, k, v);
      const tlb = { ...h.tlb.stats(), hostBytes: h.tlb.hostBytes() };
      return { hart: i, instret: h.instret, instretByPriv: priv(h.instretByPriv), exits, interrupts, tlb, code: codeStats(h) };
    });
    for (const [k, v] of Object.entries(this.hooks.sources.counts)) add(irqTotal, k, v);
    const sum = { M: 0, S: 0, U: 0 };
    for (const h of harts) {
      sum.M += h.instretByPriv.M;
      sum.S += h.instretByPriv.S;
      sum.U += h.instretByPriv.U;
    }
    return {
      profile,
      stop,
      ...(resetReason !== undefined ? { resetReason } : {}),
      cpus: this.harts.length,
      instret: harts.reduce((s, h) => s + h.instret, 0),
      instretByPriv: sum,
      wallMs: performance.now() - this.startMs,
      bootMs: this.bootMs,
      exits: exitsTotal,
      interrupts: irqTotal,
      harts,
      pc: this.harts[0]!.getPc(),
      sleptMs: this.sleptMs,
      sleeps: this.sleeps,
    };
  }
}

/**
 * What both machines are to their users (CLI, multi, later the VMM): a set of harts on a
 * run loop, console input, stop, run. Subclasses add their devices' counters to the
 * result (`finish`) and say what a power-off's reason code was.
 */
export abstract class Machine<R extends RunResult> {
  abstract readonly profile: RunResult["profile"];
  abstract readonly harts: readonly Hart[];
  abstract readonly loop: RunLoop;

  /** The boot hart. */
  get hart(): Hart {
    return this.harts[0]!;
  }

  /** Host terminal input for the guest console. */
  input(bytes: Uint8Array): void {
    this.loop.input(bytes);
  }

  /** Ask a running `run`/`runAsync` to return (stop "stopped") at the end of the current slice. */
  stop(): void {
    this.loop.stop();
  }

  /** Run to a stop without returning to the event loop (no console input arrives meanwhile). */
  run(): R {
    return this.finish(this.loop.run(this.profile, () => this.resetReason()));
  }

  /** Run to a stop, returning to Node's event loop every few ms (see RunLoop.runAsync). */
  async runAsync(opts: { waitForInput?: boolean } = {}): Promise<R> {
    return this.finish(await this.loop.runAsync(this.profile, opts, () => this.resetReason()));
  }

  /** The result of a run driven through `loop.begin/step` (a vCPU thread), ended with `stop`. */
  result(stop: MachineStop): R {
    return this.finish(this.loop.finish(this.profile, stop, this.resetReason()));
  }

  /** The guest's reason code for its power-off (SBI SRST reason, sifive-test fail code). */
  protected abstract resetReason(): number | undefined;
  /** The loop's result plus the profile's device counters. */
  protected abstract finish(r: RunResult): R;

  /** Bytes the guest's disk has read and written so far (null: no disk), for live figures. */
  abstract diskBytes(): { readonly read: number; readonly written: number } | null;
}


/** Host memory a hart holds for guest code (RunResult's per-hart `code`). */
function codeStats(h: Hart): NonNullable<HartResult["code"]> {
  const j = jitStatsOf(h) ?? { jitPages: 0, blocks: 0, compiledInsns: 0, compileMs: 0, tableBytes: 0 };
  const c = h.code;
  const pages = c.list.length;
  return {
    decodedPages: pages,
    decodedBytes: pages * DECODED_PAGE_BYTES,
    jitPages: c.jitPages,
    blocks: j.blocks,
    compiledInsns: j.compiledInsns,
    compileMs: Math.round(j.compileMs * 10) / 10,
    jitTableBytes: c.jitBytes,
    indexBytes: c.indexBytes(),
    peakBytes: c.peakBytes,
    evictions: c.evictions,
    budgetBytes: c.budgetBytes,
  };
}
