/**
 * STUB — being written. Public API of the hart that other modules may use.
 */
import type { Bus } from "../mem/bus.js";

export const RunStatus = {
  /** The instruction budget ran out. */
  Budget: 0,
  /** The hart executed WFI with no interrupt pending: the caller may sleep until the next event. */
  Wfi: 1,
  /** A device asked the hart to stop (`requestStop`), e.g. HTIF exit. */
  Stopped: 2,
} as const;

/** Where the hart reads `mtime` for the `time` CSR (10 MHz ticks). */
export interface TimeSource {
  mtime(): number;
}

export class Hart {
  /** Integer registers as lo/hi int32 halves: x[2r] low, x[2r+1] high. Slot 32 is a sink for writes to x0. */
  readonly x = new Int32Array(66);
  readonly f = new Float64Array(32);
  /** The same bytes as `f`: fi[2r] low 32 bits, fi[2r+1] high 32 bits. */
  readonly fi = new Int32Array(this.f.buffer);
  fflags = 0;
  frm = 0;
  /** Current privilege: 0 U, 1 S, 3 M. */
  priv = 3;
  /** Instructions retired in total and per privilege mode. */
  instret = 0;
  readonly instretByPriv = new Float64Array(4);
  /** True while the hart sits in WFI. */
  wfi = false;

  constructor(
    readonly bus: Bus,
    readonly hartId: number,
    readonly time: TimeSource,
  ) {}

  setPc(addr: number): void {
    void addr;
  }
  getPc(): number {
    return 0;
  }
  /** Run up to `budget` instructions; returns a RunStatus. */
  run(budget: number): number {
    void budget;
    return RunStatus.Budget;
  }
  /** Drive an interrupt-pending bit that hardware owns (MSIP=3, MTIP=7, MEIP=11, SEIP=9). */
  setInterruptPending(bit: number, level: boolean): void {
    void bit;
    void level;
  }
  /** Ask `run` to return at the next instruction boundary after the current device access. */
  requestStop(): void {}
  /** The raw instruction at pc (for --trace), or -1 when it cannot be fetched. */
  peekInsn(): number {
    return -1;
  }
}
