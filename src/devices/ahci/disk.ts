/**
 * The SATA disk behind an AHCI port: it executes the ATA command in a Register H2D FIS
 * (ATA/ATAPI-8 ACS command set) against a `BlockBackend`, moving data through the
 * port's scatter/gather list. It knows nothing about registers or FIS layouts; the port
 * (port.ts) parses the FIS into a `TaskFile` and turns the `Outcome` into FISes.
 *
 * Data commands name a sector range; the port has already checked that its PRDT points
 * into guest RAM, so the disk moves bytes straight between the backend and guest memory
 * (no bounce buffer). A PRDT shorter than the transfer moves what it covers and fails
 * the command with ABRT (the port reports it as an overflow).
 */
import type { BlockBackend } from "../virtio/blk/device.js";
import { ATA_ERROR, ATA_STATUS } from "../ata/taskfile.js";

export { ATA_ERROR, ATA_STATUS };
import { identifyBytes, identifyCommon, putCurrentChs } from "../ata/identify.js";

export const DISK = {
  SECTOR: 512,
  /** CHS geometry reported in IDENTIFY words 1, 3, 6 (ATA-8 keeps them for old software). */
  HEADS: 16,
  SPT: 63,
  /** READ LOG EXT: the General Purpose Log directory (log 0) is the only log we have. */
  LOG_DIRECTORY: 0x00,
  LOG_VERSION: 0x0001,
} as const;

/** The ATA commands this disk implements (everything else aborts). */
export const ATA_CMD = {
  RECALIBRATE: 0x10,
  READ_SECTORS: 0x20,
  READ_SECTORS_EXT: 0x24,
  READ_DMA_EXT: 0x25,
  READ_LOG_EXT: 0x2f,
  WRITE_SECTORS: 0x30,
  WRITE_SECTORS_EXT: 0x34,
  WRITE_DMA_EXT: 0x35,
  READ_VERIFY: 0x40,
  READ_VERIFY_EXT: 0x42,
  EXECUTE_DEVICE_DIAGNOSTIC: 0x90,
  INITIALIZE_DEVICE_PARAMETERS: 0x91,
  READ_DMA: 0xc8,
  WRITE_DMA: 0xca,
  STANDBY_IMMEDIATE: 0xe0,
  IDLE_IMMEDIATE: 0xe1,
  CHECK_POWER_MODE: 0xe5,
  FLUSH_CACHE: 0xe7,
  FLUSH_CACHE_EXT: 0xea,
  IDENTIFY_DEVICE: 0xec,
  SET_FEATURES: 0xef,
} as const;

/** SET FEATURES subcommands (features register). */
export const SETFEATURES = {
  XFER_MODE: 0x03,
  /** Count register values for XFER_MODE: mode class in bits 7:3, mode in 2:0. */
  XFER_PIO_FLOW: 0x08,
  XFER_MWDMA: 0x20,
  XFER_UDMA: 0x40,
} as const;

export const ATA_DEVICE = {
  LBA: 0x40,
} as const;

/** The command part of a Register H2D FIS. */
export interface TaskFile {
  command: number;
  features: number;
  /** 48-bit LBA (bits 0-27 only for 28-bit commands, with bits 24-27 from `device`). */
  lba: number;
  /** 16-bit sector count (8 bits for 28-bit commands). */
  count: number;
  device: number;
}

/** How data moves: the port's PRDT, already checked to lie in guest RAM. */
export interface SgList {
  /** Bytes the PRDT describes (never more than a command asked for). */
  readonly bytes: number;
  /** Visit each guest-memory segment in order, covering at most `len` bytes; `fn` gets a view of guest RAM. */
  forEach(len: number, fn: (view: Uint8Array, done: number) => void): number;
}

/** How a command's data moves; the port picks the FIS it answers with from this. */
export const Protocol = {
  NonData: 0,
  PioIn: 1,
  PioOut: 2,
  DmaIn: 3,
  DmaOut: 4,
} as const;
export type Protocol = (typeof Protocol)[keyof typeof Protocol];

export interface Outcome {
  status: number;
  error: number;
  protocol: Protocol;
  /** Bytes moved to or from guest memory. */
  bytes: number;
  /** The PRDT ran out before the transfer did. */
  overflow: boolean;
}

export interface DiskStats {
  commands: number;
  sectorsRead: number;
  sectorsWritten: number;
  flushes: number;
  /** Commands that ended with ERR (aborted, out of range, backend failure). */
  errors: number;
}

const OK_STATUS = ATA_STATUS.DRDY | ATA_STATUS.DSC;

export class SataDisk {
  readonly stats: DiskStats = { commands: 0, sectorsRead: 0, sectorsWritten: 0, flushes: 0, errors: 0 };
  /** Transfer mode chosen with SET FEATURES (reported in IDENTIFY words 63 and 88): -1 none. */
  udmaMode = -1;
  mwdmaMode = -1;
  private readonly serial: string;
  private readonly outcome: Outcome = { status: OK_STATUS, error: 0, protocol: Protocol.NonData, bytes: 0, overflow: false };
  private readonly sectorBuf = new Uint8Array(DISK.SECTOR);

  constructor(
    readonly backend: BlockBackend,
    serial = "PARAVM0001",
  ) {
    this.serial = serial.slice(0, 20);
  }

  reset(): void {
    this.udmaMode = -1;
    this.mwdmaMode = -1;
  }

  /** Run `tf`; the returned object is reused by the next call. */
  execute(tf: TaskFile, sg: SgList): Outcome {
    this.stats.commands++;
    const o = this.outcome;
    o.status = OK_STATUS;
    o.error = 0;
    o.protocol = Protocol.NonData;
    o.bytes = 0;
    o.overflow = false;
    const C = ATA_CMD;
    switch (tf.command) {
      case C.READ_DMA:
      case C.READ_DMA_EXT:
        return this.read(tf, sg, tf.command === C.READ_DMA_EXT, Protocol.DmaIn);
      case C.READ_SECTORS:
      case C.READ_SECTORS_EXT:
        return this.read(tf, sg, tf.command === C.READ_SECTORS_EXT, Protocol.PioIn);
      case C.WRITE_DMA:
      case C.WRITE_DMA_EXT:
        return this.write(tf, sg, tf.command === C.WRITE_DMA_EXT, Protocol.DmaOut);
      case C.WRITE_SECTORS:
      case C.WRITE_SECTORS_EXT:
        return this.write(tf, sg, tf.command === C.WRITE_SECTORS_EXT, Protocol.PioOut);
      case C.IDENTIFY_DEVICE:
        return this.dataIn(sg, this.identifyData());
      case C.READ_LOG_EXT:
        return this.readLog(tf, sg);
      case C.READ_VERIFY:
      case C.READ_VERIFY_EXT:
        return this.range(tf, tf.command === C.READ_VERIFY_EXT) < 0 ? this.fail(ATA_ERROR.IDNF) : o;
      case C.FLUSH_CACHE:
      case C.FLUSH_CACHE_EXT:
        try {
          this.backend.flush();
        } catch {
          return this.fail(ATA_ERROR.ABRT);
        }
        this.stats.flushes++;
        return o;
      case C.SET_FEATURES:
        return this.setFeatures(tf);
      case C.CHECK_POWER_MODE:
        // Count 0xff: active or idle (the port reports it in the D2H FIS).
        tf.count = 0xff;
        return o;
      case C.EXECUTE_DEVICE_DIAGNOSTIC:
        // Error 0x01: device 0 passed (there is no device 1 on SATA).
        o.error = 0x01;
        return o;
      case C.INITIALIZE_DEVICE_PARAMETERS:
      case C.STANDBY_IMMEDIATE:
      case C.IDLE_IMMEDIATE:
        return o;
      default:
        if (tf.command >= C.RECALIBRATE && tf.command <= 0x1f) return o;
        return this.fail(ATA_ERROR.ABRT);
    }
  }

  private fail(err: number): Outcome {
    this.stats.errors++;
    this.outcome.status = OK_STATUS | ATA_STATUS.ERR;
    this.outcome.error = err;
    return this.outcome;
  }

  /** First sector of the command's range, or -1 when the range leaves the disk. Sets tf.count to the sector count. */
  private range(tf: TaskFile, ext: boolean): number {
    let lba: number;
    let count: number;
    if (ext) {
      lba = tf.lba;
      count = tf.count === 0 ? 0x1_0000 : tf.count;
    } else {
      // 28-bit commands: LBA bits 24-27 are in the device register; CHS addressing is not offered (IDENTIFY says LBA).
      if ((tf.device & ATA_DEVICE.LBA) === 0) return -1;
      lba = ((tf.device & 0x0f) * 0x100_0000 + (tf.lba % 0x100_0000)) >>> 0;
      count = (tf.count & 0xff) || 256;
    }
    const total = this.backend.sectors;
    if (lba >= total || count > total - lba) return -1;
    tf.count = count;
    return lba;
  }

  private read(tf: TaskFile, sg: SgList, ext: boolean, protocol: Protocol): Outcome {
    const o = this.outcome;
    o.protocol = protocol;
    const lba = this.range(tf, ext);
    if (lba < 0) return this.fail(ATA_ERROR.IDNF);
    const len = tf.count * DISK.SECTOR;
    const backend = this.backend;
    const start = lba * DISK.SECTOR;
    try {
      o.bytes = sg.forEach(len, (view, done) => backend.read(start + done, view));
    } catch {
      return this.fail(ATA_ERROR.UNC);
    }
    this.stats.sectorsRead += Math.floor(o.bytes / DISK.SECTOR);
    if (o.bytes < len) {
      o.overflow = true;
      return this.fail(ATA_ERROR.ABRT);
    }
    return o;
  }

  private write(tf: TaskFile, sg: SgList, ext: boolean, protocol: Protocol): Outcome {
    const o = this.outcome;
    o.protocol = protocol;
    const lba = this.range(tf, ext);
    if (lba < 0) return this.fail(ATA_ERROR.IDNF);
    if (this.backend.readonly) return this.fail(ATA_ERROR.ABRT);
    const len = tf.count * DISK.SECTOR;
    const backend = this.backend;
    const start = lba * DISK.SECTOR;
    try {
      o.bytes = sg.forEach(len, (view, done) => backend.write(start + done, view));
    } catch {
      return this.fail(ATA_ERROR.ABRT);
    }
    this.stats.sectorsWritten += Math.floor(o.bytes / DISK.SECTOR);
    if (o.bytes < len) {
      o.overflow = true;
      return this.fail(ATA_ERROR.ABRT);
    }
    return o;
  }

  /** A PIO data-in command whose data is `data` (one sector). */
  private dataIn(sg: SgList, data: Uint8Array): Outcome {
    const o = this.outcome;
    o.protocol = Protocol.PioIn;
    o.bytes = sg.forEach(data.length, (view, done) => view.set(data.subarray(done, done + view.length)));
    if (o.bytes < data.length) {
      o.overflow = true;
      return this.fail(ATA_ERROR.ABRT);
    }
    return o;
  }

  /** READ LOG EXT: only the log directory (log 0, page 0), saying no other log exists. */
  private readLog(tf: TaskFile, sg: SgList): Outcome {
    const log = tf.lba & 0xff;
    const page = (tf.lba >>> 8) & 0xff;
    if (log !== DISK.LOG_DIRECTORY || page !== 0 || tf.count !== 1) {
      this.outcome.protocol = Protocol.PioIn;
      return this.fail(ATA_ERROR.ABRT);
    }
    const b = this.sectorBuf;
    b.fill(0);
    b[0] = DISK.LOG_VERSION & 0xff;
    b[1] = DISK.LOG_VERSION >>> 8;
    return this.dataIn(sg, b);
  }

  private setFeatures(tf: TaskFile): Outcome {
    if (tf.features !== SETFEATURES.XFER_MODE) return this.outcome; // write cache, read look-ahead…: accepted
    const v = tf.count & 0xff;
    const mode = v & 0x07;
    if (v >> 3 === SETFEATURES.XFER_UDMA >> 3 && mode <= 6) {
      this.udmaMode = mode;
      this.mwdmaMode = -1;
    } else if (v >> 3 === SETFEATURES.XFER_MWDMA >> 3 && mode <= 2) {
      this.mwdmaMode = mode;
      this.udmaMode = -1;
    } else if (v >> 3 === SETFEATURES.XFER_PIO_FLOW >> 3 && mode <= 4) {
      // A PIO mode: DMA modes stay as they were.
    } else if (v > 1) {
      return this.fail(ATA_ERROR.ABRT);
    }
    return this.outcome;
  }

  /** The 256-word IDENTIFY DEVICE block (ACS-2 §7.16.7), little-endian words. */
  identifyData(): Uint8Array {
    const w = identifyCommon({ sectors: this.backend.sectors, heads: DISK.HEADS, sectorsPerTrack: DISK.SPT, serial: this.serial, model: "PARAVM SATA DISK" });
    w[49] = 0x0300; // LBA and DMA supported
    putCurrentChs(w, w[1]!, DISK.HEADS, DISK.SPT);
    // Multiword DMA 0-2 supported; the selected mode in the high byte.
    w[63] = 0x0007 | (this.mwdmaMode >= 0 ? 0x100 << this.mwdmaMode : 0);
    w[65] = 120;
    w[66] = 120;
    w[76] = 0x0002; // SATA Gen 1; no NCQ (the HBA does not offer it)
    w[80] = 0x01f0; // ATA-4 .. ATA-8
    // Ultra DMA 0-6 supported; the selected mode in the high byte.
    w[88] = 0x007f | (this.udmaMode >= 0 ? 0x100 << this.udmaMode : 0);
    w[93] = 0x0000; // no PATA cable: this is SATA
    return identifyBytes(w);
  }
}
