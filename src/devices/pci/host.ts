/**
 * A generic PCIe host bridge as Linux's `pci-host-ecam-generic` drives it, the one QEMU
 * `virt` has: one root bus (bus 0), no bridges, configuration space through ECAM, and two
 * windows the guest's BARs are placed in. Three `MmioDevice`s go on the system bus:
 *
 *     ecam        bus << 20 | device << 15 | function << 12 | register   (4 KiB per function)
 *     mmioWindow  32-bit memory space; PCI address = CPU address (window base + offset)
 *     ioWindow    I/O space; PCI I/O address = offset (Linux maps it at PCI_IOBASE)
 *
 * Linux assigns every BAR itself (the device tree has no `linux,pci-probe-only`) and
 * sets the command register; a BAR decodes only while its space (Memory or I/O) is
 * enabled there, exactly as on real hardware, so what the guest did not enable stays
 * invisible. An access no enabled BAR claims reads as all ones (a master abort) and a
 * write to it is dropped, both counted.
 *
 * Device 0 is the host bridge itself (class 0x0600, Red Hat 1b36:0008 as QEMU's gpex
 * root, so `lspci` looks the same as on `qemu -M virt`); endpoints are attached at device
 * 1..31, function 0 only (no multi-function devices). Absent functions read all ones.
 *
 * INTx: device d's pin p (1..4 = INTA..INTD) drives host line (d + p - 1) mod 4, the swizzle
 * the device tree's interrupt-map describes. Lines are shared, so each host line is the OR
 * of the functions on it that assert and have Interrupt Disable clear.
 *
 * Nothing a guest writes or reads can throw: every offset and width is decoded byte by
 * byte where it straddles a register or a function.
 */
import type { DeviceState, IrqLine, MmioDevice } from "../device.js";
import {
  PCI_CFG,
  PCI_CLASS,
  PCI_COMMAND,
  PciConfigSpace,
  type PciBar,
  type PciFunction,
  type PciIdentity,
  type PciPort,
} from "./config.js";

export const PCIE = {
  /** board.ts BOARD_MAP.PCIE_ECAM.size: 256 buses × 1 MiB. */
  ECAM_SIZE: 0x1000_0000,
  /** board.ts BOARD_MAP.PCIE_MMIO. */
  MMIO_BASE: 0x4000_0000,
  MMIO_SIZE: 0x4000_0000,
  /** board.ts BOARD_MAP.PCIE_PIO.size. */
  IO_SIZE: 0x1_0000,
  DEVICES: 32,
  BUS_SHIFT: 20,
  DEVICE_SHIFT: 15,
  FUNCTION_SHIFT: 12,
  /** The host bridge's identity on QEMU virt (hw/pci-host/gpex.c's root: Red Hat, "QEMU PCIe Host bridge"). */
  HOST_VENDOR: 0x1b36,
  HOST_DEVICE: 0x0008,
  /** QEMU's default subsystem ids. */
  HOST_SUBSYSTEM_VENDOR: 0x1af4,
  HOST_SUBSYSTEM: 0x1100,
} as const;

export interface PcieHostOptions {
  /** The four host INTx lines (PLIC sources for INTA..INTD of device 0). */
  readonly intx: readonly IrqLine[];
  readonly ecamSize?: number;
  /** The 32-bit memory window (identity mapped: PCI address = CPU address). */
  readonly mmio?: { readonly base: number; readonly size: number };
  /** Size of the I/O window (PCI I/O address 0 at its base); 0 = no I/O window. */
  readonly ioSize?: number;
}

export interface PciFunctionStats {
  configReads: number;
  configWrites: number;
  /** Accesses that reached BAR n (index = BAR number). */
  barReads: number[];
  barWrites: number[];
}

export interface PcieHostStats {
  /** Per function, keyed "bb:dd.f" as lspci prints it. */
  functions: Record<string, PciFunctionStats>;
  /** Configuration accesses to functions that are not there (probing reads all ones). */
  absentConfigReads: number;
  absentConfigWrites: number;
  /** Window accesses no enabled BAR claimed (master aborts). */
  unclaimedReads: number;
  unclaimedWrites: number;
}

/** The host bridge at 00:00.0: configuration space only. */
class HostBridgeFunction implements PciFunction {
  readonly identity: PciIdentity = {
    vendorId: PCIE.HOST_VENDOR,
    deviceId: PCIE.HOST_DEVICE,
    classCode: PCI_CLASS.HOST_BRIDGE,
    revision: 0,
    subsystemVendorId: PCIE.HOST_SUBSYSTEM_VENDOR,
    subsystemId: PCIE.HOST_SUBSYSTEM,
    interruptPin: 0,
  };
  readonly bars: readonly (PciBar | null)[] = [];
  barRead(): number {
    return -1;
  }
  barWrite(): void {}
  connect(): void {}
  reset(): void {}
  save(): DeviceState {
    return {};
  }
  load(): void {}
}

interface Slot {
  readonly device: number;
  readonly name: string;
  readonly fn: PciFunction;
  readonly cfg: PciConfigSpace;
  readonly stats: PciFunctionStats;
  /** Host INTx line index (0..3) the pin is swizzled to, or -1 without a pin. */
  readonly line: number;
  /** The level the function drives. */
  level: boolean;
}

interface Decode {
  readonly slot: Slot;
  readonly bar: number;
  readonly base: number;
  readonly end: number;
}

const ALL_ONES = [0, 0xff, 0xffff, 0, -1] as const;

const bdf = (dev: number) => `00:${dev.toString(16).padStart(2, "0")}.0`;

export class PcieHost {
  readonly stats: PcieHostStats = {
    functions: {},
    absentConfigReads: 0,
    absentConfigWrites: 0,
    unclaimedReads: 0,
    unclaimedWrites: 0,
  };
  readonly ecam: MmioDevice;
  readonly mmioWindow: MmioDevice;
  readonly ioWindow: MmioDevice;
  private readonly slots: (Slot | null)[] = new Array<Slot | null>(PCIE.DEVICES).fill(null);
  private readonly intx: readonly IrqLine[];
  /** Level last driven per host line, -1 before the first drive. */
  private readonly lineLevel = [-1, -1, -1, -1];
  private memDecode: Decode[] = [];
  private ioDecode: Decode[] = [];
  private lastMem: Decode | null = null;
  private lastIo: Decode | null = null;

  constructor(opts: PcieHostOptions) {
    if (opts.intx.length !== 4) throw new RangeError(`pcie: ${opts.intx.length} INTx lines, want 4`);
    this.intx = opts.intx;
    const ecamSize = opts.ecamSize ?? PCIE.ECAM_SIZE;
    const mmio = opts.mmio ?? { base: PCIE.MMIO_BASE, size: PCIE.MMIO_SIZE };
    const ioSize = opts.ioSize ?? PCIE.IO_SIZE;
    const okSize = (n: number, max: number) => Number.isInteger(n) && n >= 0 && n <= max;
    if (!okSize(ecamSize, PCIE.ECAM_SIZE) || ecamSize % (1 << PCIE.BUS_SHIFT) !== 0) {
      throw new RangeError("pcie: bad ECAM size");
    }
    if (!okSize(mmio.base, 0xffff_ffff) || !okSize(mmio.size, 0x1_0000_0000 - mmio.base)) {
      throw new RangeError("pcie: bad MMIO window");
    }
    if (!okSize(ioSize, 0x1_0000_0000)) throw new RangeError("pcie: bad I/O window");
    const base = mmio.base;
    this.ecam = this.window(ecamSize, (o, w) => this.configRead(o, w), (o, w, v) => this.configWrite(o, w, v), true);
    this.mmioWindow = this.window(
      mmio.size,
      (o, w) => this.barRead(false, base + o, w),
      (o, w, v) => this.barWrite(false, base + o, w, v),
    );
    this.ioWindow = this.window(ioSize, (o, w) => this.barRead(true, o, w), (o, w, v) => this.barWrite(true, o, w, v));
    this.attachSlot(0, new HostBridgeFunction());
  }

  /** Put `fn` at 00:dd.0 (dd = 1..31) and connect its INTx pin. Throws on a taken or bad device number. */
  attach(deviceNumber: number, fn: PciFunction): void {
    if (!Number.isInteger(deviceNumber) || deviceNumber < 1 || deviceNumber >= PCIE.DEVICES) {
      throw new RangeError(`pcie: device number ${deviceNumber} is not 1..31`);
    }
    if (this.slots[deviceNumber]) throw new Error(`pcie: device ${bdf(deviceNumber)} is taken`);
    this.attachSlot(deviceNumber, fn);
  }

  /** The function at `deviceNumber`, if any. */
  functionAt(deviceNumber: number): PciFunction | undefined {
    return this.slots[deviceNumber]?.fn;
  }

  /** Where the guest put BAR `bar` of function `deviceNumber` (-1: no such function or BAR); not counted as an access. */
  barBase(deviceNumber: number, bar: number): number {
    return this.slots[deviceNumber]?.cfg.barBase(bar) ?? -1;
  }

  /** Power-on state of the whole hierarchy: every function's config space and the function itself. */
  reset(): void {
    for (const s of this.slots) {
      if (!s) continue;
      s.cfg.reset();
      s.fn.reset();
    }
    this.refresh();
  }

  save(): DeviceState {
    const functions: Record<string, unknown> = {};
    for (const s of this.slots) {
      if (s) functions[s.name] = { config: s.cfg.save(), state: s.fn.save() };
    }
    return { functions };
  }

  load(state: DeviceState): void {
    const saved = (state["functions"] ?? {}) as Record<string, { config?: unknown; state?: unknown } | undefined>;
    for (const s of this.slots) {
      if (!s) continue;
      const f = typeof saved === "object" && saved !== null ? saved[s.name] : undefined;
      s.cfg.load(f?.config);
      s.fn.load(f && typeof f.state === "object" && f.state !== null ? (f.state as DeviceState) : {});
    }
    this.refresh();
  }

  private attachSlot(device: number, fn: PciFunction): void {
    const cfg = new PciConfigSpace(fn);
    const pin = fn.identity.interruptPin;
    const name = bdf(device);
    const bars = () => new Array<number>(PCI_CFG.BAR_COUNT).fill(0);
    const stats: PciFunctionStats = { configReads: 0, configWrites: 0, barReads: bars(), barWrites: bars() };
    const slot: Slot = { device, name, fn, cfg, stats, line: pin === 0 ? -1 : (device + pin - 1) % 4, level: false };
    this.slots[device] = slot;
    this.stats.functions[name] = stats;
    const port: PciPort = {
      intx: { set: (level: boolean) => this.setIntx(slot, level) },
      busMaster: () => (slot.cfg.command & PCI_COMMAND.MASTER) !== 0,
    };
    fn.connect(port);
    this.refresh();
  }

  // --- configuration space -----------------------------------------------------------

  /** Offset in the ECAM window → the slot it addresses, or null (absent function). */
  private slotAt(offset: number): Slot | null {
    if (offset >>> PCIE.BUS_SHIFT !== 0) return null;
    if ((offset >>> PCIE.FUNCTION_SHIFT) & 7) return null;
    return this.slots[(offset >>> PCIE.DEVICE_SHIFT) & 31] ?? null;
  }

  private configRead(offset: number, width: 1 | 2 | 4): number {
    const reg = offset & (PCI_CFG.SPACE_SIZE - 1);
    const slot = this.slotAt(offset);
    if (reg + width <= PCI_CFG.SPACE_SIZE) {
      if (!slot) {
        this.stats.absentConfigReads++;
        return ALL_ONES[width];
      }
      slot.stats.configReads++;
      const v = slot.cfg.read(reg, width);
      return width === 4 ? v | 0 : v;
    }
    // Straddles two functions: each byte from its own.
    let v = 0;
    for (let i = 0; i < width; i++) v |= this.configRead(offset + i, 1) << (8 * i);
    return width === 4 ? v | 0 : v;
  }

  private configWrite(offset: number, width: 1 | 2 | 4, value: number): void {
    let touched = false;
    for (let i = 0; i < width; i++) {
      const slot = this.slotAt(offset + i);
      if (!slot) continue;
      slot.cfg.writeByte((offset + i) & (PCI_CFG.SPACE_SIZE - 1), (value >>> (8 * i)) & 0xff);
      touched = true;
    }
    const slot = this.slotAt(offset);
    if (slot) slot.stats.configWrites++;
    else this.stats.absentConfigWrites++;
    // Command and BAR writes change what the windows decode and whether INTx may assert.
    if (touched) this.refresh();
  }

  // --- BAR windows ---------------------------------------------------------------------

  private barRead(io: boolean, addr: number, width: 1 | 2 | 4): number {
    const d = this.claim(io, addr, width);
    if (!d) {
      this.stats.unclaimedReads++;
      return ALL_ONES[width];
    }
    d.slot.stats.barReads[d.bar]!++;
    return d.slot.fn.barRead(d.bar, addr - d.base, width);
  }

  private barWrite(io: boolean, addr: number, width: 1 | 2 | 4, value: number): void {
    const d = this.claim(io, addr, width);
    if (!d) {
      this.stats.unclaimedWrites++;
      return;
    }
    d.slot.stats.barWrites[d.bar]!++;
    d.slot.fn.barWrite(d.bar, addr - d.base, width, value);
  }

  /** The enabled BAR holding all of [addr, addr + width); the last hit first, as accesses come in runs. */
  private claim(io: boolean, addr: number, width: number): Decode | null {
    const last = io ? this.lastIo : this.lastMem;
    if (last !== null && addr >= last.base && addr + width <= last.end) return last;
    for (const d of io ? this.ioDecode : this.memDecode) {
      if (addr < d.base || addr + width > d.end) continue;
      if (io) this.lastIo = d;
      else this.lastMem = d;
      return d;
    }
    return null;
  }

  /** Rebuild the decode tables and re-drive INTx from the config spaces. */
  private refresh(): void {
    const mem: Decode[] = [];
    const io: Decode[] = [];
    for (const slot of this.slots) {
      if (!slot) continue;
      const cmd = slot.cfg.command;
      slot.fn.bars.forEach((b, bar) => {
        if (!b) return;
        const enabled = b.kind === "io" ? cmd & PCI_COMMAND.IO : cmd & PCI_COMMAND.MEMORY;
        if (!enabled) return;
        const base = slot.cfg.barBase(bar);
        (b.kind === "io" ? io : mem).push({ slot, bar, base, end: base + b.size });
      });
      slot.cfg.setInterruptStatus(slot.level);
    }
    this.memDecode = mem;
    this.ioDecode = io;
    this.lastMem = null;
    this.lastIo = null;
    this.driveLines();
  }

  // --- INTx ----------------------------------------------------------------------------

  private setIntx(slot: Slot, level: boolean): void {
    if (slot.level === level) return;
    slot.level = level;
    slot.cfg.setInterruptStatus(level);
    this.driveLines();
  }

  private driveLines(): void {
    const want = [0, 0, 0, 0];
    for (const s of this.slots) {
      if (s && s.line >= 0 && s.level && !(s.cfg.command & PCI_COMMAND.INTX_DISABLE)) want[s.line] = 1;
    }
    for (let i = 0; i < 4; i++) {
      if (want[i] !== this.lineLevel[i]) {
        this.lineLevel[i] = want[i]!;
        this.intx[i]!.set(want[i] === 1);
      }
    }
  }

  /**
   * An MmioDevice over one of the host's address spaces. Accesses that run past the end
   * of the window are cut to bytes (ECAM) or treated as unclaimed (BAR windows).
   * The ECAM device carries the host's state; the windows have none of their own.
   */
  private window(
    size: number,
    read: (offset: number, width: 1 | 2 | 4) => number,
    write: (offset: number, width: 1 | 2 | 4, value: number) => void,
    owner = false,
  ): MmioDevice {
    const inRange = (o: number, w: number) => Number.isInteger(o) && o >= 0 && o + w <= size;
    return {
      size,
      read: (offset, width) => (inRange(offset, width) ? read(offset, width) : ALL_ONES[width] ?? -1),
      write: (offset, width, value) => {
        if (inRange(offset, width)) write(offset, width, value);
      },
      reset: () => {
        if (owner) this.reset();
      },
      save: () => (owner ? this.save() : {}),
      load: (s) => {
        if (owner) this.load(s);
      },
    };
  }
}
