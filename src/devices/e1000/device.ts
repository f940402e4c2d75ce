/**
 * Intel 82540EM gigabit Ethernet controller, the NIC QEMU calls `e1000`, as a PCI
 * function behind the PCIe host (../pci/host.ts), for Linux's e1000 driver.
 *
 *     BAR0  128 KiB memory  the register file (regs.ts REG, STAT)
 *     BAR1  64 B I/O        IOADDR (0) selects a BAR0 register, IODATA (4) reads/writes it;
 *                           e1000_reset_hw issues CTRL.RST through it on the 82540
 *     INTA
 *
 * What is modelled: the register file (unknown offsets read 0 and ignore writes; plain
 * registers keep their writable bits); CTRL.RST (a global reset: every MAC register to
 * its reset value, RAL0/RAH0 reloaded from the EEPROM, the PHY untouched) and
 * CTRL.PHY_RST; STATUS (link up, 1000 Mb/s, full duplex, while the PHY has link); the
 * microwire EEPROM through EECD (REQ is granted at once) and through EERD; the PHY through
 * MDIC (address 1 only, otherwise MDIC.ERROR; READY at once, MDAC if INT_EN); interrupts
 * (ICR is cleared by a read and by writing ones, ICS sets causes, IMS/IMC mask them, the
 * INTx level is ICR & IMS); link changes raise LSC; the statistics registers (clear on
 * read, 64-bit octet counters carry into their high halves); transmit (tx.ts) and
 * receive (rx.ts). DMA happens only while the function is bus master.
 *
 * Interrupt throttling: ITR is honoured when the machine gives an `InterruptTimer`
 * (a clock and a one-shot timer that fires even while the hart sleeps in WFI): the line
 * then rises at most once per ITR × 256 ns. Without one, interrupts are raised at once
 * — NAPI already masks them while Linux polls, so the rate stays bounded.
 *
 * Guest input never throws: any offset, width and value is decoded; sub-dword accesses
 * read the containing register (with its read side effects) and write by merging into
 * its current value.
 */
import type { GuestRam } from "../../mem/ram.js";
import type { DeviceState } from "../device.js";
import { PCI_CLASS, type PciBar, type PciFunction, type PciIdentity, type PciPort } from "../pci/config.js";
import type { NetBackend } from "../virtio/net/device.js";
import { isBroadcast } from "../virtio/net/mac.js";
import { forEachPlainFrame } from "../virtio/net/offload.js";
import { M88Phy, MicrowireEeprom } from "./eeprom-phy.js";
import { sizeBucket } from "./packet.js";
import {
  CTRL, CTRL_RESET, E1000_PCI, EECD, EEPROM, EERD, ETH, ICR, IOREG, MDIC, PACKET_BUFFER_KB, PHY, RAH, REG, REG_NAMES,
  REG_RESET, REG_WMASK, REG_WORDS, STAT, STATUS, TABLE, TCTL,
} from "./regs.js";
import { RX_FIFO_DEFAULT, RxEngine, type RxHost } from "./rx.js";
import { TxEngine, type TxHost } from "./tx.js";

/** A clock and one-shot timer for interrupt throttling; times in milliseconds. */
export interface InterruptTimer {
  now(): number;
  schedule(delayMs: number, fn: () => void): void;
}

export interface E1000Options {
  /** The MAC address stored in the EEPROM (6 bytes). */
  readonly mac: Uint8Array;
  readonly subsystemVendorId?: number;
  readonly subsystemId?: number;
  /** Bytes of frames the receive packet buffer holds while the ring is full (default 48 KiB; 0 = none). */
  readonly rxFifoBytes?: number;
  /** Honour ITR with this timer (see the header comment); default: interrupts at once. */
  readonly interruptTimer?: InterruptTimer;
}

export interface E1000Stats {
  /** Register accesses (exits) per register name: "TDT", "ICR", "STATUS", "IODATA", "MTA", … */
  exits: Record<string, number>;
  txFrames: number;
  txBytes: number;
  /** TSO packets cut, and the frames they became. */
  txTsoPackets: number;
  txSegments: number;
  /** Packets not sent: DMA error, oversized, malformed TSO context, link down. */
  txDropped: number;
  /** Backend exceptions on send. */
  txErrors: number;
  rxFrames: number;
  rxBytes: number;
  /** Frames lost for want of descriptors and packet-buffer room (MPC). */
  rxMissed: number;
  /** Frames that waited in the packet buffer for descriptors. */
  rxQueued: number;
  /** Frames the address or VLAN filter did not accept (not for us). */
  rxFiltered: number;
  rxOversize: number;
  rxMalformed: number;
  /** Frames arriving with the receiver disabled or the link down. */
  rxDroppedDisabled: number;
  /** Rings or buffers outside guest RAM, DMA without bus mastering. */
  dmaErrors: number;
  /** Descriptor indices beyond the ring (processing waits for a valid index). */
  ringErrors: number;
  /** Transmit descriptors of a reserved type (skipped). */
  badDescriptors: number;
  /** Rising edges of the interrupt line. */
  interrupts: number;
}

const newStats = (): E1000Stats => ({
  exits: {}, txFrames: 0, txBytes: 0, txTsoPackets: 0, txSegments: 0, txDropped: 0, txErrors: 0,
  rxFrames: 0, rxBytes: 0, rxMissed: 0, rxQueued: 0, rxFiltered: 0, rxOversize: 0, rxMalformed: 0,
  rxDroppedDisabled: 0, dmaErrors: 0, ringErrors: 0, badDescriptors: 0, interrupts: 0,
});

/** A write of `width` bytes at `offset` merged into the 32-bit register holding it (bytes past it are lost). */
function merge(cur: number, offset: number, width: 1 | 2 | 4, value: number): number {
  if (width === 4 && (offset & 3) === 0) return value >>> 0;
  const shift = (offset & 3) * 8;
  const mask = ((width === 4 ? 0xffff_ffff : width === 2 ? 0xffff : 0xff) << shift) >>> 0;
  return ((cur & ~mask) | ((value << shift) & mask)) >>> 0;
}

/** A wire frame: 1500-byte MTU, Ethernet header, one 802.1Q tag. */
const E1000_MAX_SEGMENT = 1518;

export class E1000 implements PciFunction, TxHost, RxHost {
  readonly identity: PciIdentity;
  readonly bars: readonly (PciBar | null)[] = [
    { kind: "mem32", size: E1000_PCI.BAR0_SIZE },
    { kind: "io", size: E1000_PCI.BAR1_SIZE },
  ];
  readonly stats: E1000Stats = newStats();
  readonly regs = new Uint32Array(REG_WORDS);
  readonly eeprom = new MicrowireEeprom();
  readonly phy = new M88Phy();
  readonly mac: Uint8Array;
  private readonly tx: TxEngine;
  private readonly rx: RxEngine;
  private readonly timer: InterruptTimer | null;
  private port: PciPort = { intx: { set: () => {} }, busMaster: () => true };
  private ioAddr = 0;
  private irqLevel = false;
  private linkWas = true;
  private lastAssert = -Infinity;
  private throttleArmed = false;
  /** Bumped by reset, so a throttle timer armed before it does nothing. */
  private epoch = 0;

  constructor(
    readonly ram: GuestRam,
    readonly backend: NetBackend,
    opts: E1000Options,
  ) {
    if (opts.mac.length !== 6) throw new RangeError(`e1000: MAC of ${opts.mac.length} bytes`);
    const fifo = opts.rxFifoBytes ?? RX_FIFO_DEFAULT;
    if (!Number.isInteger(fifo) || fifo < 0) throw new RangeError(`e1000: rxFifoBytes ${fifo}`);
    this.mac = opts.mac.slice();
    this.identity = {
      vendorId: E1000_PCI.VENDOR,
      deviceId: E1000_PCI.DEVICE,
      classCode: PCI_CLASS.ETHERNET,
      revision: E1000_PCI.REVISION,
      subsystemVendorId: opts.subsystemVendorId ?? E1000_PCI.SUBSYSTEM_VENDOR,
      subsystemId: opts.subsystemId ?? E1000_PCI.SUBSYSTEM,
      interruptPin: 1,
    };
    this.timer = opts.interruptTimer ?? null;
    this.eeprom.program(this.eepromImage());
    this.tx = new TxEngine(this);
    this.rx = new RxEngine(this, fifo);
    // A whole TCP packet from a pv peer (GSO): an e1000 takes wire-sized frames, so cut it.
    const segment = new Uint8Array(E1000_MAX_SEGMENT);
    backend.onReceive((frame, gso) => (gso === null ? this.rx.receive(frame) : forEachPlainFrame(frame, gso, segment, (f) => this.rx.receive(f)) > 0));
    this.macReset();
  }

  /** Frames waiting in the receive packet buffer. */
  get rxPending(): number {
    return this.rx.pending;
  }

  connect(port: PciPort): void {
    this.port = port;
    this.irqLevel = false;
    this.updateIrq();
  }

  /** Plug or unplug the virtual cable; the driver sees LSC and STATUS.LU change. */
  setLink(up: boolean): void {
    this.phy.setCable(up);
    this.checkLink();
  }

  // --- PciFunction ---------------------------------------------------------------------

  barRead(bar: number, offset: number, width: 1 | 2 | 4): number {
    const at = offset & ~3;
    let v: number;
    if (bar === 0) {
      this.exit(REG_NAMES[at >> 2]!);
      v = this.readReg(at);
    } else if (bar === 1 && at === IOREG.IOADDR) {
      this.exit("IOADDR");
      v = this.ioAddr;
    } else if (bar === 1 && at === IOREG.IODATA) {
      this.exit("IODATA");
      const reg = this.ioAddr & IOREG.ADDR_MASK;
      this.exit(REG_NAMES[reg >> 2]!);
      v = this.readReg(reg);
    } else {
      v = 0;
    }
    const shifted = v >>> ((offset & 3) * 8);
    return width === 4 ? shifted | 0 : shifted & (width === 1 ? 0xff : 0xffff);
  }

  barWrite(bar: number, offset: number, width: 1 | 2 | 4, value: number): void {
    const at = offset & ~3;
    if (bar === 0) {
      this.exit(REG_NAMES[at >> 2]!);
      this.writeReg(at, merge(this.peek(at), offset, width, value));
    } else if (bar === 1 && at === IOREG.IOADDR) {
      this.exit("IOADDR");
      this.ioAddr = merge(this.ioAddr, offset, width, value) & IOREG.ADDR_MASK;
    } else if (bar === 1 && at === IOREG.IODATA) {
      this.exit("IODATA");
      const reg = this.ioAddr & IOREG.ADDR_MASK;
      this.exit(REG_NAMES[reg >> 2]!);
      this.writeReg(reg, merge(this.peek(reg), offset, width, value));
    }
  }

  /** Power-on (PCI reset): the MAC and the PHY; the EEPROM keeps its contents. */
  reset(): void {
    this.phy.reset();
    this.macReset();
  }

  save(): DeviceState {
    const regs: Record<string, number> = {};
    for (const [name, off] of Object.entries(REG)) if (!(name in TABLE)) regs[name] = this.regs[off >> 2]!;
    for (const [name, off] of Object.entries(STAT)) {
      if (name !== "FIRST" && name !== "LAST") regs[name] = this.regs[off >> 2]!;
    }
    const table = (off: number, n: number) => Array.from(this.regs.subarray(off >> 2, (off >> 2) + n));
    return {
      regs,
      mta: table(REG.MTA, TABLE.MTA),
      ra: table(REG.RA, TABLE.RA),
      vfta: table(REG.VFTA, TABLE.VFTA),
      eeprom: Array.from(this.eeprom.words),
      phy: this.phy.save(),
      cable: this.phy.cablePresent,
      ioAddr: this.ioAddr,
      txContext: this.tx.save(),
      rxFifo: this.rx.save(),
    };
  }

  load(s: DeviceState): void {
    this.phy.load(s["phy"], s["cable"]);
    const rom = s["eeprom"];
    if (Array.isArray(rom) && rom.length === EEPROM.WORDS) {
      rom.forEach((w, i) => (this.eeprom.words[i] = Number(w) & 0xffff));
    }
    this.macReset();
    const r = this.regs;
    const u32 = (v: unknown) => (Number(v) >>> 0) || 0;
    const saved = (s["regs"] ?? {}) as Record<string, unknown>;
    // Registers with side effects keep only what a guest could have left in them.
    const special: Record<string, number> = {
      CTRL: ~CTRL.RST,
      EECD: EECD.WRITABLE & ~EECD.CS,
      EERD: 0xffff_ffff,
      MDIC: 0xffff_ffff,
      ICR: ICR.VALID,
      IMS: ICR.VALID,
    };
    for (const [name, off] of Object.entries({ ...REG, ...STAT })) {
      if (!(name in saved) || name in TABLE) continue;
      const i = off >> 2;
      const mask = special[name] ?? (name in STAT ? 0xffff_ffff : REG_WMASK[i]!);
      if (mask) r[i] = u32(saved[name]) & mask;
    }
    const tables = [["mta", REG.MTA, TABLE.MTA], ["ra", REG.RA, TABLE.RA], ["vfta", REG.VFTA, TABLE.VFTA]] as const;
    for (const [key, off, n] of tables) {
      const a = s[key];
      if (!Array.isArray(a)) continue;
      for (let i = 0; i < Math.min(n, a.length); i++) r[(off >> 2) + i] = u32(a[i]) & REG_WMASK[(off >> 2) + i]!;
    }
    this.ioAddr = u32(s["ioAddr"]) & IOREG.ADDR_MASK;
    this.tx.load(s["txContext"]);
    this.rx.load(s["rxFifo"]);
    this.linkWas = this.linkUp();
    this.irqLevel = false;
    this.port.intx.set(false);
    this.updateIrq();
  }

  // --- TxHost / RxHost -----------------------------------------------------------------

  dmaAllowed(): boolean {
    return this.port.busMaster();
  }

  linkUp(): boolean {
    return this.phy.linkUp && !(this.regs[REG.CTRL >> 2]! & CTRL.PHY_RST);
  }

  /** Latch interrupt causes in ICR. */
  raise(cause: number): void {
    if (cause === 0) return;
    this.regs[REG.ICR >> 2]! |= cause;
    this.updateIrq();
  }

  count(statReg: number, n = 1): void {
    const i = statReg >> 2;
    this.regs[i] = (this.regs[i]! + n) >>> 0;
  }

  /** Add to a 64-bit statistics pair (low register, high register at +4). */
  private count64(lowReg: number, n: number): void {
    const i = lowReg >> 2;
    const lo = this.regs[i]! + n;
    this.regs[i] = lo >>> 0;
    this.regs[i + 1] = (this.regs[i + 1]! + Math.floor(lo / 0x1_0000_0000)) >>> 0;
  }

  transmit(frame: Uint8Array): void {
    const s = this.stats;
    if (!this.linkUp()) {
      s.txDropped++;
      return;
    }
    try {
      this.backend.send(frame);
    } catch {
      s.txErrors++;
      return;
    }
    s.txFrames++;
    s.txBytes += frame.length;
    this.countFrame(false, frame, frame.length + ETH.FCS);
  }

  /** The statistics registers a good frame counts in, either way; `wire` bytes include the FCS. */
  countFrame(rx: boolean, frame: Uint8Array, wire: number): void {
    this.count(rx ? STAT.GPRC : STAT.GPTC);
    this.count(rx ? STAT.TPR : STAT.TPT);
    this.count64(rx ? STAT.GORCL : STAT.GOTCL, wire);
    this.count64(rx ? STAT.TORL : STAT.TOTL, wire);
    this.count((rx ? STAT.PRC64 : STAT.PTC64) + 4 * sizeBucket(wire));
    if (!(frame[0]! & 1)) return;
    if (isBroadcast(frame)) this.count(rx ? STAT.BPRC : STAT.BPTC);
    else this.count(rx ? STAT.MPRC : STAT.MPTC);
  }

  // --- registers -----------------------------------------------------------------------

  private exit(name: string): void {
    this.stats.exits[name] = (this.stats.exits[name] ?? 0) + 1;
  }

  private readReg(at: number): number {
    const r = this.regs;
    const i = at >> 2;
    switch (at) {
      case REG.CTRL:
      case REG.EERD:
      case REG.MDIC:
      case REG.IMS:
        return r[i]!;
      case REG.STATUS:
        return this.linkUp() ? STATUS.FD | STATUS.LU | STATUS.SPEED_1000 : STATUS.FD;
      case REG.EECD: {
        const v = r[i]!;
        const granted = (v & EECD.REQ) !== 0;
        return v | EECD.PRES | (granted ? EECD.GNT : 0) | (granted && this.eeprom.dataOut ? EECD.DO : 0);
      }
      case REG.ICR: {
        const v = r[i]!;
        r[i] = 0;
        this.updateIrq();
        return v;
      }
      case REG.PBA: {
        const rx = r[i]! & 0xffff;
        return ((Math.max(0, PACKET_BUFFER_KB - rx) << 16) | rx) >>> 0;
      }
    }
    if (at >= STAT.FIRST && at <= STAT.LAST) {
      const v = r[i]!;
      r[i] = 0;
      return v;
    }
    return REG_WMASK[i] ? r[i]! : 0;
  }

  /** A register's value for merging a partial write into: 0 for the write-only and clear-on-write ones. */
  private peek(at: number): number {
    if (at === REG.ICR || at === REG.ICS || at === REG.IMC) return 0;
    return this.regs[at >> 2]!;
  }

  private writeReg(at: number, v: number): void {
    const r = this.regs;
    const i = at >> 2;
    switch (at) {
      case REG.CTRL:
        this.writeCtrl(v);
        return;
      case REG.EECD:
        r[i] = v & EECD.WRITABLE;
        this.eeprom.drive((v & EECD.REQ) !== 0 && (v & EECD.CS) !== 0, (v & EECD.SK) !== 0, (v & EECD.DI) !== 0);
        return;
      case REG.EERD:
        this.writeEerd(v);
        return;
      case REG.MDIC:
        this.writeMdic(v);
        return;
      case REG.ICR:
        r[i] = r[i]! & ~v;
        this.updateIrq();
        return;
      case REG.ICS:
        this.raise(v & ICR.VALID);
        return;
      case REG.IMS:
        r[i] = (r[i]! | v) & ICR.VALID;
        this.updateIrq();
        return;
      case REG.IMC:
        r[REG.IMS >> 2] = r[REG.IMS >> 2]! & ~v;
        this.updateIrq();
        return;
    }
    const mask = REG_WMASK[i]!;
    if (!mask) return;
    r[i] = v & mask;
    switch (at) {
      case REG.TDT:
      case REG.TCTL:
        if (r[REG.TCTL >> 2]! & TCTL.EN) this.tx.process();
        return;
      case REG.RDT:
      case REG.RCTL:
        this.rx.drain();
        return;
    }
  }

  private writeCtrl(v: number): void {
    if (v & CTRL.RST) {
      this.macReset();
      return;
    }
    const r = this.regs;
    const wasPhyReset = (r[REG.CTRL >> 2]! & CTRL.PHY_RST) !== 0;
    r[REG.CTRL >> 2] = v >>> 0;
    // The PHY leaves hardware reset with its power-on configuration.
    if (wasPhyReset && !(v & CTRL.PHY_RST)) this.phy.reset();
    this.checkLink();
  }

  private writeEerd(v: number): void {
    if (!(v & EERD.START)) {
      this.regs[REG.EERD >> 2] = v & ~EERD.DONE & ~EERD.START;
      return;
    }
    const addr = (v >>> EERD.ADDR_SHIFT) & 0xff;
    const data = addr < EEPROM.WORDS ? this.eeprom.words[addr]! : 0;
    this.regs[REG.EERD >> 2] = ((data << EERD.DATA_SHIFT) | (addr << EERD.ADDR_SHIFT) | EERD.DONE) >>> 0;
  }

  private writeMdic(v: number): void {
    const phyAddr = (v >>> MDIC.PHY_SHIFT) & 31;
    const reg = (v >>> MDIC.REG_SHIFT) & 31;
    let out = v & ~(MDIC.READY | MDIC.ERROR);
    if (phyAddr !== PHY.ADDRESS) {
      out |= MDIC.ERROR;
    } else if (v & MDIC.OP_READ) {
      out = (out & ~MDIC.DATA_MASK) | this.phy.read(reg);
    } else if (v & MDIC.OP_WRITE) {
      this.phy.write(reg, v & MDIC.DATA_MASK);
      this.checkLink();
    }
    this.regs[REG.MDIC >> 2] = (out | MDIC.READY) >>> 0;
    if (v & MDIC.INT_EN) this.raise(ICR.MDAC);
  }

  /** Global reset (CTRL.RST, and power-on): MAC registers to reset values, DMA state and packet buffer emptied. */
  private macReset(): void {
    const r = this.regs;
    r.set(REG_RESET);
    r[REG.CTRL >> 2] = CTRL_RESET;
    // The chip loads its station address from the EEPROM into RAL0/RAH0.
    const w = this.eeprom.words;
    r[REG.RA >> 2] = (w[0]! | (w[1]! << 16)) >>> 0;
    r[(REG.RA >> 2) + 1] = (w[2]! | RAH.AV) >>> 0;
    this.eeprom.resetPins();
    this.tx.reset();
    this.rx.reset();
    this.ioAddr = 0;
    this.epoch++;
    this.throttleArmed = false;
    this.lastAssert = -Infinity;
    this.linkWas = this.linkUp();
    this.updateIrq();
  }

  private checkLink(): void {
    const up = this.linkUp();
    if (up === this.linkWas) return;
    this.linkWas = up;
    this.raise(ICR.LSC);
    if (up) this.rx.drain();
  }

  private updateIrq(): void {
    const r = this.regs;
    const want = (r[REG.ICR >> 2]! & r[REG.IMS >> 2]!) !== 0;
    if (!want) {
      if (this.irqLevel) {
        this.irqLevel = false;
        this.port.intx.set(false);
      }
      return;
    }
    if (this.irqLevel) return;
    const itr = r[REG.ITR >> 2]! & 0xffff;
    const t = this.timer;
    if (t && itr !== 0) {
      const now = t.now();
      const due = this.lastAssert + (itr * 256) / 1e6;
      if (now < due) {
        if (!this.throttleArmed) {
          this.throttleArmed = true;
          const epoch = this.epoch;
          t.schedule(due - now, () => {
            if (epoch !== this.epoch) return;
            this.throttleArmed = false;
            this.updateIrq();
          });
        }
        return;
      }
      this.lastAssert = now;
    }
    this.irqLevel = true;
    this.stats.interrupts++;
    this.port.intx.set(true);
  }

  /** The EEPROM contents: MAC, PCI ids; init words 0 (no flow control, no wake-on-LAN). */
  private eepromImage(): number[] {
    const img = new Array<number>(EEPROM.WORDS).fill(0);
    const m = this.mac;
    for (let i = 0; i < 3; i++) img[EEPROM.MAC + i] = m[2 * i]! | (m[2 * i + 1]! << 8);
    img[EEPROM.SUBSYSTEM_ID] = this.identity.subsystemId;
    img[EEPROM.SUBSYSTEM_VENDOR] = this.identity.subsystemVendorId;
    img[EEPROM.DEVICE_ID] = this.identity.deviceId;
    img[EEPROM.VENDOR_ID] = this.identity.vendorId;
    return img;
  }
}
