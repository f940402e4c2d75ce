/**
 * Exits per device register, per hart: on the full machine every register access traps,
 * and which registers the guest hammers (the ATA data port, the UART's LSR, the PLIC's
 * claim register) is the cost of full virtualization made visible.
 *
 * `CountingDevice` wraps a device on the bus and counts each access under a register
 * name given by the device kind's table below, for the hart whose slice is running
 * (`RunLoop.current`). Counting costs a map update per MMIO access, which already leaves
 * the hart's fast path; plain RAM accesses are untouched.
 */
import type { DeviceState, MmioDevice } from "../devices/device.js";
import { ATA_REG } from "../devices/ata/device.js";
import { CLINT } from "../devices/clint/device.js";
import { PLIC } from "../devices/plic/device.js";

/** The register an access hits: a short name the guest's driver would use. */
export type RegisterNamer = (offset: number, write: boolean) => string;

const UART_READ = ["RBR", "IER", "IIR", "LCR", "MCR", "LSR", "MSR", "SCR"] as const;
const UART_WRITE = ["THR", "IER", "FCR", "LCR", "MCR", "LSR", "MSR", "SCR"] as const;

/**
 * NS16550A registers by offset. With LCR.DLAB set, offsets 0 and 1 are the divisor
 * latch (DLL/DLM): the driver touches them a handful of times at probe, so they are not
 * told apart from RBR/THR and IER here.
 */
export const uartRegister: RegisterNamer = (offset, write) => (write ? UART_WRITE : UART_READ)[offset & 7]!;

export const clintRegister: RegisterNamer = (offset) =>
  offset < CLINT.MTIMECMP_BASE ? "msip" : offset < CLINT.MTIME ? "mtimecmp" : "mtime";

export const plicRegister: RegisterNamer = (offset, write) => {
  if (offset < PLIC.PENDING_BASE) return "priority";
  if (offset < PLIC.ENABLE_BASE) return "pending";
  if (offset < PLIC.CONTEXT_BASE) return "enable";
  if ((offset & 0xfff) === PLIC.CTX_THRESHOLD) return "threshold";
  if ((offset & 0xfff) === PLIC.CTX_CLAIM) return write ? "complete" : "claim";
  return "reserved";
};

const ATA_CMD_READ = ["data", "error", "nsect", "lbal", "lbam", "lbah", "device", "status"] as const;
const ATA_CMD_WRITE = ["data", "feature", "nsect", "lbal", "lbam", "lbah", "device", "command"] as const;

/** ATA command block at `cmdOffset`, control block at `ctlOffset`, register n at block + (n << shift). */
export function ataRegister(cmdOffset: number, ctlOffset: number, shift: number): RegisterNamer {
  return (offset, write) => {
    if (offset >= ctlOffset) {
      // The control block's first register (alt status / device control, ata-generic's reg[1]).
      return offset === ctlOffset ? (write ? "devctl" : "altstatus") : "ctl-reserved";
    }
    const n = (offset - cmdOffset) >> shift;
    if (n === ATA_REG.DATA) return "data";
    if (n < 0 || n > 7) return "reserved";
    return (write ? ATA_CMD_WRITE : ATA_CMD_READ)[n]!;
  };
}

/** The running hart, as the run loop publishes it. */
export interface CurrentHart {
  readonly current: number;
}

/** A device whose accesses are counted per register per hart; otherwise it is `inner`. */
export class CountingDevice implements MmioDevice {
  readonly size: number;
  /** Per hart: offset·2 + (1 for a write) → count; named only when reported (no string per access). */
  readonly counts: Map<number, number>[];

  constructor(
    readonly inner: MmioDevice,
    private readonly name: RegisterNamer,
    private readonly cpu: CurrentHart,
    harts: number,
  ) {
    this.size = inner.size;
    this.counts = Array.from({ length: harts }, () => new Map<number, number>());
  }

  private count(offset: number, write: boolean): void {
    const key = offset * 2 + (write ? 1 : 0);
    const m = this.counts[this.cpu.current];
    if (m !== undefined) m.set(key, (m.get(key) ?? 0) + 1);
  }

  read(offset: number, width: 1 | 2 | 4): number {
    this.count(offset, false);
    return this.inner.read(offset, width);
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    this.count(offset, true);
    this.inner.write(offset, width, value);
  }

  reset(): void {
    this.inner.reset();
  }

  save(): DeviceState {
    return this.inner.save();
  }

  load(s: DeviceState): void {
    this.inner.load(s);
  }

  /** Add hart i's counts to `exits` as "mmio.<device>.<register>.read|write" (offsets naming the same register add up). */
  addExits(device: string, hart: number, exits: Record<string, number>): void {
    for (const [key, v] of this.counts[hart] ?? []) {
      const write = (key & 1) === 1;
      const name = `mmio.${device}.${this.name(Math.floor(key / 2), write)}.${write ? "write" : "read"}`;
      exits[name] = (exits[name] ?? 0) + v;
    }
  }
}
