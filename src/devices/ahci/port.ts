/**
 * One AHCI port with a SATA disk on it (AHCI 1.3.1 §3.3 registers, §5 operation).
 *
 * Software builds a command list (32 headers of 32 bytes at PxCLB), a command table per
 * command (the Register H2D FIS at +0, the PRDT at +0x80) and a 256-byte received-FIS
 * area (PxFB), then sets a bit in PxCI. The port runs the command at once, inside that
 * register write: it reads the header and FIS, walks the PRDT, lets the disk move data
 * straight between the backend and guest RAM, writes the byte count back into the
 * header (PRDBC), posts the device's answer into the FIS area (a PIO Setup FIS after PIO
 * data-in, a D2H Register FIS otherwise), updates PxTFD, clears the CI bit and raises
 * PxIS.DHRS/PSS. So by the time the guest reads PxCI the command is done, and one
 * interrupt announces it.
 *
 * The guest is hostile; what it gets wrong is reported as the hardware would, never by
 * throwing and never by touching memory outside guest RAM:
 * - a command list, command table, PRD or FIS area outside RAM, or any DMA while the
 *   PCI Bus Master Enable bit is clear: PxIS.HBFS (host bus fatal error), the command
 *   stays in PxCI and the port stops issuing until software restarts it (ST 1→0→1);
 * - a PRDT shorter than the transfer (zero-length included): the data it covers moves,
 *   then PxIS.OFS with the device's ABRT (PxIS.TFES), so libata sees an error at once
 *   rather than a command that never ends;
 * - a device error (out-of-range LBA, unknown command, read-only disk): status ERR,
 *   PxIS.TFES, the port stops as above (AHCI §6.1.2);
 * - PxCI written while ST is clear, or while the port is stopped after an error, or
 *   while the device is busy (SRST held, link down): the command waits, as it would on
 *   hardware (the bits stay set until the port can issue them, or ST is cleared).
 * PRDTL is 16 bits, so a PRDT has at most 65535 entries and no walk can loop.
 */
import type { GuestRam } from "../../mem/ram.js";
import { ATA_STATUS, Protocol, type SataDisk, type SgList, type TaskFile } from "./disk.js";
import {
  AHCI,
  ALIGN_MASK,
  ATA_SIGNATURE,
  CMD_HDR,
  FIS_FLAG,
  FIS_TYPE,
  H2D,
  PORT_REG,
  PRD,
  PXCMD,
  PXIS,
  RX_FIS,
  SCTL,
  SSTS,
  TFD_NO_DEVICE,
} from "./regs.js";

export interface PortStats {
  /** Commands the port issued to the disk (control FISes included). */
  commands: number;
  /** Bytes DMA'd into guest memory (disk reads, IDENTIFY) and out of it (disk writes). */
  dmaBytesToGuest: number;
  dmaBytesFromGuest: number;
  /** Host bus fatal errors: pointers outside RAM, DMA without bus mastering. */
  busErrors: number;
  /** Commands that ended with a task-file error (device ERR) or an overflow. */
  taskFileErrors: number;
  /** Link resets (COMRESET through PxSCTL, HBA resets). */
  linkResets: number;
}

/** What the port needs from its HBA. */
export interface PortHost {
  readonly ram: GuestRam;
  /** PCI Bus Master Enable: no DMA while it is clear. */
  dmaAllowed(): boolean;
  /** PxIS or PxIE changed: recompute the HBA's interrupt. */
  portIrqChanged(): void;
}

const OK_STATUS = ATA_STATUS.DRDY | ATA_STATUS.DSC;
/** What running one slot did: completed it, left it for later (device busy), or stopped the port. */
const RUN = { DONE: 0, WAIT: 1, STOPPED: 2 } as const;
type Run = (typeof RUN)[keyof typeof RUN];
const TWO32 = 0x1_0000_0000;

export class AhciPort implements SgList {
  readonly stats: PortStats = { commands: 0, dmaBytesToGuest: 0, dmaBytesFromGuest: 0, busErrors: 0, taskFileErrors: 0, linkResets: 0 };
  clb = 0;
  clbu = 0;
  fb = 0;
  fbu = 0;
  is = 0;
  ie = 0;
  cmd = 0;
  /** PxTFD: status in bits 7:0, error in 15:8. */
  tfd = TFD_NO_DEVICE;
  sig = 0xffff_ffff;
  ssts = 0;
  sctl = 0;
  serr = 0;
  ci = 0;
  /** Stopped after a fatal or task-file error until ST is cleared (AHCI §6.1.2). */
  halted = false;
  /** SRST held by a control FIS: the device is busy until it is released. */
  private srst = false;

  // The current command's scatter/gather list (byte offsets into guest RAM).
  private readonly segOff: number[] = [];
  private readonly segLen: number[] = [];
  private sgBytes = 0;
  private sgInterrupt = false;
  private readonly dv: DataView;
  private readonly tf: TaskFile = { command: 0, features: 0, lba: 0, count: 0, device: 0 };

  constructor(
    private readonly host: PortHost,
    readonly disk: SataDisk,
  ) {
    this.dv = new DataView(host.ram.sab);
    this.reset();
  }

  get bytes(): number {
    return this.sgBytes;
  }

  /** Power-on / HBA reset: registers to their defaults (PxCLB/PxFB are kept, §10.4.3), then a COMRESET brings the disk up. */
  reset(): void {
    this.is = 0;
    this.ie = 0;
    this.cmd = PXCMD.SUD | PXCMD.POD;
    this.sctl = 0;
    this.serr = 0;
    this.ci = 0;
    this.halted = false;
    this.srst = false;
    this.disk.reset();
    this.linkUp();
  }

  read(reg: number): number {
    switch (reg) {
      case PORT_REG.CLB:
        return this.clb;
      case PORT_REG.CLBU:
        return this.clbu;
      case PORT_REG.FB:
        return this.fb;
      case PORT_REG.FBU:
        return this.fbu;
      case PORT_REG.IS:
        return this.is;
      case PORT_REG.IE:
        return this.ie;
      case PORT_REG.CMD:
        return this.cmd;
      case PORT_REG.TFD:
        return this.tfd;
      case PORT_REG.SIG:
        return this.sig;
      case PORT_REG.SSTS:
        return this.ssts;
      case PORT_REG.SCTL:
        return this.sctl;
      case PORT_REG.SERR:
        return this.serr;
      case PORT_REG.CI:
        return this.ci;
      default:
        return 0; // SACT (no NCQ), SNTF, FBS, DEVSLP, reserved
    }
  }

  write(reg: number, v: number): void {
    switch (reg) {
      case PORT_REG.CLB:
        this.clb = (v & ~ALIGN_MASK.CLB) >>> 0;
        return;
      case PORT_REG.CLBU:
        this.clbu = v >>> 0;
        return;
      case PORT_REG.FB:
        this.fb = (v & ~ALIGN_MASK.FB) >>> 0;
        return;
      case PORT_REG.FBU:
        this.fbu = v >>> 0;
        return;
      case PORT_REG.IS:
        this.is = (this.is & ~v) >>> 0;
        this.host.portIrqChanged();
        return;
      case PORT_REG.IE:
        this.ie = (v & PXIS.IMPLEMENTED) >>> 0;
        this.host.portIrqChanged();
        return;
      case PORT_REG.CMD:
        this.writeCmd(v);
        return;
      case PORT_REG.SCTL:
        this.writeSctl(v);
        return;
      case PORT_REG.SERR:
        this.serr = (this.serr & ~v) >>> 0;
        return;
      case PORT_REG.CI:
        // Software may only set bits, and only while the port runs (§3.3.14).
        if ((this.cmd & PXCMD.ST) === 0) return;
        this.ci = (this.ci | v) >>> 0;
        this.issue();
        return;
      default:
        return; // read-only, SACT without NCQ, reserved
    }
  }

  private writeCmd(v: number): void {
    const old = this.cmd;
    let cmd = ((old & ~PXCMD.WRITABLE) | (v & PXCMD.WRITABLE)) >>> 0;
    // ICC requests complete at once (the link is always active) and read back as 0.
    cmd &= ~PXCMD.ICC_MASK;
    if (cmd & PXCMD.CLO) {
      this.tfd &= ~(ATA_STATUS.BSY | ATA_STATUS.DRQ);
      cmd &= ~PXCMD.CLO;
    }
    cmd = cmd & PXCMD.FRE ? cmd | PXCMD.FR : cmd & ~PXCMD.FR;
    if (cmd & PXCMD.ST) {
      cmd |= PXCMD.CR;
    } else {
      // Clearing ST stops the list: issued commands are dropped and the error stop ends (§3.3.7, §3.3.14).
      cmd &= ~(PXCMD.CR | (0x1f << PXCMD.CCS_SHIFT));
      this.ci = 0;
      this.halted = false;
    }
    this.cmd = cmd >>> 0;
    if ((old & PXCMD.ST) === 0 && cmd & PXCMD.ST) this.issue();
  }

  private writeSctl(v: number): void {
    const oldDet = this.sctl & SCTL.DET_MASK;
    this.sctl = v & 0xfff;
    const det = v & SCTL.DET_MASK;
    if (det === SCTL.DET_COMRESET || det === SCTL.DET_OFFLINE) {
      // COMRESET held (or phy off): no link, no device answer yet.
      this.ssts = det === SCTL.DET_OFFLINE ? SCTL.DET_OFFLINE : 0;
      this.tfd = TFD_NO_DEVICE | ATA_STATUS.BSY;
    } else if (det === 0 && oldDet !== 0) {
      this.linkUp();
    }
  }

  /** COMRESET done: the link comes up and the disk sends its signature in a D2H FIS. */
  private linkUp(): void {
    this.stats.linkResets++;
    this.srst = false;
    this.ssts = SSTS.DET_PRESENT | SSTS.SPD_GEN1 | SSTS.IPM_ACTIVE;
    this.signature();
  }

  private get linkReady(): boolean {
    return (this.ssts & SSTS.DET_MASK) === SSTS.DET_PRESENT;
  }

  /** The disk's reset answer: PxSIG, status DRDY, error 1 (diagnostics passed), a D2H FIS with the signature. */
  private signature(): void {
    this.sig = ATA_SIGNATURE;
    const tf = this.tf;
    tf.count = ATA_SIGNATURE & 0xff;
    tf.lba = ATA_SIGNATURE >>> 8;
    tf.device = 0;
    this.tfd = OK_STATUS | (0x01 << 8);
    this.postD2H(OK_STATUS, 0x01, false);
    this.is |= PXIS.DHRS;
    this.host.portIrqChanged();
  }

  // --- command processing ----------------------------------------------------------

  /**
   * Run every issued command the port may run now, lowest slot first. A command FIS that
   * must wait for the device (SRST held) is passed over, so the control FIS that releases
   * it can still go; an error stops the port.
   */
  private issue(): void {
    let progress = true;
    while (progress && this.ci !== 0 && (this.cmd & PXCMD.ST) !== 0 && !this.halted && this.linkReady) {
      progress = false;
      for (let slot = 0; slot < AHCI.SLOTS && !this.halted; slot++) {
        const bit = (1 << slot) >>> 0;
        if ((this.ci & bit) === 0) continue;
        this.cmd = ((this.cmd & ~(0x1f << PXCMD.CCS_SHIFT)) | (slot << PXCMD.CCS_SHIFT)) >>> 0;
        if (this.runSlot(slot) === RUN.DONE) progress = true;
      }
    }
    this.host.portIrqChanged();
  }

  private fatal(): Run {
    this.stats.busErrors++;
    this.is |= PXIS.HBFS;
    this.halted = true;
    return RUN.STOPPED;
  }

  /** Guest address → RAM offset, or -1 when [addr, addr + len) is not all RAM. */
  private ramOffset(addr: number, len: number): number {
    const ram = this.host.ram;
    return ram.contains(addr, len) ? addr - ram.base : -1;
  }

  /** Runs the command in `slot`; unless DONE its CI bit stays set. */
  private runSlot(slot: number): Run {
    const host = this.host;
    if (!host.dmaAllowed()) return this.fatal();
    const hdr = this.ramOffset(this.clbu * TWO32 + this.clb + slot * AHCI.CMD_HEADER_SIZE, AHCI.CMD_HEADER_SIZE);
    if (hdr < 0) return this.fatal();
    const dv = this.dv;
    const dw0 = dv.getUint32(hdr, true);
    const prdtl = dw0 >>> CMD_HDR.PRDTL_SHIFT;
    // The command table is 128-byte aligned: the low 7 bits of CTBA are reserved.
    const ctba = dv.getUint32(hdr + CMD_HDR.CTBAU, true) * TWO32 + ((dv.getUint32(hdr + CMD_HDR.CTBA, true) & ~ALIGN_MASK.CTBA) >>> 0);
    const table = this.ramOffset(ctba, AHCI.CMD_TABLE_PRDT + prdtl * AHCI.PRD_SIZE);
    if (table < 0) return this.fatal();
    const u8 = host.ram.u8;
    const bit = (1 << slot) >>> 0;
    this.stats.commands++;
    if (u8[table + H2D.TYPE] !== FIS_TYPE.REG_H2D) {
      // Not a command FIS: the device rejects it.
      return this.finishError(ATA_STATUS.ERR | OK_STATUS, 0x04, false);
    }
    if ((u8[table + H2D.FLAGS]! & H2D.FLAG_COMMAND) === 0) return this.control(table, hdr, bit);
    if (this.srst || this.tfd & (ATA_STATUS.BSY | ATA_STATUS.DRQ)) return RUN.WAIT;
    const tf = this.tf;
    tf.command = u8[table + H2D.COMMAND]!;
    tf.features = u8[table + H2D.FEATURES]! | (u8[table + H2D.FEATURES_EXP]! << 8);
    tf.device = u8[table + H2D.DEVICE]!;
    tf.count = u8[table + H2D.COUNT]! | (u8[table + H2D.COUNT_EXP]! << 8);
    tf.lba =
      (u8[table + H2D.LBA0]! | (u8[table + H2D.LBA1]! << 8) | (u8[table + H2D.LBA2]! << 16)) +
      (u8[table + H2D.LBA3]! | (u8[table + H2D.LBA4]! << 8) | (u8[table + H2D.LBA5]! << 16)) * 0x100_0000;
    if (!this.buildSg(table + AHCI.CMD_TABLE_PRDT, prdtl)) return this.fatal();
    const o = this.disk.execute(tf, this);
    dv.setUint32(hdr + CMD_HDR.PRDBC, o.bytes, true);
    host.ram.markDirty(hdr + CMD_HDR.PRDBC, 4);
    // Data in: every segment is logged, since a read that failed part-way filled some of them.
    if (o.protocol === Protocol.PioIn || o.protocol === Protocol.DmaIn) this.markSg();
    if (o.protocol === Protocol.PioIn || o.protocol === Protocol.DmaIn) this.stats.dmaBytesToGuest += o.bytes;
    else this.stats.dmaBytesFromGuest += o.bytes;
    if (this.sgInterrupt && o.bytes > 0) this.is |= PXIS.DPS;
    if (o.overflow) this.is |= PXIS.OFS;
    if (o.status & ATA_STATUS.ERR) return this.finishError(o.status, o.error, o.protocol === Protocol.PioIn);
    this.tfd = o.status | (o.error << 8);
    if (o.protocol === Protocol.PioIn) {
      // PIO data-in ends with the PIO Setup FIS's ending status; no D2H FIS follows (SATA §11.7).
      if (!this.postPioSetup(o.status, o.error, o.bytes)) return this.fatal();
      this.is |= PXIS.PSS;
    } else {
      if (!this.postD2H(o.status, o.error, true)) return this.fatal();
      this.is |= PXIS.DHRS;
    }
    this.ci = (this.ci & ~bit) >>> 0;
    return RUN.DONE;
  }

  /** A device-control FIS (C = 0): SRST set holds the device in reset; clearing it makes it send its signature. */
  private control(table: number, hdr: number, bit: number): Run {
    const srst = (this.host.ram.u8[table + H2D.CONTROL]! & H2D.CONTROL_SRST) !== 0;
    this.dv.setUint32(hdr + CMD_HDR.PRDBC, 0, true);
    this.host.ram.markDirty(hdr + CMD_HDR.PRDBC, 4);
    this.ci = (this.ci & ~bit) >>> 0;
    if (srst) {
      this.srst = true;
      this.tfd = (this.tfd & ~0xff) | ATA_STATUS.BSY;
    } else if (this.srst) {
      this.srst = false;
      this.disk.reset();
      this.signature();
    }
    return RUN.DONE;
  }

  private finishError(status: number, error: number, pioIn: boolean): Run {
    this.stats.taskFileErrors++;
    this.tfd = (status & 0xff) | (error << 8);
    // The failed command stays in PxCI; the port stops until software clears ST (§6.1.2).
    if (pioIn ? !this.postPioSetup(status, error, 0) : !this.postD2H(status, error, true)) return this.fatal();
    this.is |= PXIS.TFES | (pioIn ? PXIS.PSS : PXIS.DHRS);
    this.halted = true;
    return RUN.STOPPED;
  }

  /** Walks `count` PRDs at RAM offset `prdt`, keeping segments until they cover the largest transfer; false when one is outside RAM. */
  private buildSg(prdt: number, count: number): boolean {
    const dv = this.dv;
    this.segOff.length = 0;
    this.segLen.length = 0;
    this.sgBytes = 0;
    this.sgInterrupt = false;
    // No ATA command moves more than 65536 sectors: PRDs beyond that are never read.
    const limit = 0x1_0000 * 512;
    for (let i = 0; i < count && this.sgBytes < limit; i++) {
      const e = prdt + i * AHCI.PRD_SIZE;
      const dba = dv.getUint32(e + PRD.DBAU, true) * TWO32 + ((dv.getUint32(e + PRD.DBA, true) & ~ALIGN_MASK.DBA) >>> 0);
      const dw3 = dv.getUint32(e + PRD.DW3, true);
      // DBC is the byte count − 1 and bit 0 must be 1: lengths are even (§4.2.3.3).
      const len = ((dw3 & AHCI.PRD_DBC_MASK) | 1) + 1;
      const off = this.ramOffset(dba, len);
      if (off < 0) return false;
      this.segOff.push(off);
      this.segLen.push(len);
      this.sgBytes += len;
      if (dw3 & PRD.INTERRUPT) this.sgInterrupt = true;
    }
    return true;
  }

  /** Log the command's data segments as written (GuestRam.markDirty). */
  private markSg(): void {
    const ram = this.host.ram;
    for (let i = 0; i < this.segOff.length; i++) ram.markDirty(this.segOff[i]!, this.segLen[i]!);
  }

  /** SgList: the disk's view of this command's PRDT. */
  forEach(len: number, fn: (view: Uint8Array, done: number) => void): number {
    const u8 = this.host.ram.u8;
    let done = 0;
    for (let i = 0; i < this.segOff.length && done < len; i++) {
      const n = Math.min(this.segLen[i]!, len - done);
      const off = this.segOff[i]!;
      fn(u8.subarray(off, off + n), done);
      done += n;
    }
    return done;
  }

  // --- received FISes ----------------------------------------------------------------

  /** The FIS area's RAM offset, -1 when it is outside RAM, or null when FIS receive is off (nothing is stored). */
  private fisArea(): number | null {
    if ((this.cmd & PXCMD.FRE) === 0) return null;
    if (!this.host.dmaAllowed()) return -1;
    return this.ramOffset(this.fbu * TWO32 + this.fb, AHCI.RX_FIS_SIZE);
  }

  /** Stores a D2H Register FIS with the task file's LBA/count; false on a bus error. */
  private postD2H(status: number, error: number, interrupt: boolean): boolean {
    const area = this.fisArea();
    if (area === null) return true;
    if (area < 0) return false;
    const u8 = this.host.ram.u8;
    const f = area + RX_FIS.D2H_REG;
    u8.fill(0, f, f + RX_FIS.REG_FIS_SIZE);
    u8[f] = FIS_TYPE.REG_D2H;
    u8[f + H2D.FLAGS] = interrupt ? FIS_FLAG.INTERRUPT : 0;
    u8[f + RX_FIS.STATUS] = status;
    u8[f + RX_FIS.ERROR] = error;
    this.putTaskFile(u8, f);
    this.host.ram.markDirty(f, RX_FIS.REG_FIS_SIZE);
    return true;
  }

  /** Stores a PIO Setup FIS (device to host): initial status DRQ, ending status `status`, transfer count. */
  private postPioSetup(status: number, error: number, bytes: number): boolean {
    const area = this.fisArea();
    if (area === null) return true;
    if (area < 0) return false;
    const u8 = this.host.ram.u8;
    const f = area + RX_FIS.PIO_SETUP;
    u8.fill(0, f, f + RX_FIS.REG_FIS_SIZE);
    u8[f] = FIS_TYPE.PIO_SETUP;
    u8[f + H2D.FLAGS] = FIS_FLAG.INTERRUPT | FIS_FLAG.TO_HOST;
    u8[f + RX_FIS.STATUS] = (status & ~ATA_STATUS.ERR) | ATA_STATUS.DRQ;
    u8[f + RX_FIS.ERROR] = error;
    this.putTaskFile(u8, f);
    u8[f + RX_FIS.PIO_E_STATUS] = status;
    u8[f + RX_FIS.PIO_COUNT] = bytes & 0xff;
    u8[f + RX_FIS.PIO_COUNT + 1] = (bytes >>> 8) & 0xff;
    this.host.ram.markDirty(f, RX_FIS.REG_FIS_SIZE);
    return true;
  }

  /** LBA, device and count: at the same byte offsets in D2H Register, PIO Setup and H2D FISes. */
  private putTaskFile(u8: Uint8Array, f: number): void {
    const tf = this.tf;
    const lo = tf.lba % 0x100_0000;
    const hi = Math.floor(tf.lba / 0x100_0000);
    u8[f + H2D.LBA0] = lo & 0xff;
    u8[f + H2D.LBA1] = (lo >>> 8) & 0xff;
    u8[f + H2D.LBA2] = (lo >>> 16) & 0xff;
    u8[f + H2D.DEVICE] = tf.device;
    u8[f + H2D.LBA3] = hi & 0xff;
    u8[f + H2D.LBA4] = (hi >>> 8) & 0xff;
    u8[f + H2D.LBA5] = (hi >>> 16) & 0xff;
    u8[f + H2D.COUNT] = tf.count & 0xff;
    u8[f + H2D.COUNT_EXP] = (tf.count >>> 8) & 0xff;
  }
}
