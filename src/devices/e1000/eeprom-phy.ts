/**
 * The two serial side-devices of the 82540: the 64 × 16-bit microwire EEPROM (93C46
 * style) that software bit-bangs through EECD, and the Marvell M88E1011 copper PHY that
 * software reaches through MDIC.
 *
 * EEPROM protocol (what e1000_hw.c's shift_out/shift_in do): with CS high, DI is sampled
 * on each rising edge of SK. A command is a start bit (1), a 2-bit opcode and a 6-bit
 * address. READ then shifts the word out on DO, most significant bit first, one bit per
 * rising edge (DO holds a dummy 0 before the first), and keeps going into the next word.
 * WRITE takes 16 data bits; ERASE and the 00-opcode group (EWEN/EWDS/ERAL/WRAL) follow
 * the 93C46 data sheet. Writes need EWEN first and complete when CS drops; DO reads 1
 * ("ready") whenever CS is high with no command in progress, which is what the driver
 * polls for after a write. CS low returns the chip to idle.
 *
 * The PHY always has link at 1000 Mb/s full duplex (a virtual cable), unless the host
 * unplugs it or the driver powers it down (BMCR.PDOWN, which e1000_power_down_phy sets
 * on `ip link set down`). Auto-negotiation completes the moment it is restarted.
 */
import { BMCR, BMSR, EEPROM, PHY, PSSR } from "./regs.js";

type RomState = "idle" | "command" | "read" | "data" | "done";

export class MicrowireEeprom {
  readonly words = new Uint16Array(EEPROM.WORDS);
  private state: RomState = "idle";
  private shift = 0;
  private nbits = 0;
  private addr = 0;
  /** The data output pin. */
  private dout = 0;
  private writeEnabled = false;
  /** A write/erase to perform when CS drops: word index, -1 = all words; value. */
  private pendingAddr: number | null = null;
  private pendingValue = 0;
  private sk = false;
  private cs = false;

  /** The pins software drives; edges on SK with CS high move the state machine. */
  drive(cs: boolean, sk: boolean, di: boolean): void {
    if (!cs) {
      if (this.cs) this.deselect();
      this.cs = false;
      this.sk = sk;
      return;
    }
    const rising = sk && !this.sk;
    this.cs = true;
    this.sk = sk;
    if (rising) this.clock(di ? 1 : 0);
  }

  /** DO: the bit being shifted out, "ready" when idle and selected, else 0. */
  get dataOut(): boolean {
    if (!this.cs) return false;
    if (this.state === "read") return this.dout === 1;
    return this.state === "idle";
  }

  /** Abandon any transaction (device reset): the pins go low. */
  resetPins(): void {
    this.state = "idle";
    this.cs = false;
    this.sk = false;
    this.pendingAddr = null;
    this.dout = 0;
  }

  /** Fill with `image` (64 words), fixing the checksum word so words 0..0x3f sum to 0xBABA. */
  program(image: ArrayLike<number>): void {
    for (let i = 0; i < EEPROM.WORDS; i++) this.words[i] = (image[i] ?? 0) & 0xffff;
    let sum = 0;
    for (let i = 0; i < EEPROM.CHECKSUM; i++) sum += this.words[i]!;
    this.words[EEPROM.CHECKSUM] = (EEPROM.SUM - sum) & 0xffff;
  }

  private clock(bit: number): void {
    switch (this.state) {
      case "idle":
        // Leading zeros before the start bit are ignored, as on the chip.
        if (bit) this.begin("command");
        return;
      case "command":
        this.shift = (this.shift << 1) | bit;
        if (++this.nbits === 2 + EEPROM.ADDR_BITS) {
          this.command(this.shift >> EEPROM.ADDR_BITS, this.shift & (EEPROM.WORDS - 1));
        }
        return;
      case "read":
        // Each rising edge presents the next bit, so the first edge after the address gives D15.
        if (this.nbits === 16) {
          this.addr = (this.addr + 1) & (EEPROM.WORDS - 1);
          this.shift = this.words[this.addr]!;
          this.nbits = 0;
        }
        this.dout = (this.shift >> (15 - this.nbits)) & 1;
        this.nbits++;
        return;
      case "data":
        this.shift = ((this.shift << 1) | bit) & 0xffff;
        if (++this.nbits === 16) {
          this.pendingValue = this.shift;
          this.state = "done";
        }
        return;
      case "done":
        return;
    }
  }

  private begin(state: RomState): void {
    this.state = state;
    this.shift = 0;
    this.nbits = 0;
  }

  private command(op: number, addr: number): void {
    this.addr = addr;
    switch (op) {
      case EEPROM.OP_READ:
        this.begin("read");
        this.shift = this.words[addr]!;
        this.dout = 0;
        return;
      case EEPROM.OP_WRITE:
        this.pendingAddr = addr;
        this.begin("data");
        return;
      case EEPROM.OP_ERASE:
        this.pendingAddr = addr;
        this.pendingValue = 0xffff;
        this.state = "done";
        return;
      default: {
        // 00 group: the two high address bits pick EWDS (00), WRAL (01), ERAL (10), EWEN (11).
        const sub = addr >> (EEPROM.ADDR_BITS - 2);
        if (sub === 3) this.writeEnabled = true;
        else if (sub === 0) this.writeEnabled = false;
        else if (sub === 2) {
          this.pendingAddr = -1;
          this.pendingValue = 0xffff;
        } else {
          this.pendingAddr = -1;
          this.begin("data");
          return;
        }
        this.state = "done";
      }
    }
  }

  private deselect(): void {
    if (this.pendingAddr !== null && this.state === "done" && this.writeEnabled) {
      if (this.pendingAddr < 0) this.words.fill(this.pendingValue);
      else this.words[this.pendingAddr] = this.pendingValue;
    }
    this.pendingAddr = null;
    this.state = "idle";
    this.dout = 0;
  }
}

/** Power-on values of the PHY registers that software can write. */
const PHY_DEFAULTS: ReadonlyArray<readonly [number, number]> = [
  [PHY.BMCR, BMCR.AN_ENABLE | BMCR.FULL_DUPLEX | BMCR.SPEED_MSB],
  // 10/100 half/full, IEEE 802.3 selector.
  [PHY.ANAR, 0x01e1],
  [PHY.NPTX, 0x2001],
  // Advertise 1000BASE-T full and half duplex.
  [PHY.GTCR, 0x0300],
  // Auto MDI/MDI-X, CRS on transmit off (the M88E1011 data sheet's reset value).
  [PHY.PSCR, 0x0068],
  [PHY.EPSCR, 0x0c60],
];

/** What the link partner (the virtual switch) reports: 10/100 HD/FD, acknowledged, no pause. */
const PARTNER_ABILITY = 0x41e1;
/** 1000BASE-T status: partner 1000 HD/FD capable, local and remote receivers OK. */
const GIGABIT_STATUS = 0x3c00;
/** Extended status: 1000BASE-T full and half duplex capable. */
const EXTENDED_STATUS = 0x3000;

export class M88Phy {
  private readonly regs = new Uint16Array(PHY.REGS);
  /** The cable: whether a partner is there at all. */
  private cable = true;

  constructor() {
    this.reset();
  }

  reset(): void {
    this.regs.fill(0);
    for (const [r, v] of PHY_DEFAULTS) this.regs[r] = v;
  }

  get linkUp(): boolean {
    return this.cable && !(this.regs[PHY.BMCR]! & BMCR.POWER_DOWN);
  }

  /** Plug or unplug the virtual cable. */
  setCable(present: boolean): void {
    this.cable = present;
  }

  read(reg: number): number {
    const r = reg & (PHY.REGS - 1);
    const link = this.linkUp;
    switch (r) {
      case PHY.BMSR:
        return BMSR.CAPS | (link ? BMSR.LINK | BMSR.AN_COMPLETE : 0);
      case PHY.ID1:
        return PHY.ID1_VALUE;
      case PHY.ID2:
        return PHY.ID2_VALUE;
      case PHY.ANLPAR:
        return link ? PARTNER_ABILITY : 0;
      case PHY.ANER:
        return link ? 1 : 0;
      case PHY.GTSR:
        return link ? GIGABIT_STATUS : 0;
      case PHY.ESR:
        return EXTENDED_STATUS;
      case PHY.PSSR:
        return link ? PSSR.SPEED_1000 | PSSR.FULL_DUPLEX | PSSR.RESOLVED | PSSR.LINK : 0;
      default:
        return this.regs[r]!;
    }
  }

  write(reg: number, value: number): void {
    const r = reg & (PHY.REGS - 1);
    const v = value & 0xffff;
    switch (r) {
      case PHY.BMSR:
      case PHY.ID1:
      case PHY.ID2:
      case PHY.ANLPAR:
      case PHY.ANER:
      case PHY.GTSR:
      case PHY.ESR:
      case PHY.PSSR:
        return;
      case PHY.BMCR:
        // Reset and restart-autonegotiation finish at once and read back as 0. A soft reset
        // keeps the configuration registers: that is how the driver's settings "take effect".
        this.regs[r] = v & ~(BMCR.RESET | BMCR.RESTART_AN);
        return;
      default:
        this.regs[r] = v;
    }
  }

  save(): number[] {
    return Array.from(this.regs);
  }

  load(regs: unknown, cable: unknown): void {
    this.reset();
    if (Array.isArray(regs)) for (let i = 0; i < PHY.REGS; i++) this.write(i, Number(regs[i] ?? this.regs[i]) || 0);
    this.cable = cable !== false;
  }

  get cablePresent(): boolean {
    return this.cable;
  }
}
