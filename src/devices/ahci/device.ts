/**
 * An AHCI SATA host bus adapter (AHCI 1.3.1) as a PCI function behind the generic PCIe
 * host: the full machine's DMA disk path, beside the ATA PIO controller. Linux's `ahci`
 * driver binds to it by class code (01:06:01); the identity is QEMU's ich9-ahci
 * (8086:2922), so images made on `qemu -M virt -device ich9-ahci` see the same
 * controller.
 *
 * BAR5 (ABAR, 4 KiB of memory space) holds the generic host registers and one port
 * (port.ts); the disk (disk.ts) executes ATA commands. Capabilities: one port, 32 command
 * slots, 64-bit addressing, command list override; no NCQ, no port multiplier, no
 * staggered spin-up, no MSI (Linux falls back to INTx), no enclosure management.
 *
 * Registers are 32 bits wide. A narrower read returns the addressed bytes of the
 * register; a narrower write is dropped (counted as `narrowWrites`), since half a write to
 * a write-1-to-clear or command register has no defined meaning and Linux never does one.
 *
 * The interrupt is a level: GHC.IE and any port with PxIS & PxIE. HBA IS reads as the
 * ports with such bits, so writing it back (as Linux does) changes nothing by itself:
 * the level drops when the guest clears PxIS.
 */
import type { GuestRam } from "../../mem/ram.js";
import type { DeviceState } from "../device.js";
import type { PciBar, PciFunction, PciIdentity, PciPort } from "../pci/config.js";
import type { BlockBackend } from "../virtio/blk/device.js";
import { SataDisk, type DiskStats } from "./disk.js";
import { AhciPort, type PortStats } from "./port.js";
import { AHCI, AHCI_PCI, ALIGN_MASK, CAP, GHC, HBA_REG, PORT_REG } from "./regs.js";

export interface AhciStats extends PortStats, DiskStats {
  /** BAR5 accesses (exits) per register name: "P0CI", "P0IS", "IS", "GHC", … */
  exits: Record<string, number>;
  /** Rising edges of the interrupt line. */
  interrupts: number;
  /** Sub-dword register writes (dropped). */
  narrowWrites: number;
}

export interface AhciOptions {
  /** IDENTIFY serial number (20 characters at most). */
  readonly serial?: string;
  /** PCI subsystem ids (default QEMU's 1af4:1100). */
  readonly subsystemVendorId?: number;
  readonly subsystemId?: number;
}

const HOST_NAMES: Record<number, string> = {
  [HBA_REG.CAP]: "CAP",
  [HBA_REG.GHC]: "GHC",
  [HBA_REG.IS]: "IS",
  [HBA_REG.PI]: "PI",
  [HBA_REG.VS]: "VS",
  [HBA_REG.CCC_CTL]: "CCC_CTL",
  [HBA_REG.CCC_PORTS]: "CCC_PORTS",
  [HBA_REG.EM_LOC]: "EM_LOC",
  [HBA_REG.EM_CTL]: "EM_CTL",
  [HBA_REG.CAP2]: "CAP2",
  [HBA_REG.BOHC]: "BOHC",
};
const PORT_NAMES: Record<number, string> = Object.fromEntries(Object.entries(PORT_REG).map(([k, v]) => [v, k]));

/** Register name for an ABAR offset, as the exit counters show it. */
export function ahciRegisterName(offset: number): string {
  const reg = offset & ~3;
  if (reg < AHCI.PORT_BASE) return HOST_NAMES[reg] ?? "reserved";
  const port = Math.floor((reg - AHCI.PORT_BASE) / AHCI.PORT_STRIDE);
  if (port >= AHCI.PORTS) return "reserved";
  return `P${port}${PORT_NAMES[(reg - AHCI.PORT_BASE) % AHCI.PORT_STRIDE] ?? "reserved"}`;
}

const CAP_VALUE =
  (((AHCI.PORTS - 1) << CAP.NP_SHIFT) |
    ((AHCI.SLOTS - 1) << CAP.NCS_SHIFT) |
    CAP.SAM |
    (CAP.ISS_GEN1 << CAP.ISS_SHIFT) |
    CAP.SCLO |
    CAP.S64A) >>>
  0;

export class AhciDevice implements PciFunction {
  readonly identity: PciIdentity;
  readonly bars: readonly (PciBar | null)[] = [null, null, null, null, null, { kind: "mem32", size: AHCI.ABAR_SIZE }];
  readonly port: AhciPort;
  readonly disk: SataDisk;
  private ghc = GHC.AE;
  private pci: PciPort | null = null;
  private level = false;
  private readonly exits: Record<string, number> = {};
  private interrupts = 0;
  private narrowWrites = 0;
  private ready = false;

  constructor(
    readonly ram: GuestRam,
    backend: BlockBackend,
    options: AhciOptions = {},
  ) {
    this.identity = {
      vendorId: AHCI_PCI.VENDOR,
      deviceId: AHCI_PCI.DEVICE,
      classCode: AHCI_PCI.CLASS,
      revision: AHCI_PCI.REVISION,
      subsystemVendorId: options.subsystemVendorId ?? 0x1af4,
      subsystemId: options.subsystemId ?? 0x1100,
      interruptPin: 1,
    };
    this.disk = new SataDisk(backend, options.serial);
    this.port = new AhciPort(
      {
        ram,
        dmaAllowed: () => this.pci !== null && this.pci.busMaster(),
        portIrqChanged: () => this.updateIrq(),
      },
      this.disk,
    );
    this.ready = true;
  }

  get stats(): AhciStats {
    return {
      ...this.port.stats,
      ...this.disk.stats,
      // The port counts every issued command, the disk only those that reach it.
      commands: this.port.stats.commands,
      exits: { ...this.exits },
      interrupts: this.interrupts,
      narrowWrites: this.narrowWrites,
    };
  }

  connect(port: PciPort): void {
    this.pci = port;
    this.updateIrq();
  }

  barRead(bar: number, offset: number, width: 1 | 2 | 4): number {
    if (bar !== AHCI.ABAR_INDEX) return -1;
    this.count(offset);
    const v = this.readReg(offset & ~3);
    if (width === 4) return v | 0;
    const shift = (offset & 3) * 8;
    return (v >>> shift) & (width === 1 ? 0xff : 0xffff);
  }

  barWrite(bar: number, offset: number, width: 1 | 2 | 4, value: number): void {
    if (bar !== AHCI.ABAR_INDEX) return;
    this.count(offset);
    if (width !== 4 || (offset & 3) !== 0) {
      this.narrowWrites++;
      return;
    }
    this.writeReg(offset, value >>> 0);
  }

  /** Power-on state (also what GHC.HR does, except that PxCLB/PxFB survive an HBA reset). */
  reset(): void {
    this.ghc = GHC.AE;
    this.port.clb = this.port.clbu = this.port.fb = this.port.fbu = 0;
    this.port.reset();
    this.updateIrq();
  }

  private count(offset: number): void {
    const name = ahciRegisterName(offset);
    this.exits[name] = (this.exits[name] ?? 0) + 1;
  }

  private portBase(offset: number): number {
    const rel = offset - AHCI.PORT_BASE;
    return rel >= 0 && rel < AHCI.PORTS * AHCI.PORT_STRIDE ? rel % AHCI.PORT_STRIDE : -1;
  }

  private readReg(offset: number): number {
    const p = this.portBase(offset);
    if (p >= 0) return this.port.read(p);
    switch (offset) {
      case HBA_REG.CAP:
        return CAP_VALUE;
      case HBA_REG.GHC:
        return this.ghc;
      case HBA_REG.IS:
        return this.portPending() ? 1 : 0;
      case HBA_REG.PI:
        return (1 << AHCI.PORTS) - 1;
      case HBA_REG.VS:
        return AHCI.VERSION;
      default:
        return 0; // CCC, EM, CAP2 (nothing extended), BOHC: not implemented
    }
  }

  private writeReg(offset: number, v: number): void {
    const p = this.portBase(offset);
    if (p >= 0) {
      this.port.write(p, v);
      return;
    }
    if (offset !== HBA_REG.GHC) return; // CAP and PI are read-only here; IS follows the ports
    if (v & GHC.HR) {
      // HBA reset completes at once, so HR reads back 0 (AHCI §10.4.3).
      this.ghc = GHC.AE;
      this.port.reset();
    } else {
      this.ghc = (GHC.AE | (v & GHC.IE)) >>> 0;
    }
    this.updateIrq();
  }

  private portPending(): boolean {
    return (this.port.is & this.port.ie) !== 0;
  }

  private updateIrq(): void {
    if (!this.ready || this.pci === null) return;
    const level = (this.ghc & GHC.IE) !== 0 && this.portPending();
    if (level === this.level) return;
    this.level = level;
    if (level) this.interrupts++;
    this.pci.intx.set(level);
  }

  // --- Snapshot ----------------------------------------------------------------------

  save(): DeviceState {
    const p = this.port;
    return {
      ghc: this.ghc,
      port: {
        clb: p.clb,
        clbu: p.clbu,
        fb: p.fb,
        fbu: p.fbu,
        is: p.is,
        ie: p.ie,
        cmd: p.cmd,
        tfd: p.tfd,
        sig: p.sig,
        ssts: p.ssts,
        sctl: p.sctl,
        serr: p.serr,
        ci: p.ci,
        halted: p.halted,
      },
      udmaMode: this.disk.udmaMode,
      mwdmaMode: this.disk.mwdmaMode,
    };
  }

  load(s: DeviceState): void {
    const u32 = (o: Record<string, unknown>, k: string): number => {
      const v = Number(o[k]);
      return Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff ? v : 0;
    };
    this.reset();
    this.ghc = (GHC.AE | (u32(s, "ghc") & GHC.IE)) >>> 0;
    const saved = typeof s["port"] === "object" && s["port"] !== null ? (s["port"] as Record<string, unknown>) : {};
    const p = this.port;
    p.clb = (u32(saved, "clb") & ~ALIGN_MASK.CLB) >>> 0;
    p.clbu = u32(saved, "clbu");
    p.fb = (u32(saved, "fb") & ~ALIGN_MASK.FB) >>> 0;
    p.fbu = u32(saved, "fbu");
    p.is = u32(saved, "is");
    p.ie = u32(saved, "ie");
    p.cmd = u32(saved, "cmd");
    p.tfd = u32(saved, "tfd") & 0xffff;
    p.sig = u32(saved, "sig");
    p.ssts = u32(saved, "ssts") & 0xfff;
    p.sctl = u32(saved, "sctl") & 0xfff;
    p.serr = u32(saved, "serr");
    p.ci = u32(saved, "ci");
    p.halted = saved["halted"] === true;
    const mode = (k: string, max: number): number => {
      const v = Number(s[k]);
      return Number.isInteger(v) && v >= 0 && v <= max ? v : -1;
    };
    this.disk.udmaMode = mode("udmaMode", 6);
    this.disk.mwdmaMode = mode("mwdmaMode", 2);
    this.updateIrq();
  }
}
