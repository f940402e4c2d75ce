/**
 * The full machine: an unmodified guest on emulated real hardware. Debian's OpenSBI
 * (`fw_jump.bin`) runs in guest M-mode and is the kernel's SBI; the kernel's timer,
 * IPIs, console and power-off go through it to the CLINT, the NS16550A and the
 * sifive-test device, and every register access is an exit. Nothing in the guest
 * knows about paravm: the same images boot on `qemu-system-riscv64 -M virt -bios
 * fw_jump.bin` (the tests check that).
 *
 * Boot, as QEMU's `virt` with `-bios fw_jump.bin` does it: every hart starts in M-mode at
 * the firmware (DRAM base) with a0 = hartid, a1 = the device tree; fw_jump enters the
 * kernel at DRAM + 2 MiB in S-mode and hands it a copy of the device tree it placed at
 * DRAM + 34 MiB (FW_JUMP_FDT_ADDR of OpenSBI's generic platform), so nothing else may
 * live there. Unlike QEMU, hart 0 comes out of reset first and the others only once it has
 * left the firmware (`releaseSecondaries`): that keeps Debian's OpenSBI 1.1 out of its
 * secondary-start race (docs/full-machine.md).
 *
 * Devices: CLINT, PLIC (M and S contexts per hart), UART0 (console), sifive-test, a disk
 * when one is given — on the ATA PIO controller (the default) or on an AHCI controller at
 * PCI 00:02.0 (DMA) — and an e1000 (82540EM) at PCI 00:01.0 behind the generic ECAM host
 * when a network is given; its frames go through the same switch as virtio-net.
 */
import { Priv } from "../cpu/constants.js";
import { Hart } from "../cpu/hart.js";
import { AhciDevice, ahciRegisterName, type AhciStats } from "../devices/ahci/device.js";
import { AHCI } from "../devices/ahci/regs.js";
import { AtaDevice, type AtaStats } from "../devices/ata/device.js";
import { ClintDevice, CLINT } from "../devices/clint/device.js";
import type { MmioDevice } from "../devices/device.js";
import { PlicDevice } from "../devices/plic/device.js";
import { SifiveTestDevice } from "../devices/sifive-test/device.js";
import { Uart16550Device } from "../devices/uart16550/device.js";
import type { BlockBackend } from "../devices/virtio/blk/device.js";
import type { NetBackend } from "../devices/virtio/net/device.js";
import { E1000, type E1000Stats } from "../devices/e1000/device.js";
import { REG_NAMES as E1000_REGS } from "../devices/e1000/regs.js";
import { PCIE, PcieHost } from "../devices/pci/host.js";
import { Bus } from "../mem/bus.js";
import { GuestRam } from "../mem/ram.js";
import { BOARD_MAP, BoardLayout } from "./board.js";
import { buildDeviceTree, DT_DEFAULTS, DT_MODEL } from "./devicetree.js";
import { checkInitrd, ImageError, parseImageHeader, planLayout, type BootLayout } from "./linux-image.js";
import { ataRegister, clintRegister, CountingDevice, plicRegister, uartRegister, type RegisterNamer } from "./register-exits.js";
import { IrqSources, Machine, RunLoop, type RunResult } from "./run-loop.js";
import { wakingBackend } from "./pv.js";
import { busServer, linkStop, type MachineThreads } from "./vcpu-link.js";

/** ATA sectors are 512 bytes (the disk's logical sector size). */
const SECTOR_BYTES = 512;

export const FULL_DEFAULTS = {
  MEM: 256 * 1024 * 1024,
  BOOTARGS: "console=ttyS0 earlycon",
  MAX_CPUS: 8,
  /** Debian's OpenSBI build for the generic platform (package `opensbi`). */
  FIRMWARE: "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin",
  /** Where fw_jump expects the kernel (FW_JUMP_ADDR) and puts the device tree (FW_JUMP_FDT_ADDR). */
  KERNEL_OFFSET: 0x20_0000,
  FW_FDT_OFFSET: 0x220_0000,
  /** Room kept for the firmware's copy of the device tree, which it grows with its own nodes. */
  FW_FDT_ROOM: 0x1_0000,
  /** Spare bytes at the end of our device tree for OpenSBI's fixups (reserved-memory, etc.). */
  FDT_EXTRA: 0x1000,
  /**
   * Secondary harts come out of reset when hart 0 first runs below M-mode, or, for a
   * firmware that waits in M-mode for them, when hart 0 waits (WFI) in M-mode or has run
   * this many M-mode instructions without leaving (OpenSBI 1.1's cold boot, banner
   * included, takes about 8 M).
   */
  RELEASE_AFTER_M_INSNS: 100_000_000,
} as const;

/** Names of M-mode trap causes, for the firmware-entry counters. */
const M_EXCEPTIONS: Record<number, string> = {
  0: "misaligned-fetch",
  1: "fetch-fault",
  2: "illegal",
  3: "breakpoint",
  4: "misaligned-load",
  5: "load-fault",
  6: "misaligned-store",
  7: "store-fault",
  8: "ecall-u",
  9: "ecall-s",
  12: "fetch-page-fault",
  13: "load-page-fault",
  15: "store-page-fault",
};
const M_INTERRUPTS: Record<number, string> = { 1: "ssoft", 3: "msoft", 5: "stimer", 7: "mtimer", 9: "sext", 11: "mext" };

export interface FullOptions {
  readonly kernel: Uint8Array;
  readonly initrd?: Uint8Array;
  /** The M-mode firmware (fw_jump.bin); see FULL_DEFAULTS.FIRMWARE. */
  readonly firmware: Uint8Array;
  readonly bootargs?: string;
  readonly memBytes?: number;
  readonly maxInsns?: number;
  readonly cpus?: number;
  /** Console output (UART0). */
  readonly output: (bytes: Uint8Array) => void;
  /** Host monotonic clock in ms for mtime (default performance.now). */
  readonly clockMs?: () => number;
  /**
   * A disk (/dev/sda): the caller opens and closes the backend. `controller`: "ata" (the
   * default), the platform ATA controller in PIO mode, every data word a register access;
   * or "ahci", a PCI AHCI controller that moves data by DMA (docs/full-machine.md).
   */
  readonly disk?: { readonly backend: BlockBackend; readonly serial?: string; readonly controller?: DiskController };
  /** An e1000 NIC (eth0) at PCI 00:01.0 behind the ECAM host, on `backend` (e.g. a switch port). */
  readonly net?: { readonly backend: NetBackend; readonly mac: Uint8Array };
  /** Harts on threads of their own: this machine is the owner (hart 0 and every device), see vcpu-link.ts. */
  readonly threads?: MachineThreads;
}

/** Traps from the kernel into the firmware (M-mode), as `firmware.<cause>` exits. */
export function firmwareExits(h: Hart, exits: Record<string, number>): void {
  const t = h.mTraps;
  for (let c = 0; c < 64; c++) {
    if (t[c]! === 0) continue;
    const name = c < 32 ? (M_EXCEPTIONS[c] ?? `exception-${c}`) : (M_INTERRUPTS[c - 32] ?? `interrupt-${c - 32}`);
    exits[`firmware.${name}`] = t[c]!;
  }
}

/** PCI device number of the NIC: INTA of device 1 is PLIC source 0x21, as on QEMU virt. */
const NIC_DEVICE = 1;
/** PCI device number of the AHCI controller: its INTA is swizzled to INTC, PLIC source 0x22. */
const AHCI_DEVICE = 2;

/** The full machine's disk controllers: ATA PIO on the platform bus, or AHCI (DMA) on PCI. */
export const DISK_CONTROLLERS = ["ata", "ahci"] as const;
export type DiskController = (typeof DISK_CONTROLLERS)[number];

/** Checks a `--disk-controller` value; the error names the choices. */
export function parseDiskController(v: string): DiskController {
  if ((DISK_CONTROLLERS as readonly string[]).includes(v)) return v as DiskController;
  throw new ImageError(`--disk-controller ${JSON.stringify(v)}: must be one of ${DISK_CONTROLLERS.join(", ")} (ata: PIO, ahci: DMA)`);
}

export interface FullResult extends RunResult {
  /** The ATA controller's counters (a copy), when the machine has a disk on it. */
  readonly ata?: AtaStats;
  /** The AHCI controller's counters (a copy), when the machine has a disk on it. */
  readonly ahci?: AhciStats;
  /** The e1000's counters (a copy), when the machine has a NIC. */
  readonly e1000?: E1000Stats;
}

export class FullMachine extends Machine<FullResult> {
  readonly profile = "full";
  readonly ram: GuestRam;
  readonly bus: Bus;
  readonly harts: readonly Hart[];
  readonly clint: ClintDevice;
  readonly plic: PlicDevice;
  readonly uart: Uart16550Device;
  readonly test: SifiveTestDevice;
  readonly ata: AtaDevice | null = null;
  readonly ahci: AhciDevice | null = null;
  readonly nic: E1000 | null = null;
  readonly pcie: PcieHost | null = null;
  readonly layout: BootLayout;
  readonly fdt: Uint8Array;
  readonly cpus: number;
  readonly loop: RunLoop;
  /** Devices whose registers are counted, by bus name. */
  private readonly counted = new Map<string, CountingDevice>();
  /** Host input not yet in the UART's 16-byte FIFO (fed as the guest drains it, never overrun). */
  private pendingInput: number[] = [];
  private pendingHead = 0;
  /** Rising edges per hart of the interrupt lines into the hart: CLINT timer and soft, PLIC M/S external. */
  private readonly edges: { timer: number; ipi: number; external: number }[];

  /** Set when its harts run on threads of their own (this machine is their owner). */
  readonly threads: MachineThreads | undefined;
  private readonly server: ReturnType<typeof busServer> | null = null;
  /** Harts 1.. are still held in reset (see releaseSecondaries). */
  private secondariesHeld: boolean;

  constructor(options: FullOptions) {
    super();
    const threads = options.threads;
    this.threads = threads;
    if (threads && threads.link.harts !== (options.cpus ?? 1)) throw new Error("FullMachine: the link is for another number of harts");
    const mem = options.memBytes ?? FULL_DEFAULTS.MEM;
    const cpus = options.cpus ?? 1;
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > FULL_DEFAULTS.MAX_CPUS) {
      throw new ImageError(`--cpus ${cpus}: must be a whole number from 1 to ${FULL_DEFAULTS.MAX_CPUS}`);
    }
    this.cpus = cpus;
    this.secondariesHeld = cpus > 1;
    // Callers other than the CLI may pass anything: checked before any memory is taken.
    const controller = parseDiskController(String(options.disk?.controller ?? "ata"));
    const dram = BOARD_MAP.DRAM.base;
    if (options.firmware.length === 0) throw new ImageError("firmware: empty file");
    if (options.firmware.length > FULL_DEFAULTS.KERNEL_OFFSET) {
      throw new ImageError(
        `firmware: ${options.firmware.length} bytes does not fit below the kernel at DRAM + 0x${FULL_DEFAULTS.KERNEL_OFFSET.toString(16)}`,
      );
    }
    const header = parseImageHeader(options.kernel, "kernel");
    if (options.initrd) checkInitrd(options.initrd, "initrd");
    if (mem < FULL_DEFAULTS.FW_FDT_OFFSET + 2 * FULL_DEFAULTS.FW_FDT_ROOM + 16 * 1024 * 1024) {
      throw new ImageError(`--mem ${mem >> 20} MiB is too small for the full profile (at least 64 MiB: fw_jump keeps its device tree at DRAM + 34 MiB)`);
    }
    this.layout = planLayout({
      ramBase: dram,
      ramSize: mem,
      kernel: { ...header, textOffset: FULL_DEFAULTS.KERNEL_OFFSET },
      kernelFileSize: options.kernel.length,
      initrdSize: options.initrd?.length,
    });
    const fwFdt = { start: dram + FULL_DEFAULTS.FW_FDT_OFFSET, end: dram + FULL_DEFAULTS.FW_FDT_OFFSET + FULL_DEFAULTS.FW_FDT_ROOM };
    const overlaps = (a: number, b: number): boolean => a < fwFdt.end && fwFdt.start < b;
    if (overlaps(this.layout.kernelAddr, this.layout.kernelEnd)) {
      throw new ImageError(`kernel: ${((this.layout.kernelEnd - this.layout.kernelAddr) / 2 ** 20).toFixed(1)} MiB reaches DRAM + 34 MiB, where fw_jump puts the device tree`);
    }
    if (this.layout.initrd && overlaps(this.layout.initrd.start, this.layout.initrd.end)) {
      throw new ImageError("initrd: too big for --mem with the full profile (it would cover fw_jump's device tree at DRAM + 34 MiB); raise --mem");
    }
    this.ram = new GuestRam(dram, mem);
    this.bus = new Bus(this.ram);
    this.ram.writeBytes(dram, options.firmware);
    this.ram.writeBytes(this.layout.kernelAddr, options.kernel);
    if (options.initrd && this.layout.initrd) this.ram.writeBytes(this.layout.initrd.start, options.initrd);

    let clint: ClintDevice | null = null;
    const time = { mtime: () => clint!.mtime() };
    const harts: Hart[] = [];
    for (let i = 0; i < cpus; i++) harts.push(new Hart(this.bus, i, time));
    this.harts = harts;
    this.edges = harts.map(() => ({ timer: 0, ipi: 0, external: 0 }));
    const sources = new IrqSources();
    this.loop = new RunLoop(
      harts,
      this.bus,
      {
        // Threaded: harts other than 0 run on their own threads. Either way they wait in reset at first.
        parked: (i) => i !== 0 && (threads !== undefined || this.secondariesHeld),
        woke: () => {},
        beforeSlice: () => {
          this.releaseSecondaries();
          this.pumpInput();
        },
        updateTimers: () => {
          this.clint.update();
          this.releaseSecondaries();
          this.pumpInput();
        },
        // With input waiting for FIFO room, poll soon: the guest drains the FIFO from its interrupt handler.
        msToNextDeadline: () => (this.pendingHead < this.pendingInput.length ? 1 : this.clint.nextDeadline()),
        stopRequest: () => {
          const r = this.test.request;
          if (r === null) return threads ? linkStop(threads.link) : null;
          return r.kind === "reset" ? "reboot" : "shutdown";
        },
        ...(threads ? { poll: () => threads.link.serve(this.server!) } : {}),
        deliverInput: (bytes) => {
          for (const b of bytes) this.pendingInput.push(b);
          this.pumpInput();
        },
        hartExtras: (i, exits, interrupts) => this.hartExtras(i, exits, interrupts),
        sources,
      },
      { maxInsns: options.maxInsns, waitsForFrames: options.net !== undefined, ...(threads ? { slice: threads.slice, self: 0 } : {}) },
    );

    // Interrupt wires into each hart, counting rising edges per kind.
    const targets = harts.map((h, i) => {
      const level = new Uint8Array(12);
      const e = this.edges[i]!;
      return {
        setInterruptPending: (bit: number, on: boolean): void => {
          if (on && !level[bit]) {
            if (bit === CLINT.MIP_MTIP_BIT) e.timer++;
            else if (bit === CLINT.MIP_MSIP_BIT) e.ipi++;
            else e.external++;
          }
          level[bit] = on ? 1 : 0;
          // Harts on other threads see the wire through the link.
          if (threads && i !== 0) threads.link.setLevel(i, bit, on);
          else h.setInterruptPending(bit, on);
        },
      };
    });
    this.clint = clint = new ClintDevice(targets, { clockMs: options.clockMs, ...(threads ? { epochMs: threads.epochMs } : {}) });
    this.plic = new PlicDevice(targets);

    const board = new BoardLayout();
    const testRec = board.addTest();
    const clintRec = board.addClint();
    const plicRec = board.addPlic();
    const uartRec = board.addUart();
    const onPci = options.disk !== undefined && controller === "ahci";
    const ataRec = options.disk && !onPci ? board.addAta() : null;
    const pcieRec = options.net || onPci ? board.addPcie() : null;
    const irq = (rec: { irq: number; name: string }) => sources.wrap(rec.name, this.plic.irqLine(rec.irq));
    const output = (bytes: Uint8Array): void => {
      this.loop.noteOutput();
      options.output(bytes);
    };
    this.uart = new Uart16550Device(irq(uartRec), { write: output });
    this.test = new SifiveTestDevice(() => {
      for (const h of harts) h.requestStop();
    });
    this.map(testRec.base, this.test, testRec.name, () => "status");
    this.map(clintRec.base, this.clint, clintRec.name, clintRegister);
    this.map(plicRec.base, this.plic, plicRec.name, plicRegister);
    this.map(uartRec.base, this.uart, uartRec.name, uartRegister);
    if (ataRec && options.disk) {
      const cmdOffset = ataRec.cmdBase - ataRec.base;
      const ctlOffset = ataRec.ctlBase - ataRec.base;
      this.ata = new AtaDevice(options.disk.backend, irq(ataRec), {
        regShift: ataRec.regShift,
        cmdOffset,
        ctlOffset,
        size: ataRec.size,
        ...(options.disk.serial !== undefined ? { serial: options.disk.serial } : {}),
      });
      this.map(ataRec.base, this.ata, ataRec.name, ataRegister(cmdOffset, ctlOffset, ataRec.regShift));
    }
    if (pcieRec) {
      // INTx wires named after what drives them (INTA of device d is line d mod 4).
      const lineNames = ["pcie-inta", "pcie-intb", "pcie-intc", "pcie-intd"];
      if (options.net) lineNames[NIC_DEVICE % 4] = "e1000";
      if (onPci) lineNames[AHCI_DEVICE % 4] = "ahci";
      const intx = pcieRec.intx.map((src, i) => sources.wrap(lineNames[i]!, this.plic.irqLine(src)));
      const host = new PcieHost({ intx, mmio: pcieRec.mmio, ioSize: pcieRec.pio?.size ?? PCIE.IO_SIZE, ecamSize: pcieRec.size });
      this.pcie = host;
      if (onPci && options.disk) {
        this.ahci = new AhciDevice(this.ram, options.disk.backend, {
          ...(options.disk.serial !== undefined ? { serial: options.disk.serial } : {}),
          subsystemVendorId: PCIE.HOST_SUBSYSTEM_VENDOR,
          subsystemId: PCIE.HOST_SUBSYSTEM,
        });
        host.attach(AHCI_DEVICE, this.ahci);
      }
      this.map(pcieRec.base, host.ecam, "pcie-ecam", () => "config");
      this.map(pcieRec.mmio.base, host.mmioWindow, "pcie-mmio", this.pciRegister(host, pcieRec.mmio.base));
      if (pcieRec.pio) this.map(pcieRec.pio.base, host.ioWindow, "pcie-pio", (off) => (off & 4 ? "IODATA" : "IOADDR"));
    }
    if (this.pcie && options.net) {
      const host = this.pcie;
      this.nic = new E1000(this.ram, wakingBackend(options.net.backend, () => this.loop.wake()), {
        mac: options.net.mac,
        // QEMU's e1000 subsystem ids, so images made on `qemu -M virt` see the same card.
        subsystemVendorId: PCIE.HOST_SUBSYSTEM_VENDOR,
        subsystemId: PCIE.HOST_SUBSYSTEM,
      });
      host.attach(NIC_DEVICE, this.nic);
    }
    this.loop.devicesMapped();
    // Other threads share the RAM: fence must be a real barrier (docs/memory-model.md).
    if (threads && cpus > 1) harts[0]!.smp = true;
    if (threads) this.server = busServer(this.bus, this.loop, () => -1);

    this.fdt = buildDeviceTree({
      harts: cpus,
      ramBase: dram,
      ramSize: mem,
      bootargs: options.bootargs ?? FULL_DEFAULTS.BOOTARGS,
      stdoutPath: `/soc/serial@${uartRec.base.toString(16)}`,
      initrd: this.layout.initrd ?? undefined,
      devices: board.devices,
      timebaseFrequency: CLINT.TIMEBASE_HZ,
      isa: DT_DEFAULTS.isa,
      mmuType: DT_DEFAULTS.mmuType,
      model: DT_MODEL.full,
      extraSpace: FULL_DEFAULTS.FDT_EXTRA,
    });
    if (this.fdt.length > this.layout.fdtMax || this.fdt.length > FULL_DEFAULTS.FW_FDT_ROOM) {
      throw new ImageError(`device tree (${this.fdt.length} bytes) exceeds its ${this.layout.fdtMax}-byte slot`);
    }
    this.ram.writeBytes(this.layout.fdtAddr, this.fdt);
    // Every hart's power-on state: M-mode at the firmware. Hart 0 runs first and wins OpenSBI's
    // boot-hart lottery; the others stay in reset until releaseSecondaries.
    for (const h of harts) {
      h.reset();
      h.x[20] = h.hartId; // a0 lo (hi stays 0)
      h.x[22] = this.layout.fdtAddr | 0; // a1 lo
      h.x[23] = Math.floor(this.layout.fdtAddr / 2 ** 32) | 0;
      h.setPc(dram);
      h.event = true;
    }
  }

  /** Whether other harts of this VM run on threads of their own (see vcpu-link.ts). */
  get threaded(): boolean {
    return this.threads !== undefined;
  }

  /** The board's own state beyond its devices (machine-state.ts): harts held in reset, host input not yet in the UART. */
  boardState(): { secondariesHeld: boolean; pendingInput: Uint8Array } {
    return { secondariesHeld: this.secondariesHeld, pendingInput: Uint8Array.from(this.pendingInput.slice(this.pendingHead)) };
  }

  restoreBoardState(s: { readonly secondariesHeld: boolean; readonly pendingInput: Uint8Array }): void {
    this.secondariesHeld = s.secondariesHeld && this.cpus > 1;
    this.pendingInput = Array.from(s.pendingInput);
    this.pendingHead = 0;
  }

  /** Whether harts 1.. are still held in reset (releaseSecondaries lets them out). */
  get secondariesInReset(): boolean {
    return this.secondariesHeld;
  }

  /**
   * Between slices: let harts 1.. out of reset once hart 0 has left the firmware.
   *
   * Debian's OpenSBI 1.1 has a secondary-start race (fixed upstream in 1.3 by c6a092c and
   * e8e9ed3): a secondary woken from its cold-boot wait keeps that IPI pending, so its WFI
   * in sbi_hsm_hart_wait() returns at once and it polls its HSM state; hart_start sets the
   * state to START_PENDING *before* it writes next_addr/next_arg1, so a secondary that
   * finishes its warm init in that window leaves the firmware at the stale next_addr —
   * FW_JUMP_ADDR, the kernel's boot entry — and Linux reports "CPU1: failed to come online"
   * (or worse, with a kernel that has no boot-hart lottery). A hart that comes out of reset
   * after the boot hart has left finds the cold boot done and gets no wake-up IPI, so it
   * really sleeps in that WFI until hart_start's IPI, which OpenSBI sends only after writing
   * the address. Harts released at different times is what boards with a reset controller
   * do, and OpenSBI handles harts that arrive late; the guest is unmodified.
   */
  private releaseSecondaries(): void {
    if (!this.secondariesHeld) return;
    const h = this.harts[0]!;
    const byPriv = h.instretByPriv;
    const left = h.priv !== Priv.M || byPriv[Priv.S]! > 0 || byPriv[Priv.U]! > 0;
    const waiting = h.wfi && h.priv === Priv.M;
    if (!left && !waiting && byPriv[Priv.M]! < FULL_DEFAULTS.RELEASE_AFTER_M_INSNS) return;
    this.secondariesHeld = false;
    if (this.threads) {
      // On its own thread a secondary waits for a start request: its reset vector and device tree.
      const fdt = this.layout.fdtAddr;
      for (let k = 1; k < this.cpus; k++) this.threads.link.requestStart(k, this.ram.base, fdt | 0, Math.floor(fdt / 2 ** 32) | 0);
    }
  }

  /**
   * Names e1000 and AHCI registers in the PCI memory window by where the guest put their
   * BARs (read when the counters are reported; Linux assigns them once at probe).
   */
  private pciRegister(host: PcieHost, windowBase: number): RegisterNamer {
    return (offset) => {
      const addr = windowBase + offset;
      const nic = this.nic ? host.barBase(NIC_DEVICE, 0) : -1;
      if (nic >= 0 && addr >= nic && addr - nic < 0x2_0000) return `e1000.${E1000_REGS[(addr - nic) >> 2] ?? "unknown"}`;
      const abar = this.ahci ? host.barBase(AHCI_DEVICE, AHCI.ABAR_INDEX) : -1;
      if (abar >= 0 && addr >= abar && addr - abar < AHCI.ABAR_SIZE) return `ahci.${ahciRegisterName(addr - abar)}`;
      return "unclaimed";
    };
  }

  private map(base: number, dev: MmioDevice, name: string, namer: RegisterNamer): void {
    const counted = new CountingDevice(dev, namer, this.loop, this.harts.length);
    this.counted.set(name, counted);
    this.bus.map(base, counted, name);
  }

  /** Feed waiting host input into the UART as far as its FIFO has room. */
  private pumpInput(): void {
    const q = this.pendingInput;
    if (this.pendingHead >= q.length) return;
    const room = this.uart.rxSpace;
    if (room <= 0) return;
    const n = Math.min(room, q.length - this.pendingHead);
    this.uart.input(Uint8Array.from(q.slice(this.pendingHead, this.pendingHead + n)));
    this.pendingHead += n;
    if (this.pendingHead === q.length) {
      this.pendingInput = [];
      this.pendingHead = 0;
    }
  }

  private hartExtras(i: number, exits: Record<string, number>, interrupts: Record<string, number>): void {
    for (const [name, dev] of this.counted) dev.addExits(name, i, exits);
    firmwareExits(this.harts[i]!, exits);
    const e = this.edges[i]!;
    interrupts.timer = e.timer;
    interrupts.ipi = e.ipi;
    interrupts.external = e.external;
  }

  protected resetReason(): number | undefined {
    const r = this.test.request;
    if (r === null && this.threads && linkStop(this.threads.link) !== null) return this.threads.link.stopReason() || undefined;
    return r?.kind === "fail" ? r.code : undefined;
  }

  diskBytes(): { read: number; written: number } | null {
    const d = this.ata?.stats ?? this.ahci?.stats ?? null;
    return d ? { read: d.sectorsRead * SECTOR_BYTES, written: d.sectorsWritten * SECTOR_BYTES } : null;
  }

  protected finish(r: RunResult): FullResult {
    return {
      ...r,
      ...(this.ata ? { ata: structuredClone(this.ata.stats) } : {}),
      ...(this.ahci ? { ahci: this.ahci.stats } : {}),
      ...(this.nic ? { e1000: structuredClone(this.nic.stats) } : {}),
    };
  }
}

