/**
 * The guest's device tree, generated from the board's registered device list.
 *
 * `buildDeviceTree(spec)` writes what Linux 6.1 and OpenSBI read on QEMU `virt`: the root
 * (`riscv-virtio`), /cpus with one cpu@N and its `riscv,cpu-intc` per hart, /memory,
 * /chosen, and /soc (a simple-bus) holding one node per `BoardDevice`. Each device kind
 * has one entry in `EMITTERS` (node name + properties), so a new kind is one entry.
 *
 * Bindings followed (Linux 6.1, Documentation/devicetree/bindings/): riscv/cpus.yaml,
 * interrupt-controller/sifive,plic-1.0.0.yaml, timer/sifive,clint.yaml,
 * serial/8250.yaml, virtio/mmio.yaml, pci/host-generic-pci.yaml, ata/pata-common.yaml
 * plus drivers/ata/pata_of_platform.c (compatible "ata-generic": reg[0] = command block,
 * reg[1] = control block, optional reg-shift, pio-mode, ata-generic,use16bit). The
 * sifive,test node has no kernel binding: it is QEMU virt's, for OpenSBI's reset driver.
 * Layouts
 * follow QEMU 7.2 `virt` where the bindings leave a choice: PLIC contexts are M then S
 * per hart (`interrupts-extended = <&intcN 11 &intcN 9>…`), CLINT <&intcN 3 &intcN 7>.
 *
 * One deliberate difference from QEMU's tree: each cpu-intc node has
 * `#address-cells = <0>`. dtc 1.6.1 warns about every interrupt provider without it
 * (QEMU's own tree draws that warning), the kernel ignores it, and later kernels'
 * riscv,cpu-intc binding specifies it.
 */
import {
  type AtaRecord,
  type BoardDevice,
  type BoardDeviceKind,
  BoardError,
  type ClintRecord,
  type PcieRecord,
  type PlicRecord,
  type SifiveTestRecord,
  type Uart16550Record,
  type VirtioMmioRecord,
  deviceWindows,
} from "./board.js";
import { FdtBuilder, type FdtReservation, parseFdt } from "./fdt.js";

/** Local interrupt numbers (mip bits) that the PLIC and CLINT wire to each hart. */
export const HART_IRQ = {
  S_SOFT: 1,
  M_SOFT: 3,
  S_TIMER: 5,
  M_TIMER: 7,
  S_EXT: 9,
  M_EXT: 11,
} as const;

export const DT_DEFAULTS = {
  timebaseFrequency: 10_000_000,
  isa: "rv64imafdc",
  mmuType: "riscv,sv39",
  model: "paravm,pv",
  /** QEMU `virt` supports at most 512 harts; so do we. */
  maxHarts: 512,
} as const;

export const DT_MODEL = { pv: "paravm,pv", full: "paravm,full" } as const;

export type MmuType = "riscv,sv39" | "riscv,sv48" | "riscv,sv57" | "riscv,none";

export interface DeviceTreeSpec {
  /** Number of harts, 1..512; hart ids 0..harts-1. */
  readonly harts: number;
  readonly ramBase: number;
  readonly ramSize: number;
  /** Kernel command line (/chosen/bootargs); omitted when empty. */
  readonly bootargs: string;
  /** Initrd in guest-physical memory; `end` is exclusive. Must lie in RAM. */
  readonly initrd?: { readonly start: number; readonly end: number };
  /**
   * /chosen/stdout-path: a node path, optionally followed by ":options"
   * ("/soc/serial@10000000:115200"). Must name a node of this tree. Omit it when the
   * console is hvc0 (SBI or virtio-console): those have no node to point at.
   */
  readonly stdoutPath?: string;
  /** Devices, normally `BoardLayout.devices`; emitted under /soc in this order. */
  readonly devices: readonly BoardDevice[];
  readonly timebaseFrequency: number;
  /** riscv,isa, e.g. "rv64imafdc" (lower case, as cpus.yaml requires). */
  readonly isa: string;
  /**
   * If given, also emit `riscv,isa-base` and `riscv,isa-extensions` (the binding newer
   * kernels prefer; 6.1 ignores them), e.g. ["i","m","a","f","d","c","zicsr","zifencei"].
   */
  readonly isaExtensions?: readonly string[];
  readonly mmuType: MmuType;
  /** Root `model`; default "paravm,pv". */
  readonly model?: string;
  /** /chosen/rng-seed: bytes the kernel mixes into its entropy pool at boot. */
  readonly rngSeed?: Uint8Array;
  /** Emit /cpus/cpu-map (one cluster, one core per hart) as QEMU does; default true. */
  readonly cpuMap?: boolean;
  /** Header boot_cpuid_phys; default 0. */
  readonly bootHart?: number;
  /** Memory reservation block entries. */
  readonly reservations?: readonly FdtReservation[];
  /** Free bytes at the end of the blob for firmware to grow it in place (like `dtc -p`). */
  readonly extraSpace?: number;
}

const hex = (n: number): string => n.toString(16);

/** Phandle names, one place so emitters agree. */
const REF = {
  plic: "plic",
  cpu: (h: number): string => `cpu${h}`,
  intc: (h: number): string => `cpu${h}-intc`,
} as const;

interface EmitContext {
  readonly harts: number;
  /** Phandle of the PLIC; throws if a device needs one and none is registered. */
  plic(): number;
  intc(hart: number): number;
}

interface Emitter<D extends BoardDevice> {
  /** Node name under /soc, with unit address. */
  nodeName(d: D): string;
  emit(t: FdtBuilder, d: D, ctx: EmitContext): void;
}

type EmitterTable = { readonly [K in BoardDeviceKind]: Emitter<Extract<BoardDevice, { kind: K }>> };

/** `interrupts` + `interrupt-parent` for a device wired to one PLIC source. */
function plicInterrupt(t: FdtBuilder, irq: number, ctx: EmitContext): void {
  t.propU32("interrupts", irq);
  t.propU32("interrupt-parent", ctx.plic());
}

/** The PLIC is wired to every hart's M and S external interrupts, the CLINT to soft + timer. */
function perHart(ctx: EmitContext, irqs: readonly number[]): number[] {
  const cells: number[] = [];
  for (let h = 0; h < ctx.harts; h++) for (const irq of irqs) cells.push(ctx.intc(h), irq);
  return cells;
}

const plic: Emitter<PlicRecord> = {
  nodeName: (d) => `plic@${hex(d.base)}`,
  emit(t, d, ctx) {
    t.propPhandle(REF.plic);
    t.propU32("riscv,ndev", d.ndev);
    t.propU64s("reg", [d.base, d.size]);
    t.propU32s("interrupts-extended", perHart(ctx, [HART_IRQ.M_EXT, HART_IRQ.S_EXT]));
    t.propEmpty("interrupt-controller");
    t.propStrings("compatible", ["sifive,plic-1.0.0", "riscv,plic0"]);
    t.propU32("#address-cells", 0);
    t.propU32("#interrupt-cells", 1);
  },
};

const clint: Emitter<ClintRecord> = {
  nodeName: (d) => `clint@${hex(d.base)}`,
  emit(t, d, ctx) {
    t.propU32s("interrupts-extended", perHart(ctx, [HART_IRQ.M_SOFT, HART_IRQ.M_TIMER]));
    t.propU64s("reg", [d.base, d.size]);
    t.propStrings("compatible", ["sifive,clint0", "riscv,clint0"]);
  },
};

const uart16550: Emitter<Uart16550Record> = {
  nodeName: (d) => `serial@${hex(d.base)}`,
  emit(t, d, ctx) {
    plicInterrupt(t, d.irq, ctx);
    t.propU32("clock-frequency", d.clockFrequency);
    t.propU64s("reg", [d.base, d.size]);
    t.propString("compatible", "ns16550a");
  },
};

const virtioMmio: Emitter<VirtioMmioRecord> = {
  nodeName: (d) => `virtio_mmio@${hex(d.base)}`,
  emit(t, d, ctx) {
    plicInterrupt(t, d.irq, ctx);
    t.propU64s("reg", [d.base, d.size]);
    t.propString("compatible", "virtio,mmio");
  },
};

const ata: Emitter<AtaRecord> = {
  // pata-common.yaml: PATA host controller nodes are named "ide".
  nodeName: (d) => `ide@${hex(d.cmdBase)}`,
  emit(t, d, ctx) {
    t.propString("compatible", "ata-generic");
    t.propU64s("reg", [d.cmdBase, d.cmdSize, d.ctlBase, d.ctlSize]);
    t.propU32("reg-shift", d.regShift);
    t.propU32("pio-mode", d.pioMode);
    if (d.use16bit) t.propEmpty("ata-generic,use16bit");
    plicInterrupt(t, d.irq, ctx);
  },
};

/** PCI address space codes (phys.hi bits 24..25) for `ranges`. */
const PCI_SPACE = { IO: 0x0100_0000, MEM32: 0x0200_0000 } as const;

const split = (v: number): [number, number] => [Math.floor(v / 0x1_0000_0000), v >>> 0];

const pcie: Emitter<PcieRecord> = {
  nodeName: (d) => `pci@${hex(d.base)}`,
  emit(t, d, ctx) {
    t.propString("compatible", "pci-host-ecam-generic");
    t.propString("device_type", "pci");
    t.propU32("#address-cells", 3);
    t.propU32("#size-cells", 2);
    t.propU32("#interrupt-cells", 1);
    t.propU32s("bus-range", [d.busStart, d.busEnd]);
    t.propU32("linux,pci-domain", 0);
    t.propEmpty("dma-coherent");
    t.propU64s("reg", [d.base, d.size]);
    // ranges: <pci.hi pci.mid pci.lo  cpu.hi cpu.lo  size.hi size.lo> per window.
    const ranges: number[] = [];
    if (d.pio) ranges.push(PCI_SPACE.IO, 0, 0, ...split(d.pio.base), ...split(d.pio.size));
    ranges.push(PCI_SPACE.MEM32, ...split(d.mmio.base), ...split(d.mmio.base), ...split(d.mmio.size));
    t.propU32s("ranges", ranges);
    // INTx of device `dev`, pin INTA..INTD (1..4), swizzled as on QEMU virt and the
    // PCI-to-PCI bridge spec: source = intx[(dev + pin - 1) mod 4]. The PLIC has
    // #address-cells = 0, so the parent unit address is empty.
    const map: number[] = [];
    for (let dev = 0; dev < 4; dev++) {
      for (let pin = 1; pin <= 4; pin++) {
        map.push(dev << 11, 0, 0, pin, ctx.plic(), d.intx[(dev + pin - 1) % 4]!);
      }
    }
    t.propU32s("interrupt-map", map);
    t.propU32s("interrupt-map-mask", [0x1800, 0, 0, 7]);
  },
};

const sifiveTest: Emitter<SifiveTestRecord> = {
  nodeName: (d) => `test@${hex(d.base)}`,
  emit(t, d) {
    t.propU64s("reg", [d.base, d.size]);
    t.propStrings("compatible", ["sifive,test1", "sifive,test0", "syscon"]);
  },
};

/** One node emitter per device kind. */
export const EMITTERS: EmitterTable = {
  plic,
  clint,
  uart16550,
  "virtio-mmio": virtioMmio,
  ata,
  pcie,
  "sifive-test": sifiveTest,
};

function emitterFor<D extends BoardDevice>(d: D): Emitter<D> {
  return EMITTERS[d.kind] as unknown as Emitter<D>;
}

/** The device's node name under /soc ("serial@10000000"). */
export function deviceNodeName(d: BoardDevice): string {
  return emitterFor(d).nodeName(d);
}

/** The device's full node path ("/soc/serial@10000000"), e.g. for `stdoutPath`. */
export function deviceNodePath(d: BoardDevice): string {
  return `/soc/${deviceNodeName(d)}`;
}

// cpus.yaml (Linux 6.1): the pattern riscv,isa must match.
const ISA_PATTERN = /^rv(?:64|32)imaf?d?q?c?b?k?j?p?v?h?(?:[hsxz](?:[a-z])+)?(?:_[hsxz](?:[a-z])+)*$/;
const ISA_EXT = /^[a-z][a-z0-9]*$/;

function checkSpec(s: DeviceTreeSpec): void {
  const fail = (msg: string): never => {
    throw new BoardError(`device tree: ${msg}`);
  };
  const addr = (v: number, what: string): void => {
    if (!Number.isSafeInteger(v) || v < 0) fail(`${what} ${v} is not an address`);
  };
  if (!Number.isInteger(s.harts) || s.harts < 1 || s.harts > DT_DEFAULTS.maxHarts) {
    fail(`${s.harts} harts (must be 1..${DT_DEFAULTS.maxHarts})`);
  }
  addr(s.ramBase, "RAM base");
  addr(s.ramSize, "RAM size");
  if (s.ramSize === 0) fail("RAM size is 0");
  if (s.initrd) {
    const { start, end } = s.initrd;
    addr(start, "initrd start");
    addr(end, "initrd end");
    if (end <= start) fail(`initrd [0x${hex(start)}, 0x${hex(end)}) is empty`);
    if (start < s.ramBase || end > s.ramBase + s.ramSize) {
      fail(`initrd [0x${hex(start)}, 0x${hex(end)}) is outside RAM`);
    }
  }
  if (!Number.isInteger(s.timebaseFrequency) || s.timebaseFrequency < 1 || s.timebaseFrequency > 0xffff_ffff) {
    fail(`timebase frequency ${s.timebaseFrequency} is not a u32 Hz value`);
  }
  if (!ISA_PATTERN.test(s.isa)) fail(`riscv,isa "${s.isa}" is not a lower-case ISA string the binding accepts`);
  for (const e of s.isaExtensions ?? []) if (!ISA_EXT.test(e)) fail(`ISA extension "${e}" is not a lower-case name`);
  const boot = s.bootHart ?? 0;
  if (!Number.isInteger(boot) || boot < 0 || boot >= s.harts) fail(`boot hart ${boot} is not one of the harts`);
  const ram = { base: s.ramBase, size: s.ramSize };
  for (const d of s.devices) {
    for (const w of deviceWindows(d)) {
      if (w.base < ram.base + ram.size && ram.base < w.base + w.size) fail(`${d.name} overlaps RAM`);
    }
  }
}

/** The blob for `spec`. Throws `BoardError` for an inconsistent spec. */
export function buildDeviceTree(spec: DeviceTreeSpec): Uint8Array {
  checkSpec(spec);
  const t = new FdtBuilder();
  for (const r of spec.reservations ?? []) t.reserve(r.address, r.size);
  const plicDev = spec.devices.find((d) => d.kind === "plic");
  const ctx: EmitContext = {
    harts: spec.harts,
    plic() {
      if (!plicDev) throw new BoardError("device tree: a device needs an interrupt but no PLIC is registered");
      return t.phandle(REF.plic);
    },
    intc: (h) => t.phandle(REF.intc(h)),
  };

  t.beginNode("");
  t.propU32("#address-cells", 2);
  t.propU32("#size-cells", 2);
  t.propString("compatible", "riscv-virtio");
  t.propString("model", spec.model ?? DT_DEFAULTS.model);

  t.beginNode("chosen");
  if (spec.bootargs !== "") t.propString("bootargs", spec.bootargs);
  if (spec.stdoutPath !== undefined) t.propString("stdout-path", spec.stdoutPath);
  if (spec.initrd) {
    t.propU64("linux,initrd-start", spec.initrd.start);
    t.propU64("linux,initrd-end", spec.initrd.end);
  }
  if (spec.rngSeed) t.propBytes("rng-seed", spec.rngSeed);
  t.endNode();

  t.beginNode(`memory@${hex(spec.ramBase)}`);
  t.propString("device_type", "memory");
  t.propU64s("reg", [spec.ramBase, spec.ramSize]);
  t.endNode();

  emitCpus(t, spec, ctx);

  t.beginNode("soc");
  t.propU32("#address-cells", 2);
  t.propU32("#size-cells", 2);
  t.propString("compatible", "simple-bus");
  t.propEmpty("ranges");
  for (const d of spec.devices) {
    const e = emitterFor(d);
    t.beginNode(e.nodeName(d));
    e.emit(t, d, ctx);
    t.endNode();
  }
  t.endNode();

  t.endNode();
  const blob = t.finish({ bootCpuId: spec.bootHart ?? 0, extraSpace: spec.extraSpace ?? 0 });

  if (spec.stdoutPath !== undefined) {
    const path = spec.stdoutPath.split(":")[0]!;
    if (!parseFdt(blob).node(path)) throw new BoardError(`device tree: stdout-path "${path}" names no node`);
  }
  return blob;
}

function emitCpus(t: FdtBuilder, spec: DeviceTreeSpec, ctx: EmitContext): void {
  t.beginNode("cpus");
  t.propU32("#address-cells", 1);
  t.propU32("#size-cells", 0);
  t.propU32("timebase-frequency", spec.timebaseFrequency);
  for (let h = 0; h < spec.harts; h++) {
    t.beginNode(`cpu@${hex(h)}`);
    t.propPhandle(REF.cpu(h));
    t.propString("device_type", "cpu");
    t.propU32("reg", h);
    t.propString("status", "okay");
    t.propString("compatible", "riscv");
    t.propString("riscv,isa", spec.isa);
    if (spec.isaExtensions) {
      t.propString("riscv,isa-base", spec.isa.slice(0, 4) + "i");
      t.propStrings("riscv,isa-extensions", spec.isaExtensions);
    }
    t.propString("mmu-type", spec.mmuType);
    t.beginNode("interrupt-controller");
    t.propU32("#address-cells", 0);
    t.propU32("#interrupt-cells", 1);
    t.propEmpty("interrupt-controller");
    t.propString("compatible", "riscv,cpu-intc");
    t.propPhandle(REF.intc(h));
    t.endNode();
    t.endNode();
  }
  if (spec.cpuMap ?? true) {
    t.beginNode("cpu-map");
    t.beginNode("cluster0");
    for (let h = 0; h < spec.harts; h++) {
      t.beginNode(`core${h}`);
      t.propU32("cpu", t.phandle(REF.cpu(h)));
      t.endNode();
    }
    t.endNode();
    t.endNode();
  }
  t.endNode();
}
