/**
 * Where vCPU threads come from. A worker_thread spends most of its start loading the
 * machine's modules: measured here, a bare worker answers in 30–40 ms, one that has loaded
 * the machine in 115–195 ms (2-core host, one core busy). A restore or a clone would pay
 * that on its critical path, before the first guest instruction; a daemon instead keeps
 * `spares` threads started ahead. A spare is started without workerData, loads its modules
 * and waits for one "boot" message carrying what workerData would have held
 * (vcpu-worker.ts), so a VM that takes it only pays for the message.
 *
 * Spares do not keep the process alive (they are unref'd until taken), and one that dies
 * before it is taken is dropped and replaced on the next take. A taken thread is not named
 * after its VM (a worker's name is fixed when it starts): it is "paravm/vcpu".
 */
import { Worker } from "node:worker_threads";
import { VM_DEFAULTS } from "./vm-types.js";
import type { VcpuWorkerData } from "./vcpu-worker.js";

const WORKER_URL = new URL("./vcpu-worker.js", import.meta.url);

/** The one message a spare thread waits for; vcpu-worker.ts reads it before anything else. */
export interface BootMessage {
  readonly t: "boot";
  readonly data: VcpuWorkerData;
}

export const VCPU_THREADS = {
  /** Spares a daemon keeps by default: a restore or migration of a 1-vCPU VM finds its thread ready. */
  DAEMON_SPARES: 1,
  /** At most this many spares (each holds a V8 isolate of some tens of MiB). */
  MAX_SPARES: 8,
} as const;

const OPTIONS = { resourceLimits: { maxYoungGenerationSizeMb: VM_DEFAULTS.VCPU_YOUNG_GENERATION_MB } } as const;

export class VcpuThreads {
  private readonly idle: Worker[] = [];
  private closed = false;
  /** Threads handed out that had been started ahead (for tests and stats). */
  taken = 0;

  constructor(readonly spares = 0) {
    if (!Number.isInteger(spares) || spares < 0 || spares > VCPU_THREADS.MAX_SPARES) {
      throw new RangeError(`spare vCPU threads: ${spares}, expected an integer in 0..${VCPU_THREADS.MAX_SPARES}`);
    }
    this.fill();
  }

  /** A thread running vcpu-worker.ts with `data`: a spare when one is ready, else a new one named `name`. */
  spawn(data: VcpuWorkerData, name: string): Worker {
    const w = this.idle.shift();
    this.fill();
    if (w === undefined) return new Worker(WORKER_URL, { workerData: data, name, ...OPTIONS });
    w.removeAllListeners();
    w.ref();
    w.postMessage({ t: "boot", data } satisfies BootMessage);
    this.taken++;
    return w;
  }

  /** Spares waiting now. */
  get ready(): number {
    return this.idle.length;
  }

  /** End the spares; spawn() starts no more. */
  async close(): Promise<void> {
    this.closed = true;
    const idle = this.idle.splice(0);
    await Promise.all(idle.map((w) => w.terminate()));
  }

  private fill(): void {
    while (!this.closed && this.idle.length < this.spares) {
      const w = new Worker(WORKER_URL, { name: "paravm/vcpu", ...OPTIONS });
      w.unref();
      const drop = (): void => {
        const i = this.idle.indexOf(w);
        if (i >= 0) this.idle.splice(i, 1);
      };
      // A spare that fails to start is dropped here; the next take starts another.
      w.once("error", drop);
      w.once("exit", drop);
      this.idle.push(w);
    }
  }
}

/** The threads of VMs made outside a hypervisor that keeps spares: each started when needed. */
export const ON_DEMAND_THREADS = new VcpuThreads(0);
