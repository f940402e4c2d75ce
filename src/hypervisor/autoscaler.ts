/**
 * The autoscaler: once a second it reads what the hypervisor measures for each opted-in VM
 * and moves capacity toward the VMs that need it, within each VM's limits
 * (autoscale-limits.ts):
 *
 * - CPU. From the scheduler's counters: the VM's runnable fraction (time running or
 *   waiting for a core, over all its online vCPUs) and its steal (waiting / runnable).
 *   A VM is *hot* when it was ≥ 85% runnable for HOT_SAMPLES seconds in a row, *cold* when
 *   ≤ 25% for COLD_SAMPLES. Hot and held at its cap → the cap doubles; hot and losing time
 *   to other VMs (steal ≥ 20%) → its weight doubles; hot with no steal (the host has room)
 *   and fewer vCPUs online than allowed → one more vCPU. Cold undoes one step at a time,
 *   in the reverse order, never below the limits' minimum.
 * - Memory. From the balloon's statistics (the guest's available memory, major faults):
 *   under pressure (available < 10% of its usable memory, or major faults) the balloon
 *   gives back max(64 MiB, 25%); with plenty (available > 50% for COLD_SAMPLES) it takes
 *   what is above 30%, in steps of at least 16 MiB. Growth needs room in the host memory
 *   budget: when there is none, the decision says so and nothing changes.
 *
 * Hysteresis: a decision for a VM starts a cooldown (COOLDOWN_MS) for that VM, and the
 * hot/cold streaks start over, so it never flaps between two values each second. Every
 * decision is a "decision" event whose reason is in words, e.g.
 * "weight 256→512: runnable 98%, steal 41% for 3 s".
 *
 * The autoscaler only decides and calls the same live-change methods the API uses
 * (setWeight, setCap, setVcpus, setMemoryTarget); it keeps no other hold on a VM.
 */
import { EventEmitter } from "node:events";
import type { AutoscaleLimits } from "./autoscale-limits.js";

export const AUTOSCALE = {
  PERIOD_MS: 1000,
  HOT_RUNNABLE: 0.85,
  COLD_RUNNABLE: 0.25,
  HOT_SAMPLES: 2,
  COLD_SAMPLES: 4,
  STEAL_CONTENDED: 0.2,
  /** At its cap when the share received is this close to it. */
  AT_CAP: 0.85,
  COOLDOWN_MS: 3000,
  MEM_PRESSURE_AVAILABLE: 0.1,
  MEM_PLENTY_AVAILABLE: 0.5,
  MEM_KEEP_AVAILABLE: 0.3,
  MEM_GROW_MIN_BYTES: 64 * 1024 * 1024,
  MEM_GROW_FRACTION: 0.25,
  MEM_STEP_MIN_BYTES: 16 * 1024 * 1024,
  /** Major faults per second that count as memory pressure on their own. */
  MAJOR_FAULTS_PER_S: 50,
} as const;

export type AutoscaleResource = "weight" | "cap" | "vcpus" | "memory";

export interface AutoscaleDecision {
  readonly vm: string;
  readonly resource: AutoscaleResource;
  readonly from: number;
  readonly to: number;
  /** Why, in words: "weight 256→512: runnable 98%, steal 41% for 3 s". */
  readonly reason: string;
  /** False when the change was refused (no room in the budget, the agent did not answer…). */
  readonly applied: boolean;
  readonly at: number;
}

/** What the autoscaler needs of a VM (Vm implements it; tests use fakes). */
export interface AutoscaleVm {
  readonly name: string;
  readonly state: string;
  schedStats(): { readonly cpuMs: number; readonly waitMs: number; readonly idleMs: number; readonly share: number } | null;
  readonly settings: { readonly weight: number; readonly cap: number };
  setWeight(weight: number): void;
  setCap(cap: number): void;
  readonly vcpus?: { readonly online: number; readonly max: number };
  setVcpus?(n: number): Promise<unknown>;
  memoryStats?(): {
    readonly ramBytes: number;
    readonly balloonBytes: number;
    readonly guest: { readonly available?: number; readonly majorFaults?: number } | null;
  } | null;
  setMemoryTarget?(bytes: number): unknown;
}

interface Track {
  limits: AutoscaleLimits;
  last: { cpuMs: number; waitMs: number; idleMs: number; at: number; majorFaults: number | null } | null;
  hot: number;
  cold: number;
  plenty: number;
  runnable: number;
  steal: number;
  /** Cores received over the scheduler's last second, as of the last sample. */
  share: number;
  faultsPerS: number;
  cooldownUntil: number;
  busy: boolean;
}

const MiB = 1024 * 1024;
const pct = (f: number): string => `${Math.round(f * 100)}%`;

export class Autoscaler extends EventEmitter {
  private readonly tracks = new Map<string, Track>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly vms: { get(name: string): AutoscaleVm | undefined }) {
    super();
  }

  /** Opt a VM in (or change its limits); null opts it out. Limits are validated by the caller (autoscaleProblems). */
  set(vm: string, limits: AutoscaleLimits | null): void {
    if (limits === null) this.tracks.delete(vm);
    else {
      const t = this.tracks.get(vm);
      if (t) t.limits = limits;
      else this.tracks.set(vm, { limits, last: null, hot: 0, cold: 0, plenty: 0, runnable: 0, steal: 0, share: 0, faultsPerS: 0, cooldownUntil: 0, busy: false });
    }
  }

  limits(vm: string): AutoscaleLimits | null {
    return this.tracks.get(vm)?.limits ?? null;
  }

  start(periodMs: number = AUTOSCALE.PERIOD_MS): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(performance.now()), periodMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One round: sample every opted-in VM, decide, apply. Exposed for tests (`now` in ms). */
  tick(now: number): void {
    for (const [name, t] of this.tracks) {
      const vm = this.vms.get(name);
      if (!vm || vm.state !== "running") {
        t.last = null;
        t.hot = t.cold = t.plenty = 0;
        continue;
      }
      if (!this.sample(vm, t, now)) continue;
      if (now < t.cooldownUntil || t.busy) continue;
      const d = this.decideCpu(vm, t) ?? this.decideMemory(vm, t);
      if (d) this.apply(vm, t, d, now);
    }
  }

  private sample(vm: AutoscaleVm, t: Track, now: number): boolean {
    const s = vm.schedStats();
    if (!s) return false;
    const mem = vm.memoryStats?.() ?? null;
    const majorFaults = mem?.guest?.majorFaults ?? null;
    const prev = t.last;
    t.last = { cpuMs: s.cpuMs, waitMs: s.waitMs, idleMs: s.idleMs, at: now, majorFaults };
    if (!prev) return false;
    const run = s.cpuMs - prev.cpuMs;
    const wait = s.waitMs - prev.waitMs;
    const idle = s.idleMs - prev.idleMs;
    const total = run + wait + idle;
    if (total <= 0) return false;
    t.runnable = (run + wait) / total;
    t.share = s.share;
    t.steal = run + wait > 0 ? wait / (run + wait) : 0;
    t.hot = t.runnable >= AUTOSCALE.HOT_RUNNABLE ? t.hot + 1 : 0;
    t.cold = t.runnable <= AUTOSCALE.COLD_RUNNABLE ? t.cold + 1 : 0;
    t.faultsPerS = majorFaults !== null && prev.majorFaults !== null ? ((majorFaults - prev.majorFaults) * 1000) / (now - prev.at) : 0;
    return true;
  }

  private decideCpu(vm: AutoscaleVm, t: Track): Omit<AutoscaleDecision, "applied" | "at" | "vm"> | null {
    const cpu = t.limits.cpu;
    if (!cpu) return null;
    const { weight, cap } = vm.settings;
    const share = t.share;
    const vcpus = vm.vcpus;
    const why = (streak: number): string => `runnable ${pct(t.runnable)}, steal ${pct(t.steal)} for ${streak} s`;
    if (t.hot >= AUTOSCALE.HOT_SAMPLES) {
      if (cpu.cap && cap > 0 && cap < cpu.cap.max && share >= (AUTOSCALE.AT_CAP * cap) / 100) {
        const to = Math.min(cpu.cap.max, cap * 2);
        return { resource: "cap", from: cap, to, reason: `cap ${cap}%→${to}%: ${why(t.hot)}, held at its cap (${share.toFixed(2)} cores)` };
      }
      if (cpu.weight && t.steal >= AUTOSCALE.STEAL_CONTENDED && weight < cpu.weight.max) {
        const to = Math.min(cpu.weight.max, weight * 2);
        return { resource: "weight", from: weight, to, reason: `weight ${weight}→${to}: ${why(t.hot)}` };
      }
      if (cpu.vcpus && vcpus && vm.setVcpus && t.steal < AUTOSCALE.STEAL_CONTENDED && vcpus.online < Math.min(cpu.vcpus.max, vcpus.max)) {
        const to = vcpus.online + 1;
        return { resource: "vcpus", from: vcpus.online, to, reason: `vcpus ${vcpus.online}→${to}: ${why(t.hot)}, every online vCPU busy and the host has room` };
      }
    }
    if (t.cold >= AUTOSCALE.COLD_SAMPLES) {
      const idle = `runnable ${pct(t.runnable)} for ${t.cold} s`;
      if (cpu.vcpus && vcpus && vm.setVcpus && vcpus.online > cpu.vcpus.min) {
        return { resource: "vcpus", from: vcpus.online, to: vcpus.online - 1, reason: `vcpus ${vcpus.online}→${vcpus.online - 1}: ${idle}` };
      }
      if (cpu.weight && weight > cpu.weight.min) {
        const to = Math.max(cpu.weight.min, Math.floor(weight / 2));
        return { resource: "weight", from: weight, to, reason: `weight ${weight}→${to}: ${idle}` };
      }
      if (cpu.cap && cap > cpu.cap.min) {
        const to = Math.max(cpu.cap.min, Math.floor(cap / 2));
        return { resource: "cap", from: cap, to, reason: `cap ${cap}%→${to}%: ${idle}` };
      }
    }
    return null;
  }

  private decideMemory(vm: AutoscaleVm, t: Track): Omit<AutoscaleDecision, "applied" | "at" | "vm"> | null {
    const lim = t.limits.memory;
    const mem = vm.memoryStats?.() ?? null;
    if (!lim || !mem || !mem.guest || mem.guest.available === undefined || !vm.setMemoryTarget) return null;
    const usable = mem.ramBytes - mem.balloonBytes;
    const avail = mem.guest.available;
    const faultsPerS = t.faultsPerS;
    const m = (b: number): string => `${Math.round(b / MiB)} MiB`;
    const pressure = avail < AUTOSCALE.MEM_PRESSURE_AVAILABLE * usable || faultsPerS > AUTOSCALE.MAJOR_FAULTS_PER_S;
    t.plenty = avail > AUTOSCALE.MEM_PLENTY_AVAILABLE * usable ? t.plenty + 1 : 0;
    const cap = Math.min(lim.max, mem.ramBytes);
    if (pressure && usable < cap) {
      const to = floorMiB(Math.min(cap, usable + Math.max(AUTOSCALE.MEM_GROW_MIN_BYTES, usable * AUTOSCALE.MEM_GROW_FRACTION)));
      const what = faultsPerS > AUTOSCALE.MAJOR_FAULTS_PER_S ? `${Math.round(faultsPerS)} major faults/s` : `available ${m(avail)} of ${m(usable)} (${pct(avail / usable)})`;
      return { resource: "memory", from: usable, to, reason: `memory ${m(usable)}→${m(to)}: ${what}` };
    }
    if (t.plenty >= AUTOSCALE.COLD_SAMPLES && usable > lim.min) {
      const to = floorMiB(Math.max(lim.min, usable - (avail - AUTOSCALE.MEM_KEEP_AVAILABLE * usable)));
      if (usable - to >= AUTOSCALE.MEM_STEP_MIN_BYTES) {
        return { resource: "memory", from: usable, to, reason: `memory ${m(usable)}→${m(to)}: available ${m(avail)} of ${m(usable)} (${pct(avail / usable)}) for ${t.plenty} s` };
      }
    }
    return null;
  }

  private apply(vm: AutoscaleVm, t: Track, d: Omit<AutoscaleDecision, "applied" | "at" | "vm">, now: number): void {
    t.cooldownUntil = now + AUTOSCALE.COOLDOWN_MS;
    t.hot = t.cold = t.plenty = 0;
    const emit = (applied: boolean, why?: string): void => {
      const decision: AutoscaleDecision = { vm: vm.name, ...d, reason: why ? `${d.reason} — not applied: ${why}` : d.reason, applied, at: Date.now() };
      this.emit("decision", decision);
    };
    try {
      if (d.resource === "weight") vm.setWeight(d.to);
      else if (d.resource === "cap") vm.setCap(d.to);
      else if (d.resource === "memory") vm.setMemoryTarget!(d.to);
      else {
        // vCPU changes go through the guest agent and take a while: one at a time per VM.
        t.busy = true;
        void vm
          .setVcpus!(d.to)
          .then(
            () => emit(true),
            (e: unknown) => emit(false, (e as Error).message),
          )
          .finally(() => (t.busy = false));
        return;
      }
      emit(true);
    } catch (e) {
      emit(false, (e as Error).message);
    }
  }
}

function floorMiB(bytes: number): number {
  return Math.floor(bytes / MiB) * MiB;
}
