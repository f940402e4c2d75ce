import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PCI_CFG, PCI_COMMAND } from "../pci/config.js";
import { ATA_CMD, ATA_ERROR, ATA_STATUS } from "./disk.js";
import { ABAR_PCI, MockAhciDriver, RAM_BASE } from "./mock-driver.js";
import { AHCI, AHCI_PCI, ATA_SIGNATURE, CAP, GHC, HBA_REG, PORT_REG, PXCMD, PXIS, RX_FIS } from "./regs.js";

const OK = ATA_STATUS.DRDY | ATA_STATUS.DSC;
const started = (sectors?: number, ro = false) => new MockAhciDriver(sectors, undefined, ro).probe().start();

describe("AHCI HBA on the PCIe host", () => {
  test("PCI header: ich9-ahci identity, class 01:06:01, INTA, BAR5 is 4 KiB of memory", () => {
    const d = new MockAhciDriver();
    assert.equal(d.cfgRead(PCI_CFG.VENDOR_ID, 2), AHCI_PCI.VENDOR);
    assert.equal(d.cfgRead(PCI_CFG.DEVICE_ID, 2), AHCI_PCI.DEVICE);
    assert.equal(d.cfgRead(PCI_CFG.CLASS_PROG, 1) | (d.cfgRead(PCI_CFG.CLASS_PROG + 1, 2) << 8), 0x01_06_01);
    assert.equal(d.cfgRead(PCI_CFG.INTERRUPT_PIN, 1), 1);
    const bar5 = PCI_CFG.BAR0 + 4 * AHCI.ABAR_INDEX;
    d.cfgWrite(bar5, 4, 0xffff_ffff);
    assert.equal(d.cfgRead(bar5, 4) >>> 0, (~(AHCI.ABAR_SIZE - 1)) >>> 0);
    for (let b = 0; b < 5; b++) {
      d.cfgWrite(PCI_CFG.BAR0 + 4 * b, 4, 0xffff_ffff);
      assert.equal(d.cfgRead(PCI_CFG.BAR0 + 4 * b, 4), 0, `BAR${b} is unimplemented`);
    }
  });

  test("AHCI 3.1: CAP (1 port, 32 slots, 64-bit, CLO, AHCI-only), PI, VS 1.3, GHC.AE reads 1", () => {
    const d = new MockAhciDriver().probe();
    const cap = d.r32(HBA_REG.CAP);
    assert.equal(cap & 0x1f, AHCI.PORTS - 1);
    assert.equal((cap >>> CAP.NCS_SHIFT) & 0x1f, 31);
    assert.ok(cap & CAP.S64A && cap & CAP.SAM && cap & CAP.SCLO);
    assert.equal(cap & (CAP.SNCQ | CAP.SSS), 0, "no NCQ, no staggered spin-up");
    assert.equal(d.r32(HBA_REG.PI), 1);
    assert.equal(d.r32(HBA_REG.VS), 0x0001_0300);
    assert.equal(d.r32(HBA_REG.GHC), GHC.AE >>> 0);
    d.w32(HBA_REG.GHC, 0); // AE cannot be cleared with CAP.SAM
    assert.equal(d.r32(HBA_REG.GHC), GHC.AE >>> 0);
  });

  test("AHCI 10.1: at power-on the link is up and the disk's signature is in PxSIG and PxTFD", () => {
    const d = new MockAhciDriver().probe();
    assert.equal(d.pr(PORT_REG.SSTS), 0x113);
    assert.equal(d.pr(PORT_REG.SIG), ATA_SIGNATURE);
    assert.equal(d.pr(PORT_REG.TFD), OK | (1 << 8));
    assert.equal(d.pr(PORT_REG.CMD) & (PXCMD.SUD | PXCMD.POD), PXCMD.SUD | PXCMD.POD);
  });

  test("AHCI 10.4.3: GHC.HR self-clears, resets IE and port registers, keeps PxCLB/PxFB", () => {
    const d = started();
    assert.ok(d.r32(HBA_REG.GHC) & GHC.IE);
    d.w32(HBA_REG.GHC, GHC.HR | GHC.AE);
    assert.equal(d.r32(HBA_REG.GHC), GHC.AE >>> 0);
    assert.equal(d.pr(PORT_REG.CMD) & (PXCMD.ST | PXCMD.FRE | PXCMD.CR | PXCMD.FR), 0);
    assert.equal(d.pr(PORT_REG.IE), 0);
    assert.equal(d.pr(PORT_REG.CLB), d.clb);
    assert.equal(d.pr(PORT_REG.FB), d.fb);
    assert.equal(d.irq.level, false);
  });

  test("AHCI 3.3.7: CR follows ST and FR follows FRE; CI writes are ignored while ST is clear", () => {
    const d = new MockAhciDriver().probe();
    d.start();
    assert.ok(d.pr(PORT_REG.CMD) & PXCMD.CR && d.pr(PORT_REG.CMD) & PXCMD.FR);
    d.pw(PORT_REG.CMD, d.pr(PORT_REG.CMD) & ~PXCMD.ST);
    assert.equal(d.pr(PORT_REG.CMD) & PXCMD.CR, 0);
    d.issue(0, { command: ATA_CMD.IDENTIFY_DEVICE, prds: [{ addr: d.alloc(512), len: 512 }] });
    assert.equal(d.pr(PORT_REG.CI), 0, "not latched");
    assert.equal(d.hba.stats.commands, 0);
  });
});

describe("AHCI commands (ATA8-ACS through the command list)", () => {
  test("IDENTIFY DEVICE: PIO data-in into the PRD, PIO Setup FIS with ending status, PxIS.PSS, one interrupt", () => {
    const d = started(4096);
    const buf = d.alloc(512);
    d.issue(0, { command: ATA_CMD.IDENTIFY_DEVICE, prds: [{ addr: buf, len: 512 }] });
    assert.equal(d.pr(PORT_REG.CI), 0);
    assert.equal(d.prdbc(0), 512);
    assert.equal(d.irq.level, true);
    assert.equal(d.irq.edges, 1);
    const id = d.ram.readBytes(buf, 512);
    const word = (n: number) => id[2 * n]! | (id[2 * n + 1]! << 8);
    assert.ok(word(49) & 0x0100, "DMA supported");
    assert.equal(word(88) & 0x7f, 0x7f, "UDMA 0-6");
    assert.equal(word(60) | (word(61) << 16), 4096);
    assert.equal(word(100), 4096);
    assert.equal(id.reduce((a, b) => a + b, 0) & 0xff, 0, "checksum");
    const pio = d.fis(RX_FIS.PIO_SETUP, 20);
    assert.equal(pio[0], 0x5f);
    assert.equal(pio[15], OK, "E_Status");
    assert.equal(pio[16]! | (pio[17]! << 8), 512);
    const is = d.ack();
    assert.equal(is & (PXIS.PSS | PXIS.DHRS), PXIS.PSS);
    assert.equal(d.irq.level, false, "clearing PxIS drops the line");
  });

  test("READ DMA EXT scatters over uneven PRDs; D2H FIS, PxIS.DHRS, PRDBC = bytes moved", () => {
    const d = started();
    const lba = 100;
    const a = d.alloc(1000);
    const b = d.alloc(24);
    const c = d.alloc(4096);
    d.issue(3, {
      command: ATA_CMD.READ_DMA_EXT,
      lba,
      count: 8,
      prds: [
        { addr: a, len: 1000 },
        { addr: b, len: 24 },
        { addr: c, len: 4096 },
      ],
    });
    assert.equal(d.pr(PORT_REG.CI), 0);
    assert.equal(d.prdbc(3), 4096);
    const got = new Uint8Array([...d.ram.readBytes(a, 1000), ...d.ram.readBytes(b, 24), ...d.ram.readBytes(c, 3072)]);
    assert.deepEqual(got, d.disk.bytes.subarray(lba * 512, (lba + 8) * 512));
    assert.equal(d.ram.readBytes(c + 3072, 1)[0], 0, "nothing beyond the transfer");
    const fis = d.fis(RX_FIS.D2H_REG, 20);
    assert.equal(fis[0], 0x34);
    assert.equal(fis[2], OK);
    assert.equal(d.pr(PORT_REG.TFD), OK);
    assert.equal(d.ack() & PXIS.DHRS, PXIS.DHRS);
    assert.equal(d.hba.stats.dmaBytesToGuest, 4096);
    assert.equal(d.hba.stats.sectorsRead, 8);
  });

  test("READ DMA (28-bit LBA) reads the named sectors; WRITE DMA EXT lands on the disk", () => {
    const d = started(0x0200_0000 / 512 + 16);
    const buf = d.alloc(1024);
    d.issue(0, { command: ATA_CMD.READ_DMA, lba: 0x01_0000, device: 0x40 | 0x0, count: 2, prds: [{ addr: buf, len: 1024 }] });
    assert.deepEqual(d.ram.readBytes(buf, 1024), d.disk.bytes.slice(0x01_0000 * 512, 0x01_0000 * 512 + 1024));
    d.ack();
    const src = d.alloc(1536);
    const data = new Uint8Array(1536).map((_, i) => (i * 13 + 5) & 0xff);
    d.ram.writeBytes(src, data);
    d.issue(1, { command: ATA_CMD.WRITE_DMA_EXT, lba: 7, count: 3, write: true, prds: [{ addr: src, len: 1536 }] });
    assert.equal(d.pr(PORT_REG.CI), 0);
    assert.deepEqual(d.disk.bytes.slice(7 * 512, 10 * 512), data);
    assert.equal(d.hba.stats.dmaBytesFromGuest, 1536);
    assert.equal(d.hba.stats.sectorsWritten, 3);
  });

  test("FLUSH CACHE EXT reaches the backend; CHECK POWER MODE answers count 0xff; SET FEATURES selects UDMA 5 in IDENTIFY", () => {
    const d = started();
    d.issue(0, { command: ATA_CMD.FLUSH_CACHE_EXT });
    assert.equal(d.disk.flushes, 1);
    d.issue(1, { command: ATA_CMD.CHECK_POWER_MODE });
    assert.equal(d.fis(RX_FIS.D2H_REG, 20)[12], 0xff);
    d.issue(2, { command: ATA_CMD.SET_FEATURES, features: 0x03, count: 0x45 });
    const buf = d.alloc(512);
    d.issue(3, { command: ATA_CMD.IDENTIFY_DEVICE, prds: [{ addr: buf, len: 512 }] });
    const id = d.ram.readBytes(buf, 512);
    assert.equal(id[177], 1 << 5, "word 88 high byte: UDMA 5 selected");
    assert.equal(d.pr(PORT_REG.CI), 0);
  });

  test("READ LOG EXT: the log directory says no other logs; any other log aborts", () => {
    const d = started();
    const buf = d.alloc(512);
    d.ram.writeBytes(buf, new Uint8Array(512).fill(0xee));
    d.issue(0, { command: ATA_CMD.READ_LOG_EXT, lba: 0, count: 1, prds: [{ addr: buf, len: 512 }] });
    const dir = d.ram.readBytes(buf, 512);
    assert.equal(dir[0], 1);
    assert.ok(dir.subarray(1).every((b) => b === 0));
    d.ack();
    d.issue(1, { command: ATA_CMD.READ_LOG_EXT, lba: 0x30, count: 1, prds: [{ addr: buf, len: 512 }] });
    assert.ok(d.pr(PORT_REG.IS) & PXIS.TFES);
    assert.equal(d.pr(PORT_REG.TFD) >>> 8, ATA_ERROR.ABRT);
  });
});

describe("AHCI 6.1: errors reported to the guest as the hardware does", () => {
  test("a sector range past the disk: IDNF, PxIS.TFES, the command stays in PxCI and the port stops until ST is cycled", () => {
    const d = started(64);
    const buf = d.alloc(512);
    d.issue(0, { command: ATA_CMD.READ_DMA_EXT, lba: 64, count: 1, prds: [{ addr: buf, len: 512 }] });
    assert.equal(d.pr(PORT_REG.CI), 1);
    assert.equal(d.pr(PORT_REG.TFD), (OK | ATA_STATUS.ERR) | (ATA_ERROR.IDNF << 8));
    assert.ok(d.pr(PORT_REG.IS) & PXIS.TFES);
    assert.equal(d.irq.level, true);
    assert.equal(d.fis(RX_FIS.D2H_REG, 4)[3], ATA_ERROR.IDNF, "error register in the D2H FIS");
    // A command issued while stopped waits.
    d.issue(1, { command: ATA_CMD.READ_DMA_EXT, lba: 0, count: 1, prds: [{ addr: buf, len: 512 }] });
    assert.equal(d.pr(PORT_REG.CI), 3);
    d.ack();
    d.restart();
    assert.equal(d.pr(PORT_REG.CI), 0, "clearing ST drops issued commands");
    d.issue(1, { command: ATA_CMD.READ_DMA_EXT, lba: 0, count: 1, prds: [{ addr: buf, len: 512 }] });
    assert.equal(d.pr(PORT_REG.CI), 0);
    assert.deepEqual(d.ram.readBytes(buf, 512), d.disk.bytes.slice(0, 512));
  });

  test("unknown commands and non-H2D FIS types abort; writes to a read-only disk abort without touching it", () => {
    const d = started(64, true);
    d.issue(0, { command: 0xb0 });
    assert.equal(d.pr(PORT_REG.TFD) >>> 8, ATA_ERROR.ABRT);
    d.ack();
    d.restart();
    d.issue(0, { command: 0, fisType: 0x46 });
    assert.ok(d.pr(PORT_REG.IS) & PXIS.TFES);
    d.ack();
    d.restart();
    const before = d.disk.bytes.slice();
    const src = d.alloc(512);
    d.ram.writeBytes(src, new Uint8Array(512).fill(0x55));
    d.issue(0, { command: ATA_CMD.WRITE_DMA_EXT, lba: 1, count: 1, write: true, prds: [{ addr: src, len: 512 }] });
    assert.equal(d.pr(PORT_REG.TFD) >>> 8, ATA_ERROR.ABRT);
    assert.deepEqual(d.disk.bytes, before);
  });

  test("a PRD outside guest RAM: PxIS.HBFS (host bus fatal), nothing read from or written to the disk", () => {
    const d = started();
    const before = d.disk.bytes.slice();
    const outside = RAM_BASE + d.ram.size - 256; // straddles the end of RAM
    d.issue(0, { command: ATA_CMD.WRITE_DMA_EXT, lba: 0, count: 1, write: true, prds: [{ addr: outside, len: 512 }] });
    assert.ok(d.pr(PORT_REG.IS) & PXIS.HBFS);
    assert.equal(d.pr(PORT_REG.CI), 1);
    assert.deepEqual(d.disk.bytes, before);
    d.ack();
    d.restart();
    d.issue(0, { command: ATA_CMD.READ_DMA_EXT, lba: 0, count: 1, prds: [{ addr: 0x1000, len: 512 }] });
    assert.ok(d.pr(PORT_REG.IS) & PXIS.HBFS);
    d.ack();
    d.restart();
    // A 64-bit address beyond anything (DBAU set).
    d.issue(0, { command: ATA_CMD.READ_DMA_EXT, lba: 0, count: 1, prds: [{ addr: 2 ** 40 + RAM_BASE, len: 512 }] });
    assert.ok(d.pr(PORT_REG.IS) & PXIS.HBFS);
    assert.equal(d.hba.stats.busErrors, 3);
  });

  test("a command list or command table outside RAM: PxIS.HBFS", () => {
    const d = started();
    d.pw(PORT_REG.CMD, d.pr(PORT_REG.CMD) & ~PXCMD.ST);
    d.pw(PORT_REG.CLB, 0x1000);
    d.pw(PORT_REG.CMD, d.pr(PORT_REG.CMD) | PXCMD.ST);
    d.pw(PORT_REG.CI, 1);
    assert.ok(d.pr(PORT_REG.IS) & PXIS.HBFS);
    d.ack();
    d.pw(PORT_REG.CMD, d.pr(PORT_REG.CMD) & ~PXCMD.ST);
    d.pw(PORT_REG.CLB, d.clb);
    d.pw(PORT_REG.CMD, d.pr(PORT_REG.CMD) | PXCMD.ST);
    d.writeHeader(0, { dw0: 5 | (0xffff << 16), ctba: RAM_BASE + d.ram.size - 0x100 });
    d.pw(PORT_REG.CI, 1);
    assert.ok(d.pr(PORT_REG.IS) & PXIS.HBFS, "65535 PRDs run past the end of RAM");
  });

  test("DMA with PCI Bus Master Enable clear: PxIS.HBFS and guest memory untouched", () => {
    const d = new MockAhciDriver().probe(PCI_COMMAND.MEMORY).start();
    const buf = d.alloc(512);
    d.issue(0, { command: ATA_CMD.READ_DMA_EXT, lba: 0, count: 1, prds: [{ addr: buf, len: 512 }] });
    assert.ok(d.pr(PORT_REG.IS) & PXIS.HBFS);
    assert.ok(d.ram.readBytes(buf, 512).every((b) => b === 0));
    assert.equal(d.prdbc(0), 0xdead, "the header was not even read");
  });

  test("a PRDT shorter than the transfer (or empty): the covered bytes move, then PxIS.OFS and ABRT", () => {
    const d = started();
    const buf = d.alloc(1024);
    d.issue(0, { command: ATA_CMD.READ_DMA_EXT, lba: 4, count: 2, prds: [{ addr: buf, len: 512 }] });
    assert.equal(d.prdbc(0), 512);
    assert.deepEqual(d.ram.readBytes(buf, 512), d.disk.bytes.slice(4 * 512, 5 * 512));
    const is = d.ack();
    assert.equal(is & (PXIS.OFS | PXIS.TFES), PXIS.OFS | PXIS.TFES);
    assert.equal(d.pr(PORT_REG.TFD) >>> 8, ATA_ERROR.ABRT);
    d.restart();
    d.issue(0, { command: ATA_CMD.WRITE_DMA_EXT, lba: 4, count: 1, write: true, prds: [] });
    assert.equal(d.prdbc(0), 0);
    assert.ok(d.ack() & PXIS.OFS);
  });

  test("interrupt gating: GHC.IE, PxIE and PCI Interrupt Disable each keep the line low", () => {
    const d = started();
    const buf = d.alloc(512);
    d.w32(HBA_REG.GHC, GHC.AE);
    d.issue(0, { command: ATA_CMD.READ_DMA_EXT, lba: 0, count: 1, prds: [{ addr: buf, len: 512 }] });
    assert.equal(d.irq.level, false);
    assert.equal(d.r32(HBA_REG.IS), 1, "IS still shows the port");
    d.w32(HBA_REG.GHC, GHC.AE | GHC.IE);
    assert.equal(d.irq.level, true);
    d.cfgWrite(PCI_CFG.COMMAND, 2, PCI_COMMAND.MEMORY | PCI_COMMAND.MASTER | PCI_COMMAND.INTX_DISABLE);
    assert.equal(d.irq.level, false);
    d.cfgWrite(PCI_CFG.COMMAND, 2, PCI_COMMAND.MEMORY | PCI_COMMAND.MASTER);
    d.pw(PORT_REG.IE, 0);
    assert.equal(d.irq.level, false);
    assert.equal(d.r32(HBA_REG.IS), 0);
  });
});

describe("AHCI link and device resets", () => {
  test("COMRESET through PxSCTL.DET: link down while held, signature D2H FIS when released", () => {
    const d = started();
    d.pw(PORT_REG.CMD, d.pr(PORT_REG.CMD) & ~PXCMD.ST);
    d.ram.u8.fill(0xaa, d.fb - RAM_BASE + RX_FIS.D2H_REG, d.fb - RAM_BASE + RX_FIS.D2H_REG + 20);
    d.pw(PORT_REG.SCTL, 0x301);
    assert.equal(d.pr(PORT_REG.SSTS) & 0xf, 0);
    assert.ok(d.pr(PORT_REG.TFD) & ATA_STATUS.BSY);
    d.pw(PORT_REG.SCTL, 0x300);
    assert.equal(d.pr(PORT_REG.SSTS), 0x113);
    assert.equal(d.pr(PORT_REG.TFD) & 0xff, OK);
    const fis = d.fis(RX_FIS.D2H_REG, 20);
    assert.deepEqual([fis[0], fis[4], fis[5], fis[6], fis[12]], [0x34, 0x01, 0x00, 0x00, 0x01]);
    assert.equal(d.pr(PORT_REG.SIG), ATA_SIGNATURE);
  });

  test("software reset: SRST held makes commands wait; releasing it sends the signature and lets them run", () => {
    const d = started();
    const buf = d.alloc(512);
    d.issue(0, { command: 0, control: 0x04 });
    assert.equal(d.pr(PORT_REG.CI), 0, "control FISes complete when sent");
    assert.ok(d.pr(PORT_REG.TFD) & ATA_STATUS.BSY);
    d.issue(1, { command: ATA_CMD.READ_DMA_EXT, lba: 2, count: 1, prds: [{ addr: buf, len: 512 }] });
    assert.equal(d.pr(PORT_REG.CI), 2, "waits for the device");
    d.issue(2, { command: 0, control: 0x00 });
    assert.equal(d.pr(PORT_REG.CI), 0);
    assert.deepEqual(d.ram.readBytes(buf, 512), d.disk.bytes.slice(1024, 1536));
  });

  test("PxCMD.CLO clears BSY and DRQ in PxTFD and reads back 0", () => {
    const d = started();
    d.issue(0, { command: 0, control: 0x04 });
    d.pw(PORT_REG.CMD, d.pr(PORT_REG.CMD) | PXCMD.CLO);
    assert.equal(d.pr(PORT_REG.TFD) & (ATA_STATUS.BSY | ATA_STATUS.DRQ), 0);
    assert.equal(d.pr(PORT_REG.CMD) & PXCMD.CLO, 0);
  });
});

describe("AHCI registers and state", () => {
  test("sub-dword reads return the register's bytes; sub-dword writes are dropped and counted", () => {
    const d = started();
    const cap = d.r32(HBA_REG.CAP);
    assert.equal(d.host.mmioWindow.read(ABAR_PCI - 0x4000_0000 + 1, 1), (cap >>> 8) & 0xff);
    assert.equal(d.host.mmioWindow.read(ABAR_PCI - 0x4000_0000 + 2, 2), cap >>> 16);
    const ie = d.pr(PORT_REG.IE);
    d.host.mmioWindow.write(ABAR_PCI - 0x4000_0000 + AHCI.PORT_BASE + PORT_REG.IE, 1, 0);
    assert.equal(d.pr(PORT_REG.IE), ie);
    assert.equal(d.hba.stats.narrowWrites, 1);
    assert.ok(d.hba.stats.exits["P0IE"]! >= 2);
    assert.ok(d.hba.stats.exits["CAP"]! >= 1);
  });

  test("save/load keeps the port's registers, its error stop and the selected transfer mode", () => {
    const d = started(64);
    d.issue(0, { command: ATA_CMD.SET_FEATURES, features: 0x03, count: 0x46 });
    d.issue(1, { command: ATA_CMD.READ_DMA_EXT, lba: 999, count: 1 });
    const saved = JSON.parse(JSON.stringify(d.hba.save()));
    const e = new MockAhciDriver(64).probe();
    e.hba.load(saved);
    for (const r of [PORT_REG.CLB, PORT_REG.FB, PORT_REG.IS, PORT_REG.IE, PORT_REG.CMD, PORT_REG.TFD, PORT_REG.CI]) {
      assert.equal(e.pr(r), d.pr(r), `register 0x${r.toString(16)}`);
    }
    assert.equal(e.hba.disk.udmaMode, 6);
    assert.equal(e.hba.port.halted, true);
    assert.equal(e.irq.level, true);
    e.hba.load({ ghc: "x", port: { clb: -5, ci: 2 ** 40 }, udmaMode: 99 });
    assert.equal(e.pr(PORT_REG.CLB), 0);
    assert.equal(e.hba.disk.udmaMode, -1);
  });

  test("hostile register and memory contents never throw and never reach outside RAM", () => {
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed;
    };
    for (let run = 0; run < 20; run++) {
      const d = started(128);
      const before = d.disk.bytes.slice();
      for (let i = 0; i < 300; i++) {
        // Garbage in the command list and tables, then random register writes.
        const at = d.clb - RAM_BASE + (rnd() % (AHCI.SLOTS * AHCI.CMD_HEADER_SIZE));
        d.ram.u8[at] = rnd() & 0xff;
        const t = d.tables[rnd() % AHCI.SLOTS]! - RAM_BASE + (rnd() % 0x100);
        d.ram.u8[t] = rnd() & 0xff;
        const reg = AHCI.PORT_BASE + ((rnd() % 0x48) & ~3);
        const v = rnd() % 4 === 0 ? 0xffff_ffff : rnd();
        d.w32(rnd() % 8 === 0 ? (rnd() % 0x30) & ~3 : reg, v);
        d.pw(PORT_REG.CMD, PXCMD.FRE | PXCMD.ST);
        d.pw(PORT_REG.CI, rnd());
      }
      assert.equal(d.disk.bytes.length, before.length);
    }
  });
});
