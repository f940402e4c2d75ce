/**
 * The pv machine: Linux boots with no firmware; the hypervisor answers its SBI calls
 * (hypercalls), and its devices are a PLIC and virtio-mmio (slot 0 console, slot 1 rng,
 * slot 2 virtio-blk when a disk is given, then virtio-net when a network backend is given).
 *
 * Network: a frame arriving for a VM whose harts all sleep in WFI wakes `runAsync` at
 * once (as console input does), so a VM on a switch answers with low latency.
 *
 * SMP: `cpus` harts share one thread. The run loop gives each runnable hart a slice of
 * instructions in turn (round robin); a hart in WFI with nothing to wake it, or stopped by
 * HSM, is skipped. Only when every hart waits does the loop sleep, until the earliest
 * timer deadline (or console input, in `runAsync`). Secondary harts start STOPPED; the
 * guest starts them with SBI HSM hart_start.
 */
import { Hart, RunStatus } from "../cpu/hart.js";
import { PlicDevice } from "../devices/plic/device.js";
import { VirtioMmioTransport } from "../devices/virtio/mmio.js";
import { VirtioConsole, type CharBackend } from "../devices/virtio/console/device.js";
import { VirtioRng } from "../devices/virtio/rng/device.js";
import { VirtioBlk, type BlkStats, type BlockBackend } from "../devices/virtio/blk/device.js";
import { VirtioNet, type NetBackend, type NetStats } from "../devices/virtio/net/device.js";
import { defaultRetryTimer, type RateLimiter, type RetryTimer } from "../hypervisor/rate-limiter.js";
import { Bus } from "../mem/bus.js";
import { GuestRam } from "../mem/ram.js";
import { SbiDispatcher } from "../sbi/dispatch.js";
import { BOARD_MAP, BoardLayout } from "./board.js";
import { buildDeviceTree, DT_DEFAULTS, DT_MODEL } from "./devicetree.js";
import { checkInitrd, ImageError, parseImageHeader, planLayout, type BootLayout } from "./linux-image.js";
import { bootHart, MTIME_HZ, PvHost } from "./pv-host.js";

export const PV_DEFAULTS = {
  MEM: 256 * 1024 * 1024,
  BOOTARGS: "console=hvc0 earlycon=sbi",
  /** Instructions per slice with one hart, and with several (smaller: a hart spinning on another wastes less). */
  SLICE: 200_000,
  SMP_SLICE: 20_000,
  MAX_SLEEP_MS: 100,
  /** `runAsync` returns to the event loop after this much wall time of guest execution. */
  YIELD_MS: 8,
  MAX_CPUS: 8,
} as const;

export interface PvOptions {
  readonly kernel: Uint8Array;
  readonly initrd?: Uint8Array;
  readonly bootargs?: string;
  readonly memBytes?: number;
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
}

export type PvStop = "shutdown" | "reboot" | "maxInsns" | "wfiDeadlock" | "stopped";

export interface PvHartResult {
  readonly hart: number;
  readonly instret: number;
  readonly instretByPriv: { readonly M: number; readonly S: number; readonly U: number };
  /** Exits by reason: SBI functions ("sbi.<ext>.<fn>"), MMIO ("mmio.<region>.read|write"), "wfi". Non-zero only. */
  readonly exits: Record<string, number>;
  /** Interrupts raised on this hart: timer (STIP), IPI (SSIP), external (PLIC SEIP rising edges). */
  readonly interrupts: { readonly timer: number; readonly ipi: number; readonly external: number };
}

export interface PvResult {
  readonly stop: PvStop;
  readonly resetReason?: number;
  readonly cpus: number;
  readonly instret: number;
  readonly instretByPriv: { readonly M: number; readonly S: number; readonly U: number };
  readonly wallMs: number;
  /** Wall ms from the start of the run to the boot hart's first U-mode instruction (null: never got there). */
  readonly bootMs: number | null;
  /** Exits by reason summed over harts, non-zero only (see PvHartResult.exits). */
  readonly exits: Record<string, number>;
  readonly harts: readonly PvHartResult[];
  /** The boot hart's pc at the end. */
  readonly pc: number;
  /** Host time spent asleep because every hart waited (ms), and how many sleeps. */
  readonly sleptMs: number;
  readonly sleeps: number;
  /** The disk's counters (a copy), when the machine has one. */
  readonly blk?: BlkStats;
  /** The network device's counters (a copy), when the machine has one. */
  readonly net?: NetStats;
}

/** Per-hart bookkeeping of the run loop. */
interface HartAcct {
  wfi: number;
  external: number;
  /** reads/writes per bus region, same order as bus.regions. */
  mmio: Float64Array;
}

/** What one call of `advance` ended with. */
type Step = { kind: "stop"; stop: PvStop } | { kind: "yield" } | { kind: "idle"; waitMs: number };

export class PvMachine {
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
  private readonly sleepCell = new Int32Array(new SharedArrayBuffer(4));
  private consoleInput: ((b: Uint8Array) => void) | null = null;
  private readonly acct: HartAcct[];
  private readonly slice: number;
  private spent = 0;
  private idleRounds = 0;
  private sleptMs = 0;
  private sleeps = 0;
  private startMs = 0;
  private bootMs: number | null = null;
  private stopRequested = false;
  /**
   * Host input held back until userspace has printed on the console (a shell prompt):
   * bytes typed or piped in during boot are otherwise lost in the guest. null once released.
   */
  private held: Uint8Array[] | null = [];
  private inputOpen = false;
  /** Wakes `runAsync` from an idle sleep (console input, stop). */
  private wake: (() => void) | null = null;

  constructor(private readonly options: PvOptions) {
    const mem = options.memBytes ?? PV_DEFAULTS.MEM;
    const cpus = options.cpus ?? 1;
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > PV_DEFAULTS.MAX_CPUS) {
      throw new ImageError(`--cpus ${cpus}: must be a whole number from 1 to ${PV_DEFAULTS.MAX_CPUS}`);
    }
    this.cpus = cpus;
    this.slice = cpus === 1 ? PV_DEFAULTS.SLICE : PV_DEFAULTS.SMP_SLICE;
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
    // Console output; the first output after some hart has run in U-mode opens the input gate.
    const output = (bytes: Uint8Array): void => {
      if (!this.inputOpen) for (const h of harts) if (h.instretByPriv[0]! > 0) this.inputOpen = true;
      options.output(bytes);
    };
    host = new PvHost(harts, this.ram, { output, clockMs: options.clockMs });
    this.host = host;
    this.sbi = new SbiDispatcher(host, { bootHart: 0 });
    for (const h of harts) h.hypercalls = this.sbi;

    const board = new BoardLayout();
    const plicRec = board.addPlic();
    const conRec = board.addVirtio("virtio-console0");
    const rngRec = board.addVirtio("virtio-rng0");
    const blkRec = options.disk ? board.addVirtio("virtio-blk0") : null;
    const netRec = options.net ? board.addVirtio("virtio-net0") : null;
    // Rate-limiter retries fire from a host timer: wake a sleeping run loop after them.
    const timer: RetryTimer = (ms, fn) =>
      defaultRetryTimer(ms, () => {
        fn();
        this.wake?.();
      });
    this.acct = harts.map(() => ({ wfi: 0, external: 0, mmio: new Float64Array(0) }));
    // The PLIC drives each hart's mip; count rising edges of SEIP as external interrupts.
    const targets = harts.map((h, i) => {
      let level = false;
      return {
        setInterruptPending: (bit: number, on: boolean): void => {
          if (bit === 9) {
            if (on && !level) this.acct[i]!.external++;
            level = on;
          }
          h.setInterruptPending(bit, on);
        },
      };
    });
    this.plic = new PlicDevice(targets);
    this.bus.map(plicRec.base, this.plic, "plic");
    const backend: CharBackend = {
      write: output,
      onInput: (cb) => {
        this.consoleInput = cb;
      },
    };
    this.bus.map(
      conRec.base,
      new VirtioMmioTransport(new VirtioConsole(backend), this.ram, this.plic.irqLine(conRec.irq)),
      conRec.name,
    );
    this.bus.map(rngRec.base, new VirtioMmioTransport(new VirtioRng(), this.ram, this.plic.irqLine(rngRec.irq)), rngRec.name);
    if (blkRec && options.disk) {
      this.blk = new VirtioBlk(options.disk.backend, {
        serial: options.disk.serial,
        timer,
        ...(options.disk.rateLimiter ? { rateLimiter: options.disk.rateLimiter } : {}),
      });
      this.bus.map(blkRec.base, new VirtioMmioTransport(this.blk, this.ram, this.plic.irqLine(blkRec.irq)), blkRec.name);
    }
    if (netRec && options.net) {
      const inner = options.net.backend;
      // Frames from the backend reach the device, then wake the run loop if it sleeps.
      const backend: NetBackend = {
        send: (frame) => inner.send(frame),
        onReceive: (cb) =>
          inner.onReceive((frame) => {
            const ok = cb(frame);
            this.wake?.();
            return ok;
          }),
      };
      this.net = new VirtioNet(backend, {
        mac: options.net.mac,
        timer,
        ...(options.net.txRateLimiter ? { txRateLimiter: options.net.txRateLimiter } : {}),
        ...(options.net.rxRateLimiter ? { rxRateLimiter: options.net.rxRateLimiter } : {}),
      });
      this.bus.map(netRec.base, new VirtioMmioTransport(this.net, this.ram, this.plic.irqLine(netRec.irq)), netRec.name);
    }
    for (const a of this.acct) a.mmio = new Float64Array(2 * this.bus.regions.length);

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

  /** The boot hart. */
  get hart(): Hart {
    return this.harts[0]!;
  }

  /** Host terminal input for the guest console (virtio-console, and SBI getchar / DBCN read). */
  input(bytes: Uint8Array): void {
    if (this.held !== null) this.held.push(bytes.slice());
    else this.deliver(bytes);
    this.wake?.();
  }

  private deliver(bytes: Uint8Array): void {
    if (this.consoleInput) this.consoleInput(bytes);
    this.host.pushInput(bytes);
  }

  /** Between slices: pass held input on once the guest's userspace has written to the console. */
  private releaseInput(): void {
    const held = this.held;
    if (held === null || !this.inputOpen) return;
    this.held = null;
    for (const b of held) this.deliver(b);
  }

  /** Ask a running `run`/`runAsync` to return (stop "stopped") at the end of the current slice. */
  stop(): void {
    this.stopRequested = true;
    for (const h of this.harts) h.requestStop();
    this.wake?.();
  }

  /**
   * One round-robin pass over the harts, repeated until `untilMs` (performance.now) passes,
   * the machine stops, or every hart waits.
   */
  private advance(untilMs: number): Step {
    const { maxInsns } = this.options;
    const harts = this.harts;
    const host = this.host;
    const regions = this.bus.regions;
    const n = harts.length;
    for (;;) {
      let ran = false;
      for (let i = 0; i < n; i++) {
        if (this.stopRequested) return { kind: "stop", stop: "stopped" };
        if (maxInsns !== undefined && this.spent >= maxInsns) return { kind: "stop", stop: "maxInsns" };
        if (host.parked[i]) continue;
        const h = harts[i]!;
        const wasWfi = h.wfi;
        if (wasWfi) {
          if ((h.mie & h.effectiveMip()) === 0) continue;
          // Woken: a suspended hart is running again; a non-retentive suspend restarts.
          const resume = host.resumeAt[i];
          if (resume) {
            host.resumeAt[i] = null;
            bootHart(h, resume.addr, resume.opaque);
          }
          this.sbi.hsm.resumed(i);
        }
        host.applyFences(i);
        const budget = maxInsns === undefined ? this.slice : Math.min(this.slice, maxInsns - this.spent);
        const a = this.acct[i]!;
        const mm = a.mmio;
        for (let r = 0; r < regions.length; r++) {
          mm[2 * r] -= regions[r]!.reads;
          mm[2 * r + 1] -= regions[r]!.writes;
        }
        const before = h.instret;
        const status = h.run(budget);
        for (let r = 0; r < regions.length; r++) {
          mm[2 * r] += regions[r]!.reads;
          mm[2 * r + 1] += regions[r]!.writes;
        }
        const retired = Math.max(0, h.instret - before);
        this.spent += status === RunStatus.Budget ? Math.max(budget, retired) : retired;
        if (retired > 0) ran = true;
        if (status === RunStatus.Wfi && (retired > 0 || !wasWfi) && !host.parked[i]) a.wfi++;
        // An LR reservation does not survive a switch to another hart (SC may fail spuriously).
        if (n > 1) h.resv = -1;
        if (i === 0 && this.bootMs === null && h.instretByPriv[0]! > 0) this.bootMs = performance.now() - this.startMs;
        if (this.held !== null) {
          // A userspace that never prints still gets its input, 2 s after it started.
          if (this.bootMs !== null && performance.now() - this.startMs - this.bootMs > 2000) this.inputOpen = true;
          if (this.inputOpen) this.releaseInput();
        }
        if (host.resetRequest !== null) return { kind: "stop", stop: host.resetRequest.type === 0 ? "shutdown" : "reboot" };
        if (this.stopRequested) return { kind: "stop", stop: "stopped" };
      }
      host.updateTimers();
      if (!ran && !this.anyRunnable()) {
        const waitMs = host.msToNextDeadline();
        return { kind: "idle", waitMs };
      }
      this.idleRounds = 0;
      if (performance.now() >= untilMs) return { kind: "yield" };
    }
  }

  /** True when some hart would execute if given a slice now. */
  private anyRunnable(): boolean {
    for (let i = 0; i < this.harts.length; i++) {
      if (this.host.parked[i]) continue;
      const h = this.harts[i]!;
      if (!h.wfi || (h.mie & h.effectiveMip()) !== 0) return true;
    }
    return false;
  }

  /** Run to a stop without returning to the event loop (no console input arrives meanwhile). */
  run(): PvResult {
    this.startMs = performance.now();
    for (;;) {
      const step = this.advance(Infinity);
      if (step.kind === "stop") return this.result(step.stop);
      if (step.kind === "idle") {
        if (step.waitMs === Infinity) {
          if (++this.idleRounds >= 2) return this.result("wfiDeadlock");
          continue;
        }
        this.idleRounds = 0;
        if (step.waitMs > 0) {
          const t = performance.now();
          Atomics.wait(this.sleepCell, 0, 0, Math.min(step.waitMs, PV_DEFAULTS.MAX_SLEEP_MS));
          this.sleptMs += performance.now() - t;
          this.sleeps++;
        }
        this.host.updateTimers();
      }
    }
  }

  /**
   * Run to a stop, returning to Node's event loop every few ms so that console input
   * (`input`) and signals are seen. When every hart waits, sleeps on a timer until the next
   * deadline or input. `waitForInput`: with no timer armed, wait for input instead of
   * reporting a WFI deadlock (always so with a network device: a frame may come).
   */
  async runAsync(opts: { waitForInput?: boolean } = {}): Promise<PvResult> {
    if (this.net !== null && opts.waitForInput !== true) opts = { ...opts, waitForInput: true };
    this.startMs = performance.now();
    for (;;) {
      const step = this.advance(performance.now() + PV_DEFAULTS.YIELD_MS);
      if (step.kind === "stop") return this.result(step.stop);
      if (step.kind === "yield") {
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      let wait = step.waitMs;
      if (wait === Infinity) {
        if (opts.waitForInput !== true && ++this.idleRounds >= 2) return this.result("wfiDeadlock");
        if (opts.waitForInput !== true) continue;
        wait = PV_DEFAULTS.MAX_SLEEP_MS;
      }
      this.idleRounds = 0;
      const t = performance.now();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(wait, PV_DEFAULTS.MAX_SLEEP_MS));
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = null;
      this.sleptMs += performance.now() - t;
      this.sleeps++;
      this.host.updateTimers();
    }
  }

  private result(stop: PvStop): PvResult {
    const regions = this.bus.regions;
    const priv = (p: Float64Array) => ({ M: p[3]!, S: p[1]!, U: p[0]! });
    const total: Record<string, number> = {};
    const add = (k: string, v: number): void => {
      if (v !== 0) total[k] = (total[k] ?? 0) + v;
    };
    const harts = this.harts.map((h, i): PvHartResult => {
      const exits: Record<string, number> = {};
      for (const c of this.sbi.counters(i)) if (c.count > 0) exits[c.name] = c.count;
      const a = this.acct[i]!;
      for (let r = 0; r < regions.length; r++) {
        const name = regions[r]!.name;
        if (a.mmio[2 * r]! > 0) exits[`mmio.${name}.read`] = a.mmio[2 * r]!;
        if (a.mmio[2 * r + 1]! > 0) exits[`mmio.${name}.write`] = a.mmio[2 * r + 1]!;
      }
      if (a.wfi > 0) exits.wfi = a.wfi;
      for (const [k, v] of Object.entries(exits)) add(k, v);
      return {
        hart: i,
        instret: h.instret,
        instretByPriv: priv(h.instretByPriv),
        exits,
        interrupts: { timer: this.host.timerIrqs[i]!, ipi: this.host.ipis[i]!, external: a.external },
      };
    });
    const sum = { M: 0, S: 0, U: 0 };
    for (const h of harts) {
      sum.M += h.instretByPriv.M;
      sum.S += h.instretByPriv.S;
      sum.U += h.instretByPriv.U;
    }
    return {
      stop,
      resetReason: this.host.resetRequest?.reason,
      cpus: this.cpus,
      instret: harts.reduce((s, h) => s + h.instret, 0),
      instretByPriv: sum,
      wallMs: performance.now() - this.startMs,
      bootMs: this.bootMs,
      exits: total,
      harts,
      pc: this.hart.getPc(),
      sleptMs: this.sleptMs,
      sleeps: this.sleeps,
      ...(this.blk ? { blk: structuredClone(this.blk.stats) } : {}),
      ...(this.net ? { net: structuredClone(this.net.stats) } : {}),
    };
  }
}
