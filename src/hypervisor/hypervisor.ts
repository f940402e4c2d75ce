/**
 * The hypervisor: the fleet of VMs on this host, the credit scheduler that shares the
 * host's cores among their vCPU threads, and the virtual networks between them. The CLI's
 * `run` and `multi` (and later the API) are thin users of this class.
 *
 * Every VM state change is re-emitted here as an "event" (VmEvent), so one subscription
 * sees the whole fleet.
 */
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { macFromName } from "../devices/virtio/net/mac.js";
import { Networks } from "../net/switch.js";
import { SwitchBackend } from "../net/switch-backend.js";
import type { MachineSpec } from "./machine-spec.js";
import { autoscaleProblems, type AutoscaleLimits } from "./autoscale-limits.js";
import { Autoscaler, type AutoscaleDecision } from "./autoscaler.js";
import { DiskClaims } from "./disk-claims.js";
import { AdmissionError, defaultBudget, mib, MemoryPool, specChargeBytes } from "./memory-pool.js";
import { checkCap, checkWeight, CreditScheduler } from "./scheduler.js";
import { SnapshotError } from "./snapshot/format.js";
import { VcpuThreads } from "./vcpu-threads.js";
import { diskProblem, readVmSnapshot, restoreOf } from "./snapshot/vm-file.js";
import { Vm, type VmEvent, type VmSchedStats } from "./vm.js";

export type { AutoscaleDecision, AutoscaleLimits, VmSchedStats };

export interface HypervisorOptions {
  /** Host cores the scheduler hands out (default: all of this host's). */
  readonly pcpus?: number;
  readonly networks?: Networks;
  /** The host memory budget VMs are admitted against (default: memory-pool.ts defaultBudget). */
  readonly hostMemBytes?: number;
  /**
   * vCPU threads kept started ahead (vcpu-threads.ts), so a restore, clone or incoming
   * migration does not wait for a thread to load its modules (default 0: each started when needed).
   */
  readonly spareThreads?: number;
}

export interface CreateVm {
  readonly name: string;
  readonly spec: MachineSpec;
  readonly weight?: number;
  readonly cap?: number;
  /** Plug the VM's NIC (spec.net) into this network's switch, on a port named after the VM. */
  readonly network?: string;
  /** See VmOptions.waitsForInput. */
  readonly waitsForInput?: boolean;
  /** See VmOptions.injectFault (tests). */
  readonly injectFault?: { readonly hart: number; readonly ms: number };
}

export interface RestoreOptions {
  /** The restored VM's name (default: the saved one). */
  readonly name?: string;
  readonly network?: string;
  readonly waitsForInput?: boolean;
  /** Called with the VM before its guest runs again (attach console listeners here). */
  readonly onCreate?: (vm: Vm) => void;
  /**
   * Restore as a clone: a MAC of its own (from its name) and, through the guest agent, its
   * name as host name, that MAC on eth0, `ip` (CIDR) as its address, fresh entropy. A
   * writable disk cannot be shared by clones and is refused.
   */
  readonly clone?: { readonly ip?: string };
}

/** Random bytes each clone's guest mixes into its pool. */
const CLONE_SEED_BYTES = 64;
const CLONE_TELL_MS = 60_000;

export class Hypervisor extends EventEmitter {
  readonly scheduler: CreditScheduler;
  readonly networks: Networks;
  /** The host memory budget; every running VM holds a charge in it. */
  readonly memory: MemoryPool;
  /** Where the budget came from ("--host-mem", or the share of available memory): printed at start. */
  readonly memorySource: string;
  readonly vms = new Map<string, Vm>();
  /** Which running VM holds which disk file: one writer, or any number of readers. */
  readonly disks = new DiskClaims();
  /** Moves CPU and memory among opted-in VMs (setAutoscale); its decisions are "decision" events here. */
  readonly autoscaler: Autoscaler;
  /** Where VMs' vCPU threads come from, some started ahead (HypervisorOptions.spareThreads). */
  readonly threads: VcpuThreads;
  private readonly ports = new Map<string, SwitchBackend>();
  private readonly networkNames = new Map<string, string>();

  constructor(options: HypervisorOptions = {}) {
    super();
    // The scheduler's default is this host's cores.
    this.scheduler = new CreditScheduler(options.pcpus !== undefined ? { pcpus: options.pcpus } : {});
    this.scheduler.start();
    this.threads = new VcpuThreads(options.spareThreads ?? 0);
    this.networks = options.networks ?? new Networks();
    const budget = options.hostMemBytes !== undefined ? { bytes: options.hostMemBytes, source: "--host-mem" } : defaultBudget();
    this.memory = new MemoryPool(budget.bytes);
    this.memorySource = budget.source;
    this.autoscaler = new Autoscaler({ get: (name) => this.vms.get(name) });
    this.autoscaler.on("decision", (d: AutoscaleDecision) => this.emit("decision", d));
  }

  /**
   * Opt a VM into the autoscaler with these limits (null: opt out). Every problem with the
   * limits is listed in one error, and nothing changes.
   */
  setAutoscale(name: string, limits: AutoscaleLimits | null): void {
    const vm = this.get(name);
    if (limits !== null) {
      const problems = autoscaleProblems(limits, { memBytes: vm.spec.memBytes, maxCpus: vm.spec.cpus });
      if (problems.length > 0) throw new RangeError(`VM ${name}: ${problems.join("; ")}`);
    }
    this.autoscaler.set(name, limits);
    if (limits !== null) this.autoscaler.start();
  }

  /** Add a VM (not started). Names are unique; bad settings throw before anything changes. */
  create(c: CreateVm): Vm {
    if (this.vms.has(c.name)) throw new Error(`a VM named "${c.name}" already exists`);
    if (c.weight !== undefined) checkWeight(c.weight);
    if (c.cap !== undefined) checkCap(c.cap);
    const charge = specChargeBytes(c.spec);
    if (charge > this.memory.budgetBytes) {
      throw new AdmissionError(
        `VM ${c.name} needs ${mib(charge)} of host memory (RAM plus overhead), more than the whole ${mib(this.memory.budgetBytes)} budget`,
        charge,
        this.memory.freeBytes,
        this.memory.budgetBytes,
      );
    }
    let port: SwitchBackend | undefined;
    if (c.network !== undefined) {
      if (!c.spec.net) throw new Error(`VM ${c.name}: a network needs a NIC in the machine spec`);
      port = new SwitchBackend(this.networks.get(c.network), c.name);
      this.ports.set(c.name, port);
      this.networkNames.set(c.name, c.network);
    }
    const vm = new Vm({
      name: c.name,
      spec: c.spec,
      scheduler: this.scheduler,
      memory: this.memory,
      disks: this.disks,
      threads: this.threads,
      ...(c.weight !== undefined ? { weight: c.weight } : {}),
      ...(c.cap !== undefined ? { cap: c.cap } : {}),
      ...(port ? { net: port } : {}),
      ...(c.waitsForInput !== undefined ? { waitsForInput: c.waitsForInput } : {}),
      ...(c.injectFault ? { injectFault: c.injectFault } : {}),
    });
    vm.on("state", (e: VmEvent) => this.emit("event", e));
    this.vms.set(c.name, vm);
    return vm;
  }

  /**
   * A VM continued from a snapshot file (snapshot/vm-file.ts), running when this resolves:
   * named as saved unless `name` is given, with the saved scheduler settings. Everything is
   * checked before the VM exists (the file whole, its disk unchanged, the name free, the
   * memory budget); a state the new machine refuses removes the VM again, so a refused
   * restore leaves nothing behind. Throws SnapshotError or VmBuildError with the reason.
   */
  async restore(file: string, opts: RestoreOptions = {}): Promise<Vm> {
    const snap = readVmSnapshot(file);
    const disk = diskProblem(snap.info);
    if (disk !== null) throw new SnapshotError(file, `cannot be restored: ${disk}`);
    const name = opts.name ?? snap.info.name;
    if (opts.clone && snap.spec.disk && !snap.spec.disk.readonly && !snap.spec.disk.snapshot) {
      throw new SnapshotError(file, `cannot be cloned: its disk ${snap.spec.disk.path} is writable, and clones would write the same file`);
    }
    const spec = opts.clone && snap.spec.net ? { ...snap.spec, net: { ...snap.spec.net, mac: macFromName(`clone:${name}`) } } : snap.spec;
    const vm = this.create({
      name,
      spec,
      weight: snap.info.weight,
      cap: snap.info.cap,
      ...(opts.network !== undefined ? { network: opts.network } : {}),
      ...(opts.waitsForInput !== undefined ? { waitsForInput: opts.waitsForInput } : {}),
    });
    // Listeners (console output) go on before the guest runs again, so nothing it prints is missed.
    opts.onCreate?.(vm);
    try {
      await vm.start({ restore: restoreOf(snap), ...(snap.info.agentHello !== undefined ? { agentHello: snap.info.agentHello } : {}) });
    } catch (e) {
      await this.destroy(name).catch(() => undefined);
      throw e;
    }
    if (opts.clone) {
      try {
        await this.tellClone(vm, snap.info.agentHello !== undefined, spec.net?.mac ?? null, opts.clone.ip);
      } catch (e) {
        await this.destroy(name).catch(() => undefined);
        throw e;
      }
    }
    return vm;
  }

  /**
   * A clone is a copy of another guest: tell it through its agent so it stops being that
   * guest — its host name, its NIC's MAC (the device already has the new one; the driver
   * kept the old), its address, and fresh entropy mixed into its random pool (two clones
   * must not draw the same "random" numbers). A guest without an agent is left as it is.
   */
  private async tellClone(vm: Vm, hasAgent: boolean, mac: Uint8Array | null, ip: string | undefined): Promise<void> {
    if (!hasAgent || vm.spec.profile !== "pv") return;
    const macText = mac ? [...mac].map((b) => b.toString(16).padStart(2, "0")).join(":") : null;
    const seed = randomBytes(CLONE_SEED_BYTES).toString("hex");
    const cmd = [
      `hostname ${vm.name} && echo ${vm.name} >/etc/hostname`,
      // Mixed in, not credited: enough to make the clones' streams differ.
      `echo ${seed} >/dev/urandom`,
      ...(macText ? [`ip link set dev eth0 address ${macText}`] : []),
      ...(ip !== undefined ? [`ip addr flush dev eth0 && ip addr add ${ip} dev eth0`] : []),
    ].join(" && ");
    const r = await vm.agentExec(cmd, { timeoutMs: CLONE_TELL_MS });
    if (r.status !== 0) throw new Error(`VM ${vm.name}: the clone did not take its new identity (exit ${r.status}): ${r.output.trim()}`);
  }

  /**
   * Would these VMs, started together, fit the memory budget now? Throws one
   * AdmissionError naming each VM's charge when they do not (a fleet starts whole or not at all).
   */
  checkFits(vms: readonly { readonly name: string; readonly spec: MachineSpec }[]): void {
    const charges = vms.map((v) => ({ name: v.name, bytes: specChargeBytes(v.spec) }));
    const total = charges.reduce((a, c) => a + c.bytes, 0);
    if (total > this.memory.freeBytes) {
      throw new AdmissionError(
        `the VMs need ${mib(total)} of host memory (${charges.map((c) => `${c.name} ${mib(c.bytes)}`).join(", ")}; RAM plus overhead each), ` +
          `but only ${mib(this.memory.freeBytes)} of the ${mib(this.memory.budgetBytes)} budget is free (raise --host-mem, or give the VMs less memory)`,
        total,
        this.memory.freeBytes,
        this.memory.budgetBytes,
      );
    }
  }

  get(name: string): Vm {
    const vm = this.vms.get(name);
    if (!vm) throw new Error(`no VM named "${name}"`);
    return vm;
  }

  /** The network a VM's NIC is plugged into, if any. */
  networkOf(name: string): string | undefined {
    return this.networkNames.get(name);
  }

  /** The switch port of a VM's NIC (its counters), if it has one. */
  port(name: string): SwitchBackend | undefined {
    return this.ports.get(name);
  }

  /** Stop the VM if it runs, unplug it, forget it. */
  async destroy(name: string): Promise<void> {
    const vm = this.get(name);
    if (vm.state === "running" || vm.state === "paused") await vm.stop();
    else vm.abortIncoming("destroyed before its migration completed");
    this.ports.get(name)?.close();
    this.ports.delete(name);
    this.networkNames.delete(name);
    this.autoscaler.set(name, null);
    this.vms.delete(name);
  }

  setPcpus(n: number): void {
    this.scheduler.setPcpus(n);
  }

  /** The scheduler's figures for a VM: live while it runs, as they were at the end after. */
  /** Every VM's Vm.where() lines: what each vCPU is doing now, answered even when stuck. */
  where(): string[] {
    return [...this.vms.values()].flatMap((vm) => vm.where());
  }

  schedStats(name: string): VmSchedStats | null {
    return this.get(name).schedStats();
  }

  /** Stop every VM and the scheduler's timer. */
  async close(): Promise<void> {
    this.autoscaler.stop();
    await Promise.all([...this.vms.keys()].map((n) => this.destroy(n)));
    this.scheduler.stop();
    await this.threads.close();
  }
}

