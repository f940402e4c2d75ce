/**
 * A small horizontal bar-chart generator that writes SVG 1.1 text, for the charts of
 * bench:compare's report (bench/lib/compare-charts.ts decides what to plot).
 *
 * Hand-written rather than a chart library because the report is static files on disk
 * (Markdown + SVG, read on GitHub or in an editor): a browser charting library such as
 * the dashboard's uPlot draws on a canvas at run time and cannot write a file, and a
 * server-side library would be a new dependency for a few hundred lines of rectangles.
 *
 * The chart: groups of bars, one bar per series (the bench's columns), each bar starting
 * at a baseline (0 on a linear scale; a reference such as 1× or the axis's low end on a
 * log scale), its value written after it, the series named in a legend or beside each bar,
 * vertical grid lines at "nice" ticks. Every bar has a <title> (a browser's tooltip and a
 * screen reader's text); the chart has a <title> and <desc>. A value a log scale cannot
 * place (null, 0, negative) draws no bar but says so in words, so nothing becomes NaN.
 *
 * Text widths are estimated (no font metrics in Node): CHAR_EM × font size per character,
 * generous for a sans-serif, and long labels are cut with "…" (their full text stays in
 * the <title>).
 */

export type ScaleKind = "linear" | "log";

export interface ChartSeries {
  readonly name: string;
  /** A CSS colour; pick one with at least 3:1 contrast against white (contrastRatio). */
  readonly color: string;
}

export interface ChartBar {
  readonly value: number | null;
  /** Text after the bar; default: formatValue(value). */
  readonly label?: string;
  /** Text in place of a bar when value is null or cannot be placed; default "not measured". */
  readonly missing?: string;
  /** Tooltip; default: "<group>, <series>: <label>". */
  readonly title?: string;
  /** Individual samples, drawn as dots over the bar. */
  readonly samples?: readonly number[];
}

export interface ChartGroup {
  readonly label: string;
  /** One bar per series, in the order of BarChartSpec.series. */
  readonly bars: readonly ChartBar[];
}

export interface BarChartSpec {
  readonly title: string;
  /** A sentence for <desc> (what the chart shows, for a screen reader). */
  readonly description?: string;
  readonly series: readonly ChartSeries[];
  readonly groups: readonly ChartGroup[];
  readonly scale: ScaleKind;
  /** Under the axis: the unit and which direction is better. */
  readonly axisLabel: string;
  /** Where bars start on a log scale (e.g. 1 for ratios); the axis's low end when absent. */
  readonly baseline?: number;
  /** A labelled vertical line (e.g. "= paravm pv" at 1×). */
  readonly reference?: { readonly value: number; readonly label: string };
  /** "legend": series named once above the bars (many groups); "bars": beside each bar. */
  readonly seriesLabels?: "legend" | "bars";
  readonly formatValue?: (n: number) => string;
  /** Text under a grid line; default formatTick. */
  readonly formatTick?: (n: number) => string;
  readonly width?: number;
}

const DEFAULT_WIDTH = 760;
const MARGIN = 16;
const TITLE_SIZE = 15;
const FONT_SIZE = 12;
const SMALL_SIZE = 11;
/** Estimated average character width as a fraction of the font size (sans-serif, a bit wide). */
const CHAR_EM = 0.6;
const BAR_HEIGHT = 16;
const BAR_GAP = 3;
const GROUP_GAP = 14;
const LEGEND_SWATCH = 11;
const LEGEND_ROW = 18;
/** The label column never takes more than this share of the width. */
const MAX_LABEL_SHARE = 0.32;
/** Nor do the value labels after the bars. */
const MAX_VALUE_LABEL_SHARE = 0.22;
const TEXT_PAD = 6;
const SAMPLE_RADIUS = 2.5;
/** About this many grid lines on a linear axis. */
const TARGET_TICKS = 6;
/** A linear step may be this much smaller than (axis span / TARGET_TICKS), for one more tick. */
const STEP_SLACK = 1.2;
/** At most this many decade lines on a log axis (more decades: every 2nd, 3rd…). */
const MAX_LOG_TICKS = 8;
const TEXT_COLOR = "#1a1a1a";
const MUTED_COLOR = "#595959";
const GRID_COLOR = "#d9d9d9";
const FONT_FAMILY = "Helvetica, Arial, sans-serif";

/** Text as XML character data or an attribute value: escaped, minus characters XML 1.0 forbids. */
export function escapeXml(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** Estimated rendered width of a text in pixels. */
function textWidth(s: string, size: number): number {
  return Array.from(s).length * size * CHAR_EM;
}

/** At most `px` wide, cut with "…" (whole code points, so no half surrogate pair). */
function fitText(s: string, px: number, size: number): string {
  const chars = Array.from(s);
  const max = Math.max(1, Math.floor(px / (size * CHAR_EM)));
  return chars.length <= max ? s : chars.slice(0, max - 1).join("") + "…";
}

/** Coordinates with two decimals at most: small files, and the same text for the same input. */
function n2(x: number): string {
  return String(Math.round(x * 100) / 100);
}

/** WCAG contrast ratio between two #rrggbb colours (1 … 21). */
export function contrastRatio(a: string, b: string): number {
  const lum = (hex: string): number => {
    const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
    if (!m) throw new Error(`contrastRatio: not a #rrggbb colour: ${hex}`);
    const [r, g, bl] = [m[1]!, m[2]!, m[3]!].map((h) => {
      const c = parseInt(h, 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

/** Short tick text: 1,500 / 0.25 / 20k / 3M. */
export function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  if (a >= 1 || a === 0) return (+v.toPrecision(4)).toLocaleString("en-US");
  return String(+v.toPrecision(2));
}

export interface Scale {
  readonly kind: ScaleKind;
  readonly lo: number;
  readonly hi: number;
  readonly ticks: readonly number[];
  /** 0…1 across the axis, or null for a value this scale cannot place (log of ≤ 0, non-finite). */
  pos(v: number): number | null;
}

/**
 * 1, 2 or 5 × a power of ten, about `raw`: up to STEP_SLACK above a round step still takes
 * that step (6.02 over 6 ticks: steps of 1 to 7, not of 2 to 8 with a quarter of the axis empty).
 */
function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p / STEP_SLACK;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/** A linear axis from the smaller of 0 and the values to the larger, widened to whole steps. */
export function linearScale(values: readonly number[]): Scale {
  const finite = values.filter((v) => Number.isFinite(v));
  let lo = Math.min(0, ...finite);
  let hi = Math.max(0, ...finite);
  if (hi === lo) hi = lo + 1;
  const step = niceStep((hi - lo) / TARGET_TICKS);
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  // Ticks as i × step (not repeated addition) so 0.1 + 0.2 drift never prints.
  for (let i = Math.round(lo / step); i <= Math.round(hi / step); i++) ticks.push(+(i * step).toPrecision(12));
  return { kind: "linear", lo, hi, ticks, pos: (v) => (Number.isFinite(v) ? (v - lo) / (hi - lo) : null) };
}

/** A log axis over whole decades covering the positive values (and the baseline, if any), the smallest inside it. */
export function logScale(values: readonly number[]): Scale {
  const pos = values.filter((v) => Number.isFinite(v) && v > 0);
  // The decade below the smallest value, even when that value is a power of ten: a bar
  // for 1 on an axis starting at 1 would have no length and look like "nothing".
  const minExp = pos.length ? Math.ceil(Math.log10(Math.min(...pos))) - 1 : 0;
  let maxExp = pos.length ? Math.ceil(Math.log10(Math.max(...pos))) : 1;
  if (maxExp === minExp) maxExp++;
  const decades = maxExp - minExp;
  const every = Math.ceil(decades / MAX_LOG_TICKS);
  const ticks: number[] = [];
  for (let e = minExp; e <= maxExp; e += every) {
    ticks.push(+(10 ** e).toPrecision(12));
    // Few decades: 2 and 5 between them, or the axis would have two lines.
    if (decades <= 2 && e < maxExp) ticks.push(+(2 * 10 ** e).toPrecision(12), +(5 * 10 ** e).toPrecision(12));
  }
  const lo = 10 ** minExp;
  const hi = 10 ** maxExp;
  return {
    kind: "log",
    lo,
    hi,
    ticks,
    pos: (v) => (Number.isFinite(v) && v > 0 ? (Math.log10(v) - minExp) / decades : null),
  };
}

/** Where the bars go: the axis across, and the right edge text must stay inside. */
interface Plot {
  readonly scale: Scale;
  /** Axis position (0…1) bars start from. */
  readonly basePos: number;
  readonly x: (pos: number) => number;
  readonly right: number;
}

/** Lays out and writes the chart. */
export function renderBarChart(spec: BarChartSpec): string {
  const width = spec.width ?? DEFAULT_WIDTH;
  const fmt = spec.formatValue ?? formatTick;
  const labelsBeside = spec.seriesLabels === "bars";
  const bars = spec.groups.flatMap((g) => g.bars);
  const values = bars.flatMap((b) => (b.value === null ? [] : [b.value, ...(b.samples ?? [])]));
  const extra = [spec.baseline, spec.reference?.value].filter((v): v is number => v !== undefined);
  const scale = spec.scale === "log" ? logScale([...values, ...extra]) : linearScale([...values, ...extra]);
  const basePos = spec.scale === "linear" ? scale.pos(0)! : spec.baseline === undefined ? 0 : (scale.pos(spec.baseline) ?? 0);

  // Left: group labels (or series labels beside each bar). Right: the value labels.
  const leftTexts = labelsBeside ? spec.series.map((s) => s.name) : spec.groups.map((g) => g.label);
  const labelW = Math.min(width * MAX_LABEL_SHARE, Math.max(0, ...leftTexts.map((t) => textWidth(t, FONT_SIZE)))) + TEXT_PAD;
  const valueTexts = bars.map((b) => barText(b, scale, fmt));
  const valueW = Math.min(width * MAX_VALUE_LABEL_SHARE, Math.max(0, ...valueTexts.map((t) => textWidth(t, SMALL_SIZE)))) + TEXT_PAD;
  const plotX = MARGIN + labelW;
  const plotW = Math.max(1, width - MARGIN - valueW - plotX);
  const plot: Plot = { scale, basePos, x: (p) => plotX + p * plotW, right: width - MARGIN };

  const out: string[] = [];
  let y = MARGIN + TITLE_SIZE;
  out.push(`<text x="${MARGIN}" y="${y}" font-size="${TITLE_SIZE}" font-weight="bold">${escapeXml(fitText(spec.title, width - 2 * MARGIN, TITLE_SIZE))}</text>`);
  y += 10;
  if (!labelsBeside && spec.series.length > 1) y = legend(out, spec.series, y, width);
  if (spec.reference) y += SMALL_SIZE + 4; // room for the reference line's label
  const plotTop = y + 4;
  y = plotTop;

  const barOut: string[] = [];
  spec.groups.forEach((g, gi) => {
    if (labelsBeside && g.label !== "") {
      barOut.push(`<text x="${MARGIN}" y="${n2(y + FONT_SIZE)}" font-size="${FONT_SIZE}" font-weight="bold">${escapeXml(fitText(g.label, width - 2 * MARGIN, FONT_SIZE))}</text>`);
      y += FONT_SIZE + 6;
    }
    const groupTop = y;
    g.bars.forEach((b, si) => {
      const series = spec.series[si];
      if (!series) return; // more bars than series: nothing to colour or name them by
      if (labelsBeside) barOut.push(leftLabel(series.name, y + BAR_HEIGHT / 2, labelW));
      barOut.push(...drawBar(b, series, g.label, plot, y, barText(b, scale, fmt)));
      y += BAR_HEIGHT + BAR_GAP;
    });
    if (!labelsBeside) barOut.push(leftLabel(g.label, (groupTop + y - BAR_GAP) / 2, labelW, true));
    if (gi < spec.groups.length - 1) y += GROUP_GAP;
  });
  const plotBottom = y;

  // Grid first so the bars draw over it; the reference line last, over the bars.
  out.push(...grid(plot, plotTop, plotBottom, spec.formatTick ?? formatTick), ...barOut);
  if (spec.reference) out.push(...referenceLine(plot, spec.reference, plotTop, plotBottom));
  y = plotBottom + SMALL_SIZE + 4 + FONT_SIZE + 8;
  out.push(`<text x="${n2(plotX + plotW / 2)}" y="${n2(y)}" font-size="${FONT_SIZE}" fill="${MUTED_COLOR}" text-anchor="middle">${escapeXml(fitText(spec.axisLabel, width - 2 * MARGIN, FONT_SIZE))}</text>`);
  const height = Math.ceil(y + MARGIN);

  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="chart-title chart-desc">`,
    `<title id="chart-title">${escapeXml(spec.title)}</title>`,
    `<desc id="chart-desc">${escapeXml(spec.description ?? spec.axisLabel)}</desc>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<g font-family="${FONT_FAMILY}" fill="${TEXT_COLOR}">`,
    ...out,
    `</g>`,
    `</svg>`,
    ``,
  ].join("\n");
}

/**
 * Grid lines at the ticks with their labels under the plot, and the baseline. A tick label
 * that would overlap the previous one is left out (its line stays): long labels such as
 * "10× worse" on a narrow axis.
 */
function grid(plot: Plot, top: number, bottom: number, tickText: (n: number) => string): string[] {
  const out: string[] = [];
  let lastTickEnd = -Infinity;
  for (const t of plot.scale.ticks) {
    const tx = plot.x(plot.scale.pos(t)!);
    const x = n2(tx);
    out.push(`<line x1="${x}" y1="${n2(top - 2)}" x2="${x}" y2="${n2(bottom)}" stroke="${GRID_COLOR}" stroke-width="1"/>`);
    const label = tickText(t);
    const half = textWidth(label, SMALL_SIZE) / 2;
    if (tx - half < lastTickEnd + TEXT_PAD) continue;
    lastTickEnd = tx + half;
    out.push(`<text x="${x}" y="${n2(bottom + SMALL_SIZE + 4)}" font-size="${SMALL_SIZE}" fill="${MUTED_COLOR}" text-anchor="middle">${escapeXml(label)}</text>`);
  }
  const baseX = n2(plot.x(plot.basePos));
  out.push(`<line x1="${baseX}" y1="${n2(top - 2)}" x2="${baseX}" y2="${n2(bottom)}" stroke="${MUTED_COLOR}" stroke-width="1"/>`);
  return out;
}

function referenceLine(plot: Plot, ref: { value: number; label: string }, top: number, bottom: number): string[] {
  const rp = plot.scale.pos(ref.value);
  if (rp === null) return [];
  const rx = n2(plot.x(rp));
  return [
    `<line x1="${rx}" y1="${n2(top - 4)}" x2="${rx}" y2="${n2(bottom)}" stroke="${TEXT_COLOR}" stroke-width="1.5" stroke-dasharray="4 3"/>`,
    `<text x="${rx}" y="${n2(top - 7)}" font-size="${SMALL_SIZE}" text-anchor="middle">${escapeXml(ref.label)}</text>`,
  ];
}

/** The text after a bar: its label, or why there is no bar. */
function barText(b: ChartBar, scale: Scale, fmt: (n: number) => string): string {
  if (b.value === null) return b.missing ?? "not measured";
  if (scale.pos(b.value) === null) return b.missing ?? `${fmt(b.value)} (off a log scale)`;
  return b.label ?? fmt(b.value);
}

function leftLabel(text: string, cy: number, labelW: number, bold = false): string {
  const weight = bold ? ` font-weight="bold"` : "";
  return `<text x="${n2(MARGIN + labelW - TEXT_PAD)}" y="${n2(cy + FONT_SIZE * 0.35)}" font-size="${FONT_SIZE}" text-anchor="end"${weight}>${escapeXml(fitText(text, labelW - TEXT_PAD, FONT_SIZE))}</text>`;
}

/** One bar with its sample dots and its value after it, or, when it cannot be drawn, why. */
function drawBar(b: ChartBar, series: ChartSeries, group: string, plot: Plot, top: number, text: string): string[] {
  const out: string[] = [];
  const cy = top + BAR_HEIGHT / 2;
  const textY = n2(cy + SMALL_SIZE * 0.35);
  const title = escapeXml(b.title ?? `${group ? group + ", " : ""}${series.name}: ${text}`);
  const baseX = plot.x(plot.basePos);
  const p = b.value === null ? null : plot.scale.pos(b.value);
  if (p === null) {
    // No bar: the words sit at the baseline, in the tooltip too.
    const shown = fitText(text, plot.right - baseX - 4, SMALL_SIZE);
    out.push(`<text x="${n2(baseX + 4)}" y="${textY}" font-size="${SMALL_SIZE}" fill="${MUTED_COLOR}" font-style="italic"><title>${title}</title>${escapeXml(shown)}</text>`);
    return out;
  }
  const x0 = plot.x(Math.min(p, plot.basePos));
  const x1 = plot.x(Math.max(p, plot.basePos));
  out.push(
    `<rect class="bar" x="${n2(x0)}" y="${n2(top)}" width="${n2(x1 - x0)}" height="${BAR_HEIGHT}" fill="${escapeXml(series.color)}"><title>${title}</title></rect>`,
  );
  // The value goes after the bar's far end, the baseline (a bar running left) or the last dot.
  let farEnd = Math.max(x1, baseX);
  for (const s of b.samples ?? []) {
    const sp = plot.scale.pos(s);
    if (sp === null) continue;
    farEnd = Math.max(farEnd, plot.x(sp) + SAMPLE_RADIUS);
    out.push(`<circle class="sample" cx="${n2(plot.x(sp))}" cy="${n2(cy)}" r="${SAMPLE_RADIUS}" fill="#ffffff" stroke="${TEXT_COLOR}" stroke-width="1"/>`);
  }
  const shown = fitText(text, plot.right - farEnd - 4, SMALL_SIZE);
  out.push(`<text x="${n2(farEnd + 4)}" y="${textY}" font-size="${SMALL_SIZE}">${escapeXml(shown)}</text>`);
  return out;
}

/** Swatch + name for each series, wrapped onto as many rows as needed; returns the new y. */
function legend(out: string[], series: readonly ChartSeries[], y: number, width: number): number {
  let x = MARGIN;
  y += 4;
  for (const s of series) {
    const w = LEGEND_SWATCH + 4 + textWidth(s.name, SMALL_SIZE) + 14;
    if (x + w > width - MARGIN && x > MARGIN) {
      x = MARGIN;
      y += LEGEND_ROW;
    }
    out.push(`<rect x="${n2(x)}" y="${n2(y)}" width="${LEGEND_SWATCH}" height="${LEGEND_SWATCH}" fill="${escapeXml(s.color)}"/>`);
    out.push(`<text x="${n2(x + LEGEND_SWATCH + 4)}" y="${n2(y + LEGEND_SWATCH - 1)}" font-size="${SMALL_SIZE}">${escapeXml(s.name)}</text>`);
    x += w;
  }
  return y + LEGEND_ROW;
}
