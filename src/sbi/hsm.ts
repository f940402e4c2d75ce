/**
 * SBI Hart State Management extension (EID "HSM", spec v2.0 ch. 9). The state machine
 * lives here; the host makes the transitions happen. Starts are synchronous in paravm
 * (START_PENDING → STARTED inside hart_start), so the pending states are only transient.
 */
import { RunStatus, type Hart } from "../cpu/hart.js";
import type { SbiExtension } from "./dispatch.js";
import type { SbiHost } from "./host.js";
import { Eid, Fid, SbiError } from "./ids.js";
import { argHi, argLo, argU32, argU64, argU64Big, ret } from "./regs.js";

export const HartState = {
  STARTED: 0,
  STOPPED: 1,
  START_PENDING: 2,
  STOP_PENDING: 3,
  SUSPENDED: 4,
  SUSPEND_PENDING: 5,
  RESUME_PENDING: 6,
} as const;

/** hart_suspend types: bit 31 set = non-retentive; 0x10000000.. are platform-specific. */
export const SuspendType = { RETENTIVE_DEFAULT: 0x00000000, NON_RETENTIVE_DEFAULT: 0x80000000 } as const;

export class HsmExtension implements SbiExtension {
  readonly name = "hsm";
  readonly eids = [Eid.HSM];
  private readonly states: Uint8Array;

  /**
   * `shared`: the states of a VM whose harts run on several threads (one array every
   * thread's SBI sees, initialised by its creator); default a private array.
   */
  constructor(
    private readonly host: SbiHost,
    bootHart: number,
    shared?: Uint8Array,
  ) {
    if (shared !== undefined) {
      this.states = shared;
      return;
    }
    this.states = new Uint8Array(host.harts).fill(HartState.STOPPED);
    if (bootHart >= 0 && bootHart < host.harts) this.states[bootHart] = HartState.STARTED;
  }

  functions(): readonly string[] {
    return ["hart_start", "hart_stop", "hart_get_status", "hart_suspend"];
  }

  /** HSM state of a hart (HartState), or -1 for an id that does not exist. */
  state(hartId: number): number {
    return hartId >= 0 && hartId < this.states.length ? this.states[hartId]! : -1;
  }

  /** Every hart's HsmState, for a snapshot. */
  saveStates(): number[] {
    return Array.from(this.states);
  }

  /** Restore `saveStates()` (checked by the caller: one HartState per hart). */
  loadStates(states: readonly number[]): void {
    if (states.length !== this.states.length) throw new RangeError(`hsm: ${states.length} hart states for ${this.states.length} harts`);
    this.states.set(states);
  }

  /** The host woke a suspended hart (retentive or non-retentive). */
  resumed(hartId: number): void {
    if (this.state(hartId) === HartState.SUSPENDED) this.states[hartId] = HartState.STARTED;
  }

  /** The host reset the machine: every hart back to STOPPED except the boot hart. */
  resetStates(bootHart = 0): void {
    this.states.fill(HartState.STOPPED);
    if (bootHart >= 0 && bootHart < this.states.length) this.states[bootHart] = HartState.STARTED;
  }

  /** Called on every ecall: a hart that executes code is running. */
  observeRunning(hartId: number): void {
    if (this.state(hartId) === HartState.SUSPENDED) this.states[hartId] = HartState.STARTED;
  }

  /** A valid hart id from argument 0, or -1. */
  private hartArg(h: Hart): number {
    if (argHi(h, 0) !== 0) return -1;
    const id = argLo(h, 0) >>> 0;
    return id < this.states.length ? id : -1;
  }

  /** An address the hart can execute from: in RAM and 2-byte aligned (RVC). */
  private executable(addr: number): boolean {
    return addr % 2 === 0 && this.host.readGuest(addr, 2) !== null;
  }

  call(h: Hart, _eid: number, fid: number): number {
    switch (fid) {
      case Fid.HSM.HART_START: {
        const id = this.hartArg(h);
        if (id < 0) return done(h, SbiError.INVALID_PARAM);
        if (this.states[id] !== HartState.STOPPED) return done(h, SbiError.ALREADY_AVAILABLE);
        const addr = argU64(h, 1);
        if (!this.executable(addr)) return done(h, SbiError.INVALID_ADDRESS);
        this.states[id] = HartState.START_PENDING;
        const err = this.host.hartStart(id, addr, argU64Big(h, 2));
        this.states[id] = err === SbiError.SUCCESS ? HartState.STARTED : HartState.STOPPED;
        return done(h, err === SbiError.SUCCESS ? SbiError.SUCCESS : err < 0 ? err : SbiError.ERR_FAILED);
      }
      case Fid.HSM.HART_STOP: {
        const id = h.hartId;
        if (this.states[id] !== HartState.STARTED) return done(h, SbiError.ERR_FAILED);
        this.states[id] = HartState.STOPPED;
        ret(h, SbiError.SUCCESS); // not seen: a stopped hart restarts at a new address
        this.host.hartStop(id);
        return RunStatus.Wfi;
      }
      case Fid.HSM.HART_GET_STATUS: {
        const id = this.hartArg(h);
        if (id < 0) return done(h, SbiError.INVALID_PARAM);
        ret(h, SbiError.SUCCESS, this.states[id]!);
        return RunStatus.Budget;
      }
      default: {
        // hart_suspend(suspend_type: u32, resume_addr, opaque)
        const type = argU32(h, 0);
        const nonRetentive = (type & 0x80000000) !== 0;
        const low = type & 0x7fffffff;
        if (low !== 0) {
          // 0x00000001..0x0FFFFFFF (and with bit 31) are reserved; 0x10000000.. platform-specific, none implemented.
          return done(h, low < 0x10000000 ? SbiError.INVALID_PARAM : SbiError.NOT_SUPPORTED);
        }
        const resumeAddr = argU64(h, 1);
        if (nonRetentive && !this.executable(resumeAddr)) return done(h, SbiError.INVALID_ADDRESS);
        const id = h.hartId;
        this.states[id] = HartState.SUSPENDED;
        // Retentive: the call returns SUCCESS after an interrupt wakes the hart (WFI semantics).
        ret(h, SbiError.SUCCESS);
        h.wfi = true;
        this.host.hartSuspend(id, type, resumeAddr, argU64Big(h, 2));
        return RunStatus.Wfi;
      }
    }
  }
}

function done(h: Hart, err: number): number {
  ret(h, err);
  return RunStatus.Budget;
}
