import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { BOARD_MAP, type BoardDevice, BoardError, BoardLayout } from "./board.js";
import {
  DT_DEFAULTS,
  DT_MODEL,
  type DeviceTreeSpec,
  EMITTERS,
  HART_IRQ,
  buildDeviceTree,
  deviceNodePath,
} from "./devicetree.js";
import { type FdtNode, type FdtTree, parseFdt } from "./fdt.js";

const MiB = 1024 * 1024;
const RAM = { base: 0x8000_0000, size: 256 * MiB };

function pvBoard(): BoardLayout {
  const b = new BoardLayout();
  b.addPlic();
  b.addVirtio("console");
  b.addVirtio("rng");
  b.addVirtio("blk");
  return b;
}

function fullBoard(): BoardLayout {
  const b = new BoardLayout();
  b.addPlic();
  b.addClint();
  b.addTest();
  b.addUart();
  b.addAta();
  b.addPcie();
  return b;
}

function spec(devices: readonly BoardDevice[], over: Partial<DeviceTreeSpec> = {}): DeviceTreeSpec {
  return {
    harts: 1,
    ramBase: RAM.base,
    ramSize: RAM.size,
    bootargs: "console=hvc0 earlycon=sbi",
    devices,
    timebaseFrequency: DT_DEFAULTS.timebaseFrequency,
    isa: DT_DEFAULTS.isa,
    mmuType: DT_DEFAULTS.mmuType,
    ...over,
  };
}

const INITRD = { start: 0x8800_0000, end: 0x8812_3457 };
const CASES: { name: string; spec: () => DeviceTreeSpec }[] = [
  { name: "pv, 1 hart, no initrd", spec: () => spec(pvBoard().devices) },
  { name: "pv, 4 harts, initrd", spec: () => spec(pvBoard().devices, { harts: 4, initrd: INITRD }) },
  { name: "pv, 4 harts, no initrd", spec: () => spec(pvBoard().devices, { harts: 4 }) },
  { name: "pv, 1 hart, initrd", spec: () => spec(pvBoard().devices, { initrd: INITRD }) },
  {
    name: "full, 2 harts, initrd, stdout-path on the UART",
    spec: () => {
      const b = fullBoard();
      return spec(b.devices, {
        harts: 2,
        initrd: INITRD,
        bootargs: "console=ttyS0",
        stdoutPath: deviceNodePath(b.find("uart16550")!),
        model: DT_MODEL.full,
      });
    },
  },
  {
    name: "full, 4 harts, with all 8 virtio slots too",
    spec: () => {
      const b = fullBoard();
      for (let i = 0; i < 8; i++) b.addVirtio(`v${i}`);
      return spec(b.devices, { harts: 4, model: DT_MODEL.full });
    },
  },
];

/** interrupts-extended resolved to [hartid, irq] pairs through the phandles. */
function resolveExtended(tree: FdtTree, node: FdtNode): [number, number][] {
  const cells = node.u32s("interrupts-extended");
  const out: [number, number][] = [];
  for (let i = 0; i < cells.length; i += 2) {
    const intc = tree.byPhandle(cells[i]!);
    assert.ok(intc, `phandle ${cells[i]} resolves`);
    assert.equal(intc.string("compatible"), "riscv,cpu-intc");
    out.push([intc.parent!.u32("reg"), cells[i + 1]!]);
  }
  return out;
}

/** interrupt-map resolved to [device, pin, PLIC source] triples. */
function resolveIntMap(tree: FdtTree, node: FdtNode): [number, number, number][] {
  const cells = node.u32s("interrupt-map");
  const out: [number, number, number][] = [];
  for (let i = 0; i < cells.length; i += 6) {
    const parent = tree.byPhandle(cells[i + 4]!);
    assert.ok(parent);
    assert.ok(parent.has("interrupt-controller"));
    assert.equal(parent.u32("#address-cells"), 0);
    out.push([cells[i]! >> 11, cells[i + 3]!, cells[i + 5]!]);
  }
  return out;
}

const dtcMissing = spawnSync("dtc", ["--version"]).error !== undefined;
const qemuMissing = spawnSync("qemu-system-riscv64", ["--version"]).error !== undefined;
const setupHint = "(node scripts/setup.mjs installs it)";

describe("device tree: every node and property, read back with parseFdt", () => {
  test("pv, 4 harts, initrd: root, chosen, memory, cpus, soc", () => {
    const rngSeed = new Uint8Array([9, 8, 7]);
    const t = parseFdt(buildDeviceTree(spec(pvBoard().devices, { harts: 4, initrd: INITRD, rngSeed })));
    assert.deepEqual(
      [...t.root.walk()].map((n) => n.path),
      [
        "/",
        "/chosen",
        "/memory@80000000",
        "/cpus",
        ...[0, 1, 2, 3].flatMap((h) => [`/cpus/cpu@${h}`, `/cpus/cpu@${h}/interrupt-controller`]),
        "/cpus/cpu-map",
        "/cpus/cpu-map/cluster0",
        ...[0, 1, 2, 3].map((h) => `/cpus/cpu-map/cluster0/core${h}`),
        "/soc",
        "/soc/plic@c000000",
        "/soc/virtio_mmio@10001000",
        "/soc/virtio_mmio@10002000",
        "/soc/virtio_mmio@10003000",
      ],
    );
    const root = t.root;
    assert.equal(root.u32("#address-cells"), 2);
    assert.equal(root.u32("#size-cells"), 2);
    assert.equal(root.string("compatible"), "riscv-virtio");
    assert.equal(root.string("model"), "paravm,pv");

    const chosen = t.node("/chosen")!;
    const props = [...chosen.props.keys()].sort();
    assert.deepEqual(props, ["bootargs", "linux,initrd-end", "linux,initrd-start", "rng-seed"]);
    assert.equal(chosen.string("bootargs"), "console=hvc0 earlycon=sbi");
    assert.equal(chosen.prop("linux,initrd-start").length, 8, "u64, as Linux reads either width");
    assert.equal(chosen.u64("linux,initrd-start"), INITRD.start);
    assert.equal(chosen.u64("linux,initrd-end"), INITRD.end);
    assert.deepEqual([...chosen.prop("rng-seed")], [9, 8, 7]);

    const mem = t.node("/memory@80000000")!;
    assert.equal(mem.string("device_type"), "memory");
    assert.deepEqual(mem.u64s("reg"), [RAM.base, RAM.size]);

    const cpus = t.node("/cpus")!;
    assert.equal(cpus.u32("#address-cells"), 1);
    assert.equal(cpus.u32("#size-cells"), 0);
    assert.equal(cpus.u32("timebase-frequency"), 10_000_000);
    for (let h = 0; h < 4; h++) {
      const cpu = t.node(`/cpus/cpu@${h}`)!;
      assert.equal(cpu.string("device_type"), "cpu");
      assert.equal(cpu.u32("reg"), h);
      assert.equal(cpu.string("status"), "okay");
      assert.equal(cpu.string("compatible"), "riscv");
      assert.equal(cpu.string("riscv,isa"), "rv64imafdc");
      assert.equal(cpu.string("mmu-type"), "riscv,sv39");
      assert.equal(cpu.has("riscv,isa-extensions"), false);
      const intc = cpu.child("interrupt-controller")!;
      assert.equal(intc.u32("#interrupt-cells"), 1);
      assert.equal(intc.u32("#address-cells"), 0);
      assert.ok(intc.has("interrupt-controller"));
      assert.equal(intc.string("compatible"), "riscv,cpu-intc");
      assert.equal(t.byPhandle(intc.u32("phandle")), intc);
      assert.equal(t.byPhandle(t.node(`/cpus/cpu-map/cluster0/core${h}`)!.u32("cpu")), cpu);
    }

    const soc = t.node("/soc")!;
    assert.equal(soc.u32("#address-cells"), 2);
    assert.equal(soc.u32("#size-cells"), 2);
    assert.equal(soc.string("compatible"), "simple-bus");
    assert.equal(soc.prop("ranges").length, 0);

    const plic = t.node("/soc/plic@c000000")!;
    assert.deepEqual(plic.strings("compatible"), ["sifive,plic-1.0.0", "riscv,plic0"]);
    assert.deepEqual(plic.u64s("reg"), [0x0c00_0000, 0x60_0000]);
    assert.equal(plic.u32("riscv,ndev"), BOARD_MAP.PLIC.ndev);
    assert.ok(plic.has("interrupt-controller"));
    assert.equal(plic.u32("#interrupt-cells"), 1);
    assert.equal(plic.u32("#address-cells"), 0);
    assert.equal(t.byPhandle(plic.u32("phandle")), plic);
    // Context 2h is hart h's M-mode external interrupt, 2h+1 its S-mode one.
    assert.deepEqual(
      resolveExtended(t, plic),
      [0, 1, 2, 3].flatMap((h) => [
        [h, HART_IRQ.M_EXT],
        [h, HART_IRQ.S_EXT],
      ]),
    );

    for (let n = 0; n < 3; n++) {
      const base = 0x1000_1000 + n * 0x1000;
      const v = t.node(`/soc/virtio_mmio@${base.toString(16)}`)!;
      assert.equal(v.string("compatible"), "virtio,mmio");
      assert.deepEqual(v.u64s("reg"), [base, 0x1000]);
      assert.equal(v.u32("interrupts"), 1 + n);
      assert.equal(t.byPhandle(v.u32("interrupt-parent")), plic);
    }
    assert.equal(t.node("/soc/clint@2000000"), undefined, "pv has no CLINT: its timer is SBI");
  });

  test("pv, 1 hart, no initrd: no initrd or stdout-path properties; empty bootargs is omitted", () => {
    const t = parseFdt(buildDeviceTree(spec(pvBoard().devices, { bootargs: "" })));
    assert.deepEqual([...t.node("/chosen")!.props.keys()], []);
    assert.equal(t.node("/cpus/cpu@1"), undefined);
    assert.deepEqual(resolveExtended(t, t.node("/soc/plic@c000000")!), [
      [0, 11],
      [0, 9],
    ]);
  });

  test("full, 2 harts: CLINT, UART, ATA and PCIe nodes; stdout-path; model", () => {
    const c = CASES[4]!;
    const t = parseFdt(buildDeviceTree(c.spec()));
    assert.equal(t.root.string("model"), "paravm,full");
    assert.equal(t.node("/chosen")!.string("stdout-path"), "/soc/serial@10000000");
    const plic = t.node("/soc/plic@c000000")!;

    const clint = t.node("/soc/clint@2000000")!;
    assert.deepEqual(clint.strings("compatible"), ["sifive,clint0", "riscv,clint0"]);
    assert.deepEqual(clint.u64s("reg"), [0x0200_0000, 0x1_0000]);
    assert.deepEqual(resolveExtended(t, clint), [
      [0, HART_IRQ.M_SOFT],
      [0, HART_IRQ.M_TIMER],
      [1, HART_IRQ.M_SOFT],
      [1, HART_IRQ.M_TIMER],
    ]);

    const test = t.node("/soc/test@100000")!;
    assert.deepEqual(test.strings("compatible"), ["sifive,test1", "sifive,test0", "syscon"]);
    assert.deepEqual(test.u64s("reg"), [0x10_0000, 0x1000]);

    const uart = t.node("/soc/serial@10000000")!;
    assert.equal(uart.string("compatible"), "ns16550a");
    assert.deepEqual(uart.u64s("reg"), [0x1000_0000, 0x100]);
    assert.equal(uart.u32("interrupts"), 10);
    assert.equal(uart.u32("clock-frequency"), 3_686_400);
    assert.equal(t.byPhandle(uart.u32("interrupt-parent")), plic);

    // drivers/ata/pata_of_platform.c: reg[0] command block, reg[1] control block.
    const ide = t.node("/soc/ide@10009000")!;
    assert.equal(ide.string("compatible"), "ata-generic");
    assert.deepEqual(ide.u64s("reg"), [0x1000_9000, 8, 0x1000_9100, 4]);
    assert.equal(ide.u32("reg-shift"), 0);
    assert.equal(ide.u32("pio-mode"), 4);
    assert.equal(ide.has("ata-generic,use16bit"), false);
    assert.equal(ide.u32("interrupts"), BOARD_MAP.ATA.irq);
    assert.equal(t.byPhandle(ide.u32("interrupt-parent")), plic);

    const pci = t.node("/soc/pci@30000000")!;
    assert.equal(pci.string("compatible"), "pci-host-ecam-generic");
    assert.equal(pci.string("device_type"), "pci");
    assert.equal(pci.u32("#address-cells"), 3);
    assert.equal(pci.u32("#size-cells"), 2);
    assert.equal(pci.u32("#interrupt-cells"), 1);
    assert.deepEqual(pci.u32s("bus-range"), [0, 255]);
    assert.equal(pci.u32("linux,pci-domain"), 0);
    assert.ok(pci.has("dma-coherent"));
    assert.deepEqual(pci.u64s("reg"), [0x3000_0000, 0x1000_0000]);
    assert.deepEqual(pci.u32s("ranges"), [
      ...[0x0100_0000, 0, 0, 0, 0x0300_0000, 0, 0x1_0000],
      ...[0x0200_0000, 0, 0x4000_0000, 0, 0x4000_0000, 0, 0x4000_0000],
    ]);
    assert.deepEqual(pci.u32s("interrupt-map-mask"), [0x1800, 0, 0, 7]);
    const map = resolveIntMap(t, pci);
    assert.equal(map.length, 16);
    for (const [dev, pin, irq] of map) assert.equal(irq, 32 + ((dev + pin - 1) % 4), `dev ${dev} pin ${pin}`);
  });

  test("the ATA emitter marks a 16-bit data register", () => {
    const b = new BoardLayout();
    b.addPlic();
    b.addAta("ata0", { use16bit: true, regShift: 2 });
    const ide = parseFdt(buildDeviceTree(spec(b.devices))).node("/soc/ide@10009000")!;
    assert.equal(ide.prop("ata-generic,use16bit").length, 0);
    assert.equal(ide.u32("reg-shift"), 2);
    assert.deepEqual(ide.u64s("reg"), [0x1000_9000, 32, 0x1000_9100, 16]);
  });

  test("optional riscv,isa-base / riscv,isa-extensions, cpu-map off, boot hart, reservations, extra space", () => {
    const exts = ["i", "m", "a", "f", "d", "c", "zicsr", "zifencei"];
    const plain = buildDeviceTree(spec(pvBoard().devices, { harts: 2 }));
    const blob = buildDeviceTree(
      spec(pvBoard().devices, {
        harts: 2,
        isaExtensions: exts,
        cpuMap: false,
        bootHart: 1,
        reservations: [{ address: 0x8000_0000, size: 0x20_0000 }],
        extraSpace: 0x1000,
      }),
    );
    const t = parseFdt(blob);
    const cpu = t.node("/cpus/cpu@1")!;
    assert.equal(cpu.string("riscv,isa-base"), "rv64i");
    assert.deepEqual(cpu.strings("riscv,isa-extensions"), exts);
    assert.equal(t.node("/cpus/cpu-map"), undefined);
    assert.equal(t.bootCpuId, 1);
    assert.deepEqual(t.reservations, [{ address: 0x8000_0000, size: 0x20_0000 }]);
    assert.ok(blob.length >= plain.length + 0x1000);
  });

  test("every device kind has exactly one emitter", () => {
    const kinds = ["ata", "clint", "pcie", "plic", "sifive-test", "uart16550", "virtio-mmio"];
    assert.deepEqual(Object.keys(EMITTERS).sort(), kinds);
  });
});

describe("device tree: inconsistent specs are a BoardError", () => {
  const devs = pvBoard().devices;
  const cases: [string, Partial<DeviceTreeSpec>, RegExp][] = [
    ["no harts", { harts: 0 }, /0 harts/],
    ["too many harts", { harts: 513 }, /513 harts/],
    ["initrd outside RAM", { initrd: { start: 0x7000_0000, end: 0x7000_1000 } }, /outside RAM/],
    ["empty initrd", { initrd: { start: 0x8800_0000, end: 0x8800_0000 } }, /is empty/],
    ["upper-case ISA", { isa: "RV64IMAFDC" }, /riscv,isa "RV64IMAFDC"/],
    ["rv64gc shorthand", { isa: "rv64gc" }, /riscv,isa/],
    ["bad ISA extension", { isaExtensions: ["Zicsr"] }, /ISA extension "Zicsr"/],
    ["stdout-path to nowhere", { stdoutPath: "/soc/serial@10000000" }, /"\/soc\/serial@10000000" names no node/],
    ["boot hart out of range", { harts: 2, bootHart: 2 }, /boot hart 2/],
    ["timebase 0", { timebaseFrequency: 0 }, /timebase frequency 0/],
    ["device inside RAM", { ramBase: 0x1000_0000 }, /overlaps RAM/],
  ];
  for (const [name, over, re] of cases) {
    test(name, () => {
      assert.throws(
        () => buildDeviceTree(spec(devs, over)),
        (e: unknown) => e instanceof BoardError && re.test(e.message),
      );
    });
  }

  test("a device with an interrupt but no PLIC", () => {
    const b = new BoardLayout();
    b.addVirtio("console");
    assert.throws(() => buildDeviceTree(spec(b.devices)), /no PLIC is registered/);
  });

  test("stdout-path with options is checked by its path part", () => {
    const b = fullBoard();
    const t = parseFdt(buildDeviceTree(spec(b.devices, { stdoutPath: "/soc/serial@10000000:115200n8" })));
    assert.equal(t.node("/chosen")!.string("stdout-path"), "/soc/serial@10000000:115200n8");
  });
});

describe("device tree: dtc accepts it without errors or warnings", () => {
  const skip = dtcMissing ? `dtc is not installed ${setupHint}` : false;
  for (const c of CASES) {
    test(c.name, { skip }, () => {
      const r = spawnSync("dtc", ["-I", "dtb", "-O", "dts", "-"], { input: buildDeviceTree(c.spec()) });
      assert.equal(r.stderr.toString(), "", "dtc printed nothing on stderr");
      assert.equal(r.status, 0);
      assert.match(r.stdout.toString(), /compatible = "riscv-virtio";/);
    });
  }
});

describe("device tree: same structure as QEMU 7.2 -M virt,dumpdtb", () => {
  const skip = qemuMissing ? `qemu-system-riscv64 is not installed ${setupHint}` : false;
  const dir = mkdtempSync(join(tmpdir(), "paravm-dtb-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const HARTS = 2;

  const qemuTree = (): FdtTree => {
    const file = join(dir, "virt.dtb");
    const r = spawnSync(
      "qemu-system-riscv64",
      ["-M", `virt,dumpdtb=${file}`, "-smp", String(HARTS), "-m", "256M", "-nographic", "-display", "none"],
      { encoding: "utf8", timeout: 30_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    return parseFdt(new Uint8Array(readFileSync(file)));
  };
  const oursTree = (): FdtTree => {
    const b = fullBoard();
    for (let i = 0; i < 8; i++) b.addVirtio(`v${i}`);
    return parseFdt(buildDeviceTree(spec(b.devices, { harts: HARTS, stdoutPath: "/soc/serial@10000000" })));
  };

  test("root, memory, /cpus and /chosen/stdout-path agree", { skip }, () => {
    const [q, o] = [qemuTree(), oursTree()];
    for (const p of ["#address-cells", "#size-cells", "compatible"]) {
      assert.deepEqual(o.root.prop(p), q.root.prop(p), p);
    }
    assert.deepEqual(o.node("/memory@80000000")!.u64s("reg"), q.node("/memory@80000000")!.u64s("reg"));
    assert.equal(o.node("/cpus")!.u32("timebase-frequency"), q.node("/cpus")!.u32("timebase-frequency"));
    for (let h = 0; h < HARTS; h++) {
      const [qc, oc] = [q.node(`/cpus/cpu@${h}`)!, o.node(`/cpus/cpu@${h}`)!];
      for (const p of ["device_type", "reg", "status", "compatible"]) assert.deepEqual(oc.prop(p), qc.prop(p), p);
      const [qi, oi] = [qc.child("interrupt-controller")!, oc.child("interrupt-controller")!];
      for (const p of ["#interrupt-cells", "interrupt-controller", "compatible"]) {
        assert.deepEqual(oi.prop(p), qi.prop(p), p);
      }
    }
    assert.equal(o.node("/chosen")!.string("stdout-path"), q.node("/chosen")!.string("stdout-path"));
  });

  test("PLIC and CLINT: compatible, reg, interrupts-extended layout", { skip }, () => {
    const [q, o] = [qemuTree(), oursTree()];
    for (const name of ["plic@c000000", "clint@2000000"]) {
      const [qn, on] = [q.node(`/soc/${name}`)!, o.node(`/soc/${name}`)!];
      assert.deepEqual(on.strings("compatible"), qn.strings("compatible"), name);
      assert.deepEqual(on.u64s("reg"), qn.u64s("reg"), name);
      assert.deepEqual(resolveExtended(o, on), resolveExtended(q, qn), name);
    }
    const [qp, op] = [q.node("/soc/plic@c000000")!, o.node("/soc/plic@c000000")!];
    for (const p of ["riscv,ndev", "#interrupt-cells", "#address-cells", "interrupt-controller"]) {
      assert.deepEqual(op.prop(p), qp.prop(p), p);
    }
  });

  test("UART and the eight virtio-mmio slots: same nodes, reg, interrupts, parent", { skip }, () => {
    const [q, o] = [qemuTree(), oursTree()];
    const devs = (t: FdtTree): Record<string, unknown> =>
      Object.fromEntries(
        t
          .node("/soc")!
          .children.filter((n) => /^(serial|virtio_mmio)@/.test(n.name))
          .map((n) => [
            n.name,
            {
              compatible: n.strings("compatible"),
              reg: n.u64s("reg"),
              interrupts: n.u32s("interrupts"),
              parent: t.byPhandle(n.u32("interrupt-parent"))!.path,
              clock: n.has("clock-frequency") ? n.u32("clock-frequency") : undefined,
            },
          ]),
      );
    assert.deepEqual(devs(o), devs(q));
  });

  test("the sifive,test power-off device: same compatible and reg", { skip }, () => {
    const [q, o] = [qemuTree(), oursTree()];
    const [qn, on] = [q.node("/soc/test@100000")!, o.node("/soc/test@100000")!];
    assert.deepEqual(on.strings("compatible"), qn.strings("compatible"));
    assert.deepEqual(on.u64s("reg"), qn.u64s("reg"));
  });

  test("PCIe host: compatible, reg, bus-range, 32-bit MMIO and I/O ranges, interrupt-map", { skip }, () => {
    const [q, o] = [qemuTree(), oursTree()];
    const [qn, on] = [q.node("/soc/pci@30000000")!, o.node("/soc/pci@30000000")!];
    for (const p of [
      "compatible",
      "device_type",
      "reg",
      "bus-range",
      "#address-cells",
      "#size-cells",
      "#interrupt-cells",
      "interrupt-map-mask",
      "linux,pci-domain",
    ]) {
      assert.deepEqual(on.prop(p), qn.prop(p), p);
    }
    assert.deepEqual(resolveIntMap(o, on), resolveIntMap(q, qn));
    // QEMU also has a 64-bit window at 4 GiB+ (not on our board); ours must be a prefix of its ranges.
    const [qr, or] = [qn.u32s("ranges"), on.u32s("ranges")];
    assert.deepEqual(qr.slice(0, or.length), or);
  });
});

describe("device tree: OpenSBI (Debian's fw_jump.bin) reads the full-profile tree", () => {
  const fw = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin";
  const skip = qemuMissing
    ? `qemu-system-riscv64 is not installed ${setupHint}`
    : !existsSync(fw)
      ? `${fw} is missing ${setupHint}`
      : false;
  const dir = mkdtempSync(join(tmpdir(), "paravm-sbi-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** QEMU's console output until `until` appears (then QEMU is killed) or 10 s pass. */
  const runUntil = (args: string[], until: RegExp): Promise<string> =>
    new Promise((resolve, reject) => {
      const q = spawn("qemu-system-riscv64", args, { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      const stop = (): void => void q.kill("SIGKILL");
      const timer = setTimeout(stop, 10_000);
      q.stdout.setEncoding("utf8").on("data", (s: string) => {
        out += s;
        if (until.test(out)) stop();
      });
      q.on("error", reject);
      q.on("close", () => {
        clearTimeout(timer);
        resolve(out);
      });
    });

  test("on QEMU virt with -dtb ours, OpenSBI finds our harts, CLINT, UART and reset device", { skip }, async () => {
    const file = join(dir, "full.dtb");
    const stdoutPath = "/soc/serial@10000000";
    writeFileSync(file, buildDeviceTree(spec(fullBoard().devices, { harts: 2, model: DT_MODEL.full, stdoutPath })));
    // OpenSBI prints its banner on the UART, then jumps to the (empty) kernel slot.
    const out = await runUntil(
      ["-M", "virt", "-smp", "2", "-m", "256M", "-bios", fw, "-dtb", file, "-nographic", "-monitor", "none"],
      /Boot HART ISA Extensions[^\n]*\n/,
    );
    const field = (name: string): string | undefined =>
      new RegExp(`^${name}\\s*:\\s*(.*?)\\s*$`, "m").exec(out)?.[1];
    assert.equal(field("Platform Name"), "paravm,full", out);
    assert.equal(field("Platform HART Count"), "2");
    assert.equal(field("Platform Console Device"), "uart8250");
    assert.equal(field("Platform IPI Device"), "aclint-mswi");
    assert.match(field("Platform Timer Device") ?? "", /^aclint-mtimer @ 10000000Hz/);
    assert.equal(field("Platform Reboot Device"), "sifive_test");
    assert.equal(field("Domain0 Next Mode"), "S-mode");
  });
});
