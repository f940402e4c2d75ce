/**
 * The pv machine: Linux boots with no firmware; the hypervisor answers its SBI calls
 * (hypercalls), and its devices are a PLIC and virtio-mmio (slot 0 console, slot 1 rng).
 */
import { Hart, RunStatus } from "../cpu/hart.js";
import { PlicDevice } from "../devices/plic/device.js";
import { VirtioMmioTransport } from "../devices/virtio/mmio.js";
import { VirtioConsole, type CharBackend } from "../devices/virtio/console/device.js";
import { VirtioRng } from "../devices/virtio/rng/device.js";
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
  SLICE: 200_000,
  MAX_SLEEP_MS: 100,
} as const;

export interface PvOptions {
  readonly kernel: Uint8Array;
  readonly initrd?: Uint8Array;
  readonly bootargs?: string;
  readonly memBytes?: number;
  readonly maxInsns?: number;
  /** Console output (SBI console and virtio-console). */
  readonly output: (bytes: Uint8Array) => void;
  readonly clockMs?: () => number;
}

export type PvStop = "shutdown" | "reboot" | "maxInsns" | "wfiDeadlock";

export interface PvResult {
  readonly stop: PvStop;
  readonly resetReason?: number;
  readonly instret: number;
  readonly instretByPriv: { readonly M: number; readonly S: number; readonly U: number };
  readonly wallMs: number;
  readonly exits: { name: string; count: number }[];
  readonly pc: number;
  /** Host time spent asleep in WFI (ms), and how many sleeps. */
  readonly sleptMs: number;
  readonly sleeps: number;
}

export class PvMachine {
  readonly ram: GuestRam;
  readonly bus: Bus;
  readonly hart: Hart;
  readonly host: PvHost;
  readonly sbi: SbiDispatcher;
  readonly plic: PlicDevice;
  readonly layout: BootLayout;
  readonly fdt: Uint8Array;
  private readonly sleepCell = new Int32Array(new SharedArrayBuffer(4));
  private consoleInput: ((b: Uint8Array) => void) | null = null;

  constructor(private readonly options: PvOptions) {
    const mem = options.memBytes ?? PV_DEFAULTS.MEM;
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
    this.hart = new Hart(this.bus, 0, { mtime: () => host!.now() });
    host = new PvHost([this.hart], this.ram, { output: options.output, clockMs: options.clockMs });
    this.host = host;
    this.sbi = new SbiDispatcher(host, { bootHart: 0 });
    this.hart.hypercalls = this.sbi;

    const board = new BoardLayout();
    const plicRec = board.addPlic();
    const conRec = board.addVirtio("virtio-console0");
    const rngRec = board.addVirtio("virtio-rng0");
    this.plic = new PlicDevice([this.hart]);
    this.bus.map(plicRec.base, this.plic, "plic");
    const backend: CharBackend = {
      write: (bytes) => options.output(bytes),
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

    this.fdt = buildDeviceTree({
      harts: 1,
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
    bootHart(this.hart, this.layout.kernelAddr, BigInt(this.layout.fdtAddr));
  }

  /** Host terminal input for the guest console (virtio-console, else SBI getchar). */
  input(bytes: Uint8Array): void {
    if (this.consoleInput) this.consoleInput(bytes);
    this.host.pushInput(bytes);
  }

  run(): PvResult {
    const { maxInsns } = this.options;
    const h = this.hart;
    const host = this.host;
    const start = performance.now();
    let spent = 0;
    let idle = 0;
    let stop: PvStop | null = null;
    let sleptMs = 0;
    let sleeps = 0;
    while (stop === null) {
      if (maxInsns !== undefined && spent >= maxInsns) {
        stop = "maxInsns";
        break;
      }
      const budget = maxInsns === undefined ? PV_DEFAULTS.SLICE : Math.min(PV_DEFAULTS.SLICE, maxInsns - spent);
      host.applyFences(0);
      const before = h.instret;
      const status = h.run(budget);
      const retired = Math.max(0, h.instret - before);
      spent += status === RunStatus.Budget ? Math.max(budget, retired) : retired;
      host.updateTimers();
      if (host.resetRequest !== null) {
        stop = host.resetRequest.type === 0 ? "shutdown" : "reboot";
      } else if (status === RunStatus.Wfi) {
        const wait = host.msToNextDeadline();
        if (wait === Infinity) {
          idle = retired === 0 ? idle + 1 : 0;
          if (idle >= 2) stop = "wfiDeadlock";
        } else {
          idle = 0;
          if (wait > 0) {
            const t = performance.now();
            Atomics.wait(this.sleepCell, 0, 0, Math.min(wait, PV_DEFAULTS.MAX_SLEEP_MS));
            sleptMs += performance.now() - t;
            sleeps++;
          }
          host.updateTimers();
        }
      } else {
        idle = 0;
      }
    }
    const p = h.instretByPriv;
    return {
      stop,
      resetReason: host.resetRequest?.reason,
      instret: h.instret,
      instretByPriv: { M: p[3]!, S: p[1]!, U: p[0]! },
      wallMs: performance.now() - start,
      exits: this.sbi.counters(0),
      pc: h.getPc(),
      sleptMs,
      sleeps,
    };
  }
}
