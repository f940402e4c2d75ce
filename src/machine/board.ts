/**
 * The board as data: QEMU `virt`'s memory map as one table, and `BoardLayout`, the
 * allocator that places devices on it.
 *
 * Every device a machine has is registered here first — it gets its MMIO window and its
 * PLIC interrupt number from `BOARD_MAP` — and the registered list is the one input from
 * which both the bus wiring and the device tree (devicetree.ts) are generated, so the
 * guest is told exactly what is there.
 *
 * The addresses and IRQ numbers are QEMU 7.2 `virt`'s (hw/riscv/virt.c), so images built
 * for `qemu -M virt` find the same hardware in the same place. The ATA window is ours:
 * QEMU `virt` has no such device; it sits in the unused space after the virtio slots.
 */

export const BOARD_MAP = {
  /**
   * SiFive test device ("sifive,test1"): a write of 0x5555 powers off, 0x7777 resets,
   * (code << 16) | 0x3333 fails with a code. OpenSBI's reset driver for the full profile.
   */
  TEST: { base: 0x10_0000, size: 0x1000 },
  /** Core-local interruptor: msip, mtimecmp, mtime (full profile only). */
  CLINT: { base: 0x0200_0000, size: 0x1_0000 },
  /** PLIC; `ndev` = number of interrupt sources (ids 1..ndev), QEMU 7.2's `riscv,ndev`. */
  PLIC: { base: 0x0c00_0000, size: 0x60_0000, ndev: 96 },
  /** NS16550A UART; clock 3.6864 MHz as on QEMU `virt`. */
  UART0: { base: 0x1000_0000, size: 0x100, irq: 10, clockFrequency: 3_686_400 },
  /** virtio-mmio transports: slot n at base + n·stride, IRQ firstIrq + n. */
  VIRTIO: { base: 0x1000_1000, stride: 0x1000, size: 0x1000, count: 8, firstIrq: 1 },
  /** PATA (ata-generic): command block at +cmdOffset, control block at +ctlOffset. */
  ATA: { base: 0x1000_9000, size: 0x1000, irq: 12, cmdOffset: 0, ctlOffset: 0x100 },
  /** PCIe host: I/O port window (PCI address 0). */
  PCIE_PIO: { base: 0x0300_0000, size: 0x1_0000 },
  /** PCIe configuration space, ECAM: 256 buses × 1 MiB. */
  PCIE_ECAM: { base: 0x3000_0000, size: 0x1000_0000 },
  /** PCIe 32-bit memory window (PCI address = CPU address). */
  PCIE_MMIO: { base: 0x4000_0000, size: 0x4000_0000 },
  /** PCIe INTA..INTD → PLIC sources firstIrq..firstIrq+3, swizzled by device number. */
  PCIE_INTX: { firstIrq: 0x20, count: 4 },
  DRAM: { base: 0x8000_0000 },
} as const;

/** Thrown when a device does not fit the board; the message is one line. */
export class BoardError extends Error {
  override readonly name = "BoardError";
}

export type BoardDeviceKind = "plic" | "clint" | "uart16550" | "virtio-mmio" | "ata" | "pcie" | "sifive-test";

interface DeviceBase {
  readonly kind: BoardDeviceKind;
  /** A name unique on the board ("uart0", "virtio-blk0", …), for wiring and messages. */
  readonly name: string;
  /** Guest-physical base address of the device's MMIO window. */
  readonly base: number;
  /** Window size in bytes. */
  readonly size: number;
}

export interface PlicRecord extends DeviceBase {
  readonly kind: "plic";
  /** Interrupt sources 1..ndev. */
  readonly ndev: number;
}

export interface ClintRecord extends DeviceBase {
  readonly kind: "clint";
}

export interface SifiveTestRecord extends DeviceBase {
  readonly kind: "sifive-test";
}

export interface Uart16550Record extends DeviceBase {
  readonly kind: "uart16550";
  readonly irq: number;
  readonly clockFrequency: number;
}

export interface VirtioMmioRecord extends DeviceBase {
  readonly kind: "virtio-mmio";
  readonly irq: number;
  /** Slot index 0..7. */
  readonly slot: number;
}

export interface AtaRecord extends DeviceBase {
  readonly kind: "ata";
  readonly irq: number;
  /** Command block registers (data, error/feature, … status/command): base of `reg[0]`. */
  readonly cmdBase: number;
  readonly cmdSize: number;
  /** Control block (alt-status / device control): base of `reg[1]`. */
  readonly ctlBase: number;
  readonly ctlSize: number;
  /** Register n of a block is at block + (n << regShift). */
  readonly regShift: number;
  /** Highest PIO mode the guest may use (0..6). */
  readonly pioMode: number;
  /**
   * true: the `ata-generic,use16bit` property. Without it pata_platform installs the
   * 32-bit transfer routine, but that falls back to 16-bit accesses unless the port
   * enabled 32-bit PIO (only BMDMA drivers do), so Linux moves 2 bytes per access either way.
   */
  readonly use16bit: boolean;
}

export interface PcieRecord extends DeviceBase {
  readonly kind: "pcie";
  /** `base`/`size` are the ECAM window; buses busStart..busEnd. */
  readonly busStart: number;
  readonly busEnd: number;
  /** 32-bit non-prefetchable memory window, identity-mapped. */
  readonly mmio: { readonly base: number; readonly size: number };
  /** I/O port window (PCI I/O address 0), if the host bridge decodes I/O. */
  readonly pio?: { readonly base: number; readonly size: number };
  /** PLIC sources for INTA, INTB, INTC, INTD. */
  readonly intx: readonly [number, number, number, number];
}

/** One registered device: what the bus maps and what the device tree describes. */
export type BoardDevice =
  | PlicRecord
  | ClintRecord
  | Uart16550Record
  | VirtioMmioRecord
  | AtaRecord
  | PcieRecord
  | SifiveTestRecord;

export interface AtaOptions {
  /** Default 0: registers at consecutive bytes. */
  readonly regShift?: number;
  /** Default 4. */
  readonly pioMode?: number;
  /** Default false (no `ata-generic,use16bit`; see AtaRecord.use16bit). */
  readonly use16bit?: boolean;
}

const hex = (n: number): string => `0x${n.toString(16)}`;
const range = (r: { base: number; size: number }): string => `[${hex(r.base)}, ${hex(r.base + r.size)})`;

/** The windows a device occupies on the bus (the PCIe host has three). */
export function deviceWindows(d: BoardDevice): { base: number; size: number }[] {
  if (d.kind !== "pcie") return [{ base: d.base, size: d.size }];
  return [{ base: d.base, size: d.size }, d.mmio, ...(d.pio ? [d.pio] : [])];
}

/** The PLIC sources a device drives. */
export function deviceIrqs(d: BoardDevice): number[] {
  switch (d.kind) {
    case "uart16550":
    case "virtio-mmio":
    case "ata":
      return [d.irq];
    case "pcie":
      return [...d.intx];
    default:
      return [];
  }
}

/**
 * Hands out windows and IRQs from `BOARD_MAP` and records every device, in registration
 * order. Fixed devices (PLIC, CLINT, UART, ATA, PCIe) may be added once each; virtio
 * slots are taken in order, slot 0 first, so the first virtio device registered is the
 * first the guest probes. Overlapping windows, a reused IRQ or name, and a ninth virtio
 * device are refused with a `BoardError`.
 */
export class BoardLayout {
  private readonly list: BoardDevice[] = [];
  private nextVirtioSlot = 0;

  /** Every registered device, in registration order. */
  get devices(): readonly BoardDevice[] {
    return this.list;
  }

  /** The first registered device of a kind. */
  find<K extends BoardDeviceKind>(kind: K): Extract<BoardDevice, { kind: K }> | undefined {
    return this.list.find((d): d is Extract<BoardDevice, { kind: K }> => d.kind === kind);
  }

  byName(name: string): BoardDevice | undefined {
    return this.list.find((d) => d.name === name);
  }

  addPlic(name = "plic"): PlicRecord {
    const m = BOARD_MAP.PLIC;
    return this.add({ kind: "plic", name, base: m.base, size: m.size, ndev: m.ndev });
  }

  addClint(name = "clint"): ClintRecord {
    const m = BOARD_MAP.CLINT;
    return this.add({ kind: "clint", name, base: m.base, size: m.size });
  }

  /** The power-off/reset register firmware uses (full profile; pv powers off through SBI SRST). */
  addTest(name = "test"): SifiveTestRecord {
    const m = BOARD_MAP.TEST;
    return this.add({ kind: "sifive-test", name, base: m.base, size: m.size });
  }

  addUart(name = "uart0"): Uart16550Record {
    const m = BOARD_MAP.UART0;
    const { base, size, irq, clockFrequency } = m;
    return this.add({ kind: "uart16550", name, base, size, irq, clockFrequency });
  }

  /** The next free virtio-mmio slot: window base + n·0x1000, IRQ 1 + n. */
  addVirtio(name: string): VirtioMmioRecord {
    const m = BOARD_MAP.VIRTIO;
    const slot = this.nextVirtioSlot;
    if (slot >= m.count) throw new BoardError(`no free virtio-mmio slot for ${name} (all ${m.count} are taken)`);
    const rec = this.add<VirtioMmioRecord>({
      kind: "virtio-mmio",
      name,
      base: m.base + slot * m.stride,
      size: m.size,
      irq: m.firstIrq + slot,
      slot,
    });
    this.nextVirtioSlot++;
    return rec;
  }

  addAta(name = "ata0", opts: AtaOptions = {}): AtaRecord {
    const m = BOARD_MAP.ATA;
    const regShift = opts.regShift ?? 0;
    const pioMode = opts.pioMode ?? 4;
    if (!Number.isInteger(regShift) || regShift < 0 || regShift > 4) {
      throw new BoardError(`${name}: reg-shift ${regShift} is not 0..4`);
    }
    if (!Number.isInteger(pioMode) || pioMode < 0 || pioMode > 6) {
      throw new BoardError(`${name}: pio-mode ${pioMode} is not 0..6`);
    }
    const cmdSize = 8 << regShift;
    const ctlSize = 4 << regShift;
    if (m.cmdOffset + cmdSize > m.ctlOffset || m.ctlOffset + ctlSize > m.size) {
      throw new BoardError(`${name}: reg-shift ${regShift} does not fit the ${hex(m.size)}-byte ATA window`);
    }
    return this.add<AtaRecord>({
      kind: "ata",
      name,
      base: m.base,
      size: m.size,
      irq: m.irq,
      cmdBase: m.base + m.cmdOffset,
      cmdSize,
      ctlBase: m.base + m.ctlOffset,
      ctlSize,
      regShift,
      pioMode,
      use16bit: opts.use16bit ?? false,
    });
  }

  /** The generic ECAM PCIe host: config space, 32-bit MMIO window, optionally the I/O window. */
  addPcie(name = "pcie", opts: { pio?: boolean } = {}): PcieRecord {
    const ecam = BOARD_MAP.PCIE_ECAM;
    const intx = BOARD_MAP.PCIE_INTX.firstIrq;
    return this.add<PcieRecord>({
      kind: "pcie",
      name,
      base: ecam.base,
      size: ecam.size,
      busStart: 0,
      busEnd: ecam.size / 0x10_0000 - 1,
      mmio: { base: BOARD_MAP.PCIE_MMIO.base, size: BOARD_MAP.PCIE_MMIO.size },
      ...(opts.pio === false ? {} : { pio: { base: BOARD_MAP.PCIE_PIO.base, size: BOARD_MAP.PCIE_PIO.size } }),
      intx: [intx, intx + 1, intx + 2, intx + 3],
    });
  }

  private add<T extends BoardDevice>(rec: T): T {
    if (this.byName(rec.name)) throw new BoardError(`a device named "${rec.name}" is already on the board`);
    const singleton = rec.kind !== "virtio-mmio";
    if (singleton && this.find(rec.kind)) throw new BoardError(`the board already has a ${rec.kind} device`);
    for (const w of deviceWindows(rec)) {
      for (const other of this.list) {
        for (const o of deviceWindows(other)) {
          if (w.base < o.base + o.size && o.base < w.base + w.size) {
            throw new BoardError(`${rec.name} at ${range(w)} overlaps ${other.name} at ${range(o)}`);
          }
        }
      }
      if (w.base + w.size > BOARD_MAP.DRAM.base) {
        throw new BoardError(`${rec.name} at ${hex(w.base)} reaches into DRAM`);
      }
    }
    for (const irq of deviceIrqs(rec)) {
      if (irq < 1 || irq > BOARD_MAP.PLIC.ndev) throw new BoardError(`${rec.name}: IRQ ${irq} is not a PLIC source`);
      const user = this.list.find((d) => deviceIrqs(d).includes(irq));
      if (user) throw new BoardError(`${rec.name}: IRQ ${irq} is already used by ${user.name}`);
    }
    this.list.push(rec);
    return rec;
  }
}
