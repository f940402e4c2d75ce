import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { DeviceState } from "../device.js";
import { PCI_BAR, PCI_CFG, PCI_COMMAND, PCI_STATUS, type PciBar, type PciFunction, type PciPort } from "./config.js";
import { PCIE, PcieHost } from "./host.js";

class FakeIrq {
  level = false;
  edges = 0;
  set(level: boolean): void {
    if (level && !this.level) this.edges++;
    this.level = level;
  }
}

/** An endpoint that records BAR accesses and lets the test drive its INTx pin. */
class TestFunction implements PciFunction {
  readonly identity;
  readonly bars: readonly (PciBar | null)[];
  port: PciPort | null = null;
  log: string[] = [];
  resets = 0;
  constructor(pin = 1, bars: (PciBar | null)[] = [{ kind: "mem32", size: 0x2_0000 }, { kind: "io", size: 0x40 }]) {
    this.identity = {
      vendorId: 0x8086,
      deviceId: 0x100e,
      classCode: 0x02_00_00,
      revision: 3,
      subsystemVendorId: 0x8086,
      subsystemId: 0x001e,
      interruptPin: pin,
    };
    this.bars = bars;
  }
  barRead(bar: number, offset: number, width: 1 | 2 | 4): number {
    this.log.push(`r${bar}:${offset.toString(16)}/${width}`);
    return 0x1234_5678 + bar;
  }
  barWrite(bar: number, offset: number, width: 1 | 2 | 4, value: number): void {
    this.log.push(`w${bar}:${offset.toString(16)}/${width}=${(value >>> 0).toString(16)}`);
  }
  connect(port: PciPort): void {
    this.port = port;
  }
  reset(): void {
    this.resets++;
  }
  save(): DeviceState {
    return { marker: 7 };
  }
  load(s: DeviceState): void {
    this.log.push(`load ${String(s["marker"])}`);
  }
}

function setup() {
  const lines = [new FakeIrq(), new FakeIrq(), new FakeIrq(), new FakeIrq()];
  const host = new PcieHost({ intx: lines });
  return { host, lines };
}

const cfg = (dev: number, reg: number) => (dev << PCIE.DEVICE_SHIFT) | reg;
const rd = (h: PcieHost, dev: number, reg: number, w: 1 | 2 | 4 = 4) => h.ecam.read(cfg(dev, reg), w) >>> 0;
const wr = (h: PcieHost, dev: number, reg: number, v: number, w: 1 | 2 | 4 = 4) => h.ecam.write(cfg(dev, reg), w, v);

/** What Linux's pci_read_bases + assignment do for BARs 0 and 1, then enable. */
function assign(h: PcieHost, dev: number, mem: number, io: number, command = PCI_COMMAND.MEMORY | PCI_COMMAND.IO) {
  wr(h, dev, PCI_CFG.BAR0, mem);
  wr(h, dev, PCI_CFG.BAR0 + 4, io);
  wr(h, dev, PCI_CFG.COMMAND, command, 2);
}

describe("PCIe host: configuration space (ECAM)", () => {
  test("the host bridge at 00:00.0 has QEMU gpex's identity and class 0x0600", () => {
    const { host } = setup();
    assert.equal(rd(host, 0, PCI_CFG.VENDOR_ID), 0x0008_1b36);
    assert.equal(rd(host, 0, PCI_CFG.REVISION_ID) >>> 8, 0x06_00_00);
    assert.equal(rd(host, 0, PCI_CFG.SUBSYSTEM_VENDOR_ID), 0x1100_1af4);
    assert.equal(rd(host, 0, PCI_CFG.HEADER_TYPE, 1), 0);
  });

  test("an endpoint's header: ids, class, revision, subsystem, pin, no capabilities", () => {
    const { host } = setup();
    host.attach(1, new TestFunction());
    assert.equal(rd(host, 1, PCI_CFG.VENDOR_ID, 2), 0x8086);
    assert.equal(rd(host, 1, PCI_CFG.DEVICE_ID, 2), 0x100e);
    assert.equal(rd(host, 1, PCI_CFG.REVISION_ID), 0x0200_0003);
    assert.equal(rd(host, 1, PCI_CFG.SUBSYSTEM_VENDOR_ID), 0x001e_8086);
    assert.equal(rd(host, 1, PCI_CFG.INTERRUPT_PIN, 1), 1);
    assert.equal(rd(host, 1, PCI_CFG.STATUS, 2) & PCI_STATUS.CAP_LIST, 0);
    assert.equal(rd(host, 1, PCI_CFG.ROM_ADDRESS), 0);
    // Byte and word reads see the same little-endian bytes as a dword read.
    assert.equal(rd(host, 1, PCI_CFG.DEVICE_ID + 1, 1), 0x10);
  });

  test("absent devices, functions and buses read all ones and ignore writes", () => {
    const { host } = setup();
    assert.equal(rd(host, 5, 0), 0xffff_ffff);
    assert.equal(rd(host, 5, 0, 2), 0xffff);
    assert.equal(host.ecam.read((1 << PCIE.FUNCTION_SHIFT) | 0, 4) >>> 0, 0xffff_ffff);
    assert.equal(host.ecam.read(1 << PCIE.BUS_SHIFT, 4) >>> 0, 0xffff_ffff);
    wr(host, 5, PCI_CFG.COMMAND, 0xffff);
    assert.ok(host.stats.absentConfigReads >= 4);
    assert.equal(host.stats.absentConfigWrites, 1);
  });

  test("read-only fields ignore writes; command keeps only implemented bits; status errors are write-1-to-clear", () => {
    const { host } = setup();
    host.attach(1, new TestFunction());
    wr(host, 1, PCI_CFG.VENDOR_ID, 0);
    wr(host, 1, PCI_CFG.INTERRUPT_PIN, 4, 1);
    wr(host, 1, PCI_CFG.COMMAND, 0xffff, 2);
    assert.equal(rd(host, 1, PCI_CFG.VENDOR_ID, 2), 0x8086);
    assert.equal(rd(host, 1, PCI_CFG.INTERRUPT_PIN, 1), 1);
    assert.equal(rd(host, 1, PCI_CFG.COMMAND, 2), PCI_COMMAND.WRITABLE);
    wr(host, 1, PCI_CFG.INTERRUPT_LINE, 0x21, 1);
    assert.equal(rd(host, 1, PCI_CFG.INTERRUPT_LINE, 1), 0x21);
    wr(host, 1, PCI_CFG.STATUS, 0xffff, 2);
    assert.equal(rd(host, 1, PCI_CFG.STATUS, 2), 0);
  });

  test("BAR sizing: all ones reads back the size mask with the type bits", () => {
    const { host } = setup();
    const bars: PciBar[] = [{ kind: "mem32", size: 0x2_0000 }, { kind: "io", size: 0x40 }];
    host.attach(2, new TestFunction(1, [...bars, null, { kind: "mem32", size: 0x1000, prefetchable: true }]));
    assert.equal(rd(host, 2, PCI_CFG.BAR0), 0);
    assert.equal(rd(host, 2, PCI_CFG.BAR0 + 4), PCI_BAR.SPACE_IO);
    for (let i = 0; i < 6; i++) wr(host, 2, PCI_CFG.BAR0 + 4 * i, 0xffff_ffff);
    assert.equal(rd(host, 2, PCI_CFG.BAR0), 0xfffe_0000);
    assert.equal(rd(host, 2, PCI_CFG.BAR0 + 4), 0xffff_ffc1);
    assert.equal(rd(host, 2, PCI_CFG.BAR0 + 8), 0, "unimplemented BAR reads 0");
    assert.equal(rd(host, 2, PCI_CFG.BAR0 + 12), 0xffff_f008);
    // An address is kept to the BAR's alignment.
    wr(host, 2, PCI_CFG.BAR0, 0x4013_3456);
    assert.equal(rd(host, 2, PCI_CFG.BAR0), 0x4012_0000);
    // Byte-wise programming (hostile but legal) lands the same way.
    wr(host, 2, PCI_CFG.BAR0 + 3, 0x41, 1);
    assert.equal(rd(host, 2, PCI_CFG.BAR0), 0x4112_0000);
    // The host's own view (for naming registers in exit counters) reads no config register.
    const reads = host.stats.functions["00:02.0"]!.configReads;
    assert.equal(host.barBase(2, 0), 0x4112_0000);
    assert.equal(host.barBase(2, 2), -1, "unimplemented BAR");
    assert.equal(host.barBase(9, 0), -1, "no such function");
    assert.equal(host.stats.functions["00:02.0"]!.configReads, reads);
  });

  test("attach refuses device 0, 32 and a taken slot; impossible BARs are refused", () => {
    const { host } = setup();
    assert.throws(() => host.attach(0, new TestFunction()));
    assert.throws(() => host.attach(32, new TestFunction()));
    host.attach(3, new TestFunction());
    assert.throws(() => host.attach(3, new TestFunction()));
    assert.throws(() => host.attach(4, new TestFunction(1, [{ kind: "mem32", size: 0x3000 }])));
    assert.throws(() => host.attach(4, new TestFunction(1, [{ kind: "io", size: 512 }])));
  });
});

describe("PCIe host: BAR decoding through the windows", () => {
  test("nothing decodes until the command register enables the space", () => {
    const { host } = setup();
    const fn = new TestFunction();
    host.attach(1, fn);
    assign(host, 1, 0x4000_0000, 0x1000, 0);
    assert.equal(host.mmioWindow.read(0x8, 4), -1);
    assert.equal(host.mmioWindow.read(0x8, 2), 0xffff);
    assert.equal(host.ioWindow.read(0x1004, 1), 0xff);
    host.mmioWindow.write(0x8, 4, 1);
    assert.deepEqual(fn.log, []);
    assert.equal(host.stats.unclaimedReads, 3);
    assert.equal(host.stats.unclaimedWrites, 1);

    wr(host, 1, PCI_CFG.COMMAND, PCI_COMMAND.MEMORY, 2);
    assert.equal(host.mmioWindow.read(0x8, 4), 0x1234_5678);
    assert.equal(host.ioWindow.read(0x1004, 4) >>> 0, 0xffff_ffff, "I/O space still disabled");
    wr(host, 1, PCI_CFG.COMMAND, PCI_COMMAND.MEMORY | PCI_COMMAND.IO, 2);
    host.ioWindow.write(0x1004, 4, 0xdead_beef);
    assert.deepEqual(fn.log, ["r0:8/4", "w1:4/4=deadbeef"]);
    assert.equal(host.stats.functions["00:01.0"]!.barReads[0], 1);
    assert.equal(host.stats.functions["00:01.0"]!.barWrites[1], 1);
  });

  test("accesses route by address to the right function and BAR offset; outside any BAR is unclaimed", () => {
    const { host } = setup();
    const a = new TestFunction();
    const b = new TestFunction();
    host.attach(1, a);
    host.attach(2, b);
    assign(host, 1, 0x4000_0000, 0x1000);
    assign(host, 2, 0x4002_0000, 0x1040);
    host.mmioWindow.read(0x1_fffc, 4);
    host.mmioWindow.read(0x2_0010, 2);
    host.ioWindow.read(0x1044, 4);
    host.mmioWindow.read(0x4_0000, 4);
    // Straddling the end of a BAR is not claimed.
    host.mmioWindow.read(0x1_fffe, 4);
    assert.deepEqual(a.log, ["r0:1fffc/4"]);
    assert.deepEqual(b.log, ["r0:10/2", "r1:4/4"]);
    assert.equal(host.stats.unclaimedReads, 2);
    // Moving a BAR moves the decode.
    wr(host, 1, PCI_CFG.BAR0, 0x5000_0000);
    host.mmioWindow.read(0x1000_0004, 4);
    assert.equal(a.log.at(-1), "r0:4/4");
  });

  test("a window built for another base maps PCI address = CPU address", () => {
    const lines = [new FakeIrq(), new FakeIrq(), new FakeIrq(), new FakeIrq()];
    const host = new PcieHost({ intx: lines, mmio: { base: 0x6000_0000, size: 0x1000_0000 } });
    const fn = new TestFunction();
    host.attach(1, fn);
    assign(host, 1, 0x6000_0000, 0x0);
    host.mmioWindow.write(0x40, 4, 5);
    host.ioWindow.write(0x0, 4, 6);
    assert.deepEqual(fn.log, ["w0:40/4=5", "w1:0/4=6"]);
  });
});

describe("PCIe host: INTx", () => {
  test("device d pin p drives host line (d + p - 1) mod 4, the device tree's swizzle", () => {
    for (const [dev, pin, line] of [[1, 1, 1], [2, 1, 2], [3, 2, 0], [4, 4, 3], [5, 3, 3]] as const) {
      const { host, lines } = setup();
      const fn = new TestFunction(pin);
      host.attach(dev, fn);
      fn.port!.intx.set(true);
      assert.deepEqual(lines.map((l) => l.level), [0, 1, 2, 3].map((i) => i === line), `dev ${dev} pin ${pin}`);
      fn.port!.intx.set(false);
      assert.equal(lines[line]!.level, false);
    }
  });

  test("Interrupt Disable gates the line; status bit 3 shows the pin regardless", () => {
    const { host, lines } = setup();
    const fn = new TestFunction();
    host.attach(1, fn);
    wr(host, 1, PCI_CFG.COMMAND, PCI_COMMAND.INTX_DISABLE, 2);
    fn.port!.intx.set(true);
    assert.equal(lines[1]!.level, false);
    assert.equal(rd(host, 1, PCI_CFG.STATUS, 2) & PCI_STATUS.INTERRUPT, PCI_STATUS.INTERRUPT);
    wr(host, 1, PCI_CFG.COMMAND, 0, 2);
    assert.equal(lines[1]!.level, true);
    fn.port!.intx.set(false);
    assert.equal(rd(host, 1, PCI_CFG.STATUS, 2) & PCI_STATUS.INTERRUPT, 0);
    assert.equal(lines[1]!.level, false);
  });

  test("a shared line stays up while any function on it asserts", () => {
    const { host, lines } = setup();
    const a = new TestFunction(1); // dev 1 INTA → line 1
    const b = new TestFunction(4); // dev 2 INTD → line (2+4-1)%4 = 1
    host.attach(1, a);
    host.attach(2, b);
    a.port!.intx.set(true);
    b.port!.intx.set(true);
    a.port!.intx.set(false);
    assert.equal(lines[1]!.level, true);
    b.port!.intx.set(false);
    assert.equal(lines[1]!.level, false);
    assert.equal(lines[1]!.edges, 1);
  });

  test("bus master follows the command register", () => {
    const { host } = setup();
    const fn = new TestFunction();
    host.attach(1, fn);
    assert.equal(fn.port!.busMaster(), false);
    wr(host, 1, PCI_CFG.COMMAND, PCI_COMMAND.MASTER, 2);
    assert.equal(fn.port!.busMaster(), true);
  });
});

describe("PCIe host: reset, save/load, hostile guest", () => {
  test("reset returns config spaces to power-on and resets functions", () => {
    const { host } = setup();
    const fn = new TestFunction();
    host.attach(1, fn);
    assign(host, 1, 0x4000_0000, 0x1000);
    host.ecam.reset();
    assert.equal(rd(host, 1, PCI_CFG.BAR0), 0);
    assert.equal(rd(host, 1, PCI_CFG.COMMAND, 2), 0);
    assert.equal(fn.resets, 1);
    assert.equal(host.mmioWindow.read(0, 4), -1);
  });

  test("save/load restores BARs, command and the functions' state; decode follows", () => {
    const a = setup();
    a.host.attach(1, new TestFunction());
    assign(a.host, 1, 0x4010_0000, 0x2000);
    const saved = JSON.parse(JSON.stringify(a.host.ecam.save())) as DeviceState;
    const b = setup();
    const fn = new TestFunction();
    b.host.attach(1, fn);
    b.host.ecam.load(saved);
    assert.equal(rd(b.host, 1, PCI_CFG.BAR0), 0x4010_0000);
    assert.equal(rd(b.host, 1, PCI_CFG.VENDOR_ID, 2), 0x8086);
    b.host.mmioWindow.read(0x10_0000, 4);
    assert.deepEqual(fn.log, ["load 7", "r0:0/4"]);
    // A snapshot cannot rewrite read-only fields.
    const evil = { functions: { "00:01.0": { config: Buffer.alloc(256, 0xff).toString("base64"), state: {} } } };
    b.host.ecam.load(evil);
    assert.equal(rd(b.host, 1, PCI_CFG.VENDOR_ID), 0x100e_8086);
  });

  test("random accesses of every width at every kind of offset never throw", () => {
    const { host } = setup();
    host.attach(1, new TestFunction());
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 0x1_0000_0000);
    const widths = [1, 2, 4] as const;
    for (let i = 0; i < 20000; i++) {
      const w = widths[Math.floor(rnd() * 3)]!;
      const dev = [host.ecam, host.mmioWindow, host.ioWindow][Math.floor(rnd() * 3)]!;
      const edge = rnd() < 0.5 ? 0x8000 : dev.size - 0x100;
      const off = rnd() < 0.5 ? Math.floor(rnd() * dev.size) : Math.floor(rnd() * 0x200) + edge;
      const v = Math.floor(rnd() * 0x1_0000_0000);
      if (rnd() < 0.5) dev.write(off, w, v);
      else assert.equal(typeof dev.read(off, w), "number");
    }
    // Past the end of a window: all ones, no throw.
    assert.equal(host.ecam.read(host.ecam.size - 1, 4), -1);
    assert.equal(host.mmioWindow.read(-4, 4), -1);
  });
});
