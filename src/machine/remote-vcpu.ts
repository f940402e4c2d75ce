/**
 * A hart of a threaded VM that runs on a thread other than the owner's (see vcpu-link.ts):
 * guest RAM is the same SharedArrayBuffer, every device window is a RemoteDevice that calls
 * the owner, and interrupts, IPIs, fences and HSM starts arrive through the link.
 *
 * pv: the hart has its own SBI (timers and its own HSM transitions are local; IPIs,
 * remote fences and hart_start to other harts go through the link; console getchar is a
 * call to the owner). full: OpenSBI runs in the hart's M-mode as on the owner; its CLINT
 * and PLIC are the owner's, so MSIP, MTIP, MEIP and SEIP are levels in the link. The hart
 * stays in reset until the owner's start request releases it (FullMachine does once hart 0
 * has left the firmware: OpenSBI 1.1's secondary-start race, see full.ts).
 *
 * Snapshots and migration (hart-part.ts): while the VM is paused, `savePart` is what this
 * thread hands over for the owner to save with the machine; a restored VM's thread is built
 * with the owner's time base (`time`) and loads its part (`loadPart`) before it runs.
 *
 * It is a Machine like the others, so a vCPU thread drives every hart the same way
 * (loop.begin/step, result). The other harts exist here only as idle placeholders, so
 * hart ids index arrays the same way on every thread.
 */
import { Hart, type TimeSource } from "../cpu/hart.js";
import { loadHart, saveHart } from "../cpu/hart-state.js";
import { Bus } from "../mem/bus.js";
import { GuestRam } from "../mem/ram.js";
import { SbiDispatcher } from "../sbi/dispatch.js";
import { firmwareExits } from "./full.js";
import { readHartPart, type HartPart, type ThreadTime } from "./hart-part.js";
import { bootHart, MTIME_HZ, PvHost } from "./pv-host.js";
import { loadPvHart, savePvHart } from "./pv-state.js";
import { IrqSources, Machine, RunLoop, type RunHooks, type RunResult } from "./run-loop.js";
import { absorbLink, ackFences, linkStop, RemoteDevice, type MachineThreads, type RegionInfo, type VcpuLink } from "./vcpu-link.js";

/** mip bits the owner drives on a full machine's harts: MSIP, MTIP, SEIP, MEIP. */
const FULL_LEVELS = (1 << 3) | (1 << 7) | (1 << 9) | (1 << 11);
/** On pv only the PLIC's SEIP comes from the owner (STIP is this thread's SBI timer). */
const PV_LEVELS = 1 << 9;

export interface RemoteVcpuOptions {
  readonly profile: "pv" | "full";
  readonly hartId: number;
  readonly cpus: number;
  /** The VM's RAM, shared with the owner. */
  readonly ram: { readonly sab: SharedArrayBuffer; readonly base: number; readonly size: number };
  /** The owner's device windows. */
  readonly regions: readonly RegionInfo[];
  readonly threads: MachineThreads;
  /** full: where every hart enters the firmware, and the device tree address it gets in a1. */
  readonly firmwareEntry?: { readonly pc: number; readonly fdt: number };
  /** pv: SBI console output from this hart. */
  readonly output: (bytes: Uint8Array) => void;
  readonly clockMs?: () => number;
  readonly maxInsns?: number;
  /** A restored VM's time base, the owner's (default: mtime 0 at `threads.epochMs`). */
  readonly time?: ThreadTime;
}

export class RemoteVcpu extends Machine<RunResult> {
  readonly profile: "pv" | "full";
  readonly ram: GuestRam;
  readonly bus: Bus;
  readonly harts: readonly Hart[];
  readonly loop: RunLoop;
  readonly self: number;
  readonly host: PvHost | null = null;
  readonly sbi: SbiDispatcher | null = null;
  private readonly link: VcpuLink;
  /** full: held in reset (parked, its thread asleep) until the owner's start request. */
  private inReset = true;

  constructor(options: RemoteVcpuOptions) {
    super();
    const { link, epochMs } = options.threads;
    this.link = link;
    const k = options.hartId;
    this.self = k;
    this.profile = options.profile;
    this.ram = new GuestRam(options.ram.base, options.ram.size, options.ram.sab);
    this.bus = new Bus(this.ram);
    const clockMs = options.clockMs ?? (() => performance.now());
    // The same formulas as the owner's PvHost and CLINT, so every thread reads one guest time.
    const base = options.time ?? { epochMs, offsetTicks: 0 };
    let pvHost: PvHost | null = null;
    const time: TimeSource =
      options.profile === "pv"
        ? { mtime: () => pvHost!.now() }
        : { mtime: () => Math.floor((clockMs() - base.epochMs) * (MTIME_HZ / 1000)) + base.offsetTicks };
    const harts: Hart[] = [];
    for (let i = 0; i < options.cpus; i++) harts.push(new Hart(this.bus, i, time));
    this.harts = harts;
    const me = harts[k]!;
    // The owner's thread shares the RAM: fence must be a real barrier (docs/memory-model.md).
    me.smp = true;
    // While waiting for the owner, keep acknowledging fences: the owner may be waiting for ours.
    const whileWaiting = (): void => ackFences(me, link, k);
    for (const r of options.regions) {
      this.bus.map(r.base, new RemoteDevice(link, k, r.base, r.size, whileWaiting, () => (this.bus.fault = true)), r.name);
    }

    const sources = new IrqSources();
    let hooks: RunHooks;
    if (options.profile === "pv") {
      const host = new PvHost(harts, this.ram, {
        output: options.output,
        clockMs,
        epochMs: base.epochMs,
        threads: { link, self: k, whileWaiting },
      });
      pvHost = host;
      this.host = host;
      const sbi = new SbiDispatcher(host, { bootHart: 0, hsmStates: link.hsmStates });
      this.sbi = sbi;
      me.hypercalls = sbi;
      hooks = {
        parked: (i) => host.parked[i]!,
        woke: (i) => {
          const resume = host.resumeAt[i];
          if (resume) {
            host.resumeAt[i] = null;
            bootHart(harts[i]!, resume.addr, resume.opaque);
          }
          sbi.hsm.resumed(i);
        },
        beforeSlice: (i) => host.applyFences(i),
        updateTimers: () => host.updateTimers(),
        msToNextDeadline: () => host.msToNextDeadline(),
        stopRequest: () => {
          const r = host.resetRequest;
          if (r === null) return linkStop(link);
          return r.type === 0 ? "shutdown" : "reboot";
        },
        deliverInput: () => {},
        hartExtras: (i, exits, interrupts) => {
          if (i !== k) return;
          for (const c of sbi.counters(i)) if (c.count > 0) exits[c.name] = c.count;
          interrupts.timer = host.timerIrqs[i]!;
          interrupts.ipi = host.ipis[i]!;
        },
        sources,
        poll: () => {
          if (absorbLink(me, link, k, PV_LEVELS) !== 0) host.ipis[k]!++;
          const start = link.takeStart(k);
          if (start !== null) host.hartStart(k, start.pc, start.a1);
        },
      };
    } else {
      const entry = options.firmwareEntry;
      if (!entry) throw new Error("RemoteVcpu: a full machine's hart needs the firmware entry");
      // As the owner sets up every hart at power-on: M-mode at the firmware, a0 = hartid, a1 = the tree.
      const powerOn = (pc: number, a1Lo: number, a1Hi: number): void => {
        me.reset();
        me.x[20] = k;
        me.x[22] = a1Lo;
        me.x[23] = a1Hi;
        me.setPc(pc);
        me.event = true;
      };
      powerOn(entry.pc, entry.fdt | 0, Math.floor(entry.fdt / 2 ** 32) | 0);
      hooks = {
        parked: (i) => i !== k || this.inReset,
        woke: () => {},
        beforeSlice: () => {},
        // The owner's CLINT raises MTIP here through the link; nothing is timed on this thread.
        updateTimers: () => {},
        msToNextDeadline: () => Infinity,
        stopRequest: () => linkStop(link),
        deliverInput: () => {},
        hartExtras: (i, exits) => {
          if (i === k) firmwareExits(me, exits);
        },
        sources,
        poll: () => {
          if (this.inReset) {
            const start = link.takeStart(k);
            if (start !== null) {
              powerOn(start.pc, Number(start.a1 & 0xffff_ffffn) | 0, Number(start.a1 >> 32n) | 0);
              this.inReset = false;
            }
          }
          absorbLink(me, link, k, FULL_LEVELS);
        },
      };
    }
    this.loop = new RunLoop(harts, this.bus, hooks, { maxInsns: options.maxInsns, slice: options.threads.slice, self: k });
    this.loop.devicesMapped();
  }

  /** This hart's part of the machine state (hart-part.ts): call it between slices, with the VM paused. */
  savePart(): HartPart {
    const k = this.self;
    const hart = saveHart(this.harts[k]!);
    if (this.host !== null && this.sbi !== null) return { hart, sbi: savePvHart(this.host, this.sbi, k) };
    return { hart, inReset: this.inReset };
  }

  /**
   * Continue from `part` (checked whole first: a bad one throws StateError and changes
   * nothing), before this hart has run. Its TLB and decoded code start empty (loadHart).
   */
  loadPart(part: unknown): void {
    const k = this.self;
    const p = readHartPart(part, k, this.profile, this.ram);
    loadHart(this.harts[k]!, p.hart);
    if (this.host !== null && this.sbi !== null) loadPvHart(this.host, this.sbi, k, p.sbi!);
    else this.inReset = p.inReset!;
  }

  protected resetReason(): number | undefined {
    const r = this.host?.resetRequest;
    if (r) return r.reason;
    return linkStop(this.link) !== null ? this.link.stopReason() : undefined;
  }

  /** The disk is the owner thread's. */
  diskBytes(): null {
    return null;
  }

  protected finish(r: RunResult): RunResult {
    return r;
  }
}
