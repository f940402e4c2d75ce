/**
 * SBI (RISC-V Supervisor Binary Interface, spec v2.0) served as hypercalls: the pv
 * machine sets `hart.hypercalls = new SbiDispatcher(host)` and every S-mode `ecall`
 * lands here. Each extension lives in its own file; this file holds the IDs, the error
 * codes, the EID → extension registry and the per-(EID, FID) exit counters.
 *
 * Wiring (the pv machine):
 *   const sbi = new SbiDispatcher(host, { bootHart: 0 });   // host implements SbiHost (host.ts)
 *   for (const h of harts) h.hypercalls = sbi;
 *   - timer: raise STIP (h.setInterruptPending(5, true)) when mtime >= the deadline from host.setTimer;
 *   - sendIpi: set SSIP on each target; remoteFence: applyFence (rfence.ts) on each target before it runs;
 *   - HSM: hartStart sets up the hart (S-mode, pc, a0/a1, satp 0) and schedules it; a Wfi status after
 *     hart_stop means "parked" (do not wake on interrupts); call sbi.hsm.resumed(id) when a suspended hart wakes;
 *   - SRST / legacy shutdown: host.reset(type, reason), and the ecall returns RunStatus.Stopped;
 *   - STA: sbi.sta.report(hartId, stealNs, preempted) before a hart runs again;
 *   - exits: sbi.counters(hartId?) → [{ name: "sbi.time.set_timer", count }, ...].
 *
 * IDs are facts from the SBI v2.0 specification and Linux arch/riscv/include/asm/sbi.h.
 */
import { RunStatus, type Hart, type HypercallHandler } from "../cpu/hart.js";
import type { SbiHost } from "./host.js";
import { ret } from "./regs.js";
import { SbiError } from "./ids.js";
import { BaseExtension } from "./base.js";
import { TimeExtension } from "./time.js";
import { IpiExtension } from "./ipi.js";
import { RfenceExtension } from "./rfence.js";
import { HsmExtension } from "./hsm.js";
import { SrstExtension } from "./srst.js";
import { DbcnExtension } from "./dbcn.js";
import { LegacyExtension } from "./legacy.js";
import { StaExtension } from "./sta.js";

export { SbiError, Eid, Fid } from "./ids.js";
export { FenceKind, type FenceKindValue, type SbiHost } from "./host.js";
export { HartState, SuspendType } from "./hsm.js";
export { ResetType, ResetReason } from "./srst.js";

/** One SBI extension: a file of its own, registered under one or more EIDs. */
export interface SbiExtension {
  /** Short name used in counter names: "sbi.<name>.<function>". */
  readonly name: string;
  readonly eids: readonly number[];
  /**
   * Function names by FID for `eid`; a FID outside the list is NOT_SUPPORTED without a call.
   * Legacy extensions (one function per EID, FID ignored) return a one-element list and set `ignoresFid`.
   */
  functions(eid: number): readonly string[];
  readonly ignoresFid?: boolean;
  /** Serve the call: write a0/a1 and return a RunStatus. Never throws on guest values. */
  call(h: Hart, eid: number, fid: number): number;
}

interface Entry {
  ext: SbiExtension;
  names: readonly string[];
  /** Counter slot of FID 0; slot + names.length counts unsupported FIDs (not for FID-less legacy calls). */
  slot: number;
}

export interface SbiOptions {
  /** The hart that is running at power-on (HSM state STARTED); the others are STOPPED. Default 0. */
  bootHart?: number;
  /** HSM states shared by the threads of one VM (see HsmExtension). */
  hsmStates?: Uint8Array;
}

export class SbiDispatcher implements HypercallHandler {
  private readonly entries = new Map<number, Entry>();
  private readonly slotNames: string[] = ["sbi.unknown"];
  /** counts[hartId][slot]. */
  private readonly counts: Float64Array[] = [];

  readonly base: BaseExtension;
  readonly time: TimeExtension;
  readonly ipi: IpiExtension;
  readonly rfence: RfenceExtension;
  readonly hsm: HsmExtension;
  readonly srst: SrstExtension;
  readonly dbcn: DbcnExtension;
  readonly legacy: LegacyExtension;
  readonly sta: StaExtension;

  constructor(
    readonly host: SbiHost,
    opts: SbiOptions = {},
  ) {
    this.base = new BaseExtension((eid) => this.entries.has(eid));
    this.time = new TimeExtension(host);
    this.ipi = new IpiExtension(host);
    this.rfence = new RfenceExtension(host);
    this.hsm = new HsmExtension(host, opts.bootHart ?? 0, opts.hsmStates);
    this.srst = new SrstExtension(host);
    this.dbcn = new DbcnExtension(host);
    this.legacy = new LegacyExtension(host);
    this.sta = new StaExtension(host);
    for (const ext of [
      this.base,
      this.time,
      this.ipi,
      this.rfence,
      this.hsm,
      this.srst,
      this.dbcn,
      this.legacy,
      this.sta,
    ]) {
      this.register(ext);
    }
  }

  /** Add (or replace) an extension under each of its EIDs. */
  register(ext: SbiExtension): void {
    for (const eid of ext.eids) {
      const names = ext.functions(eid);
      const slot = this.slotNames.length;
      for (const n of names) this.slotNames.push(`sbi.${ext.name}.${n}`);
      // Legacy calls ignore the FID, so they have no unsupported-function slot.
      if (ext.ignoresFid !== true) this.slotNames.push(`sbi.${ext.name}.unsupported`);
      this.entries.set(eid, { ext, names, slot });
    }
  }

  has(eid: number): boolean {
    return this.entries.has(eid);
  }

  ecall(h: Hart): number {
    const eid = h.x[2 * 17]! >>> 0;
    const fid = h.x[2 * 16]! >>> 0;
    const eidHi = h.x[2 * 17 + 1]!;
    const fidHi = h.x[2 * 16 + 1]!;
    // The calling hart is evidently running (e.g. woke from a retentive suspend).
    this.hsm.observeRunning(h.hartId);
    const counts = this.countsFor(h.hartId);
    const e = eidHi === 0 ? this.entries.get(eid) : undefined;
    if (e === undefined) {
      counts[0]!++;
      ret(h, SbiError.NOT_SUPPORTED);
      return RunStatus.Budget;
    }
    const f = e.ext.ignoresFid ? 0 : fid;
    if (fidHi !== 0 || f >= e.names.length) {
      counts[e.slot + e.names.length]!++;
      ret(h, SbiError.NOT_SUPPORTED);
      return RunStatus.Budget;
    }
    counts[e.slot + f]!++;
    return e.ext.call(h, eid, f);
  }

  private countsFor(hartId: number): Float64Array {
    let c = this.counts[hartId];
    if (c === undefined || c.length < this.slotNames.length) {
      const n = new Float64Array(this.slotNames.length);
      if (c !== undefined) n.set(c);
      this.counts[hartId] = c = n;
    }
    return c;
  }

  /**
   * Exits per reason for hypercalls: every function of every extension (zeros included),
   * for one hart or summed over all harts.
   */
  counters(hartId?: number): { name: string; count: number }[] {
    const out = this.slotNames.map((name) => ({ name, count: 0 }));
    const rows = hartId === undefined ? this.counts : [this.counts[hartId]];
    for (const row of rows) {
      if (row === undefined) continue;
      for (let i = 0; i < row.length; i++) out[i]!.count += row[i]!;
    }
    return out;
  }

  /** Per hart, the non-zero counters by name (a snapshot keeps the exit counts going). */
  saveCounts(): Record<string, number>[] {
    return Array.from({ length: this.host.harts }, (_, h) => this.countsOf(h));
  }

  /** One hart's non-zero counters by name (a vCPU thread serves one hart of a threaded VM). */
  countsOf(hartId: number): Record<string, number> {
    const out: Record<string, number> = {};
    const row = this.counts[hartId];
    if (row) row.forEach((c, i) => (c > 0 ? (out[this.slotNames[i]!] = c) : 0));
    return out;
  }

  /** Restore `saveCounts()`; names this build does not count are ignored. */
  loadCounts(rows: readonly Record<string, number>[]): void {
    rows.forEach((row, h) => this.loadCountsOf(h, row));
  }

  /** Restore `countsOf(hartId)`; names this build does not count are ignored. */
  loadCountsOf(hartId: number, row: Readonly<Record<string, number>>): void {
    if (hartId < 0 || hartId >= this.host.harts) return;
    const slot = new Map(this.slotNames.map((n, i) => [n, i]));
    const c = this.countsFor(hartId);
    c.fill(0);
    for (const [name, v] of Object.entries(row)) {
      const i = slot.get(name);
      if (i !== undefined && Number.isFinite(v) && v >= 0) c[i] = v;
    }
  }

  /** The count for one counter name (summed over harts unless hartId is given); 0 if unknown. */
  count(name: string, hartId?: number): number {
    return this.counters(hartId).find((c) => c.name === name)?.count ?? 0;
  }
}
