/**
 * SBI Steal-time Accounting extension (EID "STA", spec v2.0 ch. 16). The guest registers a
 * 64-byte, 64-byte-aligned record per hart:
 *   0: sequence u32   4: flags u32   8: steal u64 (ns)   16: preempted u8   17..63: pad
 * The host reports steal time with `report()`, written with the sequence protocol:
 * sequence odd while the record is being updated, even (and advanced) when done.
 */
import { RunStatus, type Hart } from "../cpu/hart.js";
import type { SbiExtension } from "./dispatch.js";
import type { SbiHost } from "./host.js";
import { Eid, SbiError } from "./ids.js";
import { argHi, argIsAllOnes, argLo, argU64, ret } from "./regs.js";

export const STA_RECORD_SIZE = 64;
const TWO32 = 4294967296;

export class StaExtension implements SbiExtension {
  readonly name = "sta";
  readonly eids = [Eid.STA];
  /** Registered record address per hart; -1: none. */
  private readonly shmem: Float64Array;
  private readonly seq: Uint32Array;

  constructor(private readonly host: SbiHost) {
    this.shmem = new Float64Array(host.harts).fill(-1);
    this.seq = new Uint32Array(host.harts);
  }

  functions(): readonly string[] {
    return ["set_shmem"];
  }

  /** Each hart's record address (-1: none) and sequence number, for a snapshot. */
  saveRecords(): { shmem: number[]; seq: number[] } {
    return { shmem: Array.from(this.shmem), seq: Array.from(this.seq) };
  }

  /** Restore `saveRecords()` (checked by the caller: addresses in RAM, 64-byte aligned, or -1). */
  loadRecords(r: { readonly shmem: readonly number[]; readonly seq: readonly number[] }): void {
    if (r.shmem.length !== this.shmem.length || r.seq.length !== this.seq.length) throw new RangeError("sta: records for another number of harts");
    this.shmem.set(r.shmem);
    this.seq.set(r.seq);
  }

  /** One hart's record address (-1: none) and sequence number: what its vCPU thread hands over in a snapshot. */
  recordOf(hartId: number): { shmem: number; seq: number } {
    return { shmem: this.shmem[hartId]!, seq: this.seq[hartId]! };
  }

  /** Restore `recordOf(hartId)` (checked by the caller, as for loadRecords). */
  loadRecord(hartId: number, r: { readonly shmem: number; readonly seq: number }): void {
    if (hartId < 0 || hartId >= this.shmem.length) throw new RangeError(`sta: no hart ${hartId}`);
    this.shmem[hartId] = r.shmem;
    this.seq[hartId] = r.seq;
  }

  /** The record address registered by a hart, or -1. */
  shmemOf(hartId: number): number {
    return this.shmem[hartId] ?? -1;
  }

  call(h: Hart): number {
    // set_shmem(shmem_phys_lo, shmem_phys_hi, flags)
    const id = h.hartId;
    if (argLo(h, 2) !== 0 || argHi(h, 2) !== 0) return done(h, SbiError.INVALID_PARAM);
    if (argIsAllOnes(h, 0) && argIsAllOnes(h, 1)) {
      this.shmem[id] = -1; // disable
      return done(h, SbiError.SUCCESS);
    }
    if ((argLo(h, 0) & (STA_RECORD_SIZE - 1)) !== 0) return done(h, SbiError.INVALID_PARAM);
    const pa = argU64(h, 0);
    // On RV64 shmem_phys_hi holds address bits above 63: non-zero is never RAM.
    if (argLo(h, 1) !== 0 || argHi(h, 1) !== 0) return done(h, SbiError.INVALID_ADDRESS);
    this.seq[id] = 0;
    if (!this.host.writeGuest(pa, new Uint8Array(STA_RECORD_SIZE))) return done(h, SbiError.INVALID_ADDRESS);
    this.shmem[id] = pa;
    return done(h, SbiError.SUCCESS);
  }

  /**
   * Publish hart `hartId`'s total steal time (ns since boot) and whether it is preempted now.
   * Returns false when the hart registered no record (or it is no longer writable).
   */
  report(hartId: number, stealNs: number, preempted: boolean): boolean {
    const pa = this.shmemOf(hartId);
    if (pa < 0) return false;
    const s = this.seq[hartId]!;
    const u32 = (v: number): Uint8Array => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, v >>> 0, true);
      return b;
    };
    if (!this.host.writeGuest(pa, u32(s + 1))) {
      this.shmem[hartId] = -1;
      return false;
    }
    const body = new Uint8Array(9);
    const dv = new DataView(body.buffer);
    const steal = Math.max(0, Math.floor(stealNs));
    dv.setUint32(0, steal % TWO32, true);
    dv.setUint32(4, Math.floor(steal / TWO32) >>> 0, true);
    body[8] = preempted ? 1 : 0;
    this.host.writeGuest(pa + 8, body);
    this.host.writeGuest(pa, u32(s + 2));
    this.seq[hartId] = s + 2;
    return true;
  }
}

function done(h: Hart, err: number): number {
  ret(h, err);
  return RunStatus.Budget;
}
