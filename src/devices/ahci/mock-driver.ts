/**
 * A fake AHCI driver for device tests, doing what Linux's `ahci`/libahci does: it reaches
 * the HBA through the PCIe host's ECAM (BAR5, memory and bus-master enable), then through
 * the MMIO window; it builds a command list, a received-FIS area and command tables in
 * guest RAM (base 0x8000_0000), and issues commands by setting PxCI. It writes whatever
 * it is told, hostile tables included: nothing here validates.
 */
import type { IrqLine } from "../device.js";
import { GuestRam } from "../../mem/ram.js";
import { PCI_CFG, PCI_COMMAND } from "../pci/config.js";
import { PCIE, PcieHost } from "../pci/host.js";
import { MemoryBackend } from "../virtio/blk/device.js";
import { AhciDevice } from "./device.js";
import { AHCI, CMD_HDR, FIS_TYPE, GHC, H2D, PORT_REG, PRD, PXCMD, PXIS } from "./regs.js";

export const RAM_BASE = 0x8000_0000;
export const ABAR_PCI = 0x4000_0000;
export const HBA_DEV = 2;

export class FakeIrq implements IrqLine {
  level = false;
  edges = 0;
  set(level: boolean): void {
    if (level && !this.level) this.edges++;
    this.level = level;
  }
}

/** One PRD: guest address and byte count (the mock writes DBC = len − 1 as given). */
export interface Prd {
  addr: number;
  len: number;
  interrupt?: boolean;
}

export interface Command {
  command: number;
  lba?: number;
  count?: number;
  features?: number;
  device?: number;
  prds?: Prd[];
  write?: boolean;
  /** A device-control FIS (C = 0) with this control byte instead of a command. */
  control?: number;
  /** Raw FIS type (default Register H2D). */
  fisType?: number;
}

export class MockAhciDriver {
  readonly ram = new GuestRam(RAM_BASE, 4 << 20);
  readonly host: PcieHost;
  readonly hba: AhciDevice;
  readonly disk: MemoryBackend;
  readonly dv: DataView;
  private next = RAM_BASE + 0x1000;
  clb = 0;
  fb = 0;
  tables: number[] = [];

  constructor(
    sectors = 2048,
    readonly intx: readonly FakeIrq[] = [new FakeIrq(), new FakeIrq(), new FakeIrq(), new FakeIrq()],
    readonlyDisk = false,
  ) {
    const bytes = new Uint8Array(sectors * 512);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 9)) & 0xff;
    this.disk = new MemoryBackend(bytes, readonlyDisk);
    this.host = new PcieHost({ intx });
    this.hba = new AhciDevice(this.ram, this.disk, { serial: "MOCK-AHCI" });
    this.host.attach(HBA_DEV, this.hba);
    this.dv = new DataView(this.ram.sab);
  }

  /** The host line INTA of device 2 is swizzled to. */
  get irq(): FakeIrq {
    return this.intx[HBA_DEV % 4]!;
  }

  cfgWrite(reg: number, width: 1 | 2 | 4, v: number): void {
    this.host.ecam.write((HBA_DEV << PCIE.DEVICE_SHIFT) | reg, width, v);
  }

  cfgRead(reg: number, width: 1 | 2 | 4): number {
    return this.host.ecam.read((HBA_DEV << PCIE.DEVICE_SHIFT) | reg, width);
  }

  /** pci_enable_device + pci_set_master with BAR5 placed in the MMIO window. */
  probe(command = PCI_COMMAND.MEMORY | PCI_COMMAND.MASTER): this {
    this.cfgWrite(PCI_CFG.BAR0 + 4 * AHCI.ABAR_INDEX, 4, ABAR_PCI);
    this.cfgWrite(PCI_CFG.COMMAND, 2, command);
    return this;
  }

  r32(reg: number): number {
    return this.host.mmioWindow.read(ABAR_PCI - PCIE.MMIO_BASE + reg, 4) >>> 0;
  }

  w32(reg: number, v: number): void {
    this.host.mmioWindow.write(ABAR_PCI - PCIE.MMIO_BASE + reg, 4, v >>> 0);
  }

  pr(reg: number): number {
    return this.r32(AHCI.PORT_BASE + reg);
  }

  pw(reg: number, v: number): void {
    this.w32(AHCI.PORT_BASE + reg, v);
  }

  alloc(len: number, align = 16): number {
    const at = Math.ceil(this.next / align) * align;
    if (at + len > RAM_BASE + this.ram.size) throw new RangeError("mock driver: out of guest RAM");
    this.next = at + Math.max(len, 1);
    return at;
  }

  /**
   * What ahci_init_one + ahci_port_start do: HBA reset, AE, command list and FIS area,
   * FRE then ST, clear pending interrupts, enable the default interrupts and GHC.IE.
   */
  start(): this {
    this.w32(0x04, GHC.HR);
    this.w32(0x04, GHC.AE);
    this.clb = this.alloc(AHCI.SLOTS * AHCI.CMD_HEADER_SIZE, 1024);
    this.fb = this.alloc(AHCI.RX_FIS_SIZE, 256);
    this.tables = [];
    for (let i = 0; i < AHCI.SLOTS; i++) this.tables.push(this.alloc(AHCI.CMD_TABLE_PRDT + 168 * AHCI.PRD_SIZE, 128));
    this.pw(PORT_REG.CLBU, 0);
    this.pw(PORT_REG.CLB, this.clb);
    this.pw(PORT_REG.FBU, 0);
    this.pw(PORT_REG.FB, this.fb);
    this.pw(PORT_REG.CMD, this.pr(PORT_REG.CMD) | PXCMD.FRE);
    this.pw(PORT_REG.CMD, this.pr(PORT_REG.CMD) | PXCMD.ST);
    this.pw(PORT_REG.SERR, 0xffff_ffff);
    this.pw(PORT_REG.IS, 0xffff_ffff);
    this.w32(0x08, 1);
    this.pw(PORT_REG.IE, PXIS.DHRS | PXIS.PSS | PXIS.DSS | PXIS.SDBS | PXIS.DPS | PXIS.TFES | PXIS.HBFS | PXIS.IFS | PXIS.OFS);
    this.w32(0x04, GHC.AE | GHC.IE);
    return this;
  }

  /** Write command `c` into `slot` (header + table) without issuing it. */
  prepare(slot: number, c: Command): void {
    const t = this.tables[slot]!;
    const u8 = this.ram.u8;
    const o = t - RAM_BASE;
    u8.fill(0, o, o + AHCI.CMD_TABLE_PRDT);
    u8[o + H2D.TYPE] = c.fisType ?? FIS_TYPE.REG_H2D;
    const lba = c.lba ?? 0;
    const count = c.count ?? 0;
    if (c.control !== undefined) {
      u8[o + H2D.FLAGS] = 0;
      u8[o + H2D.CONTROL] = c.control;
    } else {
      u8[o + H2D.FLAGS] = H2D.FLAG_COMMAND;
      u8[o + H2D.COMMAND] = c.command;
      u8[o + H2D.FEATURES] = (c.features ?? 0) & 0xff;
      u8[o + H2D.FEATURES_EXP] = ((c.features ?? 0) >> 8) & 0xff;
      const lo = lba % 0x100_0000;
      const hi = Math.floor(lba / 0x100_0000);
      u8[o + H2D.LBA0] = lo & 0xff;
      u8[o + H2D.LBA1] = (lo >> 8) & 0xff;
      u8[o + H2D.LBA2] = (lo >> 16) & 0xff;
      u8[o + H2D.DEVICE] = c.device ?? 0x40;
      u8[o + H2D.LBA3] = hi & 0xff;
      u8[o + H2D.LBA4] = (hi >> 8) & 0xff;
      u8[o + H2D.LBA5] = (hi >> 16) & 0xff;
      u8[o + H2D.COUNT] = count & 0xff;
      u8[o + H2D.COUNT_EXP] = (count >> 8) & 0xff;
    }
    const prds = c.prds ?? [];
    prds.forEach((p, i) => {
      const e = t + AHCI.CMD_TABLE_PRDT + i * AHCI.PRD_SIZE - RAM_BASE;
      this.dv.setUint32(e + PRD.DBA, p.addr % 2 ** 32, true);
      this.dv.setUint32(e + PRD.DBAU, Math.floor(p.addr / 2 ** 32), true);
      this.dv.setUint32(e + 8, 0, true);
      this.dv.setUint32(e + PRD.DW3, ((p.len - 1) | (p.interrupt ? PRD.INTERRUPT : 0)) >>> 0, true);
    });
    this.writeHeader(slot, {
      dw0: 5 | (c.write ? CMD_HDR.WRITE : 0) | (c.control !== undefined ? CMD_HDR.RESET | CMD_HDR.CLEAR_BUSY : 0) | (prds.length << CMD_HDR.PRDTL_SHIFT),
      ctba: t,
    });
  }

  writeHeader(slot: number, h: { dw0: number; ctba: number }): void {
    const at = this.clb + slot * AHCI.CMD_HEADER_SIZE - RAM_BASE;
    this.dv.setUint32(at, h.dw0 >>> 0, true);
    this.dv.setUint32(at + CMD_HDR.PRDBC, 0xdead, true);
    this.dv.setUint32(at + CMD_HDR.CTBA, h.ctba % 2 ** 32, true);
    this.dv.setUint32(at + CMD_HDR.CTBAU, Math.floor(h.ctba / 2 ** 32), true);
  }

  /** prepare + set the slot's CI bit (ahci_qc_issue). */
  issue(slot: number, c: Command): void {
    this.prepare(slot, c);
    this.pw(PORT_REG.CI, 1 << slot);
  }

  /** PRDBC the HBA wrote back for `slot`. */
  prdbc(slot: number): number {
    return this.dv.getUint32(this.clb + slot * AHCI.CMD_HEADER_SIZE + CMD_HDR.PRDBC - RAM_BASE, true);
  }

  /** The interrupt handler's part: read and clear PxIS and IS, return PxIS. */
  ack(): number {
    const is = this.pr(PORT_REG.IS);
    this.pw(PORT_REG.IS, is);
    this.w32(0x08, this.r32(0x08));
    return is;
  }

  /** ahci_stop_engine + ahci_start_engine: what libata's EH does after an error. */
  restart(): void {
    this.pw(PORT_REG.CMD, this.pr(PORT_REG.CMD) & ~PXCMD.ST);
    this.pw(PORT_REG.CMD, this.pr(PORT_REG.CMD) | PXCMD.ST);
  }

  fis(offset: number, len: number): Uint8Array {
    return this.ram.readBytes(this.fb + offset, len);
  }
}
