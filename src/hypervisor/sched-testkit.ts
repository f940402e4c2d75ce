/**
 * Worker threads that act as vCPUs for the scheduler's tests (and for a benchmark):
 *
 *   burn   loop { acquire; burn the CPU ~burnMs; sliceEnd } — a CPU-bound guest
 *   idle   loop { idle } — a guest in WFI with nothing pending
 *   waker  idles until the test rings it, then acquires and records the ring-to-grant
 *          latency — a guest woken by an interrupt
 *
 * All of them keep the CTL.INSIDE invariant counter: +1 while they hold a grant and are
 * "executing", so CTL.MAX_INSIDE records the most vCPUs that ever ran at once; it must
 * never exceed pcpus.
 *
 * Imported from the main thread this file only exports helpers; run as a worker
 * (new Worker(new URL("./sched-testkit.js", import.meta.url))) it runs one vCPU loop.
 */
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { monoMs } from "./sched-layout.js";
import { VcpuSched } from "./vcpu-sched.js";

export type VcpuKind = "burn" | "idle" | "waker";

/** Int32 words of the control buffer shared by one test's workers. */
export const CTL = {
  /** Workers executing now (holding a grant between acquire and sliceEnd). */
  INSIDE: 1,
  MAX_INSIDE: 2,
  /** Bumped by ringWaker(); the waker handles each value once. */
  RING_SEQ: 3,
  /** Latencies recorded so far (Float64 entries from CTLF.LATENCIES). */
  LAT_COUNT: 4,
  /** STOP_BASE + slot: set to 1 to make that slot's worker go offline and exit. */
  STOP_BASE: 64,
} as const;
const CTL_MAX_SLOTS = 256;

/** Float64 entries of the control buffer. */
export const CTLF = {
  /** monoMs() when ringWaker() rang. */
  RING_AT: 4,
  LATENCIES: (CTL.STOP_BASE + CTL_MAX_SLOTS) / 2,
} as const;
export const CTL_LATENCY_SLOTS = 4096;
const CTL_BYTES = (CTLF.LATENCIES + CTL_LATENCY_SLOTS) * 8;

export interface VcpuWorkerData {
  kind: VcpuKind;
  sched: SharedArrayBuffer;
  slot: number;
  ctl: SharedArrayBuffer;
  /** burn: ms of CPU per slice (default 1); waker: ms of work after each wake-up (default 0.2). */
  burnMs?: number;
  /** idle / waker: idle() timeout in ms (default 200). */
  idleMs?: number;
}

export function newCtl(): SharedArrayBuffer {
  return new SharedArrayBuffer(CTL_BYTES);
}

export interface VcpuWorker {
  readonly w: Worker;
  readonly slot: number;
  /** Resolves when the thread has exited. */
  readonly exited: Promise<void>;
}

/** Start one vCPU worker; resolves once it runs. */
export async function startVcpuWorker(data: VcpuWorkerData): Promise<VcpuWorker> {
  if (data.slot >= CTL_MAX_SLOTS) throw new RangeError(`slot: the test kit handles slots 0 to ${CTL_MAX_SLOTS - 1}`);
  Atomics.store(new Int32Array(data.ctl), CTL.STOP_BASE + data.slot, 0);
  const w = new Worker(new URL("./sched-testkit.js", import.meta.url), { workerData: data });
  const exited = new Promise<void>((resolve) => w.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    w.once("message", () => resolve());
    w.once("error", reject);
  });
  return { w, slot: data.slot, exited };
}

/** Ask these workers to go offline and exit, and wait until they have. */
export async function stopVcpuWorkers(ctl: SharedArrayBuffer, sched: SharedArrayBuffer, workers: readonly VcpuWorker[]): Promise<void> {
  const i32 = new Int32Array(ctl);
  for (const { slot } of workers) {
    Atomics.store(i32, CTL.STOP_BASE + slot, 1);
    VcpuSched.ring(sched, slot);
  }
  await Promise.all(workers.map((w) => w.exited));
}

/** Ring the waker in `slot`, stamping the time for its latency record. */
export function ringWaker(ctl: SharedArrayBuffer, sched: SharedArrayBuffer, slot: number): void {
  new Float64Array(ctl)[CTLF.RING_AT] = monoMs();
  Atomics.add(new Int32Array(ctl), CTL.RING_SEQ, 1);
  VcpuSched.ring(sched, slot);
}

/** The ring-to-grant latencies the waker recorded, in ms. */
export function latencies(ctl: SharedArrayBuffer): number[] {
  const n = Math.min(Atomics.load(new Int32Array(ctl), CTL.LAT_COUNT), CTL_LATENCY_SLOTS);
  return Array.from(new Float64Array(ctl, CTLF.LATENCIES * 8, n));
}

// ---- worker side

function burn(ms: number): number {
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) t = performance.now();
  return t - t0;
}

function run(d: VcpuWorkerData): void {
  const s = new VcpuSched(d.sched, d.slot);
  const ctl = new Int32Array(d.ctl);
  const ctlF = new Float64Array(d.ctl);
  const stopped = () => Atomics.load(ctl, CTL.STOP_BASE + d.slot) !== 0;
  const enter = () => {
    const n = Atomics.add(ctl, CTL.INSIDE, 1) + 1;
    for (let m = Atomics.load(ctl, CTL.MAX_INSIDE); n > m; m = Atomics.load(ctl, CTL.MAX_INSIDE)) {
      if (Atomics.compareExchange(ctl, CTL.MAX_INSIDE, m, n) === m) break;
    }
  };
  const leave = () => Atomics.sub(ctl, CTL.INSIDE, 1);
  const idleMs = d.idleMs ?? 200;

  if (d.kind === "burn") {
    const ms = d.burnMs ?? 1;
    while (!stopped()) {
      if (!s.acquire(100)) continue;
      for (;;) {
        enter();
        const ran = burn(ms);
        leave();
        if (stopped() || !s.sliceEnd(ran)) break;
      }
    }
  } else if (d.kind === "idle") {
    while (!stopped()) s.idle(idleMs);
  } else {
    const work = d.burnMs ?? 0.2;
    let handled = Atomics.load(ctl, CTL.RING_SEQ);
    while (!stopped()) {
      const bell = s.bell();
      const seq = Atomics.load(ctl, CTL.RING_SEQ);
      if (seq === handled) {
        s.idle(idleMs, bell);
        continue;
      }
      handled = seq;
      const at = ctlF[CTLF.RING_AT]!;
      while (!s.acquire(100) && !stopped());
      if (!s.holdsGrant) break;
      const n = Atomics.load(ctl, CTL.LAT_COUNT);
      if (n < CTL_LATENCY_SLOTS) ctlF[CTLF.LATENCIES + n] = monoMs() - at;
      Atomics.store(ctl, CTL.LAT_COUNT, n + 1);
      enter();
      const ran = burn(work);
      leave();
      s.sliceEnd(ran);
    }
  }
  s.offline();
}

if (!isMainThread && parentPort !== null && (workerData as VcpuWorkerData | null)?.sched !== undefined) {
  parentPort.postMessage("ready");
  run(workerData as VcpuWorkerData);
}
