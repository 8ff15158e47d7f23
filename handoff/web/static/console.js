// The agent console: queue, my conversations, a conversation with its history and the customer's
// profile, the composer with canned replies, canned replies management; live over /api/v1/events.
// Every piece of text from the server goes into the DOM through textContent, never parsed as HTML.

const T = JSON.parse(document.getElementById("console-texts").textContent);
const ME = JSON.parse(document.getElementById("console-me").textContent);
const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const $ = (id) => document.getElementById(id);

const state = {
  view: "queue", // "queue" | "mine" | "canned"
  queue: new Map(), // conversation id -> Conversation (waiting)
  queueCount: 0,
  mine: new Map(), // conversation id -> Conversation (owned by me)
  current: null, // Conversation shown
  messages: new Map(), // message id -> Message of the current conversation
  canned: [],
  agents: [],
  status: ME.status,
};

// ----------------------------------------------------------------------------------- helpers

function t(key, fields = {}) {
  const text = T[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (all, name) => (name in fields ? String(fields[name]) : all));
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = CSRF;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    window.location.assign("/agent/login");
    throw new ApiError(401, null);
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

let toastTimer = null;
function toast(message, kind = "info") {
  const box = $("toast");
  box.textContent = message;
  box.className = kind;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), 4000);
}

function failed(error) {
  toast(error.code === "already_claimed" ? t("claimed_by_other") : t("error", { message: error.message }), "error");
}

function duration(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  if (seconds < 60) return t("seconds", { n: seconds });
  if (seconds < 3600) return t("minutes", { n: Math.floor(seconds / 60), s: seconds % 60 });
  return t("hours", { n: Math.floor(seconds / 3600), m: Math.floor((seconds % 3600) / 60) });
}

function customerName(conversation) {
  const customer = conversation.customer || {};
  return customer.display_name || customer.platform_id || t("unknown_customer", { id: conversation.id });
}

function reasonText(handoff) {
  if (!handoff) return "";
  const key = `reason_${handoff.reason}`;
  return key in T ? T[key] : handoff.reason;
}

function localTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString(document.documentElement.lang);
}

function safeUrl(url) {
  try {
    const parsed = new URL(url, window.location.href);
    return ["http:", "https:"].includes(parsed.protocol) ? parsed.href : null;
  } catch {
    return null;
  }
}

// ----------------------------------------------------------------------------------- title, tabs

function updateCounts() {
  $("queue-count").textContent = String(state.queueCount);
  $("mine-count").textContent = String(state.mine.size);
  document.title = state.queueCount > 0 ? `(${state.queueCount}) ${T.app_name}` : T.app_name;
  for (const [view, id] of [["queue", "tab-queue"], ["mine", "tab-mine"], ["canned", "tab-canned"]]) {
    $(id).classList.toggle("active", state.view === view);
    if (state.view === view) $(id).setAttribute("aria-current", "page");
    else $(id).removeAttribute("aria-current");
  }
}

function setQueueCount(count) {
  state.queueCount = count;
  updateCounts();
}

// ----------------------------------------------------------------------------------- lists

function renderList() {
  const list = $("list");
  const showCanned = state.view === "canned";
  $("canned-page").hidden = !showCanned;
  document.querySelector("main.layout").hidden = showCanned;
  if (showCanned) return renderCannedPage();
  const items = state.view === "queue" ? [...state.queue.values()] : [...state.mine.values()];
  if (state.view === "queue") {
    items.sort((a, b) => waitingSince(a) - waitingSince(b));
  } else {
    items.sort((a, b) => (b.updated_at || "").localeCompare(a.updated_at || ""));
  }
  list.setAttribute("aria-label", state.view === "queue" ? T.queue : T.mine);
  const rows = items.map((c) => (state.view === "queue" ? queueRow(c) : mineRow(c)));
  list.replaceChildren(
    ...(rows.length ? [el("ul", { class: "rows" }, rows)] : [el("p", { class: "empty", text: t(state.view === "queue" ? "empty_queue" : "empty_mine") })]),
  );
  updateCounts();
}

function waitingSince(conversation) {
  const at = conversation.handoff && conversation.handoff.requested_at;
  return at ? new Date(at).getTime() : Date.now();
}

function queueRow(conversation) {
  const since = waitingSince(conversation);
  return el(
    "li",
    { class: `row${state.current && state.current.id === conversation.id ? " selected" : ""}`, dataset: { id: conversation.id } },
    el(
      "button",
      { type: "button", class: "open", onclick: () => openConversation(conversation.id) },
      el("span", { class: "who", text: customerName(conversation) }),
      el("span", { class: "meta" },
        el("span", { class: `chip ${conversation.channel}`, text: conversation.channel }),
        el("span", { class: "chip", text: (conversation.language || "?").toUpperCase() }),
        el("span", { class: "reason", text: reasonText(conversation.handoff) })),
      el("span", { class: "wait", dataset: { since }, text: t("waiting_for", { wait: duration((Date.now() - since) / 1000) }) }),
    ),
    el("button", { type: "button", class: "primary small claim", onclick: () => claim(conversation.id), "aria-label": `${T.claim}: ${customerName(conversation)}` }, T.claim),
  );
}

function mineRow(conversation) {
  const last = conversation.last_message;
  return el(
    "li",
    { class: `row${state.current && state.current.id === conversation.id ? " selected" : ""}`, dataset: { id: conversation.id } },
    el(
      "button",
      { type: "button", class: "open", onclick: () => openConversation(conversation.id) },
      el("span", { class: "who", text: customerName(conversation) }),
      el("span", { class: "meta" },
        el("span", { class: `chip ${conversation.channel}`, text: conversation.channel }),
        el("span", { class: "chip", text: (conversation.language || "?").toUpperCase() }),
        conversation.unread ? el("span", { class: "badge", text: t("unread", { n: conversation.unread }) }) : null),
      last ? el("span", { class: "preview", text: last.text }) : null,
    ),
  );
}

function tickWaits() {
  const now = Date.now();
  for (const node of document.querySelectorAll(".wait[data-since]")) {
    node.textContent = t("waiting_for", { wait: duration((now - Number(node.dataset.since)) / 1000) });
  }
}

// ----------------------------------------------------------------------------------- loading

async function loadQueue() {
  const data = await api("GET", "/api/v1/queue");
  state.queue = new Map(data.waiting.map((c) => [c.id, c]));
  setQueueCount(data.count ?? data.waiting.length);
}

async function loadMine() {
  const data = await api("GET", "/api/v1/conversations?owner=me&state=agent");
  state.mine = new Map(data.conversations.map((c) => [c.id, c]));
}

async function loadEverything() {
  await Promise.all([loadQueue(), loadMine(), loadCanned(), loadAgents()]);
  renderList();
  if (state.current) await openConversation(state.current.id, { keepScroll: true });
}

async function loadCanned() {
  state.canned = (await api("GET", "/api/v1/canned-replies")).canned_replies;
}

async function loadAgents() {
  state.agents = (await api("GET", "/api/v1/agents")).agents;
}

// ----------------------------------------------------------------------------------- conversation

function ownsCurrent() {
  const c = state.current;
  return Boolean(c && c.state === "agent" && c.agent && c.agent.id === ME.id);
}

async function openConversation(id, { keepScroll = false } = {}) {
  try {
    const [conversation, page] = await Promise.all([
      api("GET", `/api/v1/conversations/${id}`),
      api("GET", `/api/v1/conversations/${id}/messages?limit=500`),
    ]);
    state.current = conversation;
    state.messages = new Map(page.messages.map((m) => [m.id, m]));
    if (state.mine.has(id)) state.mine.set(id, { ...conversation, unread: 0 });
    if (window.location.hash !== `#/c/${id}`) history.replaceState(null, "", `#/c/${id}`);
    renderConversation(keepScroll);
    renderList();
    loadProfile(conversation);
  } catch (error) {
    failed(error);
  }
}

function renderConversation(keepScroll = false) {
  const pane = $("conversation");
  const c = state.current;
  if (!c) {
    pane.replaceChildren(el("p", { class: "empty", text: T.pick_conversation }));
    return;
  }
  const log = el("ol", { class: "messages", id: "messages", "aria-label": customerName(c) });
  const ordered = [...state.messages.values()].sort((a, b) => a.id - b.id);
  for (const message of ordered) log.append(messageNode(message));
  const header = el(
    "div",
    { class: "conv-header" },
    el("h2", { text: customerName(c) }),
    el("span", { class: `chip ${c.channel}`, text: c.channel }),
    el("span", { class: "chip", text: (c.language || "?").toUpperCase() }),
    el("span", { class: `state ${c.state}`, text: t(`state_${c.state}`) }),
    c.handoff && c.state !== "bot" ? el("span", { class: "reason", text: `${T.reason}: ${reasonText(c.handoff)}` }) : null,
    el("span", { class: "spacer" }),
    actions(c),
  );
  const previous = document.getElementById("messages");
  const oldScroll = previous ? previous.scrollTop : 0;
  pane.replaceChildren(header, log, composer(c));
  log.scrollTop = keepScroll ? oldScroll : log.scrollHeight;
  if (!keepScroll) log.scrollTop = log.scrollHeight;
}

function actions(c) {
  const box = el("div", { class: "actions" });
  if (c.state === "waiting") {
    box.append(el("button", { type: "button", class: "primary", onclick: () => claim(c.id) }, T.claim));
  }
  if (ownsCurrent() || (ME.is_admin && c.state === "agent")) {
    const select = el("select", { id: "transfer-target", "aria-label": T.transfer_to },
      el("option", { value: "", text: T.back_to_queue }),
      state.agents.filter((a) => a.id !== (c.agent && c.agent.id)).map((a) =>
        el("option", { value: a.id, text: `${a.display_name} (${a.status === "available" ? T.available : T.away})` })));
    box.append(
      el("span", { class: "transfer" }, select,
        el("button", { type: "button", onclick: () => act(c.id, "transfer", { agent_id: select.value ? Number(select.value) : null }, "transferred") }, T.transfer)),
      el("button", { type: "button", onclick: () => act(c.id, "release", undefined, "released") }, T.release),
      el("button", { type: "button", class: "primary", id: "resolve", onclick: () => act(c.id, "resolve", undefined, "resolved") }, T.resolve),
    );
  }
  return box;
}

function messageNode(m) {
  const isNote = m.kind === "note";
  const classes = ["message", m.direction === "in" ? "in" : "out", `author-${m.author}`, `kind-${m.kind}`];
  if (isNote) classes.push("note");
  const who = isNote
    ? `${T.note} · ${(m.agent && m.agent.display_name) || T.author_agent}`
    : m.author === "agent" && m.agent
      ? m.agent.display_name
      : t(`author_${m.author}`);
  const attachments = (m.attachments || []).map((a) => {
    const url = a.url && safeUrl(a.url);
    const label = t("attachment", { kind: a.kind || a.content_type || "file" });
    return url
      ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "attachment", text: label })
      : el("span", { class: "attachment", text: label });
  });
  const status = m.direction === "out" && m.status && !isNote
    ? el("span", { class: `status ${m.status}`, text: t(`status_${m.status}`) })
    : null;
  return el(
    "li",
    { class: classes.join(" "), dataset: { id: m.id } },
    el("span", { class: "who", text: who }),
    m.text ? el("div", { class: "text", text: m.text }) : null,
    attachments.length ? el("div", { class: "attachments" }, attachments) : null,
    el("span", { class: "footer" }, el("time", { datetime: m.created_at, text: localTime(m.created_at) }), status),
  );
}

// Delivery states only move forward: a late copy of a message (the POST's answer arriving after
// the live "sent") must not put it back to "queued".
const STATUS_RANK = { queued: 0, held: 1, sent: 2, delivered: 3, read: 4, undelivered: 5, failed: 5 };
const laterStatus = new Map(); // message id -> status heard before the message itself

function merged(known, m) {
  const result = known ? { ...known, ...m } : { ...m };
  const candidates = [known && known.status, m.status, laterStatus.get(m.id)].filter(Boolean);
  if (candidates.length) {
    result.status = candidates.reduce((a, b) => ((STATUS_RANK[b] ?? 0) > (STATUS_RANK[a] ?? 0) ? b : a));
  }
  laterStatus.delete(m.id);
  return result;
}

function addMessage(m) {
  if (!state.current || state.current.id !== m.conversation_id) return false;
  state.messages.set(m.id, merged(state.messages.get(m.id), m));
  const log = $("messages");
  if (!log) return true;
  const node = messageNode(state.messages.get(m.id));
  const existing = log.querySelector(`li[data-id="${m.id}"]`);
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
  if (existing) existing.replaceWith(node);
  else log.append(node);
  if (atBottom || m.author === "agent") log.scrollTop = log.scrollHeight;
  return true;
}

// ----------------------------------------------------------------------------------- composer

function composer(c) {
  if (!ownsCurrent()) {
    const canNote = ME.is_admin && c.state !== "closed";
    if (!canNote) return el("p", { class: "read-only", text: c.state === "waiting" ? "" : T.read_only });
  }
  const area = el("textarea", {
    id: "composer-text",
    rows: 3,
    maxlength: 4000,
    "aria-label": T.composer_label,
    placeholder: T.composer_placeholder,
    "aria-autocomplete": "list",
    "aria-controls": "canned-menu",
  });
  const noteToggle = el("input", { type: "checkbox", id: "note-toggle" });
  if (!ownsCurrent()) noteToggle.checked = true;
  const menu = el("ul", { id: "canned-menu", class: "canned-menu", role: "listbox", hidden: true, "aria-label": T.canned_replies });
  const send = el("button", { type: "submit", class: "primary", id: "send" }, T.send);
  const form = el(
    "form",
    { class: "composer", onsubmit: (e) => { e.preventDefault(); submit(); } },
    menu,
    area,
    el("div", { class: "composer-bar" },
      el("button", { type: "button", class: "canned-button", "aria-haspopup": "listbox", onclick: () => openMenu(""), title: T.insert_canned }, "/ ", T.canned_replies),
      el("label", { class: "note-toggle" }, noteToggle, " ", T.private_note),
      el("span", { class: "spacer" }),
      send),
  );
  noteToggle.addEventListener("change", () => {
    form.classList.toggle("as-note", noteToggle.checked);
    area.placeholder = noteToggle.checked ? T.note_placeholder : T.composer_placeholder;
    send.textContent = noteToggle.checked ? T.add_note : T.send;
  });
  noteToggle.dispatchEvent(new Event("change"));
  if (!ownsCurrent()) noteToggle.disabled = true;

  let choices = [];
  let active = 0;
  function openMenu(filter) {
    const f = filter.toLowerCase();
    const lang = c.language;
    choices = state.canned
      .filter((r) => !r.language || !lang || r.language === lang)
      .filter((r) => !f || r.shortcut.toLowerCase().startsWith(f) || r.title.toLowerCase().includes(f));
    active = 0;
    drawMenu();
    menu.hidden = false;
  }
  function drawMenu() {
    menu.replaceChildren(
      ...(choices.length
        ? choices.map((r, i) =>
            el("li", { role: "option", id: `canned-${r.id}`, class: i === active ? "active" : "", "aria-selected": i === active ? "true" : "false",
              onmousedown: (e) => { e.preventDefault(); pick(r); } },
              el("strong", { text: `/${r.shortcut}` }), " ", el("span", { text: r.title })))
        : [el("li", { class: "none", text: T.no_canned })]),
    );
    area.setAttribute("aria-activedescendant", choices[active] ? `canned-${choices[active].id}` : "");
  }
  function closeMenu() {
    menu.hidden = true;
    area.removeAttribute("aria-activedescendant");
  }
  function pick(reply) {
    area.value = fill(reply.text, c);
    closeMenu();
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
  }
  area.addEventListener("input", () => {
    const match = /^\/(\S*)$/.exec(area.value);
    if (match) openMenu(match[1]);
    else closeMenu();
  });
  area.addEventListener("keydown", (e) => {
    if (!menu.hidden && choices.length) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        active = (active + (e.key === "ArrowDown" ? 1 : choices.length - 1)) % choices.length;
        drawMenu();
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        pick(choices[active]);
        return;
      }
    }
    if (e.key === "Escape") closeMenu();
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  async function submit() {
    const text = area.value.trim();
    if (!text) return;
    send.disabled = true;
    try {
      const asNote = noteToggle.checked;
      const message = await api("POST", `/api/v1/conversations/${c.id}/${asNote ? "notes" : "messages"}`, { text });
      area.value = "";
      addMessage(message);
    } catch (error) {
      failed(error);
    } finally {
      send.disabled = false;
      area.focus();
    }
  }
  setTimeout(() => area.focus(), 0);
  return form;
}

function fill(text, conversation) {
  const values = {
    name: (conversation.customer && conversation.customer.display_name) || "",
    agent: ME.display_name,
    conversation: String(conversation.id),
  };
  return text.replace(/\{(\w+)\}/g, (all, key) => (key in values ? values[key] : all));
}

// ----------------------------------------------------------------------------------- actions

async function claim(id) {
  try {
    const conversation = await api("POST", `/api/v1/conversations/${id}/claim`);
    state.queue.delete(id);
    state.mine.set(id, conversation);
    state.view = "mine";
    history.replaceState(null, "", `#/c/${id}`);
    await openConversation(id);
  } catch (error) {
    failed(error);
    if (error.status === 409) {
      state.queue.delete(id);
      renderList();
    }
  }
}

async function act(id, action, body, doneKey) {
  try {
    const conversation = await api("POST", `/api/v1/conversations/${id}/${action}`, body ?? {});
    conversationChanged(conversation);
    toast(T[doneKey]);
  } catch (error) {
    failed(error);
  }
}

function conversationChanged(conversation) {
  const mineNow = conversation.state === "agent" && conversation.agent && conversation.agent.id === ME.id;
  if (mineNow) state.mine.set(conversation.id, { ...(state.mine.get(conversation.id) || {}), ...conversation });
  else state.mine.delete(conversation.id);
  if (conversation.state !== "waiting") state.queue.delete(conversation.id);
  if (state.current && state.current.id === conversation.id) {
    state.current = { ...state.current, ...conversation };
    renderConversation(true);
  }
  renderList();
}

// ----------------------------------------------------------------------------------- profile

async function loadProfile(conversation) {
  const aside = $("profile");
  const customerId = conversation.customer && conversation.customer.id;
  if (!customerId) return aside.replaceChildren();
  try {
    const data = await api("GET", `/api/v1/customers/${customerId}`);
    if (!state.current || state.current.id !== conversation.id) return;
    const customer = data.customer;
    const earlier = data.conversations.filter((c) => c.id !== conversation.id);
    const row = (label, value) => [el("dt", { text: label }), el("dd", { text: value ?? "—" })];
    aside.replaceChildren(
      el("h3", { text: T.customer }),
      el("dl", {},
        row(T.name, customer.display_name),
        row(T.channel, customer.channel),
        row(T.language, (customer.language || "?").toUpperCase()),
        row(T.platform_id, customer.platform_id),
        row(T.customer_since, localTime(customer.created_at))),
      ...(customer.unreachable ? [el("p", { class: "warning", text: T.unreachable })] : []),
      el("h3", { text: T.earlier_conversations }),
      earlier.length
        ? el("ul", { class: "earlier" }, earlier.map((c) =>
            el("li", {}, el("button", { type: "button", class: "link", onclick: () => openConversation(c.id) },
              `#${c.id} · ${localTime(c.created_at)} · ${t(`state_${c.state}`)}`))))
        : el("p", { class: "muted", text: T.no_earlier }),
    );
  } catch (error) {
    aside.replaceChildren();
  }
}

// ----------------------------------------------------------------------------------- canned page

function renderCannedPage() {
  const page = $("canned-page");
  const rows = state.canned.map((r) => cannedRow(r));
  page.replaceChildren(
    el("h2", { text: T.canned_replies }),
    el("p", { class: "muted", text: T.placeholders_help }),
    el("table", { class: "canned-table" },
      el("thead", {}, el("tr", {}, [T.shortcut, T.title, T.language, T.text, ""].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows)),
    el("h3", { text: T.add_canned }),
    cannedForm(null),
  );
}

function cannedRow(reply) {
  return el("tr", { dataset: { id: reply.id } },
    el("td", {}, el("code", { text: `/${reply.shortcut}` })),
    el("td", { text: reply.title }),
    el("td", { text: reply.language ? reply.language.toUpperCase() : T.any_language }),
    el("td", { class: "canned-text", text: reply.text }),
    el("td", { class: "row-actions" },
      el("button", { type: "button", onclick: (e) => e.target.closest("tr").replaceWith(el("tr", {}, el("td", { colspan: 5 }, cannedForm(reply)))) }, T.edit),
      el("button", { type: "button", class: "danger", onclick: () => deleteCanned(reply) }, T.delete)));
}

function cannedForm(reply) {
  const field = (name, label, input) => el("label", { class: "field" }, el("span", { text: label }), input);
  const shortcut = el("input", { name: "shortcut", required: true, maxlength: 32, pattern: "[A-Za-z0-9_-]+", value: reply ? reply.shortcut : "" });
  const title = el("input", { name: "title", required: true, maxlength: 120, value: reply ? reply.title : "" });
  const language = el("select", { name: "language" },
    el("option", { value: "", text: T.any_language }),
    ["it", "en"].map((code) => el("option", { value: code, text: code.toUpperCase(), selected: reply && reply.language === code })));
  const text = el("textarea", { name: "text", required: true, rows: 3, maxlength: 4000 });
  text.value = reply ? reply.text : "";
  return el("form", { class: "canned-form", onsubmit: async (e) => {
      e.preventDefault();
      const body = { shortcut: shortcut.value.trim(), title: title.value.trim(), language: language.value || null, text: text.value };
      try {
        if (reply) await api("PUT", `/api/v1/canned-replies/${reply.id}`, body);
        else await api("POST", "/api/v1/canned-replies", body);
        await loadCanned();
        renderCannedPage();
      } catch (error) {
        failed(error);
      }
    } },
    field("shortcut", T.shortcut, shortcut), field("title", T.title, title), field("language", T.language, language), field("text", T.text, text),
    el("div", { class: "form-actions" },
      el("button", { type: "submit", class: "primary" }, T.save),
      reply ? el("button", { type: "button", onclick: () => renderCannedPage() }, T.cancel) : null));
}

async function deleteCanned(reply) {
  if (!window.confirm(T.confirm_delete)) return;
  try {
    await api("DELETE", `/api/v1/canned-replies/${reply.id}`);
    await loadCanned();
    renderCannedPage();
  } catch (error) {
    failed(error);
  }
}

// ----------------------------------------------------------------------------------- availability

function showAvailability() {
  const box = $("availability");
  box.checked = state.status === "available";
  box.setAttribute("aria-checked", box.checked ? "true" : "false");
  $("availability-text").textContent = box.checked ? T.available : T.away;
}

async function toggleAvailability() {
  const wanted = $("availability").checked ? "available" : "away";
  try {
    const agent = await api("PUT", "/api/v1/me/status", { status: wanted });
    state.status = agent.status;
  } catch (error) {
    failed(error);
  }
  showAvailability();
}

// ----------------------------------------------------------------------------------- notifications

function setUpNotifications() {
  if (!("Notification" in window)) return;
  const button = $("notify");
  button.hidden = Notification.permission !== "default";
  button.addEventListener("click", async () => {
    await Notification.requestPermission();
    button.hidden = Notification.permission !== "default";
  });
}

function notifyHandoff(conversation) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const note = new Notification(T.new_handoff, {
    body: t("new_handoff_body", {
      name: customerName(conversation),
      channel: conversation.channel,
      language: (conversation.language || "?").toUpperCase(),
      reason: reasonText(conversation.handoff),
    }),
    tag: `handoff-${conversation.id}`,
  });
  note.onclick = () => {
    window.focus();
    openConversation(conversation.id);
  };
}

// ----------------------------------------------------------------------------------- live events

function connectLive() {
  const live = $("live-state");
  const source = new EventSource("/api/v1/events", { withCredentials: true });
  source.onopen = () => {
    live.textContent = T.live;
    live.className = "live on";
  };
  source.onerror = () => {
    live.textContent = T.reconnecting;
    live.className = "live off";
  };
  const on = (name, handler) =>
    source.addEventListener(name, (e) => {
      try {
        handler(JSON.parse(e.data));
      } catch (error) {
        console.error("live event", name, error);
      }
    });
  on("queue", (data) => setQueueCount(data.count));
  on("handoff", (conversation) => {
    if (conversation.state && conversation.state !== "waiting") return;
    const fresh = !state.queue.has(conversation.id);
    state.queue.set(conversation.id, conversation);
    if (fresh) {
      setQueueCount(Math.max(state.queueCount, state.queue.size));
      notifyHandoff(conversation);
    }
    if (state.view === "queue") renderList();
  });
  on("claimed", ({ conversation_id: id, agent_id: agentId }) => {
    state.queue.delete(id);
    if (agentId === ME.id && !state.mine.has(id)) {
      api("GET", `/api/v1/conversations/${id}`).then(conversationChanged).catch(() => {});
    }
    if (state.current && state.current.id === id && agentId !== ME.id) {
      api("GET", `/api/v1/conversations/${id}`).then(conversationChanged).catch(() => {});
    }
    renderList();
  });
  on("conversation", conversationChanged);
  on("message", (message) => {
    const shown = addMessage(message);
    const mine = state.mine.get(message.conversation_id);
    if (mine && message.kind !== "note") {
      mine.last_message = message;
      mine.updated_at = message.created_at;
      if (!shown && message.direction === "in") mine.unread = (mine.unread || 0) + 1;
      if (state.view === "mine") renderList();
    }
  });
  on("message_status", (update) => {
    const known = state.messages.get(update.id);
    if (known) addMessage({ ...known, status: update.status });
    else if (state.current && state.current.id === update.conversation_id) laterStatus.set(update.id, update.status);
  });
  on("resync", () => loadEverything().catch(failed));
}

// ----------------------------------------------------------------------------------- routing

function route() {
  const hash = window.location.hash || "#/queue";
  const conversation = /^#\/c\/(\d+)$/.exec(hash);
  if (conversation) {
    const id = Number(conversation[1]);
    if (state.view === "canned") state.view = state.mine.has(id) ? "mine" : "queue";
    if (!state.current || state.current.id !== id) openConversation(id);
    renderList();
    return;
  }
  state.view = hash === "#/mine" ? "mine" : hash === "#/canned" ? "canned" : "queue";
  renderList();
}

async function start() {
  showAvailability();
  $("availability").addEventListener("change", toggleAvailability);
  setUpNotifications();
  window.addEventListener("hashchange", route);
  connectLive();
  try {
    await loadEverything();
  } catch (error) {
    failed(error);
  }
  route();
  setInterval(tickWaits, 1000);
  document.body.dataset.ready = "true";
}

start();
