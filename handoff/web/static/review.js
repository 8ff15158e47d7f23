// The review queue: questions that fell back, answers rated low and conversations handed to a
// person, with the NLU's best guess; an admin adds each to an FAQ, marks it as a new FAQ or
// dismisses it. The FAQ catalog comes with the page.

import { loadReview, markReview } from "./admin_api.js";
import { T, el, failed, localTime, t, toast } from "./page_kit.js";

const $ = (id) => document.getElementById(id);
const FAQS = JSON.parse($("faq-catalog").textContent) || [];
const FAQ_TITLES = new Map(FAQS.map((f) => [f.key, f.title]));

const label = (prefix, value) => (value && `${prefix}${value}` in T ? T[`${prefix}${value}`] : value || "");

function guess(item) {
  if (!item.intent) return el("span", { class: "muted", text: T.review_no_guess });
  const pct = item.confidence === null ? null : Math.round(item.confidence * 100);
  const title = FAQ_TITLES.get(item.intent) || FAQ_TITLES.get(`faq/${item.intent}`);
  return el("span", { class: "guess" },
    el("code", { text: item.intent }),
    title ? el("span", { class: "muted", text: ` ${title}` }) : null,
    pct === null ? null : el("span", { class: `confidence${pct < 50 ? " low" : ""}`, text: ` · ${t("review_confidence", { n: pct })}` }));
}

function actions(item) {
  if (item.status !== "open") return el("span", { class: "muted", text: item.faq ? FAQ_TITLES.get(item.faq) || item.faq : "" });
  const select = el("select", { class: "faq-pick", "aria-label": T.review_pick_faq },
    FAQS.map((f) => el("option", { value: f.key, text: f.title, selected: f.key === item.intent || f.key === `faq/${item.intent}` })));
  const mark = async (action, button) => {
    button.disabled = true;
    try {
      const updated = await markReview(item.id, action === "add_to_faq" ? { action, faq: select.value } : { action });
      const merged = { ...item, ...Object.fromEntries(Object.entries(updated).filter(([, v]) => v !== null && v !== undefined)) };
      document.querySelector(`[data-item="${item.id}"]`).replaceWith(row(merged));
      toast(t("review_marked", { status: label("review_status_", merged.status) }));
    } catch (error) {
      button.disabled = false;
      failed(error);
    }
  };
  return el("div", { class: "review-actions" },
    el("span", { class: "add-to" }, select,
      el("button", { type: "button", class: "primary small", onclick: (e) => mark("add_to_faq", e.currentTarget) }, T.review_add_to_faq)),
    el("button", { type: "button", class: "small", onclick: (e) => mark("new_faq", e.currentTarget) }, T.review_new_faq),
    el("button", { type: "button", class: "small danger", onclick: (e) => mark("dismiss", e.currentTarget) }, T.review_dismiss));
}

function row(item) {
  return el("tr", { dataset: { item: item.id, status: item.status } },
    el("td", {},
      el("p", { class: "question", text: item.text }),
      el("p", { class: "meta" },
        el("span", { class: `chip reason-${item.reason}`, text: label("review_reason_", item.reason) }),
        item.channel ? el("span", { class: `chip ${item.channel}`, text: item.channel }) : null,
        item.language ? el("span", { class: "chip", text: item.language.toUpperCase() }) : null,
        item.rating !== null ? el("span", { text: t("review_rating", { n: item.rating }) }) : null,
        item.conversationId ? el("a", { href: `/agent/#/c/${item.conversationId}`, text: t("review_conversation", { id: item.conversationId }) }) : null),
      item.comment ? el("p", { class: "comment" }, el("strong", { text: `${T.review_comment}: ` }), item.comment) : null),
    el("td", {}, guess(item)),
    el("td", {}, item.createdAt ? el("time", { datetime: item.createdAt, text: localTime(item.createdAt) }) : null),
    el("td", {}, el("span", { class: `state status-${item.status}`, text: label("review_status_", item.status) })),
    el("td", {}, actions(item)));
}

async function refresh() {
  document.body.dataset.ready = "loading";
  try {
    const items = await loadReview({ reason: $("reason").value, status: $("status").value });
    $("review-count").textContent = t("review_count", { n: items.length });
    $("items").replaceChildren(items.length
      ? el("table", { class: "data-table review-table" },
          el("thead", {}, el("tr", {}, [T.review_question, T.review_guess, T.review_when, T.review_status, T.review_actions]
            .map((h) => el("th", { scope: "col", text: h })))),
          el("tbody", {}, items.map(row)))
      : el("p", { class: "empty", text: T.review_empty }));
  } catch (error) {
    $("review-count").textContent = t("dash_not_available", { message: error.message });
    $("items").replaceChildren();
  }
  document.body.dataset.ready = "true";
}

$("reason").addEventListener("change", refresh);
$("status").addEventListener("change", refresh);
$("filters").addEventListener("submit", (e) => {
  e.preventDefault();
  refresh();
});
refresh();
