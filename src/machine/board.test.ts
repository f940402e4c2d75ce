import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BOARD_MAP, BoardError, BoardLayout, deviceIrqs, deviceWindows } from "./board.js";

/** Everything the full profile registers, plus all eight virtio slots. */
function everything(): BoardLayout {
  const b = new BoardLayout();
  b.addPlic();
  b.addClint();
  b.addTest();
  b.addUart();
  b.addAta();
  b.addPcie();
  for (let i = 0; i < BOARD_MAP.VIRTIO.count; i++) b.addVirtio(`virtio${i}`);
  return b;
}

describe("board: the QEMU virt memory map (DESIGN.md)", () => {
  test("addresses, sizes and IRQs are QEMU 7.2 virt's", () => {
    assert.deepEqual(BOARD_MAP.TEST, { base: 0x10_0000, size: 0x1000 });
    assert.deepEqual(BOARD_MAP.CLINT, { base: 0x0200_0000, size: 0x1_0000 });
    assert.equal(BOARD_MAP.PLIC.base, 0x0c00_0000);
    assert.equal(BOARD_MAP.PLIC.size, 0x60_0000);
    assert.equal(BOARD_MAP.UART0.base, 0x1000_0000);
    assert.equal(BOARD_MAP.UART0.size, 0x100);
    assert.equal(BOARD_MAP.UART0.irq, 10);
    assert.equal(BOARD_MAP.VIRTIO.base, 0x1000_1000);
    assert.equal(BOARD_MAP.VIRTIO.stride, 0x1000);
    assert.equal(BOARD_MAP.VIRTIO.count, 8);
    assert.equal(BOARD_MAP.VIRTIO.firstIrq, 1);
    assert.deepEqual(BOARD_MAP.PCIE_ECAM, { base: 0x3000_0000, size: 0x1000_0000 });
    assert.deepEqual(BOARD_MAP.PCIE_MMIO, { base: 0x4000_0000, size: 0x4000_0000 });
    assert.equal(BOARD_MAP.DRAM.base, 0x8000_0000);
  });

  test("every window lies below DRAM and no two overlap; every IRQ is a distinct PLIC source", () => {
    const b = everything();
    const windows = b.devices.flatMap((d) => deviceWindows(d).map((w) => ({ ...w, name: d.name })));
    for (const w of windows) assert.ok(w.base + w.size <= BOARD_MAP.DRAM.base, w.name);
    for (const a of windows) {
      for (const c of windows) {
        if (a !== c) assert.ok(a.base + a.size <= c.base || c.base + c.size <= a.base, `${a.name} / ${c.name}`);
      }
    }
    const irqs = b.devices.flatMap(deviceIrqs);
    assert.equal(new Set(irqs).size, irqs.length);
    for (const irq of irqs) assert.ok(irq >= 1 && irq <= BOARD_MAP.PLIC.ndev);
  });
});

describe("board: BoardLayout hands out virtio slots in order", () => {
  test("slot n is at 0x1000_1000 + n·0x1000 with IRQ 1 + n", () => {
    const b = new BoardLayout();
    const names = ["console", "rng", "blk", "net"];
    const recs = names.map((n) => b.addVirtio(n));
    recs.forEach((r, n) => {
      const base = 0x1000_1000 + n * 0x1000;
      assert.deepEqual(r, { kind: "virtio-mmio", name: names[n], base, size: 0x1000, irq: 1 + n, slot: n });
    });
    assert.deepEqual(b.devices, recs, "recorded in registration order");
  });

  test("a ninth virtio device is refused", () => {
    const b = everything();
    assert.throws(
      () => b.addVirtio("extra"),
      (e: unknown) => e instanceof BoardError && /no free virtio-mmio slot for extra/.test(e.message),
    );
  });

  test("a failed registration leaves the board unchanged", () => {
    const b = new BoardLayout();
    b.addVirtio("a");
    assert.throws(() => b.addVirtio("a"), /already on the board/);
    assert.equal(b.addVirtio("b").slot, 1, "the refused device did not take a slot");
    assert.equal(b.devices.length, 2);
  });
});

describe("board: fixed devices", () => {
  test("PLIC, CLINT and UART get their table windows and IRQs", () => {
    const b = new BoardLayout();
    assert.deepEqual(b.addPlic(), { kind: "plic", name: "plic", base: 0x0c00_0000, size: 0x60_0000, ndev: 96 });
    assert.deepEqual(b.addClint(), { kind: "clint", name: "clint", base: 0x0200_0000, size: 0x1_0000 });
    assert.deepEqual(b.addUart(), {
      kind: "uart16550",
      name: "uart0",
      base: 0x1000_0000,
      size: 0x100,
      irq: 10,
      clockFrequency: 3_686_400,
    });
    assert.deepEqual(b.addTest(), { kind: "sifive-test", name: "test", base: 0x10_0000, size: 0x1000 });
    assert.equal(b.find("uart16550")?.name, "uart0");
    assert.equal(b.byName("clint")?.kind, "clint");
    assert.equal(b.find("ata"), undefined);
  });

  test("each fixed device can be added once", () => {
    const b = new BoardLayout();
    b.addPlic();
    assert.throws(
      () => b.addPlic("plic2"),
      (e: unknown) => e instanceof BoardError && /already has a plic/.test(e.message),
    );
  });

  test("ATA: command block at the window base, control block at +0x100, scaled by reg-shift", () => {
    const b = new BoardLayout();
    const a = b.addAta("ata0", { regShift: 2, pioMode: 3, use16bit: true });
    assert.equal(a.cmdBase, BOARD_MAP.ATA.base);
    assert.equal(a.cmdSize, 8 << 2);
    assert.equal(a.ctlBase, BOARD_MAP.ATA.base + 0x100);
    assert.equal(a.ctlSize, 4 << 2);
    assert.equal(a.irq, BOARD_MAP.ATA.irq);
    assert.equal(a.pioMode, 3);
    assert.equal(a.use16bit, true);
    const d = new BoardLayout().addAta();
    assert.deepEqual([d.regShift, d.pioMode, d.use16bit], [0, 4, false]);
    assert.throws(() => new BoardLayout().addAta("x", { pioMode: 7 }), /pio-mode 7 is not 0..6/);
    assert.throws(() => new BoardLayout().addAta("x", { regShift: 5 }), /reg-shift 5/);
  });

  test("PCIe: ECAM for buses 0..255, MMIO and I/O windows, INTA..INTD on PLIC sources 32..35", () => {
    const p = new BoardLayout().addPcie();
    assert.equal(p.base, 0x3000_0000);
    assert.equal(p.size, 0x1000_0000);
    assert.deepEqual([p.busStart, p.busEnd], [0, 255]);
    assert.deepEqual(p.mmio, { base: 0x4000_0000, size: 0x4000_0000 });
    assert.deepEqual(p.pio, { base: 0x0300_0000, size: 0x1_0000 });
    assert.deepEqual(p.intx, [32, 33, 34, 35]);
    assert.equal(new BoardLayout().addPcie("p", { pio: false }).pio, undefined);
    assert.equal(deviceWindows(p).length, 3);
  });
});
