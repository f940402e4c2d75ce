/**
 * NS16550A UART at reg-shift 0, as on QEMU `virt` (0x1000_0000, PLIC source 10): the
 * console OpenSBI and Linux's 8250 driver both drive.
 *
 *     0  RBR (read) / THR (write)        DLAB=1: DLL
 *     1  IER                             DLAB=1: DLM
 *     2  IIR (read) / FCR (write)
 *     3  LCR   4 MCR   5 LSR   6 MSR   7 SCR
 *
 * Transmit has no line to wait on: a THR write goes to the backend at once, so THRE and
 * TEMT are always set. Receive has a 16-byte FIFO (1 byte in 16450 mode, FIFOs off);
 * a byte arriving when it is full is lost and flagged as overrun (LSR.OE), as on the chip.
 *
 * Interrupts follow the datasheet priorities (line status > rx data/timeout > THR empty
 * > modem status) and the IRQ line is the level "some enabled reason is pending".
 * MCR.OUT2 does not gate it: QEMU ignores OUT2 and guests built for QEMU rely on that.
 *
 * The character-timeout interrupt has no clock here: input arrives from the host in
 * bursts, so a FIFO holding fewer bytes than the trigger level reports the timeout
 * (IIR id 0xC) at once — otherwise Linux, with a trigger of 8, would never see a single
 * keystroke.
 */
import type { DeviceState, IrqLine, MmioDevice } from "../device.js";

export const UART = {
  RBR: 0, THR: 0, DLL: 0,
  IER: 1, DLM: 1,
  IIR: 2, FCR: 2,
  LCR: 3, MCR: 4, LSR: 5, MSR: 6, SCR: 7,
  /** Register window size on QEMU virt. */
  SIZE: 0x100,
  FIFO_DEPTH: 16,
} as const;

export const IER = { ERBFI: 0x01, ETBEI: 0x02, ELSI: 0x04, EDSSI: 0x08, MASK: 0x0f } as const;

/** IIR interrupt ids (bits 3:1 with bit 0 = "none pending") and the FIFO-enabled bits. */
export const IIR = {
  NO_INT: 0x01, MSI: 0x00, THRI: 0x02, RDI: 0x04, RLSI: 0x06, TIMEOUT: 0x0c, FIFO_ENABLED: 0xc0,
} as const;

export const FCR = { ENABLE: 0x01, CLEAR_RX: 0x02, CLEAR_TX: 0x04, TRIGGER_SHIFT: 6 } as const;
/** RX trigger levels selected by FCR bits 7:6. */
const TRIGGER_LEVELS = [1, 4, 8, 14] as const;

export const LCR = { DLAB: 0x80 } as const;
export const MCR = { DTR: 0x01, RTS: 0x02, OUT1: 0x04, OUT2: 0x08, LOOP: 0x10, MASK: 0x1f } as const;

export const LSR = {
  DR: 0x01, OE: 0x02, PE: 0x04, FE: 0x08, BI: 0x10, THRE: 0x20, TEMT: 0x40, FIFOE: 0x80,
  /** The error bits that raise a line-status interrupt and clear on an LSR read. */
  ERRORS: 0x1e,
} as const;

export const MSR = {
  DCTS: 0x01, DDSR: 0x02, TERI: 0x04, DDCD: 0x08, CTS: 0x10, DSR: 0x20, RI: 0x40, DCD: 0x80,
  DELTAS: 0x0f,
} as const;

/** Modem inputs outside loopback: a permanently connected line (what QEMU reports). */
const MSR_CONNECTED = MSR.DCD | MSR.DSR | MSR.CTS;

export interface UartBackend {
  write(bytes: Uint8Array): void;
}

export class Uart16550Device implements MmioDevice {
  readonly size = UART.SIZE;
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private dll = 0;
  private dlm = 0;
  private fifoEnabled = false;
  private trigger = 1;
  /** LSR error bits latched since the last LSR read (OE only, in practice). */
  private lsrErrors = 0;
  /** MSR status bits (7:4) and deltas (3:0). */
  private msr = MSR_CONNECTED;
  /** THR-empty interrupt pending: set by ETBEI enable and each THR write, cleared by an IIR read reporting it. */
  private thrPending = false;
  private readonly rx = new Uint8Array(UART.FIFO_DEPTH);
  private rxHead = 0;
  private rxCount = 0;
  /** Last byte read from RBR, returned again when the FIFO is empty (the holding register keeps it). */
  private lastRbr = 0;
  private overrunCount = 0;
  /** Level last driven on the IRQ line, or -1 before the first drive. */
  private irqLevel = -1;

  constructor(
    private readonly irq: IrqLine,
    private readonly backend: UartBackend,
  ) {
    this.updateIrq();
  }

  /** Bytes lost because the RX FIFO was full (each also sets LSR.OE). */
  get overruns(): number {
    return this.overrunCount;
  }

  /** Free RX FIFO slots, for a host that wants to pace its input instead of overrunning. */
  get rxSpace(): number {
    return this.rxCapacity() - this.rxCount;
  }

  /** Host keystrokes into the receiver. Ignored in loopback, where the chip disconnects SIN. */
  input(bytes: Uint8Array): void {
    if (this.mcr & MCR.LOOP) return;
    for (const b of bytes) this.receive(b);
    this.updateIrq();
  }

  read(offset: number, width: 1 | 2 | 4): number {
    // Byte registers: a wider access sees the addressed register in its low byte.
    switch (offset) {
      case UART.RBR:
        if (this.lcr & LCR.DLAB) return this.dll;
        return this.readRbr();
      case UART.IER:
        return this.lcr & LCR.DLAB ? this.dlm : this.ier;
      case UART.IIR:
        return this.readIir();
      case UART.LCR:
        return this.lcr;
      case UART.MCR:
        return this.mcr;
      case UART.LSR: {
        const v = this.lsr();
        this.lsrErrors = 0;
        this.updateIrq();
        return v;
      }
      case UART.MSR: {
        const v = this.msr;
        this.msr &= ~MSR.DELTAS;
        this.updateIrq();
        return v;
      }
      case UART.SCR:
        return this.scr;
      default:
        return 0;
    }
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    const v = value & 0xff;
    switch (offset) {
      case UART.THR:
        if (this.lcr & LCR.DLAB) this.dll = v;
        else this.transmit(v);
        break;
      case UART.IER:
        if (this.lcr & LCR.DLAB) {
          this.dlm = v;
        } else {
          const was = this.ier;
          this.ier = v & IER.MASK;
          // Enabling ETBEI with THR empty (always, here) raises the THRE interrupt; Linux's
          // start_tx and its UART_BUG_THRE probe both toggle the bit and expect this.
          if (this.ier & IER.ETBEI) {
            if (!(was & IER.ETBEI)) this.thrPending = true;
          } else {
            this.thrPending = false;
          }
        }
        break;
      case UART.FCR:
        this.writeFcr(v);
        break;
      case UART.LCR:
        this.lcr = v;
        break;
      case UART.MCR:
        this.mcr = v & MCR.MASK;
        this.updateMsr();
        break;
      case UART.SCR:
        this.scr = v;
        break;
      default:
        // LSR and MSR are read-only (factory test writes are not emulated); others ignored.
        return;
    }
    this.updateIrq();
  }

  reset(): void {
    this.ier = 0;
    this.lcr = 0;
    this.mcr = 0;
    this.scr = 0;
    this.dll = 0;
    this.dlm = 0;
    this.fifoEnabled = false;
    this.trigger = 1;
    this.lsrErrors = 0;
    this.msr = MSR_CONNECTED;
    this.thrPending = false;
    this.rxHead = 0;
    this.rxCount = 0;
    this.lastRbr = 0;
    this.overrunCount = 0;
    this.updateIrq();
  }

  save(): DeviceState {
    const rx: number[] = [];
    for (let i = 0; i < this.rxCount; i++) rx.push(this.rx[(this.rxHead + i) % UART.FIFO_DEPTH]!);
    return {
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      scr: this.scr,
      dll: this.dll,
      dlm: this.dlm,
      fifoEnabled: this.fifoEnabled,
      trigger: this.trigger,
      lsrErrors: this.lsrErrors,
      msr: this.msr,
      thrPending: this.thrPending,
      rx,
      lastRbr: this.lastRbr,
      overruns: this.overrunCount,
    };
  }

  load(s: DeviceState): void {
    const byte = (k: string) => (Number(s[k] ?? 0) & 0xff) >>> 0;
    this.ier = byte("ier") & IER.MASK;
    this.lcr = byte("lcr");
    this.mcr = byte("mcr") & MCR.MASK;
    this.scr = byte("scr");
    this.dll = byte("dll");
    this.dlm = byte("dlm");
    this.fifoEnabled = s["fifoEnabled"] === true;
    const t = Number(s["trigger"]);
    this.trigger = (TRIGGER_LEVELS as readonly number[]).includes(t) ? t : 1;
    this.lsrErrors = byte("lsrErrors") & LSR.ERRORS;
    this.msr = s["msr"] === undefined ? MSR_CONNECTED : byte("msr");
    this.thrPending = s["thrPending"] === true;
    const rx = Array.isArray(s["rx"]) ? (s["rx"] as unknown[]) : [];
    this.rxHead = 0;
    this.rxCount = Math.min(rx.length, this.rxCapacity());
    for (let i = 0; i < this.rxCount; i++) this.rx[i] = Number(rx[i] ?? 0) & 0xff;
    this.lastRbr = byte("lastRbr");
    const o = Number(s["overruns"]);
    this.overrunCount = Number.isFinite(o) && o >= 0 ? Math.floor(o) : 0;
    this.irqLevel = -1;
    this.updateIrq();
  }

  private rxCapacity(): number {
    return this.fifoEnabled ? UART.FIFO_DEPTH : 1;
  }

  private receive(b: number): void {
    if (this.rxCount >= this.rxCapacity()) {
      // The shift register's byte is lost; the FIFO contents survive (datasheet, OE).
      this.lsrErrors |= LSR.OE;
      this.overrunCount++;
      return;
    }
    this.rx[(this.rxHead + this.rxCount) % UART.FIFO_DEPTH] = b & 0xff;
    this.rxCount++;
  }

  private readRbr(): number {
    if (this.rxCount > 0) {
      this.lastRbr = this.rx[this.rxHead]!;
      this.rxHead = (this.rxHead + 1) % UART.FIFO_DEPTH;
      this.rxCount--;
      this.updateIrq();
    }
    return this.lastRbr;
  }

  private transmit(b: number): void {
    if (this.mcr & MCR.LOOP) {
      this.receive(b);
    } else {
      // A fresh array: the backend may keep it (buffered console, log).
      this.backend.write(Uint8Array.of(b));
    }
    // The byte left at once, so the holding register is empty again: a fresh THRE event.
    if (this.ier & IER.ETBEI) this.thrPending = true;
  }

  private writeFcr(v: number): void {
    const enable = (v & FCR.ENABLE) !== 0;
    // Changing the enable bit clears both FIFOs (datasheet); so does CLEAR_RX.
    if (enable !== this.fifoEnabled || v & FCR.CLEAR_RX) {
      this.rxHead = 0;
      this.rxCount = 0;
    }
    this.fifoEnabled = enable;
    this.trigger = enable ? TRIGGER_LEVELS[(v >> FCR.TRIGGER_SHIFT) & 3]! : 1;
  }

  /** Loopback feeds MCR outputs back to the modem inputs (DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD). */
  private updateMsr(): void {
    let status = MSR_CONNECTED;
    if (this.mcr & MCR.LOOP) {
      status = 0;
      if (this.mcr & MCR.DTR) status |= MSR.DSR;
      if (this.mcr & MCR.RTS) status |= MSR.CTS;
      if (this.mcr & MCR.OUT1) status |= MSR.RI;
      if (this.mcr & MCR.OUT2) status |= MSR.DCD;
    }
    const old = this.msr;
    const changed = (old ^ status) & 0xf0;
    let deltas = old & MSR.DELTAS;
    if (changed & MSR.CTS) deltas |= MSR.DCTS;
    if (changed & MSR.DSR) deltas |= MSR.DDSR;
    if (changed & MSR.DCD) deltas |= MSR.DDCD;
    // TERI flags only the trailing edge of RI.
    if (old & MSR.RI && !(status & MSR.RI)) deltas |= MSR.TERI;
    this.msr = status | deltas;
  }

  private lsr(): number {
    let v = LSR.THRE | LSR.TEMT | this.lsrErrors;
    if (this.rxCount > 0) v |= LSR.DR;
    return v;
  }

  /** The highest-priority enabled reason, as an IIR id (NO_INT when none). */
  private pendingId(): number {
    if (this.ier & IER.ELSI && this.lsrErrors & LSR.ERRORS) return IIR.RLSI;
    if (this.ier & IER.ERBFI && this.rxCount > 0) {
      return this.rxCount >= this.trigger ? IIR.RDI : IIR.TIMEOUT;
    }
    if (this.ier & IER.ETBEI && this.thrPending) return IIR.THRI;
    if (this.ier & IER.EDSSI && this.msr & MSR.DELTAS) return IIR.MSI;
    return IIR.NO_INT;
  }

  private readIir(): number {
    const id = this.pendingId();
    // Reading IIR while it reports THR empty is what acknowledges that interrupt.
    if (id === IIR.THRI) {
      this.thrPending = false;
      this.updateIrq();
    }
    return id | (this.fifoEnabled ? IIR.FIFO_ENABLED : 0);
  }

  private updateIrq(): void {
    const level = this.pendingId() === IIR.NO_INT ? 0 : 1;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level === 1);
    }
  }
}
