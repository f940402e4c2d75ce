/**
 * PCI configuration space for a type 0 (endpoint) header, and `PciFunction`, what an
 * endpoint device implements to sit behind the PCIe host (host.ts).
 *
 * Layout (PCI Local Bus 3.0 §6.1; PCIe ECAM gives every function 4 KiB, the first 256
 * bytes of which are the conventional space):
 *
 *     0x00 vendor id        0x02 device id        0x04 command        0x06 status
 *     0x08 revision         0x09 class (prog-if, subclass, base class)
 *     0x0c cache line size  0x0d latency timer    0x0e header type    0x0f BIST
 *     0x10..0x27 BAR0..BAR5 0x2c subsystem vendor 0x2e subsystem id   0x30 expansion ROM
 *     0x34 capabilities     0x3c interrupt line   0x3d interrupt pin
 *
 * Every byte has a write mask: read-only bytes (ids, class, pin, the rest of the 4 KiB)
 * ignore writes, and a BAR's mask is its size mask, so BAR sizing needs no special case:
 * writing all-ones reads back ~(size - 1) with the type bits, which the mask never lets
 * a write change. Status error bits are write-1-to-clear. No capabilities, no expansion
 * ROM (its BAR reads 0, which Linux takes as "no ROM").
 */
import type { DeviceState, IrqLine } from "../device.js";

export const PCI_CFG = {
  VENDOR_ID: 0x00,
  DEVICE_ID: 0x02,
  COMMAND: 0x04,
  STATUS: 0x06,
  REVISION_ID: 0x08,
  CLASS_PROG: 0x09,
  CACHE_LINE_SIZE: 0x0c,
  LATENCY_TIMER: 0x0d,
  HEADER_TYPE: 0x0e,
  BAR0: 0x10,
  SUBSYSTEM_VENDOR_ID: 0x2c,
  SUBSYSTEM_ID: 0x2e,
  ROM_ADDRESS: 0x30,
  CAPABILITY_LIST: 0x34,
  INTERRUPT_LINE: 0x3c,
  INTERRUPT_PIN: 0x3d,
  /** Bytes saved per function: the conventional space (the extended space is all read-only zeros). */
  CONVENTIONAL_SIZE: 0x100,
  /** ECAM space per function. */
  SPACE_SIZE: 0x1000,
  BAR_COUNT: 6,
} as const;

export const PCI_COMMAND = {
  IO: 0x0001,
  MEMORY: 0x0002,
  MASTER: 0x0004,
  PARITY: 0x0040,
  SERR: 0x0100,
  INTX_DISABLE: 0x0400,
  /** The bits a function implements; the rest read as zero (MWI, VGA snoop, fast back-to-back…). */
  WRITABLE: 0x0547,
} as const;

export const PCI_STATUS = {
  INTERRUPT: 0x0008,
  CAP_LIST: 0x0010,
  MASTER_PARITY: 0x0100,
  SIG_TARGET_ABORT: 0x0800,
  REC_TARGET_ABORT: 0x1000,
  REC_MASTER_ABORT: 0x2000,
  SIG_SYSTEM_ERROR: 0x4000,
  DETECTED_PARITY: 0x8000,
  /** Error bits, cleared by writing 1. */
  W1C: 0xf900,
} as const;

export const PCI_BAR = {
  SPACE_IO: 0x1,
  MEM_PREFETCH: 0x8,
  /** Smallest BARs the spec allows. */
  MIN_MEM: 16,
  MIN_IO: 4,
  /** Largest I/O BAR (PCI 3.0 §6.2.5.1: I/O BARs claim at most 256 bytes). */
  MAX_IO: 256,
  MAX_MEM32: 0x8000_0000,
} as const;

export const PCI_CLASS = {
  ETHERNET: 0x02_00_00,
  HOST_BRIDGE: 0x06_00_00,
} as const;

export type PciBarKind = "mem32" | "io";

export interface PciBar {
  readonly kind: PciBarKind;
  /** Bytes; a power of two, at least 16 (memory) or 4 (I/O). */
  readonly size: number;
  readonly prefetchable?: boolean;
}

export interface PciIdentity {
  readonly vendorId: number;
  readonly deviceId: number;
  /** base class << 16 | subclass << 8 | programming interface. */
  readonly classCode: number;
  readonly revision: number;
  readonly subsystemVendorId: number;
  readonly subsystemId: number;
  /** 0 = no interrupt, 1..4 = INTA..INTD. */
  readonly interruptPin: number;
}

/** What the host gives a function when it is attached. */
export interface PciPort {
  /** The function's INTx wire; the host gates it with Interrupt Disable and reports it in status bit 3. */
  readonly intx: IrqLine;
  /** Command register Bus Master Enable: a function must not DMA while it is clear. */
  busMaster(): boolean;
}

/** A PCI endpoint function; the host owns its configuration space and routes BAR accesses to it. */
export interface PciFunction {
  readonly identity: PciIdentity;
  /** BAR0..BAR5 (null or absent = unimplemented). */
  readonly bars: readonly (PciBar | null)[];
  /** An access inside an enabled BAR; `offset` is from the BAR's base, and offset + width fits the BAR. */
  barRead(bar: number, offset: number, width: 1 | 2 | 4): number;
  barWrite(bar: number, offset: number, width: 1 | 2 | 4, value: number): void;
  /** Called once, by `PcieHost.attach`. */
  connect(port: PciPort): void;
  reset(): void;
  save(): DeviceState;
  load(s: DeviceState): void;
}

const isPow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** Throws (a host programming error, never guest input) when a function's description is impossible. */
export function checkFunction(fn: PciFunction): void {
  const id = fn.identity;
  const within = (v: number, max: number) => Number.isInteger(v) && v >= 0 && v <= max;
  const bad = (what: string) => new RangeError(`pci: bad ${what}`);
  if (!within(id.vendorId, 0xfffe) || !within(id.deviceId, 0xffff)) throw bad("vendor/device id");
  if (!within(id.subsystemVendorId, 0xffff) || !within(id.subsystemId, 0xffff)) throw bad("subsystem id");
  if (!within(id.classCode, 0xff_ffff)) throw bad("class code");
  if (!within(id.revision, 0xff)) throw bad("revision");
  if (!within(id.interruptPin, 4)) throw bad("interrupt pin");
  if (fn.bars.length > PCI_CFG.BAR_COUNT) throw new RangeError("pci: more than 6 BARs");
  fn.bars.forEach((b, i) => {
    if (!b) return;
    const [min, max] = b.kind === "io" ? [PCI_BAR.MIN_IO, PCI_BAR.MAX_IO] : [PCI_BAR.MIN_MEM, PCI_BAR.MAX_MEM32];
    if (!isPow2(b.size) || b.size < min || b.size > max) throw new RangeError(`pci: BAR${i} size ${b.size}`);
  });
}

export class PciConfigSpace {
  readonly bytes = new Uint8Array(PCI_CFG.SPACE_SIZE);
  private readonly wmask = new Uint8Array(PCI_CFG.SPACE_SIZE);
  private readonly w1c = new Uint8Array(PCI_CFG.SPACE_SIZE);
  private readonly initial: Uint8Array;
  /** BAR address masks (0 = unimplemented), for decoding. */
  private readonly barMask: number[] = [];

  constructor(readonly fn: PciFunction) {
    checkFunction(fn);
    const id = fn.identity;
    this.put(PCI_CFG.VENDOR_ID, 2, id.vendorId);
    this.put(PCI_CFG.DEVICE_ID, 2, id.deviceId);
    this.put(PCI_CFG.REVISION_ID, 1, id.revision);
    this.put(PCI_CFG.CLASS_PROG, 3, id.classCode);
    this.put(PCI_CFG.SUBSYSTEM_VENDOR_ID, 2, id.subsystemVendorId);
    this.put(PCI_CFG.SUBSYSTEM_ID, 2, id.subsystemId);
    this.put(PCI_CFG.INTERRUPT_PIN, 1, id.interruptPin);
    this.mask(this.wmask, PCI_CFG.COMMAND, 2, PCI_COMMAND.WRITABLE);
    this.mask(this.w1c, PCI_CFG.STATUS, 2, PCI_STATUS.W1C);
    this.mask(this.wmask, PCI_CFG.CACHE_LINE_SIZE, 1, 0xff);
    this.mask(this.wmask, PCI_CFG.LATENCY_TIMER, 1, 0xff);
    this.mask(this.wmask, PCI_CFG.INTERRUPT_LINE, 1, 0xff);
    for (let i = 0; i < PCI_CFG.BAR_COUNT; i++) {
      const b = fn.bars[i] ?? null;
      const reg = PCI_CFG.BAR0 + 4 * i;
      if (!b) {
        this.barMask.push(0);
        continue;
      }
      const addrMask = ~(b.size - 1) >>> 0;
      this.barMask.push(addrMask);
      const typeBits = b.kind === "io" ? PCI_BAR.SPACE_IO : b.prefetchable ? PCI_BAR.MEM_PREFETCH : 0;
      this.put(reg, 4, typeBits);
      this.mask(this.wmask, reg, 4, addrMask & (b.kind === "io" ? ~0x3 : ~0xf));
    }
    this.initial = this.bytes.slice();
  }

  reset(): void {
    this.bytes.set(this.initial);
  }

  get command(): number {
    return this.bytes[PCI_CFG.COMMAND]! | (this.bytes[PCI_CFG.COMMAND + 1]! << 8);
  }

  /** A little-endian read of `width` bytes at `reg` (reg + width <= 4096). */
  read(reg: number, width: 1 | 2 | 4): number {
    const b = this.bytes;
    if (width === 1) return b[reg]!;
    if (width === 2) return b[reg]! | (b[reg + 1]! << 8);
    return b[reg]! | (b[reg + 1]! << 8) | (b[reg + 2]! << 16) | (b[reg + 3]! << 24);
  }

  /** One byte of a guest write, through the write and write-1-to-clear masks. */
  writeByte(reg: number, v: number): void {
    const old = this.bytes[reg]!;
    const wm = this.wmask[reg]!;
    this.bytes[reg] = ((old & ~wm & ~(v & this.w1c[reg]!)) | (v & wm)) & 0xff;
  }

  /** The base address BAR i decodes (address bits only), or -1 if the BAR is unimplemented. */
  barBase(i: number): number {
    const m = this.barMask[i] ?? 0;
    if (m === 0) return -1;
    return (this.read(PCI_CFG.BAR0 + 4 * i, 4) & m) >>> 0;
  }

  /** Status bit 3 follows the function's INTx level, whatever Interrupt Disable says (PCI 3.0 §6.2.3). */
  setInterruptStatus(level: boolean): void {
    const s = PCI_CFG.STATUS;
    this.bytes[s] = level ? this.bytes[s]! | PCI_STATUS.INTERRUPT : this.bytes[s]! & ~PCI_STATUS.INTERRUPT;
  }

  /** The conventional space as base64. */
  save(): string {
    return Buffer.from(this.bytes.subarray(0, PCI_CFG.CONVENTIONAL_SIZE)).toString("base64");
  }

  /** Restores the guest-writable bits (and error status bits) from `save()`; read-only fields stay as built. */
  load(b64: unknown): void {
    this.reset();
    if (typeof b64 !== "string") return;
    const saved = Buffer.from(b64, "base64");
    const n = Math.min(saved.length, PCI_CFG.CONVENTIONAL_SIZE);
    for (let i = 0; i < n; i++) {
      const keep = this.wmask[i]! | this.w1c[i]!;
      this.bytes[i] = (this.bytes[i]! & ~keep) | (saved[i]! & keep);
    }
  }

  private put(reg: number, width: number, v: number): void {
    for (let i = 0; i < width; i++) this.bytes[reg + i] = (v >>> (8 * i)) & 0xff;
  }

  private mask(arr: Uint8Array, reg: number, width: number, v: number): void {
    for (let i = 0; i < width; i++) arr[reg + i] = (v >>> (8 * i)) & 0xff;
  }
}
