// Small charts drawn as inline SVG: a line chart and a stacked bar chart. No library; every label
// goes in as text. Each chart is a <figure> with a caption, an SVG with <title> and <desc> (role
// "img"), a legend, and the same numbers as a table for screen readers and for copying.

import { el, svg, t } from "./page_kit.js";

const W = 640;
const H = 240;
const M = { top: 14, right: 14, bottom: 30, left: 58 };
const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;
let chartCount = 0;

// Steps that read well on a time axis (seconds): 1 s ... 30 s, 1 min ... 30 min, 1 h ... 1 day.
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/** A round upper bound for the y axis and its step: 0.87 -> 1, 47 -> 50, 1234 -> 1500. */
function niceScale(max, { ticks = 4, time = false } = {}) {
  if (!(max > 0)) return { top: time ? 4 : 1, step: time ? 1 : 1 / ticks };
  const rough = max / ticks;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = (time && rough >= 1 ? TIME_STEPS.find((s) => s >= rough) : null) ??
    [1, 2, 2.5, 5, 10].map((f) => f * power).find((s) => s >= rough);
  return { top: step * Math.ceil(max / step), step };
}

function frame({ title, desc, labels, top, step, format }) {
  const id = `chart-${++chartCount}`;
  const y = (value) => M.top + PLOT_H - (value / top) * PLOT_H;
  const slot = PLOT_W / Math.max(labels.length, 1);
  const x = (i) => M.left + slot * (i + 0.5);
  const grid = [];
  for (let v = 0; v <= top + step / 1000; v += step) {
    grid.push(
      svg("line", { class: "grid", x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }),
      svg("text", { class: "tick y", x: M.left - 6, y: y(v) + 4, "text-anchor": "end", text: format(v) }),
    );
  }
  const every = Math.max(1, Math.ceil(labels.length / 7));
  const xTicks = labels.map((label, i) =>
    i % every === 0 ? svg("text", { class: "tick x", x: x(i), y: H - 10, "text-anchor": "middle", text: label }) : null);
  const root = svg("svg", {
    viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart", "aria-labelledby": `${id}-title ${id}-desc`,
    preserveAspectRatio: "xMidYMid meet",
  },
  svg("title", { id: `${id}-title`, text: title }),
  svg("desc", { id: `${id}-desc`, text: desc }),
  svg("g", { class: "axes" }, grid, svg("line", { class: "axis", x1: M.left, x2: M.left, y1: M.top, y2: M.top + PLOT_H }), xTicks));
  return { root, x, y, slot };
}

function legend(series) {
  return el("ul", { class: "legend" },
    series.map((s, i) => el("li", {}, el("span", { class: `swatch s${i}`, "aria-hidden": "true" }), s.name)));
}

function table({ title, labels, fullLabels, series, format }) {
  return el("details", { class: "chart-table" },
    el("summary", { text: t("dash_show_table") }),
    el("table", { class: "data-table" },
      el("caption", { text: title }),
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: t("dash_interval") }),
        series.map((s) => el("th", { scope: "col", text: s.name })))),
      el("tbody", {}, (fullLabels || labels).map((label, i) =>
        el("tr", {}, el("th", { scope: "row", text: label }),
          series.map((s) => el("td", { text: s.values[i] === null || s.values[i] === undefined ? "—" : format(s.values[i]) })))))));
}

function figure(name, title, chart, series, options) {
  return el("figure", { class: "chart-card", dataset: { chart: name } },
    el("figcaption", {}, el("h2", { text: title }), legend(series)),
    chart,
    table({ title, series, ...options }));
}

/**
 * A line chart of one or more series over the same intervals.
 *
 * @param {object} spec name (for tests and CSS), title, desc, labels (one per interval, short),
 *   fullLabels (for the table), series [{name, values (number|null)[]}], format(value) -> text,
 *   max (a fixed top of the y axis, e.g. 1 for shares), time (values are seconds: round steps).
 */
export function lineChart({ name, title, desc, labels, fullLabels, series, format, max, time = false }) {
  const values = series.flatMap((s) => s.values).filter((v) => typeof v === "number");
  const { top, step } = max ? { top: max, step: max / 4 } : niceScale(Math.max(0, ...values), { time });
  const { root, x, y } = frame({ title, desc, labels, top, step, format });
  series.forEach((s, index) => {
    const group = svg("g", { class: `series s${index}`, dataset: { series: s.name } });
    let d = "";
    let pen = false;
    s.values.forEach((v, i) => {
      if (typeof v !== "number") {
        pen = false;
        return;
      }
      d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
      group.append(svg("circle", { class: "point", cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 3, dataset: { value: v } },
        svg("title", { text: `${s.name} · ${(fullLabels || labels)[i]}: ${format(v)}` })));
    });
    if (d) group.prepend(svg("path", { class: "line", d }));
    root.append(group);
  });
  root.dataset.points = String(values.length);
  return figure(name, title, root, series, { labels, fullLabels, format });
}

/** Bars per interval, stacked by series (e.g. turns by channel). Same spec as lineChart. */
export function stackedBars({ name, title, desc, labels, fullLabels, series, format }) {
  const totals = labels.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
  const { top, step } = niceScale(Math.max(0, ...totals));
  const { root, x, y, slot } = frame({ title, desc, labels, top, step, format });
  const width = Math.max(2, Math.min(36, slot * 0.7));
  let drawn = 0;
  series.forEach((s, index) => {
    const group = svg("g", { class: `series s${index}`, dataset: { series: s.name } });
    s.values.forEach((v, i) => {
      if (!v) return;
      const below = series.slice(0, index).reduce((sum, other) => sum + (other.values[i] || 0), 0);
      drawn += 1;
      group.append(svg("rect", {
        class: "bar", x: (x(i) - width / 2).toFixed(1), width: width.toFixed(1),
        y: y(below + v).toFixed(1), height: Math.max(0, y(below) - y(below + v)).toFixed(1), dataset: { value: v },
      }, svg("title", { text: `${s.name} · ${(fullLabels || labels)[i]}: ${format(v)}` })));
    });
    root.append(group);
  });
  root.dataset.points = String(drawn);
  return figure(name, title, root, series, { labels, fullLabels, format });
}
