/**
 * The daemon's one place of change: every action on the fleet (docs/api.md, "The action
 * union") is a `VmmAction`, and `Vmm.do` applies it — checked whole first, then applied;
 * an action either applies fully or changes nothing (a later step that fails undoes the
 * earlier ones). The HTTP routes, the CLI client and fleet files only translate into it.
 *
 * Vmm owns the Hypervisor, each VM's normalized entry (entry.ts), its console
 * scroll-back, the event log, the metrics sampled once a second, and the state file
 * (state.ts) written on every change. Actions run one at a time (a queue); reads and
 * console input do not wait for it, nor do the containers' actions (containers.ts: they
 * take seconds in a guest, and order themselves per container).
 */
import { EventEmitter } from "node:events";
import { Subnet } from "../../devices/virtio/net/ip.js";
import type { AutoscaleLimits } from "../../hypervisor/autoscale-limits.js";
import type { AutoscaleDecision } from "../../hypervisor/autoscaler.js";
import { FLEET_DEFAULTS, planFleet, subnetOf, type FleetImages } from "../../hypervisor/fleet-run.js";
import { Hypervisor } from "../../hypervisor/hypervisor.js";
import { NetworkLinks, type LinksOptions } from "../../net/links.js";
import type { Vm, VmEvent, VmOutcome } from "../../hypervisor/vm.js";
import { toFleetVm, type FleetEntry } from "../fleet-file.js";
import { ConsoleRing } from "./console-ring.js";
import { ContainerService, isContainerAction, type ContainerAction } from "./containers.js";
import { checkEntry, entryConflicts, type VmEntry } from "./entry.js";
import { asVmmError, problemsMessage, VmmError } from "./errors.js";
import { EventLog } from "./events.js";
import { applyFleet, type FleetApplied } from "./fleet-apply.js";
import { applyLinkAction, isLinkAction, type LinkAction } from "./network-links.js";
import { migrateVm } from "./migration.js";
import { restoreVm, snapshotVm, type SnapshotAnswer } from "./snapshots.js";
import { AddressBook } from "./address-book.js";
import { networkedVms, restoreClones, type CloneBatch } from "./clones.js";
import { Telemetry, type ApiVmMetrics } from "./telemetry.js";
import { StateStore, type StoredVm } from "./state.js";

export type { ApiVmMetrics, CloneBatch, FleetApplied, SnapshotAnswer, VmEntry };

export type LifecycleKind = "start" | "stop" | "pause" | "resume" | "reboot" | "destroy";

export type VmmAction =
  | { readonly kind: "create"; readonly vm: unknown; readonly start?: boolean }
  | { readonly kind: LifecycleKind; readonly name: string }
  | {
      readonly kind: "set";
      readonly name: string;
      readonly weight?: number;
      readonly cap?: number;
      readonly vcpus?: number;
      readonly memTargetBytes?: number;
      /** null: opt out of the autoscaler. */
      readonly autoscale?: AutoscaleLimits | null;
    }
  | { readonly kind: "set-autoscale"; readonly name: string; readonly limits: AutoscaleLimits | null }
  | { readonly kind: "console-input"; readonly name: string; readonly data: string | Uint8Array }
  | { readonly kind: "fleet-apply"; readonly fleet: unknown; readonly start?: boolean }
  /** Write a running or paused VM's snapshot to `file` (an absolute path; snapshots.ts). */
  | { readonly kind: "snapshot"; readonly name: string; readonly file: unknown }
  /**
   * Continue the VM saved in `file` as a new VM (named as saved unless `name`); its NIC joins
   * `network`. With `clones`: that many clones named NAME-1…, addresses from `ip` (clones.ts).
   */
  | { readonly kind: "restore"; readonly file: unknown; readonly name?: string; readonly network?: string; readonly clones?: unknown; readonly ip?: unknown }
  /** Move the running VM to the daemon at `to` ("HOST:PORT"; its token), live (migration.ts). */
  | { readonly kind: "migrate"; readonly name: string; readonly to: unknown; readonly token?: string; readonly maxRounds?: number; readonly downtimeMs?: number }
  | ContainerAction
  | LinkAction;

export interface VmView {
  readonly name: string;
  readonly state: string;
  readonly reason?: string;
  readonly profile: "pv" | "full";
  readonly entry: VmEntry;
  readonly settings: { readonly weight: number; readonly cap: number; readonly vcpus: { readonly online: number; readonly max: number }; readonly memTargetBytes: number };
  readonly autoscale: AutoscaleLimits | null;
  readonly createdAt: number;
  /** The snapshot file the VM was restored from: such a VM is not kept across daemon restarts (docs/snapshots.md). */
  readonly restoredFrom?: string;
}

export interface VmmOptions {
  readonly hostMemBytes?: number;
  readonly pcpus?: number;
  /** vCPU threads kept started ahead (Hypervisor's spareThreads; default 0). */
  readonly spareThreads?: number;
  /** Where vms.json lives; null: nothing is kept (tests). */
  readonly stateDir: string | null;
  /** The guest images every VM boots (read once, when first needed); `firmware` for profile full. */
  readonly images: () => FleetImages;
  /** Where relative disk paths in entries start (the daemon's working directory). */
  readonly baseDir?: string;
  /** A problem with a disk file, or null (args.ts checkDisk); default: none checked. */
  readonly diskProblem?: (path: string) => string | null;
  /** Network links to other daemons (src/net/links.ts): the far daemons' default token, a log. */
  readonly links?: LinksOptions;
  /** This paravm's version, told to a migration's destination. */
  readonly version?: string;
}

/** One VM as the daemon holds it. */
export interface VmRecord {
  entry: VmEntry;
  readonly vm: Vm;
  readonly createdAt: number;
  readonly console: ConsoleRing;
  /** Listed "stopped" since the daemon restarted, until it is started. */
  restored: boolean;
  /** How its last run ended (exits by reason for /metrics). */
  lastRun: VmOutcome | null;
  /**
   * The snapshot file it was restored from, or null. Its machine (kernel, command line,
   * RAM) came from that file, not from its entry (which only describes it), so it is not
   * written to vms.json nor given by GET /fleet: no entry could build it again.
   */
  readonly restoredFrom: string | null;
  /** A live migration of it is under way (migration.ts): other actions on it are refused. */
  migrating?: boolean;
}

const LIVE = new Set(["running", "paused"]);

export class Vmm extends EventEmitter {
  readonly hv: Hypervisor;
  readonly events = new EventLog();
  readonly telemetry: Telemetry;
  readonly containers: ContainerService;
  /** This daemon's networks' links to other daemons' (network-links.ts). */
  readonly links: NetworkLinks;
  readonly records = new Map<string, VmRecord>();
  /** Networks by name (subnet), and their address assignments. */
  readonly networks: Record<string, string> = {};
  /** The addresses given to clones (address-book.ts); a VM's is freed when it is forgotten. */
  readonly addresses = new AddressBook();
  private readonly subnets = new Map<string, Subnet>();
  private readonly store: StateStore | null;
  private imagesCache: FleetImages | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly opts: VmmOptions) {
    super();
    this.hv = new Hypervisor({
      ...(opts.hostMemBytes !== undefined ? { hostMemBytes: opts.hostMemBytes } : {}),
      ...(opts.pcpus !== undefined ? { pcpus: opts.pcpus } : {}),
      ...(opts.spareThreads !== undefined ? { spareThreads: opts.spareThreads } : {}),
    });
    this.hv.on("event", (e: VmEvent) => {
      const rec = this.records.get(e.vm);
      if (rec && e.state !== "created") rec.restored = false;
      this.events.add("state", e.vm, { state: e.state, ...(e.reason !== undefined ? { reason: e.reason } : {}) }, e.at);
    });
    this.hv.on("decision", (d: AutoscaleDecision) => {
      this.events.add("decision", d.vm, { resource: d.resource, from: d.from, to: d.to, applied: d.applied, reason: d.reason }, d.at);
    });
    this.telemetry = new Telemetry(this);
    this.containers = new ContainerService(this);
    this.links = new NetworkLinks(this.hv.networks, opts.links ?? {});
    this.store = opts.stateDir === null ? null : new StateStore(opts.stateDir);
    this.restore();
    this.telemetry.start();
  }

  /** Every VM of the state file, created (not started): listed "stopped". A VM that no longer checks is reported, not dropped. */
  private restore(): void {
    if (!this.store) return;
    const state = this.store.load();
    Object.assign(this.networks, state.networks);
    for (const s of state.vms) {
      // Disk files are not checked here: a VM whose disk went away is still listed, and says so when started.
      const c = checkEntry(s.entry, { networks: this.networks, baseDir: this.baseDir });
      if (!c.ok) throw new Error(`${this.store.file}: VM ${JSON.stringify(s.entry?.name)}: ${c.problems.join("; ")}`);
      const rec = this.createRecord(c.vm.fleet, c.vm.entry, s.createdAt);
      rec.restored = true;
    }
  }

  get baseDir(): string {
    return this.opts.baseDir ?? process.cwd();
  }

  get diskProblem(): ((path: string) => string | null) | undefined {
    return this.opts.diskProblem;
  }

  /** Create a VM again from an entry it had (undoing a replacement): its disk is not checked again. */
  recreate(entry: VmEntry, createdAt: number): VmRecord {
    const c = checkEntry(entry, { networks: this.networks, baseDir: this.baseDir });
    if (!c.ok) throw new Error(`VM ${entry.name}: ${c.problems.join("; ")}`);
    return this.createRecord(c.vm.fleet, c.vm.entry, createdAt);
  }

  private images(): FleetImages {
    this.imagesCache ??= this.opts.images();
    return this.imagesCache;
  }

  /** Apply one action; resolves to its answer (a VmView, the fleet's outcome, or null), or rejects with a VmmError. */
  do(a: VmmAction): Promise<unknown> {
    if (this.closed) return Promise.reject(new VmmError("conflict", "the daemon is shutting down"));
    if (isContainerAction(a)) {
      return this.containers.do(a).catch((e: unknown) => {
        throw asVmmError(e);
      });
    }
    // A link waits for the far daemon (seconds at most); VM actions need not wait behind it.
    if (isLinkAction(a)) return applyLinkAction(this.links, a);
    if (a.kind === "console-input") {
      try {
        return Promise.resolve(this.consoleInput(a.name, a.data));
      } catch (e) {
        return Promise.reject(asVmmError(e));
      }
    }
    if (a.kind === "migrate") {
      // Seconds long: not in the queue; the VM is marked and refuses other actions meanwhile.
      return migrateVm(this, a, this.opts.version ?? "unknown").catch((e: unknown) => {
        throw asVmmError(e);
      });
    }
    const run = this.queue.then(() => this.apply(a)).catch((e: unknown) => {
      throw asVmmError(e);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async apply(a: Exclude<VmmAction, { kind: "console-input" | "migrate" } | ContainerAction | LinkAction>): Promise<unknown> {
    if ("name" in a && typeof a.name === "string" && this.records.get(a.name)?.migrating) {
      throw new VmmError("conflict", `VM ${a.name} is being migrated: wait for the migration to end`);
    }
    switch (a.kind) {
      case "create":
        return this.create(a.vm, a.start === true);
      case "start":
      case "stop":
      case "pause":
      case "resume":
      case "reboot":
        return this.lifecycle(a.kind, a.name);
      case "destroy":
        return this.destroy(a.name);
      case "set":
        return this.set(a);
      case "set-autoscale":
        return this.set({ kind: "set", name: a.name, autoscale: a.limits });
      case "fleet-apply":
        return applyFleet(this, a.fleet, a.start !== false);
      case "snapshot":
        return snapshotVm(this, a.name, a.file);
      case "restore":
        return a.clones !== undefined ? restoreClones(this, a) : restoreVm(this, a);
    }
  }

  record(name: string): VmRecord {
    const rec = this.records.get(name);
    if (!rec) throw new VmmError("not-found", `no VM named "${name}"`);
    return rec;
  }

  /** Check an entry for a new VM: 422 with every problem, 409 for a name in use or a shared disk or MAC. */
  checkNew(raw: unknown, others: readonly VmEntry[] = this.entries()): { fleet: FleetEntry; entry: VmEntry } {
    const c = checkEntry(raw, { networks: this.networks, baseDir: this.baseDir, ...(this.opts.diskProblem ? { diskProblem: this.opts.diskProblem } : {}) });
    if (!c.ok) throw new VmmError("invalid", problemsMessage("the VM entry is not valid", c.problems), c.problems);
    const name = c.vm.entry.name;
    if (this.records.has(name)) throw new VmmError("conflict", `a VM named "${name}" already exists`);
    const conflicts = entryConflicts(c.vm.entry, others);
    if (conflicts.length > 0) throw new VmmError("conflict", problemsMessage(`VM ${name} conflicts with another VM`, conflicts), conflicts);
    return c.vm;
  }

  entries(): VmEntry[] {
    return [...this.records.values()].map((r) => r.entry);
  }

  private async create(raw: unknown, start: boolean): Promise<VmView> {
    const c = this.checkNew(raw);
    const rec = this.createVm(c.fleet, c.entry);
    if (start) {
      try {
        await this.startVm(rec);
      } catch (e) {
        await this.forget(rec.entry.name);
        throw e;
      }
    }
    this.persist();
    return this.view(rec.entry.name);
  }

  /** Create a checked VM (not started), with its network and autoscaler limits; throws before anything changes. */
  createVm(fleet: FleetEntry, entry: VmEntry): VmRecord {
    const rec = this.createRecord(fleet, entry, Date.now());
    this.events.add("created", entry.name, { entry });
    return rec;
  }

  private createRecord(fleet: FleetEntry, entry: VmEntry, createdAt: number): VmRecord {
    if (fleet.nic && !(fleet.nic.network in this.networks)) this.networks[fleet.nic.network] = FLEET_DEFAULTS.SUBNET;
    if (fleet.nic) this.claimHeld(fleet.nic.network, fleet.name);
    const [plan] = planFleet([toFleetVm(fleet)], { ...this.images(), subnets: this.networks }, this.subnets);
    const vm = this.hv.create({
      name: fleet.name,
      spec: plan!.spec,
      ...(fleet.weight !== undefined ? { weight: fleet.weight } : {}),
      ...(fleet.cap !== undefined ? { cap: fleet.cap } : {}),
      ...(fleet.nic ? { network: fleet.nic.network } : {}),
      // Console input may come at any time from a viewer: an idle guest is never a deadlock.
      waitsForInput: true,
    });
    try {
      if (fleet.autoscale) this.hv.setAutoscale(fleet.name, fleet.autoscale);
    } catch (e) {
      void this.hv.destroy(fleet.name);
      throw e;
    }
    return this.adopt(vm, entry, createdAt, null);
  }

  /**
   * Every address another VM holds on `network` (a clone's reservation, a migrated VM's
   * command line: numbered by another daemon) is claimed in its subnet before an address
   * is assigned there, so a new VM is never given one already in use.
   */
  private claimHeld(network: string, except: string): void {
    const subnet = subnetOf(this.subnets, network, this.networks);
    for (const h of this.addresses.holders(networkedVms(this))) if (h.network === network && h.vm !== except) subnet.claim(h.vm, h.address);
  }

  /** Hold a VM the hypervisor has (not yet started): its record, its console kept and passed on. */
  adopt(vm: Vm, entry: VmEntry, createdAt: number, restoredFrom: string | null): VmRecord {
    const rec: VmRecord = { entry, vm, createdAt, console: new ConsoleRing(), restored: false, lastRun: null, restoredFrom };
    vm.on("output", (b: Uint8Array) => {
      rec.console.push(b);
      this.emit("console", vm.name, b);
    });
    this.records.set(vm.name, rec);
    return rec;
  }

  /** Drop a VM that is not running (stop it first); no event, no state write: the caller's. */
  async forget(name: string): Promise<void> {
    await this.hv.destroy(name);
    this.records.delete(name);
    this.addresses.release(name);
  }

  async startVm(rec: VmRecord): Promise<void> {
    await rec.vm.start();
    void rec.vm.wait().then((o) => (rec.lastRun = o));
  }

  private async lifecycle(kind: Exclude<LifecycleKind, "destroy">, name: string): Promise<VmView> {
    const rec = this.record(name);
    const vm = rec.vm;
    const state = this.view(name).state;
    const refuse = (want: string): never => {
      throw new VmmError("conflict", `VM ${name} is ${state}: ${kind} needs it ${want}`);
    };
    switch (kind) {
      case "start":
        if (LIVE.has(vm.state)) refuse("stopped");
        await this.startVm(rec);
        break;
      case "stop":
        if (!LIVE.has(vm.state)) refuse("running or paused");
        await vm.stop();
        break;
      case "pause":
        if (vm.state !== "running") refuse("running");
        await vm.pause();
        break;
      case "resume":
        if (vm.state !== "paused") refuse("paused");
        vm.resume();
        break;
      case "reboot":
        if (!LIVE.has(vm.state)) refuse("running or paused");
        await vm.reboot();
        void vm.wait().then((o) => (rec.lastRun = o));
        break;
    }
    return this.view(name);
  }

  private async destroy(name: string): Promise<null> {
    const rec = this.record(name);
    if (LIVE.has(rec.vm.state)) throw new VmmError("conflict", `VM ${name} is ${rec.vm.state}: stop it before destroying it`);
    this.containers.dropHost(name);
    await this.forget(name);
    this.events.add("destroyed", name);
    this.persist();
    return null;
  }

  /** Live settings, all checked first (with the fleet file's rules), then applied together. */
  private async set(a: Extract<VmmAction, { kind: "set" }>): Promise<VmView> {
    const rec = this.record(a.name);
    const { autoscale: _old, ...rest } = rec.entry;
    const trial: Record<string, unknown> = { ...(a.autoscale === null ? rest : rec.entry) };
    if (a.weight !== undefined) trial.weight = a.weight;
    if (a.cap !== undefined) trial.cap = a.cap;
    if (a.memTargetBytes !== undefined) trial["mem-target"] = a.memTargetBytes;
    if (a.autoscale !== undefined && a.autoscale !== null) trial.autoscale = a.autoscale;
    const c = checkEntry(trial, { networks: this.networks, baseDir: this.baseDir });
    const problems = c.ok ? [] : c.problems.map((p) => p.replace(/^mem-target/, "memTargetBytes"));
    const vm = rec.vm;
    if (a.vcpus !== undefined) {
      const max = vm.spec.cpus;
      if (!Number.isInteger(a.vcpus) || a.vcpus < 1 || a.vcpus > max) problems.push(`vcpus: ${a.vcpus} is outside 1..${max} (the VM's max-cpus)`);
      else if (vm.spec.profile !== "pv") problems.push("vcpus: vCPUs change through the pv guest agent: pv only");
    }
    if (problems.length > 0 || !c.ok) throw new VmmError("invalid", problemsMessage(`VM ${a.name}: the settings are not valid`, problems), problems);
    if (a.vcpus !== undefined && vm.state !== "running") throw new VmmError("conflict", `VM ${a.name} is ${this.view(a.name).state}: vCPUs change only while it runs`);
    await this.applySettings(rec, c.vm.entry, a.vcpus);
    return this.view(a.name);
  }

  /**
   * Bring a VM's live settings to those of `next` (same machine), and its online vCPUs to
   * `vcpus`: the memory target first (it alone can be refused, by the budget), then the
   * vCPUs (the guest may fail: the memory target goes back), then weight, cap, autoscale.
   */
  async applySettings(rec: VmRecord, next: VmEntry, vcpus?: number): Promise<Record<string, unknown>> {
    const vm = rec.vm;
    const prev = rec.entry;
    const changes: Record<string, unknown> = {};
    const oldTarget = this.memTarget(rec);
    const newTarget = (next["mem-target"] as number | undefined) ?? vm.spec.memBytes;
    if (newTarget !== oldTarget) {
      vm.setMemoryTarget(newTarget);
      changes.memTargetBytes = newTarget;
    }
    if (vcpus !== undefined && vcpus !== vm.vcpus.online) {
      try {
        await vm.setVcpus(vcpus);
      } catch (e) {
        if (newTarget !== oldTarget) vm.setMemoryTarget(oldTarget);
        throw new VmmError("conflict", `VM ${vm.name}: ${(e as Error).message}`);
      }
      changes.vcpus = vcpus;
    }
    const weight = next.weight ?? 256;
    const cap = next.cap ?? 0;
    if (weight !== vm.settings.weight) vm.setWeight((changes.weight = weight));
    if (cap !== vm.settings.cap) vm.setCap((changes.cap = cap));
    if (JSON.stringify(prev.autoscale ?? null) !== JSON.stringify(next.autoscale ?? null)) {
      this.hv.setAutoscale(vm.name, next.autoscale ?? null);
      changes.autoscale = next.autoscale ?? null;
    }
    rec.entry = next;
    if (Object.keys(changes).length > 0) {
      this.events.add("settings", vm.name, changes);
      this.persist();
    }
    return changes;
  }

  private memTarget(rec: VmRecord): number {
    return (rec.entry["mem-target"] as number | undefined) ?? rec.vm.spec.memBytes;
  }

  private consoleInput(name: string, data: string | Uint8Array): null {
    const rec = this.record(name);
    if (!LIVE.has(rec.vm.state)) throw new VmmError("conflict", `VM ${name} is ${this.view(name).state}: its console takes input only while it runs`);
    rec.vm.input(typeof data === "string" ? Buffer.from(data, "utf8") : data);
    return null;
  }

  view(name: string): VmView {
    const rec = this.record(name);
    const vm = rec.vm;
    const live = LIVE.has(vm.state);
    const state = rec.restored && vm.state === "created" ? "stopped" : vm.state;
    const reason = rec.restored && vm.state === "created" ? "the daemon restarted" : vm.reason;
    return {
      name,
      state,
      ...(reason !== undefined ? { reason } : {}),
      profile: vm.spec.profile,
      entry: rec.entry,
      settings: {
        ...vm.settings,
        vcpus: { online: live ? vm.vcpus.online : vm.spec.onlineCpus ?? vm.spec.cpus, max: vm.spec.cpus },
        memTargetBytes: this.memTarget(rec),
      },
      autoscale: rec.entry.autoscale ?? null,
      createdAt: rec.createdAt,
      ...(rec.restoredFrom !== null ? { restoredFrom: rec.restoredFrom } : {}),
    };
  }

  list(): VmView[] {
    return [...this.records.keys()].map((n) => this.view(n));
  }

  /** The last `bytes` of a VM's console (all that is kept by default). */
  consoleTail(name: string, bytes?: number): Buffer {
    return this.record(name).console.tail(bytes);
  }

  /** The fleet document that would recreate this daemon's VMs (restored VMs left out: their machine is their snapshot's). */
  fleet(): { networks: Record<string, { subnet: string }>; vms: VmEntry[] } {
    const vms = [...this.records.values()].filter((r) => r.restoredFrom === null).map((r) => r.entry);
    return { networks: Object.fromEntries(Object.entries(this.networks).map(([n, s]) => [n, { subnet: s }])), vms };
  }

  /** Write vms.json (every change calls it); restored VMs are not kept (VmRecord.restoredFrom). */
  persist(): void {
    if (!this.store || this.closed) return;
    const vms: StoredVm[] = [...this.records.values()].filter((r) => r.restoredFrom === null).map((r) => ({ entry: r.entry, createdAt: r.createdAt }));
    this.store.save(this.networks, vms);
  }

  /** Stop every VM (each owner thread closes its disk, which syncs it); the state file keeps them. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue;
    this.closed = true;
    this.telemetry.stop();
    this.containers.close();
    this.links.close();
    await this.hv.close();
  }

  latestMetrics(name: string): ApiVmMetrics {
    this.record(name);
    return this.telemetry.latest(name);
  }
}
