// The one place that knows the field names of the reports and review APIs. The pages work on the
// shapes returned here, so a renamed field is one edit in this file.
//   GET /api/v1/reports/summary     the `carebot report --format json` object
//   GET /api/v1/reports/timeseries  the same figures per interval
//   GET /api/v1/reports/faqs        per FAQ: how often asked, how rated (worst first)
//   GET /api/v1/review, POST /api/v1/review/{id}  the review queue

import { api } from "./page_kit.js";

export const PATHS = {
  summary: "/api/v1/reports/summary",
  timeseries: "/api/v1/reports/timeseries",
  faqs: "/api/v1/reports/faqs",
  review: "/api/v1/review",
};

const num = (value) => (typeof value === "number" && Number.isFinite(value) ? value : null);
const stats = (value) => ({ mean: num(value && value.mean), p50: num(value && value.p50), p90: num(value && value.p90) });

/** The query string of a report request: {since, until} are Dates, channel "" means every one. */
export function reportQuery({ since, until, channel, bucket }) {
  const query = new URLSearchParams();
  if (since) query.set("since", since.toISOString());
  if (until) query.set("until", until.toISOString());
  if (channel) query.set("channel", channel);
  if (bucket) query.set("bucket", bucket);
  return query.toString();
}

/** The summary figures. */
export function summaryOf(raw) {
  const times = raw.response_time_s || {};
  const period = raw.period || {};
  return {
    since: period.since ?? null,
    until: period.until ?? null,
    turns: num(raw.turns),
    answered: num(raw.answered_turns),
    responseRate: num(raw.response_rate),
    responseTime: { bot: stats(times.bot), agent: stats(times.agent), all: stats(times.all) },
    // Per responder like response_time_s; the tile shows all of them.
    firstResponse: stats((raw.first_response_time_s || {}).all ?? raw.first_response_time_s),
    handoffs: num(raw.handoffs),
    handoffWait: stats(raw.handoff_wait_s),
    containmentRate: num(raw.containment_rate),
    csat: num(raw.csat),
    ratings: num(raw.ratings),
    feedbackCount: num(raw.feedback_count),
    raw,
  };
}

/** One interval of the time series. */
function bucketOf(raw) {
  return {
    start: raw.start,
    turns: num(raw.turns) ?? 0,
    answered: num(raw.answered_turns) ?? 0,
    responseRate: num(raw.response_rate),
    p50: num(raw.response_time_p50_s),
    p90: num(raw.response_time_p90_s),
    handoffs: num(raw.handoffs) ?? 0,
    csat: num(raw.csat),
    ratings: num(raw.ratings) ?? 0,
    byChannel: raw.turns_by_channel || {},
  };
}

/** The time series: its intervals ("hour" or "day"), oldest first, and its channels. */
export function timeseriesOf(raw) {
  const buckets = (raw.buckets || []).map(bucketOf);
  const channels = raw.channels || [...new Set(buckets.flatMap((b) => Object.keys(b.byChannel)))].sort();
  return { bucket: raw.bucket ?? null, buckets, channels, raw };
}

/** The FAQs, worst first: {key, asked, ratings, csat, helpful} (helpful: "was this helpful?" yes share). */
export function faqsOf(raw) {
  return (raw.faqs || []).map((f) => ({
    key: f.faq,
    asked: num(f.asked),
    ratings: num(f.ratings),
    csat: num(f.csat),
    helpful: num(f.helpful),
    raw: f,
  }));
}

export async function loadReports(filters) {
  const query = reportQuery(filters);
  const [summary, timeseries, faqs] = await Promise.all([
    api("GET", `${PATHS.summary}?${query}`),
    api("GET", `${PATHS.timeseries}?${query}`),
    api("GET", `${PATHS.faqs}?${query}`),
  ]);
  return { summary: summaryOf(summary), timeseries: timeseriesOf(timeseries), faqs: faqsOf(faqs) };
}

// ----------------------------------------------------------------------------------- review queue

/**
 * One question to review. The guess is the FAQ the NLU picked if any, else its intent. The API's
 * status "added" with target FAQ "new" is shown as its own status, "new_faq".
 */
export function reviewItemOf(raw) {
  const faqGuess = raw.faq_key ?? null;
  const added = raw.status === "added";
  return {
    id: raw.id,
    conversationId: raw.conversation_id ?? null,
    reason: raw.reason,
    status: added && raw.target_faq === "new" ? "new_faq" : raw.status,
    text: raw.text ?? "",
    intent: faqGuess ?? raw.intent ?? null,
    confidence: num(faqGuess ? raw.faq_confidence : raw.intent_confidence),
    rating: num(raw.rating),
    comment: raw.comment ?? null,
    faq: added && raw.target_faq !== "new" ? raw.target_faq ?? null : null,
    channel: raw.channel ?? null,
    language: raw.language ?? null,
    createdAt: raw.created_at ?? null,
  };
}

export async function loadReview({ reason, status }) {
  const query = new URLSearchParams();
  if (reason) query.set("reason", reason);
  if (status) query.set("status", status);
  const data = await api("GET", `${PATHS.review}?${query}`);
  return (data.items || []).map(reviewItemOf);
}

/** Mark a question: {action: "add_to_faq", faq} | {action: "new_faq"} | {action: "dismiss"}. */
export async function markReview(id, mark) {
  const body = {
    add_to_faq: { status: "added", target_faq: mark.faq },
    new_faq: { status: "added", target_faq: "new" },
    dismiss: { status: "dismissed", target_faq: null },
  }[mark.action];
  const data = await api("POST", `${PATHS.review}/${id}`, body);
  return reviewItemOf(data.item ?? data);
}
