/**
 * What the daemon measures once a second: each VM's figures as `VmMetrics` (docs/api.md),
 * made by top-table.ts's MetricsSampler from the hypervisor's counters (rates from two
 * samples), kept as the latest per VM and sent to the metrics stream's viewers.
 */
import type { Vm } from "../../hypervisor/vm.js";
import { MetricsSampler, type VmMetrics, type VmProbe } from "../top-table.js";
import type { Vmm } from "./vmm.js";

export const METRICS_INTERVAL_MS = 1000;

/** One VM's figures over the last second (docs/api.md, "VmMetrics"). */
export interface ApiVmMetrics {
  readonly vm: string;
  /** When sampled (ms since the epoch). */
  readonly at: number;
  readonly state: string;
  readonly cpuPct: number | null;
  readonly entitlementPct: number | null;
  readonly stealPct: number | null;
  readonly weight: number | null;
  readonly cap: number | null;
  readonly vcpus: { readonly online: number; readonly max: number };
  readonly ramBytes: number;
  readonly balloonBytes: number | null;
  readonly availableBytes: number | null;
  readonly netRxBps: number | null;
  readonly netTxBps: number | null;
  /** Exits per second by reason, from the vCPU threads' live reports (null until two of them). */
  readonly exitsPerS: Record<string, number> | null;
  /** The guest disk's bytes per second (null without a disk or before two reports), and the guest's MIPS. */
  readonly diskReadBps: number | null;
  readonly diskWriteBps: number | null;
  readonly mips: number | null;
}

export interface MetricsFrame {
  readonly at: number;
  readonly vms: readonly ApiVmMetrics[];
}

export class Telemetry {
  private readonly sampler = new MetricsSampler(performance.now());
  private readonly last = new Map<string, ApiVmMetrics>();
  private timer: NodeJS.Timeout | null = null;
  private frame: MetricsFrame = { at: Date.now(), vms: [] };

  constructor(private readonly vmm: Vmm) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), METRICS_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Sample every VM now (the timer's step; tests call it directly). */
  tick(): MetricsFrame {
    const at = Date.now();
    const vms = [...this.vmm.records.values()].map((r) => r.vm);
    const sampled = this.sampler.sample(vms.map((vm) => this.probe(vm)), performance.now());
    for (const name of this.last.keys()) if (!this.vmm.records.has(name)) this.last.delete(name);
    const out = sampled.map((m) => this.toApi(m, at));
    for (const m of out) this.last.set(m.vm, m);
    this.frame = { at, vms: out };
    this.vmm.emit("metrics", this.frame);
    return this.frame;
  }

  latestFrame(): MetricsFrame {
    return this.frame;
  }

  /** The VM's latest sample, if it has one. */
  peek(name: string): ApiVmMetrics | null {
    return this.last.get(name) ?? null;
  }

  /** The VM's latest sample (sampled now if it has none yet). */
  latest(name: string): ApiVmMetrics {
    return this.last.get(name) ?? this.tick().vms.find((m) => m.vm === name)!;
  }

  private toApi(m: VmMetrics, at: number): ApiVmMetrics {
    const view = this.vmm.view(m.vm);
    return {
      vm: m.vm,
      at,
      state: view.state,
      cpuPct: m.cpuPct,
      entitlementPct: m.entitlementPct,
      stealPct: m.stealPct,
      weight: m.weight ?? view.settings.weight,
      cap: m.cap ?? view.settings.cap,
      vcpus: view.settings.vcpus,
      ramBytes: m.mem.ramBytes,
      balloonBytes: m.mem.balloonBytes,
      availableBytes: m.mem.guestAvailableBytes,
      netRxBps: m.net?.rxBytesPerS ?? null,
      netTxBps: m.net?.txBytesPerS ?? null,
      exitsPerS: m.exitsPerS,
      diskReadBps: m.disk?.readBytesPerS ?? null,
      diskWriteBps: m.disk?.writeBytesPerS ?? null,
      mips: m.mips,
    };
  }

  /** As `paravm up` reads a VM (up-command.ts): scheduler figures, vCPUs, balloon (pv, live), switch port. */
  private probe(vm: Vm): VmProbe {
    const port = this.vmm.hv.port(vm.name);
    const live = vm.state === "running" || vm.state === "paused";
    let mem: VmProbe["mem"] = { ramBytes: vm.spec.memBytes, balloonBytes: null, guestAvailableBytes: null };
    if (vm.spec.profile === "pv" && live) {
      const s = vm.memoryStats();
      mem = { ramBytes: s.ramBytes, balloonBytes: s.balloonBytes, guestAvailableBytes: s.guest?.available ?? null };
    }
    return { name: vm.name, state: vm.state, sched: vm.schedStats(), vcpus: vm.vcpus, mem, port: port ? port.port.stats : null, counters: vm.liveCounters() };
  }
}
