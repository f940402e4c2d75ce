/**
 * The shape of `npm run bench:compare`'s results (bench/compare.ts measures, bench/lib/
 * compare-report.ts renders them into docs/compare/). One file so the two agree: the raw
 * JSON written under bench/results/ and copied next to the report is exactly this.
 */
import type { HostInfo } from "./common.js";

/** The ways of running the same guest work, in report order; `pv` is the baseline of every ratio. */
export const COMPARE_COLUMNS = ["pv", "full", "container", "qemu-virtio", "qemu-emulated"] as const;
export type CompareColumn = (typeof COMPARE_COLUMNS)[number];

export const COLUMN_TITLES: Readonly<Record<CompareColumn, string>> = {
  pv: "paravm pv",
  full: "paravm full",
  container: "container in a pv VM",
  "qemu-virtio": "QEMU TCG, virtio",
  "qemu-emulated": "QEMU TCG, e1000 + emulated disk",
};

/** One measured (or not measurable) value. */
export interface CompareCell {
  /** The figure in the row's unit; null when it could not be measured (then `why` says why). */
  readonly value: number | null;
  readonly why?: string;
  /** Individual samples behind `value` (e.g. each run before the median). */
  readonly samples?: readonly number[];
  /**
   * What explains the figure, per operation of the row (per MiB, per iteration, per boot…):
   * exits by reason, guest instructions, firmware traps. Keys are free-form short names
   * ("exits", "exits.mmio", "instructions", "m-mode instructions", "notifications"…).
   */
  readonly perOp?: Readonly<Record<string, number>>;
  /** What one operation is for `perOp` ("MiB", "iteration", "boot"…). */
  readonly opUnit?: string;
  /** Anything a reader needs to trust the cell (sizes used, runs, a caveat). */
  readonly note?: string;
}

export interface CompareRow {
  /** Stable id: "boot-shell", "boot-first-output", "cpu", "syscall", "timer", "disk-write", "disk-read", "net-throughput", "net-rtt", "mem-overhead", "density", "idle-cpu". */
  readonly id: string;
  readonly title: string;
  /** Unit of every cell's value ("s", "ms", "MiB/s", "µs", "MiB", "instances", "% of a core"…). */
  readonly unit: string;
  /** Which direction is better, so the report can say "3.2× slower" rather than just a ratio. */
  readonly better: "lower" | "higher";
  /** How it was measured, one or two sentences (the workload, sizes, runs). */
  readonly method: string;
  readonly cells: Readonly<Record<CompareColumn, CompareCell>>;
  /**
   * Sentences computed from the cells' perOp figures that explain the differences
   * ("ATA PIO: 524,288 data-port exits per MiB against 15.6 virtio notifications").
   */
  readonly explain: readonly string[];
}

export interface CompareResults {
  readonly bench: "compare";
  /** ISO date-time of the run's start. */
  readonly date: string;
  readonly durationS: number;
  readonly host: HostInfo;
  readonly versions: Readonly<Record<string, string | null>>;
  readonly git: { readonly commit: string | null; readonly dirty: boolean | null };
  /** The guest: kernel and initramfs used by every column (hashes or paths). */
  readonly guest: Readonly<Record<string, string>>;
  /** The options of this run (sizes, runs, budget). */
  readonly options: Readonly<Record<string, number | string | boolean>>;
  readonly rows: readonly CompareRow[];
  /** One or two sentences for the README: the headline the report leads with. */
  readonly headline: string;
}
