/**
 * A VM as the hypervisor holds it: one worker_thread per vCPU (hart 0's thread owns the
 * devices), a slot per vCPU in the credit scheduler, and a lifecycle whose every change is
 * an event.
 *
 *   created → running ⇄ paused → stopped        (start, pause, resume, stop; reboot = stop + start)
 *                     ↘ crashed (a thread threw or died: its reason is kept, every thread is gone)
 *
 * A crash is contained: the VM's threads are terminated, its scheduler slots freed, and no
 * other VM notices anything but the host core it gets back.
 */
import { EventEmitter } from "node:events";
import type { Worker } from "node:worker_threads";
import type { HartPart } from "../machine/hart-part.js";
import type { RunResult } from "../machine/run-loop.js";
import { LinkStop, VcpuLink } from "../machine/vcpu-link.js";
import { AgentClient, AGENT, changeVcpus, type AgentAnswer } from "./agent.js";
import { checkMemTarget, type BalloonReport } from "../machine/pv-balloon.js";
import { DirtyLog } from "../mem/dirty-log.js";
import { hostMemory } from "../mem/host-memory.js";
import { PAGE_SIZE } from "../mem/ram.js";
import type { MachineSpec } from "./machine-spec.js";
import { vmChargeBytes } from "./memory-pool.js";
import { checkCap, checkWeight, type CreditScheduler } from "./scheduler.js";
import { VcpuSched } from "./vcpu-sched.js";
import { vmInfo, type VmRestore } from "./snapshot/vm-file.js";
import { askParts, onlineHarts } from "./vcpu-state.js";
import { ON_DEMAND_THREADS } from "./vcpu-threads.js";
import type { VcpuWorkerData } from "./vcpu-worker.js";
import { createVmControl, VM_CTL, VcpuReport, VmCommand, whereText, type HartMessage, type OwnerMessage, type VcpuMessage } from "./vm-control.js";

import { OwnerRequests } from "./vm-owner-requests.js";
import { mergeLive, mergeResults, type LiveCounters } from "./vm-results.js";
import { VM_DEFAULTS, VmBuildError, VmSnapshotError, type VmEvent, type VmMemoryStats, type VmOptions, type VmOutcome, type VmSchedStats, type VmSnapshotResult, type VmState } from "./vm-types.js";

export * from "./vm-types.js";
export { mergeResults } from "./vm-results.js";


export class Vm extends EventEmitter {
  readonly name: string;
  readonly spec: MachineSpec;
  state: VmState = "created";
  /** Why the VM crashed, or how its last run ended. */
  reason: string | undefined;
  /** The scheduler's index for this VM and its vCPU slots, while it runs. */
  schedVm = -1;
  slots: number[] = [];
  private workers: Worker[] = [];
  private control: Int32Array | null = null;
  /** Which run (start) the current threads belong to. */
  private run = 0;
  private link: VcpuLink | null = null;
  private results: (RunResult | null)[] = [];
  private finished: Promise<VmOutcome> | null = null;
  private settle: ((o: VmOutcome) => void) | null = null;
  private readonly scheduler: CreditScheduler;
  private weight: number;
  private cap: number;
  /** Who waits for the owner's answer to a snapshot request. */
  private readonly requests: OwnerRequests;
  /** The guest agent's client for the current run (pv), its online vCPU count, a change under way. */
  private agentClient: AgentClient | null = null;
  private online = 0;
  private changingVcpus = false;
  /** Balloon (pv): the memory target, the owner's latest report and when it came, the stats lease. */
  private memTarget: number;
  private memReport: BalloonReport | null = null;
  private memReportAt = 0;
  private memLeaseRenew = 0;
  private ramSab: SharedArrayBuffer | null = null;
  /** The dirty-page log every thread of the current run marks (mem/dirty-log.ts); off until a migration starts it. */
  private dirty: DirtyLog | null = null;
  /** Built for an incoming live migration and waiting for its state (start({incoming})). */
  incoming = false;
  /**
   * Frames from the switch and console input are dropped (an outgoing migration's last
   * step: after the state is taken nothing may reach the guest here; TCP resends, and the
   * guest runs elsewhere a few milliseconds later).
   */
  holdIo = false;

  constructor(private readonly options: VmOptions) {
    super();
    this.name = options.name;
    this.spec = options.spec;
    this.scheduler = options.scheduler;
    this.requests = new OwnerRequests(this.name, (msg) => this.toOwner(msg), () => this.wait());
    this.weight = options.weight ?? 256;
    this.cap = options.cap ?? 0;
    this.memTarget = options.spec.memTargetBytes ?? options.spec.memBytes;
    options.net?.onReceive((frame, gso) => {
      const owner = this.workers[0];
      if (!owner || this.state === "stopped" || this.state === "crashed" || this.incoming || this.holdIo) return false;
      owner.postMessage({ t: "frame", frame, gso } satisfies OwnerMessage);
      VcpuSched.ring(this.scheduler.sab, this.slots[0]!);
      return true;
    });
  }

  private setState(state: VmState, reason?: string): void {
    this.state = state;
    this.reason = reason;
    const ev: VmEvent = { vm: this.name, state, ...(reason !== undefined ? { reason } : {}), at: Date.now() };
    this.emit("state", ev);
  }

  /**
   * Start the VM: boot it, or with `restore` continue the VM saved in that snapshot (read and
   * checked: its spec must be this VM's, Hypervisor.restore builds the VM from the file). With
   * `incoming` (a live migration's destination) the machine is built but does not run: the
   * VM stays "created" with its RAM writable (guestRam()) until completeIncoming() hands it
   * the state, or abortIncoming() drops it. Resolves once the owner thread built the machine.
   */
  async start(opts: { restore?: VmRestore; agentHello?: string; incoming?: boolean } = {}): Promise<void> {
    if (this.state === "running" || this.state === "paused" || this.incoming) throw new Error(`VM ${this.name} is already ${this.incoming ? "being migrated in" : this.state}`);
    // Admission first: a VM that does not fit changes nothing (AdmissionError).
    this.options.memory?.admit(this.name, this.chargeBytes());
    // Then the disk: a file another running VM writes (or reads, when this one would write) is refused.
    const busy = this.options.disks?.claim(this.name, this.spec.disk) ?? null;
    if (busy !== null) {
      this.options.memory?.release(this.name);
      throw new VmBuildError(`VM ${this.name}: ${busy}`, true);
    }
    const cpus = this.spec.cpus;
    this.run++;
    const link = VcpuLink.create(cpus);
    this.link = link;
    this.control = createVmControl(cpus);
    this.results = new Array<RunResult | null>(cpus).fill(null);
    this.schedVm = this.scheduler.addVm({ weight: this.weight, cap: this.cap });
    this.slots = [];
    for (let i = 0; i < cpus; i++) this.slots.push(this.scheduler.addVcpu(this.schedVm));
    this.finished = new Promise<VmOutcome>((resolve) => (this.settle = resolve));
    this.online = this.spec.onlineCpus ?? cpus;
    this.agentClient?.close("the VM restarted");
    const agent = this.spec.profile === "pv" ? new AgentClient((bytes) => this.toOwner({ t: "agent", bytes })) : null;
    this.agentClient = agent;
    if (agent && (opts.restore !== undefined || opts.incoming) && opts.agentHello !== undefined) agent.restored(opts.agentHello);
    void this.finished.then(() => agent?.close("the VM stopped"));
    this.memReport = null;
    this.live = new Array<Extract<VcpuMessage, { t: "live" }> | null>(cpus).fill(null);
    this.memLeaseRenew = 0;
    const dirty = DirtyLog.create(this.spec.memBytes / PAGE_SIZE);
    this.dirty = dirty;
    const base = {
      spec: this.liveSpec(),
      link: link.sab,
      control: this.control.buffer as SharedArrayBuffer,
      sched: this.scheduler.sab,
      slots: this.slots,
      epochAbsMs: performance.timeOrigin + performance.now(),
      slice: VM_DEFAULTS.SLICE,
      detectDeadlock: this.options.waitsForInput === false && this.options.net === undefined,
      dirty: dirty.sab,
    };
    const fault = (hart: number): { throwAfterMs?: number } =>
      this.options.injectFault?.hart === hart ? { throwAfterMs: this.options.injectFault.ms } : {};
    const ready = new Promise<Extract<VcpuMessage, { t: "ready" }>>((resolve, reject) => {
      const owner = this.spawn({
        ...base,
        hart: 0,
        ...fault(0),
        ...(opts.restore !== undefined ? { restore: opts.restore } : {}),
        ...(opts.incoming ? { incoming: true } : {}),
      });
      owner.once("error", reject);
      owner.on("message", (m: VcpuMessage) => {
        if (m.t === "ready") resolve(m);
        else if (m.t === "buildError") reject(new VmBuildError(m.message, m.usage));
      });
    });
    let info: Extract<VcpuMessage, { t: "ready" }>;
    try {
      info = await ready;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      for (const w of this.workers) void w.terminate();
      this.workers = [];
      this.release();
      this.setState("stopped", `not built: ${msg}`);
      this.settle?.({ kind: "crashed", reason: `not built: ${msg}` });
      throw e instanceof VmBuildError ? e : new VmBuildError(msg, false);
    }
    this.ramSab = info.ram;
    // The other harts' threads: a restored VM's continue from the parts the owner loaded; an
    // incoming VM's start now and wait for theirs (vcpu-state.ts), so they are up when it comes.
    for (let k = 1; k < cpus; k++) {
      const restoreHart = info.remote ? { restoreHart: { part: info.remote.parts[k]!, time: info.remote.time } } : {};
      this.spawn({
        ...base,
        hart: k,
        ...fault(k),
        ram: { sab: info.ram, base: info.ramBase, size: info.ramSize },
        regions: info.regions,
        ...(info.firmwareEntry ? { firmwareEntry: info.firmwareEntry } : {}),
        ...(opts.incoming ? { incoming: true } : restoreHart),
      });
    }
    if (opts.incoming) {
      this.incoming = true;
      return;
    }
    if (info.remote && this.spec.profile === "pv") this.online = onlineHarts(link.hsmStates);
    this.setState("running");
  }

  private spawn(data: VcpuWorkerData): Worker {
    const w = (this.options.threads ?? ON_DEMAND_THREADS).spawn(data, `${this.name}/vcpu${data.hart}`);
    this.workers.push(w);
    // Threads of an earlier run (before a reboot) may still report their exit: ignore them.
    const run = this.run;
    w.on("message", (m: VcpuMessage) => {
      if (run === this.run) this.onMessage(m);
    });
    w.on("error", (e) => {
      if (run === this.run) this.crash(`vCPU ${data.hart}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    });
    w.on("exit", (code) => {
      if (run === this.run && this.results[data.hart] === null && this.state !== "crashed" && this.state !== "stopped") {
        this.crash(`vCPU ${data.hart}'s thread exited (code ${code}) before the VM stopped`);
      }
    });
    return w;
  }

  private onMessage(m: VcpuMessage): void {
    if (m.t === "out") this.emit("output", m.bytes);
    else if (m.t === "frame") this.options.net?.send(m.frame, m.gso);
    else if (m.t === "agent") this.agentClient?.receive(m.bytes);
    else if (m.t === "live") this.live[m.hart] = m;
    else if (m.t === "saved" || m.t === "state" || m.t === "loaded") this.requests.answer(m);
    else if (m.t === "mem") {
      this.memReport = m.report;
      this.memReportAt = performance.now();
    }
    else if (m.t === "done") {
      this.results[m.hart] = m.result as RunResult;
      if (this.results.every((r) => r !== null)) this.finish();
    }
  }

  private finish(): void {
    if (this.state === "crashed") return;
    const result = mergeResults(this.results as RunResult[]);
    if (result.balloon) {
      this.memReport = result.balloon;
      this.memReportAt = performance.now();
    }
    // Every thread has posted its result; the owner's port listener would keep it alive.
    for (const w of this.workers) void w.terminate();
    this.release();
    this.setState("stopped", result.stop);
    this.settle?.({ kind: "stopped", result });
  }

  private crash(reason: string): void {
    if (this.state === "crashed" || this.state === "stopped") return;
    this.setState("crashed", reason);
    this.settle?.({ kind: "crashed", reason });
    // The other threads stop at their next slice boundary; one that does not (stuck in
    // host code) is terminated. Only then are the scheduler slots freed: a thread killed
    // inside a scheduler call could hold the table's lock.
    this.command(VmCommand.STOP);
    const workers = this.workers;
    this.workers = [];
    const exited = Promise.all(workers.map((w) => new Promise<void>((r) => (w.threadId < 0 ? r() : w.once("exit", () => r())))));
    const grace = new Promise<void>((r) => setTimeout(r, VM_DEFAULTS.CRASH_GRACE_MS).unref());
    void Promise.race([exited, grace]).then(() => {
      for (const w of workers) void w.terminate();
      this.release();
    });
  }

  /** The scheduler's figures: live while the VM runs, as they were at its end after. */
  schedStats(): VmSchedStats | null {
    if (this.schedVm < 0) return this.lastSched;
    const s = this.scheduler.vmStats(this.schedVm);
    return {
      ...this.settings,
      cpuMs: s.runMs,
      waitMs: s.waitMs,
      idleMs: s.idleMs,
      share: s.share,
      entitlement: s.entitlement,
      vcpus: this.slots.map((slot, i) => {
        const v = this.scheduler.vcpuStats(slot);
        return { vcpu: i, cpuMs: v.runMs, waitMs: v.waitMs, idleMs: v.idleMs, state: v.state };
      }),
    };
  }

  private lastSched: VmSchedStats | null = null;

  /**
   * Where each vCPU is right now, one line each: what its thread reports, the step of its
   * loop, pc/privilege/interrupts as of its last step, the scheduler's view and its link
   * words. Read without locks, so it answers even when the VM is stuck (that is its use).
   */
  where(): string[] {
    const ctl = this.control;
    if (!ctl || this.state === "created") return [`${this.name}: ${this.state}`];
    const cpus = this.spec.cpus;
    const hex = (v: number): string => (v >>> 0).toString(16);
    const lines = [`${this.name}: ${this.state}${this.reason !== undefined ? ` (${this.reason})` : ""}, command ${Atomics.load(ctl, VM_CTL.COMMAND)}`];
    for (let k = 0; k < cpus; k++) {
      const slot = this.slots[k];
      const sched = slot !== undefined && this.schedVm >= 0 ? this.scheduler.peekSlot(slot) : null;
      const l = this.link?.peek(k);
      lines.push(
        `  vcpu${k}: ${whereText(ctl, cpus, k)}` +
          (sched ? ` | sched ${sched.state}/${sched.priority} grant ${sched.grant ? 1 : 0} bell ${sched.bell}${sched.tableLocked ? " (table locked)" : ""}` : "") +
          (l ? ` | link levels ${hex(l.levels)} soft ${hex(l.soft)} fence ${l.fenceReq}/${l.fenceAck} start ${l.start} mbox ${l.mbox} hsm ${l.hsm} stop ${l.stop}` : ""),
      );
    }
    return lines;
  }

  /** Each vCPU thread's latest live counts (VcpuMessage "live"), this run. */
  private live: (Extract<VcpuMessage, { t: "live" }> | null)[] = [];

  /**
   * Exits by reason and instructions retired so far in this run, at most a second old:
   * hart k's figures from thread k plus what the owner thread counted for it (device
   * registers), merged as mergeResults merges the final results. Null before any report.
   */
  liveCounters(): LiveCounters | null {
    return mergeLive(this.live);
  }

  /** What the VM holds of the host memory budget while it runs (memory-pool.ts). */
  chargeBytes(): number {
    return vmChargeBytes(this.spec.memBytes, this.spec.cpus, this.spec.memBytes - this.memTarget);
  }

  private release(): void {
    this.options.memory?.release(this.name);
    this.options.disks?.release(this.name);
    if (this.schedVm >= 0) this.lastSched = this.schedStats();
    this.workers = [];
    if (this.schedVm >= 0) this.scheduler.removeVm(this.schedVm);
    this.schedVm = -1;
  }

  private command(cmd: number): void {
    if (!this.control) return;
    Atomics.store(this.control, VM_CTL.COMMAND, cmd);
    // Threads waiting on each other (a device access, a fence) give up when the VM ends.
    if (cmd === VmCommand.STOP) this.link?.requestStop(LinkStop.HOST, 0);
    for (const s of this.slots) VcpuSched.ring(this.scheduler.sab, s);
  }

  /** Resolves when the current run ends (powered off, stopped or crashed). */
  wait(): Promise<VmOutcome> {
    if (!this.finished) throw new Error(`VM ${this.name} was never started`);
    return this.finished;
  }

  /** Stop every vCPU thread at its next slice boundary: 0 host CPU until resume. */
  async pause(): Promise<void> {
    if (this.state !== "running") throw new Error(`VM ${this.name} is ${this.state}, not running`);
    this.command(VmCommand.PAUSE);
    const ctl = this.control!;
    const t0 = performance.now();
    for (;;) {
      let all = true;
      for (let k = 0; k < this.spec.cpus; k++) {
        const r = Atomics.load(ctl, VM_CTL.HART_BASE + k);
        if (r !== VcpuReport.PAUSED && r !== VcpuReport.DONE) all = false;
      }
      if (all) break;
      if (this.state !== "running") return;
      if (performance.now() - t0 > VM_DEFAULTS.PAUSE_TIMEOUT_MS) {
        this.command(VmCommand.RUN);
        throw new Error(`VM ${this.name}: a vCPU did not pause within ${VM_DEFAULTS.PAUSE_TIMEOUT_MS} ms`);
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    this.setState("paused");
  }

  resume(): void {
    if (this.state !== "paused") throw new Error(`VM ${this.name} is ${this.state}, not paused`);
    this.command(VmCommand.RUN);
    this.setState("running");
  }

  /**
   * Stop the VM (its result says "stopped") and wait for its threads to finish. A thread
   * that has not finished within STOP_TIMEOUT_MS is terminated and the VM ends "crashed"
   * with that reason: a stop always ends.
   */
  async stop(): Promise<VmOutcome> {
    if (this.state !== "running" && this.state !== "paused") throw new Error(`VM ${this.name} is ${this.state}, not running`);
    this.command(VmCommand.STOP);
    const done = this.wait();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), VM_DEFAULTS.STOP_TIMEOUT_MS)));
    const first = await Promise.race([done, late]);
    clearTimeout(timer);
    if (first === "late") {
      const stuck = this.results.map((r, k) => (r === null ? k : -1)).filter((k) => k >= 0);
      this.crash(`vCPU ${stuck.join(", ")} did not stop within ${VM_DEFAULTS.STOP_TIMEOUT_MS} ms and was terminated`);
      return done;
    }
    return first;
  }

  /** Stop, then boot again from the same spec. */
  async reboot(): Promise<void> {
    await this.stop();
    this.setState("created");
    await this.start();
  }

  /** Console input for the guest (dropped while an incoming VM waits for its state). */
  input(bytes: Uint8Array): void {
    if (!this.incoming && !this.holdIo) this.toOwner({ t: "input", bytes });
  }

  /** vCPUs online in the guest (as the agent last confirmed) and present (the most it can have). */
  get vcpus(): { online: number; max: number } {
    return { online: this.online, max: this.spec.cpus };
  }

  /** The running pv VM's agent client, or a clear error. */
  private agentFor(what: string): AgentClient {
    if (this.state !== "running") throw new Error(`${what}: VM ${this.name} is ${this.state}, not running`);
    if (!this.agentClient) throw new Error(`${what}: VM ${this.name} is a ${this.spec.profile} VM; only pv guests have the agent`);
    return this.agentClient;
  }

  /** Resolves true once the guest agent has started (false after `timeoutMs`). */
  agentReady(timeoutMs: number): Promise<boolean> {
    return this.agentFor("agentReady").ready(timeoutMs);
  }

  /**
   * Bring the guest's online vCPUs to `n` (1..max) through the agent, live. Applies fully
   * or changes nothing: bad input or state throws before anything is asked; a guest that
   * fails half-way is rolled back (see agent.ts changeVcpus).
   */
  async setVcpus(n: number, opts: { timeoutMs?: number } = {}): Promise<void> {
    const max = this.spec.cpus;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > max) {
      throw new RangeError(`setVcpus(${String(n)}): VM ${this.name} takes a whole number of vCPUs from 1 to ${max} (its --max-cpus)`);
    }
    const agent = this.agentFor(`setVcpus(${n})`);
    if (this.changingVcpus) throw new Error(`setVcpus(${n}): VM ${this.name} is already changing its vCPUs`);
    if (n === this.online) return;
    this.changingVcpus = true;
    try {
      const link = this.link!;
      this.online = await changeVcpus({ name: this.name, agent, hsm: () => link.hsmStates }, this.online, n, opts.timeoutMs ?? AGENT.TIMEOUT_MS);
    } finally {
      this.changingVcpus = false;
    }
  }

  /** Run a shell command in the guest through the agent: its exit status and output (stdout and stderr). */
  async agentExec(cmd: string, opts: { timeoutMs?: number } = {}): Promise<{ status: number; output: string }> {
    const a: AgentAnswer = await this.agentFor("agentExec").request("exec", Buffer.from(cmd, "utf8").toString("base64"), opts.timeoutMs ?? AGENT.TIMEOUT_MS);
    return { status: a.status, output: Buffer.from(a.output).toString("utf8") };
  }

  setWeight(weight: number): void {
    // Checked now even when the VM does not run: its next start must not fail on it.
    if (this.schedVm >= 0) this.scheduler.setWeight(this.schedVm, weight);
    else checkWeight(weight);
    this.weight = weight;
  }

  setCap(cap: number): void {
    if (this.schedVm >= 0) this.scheduler.setCap(this.schedVm, cap);
    else checkCap(cap);
    this.cap = cap;
  }

  /**
   * Ask a pv guest to keep `bytes` of memory (the balloon takes the rest): checked
   * (checkMemTarget: a multiple of 4 KiB, at most RAM, at least max(32 MiB, RAM/8)) and
   * applied whole, or refused with an Error that says why and nothing changed. A VM not
   * running boots with it at its next start; a paused one gets it when it resumes.
   */
  setMemoryTarget(bytes: number): void {
    if (this.spec.profile !== "pv") throw new Error(`VM ${this.name}: a ${this.spec.profile} machine has no balloon`);
    const why = checkMemTarget(this.spec.memBytes, bytes);
    if (why !== null) throw new RangeError(`VM ${this.name}: ${why}`);
    // The charge in the host memory budget follows the target: growing needs room in the
    // budget (AdmissionError, nothing changed); shrinking returns memory to the pool.
    const pool = this.options.memory;
    if (pool?.chargeOf(this.name) !== undefined) pool.resize(this.name, vmChargeBytes(this.spec.memBytes, this.spec.cpus, this.spec.memBytes - bytes));
    this.memTarget = bytes;
    this.toOwner({ t: "mem", targetBytes: bytes });
  }

  /**
   * The balloon's latest figures, synchronously: from the owner thread's last report (at
   * most a second old). Each call keeps the guest's statistics polled for another
   * MEM_STATS_LEASE_MS, so a reader that calls every second sees fresh ones.
   */
  memoryStats(): VmMemoryStats {
    const now = performance.now();
    if (this.spec.profile === "pv" && this.state === "running" && now >= this.memLeaseRenew) {
      this.memLeaseRenew = now + VM_DEFAULTS.MEM_STATS_LEASE_MS / 2;
      this.toOwner({ t: "mem", statsForMs: VM_DEFAULTS.MEM_STATS_LEASE_MS });
    }
    const r = this.memReport;
    const ram = this.spec.memBytes;
    const bad = { pfnOutsideRam: 0, inflatedTwice: 0, deflateNotInflated: 0, badPfnBuffer: 0, statsWrongSize: 0, statsUnknownTag: 0, reportUnaligned: 0 };
    return {
      device: this.spec.profile === "pv" ? "virtio-balloon" : "none",
      ramBytes: ram,
      targetBytes: this.memTarget,
      balloonBytes: r?.balloonBytes ?? 0,
      inflatedBytes: r?.inflatedBytes ?? 0,
      guest: r?.guest ?? null,
      guestAgeMs: r?.guestAgeMs != null ? Math.round(r.guestAgeMs + now - this.memReportAt) : null,
      reportedBytes: r?.reportedBytes ?? 0,
      inflates: r?.inflates ?? 0,
      deflates: r?.deflates ?? 0,
      statsUpdates: r?.statsUpdates ?? 0,
      bad: r?.bad ?? bad,
      reclaim: r?.reclaim ?? hostMemory().reclaim,
    };
  }

  /** The guest's RAM as the threads share it (tests and host-side checks; null before the first start). */
  guestRam(): SharedArrayBuffer | null {
    return this.ramSab;
  }

  /** The current run's dirty-page log (null before the first start). */
  dirtyLog(): DirtyLog | null {
    return this.dirty;
  }

  /**
   * Ask every vCPU to drop its live store entries (DirtyLog.requestFlush) and ring its
   * doorbell, so a sleeping or paused one answers too; returns the request for flushedAll.
   */
  requestDirtyFlush(): number {
    if (this.dirty === null) throw new Error(`VM ${this.name} has not started: it has no dirty log`);
    const n = this.dirty.requestFlush();
    for (const s of this.slots) VcpuSched.ring(this.scheduler.sab, s);
    return n;
  }

  /**
   * Write the VM's snapshot to `file` (snapshot/vm-file.ts): a running VM is paused for the
   * write and resumed after it, a paused one stays paused. The owner thread writes it, so
   * the main thread's event loop (the daemon's API) is not held up by the RAM.
   */
  /**
   * The spec with the memory target as it is now (setMemoryTarget changes it live): what a
   * snapshot or migration records, so the VM it becomes is charged and reports the same.
   */
  liveSpec(): MachineSpec {
    return this.memTarget !== this.spec.memBytes ? { ...this.spec, memTargetBytes: this.memTarget } : this.spec;
  }

  async snapshot(file: string): Promise<VmSnapshotResult> {
    if (this.state !== "running" && this.state !== "paused") throw new VmSnapshotError(`VM ${this.name} is ${this.state}: only a running or paused VM can be snapshotted`);
    if (this.requests.busy) throw new VmSnapshotError(`VM ${this.name}: a snapshot or migration is already under way`);
    const t0 = performance.now();
    const wasRunning = this.state === "running";
    if (wasRunning) await this.pause();
    try {
      const info = vmInfo(this.name, this.liveSpec(), this.settings, this.agentHello());
      const parts = await this.hartParts(`snapshot to ${file} failed`);
      const r = await this.requests.ask({ t: "save", file, info, parts }, "saved", () => `VM ${this.name} stopped while its snapshot was written`);
      if (!r.ok) throw new VmSnapshotError(`VM ${this.name}: snapshot to ${file} failed: ${r.message}`);
      return { file, bytes: r.bytes, ramPages: r.ramPages, ramPresent: r.ramPresent, writeMs: r.ms, pausedMs: wasRunning ? performance.now() - t0 : 0 };
    } finally {
      if (wasRunning && this.state === "paused") this.resume();
    }
  }

  /** Each other vCPU thread's part of the paused VM's state (vcpu-state.ts); VmSnapshotError saying `what` failed. */
  private async hartParts(what: string): Promise<(HartPart | null)[]> {
    try {
      return await askParts(this.workers, (k) => VcpuSched.ring(this.scheduler.sab, this.slots[k]!), this.wait());
    } catch (e) {
      throw new VmSnapshotError(`VM ${this.name}: ${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * The paused VM's machine state without its RAM, and its copy-on-write disk's overlay:
   * what a live migration sends last, after the RAM (the other vCPU threads' parts first: vcpu-state.ts).
   */
  async machineState(): Promise<{ machine: unknown; overlay: Uint8Array | null }> {
    if (this.state !== "paused") throw new Error(`VM ${this.name} is ${this.state}: its state is taken while it is paused`);
    const parts = await this.hartParts("its state could not be taken");
    const r = await this.requests.ask({ t: "state", parts }, "state", endedWhy);
    if (!r.ok) throw new VmSnapshotError(`VM ${this.name}: its state could not be taken: ${r.message}`);
    return { machine: r.machine, overlay: r.overlay };
  }

  /** An incoming VM (start({incoming})): load `machine` (its RAM is written already) and run it. */
  async completeIncoming(machine: unknown, overlay: Uint8Array | null): Promise<void> {
    if (!this.incoming) throw new Error(`VM ${this.name} is not waiting for a migrated state`);
    const r = await this.requests.ask({ t: "load", machine, overlay }, "loaded", endedWhy);
    if (!r.ok) {
      this.abortIncoming(`the migrated state was refused: ${r.message}`);
      throw new VmBuildError(`VM ${this.name}: the migrated state was refused: ${r.message}`, false);
    }
    this.incoming = false;
    // The other harts' threads, waiting since the build, continue from their parts.
    this.workers.forEach((w, k) => {
      if (k === 0 || !r.remote) return;
      w.postMessage({ t: "restore", part: r.remote.parts[k]!, time: r.remote.time } satisfies HartMessage);
      VcpuSched.ring(this.scheduler.sab, this.slots[k]!);
    });
    if (r.remote && this.spec.profile === "pv") this.online = onlineHarts(this.link!.hsmStates);
    this.setState("running");
  }

  /** Drop an incoming VM that will not get its state (the source went away): its thread ends, nothing ran. */
  abortIncoming(reason: string): void {
    if (!this.incoming) return;
    this.incoming = false;
    // The owner thread waits for its state and runs no guest code: nothing to stop cleanly.
    for (const w of this.workers) void w.terminate();
    this.release();
    this.setState("stopped", reason);
    this.settle?.({ kind: "crashed", reason });
  }

  /** What the guest agent said when it started (pv, once it has): a restored or migrated agent does not say it again. */
  agentHello(): string | null {
    return this.agentClient?.hello ?? null;
  }

  /** A message for the owner thread, which is woken for it (it may sleep in WFI). */
  private toOwner(msg: OwnerMessage): void {
    const owner = this.workers[0];
    if (!owner || this.schedVm < 0) return;
    owner.postMessage(msg);
    VcpuSched.ring(this.scheduler.sab, this.slots[0]!);
  }

  get settings(): { weight: number; cap: number } {
    return { weight: this.weight, cap: this.cap };
  }
}

/** How a run that ended during a request to its owner is told. */
const endedWhy = (o: VmOutcome): string => (o.kind === "crashed" ? o.reason : "the VM stopped");
