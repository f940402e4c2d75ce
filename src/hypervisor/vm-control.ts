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

export function createVmControl(harts: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer((VM_CTL.HART_BASE + harts) * 4));
}

/** Messages from a vCPU thread to the main thread. */
export type VcpuMessage =
  | { t: "ready"; ram: SharedArrayBuffer; ramBase: number; ramSize: number; regions: { base: number; size: number; name: string }[]; firmwareEntry?: { pc: number; fdt: number } }
  | { t: "out"; bytes: Uint8Array }
  | { t: "frame"; frame: Uint8Array }
  | { t: "done"; hart: number; result: unknown }
  /** The owner could not build the machine; `usage`: the user's input is at fault (an image, a size). */
  | { t: "buildError"; message: string; usage: boolean };

/** Messages from the main thread to the owner thread. */
export type OwnerMessage = { t: "input"; bytes: Uint8Array } | { t: "frame"; frame: Uint8Array };
