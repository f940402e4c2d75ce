/**
 * An ATA (PATA) disk in PIO mode on the platform bus: Linux's pata_of_platform
 * ("ata-generic"), one master drive, backed by the same `BlockBackend` as virtio-blk.
 *
 * Window (board.ts ATA entry; register n of a block is at block + (n << regShift)):
 *
 *     cmd + 0  data              8/16/32-bit accesses move 1/2/4 bytes of the sector buffer
 *     cmd + 1  error / features
 *     cmd + 2  sector count
 *     cmd + 3  LBA low           (sector number)
 *     cmd + 4  LBA mid           (cylinder low)
 *     cmd + 5  LBA high          (cylinder high)
 *     cmd + 6  device / head     bit 4 DEV (1 = slave: absent here), bit 6 LBA
 *     cmd + 7  status / command  reading status clears INTRQ
 *     ctl + 0  alt status / device control  (bit 1 nIEN, bit 2 SRST, bit 7 HOB)
 *
 * pata_of_platform maps reg[1] (the control block) straight to altstatus/ctl, so the
 * control register is register 0 of the control block, not +6 as on a legacy ISA port.
 *
 * Registers 1..5 are 2-deep FIFOs for LBA48: a write moves the old value to the "HOB"
 * (high-order byte) copy; reads return the HOB copy while device control bit 7 is set.
 *
 * Commands run synchronously: by the time the command write returns, the drive is
 * either done (DRDY, INTRQ), or waiting with DRQ for the guest to move a 512-byte sector.
 * PIO in: INTRQ as each sector becomes ready. PIO out: DRQ without INTRQ for the first
 * sector, INTRQ after each sector written (DRQ again until the last). INTRQ is a level
 * (pending && !nIEN). Nothing the guest writes can make the device throw.
 */
import type { DeviceState, IrqLine, MmioDevice } from "../device.js";
import type { BlockBackend } from "../virtio/blk/device.js";
import { ATA_ERROR, ATA_STATUS } from "./taskfile.js";

export { ATA_ERROR, ATA_STATUS };
import { identifyBytes, identifyCommon, putCurrentChs } from "./identify.js";

export const ATA = {
  SECTOR: 512,
  /** Window size (board.ts BOARD_MAP.ATA.size). */
  SIZE: 0x1000,
  CMD_OFFSET: 0,
  CTL_OFFSET: 0x100,
  /** Default CHS geometry (words 1, 3, 6). */
  HEADS: 16,
  SPT: 63,
} as const;

/** Command block register numbers. */
export const ATA_REG = {
  DATA: 0,
  ERROR: 1, // read
  FEATURES: 1, // write
  NSECT: 2,
  LBAL: 3,
  LBAM: 4,
  LBAH: 5,
  DEVICE: 6,
  STATUS: 7, // read
  COMMAND: 7, // write
} as const;

export const ATA_DEVCTL = {
  NIEN: 0x02,
  SRST: 0x04,
  HOB: 0x80,
} as const;

export const ATA_DEV = {
  DEV: 0x10,
  LBA: 0x40,
} as const;

export const ATA_CMD = {
  RECALIBRATE: 0x10,
  READ_SECTORS: 0x20,
  READ_SECTORS_NORETRY: 0x21,
  READ_SECTORS_EXT: 0x24,
  WRITE_SECTORS: 0x30,
  WRITE_SECTORS_NORETRY: 0x31,
  WRITE_SECTORS_EXT: 0x34,
  READ_VERIFY: 0x40,
  READ_VERIFY_EXT: 0x42,
  EXECUTE_DEVICE_DIAGNOSTIC: 0x90,
  INITIALIZE_DEVICE_PARAMETERS: 0x91,
  STANDBY_IMMEDIATE: 0xe0,
  IDLE_IMMEDIATE: 0xe1,
  CHECK_POWER_MODE: 0xe5,
  FLUSH_CACHE: 0xe7,
  IDENTIFY_DEVICE: 0xec,
  FLUSH_CACHE_EXT: 0xea,
  SET_FEATURES: 0xef,
} as const;

/** Names used for the per-register exit counters. */
const READ_NAMES = ["data", "error", "nsect", "lbal", "lbam", "lbah", "device", "status"] as const;
const WRITE_NAMES = ["data", "features", "nsect", "lbal", "lbam", "lbah", "device", "command"] as const;

export interface AtaStats {
  /** MMIO accesses (exits) per register name: "status", "altstatus", "devctl", "data", … */
  exits: Record<string, number>;
  commands: number;
  sectorsRead: number;
  sectorsWritten: number;
  flushes: number;
  errors: number;
}

export interface AtaOptions {
  /** Register n at block + (n << regShift); default 0. */
  readonly regShift?: number;
  readonly cmdOffset?: number;
  readonly ctlOffset?: number;
  readonly size?: number;
  /** IDENTIFY serial number (20 characters at most). */
  readonly serial?: string;
}

type Phase = "idle" | "pioIn" | "pioOut";

const S = ATA_STATUS;
const IDLE_STATUS = S.DRDY | S.DSC;

export class AtaDevice implements MmioDevice {
  readonly size: number;
  readonly stats: AtaStats = { exits: {}, commands: 0, sectorsRead: 0, sectorsWritten: 0, flushes: 0, errors: 0 };
  private readonly shift: number;
  private readonly cmdOffset: number;
  private readonly ctlOffset: number;
  private readonly serial: string;

  // Task file. Index 1..5: current (written last) and HOB (previous) values.
  private readonly cur = new Uint8Array(6);
  private readonly hob = new Uint8Array(6);
  private error = 0;
  private device = 0;
  private status = IDLE_STATUS;
  private devctl = 0;
  private pending = false;
  private irqLevel = false;

  // PIO transfer state.
  private phase: Phase = "idle";
  private readonly buf = new Uint8Array(ATA.SECTOR);
  private pos = 0;
  /** Sector the buffer holds (pioIn) or will be written to (pioOut). */
  private lba = 0;
  /** Sectors left including the one in the buffer. */
  private remaining = 0;

  // CHS translation geometry (INITIALIZE DEVICE PARAMETERS).
  private heads: number = ATA.HEADS;
  private spt: number = ATA.SPT;

  constructor(
    readonly backend: BlockBackend,
    private readonly irq: IrqLine,
    options: AtaOptions = {},
  ) {
    const shift = options.regShift ?? 0;
    if (!Number.isInteger(shift) || shift < 0 || shift > 4) throw new RangeError(`ata: reg-shift ${shift}`);
    this.shift = shift;
    this.cmdOffset = options.cmdOffset ?? ATA.CMD_OFFSET;
    this.ctlOffset = options.ctlOffset ?? ATA.CTL_OFFSET;
    this.size = options.size ?? ATA.SIZE;
    if (this.cmdOffset + (8 << shift) > this.size || this.ctlOffset + (4 << shift) > this.size) {
      throw new RangeError("ata: register blocks do not fit the window");
    }
    this.serial = (options.serial ?? "PARAVM0001").slice(0, 20);
    this.reset();
  }

  // --- MMIO ---------------------------------------------------------------------------

  read(offset: number, width: 1 | 2 | 4): number {
    const reg = this.decode(offset);
    if (reg === null) return 0;
    if (reg === "ctl") {
      this.count("altstatus");
      return this.masterSelected() ? this.status : 0;
    }
    this.count(READ_NAMES[reg]!);
    if (reg === ATA_REG.DATA) return this.dataRead(width);
    if (reg === ATA_REG.DEVICE) return this.device | 0xa0;
    if (!this.masterSelected()) return 0;
    if (reg === ATA_REG.STATUS) {
      this.pending = false;
      this.updateIrq();
      return this.status;
    }
    if (reg === ATA_REG.ERROR) return this.error;
    const hobRead = (this.devctl & ATA_DEVCTL.HOB) !== 0;
    return hobRead ? this.hob[reg]! : this.cur[reg]!;
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    const reg = this.decode(offset);
    if (reg === null) return;
    if (reg === "ctl") {
      this.count("devctl");
      this.writeDevctl(value & 0xff);
      return;
    }
    this.count(WRITE_NAMES[reg]!);
    if (reg === ATA_REG.DATA) {
      this.dataWrite(width, value);
      return;
    }
    if (this.status & S.BSY) return;
    // Writing any command block register clears HOB in device control.
    this.devctl &= ~ATA_DEVCTL.HOB;
    const v = value & 0xff;
    if (reg === ATA_REG.DEVICE) {
      this.device = v;
    } else if (reg === ATA_REG.COMMAND) {
      if (this.masterSelected()) this.command(v);
    } else {
      this.hob[reg] = this.cur[reg]!;
      this.cur[reg] = v;
    }
  }

  reset(): void {
    this.devctl = 0;
    this.device = 0;
    this.pending = false;
    this.heads = ATA.HEADS;
    this.spt = ATA.SPT;
    this.softReset();
    this.updateIrq();
  }

  /** Register number, "ctl", or null for holes. */
  private decode(offset: number): number | "ctl" | null {
    const mask = (1 << this.shift) - 1;
    let rel = offset - this.cmdOffset;
    if (rel >= 0 && rel < 8 << this.shift) return (rel & mask) === 0 ? rel >> this.shift : null;
    rel = offset - this.ctlOffset;
    if (rel >= 0 && rel < 4 << this.shift) return rel === 0 ? "ctl" : null;
    return null;
  }

  private count(name: string): void {
    this.stats.exits[name] = (this.stats.exits[name] ?? 0) + 1;
  }

  private masterSelected(): boolean {
    return (this.device & ATA_DEV.DEV) === 0;
  }

  private updateIrq(): void {
    const level = this.pending && (this.devctl & ATA_DEVCTL.NIEN) === 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  private raise(): void {
    this.pending = true;
    this.updateIrq();
  }

  private writeDevctl(v: number): void {
    const wasReset = (this.devctl & ATA_DEVCTL.SRST) !== 0;
    this.devctl = v;
    if (v & ATA_DEVCTL.SRST) {
      // Held in reset: busy, transfer abandoned, INTRQ cleared.
      this.phase = "idle";
      this.pending = false;
      this.status = S.BSY;
    } else if (wasReset) {
      this.softReset();
    }
    this.updateIrq();
  }

  /** State after SRST or power-on: diagnostics passed, ATA signature in the task file. */
  private softReset(): void {
    this.phase = "idle";
    this.pos = 0;
    this.remaining = 0;
    this.setSignature();
    this.status = IDLE_STATUS;
  }

  private setSignature(): void {
    this.cur.fill(0);
    this.hob.fill(0);
    this.cur[ATA_REG.NSECT] = 1;
    this.cur[ATA_REG.LBAL] = 1;
    this.error = 0x01; // device 0 passed, device 1 absent
    this.device &= ATA_DEV.DEV;
  }

  // --- Data port ----------------------------------------------------------------------

  private dataRead(width: 1 | 2 | 4): number {
    if (this.phase !== "pioIn" || !this.masterSelected()) return 0;
    let v = 0;
    for (let i = 0; i < width && this.pos < ATA.SECTOR; i++) v |= this.buf[this.pos++]! << (8 * i);
    if (this.pos === ATA.SECTOR) this.readSectorDone();
    return v >>> 0;
  }

  private dataWrite(width: 1 | 2 | 4, value: number): void {
    if (this.phase !== "pioOut" || !this.masterSelected()) return;
    for (let i = 0; i < width && this.pos < ATA.SECTOR; i++) this.buf[this.pos++] = (value >>> (8 * i)) & 0xff;
    if (this.pos === ATA.SECTOR) this.writeSectorDone();
  }

  private readSectorDone(): void {
    this.remaining--;
    this.lba++;
    if (this.remaining > 0) {
      this.loadSector();
    } else {
      this.phase = "idle";
      this.status = IDLE_STATUS;
    }
  }

  /** Fill the buffer with sector `lba`, set DRQ and interrupt (or fail the command). */
  private loadSector(): void {
    try {
      this.backend.read(this.lba * ATA.SECTOR, this.buf);
    } catch {
      this.fail(ATA_ERROR.UNC);
      return;
    }
    this.stats.sectorsRead++;
    this.pos = 0;
    this.phase = "pioIn";
    this.status = IDLE_STATUS | S.DRQ;
    this.raise();
  }

  private writeSectorDone(): void {
    if (this.backend.readonly) {
      this.fail(ATA_ERROR.ABRT);
      return;
    }
    try {
      this.backend.write(this.lba * ATA.SECTOR, this.buf);
    } catch {
      this.fail(ATA_ERROR.ABRT);
      return;
    }
    this.stats.sectorsWritten++;
    this.remaining--;
    this.lba++;
    this.pos = 0;
    if (this.remaining > 0) {
      this.status = IDLE_STATUS | S.DRQ;
    } else {
      this.phase = "idle";
      this.status = IDLE_STATUS;
    }
    this.raise();
  }

  // --- Commands -----------------------------------------------------------------------

  private command(cmd: number): void {
    this.stats.commands++;
    this.pending = false;
    this.phase = "idle";
    this.error = 0;
    this.status = IDLE_STATUS;
    this.updateIrq();
    const C = ATA_CMD;
    switch (cmd) {
      case C.IDENTIFY_DEVICE:
        this.identify();
        return;
      case C.READ_SECTORS:
      case C.READ_SECTORS_NORETRY:
        this.startTransfer(false, false);
        return;
      case C.READ_SECTORS_EXT:
        this.startTransfer(false, true);
        return;
      case C.WRITE_SECTORS:
      case C.WRITE_SECTORS_NORETRY:
        this.startTransfer(true, false);
        return;
      case C.WRITE_SECTORS_EXT:
        this.startTransfer(true, true);
        return;
      case C.READ_VERIFY:
      case C.READ_VERIFY_EXT: {
        const r = this.range(cmd === C.READ_VERIFY_EXT);
        if (r === null) this.fail(ATA_ERROR.IDNF);
        else this.complete();
        return;
      }
      case C.FLUSH_CACHE:
      case C.FLUSH_CACHE_EXT:
        try {
          this.backend.flush();
        } catch {
          this.fail(ATA_ERROR.ABRT);
          return;
        }
        this.stats.flushes++;
        this.complete();
        return;
      case C.INITIALIZE_DEVICE_PARAMETERS: {
        const spt = this.cur[ATA_REG.NSECT]!;
        if (spt === 0) {
          this.fail(ATA_ERROR.ABRT);
          return;
        }
        this.spt = spt;
        this.heads = (this.device & 0x0f) + 1;
        this.complete();
        return;
      }
      case C.EXECUTE_DEVICE_DIAGNOSTIC:
        this.setSignature();
        this.raise();
        return;
      case C.CHECK_POWER_MODE:
        this.cur[ATA_REG.NSECT] = 0xff; // active or idle
        this.complete();
        return;
      case C.SET_FEATURES:
      case C.STANDBY_IMMEDIATE:
      case C.IDLE_IMMEDIATE:
        this.complete();
        return;
      default:
        if (cmd >= C.RECALIBRATE && cmd <= 0x1f) {
          this.complete();
          return;
        }
        this.fail(ATA_ERROR.ABRT);
    }
  }

  private complete(): void {
    this.status = IDLE_STATUS;
    this.raise();
  }

  private fail(err: number): void {
    this.stats.errors++;
    this.phase = "idle";
    this.error = err;
    this.status = IDLE_STATUS | S.ERR;
    this.raise();
  }

  /** First sector and count from the task file, or null when outside the disk. */
  private range(ext: boolean): { lba: number; count: number } | null {
    const c = this.cur;
    const h = this.hob;
    let lba: number;
    let count: number;
    if (ext) {
      if ((this.device & ATA_DEV.LBA) === 0) return null;
      lba = (h[ATA_REG.LBAH]! * 0x100_0000 + (h[ATA_REG.LBAM]! << 16) + (h[ATA_REG.LBAL]! << 8) + c[ATA_REG.LBAH]!) * 0x1_0000;
      lba += (c[ATA_REG.LBAM]! << 8) | c[ATA_REG.LBAL]!;
      count = (h[ATA_REG.NSECT]! << 8) | c[ATA_REG.NSECT]!;
      if (count === 0) count = 0x1_0000;
    } else {
      if (this.device & ATA_DEV.LBA) {
        lba = ((this.device & 0x0f) << 24) | (c[ATA_REG.LBAH]! << 16) | (c[ATA_REG.LBAM]! << 8) | c[ATA_REG.LBAL]!;
      } else {
        const sector = c[ATA_REG.LBAL]!;
        const head = this.device & 0x0f;
        const cyl = (c[ATA_REG.LBAH]! << 8) | c[ATA_REG.LBAM]!;
        if (sector === 0 || sector > this.spt || head >= this.heads) return null;
        lba = (cyl * this.heads + head) * this.spt + sector - 1;
      }
      count = c[ATA_REG.NSECT]! || 256;
    }
    const total = this.backend.sectors;
    if (lba >= total || count > total - lba) return null;
    return { lba, count };
  }

  private startTransfer(write: boolean, ext: boolean): void {
    const r = this.range(ext);
    if (r === null) {
      this.fail(ATA_ERROR.IDNF);
      return;
    }
    this.lba = r.lba;
    this.remaining = r.count;
    if (!write) {
      this.loadSector();
      return;
    }
    // A read-only disk still takes the first sector and fails after it (writeSectorDone):
    // aborting at command issue would raise INTRQ while libata's PIO-out state machine
    // ignores interrupts (HSM_ST_FIRST), and a level-triggered line then storms.
    // PIO out: DRQ for the first sector without an interrupt.
    this.pos = 0;
    this.phase = "pioOut";
    this.status = IDLE_STATUS | S.DRQ;
  }

  /** The 256-word IDENTIFY DEVICE block (ATA-7), little-endian words. */
  identifyData(): Uint8Array {
    const total = this.backend.sectors;
    const w = identifyCommon({ sectors: total, heads: ATA.HEADS, sectorsPerTrack: ATA.SPT, serial: this.serial, model: "PARAVM ATA DISK" });
    w[49] = 0x0a00; // IORDY supported, LBA supported; no DMA
    w[51] = 0x0200; // PIO mode 2 (obsolete field)
    const curCyls = Math.min(w[1]!, Math.floor(Math.min(total, 0xffff_ffff) / (this.heads * this.spt)));
    putCurrentChs(w, Math.min(curCyls, 0xffff), this.heads, this.spt);
    w[63] = 0x0000; // multiword DMA: none
    w[80] = 0x00f0; // ATA-4 .. ATA-7
    w[88] = 0x0000; // UDMA: none
    return identifyBytes(w);
  }

  private identify(): void {
    this.buf.set(this.identifyData());
    this.pos = 0;
    this.remaining = 1;
    this.lba = 0;
    this.phase = "pioIn";
    this.status = IDLE_STATUS | S.DRQ;
    this.raise();
  }

  // --- Snapshot -----------------------------------------------------------------------

  save(): DeviceState {
    return {
      cur: Array.from(this.cur),
      hob: Array.from(this.hob),
      error: this.error,
      device: this.device,
      status: this.status,
      devctl: this.devctl,
      pending: this.pending,
      phase: this.phase,
      buf: Buffer.from(this.buf).toString("base64"),
      pos: this.pos,
      lba: this.lba,
      remaining: this.remaining,
      heads: this.heads,
      spt: this.spt,
    };
  }

  load(s: DeviceState): void {
    const arr = (k: string): unknown[] => (Array.isArray(s[k]) ? (s[k] as unknown[]) : []);
    const num = (k: string, max: number): number => {
      const v = Number(s[k]);
      return Number.isInteger(v) && v >= 0 && v <= max ? v : 0;
    };
    const cur = arr("cur");
    const hob = arr("hob");
    for (let i = 0; i < 6; i++) {
      this.cur[i] = Number(cur[i] ?? 0) & 0xff;
      this.hob[i] = Number(hob[i] ?? 0) & 0xff;
    }
    this.error = num("error", 0xff);
    this.device = num("device", 0xff);
    this.status = num("status", 0xff);
    this.devctl = num("devctl", 0xff);
    this.pending = s["pending"] === true;
    const phase = s["phase"];
    this.phase = phase === "pioIn" || phase === "pioOut" ? phase : "idle";
    this.buf.fill(0);
    if (typeof s["buf"] === "string") this.buf.set(Buffer.from(s["buf"], "base64").subarray(0, ATA.SECTOR));
    this.pos = num("pos", ATA.SECTOR - 1);
    this.lba = num("lba", Number.MAX_SAFE_INTEGER);
    this.remaining = num("remaining", 0x1_0000);
    this.heads = num("heads", 16) || ATA.HEADS;
    this.spt = num("spt", 255) || ATA.SPT;
    if (this.phase !== "idle" && (this.remaining === 0 || this.lba + this.remaining > this.backend.sectors)) {
      this.phase = "idle";
      this.status = IDLE_STATUS;
    }
    this.irqLevel = this.pending && (this.devctl & ATA_DEVCTL.NIEN) === 0;
    this.irq.set(this.irqLevel);
  }
}
