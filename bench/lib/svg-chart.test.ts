// svg-chart: the bar charts of bench:compare's report. Bars are read back from the SVG
// text (svg-testkit.ts), so these check what a browser would draw: lengths proportional
// to the values (linear) or to their logarithms (log), nothing drawn for what a log
// scale cannot place, and a well-formed document whatever the labels hold.
import assert from "node:assert/strict";
import { test } from "node:test";
import { contrastRatio, escapeXml, linearScale, logScale, renderBarChart, type BarChartSpec, type ChartBar } from "./svg-chart.js";
import { drawnBars, drawnTexts, svgProblems } from "./svg-testkit.js";

/** Coordinates are written with two decimals. */
const PX_TOLERANCE = 0.02;

const series = [
  { name: "alpha", color: "#0b62a4" },
  { name: "beta", color: "#c0500a" },
];

function chart(values: (number | null)[], extra: Partial<BarChartSpec> = {}): string {
  return renderBarChart({
    title: "t",
    series: [{ name: "only", color: "#0b62a4" }],
    groups: values.map((v, i) => ({ label: `g${i}`, bars: [{ value: v }] })),
    scale: "linear",
    axisLabel: "units",
    ...extra,
  });
}

test("linear scale: every bar starts at 0 and its length is proportional to its value", () => {
  const values = [10, 25, 40, 3.5];
  const svg = chart(values);
  assert.deepEqual(svgProblems(svg), []);
  const bars = drawnBars(svg);
  assert.equal(bars.length, values.length);
  const pxPerUnit = bars[0]!.width / values[0]!;
  bars.forEach((b, i) => {
    assert.ok(Math.abs(b.width - values[i]! * pxPerUnit) < PX_TOLERANCE * 2, `bar ${i}: ${b.width} px for ${values[i]}`);
    assert.ok(Math.abs(b.x - bars[0]!.x) < PX_TOLERANCE, "all bars start at the zero line");
  });
  // The longest bar is the largest value, and the bars do not all have one length.
  assert.ok(bars[2]!.width > bars[1]!.width && bars[1]!.width > bars[0]!.width);
});

test("linear scale: a negative value runs left of the zero line", () => {
  const bars = drawnBars(chart([20, -10]));
  const zeroX = bars[0]!.x;
  assert.ok(Math.abs(bars[1]!.x + bars[1]!.width - zeroX) < PX_TOLERANCE, "the negative bar ends at zero");
  assert.ok(Math.abs(bars[1]!.width * 2 - bars[0]!.width) < PX_TOLERANCE * 3);
});

test("log scale: bar length grows by the same amount per decade; the smallest value still shows", () => {
  const values = [1, 10, 100, 1000, 31.6];
  const svg = chart(values, { scale: "log" });
  assert.deepEqual(svgProblems(svg), []);
  const bars = drawnBars(svg);
  const pxPerDecade = bars[1]!.width - bars[0]!.width;
  assert.ok(pxPerDecade > 0);
  assert.ok(bars[0]!.width > 0, "1, the smallest value and a power of ten, is not a zero-length bar");
  values.forEach((v, i) => assert.ok(Math.abs(bars[i]!.width - bars[0]!.width - Math.log10(v) * pxPerDecade) < PX_TOLERANCE * 3, `bar for ${v}`));
  assert.ok(new Set(bars.map((b) => b.x)).size === 1, "all start at the axis's low end");
});

test("log scale: 0, negative and null values draw no bar and say why; nothing becomes NaN", () => {
  const svg = chart([0, null, -4, 50], { scale: "log" });
  assert.deepEqual(svgProblems(svg), []);
  assert.doesNotMatch(svg, /NaN|Infinity/);
  const bars = drawnBars(svg);
  assert.equal(bars.length, 1, "only 50 can be placed");
  const texts = drawnTexts(svg);
  assert.ok(texts.includes("not measured"), "the null bar says it was not measured");
  assert.ok(texts.some((t) => t.startsWith("0") && t.includes("off a log scale")), texts.join(" / "));
  assert.ok(texts.some((t) => t.startsWith("-4") && t.includes("off a log scale")));
});

test("log scale with nothing placeable still draws an axis", () => {
  const svg = chart([0, null], { scale: "log" });
  assert.deepEqual(svgProblems(svg), []);
  assert.doesNotMatch(svg, /NaN|Infinity/);
  assert.equal(drawnBars(svg).length, 0);
});

test("log scale with a baseline: bars below it run left and end at it", () => {
  const svg = chart([4, 0.25], { scale: "log", baseline: 1, reference: { value: 1, label: "= pv" } });
  const [up, down] = drawnBars(svg);
  assert.ok(Math.abs(up!.x - (down!.x + down!.width)) < PX_TOLERANCE, "both meet at 1");
  assert.ok(Math.abs(up!.width - down!.width) < PX_TOLERANCE * 2, "×4 and ÷4 are the same length on a log scale");
  assert.ok(drawnTexts(svg).includes("= pv"));
});

test("scales: linear ticks are round numbers covering the data; log ticks are decades", () => {
  const lin = linearScale([0.3, 0.1]);
  assert.ok(lin.hi >= 0.3 && lin.lo === 0);
  for (const t of lin.ticks) assert.ok(String(t).length <= 4, `tick ${t} has no float noise`);
  const log = logScale([0.02, 3000]);
  assert.equal(log.lo, 0.01);
  assert.equal(log.hi, 10000);
  assert.deepEqual(log.ticks, [0.01, 0.1, 1, 10, 100, 1000, 10000]);
  assert.equal(logScale([1, 50]).lo, 0.1, "a power of ten is not the axis's very end");
  assert.equal(log.pos(0), null);
  assert.equal(log.pos(Number.NaN), null);
});

test("labels are XML-escaped: markup in a label stays text", () => {
  const nasty = `<script>alert("x & 'y'")</script>\u0001`;
  const svg = renderBarChart({
    title: nasty,
    series: [{ name: nasty, color: "#0b62a4" }],
    groups: [{ label: nasty, bars: [{ value: 3, label: nasty }] }],
    scale: "linear",
    axisLabel: nasty,
  });
  assert.deepEqual(svgProblems(svg), []);
  assert.doesNotMatch(svg, /<script/);
  assert.ok(svg.includes(escapeXml(nasty)));
  assert.equal(escapeXml(`a&b<c>"'\u0001`), "a&amp;b&lt;c&gt;&quot;&apos;");
});

test("the well-formedness check itself rejects broken SVG", () => {
  assert.notDeepEqual(svgProblems(`<svg viewBox="0 0 1 1"><text>a & b</text></svg>`), []);
  assert.notDeepEqual(svgProblems(`<svg viewBox="0 0 1 1"><g></svg>`), []);
  assert.notDeepEqual(svgProblems(`<svg><g/></svg>`), [], "no viewBox");
  assert.notDeepEqual(svgProblems(`<svg viewBox="0 0 1 1" x="1" x="2"/>`), []);
  assert.deepEqual(svgProblems(`<?xml version="1.0"?>\n<svg viewBox="0 0 1 1"><g a="&amp;"/></svg>\n`), []);
});

test("grouped bars: a legend names the series, every bar has a tooltip, samples are dots", () => {
  const bar = (value: number, samples?: number[]): ChartBar => ({ value, samples });
  const svg = renderBarChart({
    title: "grouped",
    series,
    groups: [
      { label: "first", bars: [bar(2, [1.5, 2, 2.5]), bar(4)] },
      { label: "second", bars: [bar(1), bar(3)] },
    ],
    scale: "linear",
    axisLabel: "x",
    seriesLabels: "legend",
  });
  assert.deepEqual(svgProblems(svg), []);
  const bars = drawnBars(svg);
  assert.deepEqual(bars.map((b) => b.fill), ["#0b62a4", "#c0500a", "#0b62a4", "#c0500a"]);
  assert.deepEqual(bars.map((b) => b.title), ["first, alpha: 2", "first, beta: 4", "second, alpha: 1", "second, beta: 3"]);
  assert.equal((svg.match(/class="sample"/g) ?? []).length, 3);
  const texts = drawnTexts(svg);
  assert.ok(texts.includes("alpha") && texts.includes("beta"), "legend entries");
  assert.match(svg, /<title id="chart-title">grouped<\/title>/);
});

test("a label too long for the label column is cut with … and kept whole in the tooltip", () => {
  const long = "a measurement with a very long name that would push the bars off the chart entirely";
  const svg = renderBarChart({ title: "t", series, groups: [{ label: long, bars: [{ value: 1 }, { value: 2 }] }], scale: "linear", axisLabel: "x" });
  const label = drawnTexts(svg).find((t) => t.startsWith("a measurement"))!;
  assert.ok(label.endsWith("…") && label.length < long.length);
  assert.ok(drawnBars(svg)[0]!.title.includes(long));
});

test("tick labels that would overlap are left out, their grid lines kept", () => {
  const svg = chart([1e-3, 1e5], { scale: "log", width: 300, formatTick: (n) => `${n} times worse than pv` });
  const lines = (svg.match(/<line /g) ?? []).length;
  const tickTexts = drawnTexts(svg).filter((t) => t.endsWith("times worse than pv"));
  assert.ok(tickTexts.length > 0 && tickTexts.length < lines - 1, `${tickTexts.length} labels for ${lines} lines`);
});

test("contrastRatio: WCAG's figures", () => {
  assert.equal(Math.round(contrastRatio("#000000", "#ffffff")), 21);
  assert.equal(contrastRatio("#777777", "#777777"), 1);
  assert.throws(() => contrastRatio("red", "#ffffff"), /#rrggbb/);
});
