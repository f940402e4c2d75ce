/**
 * What a VM is and says, apart from the Vm class itself (vm.ts): its states and events, how
 * a run ended, the figures it reports, its options and its errors.
 */
import type { FrameOffload } from "../devices/virtio/net/device.js";
import type { FullResult } from "../machine/full.js";
import type { BalloonReport } from "../machine/pv-balloon.js";
import type { PvResult } from "../machine/pv.js";
import type { ReclaimMode } from "../mem/host-memory.js";
import type { DiskClaims } from "./disk-claims.js";
import type { MachineSpec } from "./machine-spec.js";
import type { MemoryPool } from "./memory-pool.js";
import type { CreditScheduler } from "./scheduler.js";
import type { VcpuThreads } from "./vcpu-threads.js";

export type VmState = "created" | "running" | "paused" | "stopped" | "crashed";

export interface VmEvent {
  readonly vm: string;
  readonly state: VmState;
  /** Why (crashes, and how a run ended). */
  readonly reason?: string;
  readonly at: number;
}

/** How a run of the VM ended: the merged result of its threads, or the crash. */
export type VmOutcome =
  | { readonly kind: "stopped"; readonly result: PvResult | FullResult }
  | { readonly kind: "crashed"; readonly reason: string };

/** Scheduler figures for one VM, as `--stats` and the API report them (README: "--stats"). */
export interface VmSchedStats {
  readonly weight: number;
  readonly cap: number;
  /** Host CPU time received (ms), time runnable but waiting for a core (= steal), time idle. */
  readonly cpuMs: number;
  readonly waitMs: number;
  readonly idleMs: number;
  /** Cores received over the last second, and the cores the VM is entitled to now. */
  readonly share: number;
  readonly entitlement: number;
  readonly vcpus: readonly { readonly vcpu: number; readonly cpuMs: number; readonly waitMs: number; readonly idleMs: number; readonly state: string }[];
}

/** Vm.memoryStats(): the balloon's latest figures (README: "--stats", balloon). */
export type VmMemoryStats = Omit<BalloonReport, "reclaim"> & {
  /** "virtio-balloon" (pv) or "none" (full: no balloon; the figures are RAM and zeros). */
  readonly device: "virtio-balloon" | "none";
  readonly reclaim: ReclaimMode;
};

export const VM_DEFAULTS = {
  /** Instructions per slice on a vCPU thread: about a millisecond at tens of MIPS. */
  SLICE: 50_000,
  /** How long pause waits for every thread to report that it stopped. */
  PAUSE_TIMEOUT_MS: 5000,
  /** How long stop waits for every thread before it terminates the stragglers. */
  STOP_TIMEOUT_MS: 5000,
  /** How long the other threads of a crashed VM get to stop before they are terminated. */
  CRASH_GRACE_MS: 1000,
  /**
   * Young-generation size of each vCPU thread's V8 isolate. The run loop allocates almost
   * nothing per instruction, so a small nursery costs no measurable CPU (a boot plus a
   * 100,000-turn shell loop: 28.6 s of CPU against 28.2 s, alternated runs, within noise)
   * and saves ~12 MiB of host memory per vCPU (bench:elastic part 2: 67–68 → 56 MiB per VM).
   */
  VCPU_YOUNG_GENERATION_MB: 4,
  /** memoryStats() keeps the guest's statistics polled for this long after each call. */
  MEM_STATS_LEASE_MS: 10_000,
} as const;

/** A network port for the VM's NIC, on the hypervisor's switch (main thread). */
export interface VmNetPort {
  send(frame: Uint8Array, gso: FrameOffload | null): void;
  onReceive(cb: (frame: Uint8Array, gso: FrameOffload | null) => boolean): void;
}

export interface VmOptions {
  readonly name: string;
  readonly spec: MachineSpec;
  readonly scheduler: CreditScheduler;
  readonly weight?: number;
  readonly cap?: number;
  readonly net?: VmNetPort;
  /** Console input may come (default true); false: a 1-vCPU VM without a NIC that waits with no timer armed is stopped ("wfiDeadlock"). */
  readonly waitsForInput?: boolean;
  /** Fault injection (tests): vCPU `hart`'s thread throws after `ms` of running. */
  readonly injectFault?: { readonly hart: number; readonly ms: number };
  /** The host memory budget the VM is admitted against at start (none: not accounted). */
  readonly memory?: MemoryPool;
  /** The disk files the hypervisor's running VMs hold: a disk another VM writes is refused at start. */
  readonly disks?: DiskClaims;
  /** Where its vCPU threads come from (default: each started when needed). */
  readonly threads?: VcpuThreads;
}

/** The machine could not be built; `usage` when the spec is at fault (a bad image, too little memory). */
export class VmBuildError extends Error {
  constructor(
    message: string,
    readonly usage: boolean,
  ) {
    super(message);
    this.name = "VmBuildError";
  }
}

/** A snapshot that cannot be taken or written; the message says why. */
export class VmSnapshotError extends Error {
  override readonly name = "VmSnapshotError";
}

export interface VmSnapshotResult {
  readonly file: string;
  readonly bytes: number;
  /** Guest RAM pages, and how many of them were written (the rest were zero). */
  readonly ramPages: number;
  readonly ramPresent: number;
  /** The owner thread's time to save and write the file. */
  readonly writeMs: number;
  /** How long the guest did not run because of the snapshot (0 added for a VM that was paused already). */
  readonly pausedMs: number;
}

