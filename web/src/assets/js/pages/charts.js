// uPlot charts for the data pages (loaded on the pages that draw them, never on
// the overview): a time-series line chart with drag-to-zoom and a bar chart.
// Every chart is given a table alternative by its page (details/summary).
import { h, loadScript, loadStyle } from "../dom.js";
import { onLeave } from "../router.js";

export async function uplot() {
  loadStyle("vendor/uplot/uPlot.min.css");
  await loadScript("vendor/uplot/uPlot.iife.min.js");
  return window.uPlot;
}

const COLORS = ["#0b6bcb", "#c05600", "#1a7f37", "#7b3fb0"];

/**
 * chart(el, {label, x: [epoch s], series: [{label, values, scale, unit, bars, band: [lowerIdx, upperIdx]}]})
 * Draws into `el` (replacing what is there), sized to its width; destroyed on leave.
 */
export async function chart(el, { label, x, series, bands = [], height = 260, xPad = 0, xRange = null }) {
  const uPlot = await uplot();
  if (el.plot) el.plot.destroy(); // redrawn (another range): the old chart goes
  el.replaceChildren();
  // The time axis spans `xRange` (the window asked for) or the data, with `xPad` of room each
  // side for bars; never uPlot's guess for one point or none (which spans years).
  const now = Date.now() / 1000;
  const lo = x.length ? Math.min(...x) : now - 3600;
  const hi = x.length ? Math.max(...x) : now;
  const pad = xPad || (hi - lo < 60 ? 3600 : 0);
  const span = xRange || [lo - pad, hi + pad];
  const scales = { x: { time: true, range: () => span } };
  const axes = [{}];
  const seen = new Set();
  for (const s of series) {
    if (s.scale && !seen.has(s.scale)) {
      seen.add(s.scale);
      // Bars start at zero (a bar cut at the axis would misstate its size).
      scales[s.scale] = s.bars ? { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } : { auto: true };
      axes.push({ scale: s.scale, label: s.scale, side: seen.size === 1 ? 3 : 1, grid: { show: seen.size === 1 }, size: 60 });
    }
  }
  const opts = {
    title: label,
    width: Math.max(280, el.clientWidth || 600),
    height,
    scales,
    axes,
    cursor: { drag: { x: true, y: false, setScale: true } },
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label,
        scale: s.scale,
        stroke: s.color || COLORS[i % COLORS.length],
        width: s.dash ? 1 : 2,
        dash: s.dash,
        fill: s.bars ? (s.color || COLORS[i % COLORS.length]) + "66" : undefined,
        paths: s.bars ? uPlot.paths.bars({ size: [0.7, 60] }) : undefined,
        points: { show: s.points ?? x.length <= 48 }, // a few readings are dots, not an invisible line
        spanGaps: false,
        value: (_u, v) => (v === null || v === undefined ? "–" : `${Number(v).toLocaleString(undefined, { maximumFractionDigits: 3 })} ${s.scale || ""}`),
      })),
    ],
    bands: bands.map(([a, b]) => ({ series: [a, b], fill: "#0b6bcb22" })),
  };
  const plot = new uPlot(opts, [x, ...series.map((s) => s.values)], el);
  el.plot = plot;
  const resize = () => plot.setSize({ width: Math.max(280, el.clientWidth || 600), height });
  window.addEventListener("resize", resize);
  onLeave(() => {
    window.removeEventListener("resize", resize);
    plot.destroy();
  });
  return plot;
}

/** The text alternative of a chart: a table inside details/summary. */
export function alternative(summary, tableEl) {
  return h("details", { class: "alt" }, h("summary", {}, summary), tableEl);
}

export const epoch = (iso) => Math.floor(Date.parse(iso) / 1000);
