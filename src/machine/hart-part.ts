/**
 * A hart's part of a threaded VM's machine state (issue 15, snapshots and migration of VMs
 * with more than one vCPU). Each vCPU thread other than the owner's runs one hart with
 * state of its own (remote-vcpu.ts): the hart's registers, and on pv its share of the SBI
 * host (timer deadline, HSM parking, suspend, steal-time record, counters; pv-state.ts),
 * on full whether it is still held in reset. While the VM is paused, each such thread hands
 * its part over; the owner merges the parts into one MachineState (machine-state.ts
 * saveMachine), the same state a one-thread machine with as many harts saves. A restore
 * splits the state again: the owner loads hart 0 and every device and gives each other
 * thread its part and the VM's time base, which it loads before its hart runs.
 */
import { hartStateProblem, type HartState } from "../cpu/hart-state.js";
import { StateReader } from "../devices/state.js";
import type { GuestRam } from "../mem/ram.js";
import { readPvHart, type PvHartSbi } from "./pv-state.js";

export interface HartPart {
  readonly hart: HartState;
  /** pv: the hart's share of the SBI host. */
  readonly sbi?: PvHartSbi;
  /** full: still held in reset, waiting for the owner's start request (FullMachine.releaseSecondaries). */
  readonly inReset?: boolean;
}

/**
 * Guest time on every thread of a VM: mtime = floor((clockMs() - epochMs) · 10 MHz) +
 * offsetTicks, with clockMs the same clock on every thread. A fresh VM has epochMs 0 and
 * no offset; a restored one moved them so that mtime continues from the saved value, and
 * its other threads must read the same time as the owner.
 */
export interface ThreadTime {
  readonly epochMs: number;
  readonly offsetTicks: number;
}

/** What loadMachine leaves for a threaded VM's other threads: part k for hart k (k ≥ 1; hart 0's is the owner's), and the time base. */
export interface RemoteHarts {
  readonly time: ThreadTime;
  readonly parts: readonly HartPart[];
}

/** `v` as hart `k`'s part for a `profile` machine over `ram`, checked whole; throws StateError naming the field. */
export function readHartPart(v: unknown, k: number, profile: "pv" | "full", ram: GuestRam): HartPart {
  const where = `hart ${k}'s part`;
  const r: StateReader = StateReader.of(v, where);
  const hart = r.raw("hart");
  const why = hartStateProblem(hart, k);
  if (why !== null) r.fail("hart", why);
  if (profile === "pv") {
    if (!r.has("sbi")) r.fail("sbi", "missing: a pv hart's thread keeps its SBI share");
    return { hart: hart as HartState, sbi: readPvHart(r.raw("sbi"), `${where}: sbi`, ram) };
  }
  return { hart: hart as HartState, inReset: r.bool("inReset") };
}

/** `v` as a time base (finite numbers; the offset a whole number of ticks); throws StateError. */
export function readThreadTime(v: unknown): ThreadTime {
  const r: StateReader = StateReader.of(v, "thread time");
  const epochMs = r.raw("epochMs");
  if (typeof epochMs !== "number" || !Number.isFinite(epochMs)) r.fail("epochMs", `${String(epochMs)} is not a time`);
  const offsetTicks = r.int("offsetTicks", -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  return { epochMs, offsetTicks };
}

