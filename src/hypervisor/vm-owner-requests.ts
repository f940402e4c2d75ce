/**
 * Requests to a VM's owner vCPU thread that it answers with one message (vm-control.ts):
 * write a snapshot ("save" → "saved"), hand out the paused machine's state ("state" →
 * "state"), load a migrated state ("load" → "loaded"). One at a time per VM: a second
 * request while one is under way is refused, as two snapshots or a snapshot during a
 * migration's last step would interleave on the owner.
 */
import type { VmOutcome } from "./vm-types.js";
import type { OwnerMessage, VcpuMessage } from "./vm-control.js";

type Answer = "saved" | "state" | "loaded";
type Reply<T extends Answer> = Extract<VcpuMessage, { t: T }>;
/** The owner's answer, or the run ended first (the same shape as the owner's own refusal). */
export type OwnerReply<T extends Answer> = Reply<T> | { t: T; ok: false; message: string };

export class OwnerRequests {
  private waiter: ((m: VcpuMessage) => void) | null = null;

  constructor(
    private readonly name: string,
    private readonly send: (msg: OwnerMessage) => void,
    private readonly ended: () => Promise<VmOutcome>,
  ) {}

  /** True while a request waits for its answer. */
  get busy(): boolean {
    return this.waiter !== null;
  }

  /** A message from the owner: the answer to the request under way, if it is one. */
  answer(m: VcpuMessage): void {
    if (m.t === "saved" || m.t === "state" || m.t === "loaded") this.waiter?.(m);
  }

  /** Send `msg` and wait for its `answer`, or the end of the run (then `ended` says how). */
  async ask<T extends Answer>(msg: OwnerMessage, answer: T, ended: (o: VmOutcome) => string): Promise<OwnerReply<T>> {
    if (this.waiter) throw new Error(`VM ${this.name}: another request to its owner thread is under way`);
    try {
      const got = new Promise<Reply<T>>((resolve) => (this.waiter = (m) => m.t === answer && resolve(m as Reply<T>)));
      const end = this.ended().then((o) => ({ t: answer, ok: false as const, message: ended(o) }));
      this.send(msg);
      return await Promise.race([got, end]);
    } finally {
      this.waiter = null;
    }
  }
}
