/**
 * What bench:compare's report draws (svg-chart.ts draws it):
 *
 *   summary.svg       every row, every column against pv, as "times worse than pv" on a
 *                     log scale with pv as the line at 1×: right of it is worse, left better,
 *                     whatever the row's direction, so one glance shows where each column stands.
 *   <row>.svg         one row's values in its unit, a bar per column, samples as dots; a log
 *                     scale when the values span more than LOG_FROM_SPAN (an emulated disk 100×
 *                     slower would otherwise leave pv's bar a hairline).
 *   <row>-per-op.svg  the row's perOp figures (exits, instructions… per MiB or per iteration),
 *                     a group per figure, on a log scale because they span decades (524,288
 *                     port exits against 15.6 notifications).
 */
import { COLUMN_TITLES, COMPARE_COLUMNS, type CompareColumn, type CompareResults, type CompareRow } from "./compare-types.js";
import { betterText, fmtNum, fmtRatio, vsPv, withUnit } from "./compare-format.js";
import { formatTick, renderBarChart, type ChartBar, type ChartSeries } from "./svg-chart.js";

/**
 * One colour per column, told apart without relying on hue alone (blue, orange, green,
 * purple, grey differ in lightness too) and each at least 3:1 against the white background
 * (WCAG's figure for graphics; compare-report.test checks it).
 */
export const COLUMN_COLORS: Readonly<Record<CompareColumn, string>> = {
  pv: "#0b62a4",
  full: "#c0500a",
  container: "#1b7f5a",
  "qemu-virtio": "#8e4a9e",
  "qemu-emulated": "#5f5f5f",
};

/** Values spanning more than this factor are drawn on a log scale. */
export const LOG_FROM_SPAN = 50;
/** The per-op chart draws at most this many figures (the table lists all). */
export const MAX_PER_OP_FIGURES = 8;
/** A "not measured" reason is cut to this many characters inside a chart (the table has it whole). */
const WHY_IN_CHART = 48;

export interface Chart {
  /** File name inside the report's directory. */
  readonly file: string;
  /** Alt text for the Markdown image. */
  readonly alt: string;
  readonly svg: string;
}

const seriesOf = (cols: readonly CompareColumn[]): ChartSeries[] => cols.map((c) => ({ name: COLUMN_TITLES[c], color: COLUMN_COLORS[c] }));

function notMeasured(why: string | undefined): string {
  const w = (why ?? "").trim();
  const cut = Array.from(w);
  return w === "" ? "not measured" : `not measured: ${cut.length > WHY_IN_CHART ? cut.slice(0, WHY_IN_CHART - 1).join("") + "…" : w}`;
}

/** The file name of a row's value chart (the id is validated to be a safe file name). */
export const rowChartFile = (row: CompareRow) => `${row.id}.svg`;
export const perOpChartFile = (row: CompareRow) => `${row.id}-per-op.svg`;
export const SUMMARY_CHART_FILE = "summary.svg";

/** Every column but pv against pv, one group per row. */
export function summaryChart(results: CompareResults): Chart {
  const others = COMPARE_COLUMNS.filter((c) => c !== "pv");
  const groups = results.rows.map((row) => ({
    label: row.title,
    bars: others.map((col): ChartBar => {
      const cell = row.cells[col];
      const c = vsPv(row, col);
      if (cell.value === null) return { value: null, missing: notMeasured(cell.why), title: `${row.title}, ${COLUMN_TITLES[col]}: not measured: ${cell.why ?? ""}` };
      if (c === null) return { value: null, missing: row.cells.pv.value === null ? "no pv figure" : "pv is 0: no ratio" };
      const words = worseWords(c.worse);
      return {
        value: c.worse,
        label: words,
        // A zero on either side has no place on a log axis: say which way it went.
        missing: c.worse === 0 ? "infinitely better (0)" : c.worse === Infinity ? "infinitely worse (0)" : undefined,
        title: `${row.title}, ${COLUMN_TITLES[col]}: ${words === "the same" ? "the same as" : `${words} than`} pv (${withUnit(cell.value, row.unit)} against ${withUnit(row.cells.pv.value!, row.unit)}; ${betterText(row)})`,
      };
    }),
  }));
  return {
    file: SUMMARY_CHART_FILE,
    alt: "Every measurement against paravm pv: times worse than pv on a log scale, right of the 1× line is worse",
    svg: renderBarChart({
      title: "Against paravm pv: how many times worse (log scale)",
      description: "For each measurement, each way of running the guest as a factor of paravm pv's figure; above 1 is worse than pv, below 1 better, whichever direction the measurement prefers.",
      series: seriesOf(others),
      groups,
      scale: "log",
      baseline: 1,
      reference: { value: 1, label: "= paravm pv" },
      axisLabel: "against paravm pv, log scale: right of the dashed line is worse, left is better",
      seriesLabels: "legend",
      formatValue: worseWords,
      formatTick: (n) => (n === 1 ? "1× (pv)" : n > 1 ? `${formatTick(n)}× worse` : `${formatTick(1 / n)}× better`),
    }),
  };
}

/** A factor of "worse than pv" in words: "44.3× worse", "1.41× better" (not "0.707× worse"). */
function worseWords(worse: number): string {
  if (fmtRatio(worse) === fmtRatio(1)) return "the same";
  return worse > 1 ? `${fmtRatio(worse)}× worse` : `${fmtRatio(1 / worse)}× better`;
}

/** One row's values, a bar per column. */
export function rowChart(row: CompareRow): Chart {
  const measured = COMPARE_COLUMNS.flatMap((c) => (row.cells[c].value === null ? [] : [row.cells[c].value!]));
  const positive = measured.filter((v) => v > 0);
  const span = positive.length > 1 ? Math.max(...positive) / Math.min(...positive) : 1;
  const log = span > LOG_FROM_SPAN && positive.length === measured.length;
  const bars = COMPARE_COLUMNS.map((col): ChartBar => {
    const cell = row.cells[col];
    if (cell.value === null) return { value: null, missing: notMeasured(cell.why), title: `${COLUMN_TITLES[col]}: not measured: ${cell.why ?? ""}` };
    return {
      value: cell.value,
      label: withUnit(cell.value, row.unit),
      samples: cell.samples && cell.samples.length > 1 ? cell.samples : undefined,
      title: `${COLUMN_TITLES[col]}: ${withUnit(cell.value, row.unit)}${cell.samples?.length ? ` (samples ${cell.samples.map(fmtNum).join(", ")})` : ""}`,
    };
  });
  const dots = bars.some((b) => b.samples) ? "; dots: the single runs" : "";
  const axis = `${row.unit || "value"}, ${betterText(row)}${log ? " (log scale)" : ""}${dots}`;
  return {
    file: rowChartFile(row),
    alt: `${row.title}: ${row.unit}, ${betterText(row)}, one bar per way of running the guest`,
    svg: renderBarChart({
      title: row.title,
      description: `${row.title} in ${row.unit} (${betterText(row)}) for each way of running the guest. ${row.method}`,
      series: seriesOf(COMPARE_COLUMNS),
      groups: [{ label: "", bars }],
      scale: log ? "log" : "linear",
      axisLabel: axis,
      seriesLabels: "bars",
      formatValue: (n) => withUnit(n, row.unit),
    }),
  };
}

/** The perOp figure names of a row, in first-seen order (pv's first, then each column's new ones). */
export function perOpKeys(row: CompareRow): string[] {
  const keys: string[] = [];
  for (const col of COMPARE_COLUMNS) for (const k of Object.keys(row.cells[col].perOp ?? {})) if (!keys.includes(k)) keys.push(k);
  return keys;
}

/** The unit of one operation, if the columns agree on it ("MiB"), else null. */
export function commonOpUnit(row: CompareRow): string | null {
  const units = new Set(COMPARE_COLUMNS.flatMap((c) => (row.cells[c].perOp && row.cells[c].opUnit ? [row.cells[c].opUnit!] : [])));
  return units.size === 1 ? [...units][0]! : null;
}

/** The row's perOp figures side by side, or null when no cell has any. */
export function perOpChart(row: CompareRow): Chart | null {
  const keys = perOpKeys(row).slice(0, MAX_PER_OP_FIGURES);
  if (keys.length === 0) return null;
  const unit = commonOpUnit(row);
  const per = unit ? ` per ${unit}` : "";
  // Only the columns that counted something: the others would add a row of "not counted" per figure.
  const cols = COMPARE_COLUMNS.filter((c) => Object.keys(row.cells[c].perOp ?? {}).length > 0);
  const groups = keys.map((k) => ({
    label: k,
    bars: cols.map((col): ChartBar => {
      const cell = row.cells[col];
      const v = cell.perOp?.[k];
      if (v === undefined) return { value: null, missing: cell.value === null ? notMeasured(cell.why) : "not counted" };
      const perCell = cell.opUnit ? ` per ${cell.opUnit}` : "";
      return {
        value: v,
        label: fmtNum(v),
        missing: v === 0 ? "0" : undefined,
        title: `${k}, ${COLUMN_TITLES[col]}: ${fmtNum(v)}${perCell}`,
      };
    }),
  }));
  return {
    file: perOpChartFile(row),
    alt: `${row.title}: exits and instructions${per}, by column`,
    svg: renderBarChart({
      title: `${row.title}: what one operation costs${per}`,
      description: `The counters behind ${row.title}${per} for each way of running the guest, on a log scale.`,
      series: seriesOf(cols),
      groups,
      scale: "log",
      axisLabel: `count${per} (log scale)`,
      seriesLabels: "legend",
      formatValue: fmtNum,
    }),
  };
}
