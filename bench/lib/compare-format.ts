/**
 * How bench:compare's report writes numbers and ratios, shared by the Markdown
 * (compare-report.ts) and the charts (compare-charts.ts) so a figure reads the same in both.
 *
 * Every ratio is "this column against pv" because pv is the baseline of the comparison;
 * whether a ratio above 1 is good depends on the row (`better`), so the words say it.
 */
import type { CompareColumn, CompareRow } from "./compare-types.js";

/** Significant figures of a ratio, and of a value that is not a whole number ≥ 100. */
const SIG_FIGS = 3;
/** From here on a value is written as a whole number with separators (524,288). */
const WHOLE_FROM = 100;
/** Below this a value is written in exponent form rather than as 0.0000… */
const TINY = 1e-4;

/** 524288 → "524,288"; 15.625 → "15.6"; 0.01234 → "0.0123"; 4 → "4". */
export function fmtNum(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? "—" : n > 0 ? "∞" : "−∞";
  if (n === 0) return "0";
  const a = Math.abs(n);
  if (a >= WHOLE_FROM || Number.isInteger(n)) return Math.round(n).toLocaleString("en-US");
  if (a < TINY) return n.toExponential(SIG_FIGS - 1);
  // toPrecision then Number drops trailing zeros: a value reads "1.5", not "1.50".
  return String(Number(n.toPrecision(SIG_FIGS)));
}

/** A ratio to 3 significant figures, trailing zeros kept ("1.50"); whole with separators from 1000. */
export function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return Number.isNaN(r) ? "—" : "∞";
  if (r === 0) return "0";
  if (Math.abs(r) >= 1000) return Math.round(r).toLocaleString("en-US");
  if (Math.abs(r) < TINY) return r.toExponential(SIG_FIGS - 1);
  return r.toPrecision(SIG_FIGS);
}

/** "4.1 s", "12 MiB/s", "37 % of a core" (a unit starting with % is not spaced apart). */
export function withUnit(n: number, unit: string): string {
  if (unit === "") return fmtNum(n);
  return unit.startsWith("%") ? `${fmtNum(n)}${unit}` : `${fmtNum(n)} ${unit}`;
}

/** 754.2 → "12 min 34 s"; 42.25 → "42.3 s"; 3725 → "1 h 2 min". */
export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "unknown";
  if (seconds < 60) return `${fmtNum(seconds)} s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : `${m} min ${s % 60} s`;
}

/** An ISO date-time as "2026-12-03 14:05:12 UTC" (the same text wherever it is rendered). */
export function fmtDate(iso: string): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return new Date(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

export interface VsPv {
  /** value / pv value. */
  readonly ratio: number;
  /** How many times worse than pv (> 1 worse, < 1 better), whichever direction the row prefers. */
  readonly worse: number;
}

/** This column's figure against pv's, or null when either is missing or pv is 0 (no ratio). */
export function vsPv(row: CompareRow, column: CompareColumn): VsPv | null {
  const v = row.cells[column].value;
  const base = row.cells.pv.value;
  if (v === null || base === null || base === 0) return null;
  const ratio = v / base;
  if (!Number.isFinite(ratio)) return null;
  const worse = row.better === "lower" ? ratio : 1 / ratio;
  return { ratio, worse };
}

/**
 * The comparison in words, for a table cell: "2.50× pv, worse"; "0.400× pv, 2.50× worse"
 * (when the ratio is below 1 the factor the reader wants is its inverse, so it is given);
 * "baseline" for pv itself; why there is no ratio otherwise.
 */
export function vsPvText(row: CompareRow, column: CompareColumn): string {
  if (row.cells[column].value === null) return "";
  if (column === "pv") return "baseline";
  const base = row.cells.pv.value;
  if (base === null) return "no pv figure to compare";
  const c = vsPv(row, column);
  if (c === null) return "pv is 0: no ratio";
  const r = fmtRatio(c.ratio);
  if (r === fmtRatio(1)) return `${r}× pv, the same`;
  const word = c.worse > 1 ? "worse" : "better";
  if (c.ratio > 1 || c.ratio === 0) return `${r}× pv, ${word}`;
  return `${r}× pv, ${fmtRatio(1 / c.ratio)}× ${word}`;
}

/** "lower is better" / "higher is better". */
export function betterText(row: CompareRow): string {
  return `${row.better} is better`;
}
