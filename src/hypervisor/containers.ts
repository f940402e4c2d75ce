/**
 * Containers inside one running pv guest (issue 14; docs/containers.md). The guest side is
 * /sbin/paravm-container (namespaces, cgroup v2, a root copy), driven through the guest
 * agent's `exec`; this is the host side the daemon calls: a ContainerHost bound to one pv
 * Vm, run() → a Container handle, ls(), and events (start, exit, oom, remove) to forward.
 *
 * Every input is checked (container-limits.ts) before the guest is asked anything; every
 * word sent is single-quoted and the whole command travels as base64 (agentExec). A run
 * that fails half-way removes what it made. What the guest answers is parsed as the word of
 * a hostile party: a line that does not parse fails that call, nothing else.
 */
import { EventEmitter } from "node:events";
import { randomBytes } from "node:crypto";
import type { MachineSpec } from "./machine-spec.js";
import type { Hypervisor } from "./hypervisor.js";
import {
  checkCmd,
  checkName,
  checkRun,
  ContainerError,
  errorText,
  fmtMiB,
  limitWords,
  parseStatus,
  shQuote,
  type ContainerLimits,
  type ContainerStatus,
  type HostShape,
  type RunOptions,
} from "./container-limits.js";

export * from "./container-limits.js";

/** What a ContainerHost needs of a Vm (a structural subset, so tests can hand it a stand-in). */
export interface ContainerVm {
  readonly name: string;
  readonly spec: Pick<MachineSpec, "profile" | "memBytes" | "cpus">;
  readonly state: string;
  agentReady(timeoutMs: number): Promise<boolean>;
  agentExec(cmd: string, opts?: { timeoutMs?: number }): Promise<{ status: number; output: string }>;
}

export const CONTAINER_HOST = {
  RUNTIME: "/sbin/paravm-container",
  /** How long attach() waits for the agent's hello (a guest still booting). */
  AGENT_READY_MS: 180_000,
  /** One runtime command (create copies the root: ~3 s on a loaded emulated hart). */
  CMD_TIMEOUT_MS: 90_000,
  /**
   * A monitor's long poll: the guest waits this long for an exit or an OOM kill. Each poll
   * is an agent request that runs the runtime script (~20 forks in the guest, some 30 M
   * guest instructions): at 20 s slices that made an idle container cost ~8% of a host
   * core. The wait itself returns at once on an exit or an OOM kill, so a long slice
   * delays nothing; it only bounds how long a guest whose agent died goes unnoticed.
   */
  WAIT_SLICE_S: 120,
  /** After an OOM kill, how long to look whether the container's PID 1 died of it. */
  OOM_SETTLE_S: 5,
  /** Failed long polls in a row, while the VM runs, before a container is reported lost. */
  MONITOR_TRIES: 3,
  MONITOR_RETRY_MS: 1000,
  /** Seconds between stop()'s SIGTERM and SIGKILL of the whole group. */
  STOP_GRACE_S: 3,
  /** Runtime calls kept in `recent`. */
  RECENT: 30,
} as const;

/** What the ContainerHost reports; the daemon forwards these. */
export interface ContainerEvent {
  readonly kind: "start" | "exit" | "oom" | "remove" | "lost";
  readonly host: string;
  readonly container: string;
  readonly message: string;
  readonly exitStatus?: number;
  readonly oomKills?: number;
  readonly at: number;
}

export class ContainerHost extends EventEmitter {
  private readonly shape: HostShape;
  private readonly handles = new Map<string, Container>();
  private closed = false;
  /** The last runtime calls and how they ended (diagnostics for a stuck or failing container). */
  readonly recent: string[] = [];

  private constructor(readonly vm: ContainerVm) {
    super();
    this.shape = { name: vm.name, memBytes: vm.spec.memBytes, cpus: vm.spec.cpus };
  }

  /** Bind to the VM named `vmName` on `hv`: it must exist, be pv, run, and its agent and runtime answer. */
  static async attach(hv: Hypervisor, vmName: string, opts: { agentReadyMs?: number } = {}): Promise<ContainerHost> {
    if (!hv.vms.has(vmName)) throw new ContainerError(`container host: no VM named "${vmName}"`, true);
    return ContainerHost.forVm(hv.get(vmName), opts);
  }

  static async forVm(vm: ContainerVm, opts: { agentReadyMs?: number } = {}): Promise<ContainerHost> {
    const what = `container host ${vm.name}`;
    if (vm.spec.profile !== "pv") {
      throw new ContainerError(`${what}: VM ${vm.name} is a ${vm.spec.profile} VM; containers need a pv guest (they are run through its guest agent)`, true);
    }
    if (vm.state !== "running") throw new ContainerError(`${what}: VM ${vm.name} is ${vm.state}, not running`, true);
    const waitMs = opts.agentReadyMs ?? CONTAINER_HOST.AGENT_READY_MS;
    if (!(await vm.agentReady(waitMs))) {
      throw new ContainerError(`${what}: the guest agent did not answer in ${waitMs / 1000} s (is this the project's pv image, booted without paravm.noagent?)`, false);
    }
    const host = new ContainerHost(vm);
    const r = await host.runtime(["ls"]);
    if (r.status !== 0) {
      const why = r.status === 127 ? `the guest image has no ${CONTAINER_HOST.RUNTIME} (rebuild it: node scripts/build-guests.mjs)` : errorText(r.output);
      throw new ContainerError(`${what}: ${why}`, false);
    }
    return host;
  }

  /** Run the guest runtime with these words, each quoted; the agent carries it as base64. */
  async runtime(words: readonly string[], timeoutMs: number = CONTAINER_HOST.CMD_TIMEOUT_MS): Promise<{ status: number; output: string }> {
    if (this.closed) throw new ContainerError(`container host ${this.vm.name} is closed`, false);
    const t0 = performance.now();
    const note = (how: string): void => {
      this.recent.push(`${words.slice(0, 6).join(" ")}${words.length > 6 ? " …" : ""} → ${how} (${(performance.now() - t0).toFixed(0)} ms)`);
      if (this.recent.length > CONTAINER_HOST.RECENT) this.recent.shift();
    };
    try {
      const r = await this.vm.agentExec([CONTAINER_HOST.RUNTIME, ...words].map(shQuote).join(" "), { timeoutMs });
      note(`status ${r.status}`);
      return r;
    } catch (e) {
      note(`failed: ${(e as Error).message}`);
      throw e;
    }
  }

  /** A runtime command that must succeed and print status lines. */
  async statusOf(words: readonly string[], what: string, timeoutMs?: number): Promise<ContainerStatus[]> {
    const r = await this.runtime(words, timeoutMs);
    if (r.status !== 0) throw new ContainerError(`${what}: ${errorText(r.output)}`, r.status === 2, r.status);
    const lines = r.output.split("\n").filter((l) => l.trim() !== "");
    const parsed = lines.map(parseStatus);
    if (parsed.some((p) => p === null)) throw new ContainerError(`${what}: the guest answered something that is not a status line: ${JSON.stringify(r.output.slice(0, 200))}`, false);
    return parsed as ContainerStatus[];
  }

  /** Create and start a container; resolves once its command runs (the handle), or rejects having removed everything. */
  async run(opts: RunOptions): Promise<Container> {
    const c = checkRun(opts, this.shape);
    const id = c.name ?? `c-${randomBytes(4).toString("hex")}`;
    const what = `container ${id}`;
    if (this.handles.has(id)) throw new ContainerError(`${what} already exists`, true);
    // The guest's create is all or nothing (it undoes itself); from here on, a failure removes it.
    await this.statusOf(["create", id], `${what}: create`);
    let st: ContainerStatus;
    try {
      const r = await this.runtime(["start", id, ...c.limits, `net=${c.net}`, ...c.devices.map((d) => `device=${d}`), "--", ...c.cmd]);
      if (r.status !== 0) {
        const msg = r.status === 127 ? `${what}: ${errorText(r.output)} (exit status 127)` : `${what}: start: ${errorText(r.output)}`;
        throw new ContainerError(msg, r.status === 2 || r.status === 127, r.status);
      }
      const s = parseStatus(r.output.trim().split("\n").pop() ?? "");
      if (s === null) throw new ContainerError(`${what}: start: the guest's answer is not a status line`, false);
      st = s;
    } catch (e) {
      await this.runtime(["rm", id]).catch(() => undefined);
      throw e;
    }
    const h = new Container(this, id, st);
    this.handles.set(id, h);
    this.report({ kind: "start", container: id, message: `container ${id} started: ${c.cmd.join(" ")}` });
    // It may already have been OOM-killed or have ended while start waited for it.
    await this.observe(h, st);
    void this.monitor(h);
    return h;
  }

  /** Every container in the guest (also ones this object did not start). */
  async ls(): Promise<ContainerStatus[]> {
    return this.statusOf(["ls"], `container host ${this.vm.name}: ls`);
  }

  /** A handle for a container that exists in the guest. */
  async get(name: string): Promise<Container> {
    const id = checkName(name);
    const known = this.handles.get(id);
    if (known) return known;
    const [st] = await this.statusOf(["status", id], `container ${id}`);
    const h = new Container(this, id, st!);
    this.handles.set(id, h);
    // Kills before this handle existed are history, not news.
    h.oomKills = st!.oomKills;
    h.exitReported = st!.state === "exited";
    if (h.state === "running") void this.monitor(h);
    return h;
  }

  /** Stop watching (containers keep running in the guest); pending wait()s reject. */
  close(): void {
    this.closed = true;
    for (const h of this.handles.values()) h.lose(`the container host ${this.vm.name} was closed`);
    this.handles.clear();
  }

  /** @internal */
  forget(id: string): void {
    this.handles.delete(id);
  }

  /** @internal */
  limitWords(l: ContainerLimits): string[] {
    return limitWords(l, this.shape, "set()");
  }

  /** @internal: emit one event, as `event` and as its kind. */
  report(e: Omit<ContainerEvent, "host" | "at">): void {
    const ev: ContainerEvent = { ...e, host: this.vm.name, at: Date.now() };
    this.emit("event", ev);
    this.emit(ev.kind, ev);
  }

  /** @internal: a status the guest gave for `h`: OOM kills and the exit become events. */
  async observe(h: Container, st: ContainerStatus): Promise<void> {
    if (st.oomKills > h.oomKills) {
      // Claimed before the first await: concurrent observers (monitor, set, status) report a kill once.
      h.oomKills = st.oomKills;
      let now = st;
      // Did the kill take PID 1 (the container ends) or a process inside? Look briefly.
      if (now.state === "running") {
        now = (await this.statusOf(["wait", h.id, String(CONTAINER_HOST.OOM_SETTLE_S), String(st.oomKills)], `container ${h.id}`).catch(() => [st]))[0] ?? st;
      }
      const limit = typeof now.memMax === "number" ? `memory.max ${fmtMiB(now.memMax)}` : "memory.max max";
      const who = now.state === "exited" ? `container ${h.id} was killed` : `a process in container ${h.id} was killed`;
      const n = Math.max(now.oomKills, h.oomKills);
      h.oomKills = n;
      this.report({ kind: "oom", container: h.id, oomKills: n, message: `${who} by the kernel's OOM killer: ${limit}${n > 1 ? ` (${n} OOM kills so far)` : ""}` });
      st = now;
    }
    h.update(st);
    if (st.state === "exited" && !h.exitReported) {
      h.exitReported = true;
      this.report({ kind: "exit", container: h.id, exitStatus: st.exitStatus ?? -1, message: `container ${h.id} exited with status ${st.exitStatus ?? "unknown"}` });
    }
  }

  /** Long-poll the guest until the container exits: the guest itself waits (cheaply) for the exit or an OOM kill. */
  private async monitor(h: Container): Promise<void> {
    let failures = 0;
    while (h.state === "running" && !this.closed && this.handles.get(h.id) === h) {
      try {
        const [st] = await this.statusOf(["wait", h.id, String(CONTAINER_HOST.WAIT_SLICE_S), String(h.oomKills)], `container ${h.id}`, (CONTAINER_HOST.WAIT_SLICE_S + 30) * 1000);
        if (this.handles.get(h.id) !== h) return;
        failures = 0;
        await this.observe(h, st!);
      } catch (e) {
        if (this.closed || this.handles.get(h.id) !== h) return;
        // A guest starved of CPU (a loaded host, a memory hog beside it) can miss one long
        // poll; the container is still there. Only a VM that stopped, or several misses in
        // a row, mean the container is out of reach.
        if (this.vm.state === "running" && ++failures < CONTAINER_HOST.MONITOR_TRIES) {
          await new Promise((r) => setTimeout(r, CONTAINER_HOST.MONITOR_RETRY_MS));
          continue;
        }
        const msg = `container ${h.id}: lost track of it: ${(e as Error).message}`;
        h.lose(msg);
        this.report({ kind: "lost", container: h.id, message: msg });
        return;
      }
    }
  }
}

/** One container; its methods ask the guest. */
export class Container {
  state: ContainerStatus["state"] | "removed";
  exitStatus: number | null = null;
  /** OOM kills reported so far (ContainerHost.observe advances it as it emits the events). */
  oomKills = 0;
  /** The last status the guest gave. */
  last: ContainerStatus;
  /** @internal */
  exitReported = false;
  private waiters: { resolve: (n: number) => void; reject: (e: Error) => void }[] = [];
  private lostReason: string | null = null;

  /** @internal */
  constructor(
    readonly host: ContainerHost,
    readonly id: string,
    st: ContainerStatus,
  ) {
    this.state = st.state;
    this.last = st;
    this.update(st);
  }

  get name(): string {
    return this.id;
  }

  /** Its address on the container network (net "bridge", while it runs), from the last status. */
  get ip(): string | null {
    return this.last.ip;
  }

  /** @internal */
  update(st: ContainerStatus): void {
    this.last = st;
    if (this.state === "removed") return;
    this.state = st.state;
    if (st.state === "exited") {
      this.exitStatus = st.exitStatus;
      for (const w of this.waiters.splice(0)) w.resolve(st.exitStatus ?? -1);
    }
  }

  /** @internal */
  lose(reason: string): void {
    this.lostReason = reason;
    for (const w of this.waiters.splice(0)) w.reject(new ContainerError(reason, false));
  }

  /** The exit status (128+N when killed by signal N: 137 for SIGKILL, the OOM killer's signal). */
  wait(): Promise<number> {
    if (this.state === "exited") return Promise.resolve(this.exitStatus ?? -1);
    if (this.state === "removed") return Promise.reject(new ContainerError(`container ${this.id} was removed`, true));
    if (this.lostReason !== null) return Promise.reject(new ContainerError(this.lostReason, false));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private alive(what: string): void {
    if (this.state === "removed") throw new ContainerError(`${what}: container ${this.id} was removed`, true);
  }

  async status(): Promise<ContainerStatus> {
    this.alive("status");
    const [st] = await this.host.statusOf(["status", this.id], `container ${this.id}`);
    await this.host.observe(this, st!);
    return st!;
  }

  /** Its stdout and stderr so far (the log holds at most 1 MiB; writes beyond fail with ENOSPC). */
  async logs(): Promise<string> {
    this.alive("logs");
    const r = await this.host.runtime(["logs", this.id]);
    if (r.status !== 0) throw new ContainerError(`container ${this.id}: logs: ${errorText(r.output)}`, false, r.status);
    return r.output;
  }

  /** Run `cmd` inside it (its namespaces, root and cgroup): status and output; 127 when there is no such command. */
  async exec(cmd: readonly string[], opts: { timeoutMs?: number } = {}): Promise<{ status: number; output: string }> {
    this.alive("exec");
    const checked = checkCmd(cmd);
    const timeoutS = Math.ceil((opts.timeoutMs ?? CONTAINER_HOST.CMD_TIMEOUT_MS) / 1000);
    const r = await this.host.runtime(["exec", this.id, `timeout=${timeoutS}`, "--", ...checked], (timeoutS + 10) * 1000);
    // The runtime's own failures are 125 with one error= line (127: no such command).
    if ((r.status === 125 || r.status === 127) && /^error=[^\n]*\n?$/.test(r.output)) {
      if (r.status === 127) return { status: 127, output: `${errorText(r.output)}\n` };
      throw new ContainerError(`container ${this.id}: exec: ${errorText(r.output)}`, false, r.status);
    }
    return r;
  }

  /** Change limits while it runs (checked first, as run() checks them). */
  async set(limits: ContainerLimits): Promise<ContainerStatus> {
    this.alive("set");
    const words = this.host.limitWords(limits);
    if (words.length === 0) throw new ContainerError("set() needs at least one of cpuWeight, cpuMax, memMax, pidsMax", true);
    const [st] = await this.host.statusOf(["set", this.id, ...words], `container ${this.id}: set`);
    await this.host.observe(this, st!);
    return st!;
  }

  /** SIGTERM to its PID 1, then after `graceS` SIGKILL to every process in it; resolves with the exit status. */
  async stop(graceS: number = CONTAINER_HOST.STOP_GRACE_S): Promise<number> {
    this.alive("stop");
    if (!Number.isInteger(graceS) || graceS < 0 || graceS > 600) throw new ContainerError(`stop: grace ${graceS} must be whole seconds in 0..600`, true);
    const [st] = await this.host.statusOf(["stop", this.id, String(graceS)], `container ${this.id}: stop`, (graceS + 30) * 1000 + CONTAINER_HOST.CMD_TIMEOUT_MS);
    await this.host.observe(this, st!);
    return st!.exitStatus ?? -1;
  }

  /** Remove everything it made in the guest (killing it first if it runs). */
  async rm(): Promise<void> {
    this.alive("rm");
    if (this.state === "running") await this.stop(0);
    const r = await this.host.runtime(["rm", this.id]);
    if (r.status !== 0) throw new ContainerError(`container ${this.id}: rm: ${errorText(r.output)}`, false, r.status);
    this.state = "removed";
    this.host.forget(this.id);
    for (const w of this.waiters.splice(0)) w.resolve(this.exitStatus ?? -1);
    this.host.report({ kind: "remove", container: this.id, message: `container ${this.id} removed` });
  }
}
