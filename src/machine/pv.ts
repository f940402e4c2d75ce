/**
 * The pv machine: Linux boots with no firmware; the hypervisor answers its SBI calls
 * (hypercalls), and its devices are a PLIC and virtio-mmio (slot 0 console, slot 1 rng,
 * slot 2 virtio-blk when a disk is given, then virtio-net when a network backend is given,
 * then virtio-balloon, which every pv VM has: pv-balloon.ts, docs/memory.md).
 *
 * Network: a frame arriving for a VM whose harts all sleep in WFI wakes `runAsync` at
 * once (as console input does), so a VM on a switch answers with low latency.
 *
 * SMP: `cpus` harts share one thread, scheduled by the RunLoop (run-loop.ts) that the full
 * machine uses too; this file supplies its hooks: a hart stopped by HSM is parked, queued
 * remote fences are applied before a hart's slice, STIP comes from SBI set_timer.
 * Secondary harts start STOPPED; the guest starts them with SBI HSM hart_start.
 */
import { Hart } from "../cpu/hart.js";
import { PlicDevice } from "../devices/plic/device.js";
import { VirtioMmioTransport } from "../devices/virtio/mmio.js";
import { VirtioConsole, type CharBackend } from "../devices/virtio/console/device.js";
import { VirtioRng } from "../devices/virtio/rng/device.js";
import { VirtioBlk, type BlkStats, type BlockBackend } from "../devices/virtio/blk/device.js";
import { VirtioNet, type NetBackend, type NetStats } from "../devices/virtio/net/device.js";
import { VirtioBalloon } from "../devices/virtio/balloon/device.js";
import { defaultRetryTimer, type RateLimiter, type RetryTimer } from "../devices/rate-limiter.js";
import { Bus } from "../mem/bus.js";
import { GuestRam } from "../mem/ram.js";
import { SbiDispatcher } from "../sbi/dispatch.js";
import { BOARD_MAP, BoardLayout } from "./board.js";
import { buildDeviceTree, DT_DEFAULTS, DT_MODEL } from "./devicetree.js";
import { checkInitrd, ImageError, parseImageHeader, planLayout, type BootLayout } from "./linux-image.js";
import { bootHart, MTIME_HZ, PvHost } from "./pv-host.js";
import { BalloonControl, checkMemTarget, type BalloonReport } from "./pv-balloon.js";
import { IrqSources, Machine, RunLoop, type MachineStop, type RunResult } from "./run-loop.js";
import { absorbLink, busServer, linkStop, type MachineThreads } from "./vcpu-link.js";

export const PV_DEFAULTS = {
  MEM: 256 * 1024 * 1024,
  BOOTARGS: "console=hvc0 earlycon=sbi",
  MAX_CPUS: 8,
} as const;

export interface PvOptions {
  readonly kernel: Uint8Array;
  readonly initrd?: Uint8Array;
  readonly bootargs?: string;
  readonly memBytes?: number;
  /** Boot with the balloon asking for RAM down to this (checkMemTarget); default: all of RAM. */
  readonly memTargetBytes?: number;
  /** Free page reporting on the balloon (default true). */
  readonly freePageReporting?: boolean;
  readonly maxInsns?: number;
  /** Harts (1..PV_DEFAULTS.MAX_CPUS); default 1. */
  readonly cpus?: number;
  /** Console output (SBI console and virtio-console). */
  readonly output: (bytes: Uint8Array) => void;
  readonly clockMs?: () => number;
  /** A disk (virtio-blk, /dev/vda): the caller opens and closes the backend. */
  readonly disk?: { readonly backend: BlockBackend; readonly serial?: string; readonly rateLimiter?: RateLimiter };
  /**
   * A network interface (virtio-net, eth0): frames go to and come from `backend` (e.g. a
   * SwitchBackend on a VirtualSwitch). Optional limiters for what the guest sends (tx) and
   * receives (rx); over the limit the device applies back-pressure.
   */
  readonly net?: {
    readonly backend: NetBackend;
    readonly mac: Uint8Array;
    readonly txRateLimiter?: RateLimiter;
    readonly rxRateLimiter?: RateLimiter;
  };
  /**
   * A VM whose harts run on threads of their own: this machine is the owner (hart 0 and
   * every device); the other harts reach it through the link (see vcpu-link.ts).
   */
  readonly threads?: MachineThreads;
  /**
   * The guest agent's channel: a named port ("org.paravm.agent", /dev/vport0p1) on the
   * console device, which then offers MULTIPORT (port 0 stays hvc0). See docs/agent.md.
   */
  readonly agent?: CharBackend;
}

/** The name the guest agent looks for in /sys/class/virtio-ports/<port>/name. */
export const AGENT_PORT_NAME = "org.paravm.agent";

export type PvStop = MachineStop;

/** A run's result; `blk`/`net` are the devices' counters (copies) when the machine has them. */
export interface PvResult extends RunResult {
  readonly blk?: BlkStats;
  readonly net?: NetStats;
  readonly balloon?: BalloonReport;
}

export class PvMachine extends Machine<PvResult> {
  readonly profile = "pv";
  readonly ram: GuestRam;
  readonly bus: Bus;
  readonly harts: readonly Hart[];
  readonly host: PvHost;
  readonly sbi: SbiDispatcher;
  readonly plic: PlicDevice;
  readonly layout: BootLayout;
  readonly fdt: Uint8Array;
  readonly cpus: number;
  /** The virtio-blk device, when a disk was given. */
  readonly blk: VirtioBlk | null = null;
  /** The virtio-net device, when a network backend was given. */
  readonly net: VirtioNet | null = null;
  /** The memory balloon (target, statistics, reports). */
  readonly balloon: BalloonControl;
  readonly loop: RunLoop;
  private consoleInput: ((b: Uint8Array) => void) | null = null;
  /** SEIP rising edges per hart: external interrupts taken from the PLIC. */
  private readonly external: number[];
  /** Set when its harts run on threads of their own (this machine is their owner). */
  readonly threads: MachineThreads | undefined;
  private readonly server: ReturnType<typeof busServer> | null = null;

  constructor(options: PvOptions) {
    super();
    const threads = options.threads;
    this.threads = threads;
    if (threads && threads.link.harts !== (options.cpus ?? 1)) throw new Error("PvMachine: the link is for another number of harts");
    const mem = options.memBytes ?? PV_DEFAULTS.MEM;
    const cpus = options.cpus ?? 1;
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > PV_DEFAULTS.MAX_CPUS) {
      throw new ImageError(`--cpus ${cpus}: must be a whole number from 1 to ${PV_DEFAULTS.MAX_CPUS}`);
    }
    this.cpus = cpus;
    if (options.memTargetBytes !== undefined) {
      const why = checkMemTarget(mem, options.memTargetBytes);
      if (why !== null) throw new ImageError(`--mem-target: ${why}`);
    }
    const header = parseImageHeader(options.kernel, "kernel");
    if (options.initrd) checkInitrd(options.initrd, "initrd");
    this.layout = planLayout({
      ramBase: BOARD_MAP.DRAM.base,
      ramSize: mem,
      kernel: header,
      kernelFileSize: options.kernel.length,
      initrdSize: options.initrd?.length,
    });
    this.ram = new GuestRam(BOARD_MAP.DRAM.base, mem);
    this.bus = new Bus(this.ram);
    this.ram.writeBytes(this.layout.kernelAddr, options.kernel);
    if (options.initrd && this.layout.initrd) this.ram.writeBytes(this.layout.initrd.start, options.initrd);

    let host: PvHost | null = null;
    const time = { mtime: () => host!.now() };
    const harts: Hart[] = [];
    for (let i = 0; i < cpus; i++) harts.push(new Hart(this.bus, i, time));
    this.harts = harts;
    const sources = new IrqSources();
    this.loop = new RunLoop(
      harts,
      this.bus,
      {
        parked: (i) => this.host.parked[i]!,
        woke: (i) => {
          // A suspended hart is running again; a non-retentive suspend restarts.
          const resume = this.host.resumeAt[i];
          if (resume) {
            this.host.resumeAt[i] = null;
            bootHart(harts[i]!, resume.addr, resume.opaque);
          }
          this.sbi.hsm.resumed(i);
        },
        beforeSlice: (i) => this.host.applyFences(i),
        updateTimers: () => this.host.updateTimers(),
        msToNextDeadline: () => this.host.msToNextDeadline(),
        stopRequest: () => {
          const r = this.host.resetRequest;
          if (r === null) return threads ? linkStop(threads.link) : null;
          return r.type === 0 ? "shutdown" : "reboot";
        },
        ...(threads ? { poll: () => this.poll() } : {}),
        deliverInput: (bytes) => {
          if (this.consoleInput) this.consoleInput(bytes);
          this.host.pushInput(bytes);
        },
        hartExtras: (i, exits, interrupts) => {
          for (const c of this.sbi.counters(i)) if (c.count > 0) exits[c.name] = c.count;
          interrupts.timer = this.host.timerIrqs[i]!;
          interrupts.ipi = this.host.ipis[i]!;
          interrupts.external = this.external[i]!;
        },
        sources,
      },
      { maxInsns: options.maxInsns, waitsForFrames: options.net !== undefined, ...(threads ? { slice: threads.slice, self: 0 } : {}) },
    );
    // Console output; the first output after some hart has run in U-mode opens the input gate.
    const output = (bytes: Uint8Array): void => {
      this.loop.noteOutput();
      options.output(bytes);
    };
    host = new PvHost(harts, this.ram, {
      output,
      clockMs: options.clockMs,
      ...(threads ? { epochMs: threads.epochMs, threads: { link: threads.link, self: 0, whileWaiting: () => this.poll() } } : {}),
    });
    this.host = host;
    this.sbi = new SbiDispatcher(host, { bootHart: 0, ...(threads ? { hsmStates: threads.link.hsmStates } : {}) });
    for (const h of harts) h.hypercalls = this.sbi;

    const board = new BoardLayout();
    const plicRec = board.addPlic();
    const conRec = board.addVirtio("virtio-console0");
    const rngRec = board.addVirtio("virtio-rng0");
    const blkRec = options.disk ? board.addVirtio("virtio-blk0") : null;
    const netRec = options.net ? board.addVirtio("virtio-net0") : null;
    const balloonRec = board.addVirtio("virtio-balloon0");
    // Rate-limiter retries fire from a host timer: wake a sleeping run loop after them.
    const timer: RetryTimer = (ms, fn) =>
      defaultRetryTimer(ms, () => {
        fn();
        this.loop.wake();
      });
    this.external = harts.map(() => 0);
    // The PLIC drives each hart's mip; count rising edges of SEIP as external interrupts.
    const targets = harts.map((h, i) => {
      let level = false;
      return {
        setInterruptPending: (bit: number, on: boolean): void => {
          if (bit === 9) {
            if (on && !level) this.external[i]!++;
            level = on;
          }
          // Harts on other threads see the wire through the link.
          if (threads && i !== 0) threads.link.setLevel(i, bit, on);
          else h.setInterruptPending(bit, on);
        },
      };
    });
    this.plic = new PlicDevice(targets);
    this.bus.map(plicRec.base, this.plic, "plic");
    const irq = (rec: { irq: number; name: string }) => sources.wrap(rec.name, this.plic.irqLine(rec.irq));
    const backend: CharBackend = {
      write: output,
      onInput: (cb) => {
        this.consoleInput = cb;
      },
    };
    const ports = options.agent ? [{ name: AGENT_PORT_NAME, backend: wakingChar(options.agent, () => this.loop.wake()) }] : [];
    this.bus.map(conRec.base, new VirtioMmioTransport(new VirtioConsole(backend, { ports }), this.ram, irq(conRec)), conRec.name);
    this.bus.map(rngRec.base, new VirtioMmioTransport(new VirtioRng(), this.ram, irq(rngRec)), rngRec.name);
    if (blkRec && options.disk) {
      this.blk = new VirtioBlk(options.disk.backend, {
        serial: options.disk.serial,
        timer,
        ...(options.disk.rateLimiter ? { rateLimiter: options.disk.rateLimiter } : {}),
      });
      this.bus.map(blkRec.base, new VirtioMmioTransport(this.blk, this.ram, irq(blkRec)), blkRec.name);
    }
    if (netRec && options.net) {
      this.net = new VirtioNet(wakingBackend(options.net.backend, () => this.loop.wake()), {
        mac: options.net.mac,
        timer,
        ...(options.net.txRateLimiter ? { txRateLimiter: options.net.txRateLimiter } : {}),
        ...(options.net.rxRateLimiter ? { rxRateLimiter: options.net.rxRateLimiter } : {}),
      });
      this.bus.map(netRec.base, new VirtioMmioTransport(this.net, this.ram, irq(netRec)), netRec.name);
    }
    const balloon = new VirtioBalloon(this.ram, undefined, options.freePageReporting ?? true);
    const balloonTr = new VirtioMmioTransport(balloon, this.ram, irq(balloonRec));
    balloon.onConfigChange = () => balloonTr.configChanged();
    this.bus.map(balloonRec.base, balloonTr, balloonRec.name);
    this.balloon = new BalloonControl(balloon, this.ram);
    // Set before the driver probes: it reads num_pages then and inflates during boot.
    if (options.memTargetBytes !== undefined) this.balloon.setTarget(options.memTargetBytes);
    this.loop.devicesMapped();
    // Other threads share the RAM: fence must be a real barrier (docs/memory-model.md).
    if (threads && cpus > 1) harts[0]!.smp = true;
    if (threads) this.server = busServer(this.bus, this.loop, () => this.host.consoleGetchar());

    this.fdt = buildDeviceTree({
      harts: cpus,
      ramBase: BOARD_MAP.DRAM.base,
      ramSize: mem,
      bootargs: options.bootargs ?? PV_DEFAULTS.BOOTARGS,
      initrd: this.layout.initrd ?? undefined,
      devices: board.devices,
      timebaseFrequency: MTIME_HZ,
      isa: DT_DEFAULTS.isa,
      mmuType: DT_DEFAULTS.mmuType,
      model: DT_MODEL.pv,
    });
    if (this.fdt.length > this.layout.fdtMax) {
      throw new ImageError(`device tree (${this.fdt.length} bytes) exceeds its ${this.layout.fdtMax}-byte slot`);
    }
    this.ram.writeBytes(this.layout.fdtAddr, this.fdt);
    bootHart(harts[0]!, this.layout.kernelAddr, BigInt(this.layout.fdtAddr));
  }

  /** Whether other harts of this VM run on threads of their own (see vcpu-link.ts). */
  get threaded(): boolean {
    return this.threads !== undefined;
  }

  /** Threaded: take IPIs and fences for hart 0, answer the other harts' device accesses. */
  private poll(): void {
    const t = this.threads!;
    if (absorbLink(this.harts[0]!, t.link, 0, 0) !== 0) this.host.ipis[0]!++;
    t.link.serve(this.server!);
  }

  protected resetReason(): number | undefined {
    return this.host.resetRequest?.reason ?? (this.threads && linkStop(this.threads.link) !== null ? this.threads.link.stopReason() : undefined);
  }

  diskBytes(): { read: number; written: number } | null {
    return this.blk ? { read: this.blk.stats.bytesRead, written: this.blk.stats.bytesWritten } : null;
  }

  protected finish(r: RunResult): PvResult {
    return {
      ...r,
      ...(this.blk ? { blk: structuredClone(this.blk.stats) } : {}),
      ...(this.net ? { net: structuredClone(this.net.stats) } : {}),
      balloon: this.balloon.report(performance.now()),
    };
  }
}

/** Agent bytes from `inner` reach the port, then `wake` the run loop in case it sleeps. */
function wakingChar(inner: CharBackend, wake: () => void): CharBackend {
  return {
    write: (bytes) => inner.write(bytes),
    onInput: (cb) =>
      inner.onInput((bytes) => {
        cb(bytes);
        wake();
      }),
  };
}

/** Frames from `inner` reach the device, then `wake` the run loop in case it sleeps. */
export function wakingBackend(inner: NetBackend, wake: () => void): NetBackend {
  return {
    ...(inner.gso === true ? { gso: true } : {}),
    send: (frame, gso) => inner.send(frame, gso),
    onReceive: (cb) =>
      inner.onReceive((frame, gso) => {
        const ok = cb(frame, gso);
        wake();
        return ok;
      }),
  };
}
