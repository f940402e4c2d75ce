/**
 * Containers beside VMs (issue 14; docs/containers.md, "Command line and API"): the
 * daemon's container service. One ContainerHost per host VM (attached on first use), one
 * record per container, names unique across the daemon. The changing operations arrive as
 * `container-*` VmmActions through `Vmm.do`, but they do not wait in the VMs' action
 * queue: a container's run takes seconds, an exec or a wait as long as the user asks, and
 * a VM's stop must not queue behind them. Changes to one container run one at a time.
 *
 * `run` without a host uses the default host VM (DEFAULT_HOST), created and started on
 * demand through the queue like any VM. A host VM that stops takes its containers with it:
 * they are marked lost (an event says why) and stay listed until removed. Records live in
 * the daemon's memory only: containers are not kept across a daemon restart (nor are the
 * running VMs they were in).
 */
import { randomBytes } from "node:crypto";
import {
  checkRun,
  ContainerError,
  ContainerHost,
  type Container,
  type ContainerEvent,
  type ContainerLimits,
  type ContainerStatus,
  type HostShape,
  type RunOptions,
} from "../../hypervisor/containers.js";
import type { VmEvent } from "../../hypervisor/vm.js";
import { asVmmError, VmmError } from "./errors.js";
import type { VmEntry } from "./entry.js";
import type { Vmm } from "./vmm.js";

const MIB = 1024 * 1024;

export const DEFAULT_HOST = {
  /** The VM a `run` without a host uses; created and started on demand. */
  NAME: "containers",
  /** Room for a dozen small containers (each costs ~2 MiB of the guest beside its own use). */
  MEM_BYTES: 256 * MIB,
  /** Two vCPUs, so `--cpus` up to 2 and weights between busy containers mean something. */
  CPUS: 2,
} as const;

export const CONTAINER_API = {
  /** A listing re-reads a host's statuses when the last reading is older than this. */
  STATUS_MAX_AGE_MS: 1000,
  /** How long a listing waits for a host's statuses before it shows the last ones it has. */
  STATUS_READ_MS: 5000,
  WAIT_DEFAULT_S: 30,
  WAIT_MAX_S: 600,
  EXEC_DEFAULT_S: 60,
  EXEC_MAX_S: 3600,
  /** Random names tried before giving up (8 hex digits: a clash is already unlikely). */
  NAME_TRIES: 16,
} as const;

/** The changing operations on containers (part of VmmAction). */
export type ContainerAction =
  | { readonly kind: "container-run"; readonly host?: string; readonly options: ContainerRunOptions }
  | { readonly kind: "container-set"; readonly name: string; readonly limits: ContainerLimits }
  | { readonly kind: "container-exec"; readonly name: string; readonly cmd: readonly string[]; readonly timeoutS?: number }
  | { readonly kind: "container-stop"; readonly name: string; readonly graceS?: number }
  | { readonly kind: "container-rm"; readonly name: string; readonly force?: boolean };

/** What POST /containers takes besides `host`: the library's RunOptions, plus devices (passed on, the library checks them). */
export type ContainerRunOptions = Omit<RunOptions, "net"> & { readonly net?: string; readonly devices?: readonly string[] };

export function isContainerAction(a: { kind: string }): a is ContainerAction {
  return a.kind.startsWith("container-");
}

export type ContainerState = "creating" | ContainerStatus["state"] | "lost";

/** One container as the API shows it (docs/api.md, `ContainerView`). */
export interface ContainerView {
  readonly name: string;
  readonly host: string;
  readonly state: ContainerState;
  readonly exitStatus: number | null;
  readonly pid: number | null;
  readonly cmd: readonly string[];
  readonly net: string;
  readonly devices: readonly string[];
  readonly ip: string | null;
  readonly limits: { readonly cpuWeight: number | null; readonly cpuMax: string | null; readonly memMax: number | "max" | null; readonly pidsMax: number | "max" | null };
  readonly usage: { readonly cpuSeconds: number | null; readonly memBytes: number | null };
  readonly oomKills: number;
  readonly oomMessage: string | null;
  readonly lostReason: string | null;
  readonly createdAt: number;
  /** When its host's guest last reported its status (ms since the epoch). */
  readonly updatedAt: number | null;
  /** POST /containers only: the host VM was created or started for this run. */
  readonly hostStarted?: boolean;
}

interface Rec {
  readonly name: string;
  readonly host: string;
  readonly cmd: readonly string[];
  readonly net: string;
  readonly devices: readonly string[];
  readonly createdAt: number;
  /** Settles when the run that made it ends (either way). */
  readonly started: Promise<unknown>;
  handle: Container | null;
  status: ContainerStatus | null;
  statusAt: number | null;
  lostReason: string | null;
  oomMessage: string | null;
  /** This container's changes, one after another. */
  busy: Promise<unknown>;
}

interface HostRec {
  readonly host: ContainerHost;
  reading: Promise<void> | null;
  readAt: number;
}

/** The guest's address for a container, when its runtime reports one (net modes with an interface). */
function ipOf(st: ContainerStatus | null): string | null {
  const ip = (st as (ContainerStatus & { ip?: unknown }) | null)?.ip;
  return typeof ip === "string" && ip !== "" ? ip : null;
}

export class ContainerService {
  private readonly recs = new Map<string, Rec>();
  private readonly hosts = new Map<string, HostRec>();
  private readonly attaching = new Map<string, Promise<{ host: ContainerHost; started: boolean }>>();

  constructor(private readonly vmm: Vmm) {
    vmm.hv.on("event", (e: VmEvent) => this.onVmState(e));
  }

  /** Apply one action; rejects (never throws) with a VmmError or the library's error. */
  async do(a: ContainerAction): Promise<unknown> {
    switch (a.kind) {
      case "container-run":
        return this.run(a.host, a.options);
      case "container-exec":
        // Not one of the container's changes: a long exec must not hold up its stop.
        return this.exec(a.name, a.cmd, a.timeoutS ?? CONTAINER_API.EXEC_DEFAULT_S);
      case "container-set":
        return this.serial(a.name, () => this.set(a.name, a.limits));
      case "container-stop":
        return this.serial(a.name, () => this.stop(a.name, a.graceS));
      case "container-rm":
        return this.serial(a.name, () => this.rm(a.name, a.force === true));
    }
  }

  private serial<T>(name: string, f: () => Promise<T>): Promise<T> {
    const rec = this.rec(name);
    const run = rec.busy.then(f);
    rec.busy = run.catch(() => undefined);
    return run;
  }

  rec(name: string): Rec {
    const rec = this.recs.get(name);
    if (!rec) throw new VmmError("not-found", `no container named "${name}"`);
    return rec;
  }

  /** The host's shape for the library's checks: 404 for an unknown host, 409 for one that cannot host; the default one's even before it exists. */
  private hostShape(name: string, onDemand: boolean): HostShape {
    const rec = this.vmm.records.get(name);
    if (!rec) {
      if (!onDemand) throw new VmmError("not-found", `no VM named "${name}" to run the container on (leave host out to use the default container host, ${DEFAULT_HOST.NAME})`);
      return { name, memBytes: DEFAULT_HOST.MEM_BYTES, cpus: DEFAULT_HOST.CPUS };
    }
    const vm = rec.vm;
    if (vm.spec.profile !== "pv") throw new VmmError("conflict", `VM ${name} is a ${vm.spec.profile} VM: containers need a pv VM (they run through its guest agent)`);
    const state = this.vmm.view(name).state;
    // The default host is started when it is not running; a host that was named must run already.
    const startable = onDemand && state !== "running" && state !== "paused";
    if (state !== "running" && !startable) throw new VmmError("conflict", `VM ${name} is ${state}: containers run only on a running VM (paravm vm ${state === "paused" ? "resume" : "start"} ${name})`);
    return { name, memBytes: vm.spec.memBytes, cpus: vm.spec.cpus };
  }

  private freshName(): string {
    for (let i = 0; i < CONTAINER_API.NAME_TRIES; i++) {
      const name = `c-${randomBytes(4).toString("hex")}`;
      if (!this.recs.has(name)) return name;
    }
    throw new VmmError("internal", "no free container name found; give one");
  }

  /** Check everything, reserve the name, make sure the host runs, then run it: all of it, or nothing left behind. */
  private async run(hostName: string | undefined, options: ContainerRunOptions): Promise<ContainerView> {
    const onDemand = hostName === undefined;
    const host = hostName ?? DEFAULT_HOST.NAME;
    const shape = this.hostShape(host, onDemand);
    const checked = checkRun(options as RunOptions, shape);
    const name = checked.name ?? this.freshName();
    const other = this.recs.get(name);
    if (other) throw new VmmError("conflict", `a container named "${name}" already exists (on VM ${other.host})`);
    let settle!: () => void;
    const rec: Rec = {
      name,
      host,
      cmd: checked.cmd,
      net: checked.net,
      devices: options.devices ?? [],
      createdAt: Date.now(),
      started: new Promise<void>((r) => (settle = r)),
      handle: null,
      status: null,
      statusAt: null,
      lostReason: null,
      oomMessage: null,
      busy: Promise.resolve(),
    };
    this.recs.set(name, rec);
    try {
      const { host: ch, started } = await this.ensureHost(host, onDemand);
      const c = await ch.run({ ...options, name } as RunOptions);
      rec.handle = c;
      this.take(rec, c.last);
      return { ...this.view(rec), hostStarted: started };
    } catch (e) {
      this.recs.delete(name);
      throw this.runError(e, host);
    } finally {
      settle();
    }
  }

  /** A run that failed: the guest's refusal as it is, a host that went away as the conflict it is. */
  private runError(e: unknown, host: string): VmmError {
    const vm = this.vmm.records.get(host)?.vm;
    if (e instanceof ContainerError && !e.usage && vm !== undefined && vm.state !== "running") {
      return new VmmError("conflict", `VM ${host} is ${vm.state}: it stopped while the container was being started (${e.message})`);
    }
    return asVmmError(e);
  }

  /** The host's ContainerHost, attaching (and for the default host creating or starting the VM) once for concurrent runs. */
  private ensureHost(name: string, onDemand: boolean): Promise<{ host: ContainerHost; started: boolean }> {
    const known = this.hosts.get(name);
    if (known && this.vmm.records.get(name)?.vm.state === "running") return Promise.resolve({ host: known.host, started: false });
    let p = this.attaching.get(name);
    if (!p) {
      p = this.attach(name, onDemand).finally(() => this.attaching.delete(name));
      this.attaching.set(name, p);
    }
    return p;
  }

  private async attach(name: string, onDemand: boolean): Promise<{ host: ContainerHost; started: boolean }> {
    let started = false;
    const t0 = performance.now();
    const existing = this.vmm.records.get(name);
    if (!existing || existing.vm.state !== "running") {
      if (!onDemand) throw new VmmError("conflict", `VM ${name} is not running`);
      const how = existing ? `starting VM ${name}, the default container host` : `creating and starting VM ${name} as the default container host (pv, ${DEFAULT_HOST.MEM_BYTES / MIB} MiB, ${DEFAULT_HOST.CPUS} vCPUs)`;
      this.hostEvent(name, `${how}; containers run once its guest agent answers`);
      if (existing) await this.vmm.do({ kind: "start", name });
      else await this.vmm.do({ kind: "create", vm: defaultHostEntry(), start: true });
      started = true;
    }
    const vm = this.vmm.records.get(name)!.vm;
    const host = await ContainerHost.forVm(vm);
    host.on("event", (e: ContainerEvent) => this.onEvent(e));
    this.hosts.set(name, { host, reading: null, readAt: 0 });
    if (started) this.hostEvent(name, `container host ${name} is ready (its guest agent answered ${((performance.now() - t0) / 1000).toFixed(1)} s after the request)`);
    return { host, started };
  }

  private hostEvent(vm: string, message: string): void {
    this.vmm.events.add("container", vm, { kind: "host", message });
  }

  /** A live container's handle, or a 409 that says why there is none. */
  private live(rec: Rec, what: string): Container {
    if (rec.lostReason !== null) throw new VmmError("conflict", `${what}: container ${rec.name} was lost (${rec.lostReason}); remove it`);
    if (rec.handle === null) throw new VmmError("conflict", `${what}: container ${rec.name} is still being created`);
    return rec.handle;
  }

  private needRunning(rec: Rec, what: string): Container {
    const c = this.live(rec, what);
    if (c.state !== "running") throw new VmmError("conflict", `${what}: container ${rec.name} is ${c.state}, not running`);
    return c;
  }

  private async exec(name: string, cmd: readonly string[], timeoutS: number): Promise<{ status: number; output: string }> {
    const rec = this.rec(name);
    if (!Number.isInteger(timeoutS) || timeoutS < 1 || timeoutS > CONTAINER_API.EXEC_MAX_S) {
      throw new VmmError("invalid", `timeoutS ${timeoutS} must be whole seconds in 1..${CONTAINER_API.EXEC_MAX_S}`);
    }
    return this.needRunning(rec, "exec").exec(cmd, { timeoutMs: timeoutS * 1000 });
  }

  private async set(name: string, limits: ContainerLimits): Promise<ContainerView> {
    const rec = this.rec(name);
    this.take(rec, await this.needRunning(rec, "set").set(limits));
    return this.view(rec);
  }

  /** SIGTERM, then after graceS the whole group killed; a container that has exited is left as it is. */
  private async stop(name: string, graceS: number | undefined): Promise<ContainerView> {
    const rec = this.rec(name);
    const c = this.live(rec, "stop");
    if (c.state === "running") {
      await c.stop(graceS);
      this.take(rec, c.last);
    }
    return this.view(rec);
  }

  /** Remove it from its guest (force: stop it first); a lost one is only forgotten, its guest having gone. */
  private async rm(name: string, force: boolean): Promise<null> {
    const rec = this.rec(name);
    if (rec.lostReason !== null) {
      this.recs.delete(name);
      this.vmm.events.add("container", rec.host, { container: name, kind: "remove", message: `container ${name} removed (it had been lost: ${rec.lostReason})` });
      return null;
    }
    const c = this.live(rec, "rm");
    if (c.state === "running" && !force) throw new VmmError("conflict", `container ${name} is running: stop it first, or remove it with force (paravm container rm -f ${name})`);
    await c.rm();
    this.recs.delete(name);
    return null;
  }

  /** Its status once it has exited, or after timeoutS: a long poll that holds no queue. */
  async wait(name: string, timeoutS: number): Promise<ContainerView> {
    const rec = this.rec(name);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => (timer = setTimeout(r, timeoutS * 1000)));
    const ended = (async () => {
      await rec.started;
      if (rec.handle !== null && rec.lostReason === null) await rec.handle.wait().catch(() => undefined);
    })();
    try {
      await Promise.race([ended, timeout]);
    } finally {
      clearTimeout(timer);
    }
    if (rec.handle !== null && rec.handle.state === "exited") this.take(rec, rec.handle.last);
    return this.view(rec);
  }

  async logs(name: string): Promise<string> {
    return this.live(this.rec(name), "logs").logs();
  }

  /** Every container (of `host`), with statuses at most STATUS_MAX_AGE_MS old where the guest answers in time. */
  async list(host?: string): Promise<ContainerView[]> {
    if (host !== undefined) this.vmm.record(host);
    const recs = [...this.recs.values()].filter((r) => host === undefined || r.host === host);
    await Promise.all([...new Set(recs.map((r) => r.host))].map((h) => this.fresh(h)));
    return recs.sort((a, b) => a.name.localeCompare(b.name)).map((r) => this.view(r));
  }

  async get(name: string): Promise<ContainerView> {
    const rec = this.rec(name);
    await this.fresh(rec.host);
    return this.view(rec);
  }

  /** The last known views, read nothing (/metrics); a background re-read keeps them fresh. */
  cached(): ContainerView[] {
    for (const h of this.hosts.keys()) void this.read(h);
    return [...this.recs.values()].map((r) => this.view(r));
  }

  /** Before a VM is destroyed: refused while it hosts live containers; its lost ones are forgotten with it. */
  dropHost(vm: string): void {
    const live = [...this.recs.values()].filter((r) => r.host === vm && r.lostReason === null);
    if (live.length > 0) throw new VmmError("conflict", `VM ${vm} hosts containers ${live.map((r) => r.name).join(", ")}: remove them first (paravm container rm -f NAME)`);
    for (const r of [...this.recs.values()].filter((x) => x.host === vm)) {
      this.recs.delete(r.name);
      this.vmm.events.add("container", vm, { container: r.name, kind: "remove", message: `container ${r.name} removed with its host VM ${vm} (it had been lost: ${r.lostReason})` });
    }
  }

  close(): void {
    for (const h of this.hosts.values()) h.host.close();
    this.hosts.clear();
  }

  /** Wait for a host's statuses if the last reading is stale, but no longer than STATUS_READ_MS. */
  private async fresh(host: string): Promise<void> {
    const h = this.hosts.get(host);
    if (!h || performance.now() - h.readAt < CONTAINER_API.STATUS_MAX_AGE_MS) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((r) => (timer = setTimeout(r, CONTAINER_API.STATUS_READ_MS)));
    await Promise.race([this.read(host), late]);
    clearTimeout(timer);
  }

  /** Read a host's statuses once (concurrent readers share the reading). A failed reading keeps the last statuses. */
  private read(host: string): Promise<void> {
    const h = this.hosts.get(host);
    if (!h || this.vmm.records.get(host)?.vm.state !== "running") return Promise.resolve();
    h.reading ??= h.host
      .ls()
      .then((list) => {
        for (const st of list) {
          const rec = this.recs.get(st.id);
          if (rec && rec.host === host && rec.handle !== null && rec.lostReason === null) this.take(rec, st);
        }
        h.readAt = performance.now();
      })
      .catch(() => undefined)
      .finally(() => (h.reading = null));
    return h.reading;
  }

  private take(rec: Rec, st: ContainerStatus): void {
    rec.status = st;
    rec.statusAt = Date.now();
  }

  private onEvent(e: ContainerEvent): void {
    const rec = this.recs.get(e.container);
    if (e.kind === "lost") {
      // The library's message starts with the container's name, which lose() says already.
      if (rec && rec.lostReason === null) this.lose(rec, e.message.replace(`container ${e.container}: `, ""));
      return;
    }
    if (rec && rec.handle !== null) this.take(rec, rec.handle.last);
    if (rec && e.kind === "oom") rec.oomMessage = e.message;
    const extra = { ...(e.exitStatus !== undefined ? { exitStatus: e.exitStatus } : {}), ...(e.oomKills !== undefined ? { oomKills: e.oomKills } : {}) };
    this.vmm.events.add("container", e.host, { container: e.container, kind: e.kind, message: e.message, ...extra }, e.at);
  }

  /** A host VM that stops, crashes or reboots takes its containers with it. */
  private onVmState(e: VmEvent): void {
    if (e.state === "running" || e.state === "paused") return;
    const h = this.hosts.get(e.vm);
    const how = e.state === "crashed" ? "crashed" : e.state === "created" ? "rebooted" : "stopped";
    for (const rec of this.recs.values()) {
      if (rec.host === e.vm && rec.handle !== null && rec.lostReason === null) this.lose(rec, `its host VM ${e.vm} ${how}; a container does not outlive its VM's guest`);
    }
    if (h) {
      this.hosts.delete(e.vm);
      h.host.close();
    }
  }

  private lose(rec: Rec, reason: string): void {
    rec.lostReason = reason;
    this.vmm.events.add("container", rec.host, { container: rec.name, kind: "lost", message: `container ${rec.name} was lost: ${reason}` });
  }

  view(rec: Rec): ContainerView {
    // An exit seen by the library is final, whatever an older listing said.
    const st = rec.handle !== null && rec.handle.state === "exited" && rec.status?.state !== "exited" ? rec.handle.last : rec.status;
    const state: ContainerState = rec.lostReason !== null ? "lost" : rec.handle === null ? "creating" : (st?.state ?? "created");
    return {
      name: rec.name,
      host: rec.host,
      state,
      exitStatus: st?.exitStatus ?? null,
      pid: state === "running" ? (st?.pid ?? null) : null,
      cmd: rec.cmd,
      net: rec.net,
      devices: rec.devices,
      ip: ipOf(st),
      limits: { cpuWeight: st?.cpuWeight ?? null, cpuMax: st?.cpuMax || null, memMax: st?.memMax ?? null, pidsMax: st?.pidsMax ?? null },
      usage: { cpuSeconds: st ? st.cpuUsec / 1e6 : null, memBytes: st?.memBytes ?? null },
      oomKills: st?.oomKills ?? 0,
      oomMessage: rec.oomMessage,
      lostReason: rec.lostReason,
      createdAt: rec.createdAt,
      updatedAt: rec.statusAt,
    };
  }
}

/** The default host VM as a fleet-file entry (the same checks as any VM). */
export function defaultHostEntry(): VmEntry {
  return { name: DEFAULT_HOST.NAME, profile: "pv", cpus: DEFAULT_HOST.CPUS, mem: DEFAULT_HOST.MEM_BYTES };
}
