import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { DeviceState } from "../device.js";
import { PCI_CFG, PCI_COMMAND } from "../pci/config.js";
import { PCIE } from "../pci/host.js";
import { PLIC, PlicDevice, type InterruptTarget } from "../plic/device.js";
import { E1000 } from "./device.js";
import { BAR0_PCI, ethFrame, FakeIrq, MockE1000Driver, NIC_DEV, NIC_MAC, RAM_BASE } from "./mock-driver.js";
import { crc32 } from "./packet.js";
import {
  BMCR, CTRL, EECD, ICR, MDIC, PHY, RAH, RCTL, REG, RXCSUM, RXD, STAT, STATUS, TCTL, TXD, TXD_CMD,
} from "./regs.js";

const PEER = [0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc];
const OTHER = [0x52, 0x54, 0x00, 0x99, 0x99, 0x99];
const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
const toNic = (len: number, seed = 0) =>
  ethFrame(NIC_MAC, PEER, 0x0800, Uint8Array.from({ length: len }, (_, i) => (i + seed) & 0xff));

function txReady() {
  const d = new MockE1000Driver().probe();
  d.setupTx(16);
  return d;
}

describe("e1000 transmit", () => {
  test("a legacy descriptor sends the exact frame, writes DD and moves TDH to TDT", () => {
    const d = txReady();
    const f = ethFrame(PEER, NIC_MAC, 0x0800, 200);
    const i = d.queue(d.legacy(f));
    assert.equal(d.txStatus(i), 0);
    d.kick();
    assert.equal(d.backend.sent.length, 1);
    assert.deepEqual(d.backend.sent[0], f);
    assert.equal(d.txStatus(i) & TXD.STA_DD, TXD.STA_DD);
    assert.equal(d.r32(REG.TDH), 1);
    assert.equal(d.nic.stats.txFrames, 1);
    assert.equal(d.nic.stats.txBytes, f.length);
    assert.equal(d.r32(STAT.GPTC), 1);
    assert.equal(d.r32(STAT.GPTC), 0, "statistics clear on read");
    assert.equal(d.r32(STAT.GOTCL), f.length + 4, "octets include the FCS");
    assert.equal(d.r32(REG.ICR) & (ICR.TXDW | ICR.TXQE), ICR.TXDW | ICR.TXQE);
  });

  test("fragments up to EOP make one frame; no RS means no write-back and no TXDW", () => {
    const d = txReady();
    const f = ethFrame(PEER, NIC_MAC, 0x0800, 500);
    const parts = [f.subarray(0, 14), f.subarray(14, 300), f.subarray(300)];
    const idx = parts.map((p, k) => d.queue(d.legacy(p, k === 2 ? TXD_CMD.EOP | TXD_CMD.IFCS : TXD_CMD.IFCS)));
    d.kick();
    assert.deepEqual(d.backend.sent[0], f);
    assert.deepEqual(idx.map((k) => d.txStatus(k)), [0, 0, 0]);
    assert.equal(d.r32(REG.ICR) & (ICR.TXDW | ICR.TXQE), ICR.TXQE);
  });

  test("nothing is sent while TCTL.EN or bus mastering is off; enabling resumes at TDH", () => {
    const d = txReady();
    d.w32(REG.TCTL, TCTL.PSP);
    d.queue(d.legacy(ethFrame(PEER, NIC_MAC, 0x0800, 64)));
    d.kick();
    assert.equal(d.backend.sent.length, 0);
    d.cfgWrite(PCI_CFG.COMMAND, 2, PCI_COMMAND.MEMORY | PCI_COMMAND.IO);
    d.w32(REG.TCTL, TCTL.EN | TCTL.PSP);
    assert.equal(d.backend.sent.length, 0, "no DMA without bus master");
    d.cfgWrite(PCI_CFG.COMMAND, 2, PCI_COMMAND.MEMORY | PCI_COMMAND.IO | PCI_COMMAND.MASTER);
    d.w32(REG.TCTL, TCTL.EN | TCTL.PSP);
    assert.equal(d.backend.sent.length, 1);
  });
});

describe("e1000 receive", () => {
  test("a frame lands in the buffer at RDH: DD|EOP, length with the FCS, RDH advances, RXT0", () => {
    const d = new MockE1000Driver().probe();
    d.setupRx(8);
    const f = toNic(100);
    assert.equal(d.backend.deliver(f), true);
    const r = d.rxDesc(0);
    assert.equal(r.status & (RXD.STAT_DD | RXD.STAT_EOP), RXD.STAT_DD | RXD.STAT_EOP);
    assert.equal(r.status & RXD.STAT_IXSM, RXD.STAT_IXSM, "no checksum offload enabled");
    assert.equal(r.errors, 0);
    assert.equal(r.length, f.length + 4);
    assert.deepEqual(r.data.subarray(0, f.length), f);
    const fcs = crc32(f, 0, f.length);
    const le = [fcs & 0xff, (fcs >>> 8) & 0xff, (fcs >>> 16) & 0xff, fcs >>> 24];
    assert.deepEqual(Array.from(r.data.subarray(f.length)), le);
    assert.equal(d.r32(REG.RDH), 1);
    assert.ok(d.r32(REG.ICR) & ICR.RXT0);
    assert.equal(d.r32(STAT.GPRC), 1);
    assert.equal(d.r32(STAT.GORCL), f.length + 4);
    assert.equal(d.nic.stats.rxFrames, 1);
  });

  test("CRC-32 matches the IEEE check value", () => {
    const b = new TextEncoder().encode("123456789");
    assert.equal(crc32(b, 0, b.length), 0xcbf4_3926);
  });

  test("RCTL.SECRC leaves the FCS off; short frames are padded to 60 bytes", () => {
    const d = new MockE1000Driver().probe();
    d.setupRx(8, 2048, RCTL.EN | RCTL.BAM | RCTL.SECRC);
    d.backend.deliver(ethFrame(BCAST, PEER, 0x0806, 28));
    const r = d.rxDesc(0);
    assert.equal(r.length, 60);
    assert.ok(r.data.subarray(42).every((x) => x === 0));
  });

  test("with no free descriptor (and no packet buffer) the frame is missed: false, MPC, RNBC, RXO", () => {
    const d = new MockE1000Driver(undefined, { rxFifoBytes: 0 }).probe();
    d.setupRx(8, 2048, RCTL.EN | RCTL.BAM, 0);
    assert.equal(d.backend.deliver(toNic(100)), false);
    assert.equal(d.r32(STAT.MPC), 1);
    assert.equal(d.r32(STAT.MPC), 0);
    assert.equal(d.r32(STAT.RNBC), 1);
    assert.ok(d.r32(REG.ICR) & ICR.RXO);
    assert.equal(d.nic.stats.rxMissed, 1);
    assert.equal(d.r32(REG.RDH), 0);
  });

  test("the packet buffer holds frames until RDT moves, then loses them when full", () => {
    const d = new MockE1000Driver(undefined, { rxFifoBytes: 1000 }).probe();
    d.setupRx(8, 2048, RCTL.EN | RCTL.BAM, 1);
    assert.equal(d.backend.deliver(toNic(400, 1)), true);
    assert.equal(d.backend.deliver(toNic(400, 2)), true);
    assert.equal(d.backend.deliver(toNic(400, 3)), true);
    assert.equal(d.backend.deliver(toNic(400, 4)), false, "buffer full");
    assert.equal(d.nic.rxPending, 2);
    assert.equal(d.r32(STAT.MPC), 1);
    d.w32(REG.RDT, 7);
    assert.equal(d.nic.rxPending, 0);
    assert.equal(d.r32(REG.RDH), 3);
    assert.deepEqual([1, 2].map((k) => d.rxDesc(k).data[14]), [2, 3], "order kept");
  });

  test("address filter: other unicast is not ours, UPE takes it; broadcast needs BAM; multicast by the MTA hash", () => {
    const d = new MockE1000Driver().probe();
    d.setupRx(16, 2048, RCTL.EN);
    assert.equal(d.backend.deliver(ethFrame(OTHER, PEER, 0x0800, 50)), true);
    assert.equal(d.backend.deliver(ethFrame(BCAST, PEER, 0x0806, 50)), true);
    const mc = [0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb];
    assert.equal(d.backend.deliver(ethFrame(mc, PEER, 0x0800, 50)), true);
    assert.equal(d.r32(REG.RDH), 0);
    assert.equal(d.nic.stats.rxFiltered, 3);
    // e1000_hash_mc_addr, filter type 0: bits 47:36.
    const hash = ((mc[4]! >> 4) | (mc[5]! << 4)) & 0xfff;
    d.w32(REG.MTA + 4 * (hash >> 5), 1 << (hash & 31));
    d.w32(REG.RCTL, RCTL.EN | RCTL.BAM);
    d.backend.deliver(ethFrame(mc, PEER, 0x0800, 50));
    d.backend.deliver(ethFrame(BCAST, PEER, 0x0806, 50));
    assert.equal(d.r32(REG.RDH), 2);
    // A second station address in RA[1].
    d.w32(REG.RA + 8, OTHER[0]! | (OTHER[1]! << 8) | (OTHER[2]! << 16) | (OTHER[3]! << 24));
    d.w32(REG.RA + 12, OTHER[4]! | (OTHER[5]! << 8) | RAH.AV);
    d.backend.deliver(ethFrame(OTHER, PEER, 0x0800, 50));
    d.w32(REG.RCTL, RCTL.EN | RCTL.UPE);
    d.backend.deliver(ethFrame([0x02, 1, 2, 3, 4, 5], PEER, 0x0800, 50));
    assert.equal(d.r32(REG.RDH), 4);
  });

  test("a frame bigger than the buffer size spans descriptors, EOP on the last", () => {
    const d = new MockE1000Driver().probe();
    d.setupRx(8, 256, RCTL.EN | RCTL.SECRC | (3 << RCTL.BSIZE_SHIFT));
    const f = toNic(586); // 600 bytes
    d.backend.deliver(f);
    const ds = [0, 1, 2].map((k) => d.rxDesc(k));
    assert.deepEqual(ds.map((x) => x.length), [256, 256, 88]);
    const flags = ds.map((x) => x.status & (RXD.STAT_DD | RXD.STAT_EOP));
    assert.deepEqual(flags, [RXD.STAT_DD, RXD.STAT_DD, RXD.STAT_DD | RXD.STAT_EOP]);
    const joined = new Uint8Array([...ds[0]!.data, ...ds[1]!.data, ...ds[2]!.data]);
    assert.deepEqual(joined, f);
    // A frame is never split across the end of the free descriptors: it waits for three.
    d.backend.deliver(f);
    assert.equal(d.r32(REG.RDH), 6);
    assert.equal(d.backend.deliver(f), true);
    assert.equal(d.r32(REG.RDH), 6, "one free descriptor is not enough");
    assert.equal(d.nic.rxPending, 1);
    // Long frames are refused without RCTL.LPE.
    assert.equal(d.backend.deliver(toNic(1600)), false);
    assert.equal(d.r32(STAT.ROC), 1);
  });

  test("receive checksum offload: good TCP/IP gets IPCS|TCPCS, a corrupted segment TCPE", () => {
    const d = new MockE1000Driver().probe();
    d.setupRx(8, 2048, 0);
    d.w32(REG.RXCSUM, RXCSUM.IPOFL | RXCSUM.TUOFL);
    d.w32(REG.RCTL, RCTL.EN | RCTL.BAM);
    const seg = new Uint8Array(40 + 64);
    seg.set([0x45, 0, 0, seg.length, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1], 0);
    seg.set([0, 80, 4, 210, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x10, 0xff, 0xff], 20);
    for (let i = 40; i < seg.length; i++) seg[i] = i;
    const sum = (b: Uint8Array, s: number, e: number, init = 0) => {
      let x = init;
      for (let i = s; i < e; i += 2) x += (b[i]! << 8) | b[i + 1]!;
      while (x > 0xffff) x = (x & 0xffff) + (x >>> 16);
      return x;
    };
    const ipc = 0xffff - sum(seg, 0, 20);
    seg[10] = ipc >> 8;
    seg[11] = ipc & 0xff;
    const tc = 0xffff - sum(seg, 20, seg.length, sum(seg, 12, 20) + 6 + 84);
    seg[36] = tc >> 8;
    seg[37] = tc & 0xff;
    d.backend.deliver(ethFrame(NIC_MAC, PEER, 0x0800, seg));
    const bad = seg.slice();
    bad[60] = bad[60]! ^ 1;
    d.backend.deliver(ethFrame(NIC_MAC, PEER, 0x0800, bad));
    const [ok, ko] = [d.rxDesc(0), d.rxDesc(1)];
    assert.equal(ok.status & (RXD.STAT_IPCS | RXD.STAT_TCPCS | RXD.STAT_IXSM), RXD.STAT_IPCS | RXD.STAT_TCPCS);
    assert.equal(ok.errors, 0);
    assert.equal(ko.errors, RXD.ERR_TCPE);
  });

  test("a whole GSO packet from a pv peer arrives as wire-sized frames, checksums good (IPCS|TCPCS)", () => {
    const d = new MockE1000Driver().probe();
    d.setupRx(8, 2048, 0);
    d.w32(REG.RXCSUM, RXCSUM.IPOFL | RXCSUM.TUOFL);
    d.w32(REG.RCTL, RCTL.EN | RCTL.BAM);
    // 4000 bytes of TCP payload with only the pseudo-header sum in place, as a pv sender leaves it.
    const ip = new Uint8Array(40 + 4000);
    ip.set([0x45, 0, (ip.length >> 8) & 0xff, ip.length & 0xff, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1], 0);
    ip.set([0, 80, 4, 210, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff], 20);
    for (let i = 40; i < ip.length; i++) ip[i] = i & 0xff;
    const f = ethFrame(NIC_MAC, PEER, 0x0800, ip);
    assert.equal(d.backend.deliver(f, { mss: 1460, l4Start: 34, hdrLen: 54 }), true);
    const lens = [0, 1, 2].map((i) => d.rxDesc(i).length - 4);
    assert.deepEqual(lens, [54 + 1460, 54 + 1460, 54 + 4000 - 2 * 1460]);
    for (let i = 0; i < 3; i++) {
      const r = d.rxDesc(i);
      assert.equal(r.status & (RXD.STAT_IPCS | RXD.STAT_TCPCS), RXD.STAT_IPCS | RXD.STAT_TCPCS, `segment ${i}`);
      assert.equal(r.errors, 0, `segment ${i}`);
    }
    assert.equal(d.nic.stats.rxFrames, 3);
  });

  test("CTRL.VME strips an 802.1Q tag into the special field with VP", () => {
    const d = new MockE1000Driver().probe();
    d.w32(REG.CTRL, d.r32(REG.CTRL) | CTRL.VME);
    d.setupRx(8, 2048, RCTL.EN | RCTL.SECRC);
    const inner = toNic(80);
    const tagged = new Uint8Array([...inner.subarray(0, 12), 0x81, 0x00, 0x30, 0x05, ...inner.subarray(12)]);
    d.backend.deliver(tagged);
    const r = d.rxDesc(0);
    assert.equal(r.status & RXD.STAT_VP, RXD.STAT_VP);
    assert.equal(r.special, 0x3005);
    assert.deepEqual(r.data, inner);
  });
});

class FakeHart implements InterruptTarget {
  mip = 0;
  setInterruptPending(bit: number, level: boolean): void {
    this.mip = level ? this.mip | (1 << bit) : this.mip & ~(1 << bit);
  }
}

describe("e1000 interrupts", () => {
  test("the PLIC line (0x21 for 00:01.0 INTA) rises only for causes enabled in IMS and falls on the ICR read", () => {
    const plic = new PlicDevice([new FakeHart()]);
    const d = new MockE1000Driver([0x20, 0x21, 0x22, 0x23].map((n) => plic.irqLine(n))).probe();
    const pending = () => ((plic.read(PLIC.PENDING_BASE + 4, 4) >>> 1) & 1) === 1;
    d.setupRx(8);
    d.backend.deliver(toNic(60));
    assert.equal(pending(), false, "RXT0 latched but masked");
    d.w32(REG.IMS, ICR.RXT0 | ICR.TXDW);
    assert.equal(pending(), true);
    assert.equal(d.r32(REG.ICR) & ICR.RXT0, ICR.RXT0);
    assert.equal(pending(), false);
    assert.equal(d.r32(REG.ICR), 0, "read clears");
    d.w32(REG.ICS, ICR.TXDW);
    assert.equal(pending(), true);
    d.w32(REG.IMC, 0xffff_ffff);
    assert.equal(pending(), false);
    assert.equal(d.r32(REG.IMS), 0);
    d.w32(REG.IMS, ICR.TXDW);
    assert.equal(pending(), true);
    d.w32(REG.ICR, ICR.TXDW); // write 1 to clear
    assert.equal(pending(), false);
  });

  test("Interrupt Disable in the command register holds the line low", () => {
    const lines = [new FakeIrq(), new FakeIrq(), new FakeIrq(), new FakeIrq()];
    const d = new MockE1000Driver(lines).probe();
    d.cfgWrite(PCI_CFG.COMMAND, 2, PCI_COMMAND.MEMORY | PCI_COMMAND.MASTER | PCI_COMMAND.INTX_DISABLE);
    d.w32(REG.IMS, ICR.LSC);
    d.w32(REG.ICS, ICR.LSC);
    assert.equal(lines[1]!.level, false);
    d.cfgWrite(PCI_CFG.COMMAND, 2, PCI_COMMAND.MEMORY | PCI_COMMAND.MASTER);
    assert.equal(lines[1]!.level, true);
  });

  test("with a timer, ITR spaces assertions ITR × 256 ns apart", () => {
    let now = 0;
    const due: { at: number; fn: () => void }[] = [];
    const timer = { now: () => now, schedule: (ms: number, fn: () => void) => void due.push({ at: now + ms, fn }) };
    const lines = [new FakeIrq(), new FakeIrq(), new FakeIrq(), new FakeIrq()];
    const d = new MockE1000Driver(lines, { interruptTimer: timer }).probe();
    d.w32(REG.ITR, 3906); // ~1 ms
    d.w32(REG.IMS, ICR.TXDW);
    d.w32(REG.ICS, ICR.TXDW);
    assert.equal(lines[1]!.level, true);
    d.r32(REG.ICR);
    now = 0.5;
    d.w32(REG.ICS, ICR.TXDW);
    assert.equal(lines[1]!.level, false, "throttled");
    assert.equal(due.length, 1);
    now = due[0]!.at;
    due[0]!.fn();
    assert.equal(lines[1]!.level, true);
    assert.equal(d.nic.stats.interrupts, 2);
  });
});

describe("e1000 reset, registers, save/load", () => {
  test("CTRL.RST through the I/O BAR resets the MAC and reloads RAL0/RAH0 from the EEPROM", () => {
    const d = txReady();
    d.w32(REG.IMS, ICR.TXDW);
    d.w32(REG.RA, 0);
    d.w32(REG.RA + 4, 0);
    d.w32(REG.MTA, 0xffff_ffff);
    d.ioWrite(REG.CTRL, d.r32(REG.CTRL) | CTRL.RST);
    assert.equal(d.r32(REG.CTRL) & CTRL.RST, 0);
    assert.equal(d.r32(REG.IMS), 0);
    assert.equal(d.r32(REG.TDLEN), 0);
    assert.equal(d.r32(REG.TCTL), 0);
    assert.equal(d.r32(REG.MTA), 0);
    assert.equal(d.r32(REG.RA), (NIC_MAC[0]! | (NIC_MAC[1]! << 8) | (NIC_MAC[2]! << 16) | (NIC_MAC[3]! << 24)) >>> 0);
    assert.equal(d.r32(REG.RA + 4), (NIC_MAC[4]! | (NIC_MAC[5]! << 8) | RAH.AV) >>> 0);
    assert.equal(d.nic.stats.exits["IODATA"], 1);
    assert.equal(d.nic.stats.exits["CTRL"]! >= 2, true);
  });

  test("plain registers keep their writable bits; unknown offsets read 0; sub-dword accesses merge", () => {
    const d = new MockE1000Driver().probe();
    d.w32(REG.RDLEN, 0xffff_ffff);
    assert.equal(d.r32(REG.RDLEN), 0x000f_ff80);
    d.w32(REG.TDBAL, 0xffff_ffff);
    assert.equal(d.r32(REG.TDBAL), 0xffff_fff0);
    d.w32(0x1_fff8, 0x1234);
    assert.equal(d.r32(0x1_fff8), 0);
    assert.equal(d.r32(REG.PBA), 0x0010_0030);
    const base = BAR0_PCI - 0x4000_0000;
    d.host.mmioWindow.write(base + REG.FCAL + 1, 1, 0xab);
    d.host.mmioWindow.write(base + REG.FCAL + 2, 2, 0xcdef);
    assert.equal(d.r32(REG.FCAL), 0xcdef_ab00);
    assert.equal(d.host.mmioWindow.read(base + REG.FCAL + 2, 2), 0xcdef);
    assert.equal(d.host.mmioWindow.read(base + REG.FCAL + 1, 1), 0xab);
    d.w32(REG.IMS, ICR.RXT0 | ICR.TXDW);
    d.host.mmioWindow.write(base + REG.IMC, 1, ICR.TXDW);
    assert.equal(d.r32(REG.IMS), ICR.RXT0);
  });

  test("save/load (through JSON) restores registers, tables, EEPROM and PHY; the rings carry on", () => {
    const a = txReady();
    a.setupRx(8);
    a.w32(REG.IMS, ICR.RXT0);
    a.w32(REG.MTA + 40, 0x8000_0001);
    a.w32(REG.VFTA + 8, 7);
    a.queue(a.legacy(ethFrame(PEER, NIC_MAC, 0x0800, 100)));
    a.kick();
    const saved = JSON.parse(JSON.stringify(a.host.ecam.save())) as DeviceState;

    const b = new MockE1000Driver();
    b.host.ecam.load(saved);
    const checked = [REG.IMS, REG.MTA + 40, REG.VFTA + 8, REG.TDBAL, REG.TDLEN, REG.TDH, REG.RDBAL, REG.RDT];
    for (const reg of [...checked, REG.RCTL, REG.TCTL, REG.RA, REG.RA + 4]) {
      assert.equal(b.r32(reg), a.r32(reg), `register 0x${reg.toString(16)}`);
    }
    assert.deepEqual(b.nic.eeprom.words, a.nic.eeprom.words);
    // Same guest RAM layout: copy it, as a VM snapshot would.
    b.ram.u8.set(a.ram.u8);
    b.txRing = a.txRing;
    b.txCount = a.txCount;
    b.txTail = a.txTail;
    b.queue(b.legacy(ethFrame(PEER, NIC_MAC, 0x0800, 70)));
    b.kick();
    assert.equal(b.backend.sent.length, 1);
    b.rxRing = a.rxRing;
    b.rxBufs = a.rxBufs;
    b.backend.deliver(toNic(90));
    assert.equal(b.rxDesc(0).length, 90 + 14 + 4);
  });
});

describe("e1000 hostile guest", () => {
  test("rings outside RAM, indices beyond the ring and absurd descriptors do not throw", () => {
    const d = txReady();
    d.setupRx(8);
    // A descriptor whose buffer is outside RAM, one of absurd length, then a good one.
    d.queue({ addr: 0x1000, lower: ((TXD_CMD.EOP | TXD_CMD.RS) << 24) | 64, upper: 0 });
    d.queue({ addr: RAM_BASE, lower: ((TXD_CMD.EOP | TXD_CMD.RS) << 24) | 0xffff, upper: 0 });
    const dataCmd = TXD_CMD.EOP | TXD_CMD.RS | TXD_CMD.DEXT;
    d.queue({ addr: RAM_BASE + 0x3f_fff0, lower: (dataCmd << 24) | (TXD.DTYP_DATA << 20) | 0xf_ffff, upper: 0 });
    const good = d.queue(d.legacy(ethFrame(PEER, NIC_MAC, 0x0800, 64)));
    d.kick();
    assert.equal(d.backend.sent.length, 1, "only the good frame goes out");
    assert.equal(d.nic.stats.txDropped, 3);
    assert.equal(d.txStatus(good) & TXD.STA_DD, TXD.STA_DD);
    assert.ok(d.nic.stats.dmaErrors >= 2);
    // TDT beyond the ring: ignored, counted.
    const errs = d.nic.stats.ringErrors;
    d.w32(REG.TDT, 999);
    assert.equal(d.r32(REG.TDH), good + 1);
    assert.equal(d.nic.stats.ringErrors, errs + 1);
    // A ring partly outside RAM.
    d.w32(REG.TDBAL, RAM_BASE + (4 << 20) - 64);
    d.w32(REG.TDH, 0);
    d.w32(REG.TDT, 3);
    assert.equal(d.r32(REG.TDH), 0);
    // Receive into a ring outside RAM and into buffers outside RAM.
    d.w32(REG.RDBAL, 0x1000);
    assert.equal(d.backend.deliver(toNic(100)), false);
    d.w32(REG.RDBAL, d.rxRing);
    d.writeDesc(d.rxRing, { addr: 0xffff_0000, lower: 0, upper: 0 });
    assert.equal(d.backend.deliver(toNic(100)), true);
    assert.equal(d.rxDesc(0).errors & RXD.ERR_RXE, RXD.ERR_RXE);
  });

  test("random register traffic, rings and descriptors never throw", () => {
    const d = new MockE1000Driver().probe();
    let seed = 99;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 0x1_0000_0000);
    const regs = [
      ...[REG.TDBAL, REG.TDLEN, REG.TDH, REG.TDT, REG.TCTL, REG.RDBAL, REG.RDLEN, REG.RDH, REG.RDT, REG.RCTL],
      ...[REG.CTRL, REG.EECD, REG.MDIC, REG.ICS, REG.IMS, REG.RXCSUM, REG.ITR, REG.EERD],
    ];
    const ringArea = RAM_BASE + 0x10_0000;
    for (let i = 0; i < 30_000; i++) {
      const p = rnd();
      if (p < 0.3) {
        const reg = regs[Math.floor(rnd() * regs.length)]!;
        const ring = reg === REG.TDBAL || reg === REG.RDBAL;
        const v = ring ? ringArea + Math.floor(rnd() * 64) * 16 : Math.floor(rnd() * 0x1_0000_0000);
        d.w32(reg, reg === REG.CTRL ? v & ~CTRL.RST : v);
      } else if (p < 0.5) {
        // Garbage descriptors in the ring area.
        d.dv.setUint32(ringArea - RAM_BASE + Math.floor(rnd() * 0x4000) * 4, Math.floor(rnd() * 0x1_0000_0000), true);
      } else if (p < 0.7) {
        const w = ([1, 2, 4] as const)[Math.floor(rnd() * 3)]!;
        const off = Math.floor(rnd() * 0x2_0000);
        if (rnd() < 0.5) d.host.mmioWindow.write(BAR0_PCI - 0x4000_0000 + off, w, Math.floor(rnd() * 0x1_0000_0000));
        else d.host.mmioWindow.read(BAR0_PCI - 0x4000_0000 + off, w);
      } else if (p < 0.8) {
        d.host.ioWindow.write(0x1000 + Math.floor(rnd() * 64), 4, Math.floor(rnd() * 0x2_0000));
      } else {
        const len = Math.floor(rnd() * 2000);
        d.backend.deliver(ethFrame(rnd() < 0.5 ? NIC_MAC : BCAST, PEER, 0x0800, len));
      }
    }
    assert.ok(d.nic.stats.exits["TDT"]! > 0);
  });

  test("a bad MAC length or packet-buffer size is a host error", () => {
    const d = new MockE1000Driver();
    assert.throws(() => new E1000(d.ram, d.backend, { mac: new Uint8Array(5) }));
    assert.throws(() => new E1000(d.ram, d.backend, { mac: new Uint8Array(6), rxFifoBytes: -1 }));
  });
});

describe("e1000 as Linux 6.1 drives it", () => {
  test("probe (BAR sizing, reset through the I/O BAR, PHY setup) and open bring the link up and move a frame each way", () => {
    const lines = [new FakeIrq(), new FakeIrq(), new FakeIrq(), new FakeIrq()];
    const d = new MockE1000Driver(lines);
    const cfg = (reg: number) => (NIC_DEV << PCIE.DEVICE_SHIFT) | reg;
    // pci_read_bases: size each BAR with decode off, then the assignment (I/O port 0 is a valid port).
    const sizes = [0, 1, 2, 3, 4, 5].map((i) => {
      d.host.ecam.write(cfg(PCI_CFG.BAR0 + 4 * i), 4, 0xffff_ffff);
      return d.host.ecam.read(cfg(PCI_CFG.BAR0 + 4 * i), 4) >>> 0;
    });
    assert.deepEqual(sizes, [0xfffe_0000, 0xffff_ffc1, 0, 0, 0, 0]);
    d.cfgWrite(PCI_CFG.BAR0, 4, BAR0_PCI);
    d.cfgWrite(PCI_CFG.BAR0 + 4, 4, 0);
    d.cfgWrite(PCI_CFG.COMMAND, 2, PCI_COMMAND.MEMORY | PCI_COMMAND.IO | PCI_COMMAND.MASTER);
    const ioWrite = (reg: number, v: number) => {
      d.host.ioWindow.write(0, 4, reg);
      d.host.ioWindow.write(4, 4, v);
    };
    const phy = (op: number, reg: number, data = 0) => {
      d.w32(REG.MDIC, op | (PHY.ADDRESS << MDIC.PHY_SHIFT) | (reg << MDIC.REG_SHIFT) | data);
      const v = d.r32(REG.MDIC);
      assert.ok(v & MDIC.READY);
      return v & 0xffff;
    };
    // e1000_reset_hw
    d.w32(REG.IMC, 0xffff_ffff);
    d.w32(REG.RCTL, 0);
    d.w32(REG.TCTL, TCTL.PSP);
    ioWrite(REG.CTRL, d.r32(REG.CTRL) | CTRL.RST);
    d.w32(REG.IMC, 0xffff_ffff);
    d.r32(REG.ICR);
    assert.equal(d.r32(REG.EECD) & EECD.SIZE, 0);
    // e1000_init_hw → setup_copper_link (82540: SLU, M88 setup, autoneg)
    d.w32(REG.CTRL, (d.r32(REG.CTRL) | CTRL.SLU) & ~(CTRL.FRCSPD | CTRL.FRCDPX));
    assert.equal(((phy(MDIC.OP_READ, PHY.ID1) << 16) | (phy(MDIC.OP_READ, PHY.ID2) & 0xfff0)) >>> 0, 0x0141_0c20);
    phy(MDIC.OP_WRITE, PHY.PSCR, phy(MDIC.OP_READ, PHY.PSCR) | 0x0800 | 0x0060);
    phy(MDIC.OP_WRITE, PHY.BMCR, phy(MDIC.OP_READ, PHY.BMCR) | BMCR.RESET);
    phy(MDIC.OP_WRITE, PHY.ANAR, 0x01e1);
    phy(MDIC.OP_WRITE, PHY.GTCR, 0x0200);
    phy(MDIC.OP_WRITE, PHY.BMCR, phy(MDIC.OP_READ, PHY.BMCR) | BMCR.AN_ENABLE | BMCR.RESTART_AN);
    phy(MDIC.OP_READ, PHY.BMSR);
    assert.equal(phy(MDIC.OP_READ, PHY.BMSR) & 0x24, 0x24);
    // e1000_open: rings, RCTL, IMS_ENABLE_MASK, then the LSC kick that starts the watchdog.
    d.setupTx(256);
    d.setupRx(256, 2048, RCTL.EN | RCTL.BAM | RCTL.SECRC);
    d.w32(REG.RXCSUM, RXCSUM.TUOFL);
    d.w32(REG.TCTL, d.r32(REG.TCTL) & ~TCTL.EN); // Linux enables transmit only once the watchdog sees link
    d.w32(REG.IMS, ICR.RXT0 | ICR.TXDW | ICR.RXDMT0 | ICR.RXSEQ | ICR.LSC);
    d.w32(REG.ICS, ICR.LSC);
    assert.equal(lines[1]!.level, true, "INTA of 00:01.0 on host line 1 (PLIC 0x21)");
    assert.equal(d.r32(REG.ICR) & ICR.LSC, ICR.LSC);
    assert.equal(lines[1]!.level, false);
    // e1000_watchdog: link up at 1000/full, enable transmit.
    const up = STATUS.LU | STATUS.SPEED_1000 | STATUS.FD;
    assert.equal(d.r32(REG.STATUS) & up, up);
    d.w32(REG.TCTL, d.r32(REG.TCTL) | TCTL.EN);
    const out = ethFrame(PEER, NIC_MAC, 0x0806, 28);
    d.queue(d.legacy(out));
    d.kick();
    assert.equal(d.backend.sent.length, 1);
    assert.equal(lines[1]!.level, true, "TXDW");
    d.r32(REG.ICR);
    assert.equal(d.backend.deliver(toNic(200)), true);
    assert.equal(d.rxDesc(0).status & (RXD.STAT_DD | RXD.STAT_EOP), RXD.STAT_DD | RXD.STAT_EOP);
    assert.equal(lines[1]!.level, true, "RXT0");
  });
});
