// The reports dashboard: a period and channel picker, headline tiles, charts over time, the FAQs
// that fail customers, and a CSV export built from the same JSON the page shows.

import { loadReports } from "./admin_api.js";
import { lineChart, stackedBars } from "./charts.js";
import { LANG, count, el, percent, seconds, t, T } from "./page_kit.js";

const $ = (id) => document.getElementById(id);
const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;
const FAQ_TITLES = new Map((JSON.parse($("faq-catalog").textContent) || []).map((f) => [f.key, f.title]));
let shown = null; // the last reports drawn, for the CSV export

// ----------------------------------------------------------------------------------- filters

function dateInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** The filters the form describes: {since, until, channel, bucket}. */
function filters() {
  const period = $("period").value;
  const channel = $("channel").value;
  const now = new Date();
  if (period === "custom") {
    const since = $("since").value ? new Date(`${$("since").value}T00:00`) : new Date(now - 7 * DAY);
    const until = $("until").value ? new Date(new Date(`${$("until").value}T00:00`).getTime() + DAY) : now;
    return { since, until, channel, bucket: until - since <= 2 * DAY ? "hour" : "day" };
  }
  const span = { "24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY }[period] || 7 * DAY;
  return { since: new Date(now - span), until: now, channel, bucket: span <= DAY ? "hour" : "day" };
}

function showCustomDates() {
  const custom = $("period").value === "custom";
  for (const field of document.querySelectorAll(".custom-date")) field.hidden = !custom;
  if (custom && !$("since").value) {
    $("since").value = dateInput(new Date(Date.now() - 6 * DAY));
    $("until").value = dateInput(new Date());
  }
}

// ----------------------------------------------------------------------------------- tiles

function tile(metric, label, value, rawValue, ...details) {
  return el("article", { class: "tile", dataset: { metric } },
    el("h2", { text: label }),
    el("p", { class: "value", dataset: { value: rawValue ?? "" }, text: value }),
    details.filter(Boolean).map((d) => el("p", { class: "sub", text: d })));
}

function timesTile(times) {
  const row = (who, label) =>
    el("tr", { dataset: { responder: who } },
      el("th", { scope: "row", text: label }),
      el("td", { class: "p50", dataset: { value: times[who].p50 ?? "" }, text: seconds(times[who].p50) }),
      el("td", { class: "p90", dataset: { value: times[who].p90 ?? "" }, text: seconds(times[who].p90) }));
  return el("article", { class: "tile wide", dataset: { metric: "response_time_s" } },
    el("h2", { text: T.dash_response_time }),
    el("table", { class: "times" },
      el("thead", {}, el("tr", {}, el("td"), el("th", { scope: "col", text: "p50" }), el("th", { scope: "col", text: "p90" }))),
      el("tbody", {}, row("bot", T.dash_bot), row("agent", T.dash_agent), row("all", T.dash_all))));
}

function renderTiles(s) {
  $("tiles").replaceChildren(
    tile("response_rate", T.dash_response_rate, percent(s.responseRate), s.responseRate,
      t("dash_response_rate_sub", { answered: count(s.answered), turns: count(s.turns) })),
    timesTile(s.responseTime),
    tile("first_response_time_s", T.dash_first_response, seconds(s.firstResponse.p50), s.firstResponse.p50,
      t("dash_p50_p90", { p50: seconds(s.firstResponse.p50), p90: seconds(s.firstResponse.p90) })),
    tile("containment_rate", T.dash_containment, percent(s.containmentRate), s.containmentRate, T.dash_containment_sub),
    tile("csat", T.dash_csat, percent(s.csat), s.csat, t("dash_csat_sub", { n: count(s.ratings ?? s.feedbackCount) })),
    tile("handoffs", T.dash_handoffs, count(s.handoffs), s.handoffs,
      t("dash_handoff_wait", { p50: seconds(s.handoffWait.p50), p90: seconds(s.handoffWait.p90) })),
    tile("feedback_count", T.dash_feedback, count(s.feedbackCount), s.feedbackCount, T.dash_feedback_sub),
  );
}

// ----------------------------------------------------------------------------------- charts

function bucketLabels(series) {
  const hourly = series.bucket === "hour" ||
    (series.buckets.length > 1 && new Date(series.buckets[1].start) - new Date(series.buckets[0].start) < DAY);
  const short = hourly ? { hour: "2-digit", minute: "2-digit" } : { day: "numeric", month: "short" };
  const full = hourly ? { dateStyle: "medium", timeStyle: "short" } : { dateStyle: "medium" };
  const format = (iso, options) => {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString(LANG, options);
  };
  return {
    labels: series.buckets.map((b) => format(b.start, short)),
    fullLabels: series.buckets.map((b) => format(b.start, full)),
  };
}

function renderCharts(series) {
  const box = $("charts");
  if (!series.buckets.length) {
    box.replaceChildren(el("p", { class: "empty", text: T.dash_no_data }));
    return;
  }
  const axis = bucketLabels(series);
  const b = series.buckets;
  box.replaceChildren(
    lineChart({
      name: "response_time", title: T.dash_chart_response_time, desc: T.dash_chart_response_time_desc, ...axis, format: seconds, time: true,
      series: [{ name: "p50", values: b.map((x) => x.p50) }, { name: "p90", values: b.map((x) => x.p90) }],
    }),
    lineChart({
      name: "response_rate", title: T.dash_chart_response_rate, desc: T.dash_chart_response_rate_desc, ...axis, format: (v) => percent(v, 0), max: 1,
      series: [{ name: T.dash_response_rate, values: b.map((x) => x.responseRate) }],
    }),
    stackedBars({
      name: "volume", title: T.dash_chart_volume, desc: T.dash_chart_volume_desc, ...axis, format: count,
      series: series.channels.map((channel) => ({ name: channel, values: b.map((x) => x.byChannel[channel] || 0) })),
    }),
    lineChart({
      name: "csat", title: T.dash_chart_csat, desc: T.dash_chart_csat_desc, ...axis, format: (v) => percent(v, 0), max: 1,
      series: [{ name: T.dash_csat, values: b.map((x) => x.csat) }],
    }),
  );
}

// ----------------------------------------------------------------------------------- FAQs

function renderFaqs(faqs) {
  const share = (value) => el("td", { class: `num${value !== null && value < 0.5 ? " bad" : ""}`, text: percent(value, 0) });
  const rows = faqs.slice(0, 15).map((f) =>
    el("tr", { dataset: { faq: f.key } },
      el("th", { scope: "row" }, el("span", { text: FAQ_TITLES.get(f.key) || f.key }), " ", el("code", { text: f.key })),
      el("td", { class: "num", text: count(f.asked) }),
      el("td", { class: "num", text: count(f.ratings) }),
      share(f.csat),
      share(f.helpful)));
  $("faqs").replaceChildren(rows.length
    ? el("table", { class: "data-table faq-table" },
        el("thead", {}, el("tr", {}, [T.dash_faq, T.dash_asked, T.dash_ratings, T.dash_faq_csat, T.dash_helpful].map((h, i) =>
          el("th", { scope: "col", class: i ? "num" : null, text: h })))),
        el("tbody", {}, rows))
    : el("p", { class: "empty", text: T.dash_no_faqs }));
}

// ----------------------------------------------------------------------------------- CSV

function csvCell(value) {
  let text = value === null || value === undefined ? "" : String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`; // no spreadsheet formulas
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function flatten(value, prefix, out) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, out);
  } else if (!Array.isArray(value)) {
    out.push([prefix, value]);
  }
  return out;
}

/** The summary, the time series and the FAQs as one CSV (three blocks with their own headers). */
function reportCsv({ summary, timeseries, faqs }) {
  const lines = [["metric", "value"], ...flatten(summary.raw, "", [])];
  lines.push([], ["interval_start", "turns", "answered_turns", "response_rate", "response_time_p50_s", "response_time_p90_s",
    "handoffs", "csat", ...timeseries.channels.map((c) => `turns_${c}`)]);
  for (const b of timeseries.buckets) {
    lines.push([b.start, b.turns, b.answered, b.responseRate, b.p50, b.p90, b.handoffs, b.csat,
      ...timeseries.channels.map((c) => b.byChannel[c] || 0)]);
  }
  lines.push([], ["faq", "title", "asked", "ratings", "csat", "helpful"]);
  for (const f of faqs) lines.push([f.key, FAQ_TITLES.get(f.key) || "", f.asked, f.ratings, f.csat, f.helpful]);
  return lines.map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

function exportCsv() {
  if (!shown) return;
  const blob = new Blob([reportCsv(shown)], { type: "text/csv;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const day = (iso) => (iso ? String(iso).slice(0, 10) : "");
  const link = el("a", { href: url, download: `carebot-report-${day(shown.summary.since)}-${day(shown.summary.until)}.csv`, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ----------------------------------------------------------------------------------- loading

async function refresh() {
  const chosen = filters();
  $("range").textContent = T.dash_loading;
  $("export-csv").disabled = true;
  document.body.dataset.ready = "loading";
  try {
    const reports = await loadReports(chosen);
    shown = reports;
    const since = reports.summary.since ? new Date(reports.summary.since) : chosen.since;
    const until = reports.summary.until ? new Date(reports.summary.until) : chosen.until;
    const options = { dateStyle: "medium", timeStyle: "short" };
    $("range").textContent = t("dash_range", { since: since.toLocaleString(LANG, options), until: until.toLocaleString(LANG, options) });
    renderTiles(reports.summary);
    renderCharts(reports.timeseries);
    renderFaqs(reports.faqs);
    $("export-csv").disabled = false;
  } catch (error) {
    $("range").textContent = t("dash_not_available", { message: error.message });
    $("tiles").replaceChildren();
    $("charts").replaceChildren();
    $("faqs").replaceChildren();
  }
  document.body.dataset.ready = "true";
}

function start() {
  $("period").addEventListener("change", () => {
    showCustomDates();
    if ($("period").value !== "custom") refresh();
  });
  $("channel").addEventListener("change", refresh);
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    refresh();
  });
  $("export-csv").addEventListener("click", exportCsv);
  showCustomDates();
  refresh();
}

start();
