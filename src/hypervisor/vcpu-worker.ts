/**
 * One vCPU thread (a worker_thread): it runs one hart of one VM, under the credit
 * scheduler. Hart 0's thread — the owner — also holds the VM's devices (see
 * machine/vcpu-link.ts); the others build a RemoteVcpu over the shared RAM.
 *
 * The loop, between slices of about a millisecond:
 *   - the VM command (pause, stop) from the main thread;
 *   - a dirty-log flush (live migration): drop the hart's live store entries and say so,
 *     also while paused or asleep (the collector rings the doorbell);
 *   - nothing runnable (WFI, HSM-stopped) → give the host core back and sleep on the
 *     doorbell until an interrupt, a timer deadline or a command;
 *   - no host core → wait for the scheduler's grant (the doorbell wakes us for device
 *     work or commands meanwhile);
 *   - run a slice, then tell the scheduler how long it took (it may take the core away).
 * The owner also returns to its event loop every few ms (and after every sleep), where
 * console input, frames from the switch and device timers arrive.
 */
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import type { FrameOffload, NetBackend } from "../devices/virtio/net/device.js";
import type { OverlayBackend } from "../devices/virtio/blk/overlay-backend.js";
import type { FullMachine } from "../machine/full.js";
import type { PvMachine } from "../machine/pv.js";
import { ImageError } from "../machine/linux-image.js";
import { checkMemTarget } from "../machine/pv-balloon.js";
import type { HartPart, RemoteHarts, ThreadTime } from "../machine/hart-part.js";
import { RemoteVcpu } from "../machine/remote-vcpu.js";
import type { MachineStop } from "../machine/run-loop.js";
import { LinkStop, VcpuLink, type MachineThreads, type RegionInfo } from "../machine/vcpu-link.js";
import { DirtyLog } from "../mem/dirty-log.js";
import { PAGE_SIZE } from "../mem/ram.js";
import { loadMachine, MachineStateError, saveMachine } from "../machine/machine-state.js";
import { buildOwnerMachine, type MachineSpec } from "./machine-spec.js";
import { SnapshotError } from "./snapshot/format.js";
import { readRam } from "./snapshot/ram.js";
import { writeVmSnapshot, type VmRestore, type VmSnapshotInfo } from "./snapshot/vm-file.js";
import { VcpuSched } from "./vcpu-sched.js";
import type { BootMessage } from "./vcpu-threads.js";
import { awaitRestore, HartPort } from "./vcpu-state.js";
import { VM_CTL, VcpuPhase, VcpuReport, VmCommand, WHERE, whereIdx, type OwnerMessage, type VcpuMessage } from "./vm-control.js";

export interface VcpuWorkerData {
  readonly hart: number;
  readonly spec: MachineSpec;
  readonly link: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
  readonly sched: SharedArrayBuffer;
  /** Scheduler slot of each hart of the VM. */
  readonly slots: readonly number[];
  /** performance.timeOrigin + performance.now() at which the VM's mtime is 0. */
  readonly epochAbsMs: number;
  readonly slice: number;
  /** Remote harts only: the owner's RAM and device windows. */
  readonly ram?: { sab: SharedArrayBuffer; base: number; size: number };
  readonly regions?: RegionInfo[];
  readonly firmwareEntry?: { pc: number; fdt: number };
  /** Nothing can wake a sleeping 1-hart VM but its timer (no console input, no NIC): WFI with none armed ends the run. */
  readonly detectDeadlock: boolean;
  /** Fault injection for tests: this thread throws after running this long (ms). */
  readonly throwAfterMs?: number;
  /**
   * Owner only: continue this saved VM instead of booting (the spec is the file's). Dropped
   * once loaded: its RAM is a view of the whole file, as big as the guest's RAM.
   */
  restore?: VmRestore;
  /**
   * An incoming live migration: the owner builds the machine, then waits for "load" before
   * running; another thread waits for its "restore" (vcpu-state.ts).
   */
  readonly incoming?: boolean;
  /** Not the owner, a restored VM: this hart's part and the owner's time base, loaded before the hart runs. */
  readonly restoreHart?: { readonly part: HartPart; readonly time: ThreadTime };
  /** The run's dirty-page log (mem/dirty-log.ts), attached to this thread's view of RAM. */
  readonly dirty: SharedArrayBuffer;
}

export const VCPU_TIMING = {
  /** Host time a vCPU runs between scheduler decisions. */
  SLICE_MS: 1,
  /** The owner returns to its event loop at least this often while running. */
  YIELD_MS: 8,
  /**
   * Longest sleep without looking around: the doorbell wakes a vCPU for everything else
   * (interrupts, IPIs, input, frames, commands), so this only bounds clock drift. VMs with
   * a rate limiter sleep at most RATE_SLEEP_MS: its retry timers run on the event loop.
   */
  MAX_SLEEP_MS: 1000,
  RATE_SLEEP_MS: 100,
  PAUSED_SLEEP_MS: 1000,
  /** How often a running vCPU thread posts its live exit and instruction counts (only when they moved). */
  LIVE_MS: 1000,
} as const;

const port = parentPort!;
/** A thread started ahead (vcpu-threads.ts) has no workerData: it waits for its VM's in a "boot" message. */
const data: VcpuWorkerData =
  (workerData as VcpuWorkerData | null) ??
  (await new Promise<VcpuWorkerData>((resolve) => port.once("message", (m: BootMessage) => resolve(m.data))));
const post = (m: VcpuMessage, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer ?? []);
const absMs = (): number => performance.timeOrigin + performance.now();
const clockMs = (): number => absMs() - data.epochAbsMs;
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function main(): Promise<void> {
  const k = data.hart;
  const link = new VcpuLink(data.link);
  link.ring = (h) => VcpuSched.ring(data.sched, data.slots[h]!);
  const control = new Int32Array(data.control);
  const sched = new VcpuSched(data.sched, data.slots[k]!);
  const threads: MachineThreads = { link, epochMs: 0, slice: data.slice };
  const output = (bytes: Uint8Array): void => post({ t: "out", bytes: bytes.slice() });
  const owner = k === 0;

  let machine: PvMachine | FullMachine | RemoteVcpu;
  let close = (): void => {};
  let deliverFrame: ((frame: Uint8Array, gso: FrameOffload | null) => boolean) | null = null;
  let deliverAgent: ((bytes: Uint8Array) => void) | null = null;
  let drainMessages = (): void => {};
  /**
   * Set once the paused owner handed out its state for a migration: from then until it runs
   * again it takes no messages (a frame or a balloon turn would write guest RAM that the
   * migration has already read). They wait in the port and are handled after a resume.
   */
  let frozen = false;
  let overlay: OverlayBackend | null = null;
  /** Not the owner: where its part of a paused VM's state is asked for. */
  let hartPort: HartPort | null = null;
  if (owner) {
    const net: NetBackend | null = data.spec.net
      ? {
          // The switch (on the main thread) carries whole GSO packets.
          gso: true,
          send: (frame, gso) => {
            const copy = frame.slice();
            post({ t: "frame", frame: copy, gso: gso ?? null }, [copy.buffer as ArrayBuffer]);
            return true;
          },
          onReceive: (cb) => {
            deliverFrame = cb;
          },
        }
      : null;
    let built: ReturnType<typeof buildOwnerMachine>;
    let remote: RemoteHarts | null = null;
    try {
      const agent = {
        write: (bytes: Uint8Array): void => post({ t: "agent", bytes: bytes.slice() }),
        onInput: (cb: (bytes: Uint8Array) => void): void => {
          deliverAgent = cb;
        },
      };
      built = buildOwnerMachine(data.spec, threads, { output, net, clockMs, agent });
      overlay = built.overlay;
      if (data.restore !== undefined) {
        const saved = data.restore;
        delete data.restore;
        try {
          remote = restoreOwner(built.machine, built.overlay, saved);
        } catch (e) {
          built.close();
          throw e;
        }
      }
    } catch (e) {
      // Bad images, sizes and snapshots are the user's to fix: say so in one line, not as a crash.
      const usage =
        e instanceof ImageError || e instanceof SnapshotError || e instanceof MachineStateError || (e instanceof RangeError && /alloc|memory|RAM/i.test(e.message));
      post({ t: "buildError", message: (e as Error).message, usage });
      port.close();
      return;
    }
    machine = built.machine;
    close = built.close;
    const m = machine;
    const balloon = m.profile === "pv" ? m.balloon : null;
    let loadWaiter: ((msg: Extract<OwnerMessage, { t: "load" }>) => void) | null = null;
    const handle = (msg: OwnerMessage): void => {
      if (msg.t === "input") m.input(msg.bytes);
      else if (msg.t === "load") loadWaiter?.(msg);
      else if (msg.t === "state") {
        post(stateOf(m, overlay, msg.parts));
        frozen = true;
      }
      else if (msg.t === "frame") deliverFrame?.(msg.frame, msg.gso);
      else if (msg.t === "agent") deliverAgent?.(msg.bytes);
      else if (msg.t === "save") post(saveOwner(m, overlay, msg.file, msg.info, msg.parts));
      else if (msg.t === "mem" && balloon) {
        // The main thread checked the target (Vm.setMemoryTarget); a bad one changes nothing here either.
        if (msg.targetBytes !== undefined && checkMemTarget(m.ram.size, msg.targetBytes) === null) balloon.setTarget(msg.targetBytes);
        if (msg.statsForMs !== undefined) balloon.wantStats(performance.now(), msg.statsForMs);
      }
    };
    port.on("message", handle);
    // Frames and input are taken between slices and right after a wake-up, without
    // waiting for the event loop (which the owner reaches only every few ms while it runs).
    drainMessages = (): void => {
      for (let r = receiveMessageOnPort(port); r !== undefined; r = frozen ? undefined : receiveMessageOnPort(port)) handle(r.message as OwnerMessage);
      if (frozen) return;
      const report = balloon?.tick(performance.now());
      if (report) post({ t: "mem", report });
    };
    post({
      t: "ready",
      ram: m.ram.sab,
      ramBase: m.ram.base,
      ramSize: m.ram.size,
      regions: m.bus.regions.map((r) => ({ base: r.base, size: r.size, name: r.name })),
      ...(m.profile === "full" ? { firmwareEntry: { pc: m.ram.base, fdt: m.layout.fdtAddr } } : {}),
      ...(remote !== null ? { remote } : {}),
    });
    if (data.incoming) {
      // The main thread writes the guest's pages into the shared RAM while the source still
      // runs; the state comes last, and only then does this machine run.
      const msg = await new Promise<Extract<OwnerMessage, { t: "load" }>>((resolve) => (loadWaiter = resolve));
      loadWaiter = null;
      try {
        if (msg.overlay !== null) {
          if (overlay === null) throw new MachineStateError("the migrated VM has a disk overlay, but this one has no copy-on-write disk");
          overlay.load(msg.overlay);
        }
        remote = loadMachine(m, msg.machine, null);
      } catch (e) {
        // The main thread ends this thread (Vm.abortIncoming): nothing of the guest ran.
        post({ t: "loaded", ok: false, message: e instanceof Error ? e.message : String(e) });
        return;
      }
      post({ t: "loaded", ok: true, ...(remote !== null ? { remote } : {}) });
    }
  } else {
    // A restored VM's hart continues from its part; an incoming one's waits for it first (vcpu-state.ts).
    const restore = data.restoreHart ?? (data.incoming ? awaitRestore(port, sched, control) : undefined);
    if (restore === null) return;
    const remote = new RemoteVcpu({
      profile: data.spec.profile,
      hartId: k,
      cpus: data.spec.cpus,
      ram: data.ram!,
      regions: data.regions!,
      threads,
      ...(data.firmwareEntry ? { firmwareEntry: data.firmwareEntry } : {}),
      output,
      clockMs,
      ...(data.spec.maxInsns !== undefined ? { maxInsns: data.spec.maxInsns } : {}),
      ...(restore !== undefined ? { time: restore.time } : {}),
    });
    if (restore !== undefined) remote.loadPart(restore.part);
    machine = remote;
    hartPort = new HartPort(port, remote, post);
  }

  // Built (and restored) first: the log covers what the guest and its devices write from here on.
  machine.ram.dirty = new DirtyLog(data.dirty, machine.ram.size / PAGE_SIZE);
  const loop = machine.loop;
  const report = (r: number): void => {
    Atomics.store(control, VM_CTL.HART_BASE + k, r);
  };
  const hart = machine.harts[k]!;
  if (data.spec.codeCacheBytes !== undefined) hart.code.setBudget(data.spec.codeCacheBytes);
  const cpus = data.spec.cpus;
  const whereBase = whereIdx(cpus, k, 0);
  /** Publish where this thread is (for Vm.where(): plain stores, read racily by design). */
  const where = (phase: number): void => {
    const seq = control[whereBase + WHERE.SEQ]!;
    Atomics.store(control, whereBase + WHERE.SEQ, seq + 1);
    control[whereBase + WHERE.PHASE] = phase;
    control[whereBase + WHERE.PC_LO] = hart.pcLo;
    control[whereBase + WHERE.PC_HI] = hart.pcHi;
    control[whereBase + WHERE.PRIV] = hart.priv;
    control[whereBase + WHERE.MIP] = hart.mip;
    control[whereBase + WHERE.MIE] = hart.mie;
    control[whereBase + WHERE.INSNS] = hart.retired() | 0;
    Atomics.store(control, whereBase + WHERE.SEQ, seq + 2);
  };
  const sta = "sbi" in machine && machine.sbi ? machine.sbi.sta : null;
  report(VcpuReport.RUNNING);
  loop.begin();
  let lastYield = performance.now();
  const startedAt = lastYield;
  let idleForever = 0;
  const rateLimited = owner && (data.spec.disk?.rate !== undefined || data.spec.net?.rate !== undefined);
  const maxSleep = rateLimited ? VCPU_TIMING.RATE_SLEEP_MS : VCPU_TIMING.MAX_SLEEP_MS;
  let stop: MachineStop;
  let lastLive = startedAt;
  let lastLiveInsns = -1;
  for (;;) {
    const now = performance.now();
    if (now - lastLive >= VCPU_TIMING.LIVE_MS) {
      // Exits per second for the tables, the API and /metrics, without waiting for the end.
      lastLive = now;
      const insns = loop.harts.reduce((a, h) => a + h.instret, 0);
      if (insns !== lastLiveInsns) {
        lastLiveInsns = insns;
        const c = loop.liveCounters();
        post({ t: "live", hart: k, exits: c.exits, instret: c.instret, disk: owner ? machine.diskBytes() : null });
      }
    }
    const cmd = Atomics.load(control, VM_CTL.COMMAND);
    if (cmd === VmCommand.STOP) {
      stop = "stopped";
      break;
    }
    if (cmd === VmCommand.PAUSE) {
      sched.offline();
      where(VcpuPhase.PAUSED);
      report(VcpuReport.PAUSED);
      while (Atomics.load(control, VM_CTL.COMMAND) === VmCommand.PAUSE) {
        // The doorbell first: a dirty-log flush requested after this read rings it, and wakes the wait below.
        const seen = sched.bell();
        loop.obeyDirtyFlush();
        // Another vCPU may be in the middle of a device access or a fence: answer it, so it reaches its own pause.
        // Not once this thread handed its part over: what reaches it now stays in the link for the owner to save.
        if (hartPort?.handedOut !== true) loop.runnable();
        // A snapshot request is served here, where nothing of the VM runs.
        if (!frozen) drainMessages();
        hartPort?.serve();
        sched.waitDoorbell(VCPU_TIMING.PAUSED_SLEEP_MS, seen);
      }
      frozen = false;
      hartPort?.resumed();
      report(VcpuReport.RUNNING);
      continue;
    }
    // Read the doorbell before looking for work: a ring after this point wakes the wait below at once.
    const bell = sched.bell();
    // After the bell: a flush requested later rings it, so the idle or grant wait below ends at once.
    loop.obeyDirtyFlush();
    drainMessages();
    const pending = loop.pendingStop();
    if (pending !== null) {
      stop = pending;
      break;
    }
    if (!loop.runnable()) {
      const deadline = loop.msToNextDeadline();
      if (deadline === Infinity && data.detectDeadlock && data.spec.cpus === 1) {
        if (++idleForever >= 2) {
          stop = "wfiDeadlock";
          break;
        }
      } else idleForever = 0;
      const wait = Math.min(deadline, maxSleep);
      where(VcpuPhase.IDLE);
      const t = performance.now();
      if (wait > 0) sched.idle(wait, bell);
      loop.slept(performance.now() - t);
      if (owner) {
        await tick();
        lastYield = performance.now();
      }
      continue;
    }
    if (!sched.holdsGrant) {
      where(VcpuPhase.WAIT_GRANT);
      const got = sched.acquire(Math.min(loop.msToNextDeadline(), maxSleep), bell);
      if (!got) {
        if (owner) {
          await tick();
          lastYield = performance.now();
        }
        continue;
      }
      // Tell the guest how long it waited for a host core (SBI STA), before it runs again.
      sta?.report(k, sched.stealNs(), false);
    }
    const t0 = performance.now();
    if (data.throwAfterMs !== undefined && t0 - startedAt > data.throwAfterMs) throw new Error(`fault injected into vCPU ${k} after ${data.throwAfterMs} ms`);
    where(VcpuPhase.RUN);
    const step = loop.step(t0 + VCPU_TIMING.SLICE_MS);
    const t1 = performance.now();
    control[whereBase + WHERE.SLICES]!++;
    if (step.kind === "stop") {
      stop = step.stop;
      break;
    }
    sched.sliceEnd(t1 - t0);
    if (owner && t1 - lastYield >= VCPU_TIMING.YIELD_MS) {
      await tick();
      lastYield = performance.now();
    }
  }
  sched.offline();
  const result = machine.result(stop);
  // The guest's power request reaches every thread of the VM.
  if (stop === "shutdown" || stop === "reboot") {
    link.requestStop(stop === "shutdown" ? LinkStop.SHUTDOWN : LinkStop.REBOOT, result.resetReason ?? 0);
  }
  close();
  where(VcpuPhase.DONE);
  report(VcpuReport.DONE);
  post({ t: "done", hart: k, result });
}

/** Write the paused VM's snapshot; `parts`: the other harts', from their threads (more than one vCPU). */
function saveOwner(m: PvMachine | FullMachine, overlay: OverlayBackend | null, file: string, info: VmSnapshotInfo, parts: (HartPart | null)[] = []): VcpuMessage {
  const t0 = performance.now();
  try {
    const { state, ram } = saveMachine(m, parts);
    const r = writeVmSnapshot(file, info, data.spec, state, ram, overlay?.save() ?? null);
    return { t: "saved", ok: true, ...r, ms: performance.now() - t0 };
  } catch (e) {
    return { t: "saved", ok: false, message: e instanceof Error ? e.message : String(e) };
  }
}

/** The paused machine's state without RAM, for a live migration's stop-and-copy. */
function stateOf(m: PvMachine | FullMachine, overlay: OverlayBackend | null, parts: (HartPart | null)[] = []): VcpuMessage {
  try {
    return { t: "state", ok: true, machine: saveMachine(m, parts).state, overlay: overlay?.save() ?? null };
  } catch (e) {
    return { t: "state", ok: false, message: e instanceof Error ? e.message : String(e) };
  }
}

/** Load the snapshot into the machine just built from its spec, before it runs; the other harts' parts for their threads. */
function restoreOwner(m: PvMachine | FullMachine, overlay: OverlayBackend | null, snap: VmRestore): RemoteHarts | null {
  const file = snap.file;
  if (snap.overlay !== null) {
    if (overlay === null) throw new SnapshotError(file, "holds a disk overlay, but the restored VM has no copy-on-write disk");
    try {
      overlay.load(snap.overlay);
    } catch (e) {
      throw new SnapshotError(file, (e as Error).message);
    }
  }
  return loadMachine(m, snap.machine, (dst) => readRam(file, snap.ram, dst));
}

main().catch((e: unknown) => {
  // The main thread sees the error as the worker's 'error' event: the VM crashed.
  throw e;
});
