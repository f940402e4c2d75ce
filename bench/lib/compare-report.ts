/**
 * bench:compare's report: from one run's CompareResults (compare-types.ts), a directory
 * (docs/compare/ by default) holding
 *
 *   README.md         the report: headline, machine and versions, a summary table with
 *                     every cell against pv, a section per row (method, values, samples,
 *                     per-operation counters side by side, the sentences that explain the
 *                     differences, its charts), how to reproduce, a link to the raw data
 *   results.json      the input, unchanged
 *   summary.svg, <row>.svg, <row>-per-op.svg   (compare-charts.ts)
 *
 * The output is a function of the input alone (no clock, no host lookups), so a report
 * re-rendered from results.json (bench/compare-report.ts) is the same file, and tests can
 * compare text. Files of rows no longer in the input are not deleted: the directory may
 * hold other things, and every link in README.md points at a file written this time.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { COLUMN_TITLES, COMPARE_COLUMNS, type CompareColumn, type CompareResults, type CompareRow } from "./compare-types.js";
import { betterText, fmtDate, fmtDuration, fmtNum, vsPvText, withUnit } from "./compare-format.js";
import { commonOpUnit, MAX_PER_OP_FIGURES, perOpChart, perOpKeys, rowChart, summaryChart, type Chart } from "./compare-charts.js";
import { asCompareResults } from "./compare-validate.js";

export const REPORT_FILE = "README.md";
export const RAW_FILE = "results.json";
/** The command that measures (and its re-rendering sibling), as the report quotes them. */
const BENCH_COMMAND = "npm run bench:compare";
const RERENDER_COMMAND = "node dist/bench/compare-report.js";

/**
 * Writes the report into `outDir` (created if needed) and returns the paths written,
 * README.md first. Throws, naming every problem, when `results` is not a valid results
 * shape (compare-validate.ts), before writing anything.
 */
export function renderCompareReport(results: CompareResults, outDir: string): { files: string[] } {
  const contents = compareReportFiles(results);
  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  for (const [name, text] of contents) {
    const path = join(outDir, name);
    writeFileSync(path, text);
    files.push(path);
  }
  return { files };
}

/** The report's files by name, in writing order (README.md, results.json, then the charts). */
export function compareReportFiles(input: CompareResults): Map<string, string> {
  const results = asCompareResults(input);
  const summary = summaryChart(results);
  const rowCharts = new Map(results.rows.map((r) => [r.id, { values: rowChart(r), perOp: perOpChart(r) }]));
  const out = new Map<string, string>();
  out.set(REPORT_FILE, compareReportMarkdown(results, summary, rowCharts));
  out.set(RAW_FILE, JSON.stringify(results, null, 2) + "\n");
  out.set(summary.file, summary.svg);
  for (const c of rowCharts.values()) {
    out.set(c.values.file, c.values.svg);
    if (c.perOp) out.set(c.perOp.file, c.perOp.svg);
  }
  return out;
}

type RowCharts = ReadonlyMap<string, { values: Chart; perOp: Chart | null }>;

function compareReportMarkdown(r: CompareResults, summary: Chart, charts: RowCharts): string {
  const cells = r.rows.flatMap((row) => COMPARE_COLUMNS.map((c) => row.cells[c]));
  const missing = cells.filter((c) => c.value === null).length;
  const md: string[] = [
    "# paravm compared: pv, full, a container, QEMU",
    "",
    `**${text(r.headline.trim())}**`,
    "",
    `Measured ${fmtDate(r.date)} in ${fmtDuration(r.durationS)} by \`${BENCH_COMMAND}\` on the machine described below. ` +
      `Every figure comes from that one run: ${cells.length - missing} of ${cells.length} cells were measured` +
      (missing > 0 ? `, and each of the other ${missing} says why it could not be.` : ".") +
      ` The raw data is [${RAW_FILE}](${RAW_FILE}).`,
    "",
    "## Summary",
    "",
    image(summary),
    "",
    ...summaryTable(r),
    "",
    "Each cell is the figure, then the column against paravm pv (the baseline): the ratio of the two, and whether that is " +
      "worse or better for this measurement. **Bold** is the best of the row.",
    "",
    ...machine(r),
    "## Measurements",
    "",
  ];
  for (const row of r.rows) md.push(...rowSection(row, charts.get(row.id)!));
  md.push(...reproduce(r));
  return md.join("\n");
}

function summaryTable(r: CompareResults): string[] {
  const head = ["measurement", ...COMPARE_COLUMNS.map((c) => COLUMN_TITLES[c])];
  const body = r.rows.map((row) => {
    const best = bestColumns(row);
    return [
      `[${cell(row.title)}](#${row.id}) (${cell(row.unit)}, ${betterText(row)})`,
      ...COMPARE_COLUMNS.map((c) => {
        const v = row.cells[c].value;
        if (v === null) return `not measured: ${cell(row.cells[c].why ?? "")}`;
        const fig = withUnit(v, row.unit);
        return `${best.has(c) ? `**${cell(fig)}**` : cell(fig)} (${vsPvText(row, c)})`;
      }),
    ];
  });
  return table(head, body);
}

/** The columns holding the row's best figure, when at least two were measured. */
function bestColumns(row: CompareRow): Set<CompareColumn> {
  const measured = COMPARE_COLUMNS.filter((c) => row.cells[c].value !== null);
  if (measured.length < 2) return new Set();
  const vals = measured.map((c) => row.cells[c].value!);
  const best = row.better === "lower" ? Math.min(...vals) : Math.max(...vals);
  return new Set(measured.filter((c) => row.cells[c].value === best));
}

function machine(r: CompareResults): string[] {
  const h = r.host;
  const git =
    r.git.commit === null
      ? "unknown (not a git checkout)"
      : `commit \`${r.git.commit}\`` +
        (r.git.dirty === null ? ", tree state unknown" : r.git.dirty ? ", **with uncommitted changes**" : ", clean tree");
  const rows: string[][] = [
    ["CPU", `${cell(h.cpuModel)}, ${h.cpuCount} logical cores`],
    ["memory", `${fmtNum(h.totalMemGiB)} GiB`],
    ["OS", `${cell(h.platform)} ${cell(h.release)} (${cell(h.arch)})`],
    ["Node", cell(h.node)],
    ["load average at the start", h.loadAvg.map(fmtNum).join(", ") || "unknown"],
    ["paravm", git],
    ...Object.entries(r.versions).map(([k, v]) => [cell(k), v === null ? "not found" : cell(v)]),
  ];
  const out = ["## Machine and versions", "", ...table(["", ""], rows), ""];
  const guest = Object.entries(r.guest);
  if (guest.length > 0) out.push("### Guest", "", "Every column ran this kernel and initramfs.", "", ...table(["", ""], guest.map(([k, v]) => [cell(k), code(v)])), "");
  const opts = Object.entries(r.options);
  if (opts.length > 0) out.push("### Options", "", ...table(["option", "value"], opts.map(([k, v]) => [code(k), code(String(v))])), "");
  return out;
}

function rowSection(row: CompareRow, charts: { values: Chart; perOp: Chart | null }): string[] {
  const md = [
    `<a id="${row.id}"></a>`,
    "",
    `### ${text(row.title)}`,
    "",
    text(row.method),
    "",
    `Unit: ${text(row.unit) || "none"}, ${betterText(row)}.`,
    "",
    image(charts.values),
    "",
  ];
  const body = COMPARE_COLUMNS.map((c) => {
    const x = row.cells[c];
    if (x.value === null) return [COLUMN_TITLES[c], `not measured: ${cell(x.why ?? "")}`, "", "", cell(x.note ?? "")];
    return [COLUMN_TITLES[c], cell(withUnit(x.value, row.unit)), vsPvText(row, c), (x.samples ?? []).map(fmtNum).join(", "), cell(x.note ?? "")];
  });
  md.push(...table(["", "value", "against pv", "samples", "note"], body), "");

  const keys = perOpKeys(row);
  if (keys.length > 0) {
    const unit = commonOpUnit(row);
    md.push(`**Per operation**${unit ? ` (per ${text(unit)})` : ""}: what one operation cost in each column.`, "");
    if (charts.perOp) md.push(image(charts.perOp), "");
    if (keys.length > MAX_PER_OP_FIGURES) md.push(`The chart shows the first ${MAX_PER_OP_FIGURES} of the ${keys.length} figures; the table has them all.`, "");
    const perBody = keys.map((k) => [
      cell(k),
      ...COMPARE_COLUMNS.map((c) => {
        const x = row.cells[c];
        const v = x.perOp?.[k];
        if (v === undefined) return x.value === null && !x.perOp ? "not measured" : "not counted";
        // Only say the unit in the cell when the columns disagree on it.
        return unit === null && x.opUnit ? `${fmtNum(v)} per ${cell(x.opUnit)}` : fmtNum(v);
      }),
    ]);
    md.push(...table([unit ? `per ${cell(unit)}` : "per operation", ...COMPARE_COLUMNS.map((c) => COLUMN_TITLES[c])], perBody), "");
  }
  if (row.explain.length > 0) {
    md.push("**Why they differ:**", "", ...row.explain.map((s) => `- ${text(s)}`), "");
  }
  return md;
}

function reproduce(r: CompareResults): string[] {
  const flags = Object.entries(r.options).flatMap(([k, v]) => optionFlag(k, v));
  const cmd = flags.length > 0 ? `${BENCH_COMMAND} -- ${flags.join(" ")}` : BENCH_COMMAND;
  return [
    "## How to reproduce",
    "",
    "From a checkout of the commit above, with QEMU installed (a column whose tool is missing says so instead of a figure):",
    "",
    "```sh",
    cmd,
    "```",
    "",
    "It measures every cell again and writes this report (by default to `docs/compare/`) with its JSON. To re-render a report " +
      "from a results file without measuring:",
    "",
    "```sh",
    `${RERENDER_COMMAND} ${RAW_FILE} --out DIR`,
    "```",
    "",
    "## Raw data",
    "",
    `[${RAW_FILE}](${RAW_FILE}) holds this run exactly as measured: every value, sample and counter above ` +
      "(its shape is `CompareResults` in `bench/lib/compare-types.ts`).",
    "",
  ];
}

/** An option as the bench's command line takes it: durationS → --duration-s; true → a bare flag; false → nothing. */
export function optionFlag(key: string, v: number | string | boolean): string[] {
  const flag = `--${key.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase()}`;
  if (typeof v === "boolean") return v ? [flag] : [];
  return [flag, shellWord(String(v))];
}

function shellWord(s: string): string {
  return /^[\w./:=,+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function image(c: Chart): string {
  return `![${c.alt.replace(/[[\]]/g, "")}](${c.file})`;
}

/** A Markdown table; every cell already escaped. */
function table(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const line = (r: readonly string[]) => `| ${r.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)];
}

/** Text from the results in running Markdown: a "<" that could open an HTML tag is escaped. */
function text(s: string): string {
  return s.replace(/<(?=[A-Za-z/!?])/g, "&lt;");
}

/** Text in a table cell: also no "|" (a column break) and no line break. */
function cell(s: string): string {
  return text(s).replace(/\|/g, "\\|").replace(/\s*\r?\n\s*/g, " ");
}

/** In a code span (where "<" is literal, but "|" still needs its escape inside a table); plain text if it holds a backtick. */
function code(s: string): string {
  return s.includes("`") ? cell(s) : `\`${s.replace(/\|/g, "\\|").replace(/\s*\r?\n\s*/g, " ")}\``;
}
