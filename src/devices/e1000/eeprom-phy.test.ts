import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MockE1000Driver, NIC_MAC } from "./mock-driver.js";
import { BMCR, EECD, EEPROM, EERD, ICR, MDIC, PHY, PSSR, REG, STATUS } from "./regs.js";

/**
 * The microwire bit-banging e1000_hw.c does for an 82540 (acquire with REQ/GNT, CS high,
 * opcode and address out MSB first on rising SK, data in after each rising edge).
 */
class BitBanger {
  private e = 0;
  constructor(private readonly d: MockE1000Driver) {}

  private w(v: number): void {
    this.e = v;
    this.d.w32(REG.EECD, v);
  }

  acquire(): void {
    this.w(this.d.r32(REG.EECD) | EECD.REQ);
    assert.ok(this.d.r32(REG.EECD) & EECD.GNT, "grant follows request");
    this.w(this.e & ~(EECD.DI | EECD.SK));
    this.w(this.e | EECD.CS);
  }

  out(data: number, count: number): void {
    for (let mask = 1 << (count - 1); mask; mask >>= 1) {
      this.w((this.e & ~EECD.DI) | (data & mask ? EECD.DI : 0));
      this.w(this.e | EECD.SK);
      this.w(this.e & ~EECD.SK);
    }
    this.w(this.e & ~EECD.DI);
  }

  in(count: number): number {
    let v = 0;
    for (let i = 0; i < count; i++) {
      this.w(this.e | EECD.SK);
      v = (v << 1) | (this.d.r32(REG.EECD) & EECD.DO ? 1 : 0);
      this.w(this.e & ~EECD.SK);
    }
    return v;
  }

  /** CS low, clock, CS high: ends one command and selects the chip for the next. */
  standby(): void {
    this.w(this.e & ~(EECD.CS | EECD.SK));
    this.w(this.e | EECD.SK);
    this.w(this.e | EECD.CS);
    this.w(this.e & ~EECD.SK);
  }

  release(): void {
    this.w(this.e & ~(EECD.CS | EECD.DI));
    this.w(this.e | EECD.SK);
    this.w(this.e & ~EECD.SK);
    this.w(this.e & ~EECD.REQ);
  }

  doPin(): boolean {
    return (this.d.r32(REG.EECD) & EECD.DO) !== 0;
  }

  read(addr: number, words = 1): number[] {
    this.acquire();
    const out: number[] = [];
    for (let i = 0; i < words; i++) {
      this.out(0b110, 3);
      this.out(addr + i, 6);
      out.push(this.in(16));
      this.standby();
    }
    this.release();
    return out;
  }

  write(addr: number, value: number, enable = true): boolean {
    this.acquire();
    if (enable) {
      this.out(0b10011, 5); // EWEN
      this.out(0, 4);
      this.standby();
    }
    this.out(0b101, 3);
    this.out(addr, 6);
    this.out(value, 16);
    this.standby();
    const ready = this.doPin();
    this.standby();
    this.out(0b10000, 5); // EWDS
    this.out(0, 4);
    this.release();
    return ready;
  }
}

function mdic(d: MockE1000Driver, op: number, reg: number, data = 0, phy: number = PHY.ADDRESS): number {
  d.w32(REG.MDIC, op | (phy << MDIC.PHY_SHIFT) | (reg << MDIC.REG_SHIFT) | data);
  return d.r32(REG.MDIC);
}

describe("e1000 EEPROM (microwire, through EECD)", () => {
  test("a bit-banged read returns the MAC in words 0..2 and words 0..0x3f sum to 0xBABA", () => {
    const d = new MockE1000Driver().probe();
    const bb = new BitBanger(d);
    const words = bb.read(0, EEPROM.WORDS);
    const mac = [0, 2, 4].map((i) => NIC_MAC[i]! | (NIC_MAC[i + 1]! << 8));
    assert.deepEqual(words.slice(0, 3), mac);
    assert.equal(words.reduce((a, w) => (a + w) & 0xffff, 0), EEPROM.SUM);
    assert.equal(words[EEPROM.DEVICE_ID], 0x100e);
    assert.equal(words[EEPROM.VENDOR_ID], 0x8086);
    // One word at a time gives the same as a sequential read.
    assert.deepEqual(bb.read(0x3f), [words[0x3f]]);
    assert.equal(d.nic.stats.exits["EECD"]! > 1000, true);
  });

  test("without REQ the pins do nothing and DO stays low", () => {
    const d = new MockE1000Driver().probe();
    d.w32(REG.EECD, EECD.CS | EECD.SK);
    assert.equal(d.r32(REG.EECD) & (EECD.GNT | EECD.DO), 0);
    assert.equal(d.r32(REG.EECD) & EECD.PRES, EECD.PRES);
    assert.equal(d.r32(REG.EECD) & EECD.SIZE, 0, "64-word part");
  });

  test("EWEN + WRITE stores a word (DO reports ready); without EWEN nothing changes", () => {
    const d = new MockE1000Driver().probe();
    const bb = new BitBanger(d);
    assert.equal(bb.write(0x20, 0xbeef), true);
    assert.deepEqual(bb.read(0x20), [0xbeef]);
    bb.write(0x21, 0x1234, false);
    assert.deepEqual(bb.read(0x21), [0]);
  });

  test("EERD reads a word directly", () => {
    const d = new MockE1000Driver().probe();
    d.w32(REG.EERD, (1 << EERD.ADDR_SHIFT) | EERD.START);
    const v = d.r32(REG.EERD);
    assert.ok(v & EERD.DONE);
    assert.equal(v >>> EERD.DATA_SHIFT, NIC_MAC[2]! | (NIC_MAC[3]! << 8));
  });
});

describe("e1000 PHY (M88E1011 through MDIC)", () => {
  test("PHY id, link and autonegotiation complete, 1000/full in the specific status register", () => {
    const d = new MockE1000Driver().probe();
    const id1 = mdic(d, MDIC.OP_READ, PHY.ID1);
    assert.ok(id1 & MDIC.READY);
    assert.equal(id1 & MDIC.ERROR, 0);
    const id = ((id1 & 0xffff) << 16) | (mdic(d, MDIC.OP_READ, PHY.ID2) & 0xfff0);
    assert.equal(id >>> 0, 0x0141_0c20, "M88E1011_I_PHY_ID");
    const bmsr = mdic(d, MDIC.OP_READ, PHY.BMSR) & 0xffff;
    assert.equal(bmsr & 0x24, 0x24, "link status and autoneg complete");
    const pssr = mdic(d, MDIC.OP_READ, PHY.PSSR) & 0xffff;
    const gigFull = PSSR.SPEED_1000 | PSSR.FULL_DUPLEX | PSSR.LINK;
    assert.equal(pssr & gigFull, gigFull);
    const up = STATUS.LU | STATUS.FD | STATUS.SPEED_1000;
    assert.equal(d.r32(REG.STATUS) & up, up);
  });

  test("writes stick; reset and restart-autoneg self-clear; another PHY address is an error", () => {
    const d = new MockE1000Driver().probe();
    mdic(d, MDIC.OP_WRITE, PHY.ANAR, 0x0de1);
    assert.equal(mdic(d, MDIC.OP_READ, PHY.ANAR) & 0xffff, 0x0de1);
    mdic(d, MDIC.OP_WRITE, PHY.BMCR, BMCR.RESET | BMCR.AN_ENABLE | BMCR.RESTART_AN);
    assert.equal(mdic(d, MDIC.OP_READ, PHY.BMCR) & 0xffff, BMCR.AN_ENABLE);
    assert.ok(mdic(d, MDIC.OP_READ, PHY.ID1, 0, 2) & MDIC.ERROR);
  });

  test("powering the PHY down drops the link with LSC; MDIC INT_EN raises MDAC", () => {
    const d = new MockE1000Driver().probe();
    d.r32(REG.ICR);
    mdic(d, MDIC.OP_WRITE, PHY.BMCR, BMCR.POWER_DOWN | BMCR.AN_ENABLE);
    assert.equal(d.r32(REG.STATUS) & STATUS.LU, 0);
    assert.equal(mdic(d, MDIC.OP_READ, PHY.BMSR) & 0x4, 0);
    assert.ok(d.r32(REG.ICR) & ICR.LSC);
    mdic(d, MDIC.OP_WRITE | MDIC.INT_EN, PHY.BMCR, BMCR.AN_ENABLE);
    assert.ok(d.r32(REG.STATUS) & STATUS.LU);
    assert.equal(d.r32(REG.ICR) & (ICR.LSC | ICR.MDAC), ICR.LSC | ICR.MDAC);
  });

  test("the host can unplug the cable", () => {
    const d = new MockE1000Driver().probe();
    d.r32(REG.ICR);
    d.nic.setLink(false);
    assert.equal(d.r32(REG.STATUS) & STATUS.LU, 0);
    assert.ok(d.r32(REG.ICR) & ICR.LSC);
    d.nic.setLink(true);
    assert.ok(d.r32(REG.STATUS) & STATUS.LU);
  });
});
