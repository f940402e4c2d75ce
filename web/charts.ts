/**
 * Live line charts of a VM's history (uPlot: small, fast, canvas). Each chart names its
 * series and draws them from the feed's column-wise history; the last values are also
 * written as text under the chart, so the figure is readable without hovering.
 */
import uPlot from "uplot";
import type { History } from "./live.js";
import { h, setText } from "./dom.js";

const CHART_HEIGHT = 180;
/** Widths below this are a hidden or collapsing container: do not draw into them. */
const MIN_WIDTH = 120;

export interface SeriesSpec {
  label: string;
  color: string;
  /** The history column drawn. */
  column: Exclude<keyof History, "t">;
  /** Axis: "left" (the chart's unit) or "right" (a second unit, e.g. weight). */
  side?: "left" | "right";
  dash?: number[];
  /** How the last value is written under the chart. */
  fmt: (v: number | null) => string;
}

export interface ChartSpec {
  id: string;
  title: string;
  unit: string;
  rightUnit?: string;
  /** Fixed lower and (soft) upper bound of the left axis. */
  range?: [number, number];
  series: SeriesSpec[];
}

export interface Chart {
  el: HTMLElement;
  update(h: History | undefined): void;
  destroy(): void;
}

export function lineChart(spec: ChartSpec): Chart {
  const plotEl = h("div", { class: "plot" });
  const figures = h("div", { class: "figures" });
  const figureCells = spec.series.map((s) => {
    const value = h("b", {}, "–");
    figures.append(h("span", { class: "figure" }, h("i", { class: "swatch", style: `background:${s.color}` }), `${s.label} `, value));
    return value;
  });
  const el = h("section", { class: "chart", id: spec.id, "data-points": "0" }, h("h3", {}, spec.title), plotEl, figures);

  const left = { scale: "left", label: spec.unit, size: 50 };
  const axes: uPlot.Axis[] = [{}, left];
  if (spec.rightUnit !== undefined) axes.push({ scale: "right", label: spec.rightUnit, side: 1, grid: { show: false }, size: 50 });
  const opts: uPlot.Options = {
    width: MIN_WIDTH * 4,
    height: CHART_HEIGHT,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: {
      x: { time: true },
      left: spec.range ? { range: (_u, _min, max) => [spec.range![0], Math.max(spec.range![1], max)] } : {},
      right: { range: (_u, _min, max) => [0, Math.max(1, max * 1.2)] },
    },
    axes,
    series: [{}, ...spec.series.map((s) => ({ label: s.label, stroke: s.color, width: 2, scale: s.side === "right" ? "right" : "left", dash: s.dash, spanGaps: false }))],
  };
  const empty: uPlot.AlignedData = [[], ...spec.series.map(() => [])];
  const plot = new uPlot(opts, empty, plotEl);

  const resize = new ResizeObserver(() => {
    const w = plotEl.clientWidth;
    if (w >= MIN_WIDTH) plot.setSize({ width: w, height: CHART_HEIGHT });
  });
  resize.observe(plotEl);

  return {
    el,
    update(hist) {
      if (hist === undefined || hist.t.length === 0) return;
      const cols = spec.series.map((s) => hist[s.column] as (number | null)[]);
      plot.setData([hist.t, ...cols] as uPlot.AlignedData);
      const last = cols.map((c) => c[c.length - 1] ?? null);
      spec.series.forEach((s, i) => setText(figureCells[i]!, s.fmt(last[i]!)));
      // The figures as data, for whoever reads the page's state (the browser tests do).
      el.dataset.points = String(hist.t.length);
      el.dataset.last = JSON.stringify(Object.fromEntries(spec.series.map((s, i) => [s.column, last[i]])));
    },
    destroy() {
      resize.disconnect();
      plot.destroy();
    },
  };
}
