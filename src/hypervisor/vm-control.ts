import type { FrameOffload } from "../devices/virtio/net/device.js";
import type { HartPart, RemoteHarts, ThreadTime } from "../machine/hart-part.js";
import type { BalloonReport } from "../machine/pv-balloon.js";
import type { VmSnapshotInfo } from "./snapshot/vm-file.js";

/**
 * The words the main thread and a VM's vCPU threads share to control it (besides the
 * machine's own link, vcpu-link.ts, and the scheduler's table, sched-layout.ts): the
 * command every thread obeys at its next slice boundary, and what each thread reports.
 */
export const VM_CTL = {
  /** VmCommand: what every vCPU thread of the VM should be doing. */
  COMMAND: 0,
  /** Per-hart VcpuReport, from word HART_BASE + hart. */
  HART_BASE: 8,
} as const;

export const VmCommand = { RUN: 0, PAUSE: 1, STOP: 2 } as const;

/** What a vCPU thread says it is doing (so pause can wait until every thread really stopped). */
export const VcpuReport = { STARTING: 0, RUNNING: 1, PAUSED: 2, DONE: 3 } as const;

/**
 * Where each vCPU thread is, published at every step of its loop (a few plain stores per
 * ~1 ms slice), so the main thread can say what a VM is doing even when its threads are
 * stuck (`paravm run` prints it on SIGUSR2; Vm.where()). SEQ is a sequence lock: odd
 * while the thread writes, so a reader retries instead of pairing one step's pc with
 * another's privilege.
 */
export const WHERE = { PHASE: 0, PC_LO: 1, PC_HI: 2, PRIV: 3, MIP: 4, MIE: 5, SLICES: 6, INSNS: 7, SEQ: 8 } as const;
const WHERE_STRIDE = 9;

/** WHERE.PHASE: the step of the vCPU loop the thread is in. */
export const VcpuPhase = { STARTING: 0, RUN: 1, IDLE: 2, WAIT_GRANT: 3, PAUSED: 4, DONE: 5 } as const;
export const VCPU_PHASE_NAMES = ["starting", "run", "idle", "wait-grant", "paused", "done"] as const;

/** Index of hart `hart`'s WHERE `field` in a VM control block made for `harts` harts. */
export function whereIdx(harts: number, hart: number, field: number): number {
  return VM_CTL.HART_BASE + harts + hart * WHERE_STRIDE + field;
}

/**
 * Hart k's published words as text ("report 1 run pc 80201234 priv 1 …"), read under its
 * sequence lock: a few tries, as a thread stuck mid-write (which cannot happen between
 * plain stores) would show as is.
 */
export function whereText(ctl: Int32Array, harts: number, k: number): string {
  const fields = [WHERE.PHASE, WHERE.PC_LO, WHERE.PC_HI, WHERE.PRIV, WHERE.MIP, WHERE.MIE, WHERE.SLICES, WHERE.INSNS];
  const snap = new Map<number, number>();
  for (let tries = 0; tries < 100; tries++) {
    const s0 = Atomics.load(ctl, whereIdx(harts, k, WHERE.SEQ));
    for (const f of fields) snap.set(f, Atomics.load(ctl, whereIdx(harts, k, f)));
    if ((s0 & 1) === 0 && Atomics.load(ctl, whereIdx(harts, k, WHERE.SEQ)) === s0) break;
  }
  const w = (f: number): number => snap.get(f) ?? 0;
  const hex = (v: number): string => (v >>> 0).toString(16);
  const phase = VCPU_PHASE_NAMES[w(WHERE.PHASE)] ?? "?";
  const pc = `${hex(w(WHERE.PC_HI))}${hex(w(WHERE.PC_LO)).padStart(8, "0")}`;
  return (
    `report ${Atomics.load(ctl, VM_CTL.HART_BASE + k)} ${phase} pc ${pc} priv ${w(WHERE.PRIV)} mip ${hex(w(WHERE.MIP))} mie ${hex(w(WHERE.MIE))} ` +
    `slices ${w(WHERE.SLICES)} insns ${w(WHERE.INSNS) >>> 0}`
  );
}

export function createVmControl(harts: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer((VM_CTL.HART_BASE + harts + harts * WHERE_STRIDE) * 4));
}

/** Messages from a vCPU thread to the main thread. */
export type VcpuMessage =
  /** The owner built (and maybe restored) the machine; `remote`: a restored VM's other harts, for their threads. */
  | { t: "ready"; ram: SharedArrayBuffer; ramBase: number; ramSize: number; regions: { base: number; size: number; name: string }[]; firmwareEntry?: { pc: number; fdt: number }; remote?: RemoteHarts }
  | { t: "out"; bytes: Uint8Array }
  | { t: "frame"; frame: Uint8Array; gso: FrameOffload | null }
  | { t: "done"; hart: number; result: unknown }
  /** Once a second while running: every hart's exits by reason and instructions as this thread counts them (merged as mergeResults does). */
  | { t: "live"; hart: number; exits: Record<string, number>[]; instret: number[]; disk: { read: number; written: number } | null }
  /** Bytes the guest agent wrote to its port (pv). */
  | { t: "agent"; bytes: Uint8Array }
  /** The balloon's figures (pv), at most once a second and only when they changed. */
  | { t: "mem"; report: BalloonReport }
  /** The owner wrote the snapshot it was asked for (while paused), or says why it could not. */
  | { t: "saved"; ok: true; bytes: number; ramPages: number; ramPresent: number; ms: number }
  | { t: "saved"; ok: false; message: string }
  /** The owner's answer to "state" (paused VMs): the machine's state without its RAM, and a copy-on-write disk's overlay. */
  | { t: "state"; ok: true; machine: unknown; overlay: Uint8Array | null }
  | { t: "state"; ok: false; message: string }
  /** An incoming VM's owner loaded the state it was sent ("load"), or says why it could not. */
  | { t: "loaded"; ok: true; remote?: RemoteHarts }
  | { t: "loaded"; ok: false; message: string }
  /** A vCPU thread other than the owner's answers "part" (vcpu-state.ts). */
  | { t: "part"; id: number; hart: number; ok: true; part: HartPart }
  | { t: "part"; id: number; hart: number; ok: false; message: string }
  /** The owner could not build the machine; `usage`: the user's input is at fault (an image, a size). */
  | { t: "buildError"; message: string; usage: boolean };

/** Messages from the main thread to the owner thread. */
export type OwnerMessage =
  | { t: "input"; bytes: Uint8Array }
  | { t: "frame"; frame: Uint8Array; gso: FrameOffload | null }
  /** Bytes for the guest agent's port (pv). */
  | { t: "agent"; bytes: Uint8Array }
  /** Balloon (pv): a new memory target, and/or poll the guest's statistics for `statsForMs`. */
  | { t: "mem"; targetBytes?: number; statsForMs?: number }
  /**
   * Paused VMs only: write the VM's snapshot to `file` (snapshot/vm-file.ts), then answer
   * "saved". `parts[k]`: hart k's part, which its thread handed over (more than one vCPU).
   */
  | { t: "save"; file: string; info: VmSnapshotInfo; parts?: (HartPart | null)[] }
  /** Paused VMs only: answer "state" with the machine's state (a live migration's last step); `parts` as for "save". */
  | { t: "state"; parts?: (HartPart | null)[] }
  /** An incoming VM (built, not run): its RAM holds the guest's pages; load this state and run. */
  | { t: "load"; machine: unknown; overlay: Uint8Array | null };

/** Messages from the main thread to a vCPU thread other than the owner's (vcpu-state.ts). */
export type HartMessage =
  /** Paused VMs only: hand over this thread's part of the machine state, then take nothing from the link until the VM runs. */
  | { t: "part"; id: number }
  /** An incoming VM's thread (built, waiting): continue from this part, with the owner's time base. */
  | { t: "restore"; part: HartPart; time: ThreadTime };
