/**
 * Snapshots and live migration of VMs with more than one vCPU (issue 15): how the state of
 * the harts that run on vCPU threads other than the owner's travels (machine/hart-part.ts
 * says what a hart's part is).
 *
 * Saving (Vm.snapshot, Vm.machineState), with the VM paused — every thread in its paused
 * loop:
 *   1. the main thread asks each non-owner thread for its part (`askParts`); the thread
 *      answers from its paused loop (`HartPort`) and from then on takes nothing from the
 *      link until the VM runs again, so an IPI or a start request posted to it later stays
 *      in the link for the owner to save, and one it took earlier is in its part;
 *   2. the owner is sent the parts with its "save" or "state" request and saves them with
 *      hart 0, the devices and the link's words as one machine state.
 * Restoring: the owner loads the state (hart 0, devices, link, time) and answers with the
 * other harts' parts and its time base (RemoteHarts); each other thread is built with that
 * time base and loads its part before its hart runs — given in its workerData (a snapshot
 * file), or, for an incoming migration whose threads were started while the pages were
 * still arriving, sent as a "restore" message (`awaitRestore`).
 */
import { receiveMessageOnPort, type MessagePort, type Worker } from "node:worker_threads";
import type { HartPart, ThreadTime } from "../machine/hart-part.js";
import type { RemoteVcpu } from "../machine/remote-vcpu.js";
import { HartState as HsmState } from "../sbi/hsm.js";
import type { VcpuSched } from "./vcpu-sched.js";
import { VM_CTL, VmCommand, type HartMessage, type VcpuMessage } from "./vm-control.js";

export const VCPU_STATE = {
  /** How long the main thread waits for a paused thread's part (it answers within one paused-loop turn). */
  PART_TIMEOUT_MS: 5000,
  /** A waiting incoming thread looks at the VM's command at least this often. */
  WAIT_MS: 1000,
} as const;

/** A non-owner thread's side: answers "part" requests from its paused loop. */
export class HartPort {
  /** Set once this thread handed its part over: until the VM runs again it takes nothing from the link. */
  handedOut = false;

  constructor(
    private readonly port: MessagePort,
    private readonly machine: RemoteVcpu,
    private readonly post: (m: VcpuMessage) => void,
  ) {}

  /** From the paused loop: answer every request waiting in the port. */
  serve(): void {
    for (let r = receiveMessageOnPort(this.port); r !== undefined; r = receiveMessageOnPort(this.port)) {
      const m = r.message as HartMessage;
      if (m.t !== "part") continue;
      const hart = this.machine.self;
      try {
        this.post({ t: "part", id: m.id, hart, ok: true, part: this.machine.savePart() });
        this.handedOut = true;
      } catch (e) {
        this.post({ t: "part", id: m.id, hart, ok: false, message: e instanceof Error ? e.message : String(e) });
      }
    }
  }

  /** The VM runs again. */
  resumed(): void {
    this.handedOut = false;
  }
}

/**
 * An incoming VM's non-owner thread: wait (asleep on its doorbell) for the "restore" that
 * follows the owner's load; null if the VM is stopped first.
 */
export function awaitRestore(port: MessagePort, sched: VcpuSched, control: Int32Array): { part: HartPart; time: ThreadTime } | null {
  for (;;) {
    const seen = sched.bell();
    for (let r = receiveMessageOnPort(port); r !== undefined; r = receiveMessageOnPort(port)) {
      const m = r.message as HartMessage;
      if (m.t === "restore") return { part: m.part, time: m.time };
    }
    if (Atomics.load(control, VM_CTL.COMMAND) === VmCommand.STOP) return null;
    sched.waitDoorbell(VCPU_STATE.WAIT_MS, seen);
  }
}

let nextId = 1;

/**
 * The main thread's side: ask every non-owner thread of a paused VM for its part (`threads[k]`
 * runs hart k; `ring(k)` wakes it). Resolves to parts[k] for k ≥ 1 (parts[0] null: the
 * owner saves hart 0 itself); rejects with the first thread's refusal, when `ended` settles
 * first (the VM stopped), or after PART_TIMEOUT_MS.
 */
export async function askParts(threads: readonly Worker[], ring: (hart: number) => void, ended: Promise<unknown>): Promise<(HartPart | null)[]> {
  const parts: (HartPart | null)[] = threads.map(() => null);
  if (threads.length <= 1) return parts;
  const id = nextId++;
  const listeners: [Worker, (m: VcpuMessage) => void][] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    const answers = threads.slice(1).map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          const on = (m: VcpuMessage): void => {
            if (m.t !== "part" || m.id !== id) return;
            if (m.ok) {
              parts[m.hart] = m.part;
              resolve();
            } else reject(new Error(`vCPU ${m.hart} could not hand over its state: ${m.message}`));
          };
          w.on("message", on);
          listeners.push([w, on]);
        }),
    );
    threads.forEach((w, k) => {
      if (k === 0) return;
      w.postMessage({ t: "part", id } satisfies HartMessage);
      ring(k);
    });
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`a vCPU did not hand over its state within ${VCPU_STATE.PART_TIMEOUT_MS} ms`)), VCPU_STATE.PART_TIMEOUT_MS);
    });
    const stopped = ended.then(() => Promise.reject(new Error("the VM stopped")));
    // The VM ends long after this answered, usually: that rejection has no one left to tell.
    stopped.catch(() => undefined);
    await Promise.race([Promise.all(answers), late, stopped]);
    return parts;
  } finally {
    clearTimeout(timer);
    for (const [w, on] of listeners) w.off("message", on);
  }
}

/** vCPUs a pv guest has online: harts SBI HSM does not hold stopped (a restored VM's count, from its state). */
export function onlineHarts(hsm: Uint8Array): number {
  let n = 0;
  for (const s of hsm) if (s !== HsmState.STOPPED) n++;
  return n;
}
