/**
 * The host memory budget the hypervisor hands out, and admission against it.
 *
 * Every running VM holds a charge: the guest RAM it may touch (its RAM minus what its
 * balloon holds) plus a fixed per-VM overhead (vCPU threads' isolates, decoded code,
 * device buffers; measured, see MEMORY_DEFAULTS). A VM is admitted at start only when its
 * charge fits what is free; a balloon that inflates shrinks the charge and the difference
 * returns to the pool, so squeezing idle VMs makes room for one more (overcommit: the sum
 * of the guests' RAM sizes may exceed the budget, the sum of the charges never does).
 *
 * The pool is bookkeeping on the main thread: it never touches guest memory. Whether the
 * host really gets the memory back is the balloon's business (docs/memory.md).
 */
import { readFileSync } from "node:fs";

const MiB = 1024 * 1024;

export const MEMORY_DEFAULTS = {
  /** The default budget: this fraction of the memory the host has available at start. */
  HOST_FRACTION: 0.75,
  /**
   * Host memory a running VM takes beyond its guest RAM, charged on admission. Measured by
   * bench:elastic part 2 (process RSS minus the guests' resident RAM, per idle 1-vCPU pv
   * VM after boot): 60–68 MiB on 2026-12-02, 56 MiB once each vCPU isolate's young
   * generation was capped (VM_DEFAULTS.VCPU_YOUNG_GENERATION_MB) — the vCPU thread's V8
   * isolate (heap, the interpreter's optimized code) and the hart's code cache (a boot
   * decodes ~650 pages: ~22 MB, docs/cpu.md). Charged with a margin so admission protects
   * the host; shrinking it is issue 12's open "≤ 8 MiB per VM" goal.
   */
  VM_OVERHEAD_BYTES: 64 * MiB,
  /** Each further vCPU thread: its own isolate and code cache (estimated from the above, not yet measured apart). */
  VCPU_OVERHEAD_BYTES: 40 * MiB,
  /** The smallest budget accepted from `--host-mem`. */
  MIN_BUDGET_BYTES: 64 * MiB,
} as const;

/** A VM does not fit the budget; the message says what was asked and what is free. */
export class AdmissionError extends Error {
  override readonly name = "AdmissionError";
  constructor(
    message: string,
    readonly askedBytes: number,
    readonly freeBytes: number,
    readonly budgetBytes: number,
  ) {
    super(message);
  }
}

/** The per-VM host overhead charged beside its RAM. */
export function vmOverheadBytes(cpus: number): number {
  return MEMORY_DEFAULTS.VM_OVERHEAD_BYTES + Math.max(0, cpus - 1) * MEMORY_DEFAULTS.VCPU_OVERHEAD_BYTES;
}

/** What a VM of `memBytes` RAM and `cpus` vCPUs is charged while its balloon holds `balloonBytes`. */
export function vmChargeBytes(memBytes: number, cpus: number, balloonBytes = 0): number {
  return Math.max(0, memBytes - balloonBytes) + vmOverheadBytes(cpus);
}

/** What a VM built from this spec is charged at start: its memory target (if any) is what the balloon leaves it. */
export function specChargeBytes(spec: { readonly memBytes: number; readonly cpus: number; readonly memTargetBytes?: number }): number {
  return vmChargeBytes(spec.memBytes, spec.cpus, spec.memBytes - (spec.memTargetBytes ?? spec.memBytes));
}

/** MemAvailable from /proc/meminfo (bytes), or null off Linux. */
export function hostAvailableBytes(): number | null {
  try {
    const m = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync("/proc/meminfo", "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** The default budget and where it came from (printed at start). */
export function defaultBudget(): { bytes: number; source: string } {
  const avail = hostAvailableBytes();
  if (avail === null) return { bytes: 2048 * MiB, source: "2 GiB (the host's available memory is unknown)" };
  const bytes = Math.floor((avail * MEMORY_DEFAULTS.HOST_FRACTION) / MiB) * MiB;
  return { bytes, source: `${MEMORY_DEFAULTS.HOST_FRACTION * 100}% of the host's ${mib(avail)} available` };
}

export function mib(bytes: number): string {
  return `${Math.round(bytes / MiB)} MiB`;
}

export interface PoolSnapshot {
  readonly budgetBytes: number;
  readonly chargedBytes: number;
  readonly freeBytes: number;
  readonly vms: readonly { readonly name: string; readonly bytes: number }[];
}

export class MemoryPool {
  private readonly charges = new Map<string, number>();
  private charged = 0;

  constructor(readonly budgetBytes: number) {
    if (!Number.isFinite(budgetBytes) || budgetBytes < MEMORY_DEFAULTS.MIN_BUDGET_BYTES) {
      throw new RangeError(`host memory budget ${mib(budgetBytes)} is below the minimum of ${mib(MEMORY_DEFAULTS.MIN_BUDGET_BYTES)}`);
    }
  }

  get chargedBytes(): number {
    return this.charged;
  }

  get freeBytes(): number {
    return this.budgetBytes - this.charged;
  }

  /** The charge a VM holds now, or undefined when it holds none. */
  chargeOf(vm: string): number | undefined {
    return this.charges.get(vm);
  }

  /** Would `bytes` more fit now (beside what `vm` already holds, which it would replace)? */
  fits(bytes: number, vm?: string): boolean {
    const held = vm !== undefined ? this.charges.get(vm) ?? 0 : 0;
    return bytes - held <= this.freeBytes;
  }

  /** Charge `vm` with `bytes`, or throw AdmissionError and change nothing. */
  admit(vm: string, bytes: number, what = `VM ${vm}`): void {
    if (this.charges.has(vm)) throw new Error(`VM ${vm} already holds ${mib(this.charges.get(vm)!)} of the memory budget`);
    if (!this.fits(bytes)) {
      throw new AdmissionError(
        `${what} needs ${mib(bytes)} of host memory, but only ${mib(this.freeBytes)} of the ${mib(this.budgetBytes)} budget is free` +
          ` (${mib(this.charged)} held by ${this.charges.size} running VM${this.charges.size === 1 ? "" : "s"}; shrink one with a memory target, or raise --host-mem)`,
        bytes,
        this.freeBytes,
        this.budgetBytes,
      );
    }
    this.charges.set(vm, bytes);
    this.charged += bytes;
  }

  /**
   * Change a running VM's charge (its balloon moved). Shrinking always succeeds; growing
   * throws AdmissionError when the growth does not fit, and changes nothing.
   */
  resize(vm: string, bytes: number): void {
    const held = this.charges.get(vm);
    if (held === undefined) throw new Error(`VM ${vm} holds no memory from the budget`);
    if (bytes > held && !this.fits(bytes, vm)) {
      throw new AdmissionError(
        `VM ${vm} would grow from ${mib(held)} to ${mib(bytes)} of host memory, but only ${mib(this.freeBytes)} of the ${mib(this.budgetBytes)} budget is free`,
        bytes - held,
        this.freeBytes,
        this.budgetBytes,
      );
    }
    this.charges.set(vm, bytes);
    this.charged += bytes - held;
  }

  /** The VM stopped: its charge returns to the pool. */
  release(vm: string): void {
    const held = this.charges.get(vm);
    if (held === undefined) return;
    this.charges.delete(vm);
    this.charged -= held;
  }

  snapshot(): PoolSnapshot {
    return {
      budgetBytes: this.budgetBytes,
      chargedBytes: this.charged,
      freeBytes: this.freeBytes,
      vms: [...this.charges].map(([name, bytes]) => ({ name, bytes })),
    };
  }
}
