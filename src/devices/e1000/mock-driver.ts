/**
 * A fake e1000 driver for device tests: it reaches the NIC the way Linux does — through
 * the PCIe host's ECAM to assign and enable the BARs, then through the MMIO window — and
 * builds transmit and receive rings in guest RAM (base 0x8000_0000). It writes whatever
 * it is told, hostile descriptors included: nothing here validates.
 */
import type { IrqLine } from "../device.js";
import { GuestRam } from "../../mem/ram.js";
import { PCI_CFG, PCI_COMMAND } from "../pci/config.js";
import { PCIE, PcieHost } from "../pci/host.js";
import type { FrameOffload, NetBackend } from "../virtio/net/device.js";
import { E1000, type E1000Options } from "./device.js";
import { RCTL, REG, TCTL, TXD_CMD } from "./regs.js";

export const RAM_BASE = 0x8000_0000;
/** Where the mock puts BAR0 (memory) and BAR1 (I/O port). */
export const BAR0_PCI = 0x4000_0000;
export const BAR1_PORT = 0x1000;
export const NIC_DEV = 1;
export const NIC_MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

export class TestBackend implements NetBackend {
  sent: Uint8Array[] = [];
  private rx: ((f: Uint8Array, gso: FrameOffload | null) => boolean) | null = null;
  send(frame: Uint8Array): void {
    this.sent.push(frame.slice());
  }
  onReceive(cb: (f: Uint8Array, gso: FrameOffload | null) => boolean): void {
    this.rx = cb;
  }
  deliver(f: Uint8Array, gso: FrameOffload | null = null): boolean {
    return this.rx!(f, gso);
  }
}

export class FakeIrq implements IrqLine {
  level = false;
  set(level: boolean): void {
    this.level = level;
  }
}

export interface Desc {
  addr: number;
  lower: number;
  upper: number;
}

export class MockE1000Driver {
  readonly ram = new GuestRam(RAM_BASE, 4 << 20);
  readonly backend = new TestBackend();
  readonly host: PcieHost;
  readonly nic: E1000;
  readonly dv: DataView;
  private next = RAM_BASE + 0x1000;
  txRing = 0;
  txCount = 0;
  txTail = 0;
  rxRing = 0;
  rxCount = 0;
  rxBufs: number[] = [];

  constructor(
    readonly intx: readonly IrqLine[] = [new FakeIrq(), new FakeIrq(), new FakeIrq(), new FakeIrq()],
    opts: Partial<E1000Options> = {},
  ) {
    this.host = new PcieHost({ intx });
    this.nic = new E1000(this.ram, this.backend, { mac: new Uint8Array(NIC_MAC), ...opts });
    this.host.attach(NIC_DEV, this.nic);
    this.dv = new DataView(this.ram.sab);
  }

  /** The host line INTA of device 1 is swizzled to. */
  get irq(): IrqLine {
    return this.intx[NIC_DEV % 4]!;
  }

  cfgWrite(reg: number, width: 1 | 2 | 4, v: number): void {
    this.host.ecam.write((NIC_DEV << PCIE.DEVICE_SHIFT) | reg, width, v);
  }

  cfgRead(reg: number, width: 1 | 2 | 4): number {
    return this.host.ecam.read((NIC_DEV << PCIE.DEVICE_SHIFT) | reg, width);
  }

  /** pci_enable_device + pci_set_master, with the BARs where Linux might put them. */
  probe(): this {
    this.cfgWrite(PCI_CFG.BAR0, 4, BAR0_PCI);
    this.cfgWrite(PCI_CFG.BAR0 + 4, 4, BAR1_PORT);
    this.cfgWrite(PCI_CFG.COMMAND, 2, PCI_COMMAND.MEMORY | PCI_COMMAND.IO | PCI_COMMAND.MASTER);
    return this;
  }

  r32(reg: number): number {
    return this.host.mmioWindow.read(BAR0_PCI - PCIE.MMIO_BASE + reg, 4) >>> 0;
  }

  w32(reg: number, v: number): void {
    this.host.mmioWindow.write(BAR0_PCI - PCIE.MMIO_BASE + reg, 4, v >>> 0);
  }

  /** E1000_WRITE_REG_IO: IOADDR then IODATA through the I/O window. */
  ioWrite(reg: number, v: number): void {
    this.host.ioWindow.write(BAR1_PORT, 4, reg);
    this.host.ioWindow.write(BAR1_PORT + 4, 4, v >>> 0);
  }

  alloc(len: number, align = 16): number {
    const at = Math.ceil(this.next / align) * align;
    if (at + len > RAM_BASE + this.ram.size) throw new RangeError("mock driver: out of guest RAM");
    this.next = at + Math.max(len, 1);
    return at;
  }

  /** Copy bytes into freshly allocated guest RAM. */
  put(bytes: Uint8Array): number {
    const at = this.alloc(bytes.length);
    this.ram.writeBytes(at, bytes);
    return at;
  }

  /** e1000_configure_tx: ring, head = tail = 0, TCTL.EN | PSP. */
  setupTx(count = 64): void {
    this.txCount = count;
    this.txRing = this.alloc(count * 16, 128);
    this.txTail = 0;
    this.w32(REG.TDLEN, count * 16);
    this.w32(REG.TDBAH, 0);
    this.w32(REG.TDBAL, this.txRing);
    this.w32(REG.TDT, 0);
    this.w32(REG.TDH, 0);
    this.w32(REG.TCTL, TCTL.EN | TCTL.PSP);
  }

  /** Write a descriptor at the software tail (not yet given to the device). */
  queue(d: Desc): number {
    const at = this.txRing + this.txTail * 16;
    this.writeDesc(at, d);
    const i = this.txTail;
    this.txTail = (this.txTail + 1) % this.txCount;
    return i;
  }

  writeDesc(at: number, d: Desc): void {
    const o = at - RAM_BASE;
    this.dv.setUint32(o, d.addr >>> 0, true);
    this.dv.setUint32(o + 4, Math.floor(d.addr / 0x1_0000_0000), true);
    this.dv.setUint32(o + 8, d.lower >>> 0, true);
    this.dv.setUint32(o + 12, d.upper >>> 0, true);
  }

  kick(): void {
    this.w32(REG.TDT, this.txTail);
  }

  /** A legacy descriptor for `bytes` (EOP | IFCS | RS). */
  legacy(bytes: Uint8Array, cmd = TXD_CMD.EOP | TXD_CMD.IFCS | TXD_CMD.RS): Desc {
    return { addr: this.put(bytes), lower: (cmd << 24) | bytes.length, upper: 0 };
  }

  txStatus(i: number): number {
    return this.ram.u8[this.txRing - RAM_BASE + i * 16 + 12]!;
  }

  /** e1000_configure_rx + alloc_rx_buffers: `count` descriptors of `bufSize`, all but one given to the device. */
  setupRx(count = 32, bufSize = 2048, rctl = RCTL.EN | RCTL.BAM, give = count - 1): void {
    this.rxCount = count;
    this.rxRing = this.alloc(count * 16, 128);
    this.rxBufs = [];
    for (let i = 0; i < count; i++) {
      const b = this.alloc(bufSize, 16);
      this.rxBufs.push(b);
      this.writeDesc(this.rxRing + i * 16, { addr: b, lower: 0, upper: 0 });
    }
    this.w32(REG.RDLEN, count * 16);
    this.w32(REG.RDBAH, 0);
    this.w32(REG.RDBAL, this.rxRing);
    this.w32(REG.RDT, 0);
    this.w32(REG.RDH, 0);
    this.w32(REG.RCTL, rctl);
    this.w32(REG.RDT, give);
  }

  rxDesc(i: number): { length: number; status: number; errors: number; special: number; data: Uint8Array } {
    const o = this.rxRing - RAM_BASE + i * 16;
    const length = this.dv.getUint16(o + 8, true);
    return {
      length,
      status: this.ram.u8[o + 12]!,
      errors: this.ram.u8[o + 13]!,
      special: this.dv.getUint16(o + 14, true),
      data: this.ram.readBytes(this.rxBufs[i]!, length),
    };
  }
}

/** An Ethernet frame: dst, src, EtherType, then `payload` (or a counting pattern of `len` bytes). */
export function ethFrame(dst: number[], src: number[], type: number, payload: Uint8Array | number): Uint8Array {
  const body =
    typeof payload === "number" ? Uint8Array.from({ length: payload }, (_, i) => (i * 7 + 3) & 0xff) : payload;
  const f = new Uint8Array(14 + body.length);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  f.set(body, 14);
  return f;
}
