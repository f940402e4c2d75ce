/**
 * Worker for smp-atomics.test.ts: one hart on its own thread over guest RAM shared with
 * the other workers (a SharedArrayBuffer), as a vCPU thread of a VM runs it. It runs the
 * hart until WFI (the test programs end in a wfi loop) or `maxInsns`, then reports.
 */
import { parentPort, workerData } from "node:worker_threads";
import { Bus } from "../mem/bus.js";
import { GuestRam } from "../mem/ram.js";
import { Hart, RunStatus } from "./hart.js";
import { jitFor, setJit } from "./jit.js";

export interface SmpJob {
  readonly sab: SharedArrayBuffer;
  readonly base: number;
  readonly size: number;
  readonly hartId: number;
  readonly entry: number;
  /** Block compiler on (default settings) or interpreter only. */
  readonly jit: boolean;
  /** Hart.smp: fences are host barriers. */
  readonly smp: boolean;
  /** Instructions per run() call. */
  readonly budget: number;
  /** Give up after this many instructions (the program did not finish). */
  readonly maxInsns: number;
}

export interface SmpReport {
  readonly hartId: number;
  /** The last run() status (RunStatus.Wfi when the program finished). */
  readonly status: number;
  readonly instret: number;
  readonly runCalls: number;
  /** Compiled blocks, and blocks with internal loops. */
  readonly blocks: number;
  readonly loops: number;
  /** Where the hart stopped, and its integer registers (lo/hi halves), for failure messages. */
  readonly pc: number;
  readonly x: number[];
}

const job = workerData as SmpJob;
const ram = new GuestRam(job.base, job.size, job.sab);
const h = new Hart(new Bus(ram), job.hartId, null);
if (!job.jit) setJit(h, null);
h.smp = job.smp;
h.setPc(job.entry);
let status: number = RunStatus.Budget;
let runCalls = 0;
while (status === RunStatus.Budget && h.instret < job.maxInsns) {
  status = h.run(job.budget);
  runCalls++;
}
const j = jitFor(h);
const report: SmpReport = {
  hartId: job.hartId,
  status,
  instret: h.instret,
  runCalls,
  blocks: j?.blocks ?? 0,
  loops: j?.loops ?? 0,
  pc: h.getPc(),
  x: Array.from(h.x.subarray(0, 64)),
};
parentPort!.postMessage(report);
